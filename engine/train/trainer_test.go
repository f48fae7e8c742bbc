package train

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/strata-ml/strata/engine/model"
)

const fakeV = 24

// writeDataset writes n prompt/completion records where the completion is
// a deterministic function of the prompt, so a bigram model can learn it.
func writeDataset(t *testing.T, dir, name string, n, offset int) string {
	t.Helper()
	var b strings.Builder
	for i := range n {
		k := (i + offset) % 7
		fmt.Fprintf(&b, `{"prompt":"q%c","completion":"%c%c"}`+"\n", 'a'+k, 'h'+k, 'p'+k)
	}
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func hp(t *testing.T, m map[string]string) *HyperParameters {
	t.Helper()
	h, err := ParseHyperParameters(m)
	if err != nil {
		t.Fatal(err)
	}
	return h
}

func baseOptions(t *testing.T, out string, hps map[string]string) Options {
	dir := filepath.Dir(out)
	return Options{
		Model:           newBigram(fakeV),
		Tokens:          Tokens{Encoder: charEncoder{v: fakeV}, BOS: 0, EOS: 1},
		TrainFiles:      []string{writeDataset(t, dir, "train.jsonl", 40, 0)},
		ValidationFiles: []string{writeDataset(t, dir, "val.jsonl", 10, 3)},
		HP:              hp(t, hps),
		Full:            true,
		Seed:            7,
		OutputDir:       out,
	}
}

func readLosses(t *testing.T, path string) []string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return strings.Split(strings.TrimSpace(string(b)), "\n")
}

func TestRunLearnsAndWritesMetrics(t *testing.T) {
	out := filepath.Join(t.TempDir(), "out")
	o := baseOptions(t, out, map[string]string{"epochCount": "3", "batchSize": "4", "learningRate": "0.2", "learningRateWarmupSteps": "2"})
	var events []Event
	o.OnEvent = func(e Event) { events = append(events, e) }
	res, err := Run(t.Context(), o)
	if err != nil {
		t.Fatal(err)
	}
	if res.Steps != 30 || res.Epochs != 3 {
		t.Errorf("Steps, Epochs = %d, %d; want 30, 3", res.Steps, res.Epochs)
	}
	var first, last float64
	steps := 0
	for _, e := range events {
		if e.Type == EventStep {
			if steps == 0 {
				first = e.Loss
			}
			last = e.Loss
			steps++
			if e.TotalSteps != 30 || e.LearningRate <= 0 || e.GradNorm <= 0 {
				t.Fatalf("bad step event %+v", e)
			}
		}
	}
	if steps != 30 || !(last < 0.5*first) {
		t.Errorf("%d step events; loss %v → %v, want a halving", steps, first, last)
	}
	rows := readLosses(t, filepath.Join(out, StepMetricsFile))
	if rows[0] != "step_number,epoch_number,training_loss,perplexity" || len(rows) != 31 || !strings.HasPrefix(rows[1], "0,0,") || !strings.HasPrefix(rows[30], "29,2,") {
		t.Errorf("step metrics: header %q, %d rows, first %q, last %q", rows[0], len(rows), rows[1], rows[len(rows)-1])
	}
	f := strings.Split(rows[5], ",")
	l, _ := strconv.ParseFloat(f[2], 64)
	p, _ := strconv.ParseFloat(f[3], 64)
	if math.Abs(p-math.Exp(l)) > 1e-6*p {
		t.Errorf("perplexity %v != exp(loss %v)", p, l)
	}
	vrows := readLosses(t, filepath.Join(out, ValidationMetricsFile))
	if vrows[0] != "step_number,epoch_number,validation_loss,perplexity" || len(vrows) != 4 {
		t.Errorf("validation metrics: %q", vrows)
	}
	if res.ValidationLoss["val.jsonl"] <= 0 || res.BestCheckpoint == "" || res.MergedDir != MergedDirName {
		t.Errorf("result %+v", res)
	}
}

