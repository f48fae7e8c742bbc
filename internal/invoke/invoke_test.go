package invoke

import (
	"encoding/base64"
	"encoding/json"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/strata-ml/strata/internal/apierr"
)

type decodeCase struct {
	name    string
	family  Family
	body    string
	want    Request
	wantErr string // exact public message; "" = success
}

var decodeCases = []decodeCase{
	{
		name: "llama", family: Meta,
		body: `{"prompt":"<|begin_of_text|>hi","temperature":0,"top_p":1,"max_gen_len":64}`,
		want: Request{Format: LlamaText, Prompt: "<|begin_of_text|>hi", Params: Params{MaxTokens: 64, Temperature: 0, TopP: 1}},
	},
	{
		name: "llama defaults", family: Meta, body: `{"prompt":"hi"}`,
		want: Request{Format: LlamaText, Prompt: "hi", Params: Params{MaxTokens: 512, Temperature: 0.5, TopP: 0.9}},
	},
	{
		name: "titan", family: Amazon,
		body: `{"inputText":"User: hi\nBot:","textGenerationConfig":{"temperature":0.2,"topP":0.5,"maxTokenCount":50,"stopSequences":["User:"]}}`,
		want: Request{Format: TitanText, Prompt: "User: hi\nBot:", Params: Params{MaxTokens: 50, Temperature: 0.2, TopP: 0.5, Stop: []string{"User:"}}},
	},
	{
		name: "mistral", family: Mistral,
		body: `{"prompt":"<s>[INST] hi [/INST]","max_tokens":30,"stop":["</s>"],"temperature":0.1,"top_p":0.8,"top_k":40}`,
		want: Request{Format: MistralText, Prompt: "<s>[INST] hi [/INST]", Params: Params{MaxTokens: 30, Temperature: 0.1, TopP: 0.8, TopK: 40, Stop: []string{"</s>"}}},
	},
	{
		name: "anthropic text", family: Anthropic,
		body: `{"prompt":"\n\nHuman: hi\n\nAssistant:","max_tokens_to_sample":20,"top_k":5,"stop_sequences":["\n\nHuman:"]}`,
		want: Request{Format: AnthropicText, Prompt: "\n\nHuman: hi\n\nAssistant:", Params: Params{MaxTokens: 20, Temperature: 1, TopP: 1, TopK: 5, Stop: []string{"\n\nHuman:"}}},
	},
	{
		name: "anthropic messages", family: Anthropic,
		body: `{"anthropic_version":"bedrock-2023-05-31","max_tokens":100,"system":"be brief","messages":[{"role":"user","content":"hi"},{"role":"assistant","content":[{"type":"text","text":"hello"}]},{"role":"user","content":[{"type":"text","text":"more"}]}],"temperature":0}`,
		want: Request{Format: AnthropicMessages, System: "be brief", Messages: []Message{{User, "hi"}, {Assistant, "hello"}, {User, "more"}}, Params: Params{MaxTokens: 100, Temperature: 0, TopP: 0.999}},
	},
	{
		name: "cohere", family: Cohere,
		body: `{"prompt":"hi","temperature":0.3,"p":0.5,"k":10,"max_tokens":40,"stop_sequences":["."],"return_likelihoods":"NONE","stream":false,"num_generations":1,"truncate":"END"}`,
		want: Request{Format: CohereText, Prompt: "hi", Params: Params{MaxTokens: 40, Temperature: 0.3, TopP: 0.5, TopK: 10, Stop: []string{"."}}},
	},
	{
		name: "openai", family: OpenAI,
		body: `{"messages":[{"role":"system","content":"sys"},{"role":"user","content":"hi"}],"max_completion_tokens":20,"temperature":0,"stop":"END"}`,
		want: Request{Format: OpenAIChat, System: "sys", Messages: []Message{{User, "hi"}}, Params: Params{MaxTokens: 20, Temperature: 0, TopP: 1, Stop: []string{"END"}}},
	},
	{
		name: "llama body to openai", family: OpenAI, body: `{"prompt":"hi"}`,
		wantErr: "Malformed input request: #: 2 schema violations found, please reformat your input and try again.",
	},
	// Bodies of the wrong family get the schema validator's wording.
	{
		name: "llama body to titan", family: Amazon, body: `{"prompt":"hi","max_gen_len":10}`,
		wantErr: "Malformed input request: #: 3 schema violations found, please reformat your input and try again.",
	},
	{
		name: "titan body to llama", family: Meta, body: `{"inputText":"hi"}`,
		wantErr: "Malformed input request: #: 2 schema violations found, please reformat your input and try again.",
	},
	{
		name: "extraneous key", family: Meta, body: `{"prompt":"hi","top_n":3}`,
		wantErr: "Malformed input request: #: extraneous key [top_n] is not permitted, please reformat your input and try again.",
	},
	{
		name: "missing key", family: Mistral, body: `{"max_tokens":3}`,
		wantErr: "Malformed input request: #: required key [prompt] not found, please reformat your input and try again.",
	},
	{
		name: "range", family: Meta, body: `{"prompt":"hi","temperature":1.5}`,
		wantErr: "Malformed input request: #/temperature: 1.5 is not less or equal to 1, please reformat your input and try again.",
	},
	{
		name: "type", family: Meta, body: `{"prompt":"hi","max_gen_len":"10"}`,
		wantErr: "Malformed input request: #/max_gen_len: expected type: Integer, found: String, please reformat your input and try again.",
	},
	{
		name: "nested", family: Amazon, body: `{"inputText":"hi","textGenerationConfig":{"maxTokens":5}}`,
		wantErr: "Malformed input request: #/textGenerationConfig: extraneous key [maxTokens] is not permitted, please reformat your input and try again.",
	},
	{
		name: "not json", family: Meta, body: `prompt=hi`,
		wantErr: "Malformed input request: #: expected type: JSONObject, found: a malformed JSON document, please reformat your input and try again.",
	},
	{
		name: "array", family: Meta, body: `[1]`,
		wantErr: "Malformed input request: #: expected type: JSONObject, found: a JSON JSONArray, please reformat your input and try again.",
	},
	{
		name: "anthropic version", family: Anthropic, body: `{"anthropic_version":"x","max_tokens":3,"messages":[{"role":"user","content":"hi"}]}`,
		wantErr: "Malformed input request: #/anthropic_version: x is not a valid enum value, please reformat your input and try again.",
	},
	{
		name: "anthropic first role", family: Anthropic, body: `{"anthropic_version":"bedrock-2023-05-31","max_tokens":3,"messages":[{"role":"assistant","content":"hi"}]}`,
		wantErr: "Malformed input request: #/messages/0/role: first message must use the \"user\" role, please reformat your input and try again.",
	},
	{
		name: "anthropic text prompt", family: Anthropic, body: `{"prompt":"hi","max_tokens_to_sample":3}`,
		wantErr: "Malformed input request: #/prompt: prompt must start with \"\\n\\nHuman:\" turn after an optional system prompt, please reformat your input and try again.",
	},
	{
		name: "cohere generations", family: Cohere, body: `{"prompt":"hi","num_generations":2}`,
		wantErr: "Malformed input request: #/num_generations: 2 is not less or equal to 1 (this deployment generates one sequence per request), please reformat your input and try again.",
	},
	{
		name: "stop items", family: Cohere, body: `{"prompt":"hi","stop_sequences":["a","b","c","d","e"]}`,
		wantErr: "Malformed input request: #/stop_sequences: expected maximum item count: 4, found: 5, please reformat your input and try again.",
	},
}

