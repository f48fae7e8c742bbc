package compute

import "fmt"

// Blocking parameters of the BLIS-style driver. The micro-kernel computes an
// mr×nr tile of C from an mr×kc panel of A and a kc×nr panel of B; the driver
// packs an mc×kc block of A (kept in L2) and a kc×nc block of B (L3), and
// walks nr-wide B micro-panels (L1) across the A block.
const (
	mr = 6    // micro-tile rows
	nr = 16   // micro-tile columns (two ymm registers)
	kc = 384  // depth of one packed block
	mc = 144  // rows of one packed A block (multiple of mr)
	nc = 4080 // columns of one packed B block (multiple of nr)

	// skinny is the largest n for which A, whose panels would be reused
	// only n/nr times, is read in place instead of packed (and the largest
	// width of a B read in place).
	skinny = 64

	// inPlaceBFloats bounds the B block (k × at most skinny columns) kept in
	// cache while A is read in place: up to it, all of k is one block.
	inPlaceBFloats = 64 << 10

	// minParallelFlops is the smallest m·n·k worth splitting over threads.
	minParallelFlops = 48 * 48 * 48

	// minParallelMerge is the smallest m·n for which sgemmSwapped merges C
	// on several threads.
	minParallelMerge = 8 << 10

	// tasksPerThread is how many slabs per thread a parallel GEMM is cut
	// into, for load balancing.
	tasksPerThread = 4

	// sharedAFloats bounds the shared packed-A buffer of a parallel GEMM
	// (16 MiB); larger A is packed and used in row blocks.
	sharedAFloats = 4 << 20

	// swapRows is the largest m for which C is computed as Cᵀ = Bᵀ·Aᵀ,
	// reading B in place instead of packing it (see sgemmSwapped; at most
	// nr, the width Aᵀ is padded to).
	swapRows = nr

	// prefetchL1Bytes is the largest weight strip the kernels that stream
	// weights (a six-row strip of A read in place, a tile of W in
	// SgemmBF16BF16) prefetch into L1 while they multiply the strip before
	// it; larger strips go to L2, where they do not evict the operands in
	// use. Measured on a 32-row product streaming W from memory: 768-wide
	// strips into L1 ran 10–15% faster than into L2, 2048-wide ones 5%
	// slower.
	prefetchL1Bytes = 20 << 10

	// gemvRows is the largest m for which C is computed from B streamed
	// once (dot products of rows, or row updates) instead of packed tiles.
	gemvRows = 4
)

// Modes of the micro-kernel epilogue: how the tile is merged into C.
const (
	betaZero    = 0 // C = alpha*AB
	betaOne     = 1 // C = alpha*AB + C
	betaGeneral = 2 // C = alpha*AB + beta*C
)

// gemmBuf holds one thread's packing buffers.
type gemmBuf struct {
	a      []float32 // packed mc×kc block of A, mr-row panels
	b      []float32 // packed kc×nc block of B, nr-column panels
	shared []float32 // all of A packed once for the threads of a call
	aEdge  []float32 // one zero-padded A panel for in-place edges
	bEdge  []float32 // one zero-padded B panel for in-place edges
	swapB  []float32 // op(A)ᵀ padded to nr columns (sgemmSwapped)
	swapC  []float32 // the swapped product, nr columns (sgemmSwapped)
	wide   []float32 // a block of widened bfloat16 weights (SgemmBF16)
	round  []float32 // X rounded to bfloat16 values (SgemmBF16BF16 fallback)
	xb     []uint16  // X as bfloat16, rows padded (SgemmBF16BF16)
	wEdge  []uint16  // the last, partial tile of W rows, padded
	tile   []float32 // dot-product tiles (SgemmBF16BF16)
	xrow   []uint16  // 16 rows of X rounded to bfloat16 (AMX packing)
	wpack  []uint16  // W in the tiles' pairs (SgemmBF16BF16NN)
}

func grow[T any](s []T, n int) []T {
	if cap(s) < n {
		return make([]T, n)
	}
	return s[:n]
}

