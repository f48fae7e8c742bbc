package train

import (
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/strata-ml/strata/engine/template"
	"github.com/strata-ml/strata/engine/tokenizer"
)

const llama3Template = "{{ bos_token }}{% for message in messages %}" +
	"{{ '<|start_header_id|>' + message['role'] + '<|end_header_id|>\\n\\n' + message['content'] | trim + '<|eot_id|>' }}" +
	"{% endfor %}{% if add_generation_prompt %}{{ '<|start_header_id|>assistant<|end_header_id|>\\n\\n' }}{% endif %}"

func TestTemplateRendererSpans(t *testing.T) {
	tpl, err := template.New(llama3Template, template.Options{})
	if err != nil {
		t.Fatal(err)
	}
	r := TemplateRenderer(tpl, tokenizer.Config{BOSToken: "<s>"})
	text, spans, err := r.RenderTraining("be brief", []Message{{"user", "hi"}, {"assistant", "hello"}, {"user", "bye"}, {"assistant", "ciao"}})
	if err != nil {
		t.Fatal(err)
	}
	var learned []string
	for _, s := range spans {
		learned = append(learned, text[s[0]:s[1]])
	}
	if diff := cmp.Diff([]string{"hello<|eot_id|>", "ciao<|eot_id|>"}, learned); diff != "" {
		t.Errorf("learned spans (-want +got):\n%s\nin %q", diff, text)
	}
	p, err := ChatPrompt(tpl, tokenizer.Config{BOSToken: "<s>"}, "", []Message{{"user", "hi"}})
	if err != nil {
		t.Fatal(err)
	}
	if want := "<s><|start_header_id|>user<|end_header_id|>\n\nhi<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\n"; p != want {
		t.Errorf("ChatPrompt = %q, want %q", p, want)
	}
}
