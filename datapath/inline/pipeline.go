package inline

import (
	"sync"
	"sync/atomic"
)

// job is a batch waiting on a hybrid tunnel's job queue for a thread to
// seal or open it: a helper, or the data thread that queued it (which
// takes jobs back while it waits, so no batch waits on a helper that
// stopped).
type job interface{ run() }

// Slot states of a pipeline.
const (
	slotFree   = iota // owned by the data thread (reading, or idle)
	slotQueued        // on the job queue or being worked on
	slotDone          // worked on, waiting for its turn to commit
)

// pipeline is one data thread's batches in flight in hybrid mode, as
// wireguard-go orders them: the data thread reads a batch into a free
// slot, does what must be done in order (nonces, replay-free checks come
// later) and submits it with the next sequence number; any thread then
// does the batch's work (seal or open) in parallel; and each batch is
// committed (sent, or checked and written to the TUN) strictly in
// sequence order, by whichever thread finishes the batch next in line.
type pipeline[T any] struct {
	slots  []*pipeSlot[T]
	order  []atomic.Pointer[pipeSlot[T]] // slot of sequence n at n % len
	free   chan *pipeSlot[T]
	jobs   chan job
	done   <-chan struct{}
	work   func(*T) // parallel
	commit func(*T) // in sequence order, one at a time
	mu     sync.Mutex
	next   atomic.Uint64 // sequence of the next batch to commit
	seq    uint64        // owner only: sequence of the next batch to submit
}

// pipeSlot is one batch of a pipeline.
type pipeSlot[T any] struct {
	p     *pipeline[T]
	state atomic.Uint32
	seq   atomic.Uint64
	val   T
}

// newPipeline makes a pipeline of k slots made by mk, feeding jobs.
func newPipeline[T any](k int, mk func() T, jobs chan job, done <-chan struct{}, work, commit func(*T)) *pipeline[T] {
	p := &pipeline[T]{
		order: make([]atomic.Pointer[pipeSlot[T]], k), free: make(chan *pipeSlot[T], k),
		jobs: jobs, done: done, work: work, commit: commit,
	}
	for range k {
		s := &pipeSlot[T]{p: p, val: mk()}
		p.slots = append(p.slots, s)
		p.free <- s
	}
	return p
}

// acquire returns a free slot, doing queued jobs while none is; nil when
// the tunnel closed.
func (p *pipeline[T]) acquire() *pipeSlot[T] {
	select {
	case s := <-p.free:
		return s
	default:
	}
	for {
		select {
		case s := <-p.free:
			return s
		case j := <-p.jobs:
			j.run()
		case <-p.done:
			return nil
		}
	}
}

// release returns a slot that carries nothing to commit.
func (p *pipeline[T]) release(s *pipeSlot[T]) { p.free <- s }

// submit queues s's batch with the next sequence number. The job queue
// holds every slot of every pipeline of the tunnel, so it never blocks.
func (p *pipeline[T]) submit(s *pipeSlot[T]) {
	n := p.seq
	p.seq++
	s.seq.Store(n)
	p.order[n%uint64(len(p.order))].Store(s)
	s.state.Store(slotQueued)
	p.jobs <- s
}

// drain waits until every submitted batch is committed, doing queued jobs
// meanwhile; false when the tunnel closed first.
func (p *pipeline[T]) drain() bool {
	held := make([]*pipeSlot[T], 0, len(p.slots))
	defer func() {
		for _, s := range held {
			p.free <- s
		}
	}()
	for len(held) < len(p.slots) {
		s := p.acquire()
		if s == nil {
			return false
		}
		held = append(held, s)
	}
	return true
}

// idle reports whether no batch is in flight (owner only).
func (p *pipeline[T]) idle() bool { return len(p.free) == len(p.slots) }

// run does the slot's work and commits what is next in line.
func (s *pipeSlot[T]) run() {
	p := s.p
	p.work(&s.val)
	s.state.Store(slotDone)
	p.commitReady()
}

// commitReady commits batches in sequence order while the next one is
// done. A thread that finds another committing leaves it the work: that
// one looks again after unlocking, so no done batch is left behind.
func (p *pipeline[T]) commitReady() {
	for p.ready() {
		if !p.mu.TryLock() {
			return
		}
		for p.ready() {
			n := p.next.Load()
			s := p.order[n%uint64(len(p.order))].Load()
			p.commit(&s.val)
			s.state.Store(slotFree)
			p.next.Store(n + 1)
			p.free <- s
		}
		p.mu.Unlock()
	}
}

// ready reports whether the batch next in line is done.
func (p *pipeline[T]) ready() bool {
	n := p.next.Load()
	s := p.order[n%uint64(len(p.order))].Load()
	return s != nil && s.state.Load() == slotDone && s.seq.Load() == n
}

// hybridSide is one data thread's hybrid machinery (the TX thread's or an
// RX thread's): its pipeline, made the first time the tunnel goes hybrid.
type hybridSide[T any] struct {
	t            *Tunnel
	slots        int
	mk           func() T
	work, commit func(*T)
	pipe         *pipeline[T]
}

// slot returns the slot to read the next batch into while the tunnel is
// hybrid, and nil (read into the thread's own state) while it is inline,
// after the batches still in flight were committed. ok is false when the
// tunnel closed.
func (x *hybridSide[T]) slot() (s *pipeSlot[T], ok bool) {
	t := x.t
	if !t.hyb.hybrid() {
		if x.pipe != nil && !x.pipe.idle() && !x.pipe.drain() {
			return nil, false
		}
		return nil, true
	}
	if x.pipe == nil {
		x.pipe = newPipeline(x.slots, x.mk, t.hyb.jobs, t.done, x.work, x.commit)
	}
	if s = x.pipe.acquire(); s == nil {
		return nil, false
	}
	return s, true
}

// next returns the state to read the next batch into: own (and no slot)
// while the tunnel is inline, or a nil x's, else the slot's. ok is false
// when the tunnel closed.
func (x *hybridSide[T]) next(own *T) (st *T, slot *pipeSlot[T], ok bool) {
	if x == nil {
		return own, nil, true
	}
	if slot, ok = x.slot(); !ok || slot == nil {
		return own, nil, ok
	}
	return &slot.val, slot, true
}

// submit queues s for its work and commit when ok, and gives it back at
// once otherwise (nothing to do).
func (x *hybridSide[T]) submit(s *pipeSlot[T], ok bool) {
	if ok {
		x.pipe.submit(s)
		return
	}
	x.pipe.release(s)
}
