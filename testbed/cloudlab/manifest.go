// Package cloudlab turns a CloudLab experiment into an SSH testbed
// inventory. profile.py beside this file is the geni-lib profile that asks
// CloudLab for the papers' testbed (four raw PCs source, gw1, gw2, drain in
// a chain of three links); once the experiment is up, its GENI v3 manifest
// (the "Manifest" tab of the experiment page) says which machines were
// given, how to log in to each, and which interfaces sit on which link.
// Import reads that manifest and writes the inventory the ssh driver
// takes.
package cloudlab

import (
	"bytes"
	"encoding/hex"
	"encoding/xml"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"slices"
	"strconv"
	"strings"

	"github.com/wgbench/wgbench/testbed"
	sshtb "github.com/wgbench/wgbench/testbed/ssh"
)

// Manifest is the part of a GENI v3 manifest RSpec the import reads.
// Elements are matched by local name, so the GENI v3 and ProtoGENI
// namespaces both work.
type Manifest struct {
	XMLName   xml.Name `xml:"rspec"`
	Type      string   `xml:"type,attr"`
	Expires   string   `xml:"expires,attr"`
	Generated string   `xml:"generated,attr"`
	Nodes     []Node   `xml:"node"`
	Links     []Link   `xml:"link"`
}

// Node is one machine of the experiment.
type Node struct {
	ClientID     string `xml:"client_id,attr"`
	ComponentID  string `xml:"component_id,attr"`
	HardwareType struct {
		Name string `xml:"name,attr"`
	} `xml:"hardware_type"`
	Interfaces []Interface `xml:"interface"`
	Logins     []Login     `xml:"services>login"`
	Hosts      []struct {
		Name string `xml:"name,attr"`
		IPv4 string `xml:"ipv4,attr"`
	} `xml:"host"`
}

// Interface is one network interface of a node.
type Interface struct {
	ClientID    string `xml:"client_id,attr"`
	ComponentID string `xml:"component_id,attr"`
	MAC         string `xml:"mac_address,attr"`
	IPs         []struct {
		Address string `xml:"address,attr"`
		Type    string `xml:"type,attr"`
	} `xml:"ip"`
}

// Login is a way to log in to a node.
type Login struct {
	Authentication string `xml:"authentication,attr"`
	Hostname       string `xml:"hostname,attr"`
	Port           string `xml:"port,attr"`
	Username       string `xml:"username,attr"`
}

// Link is one experiment link with the interfaces on it.
type Link struct {
	ClientID   string `xml:"client_id,attr"`
	Interfaces []struct {
		ClientID string `xml:"client_id,attr"`
	} `xml:"interface_ref"`
}

// ParseManifest decodes a manifest RSpec.
func ParseManifest(data []byte) (*Manifest, error) {
	var m Manifest
	dec := xml.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(&m); err != nil {
		var se *xml.SyntaxError
		if errors.As(err, &se) {
			return nil, fmt.Errorf("line %d: XML syntax: %s", se.Line, se.Msg)
		}
		return nil, fmt.Errorf("not a GENI RSpec (%v); download the manifest from the experiment page's Manifest tab", err)
	}
	switch m.Type {
	case "manifest", "":
	case "request":
		return nil, errors.New("this is a request RSpec (what the profile asks for), not a manifest (what CloudLab gave): download the manifest from the experiment page's Manifest tab once the experiment is ready")
	default:
		return nil, fmt.Errorf("RSpec of type %q; want a manifest", m.Type)
	}
	return &m, nil
}

// Options adjust the inventory Import writes.
type Options struct {
	// User picks the login among the manifest's users (every project
	// member with SSH keys has one); empty takes the only one there is.
	User string
	// Key is the private key file to log in with; empty leaves the
	// default (the ssh-agent, then ~/.ssh/id_*).
	Key string
	// KnownHosts is the known_hosts file; empty leaves the default.
	KnownHosts string
	// Roles maps the testbed's roles to node client ids when the profile
	// named them otherwise; missing roles keep their own name.
	Roles map[string]string
}

