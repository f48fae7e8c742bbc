package invoke

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/strata-ml/strata/internal/apierr"
)

var converseCases = []struct {
	name    string
	body    string
	want    Request
	wantErr string
}{
	{
		name: "full",
		body: `{"inferenceConfig":{"maxTokens":100,"stopSequences":["END"],"temperature":0.5,"topP":0.9},"messages":[{"content":[{"text":"hi"}],"role":"user"}],"system":[{"text":"be brief"}],"additionalModelRequestFields":{"top_k":200}}`,
		want: Request{Format: Converse, System: "be brief", Messages: []Message{{User, "hi"}}, Params: Params{MaxTokens: 100, Temperature: 0.5, TopP: 0.9, TopK: 200, Stop: []string{"END"}}},
	},
	{
		name: "defaults and turns",
		body: `{"messages":[{"role":"user","content":[{"text":"a"},{"text":"b"}]},{"role":"assistant","content":[{"text":"c"}]},{"role":"user","content":[{"text":"d"}]}]}`,
		want: Request{Format: Converse, Messages: []Message{{User, "ab"}, {Assistant, "c"}, {User, "d"}}, Params: Defaults(Meta)},
	},
	{name: "no messages", body: `{}`, wantErr: "A conversation must start with a user message. Try again with a conversation that starts with a user message."},
	{name: "assistant first", body: `{"messages":[{"role":"assistant","content":[{"text":"a"}]}]}`, wantErr: "A conversation must start with a user message. Try again with a conversation that starts with a user message."},
	{name: "no alternation", body: `{"messages":[{"role":"user","content":[{"text":"a"}]},{"role":"user","content":[{"text":"b"}]}]}`, wantErr: "A conversation must alternate between user and assistant roles. Make sure the conversation alternates between user and assistant roles and try again."},
	{name: "blank text", body: `{"messages":[{"role":"user","content":[{"text":"  "}]}]}`, wantErr: "The text field in the ContentBlock object at messages.0.content.0 is blank. Add text to the text field, and try again."},
	{name: "image", body: `{"messages":[{"role":"user","content":[{"image":{"format":"png","source":{"bytes":"AA=="}}}]}]}`, wantErr: "This model doesn't support the image content block that you provided. Try again with a supported content block."},
	{name: "temperature", body: `{"messages":[{"role":"user","content":[{"text":"a"}]}],"inferenceConfig":{"temperature":2}}`, wantErr: "1 validation error detected: Value '2' at 'inferenceConfig.temperature' failed to satisfy constraint: Member must have value less than or equal to 1"},
	{name: "maxTokens", body: `{"messages":[{"role":"user","content":[{"text":"a"}]}],"inferenceConfig":{"maxTokens":0}}`, wantErr: "1 validation error detected: Value '0' at 'inferenceConfig.maxTokens' failed to satisfy constraint: Member must have value greater than or equal to 1"},
	{name: "extra field", body: `{"messages":[{"role":"user","content":[{"text":"a"}]}],"additionalModelRequestFields":{"foo":1}}`, wantErr: "Malformed input request: #: extraneous key [foo] is not permitted, please reformat your input and try again."},
	{name: "tools", body: `{"messages":[{"role":"user","content":[{"text":"a"}]}],"toolConfig":{"tools":[]}}`, wantErr: "This model doesn't support tool use."},
	{name: "role", body: `{"messages":[{"role":"system","content":[{"text":"a"}]}]}`, wantErr: "1 validation error detected: Value 'system' at 'messages.1.member.role' failed to satisfy constraint: Member must satisfy enum value set: [user, assistant]"},
	{name: "two members", body: `{"messages":[{"role":"user","content":[{"text":"a","image":{}}]}]}`, wantErr: "The ContentBlock object at messages.0.content.0 must set exactly one of its members, found 2 [image text]."},
}

