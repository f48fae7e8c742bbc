package invoke

import (
	"encoding/base64"
	"encoding/json"
	"fmt"

	"github.com/strata-ml/strata/internal/apierr"
)

// stopReason returns the format's wire name for why generation ended.
func stopReason(f Format, k StopKind) string {
	switch f {
	case TitanText:
		switch k {
		case StopLength, StopContext:
			return "LENGTH"
		case StopSequence:
			return "STOP_CRITERIA_MET"
		}
		return "FINISHED"
	case LlamaText, MistralText:
		if k == StopLength || k == StopContext {
			return "length"
		}
		return "stop"
	case AnthropicText:
		if k == StopLength || k == StopContext {
			return "max_tokens"
		}
		return "stop_sequence"
	case CohereText:
		if k == StopLength || k == StopContext {
			return "MAX_TOKENS"
		}
		return "COMPLETE"
	case OpenAIChat:
		if k == StopLength || k == StopContext {
			return "length"
		}
		return "stop"
	case Converse:
		switch k {
		case StopLength:
			return "max_tokens"
		case StopSequence:
			return "stop_sequence"
		case StopContext:
			return "model_context_window_exceeded"
		}
		return "end_turn"
	}
	// AnthropicMessages
	switch k {
	case StopLength, StopContext:
		return "max_tokens"
	case StopSequence:
		return "stop_sequence"
	}
	return "end_turn"
}

// StopReason returns the wire name of a stop kind in the given format.
func StopReason(f Format, k StopKind) string { return stopReason(f, k) }

func ptr[T any](v T) *T { return &v }

func mustJSON(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		// Only plain structs of strings and numbers are marshalled here.
		panic(fmt.Sprintf("invoke: marshal %T: %v", v, err))
	}
	return b
}

type anthropicUsage struct {
	InputTokens  int `json:"input_tokens"`
	OutputTokens int `json:"output_tokens"`
}

type textBlock struct {
	Type string `json:"type"`
	Text string `json:"text"`
}

type anthropicMessage struct {
	ID           string         `json:"id"`
	Type         string         `json:"type"`
	Role         string         `json:"role"`
	Model        string         `json:"model"`
	Content      []textBlock    `json:"content"`
	StopReason   *string        `json:"stop_reason"`
	StopSequence *string        `json:"stop_sequence"`
	Usage        anthropicUsage `json:"usage"`
}

// EncodeInvoke renders a complete InvokeModel response body in the request's
// format.
func EncodeInvoke(req Request, res Result) []byte {
	reason := stopReason(req.Format, res.Stop)
	switch req.Format {
	case LlamaText:
		return mustJSON(struct {
			Generation           string `json:"generation"`
			PromptTokenCount     int    `json:"prompt_token_count"`
			GenerationTokenCount int    `json:"generation_token_count"`
			StopReason           string `json:"stop_reason"`
		}{res.Text, res.InputTokens, res.OutputTokens, reason})
	case TitanText:
		type result struct {
			TokenCount       int    `json:"tokenCount"`
			OutputText       string `json:"outputText"`
			CompletionReason string `json:"completionReason"`
		}
		return mustJSON(struct {
			InputTextTokenCount int      `json:"inputTextTokenCount"`
			Results             []result `json:"results"`
		}{res.InputTokens, []result{{res.OutputTokens, res.Text, reason}}})
	case MistralText:
		type output struct {
			Text       string `json:"text"`
			StopReason string `json:"stop_reason"`
		}
		return mustJSON(struct {
			Outputs []output `json:"outputs"`
		}{[]output{{res.Text, reason}}})
	case AnthropicText:
		var stop *string
		if res.Stop == StopSequence {
			stop = ptr(res.StopSequence)
		}
		return mustJSON(struct {
			Type       string  `json:"type"`
			ID         string  `json:"id,omitempty"`
			Completion string  `json:"completion"`
			StopReason string  `json:"stop_reason"`
			Stop       *string `json:"stop"`
			Model      string  `json:"model,omitempty"`
		}{"completion", res.ID, res.Text, reason, stop, res.Model})
	case AnthropicMessages:
		var seq *string
		if res.Stop == StopSequence {
			seq = ptr(res.StopSequence)
		}
		return mustJSON(anthropicMessage{
			ID: res.ID, Type: "message", Role: "assistant", Model: res.Model,
			Content:    []textBlock{{"text", res.Text}},
			StopReason: ptr(reason), StopSequence: seq,
			Usage: anthropicUsage{res.InputTokens, res.OutputTokens},
		})
	case CohereText:
		type generation struct {
			ID           string `json:"id"`
			Text         string `json:"text"`
			FinishReason string `json:"finish_reason"`
			Index        int    `json:"index"`
		}
		return mustJSON(struct {
			Generations []generation `json:"generations"`
			ID          string       `json:"id"`
			Prompt      string       `json:"prompt"`
		}{[]generation{{res.ID, res.Text, reason, 0}}, res.ID, req.Prompt})
	case Converse:
		return EncodeConverse(res, Metrics{})
	case OpenAIChat:
		type message struct {
			Role    string `json:"role"`
			Content string `json:"content"`
		}
		type choice struct {
			Index        int     `json:"index"`
			Message      message `json:"message"`
			FinishReason string  `json:"finish_reason"`
		}
		type usage struct {
			PromptTokens     int `json:"prompt_tokens"`
			CompletionTokens int `json:"completion_tokens"`
			TotalTokens      int `json:"total_tokens"`
		}
		return mustJSON(struct {
			ID      string   `json:"id"`
			Object  string   `json:"object"`
			Model   string   `json:"model"`
			Choices []choice `json:"choices"`
			Usage   usage    `json:"usage"`
		}{res.ID, "chat.completion", res.Model, []choice{{0, message{"assistant", res.Text}, reason}},
			usage{res.InputTokens, res.OutputTokens, res.InputTokens + res.OutputTokens}})
	}
	panic(fmt.Sprintf("invoke: EncodeInvoke of unknown format %v", req.Format))
}

