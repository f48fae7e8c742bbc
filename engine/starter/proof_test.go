//go:build integration

package starter

import (
	"bufio"
	"encoding/json"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/strata-ml/strata/engine/generate"
	"github.com/strata-ml/strata/engine/lora"
	"github.com/strata-ml/strata/engine/model"
	"github.com/strata-ml/strata/engine/tokenizer"
	"github.com/strata-ml/strata/engine/train"
)

// The proofs build the shipped starter recipe once per test binary.
var (
	proofOnce sync.Once
	proofDir  string
	proofErr  error
	proofTime time.Duration
)

func TestMain(m *testing.M) {
	code := m.Run()
	if proofDir != "" {
		os.RemoveAll(filepath.Dir(proofDir))
	}
	os.Exit(code)
}

func starterForProof(t *testing.T) string {
	t.Helper()
	proofOnce.Do(func() {
		root, err := os.MkdirTemp("", "strata-starter-proof-")
		if err != nil {
			proofErr = err
			return
		}
		start := time.Now()
		proofDir, proofErr = Ensure(root)
		proofTime = time.Since(start)
	})
	if proofErr != nil {
		t.Fatal(proofErr)
	}
	t.Logf("starter built in %v: %s", proofTime.Round(time.Second), proofDir)
	return proofDir
}

func readPairs(t *testing.T, path string) (prompts, completions []string) {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		var r struct{ Prompt, Completion string }
		if err := json.Unmarshal(sc.Bytes(), &r); err != nil {
			t.Fatal(err)
		}
		prompts = append(prompts, r.Prompt)
		completions = append(completions, r.Completion)
	}
	return prompts, completions
}

func loadStarter(t *testing.T, dir string) (model.Model, *tokenizer.Tokenizer, []int32) {
	t.Helper()
	m, err := model.Load(dir, model.Options{})
	if err != nil {
		t.Fatal(err)
	}
	tok, err := tokenizer.LoadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	gen, err := generate.LoadGenerationConfig(dir)
	if err != nil {
		t.Fatal(err)
	}
	var eos []int32
	for _, e := range gen.EOSTokenIDs {
		eos = append(eos, int32(e))
	}
	return m, tok, eos
}

