package train

import (
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
)

// Hyperparameter keys, as Bedrock names them in a customization job's
// hyperParameters map (SPEC.md §A.10), plus Strata's own (marked Strata).
// Every value is a string in the map.
const (
	HPEpochCount              = "epochCount"              // passes over the training data
	HPBatchSize               = "batchSize"               // examples per optimizer step (gradient accumulation fits it in memory)
	HPLearningRate            = "learningRate"            // peak learning rate
	HPLearningRateMultiplier  = "learningRateMultiplier"  // multiplies learningRate (Claude 3 Haiku's knob)
	HPLearningRateWarmupSteps = "learningRateWarmupSteps" // linear warmup steps
	HPEarlyStoppingThreshold  = "earlyStoppingThreshold"  // minimum validation-loss improvement that counts
	HPEarlyStoppingPatience   = "earlyStoppingPatience"   // validations without improvement before stopping
	HPEvalPercentage          = "evalPercentage"          // % of training data held out when no validation set is given

	HPLearningRateScheduler = "learningRateScheduler" // Strata: linear, cosine or constant decay after warmup
	HPWeightDecay           = "weightDecay"           // Strata: AdamW decoupled weight decay
	HPMaxGradNorm           = "maxGradNorm"           // Strata: global gradient-norm clip, 0 disables
	HPEvalSteps             = "evalSteps"             // Strata: also validate every N steps, 0 = only at epoch ends
	HPCheckpointSteps       = "checkpointSteps"       // Strata: also checkpoint every N steps, 0 = only at epoch ends
	HPCheckpointKeep        = "checkpointKeep"        // Strata: newest checkpoints kept (the best is kept too)
	HPMaxSeqLen             = "maxSeqLen"             // Strata: tokens per sequence, 0 = min(model context, 2048)
	HPTruncation            = "truncation"            // Strata: "truncate" or "drop" records over maxSeqLen
	HPMicroBatchTokens      = "microBatchTokens"      // Strata: tokens per forward/backward pass (memory bound)
	HPLoRARank              = "loraRank"              // Strata: LoRA rank r
	HPLoRAAlpha             = "loraAlpha"             // Strata: LoRA alpha
	HPLoRADropout           = "loraDropout"           // Strata: LoRA dropout
)

// HPSpec describes one hyperparameter: its range and its default.
type HPSpec struct {
	Name     string
	Kind     string  // "int", "float" or "enum"
	Min, Max float64 // inclusive range for int and float
	Default  string
	Doc      string
	Enum     []string // allowed values for enum
}

// HyperParameterSpecs lists every accepted hyperparameter in a stable order.
// The control plane validates a job's map with ParseHyperParameters at
// creation time, so a job that is accepted never fails on its
// hyperparameters later.
func HyperParameterSpecs() []HPSpec {
	return []HPSpec{
		numSpec(HPEpochCount, "int", 1, 100, "5", "passes over the training data"),
		numSpec(HPBatchSize, "int", 1, 1024, "1", "examples per optimizer step"),
		numSpec(HPLearningRate, "float", 1e-8, 1, "1e-4", "peak learning rate"),
		numSpec(HPLearningRateMultiplier, "float", 0.1, 2, "1", "multiplies learningRate"),
		numSpec(HPLearningRateWarmupSteps, "int", 0, 10000, "0", "linear warmup steps"),
		numSpec(HPEarlyStoppingThreshold, "float", 0, 0.1, "0.001", "minimum validation-loss improvement"),
		numSpec(HPEarlyStoppingPatience, "int", 1, 10, "2", "validations without improvement before stopping"),
		numSpec(HPEvalPercentage, "float", 0, 50, "0", "% of training records held out for validation when no validation file is given (0 = none)"),
		{Name: HPLearningRateScheduler, Kind: "enum", Enum: []string{"linear", "cosine", "constant"}, Default: "linear", Doc: "decay after warmup"},
		numSpec(HPWeightDecay, "float", 0, 1, "0", "AdamW decoupled weight decay"),
		numSpec(HPMaxGradNorm, "float", 0, 1e6, "1", "global gradient-norm clip (0 = off)"),
		numSpec(HPEvalSteps, "int", 0, 1e9, "0", "validate every N steps too (0 = epoch ends only)"),
		numSpec(HPCheckpointSteps, "int", 0, 1e9, "0", "checkpoint every N steps too (0 = epoch ends only)"),
		numSpec(HPCheckpointKeep, "int", 1, 1000, "2", "newest checkpoints kept besides the best"),
		numSpec(HPMaxSeqLen, "int", 0, 1<<20, "0", "tokens per sequence (0 = min(model context, 2048))"),
		{Name: HPTruncation, Kind: "enum", Enum: []string{"truncate", "drop"}, Default: "truncate", Doc: "what to do with a record longer than maxSeqLen"},
		numSpec(HPMicroBatchTokens, "int", 1, 1<<24, "4096", "tokens per forward/backward pass"),
		numSpec(HPLoRARank, "int", 1, 1024, "8", "LoRA rank"),
		numSpec(HPLoRAAlpha, "float", 1e-6, 1e6, "16", "LoRA alpha"),
		numSpec(HPLoRADropout, "float", 0, 0.9, "0", "LoRA dropout"),
	}
}