// Import builds the inventory of the papers' testbed from m: each role's
// node, its SSH login, and the interfaces on the links between the roles
// (named by MAC address, else by the address CloudLab gave them). Logins
// other than root use sudo, as CloudLab users have passwordless sudo.
func Import(m *Manifest, opts Options) (*sshtb.Inventory, error) {
	tp, err := newTopology(m, opts.Roles)
	if err != nil {
		return nil, err
	}
	var errs []error
	inv := &sshtb.Inventory{File: "manifest", Hosts: map[string]*sshtb.HostSpec{}}
	for _, role := range testbed.Roles {
		n := tp.nodes[tp.nodeOf(role)]
		h, err := hostSpec(role, n, opts)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		errs = append(errs, tp.ports(role, n, h)...)
		inv.Hosts[role] = h
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return inv, nil
}

// topology is a manifest's nodes and which node each interface is on.
type topology struct {
	m         *Manifest
	roles     map[string]string
	nodes     map[string]*Node
	owner     map[string]*Interface
	ownerNode map[string]string
}

// newTopology indexes m; it fails when a role (mapped by roles) has no
// node.
func newTopology(m *Manifest, roles map[string]string) (*topology, error) {
	tp := &topology{m: m, roles: roles, nodes: map[string]*Node{}, owner: map[string]*Interface{}, ownerNode: map[string]string{}}
	var ids []string
	for i := range m.Nodes {
		tp.nodes[m.Nodes[i].ClientID] = &m.Nodes[i]
		ids = append(ids, m.Nodes[i].ClientID)
	}
	var errs []error
	for _, role := range testbed.Roles {
		if tp.nodes[tp.nodeOf(role)] == nil {
			errs = append(errs, fmt.Errorf("no node %q for %s (the manifest has %s); use the wgbench profile, or map the roles", tp.nodeOf(role), role, strings.Join(ids, ", ")))
		}
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	// Which node each interface belongs to.
	for _, n := range m.Nodes {
		for i := range n.Interfaces {
			tp.owner[n.Interfaces[i].ClientID] = &n.Interfaces[i]
			tp.ownerNode[n.Interfaces[i].ClientID] = n.ClientID
		}
	}
	return tp, nil
}

// nodeOf is the client id of role's node.
func (tp *topology) nodeOf(role string) string {
	if id, ok := tp.roles[role]; ok {
		return id
	}
	return role
}

// between is the interface of node a on the link it shares with node b,
// and that link's client id.
func (tp *topology) between(a, b string) (*Interface, string, error) {
	for _, l := range tp.m.Links {
		var ia *Interface
		hasB := false
		for _, ref := range l.Interfaces {
			switch tp.ownerNode[ref.ClientID] {
			case a:
				ia = tp.owner[ref.ClientID]
			case b:
				hasB = true
			}
		}
		if ia != nil && hasB {
			return ia, l.ClientID, nil
		}
	}
	return nil, "", fmt.Errorf("no link joins %s and %s", a, b)
}

// hostSpec is the SSH login of role on its node n.
func hostSpec(role string, n *Node, opts Options) (*sshtb.HostSpec, error) {
	login, err := pickLogin(n, opts.User)
	if err != nil {
		return nil, fmt.Errorf("%s (node %s): %w", role, n.ClientID, err)
	}
	port := login.Port
	if port == "" {
		port = "22"
	}
	h := &sshtb.HostSpec{
		Role: role, Addr: net.JoinHostPort(login.Hostname, port), User: login.Username, Sudo: login.Username != "root",
		Key: opts.Key, KnownHosts: opts.KnownHosts, WorkDir: sshtb.DefaultWorkDir,
	}
	if h.KnownHosts == "" {
		h.KnownHosts = sshtb.DefaultKnownHosts
	}
	return h, nil
}

// ports fills in h's LAN and WAN interfaces: those of role's node n on
// the links to its neighbours in the chain.
func (tp *topology) ports(role string, n *Node, h *sshtb.HostSpec) []error {
	type port struct {
		dst  *string
		peer string
	}
	var ports []port
	switch role {
	case testbed.Source:
		ports = []port{{&h.LAN, tp.nodeOf(testbed.GW1)}}
	case testbed.GW1:
		ports = []port{{&h.LAN, tp.nodeOf(testbed.Source)}, {&h.WAN, tp.nodeOf(testbed.GW2)}}
	case testbed.GW2:
		ports = []port{{&h.WAN, tp.nodeOf(testbed.GW1)}, {&h.LAN, tp.nodeOf(testbed.Drain)}}
	case testbed.Drain:
		ports = []port{{&h.LAN, tp.nodeOf(testbed.GW2)}}
	}
	var errs []error
	for _, p := range ports {
		ifc, link, err := tp.between(n.ClientID, p.peer)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", role, err))
			continue
		}
		spec, err := interfaceSpec(ifc)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: interface %s on link %s: %w", role, ifc.ClientID, link, err))
			continue
		}
		*p.dst = spec
	}
	return errs
}

