//go:build amd64 && !purego

package compute

import (
	"os"

	"golang.org/x/sys/cpu"
)

// haveFMA reports whether the AVX2/FMA assembly can run on this CPU. It is
// fixed at start-up.
var haveFMA = cpu.X86.HasAVX2 && cpu.X86.HasFMA

// haveZMM reports whether the AVX-512 micro-kernel (kern6x16Z) runs in
// place of kern6x16: AVX-512F with the zmm state enabled by the OS.
// STRATA_AVX512=off keeps the AVX2 kernel.
var haveZMM = haveFMA && cpu.X86.HasAVX512F && os.Getenv("STRATA_AVX512") != "off"

// kern6x16 is the AVX2/FMA micro-kernel: the contract of kernelsGo, with
// unchecked pointers and element strides.
//
//go:noescape
func kern6x16(tiles, k int, a *float32, rsa, csa, pa int, b *float32, rsb int, c *float32, ldc int, alpha, beta float32, mode int, pf *float32, pfBytes int, pfL1 bool)

// kern6x16Z is kern6x16 on AVX-512: a row of the tile in one zmm, k steps
// alternating between two sets of accumulators.
//
//go:noescape
func kern6x16Z(tiles, k int, a *float32, rsa, csa, pa int, b *float32, rsb int, c *float32, ldc int, alpha, beta float32, mode int, pf *float32, pfBytes int, pfL1 bool)

// fmaLoopZ runs n iterations of 12 independent zmm FMAs (384 FLOP each).
//
//go:noescape
func fmaLoopZ(n int)

// transpose8 transposes blocks 8×8 blocks; see transposeBlocks.
//
//go:noescape
func transpose8(blocks int, src *float32, lds int, dst *float32, ldd int)

// packA6 packs 6 rows of 8·blocks columns; see packA6Blocks.
//
//go:noescape
func packA6(blocks int, src *float32, lda int, dst *float32)

// packB16 deals rows of B out to panels; see packB16Rows.
//
//go:noescape
func packB16(rows, panels int, src *float32, lds int, dst *float32, kb int)

// fmaLoop runs n iterations of 12 independent ymm FMAs (192 FLOP each).
//
//go:noescape
func fmaLoop(n int)

// kernels runs the micro-kernel down a column of tiles; see kernelsGo for
// the contract. k and tiles must be ≥ 1.
func kernels(tiles, k int, a []float32, rsa, csa, pa int, b []float32, rsb int, c []float32, ldc int, alpha, beta float32, mode int) {
	kernelsPF(tiles, k, a, rsa, csa, pa, b, rsb, c, ldc, alpha, beta, mode, nil, false)
}

// kernelsPF is kernels that also prefetches pf as it goes, a cache line
// every four k steps, into L1 if pfL1 else into L2: a share of the next
// weight strip while this one is multiplied, when A is a weight matrix
// streamed from memory (see prefetchL1Bytes).
func kernelsPF(tiles, k int, a []float32, rsa, csa, pa int, b []float32, rsb int, c []float32, ldc int, alpha, beta float32, mode int, pf []float32, pfL1 bool) {
	if !haveFMA {
		kernelsGo(tiles, k, a, rsa, csa, pa, b, rsb, c, ldc, alpha, beta, mode)
		return
	}
	// Bounds of everything the assembly touches (strides are non-negative).
	_ = a[(tiles-1)*pa+(mr-1)*rsa+(k-1)*csa]
	_ = b[(k-1)*rsb+nr-1]
	_ = c[((tiles-1)*mr+mr-1)*ldc+nr-1]
	pp := &a[0]
	if len(pf) > 0 {
		pp = &pf[0]
	}
	if haveZMM {
		kern6x16Z(tiles, k, &a[0], rsa, csa, pa, &b[0], rsb, &c[0], ldc, alpha, beta, mode, pp, 4*len(pf), pfL1)
		return
	}
	kern6x16(tiles, k, &a[0], rsa, csa, pa, &b[0], rsb, &c[0], ldc, alpha, beta, mode, pp, 4*len(pf), pfL1)
}

// transposeBlocks writes the 8×(8·blocks) matrix at src (row stride lds)
// transposed into the (8·blocks)×8 matrix at dst (row stride ldd). It
// reports false, doing nothing, when the assembly is unavailable.
func transposeBlocks(blocks int, src []float32, lds int, dst []float32, ldd int) bool {
	if !haveFMA {
		return false
	}
	if blocks <= 0 {
		return true
	}
	_ = src[7*lds+blocks*8-1]
	_ = dst[(blocks*8-1)*ldd+7]
	transpose8(blocks, &src[0], lds, &dst[0], ldd)
	return true
}

// packA6Blocks packs the 6×(8·blocks) matrix at src (row stride lda)
// k-major into dst (dst[p*6+i] = src[i*lda+p]). It reports false, doing
// nothing, when the assembly is unavailable.
func packA6Blocks(blocks int, src []float32, lda int, dst []float32) bool {
	if !haveFMA {
		return false
	}
	if blocks <= 0 {
		return true
	}
	_ = src[5*lda+blocks*8-1]
	_ = dst[blocks*8*mr-1]
	packA6(blocks, &src[0], lda, &dst[0])
	return true
}

// packB16Rows packs rows (≤ kb) rows of 16·panels floats at src (row stride
// lds) into panels nr-wide panels of kb rows at dst: row p's q-th 16 floats
// go to dst[q*kb*nr+p*nr:]. It reports false, doing nothing, when the
// assembly is unavailable.
func packB16Rows(rows, panels int, src []float32, lds int, dst []float32, kb int) bool {
	if !haveFMA {
		return false
	}
	if rows <= 0 || panels <= 0 {
		return true
	}
	_ = src[(rows-1)*lds+panels*nr-1]
	_ = dst[(panels-1)*kb*nr+(rows-1)*nr+nr-1]
	packB16(rows, panels, &src[0], lds, &dst[0], kb)
	return true
}

// fmaFlopsPerIter is the work of one fmaLoop iteration.
const fmaFlopsPerIter = 12 * 8 * 2

// peakLoop runs the FMA probe for n iterations and returns the FLOP done.
func peakLoop(n int) float64 {
	if !haveFMA {
		return peakLoopGo(n)
	}
	if haveZMM {
		fmaLoopZ(n)
		return float64(n) * 2 * fmaFlopsPerIter
	}
	fmaLoop(n)
	return float64(n) * fmaFlopsPerIter
}
