// Package compute holds the engine's CPU kernels: single-precision GEMM
// (an AVX2/FMA Go-assembly 6×16 micro-kernel under a BLIS-style blocked
// driver, with a pure-Go fallback), a few vector helpers, and a persistent
// worker pool that spreads work over all cores.
//
// All matrices are row-major float32 slices with a leading dimension (the
// distance in elements between rows). The API:
//
//   - [Sgemm]: C = alpha·op(A)·op(B) + beta·C, all four transpose variants,
//     parallel over the pool, safe for concurrent callers.
//   - [Parallel]: run fn over [0, n) in one chunk per thread.
//   - [Sdot], [Sum], [Saxpy], [Scale]: vectorised level-1 helpers.
//   - [SetThreads], [Threads]: size of the default pool.
//   - [Pool], [NewPool]: an explicit pool; NewPool(1) runs everything on the
//     calling goroutine, for callers that parallelise at a higher level.
//   - [PeakGFLOPS]: this machine's FMA ceiling, for reporting efficiency.
//
// The package-level functions use a process-wide default [Pool] sized to
// GOMAXPROCS, created on first use.
//
// The assembly is used when the CPU has AVX2 and FMA (checked once at start
// with golang.org/x/sys/cpu); the build tag purego forces the portable Go
// code everywhere, and other architectures always use it.
//
// Results are not bit-for-bit those of a sequential loop: sums are blocked
// and accumulated with FMA. The order of each sum depends only on the shape,
// so results are bit-identical across calls and thread counts (on one kind
// of CPU: the assembly and the Go fallback round differently).
package compute

import (
	"runtime"
	"sync"
	"sync/atomic"
)

// defaultPool is the process-wide pool behind the package-level functions.
// It is created on first use; SetThreads replaces it. Like the Go runtime's
// own scheduler it is a process resource, not configuration state.
var (
	defaultPool   atomic.Pointer[Pool]
	defaultPoolMu sync.Mutex
)

func getDefault() *Pool {
	if p := defaultPool.Load(); p != nil {
		return p
	}
	defaultPoolMu.Lock()
	defer defaultPoolMu.Unlock()
	if p := defaultPool.Load(); p != nil {
		return p
	}
	p := NewPool(runtime.GOMAXPROCS(0))
	defaultPool.Store(p)
	return p
}

// SetThreads sets the number of threads the package-level functions use
// (n <= 0 means GOMAXPROCS). Calls already running finish on the old pool.
func SetThreads(n int) {
	if n <= 0 {
		n = runtime.GOMAXPROCS(0)
	}
	defaultPoolMu.Lock()
	defer defaultPoolMu.Unlock()
	old := defaultPool.Load()
	if old != nil && old.Threads() == n {
		return
	}
	defaultPool.Store(NewPool(n))
	if old != nil {
		old.Close()
	}
}

// Threads reports the number of threads the package-level functions use.
func Threads() int { return getDefault().Threads() }

// Sgemm computes C = alpha*op(A)*op(B) + beta*C where op(X) is X or Xᵀ.
//
//	op(A): (m, k)   A is (m, k) with lda ≥ k, or (k, m) with lda ≥ m when transA
//	op(B): (k, n)   B is (k, n) with ldb ≥ n, or (n, k) with ldb ≥ k when transB
//	C:     (m, n)   ldc ≥ n
//
// When beta is 0, C is overwritten and need not be initialised (NaNs in C do
// not propagate). C must not overlap A or B. It is safe to call Sgemm from many goroutines at once, on
// disjoint C. It panics when a dimension is negative, a leading dimension is
// too small or a slice is too short for the shape (programming errors, as in
// BLAS).
func Sgemm(transA, transB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) {
	getDefault().Sgemm(transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
}

// Parallel runs fn over [0, n) split into contiguous chunks, a few per
// thread (claimed by whichever thread is free, so one slowed by the
// machine holds the others up less), and returns when all are done. fn must be safe to call concurrently on
// disjoint ranges. Parallel may be nested (fn may call Parallel or Sgemm).
func Parallel(n int, fn func(lo, hi int)) {
	getDefault().Parallel(n, fn)
}
