// Package model defines what the rest of Strata needs from a decoder-only
// language model: its [Config] (decoded from a Hugging Face config.json), the
// training [Batch], trainable [Param]s, the inference [KVCache] and [Seq], the
// [Model] interface, and an init-time registry of architectures keyed by the HF
// architecture string ("LlamaForCausalLM"). Implementations live in
// subpackages (engine/model/llama registers LlamaForCausalLM,
// MistralForCausalLM and Qwen2ForCausalLM).
//
// Shape glossary: B batch, T sequence, C hidden, H heads, Hkv KV heads, D head
// dim, V vocab, L layers, FF MLP width, N = B·T tokens.
//
// # Using a model
//
//	m, err := model.Load(dir, model.Options{})       // HF dir: config.json + *.safetensors
//	m, err := model.New(cfg, seed, model.Options{})  // random init (a starter model)
//	err = m.Save(dir)                                // config.json + model.safetensors (atomic)
//
// Training (full fine-tuning is the default; for LoRA call EnableLoRA first,
// which freezes the base and makes Params return only the adapter):
//
//	ad, err := m.EnableLoRA(lora.Config{Rank: 16, Alpha: 32}, seed)
//	loss, n, err := m.ForwardBackward(&model.Batch{B: 2, T: 512, Tokens: ..., Targets: ...})
//	for _, p := range m.Params() { ... p.Data, p.Grad ... }   // optimizer step
//	m.ZeroGrad()
//
// ForwardBackward ADDS to the gradients of m.Params(): the gradient of the
// batch's MEAN loss (mean over its non-ignored targets). To accumulate several
// micro-batches into the gradient of their joint mean, scale by hand: either
// set Batch.LossScale to n_i/N_total per micro-batch (then the sum of
// gradients equals the gradient of the joint mean), or rescale the
// accumulated Grad slices afterwards. Forward computes the loss without
// touching gradients (evaluation).
//
// Inference: each sequence owns a KVCache; Step runs the new tokens of many
// sequences in one batch, each at its own position and each optionally with
// its own unmerged LoRA adapter over the shared base weights:
//
//	c := m.NewCache()
//	logits, err := m.Step([]model.Seq{{Tokens: prompt, Cache: c, Adapter: ad}})
//	// logits[i] is the last position's (V) logits of seqs[i] (all positions,
//	// (T_new·V), when Seq.AllLogits)
//
// Adapters for serving come from lora.Load (a PEFT directory) or from
// training; several sequences in one Step may share one adapter or each use
// their own, over the same base weights, without merging.
//
// Loading: model.Load checks the weights exactly (engine/model/llama's
// *WeightError names the directory and the tensor for a missing,
// unexpected, wrongly shaped, non-float or NaN/Inf tensor); an unknown
// architecture or unsupported option (rope_scaling other than llama3/linear,
// mlp_bias, hidden_act other than silu, Qwen2 use_sliding_window) wraps
// ErrUnsupported. Options.KeepBF16 keeps BF16 checkpoints as BF16 in memory
// (decoded per use; LoRA and inference only — full fine-tuning converts to
// float32), and Options.Recompute trades compute for activation memory.
//
// The concrete *llama.Model adds: Logits (full (B·T, V) logits, for tests
// and small evaluations), Adapter (the trainable adapter), Weights (base
// tensors by HF name), CheckAdapter, ReleaseBuffers (activation buffers are
// kept between steps of the same batch shape), and llama.MergeInto.
//
// A Model is not safe for concurrent use; Step and ForwardBackward must not
// run at the same time on one Model.
package model

import (
	"fmt"
	"sort"
	"sync"

	"github.com/strata-ml/strata/engine/lora"
)

// IgnoreIndex marks a target that does not count in the loss (HF's -100).
const IgnoreIndex = -100

// Batch is one training or evaluation batch of B rows of T tokens.
type Batch struct {
	B, T    int
	Tokens  []int32 // (B·T) input ids
	Targets []int32 // (B·T) next-token ids; IgnoreIndex where not scored
	// Pos, optional, holds each token's position (RoPE), restarting at 0 at
	// each packed document; nil means 0..T-1 in every row.
	Pos []int32 // (B·T)
	// Seg, optional, holds each token's document id within its row; a token
	// attends only to earlier tokens of the same row with the same Seg.
	// nil means one document per row.
	Seg []int32 // (B·T)
	// LossScale, if non-zero, multiplies the gradients ForwardBackward
	// accumulates (not the returned loss). Zero means 1.
	LossScale float64
}

