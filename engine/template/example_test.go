package template_test

import (
	"fmt"

	"github.com/strata-ml/strata/engine/template"
)

// Render a conversation and find the assistant span a trainer would keep.
func ExampleTemplate_AssistantSpans() {
	src := "{% for m in messages %}<|{{ m.role }}|>{{ m.content }}</s>\n{% endfor %}" +
		"{% if add_generation_prompt %}<|assistant|>{% endif %}"
	tpl, err := template.New(src, template.Options{})
	if err != nil {
		panic(err)
	}
	text, spans, err := tpl.AssistantSpans(template.Input{Messages: []template.Message{
		{Role: "user", Content: "Hi"},
		{Role: "assistant", Content: "Hello!"},
	}})
	if err != nil {
		panic(err)
	}
	fmt.Printf("%q\n", text)
	for _, s := range spans {
		fmt.Printf("%q\n", text[s.Start:s.End])
	}
	// Output:
	// "<|user|>Hi</s>\n<|assistant|>Hello!</s>\n"
	// "Hello!</s>\n"
}
