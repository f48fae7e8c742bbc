//go:build integration

package cli_test

import (
	"bufio"
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/strata-ml/strata/engine/starter"
	"github.com/strata-ml/strata/internal/trainspec"
)

// buildStrata builds the strata binary once per test binary run.
func buildStrata(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "strata")
	cmd := exec.Command("go", "build", "-o", bin, "github.com/strata-ml/strata/cmd/strata")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

// trainFixture makes an untrained starter-shaped model and a small slice of
// the sample dataset.
func trainFixture(t *testing.T) (modelDir, trainFile, valFile string) {
	t.Helper()
	dir := t.TempDir()
	m, err := starter.EnsureWith(t.Context(), filepath.Join(dir, "models"), starter.Options{PretrainEpochs: -1})
	if err != nil {
		t.Fatal(err)
	}
	paths, err := starter.WriteSampleDataset(filepath.Join(dir, "data"))
	if err != nil {
		t.Fatal(err)
	}
	cut := func(p string, n int, name string) string {
		b, _ := os.ReadFile(p)
		lines := strings.SplitAfter(string(b), "\n")
		out := filepath.Join(dir, name)
		os.WriteFile(out, []byte(strings.Join(lines[:n], "")), 0o644)
		return out
	}
	return m, cut(paths[0], 24, "train.jsonl"), cut(paths[1], 6, "val.jsonl")
}

func writeSpec(t *testing.T, s trainspec.Spec) string {
	t.Helper()
	b, _ := json.Marshal(s)
	p := filepath.Join(t.TempDir(), "spec.json")
	os.WriteFile(p, b, 0o644)
	return p
}

func readEvents(t *testing.T, out []byte) []trainspec.Event {
	t.Helper()
	var evs []trainspec.Event
	for _, line := range bytes.Split(bytes.TrimSpace(out), []byte("\n")) {
		var e trainspec.Event
		if err := json.Unmarshal(line, &e); err != nil {
			t.Fatalf("stdout line %q is not an event: %v", line, err)
		}
		evs = append(evs, e)
	}
	return evs
}

func csvRows(t *testing.T, dir string) []string {
	b, err := os.ReadFile(filepath.Join(dir, trainspec.StepMetricsFile))
	if err != nil {
		t.Fatal(err)
	}
	return strings.Split(strings.TrimSpace(string(b)), "\n")
}

