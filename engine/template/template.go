package template

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/nikolalohinski/gonja/v2/config"
	"github.com/nikolalohinski/gonja/v2/exec"
	"github.com/nikolalohinski/gonja/v2/loaders"

	"github.com/strata-ml/strata/engine/tokenizer"
)

// Options configures a Template.
type Options struct {
	// Now is the clock behind strftime_now; nil means time.Now.
	Now func() time.Time
}

// Template is a compiled chat template. It is safe for concurrent use.
type Template struct {
	src  string
	tpl  *exec.Template
	opts Options
	env  *exec.Environment
}

// Message is one chat message. Optional fields are passed to the template
// only when set.
type Message struct {
	Role    string
	Content string
	// ReasoningContent is the model's reasoning ("reasoning_content").
	ReasoningContent string
	// Name is the optional author name ("name").
	Name string
	// ToolCallID answers a tool call ("tool_call_id").
	ToolCallID string
	// ToolCalls are the calls an assistant message makes ("tool_calls").
	ToolCalls []ToolCall
	// Extra is a JSON object whose fields are added to the message, in order.
	Extra json.RawMessage
}

// ToolCall is an assistant's call of a tool, rendered as
// {"id", "type": "function", "function": {"name", "arguments"}}.
type ToolCall struct {
	ID   string
	Name string
	// Arguments is a JSON object (passed as a mapping, key order kept) or a
	// JSON string.
	Arguments json.RawMessage
}

// Input is what a chat template is rendered with.
type Input struct {
	// Messages is the conversation. System, when set, is prepended as a
	// system message.
	Messages []Message
	System   string
	// RawMessages, when set, replaces Messages: a JSON array of message
	// objects passed through exactly (key order kept).
	RawMessages json.RawMessage
	// Tools are JSON tool schemas; nil passes tools=None like transformers.
	Tools []json.RawMessage
	// Documents are JSON documents for RAG templates; nil passes None.
	Documents []json.RawMessage
	// AddGenerationPrompt appends the assistant header.
	AddGenerationPrompt bool
	// BOSToken, EOSToken and the rest of the special-token strings.
	BOSToken, EOSToken, PadToken, UnkToken string
	// Vars are extra template variables (enable_thinking, date_string, ...).
	// Values are Go scalars, []any, map[string]any or json.RawMessage.
	Vars map[string]any
}

// Span is a byte range [Start, End) of rendered text.
type Span struct {
	Start, End int
}

// RaiseError is returned when a template calls raise_exception.
type RaiseError struct {
	Message string
}

// Error implements error.
func (e *RaiseError) Error() string { return "raise_exception: " + e.Message }

// Error is a template compile or render failure, with the template line
// when gonja reports it.
type Error struct {
	Line int // 0 if unknown
	Err  error
}

// Error implements error.
func (e *Error) Error() string {
	if e.Line > 0 {
		return fmt.Sprintf("template: line %d: %v", e.Line, e.Err)
	}
	return fmt.Sprintf("template: %v", e.Err)
}

// Unwrap returns the underlying error.
func (e *Error) Unwrap() error { return e.Err }

var lineRe = regexp.MustCompile(`(?i)line[:= ]\s*(\d+)`)

func wrapErr(err error) error {
	msg := err.Error()
	line := 0
	if m := lineRe.FindAllStringSubmatch(msg, -1); m != nil {
		line, _ = strconv.Atoi(m[len(m)-1][1])
	}
	return &Error{Line: line, Err: err}
}

const rootName = "/chat_template"

// New compiles a chat template.
func New(src string, opts Options) (*Template, error) {
	env := newEnvironment()
	tpl, err := compile(rewriteConditionals(src), env)
	if err != nil {
		// Retry with every {% set %} conditional rewritten too.
		if tpl2, err2 := compile(rewriteConditionalsAll(src), env); err2 == nil {
			tpl, err = tpl2, nil
		}
	}
	if err != nil {
		return nil, wrapErr(stripSource(err, rewriteConditionals(src)))
	}
	return &Template{src: src, tpl: tpl, opts: opts, env: env}, nil
}

