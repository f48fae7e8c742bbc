package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/strata-ml/strata/internal/config"
	"github.com/strata-ml/strata/internal/dataset"
)

func init() {
	Register(Command{
		Name:    "data",
		Summary: "check datasets before training (data validate)",
		Run:     runData,
	})
}

const dataUsage = `Usage:
  strata data validate FILE [--validation FILE]... --model MODEL_DIR|starter
                       [--type FINE_TUNING|CONTINUED_PRE_TRAINING|DISTILLATION] [--json] [flags]

Checks a training file (and validation files) with Amazon Bedrock's rules for
the base model's family, names every bad record by file, line, code and
reason, and reports token statistics from the model's own tokenizer and chat
template, truncation, loss share, duplicates, train/validation overlap, a
rendered example with its loss mask, the optimizer steps the hyperparameters
imply, and time and memory estimates for this machine.

Exit status: 0 valid, 1 invalid data, 2 usage error, 3 could not validate
(unreadable file, model that does not load).

Flags:
`

// repeated collects a repeatable string flag.
type repeated []string

func (r *repeated) String() string     { return strings.Join(*r, ",") }
func (r *repeated) Set(v string) error { *r = append(*r, v); return nil }

// exitCouldNotValidate is the exit status when validation could not run.
const exitCouldNotValidate = 3

// starterModelDir returns the offline starter model's directory, built
// (once) under the data directory where "strata server" keeps it.
func starterModelDir(dataDir string) (string, error) {
	build := starterBuilder()
	if build == nil {
		return "", errors.New("the starter model is not part of this build; pass a model directory")
	}
	if dataDir == "" {
		cfg, err := config.Load(os.Getenv("STRATA_CONFIG"), os.Getenv)
		if err != nil {
			return "", err
		}
		dataDir = cfg.DataDir
	}
	return build(filepath.Join(dataDir, "foundation-models", "starter"))
}

func runData(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		fmt.Fprint(stderr, dataUsage)
		dataFlags(stderr, &dataOptions{}).PrintDefaults()
		if len(args) == 0 {
			return fmt.Errorf("%w: missing subcommand (validate)", ErrUsage)
		}
		return flag.ErrHelp
	}
	if args[0] != "validate" {
		return fmt.Errorf("%w: unknown subcommand %q (want validate)", ErrUsage, args[0])
	}
	return runDataValidate(ctx, args[1:], stdout, stderr)
}

type dataOptions struct {
	model, typ, family, progress string
	baseModelID, dataDir         string
	validation, hps              repeated
	jsonOut, noProbe             bool
	maxLen, workers, loraRank    int
	method                       string
}

func dataFlags(stderr io.Writer, o *dataOptions) *flag.FlagSet {
	fs := newFlagSet("data validate", stderr)
	fs.Var(&o.validation, "validation", "validation file (JSONL); repeatable, at most 10")
	fs.StringVar(&o.model, "model", "", `base model: a Hugging Face directory (config.json, tokenizer.json), or "starter"`)
	fs.StringVar(&o.dataDir, "data-dir", "", "data directory holding the starter model (env STRATA_DATA_DIR, default ./data)")
	fs.StringVar(&o.typ, "type", string(dataset.FineTuning), "customization type: FINE_TUNING, CONTINUED_PRE_TRAINING or DISTILLATION")
	fs.StringVar(&o.baseModelID, "base-model-id", "", "Bedrock base-model identifier whose rules apply, as a job's baseModelIdentifier (meta.llama3-2-1b-instruct-v1:0)")
	fs.StringVar(&o.family, "family", "", `dataset rules to apply, overriding --base-model-id; "auto" reads the model's config.json name: `+familyList())
	fs.Var(&o.hps, "hp", "hyperparameter NAME=VALUE with Bedrock's names (epochCount=2, batchSize=8); repeatable")
	fs.IntVar(&o.maxLen, "max-length", 0, "training sequence length; longer records are reported as truncated (default: --hp maxSeqLen, else min(model context, 2048) as strata train)")
	fs.StringVar(&o.method, "method", "lora", "training method for the estimates: lora or full")
	fs.IntVar(&o.loraRank, "lora-rank", 8, "LoRA rank for the estimates")
	fs.BoolVar(&o.jsonOut, "json", false, "print the report as JSON")
	fs.BoolVar(&o.noProbe, "no-probe", false, "skip the throughput probe (no time estimate)")
	fs.StringVar(&o.progress, "progress", "auto", "progress bar on stderr: auto (when stderr is a terminal), always, never")
	fs.IntVar(&o.workers, "workers", 0, "parallel parse/tokenize workers (default: all cores)")
	fs.Usage = func() {
		fmt.Fprint(stderr, dataUsage)
		fs.PrintDefaults()
	}
	return fs
}

func familyList() string {
	var s []string
	for _, f := range dataset.Families() {
		s = append(s, string(f))
	}
	return strings.Join(s, ", ")
}

// parseInterleaved parses flags that may come before or after positional
// arguments.
func parseInterleaved(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, err
		}
		rest := fs.Args()
		if len(rest) == 0 {
			return pos, nil
		}
		pos = append(pos, rest[0])
		args = rest[1:]
	}
}

