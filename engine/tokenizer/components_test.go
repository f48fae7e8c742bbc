package tokenizer

import (
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"unicode/utf8"
)

// TestComponentsMatchHF swaps normalizers, pre-tokenizers, post-processors
// and decoders into a tokenizer trained in-process and compares ids,
// offsets and decodes with HF's Rust tokenizer, covering components the
// real model files do not use (NFKC, NFD, Lowercase, StripAccents, Strip,
// regex Replace, Whitespace, WhitespaceSplit, Punctuation, Digits,
// Metaspace schemes, Bert/Roberta processing, Strip decoder).
func TestComponentsMatchHF(t *testing.T) {
	needNode(t)
	corpus := append(append(slices.Clone(hardStrings), randomStrings(300, 21)...), benchCorpus(t)[0])
	base, err := TrainBPE(slices.Values(corpus), TrainOptions{VocabSize: 1500, SpecialTokens: []string{"<s>", "</s>", "[CLS]", "[SEP]"}})
	if err != nil {
		t.Fatal(err)
	}
	var doc map[string]json.RawMessage
	if err := json.Unmarshal(base, &doc); err != nil {
		t.Fatal(err)
	}
	bl := `{"type": "ByteLevel", "add_prefix_space": false, "trim_offsets": false, "use_regex": false}`
	llama := `{"type": "Split", "pattern": {"Regex": ` + jsonString(llama3Pattern) + `}, "behavior": "Isolated", "invert": false}`
	variants := []struct {
		name                       string
		normalizer, pre, post, dec string
	}{
		{"nfkc lowercase", `{"type": "Sequence", "normalizers": [{"type": "NFKC"}, {"type": "Lowercase"}]}`, `{"type": "Sequence", "pretokenizers": [` + llama + `, ` + bl + `]}`, "", ""},
		{"nfd strip accents", `{"type": "Sequence", "normalizers": [{"type": "NFD"}, {"type": "StripAccents"}, {"type": "NFC"}]}`, `{"type": "Sequence", "pretokenizers": [{"type": "WhitespaceSplit"}, ` + bl + `]}`, "", ""},
		{"strip and regex replace", `{"type": "Sequence", "normalizers": [{"type": "Strip", "strip_left": true, "strip_right": true}, {"type": "Replace", "pattern": {"Regex": "\\s+"}, "content": " "}, {"type": "NFKD"}]}`, `{"type": "Sequence", "pretokenizers": [{"type": "Whitespace"}, ` + bl + `]}`, "", ""},
		{"digits punctuation", "null", `{"type": "Sequence", "pretokenizers": [{"type": "Punctuation", "behavior": "Isolated"}, {"type": "Digits", "individual_digits": true}, {"type": "ByteLevel", "add_prefix_space": true, "trim_offsets": false, "use_regex": true}]}`, "", ""},
		{"bytelevel first", "null", `{"type": "Sequence", "pretokenizers": [{"type": "ByteLevel", "add_prefix_space": false, "trim_offsets": false, "use_regex": true}, {"type": "Digits", "individual_digits": false}]}`, "", ""},
		{"bert processing", "null", `{"type": "Sequence", "pretokenizers": [` + llama + `, ` + bl + `]}`, `{"type": "BertProcessing", "sep": ["[SEP]", 3], "cls": ["[CLS]", 2]}`, ""},
		{"template pre and post", "null", `{"type": "Sequence", "pretokenizers": [` + llama + `, ` + bl + `]}`, `{"type": "TemplateProcessing", "single": [{"SpecialToken": {"id": "<s>", "type_id": 0}}, {"Sequence": {"id": "A", "type_id": 0}}, {"SpecialToken": {"id": "</s>", "type_id": 0}}], "pair": [{"Sequence": {"id": "A", "type_id": 0}}, {"Sequence": {"id": "B", "type_id": 1}}], "special_tokens": {"<s>": {"id": "<s>", "ids": [0], "tokens": ["<s>"]}, "</s>": {"id": "</s>", "ids": [1], "tokens": ["</s>"]}}}`, ""},
	}
	dir := t.TempDir()
	var jobs []oracleJob
	toks := make([]*Tokenizer, len(variants))
	for i, v := range variants {
		d := make(map[string]json.RawMessage, len(doc))
		for k, x := range doc {
			d[k] = x
		}
		d["normalizer"] = json.RawMessage(v.normalizer)
		d["pre_tokenizer"] = json.RawMessage(v.pre)
		if v.post != "" {
			d["post_processor"] = json.RawMessage(v.post)
		}
		if v.dec != "" {
			d["decoder"] = json.RawMessage(v.dec)
		}
		js, err := json.Marshal(d)
		if err != nil {
			t.Fatal(err)
		}
		if toks[i], err = FromJSON(js); err != nil {
			t.Fatalf("%s: %v", v.name, err)
		}
		p := filepath.Join(dir, "v"+string(rune('a'+i))+".json")
		if err := os.WriteFile(p, js, 0o644); err != nil {
			t.Fatal(err)
		}
		jobs = append(jobs, oracleJob{Tokenizer: p, Texts: corpus[:len(corpus)-1], AddSpecial: true, Decode: true})
	}
	res := runOracle(t, jobs)
	for i, v := range variants {
		idOK, offOK := 0, 0
		for k, s := range jobs[i].Texts {
			ids, offs := toks[i].EncodeWithOffsets(s, true)
			want := res[i].IDs[k]
			if !slices.Equal(ids, want) && !(len(ids) == 0 && len(want) == 0) {
				t.Errorf("%s: Encode(%q) = %v, HF %v", v.name, s, ids, want)
				continue
			}
			idOK++
			same := len(offs) == len(res[i].Offsets[k])
			for j := 0; same && j < len(offs); j++ {
				c := [2]int{utf8.RuneCountInString(s[:offs[j].Start]), utf8.RuneCountInString(s[:offs[j].End])}
				same = c == res[i].Offsets[k][j]
			}
			if same {
				offOK++
			}
			if d := toks[i].Decode(want, false); d != res[i].Decoded[k] {
				t.Errorf("%s: Decode(%v) = %q, HF %q", v.name, want, d, res[i].Decoded[k])
			}
		}
		t.Logf("%s: ids %d/%d, offsets %d/%d agree with HF", v.name, idOK, len(jobs[i].Texts), offOK, len(jobs[i].Texts))
	}
}

func jsonString(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}
