package tokenizer

import (
	"bufio"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"os"
	"sort"
	"testing"

	"github.com/strata-ml/strata/engine/oracle"
)

// readGGUFVocab reads tokenizer.ggml.tokens and .scores from a vocab-only
// GGUF file (llama.cpp's ggml-vocab-*.gguf).
func readGGUFVocab(path string) (tokens []string, scores []float32, err error) {
	tokens, scores, _, _, err = readGGUF(path)
	return tokens, scores, err
}

// readGGUF also returns the BPE merges and token types.
func readGGUF(path string) (tokens []string, scores []float32, merges []string, types []int32, err error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, nil, nil, nil, err
	}
	defer f.Close()
	r := bufio.NewReader(f)
	le := binary.LittleEndian
	var hdr struct {
		Magic   [4]byte
		Version uint32
		Tensors uint64
		KVs     uint64
	}
	if err := binary.Read(r, le, &hdr); err != nil {
		return nil, nil, nil, nil, err
	}
	if string(hdr.Magic[:]) != "GGUF" {
		return nil, nil, nil, nil, fmt.Errorf("%s: not a GGUF file", path)
	}
	readStr := func() (string, error) {
		var n uint64
		if err := binary.Read(r, le, &n); err != nil {
			return "", err
		}
		b := make([]byte, n)
		_, err := io.ReadFull(r, b)
		return string(b), err
	}
	sizes := map[uint32]int{0: 1, 1: 1, 2: 2, 3: 2, 4: 4, 5: 4, 6: 4, 7: 1, 10: 8, 11: 8, 12: 8}
	var readVal func(typ uint32, key string) error
	readVal = func(typ uint32, key string) error {
		switch typ {
		case 8:
			_, err := readStr()
			return err
		case 9:
			var et uint32
			var n uint64
			if err := binary.Read(r, le, &et); err != nil {
				return err
			}
			if err := binary.Read(r, le, &n); err != nil {
				return err
			}
			for i := uint64(0); i < n; i++ {
				switch {
				case et == 8 && key == "tokenizer.ggml.tokens":
					s, err := readStr()
					if err != nil {
						return err
					}
					tokens = append(tokens, s)
				case et == 8 && key == "tokenizer.ggml.merges":
					s, err := readStr()
					if err != nil {
						return err
					}
					merges = append(merges, s)
				case et == 5 && key == "tokenizer.ggml.token_type":
					var v int32
					if err := binary.Read(r, le, &v); err != nil {
						return err
					}
					types = append(types, v)
				case et == 6 && key == "tokenizer.ggml.scores":
					var v uint32
					if err := binary.Read(r, le, &v); err != nil {
						return err
					}
					scores = append(scores, math.Float32frombits(v))
				default:
					if err := readVal(et, ""); err != nil {
						return err
					}
				}
			}
			return nil
		}
		n, ok := sizes[typ]
		if !ok {
			return fmt.Errorf("gguf: unknown type %d", typ)
		}
		_, err := r.Discard(n)
		return err
	}
	for i := uint64(0); i < hdr.KVs; i++ {
		key, err := readStr()
		if err != nil {
			return nil, nil, nil, nil, err
		}
		var typ uint32
		if err := binary.Read(r, le, &typ); err != nil {
			return nil, nil, nil, nil, err
		}
		if err := readVal(typ, key); err != nil {
			return nil, nil, nil, nil, err
		}
	}
	return tokens, scores, merges, types, nil
}

