// Package trainspec is the contract between the job runner (a server worker)
// and the "strata train" child process that runs one customization job: the
// job spec the runner writes, the JSON-lines events the child prints, and the
// layout of what the child leaves in its output directory.
//
// The runner starts
//
//	strata train --spec SPEC.json [--resume]
//
// stages every input file locally first, reads Event values, one JSON object
// per line, from the child's stdout, and after exit reads Result from
// OutputDir/result.json. A SIGTERM asks the child to stop: it writes a
// checkpoint, emits an Event of type "stopped" and exits 0. A SIGKILL loses
// nothing that a completed checkpoint holds; "--resume" continues from the
// newest checkpoint in CheckpointDir with the same losses as an uninterrupted
// run.
package trainspec

import "time"

// Customization types, as Bedrock names them.
const (
	FineTuning           = "FINE_TUNING"
	ContinuedPreTraining = "CONTINUED_PRE_TRAINING"
	Distillation         = "DISTILLATION"
)

// Spec describes one training run.
type Spec struct {
	JobID             string            `json:"jobId,omitempty"`
	CustomizationType string            `json:"customizationType"`         // FineTuning or ContinuedPreTraining
	BaseModelDir      string            `json:"baseModelDir"`              // HF model directory (config.json, *.safetensors, tokenizer.json)
	TrainFiles        []string          `json:"trainFiles"`                // local JSONL or .txt files
	ValidationFiles   []string          `json:"validationFiles,omitempty"` // local JSONL files, each its own validator
	HyperParameters   map[string]string `json:"hyperParameters,omitempty"` // Bedrock names, string values (epochCount, batchSize, learningRate, ...)
	OutputDir         string            `json:"outputDir"`                 // metrics CSVs, adapter/, merged/, result.json
	CheckpointDir     string            `json:"checkpointDir,omitempty"`   // default OutputDir/checkpoints
	Seed              int64             `json:"seed,omitempty"`            // data order, LoRA init, dropout
	Threads           int               `json:"threads,omitempty"`         // 0 = all cores
	Method            string            `json:"method,omitempty"`          // "lora" (default) or "full"
	LoRA              *LoRA             `json:"lora,omitempty"`            // nil = defaults
	MaxSeqLen         int               `json:"maxSeqLen,omitempty"`       // 0 = model default
	WriteMerged       bool              `json:"writeMerged,omitempty"`     // also write merged full weights
}

// LoRA configures the adapter when Method is "lora".
type LoRA struct {
	Rank          int      `json:"rank"`
	Alpha         float64  `json:"alpha"`
	Dropout       float64  `json:"dropout,omitempty"`
	RSLoRA        bool     `json:"rsLora,omitempty"`
	TargetModules []string `json:"targetModules,omitempty"` // subset of q_proj,k_proj,v_proj,o_proj,gate_proj,up_proj,down_proj
}

// Event types printed by the child, one JSON object per line.
const (
	EventStatus     = "status"     // Stage changed: "Validation", "DataProcessing", "Training"
	EventStep       = "step"       // one optimizer step done
	EventValidation = "validation" // a validation pass done
	EventCheckpoint = "checkpoint" // a checkpoint is durable on disk
	EventWarning    = "warning"    // e.g. records truncated or dropped, flat loss
	EventStopped    = "stopped"    // stopped on SIGTERM after a checkpoint
	EventCompleted  = "completed"  // finished; result.json written
	EventFailed     = "failed"     // failed; Message is the user-facing failure message
)

// Event is one line of the child's stdout.
type Event struct {
	Type         string    `json:"type"`
	Time         time.Time `json:"time"`
	Stage        string    `json:"stage,omitempty"`
	Step         int       `json:"step,omitempty"`
	TotalSteps   int       `json:"totalSteps,omitempty"`
	Epoch        int       `json:"epoch,omitempty"`
	Loss         float64   `json:"loss,omitempty"`
	Perplexity   float64   `json:"perplexity,omitempty"`
	LearningRate float64   `json:"learningRate,omitempty"`
	GradNorm     float64   `json:"gradNorm,omitempty"`
	TokensPerSec float64   `json:"tokensPerSec,omitempty"`
	Validator    string    `json:"validator,omitempty"` // validation file name for EventValidation
	Path         string    `json:"path,omitempty"`      // checkpoint path for EventCheckpoint
	Message      string    `json:"message,omitempty"`
}

// Result is written to OutputDir/result.json when a run ends Completed.
type Result struct {
	TrainingLoss     float64            `json:"trainingLoss"`
	ValidationLoss   map[string]float64 `json:"validationLoss,omitempty"` // by validation file
	Steps            int                `json:"steps"`
	Epochs           int                `json:"epochs"`
	TrainTokens      int64              `json:"trainTokens"`
	TruncatedRecords int                `json:"truncatedRecords"`
	DroppedRecords   int                `json:"droppedRecords"`
	BestCheckpoint   string             `json:"bestCheckpoint,omitempty"`
	AdapterDir       string             `json:"adapterDir,omitempty"` // PEFT layout, relative to OutputDir
	MergedDir        string             `json:"mergedDir,omitempty"`  // HF layout, relative to OutputDir
	// EarlyStopped is set when validation loss stopped improving
	// (earlyStoppingPatience) before epochCount epochs.
	EarlyStopped bool `json:"earlyStopped,omitempty"`
	// HyperParameters is the effective map, defaults filled in, to echo
	// back in GetModelCustomizationJob.
	HyperParameters map[string]string `json:"hyperParameters,omitempty"`
}

// Files in OutputDir, as Bedrock names the metrics files (SPEC.md §A.11).
const (
	StepMetricsFile       = "step_wise_training_metrics.csv"
	ValidationMetricsFile = "validation_metrics.csv"
	ResultFile            = "result.json"
	AdapterDirName        = "adapter"
	MergedDirName         = "merged"
)
