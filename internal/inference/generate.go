package inference

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/strata-ml/strata/engine/generate"
	"github.com/strata-ml/strata/engine/lora"
	"github.com/strata-ml/strata/internal/apierr"
	"github.com/strata-ml/strata/internal/invoke"
)

// GenerateRequest is one text generation.
type GenerateRequest struct {
	// Prompt is a raw prompt the model continues verbatim; when empty,
	// System and Messages are rendered with the base's chat template.
	Prompt   string
	System   string
	Messages []ChatMessage
	Params   invoke.Params
	// Seed seeds sampling (ignored when Params.Temperature is 0).
	Seed    uint64
	Adapter *lora.Adapter
	// OnPrompt, if set, is called with the prompt's token count once it is
	// tokenized and accepted, before any text.
	OnPrompt func(tokens int) error
}

// Generation is the outcome of Generate.
type Generation struct {
	invoke.Result
	// FirstToken is when the first output token was produced (zero if none).
	FirstToken time.Time
}

// RenderChat renders a conversation with tmpl, or as plain "Role: text"
// lines ending with "Assistant:" when tmpl is nil.
func RenderChat(tmpl ChatTemplate, system string, msgs []ChatMessage) (string, error) {
	if tmpl != nil {
		s, err := tmpl.Render(system, msgs)
		if err != nil {
			return "", apierr.Wrap(apierr.Validation, "The conversation cannot be rendered with this model's chat template.", err)
		}
		return s, nil
	}
	var b strings.Builder
	if system != "" {
		b.WriteString("System: " + system + "\n")
	}
	for _, m := range msgs {
		role := "User"
		if m.Role == "assistant" {
			role = "Assistant"
		}
		b.WriteString(role + ": " + m.Text + "\n")
	}
	b.WriteString("Assistant:")
	return b.String(), nil
}

// Generate runs one request on eng (an engine over base.Model) and calls
// onText with each piece of new text as it is produced. Stop sequences are
// matched on the text: the result ends just before the match and generation
// stops at once. If onText fails (the client went away) or ctx ends,
// generation is cancelled and the error returned; a passed deadline becomes
// ModelTimeoutException.
func Generate(ctx context.Context, base *Base, eng *Engine, req GenerateRequest, onText func(string) error) (Generation, error) {
	prompt := req.Prompt
	if prompt == "" {
		var err error
		if prompt, err = RenderChat(base.Template, req.System, req.Messages); err != nil {
			return Generation{}, err
		}
	}
	ids, err := base.Tokenizer.Encode(prompt)
	if err != nil {
		return Generation{}, apierr.Wrap(apierr.Validation, "The prompt could not be tokenized.", err)
	}
	p := req.Params
	st, err := eng.Submit(ctx, SeqRequest{
		Prompt: ids, MaxTokens: p.MaxTokens, EOS: base.EOS, Adapter: req.Adapter,
		Sampling: generate.Sampling{Temperature: p.Temperature, TopK: p.TopK, TopP: p.TopP, Seed: req.Seed},
	})
	if err != nil {
		return Generation{}, err
	}
	g := Generation{Result: invoke.Result{InputTokens: len(ids)}}
	if req.OnPrompt != nil {
		if err := req.OnPrompt(len(ids)); err != nil {
			st.Cancel()
			return g, err
		}
	}
	dec := newStreamDecoder(base.Tokenizer, ids)
	stops := generate.NewStopMatcher(p.Stop)
	var pushed, text strings.Builder
	emit := func(piece string) (bool, error) {
		if piece == "" {
			return false, nil
		}
		pushed.WriteString(piece)
		out, stopped := stops.Push(piece)
		if out != "" {
			text.WriteString(out)
			if onText != nil {
				if err := onText(out); err != nil {
					return false, err
				}
			}
		}
		return stopped, nil
	}
	for {
		toks, done, err := st.Next(ctx)
		if err != nil {
			st.Cancel()
			return g, mapCtxErr(err)
		}
		for _, t := range toks {
			g.OutputTokens++
			piece, err := dec.push(t)
			if err != nil {
				st.Cancel()
				return g, apierr.Wrap(apierr.ModelError, "The model produced output that could not be decoded.", err)
			}
			stopped, err := emit(piece)
			if err != nil {
				st.Cancel()
				return g, err
			}
			if stopped {
				st.Cancel()
				g.Text, g.Stop = text.String(), invoke.StopSequence
				g.StopSequence = matchedStop(pushed.String()[text.Len():], p.Stop)
				g.FirstToken = st.FirstToken()
				return g, nil
			}
		}
		if done {
			break
		}
	}
	if _, err := emit(dec.flush()); err != nil {
		return g, err
	}
	if rest := stops.Flush(); rest != "" {
		text.WriteString(rest)
		if onText != nil {
			if err := onText(rest); err != nil {
				return g, err
			}
		}
	}
	g.Text, g.Stop, g.FirstToken = text.String(), st.Stop(), st.FirstToken()
	return g, nil
}

func matchedStop(tail string, stops []string) string {
	for _, s := range stops {
		if s != "" && strings.HasPrefix(tail, s) {
			return s
		}
	}
	return ""
}

func mapCtxErr(err error) error {
	if errors.Is(err, context.DeadlineExceeded) && !apierr.Is(err, apierr.ModelTimeout) {
		return apierr.Wrap(apierr.ModelTimeout, "Model has timed out in processing the request. Try your request again.", err)
	}
	return err
}

// streamDecoder turns token ids into text incrementally, holding back
// pieces that end inside a multi-byte character. It decodes a small window
// of previous tokens with each new one so that decoders which depend on
// context (leading-space handling, byte fallback) produce the same text as
// decoding everything at once (the prefix/read offset scheme of HF's
// text-generation-inference).
type streamDecoder struct {
	tok          Tokenizer
	ids          []int32
	prefix, read int
}

func newStreamDecoder(tok Tokenizer, prompt []int32) *streamDecoder {
	tail := prompt[max(0, len(prompt)-6):]
	d := &streamDecoder{tok: tok, ids: append([]int32(nil), tail...)}
	d.prefix, d.read = 0, len(d.ids)
	return d
}

func (d *streamDecoder) push(id int32) (string, error) {
	d.ids = append(d.ids, id)
	prev, err := d.tok.Decode(d.ids[d.prefix:d.read])
	if err != nil {
		return "", fmt.Errorf("inference: decode: %w", err)
	}
	cur, err := d.tok.Decode(d.ids[d.prefix:])
	if err != nil {
		return "", fmt.Errorf("inference: decode: %w", err)
	}
	if len(cur) <= len(prev) || strings.HasSuffix(cur, "\uFFFD") {
		return "", nil
	}
	d.prefix, d.read = d.read, len(d.ids)
	return cur[len(prev):], nil
}

func (d *streamDecoder) flush() string {
	if d.read == len(d.ids) {
		return ""
	}
	prev, err1 := d.tok.Decode(d.ids[d.prefix:d.read])
	cur, err2 := d.tok.Decode(d.ids[d.prefix:])
	d.prefix, d.read = d.read, len(d.ids)
	if err1 != nil || err2 != nil || len(cur) <= len(prev) {
		return ""
	}
	return cur[len(prev):]
}
