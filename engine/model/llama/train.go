package llama

import (
	"fmt"
	"math"

	"github.com/strata-ml/strata/engine/compute"
	"github.com/strata-ml/strata/engine/lora"
	"github.com/strata-ml/strata/engine/model"
	"github.com/strata-ml/strata/engine/nn"
)

// acts holds one layer's saved activations for the backward pass.
type acts struct {
	xIn   []float32                  // (N, C) layer input (residual stream)
	rstd1 []float32                  // (N)
	q     []float32                  // (N, H·D) after RoPE
	k, v  []float32                  // (N, Hkv·D), k after RoPE
	att   []float32                  // (N, H·D) attention output (o_proj input)
	lse   []float32                  // (B, H, T)
	xMid  []float32                  // (N, C) after the attention residual
	rstd2 []float32                  // (N)
	gate  []float32                  // (N, FF)
	up    []float32                  // (N, FF)
	lu    [lora.NumModules][]float32 // (N, r) dropout(x)·Aᵀ per LoRA target
}

func (m *Model) newActs(ar *arena, n, b, t int) *acts {
	c, qd, kd, ff := m.cfg.HiddenSize, m.cfg.QDim(), m.cfg.KVDim(), m.cfg.IntermediateSize
	a := &acts{rstd1: ar.get(n), q: ar.get(n * qd), k: ar.get(n * kd),
		v: ar.get(n * kd), att: ar.get(n * qd), lse: ar.get(b * m.cfg.NumAttentionHeads * t),
		xMid: ar.get(n * c), rstd2: ar.get(n), gate: ar.get(n * ff), up: ar.get(n * ff)}
	if m.adapter != nil {
		for mod := lora.QProj; mod < lora.NumModules; mod++ {
			if m.adapter.Layers[0][mod] != nil {
				a.lu[mod] = ar.get(n * m.adapter.Config.Rank)
			}
		}
	}
	return a
}

// arena hands out float32 buffers, reusing those of the previous pass when
// requests come in the same order with sizes that fit (every training step
// of a fixed batch shape), so steady-state steps allocate almost nothing.
// Buffers are NOT cleared.
type arena struct {
	bufs [][]float32
	next int
}

func (a *arena) reset() { a.next = 0 }

func (a *arena) get(n int) []float32 {
	if a.next < len(a.bufs) && cap(a.bufs[a.next]) >= n {
		b := a.bufs[a.next][:n]
		a.next++
		return b
	}
	b := make([]float32, n)
	if a.next < len(a.bufs) {
		a.bufs[a.next] = b
	} else {
		a.bufs = append(a.bufs, b)
	}
	a.next++
	return b
}

// ReleaseBuffers drops the buffers kept between passes (they are
// reallocated on the next call).
func (m *Model) ReleaseBuffers() {
	m.trainArena, m.evalArena = arena{}, arena{}
}

// pass is the state of one forward(/backward) over a batch.
type pass struct {
	m        *Model
	b        *model.Batch
	n        int
	cos, sin []float32 // (N, D/2)
	segLo    []int32
	shape    nn.AttnShape
	train    bool // dropout on
	ar       *arena
	dseed    uint64 // dropout stream of this pass
	// scratch
	h, act []float32 // (N, C), (N, FF)
	xd     []float32 // (N, max in) dropout input
}

func (m *Model) newPass(b *model.Batch, train bool) *pass {
	n := b.B * b.T
	pos := b.Pos
	if pos == nil {
		pos = make([]int32, n)
		for i := range pos {
			pos[i] = int32(i % b.T)
		}
	}
	ar := &m.evalArena
	if train {
		ar = &m.trainArena
	}
	ar.reset()
	p := &pass{m: m, b: b, n: n, train: train, ar: ar}
	p.cos, p.sin = nn.RopeTable(pos, m.invFreq)
	p.segLo = nn.SegmentStarts(b.Seg, b.B, b.T)
	p.shape = nn.AttnShape{B: b.B, T: b.T, H: m.cfg.NumAttentionHeads, Hkv: m.cfg.NumKeyValueHeads, D: m.cfg.HeadDim, Window: m.cfg.Window()}
	p.h = ar.get(n * m.cfg.HiddenSize)
	p.act = ar.get(n * m.cfg.IntermediateSize)
	if train {
		m.step++
		p.dseed = m.seed*0x9e3779b97f4a7c15 + m.step
	}
	return p
}

