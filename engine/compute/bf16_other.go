//go:build !amd64 || purego

package compute

// sdotBF16 returns Σ x[i]·float32(w[i]); len(w) ≥ len(x).
func sdotBF16(x []float32, w []uint16) float32 { return sdotBF16Go(x, w) }

// widenBF16 sets dst[i] = float32(src[i]); len(dst) ≥ len(src).
func widenBF16(dst []float32, src []uint16) { widenBF16Go(dst, src) }
