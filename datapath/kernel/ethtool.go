package kernel

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"unsafe"

	"golang.org/x/sys/unix"
)

// Feature is the state of one netdev feature, as `ethtool -k` shows it.
type Feature struct {
	// Active is true when the feature is on.
	Active bool
	// Changeable is false for features ethtool shows as "[fixed]".
	Changeable bool
}

// Ethtool reads and sets netdev features by their ethtool names
// ("rx-udp-gro-forwarding", "rx-ntuple-filter").
type Ethtool interface {
	// Feature returns the state of feature name of dev; a name this
	// kernel does not know is an error satisfying errors.Is(err,
	// ErrNoFeature).
	Feature(dev, name string) (Feature, error)
	// SetFeature turns feature name of dev on or off and fails unless
	// the feature is then in the requested state.
	SetFeature(dev, name string, on bool) error
	// Close releases the interface.
	Close() error
}

// ErrNoFeature is returned for a feature name the kernel does not know.
var ErrNoFeature = errors.New("the kernel has no such netdev feature")

// ethtool ioctl commands and string sets, from linux/ethtool.h.
const (
	ethtoolGStrings  = 0x1b
	ethtoolGSSetInfo = 0x37
	ethtoolGFeatures = 0x3a
	ethtoolSFeatures = 0x3b
	ethSSFeatures    = 4
	ethGStringLen    = 32
)

// ioctlEthtool is the Ethtool of the running kernel, through the
// SIOCETHTOOL ioctl on a socket of the network namespace it was opened in.
type ioctlEthtool struct {
	fd int
}

// OpenEthtool opens the running kernel's ethtool interface in the
// calling thread's network namespace; it keeps acting on that namespace
// whichever thread calls it later.
func OpenEthtool() (Ethtool, error) {
	fd, err := unix.Socket(unix.AF_INET, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("open ethtool socket: %w", err)
	}
	return &ioctlEthtool{fd: fd}, nil
}

// ifreqData is struct ifreq with ifr_data: a name and a pointer, padded
// to the union's size.
type ifreqData struct {
	name [unix.IFNAMSIZ]byte
	data unsafe.Pointer
	_    [16]byte
}

// ioctl runs one ethtool command whose struct is buf (its first word is
// the command) on dev, and returns the ioctl's non-negative result.
func (e *ioctlEthtool) ioctl(dev string, buf []byte) (uintptr, error) {
	if len(dev) >= unix.IFNAMSIZ || dev == "" {
		return 0, fmt.Errorf("%q is not an interface name", dev)
	}
	var ifr ifreqData
	copy(ifr.name[:], dev)
	ifr.data = unsafe.Pointer(&buf[0])
	r, _, errno := unix.Syscall(unix.SYS_IOCTL, uintptr(e.fd), unix.SIOCETHTOOL, uintptr(unsafe.Pointer(&ifr)))
	if errno != 0 {
		return 0, errno
	}
	return r, nil
}

// featureNames returns the kernel's feature names; index i is bit i of
// the feature words.
func (e *ioctlEthtool) featureNames(dev string) ([]string, error) {
	info := make([]byte, 24) // cmd, reserved, sset_mask u64, data[1]
	binary.NativeEndian.PutUint32(info[0:], ethtoolGSSetInfo)
	binary.NativeEndian.PutUint64(info[8:], 1<<ethSSFeatures)
	if _, err := e.ioctl(dev, info); err != nil {
		return nil, fmt.Errorf("ethtool %s: feature count: %w", dev, err)
	}
	if binary.NativeEndian.Uint64(info[8:])&(1<<ethSSFeatures) == 0 {
		return nil, fmt.Errorf("ethtool %s: the kernel lists no features", dev)
	}
	n := binary.NativeEndian.Uint32(info[16:])
	if n == 0 || n > 1024 {
		return nil, fmt.Errorf("ethtool %s: implausible feature count %d", dev, n)
	}
	strs := make([]byte, 12+int(n)*ethGStringLen)
	binary.NativeEndian.PutUint32(strs[0:], ethtoolGStrings)
	binary.NativeEndian.PutUint32(strs[4:], ethSSFeatures)
	binary.NativeEndian.PutUint32(strs[8:], n)
	if _, err := e.ioctl(dev, strs); err != nil {
		return nil, fmt.Errorf("ethtool %s: feature names: %w", dev, err)
	}
	names := make([]string, n)
	for i := range names {
		s := strs[12+i*ethGStringLen : 12+(i+1)*ethGStringLen]
		if j := bytes.IndexByte(s, 0); j >= 0 {
			s = s[:j]
		}
		names[i] = string(s)
	}
	return names, nil
}

