package train

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/strata-ml/strata/engine/model"
)

func TestParseHyperParameters(t *testing.T) {
	tests := []struct {
		name    string
		in      map[string]string
		wantKey string // key named by the error, "" for success
		check   func(*HyperParameters) bool
	}{
		{"defaults", nil, "", func(h *HyperParameters) bool {
			return h.EpochCount == 5 && h.BatchSize == 1 && h.LearningRate == 1e-4 && h.Scheduler == "linear"
		}},
		{"bedrock names", map[string]string{"epochCount": "2", "batchSize": "8", "learningRate": "0.001", "learningRateWarmupSteps": "3", "earlyStoppingPatience": "4", "earlyStoppingThreshold": "0.01"}, "", func(h *HyperParameters) bool {
			return h.EpochCount == 2 && h.BatchSize == 8 && h.LearningRate == 0.001 && h.LearningRateWarmupSteps == 3 && h.EarlyStoppingPatience == 4 && h.Effective["epochCount"] == "2"
		}},
		{"multiplier", map[string]string{"learningRate": "1e-4", "learningRateMultiplier": "2"}, "", func(h *HyperParameters) bool { return h.LearningRate == 2e-4 }},
		{"integral float", map[string]string{"epochCount": "3.0"}, "", func(h *HyperParameters) bool { return h.EpochCount == 3 }},
		{"unknown", map[string]string{"epochs": "2"}, "epochs", nil},
		{"too many epochs", map[string]string{"epochCount": "101"}, "epochCount", nil},
		{"zero batch", map[string]string{"batchSize": "0"}, "batchSize", nil},
		{"fractional int", map[string]string{"batchSize": "1.5"}, "batchSize", nil},
		{"not a number", map[string]string{"learningRate": "fast"}, "learningRate", nil},
		{"nan", map[string]string{"learningRate": "NaN"}, "learningRate", nil},
		{"lr too big", map[string]string{"learningRate": "2"}, "learningRate", nil},
		{"bad enum", map[string]string{"learningRateScheduler": "step"}, "learningRateScheduler", nil},
		{"threshold range", map[string]string{"earlyStoppingThreshold": "0.5"}, "earlyStoppingThreshold", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h, err := ParseHyperParameters(tt.in)
			if tt.wantKey != "" {
				var he *HyperParameterError
				if !errors.As(err, &he) || he.Key != tt.wantKey {
					t.Fatalf("ParseHyperParameters(%v) = %v, want error naming %q", tt.in, err, tt.wantKey)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !tt.check(h) {
				t.Errorf("ParseHyperParameters(%v) = %+v", tt.in, h)
			}
		})
	}
}

var recordTests = []struct {
	name    string
	line    string
	cpt     bool
	want    Record
	wantErr string
}{
	{"prompt completion", `{"prompt":"p","completion":"c"}`, false, Record{Kind: KindPromptCompletion, Prompt: "p", Completion: "c"}, ""},
	{"claude conversation", `{"system":"s","messages":[{"role":"user","content":"u"},{"role":"assistant","content":"a"}]}`, false,
		Record{Kind: KindConversation, System: "s", Messages: []Message{{"user", "u"}, {"assistant", "a"}}}, ""},
	{"bedrock conversation", `{"schemaVersion":"bedrock-conversation-2024","system":[{"text":"s"}],"messages":[{"role":"user","content":[{"text":"u1"},{"text":"u2"}]},{"role":"assistant","content":[{"text":"a"}]}]}`, false,
		Record{Kind: KindConversation, System: "s", Messages: []Message{{"user", "u1u2"}, {"assistant", "a"}}}, ""},
	{"cpt input", `{"input":"text"}`, true, Record{Kind: KindText, Text: "text"}, ""},
	{"cpt wrong field", `{"prompt":"x","completion":"y"}`, true, Record{}, "input"},
	{"cpt empty", `{"input":"  "}`, true, Record{}, "empty"},
	{"not json", `{"prompt":`, false, Record{}, "JSON"},
	{"array", `[1]`, false, Record{}, "JSON object"},
	{"missing completion", `{"prompt":"p"}`, false, Record{}, "completion"},
	{"empty completion", `{"prompt":"p","completion":""}`, false, Record{}, "empty"},
	{"number prompt", `{"prompt":1,"completion":"c"}`, false, Record{}, "string"},
	{"one turn", `{"messages":[{"role":"user","content":"u"}]}`, false, Record{}, "at least"},
	{"wrong order", `{"messages":[{"role":"assistant","content":"a"},{"role":"user","content":"u"}]}`, false, Record{}, "role"},
	{"ends with user", `{"messages":[{"role":"user","content":"u"},{"role":"assistant","content":"a"},{"role":"user","content":"u"}]}`, false, Record{}, "last"},
	{"image block", `{"messages":[{"role":"user","content":[{"image":{}}]},{"role":"assistant","content":"a"}]}`, false, Record{}, "image"},
	{"empty block", `{"messages":[{"role":"user","content":[{}]},{"role":"assistant","content":"a"}]}`, false, Record{}, "empty content"},
}

func TestParseRecord(t *testing.T) {
	for _, tt := range recordTests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseRecord([]byte(tt.line), tt.cpt)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("ParseRecord(%s) = %v, want error containing %q", tt.line, err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("ParseRecord(%s) (-want +got):\n%s", tt.line, diff)
			}
		})
	}
}