// pickLogin chooses the SSH login of n for user (any when empty and only
// one user is listed).
func pickLogin(n *Node, user string) (*Login, error) {
	var users []string
	var match *Login
	for i := range n.Logins {
		l := &n.Logins[i]
		if l.Authentication != "" && l.Authentication != "ssh-keys" {
			continue
		}
		if !slices.Contains(users, l.Username) {
			users = append(users, l.Username)
		}
		if user == "" || l.Username == user {
			if match == nil {
				match = l
			}
		}
	}
	switch {
	case len(users) == 0:
		return nil, errors.New("the manifest lists no SSH login (services/login) for it; is the experiment ready?")
	case user == "" && len(users) > 1:
		return nil, fmt.Errorf("several users may log in (%s): choose one with --user", strings.Join(users, ", "))
	case match == nil:
		return nil, fmt.Errorf("user %s has no login on it (users: %s)", user, strings.Join(users, ", "))
	case match.Hostname == "":
		return nil, errors.New("its login has no hostname")
	}
	if p := match.Port; p != "" {
		if n, err := strconv.Atoi(p); err != nil || n < 1 || n > 65535 {
			return nil, fmt.Errorf("login port %q is not a port number", p)
		}
	}
	return match, nil
}

// interfaceSpec names an interface for net-setup: by MAC address (CloudLab
// writes them as 12 hex digits), else by its IPv4 address.
func interfaceSpec(ifc *Interface) (string, error) {
	if mac := strings.ToLower(strings.NewReplacer(":", "", "-", "", ".", "").Replace(ifc.MAC)); mac != "" {
		b, err := hex.DecodeString(mac)
		if err != nil || len(b) != 6 {
			return "", fmt.Errorf("MAC address %q is not 6 octets", ifc.MAC)
		}
		return net.HardwareAddr(b).String(), nil
	}
	for _, ip := range ifc.IPs {
		if a, err := netip.ParseAddr(ip.Address); err == nil && a.Is4() {
			return a.String(), nil
		}
	}
	return "", errors.New("the manifest gives neither its MAC nor an IPv4 address; name the interface in the inventory by hand")
}

// Header describes where an imported inventory came from, for its leading
// comment.
func Header(m *Manifest, source string, opts Options) string {
	var b strings.Builder
	fmt.Fprintf(&b, "SSH testbed inventory generated by `wgbench testbed import-cloudlab %s`.\n", source)
	if m.Expires != "" {
		fmt.Fprintf(&b, "The experiment expires %s.\n", m.Expires)
	}
	b.WriteString("Nodes:")
	for _, role := range testbed.Roles {
		id := role
		if r, ok := opts.Roles[role]; ok {
			id = r
		}
		for _, n := range m.Nodes {
			if n.ClientID == id {
				comp := n.ComponentID
				if i := strings.LastIndex(comp, "+"); i >= 0 {
					comp = comp[i+1:]
				}
				fmt.Fprintf(&b, " %s=%s", role, comp)
				if n.HardwareType.Name != "" {
					fmt.Fprintf(&b, " (%s)", n.HardwareType.Name)
				}
			}
		}
	}
	b.WriteString("\nInterfaces are named by MAC address; net-setup finds them on each host.\n")
	b.WriteString("Next: wgbench testbed check --accept-new-host-keys THIS_FILE")
	return b.String()
}
