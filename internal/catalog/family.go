package catalog

import (
	"fmt"
	"maps"
	"math"
	"slices"
	"strconv"
	"strings"

	"github.com/strata-ml/strata/engine/train"
	"github.com/strata-ml/strata/internal/apierr"
)

// Dataset formats a family accepts (SPEC §A.8).
const (
	FormatPromptCompletion = "prompt-completion"         // {"prompt","completion"}
	FormatConversation     = "bedrock-conversation-2024" // Converse message shape
	FormatText             = "text"                      // {"input"} (continued pre-training)
)

// HyperParam is one tunable hyperparameter (SPEC §A.10); values travel as strings.
type HyperParam struct {
	Name     string
	Min, Max float64
	Default  string
	Integer  bool
}

// Family is a model family: it decides accepted customization types and
// dataset formats, hyperparameter ranges and defaults, and (for the runtime)
// the InvokeModel body format.
type Family struct {
	Name string
	// Formats maps a customization type to the dataset formats it accepts.
	Formats     map[string][]string
	HyperParams []HyperParam
	// InvokeBody names the native InvokeModel body format (SPEC §A.12).
	InvokeBody string
}

// Customizations returns the supported customization types, sorted.
func (f *Family) Customizations() []string {
	return slices.Sorted(maps.Keys(f.Formats))
}

// llamaHP are the Meta Llama ranges from SPEC §A.10, widened for batchSize
// (the CPU engine trains with micro-batches) and with warmup added.
var llamaHP = []HyperParam{
	{Name: "epochCount", Min: 1, Max: 10, Default: "5", Integer: true},
	{Name: "batchSize", Min: 1, Max: 64, Default: "1", Integer: true},
	{Name: "learningRate", Min: 5e-6, Max: 0.1, Default: "0.0001"},
	{Name: "learningRateWarmupSteps", Min: 0, Max: 250, Default: "0", Integer: true},
}

var families = map[string]*Family{
	"llama": {
		Name: "llama",
		Formats: map[string][]string{
			"FINE_TUNING":            {FormatPromptCompletion, FormatConversation},
			"CONTINUED_PRE_TRAINING": {FormatText},
		},
		HyperParams: llamaHP,
		InvokeBody:  "meta",
	},
	"mistral": {
		Name: "mistral",
		Formats: map[string][]string{
			"FINE_TUNING":            {FormatPromptCompletion, FormatConversation},
			"CONTINUED_PRE_TRAINING": {FormatText},
		},
		HyperParams: llamaHP,
		InvokeBody:  "mistral",
	},
	"qwen": {
		Name: "qwen",
		Formats: map[string][]string{
			"FINE_TUNING":            {FormatPromptCompletion, FormatConversation},
			"CONTINUED_PRE_TRAINING": {FormatText},
		},
		HyperParams: llamaHP,
		InvokeBody:  "openai",
	},
}

// LookupFamily returns the named family.
func LookupFamily(name string) (*Family, bool) {
	f, ok := families[name]
	return f, ok
}

// FamilyNames returns the known family names, sorted.
func FamilyNames() []string { return slices.Sorted(maps.Keys(families)) }

// ResolveHyperParameters validates in against the family's ranges and
// returns the effective map with defaults filled in. Unknown keys and
// out-of-range or unparsable values are ValidationExceptions.
func (f *Family) ResolveHyperParameters(modelID string, in map[string]string) (map[string]string, error) {
	known := map[string]HyperParam{}
	names := make([]string, 0, len(f.HyperParams))
	for _, hp := range f.HyperParams {
		known[hp.Name] = hp
		names = append(names, hp.Name)
	}
	var bad []string
	extra := map[string]bool{}
	for _, sp := range train.HyperParameterSpecs() {
		if _, ok := known[sp.Name]; !ok {
			extra[sp.Name] = true
		}
	}
	for _, k := range slices.Sorted(maps.Keys(in)) {
		hp, ok := known[k]
		if !ok {
			if !extra[k] {
				bad = append(bad, fmt.Sprintf("Hyperparameter %s is not supported for model %s; supported hyperparameters: %s (and Strata's: %s)",
					k, modelID, strings.Join(names, ", "), strings.Join(slices.Sorted(maps.Keys(extra)), ", ")))
			}
			continue
		}
		v, err := strconv.ParseFloat(strings.TrimSpace(in[k]), 64)
		if err != nil || math.IsNaN(v) || math.IsInf(v, 0) {
			bad = append(bad, fmt.Sprintf("Hyperparameter %s value '%s' is not a number", k, in[k]))
			continue
		}
		if hp.Integer && v != math.Trunc(v) {
			bad = append(bad, fmt.Sprintf("Hyperparameter %s value '%s' must be an integer", k, in[k]))
			continue
		}
		if v < hp.Min || v > hp.Max {
			bad = append(bad, fmt.Sprintf("Hyperparameter %s value '%s' is out of range: must be between %s and %s", k, in[k], fmtNum(hp.Min), fmtNum(hp.Max)))
		}
	}
	if len(bad) > 0 {
		return nil, apierr.Validationf("%s", strings.Join(bad, "; "))
	}
	// The engine's own check: an accepted job never fails on its hyperparameters later.
	if _, err := train.ParseHyperParameters(in); err != nil {
		return nil, apierr.Wrap(apierr.Validation, strings.TrimPrefix(err.Error(), "hyperParameters: "), err)
	}
	out := make(map[string]string, len(f.HyperParams))
	for _, hp := range f.HyperParams {
		out[hp.Name] = hp.Default
	}
	maps.Copy(out, in)
	return out, nil
}

func fmtNum(v float64) string { return strconv.FormatFloat(v, 'g', -1, 64) }
