package tokenizer

import (
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
