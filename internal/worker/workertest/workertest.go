// Package workertest provides FakeTrain, a stand-in for the "strata train"
// child that honours the trainspec contract (events on stdout, checkpoints,
// --resume, SIGTERM → checkpoint + "stopped", metrics CSVs, result.json,
// adapter dir) with a trivial deterministic "loss", so the job pipeline can
// be tested without the training engine. Tests only.
package workertest

import (
	"bufio"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"math"
	"os"
	"os/signal"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/strata-ml/strata/internal/trainspec"
)

// Env variables read by FakeTrain.
const (
	// EnvStepDelay is the simulated time per step in milliseconds (default 20).
	EnvStepDelay = "STRATA_FAKE_STEP_MS"
	// EnvCrashAt makes the child exit 3 at that step unless resuming.
	EnvCrashAt = "STRATA_FAKE_CRASH_AT"
)

type checkpoint struct {
	Step int `json:"step"`
}

// FakeTrain runs the fake child with args ("--spec FILE [--resume]") and
// returns the exit status.
func FakeTrain(args []string, stdout io.Writer) int {
	fs := flag.NewFlagSet("train", flag.ContinueOnError)
	specPath := fs.String("spec", "", "")
	resume := fs.Bool("resume", false, "")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	term := make(chan os.Signal, 1)
	signal.Notify(term, syscall.SIGTERM)
	enc := json.NewEncoder(stdout)
	emit := func(e trainspec.Event) {
		e.Time = time.Now().UTC()
		_ = enc.Encode(e)
	}
	fail := func(msg string) int {
		emit(trainspec.Event{Type: trainspec.EventFailed, Message: msg})
		return 1
	}
	b, err := os.ReadFile(*specPath)
	if err != nil {
		return fail(err.Error())
	}
	var spec trainspec.Spec
	if err := json.Unmarshal(b, &spec); err != nil {
		return fail(err.Error())
	}
	emit(trainspec.Event{Type: trainspec.EventStatus, Stage: "DataProcessing"})
	records := 0
	for _, f := range spec.TrainFiles {
		n, err := countJSONL(f)
		if err != nil {
			return fail(fmt.Sprintf("Unable to parse Amazon S3 file: %s. Data files must conform to JSONL format.", filepath.Base(f)))
		}
		records += n
	}
	for _, f := range spec.ValidationFiles {
		if _, err := countJSONL(f); err != nil {
			return fail(fmt.Sprintf("Unable to parse Amazon S3 file: %s. Data files must conform to JSONL format.", filepath.Base(f)))
		}
	}
	epochs := atoi(spec.HyperParameters["epochCount"], 1)
	batch := atoi(spec.HyperParameters["batchSize"], 1)
	perEpoch := max(1, (records+batch-1)/batch)
	total := perEpoch * epochs
	delay := time.Duration(atoi(os.Getenv(EnvStepDelay), 20)) * time.Millisecond
	crashAt := atoi(os.Getenv(EnvCrashAt), -1)

	ckDir := spec.CheckpointDir
	start := 0
	if *resume {
		if c, ok := latest(ckDir); ok {
			start = c.Step
		}
	}
	emit(trainspec.Event{Type: trainspec.EventStatus, Stage: "Training"})
	loss := func(step int) float64 { return 2.0 / (1 + 0.1*float64(step)) }
	save := func(step int) {
		p := filepath.Join(ckDir, fmt.Sprintf("step-%06d.json", step))
		data, _ := json.Marshal(checkpoint{Step: step})
		tmp := p + ".tmp"
		_ = os.WriteFile(tmp, data, 0o644)
		_ = os.Rename(tmp, p)
		emit(trainspec.Event{Type: trainspec.EventCheckpoint, Step: step, Path: p})
	}
	for step := start; step < total; step++ {
		select {
		case <-term:
			save(step)
			emit(trainspec.Event{Type: trainspec.EventStopped, Step: step})
			return 0
		default:
		}
		if step == crashAt && !*resume {
			os.Exit(3)
		}
		time.Sleep(delay) // simulated compute
		l := loss(step)
		emit(trainspec.Event{Type: trainspec.EventStep, Step: step + 1, TotalSteps: total, Epoch: step/perEpoch + 1, Loss: l, Perplexity: math.Exp(l)})
		if (step+1)%perEpoch == 0 || (step+1)%5 == 0 {
			save(step + 1)
		}
	}
	// Metrics CSVs are rebuilt from the deterministic loss so a resumed run
	// writes the same files as an uninterrupted one.
	var sb strings.Builder
	sb.WriteString("step_number,epoch_number,training_loss,perplexity\n")
	for s := range total {
		fmt.Fprintf(&sb, "%d,%d,%g,%g\n", s, s/perEpoch, loss(s), math.Exp(loss(s)))
	}
	_ = os.WriteFile(filepath.Join(spec.OutputDir, trainspec.StepMetricsFile), []byte(sb.String()), 0o644)
	res := trainspec.Result{TrainingLoss: loss(total - 1), Steps: total, Epochs: epochs, AdapterDir: trainspec.AdapterDirName}
	if len(spec.ValidationFiles) > 0 {
		res.ValidationLoss = map[string]float64{}
		var vb strings.Builder
		vb.WriteString("step_number,epoch_number,validation_loss,perplexity\n")
		for e := range epochs {
			vl := loss((e+1)*perEpoch-1) + 0.1
			fmt.Fprintf(&vb, "%d,%d,%g,%g\n", (e+1)*perEpoch-1, e, vl, math.Exp(vl))
		}
		for _, f := range spec.ValidationFiles {
			res.ValidationLoss[filepath.Base(f)] = loss(total-1) + 0.1
			emit(trainspec.Event{Type: trainspec.EventValidation, Validator: filepath.Base(f), Loss: loss(total-1) + 0.1, Step: total})
		}
		_ = os.WriteFile(filepath.Join(spec.OutputDir, trainspec.ValidationMetricsFile), []byte(vb.String()), 0o644)
	}
	_ = os.MkdirAll(filepath.Join(spec.OutputDir, trainspec.AdapterDirName), 0o755)
	_ = os.WriteFile(filepath.Join(spec.OutputDir, trainspec.AdapterDirName, "adapter_config.json"), []byte(`{"peft_type":"LORA"}`), 0o644)
	rb, _ := json.Marshal(res)
	_ = os.WriteFile(filepath.Join(spec.OutputDir, trainspec.ResultFile), rb, 0o644)
	emit(trainspec.Event{Type: trainspec.EventCompleted, Step: total, Loss: res.TrainingLoss})
	return 0
}

func atoi(s string, def int) int {
	n, err := strconv.Atoi(strings.TrimSpace(s))
	if err != nil {
		return def
	}
	return n
}

func latest(dir string) (checkpoint, bool) {
	m, _ := filepath.Glob(filepath.Join(dir, "step-*.json"))
	sort.Strings(m)
	for i := len(m) - 1; i >= 0; i-- {
		b, err := os.ReadFile(m[i])
		var c checkpoint
		if err == nil && json.Unmarshal(b, &c) == nil {
			return c, true
		}
	}
	return checkpoint{}, false
}

func countJSONL(path string) (int, error) {
	f, err := os.Open(path)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 16<<20)
	n := 0
	for sc.Scan() {
		if !json.Valid(sc.Bytes()) {
			return 0, fmt.Errorf("line %d: invalid JSON", n+1)
		}
		n++
	}
	return n, sc.Err()
}
