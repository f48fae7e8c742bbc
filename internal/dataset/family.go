package dataset

import (
	"fmt"
	"math"
	"strconv"
	"strings"

	"github.com/strata-ml/strata/engine/train"
)

// CustomizationType is Bedrock's customizationType.
type CustomizationType string

// Customization types the validator knows.
const (
	FineTuning           CustomizationType = "FINE_TUNING"
	ContinuedPreTraining CustomizationType = "CONTINUED_PRE_TRAINING"
	Distillation         CustomizationType = "DISTILLATION"
)

// ParseCustomizationType returns the type named s (case-insensitive).
func ParseCustomizationType(s string) (CustomizationType, error) {
	switch t := CustomizationType(strings.ToUpper(strings.TrimSpace(s))); t {
	case FineTuning, ContinuedPreTraining, Distillation:
		return t, nil
	}
	return "", fmt.Errorf("dataset: unknown customization type %q (want FINE_TUNING, CONTINUED_PRE_TRAINING or DISTILLATION)", s)
}

// Format is the record schema of one dataset line.
type Format string

// Record formats (SPEC.md §A.8).
const (
	// FormatPromptCompletion is {"prompt": "...", "completion": "..."}.
	FormatPromptCompletion Format = "prompt-completion"
	// FormatConversation is bedrock-conversation-2024 (Converse message shape).
	FormatConversation Format = "bedrock-conversation-2024"
	// FormatMessages is the Claude 3 Haiku shape {"system": "...", "messages": [{"role", "content": "..."}]}.
	FormatMessages Format = "system-messages"
	// FormatInput is continued pre-training JSONL {"input": "..."}.
	FormatInput Format = "input"
	// FormatText is a plain .txt file for continued pre-training: one record per line.
	FormatText Format = "text"
	// FormatPrompt is the distillation preview shape {"prompt": "..."}.
	FormatPrompt Format = "prompt"
)

// Family names a base-model family whose dataset rules are the same.
type Family string

// Families. The Bedrock families carry Bedrock's published limits; FamilyOpen
// is every other Hugging Face model Strata trains (Qwen, Mistral, Llama
// checkpoints without a Bedrock identifier, the starter model).
const (
	FamilyLlama2            Family = "llama2"
	FamilyLlama31           Family = "llama3.1"
	FamilyLlama32           Family = "llama3.2"
	FamilyLlama32Vision90B  Family = "llama3.2-90b"
	FamilyLlama33           Family = "llama3.3"
	FamilyTitanTextExpress  Family = "titan-text-express"
	FamilyTitanTextLite     Family = "titan-text-lite"
	FamilyTitanTextPremier  Family = "titan-text-premier"
	FamilyCohereCommand     Family = "cohere-command"
	FamilyCohereCommandLite Family = "cohere-command-light"
	FamilyClaude3Haiku      Family = "claude3-haiku"
	FamilyNova              Family = "nova"
	FamilyOpen              Family = "open"
)

// BatchTokenLimit lowers the total token limit for batch sizes up to MaxBatch
// (Titan Text: 4,096 tokens at batch 1, 2,048 at batch 2–4).
type BatchTokenLimit struct {
	MaxBatch int
	MaxTotal int
}

// Limits are one family's dataset rules (SPEC.md §A.9). Zero means "no limit".
type Limits struct {
	// Name is the family's display name ("Meta Llama 3.1").
	Name string
	// Formats lists the accepted record formats per customization type.
	Formats map[CustomizationType][]Format
	// MaxInputTokens, MaxOutputTokens and MaxTotalTokens cap one record.
	// MaxTotalTokens 0 means the model's context length.
	MaxInputTokens, MaxOutputTokens, MaxTotalTokens int
	// ByBatch lowers MaxTotalTokens for larger batch sizes (Titan).
	ByBatch []BatchTokenLimit
	// MinTrainRecords and MaxTrainRecords bound the training file.
	MinTrainRecords, MaxTrainRecords int
	// MaxValidationRecords bounds all validation files together.
	MaxValidationRecords int
	// MinTotalRecords and MaxTotalRecords bound training plus validation.
	MinTotalRecords, MaxTotalRecords int
	// MaxTrainBytes and MaxValidationBytes bound each file's size.
	MaxTrainBytes, MaxValidationBytes int64
	// SingleTurnDistillation allows one user message (and an optional
	// golden assistant answer) per distillation record (Meta, Anthropic).
	SingleTurnDistillation bool
	// AnySchemaVersion accepts any schemaVersion string (Nova).
	AnySchemaVersion bool
	// ReservedPrefixesAreErrors makes prompts starting with "User:", "Bot:", ...
	// errors instead of warnings (Nova).
	ReservedPrefixesAreErrors bool
	// Hyper are the family's hyperparameters: key → range and default (§A.10).
	Hyper map[string]HyperRange
}

