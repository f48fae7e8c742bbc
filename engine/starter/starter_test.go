package starter

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/strata-ml/strata/engine/model"
	"github.com/strata-ml/strata/engine/template"
	"github.com/strata-ml/strata/engine/tokenizer"
	"github.com/strata-ml/strata/engine/train"
)

func TestTokenizerRoundTrip(t *testing.T) {
	dir := t.TempDir()
	if err := writeTokenizer(dir, pretrainTexts(), 2048); err != nil {
		t.Fatal(err)
	}
	tok, err := tokenizer.LoadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	if v := tok.VocabSize(); v > 2048 || v < 512 {
		t.Errorf("vocab %d, want 512..2048", v)
	}
	for _, s := range []string{"Ticket: we get ERR_429_API_LIMIT when calling the orders endpoint.", "naïve café ☕ 123\n\n  tabs\tand  spaces"} {
		ids := tok.Encode(s, true)
		if ids[0] != tok.BOS() {
			t.Errorf("Encode(%q) does not start with BOS", s)
		}
		if got := tok.Decode(ids, true); got != s {
			t.Errorf("Decode(Encode(%q)) = %q", s, got)
		}
	}
	for _, s := range specialTokens {
		if id, ok := tok.TokenToID(s); !ok || !tok.IsSpecial(id) {
			t.Errorf("special token %q missing", s)
		}
	}
}

// TestEnsureCachesAndIsDeterministic builds the starter without its
// pre-training twice in different directories (identical bytes), checks the
// directory is a complete Hugging Face model, and that a second Ensure in
// the same directory reuses the build.
func TestEnsureCachesAndIsDeterministic(t *testing.T) {
	o := Options{PretrainEpochs: -1}
	root := t.TempDir()
	a, err := EnsureWith(t.Context(), root, o)
	if err != nil {
		t.Fatal(err)
	}
	b, err := EnsureWith(t.Context(), t.TempDir(), o)
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{"config.json", "model.safetensors", "tokenizer.json", "tokenizer_config.json", "generation_config.json", "special_tokens_map.json"} {
		x, err := os.ReadFile(filepath.Join(a, f))
		if err != nil {
			t.Fatal(err)
		}
		y, _ := os.ReadFile(filepath.Join(b, f))
		if !bytes.Equal(x, y) {
			t.Errorf("%s differs between two builds", f)
		}
	}
	if filepath.Base(a) != filepath.Base(b) {
		t.Errorf("build names %s and %s differ", a, b)
	}
	st, _ := os.Stat(filepath.Join(a, "model.safetensors"))
	again, err := EnsureWith(t.Context(), root, o)
	if err != nil || again != a {
		t.Fatalf("second Ensure = %s, %v; want %s", again, err, a)
	}
	if st2, _ := os.Stat(filepath.Join(a, "model.safetensors")); !st2.ModTime().Equal(st.ModTime()) {
		t.Error("second Ensure rebuilt the model")
	}
	m, err := model.Load(a, model.Options{})
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, p := range m.Params() {
		n += len(p.Data)
	}
	t.Logf("starter: %d parameters, vocab %d", n, m.Config().VocabSize)
	var cfg map[string]any
	raw, _ := os.ReadFile(filepath.Join(a, "tokenizer_config.json"))
	if err := json.Unmarshal(raw, &cfg); err != nil || cfg["chat_template"] != ChatTemplate {
		t.Errorf("tokenizer_config.json chat_template missing: %v", err)
	}
	ents, _ := os.ReadDir(root)
	if len(ents) != 1 {
		t.Errorf("cache dir holds %d entries, want just the build", len(ents))
	}
}

