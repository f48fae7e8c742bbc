package compute

import "unsafe"

// SgemmBF16BF16 on AMX tiles. A TDPBF16PS multiplies a 16×32 tile of
// bfloat16 by a 32×16 one into 16×16 float32 sums, eight times the
// products a core's VDPBF16PS make in the same time, with the same
// semantics: bfloat16 products exact, sums in float32. The kernels
// compute C'ᵀ = W·bf16(X)ᵀ: a W tile is 16 rows of W read in place, 32
// elements each, and an X tile is 16 rows of X rounded to bfloat16 and
// packed in pairs (X's rows as the tile's columns), once per call. Each
// call of a kernel multiplies 32 rows of W by every row of X, so W is
// read once, and a prefetch brings the next 32 rows into L2 meanwhile:
// with the arithmetic this fast, batched decoding is as bound by the
// weights' bytes as decoding one sequence.

// amxCfg is the tile configuration of the kernels: palette 1, all eight
// tiles 16 rows of 64 bytes.
var amxCfg = func() (c [64]byte) {
	c[0] = 1
	for t := range 8 {
		c[16+2*t] = 64
		c[48+t] = 16
	}
	return c
}()

// amxRows is how many rows of W a kernel call multiplies.
const amxRows = 32

var amxChunksPerThread = 2

// useAMX reports whether p runs SgemmBF16BF16 of these dimensions on the
// AMX kernels: W must have a whole call's rows and a depth that is a
// multiple of 32 (one tile's). Tests turn p.amx off to run the VDPBF16PS
// kernels on the same CPU.
func (p *Pool) useAMX(m, n, k int) bool {
	return p.amx && m > 0 && n >= amxRows && k > 0 && k%32 == 0
}

// amxTiles runs b on the AMX kernels (b as useAMXFor requires; the last
// n mod 32 rows of W on the VDPBF16PS kernel).
func (b *bf16Gemm) amxTiles(p *Pool) {
	k32 := b.k / 32
	blocks := (b.m + 15) / 16 // of 16 rows of X
	mb := 2                   // blocks a kernel takes at once
	if blocks == 1 {
		mb = 1
	}
	groups := (blocks + mb - 1) / mb
	xblk := k32 * 512 // elements of one packed block
	buf := p.getBuf()
	defer p.putBuf(buf)
	buf.xb = grow(buf.xb, groups*mb*xblk+32)
	xp := aligned64(buf.xb, groups*mb*xblk)
	pack := func(lo, hi int) {
		tb := p.getBuf()
		defer p.putBuf(tb)
		tb.xrow = grow(tb.xrow, 16*b.k)
		for blk := lo; blk < hi; blk++ {
			b.packAMX(xp[blk*xblk:(blk+1)*xblk], blk, tb.xrow)
		}
	}
	if len(xp) >= 1<<16 {
		p.parallel(groups*mb, p.threads, pack)
	} else {
		pack(0, groups*mb)
	}

	kern := amxTiles2
	if mb == 1 {
		kern = amxTiles1
	}
	pairs := b.n / amxRows
	chunks := b.chunks(p, pairs, amxChunksPerThread)
	p.parallel(chunks, chunks, func(lo, hi int) {
		tb := p.getBuf()
		defer p.putBuf(tb)
		tb.tile = grow(tb.tile, groups*mb*2*256+16)
		out := aligned64(tb.tile, groups*mb*2*256)
		for s := lo * pairs / chunks; s < hi*pairs/chunks; s++ {
			j0 := s * amxRows
			w := b.w[j0*b.ldw : (j0+amxRows-1)*b.ldw+b.k]
			pf := w
			if j1 := j0 + amxRows; j1 < b.n {
				pf = b.w[j1*b.ldw:]
			}
			kern(&amxCfg[0], groups, k32, &w[0], 2*b.ldw, &xp[0], 2*xblk, &out[0], &pf[0])
			b.storeAMX(out, j0, mb, groups)
		}
	})

	if tail := b.n % amxRows; tail > 0 {
		j0 := b.n - tail
		sub := *b
		sub.n = tail
		sub.w = b.w[j0*b.ldw:]
		sub.c = b.c[j0:]
		if b.m >= dotRows {
			sub.dotTiles(p)
		} else {
			p.sgemmBF16Rounded(sub.m, sub.n, sub.k, sub.alpha, sub.x, sub.ldx, sub.w, sub.ldw, sub.beta, sub.c, sub.ldc)
		}
	}
}