func runDataValidate(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	var o dataOptions
	fs := dataFlags(stderr, &o)
	pos, err := parseInterleaved(fs, args)
	if err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return fmt.Errorf("%w: %v", ErrUsage, err)
	}
	if len(pos) != 1 {
		return fmt.Errorf("%w: want exactly one training FILE, got %d", ErrUsage, len(pos))
	}
	if o.model == "" {
		return fmt.Errorf("%w: --model is required (a Hugging Face model directory or \"starter\")", ErrUsage)
	}
	typ, err := dataset.ParseCustomizationType(o.typ)
	if err != nil {
		return fmt.Errorf("%w: %v", ErrUsage, err)
	}
	if o.method != "lora" && o.method != "full" {
		return fmt.Errorf("%w: --method %q: want lora or full", ErrUsage, o.method)
	}
	hp := map[string]string{}
	for _, kv := range o.hps {
		k, v, ok := strings.Cut(kv, "=")
		if !ok || k == "" {
			return fmt.Errorf("%w: --hp %q: want NAME=VALUE", ErrUsage, kv)
		}
		hp[k] = v
	}
	train, err := dataset.FileSource(pos[0])
	if err != nil {
		return fmt.Errorf("%w: training file: %v", ErrUsage, err)
	}
	var vals []dataset.Source
	for _, v := range o.validation {
		s, err := dataset.FileSource(v)
		if err != nil {
			return fmt.Errorf("%w: validation file: %v", ErrUsage, err)
		}
		vals = append(vals, s)
	}
	dir := o.model
	if dir == "starter" {
		if dir, err = starterModelDir(o.dataDir); err != nil {
			return &ExitError{Code: exitCouldNotValidate, Err: err}
		}
	}
	m, err := dataset.LoadModel(dir, chatTemplateLoader())
	if err != nil {
		return &ExitError{Code: exitCouldNotValidate, Err: err}
	}
	// As in a job: Bedrock's rules for a Bedrock base-model identifier,
	// the open rules for any other model.
	fam := dataset.FamilyForModelID(o.baseModelID)
	switch o.family {
	case "":
	case "auto":
		fam = m.Family
	default:
		if fam, err = dataset.ParseFamily(o.family); err != nil {
			return fmt.Errorf("%w: %v", ErrUsage, err)
		}
	}
	cfg := dataset.Config{
		Family: fam, Type: typ, Encoder: m.Encoder, HyperParameters: hp,
		ContextLength: m.Info.MaxPositions, MaxSeqLen: o.maxLen, Model: m.Info,
		Method: o.method, LoRARank: o.loraRank, Workers: o.workers,
	}
	if !o.noProbe {
		cfg.Probe = &dataset.ModelProbe{Dir: dir, Method: o.method, LoRARank: o.loraRank}
	}
	if showProgress(o.progress, stderr) {
		bar := &progressBar{w: stderr, start: time.Now()}
		cfg.Progress = bar.update
		defer bar.clear()
	}
	rep, err := dataset.Validate(ctx, cfg, train, vals...)
	if err != nil {
		return &ExitError{Code: exitCouldNotValidate, Err: err}
	}
	defer rep.Close()
	if o.jsonOut {
		err = rep.WriteJSON(stdout)
	} else {
		err = rep.WriteText(stdout)
	}
	if err != nil {
		return &ExitError{Code: exitCouldNotValidate, Err: err}
	}
	if !rep.Valid {
		return &ExitError{Code: 1}
	}
	return nil
}

// chatTemplateLoader compiles chat templates with engine/template.
func chatTemplateLoader() dataset.TemplateLoader { return dataset.EngineTemplates }

func showProgress(mode string, stderr io.Writer) bool {
	switch mode {
	case "always":
		return true
	case "never":
		return false
	}
	f, ok := stderr.(*os.File)
	if !ok {
		return false
	}
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}

// progressBar draws one line on stderr, at most ten times a second.
type progressBar struct {
	w     io.Writer
	start time.Time
	last  time.Time
	drawn bool
}

func (b *progressBar) update(p dataset.Progress) {
	now := time.Now()
	if now.Sub(b.last) < 100*time.Millisecond && (p.Size <= 0 || p.Bytes < p.Size) {
		return
	}
	b.last = now
	rate := float64(p.Bytes) / 1e6 / max(now.Sub(b.start).Seconds(), 1e-3)
	if p.Size > 0 {
		frac := min(float64(p.Bytes)/float64(p.Size), 1)
		const width = 30
		n := int(frac * width)
		fmt.Fprintf(b.w, "\r%s [%s%s] %3.0f%% %d records %.0f MB/s ", p.File, strings.Repeat("#", n), strings.Repeat(".", width-n), frac*100, p.Records, rate)
	} else {
		fmt.Fprintf(b.w, "\r%s %.0f MB %d records %.0f MB/s ", p.File, float64(p.Bytes)/1e6, p.Records, rate)
	}
	b.drawn = true
}

func (b *progressBar) clear() {
	if b.drawn {
		fmt.Fprint(b.w, "\r\033[K")
	}
}
