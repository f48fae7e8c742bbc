package dataset

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
)

// Hyperparameter keys, as Bedrock names them (SPEC.md §A.10).
const (
	HyperEpochCount   = "epochCount"
	HyperBatchSize    = "batchSize"
	HyperLearningRate = "learningRate"
	HyperWarmupSteps  = "learningRateWarmupSteps"
	// HyperMaxSeqLen and HyperTruncation are Strata's (engine/train).
	HyperMaxSeqLen      = "maxSeqLen"
	HyperTruncation     = "truncation"
	HyperEvalPercentage = "evalPercentage"
)

// HyperRange is one hyperparameter's accepted range and default.
type HyperRange struct {
	Min, Max, Default float64
}

// Plan is what the hyperparameters imply for this dataset.
type Plan struct {
	EpochCount   int     `json:"epochCount"`
	BatchSize    int     `json:"batchSize"`
	LearningRate float64 `json:"learningRate,omitempty"`
	WarmupSteps  int     `json:"learningRateWarmupSteps,omitempty"`
	// StepsPerEpoch is ceil(sequences / batchSize): one sequence per
	// fine-tuning record, or the pre-training tokens packed into sequences.
	StepsPerEpoch int64 `json:"stepsPerEpoch"`
	// TotalSteps is StepsPerEpoch × EpochCount: optimizer steps.
	TotalSteps int64 `json:"totalSteps"`
	// TrainedTokens is training tokens × epochs (what Bedrock bills).
	TrainedTokens int64 `json:"trainedTokens"`
	// LossTokens is the tokens carrying loss over all epochs.
	LossTokens int64 `json:"lossTokens"`
	// ValidationTokens is validation tokens × epochs (one pass per epoch).
	ValidationTokens int64 `json:"validationTokens"`
}

// plan computes the Plan and reports hyperparameter problems as warnings
// (the API rejects them at job creation; the CLI only explains).
func plan(l Limits, hp map[string]string, records, tokens, lossTokens, valTokens int64, warn func(key, reason string)) Plan {
	get := func(key string) float64 {
		r, known := l.Hyper[key]
		s, set := hp[key]
		if !set {
			return r.Default
		}
		v, err := strconv.ParseFloat(strings.TrimSpace(s), 64)
		if known && math.IsInf(r.Min, 0) {
			return r.Default // an enum (learningRateScheduler, truncation)
		}
		if err != nil || math.IsNaN(v) || math.IsInf(v, 0) {
			warn(key, fmt.Sprintf("hyperparameter %s=%q is not a number; using the default %g", key, s, r.Default))
			return r.Default
		}
		if known && !math.IsInf(r.Min, 0) && (v < r.Min || v > r.Max) {
			warn(key, fmt.Sprintf("hyperparameter %s=%s is outside %s's range %g–%g; the job would be rejected", key, s, l.Name, r.Min, r.Max))
		}
		return v
	}
	keys := make([]string, 0, len(hp))
	for k := range hp {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		if _, ok := l.Hyper[k]; !ok {
			warn(k, fmt.Sprintf("hyperparameter %q is not one %s takes", k, l.Name))
		}
	}
	p := Plan{
		EpochCount:   max(1, int(get(HyperEpochCount))),
		BatchSize:    max(1, int(get(HyperBatchSize))),
		LearningRate: get(HyperLearningRate),
		WarmupSteps:  int(get(HyperWarmupSteps)),
	}
	if _, ok := l.Hyper[HyperBatchSize]; !ok && hp[HyperBatchSize] == "" {
		p.BatchSize = 1
	}
	p.StepsPerEpoch = (records + int64(p.BatchSize) - 1) / int64(p.BatchSize)
	p.TotalSteps = p.StepsPerEpoch * int64(p.EpochCount)
	p.TrainedTokens = tokens * int64(p.EpochCount)
	p.LossTokens = lossTokens * int64(p.EpochCount)
	p.ValidationTokens = valTokens * int64(p.EpochCount)
	return p
}

// ThroughputProbe measures training throughput of the base model on this
// machine: forward and backward over a batch of about batch×seqLen tokens
// (it may measure a smaller shape), a few steps.
type ThroughputProbe interface {
	Measure(ctx context.Context, batch, seqLen int) (ProbeResult, error)
}

// ProbeResult is a measured training throughput and the shape measured.
type ProbeResult struct {
	TokensPerSecond float64
	Batch, SeqLen   int
}

// TimeEstimate is the estimated wall time of the training run.
type TimeEstimate struct {
	// TokensPerSecond is the probe's measured training throughput.
	TokensPerSecond float64 `json:"tokensPerSecond"`
	// ProbeBatch and ProbeSeqLen are the shape the probe measured.
	ProbeBatch  int `json:"probeBatch"`
	ProbeSeqLen int `json:"probeSeqLen"`
	// Seconds is (trained tokens + validation tokens / 3) / TokensPerSecond:
	// validation runs forward only, about a third of a training step.
	Seconds float64 `json:"seconds"`
}

// ModelInfo is what the validator reads from a Hugging Face config.json.
type ModelInfo struct {
	ModelType         string `json:"model_type"`
	HiddenSize        int    `json:"hidden_size"`
	Layers            int    `json:"num_hidden_layers"`
	Intermediate      int    `json:"intermediate_size"`
	Heads             int    `json:"num_attention_heads"`
	KVHeads           int    `json:"num_key_value_heads"`
	HeadDim           int    `json:"head_dim"`
	VocabSize         int    `json:"vocab_size"`
	MaxPositions      int    `json:"max_position_embeddings"`
	TieWordEmbeddings bool   `json:"tie_word_embeddings"`
	NameOrPath        string `json:"_name_or_path"`
	// EOSTokenID is an int or a list of ints.
	EOSTokenID json.RawMessage `json:"eos_token_id,omitempty"`
}

