package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/strata-ml/strata/engine/compute"
	"github.com/strata-ml/strata/engine/generate"
	"github.com/strata-ml/strata/engine/lora"
	"github.com/strata-ml/strata/engine/model"
	_ "github.com/strata-ml/strata/engine/model/llama" // registers the Llama family
	"github.com/strata-ml/strata/engine/safetensors"
	"github.com/strata-ml/strata/engine/template"
	"github.com/strata-ml/strata/engine/tokenizer"
	"github.com/strata-ml/strata/engine/train"
	"github.com/strata-ml/strata/internal/trainspec"
)

func init() {
	Register(Command{
		Name:    "train",
		Summary: "fine-tune or continue pre-training a local Hugging Face model",
		Run:     runTrain,
	})
}

// multiFlag collects a repeatable string flag.
type multiFlag []string

func (m *multiFlag) String() string     { return strings.Join(*m, ",") }
func (m *multiFlag) Set(v string) error { *m = append(*m, v); return nil }

const trainUsage = `Usage:
  strata train --spec SPEC.json [--resume]
  strata train --model DIR --train FILE [--validation FILE] [--type FINE_TUNING|CONTINUED_PRE_TRAINING]
               [--hp epochCount=2 --hp learningRate=1e-4 ...] --out DIR [--method lora|full] [--merged] [--resume]

Hyperparameters use Bedrock's names (values are strings):
`

