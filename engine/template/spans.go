package template

import (
	"encoding/json"
	"fmt"
	"strings"

	"github.com/nikolalohinski/gonja/v2/exec"

	"github.com/strata-ml/strata/engine/tokenizer"
)

// AssistantSpans renders in and returns the rendered text with the byte
// spans of the assistant turns, the part a model is trained to produce.
//
// Templates with {% generation %} blocks report those blocks, as
// transformers' return_assistant_tokens_mask does. Otherwise each assistant
// message i is found by prefix difference: the span runs from the end of
// the render of messages[:i] with add_generation_prompt=True to the end of
// the render of messages[:i+1], and must occur at that place in the full
// render. Three template habits are handled: a generation prompt ending in
// an empty reasoning block (Qwen3, enable_thinking=false), earlier turns
// rendered without their reasoning (the turn is then located in the full
// render by its text after </think>), and an assistant header appended
// after every render (the early Llama 3 template). Anything else, such as a
// template moving the system prompt into the last user turn, is an error
// naming the message, never a guessed span.
func (t *Template) AssistantSpans(in Input) (string, []Span, error) {
	if strings.Contains(t.src, "generation") && hasGenerationTag(t.src) {
		var spans []Span
		out, _, err := t.render(in, &spans)
		if err != nil {
			return "", nil, err
		}
		return out, spans, nil
	}
	msgs, err := t.messageList(in)
	if err != nil {
		return "", nil, err
	}
	full, err := t.renderMessages(in, msgs, in.AddGenerationPrompt)
	if err != nil {
		return "", nil, err
	}
	var spans []Span
	cursor := 0
	// tail is the render of no messages, rendered once: the assistant
	// header some templates append after every render ("" if none).
	var tail string
	tailDone := false
	for i, m := range msgs {
		if role(m) != "assistant" {
			continue
		}
		prefix, err := t.renderMessages(in, msgs[:i], true)
		if err != nil {
			return "", nil, fmt.Errorf("template: assistant message %d: render prefix: %w", i, err)
		}
		upto := full // the last message, rendered as the full conversation
		if i < len(msgs)-1 || in.AddGenerationPrompt {
			if upto, err = t.renderMessages(in, msgs[:i+1], false); err != nil {
				return "", nil, fmt.Errorf("template: assistant message %d: render: %w", i, err)
			}
		}
		if !tailDone {
			tailDone = true
			if r, err := t.renderMessages(in, nil, false); err == nil {
				tail = r
			}
		}
		start := len(prefix)
		if !strings.HasPrefix(upto, prefix) {
			// The generation prompt may end in a reasoning stub the turn
			// does not have (Qwen3 with enable_thinking=false adds an empty
			// think block): the turn then starts where they diverge. Any
			// other difference would put prompt text in the span.
			start = commonPrefix(upto, prefix)
			if !strings.Contains(prefix[start:], "think>") {
				return "", nil, fmt.Errorf("template: assistant message %d: the rendered conversation does not extend the generation prompt", i)
			}
		}
		turn := upto[start:]
		// Templates that always append the assistant header (the render of
		// no messages is that header) put it after every turn.
		if strings.TrimSpace(tail) != "" && strings.HasSuffix(turn, tail) && len(turn) > len(tail) {
			turn = turn[:len(turn)-len(tail)]
			upto = upto[:len(upto)-len(tail)]
		}
		if turn == "" {
			continue
		}
		var s Span
		switch {
		case start == len(prefix) && strings.HasPrefix(full, upto) && len(prefix) >= cursor:
			s = Span{len(prefix), len(upto)}
		default:
			var ok bool
			if s, ok = locateTurn(full, cursor, turn, content(m)); !ok {
				return "", nil, fmt.Errorf("template: assistant message %d: its rendered turn does not appear in the full conversation (the template rewrites earlier turns)", i)
			}
		}
		spans = append(spans, s)
		cursor = s.End
	}
	return full, spans, nil
}