// spmToTokenizerJSON converts a SentencePiece BPE vocabulary to the
// tokenizer.json transformers' LlamaConverter produces (legacy Llama 2):
// merges from SentencePieceExtractor (every split of a piece into two
// pieces, ordered by the merged piece's score), byte fallback, fuse_unk.
func spmToTokenizerJSON(tokens []string, scores []float32) ([]byte, error) {
	vocab := make(map[string]int, len(tokens))
	for i, t := range tokens {
		vocab[t] = i
	}
	type merge struct {
		l, r  string
		score float32
	}
	var merges []merge
	for _, piece := range tokens {
		runes := []rune(piece)
		var local []merge
		for k := 1; k < len(runes); k++ {
			l, r := string(runes[:k]), string(runes[k:])
			if _, ok := vocab[l]; !ok {
				continue
			}
			if _, ok := vocab[r]; !ok {
				continue
			}
			local = append(local, merge{l, r, scores[vocab[piece]]})
		}
		sort.SliceStable(local, func(i, j int) bool {
			if vocab[local[i].l] != vocab[local[j].l] {
				return vocab[local[i].l] < vocab[local[j].l]
			}
			return vocab[local[i].r] < vocab[local[j].r]
		})
		merges = append(merges, local...)
	}
	sort.SliceStable(merges, func(i, j int) bool { return merges[i].score > merges[j].score })
	ms := make([][2]string, len(merges))
	for i, m := range merges {
		ms[i] = [2]string{m.l, m.r}
	}
	added := []map[string]any{}
	for i, c := range []string{tokens[0], "<s>", "</s>"} {
		added = append(added, map[string]any{"id": i, "content": c, "single_word": false, "lstrip": false, "rstrip": false, "normalized": false, "special": true})
	}
	doc := map[string]any{
		"added_tokens": added,
		"normalizer": map[string]any{"type": "Sequence", "normalizers": []any{
			map[string]any{"type": "Prepend", "prepend": "▁"},
			map[string]any{"type": "Replace", "pattern": map[string]any{"String": " "}, "content": "▁"}}},
		"pre_tokenizer": nil,
		"post_processor": map[string]any{"type": "TemplateProcessing",
			"single":         []any{map[string]any{"SpecialToken": map[string]any{"id": "<s>", "type_id": 0}}, map[string]any{"Sequence": map[string]any{"id": "A", "type_id": 0}}},
			"pair":           []any{map[string]any{"SpecialToken": map[string]any{"id": "<s>", "type_id": 0}}, map[string]any{"Sequence": map[string]any{"id": "A", "type_id": 0}}, map[string]any{"Sequence": map[string]any{"id": "B", "type_id": 1}}},
			"special_tokens": map[string]any{"<s>": map[string]any{"id": "<s>", "ids": []int{1}, "tokens": []string{"<s>"}}}},
		"decoder": map[string]any{"type": "Sequence", "decoders": []any{
			map[string]any{"type": "Replace", "pattern": map[string]any{"String": "▁"}, "content": " "},
			map[string]any{"type": "ByteFallback"}, map[string]any{"type": "Fuse"},
			map[string]any{"type": "Strip", "content": " ", "start": 1, "stop": 0}}},
		"model": map[string]any{"type": "BPE", "unk_token": tokens[0], "fuse_unk": true, "byte_fallback": true, "vocab": vocab, "merges": ms},
	}
	return json.Marshal(doc)
}

// TestSPMVectors converts llama.cpp's SentencePiece BPE vocabularies
// (Llama 2 and Phi-3, from ggml-vocab-*.gguf) like transformers'
// LlamaConverter and checks their HF-generated vectors.
func TestSPMVectors(t *testing.T) {
	for _, name := range []string{"llama-spm", "phi-3"} {
		t.Run(name, func(t *testing.T) {
			path := oracle.LlamaCppDir() + "/models/ggml-vocab-" + name + ".gguf"
			needFile(t, path)
			toks, scores, err := readGGUFVocab(path)
			if err != nil {
				t.Fatal(err)
			}
			if len(toks) != len(scores) || len(toks) == 0 {
				t.Fatalf("read %d tokens, %d scores", len(toks), len(scores))
			}
			js, err := spmToTokenizerJSON(toks, scores)
			if err != nil {
				t.Fatal(err)
			}
			tk, err := FromJSON(js)
			if err != nil {
				t.Fatal(err)
			}
			texts, want := vocabVectors(t, name)
			ok := 0
			for i, s := range texts {
				got := tk.Encode(s, false)
				if fmt.Sprint(got) == fmt.Sprint(want[i]) || (len(got) == 0 && len(want[i]) == 0) {
					ok++
					continue
				}
				t.Errorf("Encode(%q) = %v, want %v", s, got, want[i])
			}
			t.Logf("%s: %d/%d vectors agree", name, ok, len(texts))
		})
	}
}

func splitJSON(re string) string {
	b, _ := json.Marshal(re)
	return `{"type": "Split", "pattern": {"Regex": ` + string(b) + `}, "behavior": "Isolated", "invert": false}`
}

