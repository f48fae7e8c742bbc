package tokenizer

import (
	"errors"
	"slices"
	"strings"
	"sync"
	"testing"
	"unicode/utf8"

	"github.com/dlclark/regexp2"
)

// tinyJSON is a small hand-written byte-level tokenizer.json.
const tinyJSON = `{
 "added_tokens": [{"id": 9, "content": "<s>", "single_word": false, "lstrip": false, "rstrip": false, "normalized": false, "special": true}],
 "normalizer": null,
 "pre_tokenizer": {"type": "ByteLevel", "add_prefix_space": false, "trim_offsets": true, "use_regex": true},
 "post_processor": null,
 "decoder": {"type": "ByteLevel"},
 "model": {"type": "BPE", "vocab": {"a": 0, "b": 1, "ab": 2, "Ġ": 3, "Ġab": 4}, "merges": ["a b", "Ġ ab"]}
}`

func TestFromJSONTiny(t *testing.T) {
	tk, err := FromJSON([]byte(tinyJSON))
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		in   string
		want []int32
	}{
		{"ab", []int32{2}},
		{"ab ab", []int32{2, 4}},
		{"ab<s>ba", []int32{2, 9, 1, 0}},
		{"c", nil}, // no byte for 'c' and no unk: dropped, like HF
	}
	for _, tt := range tests {
		if got := tk.Encode(tt.in, false); !slices.Equal(got, tt.want) {
			t.Errorf("Encode(%q) = %v, want %v", tt.in, got, tt.want)
		}
	}
	if got := tk.Decode([]int32{2, 9, 4}, true); got != "ab ab" {
		t.Errorf("Decode(skipSpecial) = %q, want %q", got, "ab ab")
	}
	if got := tk.Decode([]int32{2, 9, 4, 1000}, false); got != "ab<s> ab" {
		t.Errorf("Decode = %q, want %q", got, "ab<s> ab")
	}
	ids, offs := tk.EncodeWithOffsets("ab ab", false)
	if !slices.Equal(ids, []int32{2, 4}) || offs[0] != (Offset{0, 2}) || offs[1] != (Offset{2, 5}) {
		t.Errorf("EncodeWithOffsets = %v %v", ids, offs)
	}
	if tk.VocabSize() != 10 || !tk.IsSpecial(9) || tk.IsSpecial(2) {
		t.Errorf("VocabSize %d IsSpecial(9) %v", tk.VocabSize(), tk.IsSpecial(9))
	}
}

func TestFromJSONErrors(t *testing.T) {
	base := func(pre, model, dec string) string {
		return `{"pre_tokenizer": ` + pre + `, "decoder": ` + dec + `, "model": ` + model + `}`
	}
	okModel := `{"type": "BPE", "vocab": {"a": 0, "b": 1, "ab": 2}, "merges": ["a b"]}`
	tests := []struct {
		name, json, wantSub string
		unsupported         bool
	}{
		{"not json", `{`, "parse json", false},
		{"unknown pre", base(`{"type": "Frobnicate"}`, okModel, "null"), `pre_tokenizer "Frobnicate"`, true},
		{"unknown decoder", base("null", okModel, `{"type": "CTC"}`), `decoder "CTC"`, true},
		{"unknown normalizer", `{"normalizer": {"type": "Precompiled"}, "model": ` + okModel + `}`, `normalizer "Precompiled"`, true},
		{"wordpiece", base("null", `{"type": "WordPiece", "vocab": {}}`, "null"), `model "WordPiece"`, true},
		{"unigram empty", base("null", `{"type": "Unigram", "vocab": []}`, "null"), "empty vocab", false},
		{"unigram bad entry", base("null", `{"type": "Unigram", "vocab": [["a"]]}`, "null"), "want [piece, score]", false},
		{"unigram bad unk", base("null", `{"type": "Unigram", "unk_id": 5, "vocab": [["a", -1.0]]}`, "null"), "unk_id 5", false},
		{"broken regex", base(`{"type": "Split", "pattern": {"Regex": "(?<"}, "behavior": "Isolated"}`, okModel, "null"), "compile regex", false},
		{"bad behavior", base(`{"type": "Split", "pattern": {"String": " "}, "behavior": "Sideways"}`, okModel, "null"), "split behavior", false},
		{"merge token missing", base("null", `{"type": "BPE", "vocab": {"a": 0}, "merges": ["a b"]}`, "null"), `token "b" not in vocab`, false},
		{"merge result missing", base("null", `{"type": "BPE", "vocab": {"a": 0, "b": 1}, "merges": ["a b"]}`, "null"), `result "ab" not in vocab`, false},
		{"bad merge string", base("null", `{"type": "BPE", "vocab": {"a": 0}, "merges": ["a b c"]}`, "null"), "two tokens", false},
		{"no model", `{"normalizer": null}`, "model: missing", false},
		{"missing vocab", base("null", `{"type": "BPE"}`, "null"), "missing vocab", false},
		{"unk not in vocab", base("null", `{"type": "BPE", "vocab": {"a": 0}, "merges": [], "unk_token": "<unk>"}`, "null"), "unk_token", false},
		{"template missing special", `{"post_processor": {"type": "TemplateProcessing", "single": [{"SpecialToken": {"id": "<s>"}}, {"Sequence": {"id": "A"}}], "special_tokens": {}}, "model": ` + okModel + `}`, `special token "<s>"`, false},
		{"nested sequence", base(`{"type": "Sequence", "pretokenizers": [{"type": "Sequence", "pretokenizers": []}, {"type": "Digits"}]}`, okModel, "null"), "nested Sequence", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := FromJSON([]byte(tt.json))
			if err == nil {
				t.Fatalf("FromJSON succeeded, want error containing %q", tt.wantSub)
			}
			if !strings.Contains(err.Error(), tt.wantSub) {
				t.Errorf("FromJSON error = %v, want it to contain %q", err, tt.wantSub)
			}
			if errors.Is(err, ErrUnsupported) != tt.unsupported {
				t.Errorf("errors.Is(%v, ErrUnsupported) = %v, want %v", err, !tt.unsupported, tt.unsupported)
			}
		})
	}
}

