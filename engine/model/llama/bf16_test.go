package llama

import (
	"math/rand/v2"
	"testing"

	"github.com/strata-ml/strata/engine/lora"
	"github.com/strata-ml/strata/engine/model"
)

// TestStepKeepBF16 serves a model whose weights are kept in bfloat16 (as
// inference loads them) and the same weights widened to float32, on every
// product path (compareSteps): a long prefill, a short one and batched
// decoding (compute.SgemmBF16BF16's dot-product tiles where the CPU has
// AVX512-BF16), and decoding one to three sequences (its dot products over
// rounded rows), with and without adapters. The bfloat16 products round
// their input rows to bfloat16 (relative error up to 2⁻⁹ per element),
// so the logits agree within 6e-3·(1 + max|logit|), three times the
// largest difference seen on these models (2e-3); an input not rounded,
// or rounded twice, would not change that much, but a wrong row, column
// or tail would.
func TestStepKeepBF16(t *testing.T) {
	for _, arch := range []string{"llama", "qwen2"} {
		t.Run(arch, func(t *testing.T) {
			dir := bf16FixtureDir(t, arch)
			mk, m32 := mustLoad(t, dir, model.Options{KeepBF16: true}), mustLoad(t, dir, model.Options{})
			if mk.Layers[0].Proj[lora.UpProj].BF16 == nil {
				t.Fatal("up_proj not kept as BF16")
			}
			ad := randomAdapter(t, m32, lora.Config{Rank: 4, Alpha: 8}, 3)
			ad.PrepareServing()
			compareSteps(t, []model.Model{m32, mk}, ad, 6e-3)
		})
	}
}

// TestStepBF16Batched checks that a bfloat16-kept model gives a sequence
// the same logits alone and batched with others, within 2e-5·(1 +
// max|logit|): the products of one row (dot products over the rounded row)
// and of many (VDPBF16PS tiles where the CPU has them) round the same
// inputs the same way and differ only in the order of float32 sums.
func TestStepBF16Batched(t *testing.T) {
	for _, arch := range []string{"llama", "qwen2"} {
		t.Run(arch, func(t *testing.T) {
			m := mustLoad(t, bf16FixtureDir(t, arch), model.Options{KeepBF16: true})
			ad := randomAdapter(t, m, lora.Config{Rank: 4, Alpha: 8}, 3)
			ad.PrepareServing()
			vocab := m.Config().VocabSize
			r := rand.New(rand.NewPCG(3, 4))
			lens := []int{1, 5, 9, 2, 1, 12, 1, 3}
			batched, alone := make([]*model.KVCache, len(lens)), make([]*model.KVCache, len(lens))
			for i := range lens {
				batched[i], alone[i] = m.NewCache(), m.NewCache()
			}
			for round := range 4 {
				seqs := make([]model.Seq, len(lens))
				for i, n := range lens {
					if round > 0 {
						n = 1
					}
					seqs[i] = model.Seq{Cache: batched[i]}
					for range n {
						seqs[i].Tokens = append(seqs[i].Tokens, int32(r.IntN(vocab)))
					}
					if i%2 == 1 {
						seqs[i].Adapter = ad
					}
				}
				together, err := m.Step(seqs)
				if err != nil {
					t.Fatal(err)
				}
				for i, s := range seqs {
					s.Cache = alone[i]
					out, err := m.Step([]model.Seq{s})
					if err != nil {
						t.Fatal(err)
					}
					if d, mx := maxAbsDiff(out[0], together[i]); d > 2e-5*(1+mx) {
						t.Errorf("round %d seq %d (%d tokens): alone and batched differ by %.3g (max %.3g)", round, i, len(s.Tokens), d, mx)
					}
				}
			}
		})
	}
}
