package template

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"
)

func TestRenderBasics(t *testing.T) {
	now := func() time.Time { return time.Date(2024, 7, 26, 10, 0, 0, 0, time.UTC) }
	tests := []struct {
		name, src string
		in        Input
		want      string
	}{
		{"messages", "{% for m in messages %}<{{ m.role }}>{{ m['content'] }}\n{% endfor %}", Input{System: "sys", Messages: []Message{{Role: "user", Content: "hi"}}}, "<system>sys\n<user>hi\n"},
		{"tojson order", "{{ tools | tojson }}", Input{Tools: []json.RawMessage{json.RawMessage(`{"z": 1, "a": [1.5, "é", null, true]}`)}}, `[{"z": 1, "a": [1.5, "é", null, true]}]`},
		{"tojson indent", "{{ tools[0] | tojson(indent=2) }}", Input{Tools: []json.RawMessage{json.RawMessage(`{"a": {"b": []}}`)}}, "{\n  \"a\": {\n    \"b\": []\n  }\n}"},
		{"tool calls", "{{ messages[0].tool_calls[0].function.arguments | tojson }}", Input{Messages: []Message{{Role: "assistant", ToolCalls: []ToolCall{{Name: "f", Arguments: json.RawMessage(`{"y": 2, "x": 1}`)}}}}}, `{"y": 2, "x": 1}`},
		{"strftime", "{{ strftime_now('%d %b %Y') }}", Input{}, "26 Jul 2024"},
		{"vars and tokens", "{{ bos_token }}{% if enable_thinking is defined and not enable_thinking %}no{% endif %}", Input{BOSToken: "<s>", Vars: map[string]any{"enable_thinking": false}}, "<s>no"},
		{"trim_blocks", "{% if true %}\n  x\n{% endif %}\n", Input{}, "  x\n"},
		{"lstrip_blocks", "a\n    {% if true %}b{% endif %}", Input{}, "a\nb"},
		{"loop controls", "{% for i in range(5) %}{% if i == 3 %}{% break %}{% endif %}{{ i }}{% endfor %}", Input{}, "012"},
		{"namespace", "{% set ns = namespace(n=0) %}{% for m in messages %}{% set ns.n = ns.n + 1 %}{% endfor %}{{ ns.n }}", Input{Messages: []Message{{Role: "user"}, {Role: "user"}}}, "2"},
		{"nested conditional", "{{ 'a' + ('b' if add_generation_prompt else 'c') }}", Input{AddGenerationPrompt: true}, "ab"},
		{"python strings", "{{ '  x  '.strip() }}|{{ 'a b  c'.split() | length }}|{{ 'x</think>y'.split('</think>')[-1] }}|{{ 'aXbX'.replace('X', '-') }}", Input{}, "x|3|y|a-b-"},
		{"generation tag", "{% generation %}hi{% endgeneration %}", Input{}, "hi"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tpl, err := New(tt.src, Options{Now: now})
			if err != nil {
				t.Fatalf("New: %v", err)
			}
			got, err := tpl.Render(tt.in)
			if err != nil {
				t.Fatalf("Render: %v", err)
			}
			if got != tt.want {
				t.Errorf("Render = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestRenderErrors(t *testing.T) {
	tests := []struct {
		name, src string
		wantLine  int
		wantRaise string
	}{
		{"raise", "line1\n{% if true %}\n{{ raise_exception('System role not supported') }}\n{% endif %}", 0, "System role not supported"},
		{"unknown filter", "a\nb\n{{ x | nosuchfilter }}", 3, ""},
		{"unclosed block", "a\n{% if x %}\nb", 0, ""},
		{"bad syntax", "a\n\n{{ 1 + }}", 3, ""},
		{"list append is unsafe", "{% set l = [] %}\n{% set _ = l.append(1) %}", 2, ""},
		{"iterate None", "x\n{% for t in tools %}{{ t }}{% endfor %}", 0, ""},
		{"infinite recursion", "{% macro f(n) %}{{ f(n + 1) }}{% endmacro %}\n{{ f(0) }}", 0, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tpl, err := New(tt.src, Options{})
			if err == nil {
				_, err = tpl.Render(Input{})
			}
			if err == nil {
				t.Fatal("got no error")
			}
			var te *Error
			if !errors.As(err, &te) {
				t.Fatalf("error %v is not a *template.Error", err)
			}
			if tt.wantLine > 0 && te.Line != tt.wantLine {
				t.Errorf("error line = %d, want %d (%v)", te.Line, tt.wantLine, err)
			}
			if tt.wantRaise != "" {
				var re *RaiseError
				if !errors.As(err, &re) || re.Message != tt.wantRaise {
					t.Errorf("error %v, want RaiseError %q", err, tt.wantRaise)
				}
			}
			if strings.Contains(err.Error(), tt.src) && len(tt.src) > 20 {
				t.Errorf("error repeats the template source: %v", err)
			}
		})
	}
}

func FuzzTemplate(f *testing.F) {
	f.Add("{% for m in messages %}{{ m.content | trim }}{% endfor %}")
	f.Add("{{ (a if b else c) }}{% set x = [1,2][-1] %}")
	f.Add("{% generation %}{{ tools | tojson(indent=2) }}{% endgeneration %}")
	f.Add("{{ raise_exception('x') }}")
	f.Fuzz(func(t *testing.T, src string) {
		tpl, err := New(src, Options{})
		if err != nil {
			return
		}
		tpl.Render(Input{Messages: []Message{{Role: "user", Content: "hi"}}, Tools: []json.RawMessage{json.RawMessage(`{"a": 1}`)}})
	})
}

func TestConcurrentRender(t *testing.T) {
	tpl, err := New("{% for m in messages %}{{ m.role }}:{{ (m.content | trim).upper() }}|{% endfor %}{{ tools | tojson }}", Options{})
	if err != nil {
		t.Fatal(err)
	}
	in := Input{Messages: []Message{{Role: "user", Content: " hi "}}, Tools: []json.RawMessage{json.RawMessage(`{"b": 1, "a": 2}`)}}
	want := `user:HI|[{"b": 1, "a": 2}]`
	errs := make(chan error, 8)
	for range 8 {
		go func() {
			for range 20 {
				got, err := tpl.Render(in)
				if err == nil && got != want {
					err = errors.New("got " + got)
				}
				if err != nil {
					errs <- err
					return
				}
			}
			errs <- nil
		}()
	}
	for range 8 {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
}
