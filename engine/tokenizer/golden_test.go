package tokenizer

import (
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/strata-ml/strata/engine/oracle"
)

// hardStrings are adversarial inputs: scripts, ZWJ emoji, whitespace runs,
// code, digits, special-token text, contractions and combining marks.
var hardStrings = []string{
	"",
	" ",
	"Hello, world!",
	"The quick brown fox jumps over the lazy dog.",
	"naïve café — Ünïcödé: 日本語のテキスト, 中文, العربية, русский, हिन्दी, 한국어",
	"emoji: 👋🏽 🇯🇵 👨‍👩‍👧‍👦 🤖✨ ❤️ 🏳️‍🌈",
	"whitespace:   three spaces\t\ttabs\n\n\nnewlines   \n  trailing   ",
	"\n\n\n",
	"   leading",
	"trailing\n",
	"\r\n\r\nwindows\r\nlines\r",
	"def f(x):\n    return x ** 2  # square\n\nprint(f(12345678))",
	"func main() {\n\tfmt.Println(\"hi\")\n}\n",
	"I'm sure they'll've DON'T you're 1234567 3.14159 'S 'ſ 'Ll",
	"<|begin_of_text|>special? <|im_start|>user\nhi<|im_end|>\n<s> </s> <bos><eos> <unk>",
	"<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\n",
	"<think>\nreasoning\n</think>\n\n<tool_call>{\"a\": 1}</tool_call>",
	"e\u0301 (decomposed) vs é, Å vs Å, ﬁ ligature, ½ Ⅻ ١٢٣ ０１２",
	"\u00a0nbsp\u3000ideographic\u2028line sep\u2003em",
	"A\u200bzero\u200cwidth\u200djoiner\ufeffbom",
	"0000000000000000 1,000,000.00 $19.99 100%",
	"𝔘𝔫𝔦𝔠𝔬𝔡𝔢 𝟙𝟚𝟛 \U0001F600\U0001F601",
	"ﷺ ﷽ Ꙭ ꙮ",
	"\x00\x01\x1b[31mred\x1b[0m\x7f",
	"    \t \n \t\t\n      x",
	"!!!??? ... --- ___ *** ### @@@ ```go\n```",
	"https://example.com/path?query=1&b=2#frag user@example.com",
	"ÀÁÂÃÄÅÆÇÈÉÊËÌÍÎÏ ĀāĂăĄą",
	"Ελληνικά עברית ไทย ქართული Հայերեն",
	"a\n\nb\n\n\nc \n d  \n\n  e",
}

// randomStrings builds deterministic random mixes of the hard pieces.
func randomStrings(n int, seed uint64) []string {
	pieces := []string{"a", "Z", "hello", " ", "  ", "\t", "\n", "\r\n", "'s", "'T", "'re", "'ll", "'ſ", "0", "12", "123456",
		"é", "e\u0301", "日本", "ع", "ह", "ि", "👋", "🏽", "\u200d", "🇯", "🇵", "️", ".", ",", "!?", "(", "\"", "<", "|", ">",
		"<s>", "</s>", "<|im_start|>", "<|begin_of_text|>", "<bos>", "▁", "\u00a0", "\u3000", "\u2028", "½", "Ⅻ", "٣", "ſ", "İ", "ß", "_", "-", "\\", "{", "}"}
	r := rand.New(rand.NewPCG(seed, 7))
	out := make([]string, n)
	for i := range out {
		var sb strings.Builder
		for range 1 + r.IntN(24) {
			sb.WriteString(pieces[r.IntN(len(pieces))])
		}
		out[i] = sb.String()
	}
	return out
}

// vocabVectors reads llama.cpp's ggml-vocab-NAME.gguf.inp/.out pair.
func vocabVectors(t testing.TB, name string) ([]string, [][]int32) {
	t.Helper()
	base := filepath.Join(oracle.LlamaCppDir(), "models", "ggml-vocab-"+name+".gguf")
	needFile(t, base+".inp")
	inp, err := os.ReadFile(base + ".inp")
	if err != nil {
		t.Fatal(err)
	}
	outb, err := os.ReadFile(base + ".out")
	if err != nil {
		t.Fatal(err)
	}
	texts := strings.Split(string(inp), "\n__ggml_vocab_test__\n")
	texts = texts[:len(texts)-1]
	lines := strings.Split(string(outb), "\n")
	want := make([][]int32, len(texts))
	for i := range texts {
		for _, f := range strings.Fields(lines[i]) {
			var v int32
			fmt.Sscan(f, &v)
			want[i] = append(want[i], v)
		}
	}
	return texts, want
}

