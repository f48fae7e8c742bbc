package invoke

import (
	"encoding/json"
	"strconv"
	"strings"

	"github.com/strata-ml/strata/internal/apierr"
)

// Limits shared by the native formats.
const (
	maxStopSequences = 16
	maxGenTokens     = 8192
)

// DecodeInvoke decodes an InvokeModel body for a model of family f. Errors
// are ValidationExceptions worded like Bedrock's.
func DecodeInvoke(f Family, body []byte) (Request, error) {
	if len(body) > MaxBodyBytes {
		return Request{}, apierr.Validationf("1 validation error detected: Value at 'body' failed to satisfy constraint: Member must have length less than or equal to %d", MaxBodyBytes)
	}
	s, err := parseObject(body)
	if err != nil {
		return Request{}, err
	}
	var r Request
	switch f {
	case Meta:
		r = decodeLlama(s)
	case Amazon:
		r = decodeTitan(s)
	case Mistral:
		r = decodeMistral(s)
	case Anthropic:
		if _, ok := s.obj["messages"]; ok {
			r = decodeAnthropicMessages(s)
		} else if _, ok := s.obj["anthropic_version"]; ok && s.obj["prompt"] == nil {
			r = decodeAnthropicMessages(s)
		} else {
			r = decodeAnthropicText(s)
		}
	case Cohere:
		r = decodeCohere(s)
	case OpenAI:
		r = decodeOpenAI(s)
	default:
		return Request{}, apierr.Validationf("The provided model doesn't support on-demand invocation with a native request body (family %q).", f)
	}
	if err := s.err(); err != nil {
		return Request{}, err
	}
	return r, nil
}

// Llama: {"prompt", "temperature" 0–1 (0.5), "top_p" 0–1 (0.9), "max_gen_len" 1–2048 (512), "images"}.
func decodeLlama(s *schema) Request {
	r := Request{Format: LlamaText, Params: Params{MaxTokens: 512, Temperature: 0.5, TopP: 0.9}}
	r.Prompt, _ = s.str("prompt", true)
	if v, ok := s.num("temperature", 0, 1, false); ok {
		r.Params.Temperature = v
	}
	if v, ok := s.num("top_p", 0, 1, false); ok {
		r.Params.TopP = v
	}
	if v, ok := s.integer("max_gen_len", 1, 2048, false); ok {
		r.Params.MaxTokens = v
	}
	if imgs, ok := s.array("images", false); ok && len(imgs) > 0 {
		s.fail("images", "this model does not accept images")
	}
	if _, ok := s.obj["prompt"]; ok && trimmedEmpty(r.Prompt) {
		s.fail("prompt", "expected minLength: 1, actual: 0")
	}
	return r
}

// Titan: {"inputText", "textGenerationConfig": {"temperature" 0–1 (0.7),
// "topP" (0–1] (0.9), "maxTokenCount" 0–8192 (512), "stopSequences"}}.
func decodeTitan(s *schema) Request {
	r := Request{Format: TitanText, Params: Params{MaxTokens: 512, Temperature: 0.7, TopP: 0.9}}
	r.Prompt, _ = s.str("inputText", true)
	if _, ok := s.obj["inputText"]; ok && r.Prompt == "" {
		s.fail("inputText", "expected minLength: 1, actual: 0")
	}
	if c := s.object("textGenerationConfig", false); c != nil {
		if v, ok := c.num("temperature", 0, 1, false); ok {
			r.Params.Temperature = v
		}
		if v, ok := c.num("topP", 0, 1, true); ok {
			r.Params.TopP = v
		}
		if v, ok := c.integer("maxTokenCount", 0, maxGenTokens, false); ok {
			r.Params.MaxTokens = v
		}
		r.Params.Stop = c.strings("stopSequences", maxStopSequences)
		c.extraneous()
	}
	return r
}

// Mistral: {"prompt", "max_tokens" 1–8192 (512), "stop" ≤10, "temperature"
// 0–1 (0.5), "top_p" 0–1 (0.9), "top_k" 1–200}.
func decodeMistral(s *schema) Request {
	r := Request{Format: MistralText, Params: Params{MaxTokens: 512, Temperature: 0.5, TopP: 0.9}}
	r.Prompt, _ = s.str("prompt", true)
	if _, ok := s.obj["prompt"]; ok && r.Prompt == "" {
		s.fail("prompt", "expected minLength: 1, actual: 0")
	}
	if v, ok := s.integer("max_tokens", 1, maxGenTokens, false); ok {
		r.Params.MaxTokens = v
	}
	r.Params.Stop = s.strings("stop", 10)
	if v, ok := s.num("temperature", 0, 1, false); ok {
		r.Params.Temperature = v
	}
	if v, ok := s.num("top_p", 0, 1, false); ok {
		r.Params.TopP = v
	}
	if v, ok := s.integer("top_k", 1, 200, false); ok {
		r.Params.TopK = v
	}
	return r
}

