// Package invoke converts between Bedrock runtime wire bodies and one
// family-independent generation request and result. It is pure: no HTTP, no
// model, no clock.
//
// InvokeModel bodies are the model family's native format (SPEC.md §A.12):
// Meta Llama (prompt/max_gen_len → generation), Amazon Titan Text
// (inputText/textGenerationConfig → results[].outputText), Mistral
// (prompt/max_tokens → outputs[]), Anthropic text completions
// (prompt/max_tokens_to_sample → completion) and messages
// (anthropic_version/messages → content[]), and Cohere Command
// (prompt/max_tokens → generations[]), and OpenAI chat completions
// (messages/max_completion_tokens → choices[], as Bedrock serves gpt-oss). A body of another family fails with
// the ValidationException wording Bedrock's model schema validator uses
// ("Malformed input request: #: required key [inputText] not found, please
// reformat your input and try again.").
//
// Converse and ConverseStream (§A.13) map messages, system prompts,
// inferenceConfig and additionalModelRequestFields (top_k) onto the same
// [Request], and results back to stopReason, usage and metrics.
//
// Streaming responses are produced as a sequence of [Frame]s: chunk payloads
// for InvokeModelWithResponseStream (the last one carries
// amazon-bedrock-invocationMetrics) and the messageStart … contentBlockDelta …
// messageStop, metadata events of ConverseStream. The caller frames them with
// internal/eventstream.
package invoke

import (
	"fmt"
	"strings"
)

// Family is a model provider's native body format family. The catalog
// assigns one to every foundation model; custom models use their base's.
type Family string

// Families with a native InvokeModel body.
const (
	Meta      Family = "meta"      // Llama: prompt, max_gen_len → generation
	Amazon    Family = "amazon"    // Titan Text: inputText → results[]
	Mistral   Family = "mistral"   // prompt, max_tokens → outputs[]
	Anthropic Family = "anthropic" // text completions or messages
	Cohere    Family = "cohere"    // Command: prompt → generations[]
	OpenAI    Family = "openai"    // chat completions: messages → choices[]
)

// ParseFamily returns the family named s (the provider prefix of a Bedrock
// model id also works: "meta.llama3-8b-instruct-v1:0" → Meta).
func ParseFamily(s string) (Family, error) {
	s = strings.ToLower(s)
	if i := strings.IndexByte(s, '.'); i > 0 {
		s = s[:i]
	}
	switch f := Family(s); f {
	case Meta, Amazon, Mistral, Anthropic, Cohere, OpenAI:
		return f, nil
	case "llama", "qwen":
		return Meta, nil
	case "titan":
		return Amazon, nil
	}
	return "", fmt.Errorf("invoke: unknown model family %q", s)
}

// Format is one concrete body format.
type Format int

// Body formats.
const (
	LlamaText Format = iota + 1
	TitanText
	MistralText
	AnthropicText
	AnthropicMessages
	CohereText
	Converse
	OpenAIChat
)

func (f Format) String() string {
	switch f {
	case LlamaText:
		return "meta-llama"
	case TitanText:
		return "amazon-titan-text"
	case MistralText:
		return "mistral-text"
	case AnthropicText:
		return "anthropic-text-completions"
	case AnthropicMessages:
		return "anthropic-messages"
	case CohereText:
		return "cohere-command"
	case Converse:
		return "converse"
	case OpenAIChat:
		return "openai-chat-completions"
	}
	return fmt.Sprintf("Format(%d)", int(f))
}

// Role is a chat participant.
type Role string

// Chat roles.
const (
	User      Role = "user"
	Assistant Role = "assistant"
)

// Message is one chat turn with its text content.
type Message struct {
	Role Role
	Text string
}

// Params are the decoding parameters of a request, with the family's
// defaults already applied.
type Params struct {
	MaxTokens   int      // ≥ 1
	Temperature float64  // 0 = greedy
	TopP        float64  // 0 or 1 = disabled
	TopK        int      // 0 = disabled
	Stop        []string // stop sequences; the text stops before the match
}

// Request is a decoded invocation. Exactly one of Prompt (a raw prompt the
// model continues verbatim) and Messages (a chat the caller renders with the
// model's chat template) is set.
type Request struct {
	Format   Format
	Prompt   string
	System   string
	Messages []Message
	Params   Params
}

// Chat reports whether the request must be rendered with a chat template.
func (r Request) Chat() bool { return r.Prompt == "" && len(r.Messages) > 0 }

// StopKind says why generation ended.
type StopKind int

// Stop kinds.
const (
	StopEnd      StopKind = iota // the model emitted end of sequence
	StopLength                   // MaxTokens reached
	StopSequence                 // a stop sequence matched
	StopContext                  // the context window filled up
)

// Result is the outcome of a generation.
type Result struct {
	Text         string
	InputTokens  int
	OutputTokens int
	Stop         StopKind
	StopSequence string // the sequence that matched when Stop == StopSequence
	ID           string // response id for formats that carry one
	Model        string // model id echoed by formats that carry one
}

// Metrics are the timings of an invocation in milliseconds.
type Metrics struct {
	LatencyMs          int64
	FirstByteLatencyMs int64
}
