package inline

import (
	"fmt"
	"sync"
	"time"

	"github.com/wgbench/wgbench/probes/procfs"
)

// The board only sees the load of hybrid tunnels of this process. A core
// may be busy with anything else: an inline tunnel, another process (the
// peer gateway's engine, iperf3), or softirq work. sysMeter reads how busy
// every core is, whoever keeps it busy, from /proc/stat, so that a hybrid
// tunnel borrows only cores that really idle and gives a lent core back
// when something else needs it.
//
// /proc/stat counts in USER_HZ ticks (10 ms), and the idle time behind it
// is exact on tickless kernels, so the meter takes a snapshot at most once
// a window and measures over the last sysSpan windows (100 ms, ten ticks a
// core): a share resolved to about 0.1, enough to tell an idle core (under
// hybridIdleLoad) from one that is needed (hybridNeedLoad).
const (
	sysSpan    = 5               // windows measured over
	sysMaxSpan = 2 * sysSpan     // windows after which a snapshot is dropped
	sysMinSpan = hybridUpWindows // windows needed before the meter reports
)

// sysLoadFunc returns how busy cpu was over the windows before now, as a
// share of the core, and when that span began; ok is false when it is not
// known (no /proc/stat, too few snapshots yet).
type sysLoadFunc func(cpu int, now time.Time) (busy float64, since time.Time, ok bool)

// sysSnap is one /proc/stat snapshot: per core (by number), the ticks
// spent in any state and the ticks spent idle.
type sysSnap struct {
	at          time.Time
	total, idle []uint64
}

// sysMeter is the process-wide reader of /proc/stat; every hybrid tunnel
// shares its snapshots.
type sysMeter struct {
	mu    sync.Mutex
	r     *procfs.Reader
	off   bool      // /proc/stat could not be read: report nothing
	snaps []sysSnap // oldest first, each at least a window after the last
	buf   []procfs.CPUTimes
}

// sysLoad is the meter hybrid tunnels use.
var sysLoad = &sysMeter{r: procfs.New("")}

// check reads /proc/stat once and says why the meter cannot work, if it
// cannot (the meter then reports nothing, and the board alone counts).
func (m *sysMeter) check() error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if _, err := m.r.CPUStat(nil); err != nil {
		return fmt.Errorf("read per-core CPU times: %w", err)
	}
	return nil
}

// busy is a sysLoadFunc: it takes a snapshot when the latest is a window
// old, and measures cpu since the newest snapshot at least sysSpan
// windows old, else since the oldest one at least sysMinSpan windows old.
func (m *sysMeter) busy(cpu int, now time.Time) (float64, time.Time, bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.off {
		return 0, time.Time{}, false
	}
	if n := len(m.snaps); n == 0 || now.Sub(m.snaps[n-1].at) >= hybridWindow {
		if !m.snapshot(now) {
			return 0, time.Time{}, false
		}
	}
	last := m.snaps[len(m.snaps)-1]
	from := -1
	for i := len(m.snaps) - 2; i >= 0; i-- {
		age := last.at.Sub(m.snaps[i].at)
		if age >= sysMinSpan*hybridWindow {
			from = i
		}
		if age >= sysSpan*hybridWindow {
			break
		}
	}
	if from < 0 {
		return 0, time.Time{}, false
	}
	s := m.snaps[from]
	if cpu < 0 || cpu >= len(s.total) || cpu >= len(last.total) ||
		last.total[cpu] <= s.total[cpu] || last.idle[cpu] < s.idle[cpu] {
		return 0, time.Time{}, false // unknown core, or the counters went back
	}
	dt := last.total[cpu] - s.total[cpu]
	di := min(last.idle[cpu]-s.idle[cpu], dt)
	return 1 - float64(di)/float64(dt), s.at, true
}

// snapshot reads /proc/stat into a new snapshot at now, dropping those
// older than sysMaxSpan windows; false (and the meter off for good) when
// the file cannot be read or parsed.
func (m *sysMeter) snapshot(now time.Time) bool {
	var err error
	m.buf, err = m.r.CPUStat(m.buf[:0])
	if err != nil {
		m.off = true
		return false
	}
	n := 0
	for _, c := range m.buf {
		n = max(n, c.CPU+1)
	}
	s := sysSnap{at: now, total: make([]uint64, n), idle: make([]uint64, n)}
	for _, c := range m.buf {
		s.total[c.CPU], s.idle[c.CPU] = c.Total(), c.Idle+c.IOWait
	}
	keep := m.snaps[:0]
	for _, o := range m.snaps {
		if now.Sub(o.at) <= sysMaxSpan*hybridWindow {
			keep = append(keep, o)
		}
	}
	m.snaps = append(keep, s)
	return true
}
