package inference

import (
	"testing"

	"github.com/strata-ml/strata/engine/model"
	"github.com/strata-ml/strata/engine/model/llama"
)

// TestKVBytesPerToken: a model served with float32 weights keeps float32
// keys and values (4 bytes each), one served with bfloat16 weights
// bfloat16 ones, and the reservation follows the caches it makes.
func TestKVBytesPerToken(t *testing.T) {
	cfg := &model.Config{Architectures: []string{"LlamaForCausalLM"}, HiddenSize: 64, IntermediateSize: 128,
		NumHiddenLayers: 3, NumAttentionHeads: 4, NumKeyValueHeads: 2, VocabSize: 64, RMSNormEps: 1e-5,
		RopeTheta: 10000, MaxPositionEmbeddings: 128}
	m, err := llama.New(cfg, 1, model.Options{})
	if err != nil {
		t.Fatal(err)
	}
	perElem := int64(2 * 3 * 32) // keys and values, 3 layers, 2 heads of 16
	if got := KVBytesPerToken(m); got != 4*perElem {
		t.Errorf("float32 model: %d bytes per token, want %d", got, 4*perElem)
	}
	keepBF16(m)
	if got := KVBytesPerToken(m); got != 2*perElem {
		t.Errorf("bfloat16 model: %d bytes per token, want %d", got, 2*perElem)
	}
	c := m.NewCache()
	c.Reserve(16)
	if !c.BF16() || c.Bytes() != 16*int(2*perElem) {
		t.Errorf("bfloat16 model's cache: bfloat16 %v, %d bytes for 16 tokens, want %d", c.BF16(), c.Bytes(), 16*2*perElem)
	}
}
