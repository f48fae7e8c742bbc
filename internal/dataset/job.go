package dataset

import (
	"context"
	"fmt"
)

// Job is what a customization job gives the validator: a base model
// directory, the Bedrock base-model identifier (for the family's rules),
// the customization type, hyperparameters and the staged local files.
type Job struct {
	// ModelDir is the base model's Hugging Face directory.
	ModelDir string
	// BaseModelID is the job's baseModelIdentifier; it selects the family
	// (FamilyForModelID: a Bedrock identifier gets Bedrock's rules, any
	// other model FamilyOpen).
	BaseModelID string
	// Family, when set, overrides BaseModelID.
	Family Family
	Type   CustomizationType
	// HyperParameters are the job's effective hyperparameters, already
	// checked at job creation: they feed the plan, not warnings.
	HyperParameters map[string]string
	// MaxSeqLen is the training sequence length (0: the model's context).
	MaxSeqLen int
	// Method ("lora" or "full") and LoRARank feed the estimates.
	Method   string
	LoRARank int
	// Probe runs the throughput probe for the time estimate (loads the
	// model's weights; seconds to minutes for large models).
	Probe bool
	// TrainFile and ValidationFiles are local paths; messages name files by
	// their base name, as Bedrock names the S3 object.
	TrainFile       string
	ValidationFiles []string
	// Templates compiles the model's chat template (nil: conversation
	// records fail with template_error).
	Templates TemplateLoader
	// SpillDir holds spilled issues (default os.TempDir).
	SpillDir string
	Progress func(Progress)
}

// ValidateJob loads the job's model and validates its files. The report
// says whether the data is valid and, when not, the job's failureMessage
// (Report.FailureMessage); Report.WriteJSON is the full report. The error
// is for what is not the data's fault (unreadable files, a model that does
// not load, cancellation).
func ValidateJob(ctx context.Context, j Job) (*Report, error) {
	m, err := LoadModel(j.ModelDir, j.Templates)
	if err != nil {
		return nil, err
	}
	// Bedrock's rules apply when the job names a Bedrock base model;
	// every other model gets FamilyOpen, as the catalog's formats do.
	fam := j.Family
	if fam == "" {
		fam = FamilyForModelID(j.BaseModelID)
	}
	train, err := FileSource(j.TrainFile)
	if err != nil {
		return nil, fmt.Errorf("dataset: training file: %w", err)
	}
	var vals []Source
	for _, p := range j.ValidationFiles {
		s, err := FileSource(p)
		if err != nil {
			return nil, fmt.Errorf("dataset: validation file: %w", err)
		}
		vals = append(vals, s)
	}
	cfg := Config{
		Family: fam, Type: j.Type, Encoder: m.Encoder, HyperParameters: j.HyperParameters,
		ContextLength: m.Info.MaxPositions, MaxSeqLen: j.MaxSeqLen, Model: m.Info,
		Method: j.Method, LoRARank: j.LoRARank, SpillDir: j.SpillDir, Progress: j.Progress,
		TrustHyperParameters: true,
	}
	if j.Probe {
		cfg.Probe = &ModelProbe{Dir: j.ModelDir, Method: j.Method, LoRARank: j.LoRARank}
	}
	return Validate(ctx, cfg, train, vals...)
}