func runTrain(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("train", stderr)
	var (
		specFile, modelDir, typ, out, method, ckptDir string
		trainFiles, valFiles, hps                     multiFlag
		resume, merged, quiet                         bool
		seed                                          int64
		threads                                       int
	)
	fs.StringVar(&specFile, "spec", "", "job spec JSON written by the job runner (events go to stdout as JSON lines)")
	fs.StringVar(&modelDir, "model", "", `base model: a Hugging Face directory (config.json, *.safetensors, tokenizer.json), or "starter"`)
	fs.Var(&trainFiles, "train", "training data file, JSONL (or .txt for continued pre-training); repeatable")
	fs.Var(&valFiles, "validation", "validation data file, JSONL; repeatable")
	fs.StringVar(&typ, "type", trainspec.FineTuning, "FINE_TUNING or CONTINUED_PRE_TRAINING")
	fs.Var(&hps, "hp", "hyperparameter NAME=VALUE with Bedrock's names, e.g. epochCount=2; repeatable")
	fs.StringVar(&out, "out", "", "output directory (metrics CSVs, adapter/, merged/, result.json, checkpoints/)")
	fs.StringVar(&ckptDir, "checkpoint-dir", "", "checkpoint directory (default OUT/checkpoints)")
	fs.StringVar(&method, "method", "lora", "lora or full")
	fs.BoolVar(&merged, "merged", false, "with LoRA, also write merged full weights to OUT/merged")
	fs.BoolVar(&resume, "resume", false, "continue from the newest checkpoint")
	fs.BoolVar(&quiet, "quiet", false, "no progress line on stderr")
	fs.Int64Var(&seed, "seed", 42, "seed for data order and adapter init")
	fs.IntVar(&threads, "threads", 0, "compute threads (0 = all cores)")
	fs.Usage = func() {
		fmt.Fprint(stderr, trainUsage)
		for _, s := range train.HyperParameterSpecs() {
			rng := fmt.Sprintf("%g–%g", s.Min, s.Max)
			if s.Kind == "int" {
				rng = fmt.Sprintf("%d–%d", int64(s.Min), int64(s.Max))
			}
			if s.Kind == "enum" {
				rng = strings.Join(s.Enum, "|")
			}
			fmt.Fprintf(stderr, "  %-24s %-22s default %-8s %s\n", s.Name, rng, s.Default, s.Doc)
		}
		fmt.Fprintln(stderr, "\nFlags:")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("%w: unexpected argument %q", ErrUsage, fs.Arg(0))
	}
	var spec trainspec.Spec
	jsonEvents := specFile != ""
	if jsonEvents {
		b, err := os.ReadFile(specFile)
		if err != nil {
			return fmt.Errorf("read spec: %w", err)
		}
		dec := json.NewDecoder(strings.NewReader(string(b)))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&spec); err != nil {
			return fmt.Errorf("spec %s: %w", specFile, err)
		}
	} else {
		spec = trainspec.Spec{CustomizationType: typ, BaseModelDir: modelDir, TrainFiles: trainFiles, ValidationFiles: valFiles,
			OutputDir: out, CheckpointDir: ckptDir, Seed: seed, Threads: threads, Method: method, WriteMerged: merged,
			HyperParameters: map[string]string{}}
		for _, kv := range hps {
			k, v, ok := strings.Cut(kv, "=")
			if !ok || k == "" {
				return fmt.Errorf("%w: --hp %q: want NAME=VALUE", ErrUsage, kv)
			}
			spec.HyperParameters[k] = v
		}
		if modelDir == "" || len(trainFiles) == 0 || out == "" {
			return fmt.Errorf("%w: --model, --train and --out are required (or --spec)", ErrUsage)
		}
	}
	ev := &eventSink{stdout: stdout, stderr: stderr, json: jsonEvents, progress: !quiet}
	res, err := trainSpec(ctx, spec, resume, ev)
	ev.endProgress()
	switch {
	case errors.Is(err, train.ErrStopped):
		fmt.Fprintln(stderr, "stopped; run again with --resume to continue")
		return nil
	case err != nil:
		msg := err.Error()
		var fe *train.FailureError
		if errors.As(err, &fe) {
			msg = fe.Message
		}
		ev.send(trainspec.Event{Type: trainspec.EventFailed, Message: msg})
		return err
	}
	fmt.Fprintf(stderr, "done: %d steps, %d epochs, training loss %.4f", res.Steps, res.Epochs, res.TrainingLoss)
	for name, l := range res.ValidationLoss {
		fmt.Fprintf(stderr, ", validation loss %.4f (%s)", l, name)
	}
	fmt.Fprintf(stderr, "\n  %d records truncated, %d dropped\n", res.TruncatedRecords, res.DroppedRecords)
	if res.AdapterDir != "" {
		fmt.Fprintf(stderr, "  adapter: %s\n", filepath.Join(spec.OutputDir, res.AdapterDir))
	}
	if res.MergedDir != "" {
		fmt.Fprintf(stderr, "  merged model: %s\n", filepath.Join(spec.OutputDir, res.MergedDir))
	}
	return nil
}

