package compute

import (
	"fmt"
	"math"
)

// Products with bfloat16 weights. A model served with its weights kept in
// bfloat16 (half the memory and half the memory traffic of float32) widens
// them to float32 as they are used, never all at once: decoding reads each
// weight once per step, so the weights' bytes, not the arithmetic, set its
// speed.

// wideFloats bounds the float32 copy of W that a many-row SgemmBF16 widens
// at a time (8 MiB).
const wideFloats = 2 << 20

// bf16Strips is the most rows of X for which SgemmBF16 widens W six rows
// at a time into a strip kept in L1 (below it the widening costs at most
// 1/16 of the arithmetic; above, widening W in blocks for the packed
// product is cheaper).
const bf16Strips = 64

func bf16ToF32(b uint16) float32 { return math.Float32frombits(uint32(b) << 16) }

// WidenBF16 sets dst[i] to the float32 value of the bfloat16 bits src[i].
// It panics if dst is shorter than src.
func WidenBF16(dst []float32, src []uint16) {
	if len(dst) < len(src) {
		panic(fmt.Sprintf("compute: WidenBF16: len(dst)=%d < len(src)=%d", len(dst), len(src)))
	}
	widenBF16(dst, src)
}

// SgemmBF16 computes C = alpha·X·Wᵀ + beta·C for X (m×k, row stride ldx),
// W (n×k, row stride ldw) given as bfloat16 bits, and C (m×n, row stride
// ldc): the product of a linear layer whose weights stay in bfloat16.
//
//   - Up to four rows (decoding one to four sequences): dot products that
//     widen W on the fly, each row of W read once.
//   - Up to 64 rows (batched decoding): W is widened six rows at a time into
//     a float32 strip that stays in L1 and multiplied there by the packed
//     rows of X with the float32 micro-kernel.
//   - More rows (prefill): W is widened in blocks of rows, each used for a
//     float32 product.
//
// Results equal Sgemm over the widened W up to float32 rounding of the
// sums. It panics on inconsistent arguments.
func SgemmBF16(m, n, k int, alpha float32, x []float32, ldx int, w []uint16, ldw int, beta float32, c []float32, ldc int) {
	getDefault().SgemmBF16(m, n, k, alpha, x, ldx, w, ldw, beta, c, ldc)
}

// SgemmBF16 is the package-level SgemmBF16 on p's threads.
func (p *Pool) SgemmBF16(m, n, k int, alpha float32, x []float32, ldx int, w []uint16, ldw int, beta float32, c []float32, ldc int) {
	if m < 0 || n < 0 || k < 0 {
		panic(fmt.Sprintf("compute: SgemmBF16: negative dimension m=%d n=%d k=%d", m, n, k))
	}
	checkMat("X", x, ldx, m, k, false)
	checkBF16(w, ldw, n, k)
	checkMat("C", c, ldc, m, n, false)
	if m == 0 || n == 0 {
		return
	}
	if k == 0 || alpha == 0 {
		g := gemm{m: m, n: n, beta: beta, c: c, ldc: ldc}
		g.scaleC()
		return
	}
	b := bf16Gemm{m: m, n: n, k: k, alpha: alpha, beta: beta, x: x, ldx: ldx, w: w, ldw: ldw, c: c, ldc: ldc}
	switch {
	case m <= gemvRows:
		b.dots(p)
	case m <= bf16Strips:
		b.strips(p)
	default:
		b.blocks(p)
	}
}

func checkBF16(w []uint16, ld, rows, cols int) {
	if ld < max(1, cols) {
		panic(fmt.Sprintf("compute: SgemmBF16: ldw=%d < %d", ld, max(1, cols)))
	}
	if rows == 0 || cols == 0 {
		return
	}
	if need := (rows-1)*ld + cols; len(w) < need {
		panic(fmt.Sprintf("compute: SgemmBF16: len(W)=%d < %d for %d×%d with ld=%d", len(w), need, rows, cols, ld))
	}
}

// bf16Gemm is one SgemmBF16 call's arguments.
type bf16Gemm struct {
	m, n, k     int
	alpha, beta float32
	x           []float32
	ldx         int
	w           []uint16
	ldw         int
	c           []float32
	ldc         int
}

// set merges v = alpha·(X·Wᵀ)[i][j] into C.
func (b *bf16Gemm) set(i, j int, v float32) {
	p := &b.c[i*b.ldc+j]
	switch b.beta {
	case 0:
		*p = b.alpha * v
	case 1:
		*p += b.alpha * v
	default:
		*p = b.alpha*v + b.beta**p
	}
}