func compile(src string, env *exec.Environment) (*exec.Template, error) {
	loader, err := loaders.NewMemoryLoader(map[string]string{rootName: src})
	if err != nil {
		return nil, err
	}
	cfg := config.New()
	cfg.TrimBlocks = true
	cfg.LeftStripBlocks = true
	cfg.KeepTrailingNewline = false
	return newTemplateSafe(cfg, loader, env)
}

// newTemplateSafe turns parser panics into errors.
func newTemplateSafe(cfg *config.Config, loader loaders.Loader, env *exec.Environment) (t *exec.Template, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("parse: %v", r)
		}
	}()
	return exec.NewTemplate(rootName, cfg, loader, env)
}

// stripSource removes the template source gonja embeds in parse errors.
func stripSource(err error, src string) error {
	msg := err.Error()
	if src != "" && strings.Contains(msg, src) {
		return errors.New(strings.Replace(msg, "'"+src+"'", "", 1))
	}
	return err
}

// FromConfig compiles the chat template of a tokenizer_config.json.
func FromConfig(c tokenizer.Config, opts Options) (*Template, error) {
	if c.ChatTemplate == "" {
		return nil, &Error{Err: errors.New("tokenizer config has no chat_template")}
	}
	return New(c.ChatTemplate, opts)
}

// InputFor fills the special-token strings of in from a tokenizer config.
func InputFor(c tokenizer.Config, in Input) Input {
	if in.BOSToken == "" {
		in.BOSToken = c.BOSToken
	}
	if in.EOSToken == "" {
		in.EOSToken = c.EOSToken
	}
	if in.PadToken == "" {
		in.PadToken = c.PadToken
	}
	if in.UnkToken == "" {
		in.UnkToken = c.UnkToken
	}
	return in
}

// Source returns the template text.
func (t *Template) Source() string { return t.src }

// Render renders the template.
func (t *Template) Render(in Input) (string, error) {
	out, _, err := t.render(in, nil)
	return out, err
}

// context builds the template variables, as transformers'
// apply_chat_template passes them.
func (t *Template) context(in Input) (map[string]any, error) {
	ctx := map[string]any{}
	var msgs any
	if len(in.RawMessages) > 0 {
		v, err := decodeOrdered(in.RawMessages)
		if err != nil {
			return nil, fmt.Errorf("template: raw messages: %w", err)
		}
		msgs = v
	} else {
		list := make(pyList, 0, len(in.Messages)+1)
		if in.System != "" {
			list = append(list, messageDict(Message{Role: "system", Content: in.System}))
		}
		for i, m := range in.Messages {
			d, err := messageValue(m)
			if err != nil {
				return nil, fmt.Errorf("template: message %d: %w", i, err)
			}
			list = append(list, d)
		}
		msgs = list
	}
	ctx["messages"] = msgs
	ctx["tools"] = nil
	if in.Tools != nil {
		l := make(pyList, len(in.Tools))
		for i, r := range in.Tools {
			v, err := decodeOrdered(r)
			if err != nil {
				return nil, fmt.Errorf("template: tool %d: %w", i, err)
			}
			l[i] = v
		}
		ctx["tools"] = l
	}
	ctx["documents"] = nil
	if in.Documents != nil {
		l := make(pyList, len(in.Documents))
		for i, r := range in.Documents {
			v, err := decodeOrdered(r)
			if err != nil {
				return nil, fmt.Errorf("template: document %d: %w", i, err)
			}
			l[i] = v
		}
		ctx["documents"] = l
	}
	ctx["add_generation_prompt"] = in.AddGenerationPrompt
	for k, v := range map[string]string{"bos_token": in.BOSToken, "eos_token": in.EOSToken, "pad_token": in.PadToken, "unk_token": in.UnkToken} {
		if v != "" {
			ctx[k] = v
		}
	}
	for k, v := range in.Vars {
		cv, err := convertVar(v)
		if err != nil {
			return nil, fmt.Errorf("template: var %q: %w", k, err)
		}
		ctx[k] = cv
	}
	return ctx, nil
}

