package dataset

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"
)

var update = flag.Bool("update", false, "rewrite golden files in testdata/golden")

// fixedProbe reports a constant throughput.
type fixedProbe float64

func (p fixedProbe) Measure(_ context.Context, batch, seqLen int) (ProbeResult, error) {
	return ProbeResult{TokensPerSecond: float64(p), Batch: batch, SeqLen: seqLen}, nil
}

// tinyModel is a 2-layer Llama-shaped model for memory estimates.
var tinyModel = ModelInfo{ModelType: "llama", HiddenSize: 64, Layers: 2, Intermediate: 128, Heads: 4, KVHeads: 2, HeadDim: 16, VocabSize: 1000, MaxPositions: 2048}

// TestGoldenReports compares JSON and text reports with testdata/golden;
// regenerate with go test ./internal/dataset -run TestGoldenReports -update.
func TestGoldenReports(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		cfg   Config
		train string
		val   []string
	}{
		{name: "conversation", cfg: Config{Family: FamilyOpen, Type: FineTuning, ContextLength: 2048, MaxSeqLen: 48,
			HyperParameters: map[string]string{"epochCount": "3", "batchSize": "4"}, Model: &tinyModel, Probe: fixedProbe(1000)},
			train: "train.jsonl", val: []string{"val.jsonl"}},
		{name: "prompt_completion_llama31", cfg: Config{Family: FamilyLlama31, Type: FineTuning, Model: &tinyModel},
			train: "pc.jsonl"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			train, err := FileSource(filepath.Join("testdata", "golden", tt.train))
			if err != nil {
				t.Fatal(err)
			}
			var vals []Source
			for _, v := range tt.val {
				s, err := FileSource(filepath.Join("testdata", "golden", v))
				if err != nil {
					t.Fatal(err)
				}
				vals = append(vals, s)
			}
			cfg := tt.cfg
			cfg.Workers = 2
			r := mustValidate(t, cfg, train, vals...)
			r.ElapsedSeconds = 0
			var js, txt bytes.Buffer
			if err := r.WriteJSON(&js); err != nil {
				t.Fatal(err)
			}
			if !json.Valid(js.Bytes()) {
				t.Fatalf("WriteJSON wrote invalid JSON:\n%s", js.String())
			}
			if err := r.WriteText(&txt); err != nil {
				t.Fatal(err)
			}
			for ext, got := range map[string][]byte{".json": js.Bytes(), ".txt": txt.Bytes()} {
				path := filepath.Join("testdata", "golden", tt.name+ext)
				if *update {
					if err := os.WriteFile(path, got, 0o644); err != nil {
						t.Fatal(err)
					}
					continue
				}
				want, err := os.ReadFile(path)
				if err != nil {
					t.Fatalf("%v (run with -update)", err)
				}
				if diff := cmp.Diff(string(want), string(got)); diff != "" {
					t.Errorf("%s mismatch (-want +got):\n%s", path, diff)
				}
			}
		})
	}
}
