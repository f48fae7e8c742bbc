package compute

// packA packs op(A)[ic:ic+mb, pc:pc+kb] into dst as mr-row panels, each
// stored k-major (dst[panel*kb*mr + p*mr + i]), the last one zero-padded.
func (g *gemm) packA(dst []float32, ic, mb, pc, kb int) {
	for ir := 0; ir < mb; ir += mr {
		g.packAPanel(dst[ir*kb:], ic+ir, min(mr, mb-ir), pc, kb)
	}
}

// packAPanel packs op(A)[i0:i0+mm, pc:pc+kb] (mm ≤ mr) into one panel.
func (g *gemm) packAPanel(dst []float32, i0, mm, pc, kb int) {
	dst = dst[:kb*mr]
	lda := g.lda
	if g.transA {
		// op(A)[i][p] = a[p*lda+i]: the mm values of one p are contiguous.
		for p := range kb {
			src := g.a[(pc+p)*lda+i0:]
			d := dst[p*mr : p*mr+mr]
			if mm == mr {
				d[0], d[1], d[2], d[3], d[4], d[5] = src[0], src[1], src[2], src[3], src[4], src[5]
				continue
			}
			copy(d, src[:mm])
			clear(d[mm:])
		}
		return
	}
	if mm == mr {
		p0 := 0
		if kb >= 8 && packA6Blocks(kb/8, g.a[i0*lda+pc:], lda, dst) {
			p0 = kb / 8 * 8
		}
		r0 := g.a[i0*lda+pc:][:kb]
		r1 := g.a[(i0+1)*lda+pc:][:kb]
		r2 := g.a[(i0+2)*lda+pc:][:kb]
		r3 := g.a[(i0+3)*lda+pc:][:kb]
		r4 := g.a[(i0+4)*lda+pc:][:kb]
		r5 := g.a[(i0+5)*lda+pc:][:kb]
		for p := p0; p < kb; p++ {
			d := dst[p*mr : p*mr+mr]
			d[0], d[1], d[2], d[3], d[4], d[5] = r0[p], r1[p], r2[p], r3[p], r4[p], r5[p]
		}
		return
	}
	clear(dst)
	for i := range mm {
		row := g.a[(i0+i)*lda+pc:][:kb]
		for p, v := range row {
			dst[p*mr+i] = v
		}
	}
}

// packB packs op(B)[pc:pc+kb, jc:jc+nb] into dst as nr-column panels, each
// stored k-major (dst[panel*kb*nr + p*nr + j]), the last one zero-padded.
func (g *gemm) packB(dst []float32, pc, kb, jc, nb int) {
	full := nb / nr * nr
	if !g.transB {
		// Walk B row by row (sequential reads, one TLB page after another)
		// and deal each row's nr-wide pieces out to the panels.
		if !packB16Rows(kb, full/nr, g.b[pc*g.ldb+jc:], g.ldb, dst, kb) {
			for p := range kb {
				src := g.b[(pc+p)*g.ldb+jc:][:full]
				for jr := 0; jr < full; jr += nr {
					*(*[nr]float32)(dst[jr*kb+p*nr:]) = *(*[nr]float32)(src[jr:])
				}
			}
		}
	} else {
		for jr := 0; jr < full; jr += nr {
			g.packBPanel(dst[jr*kb:], pc, kb, jc+jr, nr)
		}
	}
	if full < nb {
		g.packBPanel(dst[full*kb:], pc, kb, jc+full, nb-full)
	}
}

// packBPanel packs op(B)[pc:pc+kb, j0:j0+nn] (nn ≤ nr) into one panel.
func (g *gemm) packBPanel(dst []float32, pc, kb, j0, nn int) {
	dst = dst[:kb*nr]
	ldb := g.ldb
	if !g.transB {
		for p := range kb {
			d := dst[p*nr : p*nr+nr]
			copy(d, g.b[(pc+p)*ldb+j0:][:nn])
			if nn < nr {
				clear(d[nn:])
			}
		}
		return
	}
	// op(B)[p][j] = b[j*ldb+p]: transpose nn rows of B, 8×8 blocks at a
	// time when the assembly is there.
	p0 := 0
	if nn == nr && kb >= 8 {
		blocks := kb / 8
		src := g.b[j0*ldb+pc:]
		if transposeBlocks(blocks, src, ldb, dst, nr) {
			transposeBlocks(blocks, src[8*ldb:], ldb, dst[8:], nr)
			p0 = blocks * 8
		}
	}
	if nn < nr {
		clear(dst)
	}
	for j := range nn {
		row := g.b[(j0+j)*ldb+pc:][:kb]
		for p := p0; p < kb; p++ {
			dst[p*nr+j] = row[p]
		}
	}
}

// Transpose sets dst (cols×rows, row stride ldd) to the transpose of src
// (rows×cols, row stride lds), 8×8 blocks at a time where the assembly
// runs, on the default pool's threads when it is large enough.
func Transpose(rows, cols int, src []float32, lds int, dst []float32, ldd int) {
	getDefault().Transpose(rows, cols, src, lds, dst, ldd)
}

// Transpose is the package-level Transpose on p's threads.
func (p *Pool) Transpose(rows, cols int, src []float32, lds int, dst []float32, ldd int) {
	if rows <= 0 || cols <= 0 {
		return
	}
	checkMat("src", src, lds, rows, cols, false)
	checkMat("dst", dst, ldd, cols, rows, false)
	// Bands of 8 source rows: the blocks of a band are one call.
	bands := (rows + 7) / 8
	t := p.threads
	if rows*cols < minParallelMerge {
		t = 1
	}
	p.parallel(bands, t, func(lo, hi int) {
		for band := lo; band < hi; band++ {
			r0 := band * 8
			c0 := 0
			if r0+8 <= rows && cols >= 8 && transposeBlocks(cols/8, src[r0*lds:], lds, dst[r0:], ldd) {
				c0 = cols / 8 * 8
			}
			for r := r0; r < min(rows, r0+8); r++ {
				s := src[r*lds : r*lds+cols]
				for c := c0; c < cols; c++ {
					dst[c*ldd+r] = s[c]
				}
			}
		}
	})
}