// gemm is one Sgemm call's arguments.
type gemm struct {
	transA, transB bool
	m, n, k        int
	alpha, beta    float32
	a              []float32
	lda            int
	b              []float32
	ldb            int
	c              []float32
	ldc            int

	// preB, if not nil, is all of op(B) packed once for the threads of a
	// row-split call (nr-column panels of depth k), used instead of packing
	// B again in every slab.
	preB []float32
}

// Sgemm computes C = alpha*op(A)*op(B) + beta*C on p's threads. See the
// package-level Sgemm.
func (p *Pool) Sgemm(transA, transB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) {
	g := gemm{transA: transA, transB: transB, m: m, n: n, k: k, alpha: alpha, beta: beta, a: a, lda: lda, b: b, ldb: ldb, c: c, ldc: ldc}
	g.check()
	if m == 0 || n == 0 {
		return
	}
	if k == 0 || alpha == 0 {
		g.scaleC()
		return
	}
	t := p.threads
	if m <= gemvRows {
		// A few rows (decoding): stream B once, with no packing, as dot
		// products of rows (x·Wᵀ) or as row updates C[i] += A[i][p]·B[p].
		if transB {
			g.dots(p, t)
		} else {
			g.axpys(p, t)
		}
		return
	}
	if m <= swapRows && n > skinny {
		// Few rows, many columns: packing B would cost as much as using it.
		p.sgemmSwapped(&g, t)
		return
	}
	if t > 1 && g.m*g.n*k >= minParallelFlops {
		p.sgemmParallel(&g, t)
		return
	}
	buf := p.getBuf()
	g.run(buf, 0, g.m, 0, g.n, nil)
	p.putBuf(buf)
}

// sgemmSwapped computes C = alpha·op(A)·op(B) + beta·C for m ≤ swapRows
// rows as T = op(B)ᵀ·op(A)ᵀ: op(B) (a weight matrix, when decoding) is then
// the A operand, read in place six rows at a time and streamed from memory
// once, while op(A)ᵀ is copied, zero-padded to nr columns, into a k×nr
// matrix small enough to stay in cache and read in place as the B operand.
// Every tile of T is thus a full kernel tile stored directly; C is merged
// from Tᵀ at the end.
func (p *Pool) sgemmSwapped(g *gemm, t int) {
	sb := p.getBuf()
	defer p.putBuf(sb)
	sb.swapB = grow(sb.swapB, g.k*nr)
	sb.swapC = grow(sb.swapC, g.n*nr)
	bt, ct := sb.swapB, sb.swapC
	for q := range g.k {
		row := bt[q*nr : q*nr+nr]
		for i := range g.m {
			if g.transA {
				row[i] = g.a[q*g.lda+i]
			} else {
				row[i] = g.a[i*g.lda+q]
			}
		}
		clear(row[g.m:])
	}
	s := gemm{
		transA: !g.transB, m: g.n, n: nr, k: g.k, alpha: 1, beta: 0,
		a: g.b, lda: g.ldb, b: bt, ldb: nr, c: ct, ldc: nr,
	}
	if t > 1 && s.m*s.n*s.k >= minParallelFlops {
		p.sgemmParallel(&s, t)
	} else {
		buf := p.getBuf()
		s.run(buf, 0, s.m, 0, s.n, nil)
		p.putBuf(buf)
	}
	if g.m*g.n < minParallelMerge {
		t = 1
	}
	p.parallel(g.n, t, func(lo, hi int) {
		for i := range g.m {
			cr := g.c[i*g.ldc+lo : i*g.ldc+hi]
			ci := ct[lo*nr+i:]
			switch g.beta {
			case 0:
				for j := range cr {
					cr[j] = g.alpha * ci[j*nr]
				}
			case 1:
				for j := range cr {
					cr[j] += g.alpha * ci[j*nr]
				}
			default:
				for j := range cr {
					cr[j] = g.alpha*ci[j*nr] + g.beta*cr[j]
				}
			}
		}
	})
}

