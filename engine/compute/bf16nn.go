package compute

import "fmt"

// SgemmBF16BF16NN computes C = alpha·bf16(X)·W + beta·C for X (m×k, row
// stride ldx), W (k×n, row stride ldw) given as bfloat16 bits, and C (m×n,
// row stride ldc): SgemmBF16BF16 for weights laid out along the depth, as
// a bfloat16 KV cache's values are for the weighted sum of many query
// rows. X is rounded to bfloat16 (nearest, ties to even), products are
// exact and sums float32. On AMX tiles X's rounded rows are the A tiles
// and W's rows are interleaved in pairs into the B tiles (packPairs32);
// elsewhere it is Sgemm over the rounded X and the widened W. It panics on
// inconsistent arguments.
func SgemmBF16BF16NN(m, n, k int, alpha float32, x []float32, ldx int, w []uint16, ldw int, beta float32, c []float32, ldc int) {
	getDefault().SgemmBF16BF16NN(m, n, k, alpha, x, ldx, w, ldw, beta, c, ldc)
}

// SgemmBF16BF16NN is the package-level SgemmBF16BF16NN on p's threads.
func (p *Pool) SgemmBF16BF16NN(m, n, k int, alpha float32, x []float32, ldx int, w []uint16, ldw int, beta float32, c []float32, ldc int) {
	if m < 0 || n < 0 || k < 0 {
		panic(fmt.Sprintf("compute: SgemmBF16BF16NN: negative dimension m=%d n=%d k=%d", m, n, k))
	}
	checkMat("X", x, ldx, m, k, false)
	checkBF16(w, ldw, k, n)
	checkMat("C", c, ldc, m, n, false)
	if m == 0 || n == 0 {
		return
	}
	if !p.amx || k == 0 || alpha == 0 {
		buf := p.getBuf()
		defer p.putBuf(buf)
		xr := buf.roundedX(m, k, x, ldx)
		buf.wide = grow(buf.wide, k*n)
		for r := range k {
			widenBF16(buf.wide[r*n:(r+1)*n], w[r*ldw:r*ldw+n])
		}
		p.Sgemm(false, false, m, n, k, alpha, xr, k, buf.wide, n, beta, c, ldc)
		return
	}
	b := bf16Gemm{m: m, n: n, k: k, alpha: alpha, beta: beta, x: x, ldx: ldx, w: w, ldw: ldw, c: c, ldc: ldc}
	b.amxNN(p)
}

// pairIdx holds packPairs32's VPERMI2W indices: word 2j of the first
// result is word j of the first row, word 2j+1 word j of the second (at
// 32+j); the second result does the same for words 16..31.
var pairIdx = func() (ix [64]uint16) {
	for j := range 16 {
		ix[2*j], ix[2*j+1] = uint16(j), uint16(32+j)
		ix[32+2*j], ix[32+2*j+1] = uint16(16+j), uint16(48+j)
	}
	return ix
}()

// amxNN runs SgemmBF16BF16NN on the AMX kernels: the roles of amxTiles
// swapped, X's rows in place of W's and W packed in place of X, so the
// tiles come out as rows of C.
func (b *bf16Gemm) amxNN(p *Pool) {
	k32 := (b.k + 31) / 32
	kp := 32 * k32
	mp := (b.m + 31) / 32 * 32
	groups := (b.n + 31) / 32 // of 32 columns: two blocks of 16
	xblk := k32 * 512         // elements of one packed block
	buf := p.getBuf()
	defer p.putBuf(buf)
	// X rounded, its rows padded with zeros to kp elements and to mp rows.
	buf.xb = grow(buf.xb, mp*kp+32)
	xa := aligned64(buf.xb, mp*kp)
	for i := range mp {
		row := xa[i*kp : (i+1)*kp]
		if i >= b.m {
			clear(row)
			continue
		}
		roundRow(row[:b.k], b.x[i*b.ldx:i*b.ldx+b.k])
		clear(row[b.k:])
	}
	// W's rows in pairs; a copy padded with zeros to kp rows and whole
	// 32-column chunks where W has neither.
	src, lds := b.w, b.ldw
	if b.k != kp || b.n != 32*groups {
		buf.wEdge = grow(buf.wEdge, kp*32*groups)
		clear(buf.wEdge)
		for r := range b.k {
			copy(buf.wEdge[r*32*groups:], b.w[r*b.ldw:r*b.ldw+b.n])
		}
		src, lds = buf.wEdge, 32*groups
	}
	_ = src[(kp-1)*lds+32*groups-1]
	buf.wpack = grow(buf.wpack, 2*groups*xblk+32)
	wp := aligned64(buf.wpack, 2*groups*xblk)
	for g := range groups {
		packPairs32(&wp[2*g*xblk], &wp[(2*g+1)*xblk], &src[32*g], 2*lds, kp/2, &pairIdx[0])
	}
	calls := mp / 32
	t := 1
	if b.m*b.n*b.k >= minParallelFlops {
		t = p.threads
	}
	p.parallel(calls, t, func(lo, hi int) {
		tb := p.getBuf()
		defer p.putBuf(tb)
		tb.tile = grow(tb.tile, groups*4*256+16)
		out := aligned64(tb.tile, groups*4*256)
		for s := lo; s < hi; s++ {
			a := xa[s*32*kp:]
			amxTiles2(&amxCfg[0], groups, k32, &a[0], 2*kp, &wp[0], 2*xblk, &out[0], &a[0])
			b.storeNN(out, s*32, groups)
		}
	})
}

// storeNN merges the tiles of one call of amxNN (rows i0… of C, groups of
// 32 columns) into C.
func (b *bf16Gemm) storeNN(out []float32, i0, groups int) {
	for g := range groups {
		for nb := range 2 {
			for h := range 2 {
				j0 := (2*g + h) * 16
				if j0 >= b.n {
					continue
				}
				cols := min(16, b.n-j0)
				t := out[(4*g+2*nb+h)*256:][:256]
				for r := range 16 {
					i := i0 + nb*16 + r
					if i >= b.m {
						break
					}
					row, v := b.c[i*b.ldc+j0:][:cols], t[r*16:][:cols]
					switch {
					case b.beta == 0 && b.alpha == 1:
						copy(row, v)
					case b.beta == 0:
						for j := range row {
							row[j] = b.alpha * v[j]
						}
					default:
						for j := range row {
							b.set(i, j0+j, v[j])
						}
					}
				}
			}
		}
	}
}
