package train

import (
	"errors"
	"strings"

	"github.com/strata-ml/strata/engine/template"
	"github.com/strata-ml/strata/engine/tokenizer"
)

// tokEncoder adapts *tokenizer.Tokenizer to Encoder.
type tokEncoder struct{ t *tokenizer.Tokenizer }

func (e tokEncoder) Encode(text string) ([]int32, error) {
	return e.t.Encode(text, false), nil
}

func (e tokEncoder) EncodeOffsets(text string) ([]int32, [][2]int, error) {
	ids, offs := e.t.EncodeWithOffsets(text, false)
	out := make([][2]int, len(offs))
	for i, o := range offs {
		out[i] = [2]int{o.Start, o.End}
	}
	return ids, out, nil
}

// TokensFor returns the Tokens for a Hugging Face tokenizer: BOS is the
// token its post-processor prepends with add_special_tokens (none if it
// prepends nothing), EOS its eos_token, falling back to eos, the first of
// the model's EOS ids. chat may be nil.
func TokensFor(t *tokenizer.Tokenizer, chat ChatRenderer, eos []int) (Tokens, error) {
	tk := Tokens{Encoder: tokEncoder{t}, Chat: chat, BOS: -1, EOS: t.EOS()}
	with, without := t.Encode("a", true), t.Encode("a", false)
	if len(with) > len(without) && len(without) > 0 && with[len(with)-len(without)] == without[0] && len(with)-len(without) == 1 {
		tk.BOS = with[0]
	}
	if tk.EOS < 0 && len(eos) > 0 {
		tk.EOS = int32(eos[0])
	}
	if tk.EOS < 0 {
		return Tokens{}, errors.New("train: the tokenizer has no eos_token and the model config no eos_token_id; cannot end completions")
	}
	return tk, nil
}

// templateRenderer adapts a chat template to ChatRenderer by incremental
// rendering: the learned span of assistant turn i is what rendering
// messages[:i+1] adds to rendering messages[:i] with the generation prompt.
// Templates for which that is not a prefix (they rewrite earlier turns when
// a later one is added) are rejected per record.
type templateRenderer struct {
	t   *template.Template
	cfg tokenizer.Config
}

// TemplateRenderer returns a ChatRenderer for a compiled chat template;
// cfg supplies the special-token strings.
func TemplateRenderer(t *template.Template, cfg tokenizer.Config) ChatRenderer {
	return templateRenderer{t: t, cfg: cfg}
}

func (r templateRenderer) render(system string, msgs []Message, gen bool) (string, error) {
	in := template.Input{System: system, AddGenerationPrompt: gen}
	for _, m := range msgs {
		in.Messages = append(in.Messages, template.Message{Role: m.Role, Content: m.Content})
	}
	return r.t.Render(template.InputFor(r.cfg, in))
}

func (r templateRenderer) RenderTraining(system string, msgs []Message) (string, [][2]int, error) {
	full, err := r.render(system, msgs, false)
	if err != nil {
		return "", nil, err
	}
	var spans [][2]int
	for i, m := range msgs {
		if m.Role != "assistant" {
			continue
		}
		before, err := r.render(system, msgs[:i], true)
		if err != nil {
			return "", nil, err
		}
		after, err := r.render(system, msgs[:i+1], false)
		if err != nil {
			return "", nil, err
		}
		if !strings.HasPrefix(after, before) || !strings.HasPrefix(full, after) {
			return "", nil, errors.New("the chat template does not render conversations incrementally; cannot find the assistant turns")
		}
		spans = append(spans, [2]int{len(before), len(after)})
	}
	return full, spans, nil
}

// ChatPrompt renders a conversation followed by the assistant's generation
// prompt, for inference.
func ChatPrompt(t *template.Template, cfg tokenizer.Config, system string, msgs []Message) (string, error) {
	return templateRenderer{t: t, cfg: cfg}.render(system, msgs, true)
}