func TestDecodeInvoke(t *testing.T) {
	for _, tt := range decodeCases {
		t.Run(tt.name, func(t *testing.T) {
			got, err := DecodeInvoke(tt.family, []byte(tt.body))
			if tt.wantErr != "" {
				e, ok := err.(*apierr.Error)
				if !ok || e.Kind != apierr.Validation {
					t.Fatalf("DecodeInvoke(%s) error = %v, want ValidationException", tt.body, err)
				}
				if e.Msg != tt.wantErr {
					t.Fatalf("message:\n got %q\nwant %q", e.Msg, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("DecodeInvoke (-want +got):\n%s", diff)
			}
		})
	}
}

func TestEncodeInvoke(t *testing.T) {
	res := Result{Text: "Hi!", InputTokens: 5, OutputTokens: 2, Stop: StopEnd, ID: "id1", Model: "m"}
	tests := []struct {
		f    Format
		res  Result
		want string
	}{
		{LlamaText, res, `{"generation":"Hi!","prompt_token_count":5,"generation_token_count":2,"stop_reason":"stop"}`},
		{LlamaText, Result{Text: "x", Stop: StopLength}, `{"generation":"x","prompt_token_count":0,"generation_token_count":0,"stop_reason":"length"}`},
		{TitanText, res, `{"inputTextTokenCount":5,"results":[{"tokenCount":2,"outputText":"Hi!","completionReason":"FINISHED"}]}`},
		{TitanText, Result{Stop: StopSequence}, `{"inputTextTokenCount":0,"results":[{"tokenCount":0,"outputText":"","completionReason":"STOP_CRITERIA_MET"}]}`},
		{MistralText, res, `{"outputs":[{"text":"Hi!","stop_reason":"stop"}]}`},
		{AnthropicText, Result{Text: "a", Stop: StopSequence, StopSequence: "\n\nHuman:"}, `{"type":"completion","completion":"a","stop_reason":"stop_sequence","stop":"\n\nHuman:"}`},
		{AnthropicMessages, res, `{"id":"id1","type":"message","role":"assistant","model":"m","content":[{"type":"text","text":"Hi!"}],"stop_reason":"end_turn","stop_sequence":null,"usage":{"input_tokens":5,"output_tokens":2}}`},
		{OpenAIChat, res, `{"id":"id1","object":"chat.completion","model":"m","choices":[{"index":0,"message":{"role":"assistant","content":"Hi!"},"finish_reason":"stop"}],"usage":{"prompt_tokens":5,"completion_tokens":2,"total_tokens":7}}`},
		{CohereText, Result{Text: "a", Stop: StopLength, ID: "g"}, `{"generations":[{"id":"g","text":"a","finish_reason":"MAX_TOKENS","index":0}],"id":"g","prompt":"p"}`},
	}
	for _, tt := range tests {
		got := string(EncodeInvoke(Request{Format: tt.f, Prompt: "p"}, tt.res))
		if got != tt.want {
			t.Errorf("EncodeInvoke(%v):\n got %s\nwant %s", tt.f, got, tt.want)
		}
	}
}

func decodeChunks(t *testing.T, frames []Frame) []map[string]any {
	t.Helper()
	var out []map[string]any
	for _, f := range frames {
		if f.Event != "chunk" {
			t.Fatalf("event %q, want chunk", f.Event)
		}
		var part struct{ Bytes string }
		if err := json.Unmarshal(f.Payload, &part); err != nil {
			t.Fatal(err)
		}
		raw, err := base64.StdEncoding.DecodeString(part.Bytes)
		if err != nil {
			t.Fatal(err)
		}
		var m map[string]any
		if err := json.Unmarshal(raw, &m); err != nil {
			t.Fatalf("chunk %s: %v", raw, err)
		}
		out = append(out, m)
	}
	return out
}

func TestStreamChunks(t *testing.T) {
	res := Result{Text: "Hello", InputTokens: 3, OutputTokens: 2, Stop: StopLength}
	m := Metrics{LatencyMs: 40, FirstByteLatencyMs: 7}
	wantMetrics := map[string]any{"inputTokenCount": 3.0, "outputTokenCount": 2.0, "invocationLatency": 40.0, "firstByteLatency": 7.0}
	for _, f := range []Format{LlamaText, TitanText, MistralText, AnthropicText, AnthropicMessages, CohereText, OpenAIChat} {
		t.Run(f.String(), func(t *testing.T) {
			s := NewStream(Request{Format: f}, 3, "id", "model")
			var frames []Frame
			frames = append(frames, s.Delta("Hel", 1)...)
			frames = append(frames, s.Delta("lo", 2)...)
			frames = append(frames, s.Finish(res, m)...)
			chunks := decodeChunks(t, frames)
			last := chunks[len(chunks)-1]
			if diff := cmp.Diff(wantMetrics, last["amazon-bedrock-invocationMetrics"]); diff != "" {
				t.Errorf("metrics in last chunk (-want +got):\n%s", diff)
			}
			for _, c := range chunks[:len(chunks)-1] {
				if _, ok := c["amazon-bedrock-invocationMetrics"]; ok {
					t.Errorf("metrics in a non-final chunk: %v", c)
				}
			}
			var text strings.Builder
			for _, c := range chunks {
				for _, k := range []string{"generation", "outputText", "completion", "text"} {
					if s, ok := c[k].(string); ok {
						text.WriteString(s)
					}
				}
				if o, ok := c["choices"].([]any); ok {
					if s, ok := o[0].(map[string]any)["delta"].(map[string]any)["content"].(string); ok {
						text.WriteString(s)
					}
				}
				if o, ok := c["outputs"].([]any); ok {
					text.WriteString(o[0].(map[string]any)["text"].(string))
				}
				if d, ok := c["delta"].(map[string]any); ok {
					if s, ok := d["text"].(string); ok {
						text.WriteString(s)
					}
				}
			}
			if text.String() != "Hello" {
				t.Errorf("streamed text %q, want Hello", text.String())
			}
		})
	}
}

func TestAnthropicStreamEvents(t *testing.T) {
	s := NewStream(Request{Format: AnthropicMessages}, 3, "id", "model")
	frames := append(s.Delta("a", 1), s.Finish(Result{OutputTokens: 1, Stop: StopEnd}, Metrics{})...)
	var types []string
	for _, c := range decodeChunks(t, frames) {
		types = append(types, c["type"].(string))
	}
	want := []string{"message_start", "content_block_start", "content_block_delta", "content_block_stop", "message_delta", "message_stop"}
	if diff := cmp.Diff(want, types); diff != "" {
		t.Errorf("event types (-want +got):\n%s", diff)
	}
}

func FuzzDecodeInvoke(f *testing.F) {
	for _, tt := range decodeCases {
		f.Add(string(tt.family), []byte(tt.body))
	}
	f.Fuzz(func(t *testing.T, fam string, body []byte) {
		fm, err := ParseFamily(fam)
		if err != nil {
			fm = Meta
		}
		r, err := DecodeInvoke(fm, body)
		if err != nil {
			if !apierr.Is(err, apierr.Validation) {
				t.Fatalf("error is not a ValidationException: %v", err)
			}
			return
		}
		if r.Params.MaxTokens < 1 || r.Params.Temperature < 0 || r.Params.TopP < 0 || r.Params.TopP > 1 {
			t.Fatalf("accepted out-of-range params %+v", r.Params)
		}
		if !r.Chat() && r.Prompt == "" {
			t.Fatalf("accepted a request with neither prompt nor messages: %s", body)
		}
		_ = EncodeInvoke(r, Result{Text: "x"})
	})
}