// dropoutInput returns x with LoRA dropout applied (the same mask is
// regenerated in the backward pass from the pass seed), or x itself.
func (p *pass) dropoutInput(x []float32, l int, mod lora.Module, in int) []float32 {
	a := p.m.adapter
	if !p.train || a == nil || a.Config.Dropout == 0 {
		return x
	}
	if cap(p.xd) < p.n*in {
		p.xd = make([]float32, p.n*in) // only with dropout; not worth the arena
	}
	xd := p.xd[:p.n*in]
	drop := a.Config.Dropout
	thr := uint64(drop * (1 << 32))
	keep := float32(1 / (1 - drop))
	key := p.dseed ^ uint64(l)<<40 ^ uint64(mod)<<56
	compute.Parallel(len(xd), func(lo, hi int) {
		for i := lo; i < hi; i++ {
			if splitmix(key+uint64(i))>>32 < thr {
				xd[i] = 0
			} else {
				xd[i] = x[i] * keep
			}
		}
	})
	return xd
}

func splitmix(z uint64) uint64 {
	z += 0x9e3779b97f4a7c15
	z = (z ^ z>>30) * 0xbf58476d1ce4e5b9
	z = (z ^ z>>27) * 0x94d049bb133111eb
	return z ^ z>>31
}

// proj computes y = x·Wᵀ (+b) (+ LoRA) for module mod of layer l, saving
// the LoRA intermediate into lu when training.
func (p *pass) proj(y, x []float32, l int, mod lora.Module, lu []float32) {
	m := p.m
	in, out := projShape(m.cfg, mod)
	L := m.Layers[l]
	var bias []float32
	if L.Bias[mod] != nil {
		bias = L.Bias[mod].data(&m.wbuf)
	}
	nn.Linear(y, x, L.Proj[mod].data(&m.wbuf), bias, p.n, in, out)
	if pr := m.adapter.Pair(l, mod); pr != nil {
		r := m.adapter.Config.Rank
		xd := p.dropoutInput(x, l, mod, in)
		compute.Sgemm(false, true, p.n, r, in, 1, xd, in, pr.A, in, 0, lu, r)
		compute.Sgemm(false, true, p.n, out, r, m.adapter.Config.Scale(), lu, r, pr.B, r, 1, y, out)
	}
}

// projBack is the backward of proj: dx (+)= dy·W (+ LoRA path), and
// gradients into W/b (full mode) or A/B (LoRA mode).
func (p *pass) projBack(dx, dy, x []float32, l int, mod lora.Module, lu []float32, accDX bool) {
	m := p.m
	in, out := projShape(m.cfg, mod)
	L := m.Layers[l]
	w := L.Proj[mod]
	var db []float32
	if L.Bias[mod] != nil {
		db = L.Bias[mod].Grad
	}
	nn.LinearBackward(dx, w.Grad, db, dy, x, w.data(&m.wbuf), p.n, in, out, accDX)
	pr := m.adapter.Pair(l, mod)
	if pr == nil {
		return
	}
	r := m.adapter.Config.Rank
	s := m.adapter.Config.Scale()
	// dB += s·dyᵀ·u ; du = s·dy·B ; dA += duᵀ·xd ; dx += mask⊙(du·A)
	compute.Sgemm(true, false, out, r, p.n, s, dy, out, lu, r, 1, pr.GradB, r)
	du := p.ar.get(p.n * r)
	compute.Sgemm(false, false, p.n, r, out, s, dy, out, pr.B, r, 0, du, r)
	xd := p.dropoutInput(x, l, mod, in)
	compute.Sgemm(true, false, r, in, p.n, 1, du, r, xd, in, 1, pr.GradA, in)
	if xd == nil || &xd[0] == &x[0] {
		compute.Sgemm(false, false, p.n, in, r, 1, du, r, pr.A, in, 1, dx, in)
		return
	}
	// With dropout: dxd = du·A, then dx += dxd·mask/(1−p); reuse xd's
	// storage (its mask is regenerated deterministically).
	dxd := p.ar.get(p.n * in)
	compute.Sgemm(false, false, p.n, in, r, 1, du, r, pr.A, in, 0, dxd, in)
	drop := m.adapter.Config.Dropout
	thr := uint64(drop * (1 << 32))
	keep := float32(1 / (1 - drop))
	key := p.dseed ^ uint64(l)<<40 ^ uint64(mod)<<56
	compute.Parallel(len(dxd), func(lo, hi int) {
		for i := lo; i < hi; i++ {
			if splitmix(key+uint64(i))>>32 >= thr {
				dx[i] += dxd[i] * keep
			}
		}
	})
}

