package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/strata-ml/strata/engine/model"
)

// dataModelDir builds a model directory with the Llama 3.1 tokenizer from
// the npm oracle packages.
func dataModelDir(t *testing.T) string {
	t.Helper()
	root := os.Getenv("STRATA_ORACLE_DIR")
	if root == "" {
		home, _ := os.UserHomeDir()
		root = filepath.Join(home, ".cache", "strata", "oracle")
	}
	src := filepath.Join(root, "node_modules", "@lenml", "tokenizer-llama3_1", "models")
	if _, err := os.Stat(filepath.Join(src, "tokenizer.json")); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("oracle tokenizer missing: %v", err)
		}
		t.Skipf("oracle tokenizer missing: %v", err)
	}
	dir := t.TempDir()
	for _, f := range []string{"tokenizer.json", "tokenizer_config.json"} {
		if err := os.Symlink(filepath.Join(src, f), filepath.Join(dir, f)); err != nil {
			t.Fatal(err)
		}
	}
	cfg := `{"architectures": ["LlamaForCausalLM"], "model_type": "llama", "hidden_size": 64, "intermediate_size": 128,
 "num_hidden_layers": 2, "num_attention_heads": 4, "num_key_value_heads": 2, "vocab_size": 128256,
 "max_position_embeddings": 2048, "tie_word_embeddings": false, "hidden_act": "silu"}`
	if err := os.WriteFile(filepath.Join(dir, "config.json"), []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	return dir
}

