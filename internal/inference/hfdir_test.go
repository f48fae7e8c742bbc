package inference

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/strata-ml/strata/engine/lora"
	"github.com/strata-ml/strata/engine/model"
	"github.com/strata-ml/strata/engine/model/llama"
	"github.com/strata-ml/strata/engine/starter"
	"github.com/strata-ml/strata/internal/invoke"
)

// randomAdapter returns a LoRA adapter over every projection of cfg with
// random A and B (a fresh PEFT adapter has B = 0 and changes nothing).
func randomAdapter(t testing.TB, cfg *model.Config, seed uint64) *lora.Adapter {
	t.Helper()
	a, err := lora.New(lora.Config{Rank: 4, Alpha: 8}, cfg.NumHiddenLayers, adapterShape(cfg), seed)
	if err != nil {
		t.Fatal(err)
	}
	r := rand.New(rand.NewPCG(seed, 7))
	for _, nt := range a.Tensors() {
		if strings.Contains(nt.Name, "lora_B") {
			for i := range nt.Data {
				nt.Data[i] = float32(r.NormFloat64() * 0.05)
			}
		}
	}
	return a
}

// adapterShape gives each projection's (in, out) widths for cfg.
func adapterShape(cfg *model.Config) lora.ShapeFunc {
	c, q, kv, ff := cfg.HiddenSize, cfg.QDim(), cfg.KVDim(), cfg.IntermediateSize
	return func(m lora.Module) (int, int) {
		switch m {
		case lora.QProj:
			return c, q
		case lora.KProj, lora.VProj:
			return c, kv
		case lora.OProj:
			return q, c
		case lora.GateProj, lora.UpProj:
			return c, ff
		}
		return ff, c
	}
}

var starterOnce struct {
	sync.Once
	root, dir string
	err       error
}

// TestMain removes the shared starter model after the tests.
func TestMain(m *testing.M) {
	code := m.Run()
	if starterOnce.root != "" {
		os.RemoveAll(starterOnce.root)
	}
	os.Exit(code)
}

// starterDir builds an untrained starter model (real tokenizer, chat
// template and Llama weights from random init) once per test binary, in a
// directory that outlives the test that first asks for it.
func starterDir(t testing.TB) string {
	starterOnce.Do(func() {
		root, err := os.MkdirTemp("", "strata-starter-")
		if err != nil {
			starterOnce.err = err
			return
		}
		starterOnce.root = root
		starterOnce.dir, starterOnce.err = starter.EnsureWith(context.Background(), root, starter.Options{PretrainEpochs: -1, VocabSize: 512})
	})
	if starterOnce.err != nil {
		t.Fatal(starterOnce.err)
	}
	return starterOnce.dir
}

// TestRealModelBatchingMatchesAlone runs a real (random-weight) Llama model
// from an HF directory: requests with different adapters generate the same
// greedy tokens whether each runs alone or all run together in one
// continuous batch, with prompts long enough to be prefilled in chunks.
func TestRealModelBatchingMatchesAlone(t *testing.T) {
	dir := starterDir(t)
	b, err := LoadHFDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	if b.Template == nil {
		t.Fatal("starter model has no chat template")
	}
	cfg := b.Model.Config()
	adapters := []*lora.Adapter{nil, randomAdapter(t, cfg, 1), randomAdapter(t, cfg, 2), randomAdapter(t, cfg, 3)}
	type job struct {
		req GenerateRequest
	}
	var jobs []job
	for i := range 8 {
		p := invoke.Params{MaxTokens: 12}
		r := GenerateRequest{Adapter: adapters[i%len(adapters)], Params: p}
		if i%2 == 0 {
			r.Prompt = fmt.Sprintf("Ticket %d: the payment API returns ERR_429_API_LIMIT after %d calls, please help", i, 100*i)
		} else {
			r.Messages = []ChatMessage{{Role: "user", Text: fmt.Sprintf("Question %d: what is an API limit?", i)}}
		}
		jobs = append(jobs, job{r})
	}
	alone := NewEngine(b.Model, EngineConfig{Capacity: Capacity{MaxSeqs: 1}, ContextLen: 512})
	defer alone.Close()
	want := make([]Generation, len(jobs))
	for i, j := range jobs {
		if want[i], err = Generate(t.Context(), b, alone, j.req, nil); err != nil {
			t.Fatal(err)
		}
	}
	batched := NewEngine(b.Model, EngineConfig{Capacity: Capacity{MaxSeqs: 8}, PrefillChunk: 8, ContextLen: 512})
	defer batched.Close()
	got := make([]Generation, len(jobs))
	errs := make([]error, len(jobs))
	var wg sync.WaitGroup
	for i, j := range jobs {
		wg.Go(func() { got[i], errs[i] = Generate(t.Context(), b, batched, j.req, nil) })
	}
	wg.Wait()
	distinct := map[string]bool{}
	for i := range jobs {
		if errs[i] != nil {
			t.Fatal(errs[i])
		}
		if got[i].Text != want[i].Text || got[i].OutputTokens != want[i].OutputTokens || got[i].InputTokens != want[i].InputTokens {
			t.Errorf("request %d: batched %q (%d/%d tokens), alone %q (%d/%d)", i, got[i].Text, got[i].InputTokens, got[i].OutputTokens,
				want[i].Text, want[i].InputTokens, want[i].OutputTokens)
		}
		distinct[want[i].Text] = true
	}
	if len(distinct) < 4 {
		t.Errorf("only %d distinct outputs over 4 adapters: adapters are not applied per sequence", len(distinct))
	}
	if st := batched.Stats(); st.Steps >= alone.Stats().Steps {
		t.Errorf("batched engine ran %d steps, alone %d: no batching", st.Steps, alone.Stats().Steps)
	}
}