func convertVar(v any) (any, error) {
	switch x := v.(type) {
	case json.RawMessage:
		return decodeOrdered(x)
	case map[string]any:
		b, err := json.Marshal(x)
		if err != nil {
			return nil, err
		}
		return decodeOrdered(b)
	}
	return v, nil
}

func messageDict(m Message) *exec.Dict {
	d := exec.NewDict()
	add := func(k string, v any) {
		d.Pairs = append(d.Pairs, &exec.Pair{Key: exec.AsValue(k), Value: exec.AsValue(v)})
	}
	add("role", m.Role)
	add("content", m.Content)
	return d
}

func messageValue(m Message) (*exec.Dict, error) {
	d := messageDict(m)
	add := func(k string, v any) {
		d.Pairs = append(d.Pairs, &exec.Pair{Key: exec.AsValue(k), Value: exec.AsValue(v)})
	}
	if m.ReasoningContent != "" {
		add("reasoning_content", m.ReasoningContent)
	}
	if m.Name != "" {
		add("name", m.Name)
	}
	if m.ToolCallID != "" {
		add("tool_call_id", m.ToolCallID)
	}
	if len(m.ToolCalls) > 0 {
		calls := make(pyList, len(m.ToolCalls))
		for i, c := range m.ToolCalls {
			fn := exec.NewDict()
			fn.Pairs = append(fn.Pairs, &exec.Pair{Key: exec.AsValue("name"), Value: exec.AsValue(c.Name)})
			var args any = map[string]any{}
			if len(c.Arguments) > 0 {
				v, err := decodeOrdered(c.Arguments)
				if err != nil {
					return nil, fmt.Errorf("tool call %d arguments: %w", i, err)
				}
				args = v
			} else {
				args = exec.NewDict()
			}
			fn.Pairs = append(fn.Pairs, &exec.Pair{Key: exec.AsValue("arguments"), Value: exec.AsValue(args)})
			call := exec.NewDict()
			if c.ID != "" {
				call.Pairs = append(call.Pairs, &exec.Pair{Key: exec.AsValue("id"), Value: exec.AsValue(c.ID)})
			}
			call.Pairs = append(call.Pairs,
				&exec.Pair{Key: exec.AsValue("type"), Value: exec.AsValue("function")},
				&exec.Pair{Key: exec.AsValue("function"), Value: exec.AsValue(fn)})
			calls[i] = call
		}
		add("tool_calls", calls)
	}
	if len(m.Extra) > 0 {
		v, err := decodeOrdered(m.Extra)
		if err != nil {
			return nil, fmt.Errorf("extra: %w", err)
		}
		ed, ok := v.(*exec.Dict)
		if !ok {
			return nil, errors.New("extra: want a JSON object")
		}
		d.Pairs = append(d.Pairs, ed.Pairs...)
	}
	return d, nil
}

// countingWriter is the top-level output; {% generation %} blocks written
// straight to it record their byte spans.
type countingWriter struct {
	sb    strings.Builder
	spans *[]Span
}

func (w *countingWriter) Write(p []byte) (int, error) { return w.sb.Write(p) }

func (t *Template) render(in Input, spans *[]Span) (out string, _ bool, err error) {
	ctxMap, err := t.context(in)
	if err != nil {
		return "", false, err
	}
	w := &countingWriter{spans: spans}
	ctxMap["strftime_now"] = t.strftimeNow
	ctxMap[depthVar] = new(int)
	var raised *RaiseError
	ctxMap["raise_exception"] = func(msg string) (string, error) {
		raised = &RaiseError{Message: msg}
		return "", raised
	}
	ctx := exec.NewContext(ctxMap)
	defer func() {
		if r := recover(); r != nil {
			err = &Error{Err: fmt.Errorf("render panic: %v", r)}
		}
	}()
	if err := t.tpl.Execute(w, ctx); err != nil {
		e := wrapErr(err).(*Error)
		if raised != nil {
			e.Err = raised
		}
		return "", false, e
	}
	return w.sb.String(), true, nil
}

var _ io.Writer = (*countingWriter)(nil)
