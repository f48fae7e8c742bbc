package starter

import (
	"encoding/json"
	"fmt"
	"path/filepath"
	"regexp"
	"slices"
	"strings"

	"github.com/strata-ml/strata/engine/safetensors"
)

// gpt2Split approximates the GPT-2 pre-tokenizer regex (Go's regexp has no
// look-ahead) for counting words during training; encoding uses the exact
// ByteLevel pre-tokenizer of the written tokenizer.json.
var gpt2Split = regexp.MustCompile(`'s|'t|'re|'ve|'m|'ll|'d| ?\pL+| ?\pN+| ?[^\s\pL\pN]+|\s+`)

// byteRunes is GPT-2's bytes_to_unicode table.
var byteRunes = func() [256]rune {
	var t [256]rune
	n := 0
	for b := range 256 {
		if (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF) {
			t[b] = rune(b)
		} else {
			t[b] = rune(256 + n)
			n++
		}
	}
	return t
}()

// trainBPE writes dir/tokenizer.json: a byte-level BPE with the 256 byte
// tokens, merges learned from texts until the vocabulary (with the special
// tokens) has vocab entries, and the special tokens as added tokens. The
// post-processor prepends BOS, as Llama 3's does.
func trainBPE(dir string, texts []string, vocab int) error {
	counts := map[string]int{}
	for _, t := range texts {
		for _, w := range gpt2Split.FindAllString(t, -1) {
			counts[w]++
		}
	}
	words := make([]string, 0, len(counts))
	for w := range counts {
		words = append(words, w)
	}
	slices.Sort(words)
	type word struct {
		syms []string
		n    int
	}
	ws := make([]word, len(words))
	for i, w := range words {
		var syms []string
		for _, b := range []byte(w) {
			syms = append(syms, string(byteRunes[b]))
		}
		ws[i] = word{syms, counts[w]}
	}
	ids := map[string]int{}
	var itos []string
	add := func(s string) {
		if _, ok := ids[s]; !ok {
			ids[s] = len(itos)
			itos = append(itos, s)
		}
	}
	for b := range 256 {
		add(string(byteRunes[b]))
	}
	var merges []string
	for len(itos)+len(specialTokens) < vocab {
		pairs := map[[2]string]int{}
		for _, w := range ws {
			for i := 0; i+1 < len(w.syms); i++ {
				pairs[[2]string{w.syms[i], w.syms[i+1]}] += w.n
			}
		}
		var best [2]string
		bn := 0
		for p, n := range pairs {
			// Highest count; ties by the lexically smallest pair, so the
			// result does not depend on map order.
			if n > bn || n == bn && (p[0] < best[0] || p[0] == best[0] && p[1] < best[1]) {
				best, bn = p, n
			}
		}
		if bn < 2 {
			break
		}
		merged := best[0] + best[1]
		merges = append(merges, best[0]+" "+best[1])
		add(merged)
		for i := range ws {
			s := ws[i].syms
			out := s[:0]
			for j := 0; j < len(s); j++ {
				if j+1 < len(s) && s[j] == best[0] && s[j+1] == best[1] {
					out = append(out, merged)
					j++
					continue
				}
				out = append(out, s[j])
			}
			ws[i].syms = out
		}
	}
	vocabMap := map[string]int{}
	for i, s := range itos {
		vocabMap[s] = i
	}
	var added []map[string]any
	for i, s := range specialTokens {
		added = append(added, map[string]any{"id": len(itos) + i, "content": s, "single_word": false,
			"lstrip": false, "rstrip": false, "normalized": false, "special": true})
	}
	bos := len(itos)
	tj := map[string]any{
		"version":       "1.0",
		"truncation":    nil,
		"padding":       nil,
		"added_tokens":  added,
		"normalizer":    nil,
		"pre_tokenizer": map[string]any{"type": "ByteLevel", "add_prefix_space": false, "trim_offsets": true, "use_regex": true},
		"post_processor": map[string]any{
			"type":           "TemplateProcessing",
			"single":         []any{map[string]any{"SpecialToken": map[string]any{"id": BOSToken, "type_id": 0}}, map[string]any{"Sequence": map[string]any{"id": "A", "type_id": 0}}},
			"pair":           []any{map[string]any{"SpecialToken": map[string]any{"id": BOSToken, "type_id": 0}}, map[string]any{"Sequence": map[string]any{"id": "A", "type_id": 0}}, map[string]any{"Sequence": map[string]any{"id": "B", "type_id": 1}}},
			"special_tokens": map[string]any{BOSToken: map[string]any{"id": BOSToken, "ids": []int{bos}, "tokens": []string{BOSToken}}},
		},
		"decoder": map[string]any{"type": "ByteLevel", "add_prefix_space": true, "trim_offsets": true, "use_regex": true},
		"model": map[string]any{"type": "BPE", "dropout": nil, "unk_token": nil, "continuing_subword_prefix": nil,
			"end_of_word_suffix": nil, "fuse_unk": false, "byte_fallback": false, "ignore_merges": false,
			"vocab": vocabMap, "merges": merges},
	}
	b, err := json.Marshal(tj)
	if err != nil {
		return err
	}
	if err := safetensors.WriteAtomic(filepath.Join(dir, "tokenizer.json"), b); err != nil {
		return fmt.Errorf("write tokenizer.json: %w", err)
	}
	_ = strings.TrimSpace
	return nil
}
