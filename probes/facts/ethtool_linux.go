package facts

import (
	"encoding/binary"
	"errors"
	"fmt"
	"runtime"
	"unsafe"

	"golang.org/x/sys/unix"
)

// ethSSFeatures is ETH_SS_FEATURES, the string set of feature names.
const ethSSFeatures = 4

// Offsets in struct ethtool_rxnfc (linux/ethtool.h): cmd, flow_type,
// data, the 168-byte flow spec, then rule_cnt.
const (
	rxnfcData    = 8
	rxnfcRuleCnt = 184
	rxnfcSize    = 192
)

// ifreqData is struct ifreq with ifr_data set.
type ifreqData struct {
	name [unix.IFNAMSIZ]byte
	data unsafe.Pointer
	_    [24 - unsafe.Sizeof(uintptr(0))]byte
}

// ethtool is a socket to ask the ethtool ioctl about one device.
type ethtool struct {
	fd   int
	name string
}

// call runs the SIOCETHTOOL ioctl with buf as the command structure.
func (e ethtool) call(buf []byte) error {
	var ifr ifreqData
	copy(ifr.name[:unix.IFNAMSIZ-1], e.name)
	ifr.data = unsafe.Pointer(&buf[0])
	_, _, errno := unix.Syscall(unix.SYS_IOCTL, uintptr(e.fd), unix.SIOCETHTOOL, uintptr(unsafe.Pointer(&ifr)))
	runtime.KeepAlive(buf)
	if errno != 0 {
		return errno
	}
	return nil
}

// cmd returns a zeroed buffer of n bytes starting with the command cmd.
func cmdBuf(cmd uint32, n int) []byte {
	b := make([]byte, n)
	binary.NativeEndian.PutUint32(b, cmd)
	return b
}

// ethtoolQuery asks the kernel about a link: its features, and for a
// physical link the RSS rings, indirection table, UDP/IPv4 hash fields
// and ntuple rule count. Errors are kept in the result, per item.
func ethtoolQuery(name string, physical bool) ethtoolInfo {
	info := ethtoolInfo{rules: -1}
	if len(name) >= unix.IFNAMSIZ {
		info.featuresErr = fmt.Errorf("interface name %q too long", name)
		return info
	}
	fd, err := unix.Socket(unix.AF_INET, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		info.featuresErr = fmt.Errorf("ethtool socket: %w", err)
		return info
	}
	defer unix.Close(fd)
	e := ethtool{fd: fd, name: name}
	info.features, info.featuresErr = e.features()
	if !physical {
		return info
	}
	rssErr := func(what string, err error) {
		if errors.Is(err, unix.EOPNOTSUPP) || errors.Is(err, unix.EINVAL) {
			info.rssErrs = append(info.rssErrs, what+": not supported by the driver")
		} else {
			info.rssErrs = append(info.rssErrs, fmt.Sprintf("%s: %v", what, err))
		}
	}
	b := cmdBuf(unix.ETHTOOL_GRXRINGS, rxnfcSize)
	if err := e.call(b); err == nil {
		info.rings = int(binary.NativeEndian.Uint64(b[rxnfcData:]))
	} else {
		rssErr("RX rings", err)
	}
	if t, err := e.indirection(); err == nil {
		info.indir = t
	} else {
		rssErr("indirection table", err)
	}
	b = cmdBuf(unix.ETHTOOL_GRXFH, rxnfcSize)
	binary.NativeEndian.PutUint32(b[4:], unix.UDP_V4_FLOW)
	if err := e.call(b); err == nil {
		info.udp4Hash = hashLetters(binary.NativeEndian.Uint64(b[rxnfcData:]))
	} else {
		rssErr("UDP/IPv4 hash fields", err)
	}
	b = cmdBuf(unix.ETHTOOL_GRXCLSRLCNT, rxnfcSize)
	if err := e.call(b); err == nil {
		info.rules = int(binary.NativeEndian.Uint32(b[rxnfcRuleCnt:]))
	} else {
		rssErr("ntuple rules", err)
	}
	return info
}

// features reads every feature's state (ETHTOOL_GSSET_INFO,
// ETHTOOL_GSTRINGS, ETHTOOL_GFEATURES), as `ethtool -k` does.
func (e ethtool) features() (map[string]string, error) {
	b := cmdBuf(unix.ETHTOOL_GSSET_INFO, 16+4)
	binary.NativeEndian.PutUint64(b[8:], 1<<ethSSFeatures)
	if err := e.call(b); err != nil {
		return nil, fmt.Errorf("ethtool feature count: %w", err)
	}
	if binary.NativeEndian.Uint64(b[8:])&(1<<ethSSFeatures) == 0 {
		return nil, errors.New("ethtool: the device reports no feature names")
	}
	n := int(binary.NativeEndian.Uint32(b[16:]))
	if n <= 0 || n > 1024 {
		return nil, fmt.Errorf("ethtool: implausible feature count %d", n)
	}
	const strLen = 32 // ETH_GSTRING_LEN
	s := cmdBuf(unix.ETHTOOL_GSTRINGS, 12+n*strLen)
	binary.NativeEndian.PutUint32(s[4:], ethSSFeatures)
	binary.NativeEndian.PutUint32(s[8:], uint32(n))
	if err := e.call(s); err != nil {
		return nil, fmt.Errorf("ethtool feature names: %w", err)
	}
	blocks := (n + 31) / 32
	f := cmdBuf(unix.ETHTOOL_GFEATURES, 8+blocks*16)
	binary.NativeEndian.PutUint32(f[4:], uint32(blocks))
	if err := e.call(f); err != nil {
		return nil, fmt.Errorf("ethtool features: %w", err)
	}
	out := make(map[string]string, n)
	for i := range n {
		raw := s[12+i*strLen : 12+(i+1)*strLen]
		name := unix.ByteSliceToString(raw)
		if name == "" {
			continue
		}
		blk := f[8+(i/32)*16:]
		bit := uint32(1) << (i % 32)
		available := binary.NativeEndian.Uint32(blk[0:])
		active := binary.NativeEndian.Uint32(blk[8:])
		never := binary.NativeEndian.Uint32(blk[12:])
		v := "off"
		if active&bit != 0 {
			v = "on"
		}
		if available&bit == 0 || never&bit != 0 {
			v += " [fixed]"
		}
		out[name] = v
	}
	return out, nil
}

// indirection reads the RSS indirection table (ETHTOOL_GRXFHINDIR).
func (e ethtool) indirection() ([]int, error) {
	b := cmdBuf(unix.ETHTOOL_GRXFHINDIR, 8)
	if err := e.call(b); err != nil {
		return nil, err
	}
	n := int(binary.NativeEndian.Uint32(b[4:]))
	if n == 0 || n > 1<<16 {
		return nil, fmt.Errorf("implausible table size %d", n)
	}
	t := cmdBuf(unix.ETHTOOL_GRXFHINDIR, 8+4*n)
	binary.NativeEndian.PutUint32(t[4:], uint32(n))
	if err := e.call(t); err != nil {
		return nil, err
	}
	out := make([]int, n)
	for i := range out {
		out[i] = int(binary.NativeEndian.Uint32(t[8+4*i:]))
	}
	return out, nil
}