func FuzzParseRecord(f *testing.F) {
	for _, tt := range recordTests {
		f.Add(tt.line, tt.cpt)
	}
	f.Fuzz(func(t *testing.T, line string, cpt bool) {
		r, err := ParseRecord([]byte(line), cpt)
		if err != nil {
			return
		}
		switch r.Kind {
		case KindConversation:
			if len(r.Messages) < 2 || r.Messages[len(r.Messages)-1].Role != "assistant" {
				t.Fatalf("accepted bad conversation %+v", r)
			}
		case KindPromptCompletion, KindText:
		default:
			t.Fatalf("kind %d", r.Kind)
		}
	})
}

func TestReadFileCountsBadLines(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "train.jsonl")
	body := `{"prompt":"a","completion":"b"}` + "\n\n" + `not json` + "\n" + `{"prompt":"c","completion":"d"}` + "\n" + "\xff\xfe\n" + `{"prompt":"e","completion":"f"}`
	if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	recs, bad, err := ReadFile(p, false)
	if err != nil {
		t.Fatal(err)
	}
	if len(recs) != 3 || len(bad) != 2 || bad[0].Line != 3 || bad[1].Line != 5 || recs[2].Line != 6 {
		t.Errorf("ReadFile = %d records %+v, bad %+v", len(recs), recs, bad)
	}
}

func TestBuildFineTuningMasks(t *testing.T) {
	tok := Tokens{Encoder: charEncoder{v: 40}, Chat: tagChat{}, BOS: 0, EOS: 1}
	recs := []Record{
		{Kind: KindPromptCompletion, Prompt: "ab", Completion: "cd"},
		{Kind: KindConversation, Messages: []Message{{"user", "q"}, {"assistant", "r"}}},
		{Kind: KindPromptCompletion, Prompt: strings.Repeat("x", 30), Completion: "yy"}, // too long: dropped after truncation
		{Kind: KindPromptCompletion, Prompt: "p", Completion: strings.Repeat("z", 20)},  // truncated, keeps some learning
		{Kind: KindText, Text: "t"},
	}
	var rep DataReport
	ex, err := BuildFineTuning(recs, tok, 12, "truncate", &rep)
	if err != nil {
		t.Fatal(err)
	}
	if len(ex) != 3 || rep.Truncated != 1 || rep.Dropped != 2 {
		t.Fatalf("got %d examples, report %+v", len(ex), rep)
	}
	// BOS a b c d EOS: learn c, d, EOS.
	if diff := cmp.Diff([]bool{false, false, false, true, true, true}, ex[0].Learn); diff != "" {
		t.Errorf("prompt/completion learn mask (-want +got):\n%s", diff)
	}
	// "<u>q<a>r</a>": learn "r</a>" = indices 7..11.
	want := make([]bool, 12)
	for i := 7; i < 12; i++ {
		want[i] = true
	}
	if diff := cmp.Diff(want, ex[1].Learn); diff != "" {
		t.Errorf("conversation learn mask (-want +got):\n%s", diff)
	}
	if len(ex[2].Tokens) != 12 {
		t.Errorf("truncated example has %d tokens, want 12", len(ex[2].Tokens))
	}
	rep = DataReport{}
	ex, _ = BuildFineTuning(recs, tok, 12, "drop", &rep)
	if len(ex) != 2 || rep.Dropped != 3 || rep.Truncated != 0 {
		t.Errorf("drop policy: %d examples, report %+v", len(ex), rep)
	}
}