// TestTrainCLI runs `strata train --spec` end to end three ways on the same
// spec: uninterrupted; stopped with SIGTERM and resumed; killed with SIGKILL
// and resumed. Both interrupted runs must end with the uninterrupted run's
// exact step metrics. Then it generates with the adapter.
func TestTrainCLI(t *testing.T) {
	bin := buildStrata(t)
	modelDir, trainFile, valFile := trainFixture(t)
	specWith := func(out, dropout string) trainspec.Spec {
		return trainspec.Spec{CustomizationType: trainspec.FineTuning, BaseModelDir: modelDir, TrainFiles: []string{trainFile},
			ValidationFiles: []string{valFile}, OutputDir: out, Seed: 3,
			HyperParameters: map[string]string{"epochCount": "2", "batchSize": "4", "learningRate": "1e-3", "checkpointSteps": "2", "maxSeqLen": "96",
				"loraDropout": dropout}}
	}
	spec := func(out string) trainspec.Spec { return specWith(out, "0") }
	ref := filepath.Join(t.TempDir(), "ref")
	refSpec := spec(ref)
	refSpec.WriteMerged = true
	out, err := exec.Command(bin, "train", "--spec", writeSpec(t, refSpec)).Output()
	if err != nil {
		t.Fatalf("train: %v", err)
	}
	evs := readEvents(t, out)
	last := evs[len(evs)-1]
	if last.Type != trainspec.EventCompleted {
		t.Fatalf("last event %+v, want completed", last)
	}
	var res trainspec.Result
	b, err := os.ReadFile(filepath.Join(ref, trainspec.ResultFile))
	if err != nil || json.Unmarshal(b, &res) != nil || res.Steps != 12 || res.AdapterDir != "adapter" {
		t.Fatalf("result.json = %s, %v", b, err)
	}
	if _, err := os.Stat(filepath.Join(ref, "adapter", "adapter_model.safetensors")); err != nil {
		t.Error(err)
	}

	// The killed_loraDropout case trains with LoRA dropout 0.1 against its
	// own uninterrupted reference: the resumed run must continue the
	// dropout masks from the checkpoint, not restart them.
	refDrop := filepath.Join(t.TempDir(), "ref-dropout")
	if out, err := exec.Command(bin, "train", "--spec", writeSpec(t, specWith(refDrop, "0.1"))).CombinedOutput(); err != nil {
		t.Fatalf("train with loraDropout: %v\n%s", err, out)
	}
	if diff := cmp.Diff(csvRows(t, ref), csvRows(t, refDrop)); diff == "" {
		t.Fatal("loraDropout 0.1 gave the step metrics of loraDropout 0: dropout is not applied")
	}
	for _, tc := range []struct {
		name    string
		sig     syscall.Signal
		dropout string
		ref     string
	}{
		{"terminated", syscall.SIGTERM, "0", ref},
		{"killed", syscall.SIGKILL, "0", ref},
		{"killed_loraDropout", syscall.SIGKILL, "0.1", refDrop},
	} {
		sig, ref := tc.sig, tc.ref
		t.Run(tc.name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "out")
			sp := writeSpec(t, specWith(dir, tc.dropout))
			cmd := exec.Command(bin, "train", "--spec", sp)
			stdout, _ := cmd.StdoutPipe()
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			sc := bufio.NewScanner(stdout)
			var seen []trainspec.Event
			signalled := false
			for sc.Scan() {
				var e trainspec.Event
				json.Unmarshal(sc.Bytes(), &e)
				seen = append(seen, e)
				if !signalled && e.Type == trainspec.EventStep && e.Step == 5 {
					cmd.Process.Signal(sig)
					signalled = true
				}
			}
			err := cmd.Wait()
			if sig == syscall.SIGTERM {
				if err != nil || seen[len(seen)-1].Type != trainspec.EventStopped {
					t.Fatalf("after SIGTERM: exit %v, last event %+v; want exit 0 and stopped", err, seen[len(seen)-1])
				}
			} else if ws, ok := cmd.ProcessState.Sys().(syscall.WaitStatus); !ok || !ws.Signaled() {
				t.Fatalf("after SIGKILL: %v", err)
			}
			if out, err := exec.Command(bin, "train", "--spec", sp, "--resume").CombinedOutput(); err != nil {
				t.Fatalf("resume: %v\n%s", err, out)
			}
			if diff := cmp.Diff(csvRows(t, ref), csvRows(t, dir)); diff != "" {
				t.Errorf("step metrics (-uninterrupted +resumed):\n%s", diff)
			}
		})
	}

	// The adapter applied unmerged and the merged weights generate the same
	// greedy text.
	prompt := "Ticket: ERR_429_API_LIMIT\nAnswer:"
	gen, err := exec.Command(bin, "generate", "--model", modelDir, "--adapter", filepath.Join(ref, "adapter"),
		"--max-tokens", "8", "--prompt", prompt).Output()
	if err != nil {
		t.Fatalf("generate with adapter: %v", err)
	}
	merged, err := exec.Command(bin, "generate", "--model", filepath.Join(ref, "merged"), "--max-tokens", "8", "--prompt", prompt).Output()
	if err != nil {
		t.Fatalf("generate with merged weights: %v", err)
	}
	t.Logf("generated %q", gen)
	if string(gen) != string(merged) {
		t.Errorf("adapter output %q, merged output %q", gen, merged)
	}
	for _, f := range []string{"config.json", "model.safetensors", "tokenizer.json", "tokenizer_config.json", "generation_config.json"} {
		if _, err := os.Stat(filepath.Join(ref, "merged", f)); err != nil {
			t.Error(err)
		}
	}
}

func TestTrainCLIBadInput(t *testing.T) {
	bin := buildStrata(t)
	modelDir, trainFile, _ := trainFixture(t)
	empty := filepath.Join(t.TempDir(), "empty.jsonl")
	os.WriteFile(empty, nil, 0o644)
	tests := []struct {
		name string
		spec trainspec.Spec
		want string
	}{
		{"not a model", trainspec.Spec{BaseModelDir: t.TempDir(), TrainFiles: []string{trainFile}}, "config.json is missing"},
		{"unknown hp", trainspec.Spec{BaseModelDir: modelDir, TrainFiles: []string{trainFile}, HyperParameters: map[string]string{"epochs": "2"}}, `unknown hyperparameter "epochs"`},
		{"out of range", trainspec.Spec{BaseModelDir: modelDir, TrainFiles: []string{trainFile}, HyperParameters: map[string]string{"learningRate": "5"}}, "learningRate"},
		{"empty data", trainspec.Spec{BaseModelDir: modelDir, TrainFiles: []string{empty}}, "no usable training records"},
		{"bad type", trainspec.Spec{CustomizationType: "DISTILLATION", BaseModelDir: modelDir, TrainFiles: []string{trainFile}}, "DISTILLATION"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.spec.OutputDir = filepath.Join(t.TempDir(), "out")
			cmd := exec.Command(bin, "train", "--spec", writeSpec(t, tt.spec))
			out, err := cmd.Output()
			if err == nil {
				t.Fatal("train succeeded")
			}
			evs := readEvents(t, out)
			last := evs[len(evs)-1]
			if last.Type != trainspec.EventFailed || !strings.Contains(last.Message, tt.want) {
				t.Errorf("last event %+v, want failed containing %q", last, tt.want)
			}
		})
	}
}
