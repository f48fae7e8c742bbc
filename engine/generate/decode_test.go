package generate

import (
	"context"
	"math"
	"slices"
	"testing"

	"github.com/strata-ml/strata/engine/lora"
	"github.com/strata-ml/strata/engine/model"
	_ "github.com/strata-ml/strata/engine/model/llama"
)

func tinyModel(t *testing.T, seed uint64) model.Model {
	t.Helper()
	cfg := &model.Config{Architectures: []string{"LlamaForCausalLM"}, HiddenSize: 32, IntermediateSize: 64,
		NumHiddenLayers: 2, NumAttentionHeads: 4, NumKeyValueHeads: 2, VocabSize: 50, MaxPositionEmbeddings: 128, HiddenAct: "silu"}
	m, err := model.New(cfg, seed, model.Options{})
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// naiveGreedy recomputes the whole sequence without reusing a cache at
// every step and takes the argmax of the last position.
func naiveGreedy(t *testing.T, m model.Model, prompt []int32, n int, ad *lora.Adapter) ([]int32, [][]float32) {
	seq := slices.Clone(prompt)
	var out []int32
	var all [][]float32
	for range n {
		lg, err := m.Step([]model.Seq{{Tokens: seq, Cache: m.NewCache(), Adapter: ad}})
		if err != nil {
			t.Fatal(err)
		}
		id := int32(Greedy(lg[0]))
		all = append(all, lg[0])
		out = append(out, id)
		seq = append(seq, id)
	}
	return out, all
}

// TestGenerateMatchesNoCache checks that batched prefill plus cached decode
// gives the same greedy tokens as recomputing from scratch, for three
// prompts of different lengths run together.
func TestGenerateMatchesNoCache(t *testing.T) {
	m := tinyModel(t, 3)
	prompts := [][]int32{{1, 2, 3, 4, 5}, {7}, {9, 8, 7, 6, 5, 4, 3, 2, 1, 0, 11, 12}}
	var reqs []Request
	for _, p := range prompts {
		reqs = append(reqs, Request{Prompt: p, MaxNewTokens: 8})
	}
	streamed := make([][]int32, len(prompts))
	res, err := Generate(context.Background(), m, reqs, func(i int, id int32) bool {
		streamed[i] = append(streamed[i], id)
		return false
	})
	if err != nil {
		t.Fatal(err)
	}
	for i, p := range prompts {
		want, _ := naiveGreedy(t, m, p, 8, nil)
		if !slices.Equal(res[i].Tokens, want) || !slices.Equal(streamed[i], want) {
			t.Errorf("prompt %d: Generate = %v (streamed %v), no-cache greedy = %v", i, res[i].Tokens, streamed[i], want)
		}
		if res[i].FinishReason != FinishLength || res[i].PromptTokens != len(p) {
			t.Errorf("prompt %d: result %+v", i, res[i])
		}
	}
}

func TestGenerateEOSAndStop(t *testing.T) {
	m := tinyModel(t, 3)
	want, _ := naiveGreedy(t, m, []int32{1, 2, 3}, 6, nil)
	// EOS = the third greedy token: generation stops before it.
	res, err := Generate(context.Background(), m, []Request{{Prompt: []int32{1, 2, 3}, MaxNewTokens: 6, EOS: []int32{want[2]}}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if idx := slices.Index(want, want[2]); res[0].FinishReason != FinishEOS || !slices.Equal(res[0].Tokens, want[:idx]) {
		t.Errorf("EOS: got %+v, want tokens %v then eos", res[0], want[:idx])
	}
	res, _ = Generate(context.Background(), m, []Request{{Prompt: []int32{1, 2, 3}, MaxNewTokens: 6}}, func(i int, id int32) bool { return id == want[1] })
	if res[0].FinishReason != FinishStopped || len(res[0].Tokens) > 2 {
		t.Errorf("stop: got %+v", res[0])
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := Generate(ctx, m, []Request{{Prompt: []int32{1}, MaxNewTokens: 3}}, nil); err == nil {
		t.Error("Generate with a cancelled context succeeded")
	}
	if _, err := Generate(context.Background(), m, []Request{{Prompt: nil, MaxNewTokens: 3}}, nil); err == nil {
		t.Error("Generate with an empty prompt succeeded")
	}
}

// TestLoRAUnmergedEqualsMerged compares the logits of a model with a
// non-trivial adapter applied per sequence against the same model with the
// adapter merged into its weights. Tolerance 1e-4 absolute (float32 rounding
// of W + s·B·A versus W·x + s·B·(A·x)).
func TestLoRAUnmergedEqualsMerged(t *testing.T) {
	m := tinyModel(t, 5)
	ad, err := m.EnableLoRA(lora.Config{Rank: 4, Alpha: 8}, 11)
	if err != nil {
		t.Fatal(err)
	}
	for k, tn := range ad.Tensors() {
		for i := range tn.Data {
			tn.Data[i] = float32(math.Sin(float64(i*7+k))) * 0.2
		}
	}
	prompt := []int32{4, 8, 15, 16, 23, 42}
	base, _ := naiveGreedy(t, m, prompt, 1, nil)
	toks, unmerged := naiveGreedy(t, m, prompt, 6, ad)
	if slices.Equal(base, toks[:1]) {
		t.Log("adapter did not change the first token (fine, logits are compared)")
	}
	res, err := Generate(context.Background(), m, []Request{{Prompt: prompt, MaxNewTokens: 6, Adapter: ad}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(res[0].Tokens, toks) {
		t.Errorf("Generate with adapter = %v, want %v", res[0].Tokens, toks)
	}
	if err := m.MergeLoRA(); err != nil {
		t.Fatal(err)
	}
	mtoks, merged := naiveGreedy(t, m, prompt, 6, nil)
	if !slices.Equal(mtoks, toks) {
		t.Errorf("merged tokens %v, unmerged %v", mtoks, toks)
	}
	var maxd float64
	for s := range merged {
		for i := range merged[s] {
			maxd = math.Max(maxd, math.Abs(float64(merged[s][i]-unmerged[s][i])))
		}
	}
	if maxd > 1e-4 {
		t.Errorf("merged vs unmerged logits differ by %g", maxd)
	}
	// And the adapter really matters: the base model's logits differ.
	m2 := tinyModel(t, 5)
	_, plain := naiveGreedy(t, m2, prompt, 1, nil)
	var d float64
	for i := range plain[0] {
		d = math.Max(d, math.Abs(float64(plain[0][i]-unmerged[0][i])))
	}
	if d < 1e-3 {
		t.Errorf("adapter changed logits by only %g", d)
	}
}

func BenchmarkGenerateTiny(b *testing.B) {
	cfg := &model.Config{Architectures: []string{"LlamaForCausalLM"}, HiddenSize: 256, IntermediateSize: 688,
		NumHiddenLayers: 4, NumAttentionHeads: 4, VocabSize: 4096, MaxPositionEmbeddings: 512, HiddenAct: "silu"}
	m, err := model.New(cfg, 1, model.Options{})
	if err != nil {
		b.Fatal(err)
	}
	reqs := []Request{{Prompt: []int32{1, 2, 3, 4, 5, 6, 7, 8}, MaxNewTokens: 32}, {Prompt: []int32{9, 10}, MaxNewTokens: 32}}
	n := 0
	for b.Loop() {
		res, err := Generate(context.Background(), m, reqs, nil)
		if err != nil {
			b.Fatal(err)
		}
		for _, r := range res {
			n += len(r.Tokens)
		}
	}
	b.ReportMetric(float64(n)/b.Elapsed().Seconds(), "tok/s")
}
