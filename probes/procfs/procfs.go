// Package procfs reads the few procfs files the probes need: per-core CPU
// time (/proc/stat), per-core NET_RX/NET_TX softirq counts (/proc/softirqs),
// per-process and per-thread statistics (/proc/<pid>[/task/<tid>]/stat) and
// network-namespace identities (/proc/<pid>/ns/net).
//
// Everything is read below a configurable root, so tests run against a fake
// tree and the integration tests against the real /proc.
//
// It is a direct parser rather than gopsutil: gopsutil parses neither
// /proc/softirqs nor a thread's last CPU (field 39 of stat), moves its root
// only through the environment or a context value, and allocates per call
// far more than a 4 Hz sampler should. The files are simple and stable
// (proc(5)), so a parser that reuses one read buffer is short and cheap.
package procfs

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// PFKthread is the PF_KTHREAD bit of a task's flags (field 9 of stat): set
// for kernel threads.
const PFKthread = 0x00200000

// Reader reads procfs files below a root directory. It reuses its buffers
// and keeps the files it reads on every sample (stat, softirqs, the root
// directory) open between calls; it is not safe for concurrent use. Close
// releases those files.
type Reader struct {
	root string
	buf  []byte // file contents
	dbuf []byte // directory entries
	// kept open between calls
	statFile, softFile, rootDir *File
}

// New returns a Reader for the procfs tree at root; an empty root means
// "/proc".
func New(root string) *Reader {
	if root == "" {
		root = "/proc"
	}
	return &Reader{root: filepath.Clean(root), buf: make([]byte, 0, 16<<10), dbuf: make([]byte, 32<<10)}
}

// Close closes the files the Reader keeps open. The Reader stays usable:
// they are opened again when needed.
func (r *Reader) Close() error {
	err := errors.Join(r.statFile.Close(), r.softFile.Close(), r.rootDir.Close())
	r.statFile, r.softFile, r.rootDir = nil, nil, nil
	return err
}

// readKept reads the file name below the root through the kept file in
// *slot, opening it first when needed; a failed file is closed, to be
// opened again next time.
func (r *Reader) readKept(slot **File, name string) ([]byte, error) {
	if *slot == nil {
		f, err := r.open(filepath.Join(r.root, name), 0)
		if err != nil {
			return nil, err
		}
		*slot = f
	}
	b, err := r.pread(*slot)
	if err != nil {
		(*slot).Close()
		*slot = nil
	}
	return b, err
}

// read returns the content of the file at path, valid until the next read.
//
// A read that returns less than the room offered ends it: the files read
// here are seq_files opened with single_open, which hand out their whole
// content in the first read when it fits (and regular files, in the fake
// trees, only read short at their end). That saves the second, empty read
// per file.
func (r *Reader) read(path string) ([]byte, error) {
	fd, err := unix.Open(path, unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, &fs.PathError{Op: "open", Path: path, Err: err}
	}
	defer unix.Close(fd)
	b := r.buf[:0]
	for {
		if len(b) == cap(b) {
			b = append(b, 0)[:len(b)]
		}
		n, err := unix.Read(fd, b[len(b):cap(b)])
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			r.buf = b[:0]
			return nil, &fs.PathError{Op: "read", Path: path, Err: err}
		}
		room := cap(b) - len(b)
		b = b[:len(b)+n]
		if n == 0 || n < room {
			break
		}
	}
	r.buf = b[:0]
	return b, nil
}

// CPUTimes is one per-core line of /proc/stat, in USER_HZ ticks.
type CPUTimes struct {
	// CPU is the core number (the N of "cpuN").
	CPU                                                   int
	User, Nice, System, Idle, IOWait, IRQ, SoftIRQ, Steal uint64
	// Guest and GuestNice are already included in User and Nice.
	Guest, GuestNice uint64
}

// Total returns the ticks the core spent in any state. Guest time is part
// of User (and GuestNice of Nice), so it is not added twice.
func (c CPUTimes) Total() uint64 {
	return c.User + c.Nice + c.System + c.Idle + c.IOWait + c.IRQ + c.SoftIRQ + c.Steal
}

// CPUStat appends the per-core lines of <root>/stat to dst, in file order.
// Offline cores have no line, so the position in the slice is not the
// core number: use CPUTimes.CPU.
func (r *Reader) CPUStat(dst []CPUTimes) ([]CPUTimes, error) {
	b, err := r.readKept(&r.statFile, "stat")
	if err != nil {
		return dst, err
	}
	dst, err = parseCPUStat(b, dst)
	if err != nil {
		return dst, fmt.Errorf("procfs: %s: %w", filepath.Join(r.root, "stat"), err)
	}
	return dst, nil
}