// Validate checks the batch's shape and token ranges against vocabulary size v.
func (b *Batch) Validate(v int) error {
	n := b.B * b.T
	switch {
	case b.B <= 0 || b.T <= 0:
		return fmt.Errorf("model: batch: B=%d T=%d must be > 0", b.B, b.T)
	case len(b.Tokens) != n:
		return fmt.Errorf("model: batch: %d tokens, want B·T=%d", len(b.Tokens), n)
	case len(b.Targets) != n:
		return fmt.Errorf("model: batch: %d targets, want B·T=%d", len(b.Targets), n)
	case b.Pos != nil && len(b.Pos) != n:
		return fmt.Errorf("model: batch: %d positions, want B·T=%d", len(b.Pos), n)
	case b.Seg != nil && len(b.Seg) != n:
		return fmt.Errorf("model: batch: %d segment ids, want B·T=%d", len(b.Seg), n)
	}
	for i, t := range b.Tokens {
		if t < 0 || int(t) >= v {
			return fmt.Errorf("model: batch: token %d at index %d out of vocabulary [0, %d)", t, i, v)
		}
	}
	for i, t := range b.Targets {
		if t != IgnoreIndex && (t < 0 || int(t) >= v) {
			return fmt.Errorf("model: batch: target %d at index %d out of vocabulary [0, %d)", t, i, v)
		}
	}
	for i, p := range b.Pos {
		if p < 0 {
			return fmt.Errorf("model: batch: negative position %d at index %d", p, i)
		}
	}
	return nil
}

// Param is one trainable tensor. Data and Grad have the same length, the
// product of Shape. Name is the HF tensor name in full fine-tuning
// ("model.layers.0.self_attn.q_proj.weight") or the PEFT name in LoRA mode
// ("base_model.model.model.layers.0.self_attn.q_proj.lora_A.weight").
type Param struct {
	Name    string
	Shape   []int
	Data    []float32
	Grad    []float32
	NoDecay bool // norm gains and biases (conventionally excluded from weight decay)
}

// KVCache holds one sequence's keys and values for every layer, after RoPE.
// Len tokens are cached; positions are 0..Len-1. A float32 cache keeps them
// in K and V; a bfloat16 one (NewKVCacheBF16) in K16 and V16, rounded to
// bfloat16 (half the memory and half the bytes a decoding step reads).
type KVCache struct {
	Len      int
	L        int         // layers
	Dim      int         // Hkv·D per token
	K, V     [][]float32 // (L)(cap·Hkv·D), grown as needed; nil in a bfloat16 cache
	K16, V16 [][]uint16  // the same as bfloat16 bits; nil in a float32 cache
}

// NewKVCache returns an empty float32 cache for l layers of width dim = Hkv·D.
func NewKVCache(l, dim int) *KVCache {
	return &KVCache{L: l, Dim: dim, K: make([][]float32, l), V: make([][]float32, l)}
}

// NewKVCacheBF16 returns an empty bfloat16 cache for l layers of width
// dim = Hkv·D.
func NewKVCacheBF16(l, dim int) *KVCache {
	return &KVCache{L: l, Dim: dim, K16: make([][]uint16, l), V16: make([][]uint16, l)}
}

// BF16 reports whether the cache keeps bfloat16 keys and values.
func (c *KVCache) BF16() bool { return c.K16 != nil }

// Reset empties the cache, keeping its memory.
func (c *KVCache) Reset() { c.Len = 0 }

// Truncate drops cached tokens from position n on (n ≤ Len).
func (c *KVCache) Truncate(n int) {
	if n < c.Len {
		c.Len = max(n, 0)
	}
}

// Reserve grows every layer's storage to hold n tokens.
func (c *KVCache) Reserve(n int) {
	for l := range c.L {
		if c.BF16() {
			c.K16[l], c.V16[l] = reserve(c.K16[l], n, c.Dim), reserve(c.V16[l], n, c.Dim)
		} else {
			c.K[l], c.V[l] = reserve(c.K[l], n, c.Dim), reserve(c.V[l], n, c.Dim)
		}
	}
}

// reserve returns s with room for n rows of dim, its contents kept,
// doubling its capacity when it grows.
func reserve[T float32 | uint16](s []T, n, dim int) []T {
	if cap(s) < n*dim {
		t := make([]T, len(s), max(n, 2*cap(s)/max(dim, 1), 16)*dim)
		copy(t, s)
		s = t
	}
	return s[:n*dim]
}