func TestDataValidate(t *testing.T) {
	dir := dataModelDir(t)
	data := t.TempDir()
	write := func(name string, lines ...string) string {
		p := filepath.Join(data, name)
		if err := os.WriteFile(p, []byte(strings.Join(lines, "\n")+"\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	var good []string
	for i := range 20 {
		good = append(good, fmt.Sprintf(`{"prompt": "Question %d: what is %d plus %d?", "completion": "It is %d."}`, i, i, i, 2*i))
	}
	goodFile := write("good.jsonl", good...)
	badFile := write("bad.jsonl", append(good[:3:3], `{"prompt": "x"`, `{"prompt": "Where?", "completion": ""}`)...)
	tests := []struct {
		name     string
		args     []string
		wantCode int
		wantOut  []string
		wantErr  string
	}{
		{"valid", []string{"data", "validate", goodFile, "--model", dir, "--no-probe"}, 0,
			[]string{"Dataset VALID for Hugging Face model (open), FINE_TUNING: 0 errors, 0 warnings.", "Plan: 5 epochs × 20 steps/epoch (batch 1) = 100 optimizer steps"}, ""},
		{"flags_after_file", []string{"data", "validate", "--no-probe", goodFile, "--model", dir, "--hp", "epochCount=3", "--hp", "batchSize=4"}, 0,
			[]string{"Plan: 3 epochs × 5 steps/epoch (batch 4) = 15 optimizer steps"}, ""},
		{"invalid", []string{"data", "validate", badFile, "--model", dir, "--no-probe"}, 1,
			[]string{"Dataset INVALID", "bad.jsonl:4:15: error invalid_json: not valid JSON at byte 15: unexpected end of JSON input",
				`bad.jsonl:5: error empty_field (completion): "completion" is empty`}, ""},
		{"family_rules", []string{"data", "validate", goodFile, "--model", dir, "--no-probe", "--family", "llama3.1"}, 1,
			[]string{"good.jsonl: error too_few_records: 20 training and validation records; Meta Llama 3.1 needs at least 100"}, ""},
		{"base_model_id_rules", []string{"data", "validate", goodFile, "--model", dir, "--no-probe", "--base-model-id", "meta.llama3-2-1b-instruct-v1:0"}, 1,
			[]string{`good.jsonl:1: error wrong_format: record is prompt-completion {"prompt", "completion"}, but Meta Llama 3.2 FINE_TUNING takes bedrock-conversation-2024`}, ""},
		{"usage_no_model", []string{"data", "validate", goodFile}, 2, nil, "--model is required"},
		{"usage_two_files", []string{"data", "validate", goodFile, goodFile, "--model", dir}, 2, nil, "want exactly one training FILE, got 2"},
		{"usage_bad_type", []string{"data", "validate", goodFile, "--model", dir, "--type", "RLHF"}, 2, nil, "unknown customization type"},
		{"usage_missing_file", []string{"data", "validate", filepath.Join(data, "nope.jsonl"), "--model", dir}, 2, nil, "no such file"},
		{"usage_no_subcommand", []string{"data"}, 2, nil, "missing subcommand"},
		{"bad_model", []string{"data", "validate", goodFile, "--model", data, "--no-probe"}, 3, nil, "config.json"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			code := Run(context.Background(), tt.args, &stdout, &stderr)
			if code != tt.wantCode {
				t.Fatalf("exit %d, want %d\nstdout:\n%s\nstderr:\n%s", code, tt.wantCode, stdout.String(), stderr.String())
			}
			for _, w := range tt.wantOut {
				if !strings.Contains(stdout.String(), w) {
					t.Errorf("stdout lacks %q:\n%s", w, stdout.String())
				}
			}
			if tt.wantErr != "" && !strings.Contains(stderr.String(), tt.wantErr) {
				t.Errorf("stderr lacks %q:\n%s", tt.wantErr, stderr.String())
			}
		})
	}
	t.Run("probe", func(t *testing.T) {
		cfg, err := model.LoadConfig(dir)
		if err != nil {
			t.Fatal(err)
		}
		m, err := model.New(cfg, 1, model.Options{})
		if err != nil {
			t.Fatal(err)
		}
		mdir := t.TempDir()
		if err := m.Save(mdir); err != nil {
			t.Fatal(err)
		}
		for _, f := range []string{"tokenizer.json", "tokenizer_config.json"} {
			if err := os.Symlink(filepath.Join(dir, f), filepath.Join(mdir, f)); err != nil {
				t.Fatal(err)
			}
		}
		var stdout, stderr bytes.Buffer
		if code := Run(context.Background(), []string{"data", "validate", goodFile, "--model", mdir}, &stdout, &stderr); code != 0 {
			t.Fatalf("exit %d; stderr %s", code, stderr.String())
		}
		if !strings.Contains(stdout.String(), "Time: about ") || !strings.Contains(stdout.String(), "tokens/s (measured: forward+backward, batch 1 × ") {
			t.Errorf("no measured time estimate:\n%s", stdout.String())
		}
	})
	t.Run("json", func(t *testing.T) {
		var stdout, stderr bytes.Buffer
		code := Run(context.Background(), []string{"data", "validate", badFile, "--model", dir, "--no-probe", "--json", "--progress", "always"}, &stdout, &stderr)
		if code != 1 {
			t.Fatalf("exit %d, want 1; stderr %s", code, stderr.String())
		}
		var rep struct {
			Valid          bool   `json:"valid"`
			FailureMessage string `json:"failureMessage"`
			Issues         []struct {
				Code string `json:"code"`
				Line int    `json:"line"`
			} `json:"issues"`
		}
		if err := json.Unmarshal(stdout.Bytes(), &rep); err != nil {
			t.Fatalf("report is not JSON: %v\n%s", err, stdout.String())
		}
		want := "Unable to parse Amazon S3 file: bad.jsonl. Data files must conform to JSONL format."
		if rep.Valid || !strings.HasPrefix(rep.FailureMessage, want) || len(rep.Issues) != 2 || rep.Issues[0].Line != 4 {
			t.Errorf("report = %+v", rep)
		}
		if !strings.Contains(stderr.String(), "bad.jsonl [") {
			t.Errorf("no progress bar on stderr: %q", stderr.String())
		}
	})
}

// TestDataValidateStarter: without the starter model in the build, asking
// for it is "could not validate" (3), not a crash.
func TestDataValidateStarter(t *testing.T) {
	if starterBuilder() != nil {
		t.Skip("the starter model is built by the server tests")
	}
	p := filepath.Join(t.TempDir(), "t.jsonl")
	if err := os.WriteFile(p, []byte(`{"prompt": "a question here", "completion": "an answer here"}`+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	var stdout, stderr bytes.Buffer
	if code := Run(context.Background(), []string{"data", "validate", p, "--model", "starter", "--data-dir", t.TempDir()}, &stdout, &stderr); code != 3 {
		t.Fatalf("exit %d, want 3; stderr %s", code, stderr.String())
	}
	if !strings.Contains(stderr.String(), "starter model is not part of this build") {
		t.Errorf("stderr = %q", stderr.String())
	}
}
