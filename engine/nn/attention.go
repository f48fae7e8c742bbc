package nn

import (
	"math"

	"github.com/strata-ml/strata/engine/compute"
)

// Tile sizes of the attention kernels: queries per tile and keys per tile.
// No (T, T) score matrix is formed; each worker holds one (tq, tk) tile.
const (
	tileQ = 64
	tileK = 128
)

// AttnShape describes a batched causal attention call.
type AttnShape struct {
	B, T   int // rows and tokens per row (N = B·T)
	H, Hkv int // query heads and key/value heads (H % Hkv == 0; GQA)
	D      int // head dim
	// Window, if > 0, is a sliding window: query i sees key j only when
	// i − Window < j ≤ i (Mistral's sliding_window).
	Window int
}

// headArgs is one head's problem: nq queries at absolute indices qOff+i
// against nk keys, in strided row-major storage.
type headArgs struct {
	q       []float32 // (nq, ldq) head columns at offset 0
	k, v    []float32 // (nk, ldkv) head columns at offset 0
	o       []float32 // (nq, ldo)
	lse     []float32 // (nq)
	ldq     int
	ldkv    int
	ldo     int
	nq, nk  int
	qOff    int
	d       int
	window  int
	segQ    []int32 // (nq) or nil
	segK    []int32 // (nk) or nil
	segLo   []int32 // (nq) first key index of each query's segment, or nil
	scale   float32
	s, acc  []float32 // scratch (tileQ·tileK), (tileQ·d)
	mrow, l []float32 // scratch (tileQ)
}

// keyRange returns the keys [lo, hi) that queries [i0, i1) may see.
func (a *headArgs) keyRange(i0, i1 int) (lo, hi int) {
	hi = min(a.nk, a.qOff+i1)
	if a.window > 0 {
		lo = max(0, a.qOff+i0-a.window+1)
	}
	if a.segLo != nil {
		m := int(a.segLo[i0])
		for i := i0 + 1; i < i1; i++ {
			m = min(m, int(a.segLo[i]))
		}
		lo = max(lo, m)
	}
	return lo, hi
}

// maskRow sets to −Inf the entries of row (keys j0..j0+len(row)-1) that
// query i may not see.
func (a *headArgs) maskRow(row []float32, i, j0 int) {
	negInf := float32(math.Inf(-1))
	ai := a.qOff + i
	n := len(row)
	hi := min(max(ai-j0+1, 0), n) // causal: keys after ai
	for j := hi; j < n; j++ {
		row[j] = negInf
	}
	lo := 0
	if a.window > 0 {
		lo = min(max(ai-a.window+1-j0, 0), n) // window: keys at or before ai-window
		for j := 0; j < lo; j++ {
			row[j] = negInf
		}
	}
	if a.segQ != nil {
		sq := a.segQ[i]
		sk := a.segK[j0:]
		for j := lo; j < hi; j++ {
			if sk[j] != sq {
				row[j] = negInf
			}
		}
	}
}

// fullTile reports whether every (i, j) in the tile is visible.
func (a *headArgs) fullTile(i0, i1, j0, j1 int) bool {
	if a.segQ != nil || j1-1 > a.qOff+i0 {
		return false
	}
	return a.window <= 0 || a.qOff+i1-1-j0 < a.window
}

// forward runs one head with online softmax over key tiles.
func (a *headArgs) forward() {
	d := a.d
	negInf := float32(math.Inf(-1))
	for i0 := 0; i0 < a.nq; i0 += tileQ {
		i1 := min(i0+tileQ, a.nq)
		nqt := i1 - i0
		for i := range nqt {
			a.mrow[i] = negInf
			a.l[i] = 0
		}
		clear(a.acc[:nqt*d])
		klo, khi := a.keyRange(i0, i1)
		for j0 := klo; j0 < khi; j0 += tileK {
			j1 := min(j0+tileK, khi)
			nkt := j1 - j0
			compute.Sgemm(false, true, nqt, nkt, d, a.scale, a.q[i0*a.ldq:], a.ldq, a.k[j0*a.ldkv:], a.ldkv, 0, a.s, tileK)
			full := a.fullTile(i0, i1, j0, j1)
			for i := range nqt {
				row := a.s[i*tileK : i*tileK+nkt]
				if !full {
					a.maskRow(row, i0+i, j0)
				}
				mx := a.mrow[i]
				for _, x := range row {
					if x > mx {
						mx = x
					}
				}
				if mx == negInf { // nothing visible yet in this row
					clear(row)
					continue
				}
				corr := Expf(a.mrow[i] - mx)
				a.mrow[i] = mx
				sum := ExpSubSum(row, row, mx)
				a.l[i] = a.l[i]*corr + sum
				if corr != 1 {
					acc := a.acc[i*d : (i+1)*d]
					for c := range acc {
						acc[c] *= corr
					}
				}
			}
			compute.Sgemm(false, false, nqt, d, nkt, 1, a.s, tileK, a.v[j0*a.ldkv:], a.ldkv, 1, a.acc, d)
		}
		for i := range nqt {
			o := a.o[(i0+i)*a.ldo : (i0+i)*a.ldo+d]
			acc := a.acc[i*d : (i+1)*d]
			inv := 1 / a.l[i]
			for c := range o {
				o[c] = acc[c] * inv
			}
			if a.lse != nil {
				a.lse[i0+i] = a.mrow[i] + float32(math.Log(float64(a.l[i])))
			}
		}
	}
}