// TestProofFineTune fine-tunes the starter on the sample dataset's training
// split, with a LoRA adapter (the default method) and with full fine-tuning,
// and requires ≥ 95% exact match (greedy decoding) on the 200-record
// held-out test split; the untuned starter scores about chance (18 labels).
func TestProofFineTune(t *testing.T) {
	dir := starterForProof(t)
	paths, err := WriteSampleDataset(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	m, tok, eos := loadStarter(t, dir)
	prompts, want := readPairs(t, paths[2])
	before, _, err := ExactMatch(t.Context(), m, tok, nil, eos, prompts, want, 24)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("exact match of the untuned starter: %.1f%%", 100*before)
	if before > 0.2 {
		t.Errorf("untuned starter scores %.3f, want about chance", before)
	}
	tokens, err := train.TokensFor(tok, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		full bool
		hp   map[string]string
	}{
		{"lora", false, map[string]string{"epochCount": "4", "batchSize": "8", "learningRate": "2e-3", "learningRateWarmupSteps": "10",
			"loraRank": "64", "loraAlpha": "64", "maxSeqLen": "128", "microBatchTokens": "4096"}},
		{"full", true, map[string]string{"epochCount": "2", "batchSize": "16", "learningRate": "2e-3", "learningRateWarmupSteps": "10",
			"maxSeqLen": "128", "microBatchTokens": "4096"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			hp, err := train.ParseHyperParameters(tt.hp)
			if err != nil {
				t.Fatal(err)
			}
			m, tok, eos := loadStarter(t, dir)
			out := t.TempDir()
			start := time.Now()
			res, err := train.Run(t.Context(), train.Options{Model: m, Tokens: tokens, TrainFiles: paths[:1], ValidationFiles: paths[1:2],
				HP: hp, Full: tt.full, Seed: 1, OutputDir: out, BaseModelDir: dir})
			if err != nil {
				t.Fatal(err)
			}
			t.Logf("fine-tuned in %v: %d steps, training loss %.4f, validation %v", time.Since(start).Round(time.Second), res.Steps, res.TrainingLoss, res.ValidationLoss)
			var after float64
			var outs []string
			if tt.full {
				tuned, tok2, eos2 := loadStarter(t, filepath.Join(out, res.MergedDir))
				after, outs, err = ExactMatch(t.Context(), tuned, tok2, nil, eos2, prompts, want, 24)
			} else {
				// The saved PEFT adapter, applied unmerged over a fresh base.
				base, _, _ := loadStarter(t, dir)
				ad, lerr := lora.Load(filepath.Join(out, res.AdapterDir))
				if lerr != nil {
					t.Fatal(lerr)
				}
				after, outs, err = ExactMatch(t.Context(), base, tok, ad, eos, prompts, want, 24)
			}
			if err != nil {
				t.Fatal(err)
			}
			t.Logf("exact match on %d held-out tickets: %.1f%% before, %.1f%% after fine-tuning", len(prompts), 100*before, 100*after)
			if after < 0.95 {
				for i := range outs {
					if outs[i] != want[i] {
						t.Logf("miss: %q -> %q, want %q", prompts[i], outs[i], want[i])
						break
					}
				}
				t.Errorf("exact match after fine-tuning %.3f, want ≥ 0.95", after)
			}
		})
	}
}

// domainText generates a product manual for a fictional espresso machine:
// vocabulary and facts the starter never saw.
func domainText(n int, seed uint64) []string {
	r := rand.New(rand.NewPCG(seed, 99))
	parts := []string{"the portafilter", "the steam wand", "the drip tray", "the water reservoir", "the grinder burrs", "the brew group", "the pressure gauge", "the shower screen"}
	acts := []string{"rinse", "descale", "inspect", "dry", "tighten", "replace", "preheat", "calibrate"}
	whens := []string{"every morning", "once a week", "after each shot", "before the first brew", "every three months", "when the light blinks amber"}
	why := []string{"so the crema stays thick", "to keep the espresso sweet", "because limescale blocks the valves", "so the milk foam stays silky", "to protect the boiler", "so the extraction stays even"}
	var out []string
	for range n {
		var b strings.Builder
		for range 4 {
			fmt.Fprintf(&b, "With the Aurora Barista, %s %s %s %s. ", acts[r.IntN(len(acts))], parts[r.IntN(len(parts))], whens[r.IntN(len(whens))], why[r.IntN(len(why))])
		}
		out = append(out, strings.TrimSpace(b.String()))
	}
	return out
}

// TestProofContinuedPreTraining continues pre-training the starter on a
// domain manual (.txt) and requires the held-out perplexity of the domain to
// fall by at least 30%.
func TestProofContinuedPreTraining(t *testing.T) {
	dir := starterForProof(t)
	data := t.TempDir()
	trainTxt := filepath.Join(data, "manual.txt")
	if err := os.WriteFile(trainTxt, []byte(strings.Join(domainText(120, 1), "\n\n")), 0o644); err != nil {
		t.Fatal(err)
	}
	var held strings.Builder
	for _, d := range domainText(20, 2) {
		b, _ := json.Marshal(map[string]string{"input": d})
		held.Write(b)
		held.WriteByte('\n')
	}
	heldFile := filepath.Join(data, "heldout.jsonl")
	if err := os.WriteFile(heldFile, []byte(held.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	m, tok, _ := loadStarter(t, dir)
	tokens, err := train.TokensFor(tok, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	// Held-out loss of the untouched starter, laid out as the trainer does.
	recs, _, err := train.ReadFile(heldFile, true)
	if err != nil {
		t.Fatal(err)
	}
	var rep train.DataReport
	ex, err := train.BuildPreTraining(recs, tokens, 128, &rep)
	if err != nil {
		t.Fatal(err)
	}
	bs, _ := train.Batches(ex, 4096, tokens.EOS)
	var sum float64
	var n int
	for _, b := range bs {
		l, k, err := m.Forward(b)
		if err != nil {
			t.Fatal(err)
		}
		sum += l * float64(k)
		n += k
	}
	before := sum / float64(n)
	hp, err := train.ParseHyperParameters(map[string]string{"epochCount": "2", "batchSize": "8", "learningRate": "1e-3",
		"learningRateWarmupSteps": "5", "maxSeqLen": "128", "microBatchTokens": "4096"})
	if err != nil {
		t.Fatal(err)
	}
	res, err := train.Run(t.Context(), train.Options{Model: m, Tokens: tokens, PreTraining: true, TrainFiles: []string{trainTxt},
		ValidationFiles: []string{heldFile}, HP: hp, Full: true, Seed: 1, OutputDir: t.TempDir(), BaseModelDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	after := res.ValidationLoss["heldout.jsonl"]
	drop := 1 - math.Exp(after)/math.Exp(before)
	t.Logf("held-out perplexity %.2f → %.2f (%.0f%% lower) after %d steps", math.Exp(before), math.Exp(after), 100*drop, res.Steps)
	if drop < 0.30 {
		t.Errorf("perplexity fell by %.1f%%, want ≥ 30%%", 100*drop)
	}
}