// CharsPerToken is AWS's sizing rule: a record may hold at most
// MaxTotalTokens × 6 characters.
const CharsPerToken = 6

// MaxValidators is the most validation files a job may name.
const MaxValidators = 10

// MaxDistillationPrompts is the most prompts a distillation job uses.
const MaxDistillationPrompts = 15000

const (
	kb = 1 << 10
	mb = 1 << 20
	gb = 1 << 30
)

var (
	ftPromptCompletion = map[CustomizationType][]Format{
		FineTuning:           {FormatPromptCompletion},
		ContinuedPreTraining: {FormatInput, FormatText},
		Distillation:         {FormatConversation, FormatPrompt},
	}
	ftConversation = map[CustomizationType][]Format{
		FineTuning:           {FormatConversation},
		ContinuedPreTraining: {FormatInput, FormatText},
		Distillation:         {FormatConversation, FormatPrompt},
	}
	ftMessages = map[CustomizationType][]Format{
		FineTuning:           {FormatMessages},
		ContinuedPreTraining: {FormatInput, FormatText},
		Distillation:         {FormatConversation, FormatPrompt},
	}
	ftOpen = map[CustomizationType][]Format{
		FineTuning:           {FormatPromptCompletion, FormatConversation, FormatMessages},
		ContinuedPreTraining: {FormatInput, FormatText},
		Distillation:         {FormatConversation, FormatPrompt},
	}
)

// hyperLlama is SPEC.md §A.10's Meta Llama row.
var hyperLlama = map[string]HyperRange{
	HyperEpochCount:   {Min: 1, Max: 10, Default: 5},
	HyperBatchSize:    {Min: 1, Max: 1, Default: 1},
	HyperLearningRate: {Min: 5e-6, Max: 0.1, Default: 1e-4},
}

var hyperTitan = map[string]HyperRange{
	HyperEpochCount:   {Min: 1, Max: 10, Default: 5},
	HyperBatchSize:    {Min: 1, Max: 64, Default: 1},
	HyperLearningRate: {Min: 0, Max: 1, Default: 1e-5},
	HyperWarmupSteps:  {Min: 0, Max: 250, Default: 5},
}