func newHeadArgs(d int) *headArgs { return newHeadArgsRows(d, tileQ) }

// newHeadArgsRows sizes the scratch for at most rows queries per tile
// (decode steps have one).
func newHeadArgsRows(d, rows int) *headArgs {
	rows = max(1, min(rows, tileQ))
	return &headArgs{d: d, s: make([]float32, rows*tileK), acc: make([]float32, rows*d),
		mrow: make([]float32, rows), l: make([]float32, rows)}
}

// SegmentStarts returns, for each token, the index (within its row) of the
// first token of its row with the same segment id, or nil if seg is nil.
//
//	seg (B·T) → (B·T)
func SegmentStarts(seg []int32, b, t int) []int32 {
	if seg == nil {
		return nil
	}
	out := make([]int32, len(seg))
	for r := range b {
		first := map[int32]int32{}
		for i := range t {
			s := seg[r*t+i]
			f, ok := first[s]
			if !ok {
				f = int32(i)
				first[s] = f
			}
			out[r*t+i] = f
		}
	}
	return out
}

// AttentionForward computes causal grouped-query attention, softmax(q·kᵀ/√D)·v,
// with query head h reading key/value head h/(H/Hkv).
//
//	q (N, H·D)  k, v (N, Hkv·D)  seg (N) or nil  segLo (N) from SegmentStarts or nil
//	o (N, H·D)  lse (B, H, T) log-sum-exp of each query's scores, for the backward
func AttentionForward(o, lse, q, k, v []float32, seg, segLo []int32, s AttnShape) {
	hd, kd := s.H*s.D, s.Hkv*s.D
	scale := float32(1 / math.Sqrt(float64(s.D)))
	group := s.H / s.Hkv
	compute.Parallel(s.B*s.H, func(lo, hi int) {
		a := newHeadArgs(s.D)
		for u := lo; u < hi; u++ {
			b, h := u/s.H, u%s.H
			kh := h / group
			r0 := b * s.T
			a.q, a.ldq = q[r0*hd+h*s.D:], hd
			a.k, a.v, a.ldkv = k[r0*kd+kh*s.D:], v[r0*kd+kh*s.D:], kd
			a.o, a.ldo = o[r0*hd+h*s.D:], hd
			a.lse = lse[(b*s.H+h)*s.T : (b*s.H+h+1)*s.T]
			a.nq, a.nk, a.qOff, a.window, a.scale = s.T, s.T, 0, s.Window, scale
			a.segQ, a.segK, a.segLo = nil, nil, nil
			if seg != nil {
				a.segQ, a.segK, a.segLo = seg[r0:r0+s.T], seg[r0:r0+s.T], segLo[r0:r0+s.T]
			}
			a.forward()
		}
	})
}