// Frame is one event of a response stream: the member name of the stream
// union and its JSON payload.
type Frame struct {
	Event   string
	Payload []byte
}

// chunk wraps a model chunk JSON as a PayloadPart event ({"bytes": base64}).
func chunk(b []byte) Frame {
	return Frame{Event: "chunk", Payload: mustJSON(struct {
		Bytes string `json:"bytes"`
	}{base64.StdEncoding.EncodeToString(b)})}
}

// ExceptionEvent returns the stream-union member name for an error kind,
// restricted to those the operation's stream models; others become
// internalServerException (InvokeModelWithResponseStream additionally models
// modelTimeoutException).
func ExceptionEvent(k apierr.Kind, converse bool) string {
	switch k {
	case apierr.Validation:
		return "validationException"
	case apierr.Throttled, apierr.ModelNotReady:
		return "throttlingException"
	case apierr.ModelStreamError, apierr.ModelError:
		return "modelStreamErrorException"
	case apierr.Unavailable, apierr.ServiceUnavailable:
		return "serviceUnavailableException"
	case apierr.ModelTimeout:
		if !converse {
			return "modelTimeoutException"
		}
		return "modelStreamErrorException"
	}
	return "internalServerException"
}

// ExceptionPayload is the JSON body of an exception frame.
func ExceptionPayload(msg string, originalStatus int) []byte {
	return mustJSON(struct {
		Message            string `json:"message"`
		OriginalStatusCode int    `json:"originalStatusCode,omitempty"`
	}{msg, originalStatus})
}

type invocationMetrics struct {
	InputTokenCount   int   `json:"inputTokenCount"`
	OutputTokenCount  int   `json:"outputTokenCount"`
	InvocationLatency int64 `json:"invocationLatency"`
	FirstByteLatency  int64 `json:"firstByteLatency"`
}

// Stream renders InvokeModelWithResponseStream chunks for one request.
// Call Delta for each piece of new text and Finish once at the end; the
// final chunk carries amazon-bedrock-invocationMetrics.
type Stream struct {
	req         Request
	inputTokens int
	id, model   string
	sentText    bool
	started     bool
	stopSeq     *string
}

// NewStream starts a stream for req whose prompt had inputTokens tokens.
func NewStream(req Request, inputTokens int, id, model string) *Stream {
	return &Stream{req: req, inputTokens: inputTokens, id: id, model: model}
}

// SetInputTokens sets the prompt's token count (before the first frame).
func (s *Stream) SetInputTokens(n int) { s.inputTokens = n }

// Start returns the frames that open the stream (Anthropic messages'
// message_start and content_block_start; nothing for other formats).
func (s *Stream) Start() []Frame {
	if s.started {
		return nil
	}
	s.started = true
	if s.req.Format != AnthropicMessages {
		return nil
	}
	msg := anthropicMessage{ID: s.id, Type: "message", Role: "assistant", Model: s.model,
		Content: []textBlock{}, Usage: anthropicUsage{s.inputTokens, 0}}
	return []Frame{
		chunk(mustJSON(struct {
			Type    string           `json:"type"`
			Message anthropicMessage `json:"message"`
		}{"message_start", msg})),
		chunk(mustJSON(struct {
			Type         string    `json:"type"`
			Index        int       `json:"index"`
			ContentBlock textBlock `json:"content_block"`
		}{"content_block_start", 0, textBlock{"text", ""}})),
	}
}

// Delta returns the chunk for new text; outputTokens is the running count.
func (s *Stream) Delta(text string, outputTokens int) []Frame {
	f := s.Start()
	if text == "" {
		return f
	}
	first := !s.sentText
	s.sentText = true
	return append(f, chunk(s.piece(text, outputTokens, first, nil, nil)))
}