// sgemmParallel runs g on t threads. C is cut into about tasksPerThread·t
// slabs that the threads take from the pool's queue as they become free, so
// a thread slowed by another process does not hold the others up.
//
// When C is at least as wide as it is tall, the slabs are column ranges: the
// threads first pack A together into one shared buffer (so it is packed once,
// not once per slab), then each slab packs its own part of B. Otherwise the
// slabs are row ranges, each packing its rows of A and all of B.
func (p *Pool) sgemmParallel(g *gemm, t int) {
	if (g.m <= g.n || g.m < 2*mr) && g.n > skinny {
		p.splitN(g, t)
		return
	}
	units := (g.m + mr - 1) / mr
	slabs := min(units, tasksPerThread*t)
	if g.sharesB() {
		// Every slab would pack the same narrow B: pack it once.
		shared := p.getBuf()
		defer p.putBuf(shared)
		shared.b = grow(shared.b, g.k*roundUp(g.n, nr))
		g.packB(shared.b, 0, g.k, 0, g.n)
		gg := *g
		gg.preB = shared.b
		g = &gg
	}
	p.parallel(slabs, slabs, func(lo, hi int) {
		buf := p.getBuf()
		for s := lo; s < hi; s++ {
			g.run(buf, min(g.m, s*units/slabs*mr), min(g.m, (s+1)*units/slabs*mr), 0, g.n, nil)
		}
		p.putBuf(buf)
	})
}

// sharesB reports whether the slabs of a row split would each pack all of
// B as one block (a narrow B, taken in one depth block because A is read in
// place, and not read in place itself): see run.
func (g *gemm) sharesB() bool {
	return g.n <= skinny && g.k*roundUp(g.n, nr) <= inPlaceBFloats &&
		(g.transB || g.ldb > skinny)
}

// splitN is sgemmParallel's column split with a shared packed A.
func (p *Pool) splitN(g *gemm, t int) {
	shared := p.getBuf()
	defer p.putBuf(shared)
	// Rows of A packed at a time: all of them unless A is huge.
	rowsMax := max(mr, min(roundUp(g.m, mr), p.sharedA/g.k/mr*mr))
	units := (g.n + nr - 1) / nr
	slabs := min(units, tasksPerThread*t)
	for i0 := 0; i0 < g.m; i0 += rowsMax {
		i1 := min(g.m, i0+rowsMax)
		pa := packedA{i0: i0, rows: roundUp(i1-i0, mr)}
		shared.shared = grow(shared.shared, pa.rows*g.k)
		pa.a = shared.shared
		panels := pa.rows / mr
		p.parallel(panels, t, func(lo, hi int) {
			for pc := 0; pc < g.k; pc += kc {
				kb := min(kc, g.k-pc)
				for r := lo; r < hi; r++ {
					i := i0 + r*mr
					g.packAPanel(pa.a[pc*pa.rows+r*mr*kb:], i, min(mr, i1-i), pc, kb)
				}
			}
		})
		p.parallel(slabs, slabs, func(lo, hi int) {
			buf := p.getBuf()
			for s := lo; s < hi; s++ {
				g.run(buf, i0, i1, min(g.n, s*units/slabs*nr), min(g.n, (s+1)*units/slabs*nr), &pa)
			}
			p.putBuf(buf)
		})
	}
}

// packedA is op(A)[i0:i0+rows, :] packed ahead of time: for each kc block
// starting at depth pc, its mr-row panels at a[pc*rows:], as packA lays
// them out.
type packedA struct {
	a    []float32
	i0   int
	rows int
}

// dots computes C = alpha·op(A)·Bᵀ + beta·C as m·n dot products of rows,
// splitting the columns of C over t threads when large enough.
func (g *gemm) dots(p *Pool, t int) {
	if g.m*g.n*g.k < minParallelFlops {
		t = 1
	}
	rows := g.aRows()
	// More chunks than threads: the caller starts at once on the first
	// while a parked worker wakes up, and takes the rest as it frees.
	p.parallel(g.n, t*tasksPerThread, func(lo, hi int) {
		for i, ar := range rows {
			cr := g.c[i*g.ldc : i*g.ldc+g.n]
			for j := lo; j < hi; j++ {
				s := g.alpha * sdot(ar, g.b[j*g.ldb:j*g.ldb+g.k])
				switch g.beta {
				case 0:
					cr[j] = s
				case 1:
					cr[j] += s
				default:
					cr[j] = s + g.beta*cr[j]
				}
			}
		}
	})
}

