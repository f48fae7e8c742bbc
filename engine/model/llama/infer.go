package llama

import (
	"fmt"

	"github.com/strata-ml/strata/engine/compute"
	"github.com/strata-ml/strata/engine/lora"
	"github.com/strata-ml/strata/engine/model"
	"github.com/strata-ml/strata/engine/nn"
)

// Step runs the new tokens of every sequence through the model, appending
// their keys and values to each sequence's cache, and returns each
// sequence's logits: the last new token's (V), or all new tokens' (T_new·V)
// when Seq.AllLogits. Linear layers run once over the concatenation of all
// sequences' new tokens; attention runs per sequence over its own cache;
// each sequence's Adapter (if any) is added unmerged to its own rows only.
// The model's trainable adapter (EnableLoRA) is NOT applied; pass it as
// Seq.Adapter to generate with it.
//
// On error no cache is modified.
func (m *Model) Step(seqs []model.Seq) ([][]float32, error) {
	cfg := m.cfg
	c, qd, kd, ff, v := cfg.HiddenSize, cfg.QDim(), cfg.KVDim(), cfg.IntermediateSize, cfg.VocabSize
	sb := m.getStepBuf()
	defer m.stepPool.Put(sb)
	sb.off = growInts(sb.off, len(seqs)+1)
	off := sb.off // row offsets of each sequence
	off[0] = 0
	for i, s := range seqs {
		if len(s.Tokens) == 0 {
			return nil, fmt.Errorf("llama: step: sequence %d has no new tokens", i)
		}
		if s.Cache == nil || s.Cache.L != len(m.Layers) || s.Cache.Dim != kd {
			return nil, fmt.Errorf("llama: step: sequence %d: cache missing or not made by this model's NewCache", i)
		}
		for j, t := range s.Tokens {
			if t < 0 || int(t) >= v {
				return nil, fmt.Errorf("llama: step: sequence %d: token %d at %d out of vocabulary [0, %d)", i, t, j, v)
			}
		}
		if s.Adapter != nil {
			if err := m.CheckAdapter(s.Adapter); err != nil {
				return nil, fmt.Errorf("llama: step: sequence %d: %w", i, err)
			}
		}
		for k := range i {
			if seqs[k].Cache == s.Cache {
				return nil, fmt.Errorf("llama: step: sequences %d and %d share a cache", k, i)
			}
		}
		off[i+1] = off[i] + len(s.Tokens)
	}
	n := off[len(seqs)]
	tokens := sb.tokens[:0]
	pos := sb.pos[:0]
	for _, s := range seqs {
		tokens = append(tokens, s.Tokens...)
		for j := range s.Tokens {
			pos = append(pos, int32(s.Cache.Len+j))
		}
		s.Cache.Reserve(s.Cache.Len + len(s.Tokens))
	}
	sb.tokens, sb.pos = tokens, pos
	cos, sin := nn.RopeTable(pos, m.invFreq)
	sb.x, sb.h, sb.q = grow(sb.x, n*c), grow(sb.h, n*c), grow(sb.q, n*qd)
	sb.k, sb.v, sb.att = grow(sb.k, n*kd), grow(sb.v, n*kd), grow(sb.att, n*qd)
	sb.gate, sb.up = grow(sb.gate, n*ff), grow(sb.up, n*ff)
	x, h, q, k, vv, att, gate, up := sb.x, sb.h, sb.q, sb.k, sb.v, sb.att, sb.gate, sb.up
	m.embed(x, tokens)
	// Sequences sharing an adapter are grouped so each adapter costs two
	// matrix products per projection, whatever the number of its sequences.
	type group struct {
		a    *lora.Adapter
		seqs []int
		rows int
	}
	var groups []*group
	byAdapter := map[*lora.Adapter]*group{}
	for i, s := range seqs {
		if s.Adapter == nil {
			continue
		}
		g := byAdapter[s.Adapter]
		if g == nil {
			g = &group{a: s.Adapter}
			byAdapter[s.Adapter] = g
			groups = append(groups, g)
		}
		g.seqs = append(g.seqs, i)
		g.rows += off[i+1] - off[i]
	}
	// adapt adds the adapters' deltas of modules mods to their outputs ys
	// (the modules share the input xin; module i's row r is at
	// ys[i][r·ld:], as in one fused product's output). The low-rank
	// products of every (module, group) pair are small and independent:
	// they run as the units of one parallel region (a lone unit's products
	// split over the threads themselves).
	adapt := func(xin []float32, l int, mods []lora.Module, ld int, ys ...[]float32) {
		units := len(groups) * len(mods)
		if units == 0 {
			return
		}
		if len(sb.lora) < units {
			sb.lora = append(sb.lora, make([]loraBuf, units-len(sb.lora))...)
		}
		compute.Parallel(units, func(lo, hi int) {
			for u := lo; u < hi; u++ {
				mi, g := u/len(groups), groups[u%len(groups)]
				in, out := projShape(cfg, mods[mi])
				addLoRA(ys[mi], max(ld, out), xin, g.a, g.seqs, g.rows, off, l, mods[mi], in, out, &sb.lora[u])
			}
		})
	}
	proj := func(y, xin []float32, l int, mod lora.Module) {
		in, out := projShape(cfg, mod)
		L := m.Layers[l]
		var bias []float32
		if L.Bias[mod] != nil {
			bias = L.Bias[mod].F32
		}
		sb.linearW(y, xin, L.Proj[mod], bias, n, in, out)
		if len(groups) > 0 {
			adapt(xin, l, []lora.Module{mod}, 0, y)
		}
	}
	// product computes the projections of f (which share the input xin),
	// adapters included, as one product into sb.fz (n rows of f.out: each
	// module's outputs one after the other), if f is live
	// (FuseProjections); it reports false, doing nothing, if not.
	product := func(f *fused, xin []float32, l int) bool {
		if !f.live(cfg, m.Layers[l]) {
			return false
		}
		in, _ := projShape(cfg, f.mods[0])
		sb.fz = grow(sb.fz, n*f.out)
		fz := sb.fz
		sb.linearData(fz, xin, f.f32, f.bf16, f.bias, n, in, f.out)
		if len(groups) > 0 {
			views := make([][]float32, len(f.mods))
			o := 0
			for i, mod := range f.mods {
				views[i] = fz[o:]
				_, out := projShape(cfg, mod)
				o += out
			}
			adapt(xin, l, f.mods, f.out, views...)
		}
		return true
	}
	// projs computes the projections of f (which share the input xin) into
	// ys: as one product when f is live (FuseProjections), else one each.
	projs := func(f *fused, xin []float32, l int, ys ...[]float32) {
		if !product(f, xin, l) {
			for i, mod := range f.mods {
				proj(ys[i], xin, l, mod)
			}
			return
		}
		fz := sb.fz
		split := func(lo, hi int) {
			for r := lo; r < hi; r++ {
				o := 0
				for i, mod := range f.mods {
					_, out := projShape(cfg, mod)
					copy(ys[i][r*out:(r+1)*out], fz[r*f.out+o:r*f.out+o+out])
					o += out
				}
			}
		}
		if n*f.out < 1<<16 {
			split(0, n)
		} else {
			compute.Parallel(n, split)
		}
	}
	// Rows whose logits are wanted, and where each sequence's start among
	// them (the prompt's last token alone, unless Seq.AllLogits).
	rows := sb.rows[:0]
	sb.off2 = growInts(sb.off2, len(seqs)+1)
	off2 := sb.off2
	for i, s := range seqs {
		off2[i] = len(rows)
		if s.AllLogits {
			for r := off[i]; r < off[i+1]; r++ {
				rows = append(rows, r)
			}
		} else {
			rows = append(rows, off[i+1]-1)
		}
	}
	off2[len(seqs)] = len(rows)
	sb.rows = rows
	// Only those rows go past the last layer's attention (its keys and
	// values are all cached): a prompt's other rows are done then.
	last := len(m.Layers) - 1
	compact := len(rows) < n
	// The residual adds are fused with the norm that follows them; only
	// the first layer's input norm stands alone.
	nn.RMSNorm(h, nil, x, m.Layers[0].AttnNorm.F32, n, c, cfg.RMSNormEps)
	for l, L := range m.Layers {
		if L.qkv != nil {
			projs(L.qkv, h, l, q, k, vv)
		} else {
			proj(q, h, l, lora.QProj)
			proj(k, h, l, lora.KProj)
			proj(vv, h, l, lora.VProj)
		}
		nn.Rope(q, cos, sin, n, cfg.NumAttentionHeads, cfg.HeadDim, false)
		nn.Rope(k, cos, sin, n, cfg.NumKeyValueHeads, cfg.HeadDim, false)
		// Attention per sequence over its own cache, the sequences in
		// parallel (each call also splits its heads when threads are free).
		// In the last layer, compact, the queries are the wanted rows only
		// and their outputs are packed in order.
		short := compact && l == last
		compute.Parallel(len(seqs), func(lo, hi int) {
			for i := lo; i < hi; i++ {
				s := seqs[i]
				p0, rows := s.Cache.Len, off[i+1]-off[i]
				q0, o0, nq := off[i], off[i], rows
				if short {
					o0, nq = off2[i], off2[i+1]-off2[i]
					q0 = off[i+1] - nq
				}
				if c := s.Cache; c.BF16() {
					compute.ToBF16(c.K16[l][p0*kd:], k[off[i]*kd:off[i+1]*kd])
					compute.ToBF16(c.V16[l][p0*kd:], vv[off[i]*kd:off[i+1]*kd])
					nn.AttentionCachedBF16(att[o0*qd:], q[q0*qd:], c.K16[l], c.V16[l], nq, p0+rows, p0+rows-nq,
						cfg.NumAttentionHeads, cfg.NumKeyValueHeads, cfg.HeadDim, cfg.Window())
					continue
				}
				copy(s.Cache.K[l][p0*kd:], k[off[i]*kd:off[i+1]*kd])
				copy(s.Cache.V[l][p0*kd:], vv[off[i]*kd:off[i+1]*kd])
				nn.AttentionCached(att[o0*qd:], q[q0*qd:], s.Cache.K[l], s.Cache.V[l], nq, p0+rows, p0+rows-nq,
					cfg.NumAttentionHeads, cfg.NumKeyValueHeads, cfg.HeadDim, cfg.Window())
			}
		})
		if short {
			// From here on the step has the wanted rows only.
			for i, r := range rows {
				copy(x[i*c:(i+1)*c], x[r*c:(r+1)*c])
			}
			n, off = len(rows), off2
			for _, g := range groups {
				g.rows = 0
				for _, i := range g.seqs {
					g.rows += off[i+1] - off[i]
				}
			}
			for i := range rows {
				rows[i] = i
			}
		}
		proj(h, att, l, lora.OProj)
		nn.AddRMSNorm(h, x, h, L.MLPNorm.F32, n, c, cfg.RMSNormEps)
		// SwiGLU reads the fused product's halves in place.
		if product(L.gateUp, h, l) {
			nn.SwiGLURows(gate, sb.fz, n, ff)
		} else {
			proj(gate, h, l, lora.GateProj)
			proj(up, h, l, lora.UpProj)
			nn.SwiGLU(gate, gate, up)
		}
		proj(h, gate, l, lora.DownProj)
		if l+1 < len(m.Layers) {
			nn.AddRMSNorm(h, x, h, m.Layers[l+1].AttnNorm.F32, n, c, cfg.RMSNormEps)
		} else {
			nn.Add(x, h)
		}
	}
	for _, s := range seqs {
		s.Cache.Len += len(s.Tokens)
	}
	sb.hs = grow(sb.hs, len(rows)*c)
	hs := sb.hs
	for i, r := range rows {
		copy(hs[i*c:(i+1)*c], x[r*c:(r+1)*c])
	}
	nn.RMSNorm(hs, nil, hs, m.Norm.F32, len(rows), c, cfg.RMSNormEps)
	logits := make([]float32, len(rows)*v)
	sb.linearW(logits, hs, m.lmHeadWeight(), nil, len(rows), c, v)
	out := make([][]float32, len(seqs))
	ri := 0
	for i, s := range seqs {
		cnt := 1
		if s.AllLogits {
			cnt = len(s.Tokens)
		}
		out[i] = logits[ri*v : (ri+cnt)*v : (ri+cnt)*v]
		ri += cnt
	}
	return out, nil
}

