package nn

import (
	"math"
	"sync"

	"github.com/strata-ml/strata/engine/compute"
)

// AttentionCachedBF16 is AttentionCached over a bfloat16 KV cache: k and v
// are bfloat16 bits (rows of hkv·d). It computes what llama.cpp computes
// over a BF16 cache (without flash attention): the query is rounded to
// bfloat16 for the scores, the softmax probabilities, normalized, are
// rounded to bfloat16 for the weighted sum of the values, the products of
// two bfloat16 values are exact and the sums are float32. A decoding
// query (nq ≤ 4 rows) runs per row over the cache as it lies (half the
// bytes of a float32 cache, VDPBF16PS where the CPU has AVX512-BF16);
// more rows compute each head's scores and weighted sums as two bfloat16
// products (AMX tiles where the CPU has them), the same sums in another
// order.
func AttentionCachedBF16(o, q []float32, k, v []uint16, nq, nk, qOff, h, hkv, d, window int) {
	hd, kd := h*d, hkv*d
	scale := float32(1 / math.Sqrt(float64(d)))
	group := h / hkv
	compute.Parallel(h, func(lo, hi int) {
		sc := bf16ScratchPool.Get().(*bf16Scratch)
		defer bf16ScratchPool.Put(sc)
		for hh := lo; hh < hi; hh++ {
			off := hh / group * d
			if nq <= 4 {
				for i := range nq {
					attendRowBF16(sc, o[i*hd+hh*d:i*hd+hh*d+d], q[i*hd+hh*d:i*hd+hh*d+d], k[off:], v[off:], kd, qOff+i, nk, window, scale)
				}
				continue
			}
			attendRowsBF16(sc, o[hh*d:], q[hh*d:], hd, k[off:], v[off:], kd, nq, nk, qOff, d, window, scale)
		}
	})
}

// bf16Scratch is one thread's buffers for AttentionCachedBF16.
type bf16Scratch struct {
	s    []float32
	bits []uint16
}

var bf16ScratchPool = sync.Pool{New: func() any { return new(bf16Scratch) }}

func growF(s []float32, n int) []float32 {
	if cap(s) < n {
		return make([]float32, n)
	}
	return s[:n]
}

// keyRangeAt returns the keys [lo, hi) that the query at position pos
// sees among nk.
func keyRangeAt(pos, nk, window int) (lo, hi int) {
	hi = min(nk, pos+1)
	if window > 0 {
		lo = max(0, pos-window+1)
	}
	return lo, hi
}

// softmax turns scores into probabilities (normalized), in place.
func softmax(s []float32) {
	sum := ExpSubSum(s, s, maxOf(s))
	compute.Scale(1/sum, s)
}

// attendRowBF16 computes one head of one query row (q, d values, at
// position pos) into o, against keys and values k, v (bfloat16 rows kd
// apart, this head's first element at 0): both products on bfloat16
// operands as they lie (compute.GemvBF16BF16, GemvTBF16BF16).
func attendRowBF16(sc *bf16Scratch, o, q []float32, k, v []uint16, kd, pos, nk, window int, scale float32) {
	lo, hi := keyRangeAt(pos, nk, window)
	if hi <= lo {
		clear(o)
		return
	}
	n := hi - lo
	if cap(sc.bits) < max(len(q), n) {
		sc.bits = make([]uint16, max(len(q), n))
	}
	qb := sc.bits[:len(q)]
	compute.ToBF16(qb, q)
	sc.s = growF(sc.s, n)
	s := sc.s
	compute.GemvBF16BF16(s, scale, k[lo*kd:], kd, qb)
	softmax(s)
	pb := sc.bits[:n]
	compute.ToBF16(pb, s)
	compute.GemvTBF16BF16(o, v[lo*kd:], kd, pb)
}

// attendRowsBF16 computes one head of nq query rows (row i of q at i·ld,
// position qOff+i) into o (row stride ld too): the scores of every row
// against every key as one product, each row's probabilities over its own
// keys (zero elsewhere), and the weighted sums as one product with the
// values along its depth (both on AMX tiles where the CPU has them; each
// rounds its left operand, the query and the probabilities, to bfloat16).
func attendRowsBF16(sc *bf16Scratch, o, q []float32, ld int, k, v []uint16, kd, nq, nk, qOff, d, window int, scale float32) {
	sc.s = growF(sc.s, nq*nk)
	s := sc.s
	compute.SgemmBF16BF16(nq, nk, d, scale, q, ld, k, kd, 0, s, nk)
	for i := range nq {
		row := s[i*nk : (i+1)*nk]
		lo, hi := keyRangeAt(qOff+i, nk, window)
		if hi <= lo {
			clear(row)
			continue
		}
		softmax(row[lo:hi])
		clear(row[:lo])
		clear(row[hi:])
	}
	compute.SgemmBF16BF16NN(nq, d, nk, 1, s, nk, v, kd, 0, o, ld)
}