// axpys computes C = alpha·op(A)·B + beta·C for B not transposed as row
// updates C[i] += alpha·op(A)[i][p]·B[p], reading each row of B once for all
// m rows of C, and splitting the columns over t threads when large enough.
func (g *gemm) axpys(p *Pool, t int) {
	if g.m*g.n*g.k < minParallelFlops {
		t = 1
	}
	rows := g.aRows()
	p.parallel(g.n, t, func(lo, hi int) {
		for i := range g.m {
			cr := g.c[i*g.ldc+lo : i*g.ldc+hi]
			switch g.beta {
			case 0:
				clear(cr)
			case 1:
			default:
				sscal(g.beta, cr)
			}
		}
		for q := range g.k {
			br := g.b[q*g.ldb+lo : q*g.ldb+hi]
			for i, ar := range rows {
				saxpy(g.alpha*ar[q], br, g.c[i*g.ldc+lo:i*g.ldc+hi])
			}
		}
	})
}

// aRows returns the m ≤ gemvRows rows of op(A), copying them out when A is
// transposed.
func (g *gemm) aRows() [][]float32 {
	var arr [gemvRows][]float32
	rows := arr[:g.m]
	for i := range rows {
		if !g.transA {
			rows[i] = g.a[i*g.lda : i*g.lda+g.k]
			continue
		}
		r := make([]float32, g.k)
		for q := range r {
			r[q] = g.a[q*g.lda+i]
		}
		rows[i] = r
	}
	return rows
}

// check panics on inconsistent arguments.
func (g *gemm) check() {
	if g.m < 0 || g.n < 0 || g.k < 0 {
		panic(fmt.Sprintf("compute: Sgemm: negative dimension m=%d n=%d k=%d", g.m, g.n, g.k))
	}
	checkMat("A", g.a, g.lda, g.m, g.k, g.transA)
	checkMat("B", g.b, g.ldb, g.k, g.n, g.transB)
	checkMat("C", g.c, g.ldc, g.m, g.n, false)
}

// checkMat checks a matrix whose op() is rows×cols.
func checkMat(name string, s []float32, ld, rows, cols int, trans bool) {
	if trans {
		rows, cols = cols, rows
	}
	if ld < max(1, cols) {
		panic(fmt.Sprintf("compute: Sgemm: ld%s=%d < %d", name, ld, max(1, cols)))
	}
	if rows == 0 || cols == 0 {
		return
	}
	if need := (rows-1)*ld + cols; len(s) < need {
		panic(fmt.Sprintf("compute: Sgemm: len(%s)=%d < %d for %d×%d with ld=%d", name, len(s), need, rows, cols, ld))
	}
}

// scaleC sets C = beta*C (C = 0 when beta is 0).
func (g *gemm) scaleC() {
	for i := range g.m {
		row := g.c[i*g.ldc : i*g.ldc+g.n]
		switch g.beta {
		case 0:
			clear(row)
		case 1:
		default:
			for j := range row {
				row[j] *= g.beta
			}
		}
	}
}