// limitsTable holds the per-family rules. It is read-only after init.
var limitsTable = map[Family]Limits{
	FamilyLlama2: {
		Name: "Meta Llama 2", Formats: ftPromptCompletion,
		MaxTotalTokens: 4096, SingleTurnDistillation: true, Hyper: hyperLlama,
	},
	FamilyLlama31: {
		Name: "Meta Llama 3.1", Formats: ftPromptCompletion,
		MaxInputTokens: 16000, MaxOutputTokens: 16000, MaxTotalTokens: 16000,
		MinTotalRecords: 100, MaxTotalRecords: 10000, SingleTurnDistillation: true, Hyper: hyperLlama,
	},
	FamilyLlama32: {
		Name: "Meta Llama 3.2", Formats: ftConversation,
		MaxTotalTokens: 16000, MinTotalRecords: 100, MaxTotalRecords: 10000,
		SingleTurnDistillation: true, Hyper: hyperLlama,
	},
	FamilyLlama32Vision90B: {
		Name: "Meta Llama 3.2 90B", Formats: ftConversation,
		MaxTotalTokens: 10000, MinTotalRecords: 100, MaxTotalRecords: 10000,
		SingleTurnDistillation: true, Hyper: hyperLlama,
	},
	FamilyLlama33: {
		Name: "Meta Llama 3.3", Formats: ftConversation,
		MaxTotalTokens: 16000, MinTotalRecords: 100, MaxTotalRecords: 10000,
		SingleTurnDistillation: true, Hyper: hyperLlama,
	},
	FamilyTitanTextExpress: {
		Name: "Amazon Titan Text G1 Express", Formats: ftPromptCompletion,
		MaxTotalTokens: 4096, ByBatch: []BatchTokenLimit{{MaxBatch: 1, MaxTotal: 4096}, {MaxBatch: 4, MaxTotal: 2048}},
		MaxTrainBytes: 1 * gb, MaxValidationBytes: 100 * mb, Hyper: hyperTitan,
	},
	FamilyTitanTextLite: {
		Name: "Amazon Titan Text G1 Lite", Formats: ftPromptCompletion,
		MaxTotalTokens: 4096, ByBatch: []BatchTokenLimit{{MaxBatch: 2, MaxTotal: 4096}, {MaxBatch: 6, MaxTotal: 2048}},
		MaxTrainBytes: 1 * gb, MaxValidationBytes: 100 * mb, Hyper: hyperTitan,
	},
	FamilyTitanTextPremier: {
		Name: "Amazon Titan Text Premier", Formats: ftPromptCompletion,
		MaxTotalTokens: 4096, MaxTrainBytes: 1 * gb, MaxValidationBytes: 100 * mb,
		Hyper: map[string]HyperRange{
			HyperEpochCount:   {Min: 1, Max: 5, Default: 2},
			HyperBatchSize:    {Min: 1, Max: 1, Default: 1},
			HyperLearningRate: {Min: 1e-7, Max: 1e-5, Default: 1e-6},
			HyperWarmupSteps:  {Min: 0, Max: 20, Default: 5},
		},
	},
	FamilyCohereCommand: {
		Name: "Cohere Command", Formats: ftPromptCompletion,
		MaxInputTokens: 4096, MaxOutputTokens: 2048, MaxTotalTokens: 4096 + 2048,
		MaxTrainRecords: 10000, MaxValidationRecords: 1000,
		Hyper: map[string]HyperRange{
			HyperEpochCount:   {Min: 1, Max: 100, Default: 1},
			HyperBatchSize:    {Min: 8, Max: 8, Default: 8},
			HyperLearningRate: {Min: 5e-6, Max: 0.1, Default: 1e-5},
		},
	},
	FamilyCohereCommandLite: {
		Name: "Cohere Command Light", Formats: ftPromptCompletion,
		MaxInputTokens: 4096, MaxOutputTokens: 2048, MaxTotalTokens: 4096 + 2048,
		MaxTrainRecords: 10000, MaxValidationRecords: 1000,
		Hyper: map[string]HyperRange{
			HyperEpochCount:   {Min: 1, Max: 100, Default: 1},
			HyperBatchSize:    {Min: 8, Max: 32, Default: 8},
			HyperLearningRate: {Min: 5e-6, Max: 0.1, Default: 1e-5},
		},
	},
	FamilyClaude3Haiku: {
		Name: "Anthropic Claude 3 Haiku", Formats: ftMessages,
		MaxTotalTokens: 32000, MinTrainRecords: 32, MaxTrainRecords: 10000,
		MaxValidationRecords: 1000, MaxTotalRecords: 10000,
		MaxTrainBytes: 10 * gb, MaxValidationBytes: 1 * gb, SingleTurnDistillation: true,
		Hyper: map[string]HyperRange{
			HyperEpochCount:          {Min: 1, Max: 10, Default: 2},
			HyperBatchSize:           {Min: 4, Max: 256, Default: 32},
			"learningRateMultiplier": {Min: 0.1, Max: 2, Default: 1},
		},
	},
	FamilyNova: {
		Name: "Amazon Nova", Formats: ftConversation,
		AnySchemaVersion: true, ReservedPrefixesAreErrors: true,
		Hyper: map[string]HyperRange{
			HyperEpochCount:   {Min: 1, Max: 5, Default: 2},
			HyperLearningRate: {Min: 1e-6, Max: 1e-4, Default: 1e-5},
			HyperWarmupSteps:  {Min: 0, Max: 100, Default: 10},
		},
	},
	FamilyOpen: {
		Name: "Hugging Face model", Formats: ftOpen,
		MaxTrainBytes: 10 * gb, MaxValidationBytes: 1 * gb,
		// Hyper is filled from engine/train's specs by LimitsFor.
	},
}