// trainSpec runs one spec and writes result.json.
func trainSpec(ctx context.Context, spec trainspec.Spec, resume bool, ev *eventSink) (*trainspec.Result, error) {
	var pre bool
	switch spec.CustomizationType {
	case trainspec.FineTuning, "":
	case trainspec.ContinuedPreTraining:
		pre = true
	default:
		return nil, fmt.Errorf("customizationType %q is not supported here (want %s or %s)", spec.CustomizationType, trainspec.FineTuning, trainspec.ContinuedPreTraining)
	}
	full := false
	switch spec.Method {
	case "", "lora":
	case "full":
		full = true
	default:
		return nil, fmt.Errorf("method %q: want lora or full", spec.Method)
	}
	if spec.OutputDir == "" {
		return nil, errors.New("spec: outputDir is required")
	}
	hpm := map[string]string{}
	for k, v := range spec.HyperParameters {
		hpm[k] = v
	}
	if spec.MaxSeqLen > 0 {
		if _, ok := hpm[train.HPMaxSeqLen]; !ok {
			hpm[train.HPMaxSeqLen] = fmt.Sprint(spec.MaxSeqLen)
		}
	}
	hp, err := train.ParseHyperParameters(hpm)
	if err != nil {
		return nil, err
	}
	if spec.Threads > 0 {
		compute.SetThreads(spec.Threads)
	}
	if spec.BaseModelDir, err = resolveModelDir(spec.BaseModelDir, ev.stderr); err != nil {
		return nil, err
	}
	m, tok, gen, err := loadModelDir(spec.BaseModelDir, !full)
	if err != nil {
		return nil, err
	}
	eos := gen.EOSTokenIDs
	if len(eos) == 0 {
		eos = m.Config().EOSTokenIDs()
	}
	chat, err := chatRendererFor(tok)
	if err != nil {
		return nil, fmt.Errorf("base model %s: %w", spec.BaseModelDir, err)
	}
	tokens, err := train.TokensFor(tok, chat, eos)
	if err != nil {
		return nil, err
	}
	var lcfg *lora.Config
	if spec.LoRA != nil {
		lcfg = &lora.Config{Rank: spec.LoRA.Rank, Alpha: spec.LoRA.Alpha, Dropout: spec.LoRA.Dropout, RSLoRA: spec.LoRA.RSLoRA, TargetModules: spec.LoRA.TargetModules}
	}
	o := train.Options{
		Model: m, Tokens: tokens, PreTraining: pre, TrainFiles: spec.TrainFiles, ValidationFiles: spec.ValidationFiles,
		HP: hp, Full: full, LoRA: lcfg, Seed: uint64(spec.Seed), OutputDir: spec.OutputDir, CheckpointDir: spec.CheckpointDir,
		Resume: resume, BaseModelDir: spec.BaseModelDir, WriteMerged: spec.WriteMerged,
	}
	var completed *train.Event
	o.OnEvent = func(e train.Event) {
		if e.Type == train.EventCompleted {
			completed = &e
			return
		}
		ev.train(e)
	}
	r, err := train.Run(ctx, o)
	if err != nil {
		return nil, err
	}
	res := &trainspec.Result{
		TrainingLoss: r.TrainingLoss, ValidationLoss: r.ValidationLoss, Steps: r.Steps, Epochs: r.Epochs,
		TrainTokens: r.TrainTokens, TruncatedRecords: r.TruncatedRecords, DroppedRecords: r.DroppedRecords,
		BestCheckpoint: r.BestCheckpoint, AdapterDir: r.AdapterDir, MergedDir: r.MergedDir,
		EarlyStopped: r.EarlyStopped, HyperParameters: hp.Effective,
	}
	b, err := json.MarshalIndent(res, "", "  ")
	if err != nil {
		return nil, err
	}
	if err := safetensors.WriteAtomic(filepath.Join(spec.OutputDir, trainspec.ResultFile), append(b, '\n')); err != nil {
		return nil, fmt.Errorf("write result: %w", err)
	}
	if completed != nil {
		ev.train(*completed)
	}
	return res, nil
}

// loadModelDir loads a Hugging Face model directory with its tokenizer and
// generation config, with errors that say what is missing.
func loadModelDir(dir string, keepBF16 bool) (model.Model, *tokenizer.Tokenizer, generate.GenerationConfig, error) {
	var gen generate.GenerationConfig
	if dir == "" {
		return nil, nil, gen, errors.New("no base model directory given")
	}
	if st, err := os.Stat(dir); err != nil || !st.IsDir() {
		return nil, nil, gen, fmt.Errorf("base model %s: not a directory", dir)
	}
	for _, f := range []string{"config.json", "tokenizer.json"} {
		if _, err := os.Stat(filepath.Join(dir, f)); err != nil {
			return nil, nil, gen, fmt.Errorf("base model %s is not a Hugging Face model directory: %s is missing", dir, f)
		}
	}
	m, err := model.Load(dir, model.Options{KeepBF16: keepBF16})
	if err != nil {
		return nil, nil, gen, fmt.Errorf("base model %s: %w", dir, err)
	}
	tok, err := tokenizer.LoadDir(dir)
	if err != nil {
		return nil, nil, gen, fmt.Errorf("base model %s: %w", dir, err)
	}
	gen, err = generate.LoadGenerationConfig(dir)
	if err != nil {
		return nil, nil, gen, fmt.Errorf("base model %s: %w", dir, err)
	}
	return m, tok, gen, nil
}