// TestGradientAccumulation checks that splitting a step's examples into
// micro-batches gives the same losses as one big batch (the token-mean loss
// gradient is the LossScale-weighted sum). Tolerance 1e-5 relative: float32
// gradient sums in a different order.
func TestGradientAccumulation(t *testing.T) {
	run := func(micro string) []float64 {
		out := filepath.Join(t.TempDir(), "out")
		o := baseOptions(t, out, map[string]string{"epochCount": "2", "batchSize": "8", "learningRate": "0.05", "microBatchTokens": micro})
		var losses []float64
		o.OnEvent = func(e Event) {
			if e.Type == EventStep {
				losses = append(losses, e.Loss)
			}
		}
		if _, err := Run(t.Context(), o); err != nil {
			t.Fatal(err)
		}
		return losses
	}
	a, b := run("4096"), run("6")
	if len(a) != len(b) || len(a) != 10 {
		t.Fatalf("%d and %d steps", len(a), len(b))
	}
	for i := range a {
		if math.Abs(a[i]-b[i]) > 1e-5*a[i] {
			t.Errorf("step %d: loss %v with one batch, %v with micro-batches", i, a[i], b[i])
		}
	}
}

func TestEarlyStopping(t *testing.T) {
	out := filepath.Join(t.TempDir(), "out")
	// Learning rate 1e-8: validation loss never improves by the threshold.
	o := baseOptions(t, out, map[string]string{"epochCount": "10", "batchSize": "8", "learningRate": "1e-8", "earlyStoppingPatience": "2", "earlyStoppingThreshold": "0.01"})
	res, err := Run(t.Context(), o)
	if err != nil {
		t.Fatal(err)
	}
	if !res.EarlyStopped || res.Epochs != 3 {
		t.Errorf("EarlyStopped %v after %d epochs, want true after 3", res.EarlyStopped, res.Epochs)
	}
}

func TestDivergenceFails(t *testing.T) {
	out := filepath.Join(t.TempDir(), "out")
	o := baseOptions(t, out, map[string]string{"epochCount": "2", "batchSize": "4", "checkpointSteps": "2"})
	o.Model.(*bigram).nanStep = 5
	_, err := Run(t.Context(), o)
	var fe *FailureError
	if !errors.As(err, &fe) || !strings.Contains(fe.Message, "step 5") || !strings.Contains(fe.Message, "step-00000004") {
		t.Fatalf("Run = %v, want a FailureError at step 5 naming checkpoint 4", err)
	}
}

func TestBadInput(t *testing.T) {
	dir := t.TempDir()
	empty := filepath.Join(dir, "empty.jsonl")
	os.WriteFile(empty, nil, 0o644)
	invalid := filepath.Join(dir, "invalid.jsonl")
	os.WriteFile(invalid, []byte("{\n{\"prompt\":\"x\"}\n"), 0o644)
	tests := []struct {
		name  string
		files []string
		want  string
	}{
		{"empty", []string{empty}, "no usable training records in empty.jsonl"},
		{"all invalid", []string{invalid}, "invalid.jsonl line 1"},
		{"missing", []string{filepath.Join(dir, "nope.jsonl")}, "no such file"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o := baseOptions(t, filepath.Join(t.TempDir(), "out"), nil)
			o.TrainFiles = tt.files
			_, err := Run(t.Context(), o)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("Run = %v, want error containing %q", err, tt.want)
			}
		})
	}
}

func stepLosses(t *testing.T, out string) []string {
	rows := readLosses(t, filepath.Join(out, StepMetricsFile))
	return rows[1:]
}

// TestStopAndResume cancels the context mid-run (SIGTERM in the CLI): Run
// returns ErrStopped after a checkpoint, and resuming gives exactly the
// metrics of an uninterrupted run.
func TestStopAndResume(t *testing.T) {
	hps := map[string]string{"epochCount": "2", "batchSize": "4", "learningRate": "0.05", "checkpointSteps": "3", "evalSteps": "4"}
	ref := filepath.Join(t.TempDir(), "ref")
	if _, err := Run(t.Context(), baseOptions(t, ref, hps)); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(t.TempDir(), "out")
	ctx, cancel := context.WithCancel(t.Context())
	o := baseOptions(t, out, hps)
	o.OnEvent = func(e Event) {
		if e.Type == EventStep && e.Step == 7 {
			cancel()
		}
	}
	if _, err := Run(ctx, o); !errors.Is(err, ErrStopped) {
		t.Fatalf("Run(cancelled) = %v, want ErrStopped", err)
	}
	o = baseOptions(t, out, hps)
	o.Resume = true
	if _, err := Run(t.Context(), o); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(stepLosses(t, ref), stepLosses(t, out)); diff != "" {
		t.Errorf("step metrics after resume (-uninterrupted +resumed):\n%s", diff)
	}
	if diff := cmp.Diff(readLosses(t, filepath.Join(ref, ValidationMetricsFile)), readLosses(t, filepath.Join(out, ValidationMetricsFile))); diff != "" {
		t.Errorf("validation metrics after resume (-uninterrupted +resumed):\n%s", diff)
	}
}