// TestLoadHFDirBF16 serves a BF16 checkpoint the way the registry does:
// LoadHFDir keeps its matrices in bfloat16 (half the memory) and Step
// multiplies them as they are (compute.SgemmBF16). Requests with and
// without adapters give the same greedy text alone (dot-product path) and
// batched (widened-strip path).
func TestLoadHFDirBF16(t *testing.T) {
	src := starterDir(t)
	dir := t.TempDir()
	entries, err := os.ReadDir(src)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if e.IsDir() || e.Name() == "model.safetensors" || e.Name() == "config.json" {
			continue
		}
		b, err := os.ReadFile(filepath.Join(src, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, e.Name()), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	m32, err := model.Load(src, model.Options{})
	if err != nil {
		t.Fatal(err)
	}
	keepBF16(m32)
	if err := m32.Save(dir); err != nil {
		t.Fatal(err)
	}
	b, err := LoadHFDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	if w := b.Model.(*llama.Model).Layers[0].Proj[lora.UpProj]; w.BF16 == nil || w.F32 != nil {
		t.Fatal("LoadHFDir widened the BF16 weights")
	}
	cfg := b.Model.Config()
	adapters := []*lora.Adapter{nil, randomAdapter(t, cfg, 1), randomAdapter(t, cfg, 2)}
	var reqs []GenerateRequest
	for i := range 6 {
		reqs = append(reqs, GenerateRequest{Adapter: adapters[i%len(adapters)], Params: invoke.Params{MaxTokens: 8},
			Prompt: fmt.Sprintf("Ticket %d: the export fails with ERR_%d, what now?", i, 500+i)})
	}
	alone := NewEngine(b.Model, EngineConfig{Capacity: Capacity{MaxSeqs: 1}, ContextLen: 512})
	defer alone.Close()
	batched := NewEngine(b.Model, EngineConfig{Capacity: Capacity{MaxSeqs: 8}, PrefillChunk: 8, ContextLen: 512})
	defer batched.Close()
	want := make([]Generation, len(reqs))
	total := 0
	for i, r := range reqs {
		if want[i], err = Generate(t.Context(), b, alone, r, nil); err != nil {
			t.Fatal(err)
		}
		total += want[i].OutputTokens // an untrained model may stop at once
	}
	if total < len(reqs) {
		t.Fatalf("the requests generated %d tokens in all", total)
	}
	got := make([]Generation, len(reqs))
	errs := make([]error, len(reqs))
	var wg sync.WaitGroup
	for i, r := range reqs {
		wg.Go(func() { got[i], errs[i] = Generate(t.Context(), b, batched, r, nil) })
	}
	wg.Wait()
	for i := range reqs {
		if errs[i] != nil {
			t.Fatal(errs[i])
		}
		if got[i].Text != want[i].Text || got[i].OutputTokens != want[i].OutputTokens {
			t.Errorf("request %d: batched %q (%d tokens), alone %q (%d)", i, got[i].Text, got[i].OutputTokens, want[i].Text, want[i].OutputTokens)
		}
	}
}
