package compute

// kernelGo is the portable micro-kernel: it computes the mr×nr tile
// acc = A·B over depth k, where A element (i, p) is a[i*rsa+p*csa] and B
// element (p, j) is b[p*rsb+j], and merges alpha*acc into C per mode.
//
// It works in 2×4 sub-tiles so the eight accumulators stay in registers.
func kernelGo(k int, a []float32, rsa, csa int, b []float32, rsb int, c []float32, ldc int, alpha, beta float32, mode int) {
	_ = a[(mr-1)*rsa+(k-1)*csa]
	_ = b[(k-1)*rsb+nr-1]
	for i := 0; i < mr; i += 2 {
		for j := 0; j < nr; j += 4 {
			var c00, c01, c02, c03, c10, c11, c12, c13 float32
			ai, bj := i*rsa, j
			for range k {
				a0, a1 := a[ai], a[ai+rsa]
				bp := b[bj : bj+4 : bj+4]
				b0, b1, b2, b3 := bp[0], bp[1], bp[2], bp[3]
				c00 += a0 * b0
				c01 += a0 * b1
				c02 += a0 * b2
				c03 += a0 * b3
				c10 += a1 * b0
				c11 += a1 * b1
				c12 += a1 * b2
				c13 += a1 * b3
				ai += csa
				bj += rsb
			}
			r0 := c[i*ldc+j : i*ldc+j+4 : i*ldc+j+4]
			r1 := c[(i+1)*ldc+j : (i+1)*ldc+j+4 : (i+1)*ldc+j+4]
			mergeGo(r0, c00, c01, c02, c03, alpha, beta, mode)
			mergeGo(r1, c10, c11, c12, c13, alpha, beta, mode)
		}
	}
}

// mergeGo merges four accumulators into r per mode.
func mergeGo(r []float32, x0, x1, x2, x3, alpha, beta float32, mode int) {
	r = r[:4]
	switch mode {
	case betaZero:
		r[0], r[1], r[2], r[3] = alpha*x0, alpha*x1, alpha*x2, alpha*x3
	case betaOne:
		r[0] += alpha * x0
		r[1] += alpha * x1
		r[2] += alpha * x2
		r[3] += alpha * x3
	default:
		r[0] = alpha*x0 + beta*r[0]
		r[1] = alpha*x1 + beta*r[1]
		r[2] = alpha*x2 + beta*r[2]
		r[3] = alpha*x3 + beta*r[3]
	}
}

// kernelsGo runs kernelGo on tiles tiles down a column of C: tile t uses the
// A panel at a[t*pa:] and the C rows from t*mr.
func kernelsGo(tiles, k int, a []float32, rsa, csa, pa int, b []float32, rsb int, c []float32, ldc int, alpha, beta float32, mode int) {
	for t := range tiles {
		kernelGo(k, a[t*pa:], rsa, csa, b, rsb, c[t*mr*ldc:], ldc, alpha, beta, mode)
	}
}