// threads returns how many threads the call is worth.
func (b *bf16Gemm) threads(p *Pool) int {
	if b.m*b.n*b.k < minParallelFlops {
		return 1
	}
	return p.threads
}

// chunks returns how many pieces to cut units into: perThread per thread
// the call is worth, one when it is worth one thread.
func (b *bf16Gemm) chunks(p *Pool, units, perThread int) int {
	t := b.threads(p)
	if t == 1 {
		return 1
	}
	return min(units, perThread*t)
}

// dots computes every C[i][j] as a dot product, the rows of W split over
// the threads.
func (b *bf16Gemm) dots(p *Pool) {
	// More chunks than threads, as in gemm.dots.
	p.parallel(b.n, b.threads(p)*tasksPerThread, func(lo, hi int) {
		for j := lo; j < hi; j++ {
			wr := b.w[j*b.ldw : j*b.ldw+b.k]
			for i := range b.m {
				b.set(i, j, sdotBF16(b.x[i*b.ldx:i*b.ldx+b.k], wr))
			}
		}
	})
}

// strips computes Cᵀ = W·Xᵀ six rows of W at a time: each strip is widened
// into an L1-resident float32 buffer and multiplied by every nr-column
// panel of Xᵀ (packed once for all threads); the 6×nr tiles are merged
// into C transposed.
func (b *bf16Gemm) strips(p *Pool) {
	shared := p.getBuf()
	defer p.putBuf(shared)
	np := (b.m + nr - 1) / nr
	shared.b = grow(shared.b, np*nr*b.k)
	xt := gemm{transB: true, b: b.x, ldb: b.ldx, k: b.k, n: b.m}
	xt.packB(shared.b, 0, b.k, 0, b.m)
	panels := shared.b
	strips := (b.n + mr - 1) / mr
	slabs := b.chunks(p, strips, tasksPerThread)
	p.parallel(slabs, slabs, func(lo, hi int) {
		buf := p.getBuf()
		defer p.putBuf(buf)
		buf.aEdge = grow(buf.aEdge, mr*b.k)
		a := buf.aEdge
		var tile [mr * nr]float32
		for s := lo * strips / slabs; s < hi*strips/slabs; s++ {
			j0 := s * mr
			rows := min(mr, b.n-j0)
			for r := range rows {
				widenBF16(a[r*b.k:(r+1)*b.k], b.w[(j0+r)*b.ldw:(j0+r)*b.ldw+b.k])
			}
			clear(a[rows*b.k:])
			for q := range np {
				kernels(1, b.k, a, b.k, 1, 0, panels[q*nr*b.k:], nr, tile[:], nr, 1, 0, betaZero)
				for i := range min(nr, b.m-q*nr) {
					for r := range rows {
						b.set(q*nr+i, j0+r, tile[r*nr+i])
					}
				}
			}
		}
	})
}

// blocks widens W a block of rows at a time and runs the float32 product
// on each block.
func (b *bf16Gemm) blocks(p *Pool) {
	buf := p.getBuf()
	defer p.putBuf(buf)
	rows := max(mr, min(b.n, wideFloats/b.k))
	buf.wide = grow(buf.wide, rows*b.k)
	for j0 := 0; j0 < b.n; j0 += rows {
		nb := min(rows, b.n-j0)
		wd := buf.wide[:nb*b.k]
		p.parallel(nb, p.threads, func(lo, hi int) {
			for j := lo; j < hi; j++ {
				widenBF16(wd[j*b.k:(j+1)*b.k], b.w[(j0+j)*b.ldw:(j0+j)*b.ldw+b.k])
			}
		})
		p.Sgemm(false, true, b.m, nb, b.k, b.alpha, b.x, b.ldx, wd, b.k, b.beta, b.c[j0:], b.ldc)
	}
}

func sdotBF16Go(x []float32, w []uint16) float32 {
	w = w[:len(x)]
	var s0, s1, s2, s3 float32
	i := 0
	for ; i+4 <= len(x); i += 4 {
		s0 += x[i] * bf16ToF32(w[i])
		s1 += x[i+1] * bf16ToF32(w[i+1])
		s2 += x[i+2] * bf16ToF32(w[i+2])
		s3 += x[i+3] * bf16ToF32(w[i+3])
	}
	for ; i < len(x); i++ {
		s0 += x[i] * bf16ToF32(w[i])
	}
	return (s0 + s1) + (s2 + s3)
}

func widenBF16Go(dst []float32, src []uint16) {
	dst = dst[:len(src)]
	for i, v := range src {
		dst[i] = bf16ToF32(v)
	}
}