func TestSampleDataset(t *testing.T) {
	dir := t.TempDir()
	paths, err := WriteSampleDataset(dir)
	if err != nil {
		t.Fatal(err)
	}
	wantN := []int{SampleTrainRecords, SampleValidationRecords, SampleTestRecords}
	labels := map[string]bool{}
	for _, c := range ticketCodes {
		for _, p := range ticketImpact {
			labels[TicketCompletion(c.Category, p.Priority)] = true
		}
	}
	for i, p := range paths {
		recs, bad, err := train.ReadFile(p, false)
		if err != nil || len(bad) > 0 || len(recs) != wantN[i] {
			t.Fatalf("%s: %d records, bad %v, err %v", p, len(recs), bad, err)
		}
		seen := map[string]bool{}
		for _, r := range recs {
			if !labels[r.Completion] || !strings.Contains(r.Prompt, "ERR_") {
				t.Fatalf("%s line %d: %+v", p, r.Line, r)
			}
			seen[r.Completion] = true
		}
		if i == 0 && len(seen) != len(labels) {
			t.Errorf("train split covers %d of %d labels", len(seen), len(labels))
		}
	}
	again, _ := WriteSampleDataset(t.TempDir())
	x, _ := os.ReadFile(paths[2])
	y, _ := os.ReadFile(again[2])
	if !bytes.Equal(x, y) {
		t.Error("sample dataset is not deterministic")
	}
}

// TestConversationMask builds a conversation example with the starter's
// real tokenizer and chat template and checks that exactly the assistant
// turns (with their <|eot_id|>) are learned.
func TestConversationMask(t *testing.T) {
	dir, err := EnsureWith(t.Context(), t.TempDir(), Options{PretrainEpochs: -1})
	if err != nil {
		t.Fatal(err)
	}
	tok, err := tokenizer.LoadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	tpl, err := template.FromConfig(tok.Config(), template.Options{})
	if err != nil {
		t.Fatal(err)
	}
	tokens, err := train.TokensFor(tok, train.TemplateRenderer(tpl, tok.Config()), nil)
	if err != nil {
		t.Fatal(err)
	}
	rec, err := train.ParseRecord([]byte(`{"schemaVersion":"bedrock-conversation-2024","system":[{"text":"Be brief."}],"messages":[`+
		`{"role":"user","content":[{"text":"What does ERR_429_API_LIMIT mean?"}]},{"role":"assistant","content":[{"text":"Too many requests."}]},`+
		`{"role":"user","content":[{"text":"Thanks!"}]},{"role":"assistant","content":[{"text":"You are welcome."}]}]}`), false)
	if err != nil {
		t.Fatal(err)
	}
	var rep train.DataReport
	ex, err := train.BuildFineTuning([]train.Record{rec}, tokens, 512, "truncate", &rep)
	if err != nil || len(ex) != 1 {
		t.Fatalf("BuildFineTuning: %v, %d examples, %+v", err, len(ex), rep)
	}
	var learned []int32
	var runs []string
	for i, l := range ex[0].Learn {
		if l {
			learned = append(learned, ex[0].Tokens[i])
		}
		if (!l || i == len(ex[0].Learn)-1) && len(learned) > 0 {
			runs = append(runs, tok.Decode(learned, false))
			learned = nil
		}
	}
	want := []string{"Too many requests.<|eot_id|>", "You are welcome.<|eot_id|>"}
	if len(runs) != 2 || runs[0] != want[0] || runs[1] != want[1] {
		t.Errorf("learned runs %q, want %q", runs, want)
	}

	// The same records train end to end (LoRA) from a JSONL file.
	line := `{"system":"Be brief.","messages":[{"role":"user","content":"What does ERR_429_API_LIMIT mean?"},{"role":"assistant","content":"Too many requests."}]}` + "\n"
	data := filepath.Join(t.TempDir(), "chat.jsonl")
	if err := os.WriteFile(data, []byte(strings.Repeat(line, 4)), 0o644); err != nil {
		t.Fatal(err)
	}
	m, err := model.Load(dir, model.Options{})
	if err != nil {
		t.Fatal(err)
	}
	hp, _ := train.ParseHyperParameters(map[string]string{"epochCount": "1", "batchSize": "2"})
	out := t.TempDir()
	res, err := train.Run(t.Context(), train.Options{Model: m, Tokens: tokens, TrainFiles: []string{data}, HP: hp, Seed: 1, OutputDir: out, BaseModelDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	if res.Steps != 2 || res.AdapterDir != "adapter" {
		t.Errorf("result %+v", res)
	}
	if _, err := os.Stat(filepath.Join(out, "adapter", "adapter_config.json")); err != nil {
		t.Error(err)
	}
}