func TestDecodeConverse(t *testing.T) {
	for _, tt := range converseCases {
		t.Run(tt.name, func(t *testing.T) {
			got, err := DecodeConverse(Meta, []byte(tt.body))
			if tt.wantErr != "" {
				e, ok := err.(*apierr.Error)
				if !ok || e.Kind != apierr.Validation || e.Msg != tt.wantErr {
					t.Fatalf("DecodeConverse error = %v\nwant ValidationException %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("DecodeConverse (-want +got):\n%s", diff)
			}
		})
	}
}

func TestEncodeConverse(t *testing.T) {
	got := string(EncodeConverse(Result{Text: "Hello!", InputTokens: 3, OutputTokens: 2, Stop: StopEnd}, Metrics{LatencyMs: 42}))
	want := `{"output":{"message":{"role":"assistant","content":[{"text":"Hello!"}]}},"stopReason":"end_turn","usage":{"inputTokens":3,"outputTokens":2,"totalTokens":5},"metrics":{"latencyMs":42}}`
	if got != want {
		t.Errorf("EncodeConverse:\n got %s\nwant %s", got, want)
	}
}

func TestConverseStreamSequence(t *testing.T) {
	var s ConverseStream
	var frames []Frame
	frames = append(frames, s.Delta("Hel")...)
	frames = append(frames, s.Delta("lo")...)
	frames = append(frames, s.Finish(Result{InputTokens: 3, OutputTokens: 2, Stop: StopSequence}, Metrics{LatencyMs: 40})...)
	var got []string
	for _, f := range frames {
		got = append(got, f.Event+" "+string(f.Payload))
	}
	want := []string{
		`messageStart {"role":"assistant"}`,
		`contentBlockDelta {"contentBlockIndex":0,"delta":{"text":"Hel"}}`,
		`contentBlockDelta {"contentBlockIndex":0,"delta":{"text":"lo"}}`,
		`contentBlockStop {"contentBlockIndex":0}`,
		`messageStop {"stopReason":"stop_sequence"}`,
		`metadata {"usage":{"inputTokens":3,"outputTokens":2,"totalTokens":5},"metrics":{"latencyMs":40}}`,
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("events (-want +got):\n%s", diff)
	}
}

func TestStopReasonTable(t *testing.T) {
	tests := []struct {
		f    Format
		k    StopKind
		want string
	}{
		{TitanText, StopEnd, "FINISHED"}, {TitanText, StopLength, "LENGTH"}, {TitanText, StopSequence, "STOP_CRITERIA_MET"},
		{LlamaText, StopEnd, "stop"}, {LlamaText, StopLength, "length"}, {MistralText, StopSequence, "stop"},
		{Converse, StopEnd, "end_turn"}, {Converse, StopLength, "max_tokens"}, {Converse, StopSequence, "stop_sequence"},
		{Converse, StopContext, "model_context_window_exceeded"}, {AnthropicMessages, StopLength, "max_tokens"},
		{CohereText, StopEnd, "COMPLETE"}, {CohereText, StopLength, "MAX_TOKENS"},
	}
	for _, tt := range tests {
		if got := StopReason(tt.f, tt.k); got != tt.want {
			t.Errorf("StopReason(%v, %v) = %q, want %q", tt.f, tt.k, got, tt.want)
		}
	}
}

func FuzzDecodeConverse(f *testing.F) {
	for _, tt := range converseCases {
		f.Add([]byte(tt.body))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		r, err := DecodeConverse(Meta, body)
		if err != nil {
			if !apierr.Is(err, apierr.Validation) {
				t.Fatalf("error is not a ValidationException: %v", err)
			}
			return
		}
		if len(r.Messages) == 0 || r.Messages[0].Role != User || r.Params.MaxTokens < 1 {
			t.Fatalf("accepted invalid request %+v", r)
		}
		for _, m := range r.Messages {
			if strings.TrimSpace(m.Text) == "" && m.Role == User {
				t.Fatalf("accepted blank user message")
			}
		}
	})
}
