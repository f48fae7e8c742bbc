package dataset

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"runtime"
	"strings"
	"testing"
	"time"
)

// TestIssueSpill keeps every issue when they outnumber the in-memory cap.
func TestIssueSpill(t *testing.T) {
	t.Parallel()
	var lines []string
	for i := range 50 {
		lines = append(lines, fmt.Sprintf(`{"prompt": "question %d", "completion": %d}`, i, i))
	}
	src := bytesSource("many.jsonl", []byte(strings.Join(lines, "\n")))
	spill := t.TempDir()
	r := mustValidate(t, Config{MaxIssuesInMemory: 5, SpillDir: spill}, src)
	got := allIssues(t, r)
	if len(got) != 50 || r.Errors != 50 {
		t.Fatalf("%d issues, %d errors; want 50", len(got), r.Errors)
	}
	for i, is := range got {
		if is.Line != int64(i+1) || is.Code != CodeWrongType {
			t.Fatalf("issue %d = %v, want wrong_type on line %d", i, is, i+1)
		}
	}
	var buf bytes.Buffer
	if err := r.WriteJSON(&buf); err != nil {
		t.Fatal(err)
	}
	var rep struct {
		Issues  []Issue     `json:"issues"`
		Summary []CodeCount `json:"summary"`
	}
	if err := json.Unmarshal(buf.Bytes(), &rep); err != nil {
		t.Fatal(err)
	}
	if len(rep.Issues) != 50 || rep.Summary[0].Code != CodeWrongType || rep.Summary[0].Count != 50 {
		t.Errorf("JSON report: %d issues, summary %+v", len(rep.Issues), rep.Summary)
	}
	if err := r.Close(); err != nil {
		t.Fatal(err)
	}
	if ents, _ := os.ReadDir(spill); len(ents) != 0 {
		t.Errorf("Close left %d spill files", len(ents))
	}
}

// TestPreTrainingLimits: documents have no input/output split, so only
// the total limit applies; a .txt file's blank lines separate documents.
func TestPreTrainingLimits(t *testing.T) {
	t.Parallel()
	doc := fmt.Sprintf(`{"input": %q}`, words(3000, "w"))
	r := mustValidate(t, Config{Family: FamilyCohereCommand, Type: ContinuedPreTraining}, bytesSource("cpt.jsonl", []byte(doc+"\n")))
	if !r.Valid {
		t.Errorf("3,002-token document under Cohere's 6,144 total: %s", r.FailureMessage)
	}
	// Open family: a document longer than the context is packed into
	// several sequences, not truncated or refused.
	long := fmt.Sprintf(`{"input": %q}`, words(5000, "w"))
	r = mustValidate(t, Config{Type: ContinuedPreTraining, ContextLength: 2048, HyperParameters: map[string]string{"batchSize": "1"}}, bytesSource("long.jsonl", []byte(long+"\n")))
	if !r.Valid || r.Warnings != 0 || r.Plan.StepsPerEpoch != 3 {
		t.Errorf("5,002-token document, context 2048: valid=%v warnings=%d steps/epoch=%d, want valid, 0, 3 (%s)", r.Valid, r.Warnings, r.Plan.StepsPerEpoch, r.FailureMessage)
	}
	// A .txt file is one document: no BOS/EOS per line, and short or
	// repeated lines are prose, not near-empty or duplicate records.
	txt := "First document line.\n\n***\nSecond document, a little longer.\n***\n"
	r = mustValidate(t, Config{Type: ContinuedPreTraining}, bytesSource("corpus.txt", []byte(txt)))
	if f := r.Files[0]; !r.Valid || r.Warnings != 0 || f.Records != 4 || f.Format != FormatText || f.LossShare != 1 || f.Total.Sum != 10 {
		t.Errorf("txt: valid=%v warnings=%d records=%d format=%s lossShare=%v tokens=%d; want valid, 0, 4, text, 1, 10",
			r.Valid, r.Warnings, f.Records, f.Format, f.LossShare, f.Total.Sum)
	}
}