// trainerHyper returns the numeric hyperparameters strata train accepts,
// with their ranges and defaults (engine/train.HyperParameterSpecs).
func trainerHyper() map[string]HyperRange {
	out := map[string]HyperRange{}
	for _, sp := range train.HyperParameterSpecs() {
		if sp.Kind == "enum" {
			out[sp.Name] = HyperRange{Min: math.Inf(-1), Max: math.Inf(1)}
			continue
		}
		d, _ := strconv.ParseFloat(sp.Default, 64)
		out[sp.Name] = HyperRange{Min: sp.Min, Max: sp.Max, Default: d}
	}
	return out
}

// LimitsFor returns the rules of family f.
func LimitsFor(f Family) (Limits, bool) {
	l, ok := limitsTable[f]
	if ok && l.Hyper == nil {
		l.Hyper = trainerHyper()
	}
	return l, ok
}

// Families lists every family the table knows, in a stable order.
func Families() []Family {
	return []Family{
		FamilyLlama2, FamilyLlama31, FamilyLlama32, FamilyLlama32Vision90B, FamilyLlama33,
		FamilyTitanTextExpress, FamilyTitanTextLite, FamilyTitanTextPremier,
		FamilyCohereCommand, FamilyCohereCommandLite, FamilyClaude3Haiku, FamilyNova, FamilyOpen,
	}
}

// ParseFamily returns the family named s.
func ParseFamily(s string) (Family, error) {
	f := Family(strings.ToLower(strings.TrimSpace(s)))
	if _, ok := limitsTable[f]; ok {
		return f, nil
	}
	return "", fmt.Errorf("dataset: unknown model family %q", s)
}

// FamilyForModelID maps a Bedrock base-model identifier or ARN
// ("meta.llama3-1-8b-instruct-v1:0") to its family. Identifiers that name no
// Bedrock family (Strata's own models) map to FamilyOpen.
func FamilyForModelID(id string) Family {
	if i := strings.LastIndex(id, "/"); i >= 0 {
		id = id[i+1:]
	}
	id = strings.ToLower(id)
	switch {
	case strings.HasPrefix(id, "meta.llama2"):
		return FamilyLlama2
	case strings.HasPrefix(id, "meta.llama3-1"):
		return FamilyLlama31
	case strings.HasPrefix(id, "meta.llama3-2-90b"):
		return FamilyLlama32Vision90B
	case strings.HasPrefix(id, "meta.llama3-2"):
		return FamilyLlama32
	case strings.HasPrefix(id, "meta.llama3-3"):
		return FamilyLlama33
	case strings.HasPrefix(id, "amazon.titan-text-express"):
		return FamilyTitanTextExpress
	case strings.HasPrefix(id, "amazon.titan-text-lite"):
		return FamilyTitanTextLite
	case strings.HasPrefix(id, "amazon.titan-text-premier"):
		return FamilyTitanTextPremier
	case strings.HasPrefix(id, "cohere.command-light"):
		return FamilyCohereCommandLite
	case strings.HasPrefix(id, "cohere.command"):
		return FamilyCohereCommand
	case strings.HasPrefix(id, "anthropic.claude-3-haiku"):
		return FamilyClaude3Haiku
	case strings.HasPrefix(id, "amazon.nova"):
		return FamilyNova
	}
	return FamilyOpen
}

// tokenLimits returns the effective per-record token limits for a batch size
// and model context (0 = unknown).
func (l Limits) tokenLimits(batch, context int) (in, out, total int) {
	in, out, total = l.MaxInputTokens, l.MaxOutputTokens, l.MaxTotalTokens
	for _, b := range l.ByBatch {
		if batch <= b.MaxBatch {
			total = b.MaxTotal
			break
		}
		total = b.MaxTotal
	}
	if total == 0 || (context > 0 && context < total && l.MaxTotalTokens == 0) {
		total = context
	}
	return in, out, total
}

func (l Limits) accepts(t CustomizationType, f Format) bool {
	for _, g := range l.Formats[t] {
		if g == f {
			return true
		}
	}
	return false
}