// TestScannersMatchRegex proves the hand-written scanners equal the regexes
// they replace (run through regexp2) on the hard and random strings.
func TestScannersMatchRegex(t *testing.T) {
	texts := append(slices.Clone(hardStrings), randomStrings(2000, 11)...)
	for _, src := range []string{gpt2Pattern, llama3Pattern, qwen2Pattern} {
		sc, _ := knownScanner(src)
		re := regexPattern{regexp2.MustCompile(src, regexp2.None)}
		for _, s := range texts {
			if strings.ContainsRune(s, 'ſ') {
				// Oniguruma case-folds ſ to s ((?i:'s) matches 'ſ); regexp2
				// does not. HF agrees with the scanner (TestGoldenHF).
				continue
			}
			got, _ := sc.find(s)
			want, _ := re.find(s)
			if !slices.Equal(got, want) {
				t.Errorf("pattern %.20q on %q:\n scanner %v\n regex   %v", src, s, got, want)
			}
		}
	}
}

func FuzzScanners(f *testing.F) {
	for _, s := range hardStrings {
		f.Add(s)
	}
	res := make([]regexPattern, 3)
	scs := make([]scanPattern, 3)
	for i, src := range []string{gpt2Pattern, llama3Pattern, qwen2Pattern} {
		res[i] = regexPattern{regexp2.MustCompile(src, regexp2.None)}
		scs[i], _ = knownScanner(src)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if !utf8.ValidString(s) || strings.ContainsRune(s, 'ſ') {
			return
		}
		for i := range res {
			got, _ := scs[i].find(s)
			want, _ := res[i].find(s)
			if !slices.Equal(got, want) {
				t.Fatalf("scanner %d on %q: %v, regex %v", i, s, got, want)
			}
		}
	})
}