func parseCPUStat(b []byte, dst []CPUTimes) ([]CPUTimes, error) {
	found := false
	for line := range bytes.Lines(b) {
		if !bytes.HasPrefix(line, []byte("cpu")) {
			if found {
				break // the cpu lines come first and together
			}
			continue
		}
		f := bytes.Fields(line)
		name := f[0][3:]
		if len(name) == 0 {
			continue // the aggregate "cpu" line
		}
		found = true
		cpu, err := strconv.Atoi(string(name))
		if err != nil || cpu < 0 {
			return dst, fmt.Errorf("bad core name %q", f[0])
		}
		if len(f) < 5 {
			return dst, fmt.Errorf("core %d: %d fields, want at least 4 times", cpu, len(f)-1)
		}
		var v [10]uint64
		for i := 1; i < len(f) && i <= len(v); i++ {
			if v[i-1], err = strconv.ParseUint(string(f[i]), 10, 64); err != nil {
				return dst, fmt.Errorf("core %d field %d: %w", cpu, i, err)
			}
		}
		dst = append(dst, CPUTimes{
			CPU: cpu, User: v[0], Nice: v[1], System: v[2], Idle: v[3], IOWait: v[4],
			IRQ: v[5], SoftIRQ: v[6], Steal: v[7], Guest: v[8], GuestNice: v[9],
		})
	}
	if !found {
		return dst, errors.New("no per-core cpu lines")
	}
	return dst, nil
}

// NetSoftirqs holds the NET_RX and NET_TX lines of /proc/softirqs: how many
// times each softirq ran on each core, indexed by core number. The kernel
// keeps these as 32-bit counters, so they wrap.
type NetSoftirqs struct {
	RX, TX []uint64
}

// Softirqs reads the NET_RX and NET_TX counters of <root>/softirqs. The
// slices of dst are reused.
func (r *Reader) Softirqs(dst NetSoftirqs) (NetSoftirqs, error) {
	b, err := r.readKept(&r.softFile, "softirqs")
	if err != nil {
		return dst, err
	}
	dst, err = parseSoftirqs(b, dst)
	if err != nil {
		return dst, fmt.Errorf("procfs: %s: %w", filepath.Join(r.root, "softirqs"), err)
	}
	return dst, nil
}

func parseSoftirqs(b []byte, dst NetSoftirqs) (NetSoftirqs, error) {
	var cpus []int // column → core number
	maxCPU := -1
	gotRX, gotTX := false, false
	for line := range bytes.Lines(b) {
		f := bytes.Fields(line)
		if len(f) == 0 {
			continue
		}
		if cpus == nil {
			for _, c := range f {
				n, err := strconv.Atoi(strings.TrimPrefix(string(c), "CPU"))
				if !bytes.HasPrefix(c, []byte("CPU")) || err != nil || n < 0 || n > 1<<16 {
					return dst, fmt.Errorf("bad header column %q", c)
				}
				cpus = append(cpus, n)
				maxCPU = max(maxCPU, n)
			}
			continue
		}
		var out *[]uint64
		switch string(f[0]) {
		case "NET_RX:":
			out, gotRX = &dst.RX, true
		case "NET_TX:":
			out, gotTX = &dst.TX, true
		default:
			continue
		}
		if len(f)-1 != len(cpus) {
			return dst, fmt.Errorf("%s has %d columns, header %d", f[0], len(f)-1, len(cpus))
		}
		*out = (*out)[:0]
		for range maxCPU + 1 {
			*out = append(*out, 0)
		}
		for i, c := range f[1:] {
			v, err := strconv.ParseUint(string(c), 10, 64)
			if err != nil {
				return dst, fmt.Errorf("%s column %d: %w", f[0], i+1, err)
			}
			(*out)[cpus[i]] = v
		}
	}
	if !gotRX || !gotTX {
		return dst, errors.New("no NET_RX or NET_TX line")
	}
	return dst, nil
}

// TaskStat is the part of a stat file (proc(5), /proc/<pid>/stat) the
// probes use.
type TaskStat struct {
	// ID is field 1: the process ID for /proc/<pid>/stat, the thread ID
	// for /proc/<pid>/task/<tid>/stat.
	ID int
	// Comm is field 2 without the parentheses. Workqueue workers show the
	// workqueue they last served, as in "kworker/1:2-wg-crypt-wg0".
	Comm string
	// State is field 3 (R, S, D, Z, ...).
	State byte
	// PPID is field 4.
	PPID int
	// Flags is field 9, the kernel's PF_* flags.
	Flags uint64
	// UTime and STime are fields 14 and 15, in USER_HZ ticks.
	UTime, STime uint64
	// Threads is field 20, the number of threads of the process.
	Threads int
	// Processor is field 39: the core the task last ran on.
	Processor int
}

// Kernel reports whether the task is a kernel thread.
func (t TaskStat) Kernel() bool { return t.Flags&PFKthread != 0 }