// layerForward runs layer l from a.xIn, filling a and writing xOut.
func (p *pass) layerForward(l int, a *acts, xOut []float32) {
	m, cfg, n := p.m, p.m.cfg, p.n
	c, ff := cfg.HiddenSize, cfg.IntermediateSize
	L := m.Layers[l]
	nn.RMSNorm(p.h, a.rstd1, a.xIn, L.AttnNorm.data(&m.wbuf), n, c, cfg.RMSNormEps)
	p.proj(a.q, p.h, l, lora.QProj, a.lu[lora.QProj])
	p.proj(a.k, p.h, l, lora.KProj, a.lu[lora.KProj])
	p.proj(a.v, p.h, l, lora.VProj, a.lu[lora.VProj])
	nn.Rope(a.q, p.cos, p.sin, n, cfg.NumAttentionHeads, cfg.HeadDim, false)
	nn.Rope(a.k, p.cos, p.sin, n, cfg.NumKeyValueHeads, cfg.HeadDim, false)
	nn.AttentionForward(a.att, a.lse, a.q, a.k, a.v, p.b.Seg, p.segLo, p.shape)
	p.proj(a.xMid, a.att, l, lora.OProj, a.lu[lora.OProj])
	nn.Add(a.xMid, a.xIn)
	nn.RMSNorm(p.h, a.rstd2, a.xMid, L.MLPNorm.data(&m.wbuf), n, c, cfg.RMSNormEps)
	p.proj(a.gate, p.h, l, lora.GateProj, a.lu[lora.GateProj])
	p.proj(a.up, p.h, l, lora.UpProj, a.lu[lora.UpProj])
	nn.SwiGLU(p.act[:n*ff], a.gate, a.up)
	p.proj(xOut, p.act[:n*ff], l, lora.DownProj, a.lu[lora.DownProj])
	nn.Add(xOut, a.xMid)
}

// bwdBufs are the backward pass's scratch buffers.
type bwdBufs struct {
	dact, dgate, dup []float32 // (N, FF)
	dh               []float32 // (N, C)
	datt, dq         []float32 // (N, H·D)
	dk, dv           []float32 // (N, Hkv·D)
}