// locateTurn finds an assistant turn in full at or after cursor: first the
// whole turn, then the turn from the start of the content's final part (the
// text after a reasoning block, which templates drop from earlier turns).
func locateTurn(full string, cursor int, turn, content string) (Span, bool) {
	if k := strings.Index(full[cursor:], turn); k >= 0 {
		return Span{cursor + k, cursor + k + len(turn)}, true
	}
	// The turn without a leading reasoning block, which templates drop from
	// turns before the last user message.
	if strings.HasPrefix(strings.TrimSpace(turn), "<think>") {
		if j := strings.Index(turn, "</think>"); j >= 0 {
			rest := strings.TrimLeft(turn[j+len("</think>"):], "\n")
			if k := strings.Index(full[cursor:], rest); rest != "" && k >= 0 {
				return Span{cursor + k, cursor + k + len(rest)}, true
			}
		}
	}
	tail := content
	if j := strings.LastIndex(tail, "</think>"); j >= 0 {
		tail = strings.TrimLeft(tail[j+len("</think>"):], "\n")
	}
	tail = strings.TrimSpace(tail)
	if tail == "" {
		return Span{}, false
	}
	j := strings.LastIndex(turn, tail)
	if j < 0 {
		return Span{}, false
	}
	rest := turn[j:]
	if k := strings.Index(full[cursor:], rest); k >= 0 {
		return Span{cursor + k, cursor + k + len(rest)}, true
	}
	return Span{}, false
}

func commonPrefix(a, b string) int {
	n := min(len(a), len(b))
	for i := 0; i < n; i++ {
		if a[i] != b[i] {
			return i
		}
	}
	return n
}

func content(m any) string {
	if d, ok := m.(*exec.Dict); ok {
		for _, p := range d.Pairs {
			if p.Key.String() == "content" && p.Value.IsString() {
				return p.Value.String()
			}
		}
	}
	return ""
}

func hasGenerationTag(src string) bool {
	for _, tag := range []string{"{% generation", "{%- generation", "{%+ generation"} {
		if strings.Contains(src, tag) {
			return true
		}
	}
	return false
}

// messageList returns the conversation as template values.
func (t *Template) messageList(in Input) ([]any, error) {
	ctx, err := t.context(Input{RawMessages: in.RawMessages, Messages: in.Messages, System: in.System})
	if err != nil {
		return nil, err
	}
	l, ok := ctx["messages"].(pyList)
	if !ok {
		return nil, fmt.Errorf("template: messages must be a JSON array")
	}
	return l, nil
}

func role(m any) string {
	if d, ok := m.(*exec.Dict); ok {
		for _, p := range d.Pairs {
			if p.Key.String() == "role" {
				return p.Value.String()
			}
		}
	}
	return ""
}

// renderMessages renders in with the given message values.
func (t *Template) renderMessages(in Input, msgs []any, genPrompt bool) (string, error) {
	raw, err := valuesJSON(msgs)
	if err != nil {
		return "", err
	}
	in.Messages, in.System = nil, ""
	in.RawMessages = raw
	in.AddGenerationPrompt = genPrompt
	return t.Render(in)
}

// valuesJSON re-encodes template values as JSON, keeping key order.
func valuesJSON(v []any) (json.RawMessage, error) {
	p := &pyJSON{itemSep: ",", keySep: ":"}
	var sb strings.Builder
	if err := p.dump(&sb, v, 0); err != nil {
		return nil, err
	}
	return json.RawMessage(sb.String()), nil
}

// TokenMask marks the tokens whose byte offsets overlap any span; tokens
// with empty offsets (special tokens added by the post-processor) are never
// marked. offsets come from tokenizer.EncodeWithOffsets on the rendered text.
func TokenMask(offsets []tokenizer.Offset, spans []Span) []bool {
	mask := make([]bool, len(offsets))
	k := 0
	for i, o := range offsets {
		if o.End <= o.Start {
			continue
		}
		for k < len(spans) && spans[k].End <= o.Start {
			k++
		}
		for j := k; j < len(spans) && spans[j].Start < o.End; j++ {
			if spans[j].End > o.Start && spans[j].End > spans[j].Start {
				mask[i] = true
				break
			}
		}
	}
	return mask
}

// Encode renders in, tokenizes the text without adding special tokens (the
// template writes them, as transformers' apply_chat_template(tokenize=True)
// does) and returns the ids with a mask that is true on assistant tokens.
func (t *Template) Encode(tok *tokenizer.Tokenizer, in Input) (ids []int32, assistant []bool, err error) {
	text, spans, err := t.AssistantSpans(in)
	if err != nil {
		return nil, nil, err
	}
	ids, offs := tok.EncodeWithOffsets(text, false)
	return ids, TokenMask(offs, spans), nil
}