// File is a procfs file kept open. Re-reading it costs one pread instead
// of an open, a read and a close: procfs regenerates a seq_file's content
// on a read at offset 0, and an open /proc/<pid> file keeps naming the same
// task even if its PID is reused. Once the task has been reaped, reads fail
// (ESRCH).
type File struct {
	fd   int
	path string
}

func (r *Reader) open(path string, flags int) (*File, error) {
	fd, err := unix.Open(path, unix.O_RDONLY|unix.O_CLOEXEC|flags, 0)
	if err != nil {
		return nil, &fs.PathError{Op: "open", Path: path, Err: err}
	}
	return &File{fd: fd, path: path}, nil
}

// Close closes the file; closing a nil or closed File does nothing.
func (f *File) Close() error {
	if f == nil || f.fd < 0 {
		return nil
	}
	err := unix.Close(f.fd)
	f.fd = -1
	return err
}

// pread returns the content of f from its start, valid until the next read.
func (r *Reader) pread(f *File) ([]byte, error) {
	if f == nil || f.fd < 0 {
		return nil, errors.New("procfs: read of a closed file")
	}
	b := r.buf[:cap(r.buf)]
	if len(b) == 0 {
		b = make([]byte, 4096)
	}
	for {
		n, err := unix.Pread(f.fd, b, 0)
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return nil, &fs.PathError{Op: "read", Path: f.path, Err: err}
		}
		if n < len(b) {
			r.buf = b[:0]
			return b[:n], nil
		}
		b = make([]byte, 2*len(b)) // did not fit: read again, larger
	}
}

// OpenProcessStat opens <root>/<pid>/stat for repeated reads with ReadStat.
func (r *Reader) OpenProcessStat(pid int) (*File, error) {
	return r.open(filepath.Join(r.root, strconv.Itoa(pid), "stat"), 0)
}

// ReadStat reads and parses an open stat file from its start.
func (r *Reader) ReadStat(f *File) (TaskStat, error) {
	b, err := r.pread(f)
	if err != nil {
		return TaskStat{}, err
	}
	t, err := parseTaskStat(b)
	if err != nil {
		return TaskStat{}, fmt.Errorf("procfs: %s: %w", f.path, err)
	}
	return t, nil
}

// OpenSchedstat opens <root>/<pid>/schedstat for repeated reads with
// ReadRuntime.
func (r *Reader) OpenSchedstat(pid int) (*File, error) {
	return r.open(filepath.Join(r.root, strconv.Itoa(pid), "schedstat"), 0)
}

// ReadRuntime reads the first field of an open schedstat file: the CPU time
// of the task (the thread-group leader for /proc/<pid>/schedstat), in
// nanoseconds. It is a fraction of the cost of a stat read, so it serves to
// tell whether a task ran at all.
func (r *Reader) ReadRuntime(f *File) (uint64, error) {
	b, err := r.pread(f)
	if err != nil {
		return 0, err
	}
	if i := bytes.IndexAny(b, " \n"); i >= 0 {
		b = b[:i]
	}
	v, err := strconv.ParseUint(string(b), 10, 64)
	if err != nil {
		return 0, fmt.Errorf("procfs: %s: %w", f.path, err)
	}
	return v, nil
}

// ProcessStat reads <root>/<pid>/stat.
func (r *Reader) ProcessStat(pid int) (TaskStat, error) {
	return r.stat(filepath.Join(r.root, strconv.Itoa(pid), "stat"))
}

// TaskStat reads <root>/<pid>/task/<tid>/stat.
func (r *Reader) TaskStat(pid, tid int) (TaskStat, error) {
	return r.stat(filepath.Join(r.root, strconv.Itoa(pid), "task", strconv.Itoa(tid), "stat"))
}

func (r *Reader) stat(path string) (TaskStat, error) {
	b, err := r.read(path)
	if err != nil {
		return TaskStat{}, err
	}
	t, err := parseTaskStat(b)
	if err != nil {
		return TaskStat{}, fmt.Errorf("procfs: %s: %w", path, err)
	}
	return t, nil
}

