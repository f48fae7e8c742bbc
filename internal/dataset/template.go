package dataset

import (
	"fmt"

	"github.com/strata-ml/strata/engine/template"
	"github.com/strata-ml/strata/engine/tokenizer"
)

// EngineTemplate adapts engine/template to ChatTemplate.
type EngineTemplate struct {
	T *template.Template
	// Config supplies the special-token strings (bos_token, eos_token).
	Config tokenizer.Config
}

// RenderTraining renders the conversation and returns the assistant spans;
// a conversation ending with a user turn gets the generation prompt.
func (e EngineTemplate) RenderTraining(system string, msgs []Message) (string, [][2]int, error) {
	in := template.Input{System: system, Messages: make([]template.Message, len(msgs))}
	for i, m := range msgs {
		in.Messages[i] = template.Message{Role: m.Role, Content: m.Text}
	}
	in.AddGenerationPrompt = len(msgs) > 0 && msgs[len(msgs)-1].Role == RoleUser
	text, spans, err := e.T.AssistantSpans(template.InputFor(e.Config, in))
	if err != nil {
		return "", nil, err
	}
	out := make([][2]int, len(spans))
	for i, s := range spans {
		out[i] = [2]int{s.Start, s.End}
	}
	return text, out, nil
}

// EngineTemplates is the TemplateLoader for engine/template.
func EngineTemplates(src string, tok *tokenizer.Tokenizer) (ChatTemplate, error) {
	t, err := template.New(src, template.Options{})
	if err != nil {
		return nil, fmt.Errorf("compile: %w", err)
	}
	return EngineTemplate{T: t, Config: tok.Config()}, nil
}