// layerBackward turns dx, the gradient of layer l's output, into the
// gradient of its input (in place), accumulating parameter gradients.
func (p *pass) layerBackward(l int, a *acts, dx []float32, g *bwdBufs) {
	m, cfg, n := p.m, p.m.cfg, p.n
	c, ff := cfg.HiddenSize, cfg.IntermediateSize
	L := m.Layers[l]
	// MLP: xOut = xMid + down(silu(gate)⊙up), gate/up = h2·Wᵀ, h2 = RMSNorm(xMid).
	g2 := L.MLPNorm.data(&m.wbuf)
	nn.RMSNormApply(p.h, a.rstd2, a.xMid, g2, n, c)
	act := p.act[:n*ff]
	nn.SwiGLUSaveSigmoid(act, g.dgate, a.gate, a.up) // σ(gate) parked in dgate
	p.projBack(g.dact, dx, act, l, lora.DownProj, a.lu[lora.DownProj], false)
	nn.SwiGLUBackwardSigmoid(g.dgate, g.dup, g.dact, a.gate, a.up, g.dgate)
	p.projBack(g.dh, g.dgate, p.h, l, lora.GateProj, a.lu[lora.GateProj], false)
	p.projBack(g.dh, g.dup, p.h, l, lora.UpProj, a.lu[lora.UpProj], true)
	nn.RMSNormBackward(dx, L.MLPNorm.Grad, g.dh, a.xMid, L.MLPNorm.data(&m.wbuf), a.rstd2, n, c)
	// Attention: xMid = xIn + o(att), att = Attn(rope(q), rope(k), v), q/k/v = h1·Wᵀ.
	p.projBack(g.datt, dx, a.att, l, lora.OProj, a.lu[lora.OProj], false)
	nn.AttentionBackward(g.dq, g.dk, g.dv, g.datt, a.att, a.lse, a.q, a.k, a.v, p.b.Seg, p.segLo, p.shape)
	nn.Rope(g.dq, p.cos, p.sin, n, cfg.NumAttentionHeads, cfg.HeadDim, true)
	nn.Rope(g.dk, p.cos, p.sin, n, cfg.NumKeyValueHeads, cfg.HeadDim, true)
	g1 := L.AttnNorm.data(&m.wbuf)
	nn.RMSNormApply(p.h, a.rstd1, a.xIn, g1, n, c)
	p.projBack(g.dh, g.dq, p.h, l, lora.QProj, a.lu[lora.QProj], false)
	p.projBack(g.dh, g.dk, p.h, l, lora.KProj, a.lu[lora.KProj], true)
	p.projBack(g.dh, g.dv, p.h, l, lora.VProj, a.lu[lora.VProj], true)
	nn.RMSNormBackward(dx, L.AttnNorm.Grad, g.dh, a.xIn, L.AttnNorm.data(&m.wbuf), a.rstd1, n, c)
}

func (m *Model) lmHeadWeight() *Weight {
	if m.LMHead != nil {
		return m.LMHead
	}
	return m.Embed
}

func (m *Model) embed(x []float32, tokens []int32) {
	c := m.cfg.HiddenSize
	if m.Embed.F32 != nil {
		nn.Embedding(x, m.Embed.F32, tokens, c)
	} else {
		nn.EmbeddingBF16(x, m.Embed.BF16, tokens, c)
	}
}

// hidden runs the layers without saving activations and returns the final
// normed hidden state (N, C).
func (m *Model) hidden(b *model.Batch) ([]float32, error) {
	if err := b.Validate(m.cfg.VocabSize); err != nil {
		return nil, err
	}
	p := m.newPass(b, false)
	n, c := p.n, m.cfg.HiddenSize
	a := m.newActs(p.ar, n, b.B, b.T)
	x := p.ar.get(n * c)
	m.embed(x, b.Tokens)
	y := p.ar.get(n * c)
	for l := range m.Layers {
		a.xIn = x
		p.layerForward(l, a, y)
		x, y = y, x
	}
	out := make([]float32, n*c) // returned: not from the arena
	nn.RMSNorm(out, nil, x, m.Norm.data(&m.wbuf), n, c, m.cfg.RMSNormEps)
	return out, nil
}

// Forward returns the mean cross-entropy over the batch's non-ignored
// targets and their count, without touching gradients. With no scored
// target it returns (0, 0, nil). The trainable adapter, if any, is applied
// (without dropout).
func (m *Model) Forward(b *model.Batch) (float64, int, error) {
	h, err := m.hidden(b)
	if err != nil {
		return 0, 0, err
	}
	w := m.lmHeadWeight()
	head := nn.LMHead{W: w.data(&m.wbuf), V: m.cfg.VocabSize, C: m.cfg.HiddenSize}
	sum, cnt := head.Loss(h, b.Targets, model.IgnoreIndex, nil, 0)
	if cnt == 0 {
		return 0, 0, nil
	}
	loss := sum / float64(cnt)
	if math.IsNaN(loss) || math.IsInf(loss, 0) {
		return loss, cnt, fmt.Errorf("llama: forward: loss is %v", loss)
	}
	return loss, cnt, nil
}

