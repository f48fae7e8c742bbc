package llama

import (
	"math"
	"testing"

	"github.com/strata-ml/strata/engine/lora"
	"github.com/strata-ml/strata/engine/model"
)

func tinyConfig(arch string) *model.Config {
	c := &model.Config{Architectures: []string{arch}, HiddenSize: 32, IntermediateSize: 64, NumHiddenLayers: 2,
		NumAttentionHeads: 4, NumKeyValueHeads: 2, VocabSize: 50, RMSNormEps: 1e-5, RopeTheta: 10000}
	c.Fill()
	return c
}

func tinyBatch() *model.Batch {
	b := &model.Batch{B: 2, T: 7}
	for i := range 14 {
		b.Tokens = append(b.Tokens, int32((i*7+3)%50))
		b.Targets = append(b.Targets, int32((i*5+1)%50))
	}
	b.Targets[3] = model.IgnoreIndex
	return b
}

// TestSmokeFiniteDiff checks a few gradient entries of the whole model
// against float32 central differences (coarse: 3% relative).
func TestSmokeFiniteDiff(t *testing.T) {
	for _, useLoRA := range []bool{false, true} {
		m, err := New(tinyConfig("LlamaForCausalLM"), 1, model.Options{})
		if err != nil {
			t.Fatal(err)
		}
		// Make weights larger so gradients are not tiny.
		for _, w := range m.Weights() {
			for i := range w.F32 {
				w.F32[i] *= 3
			}
		}
		if useLoRA {
			a, err := m.EnableLoRA(lora.Config{Rank: 4, Alpha: 8}, 2)
			if err != nil {
				t.Fatal(err)
			}
			for _, p := range a.Tensors() {
				for i := range p.Data {
					p.Data[i] += float32(math.Sin(float64(i))) * 0.1
				}
			}
		}
		b := tinyBatch()
		loss, n, err := m.ForwardBackward(b)
		if err != nil || n != 13 {
			t.Fatal(loss, n, err)
		}
		l2, _, _ := m.Forward(b)
		if math.Abs(l2-loss) > 1e-5 {
			t.Fatalf("forward %v vs forwardbackward %v", l2, loss)
		}
		for _, p := range m.Params() {
			for _, i := range []int{0, len(p.Data) / 2, len(p.Data) - 1} {
				old := p.Data[i]
				h := float32(2e-3)
				p.Data[i] = old + h
				lp, _, _ := m.Forward(b)
				p.Data[i] = old - h
				lm, _, _ := m.Forward(b)
				p.Data[i] = old
				fd := (lp - lm) / (2 * float64(h))
				g := float64(p.Grad[i])
				if math.Abs(fd-g) > 0.03*math.Abs(fd)+2e-4 {
					t.Errorf("lora=%v %s[%d]: grad %g, finite diff %g", useLoRA, p.Name, i, g, fd)
				}
			}
		}
	}
}
