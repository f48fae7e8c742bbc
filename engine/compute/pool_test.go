package compute

import (
	"runtime"
	"sync/atomic"
	"testing"
	"time"
)

// TestParallelCoverage checks that every index is visited exactly once for
// many n, thread and chunk counts (chunks are claimed by whichever thread
// is free, so more chunks than threads), including nested calls.
func TestParallelCoverage(t *testing.T) {
	t.Parallel()
	for _, threads := range []int{1, 2, 3, 8} {
		p := NewPool(threads)
		for _, n := range []int{0, 1, 2, 3, 7, 64, 1000} {
			for _, chunks := range []int{threads, 4 * threads, n} {
				parallelCoverage(t, p, threads, n, chunks)
			}
		}
		p.Close()
	}
}

func parallelCoverage(t *testing.T, p *Pool, threads, n, chunks int) {
	t.Helper()
	hits := make([]atomic.Int32, n)
	p.parallel(n, chunks, func(lo, hi int) {
		if lo >= hi {
			t.Errorf("threads=%d n=%d: empty chunk [%d, %d)", threads, n, lo, hi)
		}
		for i := lo; i < hi; i++ {
			// Nested: each index runs a small inner Parallel.
			var inner atomic.Int32
			p.Parallel(3, func(lo, hi int) { inner.Add(int32(hi - lo)) })
			if got := inner.Load(); got != 3 {
				t.Errorf("nested Parallel(3) covered %d, want 3", got)
			}
			hits[i].Add(1)
		}
	})
	for i := range hits {
		if got := hits[i].Load(); got != 1 {
			t.Fatalf("threads=%d n=%d chunks=%d: index %d visited %d times, want 1", threads, n, chunks, i, got)
		}
	}
}

// TestPoolClose checks that a closed pool still completes calls, on the
// calling goroutine, and that Close is idempotent.
func TestPoolClose(t *testing.T) {
	before := runtime.NumGoroutine()
	p := NewPool(4)
	if got := runtime.NumGoroutine(); got < before+3 {
		t.Errorf("NewPool(4) started %d goroutines, want 3 workers", got-before)
	}
	p.Close()
	p.Close()
	// The workers have returned; wait (bounded) for them to be gone.
	for deadline := time.Now().Add(5 * time.Second); runtime.NumGoroutine() > before; {
		if time.Now().After(deadline) {
			t.Fatalf("after Close: %d goroutines, want %d (worker leak)", runtime.NumGoroutine(), before)
		}
		runtime.Gosched()
	}
	var sum atomic.Int64
	p.Parallel(100, func(lo, hi int) {
		for i := lo; i < hi; i++ {
			sum.Add(int64(i))
		}
	})
	if got, want := sum.Load(), int64(99*100/2); got != want {
		t.Errorf("Parallel after Close: sum = %d, want %d", got, want)
	}
}

// TestSetThreads checks that SetThreads resizes the default pool.
func TestSetThreads(t *testing.T) {
	old := Threads()
	t.Cleanup(func() { SetThreads(old) })
	SetThreads(3)
	if got := Threads(); got != 3 {
		t.Errorf("after SetThreads(3): Threads() = %d, want 3", got)
	}
	var n atomic.Int32
	Parallel(10, func(lo, hi int) { n.Add(int32(hi - lo)) })
	if n.Load() != 10 {
		t.Errorf("Parallel(10) covered %d, want 10", n.Load())
	}
}
