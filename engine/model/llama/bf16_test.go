package llama

import (
	"testing"

	"github.com/strata-ml/strata/engine/lora"
	"github.com/strata-ml/strata/engine/model"
)

// TestStepKeepBF16 serves a model whose weights are kept in bfloat16 (as
// inference loads them) and the same weights widened to float32: Step's
// logits agree within 2e-5·(1 + max|logit|) (the products sum in another
// order) on every product path (compareSteps): a long prefill (weights
// widened in blocks), a short one and batched decoding (widened strips),
// and decoding one to four sequences (dot products), with and without
// adapters.
func TestStepKeepBF16(t *testing.T) {
	for _, arch := range []string{"llama", "qwen2"} {
		t.Run(arch, func(t *testing.T) {
			dir := bf16FixtureDir(t, arch)
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
			ad := randomAdapter(t, m32.(*Model), lora.Config{Rank: 4, Alpha: 8}, 3)
			ad.PrepareServing()
			compareSteps(t, []model.Model{m32, mk}, ad)
		})
	}
}