// featureBit returns the bit of feature name and the number of 32-bit
// feature words.
func (e *ioctlEthtool) featureBit(dev, name string) (bit, words int, err error) {
	names, err := e.featureNames(dev)
	if err != nil {
		return 0, 0, err
	}
	for i, n := range names {
		if n == name {
			return i, (len(names) + 31) / 32, nil
		}
	}
	return 0, 0, fmt.Errorf("ethtool %s: feature %s: %w (kernel too old?)", dev, name, ErrNoFeature)
}

// Feature implements Ethtool.
func (e *ioctlEthtool) Feature(dev, name string) (Feature, error) {
	bit, words, err := e.featureBit(dev, name)
	if err != nil {
		return Feature{}, err
	}
	return e.feature(dev, name, bit, words)
}

func (e *ioctlEthtool) feature(dev, name string, bit, words int) (Feature, error) {
	// struct ethtool_gfeatures: cmd, size, then per word available,
	// requested, active, never_changed.
	buf := make([]byte, 8+words*16)
	binary.NativeEndian.PutUint32(buf[0:], ethtoolGFeatures)
	binary.NativeEndian.PutUint32(buf[4:], uint32(words))
	if _, err := e.ioctl(dev, buf); err != nil {
		return Feature{}, fmt.Errorf("ethtool %s: read features: %w", dev, err)
	}
	blk := buf[8+(bit/32)*16:]
	mask := uint32(1) << (bit % 32)
	available := binary.NativeEndian.Uint32(blk[0:])
	active := binary.NativeEndian.Uint32(blk[8:])
	never := binary.NativeEndian.Uint32(blk[12:])
	return Feature{Active: active&mask != 0, Changeable: available&mask != 0 && never&mask == 0}, nil
}

// SetFeature implements Ethtool.
func (e *ioctlEthtool) SetFeature(dev, name string, on bool) error {
	bit, words, err := e.featureBit(dev, name)
	if err != nil {
		return err
	}
	// struct ethtool_sfeatures: cmd, size, then per word valid, requested.
	buf := make([]byte, 8+words*8)
	binary.NativeEndian.PutUint32(buf[0:], ethtoolSFeatures)
	binary.NativeEndian.PutUint32(buf[4:], uint32(words))
	blk := buf[8+(bit/32)*8:]
	mask := uint32(1) << (bit % 32)
	binary.NativeEndian.PutUint32(blk[0:], mask)
	if on {
		binary.NativeEndian.PutUint32(blk[4:], mask)
	}
	if _, err := e.ioctl(dev, buf); err != nil {
		return fmt.Errorf("ethtool -K %s %s %s: %w", dev, name, onOff(on), err)
	}
	f, err := e.feature(dev, name, bit, words)
	if err != nil {
		return err
	}
	if f.Active != on {
		return fmt.Errorf("ethtool -K %s %s %s: the feature stayed %s (fixed or held by another feature)", dev, name, onOff(on), onOff(f.Active))
	}
	return nil
}

// Close implements Ethtool.
func (e *ioctlEthtool) Close() error {
	if e.fd < 0 {
		return nil
	}
	err := unix.Close(e.fd)
	e.fd = -1
	return err
}

func onOff(on bool) string {
	if on {
		return "on"
	}
	return "off"
}