// TestBPEVectorsFromGGUF rebuilds tokenizer.json files from llama.cpp's
// vocab-only GGUFs (tokens, merges, token types) plus the normalizer and
// pre-tokenizer of the model's HF tokenizer.json (written out here; the Split
// regexes are the originals quoted in llama.cpp's llama-vocab.cpp), and
// checks llama.cpp's HF-generated vectors. This exercises the regexp2 Split
// path, Digits, NFC, ByteLevel regex splitting and SPM-style byte fallback
// on real vocabularies.
func TestBPEVectorsFromGGUF(t *testing.T) {
	bl := `{"type": "ByteLevel", "add_prefix_space": false, "use_regex": false}`
	digitsBL := `{"type": "Sequence", "pretokenizers": [{"type": "Digits", "individual_digits": true}, {"type": "ByteLevel", "add_prefix_space": false, "use_regex": true}]}`
	tests := []struct {
		vocab, normalizer, pre, modelExtra string
	}{
		{"starcoder", "null", digitsBL, ""},
		{"refact", "null", digitsBL, ""},
		{"command-r", `{"type": "NFC"}`, digitsBL, ""},
		{"mpt", `{"type": "NFC"}`, `{"type": "ByteLevel", "add_prefix_space": false, "use_regex": true}`, ""},
		{"qwen35", "null", `{"type": "Sequence", "pretokenizers": [` + splitJSON(`(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?[\p{L}\p{M}]+|\p{N}| ?[^\s\p{L}\p{M}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+`) + `, ` + bl + `]}`, ""},
		{"deepseek-coder", "null", `{"type": "Sequence", "pretokenizers": [` + splitJSON("[\r\n]") + `, ` + splitJSON(`\s?\p{L}+`) + `, ` + splitJSON(`\s?\p{P}+`) + `, ` + splitJSON(`[一-龥ࠀ-一가-퟿]+`) + `, {"type": "Digits", "individual_digits": true}, ` + bl + `]}`, ""},
		{"falcon", "null", `{"type": "Sequence", "pretokenizers": [{"type": "Punctuation", "behavior": "Contiguous"}, {"type": "ByteLevel", "add_prefix_space": false, "trim_offsets": true, "use_regex": true}, {"type": "Digits", "individual_digits": false}, ` + splitJSON("[0-9][0-9][0-9]") + `]}`, ""},
		{"gemma-4", `{"type": "Replace", "pattern": {"String": " "}, "content": "▁"}`, `{"type": "Split", "pattern": {"String": " "}, "behavior": "MergedWithPrevious", "invert": false}`, `, "byte_fallback": true, "unk_token": "<unk>", "fuse_unk": true`},
	}
	for _, tt := range tests {
		t.Run(tt.vocab, func(t *testing.T) {
			path := oracle.LlamaCppDir() + "/models/ggml-vocab-" + tt.vocab + ".gguf"
			needFile(t, path)
			toks, _, merges, types, err := readGGUF(path)
			if err != nil {
				t.Fatal(err)
			}
			vocab := make(map[string]int, len(toks))
			for i, s := range toks {
				vocab[s] = i
			}
			added := []map[string]any{}
			for i, ty := range types {
				if ty == 3 || ty == 4 { // control and user-defined tokens
					added = append(added, map[string]any{"id": i, "content": toks[i], "special": ty == 3, "normalized": false})
				}
			}
			ab, _ := json.Marshal(added)
			vb, _ := json.Marshal(vocab)
			mb, _ := json.Marshal(merges)
			js := `{"added_tokens": ` + string(ab) + `, "normalizer": ` + tt.normalizer + `, "pre_tokenizer": ` + tt.pre +
				`, "decoder": {"type": "ByteLevel"}, "model": {"type": "BPE", "vocab": ` + string(vb) + `, "merges": ` + string(mb) + tt.modelExtra + `}}`
			tk, err := FromJSON([]byte(js))
			if err != nil {
				t.Fatal(err)
			}
			texts, want := vocabVectors(t, tt.vocab)
			ok := 0
			for i, s := range texts {
				got := tk.Encode(s, false)
				if fmt.Sprint(got) == fmt.Sprint(want[i]) || (len(got) == 0 && len(want[i]) == 0) {
					ok++
					continue
				}
				t.Errorf("Encode(%q) = %v, want %v", s, got, want[i])
			}
			t.Logf("%s: %d/%d vectors agree", tt.vocab, ok, len(texts))
		})
	}
}

// spmToUnigramJSON builds a Unigram tokenizer.json (Metaspace pre-tokenizer
// and decoder, byte fallback) from SentencePiece pieces and scores.
func spmToUnigramJSON(tokens []string, scores []float32) ([]byte, error) {
	vocab := make([][2]any, len(tokens))
	for i, t := range tokens {
		vocab[i] = [2]any{t, float64(scores[i])}
	}
	added := []map[string]any{}
	for i, c := range []string{tokens[0], "<s>", "</s>"} {
		added = append(added, map[string]any{"id": i, "content": c, "single_word": false, "lstrip": false, "rstrip": false, "normalized": false, "special": true})
	}
	doc := map[string]any{
		"added_tokens":  added,
		"normalizer":    nil,
		"pre_tokenizer": map[string]any{"type": "Metaspace", "replacement": "▁", "prepend_scheme": "first", "split": true},
		"decoder": map[string]any{"type": "Sequence", "decoders": []any{
			map[string]any{"type": "ByteFallback"},
			map[string]any{"type": "Metaspace", "replacement": "▁", "prepend_scheme": "first", "split": true}}},
		"model": map[string]any{"type": "Unigram", "unk_id": 0, "vocab": vocab, "byte_fallback": true},
	}
	return json.Marshal(doc)
}
