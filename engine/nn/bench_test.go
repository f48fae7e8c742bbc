package nn

import (
	"math/rand/v2"
	"testing"
)

// Benchmarks at SmolLM2-135M shapes (C=576, H=9, Hkv=3, D=64, FF=1536) on a
// 4×512 batch.
const bN, bC, bFF = 2048, 576, 1536

func BenchmarkRMSNorm(b *testing.B) {
	r := rand.New(rand.NewPCG(1, 1))
	x, g := randVec(r, bN*bC, 1), randVec(r, bC, 1)
	out, rstd := make([]float32, bN*bC), make([]float32, bN)
	for b.Loop() {
		RMSNorm(out, rstd, x, g, bN, bC, 1e-5)
	}
}

func BenchmarkRope(b *testing.B) {
	r := rand.New(rand.NewPCG(1, 1))
	x := randVec(r, bN*bC, 1)
	pos := make([]int32, bN)
	for i := range pos {
		pos[i] = int32(i % 512)
	}
	cos, sin := RopeTable(pos, RopeInvFreq(64, 1e5, RopeScaling{}))
	for b.Loop() {
		Rope(x, cos, sin, bN, 9, 64, false)
	}
}

func BenchmarkSwiGLU(b *testing.B) {
	r := rand.New(rand.NewPCG(1, 1))
	g, u := randVec(r, bN*bFF, 1), randVec(r, bN*bFF, 1)
	act := make([]float32, bN*bFF)
	for b.Loop() {
		SwiGLU(act, g, u)
	}
}

func benchAttention(b *testing.B, backward bool) {
	r := rand.New(rand.NewPCG(1, 1))
	s := AttnShape{B: 4, T: 512, H: 9, Hkv: 3, D: 64}
	q, k, v := randVec(r, bN*576, 1), randVec(r, bN*192, 1), randVec(r, bN*192, 1)
	o, lse := make([]float32, bN*576), make([]float32, 4*9*512)
	AttentionForward(o, lse, q, k, v, nil, nil, s)
	dq, dk, dv := make([]float32, len(q)), make([]float32, len(k)), make([]float32, len(v))
	for b.Loop() {
		if backward {
			AttentionBackward(dq, dk, dv, o, o, lse, q, k, v, nil, nil, s)
		} else {
			AttentionForward(o, lse, q, k, v, nil, nil, s)
		}
	}
	// Causal attention: fwd 2 matmuls of B·H·T²/2·D MACs.
	flops := 2.0 * 2 * 4 * 9 * 512 * 512 / 2 * 64
	if backward {
		flops *= 2.5
	}
	b.ReportMetric(flops*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
}

func BenchmarkAttentionForward(b *testing.B)  { benchAttention(b, false) }
func BenchmarkAttentionBackward(b *testing.B) { benchAttention(b, true) }

func BenchmarkLMHeadLoss(b *testing.B) {
	r := rand.New(rand.NewPCG(1, 1))
	const n, v = 512, 49152
	h, w := randVec(r, n*bC, 1), randVec(r, v*bC, 0.02)
	targets := make([]int32, n)
	for i := range targets {
		targets[i] = int32(r.IntN(v))
	}
	dh := make([]float32, n*bC)
	head := LMHead{W: w, V: v, C: bC}
	for b.Loop() {
		head.Loss(h, targets, -100, dh, 1.0/n)
	}
	b.ReportMetric(float64(n*b.N)/b.Elapsed().Seconds(), "tok/s")
}