// TestBuildPreTrainingPacking checks that packing loses no target: every
// token of every document except its first is predicted exactly once, and
// never across a document boundary.
func TestBuildPreTrainingPacking(t *testing.T) {
	tok := Tokens{Encoder: charEncoder{v: 50}, BOS: 0, EOS: 1}
	docs := []string{"hello", "a much longer document that spans rows", "x", "mid sized doc"}
	var recs []Record
	want := 0
	for _, d := range docs {
		recs = append(recs, Record{Kind: KindText, Text: d})
		want += len(d) + 1 // BOS + text + EOS predicts len+1 tokens
	}
	for _, T := range []int{4, 7, 16, 64} {
		var rep DataReport
		ex, err := BuildPreTraining(recs, tok, T, &rep)
		if err != nil {
			t.Fatal(err)
		}
		bs, counts := Batches(ex, T, 1)
		got := 0
		for i, b := range bs {
			got += counts[i]
			if b.T > T {
				t.Fatalf("T=%d: batch row of %d tokens", T, b.T)
			}
			for k, tg := range b.Targets {
				if tg == model.IgnoreIndex {
					continue
				}
				if tg == 0 {
					t.Fatalf("T=%d: a BOS is a target (cross-document prediction)", T)
				}
				if k%b.T+1 < b.T && b.Seg[k+1] != b.Seg[k] && b.Tokens[k+1] == tg {
					t.Fatalf("T=%d: target crosses a segment boundary at %d", T, k)
				}
			}
		}
		if got != want {
			t.Errorf("T=%d: %d targets, want %d", T, got, want)
		}
	}
}

func TestBatchesLayout(t *testing.T) {
	ex := []Example{
		{Tokens: []int32{5, 6, 7}, Learn: []bool{false, true, true}},
		{Tokens: []int32{8, 9}, Learn: []bool{false, true}},
		{Tokens: []int32{3, 4, 5, 6}, Learn: []bool{false, false, true, false}},
	}
	bs, counts := Batches(ex, 6, 0)
	if len(bs) != 2 || bs[0].B != 2 || bs[0].T != 3 || bs[1].B != 1 || bs[1].T != 4 {
		t.Fatalf("batches %+v", bs)
	}
	if diff := cmp.Diff([]int32{6, 7, -100, 9, -100, -100}, bs[0].Targets); diff != "" {
		t.Errorf("targets (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]int{3, 1}, counts); diff != "" {
		t.Errorf("counts (-want +got):\n%s", diff)
	}
}

func FuzzParseHyperParameters(f *testing.F) {
	f.Add("epochCount", "2", "learningRate", "1e-4")
	f.Add("batchSize", "1.5", "truncation", "drop")
	f.Add("epochs", "2", "", "")
	f.Fuzz(func(t *testing.T, k1, v1, k2, v2 string) {
		h, err := ParseHyperParameters(map[string]string{k1: v1, k2: v2})
		if err != nil {
			var he *HyperParameterError
			if !errors.As(err, &he) {
				t.Fatalf("error %v is not a HyperParameterError", err)
			}
			return
		}
		if h.EpochCount < 1 || h.BatchSize < 1 || !(h.LearningRate > 0) {
			t.Fatalf("accepted out-of-range values: %+v", h)
		}
	})
}
