package kernel

import (
	"encoding/binary"
	"errors"
	"fmt"

	"golang.org/x/sys/unix"
)

// FlowRule is one ntuple rule: received UDP/IPv4 packets to DstPort go to
// receive queue Queue, as `ethtool -N <dev> flow-type udp4 dst-port
// <port> action <queue>` installs it.
type FlowRule struct {
	DstPort uint16
	Queue   uint32
}

// String writes r as the ethtool command line that would install it.
func (r FlowRule) String() string {
	return fmt.Sprintf("flow-type udp4 dst-port %d action %d", r.DstPort, r.Queue)
}

// NtupleEthtool is an Ethtool that also installs and removes ntuple
// rules (ethtool -N).
type NtupleEthtool interface {
	Ethtool
	// InsertFlowRule installs r on dev and returns the rule's location
	// (its id in `ethtool -n`).
	InsertFlowRule(dev string, r FlowRule) (uint32, error)
	// DeleteFlowRule removes the rule at loc from dev.
	DeleteFlowRule(dev string, loc uint32) error
}

// ethtool rxnfc commands and constants, from linux/ethtool.h.
const (
	ethtoolGRXCLSRLCNT = 0x2e
	ethtoolGRXCLSRLALL = 0x30
	ethtoolSRXCLSRLDEL = 0x31
	ethtoolSRXCLSRLINS = 0x32
	udpV4Flow          = 0x02
	rxClsLocAny        = 0xffffffff
	rxClsLocSpecial    = 0x80000000
)

// Offsets in struct ethtool_rxnfc (x86-64 and every 64-bit ABI Linux
// supports): cmd u32, flow_type u32, data u64, then struct
// ethtool_rx_flow_spec fs (flow_type u32, h_u 52 bytes, h_ext 20,
// m_u 52, m_ext 20, 4 bytes padding, ring_cookie u64, location u32,
// 4 bytes padding), then rule_cnt u32 and rule_locs[].
const (
	rxnfcData        = 8
	rxnfcFS          = 16
	fsFlowType       = rxnfcFS + 0
	fsHU             = rxnfcFS + 4
	fsMU             = rxnfcFS + 76
	fsRingCookie     = rxnfcFS + 152
	fsLocation       = rxnfcFS + 160
	rxnfcRuleCnt     = rxnfcFS + 168
	rxnfcRuleLocs    = rxnfcRuleCnt + 4
	rxnfcSize        = rxnfcRuleLocs + 4 // with its 8-byte alignment padding
	tcpip4PdstInSpec = 10                // ethtool_tcpip4_spec: ip4src, ip4dst, psrc, pdst
)

// encodeFlowRule returns the ETHTOOL_SRXCLSRLINS request for r at loc.
func encodeFlowRule(r FlowRule, loc uint32) []byte {
	b := make([]byte, rxnfcSize)
	binary.NativeEndian.PutUint32(b[0:], ethtoolSRXCLSRLINS)
	binary.NativeEndian.PutUint32(b[4:], udpV4Flow)
	binary.NativeEndian.PutUint32(b[fsFlowType:], udpV4Flow)
	binary.BigEndian.PutUint16(b[fsHU+tcpip4PdstInSpec:], r.DstPort)
	binary.BigEndian.PutUint16(b[fsMU+tcpip4PdstInSpec:], 0xffff)
	binary.NativeEndian.PutUint64(b[fsRingCookie:], uint64(r.Queue))
	binary.NativeEndian.PutUint32(b[fsLocation:], loc)
	return b
}

// InsertFlowRule implements NtupleEthtool. It lets the driver choose the
// location when it can (RX_CLS_LOC_ANY), else takes the lowest free one.
func (e *ioctlEthtool) InsertFlowRule(dev string, r FlowRule) (uint32, error) {
	size, special, used, err := e.ruleLocations(dev)
	if err != nil {
		return 0, err
	}
	loc := uint32(rxClsLocAny)
	if !special {
		loc, err = freeLocation(size, used)
		if err != nil {
			return 0, fmt.Errorf("ethtool -N %s %s: %w", dev, r, err)
		}
	}
	b := encodeFlowRule(r, loc)
	if _, err := e.ioctl(dev, b); err != nil {
		return 0, fmt.Errorf("ethtool -N %s %s: %w", dev, r, err)
	}
	return binary.NativeEndian.Uint32(b[fsLocation:]), nil
}

// freeLocation returns the lowest location below size not in used.
func freeLocation(size uint32, used []uint32) (uint32, error) {
	taken := make(map[uint32]bool, len(used))
	for _, u := range used {
		taken[u] = true
	}
	for l := range size {
		if !taken[l] {
			return l, nil
		}
	}
	return 0, fmt.Errorf("the NIC's rule table is full (%d rules)", size)
}

// ruleLocations returns the size of dev's rule table, whether the driver
// picks locations itself, and the locations in use.
func (e *ioctlEthtool) ruleLocations(dev string) (size uint32, special bool, used []uint32, err error) {
	b := make([]byte, rxnfcSize)
	binary.NativeEndian.PutUint32(b[0:], ethtoolGRXCLSRLCNT)
	if _, err := e.ioctl(dev, b); err != nil {
		if errors.Is(err, unix.EOPNOTSUPP) || errors.Is(err, unix.EINVAL) {
			return 0, false, nil, unsupported("the NIC %s has no ntuple rule table (ethtool -n %s: %v)", dev, dev, err)
		}
		return 0, false, nil, fmt.Errorf("ethtool -n %s: %w", dev, err)
	}
	data := binary.NativeEndian.Uint64(b[rxnfcData:])
	special = data&rxClsLocSpecial != 0
	size = uint32(data &^ rxClsLocSpecial)
	n := binary.NativeEndian.Uint32(b[rxnfcRuleCnt:])
	if n == 0 {
		return size, special, nil, nil
	}
	if n > 1<<16 {
		return 0, false, nil, fmt.Errorf("ethtool -n %s: implausible rule count %d", dev, n)
	}
	all := make([]byte, rxnfcRuleLocs+4*int(n)+4)
	binary.NativeEndian.PutUint32(all[0:], ethtoolGRXCLSRLALL)
	binary.NativeEndian.PutUint32(all[rxnfcRuleCnt:], n)
	if _, err := e.ioctl(dev, all); err != nil {
		return 0, false, nil, fmt.Errorf("ethtool -n %s: list rules: %w", dev, err)
	}
	n = min(n, binary.NativeEndian.Uint32(all[rxnfcRuleCnt:]))
	for i := range int(n) {
		used = append(used, binary.NativeEndian.Uint32(all[rxnfcRuleLocs+4*i:]))
	}
	return size, special, used, nil
}

// DeleteFlowRule implements NtupleEthtool.
func (e *ioctlEthtool) DeleteFlowRule(dev string, loc uint32) error {
	b := make([]byte, rxnfcSize)
	binary.NativeEndian.PutUint32(b[0:], ethtoolSRXCLSRLDEL)
	binary.NativeEndian.PutUint32(b[fsLocation:], loc)
	if _, err := e.ioctl(dev, b); err != nil {
		return fmt.Errorf("ethtool -N %s delete %d: %w", dev, loc, err)
	}
	return nil
}