// packAMX sets dst, block blk of the packed X: rows 16·blk… of X rounded
// to bfloat16, as k/32 tiles of 16 rows (pairs of depths) by 16 columns
// (rows of X) of bfloat16 pairs; rows past X are zero. xr is scratch of
// 16·k elements.
func (b *bf16Gemm) packAMX(dst []uint16, blk int, xr []uint16) {
	xr = xr[:16*b.k]
	for c := range 16 {
		row := xr[c*b.k : (c+1)*b.k]
		if i := blk*16 + c; i < b.m {
			roundRow(row, b.x[i*b.ldx:i*b.ldx+b.k])
		} else {
			clear(row)
		}
	}
	_ = dst[b.k*16-1]
	for ks := range b.k / 32 {
		// Pairs of depths are 32-bit values: the tile is the block of 16
		// rows by 16 pairs, transposed.
		transpose16((*uint32)(unsafe.Pointer(&dst[ks*512])), 64, (*uint32)(unsafe.Pointer(&xr[ks*32])), 2*b.k, 16)
	}
}

// storeAMX merges the kernel's tiles out (rows j0… of W by the rows of X,
// as amxTiles2 and amxTiles1 lay them out) into C.
func (b *bf16Gemm) storeAMX(out []float32, j0, mb, groups int) {
	for g := range groups {
		for h := range mb {
			i0 := (g*mb + h) * 16
			if i0 >= b.m {
				return
			}
			rows := min(16, b.m-i0)
			for nb := range 2 {
				t := out[(g*2*mb+nb*mb+h)*256:][:256]
				j := j0 + nb*16
				if b.beta == 0 {
					if b.alpha != 1 {
						sscal(b.alpha, t) // alpha·v, as set computes it
					}
					_ = b.c[(i0+rows-1)*b.ldc+j+15]
					transpose16((*uint32)(unsafe.Pointer(&b.c[i0*b.ldc+j])), 4*b.ldc, (*uint32)(unsafe.Pointer(&t[0])), 64, rows)
					continue
				}
				for c := range rows {
					for r := range 16 {
						b.set(i0+c, j+r, t[r*16+c])
					}
				}
			}
		}
	}
}

// peakLoopAMX is the AMX probe: n/64 calls (at least one) of amxTiles2
// on operands that stay in L2 (32 rows of W by 128 rows of X, depth 768):
// each call is 384 TDPBF16PS of 16·16·32 products and sums, a few
// microseconds. Zero operands take the same time as any.
func peakLoopAMX(n int) float64 {
	const k32, groups = 24, 4
	w := aligned64(make([]uint16, 32*k32*32+32), 32*k32*32)
	xp := aligned64(make([]uint16, groups*2*k32*512+32), groups*2*k32*512)
	out := aligned64(make([]float32, groups*4*256+16), groups*4*256)
	calls := max(1, n/64)
	for range calls {
		amxTiles2(&amxCfg[0], groups, k32, &w[0], 2*k32*32, &xp[0], 2*k32*512, &out[0], &w[0])
	}
	return float64(calls) * groups * k32 * 4 * 16 * 16 * 32 * 2
}

// aligned64 returns n elements of s from its first 64-byte boundary (s
// has 64 bytes to spare). A tile row that straddles two cache lines
// loads or stores both: the in-cache kernel ran at 1.0 TFLOP/s instead of
// 2.7 on unaligned operands.
func aligned64[T uint16 | float32](s []T, n int) []T {
	var z T
	size := int(unsafe.Sizeof(z))
	off := int(-uintptr(unsafe.Pointer(&s[0])) & 63)
	return s[off/size : off/size+n]
}
