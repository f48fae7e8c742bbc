package compute

import (
	"runtime"
	"sync"
	"sync/atomic"
	"time"
)

// Pool is a fixed set of worker goroutines, started once, that run the
// chunks of Parallel and Sgemm calls. A call queues one task per other
// thread and claims chunks itself until none is left; while it waits for
// the chunks others took, it helps with queued tasks, so calls may be
// nested and made from many goroutines at once without deadlock. The zero value is not
// usable; create one with NewPool.
type Pool struct {
	threads int
	sharedA int  // bound on floats of shared packed A (sharedAFloats)
	amx     bool // SgemmBF16BF16 may run on AMX tiles (haveAMX)
	// busy counts goroutines inside parallel calls or running tasks; a
	// call that would make it exceed threads (a call nested in a chunk
	// while every thread is occupied) runs inline instead of queueing.
	busy    atomic.Int32
	tasks   chan task
	quit    chan struct{}
	workers sync.WaitGroup
	once    sync.Once

	bufMu sync.Mutex
	bufs  []*gemmBuf // free packing buffers, reused across calls
}

// spinFor is how long a thread polls for work before it parks: the
// chunks of one product and the next product of a model step usually come
// within microseconds, and a parked thread takes tens of them to wake.
// Between polls it yields (runtime.Gosched), so that other goroutines
// waiting for a P (the engine, HTTP handlers, the GC) are not held up:
// without that, 8 prompts' time to first token was 10% longer.
const spinFor = 50 * time.Microsecond

// task asks a thread to help with the chunks of one Parallel call.
type task struct{ g *group }

// group is one Parallel call: fn over [0, n) in t chunks, which the
// caller and the threads that pick up its tasks claim one at a time, so
// a call of many chunks costs one queued task per helping thread, not
// one per chunk.
type group struct {
	fn      func(lo, hi int)
	n, t    int
	next    atomic.Int64 // next chunk to claim
	pending atomic.Int64 // chunks not yet finished
	done    chan struct{}
}

func (t task) run() { t.g.run() }

// run claims and runs chunks of g until none is left.
func (g *group) run() {
	for {
		i := int(g.next.Add(1) - 1)
		if i >= g.t {
			return
		}
		g.fn(i*g.n/g.t, (i+1)*g.n/g.t)
		if g.pending.Add(-1) == 0 {
			close(g.done)
		}
	}
}

// NewPool starts a pool that uses threads threads (threads-1 workers plus
// the calling goroutine); threads <= 0 means GOMAXPROCS. Close stops it.
func NewPool(threads int) *Pool {
	if threads <= 0 {
		threads = runtime.GOMAXPROCS(0)
	}
	p := &Pool{
		threads: threads,
		sharedA: sharedAFloats,
		amx:     haveAMX,
		tasks:   make(chan task, 64*threads),
		quit:    make(chan struct{}),
	}
	for range threads - 1 {
		p.workers.Add(1)
		go p.work()
	}
	return p
}

func (p *Pool) work() {
	defer p.workers.Done()
	for {
		// Spin briefly for the next chunk before parking (see spinFor).
		for start := time.Now(); time.Since(start) < spinFor; {
			select {
			case t := <-p.tasks:
				p.busy.Add(1)
				t.run()
				p.busy.Add(-1)
				start = time.Now()
			default:
				runtime.Gosched() // let other goroutines have this P
			}
		}
		select {
		case t := <-p.tasks:
			p.busy.Add(1)
			t.run()
			p.busy.Add(-1)
		case <-p.quit:
			return
		}
	}
}

// Threads reports the number of threads p splits work over.
func (p *Pool) Threads() int { return p.threads }

// Close stops p's workers and waits for them to exit. Calls still running
// on p complete (their callers run the remaining chunks themselves); later
// calls run on the calling goroutine alone.
func (p *Pool) Close() {
	p.once.Do(func() { close(p.quit) })
	p.workers.Wait()
}

// Parallel runs fn over [0, n) split into at most tasksPerThread·Threads
// contiguous chunks and returns when all are done. See the package-level
// Parallel.
func (p *Pool) Parallel(n int, fn func(lo, hi int)) {
	p.parallel(n, tasksPerThread*p.threads, fn)
}

// parallel splits [0, n) into min(t, n) chunks.
func (p *Pool) parallel(n, t int, fn func(lo, hi int)) {
	if n <= 0 {
		return
	}
	t = min(t, n)
	if t <= 1 || p.closed() {
		fn(0, n)
		return
	}
	if p.busy.Add(1) > int32(p.threads) {
		// Every thread is already working (this is a call nested inside a
		// chunk): splitting would only add queueing overhead.
		p.busy.Add(-1)
		fn(0, n)
		return
	}
	defer p.busy.Add(-1)
	g := &group{fn: fn, n: n, t: t, done: make(chan struct{})}
	g.pending.Store(int64(t))
	for range min(t, p.threads) - 1 {
		select {
		case p.tasks <- task{g}:
		default: // queue full: the caller runs the chunks
		}
	}
	g.run()
	// Spin briefly before parking (see spinFor).
	for start := time.Now(); time.Since(start) < spinFor; {
		if g.pending.Load() == 0 {
			return
		}
		select {
		case tk := <-p.tasks:
			tk.run()
			start = time.Now()
		default:
			runtime.Gosched()
		}
	}
	for {
		select {
		case <-g.done:
			return
		case tk := <-p.tasks:
			tk.run() // help: it may be ours, or a nested or concurrent call's
		}
	}
}

func (p *Pool) closed() bool {
	select {
	case <-p.quit:
		return true
	default:
		return false
	}
}

// getBuf takes a packing buffer from the free list (or makes one).
func (p *Pool) getBuf() *gemmBuf {
	p.bufMu.Lock()
	defer p.bufMu.Unlock()
	if n := len(p.bufs); n > 0 {
		b := p.bufs[n-1]
		p.bufs = p.bufs[:n-1]
		return b
	}
	return new(gemmBuf)
}

// putBuf returns a buffer to the free list.
func (p *Pool) putBuf(b *gemmBuf) {
	p.bufMu.Lock()
	defer p.bufMu.Unlock()
	p.bufs = append(p.bufs, b)
}
