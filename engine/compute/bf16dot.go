package compute

import (
	"fmt"
	"math"
)

// Products with bfloat16 on both sides. SgemmBF16BF16 is the product of a
// linear layer with bfloat16 weights as PyTorch (a bfloat16 matmul) and
// llama.cpp (ggml_vec_dot_bf16) compute it: the activations are rounded to
// bfloat16 too, the products of two bfloat16 values are exact in float32,
// and the sums are float32. On CPUs with AVX512-BF16 (VDPBF16PS), that
// runs at twice the float32 FMA rate, which is what batched decoding and
// prefill of bfloat16 models are bound by.

// dotL2 bounds the bfloat16 rows of X that one pass of SgemmBF16BF16
// keeps in L2 while it streams W over them (512 KiB).
const dotL2 = 512 << 10

// dotChunksPerThread is how many pieces SgemmBF16BF16 cuts its W tiles
// into per thread.
const dotChunksPerThread = 16

// RoundBF16 returns x rounded to the nearest bfloat16 value (ties to even),
// as a float32. NaN stays NaN.
func RoundBF16(x float32) float32 {
	return math.Float32frombits(uint32(toBF16(x)) << 16)
}

// ToBF16 sets dst[i] to the bfloat16 bits nearest src[i] (ties to even;
// NaN stays NaN), with VCVTNEPS2BF16 where the CPU has it. It panics if dst
// is shorter than src.
func ToBF16(dst []uint16, src []float32) {
	if len(dst) < len(src) {
		panic(fmt.Sprintf("compute: ToBF16: len(dst)=%d < len(src)=%d", len(dst), len(src)))
	}
	roundRow(dst[:len(src)], src)
}

// toBF16 returns the bfloat16 bits nearest x (ties to even).
func toBF16(x float32) uint16 {
	b := math.Float32bits(x)
	if b&0x7fffffff > 0x7f800000 {
		return uint16(b>>16) | 0x40 // quiet NaN
	}
	return uint16((b + 0x7fff + (b>>16)&1) >> 16)
}

// SgemmBF16BF16 computes C = alpha·bf16(X)·Wᵀ + beta·C, where bf16(X) is X
// rounded to bfloat16 (nearest, ties to even), W (n×k, row stride ldw) is
// given as bfloat16 bits, and the products are summed in float32. Results
// equal SgemmBF16 over the rounded X up to float32 rounding of the sums,
// whichever CPU runs it (VDPBF16PS also counts subnormal inputs, below
// 1.2e-38, as zero). It panics on inconsistent arguments.
func SgemmBF16BF16(m, n, k int, alpha float32, x []float32, ldx int, w []uint16, ldw int, beta float32, c []float32, ldc int) {
	getDefault().SgemmBF16BF16(m, n, k, alpha, x, ldx, w, ldw, beta, c, ldc)
}

// SgemmBF16BF16 is the package-level SgemmBF16BF16 on p's threads.
func (p *Pool) SgemmBF16BF16(m, n, k int, alpha float32, x []float32, ldx int, w []uint16, ldw int, beta float32, c []float32, ldc int) {
	if p.useAMX(m, n, k) && alpha != 0 {
		checkMat("X", x, ldx, m, k, false)
		checkBF16(w, ldw, n, k)
		checkMat("C", c, ldc, m, n, false)
		b := bf16Gemm{m: m, n: n, k: k, alpha: alpha, beta: beta, x: x, ldx: ldx, w: w, ldw: ldw, c: c, ldc: ldc}
		b.amxTiles(p)
		return
	}
	// Below dotRows rows the kernel would stream W slower than
	// SgemmBF16's dot products, which compute the same products.
	if !haveDPBF16 || m < dotRows || n == 0 || k == 0 || alpha == 0 {
		p.sgemmBF16Rounded(m, n, k, alpha, x, ldx, w, ldw, beta, c, ldc)
		return
	}
	checkMat("X", x, ldx, m, k, false)
	checkBF16(w, ldw, n, k)
	checkMat("C", c, ldc, m, n, false)
	b := bf16Gemm{m: m, n: n, k: k, alpha: alpha, beta: beta, x: x, ldx: ldx, w: w, ldw: ldw, c: c, ldc: ldc}
	b.dotTiles(p)
}

// sgemmBF16Rounded is SgemmBF16BF16 without VDPBF16PS: SgemmBF16 over a
// rounded copy of X.
func (p *Pool) sgemmBF16Rounded(m, n, k int, alpha float32, x []float32, ldx int, w []uint16, ldw int, beta float32, c []float32, ldc int) {
	if m <= 0 || k <= 0 {
		p.SgemmBF16(m, n, k, alpha, x, ldx, w, ldw, beta, c, ldc)
		return
	}
	checkMat("X", x, ldx, m, k, false)
	buf := p.getBuf()
	defer p.putBuf(buf)
	p.SgemmBF16(m, n, k, alpha, buf.roundedX(m, k, x, ldx), k, w, ldw, beta, c, ldc)
}

