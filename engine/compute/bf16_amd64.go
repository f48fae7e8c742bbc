//go:build amd64 && !purego

package compute

//go:noescape
func sdotBF16AVX(x *float32, w *uint16, n int) float32

//go:noescape
func widenBF16AVX(dst *float32, src *uint16, n int)

// sdotBF16 returns Σ x[i]·float32(w[i]); len(w) ≥ len(x).
func sdotBF16(x []float32, w []uint16) float32 {
	w = w[:len(x)] // the assembly reads len(x) elements of w
	n8 := len(x) &^ 7
	if !haveFMA || n8 == 0 {
		return sdotBF16Go(x, w)
	}
	return sdotBF16AVX(&x[0], &w[0], n8) + sdotBF16Go(x[n8:], w[n8:])
}

// widenBF16 sets dst[i] = float32(src[i]); len(dst) ≥ len(src).
func widenBF16(dst []float32, src []uint16) {
	dst = dst[:len(src)] // the assembly writes len(src) elements of dst
	n32 := len(src) &^ 31
	if !haveFMA || n32 == 0 {
		widenBF16Go(dst, src)
		return
	}
	widenBF16AVX(&dst[0], &src[0], n32)
	widenBF16Go(dst[n32:], src[n32:])
}