// eventSink prints events: JSON lines on stdout for the job runner, and a
// progress line on stderr for people.
type eventSink struct {
	mu       sync.Mutex
	stdout   io.Writer
	stderr   io.Writer
	json     bool
	progress bool
	start    time.Time
	first    int // step at which timing started (a resume starts late)
	line     bool
}

func (s *eventSink) send(e trainspec.Event) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if e.Time.IsZero() {
		e.Time = time.Now().UTC()
	}
	if s.json {
		b, _ := json.Marshal(e)
		s.stdout.Write(append(b, '\n'))
	}
	if !s.progress {
		return
	}
	switch e.Type {
	case trainspec.EventStep:
		if s.start.IsZero() {
			s.start, s.first = time.Now(), e.Step-1
		}
		eta := "?"
		if done := e.Step - s.first; done > 0 {
			left := time.Duration(float64(time.Since(s.start)) / float64(done) * float64(e.TotalSteps-e.Step))
			eta = left.Round(time.Second).String()
		}
		fmt.Fprintf(s.stderr, "\rstep %d/%d  epoch %d  loss %.4f  lr %.2e  %.0f tok/s  ETA %s   ", e.Step, e.TotalSteps, e.Epoch, e.Loss, e.LearningRate, e.TokensPerSec, eta)
		s.line = true
	case trainspec.EventValidation:
		s.newline()
		name := e.Validator
		if name == "" {
			name = "all"
		}
		fmt.Fprintf(s.stderr, "validation (%s) at step %d: loss %.4f, perplexity %.3f\n", name, e.Step, e.Loss, e.Perplexity)
	case trainspec.EventWarning, trainspec.EventFailed, trainspec.EventStopped:
		s.newline()
		fmt.Fprintf(s.stderr, "%s: %s\n", e.Type, e.Message)
	case trainspec.EventStatus:
		s.newline()
		fmt.Fprintf(s.stderr, "%s...\n", e.Stage)
	}
}

func (s *eventSink) newline() {
	if s.line {
		fmt.Fprintln(s.stderr)
		s.line = false
	}
}

func (s *eventSink) endProgress() {
	s.mu.Lock()
	s.newline()
	s.mu.Unlock()
}

func (s *eventSink) train(e train.Event) {
	s.send(trainspec.Event{Type: e.Type, Stage: e.Stage, Step: e.Step, TotalSteps: e.TotalSteps, Epoch: e.Epoch,
		Loss: e.Loss, Perplexity: e.Perplexity, LearningRate: e.LearningRate, GradNorm: e.GradNorm,
		TokensPerSec: e.TokensPerSec, Validator: e.Validator, Path: e.Path, Message: e.Message})
}

// chatRendererFor returns the chat renderer of the tokenizer's chat
// template, or nil when the model has none.
func chatRendererFor(tok *tokenizer.Tokenizer) (train.ChatRenderer, error) {
	if tok.Config().ChatTemplate == "" {
		return nil, nil
	}
	t, err := template.FromConfig(tok.Config(), template.Options{})
	if err != nil {
		return nil, fmt.Errorf("chat template: %w", err)
	}
	return train.TemplateRenderer(t, tok.Config()), nil
}

// chatPromptFor returns a function that renders a conversation with the
// tokenizer's chat template followed by the assistant prompt, or nil when the
// model has none.
func chatPromptFor(tok *tokenizer.Tokenizer) func(system string, msgs []train.Message) (string, error) {
	t, err := template.FromConfig(tok.Config(), template.Options{})
	if err != nil {
		return nil
	}
	return func(system string, msgs []train.Message) (string, error) {
		return train.ChatPrompt(t, tok.Config(), system, msgs)
	}
}

func setThreads(n int) { compute.SetThreads(n) }