// roundedX returns the m×k rows of X (row stride ldx) rounded to bfloat16
// values as the kernel paths round them (roundRow), widened back into
// buf.round with row stride k.
func (buf *gemmBuf) roundedX(m, k int, x []float32, ldx int) []float32 {
	buf.xb = grow(buf.xb, k)
	buf.round = grow(buf.round, m*k)
	for i := range m {
		roundRow(buf.xb, x[i*ldx:i*ldx+k])
		widenBF16(buf.round[i*k:(i+1)*k], buf.xb)
	}
	return buf.round
}

// tileRows returns the rows of W of tile s (dotCols rows from row
// s·dotCols, fewer at the end), or nil past the last.
func (b *bf16Gemm) tileRows(s int) []uint16 {
	j := s * dotCols
	if j >= b.n {
		return nil
	}
	return b.w[j*b.ldw : (min(b.n, j+dotCols)-1)*b.ldw+b.k]
}

// dotTiles runs the VDPBF16PS kernel: X is rounded into bfloat16 rows
// padded to a multiple of 32 elements (and to a multiple of 4 rows), then
// each thread takes a range of 6-row tiles of W and, for each pass of at
// most dotL2 bytes of X, computes the 4×6 dot-product tiles.
func (b *bf16Gemm) dotTiles(p *Pool) {
	k32, tail := b.k/32, b.k%32
	lda := k32 * 32
	var mask uint32
	if tail > 0 {
		lda += 32
		mask = 1<<tail - 1
	}
	mp := (b.m + dotRows - 1) / dotRows * dotRows
	buf := p.getBuf()
	defer p.putBuf(buf)
	buf.xb = grow(buf.xb, mp*lda)
	xa := buf.xb
	convert := func(lo, hi int) {
		for i := lo; i < hi; i++ {
			row := xa[i*lda : (i+1)*lda]
			if i >= b.m {
				clear(row)
				continue
			}
			roundRow(row[:b.k], b.x[i*b.ldx:i*b.ldx+b.k])
			clear(row[b.k:])
		}
	}
	if mp*lda >= 1<<16 {
		p.parallel(mp, p.threads, convert)
	} else {
		convert(0, mp)
	}
	mc := min(mp, max(dotRows, dotL2/(2*lda)/dotRows*dotRows))
	tiles := (b.n + dotCols - 1) / dotCols
	// Small chunks: a thread that starts late (a parked worker wakes in
	// tens of microseconds, a decode-sized call lasts a few hundred) then
	// leaves the others little to wait for.
	chunks := b.chunks(p, tiles, dotChunksPerThread)
	p.parallel(chunks, chunks, func(lo, hi int) {
		tb := p.getBuf()
		defer p.putBuf(tb)
		tb.tile = grow(tb.tile, mc*dotCols)
		tile := tb.tile
		for i0 := 0; i0 < mp; i0 += mc {
			rows := min(mc, mp-i0)
			s0, s1 := lo*tiles/chunks, hi*tiles/chunks
			// Whole groups of the full tiles straight into C, in one call,
			// when nothing is to merge.
			direct, full := 0, max(0, min(s1, b.n/dotCols)-s0)
			if b.alpha == 1 && b.beta == 0 {
				direct = min(rows, b.m-i0) / dotRows
			}
			if direct > 0 && full > 0 {
				j0 := s0 * dotCols
				dotKernel(full, direct, k32, xa[i0*lda:], lda, b.w[j0*b.ldw:], b.ldw, b.k, b.c[i0*b.ldc+j0:], b.ldc, mask, b.tileRows(s0+full))
			}
			for s := s0; s < s1; s++ {
				g0 := 0 // rows done above
				if s < s0+full {
					g0 = direct * dotRows
				}
				if g0 >= rows {
					continue
				}
				j0 := s * dotCols
				cols := min(dotCols, b.n-j0)
				w, ldw := b.w[j0*b.ldw:], b.ldw
				if cols < dotCols {
					tb.wEdge = grow(tb.wEdge, dotCols*lda)
					clear(tb.wEdge)
					for c := range cols {
						copy(tb.wEdge[c*lda:], b.w[(j0+c)*b.ldw:(j0+c)*b.ldw+b.k])
					}
					w, ldw = tb.wEdge, lda
				}
				dotKernel(1, (rows-g0)/dotRows, k32, xa[(i0+g0)*lda:], lda, w, ldw, b.k, tile, dotCols, mask, b.tileRows(s+1))
				for r := range min(rows, b.m-i0) - g0 {
					for c := range cols {
						b.set(i0+g0+r, j0+c, tile[r*dotCols+c])
					}
				}
			}
		}
	})
}