// Anthropic text completions: {"prompt" ("\n\nHuman: … \n\nAssistant:"),
// "max_tokens_to_sample" 0–4096, "temperature" 0–1 (1), "top_p" 0–1 (1),
// "top_k" 0–500 (250), "stop_sequences", "anthropic_version"}.
func decodeAnthropicText(s *schema) Request {
	r := Request{Format: AnthropicText, Params: Params{Temperature: 1, TopP: 1}}
	r.Prompt, _ = s.str("prompt", true)
	r.Params.MaxTokens, _ = s.integer("max_tokens_to_sample", 1, 4096, true)
	if v, ok := s.num("temperature", 0, 1, false); ok {
		r.Params.Temperature = v
	}
	if v, ok := s.num("top_p", 0, 1, false); ok {
		r.Params.TopP = v
	}
	if v, ok := s.integer("top_k", 0, 500, false); ok {
		r.Params.TopK = v
	}
	r.Params.Stop = s.strings("stop_sequences", 8191)
	s.str("anthropic_version", false)
	if _, ok := s.obj["prompt"]; ok && len(*s.errs) == 0 {
		p := strings.TrimLeft(r.Prompt, " ")
		if !strings.Contains(p, "\n\nHuman:") {
			s.fail("prompt", "prompt must start with \"\\n\\nHuman:\" turn after an optional system prompt")
		} else if !strings.HasSuffix(strings.TrimRight(p, " "), "\n\nAssistant:") {
			s.fail("prompt", "prompt must end with \"\\n\\nAssistant:\" turn")
		}
	}
	return r
}

// Anthropic messages: {"anthropic_version": "bedrock-2023-05-31",
// "max_tokens", "messages", "system", "temperature", "top_p", "top_k",
// "stop_sequences"}. Content may be a string or a list of text blocks.
func decodeAnthropicMessages(s *schema) Request {
	r := Request{Format: AnthropicMessages, Params: Params{Temperature: 1, TopP: 0.999}}
	if v, ok := s.str("anthropic_version", true); ok && v != "bedrock-2023-05-31" {
		s.fail("anthropic_version", "%s is not a valid enum value", v)
	}
	r.Params.MaxTokens, _ = s.integer("max_tokens", 1, maxGenTokens, true)
	if v, ok := s.num("temperature", 0, 1, false); ok {
		r.Params.Temperature = v
	}
	if v, ok := s.num("top_p", 0, 1, false); ok {
		r.Params.TopP = v
	}
	if v, ok := s.integer("top_k", 0, 500, false); ok {
		r.Params.TopK = v
	}
	r.Params.Stop = s.strings("stop_sequences", 8191)
	if v, ok := s.raw("system", false); ok {
		r.System = anthropicText(s, "system", v)
	}
	for _, k := range []string{"tools", "tool_choice"} {
		if _, ok := s.raw(k, false); ok {
			s.fail(k, "tool use is not supported by this model")
		}
	}
	msgs, ok := s.array("messages", true)
	if !ok {
		return r
	}
	if len(msgs) == 0 {
		s.fail("messages", "expected minimum item count: 1, found: 0")
	}
	for i, raw := range msgs {
		key := "messages/" + strconv.Itoa(i)
		m := s.sub(key, raw)
		if m == nil {
			continue
		}
		role, _ := m.enum("role", "user", "assistant")
		if _, ok := m.obj["role"]; !ok {
			m.fail("", "required key [role] not found")
		}
		var text string
		if c, ok := m.raw("content", true); ok {
			text = anthropicText(m, "content", c)
		}
		m.extraneous()
		if i == 0 && role != "" && role != "user" {
			s.fail(key+"/role", "first message must use the \"user\" role")
		}
		if i > 0 && role != "" && Role(role) == r.Messages[len(r.Messages)-1].Role {
			s.fail(key+"/role", "roles must alternate between \"user\" and \"assistant\"")
		}
		r.Messages = append(r.Messages, Message{Role: Role(role), Text: text})
	}
	return r
}

// anthropicText reads a string or a list of {"type":"text","text":…} blocks.
func anthropicText(s *schema, key string, v json.RawMessage) string {
	if len(v) > 0 && v[0] == '"' {
		var str string
		_ = json.Unmarshal(v, &str)
		return str
	}
	var blocks []json.RawMessage
	if len(v) == 0 || v[0] != '[' || json.Unmarshal(v, &blocks) != nil {
		s.fail(key, "expected type: String or JSONArray, found: %s", jsonKind(v))
		return ""
	}
	var b strings.Builder
	for i, raw := range blocks {
		bs := s.sub(key+"/"+strconv.Itoa(i), raw)
		if bs == nil {
			continue
		}
		t, _ := bs.str("type", true)
		if t != "text" && t != "" {
			bs.fail("type", "content blocks of type %q are not supported by this model", t)
			bs.allow("source", "id", "name", "input", "tool_use_id", "content", "cache_control")
		}
		txt, _ := bs.str("text", t == "text")
		bs.allow("cache_control")
		bs.extraneous()
		b.WriteString(txt)
	}
	return b.String()
}