// parseTaskStat parses one stat line. The comm may hold spaces and
// parentheses, so it is whatever lies between the first "(" and the last
// ")".
func parseTaskStat(b []byte) (TaskStat, error) {
	var t TaskStat
	open := bytes.IndexByte(b, '(')
	closing := bytes.LastIndexByte(b, ')')
	if open < 1 || closing < open {
		return t, errors.New("no (comm) field")
	}
	id, err := strconv.Atoi(string(bytes.TrimSpace(b[:open])))
	if err != nil {
		return t, fmt.Errorf("bad id: %w", err)
	}
	t.ID = id
	t.Comm = string(b[open+1 : closing])
	// Fields after the comm, numbered from 3 (state).
	rest := b[closing+1:]
	field := 3
	for len(rest) > 0 && field <= 39 {
		rest = bytes.TrimLeft(rest, " ")
		end := bytes.IndexAny(rest, " \n")
		if end < 0 {
			end = len(rest)
		}
		tok := rest[:end]
		rest = rest[end:]
		if len(tok) == 0 {
			break
		}
		switch field {
		case 3:
			t.State = tok[0]
		case 4:
			t.PPID, err = strconv.Atoi(string(tok))
		case 9:
			t.Flags, err = strconv.ParseUint(string(tok), 10, 64)
		case 14:
			t.UTime, err = strconv.ParseUint(string(tok), 10, 64)
		case 15:
			t.STime, err = strconv.ParseUint(string(tok), 10, 64)
		case 20:
			t.Threads, err = strconv.Atoi(string(tok))
		case 39:
			t.Processor, err = strconv.Atoi(string(tok))
		}
		if err != nil {
			return t, fmt.Errorf("field %d: %w", field, err)
		}
		field++
	}
	if field <= 39 {
		return t, fmt.Errorf("%d fields, want at least 39", field-1)
	}
	return t, nil
}

// PIDs appends the process IDs listed in the root directory to dst. The
// directory stays open and is read again from its start each time.
func (r *Reader) PIDs(dst []int) ([]int, error) {
	if r.rootDir == nil {
		f, err := r.open(r.root, unix.O_DIRECTORY)
		if err != nil {
			return dst, err
		}
		r.rootDir = f
	}
	dst, err := r.readIDs(r.rootDir, dst)
	if err != nil {
		r.rootDir.Close()
		r.rootDir = nil
	}
	return dst, err
}

// TIDs appends the thread IDs of process pid (<root>/<pid>/task) to dst.
func (r *Reader) TIDs(pid int, dst []int) ([]int, error) {
	f, err := r.open(filepath.Join(r.root, strconv.Itoa(pid), "task"), unix.O_DIRECTORY)
	if err != nil {
		return dst, err
	}
	defer f.Close()
	return r.readIDs(f, dst)
}

// readIDs appends the numeric entry names of directory f, from its start.
func (r *Reader) readIDs(f *File, dst []int) ([]int, error) {
	if _, err := unix.Seek(f.fd, 0, io.SeekStart); err != nil {
		return dst, &fs.PathError{Op: "seek", Path: f.path, Err: err}
	}
	for {
		n, err := unix.Getdents(f.fd, r.dbuf)
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return dst, &fs.PathError{Op: "getdents", Path: f.path, Err: err}
		}
		if n <= 0 {
			return dst, nil
		}
		dst = appendDirentIDs(dst, r.dbuf[:n])
	}
}

// appendDirentIDs parses linux_dirent64 records (inode 8 bytes, offset 8,
// record length 2, type 1, then the NUL-terminated name) and appends the
// names that are decimal numbers.
func appendDirentIDs(dst []int, b []byte) []int {
	const nameOff = 19
	for len(b) >= nameOff {
		reclen := int(binary.NativeEndian.Uint16(b[16:18]))
		if reclen < nameOff || reclen > len(b) {
			break // malformed: stop rather than misread
		}
		name := b[nameOff:reclen]
		if i := bytes.IndexByte(name, 0); i >= 0 {
			name = name[:i]
		}
		if id, ok := atoi(name); ok {
			dst = append(dst, id)
		}
		b = b[reclen:]
	}
	return dst
}

// atoi parses a non-empty decimal number of at most 9 digits.
func atoi(b []byte) (int, bool) {
	if len(b) == 0 || len(b) > 9 {
		return 0, false
	}
	n := 0
	for _, c := range b {
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + int(c-'0')
	}
	return n, true
}

// NetNS returns the inode number identifying the network namespace of
// process pid, read from the <root>/<pid>/ns/net link ("net:[4026531840]").
// A pid of 0 or less means the reading process itself (<root>/self).
// Reading another user's process needs ptrace-read access (root does).
func (r *Reader) NetNS(pid int) (uint64, error) {
	p := "self"
	if pid > 0 {
		p = strconv.Itoa(pid)
	}
	path := filepath.Join(r.root, p, "ns", "net")
	link, err := os.Readlink(path)
	if err != nil {
		return 0, err
	}
	ino, err := parseNSLink(link)
	if err != nil {
		return 0, fmt.Errorf("procfs: %s: %w", path, err)
	}
	return ino, nil
}

func parseNSLink(link string) (uint64, error) {
	rest, ok := strings.CutPrefix(link, "net:[")
	if !ok || !strings.HasSuffix(rest, "]") {
		return 0, fmt.Errorf("unexpected namespace link %q", link)
	}
	ino, err := strconv.ParseUint(strings.TrimSuffix(rest, "]"), 10, 64)
	if err != nil {
		return 0, fmt.Errorf("unexpected namespace link %q: %w", link, err)
	}
	return ino, nil
}