// run computes the block C[i0:i1, j0:j1] with the blocked loop nest. pre,
// if not nil, holds these rows of A already packed.
func (g *gemm) run(buf *gemmBuf, i0, i1, j0, j1 int, pre *packedA) {
	m, n := i1-i0, j1-j0
	if m <= 0 || n <= 0 {
		return
	}
	// An A panel is used n/nr times: for skinny n read it in place (six
	// rows, or six columns of a transposed A, at a time). A B panel is used
	// m/mr times: read it in place when m is tiny, or when B is a narrow
	// (skinny n) matrix whose rows are close together. B rows far apart are
	// not read in place otherwise: with a power-of-two stride they all fall
	// in the same cache sets and evict each other between tiles. A
	// transposed B must be packed to be read as nr-wide rows.
	aInPlace := n <= skinny && pre == nil
	bInPlace := !g.transB && (m <= 2*mr || n <= skinny && g.ldb <= skinny)
	// With A read in place, B (at most skinny columns) is the only operand
	// kept in cache: take all of k in one block when B fits, so that each
	// six-row strip of A is one long read (see macroStrips).
	kcb := kc
	if aInPlace && g.k*roundUp(n, nr) <= inPlaceBFloats {
		kcb = g.k
	}
	if !aInPlace && pre == nil {
		buf.a = grow(buf.a, min(mc, roundUp(m, mr))*min(kcb, g.k))
	}
	if !bInPlace {
		buf.b = grow(buf.b, min(kcb, g.k)*min(nc, roundUp(n, nr)))
	}
	buf.aEdge = grow(buf.aEdge, mr*kcb)
	buf.bEdge = grow(buf.bEdge, kcb*nr)
	mode := betaGeneral
	switch g.beta {
	case 0:
		mode = betaZero
	case 1:
		mode = betaOne
	}
	for jc := j0; jc < j1; jc += nc {
		nb := min(nc, j1-jc)
		for pc := 0; pc < g.k; pc += kcb {
			kb := min(kcb, g.k-pc)
			md := mode
			if pc > 0 {
				md = betaOne
			}
			bblk := buf.b
			switch {
			case bInPlace:
			case g.preB != nil && kb == g.k && jc == 0 && nb == g.n:
				bblk = g.preB
			default:
				g.packB(buf.b, pc, kb, jc, nb)
			}
			for ic := i0; ic < i1; ic += mc {
				mb := min(mc, i1-ic)
				var ablk []float32
				switch {
				case pre != nil:
					ablk = pre.a[pc*pre.rows+(ic-pre.i0)*kb:]
				case !aInPlace:
					g.packA(buf.a, ic, mb, pc, kb)
					ablk = buf.a
				}
				if aInPlace {
					g.macroStrips(buf, bblk, ic, mb, jc, nb, pc, kb, md, bInPlace)
					continue
				}
				g.macro(buf, ablk, bblk, ic, mb, jc, nb, pc, kb, md, bInPlace)
			}
		}
	}
}

func roundUp(x, m int) int { return (x + m - 1) / m * m }

// macro runs the micro-kernel over the mb×nb block of C at (ic, jc) for
// depth [pc, pc+kb). ablk is the packed A block, or nil to read A in place;
// bblk is the packed B block (unused when B is read in place).
func (g *gemm) macro(buf *gemmBuf, ablk, bblk []float32, ic, mb, jc, nb, pc, kb, mode int, bInPlace bool) {
	aInPlace := ablk == nil
	for jr := 0; jr < nb; jr += nr {
		nn := min(nr, nb-jr)
		var bp []float32
		rsb := nr
		switch {
		case !bInPlace:
			bp = bblk[jr*kb:]
		case nn == nr:
			bp = g.b[pc*g.ldb+jc+jr:]
			rsb = g.ldb
		default:
			g.packBPanel(buf.bEdge, pc, kb, jc+jr, nn)
			bp = buf.bEdge
		}
		ir := 0
		if full := mb / mr; nn == nr && full > 0 {
			// All full tiles of this column in one kernel call.
			ap, rsa, csa, pa := g.aPanels(ablk, ic, pc, kb)
			kernels(full, kb, ap, rsa, csa, pa, bp, rsb, g.c[ic*g.ldc+jc+jr:], g.ldc, g.alpha, g.beta, mode)
			ir = full * mr
		}
		for ; ir < mb; ir += mr {
			// Edge tiles: compute into t,
			// merge the valid corner.
			mm := min(mr, mb-ir)
			var ap []float32
			rsa, csa := 1, mr
			if aInPlace && mm < mr {
				g.packAPanel(buf.aEdge, ic+ir, mm, pc, kb)
				ap = buf.aEdge
			} else {
				ap, rsa, csa, _ = g.aPanels(ablk, ic+ir, pc, kb)
				if !aInPlace {
					ap = ablk[ir*kb:]
				}
			}
			var t [mr * nr]float32
			kernels(1, kb, ap, rsa, csa, 0, bp, rsb, t[:], nr, 1, 0, betaZero)
			mergeEdge(g.c[(ic+ir)*g.ldc+jc+jr:], g.ldc, t[:], mm, nn, g.alpha, g.beta, mode)
		}
	}
}

