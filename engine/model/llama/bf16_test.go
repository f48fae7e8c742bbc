package llama

import (
	"math/rand/v2"
	"testing"

	"github.com/strata-ml/strata/engine/lora"
	"github.com/strata-ml/strata/engine/model"
	"github.com/strata-ml/strata/engine/safetensors"
)

// TestStepKeepBF16 serves a model whose weights are kept in bfloat16 (as
// inference loads them) and the same weights widened to float32: Step's
// logits agree within 2e-5·(1 + max|logit|) (the products sum in another
// order) on every product path: a long prefill (weights widened in
// blocks), a short one and batched decoding (widened strips), and decoding
// one to four sequences (dot products), with and without adapters.
func TestStepKeepBF16(t *testing.T) {
	for _, arch := range []string{"llama", "qwen2"} {
		t.Run(arch, func(t *testing.T) {
			dir := copyFixtureDir(t, arch)
			rewrite(t, dir, func(m map[string]*safetensors.Tensor) {
				for _, v := range m {
					v.DType = safetensors.BF16
				}
			})
			mk, err := model.Load(dir, model.Options{KeepBF16: true})
			if err != nil {
				t.Fatal(err)
			}
			m32, err := model.Load(dir, model.Options{})
			if err != nil {
				t.Fatal(err)
			}
			if mk.(*Model).Layers[0].Proj[lora.UpProj].BF16 == nil {
				t.Fatal("up_proj not kept as BF16")
			}
			cfg := m32.Config()
			ad := randomAdapter(t, m32.(*Model), lora.Config{Rank: 4, Alpha: 8}, 3)
			ad.PrepareServing()
			r := rand.New(rand.NewPCG(1, 2))
			tokens := func(n int) []int32 {
				s := make([]int32, n)
				for i := range s {
					s[i] = int32(r.IntN(cfg.VocabSize))
				}
				return s
			}
			// Each round is a batch: per sequence, how many new tokens.
			rounds := [][]int{{70}, {20, 3}, {1, 1}, {1, 1, 5, 9, 2, 1}, {1, 1, 1, 1, 1, 1}}
			nseq := 6
			caches := [2][]*model.KVCache{}
			for k, m := range []model.Model{mk, m32} {
				for range nseq {
					caches[k] = append(caches[k], m.NewCache())
				}
			}
			for ri, round := range rounds {
				var in [][]int32
				for range round {
					in = append(in, nil)
				}
				for i, n := range round {
					in[i] = tokens(n)
				}
				var out [2][][]float32
				for k, m := range []model.Model{mk, m32} {
					seqs := make([]model.Seq, len(round))
					for i := range round {
						seqs[i] = model.Seq{Tokens: in[i], Cache: caches[k][i]}
						if i%2 == 1 {
							seqs[i].Adapter = ad
						}
					}
					if out[k], err = m.Step(seqs); err != nil {
						t.Fatal(err)
					}
				}
				for i := range round {
					d, s := maxAbsDiff(out[0][i], out[1][i])
					if d > 2e-5*(1+s) {
						t.Errorf("round %d seq %d (%d tokens): bf16-kept logits differ from float32 by %.3g (max %.3g)", ri, i, round[i], d, s)
					}
				}
			}
		})
	}
}
