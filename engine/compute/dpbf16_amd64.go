//go:build amd64 && !purego

package compute

import "golang.org/x/sys/cpu"

//go:generate go run gen_dpbf16.go

// haveDPBF16 reports whether the AVX512-BF16 kernels can run on this CPU
// (VDPBF16PS and VCVTNEPS2BF16, with the AVX-512 state enabled by the OS).
var haveDPBF16 = cpu.X86.HasAVX512 && cpu.X86.HasAVX512BW && cpu.X86.HasAVX512BF16

// Tile of the dot-product kernel: rows of X by rows of W.
const (
	dotRows = 4
	dotCols = 6
)

//go:noescape
func dpbf16Tiles(strips, groups, k32 int, a *uint16, lda int, w *uint16, ldw int, out *float32, ldo int, tail uint32, pf *uint16, pfBytes, pfStrip int, pfL1 bool)

//go:noescape
func cvtBF16(dst *uint16, src *float32, n int)

//go:noescape
func dpbf16Loop(n int)

// peakLoopBF16 runs the probe of SgemmBF16BF16's arithmetic for n
// iterations and returns the FLOP done (each product and each sum
// counted, as for FMAs): the AMX kernel where it runs, else VDPBF16PS;
// without AVX512-BF16 it is the FMA probe, which SgemmBF16BF16 then runs
// on.
func peakLoopBF16(n int) float64 {
	if haveAMX {
		return peakLoopAMX(n)
	}
	if !haveDPBF16 {
		return peakLoop(n)
	}
	dpbf16Loop(n)
	return float64(n) * 12 * 32 * 2
}

// dotKernel computes groups·dotRows×(strips·dotCols) results into out
// (row stride ldo) from the padded bfloat16 rows a (stride lda) and
// strips·dotCols rows of w (stride ldw, k elements each), prefetching each
// next tile of W as it goes and, during the last, next (the tile after
// them, which may be empty).
func dotKernel(strips, groups, k32 int, a []uint16, lda int, w []uint16, ldw, k int, out []float32, ldo int, mask uint32, next []uint16) {
	_ = a[(groups*dotRows-1)*lda+lda-1]
	_ = w[(strips*dotCols-1)*ldw+k-1]
	_ = out[(groups*dotRows-1)*ldo+strips*dotCols-1]
	pf := &w[0]
	if len(next) > 0 {
		pf = &next[0]
	}
	tile := 2 * ((dotCols-1)*ldw + k) // bytes of one tile of W
	dpbf16Tiles(strips, groups, k32, &a[0], lda, &w[0], ldw, &out[0], ldo, mask, pf, 2*len(next), tile, tile <= prefetchL1Bytes)
}

// roundRow sets dst[i] to the bfloat16 bits nearest src[i] (with
// VCVTNEPS2BF16 where the CPU has it).
func roundRow(dst []uint16, src []float32) {
	dst = dst[:len(src)]
	n16 := len(src) &^ 15
	if !haveDPBF16 {
		n16 = 0
	}
	if n16 > 0 {
		cvtBF16(&dst[0], &src[0], n16)
	}
	for i := n16; i < len(src); i++ {
		dst[i] = toBF16(src[i])
	}
}

//go:noescape
func dpbf16Dots1(s *float32, alpha float32, a *uint16, lda int, x *uint16, n16 int)

//go:noescape
func dpbf16Dots2(s *float32, alpha float32, a *uint16, lda int, x *uint16, n16 int)

//go:noescape
func dpbf16Dots3(s *float32, alpha float32, a *uint16, lda int, x *uint16, n16 int)

//go:noescape
func dpbf16Dots4(s *float32, alpha float32, a *uint16, lda int, x *uint16, n16 int)

//go:noescape
func dpbf16Pairs1(y *float32, a *uint16, lda int, x *uint16, n2 int)

//go:noescape
func dpbf16Pairs2(y *float32, a *uint16, lda int, x *uint16, n2 int)

//go:noescape
func dpbf16Pairs3(y *float32, a *uint16, lda int, x *uint16, n2 int)

//go:noescape
func dpbf16Pairs4(y *float32, a *uint16, lda int, x *uint16, n2 int)

var (
	dotsKernels  = [...]func(s *float32, alpha float32, a *uint16, lda int, x *uint16, n16 int){dpbf16Dots1, dpbf16Dots2, dpbf16Dots3, dpbf16Dots4}
	pairsKernels = [...]func(y *float32, a *uint16, lda int, x *uint16, n2 int){dpbf16Pairs1, dpbf16Pairs2, dpbf16Pairs3, dpbf16Pairs4}
)

// gemvBF16BF16 runs GemvBF16BF16's rows 16 at a time on VDPBF16PS (a
// width of 32 to 128, a multiple of 32) and reports how many rows it did.
func gemvBF16BF16(y []float32, alpha float32, a []uint16, lda int, x []uint16) int {
	d32 := len(x) / 32
	n16 := len(y) / 16
	if !haveDPBF16 || len(x)%32 != 0 || d32 < 1 || d32 > 4 || n16 == 0 {
		return 0
	}
	_ = a[(16*n16-1)*lda+len(x)-1]
	dotsKernels[d32-1](&y[0], alpha, &a[0], lda, &x[0], n16)
	return 16 * n16
}

// gemvTBF16BF16 runs GemvTBF16BF16's rows two at a time on VDPBF16PS (a
// width of 32 to 128, a multiple of 32) and reports how many rows it did.
func gemvTBF16BF16(y []float32, a []uint16, lda int, x []uint16) int {
	d32 := len(y) / 32
	n2 := len(x) / 2
	if !haveDPBF16 || len(y)%32 != 0 || d32 < 1 || d32 > 4 || n2 == 0 {
		return 0
	}
	_ = a[(2*n2-1)*lda+len(y)-1]
	pairsKernels[d32-1](&y[0], &a[0], lda, &x[0], n2)
	return 2 * n2
}