// tinyLlama is a randomly initialised one-layer llama over the fake
// vocabulary, for tests that need the real engine (LoRA, dropout).
func tinyLlama(t *testing.T) model.Model {
	t.Helper()
	cfg := &model.Config{Architectures: []string{"LlamaForCausalLM"}, HiddenSize: 16, IntermediateSize: 32,
		NumHiddenLayers: 1, NumAttentionHeads: 2, VocabSize: fakeV, MaxPositionEmbeddings: 64, TieWordEmbeddings: true, HiddenAct: "silu"}
	m, err := model.New(cfg, 11, model.Options{})
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// resumeOptions is baseOptions, or with llama set, LoRA training of
// tinyLlama.
func resumeOptions(t *testing.T, out string, hps map[string]string, llama bool) Options {
	o := baseOptions(t, out, hps)
	if llama {
		o.Model, o.Full = tinyLlama(t), false
	}
	return o
}

// TestHelperTrainProcess is the child of TestResumeAfterSIGKILL: it trains
// and, after step STRATA_TRAIN_BLOCK_AT, prints "blocked" and waits to be
// killed.
func TestHelperTrainProcess(t *testing.T) {
	out := os.Getenv("STRATA_TRAIN_HELPER_OUT")
	if out == "" {
		t.Skip("helper process only")
	}
	blockAt, _ := strconv.Atoi(os.Getenv("STRATA_TRAIN_BLOCK_AT"))
	var hps map[string]string
	json.Unmarshal([]byte(os.Getenv("STRATA_TRAIN_HPS")), &hps)
	o := resumeOptions(t, out, hps, os.Getenv("STRATA_TRAIN_LLAMA") == "1")
	o.Resume = true
	o.OnEvent = func(e Event) {
		if e.Type == EventStep && e.Step == blockAt {
			fmt.Println("blocked")
			// Sleep rather than select{}: with every goroutine blocked
			// and no timer pending, the runtime would exit with
			// "all goroutines are asleep" before the SIGKILL lands.
			for {
				time.Sleep(time.Hour)
			}
		}
	}
	if _, err := Run(context.Background(), o); err != nil {
		t.Fatal(err)
	}
}

// TestResumeAfterSIGKILL kills a real training process with SIGKILL after
// step 8 (checkpoints every 3 steps, so it dies 2 steps after the last
// one, with those steps already in the metrics file), resumes in a second
// process and requires the exact metrics of an uninterrupted run. The
// loraDropout case trains a LoRA adapter on a real (tiny) llama with
// dropout 0.1, whose masks must continue from the checkpoint's dropout
// state rather than restart.
func TestResumeAfterSIGKILL(t *testing.T) {
	for _, tc := range []struct {
		name  string
		llama bool
		hps   map[string]string
	}{
		{"bigram", false, map[string]string{"epochCount": "2", "batchSize": "4", "learningRate": "0.05", "checkpointSteps": "3", "evalSteps": "5"}},
		{"loraDropout", true, map[string]string{"epochCount": "2", "batchSize": "4", "learningRate": "0.05", "checkpointSteps": "3", "evalSteps": "5",
			"loraDropout": "0.1", "loraRank": "2"}},
	} {
		t.Run(tc.name, func(t *testing.T) { resumeAfterSIGKILL(t, tc.hps, tc.llama) })
	}
}

func resumeAfterSIGKILL(t *testing.T, hps map[string]string, llama bool) {
	hb, _ := json.Marshal(hps)
	ref := filepath.Join(t.TempDir(), "ref")
	if _, err := Run(t.Context(), resumeOptions(t, ref, hps, llama)); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(t.TempDir(), "out")
	child := func(blockAt int) *exec.Cmd {
		cmd := exec.CommandContext(t.Context(), os.Args[0], "-test.run=^TestHelperTrainProcess$", "-test.count=1")
		cmd.Env = append(os.Environ(), "STRATA_TRAIN_HELPER_OUT="+out, "STRATA_TRAIN_BLOCK_AT="+strconv.Itoa(blockAt), "STRATA_TRAIN_HPS="+string(hb))
		if llama {
			cmd.Env = append(cmd.Env, "STRATA_TRAIN_LLAMA=1")
		}
		return cmd
	}
	cmd := child(8)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	sc := bufio.NewScanner(stdout)
	blocked := false
	for sc.Scan() {
		if sc.Text() == "blocked" {
			blocked = true
			break
		}
	}
	if !blocked {
		cmd.Wait()
		t.Fatal("child exited before blocking")
	}
	if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	err = cmd.Wait()
	if ws, ok := cmd.ProcessState.Sys().(syscall.WaitStatus); !ok || !ws.Signaled() || ws.Signal() != syscall.SIGKILL {
		t.Fatalf("child ended with %v, want killed by SIGKILL", err)
	}
	if n := len(stepLosses(t, out)); n != 8 {
		t.Fatalf("killed child left %d metric rows, want 8", n)
	}
	deadline := time.Now().Add(time.Minute)
	res := child(-1)
	res.WaitDelay = time.Until(deadline)
	if b, err := res.CombinedOutput(); err != nil {
		t.Fatalf("resumed child: %v\n%s", err, b)
	}
	if diff := cmp.Diff(stepLosses(t, ref), stepLosses(t, out)); diff != "" {
		t.Errorf("step metrics after SIGKILL and resume (-uninterrupted +resumed):\n%s", diff)
	}
	if diff := cmp.Diff(readLosses(t, filepath.Join(ref, ValidationMetricsFile)), readLosses(t, filepath.Join(out, ValidationMetricsFile))); diff != "" {
		t.Errorf("validation metrics (-uninterrupted +resumed):\n%s", diff)
	}
}

func TestResumeRefusesChangedData(t *testing.T) {
	out := filepath.Join(t.TempDir(), "out")
	hps := map[string]string{"epochCount": "1", "batchSize": "4"}
	if _, err := Run(t.Context(), baseOptions(t, out, hps)); err != nil {
		t.Fatal(err)
	}
	o := baseOptions(t, out, hps)
	o.TrainFiles = []string{writeDataset(t, t.TempDir(), "other.jsonl", 30, 1)}
	o.Resume = true
	if _, err := Run(t.Context(), o); err == nil || !strings.Contains(err.Error(), "changed") {
		t.Errorf("resume on other data = %v, want a refusal", err)
	}
}

// TestFlatLossWarning: with a learning rate of 1e-8 the loss does not move
// and the run warns once.
func TestFlatLossWarning(t *testing.T) {
	o := baseOptions(t, filepath.Join(t.TempDir(), "out"), map[string]string{"epochCount": "3", "batchSize": "4", "learningRate": "1e-8", "earlyStoppingPatience": "10"})
	o.ValidationFiles = nil
	// One repeated record: every step sees the same data, so only learning could move the loss.
	one := filepath.Join(t.TempDir(), "one.jsonl")
	os.WriteFile(one, []byte(strings.Repeat(`{"prompt":"qa","completion":"hp"}`+"\n", 40)), 0o644)
	o.TrainFiles = []string{one}
	var warns []string
	o.OnEvent = func(e Event) {
		if e.Type == EventWarning {
			warns = append(warns, e.Message)
		}
	}
	if _, err := Run(t.Context(), o); err != nil {
		t.Fatal(err)
	}
	if len(warns) != 1 || !strings.Contains(warns[0], "stayed at") {
		t.Errorf("warnings %q, want one flat-loss warning", warns)
	}
}

// TestCheckpointWriteFailure: a checkpoint that cannot be written (here the
// checkpoint directory is a file) ends the run with an error naming the
// checkpoint, after the steps before it completed.
func TestCheckpointWriteFailure(t *testing.T) {
	o := baseOptions(t, filepath.Join(t.TempDir(), "out"), map[string]string{"epochCount": "1", "batchSize": "4", "checkpointSteps": "3"})
	blocker := filepath.Join(t.TempDir(), "file")
	os.WriteFile(blocker, []byte("x"), 0o644)
	o.CheckpointDir = blocker
	_, err := Run(t.Context(), o)
	if err == nil || !strings.Contains(err.Error(), "checkpoint: save step 3") {
		t.Fatalf("Run = %v, want a checkpoint save error at step 3", err)
	}
	if b, _ := os.ReadFile(blocker); string(b) != "x" {
		t.Error("the blocking file was modified")
	}
}