func numSpec(name, kind string, lo, hi float64, def, doc string) HPSpec {
	return HPSpec{Name: name, Kind: kind, Min: lo, Max: hi, Default: def, Doc: doc}
}

// HyperParameters is a parsed, range-checked hyperparameter map.
type HyperParameters struct {
	EpochCount              int
	BatchSize               int
	LearningRate            float64 // learningRate × learningRateMultiplier
	LearningRateWarmupSteps int
	EarlyStoppingThreshold  float64
	EarlyStoppingPatience   int
	EvalPercentage          float64
	Scheduler               string
	WeightDecay             float64
	MaxGradNorm             float64
	EvalSteps               int
	CheckpointSteps         int
	CheckpointKeep          int
	MaxSeqLen               int
	Truncation              string
	MicroBatchTokens        int
	LoRARank                int
	LoRAAlpha               float64
	LoRADropout             float64
	// Effective is the full map with defaults filled in, to echo back.
	Effective map[string]string
}

// HyperParameterError names the offending key.
type HyperParameterError struct {
	Key    string
	Value  string
	Reason string
}

// Error names the key, the value and the rule.
func (e *HyperParameterError) Error() string {
	if e.Value == "" && strings.HasPrefix(e.Reason, "unknown") {
		return fmt.Sprintf("hyperParameters: %s", e.Reason)
	}
	return fmt.Sprintf("hyperParameters: %s=%q: %s", e.Key, e.Value, e.Reason)
}

// ParseHyperParameters checks every key and value of m against
// HyperParameterSpecs and fills in defaults. Unknown keys and out-of-range
// values are errors of type *HyperParameterError.
func ParseHyperParameters(m map[string]string) (*HyperParameters, error) {
	specs := HyperParameterSpecs()
	byName := map[string]HPSpec{}
	var names []string
	for _, s := range specs {
		byName[s.Name] = s
		names = append(names, s.Name)
	}
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		if _, ok := byName[k]; !ok {
			return nil, &HyperParameterError{Key: k, Reason: fmt.Sprintf("unknown hyperparameter %q (known: %s)", k, strings.Join(names, ", "))}
		}
	}
	eff := map[string]string{}
	num := map[string]float64{}
	for _, s := range specs {
		v, ok := m[s.Name]
		if !ok {
			v = s.Default
		}
		v = strings.TrimSpace(v)
		eff[s.Name] = v
		switch s.Kind {
		case "enum":
			if !slices.Contains(s.Enum, v) {
				return nil, &HyperParameterError{s.Name, v, "must be one of " + strings.Join(s.Enum, ", ")}
			}
		case "int":
			n, err := strconv.ParseInt(v, 10, 64)
			if err != nil {
				// Accept integral floats such as "2.0" or "1e3".
				f, ferr := strconv.ParseFloat(v, 64)
				if ferr != nil || f != math.Trunc(f) {
					return nil, &HyperParameterError{s.Name, v, "must be an integer"}
				}
				n = int64(f)
			}
			if float64(n) < s.Min || float64(n) > s.Max {
				return nil, &HyperParameterError{s.Name, v, fmt.Sprintf("must be between %g and %g", s.Min, s.Max)}
			}
			num[s.Name] = float64(n)
		case "float":
			f, err := strconv.ParseFloat(v, 64)
			if err != nil || math.IsNaN(f) || math.IsInf(f, 0) {
				return nil, &HyperParameterError{s.Name, v, "must be a number"}
			}
			if f < s.Min || f > s.Max {
				return nil, &HyperParameterError{s.Name, v, fmt.Sprintf("must be between %g and %g", s.Min, s.Max)}
			}
			num[s.Name] = f
		}
	}
	return &HyperParameters{
		EpochCount:              int(num[HPEpochCount]),
		BatchSize:               int(num[HPBatchSize]),
		LearningRate:            num[HPLearningRate] * num[HPLearningRateMultiplier],
		LearningRateWarmupSteps: int(num[HPLearningRateWarmupSteps]),
		EarlyStoppingThreshold:  num[HPEarlyStoppingThreshold],
		EarlyStoppingPatience:   int(num[HPEarlyStoppingPatience]),
		EvalPercentage:          num[HPEvalPercentage],
		Scheduler:               eff[HPLearningRateScheduler],
		WeightDecay:             num[HPWeightDecay],
		MaxGradNorm:             num[HPMaxGradNorm],
		EvalSteps:               int(num[HPEvalSteps]),
		CheckpointSteps:         int(num[HPCheckpointSteps]),
		CheckpointKeep:          int(num[HPCheckpointKeep]),
		MaxSeqLen:               int(num[HPMaxSeqLen]),
		Truncation:              eff[HPTruncation],
		MicroBatchTokens:        int(num[HPMicroBatchTokens]),
		LoRARank:                int(num[HPLoRARank]),
		LoRAAlpha:               num[HPLoRAAlpha],
		LoRADropout:             num[HPLoRADropout],
		Effective:               eff,
	}, nil
}