// TestTrustHyperParameters: a job's map was checked at creation.
func TestTrustHyperParameters(t *testing.T) {
	t.Parallel()
	hp := map[string]string{"batchSize": "64", "epochCount": "3"}
	src := bytesSource("t.jsonl", []byte(strings.Join(nRecords(130), "\n")))
	r := mustValidate(t, Config{Family: FamilyLlama31, HyperParameters: hp, TrustHyperParameters: true}, src)
	if r.Warnings != 0 || r.Plan.BatchSize != 64 || r.Plan.StepsPerEpoch != 3 || r.Plan.TotalSteps != 9 {
		t.Errorf("warnings=%d plan=%+v; want 0 warnings, batch 64, 3 steps/epoch, 9 steps", r.Warnings, r.Plan)
	}
}

// TestCancel stops a run from its progress callback: Validate returns the
// cancellation and leaves no goroutine behind.
func TestCancel(t *testing.T) {
	before := runtime.NumGoroutine()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	big := bytes.Repeat([]byte(pcLine("a question that repeats", "and an answer that repeats")+"\n"), 100000)
	cfg := Config{Family: FamilyOpen, Type: FineTuning, Encoder: testEncoder(), Progress: func(Progress) { cancel() }}
	if _, err := Validate(ctx, cfg, bytesSource("big.jsonl", big)); !errors.Is(err, context.Canceled) {
		t.Fatalf("Validate after cancel: %v, want context.Canceled", err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for runtime.NumGoroutine() > before && time.Now().Before(deadline) {
		runtime.Gosched()
	}
	if n := runtime.NumGoroutine(); n > before {
		t.Errorf("%d goroutines after Validate, %d before", n, before)
	}
}

// specialWords is wordTokenizer that knows <|...|> markers are special.
type specialWords struct{ wordTokenizer }

func (specialWords) IsSpecial(id int32) bool { return id == 2 }

// contentOnlyTemplate learns the assistant content but not its <|eot_id|>.
type contentOnlyTemplate struct{ headerTemplate }

func (t contentOnlyTemplate) RenderTraining(system string, msgs []Message) (string, [][2]int, error) {
	text, spans, err := t.headerTemplate.RenderTraining(system, msgs)
	for i := range spans {
		spans[i][1] -= len("<|eot_id|>")
	}
	return text, spans, err
}

// TestNoStopToken warns when nothing teaches the model to stop.
func TestNoStopToken(t *testing.T) {
	t.Parallel()
	conv := `{"schemaVersion": "bedrock-conversation-2024", "messages": [{"role": "user", "content": [{"text": "What is the capital of Spain?"}]}, {"role": "assistant", "content": [{"text": "Madrid is the capital."}]}]}`
	want := "x.jsonl:1: warning no_stop_token: no end-of-turn or end-of-sequence token carries loss in this record: a model tuned on it may never learn to stop (check the chat template and eos_token)"
	tests := []struct {
		name string
		enc  *Encoder
		line string
		want []string
	}{
		{"template_learns_eot", &Encoder{Tokenizer: specialWords{}, Template: headerTemplate{}, BOS: -1, EOS: 2}, conv, nil},
		{"template_misses_eot", &Encoder{Tokenizer: specialWords{}, Template: contentOnlyTemplate{}, BOS: -1, EOS: 2}, conv, []string{want}},
		{"no_eos_id", &Encoder{Tokenizer: specialWords{}, BOS: -1, EOS: -1}, pcLine("What is the capital of Spain?", "Madrid is the capital."), []string{want}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := mustValidate(t, Config{Encoder: tt.enc}, bytesSource("x.jsonl", []byte(tt.line+"\n")))
			var got []string
			for _, is := range allIssues(t, r) {
				got = append(got, is.String())
			}
			if strings.Join(got, "\n") != strings.Join(tt.want, "\n") {
				t.Errorf("issues = %q, want %q", got, tt.want)
			}
		})
	}
}

// TestPlanEvalPercentage: without validation files strata train holds out
// evalPercentage of the records.
func TestPlanEvalPercentage(t *testing.T) {
	t.Parallel()
	hp := map[string]string{"evalPercentage": "20", "batchSize": "4", "epochCount": "2"}
	r := mustValidate(t, Config{HyperParameters: hp}, bytesSource("t.jsonl", []byte(strings.Join(nRecords(100), "\n"))))
	if r.Plan.StepsPerEpoch != 20 || r.Plan.TotalSteps != 40 {
		t.Errorf("plan = %+v, want 80 records / batch 4 = 20 steps per epoch, 40 in all", r.Plan)
	}
}