// addLoRA adds adapter a's delta, scale·(x·Aᵀ)·Bᵀ, for module mod of layer
// l to the rows of y (n rows of out, row stride ldy) of the sequences seqs
// (rows of them in all; off holds each sequence's first row). A single
// sequence's rows are contiguous and used in place; several are gathered
// into buf first.
func addLoRA(y []float32, ldy int, xin []float32, a *lora.Adapter, seqs []int, rows int, off []int, l int, mod lora.Module, in, out int, buf *loraBuf) {
	pr := a.Pair(l, mod)
	if pr == nil {
		return
	}
	r := a.Config.Rank
	buf.lu = grow(buf.lu, rows*r)
	// up computes dst = scale·lu·Bᵀ + beta·dst, from Bᵀ when the adapter
	// keeps it (Adapter.PrepareServing): a few rows are then r row updates
	// instead of out dot products of length r.
	up := func(lu []float32, beta float32, dst []float32, ldd int) {
		if pr.BT != nil {
			compute.Sgemm(false, false, rows, out, r, a.Config.Scale(), lu, r, pr.BT, out, beta, dst, ldd)
			return
		}
		compute.Sgemm(false, true, rows, out, r, a.Config.Scale(), lu, r, pr.B, r, beta, dst, ldd)
	}
	if rows == 1 && pr.BT != nil {
		// One row (a decoding sequence): two matrix-vector products,
		// which stream A eight rows a pass and Bᵀ 64 columns a pass,
		// 1.5× the rate of the general product at one row; the scale
		// goes on the r values in between.
		i := seqs[0]
		lu := buf.lu[:r]
		compute.Gemv(lu, a.Config.Scale(), pr.A, in, xin[off[i]*in:off[i]*in+in])
		buf.dg = grow(buf.dg, out)
		compute.GemvT(buf.dg, pr.BT, out, lu)
		compute.Saxpy(1, buf.dg, y[off[i]*ldy:off[i]*ldy+out])
		return
	}
	if len(seqs) == 1 {
		i := seqs[0]
		compute.Sgemm(false, true, rows, r, in, 1, xin[off[i]*in:], in, pr.A, in, 0, buf.lu, r)
		up(buf.lu, 1, y[off[i]*ldy:], ldy)
		return
	}
	buf.xg, buf.dg = grow(buf.xg, rows*in), grow(buf.dg, rows*out)
	xg, lu, dg := buf.xg, buf.lu, buf.dg
	k := 0
	for _, i := range seqs { // gather the group's rows
		k += copy(xg[k:], xin[off[i]*in:off[i+1]*in])
	}
	compute.Sgemm(false, true, rows, r, in, 1, xg, in, pr.A, in, 0, lu, r)
	up(lu, 0, dg, out)
	k = 0
	for _, i := range seqs { // scatter-add the deltas
		for row := off[i]; row < off[i+1]; row++ {
			yy := y[row*ldy : row*ldy+out]
			for j, d := range dg[k : k+out] {
				yy[j] += d
			}
			k += out
		}
	}
}

// grow returns b resized to n, reallocating only when too small.
func grow(b []float32, n int) []float32 {
	if cap(b) < n {
		return make([]float32, n)
	}
	return b[:n]
}

// growInts is grow for []int.
func growInts(b []int, n int) []int {
	if cap(b) < n {
		return make([]int, n)
	}
	return b[:n]
}