// Cohere Command: {"prompt", "temperature" 0–5 (0.9), "p" 0–1 (0.75), "k"
// 0–500 (0), "max_tokens" 1–4096 (20), "stop_sequences" ≤4,
// "return_likelihoods", "stream", "num_generations" (1), "logit_bias",
// "truncate"}.
func decodeCohere(s *schema) Request {
	r := Request{Format: CohereText, Params: Params{MaxTokens: 20, Temperature: 0.9, TopP: 0.75}}
	r.Prompt, _ = s.str("prompt", true)
	if _, ok := s.obj["prompt"]; ok && r.Prompt == "" {
		s.fail("prompt", "expected minLength: 1, actual: 0")
	}
	if v, ok := s.num("temperature", 0, 5, false); ok {
		r.Params.Temperature = v
	}
	if v, ok := s.num("p", 0, 1, false); ok {
		r.Params.TopP = v
	}
	if v, ok := s.integer("k", 0, 500, false); ok {
		r.Params.TopK = v
	}
	if v, ok := s.integer("max_tokens", 1, 4096, false); ok {
		r.Params.MaxTokens = v
	}
	r.Params.Stop = s.strings("stop_sequences", 4)
	s.enum("return_likelihoods", "GENERATION", "ALL", "NONE")
	s.boolean("stream")
	if n, ok := s.integer("num_generations", 1, 5, false); ok && n != 1 {
		s.fail("num_generations", "%d is not less or equal to 1 (this deployment generates one sequence per request)", n)
	}
	if lb := s.object("logit_bias", false); lb != nil {
		lb.allow(keys(lb.obj)...)
		if len(lb.obj) > 0 {
			s.fail("logit_bias", "logit_bias is not supported by this model")
		}
	}
	s.enum("truncate", "NONE", "START", "END")
	return r
}

func keys(m map[string]json.RawMessage) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	return out
}

// OpenAI chat completions: {"messages": [{"role": "system"|"developer"|
// "user"|"assistant", "content": string or [{"type":"text","text"}]}],
// "max_completion_tokens" | "max_tokens", "temperature" 0–2 (1), "top_p"
// 0–1 (1), "stop" (string or ≤4 strings), "stream", "seed", "model"}.
func decodeOpenAI(s *schema) Request {
	r := Request{Format: OpenAIChat, Params: Params{MaxTokens: 512, Temperature: 1, TopP: 1}}
	if v, ok := s.integer("max_completion_tokens", 1, maxGenTokens, false); ok {
		r.Params.MaxTokens = v
	}
	if v, ok := s.integer("max_tokens", 1, maxGenTokens, false); ok {
		r.Params.MaxTokens = v
	}
	if v, ok := s.num("temperature", 0, 2, false); ok {
		r.Params.Temperature = v
	}
	if v, ok := s.num("top_p", 0, 1, false); ok {
		r.Params.TopP = v
	}
	if v, ok := s.raw("stop", false); ok {
		if len(v) > 0 && v[0] == '"' {
			var one string
			_ = json.Unmarshal(v, &one)
			if one != "" {
				r.Params.Stop = []string{one}
			}
		} else {
			delete(s.used, "stop")
			r.Params.Stop = s.strings("stop", 4)
		}
	}
	s.boolean("stream")
	s.integer("seed", -1<<53, 1<<53, false)
	s.str("model", false)
	s.integer("n", 1, 1, false)
	if _, ok := s.raw("stream_options", false); ok {
		s.object("stream_options", false)
	}
	for _, k := range []string{"tools", "tool_choice", "response_format"} {
		if _, ok := s.raw(k, false); ok {
			s.fail(k, "%s is not supported by this model", k)
		}
	}
	msgs, ok := s.array("messages", true)
	if !ok {
		return r
	}
	if len(msgs) == 0 {
		s.fail("messages", "expected minimum item count: 1, found: 0")
	}
	for i, raw := range msgs {
		key := "messages/" + strconv.Itoa(i)
		m := s.sub(key, raw)
		if m == nil {
			continue
		}
		role, _ := m.enum("role", "system", "developer", "user", "assistant")
		if _, ok := m.obj["role"]; !ok {
			m.fail("", "required key [role] not found")
		}
		var text string
		if c, ok := m.raw("content", true); ok {
			text = anthropicText(m, "content", c)
		}
		m.allow("name")
		m.extraneous()
		switch role {
		case "system", "developer":
			if r.System != "" {
				r.System += "\n"
			}
			r.System += text
		case "user", "assistant":
			r.Messages = append(r.Messages, Message{Role: Role(role), Text: text})
		}
	}
	if len(*s.errs) == 0 && (len(r.Messages) == 0 || r.Messages[0].Role != User) {
		s.fail("messages", "the conversation must start with a user message after any system messages")
	}
	return r
}
