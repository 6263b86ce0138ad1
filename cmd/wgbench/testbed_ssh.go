package main

import (
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/spf13/cobra"

	"github.com/wgbench/wgbench/testbed"
	"github.com/wgbench/wgbench/testbed/cloudlab"
	sshtb "github.com/wgbench/wgbench/testbed/ssh"
)

// newTestbedCheckCmd checks an SSH testbed's inventory against the hosts.
func newTestbedCheckCmd() *cobra.Command {
	var (
		accept bool
		binary string
	)
	cmd := &cobra.Command{
		Use:   "check INVENTORY",
		Short: "Check that the hosts of an SSH inventory are ready for a run",
		Long: `check connects to the four hosts of an SSH testbed inventory, verifies
each host key against its known_hosts file and reports, one line per fact,
OK or Warning/Error with what to do: commands run as root (directly or
through sudo -n), iperf3 on source and drain, the data-plane interfaces
found (by name, MAC or address) and not carrying the SSH connection, the
installed wgbench, and on each gateway whether the papers' patched
WireGuard module is loaded (its inline_en, encrypt_cpumask and
decrypt_cpumask attributes on a WireGuard device, else the loaded module's
file), with what the CloudLab profile's start-up said of its build. It
changes nothing on the hosts.

A host whose key is not in known_hosts is refused unless
--accept-new-host-keys is given: its key is then added and its fingerprint
printed. A key that differs from the recorded one is always refused.`,
		Example: `  wgbench testbed check scenarios/cloudlab/hosts.yaml
  wgbench testbed check --accept-new-host-keys scenarios/cloudlab/hosts.yaml`,
		Args: exactArgs(1, "name the inventory file, e.g. scenarios/cloudlab/hosts.yaml"),
		RunE: func(cmd *cobra.Command, args []string) error {
			inv, err := sshtb.LoadInventory(args[0])
			if err != nil {
				return err
			}
			w := cmd.OutOrStdout()
			lines, err := sshtb.Check(cmd.Context(), inv, sshtb.Options{
				AcceptNewHostKeys: accept, Binary: binary,
				Printf: func(format string, a ...any) { fmt.Fprintf(w, "Note: "+format+"\n", a...) },
			})
			for _, l := range lines {
				fmt.Fprintln(w, l)
			}
			return err
		},
	}
	cmd.Flags().BoolVar(&accept, "accept-new-host-keys", false, "add unknown host keys to known_hosts, printing each fingerprint")
	cmd.Flags().StringVar(&binary, "binary", "", "wgbench binary a run would install (default this one)")
	return cmd
}

// newImportCloudLabCmd writes an inventory from a CloudLab manifest.
func newImportCloudLabCmd() *cobra.Command {
	var (
		out, user, key, known string
		roles                 []string
		force                 bool
	)
	cmd := &cobra.Command{
		Use:   "import-cloudlab MANIFEST.xml",
		Short: "Write an SSH inventory from a CloudLab experiment's manifest",
		Long: `import-cloudlab reads the GENI v3 manifest of an experiment made from
testbed/cloudlab/profile.py (the experiment page's "Manifest" tab) and
writes the SSH testbed inventory: each role's node and SSH login, sudo for
users other than root, and the interfaces on the links source–gw1,
gw1–gw2 and gw2–drain named by MAC address (or by the address CloudLab
gave them when the manifest has no MAC).`,
		Example: `  wgbench testbed import-cloudlab manifest.xml -o scenarios/cloudlab/hosts.yaml
  wgbench testbed import-cloudlab manifest.xml --user alice --key ~/.ssh/cloudlab -o hosts.yaml
  wgbench testbed import-cloudlab manifest.xml --role source=node0 --role gw1=node1 --role gw2=node2 --role drain=node3`,
		Args: exactArgs(1, "name the manifest file downloaded from the experiment page"),
		RunE: func(cmd *cobra.Command, args []string) error {
			data, err := os.ReadFile(args[0])
			if err != nil {
				return fmt.Errorf("read manifest: %w", err)
			}
			m, err := cloudlab.ParseManifest(data)
			if err != nil {
				return fmt.Errorf("%s: %w", args[0], err)
			}
			opts := cloudlab.Options{User: user, Key: key, KnownHosts: known, Roles: map[string]string{}}
			for _, r := range roles {
				role, node, ok := strings.Cut(r, "=")
				if !ok || !isRole(role) || node == "" {
					return usageError{fmt.Errorf("--role %q: want ROLE=NODE with ROLE one of %s", r, strings.Join(testbed.Roles, ", "))}
				}
				opts.Roles[role] = node
			}
			inv, err := cloudlab.Import(m, opts)
			if err != nil {
				return fmt.Errorf("%s: %w", args[0], err)
			}
			text, err := inv.Marshal(cloudlab.Header(m, args[0], opts))
			if err != nil {
				return err
			}
			if out == "" || out == "-" {
				_, err := cmd.OutOrStdout().Write(text)
				return err
			}
			if _, err := os.Stat(out); err == nil && !force {
				return fmt.Errorf("%s exists; give --force to replace it", out)
			} else if err != nil && !errors.Is(err, os.ErrNotExist) {
				return err
			}
			if err := os.WriteFile(out, text, 0o644); err != nil {
				return err
			}
			fmt.Fprintf(cmd.ErrOrStderr(), "wrote %s; next: wgbench testbed check --accept-new-host-keys %s\n", out, out)
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVarP(&out, "output", "o", "", "inventory file to write (default standard output)")
	f.StringVar(&user, "user", "", "login user, when several project members are listed")
	f.StringVar(&key, "key", "", "private key file to log in with (default: ssh-agent, then ~/.ssh/id_*)")
	f.StringVar(&known, "known-hosts", "", "known_hosts file (default ~/.ssh/known_hosts)")
	f.StringArrayVar(&roles, "role", nil, "ROLE=NODE when the profile named its nodes otherwise (repeatable)")
	f.BoolVar(&force, "force", false, "replace an existing output file")
	return cmd
}

func isRole(s string) bool {
	for _, r := range testbed.Roles {
		if r == s {
			return true
		}
	}
	return false
}