// ReadModelInfo reads dir/config.json.
func ReadModelInfo(dir string) (*ModelInfo, error) {
	b, err := os.ReadFile(filepath.Join(dir, "config.json"))
	if err != nil {
		return nil, fmt.Errorf("dataset: read model config: %w", err)
	}
	var m ModelInfo
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, fmt.Errorf("dataset: parse %s: %w", filepath.Join(dir, "config.json"), err)
	}
	if m.KVHeads == 0 {
		m.KVHeads = m.Heads
	}
	if m.HeadDim == 0 && m.Heads > 0 {
		m.HeadDim = m.HiddenSize / m.Heads
	}
	return &m, nil
}

// Params counts the parameters of a Llama-family decoder (B/T/C glossary:
// C hidden, I intermediate, L layers, V vocab, H/Hkv heads, D head dim).
func (m *ModelInfo) Params() int64 {
	c, i, l, v := int64(m.HiddenSize), int64(m.Intermediate), int64(m.Layers), int64(m.VocabSize)
	h, hkv, d := int64(m.Heads), int64(m.KVHeads), int64(m.HeadDim)
	attn := c*h*d + 2*c*hkv*d + h*d*c
	mlp := 3 * c * i
	n := v*c + l*(attn+mlp+2*c) + c
	if !m.TieWordEmbeddings {
		n += v * c
	}
	return n
}

// LoRAParams counts rank-r adapter parameters on all seven projections.
func (m *ModelInfo) LoRAParams(rank int) int64 {
	c, i, l, r := int64(m.HiddenSize), int64(m.Intermediate), int64(m.Layers), int64(rank)
	hd, kvd := int64(m.Heads*m.HeadDim), int64(m.KVHeads*m.HeadDim)
	perLayer := r*(c+hd) + 2*r*(c+kvd) + r*(hd+c) + 2*r*(c+i) + r*(i+c)
	return l * perLayer
}

// MemoryEstimate is the estimated peak memory of training, by part.
type MemoryEstimate struct {
	Method          string `json:"method"`
	Params          int64  `json:"params"`
	TrainableParams int64  `json:"trainableParams"`
	WeightsBytes    int64  `json:"weightsBytes"`
	GradBytes       int64  `json:"gradBytes"`
	OptimizerBytes  int64  `json:"optimizerBytes"`
	ActivationBytes int64  `json:"activationBytes"`
	TotalBytes      int64  `json:"totalBytes"`
	BatchSize       int    `json:"batchSize"`
	SeqLen          int    `json:"seqLen"`
}

// estimateMemory assumes F32 weights and compute (Strata's CPU engine),
// AdamW (two moments), and per token per layer about 16·C + 3·I saved
// activations plus logits and their gradient (2·V), without checkpointing.
func estimateMemory(m *ModelInfo, method string, loraRank, batch, seqLen int) MemoryEstimate {
	const f32 = 4
	e := MemoryEstimate{Method: method, Params: m.Params(), BatchSize: batch, SeqLen: seqLen}
	e.TrainableParams = e.Params
	if method == "lora" {
		e.TrainableParams = m.LoRAParams(loraRank)
		e.WeightsBytes = (e.Params + e.TrainableParams) * f32
	} else {
		e.WeightsBytes = e.Params * f32
	}
	e.GradBytes = e.TrainableParams * f32
	e.OptimizerBytes = 2 * e.TrainableParams * f32
	tok := int64(batch) * int64(seqLen)
	e.ActivationBytes = tok * (int64(m.Layers)*(16*int64(m.HiddenSize)+3*int64(m.Intermediate)) + 2*int64(m.VocabSize)) * f32
	e.TotalBytes = e.WeightsBytes + e.GradBytes + e.OptimizerBytes + e.ActivationBytes
	return e
}

// DetectFamily picks the dataset family of a Hugging Face model directory
// from its config.json name: Llama 3.1/3.2/3.3 checkpoints get Bedrock's
// rules, everything else (Qwen, Mistral, the starter model) FamilyOpen.
func DetectFamily(m *ModelInfo) Family {
	n := strings.ToLower(m.NameOrPath)
	n = strings.NewReplacer("_", "-", " ", "-").Replace(n)
	switch {
	case strings.Contains(n, "llama-3.1") || strings.Contains(n, "llama3.1") || strings.Contains(n, "llama-3-1"):
		return FamilyLlama31
	case strings.Contains(n, "llama-3.2-90b") || strings.Contains(n, "llama-3-2-90b"):
		return FamilyLlama32Vision90B
	case strings.Contains(n, "llama-3.2") || strings.Contains(n, "llama3.2") || strings.Contains(n, "llama-3-2"):
		return FamilyLlama32
	case strings.Contains(n, "llama-3.3") || strings.Contains(n, "llama3.3") || strings.Contains(n, "llama-3-3"):
		return FamilyLlama33
	case strings.Contains(n, "llama-2") || strings.Contains(n, "llama2"):
		return FamilyLlama2
	}
	return FamilyOpen
}