// TestLlamaCppVectors checks llama.cpp's HF-generated vectors (no node needed
// except to build GPT-2's tokenizer.json).
func TestLlamaCppVectors(t *testing.T) {
	for _, tc := range []struct{ vocab, family string }{
		{"llama-bpe", "llama3"},
		{"qwen2", "qwen3"},
		{"gpt-2", "gpt2"},
	} {
		t.Run(tc.vocab, func(t *testing.T) {
			texts, want := vocabVectors(t, tc.vocab)
			tk := loadFamily(t, tc.family)
			ok := 0
			for i, s := range texts {
				got := tk.Encode(s, false)
				if slices.Equal(got, want[i]) || (len(got) == 0 && len(want[i]) == 0) {
					ok++
					continue
				}
				t.Errorf("Encode(%q) = %v, want %v", s, got, want[i])
			}
			t.Logf("%s: %d/%d vectors agree", tc.vocab, ok, len(texts))
		})
	}
}

// TestGoldenHF compares ids and decodes with HF's Rust tokenizer.
func TestGoldenHF(t *testing.T) {
	needNode(t)
	names := []string{"llama3", "llama3_1", "qwen3", "mistral", "llama2", "unigram", "gpt2", "gemma3"}
	if testing.Short() {
		names = []string{"llama3", "qwen3", "mistral"}
	}
	texts := append(slices.Clone(hardStrings), randomStrings(300, 1)...)
	var jobs []oracleJob
	for _, name := range names {
		p := filepath.Join(familyDir(t, name), "tokenizer.json")
		jobs = append(jobs, oracleJob{Tokenizer: p, Texts: texts, Decode: true},
			oracleJob{Tokenizer: p, Texts: hardStrings, AddSpecial: true})
	}
	res := runOracle(t, jobs)
	for k, name := range names {
		t.Run(name, func(t *testing.T) {
			tk := loadFamily(t, name)
			plain, special := res[2*k], res[2*k+1]
			idOK, decOK, offOK := 0, 0, 0
			for i, s := range texts {
				if ids, offs := tk.EncodeWithOffsets(s, false); slices.Equal(ids, plain.IDs[i]) {
					// HF reports offsets in characters.
					same := len(offs) == len(plain.Offsets[i])
					for k := 0; same && k < len(offs); k++ {
						c := [2]int{utf8.RuneCountInString(s[:offs[k].Start]), utf8.RuneCountInString(s[:offs[k].End])}
						same = c == plain.Offsets[i][k]
					}
					if same {
						offOK++
					} else {
						t.Errorf("EncodeWithOffsets(%q) offsets %v, HF (chars) %v", s, offs, plain.Offsets[i])
					}
				}
				got := tk.Encode(s, false)
				if !slices.Equal(got, plain.IDs[i]) && !(len(got) == 0 && len(plain.IDs[i]) == 0) {
					t.Errorf("Encode(%q) =\n %v, want\n %v", s, got, plain.IDs[i])
				} else {
					idOK++
				}
				w := plain.IDs[i]
				d1, d2 := tk.Decode(w, false), tk.Decode(w, true)
				if d1 != plain.Decoded[i] || d2 != plain.DecodedSkip[i] {
					t.Errorf("Decode(%v) = %q / skip %q, want %q / %q", w, d1, d2, plain.Decoded[i], plain.DecodedSkip[i])
				} else {
					decOK++
				}
			}
			for i, s := range hardStrings {
				got := tk.Encode(s, true)
				if !slices.Equal(got, special.IDs[i]) && !(len(got) == 0 && len(special.IDs[i]) == 0) {
					t.Errorf("Encode(%q, addSpecial) = %v, want %v", s, got, special.IDs[i])
				}
			}
			t.Logf("%s: ids %d/%d, offsets %d/%d, decode %d/%d agree with HF", name, idOK, len(texts), offOK, len(texts), decOK, len(texts))
		})
	}
}