// AttentionBackward is the backward of AttentionForward (FlashAttention-2
// style: probabilities are recomputed tile by tile from lse). It overwrites
// dq, dk and dv.
//
//	do, o, q (N, H·D)  k, v (N, Hkv·D)  lse (B, H, T)
//	dq (N, H·D)  dk, dv (N, Hkv·D)
func AttentionBackward(dq, dk, dv, do, o, lse, q, k, v []float32, seg, segLo []int32, s AttnShape) {
	hd, kd, d := s.H*s.D, s.Hkv*s.D, s.D
	scale := float32(1 / math.Sqrt(float64(d)))
	group := s.H / s.Hkv
	compute.Parallel(s.B*s.Hkv, func(lo, hi int) {
		a := newHeadArgs(d)
		dp := make([]float32, tileQ*tileK)
		di := make([]float32, tileQ)
		for u := lo; u < hi; u++ {
			b, kh := u/s.Hkv, u%s.Hkv
			r0 := b * s.T
			for t := range s.T {
				clear(dk[(r0+t)*kd+kh*d : (r0+t)*kd+kh*d+d])
				clear(dv[(r0+t)*kd+kh*d : (r0+t)*kd+kh*d+d])
			}
			a.k, a.v, a.ldkv = k[r0*kd+kh*d:], v[r0*kd+kh*d:], kd
			a.nq, a.nk, a.qOff, a.window, a.scale = s.T, s.T, 0, s.Window, scale
			a.segQ, a.segK, a.segLo = nil, nil, nil
			if seg != nil {
				a.segQ, a.segK, a.segLo = seg[r0:r0+s.T], seg[r0:r0+s.T], segLo[r0:r0+s.T]
			}
			dkh, dvh := dk[r0*kd+kh*d:], dv[r0*kd+kh*d:]
			for h := kh * group; h < (kh+1)*group; h++ {
				qh, doh, oh, dqh := q[r0*hd+h*d:], do[r0*hd+h*d:], o[r0*hd+h*d:], dq[r0*hd+h*d:]
				lh := lse[(b*s.H+h)*s.T:]
				for t := range s.T {
					clear(dqh[t*hd : t*hd+d])
				}
				for i0 := 0; i0 < s.T; i0 += tileQ {
					i1 := min(i0+tileQ, s.T)
					nqt := i1 - i0
					for i := range nqt {
						var sum float32
						dr, or := doh[(i0+i)*hd:(i0+i)*hd+d], oh[(i0+i)*hd:(i0+i)*hd+d]
						for c := range dr {
							sum += dr[c] * or[c]
						}
						di[i] = sum
					}
					klo, khi := a.keyRange(i0, i1)
					for j0 := klo; j0 < khi; j0 += tileK {
						j1 := min(j0+tileK, khi)
						nkt := j1 - j0
						compute.Sgemm(false, true, nqt, nkt, d, scale, qh[i0*hd:], hd, a.k[j0*kd:], kd, 0, a.s, tileK)
						full := a.fullTile(i0, i1, j0, j1)
						for i := range nqt {
							row := a.s[i*tileK : i*tileK+nkt]
							if !full {
								a.maskRow(row, i0+i, j0)
							}
							ExpSubSum(row, row, lh[i0+i])
						}
						// dV_j += Pᵀ·dO_i
						compute.Sgemm(true, false, nkt, d, nqt, 1, a.s, tileK, doh[i0*hd:], hd, 1, dvh[j0*kd:], kd)
						// dP = dO_i·V_jᵀ
						compute.Sgemm(false, true, nqt, nkt, d, 1, doh[i0*hd:], hd, a.v[j0*kd:], kd, 0, dp, tileK)
						// dS = P ⊙ (dP − Di), into dp
						for i := range nqt {
							p := a.s[i*tileK : i*tileK+nkt]
							g := dp[i*tileK : i*tileK+nkt]
							dd := di[i]
							for j := range g {
								g[j] = p[j] * (g[j] - dd)
							}
						}
						// dQ_i += scale·dS·K_j ; dK_j += scale·dSᵀ·Q_i
						compute.Sgemm(false, false, nqt, d, nkt, scale, dp, tileK, a.k[j0*kd:], kd, 1, dqh[i0*hd:], hd)
						compute.Sgemm(true, false, nkt, d, nqt, scale, dp, tileK, qh[i0*hd:], hd, 1, dkh[j0*kd:], kd)
					}
				}
			}
		}
	})
}

// AttentionCached computes attention for nq new queries of one sequence at
// absolute positions qOff..qOff+nq-1 against nk ≥ qOff+nq cached keys (which
// include the new ones), for inference.
//
//	q (nq, H·D)  k, v (nk, Hkv·D)  o (nq, H·D)
//
// One new query (decoding) takes a direct path: per head, dot products
// with the visible keys, a softmax and a weighted sum of values, with no
// tiles and no per-call GEMM setup (see attendOne).
func AttentionCached(o, q, k, v []float32, nq, nk, qOff, h, hkv, d, window int) {
	hd, kd := h*d, hkv*d
	scale := float32(1 / math.Sqrt(float64(d)))
	group := h / hkv
	if nq == 1 {
		klo, khi := keyRangeAt(qOff, nk, window)
		compute.Parallel(h, func(lo, hi int) {
			attendOne(o, q, k, v, lo, hi, klo, khi, group, d, hd, kd, scale)
		})
		return
	}
	compute.Parallel(h, func(lo, hi int) {
		a := newHeadArgsRows(d, nq)
		for hh := lo; hh < hi; hh++ {
			kh := hh / group
			a.q, a.ldq = q[hh*d:], hd
			a.k, a.v, a.ldkv = k[kh*d:], v[kh*d:], kd
			a.o, a.ldo, a.lse = o[hh*d:], hd, nil
			a.nq, a.nk, a.qOff, a.window, a.scale = nq, nk, qOff, window, scale
			a.forward()
		}
	})
}

// attendOne computes heads [hlo, hhi) of one query row q (H·D) against keys
// and values [klo, khi) of k, v (rows of kd floats), into o.
func attendOne(o, q, k, v []float32, hlo, hhi, klo, khi, group, d, hd, kd int, scale float32) {
	if khi <= klo {
		clear(o[hlo*d : hhi*d])
		return
	}
	var stack [512]float32
	s := stack[:0]
	if n := khi - klo; n <= len(stack) {
		s = stack[:n]
	} else {
		s = make([]float32, n)
	}
	for hh := hlo; hh < hhi; hh++ {
		off := hh / group * d
		kh, vh := k[klo*kd+off:], v[klo*kd+off:]
		compute.Gemv(s, scale, kh, kd, q[hh*d:hh*d+d])
		// A NaN score is skipped by maxOf but still turns the output to
		// NaN through its exponential.
		sum := ExpSubSum(s, s, maxOf(s))
		oh := o[hh*d : hh*d+d]
		compute.GemvT(oh, vh, kd, s)
		compute.Scale(1/sum, oh)
	}
}
