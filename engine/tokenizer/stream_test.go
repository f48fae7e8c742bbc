package tokenizer

import (
	"slices"
	"strings"
	"testing"
	"unicode/utf8"
)

// TestStreamDecoder checks that streaming ids one at a time reproduces
// Decode, never emits a broken UTF-8 character, for every family (byte-level
// emoji split over tokens, byte-fallback <0xNN> runs, Strip decoders).
func TestStreamDecoder(t *testing.T) {
	names := []string{"llama3", "qwen3", "mistral", "gemma3"}
	if testing.Short() {
		names = names[:3]
	}
	texts := append(append([]string(nil), hardStrings...), randomStrings(100, 9)...)
	for _, name := range names {
		t.Run(name, func(t *testing.T) {
			tk := loadFamily(t, name)
			for _, skip := range []bool{false, true} {
				for _, s := range texts {
					ids := tk.Encode(s, true)
					d := tk.NewStreamDecoder(skip)
					var sb strings.Builder
					for _, id := range ids {
						piece := d.Next(id)
						if !utf8.ValidString(piece) {
							t.Fatalf("Next emitted invalid UTF-8 %q", piece)
						}
						sb.WriteString(piece)
					}
					sb.WriteString(d.Flush())
					if want := tk.Decode(ids, skip); sb.String() != want {
						t.Errorf("stream(%q, skip=%v) = %q, want %q", s, skip, sb.String(), want)
					}
				}
			}
		})
	}
}

// TestSafeSplitEquivalence checks that splitting long words at boundaries no
// merge can cross gives exactly the unsplit BPE result on real text.
func TestSafeSplitEquivalence(t *testing.T) {
	docs := benchCorpus(t)
	for _, name := range []string{"mistral", "llama2"} {
		tk := loadFamily(t, name)
		for _, d := range docs[:min(len(docs), 8)] {
			n, err := tk.norm.normalize(nstr{s: d})
			if err != nil {
				t.Fatal(err)
			}
			w := n.s[:min(len(n.s), 4000)]
			for !utf8.ValidString(w) {
				w = w[:len(w)-1]
			}
			bm := tk.model.(*bpeModel)
			split, _ := bm.tokenize(w, nil, nil)
			whole, _ := bm.tokenizeWord(w, nil, nil)
			if !slices.Equal(split, whole) {
				t.Fatalf("%s: split BPE differs from whole-word BPE on %q", name, w[:80])
			}
		}
	}
}
