package nn

import (
	"math"

	"github.com/strata-ml/strata/engine/compute"
)

// LMHeadBudget bounds the logits LMHeadLoss holds at once, in floats (64 MiB).
const LMHeadBudget = 16 << 20

// LMHead describes the fused output projection and cross-entropy.
type LMHead struct {
	W    []float32 // (V, C) output weights (the embedding when tied)
	DW   []float32 // (V, C) gradient to add into, or nil (frozen)
	V, C int
	// Chunk is the number of token rows per chunk (0: LMHeadBudget/V, at
	// least 16); only Chunk×V logits exist at a time.
	Chunk int
	// Scratch, if large enough (Chunk×V), holds the logits chunk.
	Scratch []float32
}

// Loss computes the summed cross-entropy of softmax(h·Wᵀ) against targets
// over the rows whose target is not ignore, and the number of such rows.
// If dh is non-nil it also runs the backward pass with the loss scaled by
// gscale (typically LossScale/nTargets): dh (N, C) is OVERWRITTEN (zero for
// ignored rows) and DW, when set, accumulates.
//
// Rows with an ignored target are skipped entirely (no logits computed).
// Logits are formed chunk by chunk of rows, so the (N, V) matrix never
// exists; forward and backward are fused, so nothing is recomputed.
//
//	h (N, C)  targets (N)  dh (N, C) or nil
func (m *LMHead) Loss(h []float32, targets []int32, ignore int32, dh []float32, gscale float32) (sum float64, count int) {
	c, v := m.C, m.V
	n := len(targets)
	rows := make([]int, 0, n)
	for i, t := range targets {
		if t != ignore {
			rows = append(rows, i)
		}
	}
	if dh != nil {
		clear(dh[:n*c])
	}
	if len(rows) == 0 {
		return 0, 0
	}
	chunk := m.Chunk
	if chunk <= 0 {
		chunk = max(16, LMHeadBudget/v)
	}
	chunk = min(chunk, len(rows))
	hc := make([]float32, chunk*c)
	logits := m.Scratch
	if len(logits) < chunk*v {
		logits = make([]float32, chunk*v)
	}
	var dhc []float32
	if dh != nil {
		dhc = make([]float32, chunk*c)
	}
	// Each row's loss, summed in row order after the parallel part: the
	// sum does not depend on how the rows were split between threads.
	rowLoss := make([]float64, chunk)
	for r0 := 0; r0 < len(rows); r0 += chunk {
		r1 := min(r0+chunk, len(rows))
		nr := r1 - r0
		for i := range nr {
			copy(hc[i*c:(i+1)*c], h[rows[r0+i]*c:(rows[r0+i]+1)*c])
		}
		compute.Sgemm(false, true, nr, v, c, 1, hc, c, m.W, c, 0, logits, v)
		compute.Parallel(nr, func(lo, hi int) {
			for i := lo; i < hi; i++ {
				row := logits[i*v : (i+1)*v]
				mx := float32(math.Inf(-1))
				for _, x := range row {
					if x > mx {
						mx = x
					}
				}
				t := int(targets[rows[r0+i]])
				xt := row[t]
				s := float64(ExpSubSum(row, row, mx)) // row = exp(x − max)
				if dh != nil {
					f := gscale / float32(s)
					for j := range row {
						row[j] *= f
					}
					row[t] -= gscale
				}
				rowLoss[i] = float64(mx) + math.Log(s) - float64(xt)
			}
		})
		for _, l := range rowLoss[:nr] {
			sum += l
		}
		if dh != nil {
			compute.Sgemm(false, false, nr, c, v, 1, logits, v, m.W, c, 0, dhc, c)
			for i := range nr {
				copy(dh[rows[r0+i]*c:(rows[r0+i]+1)*c], dhc[i*c:(i+1)*c])
			}
			if m.DW != nil {
				compute.Sgemm(true, false, v, c, nr, 1, logits, v, hc, c, 1, m.DW, c)
			}
		}
	}
	return sum, len(rows)
}
