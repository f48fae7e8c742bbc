package tokenizer

import (
	"bytes"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

func trainCorpus(tb testing.TB) []string {
	tb.Helper()
	docs := benchCorpus(tb)
	if len(docs) > 60 {
		docs = docs[:60] // ~1 MB keeps the test fast
	}
	return docs
}

func TestTrainBPE(t *testing.T) {
	docs := trainCorpus(t)
	opts := TrainOptions{VocabSize: 1200, SpecialTokens: []string{"<|begin_of_text|>", "<|end_of_text|>", "<pad>"}, BOS: "<|begin_of_text|>"}
	js, err := TrainBPE(slices.Values(docs), opts)
	if err != nil {
		t.Fatal(err)
	}
	js2, err := TrainBPE(slices.Values(docs), opts)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(js, js2) {
		t.Fatal("TrainBPE is not deterministic")
	}
	tk, err := FromJSON(js)
	if err != nil {
		t.Fatalf("FromJSON(trained): %v", err)
	}
	if tk.VocabSize() != opts.VocabSize {
		t.Errorf("VocabSize() = %d, want %d", tk.VocabSize(), opts.VocabSize)
	}
	if id, ok := tk.TokenToID("<pad>"); !ok || id != 2 {
		t.Errorf("TokenToID(<pad>) = %d, %v, want 2", id, ok)
	}
	if got := tk.Encode("hi", true); len(got) == 0 || got[0] != 0 {
		t.Errorf("Encode(hi, addSpecial) = %v, want BOS 0 first", got)
	}
	// Trained merges must compress the training text well below 1 token/byte.
	n := len(tk.Encode(docs[0], false))
	if n*2 > len(docs[0]) {
		t.Errorf("trained tokenizer gives %d tokens for %d bytes", n, len(docs[0]))
	}
	for _, s := range append(slices.Clone(hardStrings), docs[1][:2000]) {
		if got := tk.Decode(tk.Encode(s, false), false); got != s {
			t.Errorf("round trip of %q = %q", s, got)
		}
	}
	// HF's Rust tokenizer must load the file and agree id for id.
	needNode(t)
	p := filepath.Join(t.TempDir(), "tokenizer.json")
	if err := os.WriteFile(p, js, 0o644); err != nil {
		t.Fatal(err)
	}
	texts := append(append(slices.Clone(hardStrings), randomStrings(100, 3)...), docs[2], strings.Repeat("abc ", 50))
	res := runOracle(t, []oracleJob{{Tokenizer: p, Texts: texts, AddSpecial: true, Decode: true}})[0]
	for i, s := range texts {
		got := tk.Encode(s, true)
		if !slices.Equal(got, res.IDs[i]) {
			t.Errorf("Encode(%q) = %v, HF %v", s, got, res.IDs[i])
		}
		if d := tk.Decode(got, false); d != res.Decoded[i] {
			t.Errorf("Decode = %q, HF %q", d, res.Decoded[i])
		}
	}
}

func TestTrainBPEErrors(t *testing.T) {
	tests := []struct {
		name string
		opts TrainOptions
	}{
		{"small vocab", TrainOptions{VocabSize: 100}},
		{"dup special", TrainOptions{VocabSize: 300, SpecialTokens: []string{"<a>", "<a>"}}},
		{"bos not special", TrainOptions{VocabSize: 300, BOS: "<s>"}},
		{"bad regex", TrainOptions{VocabSize: 300, Pattern: "(unclosed"}},
	}
	for _, tt := range tests {
		if _, err := TrainBPE(slices.Values([]string{"hello"}), tt.opts); err == nil {
			t.Errorf("%s: TrainBPE succeeded, want error", tt.name)
		}
	}
}

// BenchmarkTrainBPE trains an 8k vocabulary on the ~3 MB benchmark corpus.
func BenchmarkTrainBPE(b *testing.B) {
	docs := benchCorpus(b)
	b.SetBytes(int64(corpusBytes(docs)))
	for b.Loop() {
		if _, err := TrainBPE(slices.Values(docs), TrainOptions{VocabSize: 8192, SpecialTokens: []string{"<s>", "</s>"}}); err != nil {
			b.Fatal(err)
		}
	}
}

func TestWriteDirRoundTrip(t *testing.T) {
	js, err := TrainBPE(slices.Values(hardStrings), TrainOptions{VocabSize: 320, SpecialTokens: []string{"<s>", "</s>", "<pad>"}, BOS: "<s>"})
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(t.TempDir(), "tok")
	yes := true
	cfg := Config{BOSToken: "<s>", EOSToken: "</s>", PadToken: "<pad>", AddBOSToken: &yes, ChatTemplate: "{{ bos_token }}{% for m in messages %}{{ m.content }}{% endfor %}"}
	if err := WriteDir(dir, js, cfg); err != nil {
		t.Fatal(err)
	}
	tk, err := LoadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	if tk.BOS() != 0 || tk.EOS() != 1 || tk.Pad() != 2 {
		t.Errorf("BOS/EOS/Pad = %d/%d/%d, want 0/1/2", tk.BOS(), tk.EOS(), tk.Pad())
	}
	if tk.Config().ChatTemplate != cfg.ChatTemplate {
		t.Errorf("chat template = %q", tk.Config().ChatTemplate)
	}
	if ids := tk.Encode("hi", true); len(ids) == 0 || ids[0] != 0 {
		t.Errorf("Encode(hi, true) = %v, want BOS first", ids)
	}
	if err := WriteDir(dir, []byte("{"), cfg); err == nil {
		t.Error("WriteDir accepted broken tokenizer.json")
	}
}