// Bytes returns the cache's allocated size in bytes.
func (c *KVCache) Bytes() int {
	n := 0
	for l := range c.L {
		if c.BF16() {
			n += 2 * (cap(c.K16[l]) + cap(c.V16[l]))
		} else {
			n += 4 * (cap(c.K[l]) + cap(c.V[l]))
		}
	}
	return n
}

// Seq is one sequence in a Step: new tokens to run after what its Cache holds.
type Seq struct {
	Tokens    []int32       // new tokens (at least one)
	Cache     *KVCache      // from Model.NewCache; appended to
	Adapter   *lora.Adapter // optional, applied unmerged to this sequence only
	AllLogits bool          // return logits for every new token, not just the last
}

// Model is a decoder-only language model (see the package doc).
type Model interface {
	Config() *Config
	// Forward returns the mean loss over non-ignored targets and their count.
	Forward(b *Batch) (loss float64, nTargets int, err error)
	// ForwardBackward is Forward plus the backward pass, adding the gradient
	// of the mean loss (times Batch.LossScale) into Params()' Grad.
	ForwardBackward(b *Batch) (loss float64, nTargets int, err error)
	// Params returns the trainable parameters (the adapter's in LoRA mode).
	Params() []*Param
	// ZeroGrad clears every Param's Grad.
	ZeroGrad()
	// EnableLoRA freezes the base and attaches a new trainable adapter.
	EnableLoRA(cfg lora.Config, seed uint64) (*lora.Adapter, error)
	// AttachLoRA attaches an existing adapter for training (after a resume).
	AttachLoRA(a *lora.Adapter) error
	// MergeLoRA folds the attached adapter into the base weights and detaches it.
	MergeLoRA() error
	// NewCache returns an empty KV cache sized for this model.
	NewCache() *KVCache
	// Step runs the new tokens of each sequence and returns their logits.
	Step(seqs []Seq) ([][]float32, error)
	// Save writes config.json and model.safetensors to dir.
	Save(dir string) error
}

// Options controls loading and training.
type Options struct {
	// KeepBF16 keeps BF16 weights as BF16 in memory (decoded per use);
	// only valid for frozen weights, i.e. LoRA training or inference.
	KeepBF16 bool
	// KVFloat32 keeps the KV cache of a model served with bfloat16 weights
	// in float32; by default its cache is bfloat16 (NewKVCacheBF16), as
	// the model's own dtype, half the memory and half the bytes a decoding
	// step reads.
	KVFloat32 bool
	// Recompute stores only each layer's input in ForwardBackward and
	// recomputes the layer during the backward pass (less memory, ~1/3 more
	// compute).
	Recompute bool
}

// Arch builds models of one HF architecture.
type Arch struct {
	// New returns a randomly initialised model.
	New func(cfg *Config, seed uint64, opt Options) (Model, error)
	// Load reads weights from an HF directory (config already parsed).
	Load func(cfg *Config, dir string, opt Options) (Model, error)
}

var (
	regMu sync.RWMutex
	reg   = map[string]Arch{}
)

// Register adds an architecture under its HF name. It panics on duplicates;
// call it from init.
func Register(name string, a Arch) {
	regMu.Lock()
	defer regMu.Unlock()
	if _, dup := reg[name]; dup {
		panic("model: duplicate architecture " + name)
	}
	reg[name] = a
}

// Architectures lists the registered architecture names, sorted.
func Architectures() []string {
	regMu.RLock()
	defer regMu.RUnlock()
	out := make([]string, 0, len(reg))
	for k := range reg {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

func lookup(cfg *Config) (Arch, error) {
	name := cfg.Architecture()
	regMu.RLock()
	a, ok := reg[name]
	regMu.RUnlock()
	if !ok {
		return Arch{}, fmt.Errorf("model: architecture %q: %w (supported: %v)", name, ErrUnsupported, Architectures())
	}
	return a, nil
}

// New returns a randomly initialised model of cfg's architecture.
func New(cfg *Config, seed uint64, opt Options) (Model, error) {
	a, err := lookup(cfg)
	if err != nil {
		return nil, err
	}
	return a.New(cfg, seed, opt)
}

// Load reads an HF model directory (config.json plus model.safetensors or
// sharded model-*.safetensors with model.safetensors.index.json).
func Load(dir string, opt Options) (Model, error) {
	cfg, err := LoadConfig(dir)
	if err != nil {
		return nil, err
	}
	a, err := lookup(cfg)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", dir, err)
	}
	return a.Load(cfg, dir, opt)
}
