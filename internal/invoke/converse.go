package invoke

import (
	"encoding/json"
	"fmt"
	"sort"
	"strconv"

	"github.com/strata-ml/strata/internal/apierr"
	"github.com/strata-ml/strata/internal/awsproto"
)

// converseBody is the JSON body of Converse and ConverseStream.
type converseBody struct {
	Messages []struct {
		Role    string                       `json:"role"`
		Content []map[string]json.RawMessage `json:"content"`
	} `json:"messages"`
	System          []map[string]json.RawMessage `json:"system"`
	InferenceConfig *struct {
		MaxTokens     *int64    `json:"maxTokens"`
		Temperature   *float64  `json:"temperature"`
		TopP          *float64  `json:"topP"`
		StopSequences *[]string `json:"stopSequences"`
	} `json:"inferenceConfig"`
	ToolConfig                        json.RawMessage   `json:"toolConfig"`
	GuardrailConfig                   json.RawMessage   `json:"guardrailConfig"`
	AdditionalModelRequestFields      json.RawMessage   `json:"additionalModelRequestFields"`
	PromptVariables                   json.RawMessage   `json:"promptVariables"`
	AdditionalModelResponseFieldPaths []string          `json:"additionalModelResponseFieldPaths"`
	RequestMetadata                   map[string]string `json:"requestMetadata"`
	PerformanceConfig                 *struct {
		Latency string `json:"latency"`
	} `json:"performanceConfig"`
	ServiceTier  json.RawMessage `json:"serviceTier"`
	OutputConfig json.RawMessage `json:"outputConfig"`
}

// Defaults returns the decoding parameters a family uses when a Converse
// request leaves them out.
func Defaults(f Family) Params {
	switch f {
	case Amazon:
		return Params{MaxTokens: 512, Temperature: 0.7, TopP: 0.9}
	case Anthropic:
		return Params{MaxTokens: 512, Temperature: 1, TopP: 0.999}
	case Cohere:
		return Params{MaxTokens: 512, Temperature: 0.9, TopP: 0.75}
	}
	return Params{MaxTokens: 512, Temperature: 0.5, TopP: 0.9}
}