// Logits returns the (B·T, V) logits of a batch (Targets may be nil). It
// materialises the whole matrix, so it is meant for tests and small
// evaluations; Forward and Step do not.
func (m *Model) Logits(b *model.Batch) ([]float32, error) {
	bb := *b
	if bb.Targets == nil {
		bb.Targets = make([]int32, b.B*b.T)
	}
	h, err := m.hidden(&bb)
	if err != nil {
		return nil, err
	}
	n, c, v := b.B*b.T, m.cfg.HiddenSize, m.cfg.VocabSize
	out := make([]float32, n*v)
	nn.Linear(out, h, m.lmHeadWeight().data(&m.wbuf), nil, n, c, v)
	return out, nil
}

// ForwardBackward computes the mean loss over non-ignored targets and ADDS
// the gradient of (mean loss × Batch.LossScale) into the trainable
// parameters' Grad (see model.Batch.LossScale for micro-batch
// accumulation). Returns (0, 0, nil) and no gradient when no target is
// scored. A non-finite loss is an error (gradients are then unreliable).
func (m *Model) ForwardBackward(b *model.Batch) (float64, int, error) {
	if err := b.Validate(m.cfg.VocabSize); err != nil {
		return 0, 0, err
	}
	if m.adapter == nil {
		m.ensureFullGrads()
	}
	p := m.newPass(b, true)
	n, c := p.n, m.cfg.HiddenSize
	nl := len(m.Layers)
	// xs[l] is layer l's input; xs[nl] the final hidden state.
	ar := p.ar
	xs := make([][]float32, nl+1)
	for i := range xs {
		xs[i] = ar.get(n * c)
	}
	m.embed(xs[0], b.Tokens)
	saved := make([]*acts, nl)
	var shared *acts
	if m.opt.Recompute {
		shared = m.newActs(ar, n, b.B, b.T)
	}
	for l := range m.Layers {
		a := shared
		if a == nil {
			a = m.newActs(ar, n, b.B, b.T)
			saved[l] = a
		}
		a.xIn = xs[l]
		p.layerForward(l, a, xs[l+1])
	}
	rstdF := ar.get(n)
	hF := ar.get(n * c)
	nn.RMSNorm(hF, rstdF, xs[nl], m.Norm.data(&m.wbuf), n, c, m.cfg.RMSNormEps)
	nt := 0
	for _, t := range b.Targets {
		if t != model.IgnoreIndex {
			nt++
		}
	}
	if nt == 0 {
		return 0, 0, nil
	}
	scale := b.LossScale
	if scale == 0 {
		scale = 1
	}
	w := m.lmHeadWeight()
	head := nn.LMHead{W: w.data(&m.wbuf), DW: w.Grad, V: m.cfg.VocabSize, C: c}
	head.Scratch = ar.get(max(16, nn.LMHeadBudget/m.cfg.VocabSize) * m.cfg.VocabSize)
	dh := ar.get(n * c)
	sum, cnt := head.Loss(hF, b.Targets, model.IgnoreIndex, dh, float32(scale/float64(nt)))
	loss := sum / float64(cnt)
	if math.IsNaN(loss) || math.IsInf(loss, 0) {
		return loss, cnt, fmt.Errorf("llama: forward: loss is %v", loss)
	}
	dx := ar.get(n * c)
	clear(dx)
	nn.RMSNormBackward(dx, m.Norm.Grad, dh, xs[nl], m.Norm.data(&m.wbuf), rstdF, n, c)
	qd, kd, ff := m.cfg.QDim(), m.cfg.KVDim(), m.cfg.IntermediateSize
	g := &bwdBufs{dact: ar.get(n * ff), dgate: ar.get(n * ff), dup: ar.get(n * ff),
		dh: dh, datt: ar.get(n * qd), dq: ar.get(n * qd), dk: ar.get(n * kd), dv: ar.get(n * kd)}
	for l := nl - 1; l >= 0; l-- {
		a := saved[l]
		if a == nil {
			a = shared
			a.xIn = xs[l]
			p.layerForward(l, a, xs[l+1])
		}
		p.layerBackward(l, a, dx, g)
		saved[l] = nil
	}
	if m.Embed.Grad != nil {
		nn.EmbeddingBackward(m.Embed.Grad, dx, b.Tokens, c)
	}
	return loss, cnt, nil
}
