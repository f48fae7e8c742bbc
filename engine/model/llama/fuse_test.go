package llama

import (
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/strata-ml/strata/engine/lora"
	"github.com/strata-ml/strata/engine/model"
)

// compareSteps runs the same batches through every model (a long prefill,
// short ones mixed with decoding, decoding alone; odd sequences with
// adapter ad) and fails when a model's logits differ from the first's by
// more than tol·(1 + max|logit|).
func compareSteps(t *testing.T, ms []model.Model, ad *lora.Adapter, tol float64) {
	t.Helper()
	vocab := ms[0].Config().VocabSize
	r := rand.New(rand.NewPCG(1, 2))
	rounds := [][]int{{70}, {20, 3}, {1, 1}, {1, 1, 5, 9, 2, 1}, {1, 1, 1, 1, 1, 1}}
	caches := make([][]*model.KVCache, len(ms))
	for k, m := range ms {
		for range 6 {
			caches[k] = append(caches[k], m.NewCache())
		}
	}
	for ri, round := range rounds {
		in := make([][]int32, len(round))
		for i, n := range round {
			for range n {
				in[i] = append(in[i], int32(r.IntN(vocab)))
			}
		}
		var want [][]float32
		for k, m := range ms {
			seqs := make([]model.Seq, len(round))
			for i := range round {
				seqs[i] = model.Seq{Tokens: in[i], Cache: caches[k][i]}
				if i%2 == 1 {
					seqs[i].Adapter = ad
				}
			}
			out, err := m.Step(seqs)
			if err != nil {
				t.Fatal(err)
			}
			if k == 0 {
				want = out
				continue
			}
			for i := range round {
				if d, s := maxAbsDiff(out[i], want[i]); d > tol*(1+s) {
					t.Errorf("model %d, round %d seq %d (%d tokens): logits differ by %.3g (max %.3g)", k, ri, i, round[i], d, s)
				}
			}
		}
	}
}

// TestStepFused: a model whose q, k, v and gate, up weights are fused for
// serving gives the logits of the unfused model (biases included: qwen2),
// with float32 and with bfloat16-kept weights; a weight whose data is
// replaced after fusing is used, not the fused copy.
func TestStepFused(t *testing.T) {
	for _, arch := range []string{"llama", "qwen2"} {
		for _, bf16 := range []bool{false, true} {
			name := arch
			if bf16 {
				name += "-bf16"
			}
			t.Run(name, func(t *testing.T) {
				dir := copyFixtureDir(t, arch)
				if bf16 {
					dir = bf16FixtureDir(t, arch)
				}
				plain, fusedM := mustLoad(t, dir, model.Options{KeepBF16: bf16}), mustLoad(t, dir, model.Options{KeepBF16: bf16})
				fusedM.FuseProjections()
				for _, L := range fusedM.Layers {
					if !L.qkv.live(fusedM.cfg, L) || !L.gateUp.live(fusedM.cfg, L) {
						t.Fatal("projections not fused")
					}
				}
				ad := randomAdapter(t, plain, lora.Config{Rank: 4, Alpha: 8}, 3)
				ad.PrepareServing()
				compareSteps(t, []model.Model{plain, fusedM}, ad, 2e-5)
				// An adapter on some projections of each fused group only.
				part := randomAdapter(t, plain, lora.Config{Rank: 2, Alpha: 4, TargetModules: []string{"v_proj", "up_proj"}}, 4)
				compareSteps(t, []model.Model{plain, fusedM}, part, 2e-5)

				// Replace k_proj of layer 0 in both: the fused model must
				// notice and use the new data.
				for _, m := range []*Model{plain, fusedM} {
					w := m.Layers[0].Proj[lora.KProj]
					if w.F32 != nil {
						w.F32 = slices.Clone(w.F32)
						w.F32[3] += 0.5
					} else {
						w.BF16 = slices.Clone(w.BF16)
						w.BF16[3] ^= 0x0040
					}
				}
				if fusedM.Layers[0].qkv.live(fusedM.cfg, fusedM.Layers[0]) {
					t.Fatal("replaced weight still seen as fused")
				}
				compareSteps(t, []model.Model{plain, fusedM}, ad, 2e-5)
			})
		}
	}
}