// DecodeConverse decodes a Converse/ConverseStream body for a model of
// family f. Only text content is supported; other content blocks, tools and
// guardrails are rejected with a ValidationException naming them.
func DecodeConverse(f Family, body []byte) (Request, error) {
	var b converseBody
	if err := awsproto.DecodeJSONBytes(body, &b); err != nil {
		return Request{}, err
	}
	r := Request{Format: Converse, Params: Defaults(f)}
	var c awsproto.Checker
	if ic := b.InferenceConfig; ic != nil {
		if ic.MaxTokens != nil && c.Range("inferenceConfig.maxTokens", *ic.MaxTokens, 1, maxGenTokens) {
			r.Params.MaxTokens = int(*ic.MaxTokens)
		}
		if ic.Temperature != nil && floatRange(&c, "inferenceConfig.temperature", *ic.Temperature, 0, 1) {
			r.Params.Temperature = *ic.Temperature
		}
		if ic.TopP != nil && floatRange(&c, "inferenceConfig.topP", *ic.TopP, 0, 1) {
			r.Params.TopP = *ic.TopP
		}
		if ic.StopSequences != nil && c.Items("inferenceConfig.stopSequences", len(*ic.StopSequences), 0, 2500) {
			for i, s := range *ic.StopSequences {
				if c.String(fmt.Sprintf("inferenceConfig.stopSequences.%d.member", i+1), s, 1, 0, "") {
					r.Params.Stop = append(r.Params.Stop, s)
				}
			}
		}
	}
	if len(b.AdditionalModelResponseFieldPaths) > 0 {
		c.Items("additionalModelResponseFieldPaths", len(b.AdditionalModelResponseFieldPaths), 0, 10)
	}
	if n := len(b.RequestMetadata); n > 16 {
		c.Items("requestMetadata", n, 1, 16)
	}
	if pc := b.PerformanceConfig; pc != nil && pc.Latency != "" {
		c.Enum("performanceConfig.latency", pc.Latency, "standard", "optimized")
	}
	if err := c.Err(); err != nil {
		return Request{}, err
	}
	if isSet(b.ToolConfig) {
		return Request{}, apierr.Validationf("This model doesn't support tool use.")
	}
	if isSet(b.GuardrailConfig) {
		return Request{}, apierr.Validationf("Guardrails are not available on this endpoint. Remove guardrailConfig and try again.")
	}
	if isSet(b.PromptVariables) {
		return Request{}, apierr.Validationf("promptVariables can only be used with a prompt resource as the modelId.")
	}
	if isSet(b.OutputConfig) {
		return Request{}, apierr.Validationf("This model doesn't support the outputConfig field. Remove it and try again.")
	}
	if err := additionalFields(b.AdditionalModelRequestFields, &r.Params); err != nil {
		return Request{}, err
	}
	for i, blk := range b.System {
		text, err := unionText(blk, fmt.Sprintf("system.%d", i))
		if err != nil {
			return Request{}, err
		}
		if r.System != "" {
			r.System += "\n"
		}
		r.System += text
	}
	if len(b.Messages) == 0 {
		return Request{}, apierr.Validationf("A conversation must start with a user message. Try again with a conversation that starts with a user message.")
	}
	for i, m := range b.Messages {
		role := Role(m.Role)
		switch {
		case role != User && role != Assistant:
			return Request{}, apierr.Validationf("1 validation error detected: Value '%s' at 'messages.%d.member.role' failed to satisfy constraint: Member must satisfy enum value set: [user, assistant]", m.Role, i+1)
		case i == 0 && role != User:
			return Request{}, apierr.Validationf("A conversation must start with a user message. Try again with a conversation that starts with a user message.")
		case i > 0 && role == r.Messages[i-1].Role:
			return Request{}, apierr.Validationf("A conversation must alternate between user and assistant roles. Make sure the conversation alternates between user and assistant roles and try again.")
		case len(m.Content) == 0:
			return Request{}, apierr.Validationf("The content field in the Message object at messages.%d is empty. Add a ContentBlock object to the content field and try again.", i)
		}
		text := ""
		for j, blk := range m.Content {
			t, err := unionText(blk, fmt.Sprintf("messages.%d.content.%d", i, j))
			if err != nil {
				return Request{}, err
			}
			text += t
		}
		if trimmedEmpty(text) {
			return Request{}, apierr.Validationf("The content field in the Message object at messages.%d has no text. Add a text ContentBlock and try again.", i)
		}
		r.Messages = append(r.Messages, Message{Role: role, Text: text})
	}
	return r, nil
}

func isSet(v json.RawMessage) bool { return len(v) > 0 && string(v) != "null" }

func floatRange(c *awsproto.Checker, field string, v, lo, hi float64) bool {
	switch {
	case v < lo:
		c.Failf("Value '%s' at '%s' failed to satisfy constraint: Member must have value greater than or equal to %s", fmtNum(v), field, fmtNum(lo))
	case v > hi:
		c.Failf("Value '%s' at '%s' failed to satisfy constraint: Member must have value less than or equal to %s", fmtNum(v), field, fmtNum(hi))
	default:
		return true
	}
	return false
}

// unionText returns the text of a ContentBlock or SystemContentBlock union.
func unionText(blk map[string]json.RawMessage, at string) (string, error) {
	if len(blk) != 1 {
		names := make([]string, 0, len(blk))
		for k := range blk {
			names = append(names, k)
		}
		sort.Strings(names)
		return "", apierr.Validationf("The ContentBlock object at %s must set exactly one of its members, found %d %v.", at, len(blk), names)
	}
	for k, v := range blk {
		switch k {
		case "text":
			var s string
			if err := json.Unmarshal(v, &s); err != nil {
				return "", apierr.Validationf("1 validation error detected: Value at '%s.text' failed to satisfy constraint: Member must be of type string", at)
			}
			if trimmedEmpty(s) {
				return "", apierr.Validationf("The text field in the ContentBlock object at %s is blank. Add text to the text field, and try again.", at)
			}
			return s, nil
		case "cachePoint":
			return "", nil
		case "image", "document", "video", "audio":
			return "", apierr.Validationf("This model doesn't support the %s content block that you provided. Try again with a supported content block.", k)
		case "toolUse", "toolResult":
			return "", apierr.Validationf("This model doesn't support tool use.")
		case "guardContent":
			return "", apierr.Validationf("Guardrails are not available on this endpoint. Remove the guardContent block and try again.")
		}
		return "", apierr.Validationf("This model doesn't support the %s content block that you provided. Try again with a supported content block.", k)
	}
	return "", nil
}

