package starter

import (
	"bufio"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/strata-ml/strata/engine/generate"
	"github.com/strata-ml/strata/engine/lora"
	"github.com/strata-ml/strata/engine/model"
	"github.com/strata-ml/strata/engine/tokenizer"
	"github.com/strata-ml/strata/engine/train"
)

func readPairs(t *testing.T, path string) (prompts, completions []string) {
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
	return
}

func TestFineTuneExperiment(t *testing.T) {
	if os.Getenv("STRATA_STARTER_EXPERIMENT") == "" {
		t.Skip("experiment")
	}
	start := time.Now()
	cache := "/tmp/starter-cache"
	dir, err := EnsureWith(t.Context(), cache, Options{OnEvent: func(e train.Event) {
		if e.Type == train.EventStep && e.Step%20 == 0 {
			t.Logf("pretrain step %d/%d loss %.3f %.0f tok/s", e.Step, e.TotalSteps, e.Loss, e.TokensPerSec)
		}
	}})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("starter ready in %v", time.Since(start))
	data := t.TempDir()
	paths, err := WriteSampleDataset(data)
	if err != nil {
		t.Fatal(err)
	}
	m, err := model.Load(dir, model.Options{})
	if err != nil {
		t.Fatal(err)
	}
	tok, err := tokenizer.LoadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	gen, _ := generate.LoadGenerationConfig(dir)
	var eos []int32
	for _, e := range gen.EOSTokenIDs {
		eos = append(eos, int32(e))
	}
	tokens, err := train.TokensFor(tok, nil, gen.EOSTokenIDs)
	if err != nil {
		t.Fatal(err)
	}
	prompts, want := readPairs(t, paths[2])
	acc0, outs0, err := ExactMatch(t.Context(), m, tok, nil, eos, prompts, want, 24)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("base accuracy %.3f, e.g. %q", acc0, outs0[0])
	hps := map[string]string{}
	json.Unmarshal([]byte(os.Getenv("STRATA_HP")), &hps)
	hp, err := train.ParseHyperParameters(hps)
	if err != nil {
		t.Fatal(err)
	}
	start = time.Now()
	out := t.TempDir()
	res, err := train.Run(t.Context(), train.Options{Model: m, Tokens: tokens, TrainFiles: paths[:1], ValidationFiles: paths[1:2], HP: hp,
		Full: os.Getenv("STRATA_FULL") != "", Seed: 1, OutputDir: out, BaseModelDir: dir,
		OnEvent: func(e train.Event) {
			if e.Type == train.EventStep && e.Step%25 == 0 || e.Type == train.EventValidation {
				t.Logf("%s step %d loss %.4f %.0f tok/s", e.Type, e.Step, e.Loss, e.TokensPerSec)
			}
		}})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("fine-tuned in %v: %+v", time.Since(start), res)
	var ad = m.(interface{ Adapter() *lora.Adapter })
	_ = ad
	m2, _ := model.Load(dir, model.Options{})
	var acc float64
	var outs []string
	if res.AdapterDir != "" {
		a, err := lora.Load(filepath.Join(out, res.AdapterDir))
		if err != nil {
			t.Fatal(err)
		}
		acc, outs, err = ExactMatch(t.Context(), m2, tok, a, eos, prompts, want, 24)
	} else {
		m3, _ := model.Load(filepath.Join(out, res.MergedDir), model.Options{})
		acc, outs, err = ExactMatch(t.Context(), m3, tok, nil, eos, prompts, want, 24)
	}
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("tuned accuracy %.3f; e.g. %q want %q", acc, outs[0], want[0])
	for i := range outs {
		if outs[i] != want[i] {
			t.Logf("miss: %q -> %q want %q", prompts[i], outs[i], want[i])
			break
		}
	}
}