// macroStrips is macro for A read in place (n ≤ skinny): it walks A once,
// six rows at a time, and multiplies each strip by every B panel while the
// strip is still in L1, so that A (a weight matrix when decoding) streams
// from memory once at full length instead of once per B panel in short
// kc-long pieces.
func (g *gemm) macroStrips(buf *gemmBuf, bblk []float32, ic, mb, jc, nb, pc, kb, mode int, bInPlace bool) {
	var panels [skinny / nr]struct {
		b       []float32
		rsb, nn int
	}
	np := (nb + nr - 1) / nr
	for q := range np {
		jr := q * nr
		nn := min(nr, nb-jr)
		pn := &panels[q]
		pn.nn, pn.rsb = nn, nr
		switch {
		case !bInPlace:
			pn.b = bblk[jr*kb:]
		case nn == nr:
			pn.b, pn.rsb = g.b[pc*g.ldb+jc+jr:], g.ldb
		default:
			g.packBPanel(buf.bEdge, pc, kb, jc+jr, nn)
			pn.b = buf.bEdge
		}
	}
	for ir := 0; ir < mb; ir += mr {
		mm := min(mr, mb-ir)
		ap, rsa, csa, _ := g.aPanels(nil, ic+ir, pc, kb)
		if mm < mr {
			g.packAPanel(buf.aEdge, ic+ir, mm, pc, kb)
			ap, rsa, csa = buf.aEdge, 1, mr
		}
		// The next strip, to prefetch a share of during each panel.
		var next []float32
		if !g.transA && ir+2*mr <= mb {
			i := ic + ir + mr
			next = g.a[i*g.lda+pc : (i+mr-1)*g.lda+pc+kb]
		}
		l1 := 4*len(next) <= prefetchL1Bytes
		for q := range np {
			pn := &panels[q]
			jr := q * nr
			if mm == mr && pn.nn == nr {
				pf := next[q*len(next)/np : (q+1)*len(next)/np]
				kernelsPF(1, kb, ap, rsa, csa, 0, pn.b, pn.rsb, g.c[(ic+ir)*g.ldc+jc+jr:], g.ldc, g.alpha, g.beta, mode, pf, l1)
				continue
			}
			var t [mr * nr]float32
			kernels(1, kb, ap, rsa, csa, 0, pn.b, pn.rsb, t[:], nr, 1, 0, betaZero)
			mergeEdge(g.c[(ic+ir)*g.ldc+jc+jr:], g.ldc, t[:], mm, pn.nn, g.alpha, g.beta, mode)
		}
	}
}

// aPanels returns where the A panels for rows from i (of the block starting
// at depth pc) are and their strides: the packed block ablk (i must then be
// the block's first row), or op(A) itself when ablk is nil.
func (g *gemm) aPanels(ablk []float32, i, pc, kb int) (ap []float32, rsa, csa, pa int) {
	switch {
	case ablk != nil:
		return ablk, 1, mr, kb * mr
	case g.transA:
		return g.a[pc*g.lda+i:], 1, g.lda, mr
	default:
		return g.a[i*g.lda+pc:], g.lda, 1, mr * g.lda
	}
}

// mergeEdge merges the mm×nn corner of a kernel tile t (alpha not applied)
// into C.
func mergeEdge(c []float32, ldc int, t []float32, mm, nn int, alpha, beta float32, mode int) {
	for i := range mm {
		row := c[i*ldc : i*ldc+nn]
		tr := t[i*nr : i*nr+nn]
		switch mode {
		case betaZero:
			for j := range row {
				row[j] = alpha * tr[j]
			}
		case betaOne:
			for j := range row {
				row[j] += alpha * tr[j]
			}
		default:
			for j := range row {
				row[j] = alpha*tr[j] + beta*row[j]
			}
		}
	}
}