// additionalFields applies additionalModelRequestFields. The models accept
// top_k (and topK); any other key is extraneous, as the model's schema says.
func additionalFields(raw json.RawMessage, p *Params) error {
	if !isSet(raw) {
		return nil
	}
	s, err := parseObject(raw)
	if err != nil {
		return err
	}
	for _, k := range []string{"top_k", "topK"} {
		if v, ok := s.integer(k, 0, 500, false); ok {
			p.TopK = v
		}
	}
	return s.err()
}

// ConverseResponse is the body of a Converse response.
type converseResponse struct {
	Output struct {
		Message struct {
			Role    string `json:"role"`
			Content []struct {
				Text string `json:"text"`
			} `json:"content"`
		} `json:"message"`
	} `json:"output"`
	StopReason string       `json:"stopReason"`
	Usage      converseUse  `json:"usage"`
	Metrics    converseTime `json:"metrics"`
}

type converseUse struct {
	InputTokens  int `json:"inputTokens"`
	OutputTokens int `json:"outputTokens"`
	TotalTokens  int `json:"totalTokens"`
}

type converseTime struct {
	LatencyMs int64 `json:"latencyMs"`
}

// EncodeConverse renders a Converse response body.
func EncodeConverse(res Result, m Metrics) []byte {
	var out converseResponse
	out.Output.Message.Role = "assistant"
	out.Output.Message.Content = []struct {
		Text string `json:"text"`
	}{{res.Text}}
	out.StopReason = stopReason(Converse, res.Stop)
	out.Usage = converseUse{res.InputTokens, res.OutputTokens, res.InputTokens + res.OutputTokens}
	out.Metrics.LatencyMs = m.LatencyMs
	return mustJSON(out)
}

// ConverseStream renders the events of one ConverseStream response:
// messageStart, contentBlockDelta…, contentBlockStop, messageStop, metadata.
type ConverseStream struct{ started bool }

// Start returns messageStart (once).
func (s *ConverseStream) Start() []Frame {
	if s.started {
		return nil
	}
	s.started = true
	return []Frame{{"messageStart", []byte(`{"role":"assistant"}`)}}
}

// Delta returns a contentBlockDelta for new text.
func (s *ConverseStream) Delta(text string) []Frame {
	f := s.Start()
	if text == "" {
		return f
	}
	return append(f, Frame{"contentBlockDelta", mustJSON(struct {
		ContentBlockIndex int `json:"contentBlockIndex"`
		Delta             struct {
			Text string `json:"text"`
		} `json:"delta"`
	}{Delta: struct {
		Text string `json:"text"`
	}{text}})})
}

// Finish returns contentBlockStop, messageStop and metadata.
func (s *ConverseStream) Finish(res Result, m Metrics) []Frame {
	return append(s.Start(),
		Frame{"contentBlockStop", []byte(`{"contentBlockIndex":0}`)},
		Frame{"messageStop", []byte(`{"stopReason":` + strconv.Quote(stopReason(Converse, res.Stop)) + `}`)},
		Frame{"metadata", mustJSON(struct {
			Usage   converseUse  `json:"usage"`
			Metrics converseTime `json:"metrics"`
		}{converseUse{res.InputTokens, res.OutputTokens, res.InputTokens + res.OutputTokens}, converseTime{m.LatencyMs}})},
	)
}
