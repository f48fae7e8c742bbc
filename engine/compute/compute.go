// Package compute holds the engine's CPU kernels: single-precision GEMM and a
// persistent worker pool that spreads work over all cores.
//
// All matrices are row-major float32 slices with a leading dimension (the
// distance in elements between rows).
package compute

// Sgemm computes C = alpha*op(A)*op(B) + beta*C where op(X) is X or Xᵀ.
//
//	op(A): (m, k)   A is (m, k) with lda ≥ k, or (k, m) with lda ≥ m when transA
//	op(B): (k, n)   B is (k, n) with ldb ≥ n, or (n, k) with ldb ≥ k when transB
//	C:     (m, n)   ldc ≥ n
//
// When beta is 0, C is overwritten and need not be initialised (NaNs in C do
// not propagate).
func Sgemm(transA, transB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) {
	sgemmRef(transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
}

// sgemmRef is the plain reference implementation the fast paths are tested
// against.
func sgemmRef(transA, transB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) {
	for i := 0; i < m; i++ {
		for j := 0; j < n; j++ {
			var s float32
			for p := 0; p < k; p++ {
				var av, bv float32
				if transA {
					av = a[p*lda+i]
				} else {
					av = a[i*lda+p]
				}
				if transB {
					bv = b[j*ldb+p]
				} else {
					bv = b[p*ldb+j]
				}
				s += av * bv
			}
			if beta == 0 {
				c[i*ldc+j] = alpha * s
			} else {
				c[i*ldc+j] = alpha*s + beta*c[i*ldc+j]
			}
		}
	}
}

// Parallel runs fn over [0, n) split into contiguous chunks, one per worker,
// and returns when all are done. fn must be safe to call concurrently on
// disjoint ranges.
func Parallel(n int, fn func(lo, hi int)) {
	if n <= 0 {
		return
	}
	fn(0, n)
}