func FuzzFromJSON(f *testing.F) {
	f.Add([]byte(tinyJSON))
	f.Add([]byte(`{"model": {"type": "BPE", "vocab": {"a": 0}, "merges": [["a", "a"]]}}`))
	f.Add([]byte(`{"pre_tokenizer": {"type": "Metaspace", "replacement": "▁", "prepend_scheme": "always"}, "model": {"type": "Unigram", "unk_id": 0, "byte_fallback": true, "vocab": [["<unk>", 0], ["▁a", -1.5], ["b", -2], ["<0x41>", -3]]}, "decoder": {"type": "Metaspace", "replacement": "▁"}}`))
	f.Add([]byte(`{"pre_tokenizer": {"type": "Sequence", "pretokenizers": [{"type": "Punctuation", "behavior": "Contiguous"}, {"type": "ByteLevel"}, {"type": "Digits"}]}, "model": {"type": "BPE", "vocab": {"a": 0}, "merges": []}}`))
	f.Add([]byte(`{"normalizer": {"type": "Sequence", "normalizers": [{"type": "Prepend", "prepend": "▁"}, {"type": "Replace", "pattern": {"String": " "}, "content": "▁"}]}, "model": {"type": "BPE", "vocab": {"▁": 0, "<0x41>": 1}, "merges": [], "byte_fallback": true}, "decoder": {"type": "Sequence", "decoders": [{"type": "ByteFallback"}, {"type": "Fuse"}, {"type": "Strip", "content": " ", "start": 1, "stop": 0}]}}`))
	f.Add([]byte(`{"pre_tokenizer": {"type": "Metaspace", "replacement": "▁", "prepend_scheme": "first"}, "model": {"type": "BPE", "vocab": {}, "merges": []}, "post_processor": {"type": "TemplateProcessing", "single": [{"SpecialToken": {"id": "<s>"}}, {"Sequence": {"id": "A"}}], "special_tokens": {"<s>": {"ids": [5]}}}}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		tk, err := FromJSON(data)
		if err != nil {
			return
		}
		for _, s := range []string{"", "hello world", "A\u00e9 <s> 12345 \n\n", "\xff\xfe"} {
			ids := tk.Encode(s, true)
			tk.Decode(ids, false)
			tk.Decode(ids, true)
			tk.EncodeWithOffsets(s, false)
		}
		tk.Decode([]int32{-1, 0, 1, 1 << 30}, false)
	})
}

var (
	fuzzTokOnce sync.Once
	fuzzTok     *Tokenizer
)

// FuzzEncodeDecode checks that decode(encode(s)) == s for valid UTF-8 on a
// byte-level tokenizer trained in-process (no assets needed).
func FuzzEncodeDecode(f *testing.F) {
	for _, s := range hardStrings {
		f.Add(s)
	}
	fuzzTokOnce.Do(func() {
		js, err := TrainBPE(slices.Values(append(slices.Clone(hardStrings), randomStrings(300, 5)...)), TrainOptions{VocabSize: 600, SpecialTokens: []string{"<s>"}})
		if err != nil {
			panic(err)
		}
		if fuzzTok, err = FromJSON(js); err != nil {
			panic(err)
		}
	})
	f.Fuzz(func(t *testing.T, s string) {
		if !utf8.ValidString(s) {
			return
		}
		ids, offs := fuzzTok.EncodeWithOffsets(s, false)
		if got := fuzzTok.Decode(ids, false); got != s {
			t.Fatalf("Decode(Encode(%q)) = %q", s, got)
		}
		if !slices.Equal(ids, fuzzTok.Encode(s, false)) {
			t.Fatalf("Encode and EncodeWithOffsets disagree on %q", s)
		}
		for i, o := range offs {
			if o.Start < 0 || o.End > len(s) || o.Start > o.End || (i > 0 && o.Start < offs[i-1].Start) {
				t.Fatalf("bad offsets %v for %q", offs, s)
			}
		}
		var sb strings.Builder
		d := fuzzTok.NewStreamDecoder(false)
		for _, id := range ids {
			sb.WriteString(d.Next(id))
		}
		sb.WriteString(d.Flush())
		if sb.String() != s {
			t.Fatalf("stream decode of %q = %q", s, sb.String())
		}
	})
}

func TestEncodeBatchMatchesEncode(t *testing.T) {
	js, err := TrainBPE(slices.Values(hardStrings), TrainOptions{VocabSize: 400, SpecialTokens: []string{"<s>"}, BOS: "<s>"})
	if err != nil {
		t.Fatal(err)
	}
	tk, err := FromJSON(js)
	if err != nil {
		t.Fatal(err)
	}
	texts := append(slices.Clone(hardStrings), randomStrings(200, 4)...)
	got := tk.EncodeBatch(texts, true)
	for i, s := range texts {
		if want := tk.Encode(s, true); !slices.Equal(got[i], want) {
			t.Errorf("EncodeBatch[%d] = %v, want %v", i, got[i], want)
		}
	}
	if tk.BOS() != 0 {
		t.Errorf("BOS() = %d, want 0 from the post-processor", tk.BOS())
	}
}