// Finish returns the closing chunks with the stop reason and metrics.
func (s *Stream) Finish(res Result, m Metrics) []Frame {
	f := s.Start()
	metrics := invocationMetrics{res.InputTokens, res.OutputTokens, m.LatencyMs, m.FirstByteLatencyMs}
	if s.req.Format == AnthropicMessages {
		var seq *string
		if res.Stop == StopSequence {
			seq = ptr(res.StopSequence)
		}
		type delta struct {
			StopReason   string  `json:"stop_reason"`
			StopSequence *string `json:"stop_sequence"`
		}
		return append(f,
			chunk(mustJSON(struct {
				Type  string `json:"type"`
				Index int    `json:"index"`
			}{"content_block_stop", 0})),
			chunk(mustJSON(struct {
				Type  string `json:"type"`
				Delta delta  `json:"delta"`
				Usage struct {
					OutputTokens int `json:"output_tokens"`
				} `json:"usage"`
			}{Type: "message_delta", Delta: delta{stopReason(AnthropicMessages, res.Stop), seq}, Usage: struct {
				OutputTokens int `json:"output_tokens"`
			}{res.OutputTokens}})),
			chunk(mustJSON(struct {
				Type    string            `json:"type"`
				Metrics invocationMetrics `json:"amazon-bedrock-invocationMetrics"`
			}{"message_stop", metrics})))
	}
	if res.Stop == StopSequence {
		s.stopSeq = ptr(res.StopSequence)
	}
	reason := stopReason(s.req.Format, res.Stop)
	first := !s.sentText
	return append(f, chunk(s.piece("", res.OutputTokens, first, &reason, &metrics)))
}

// piece renders one chunk of a text format. reason and metrics are set on the
// last chunk only.
func (s *Stream) piece(text string, outTokens int, first bool, reason *string, m *invocationMetrics) []byte {
	switch s.req.Format {
	case LlamaText:
		var prompt *int
		if first {
			prompt = ptr(s.inputTokens)
		}
		return mustJSON(struct {
			Generation           string             `json:"generation"`
			PromptTokenCount     *int               `json:"prompt_token_count"`
			GenerationTokenCount int                `json:"generation_token_count"`
			StopReason           *string            `json:"stop_reason"`
			Metrics              *invocationMetrics `json:"amazon-bedrock-invocationMetrics,omitempty"`
		}{text, prompt, outTokens, reason, m})
	case TitanText:
		return mustJSON(struct {
			Index                     int                `json:"index"`
			InputTextTokenCount       int                `json:"inputTextTokenCount"`
			TotalOutputTextTokenCount int                `json:"totalOutputTextTokenCount"`
			OutputText                string             `json:"outputText"`
			CompletionReason          *string            `json:"completionReason"`
			Metrics                   *invocationMetrics `json:"amazon-bedrock-invocationMetrics,omitempty"`
		}{0, s.inputTokens, outTokens, text, reason, m})
	case MistralText:
		type output struct {
			Text       string  `json:"text"`
			StopReason *string `json:"stop_reason"`
		}
		return mustJSON(struct {
			Outputs []output           `json:"outputs"`
			Metrics *invocationMetrics `json:"amazon-bedrock-invocationMetrics,omitempty"`
		}{[]output{{text, reason}}, m})
	case AnthropicText:
		stop := s.stopSeq
		return mustJSON(struct {
			Type       string             `json:"type"`
			Completion string             `json:"completion"`
			StopReason *string            `json:"stop_reason"`
			Stop       *string            `json:"stop"`
			Metrics    *invocationMetrics `json:"amazon-bedrock-invocationMetrics,omitempty"`
		}{"completion", text, reason, stop, m})
	case AnthropicMessages:
		type delta struct {
			Type string `json:"type"`
			Text string `json:"text"`
		}
		return mustJSON(struct {
			Type  string `json:"type"`
			Index int    `json:"index"`
			Delta delta  `json:"delta"`
		}{"content_block_delta", 0, delta{"text_delta", text}})
	case OpenAIChat:
		type delta struct {
			Role    string `json:"role,omitempty"`
			Content string `json:"content,omitempty"`
		}
		type choice struct {
			Index        int     `json:"index"`
			Delta        delta   `json:"delta"`
			FinishReason *string `json:"finish_reason"`
		}
		d := delta{Content: text}
		if first {
			d.Role = "assistant"
		}
		return mustJSON(struct {
			ID      string             `json:"id"`
			Object  string             `json:"object"`
			Model   string             `json:"model"`
			Choices []choice           `json:"choices"`
			Metrics *invocationMetrics `json:"amazon-bedrock-invocationMetrics,omitempty"`
		}{s.id, "chat.completion.chunk", s.model, []choice{{0, d, reason}}, m})
	case CohereText:
		if reason == nil {
			return mustJSON(struct {
				IsFinished bool   `json:"is_finished"`
				EventType  string `json:"event_type"`
				Text       string `json:"text"`
			}{false, "text-generation", text})
		}
		return mustJSON(struct {
			IsFinished   bool               `json:"is_finished"`
			EventType    string             `json:"event_type"`
			FinishReason string             `json:"finish_reason"`
			Metrics      *invocationMetrics `json:"amazon-bedrock-invocationMetrics,omitempty"`
		}{true, "stream-end", *reason, m})
	}
	panic(fmt.Sprintf("invoke: stream of unknown format %v", s.req.Format))
}
