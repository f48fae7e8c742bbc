// Package llama implements the Llama-family decoder (Llama 2/3, Mistral,
// Qwen2) on the CPU: random init, loading and saving Hugging Face
// directories, training (full fine-tuning or LoRA) with exact gradients, and
// batched inference with per-sequence KV caches and per-sequence LoRA
// adapters. It registers LlamaForCausalLM, MistralForCausalLM and
// Qwen2ForCausalLM with engine/model; see that package for the API
// ([model.Model], [model.Batch], [model.Seq]). *Model implements model.Model.
//
// Variants are selected by the config: grouped-query attention
// (num_key_value_heads), rope_theta and rope_scaling (llama3, linear), tied
// embeddings (tie_word_embeddings), Mistral's sliding_window, Qwen2's q/k/v
// biases, Llama's attention_bias.
//
// The forward pass follows HF's modeling_llama.py in float32:
//
//	x = embed[tokens]
//	per layer: h = RMSNorm(x); q,k,v = h·Wqᵀ,h·Wkᵀ,h·Wvᵀ (+b); RoPE(q,k)
//	           x += Attention(q,k,v)·Woᵀ
//	           h = RMSNorm(x); x += (silu(h·Wgᵀ) ⊙ h·Wuᵀ)·Wdᵀ
//	logits = RMSNorm(x)·W_lmᵀ   (W_lm = embed when tied)
//
// Shape glossary: B batch, T sequence, N = B·T, C hidden, H heads, Hkv KV
// heads, D head dim, V vocab, FF MLP width, L layers, r LoRA rank.
package llama

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"sync"

	"github.com/strata-ml/strata/engine/lora"
	"github.com/strata-ml/strata/engine/model"
	"github.com/strata-ml/strata/engine/nn"
	"github.com/strata-ml/strata/engine/safetensors"
)

func init() {
	for _, name := range []string{"LlamaForCausalLM", "MistralForCausalLM", "Qwen2ForCausalLM"} {
		model.Register(name, model.Arch{
			New: func(cfg *model.Config, seed uint64, opt model.Options) (model.Model, error) {
				return New(cfg, seed, opt)
			},
			Load: func(cfg *model.Config, dir string, opt model.Options) (model.Model, error) {
				return Load(cfg, dir, opt)
			},
		})
	}
}

// Weight is one named base tensor, stored as float32 or (frozen) bfloat16.
type Weight struct {
	Name  string
	Shape []int
	F32   []float32 // data, or nil when BF16 holds it
	BF16  []uint16  // raw bfloat16 bits (Options.KeepBF16), frozen only
	Grad  []float32 // full fine-tuning gradient, nil when frozen
}

func (w *Weight) numel() int {
	n := 1
	for _, d := range w.Shape {
		n *= d
	}
	return n
}

// data returns float32 values, decoding BF16 into *buf (grown as needed).
func (w *Weight) data(buf *[]float32) []float32 {
	if w.F32 != nil {
		return w.F32
	}
	n := len(w.BF16)
	if cap(*buf) < n {
		*buf = make([]float32, n)
	}
	out := (*buf)[:n]
	nn.DecodeBF16(out, w.BF16)
	return out
}

// toF32 converts a BF16 weight to float32 in place.
func (w *Weight) toF32() {
	if w.F32 == nil && w.BF16 != nil {
		w.F32 = make([]float32, len(w.BF16))
		nn.DecodeBF16(w.F32, w.BF16)
		w.BF16 = nil
	}
}

// Layer is one decoder block.
type Layer struct {
	AttnNorm *Weight                  // (C) input_layernorm
	MLPNorm  *Weight                  // (C) post_attention_layernorm
	Proj     [lora.NumModules]*Weight // q (H·D, C), k, v (Hkv·D, C), o (C, H·D), gate, up (FF, C), down (C, FF)
	Bias     [lora.NumModules]*Weight // (out) or nil: q, k, v (Qwen2, attention_bias), o (attention_bias)

	qkv, gateUp *fused // set by FuseProjections, for serving
}

// Model is a Llama-family decoder. It implements model.Model.
type Model struct {
	cfg     *model.Config
	opt     model.Options
	Embed   *Weight  // (V, C) model.embed_tokens
	Layers  []*Layer // (L)
	Norm    *Weight  // (C) model.norm
	LMHead  *Weight  // (V, C) lm_head, nil when tied
	invFreq []float64
	adapter *lora.Adapter // trainable adapter (LoRA mode), nil in full mode
	wbuf    []float32     // BF16 decode scratch
	// stepPool keeps Step's activation buffers (*stepBuf) between steps.
	stepPool sync.Pool
	// trainArena and evalArena keep activation buffers between passes.
	trainArena, evalArena arena
	step                  uint64 // training passes done (dropout stream); see DropoutState
	seed                  uint64
}

// Config returns the model's configuration.
func (m *Model) Config() *model.Config { return m.cfg }

// Adapter returns the trainable LoRA adapter, or nil in full fine-tuning.
func (m *Model) Adapter() *lora.Adapter { return m.adapter }

// DropoutState returns the position of the LoRA dropout random stream: the
// number of ForwardBackward calls made since New or EnableLoRA (Forward
// does not advance it). The masks of the next training pass depend only on
// this value and the seed given to New or, later, EnableLoRA, so a trainer
// that saves it with a checkpoint and passes it to SetDropoutState on
// resume replays the masks of an uninterrupted run.
func (m *Model) DropoutState() uint64 { return m.step }

// SetDropoutState restores a position returned by DropoutState.
func (m *Model) SetDropoutState(s uint64) { m.step = s }

func checkArch(cfg *model.Config) error {
	switch cfg.Architecture() {
	case "LlamaForCausalLM", "MistralForCausalLM", "Qwen2ForCausalLM":
	default:
		return fmt.Errorf("llama: architecture %q: %w", cfg.Architecture(), model.ErrUnsupported)
	}
	cfg.Fill()
	return cfg.Validate()
}

func projShape(cfg *model.Config, m lora.Module) (in, out int) {
	c, ff := cfg.HiddenSize, cfg.IntermediateSize
	switch m {
	case lora.QProj:
		return c, cfg.QDim()
	case lora.KProj, lora.VProj:
		return c, cfg.KVDim()
	case lora.OProj:
		return cfg.QDim(), c
	case lora.GateProj, lora.UpProj:
		return c, ff
	default:
		return ff, c
	}
}

// skeleton builds the weight table with names and shapes but no data.
func skeleton(cfg *model.Config, opt model.Options) *Model {
	c, v := cfg.HiddenSize, cfg.VocabSize
	m := &Model{cfg: cfg, opt: opt}
	m.Embed = &Weight{Name: "model.embed_tokens.weight", Shape: []int{v, c}}
	for i := range cfg.NumHiddenLayers {
		p := fmt.Sprintf("model.layers.%d.", i)
		l := &Layer{
			AttnNorm: &Weight{Name: p + "input_layernorm.weight", Shape: []int{c}},
			MLPNorm:  &Weight{Name: p + "post_attention_layernorm.weight", Shape: []int{c}},
		}
		for mod := lora.QProj; mod < lora.NumModules; mod++ {
			in, out := projShape(cfg, mod)
			base := p + mod.Parent() + "." + mod.String()
			l.Proj[mod] = &Weight{Name: base + ".weight", Shape: []int{out, in}}
			bias := cfg.AttentionBias && mod <= lora.OProj || cfg.QKVBias && mod <= lora.VProj
			if bias {
				l.Bias[mod] = &Weight{Name: base + ".bias", Shape: []int{out}}
			}
		}
		m.Layers = append(m.Layers, l)
	}
	m.Norm = &Weight{Name: "model.norm.weight", Shape: []int{c}}
	if !cfg.TieWordEmbeddings {
		m.LMHead = &Weight{Name: "lm_head.weight", Shape: []int{v, c}}
	}
	rs := nn.RopeScaling{}
	if r := cfg.RopeScaling; r != nil {
		rs = nn.RopeScaling{Kind: r.Kind(), Factor: r.Factor, LowFreqFactor: r.LowFreqFactor,
			HighFreqFactor: r.HighFreqFactor, OriginalMaxPositionEmbeddings: r.OriginalMaxPositionEmbeddings}
		if rs.Kind == "default" {
			rs.Kind = ""
		}
	}
	m.invFreq = nn.RopeInvFreq(cfg.HeadDim, cfg.RopeTheta, rs)
	return m
}

// Weights lists every base weight in HF order.
func (m *Model) Weights() []*Weight {
	ws := []*Weight{m.Embed}
	for _, l := range m.Layers {
		ws = append(ws, l.AttnNorm)
		for mod := lora.QProj; mod <= lora.OProj; mod++ {
			ws = append(ws, l.Proj[mod])
			if l.Bias[mod] != nil {
				ws = append(ws, l.Bias[mod])
			}
		}
		ws = append(ws, l.MLPNorm, l.Proj[lora.GateProj], l.Proj[lora.UpProj], l.Proj[lora.DownProj])
	}
	ws = append(ws, m.Norm)
	if m.LMHead != nil {
		ws = append(ws, m.LMHead)
	}
	return ws
}

func isNoDecay(w *Weight) bool { return len(w.Shape) == 1 }

// New returns a randomly initialised model as HF's _init_weights does:
// Linear and Embedding weights N(0, 0.02²), biases 0, norm gains 1.
func New(cfg *model.Config, seed uint64, opt model.Options) (*Model, error) {
	if err := checkArch(cfg); err != nil {
		return nil, err
	}
	m := skeleton(cfg, opt)
	m.seed = seed
	rng := rand.New(rand.NewPCG(seed, 0x6c6c616d61))
	for _, w := range m.Weights() {
		w.F32 = make([]float32, w.numel())
		switch {
		case strings.HasSuffix(w.Name, "norm.weight"):
			for i := range w.F32 {
				w.F32[i] = 1
			}
		case strings.HasSuffix(w.Name, ".bias"):
		default:
			for i := range w.F32 {
				w.F32[i] = float32(rng.NormFloat64() * 0.02)
			}
		}
	}
	return m, nil
}

// WeightError reports a problem with one tensor of a model directory.
type WeightError struct {
	Dir    string
	Tensor string
	Reason string
}

func (e *WeightError) Error() string {
	return fmt.Sprintf("llama: load %s: tensor %q: %s", e.Dir, e.Tensor, e.Reason)
}

// Load reads the weights of an HF directory into a model of config cfg. The
// weights must match exactly: a missing, unexpected, wrongly shaped,
// non-float or non-finite tensor is a *WeightError naming it. (Two extras
// are tolerated: rotary_emb.inv_freq buffers, and an lm_head.weight equal
// to the embedding when tie_word_embeddings.)
func Load(cfg *model.Config, dir string, opt model.Options) (*Model, error) {
	if err := checkArch(cfg); err != nil {
		return nil, fmt.Errorf("llama: load %s: %w", dir, err)
	}
	ts, err := safetensors.ReadDir(dir, safetensors.Options{KeepBF16: opt.KeepBF16})
	if err != nil {
		return nil, fmt.Errorf("llama: load %s: %w", dir, err)
	}
	m := skeleton(cfg, opt)
	if err := m.LoadWeights(dir, ts); err != nil {
		return nil, err
	}
	return m, nil
}

// LoadWeights binds tensors (by HF name) to the model's weights. dir is used
// in errors only.
func (m *Model) LoadWeights(dir string, ts map[string]*safetensors.Tensor) error {
	used := map[string]bool{}
	for _, w := range m.Weights() {
		t, ok := ts[w.Name]
		if !ok {
			return &WeightError{dir, w.Name, "missing"}
		}
		used[w.Name] = true
		if !t.DType.IsFloat() {
			return &WeightError{dir, w.Name, fmt.Sprintf("dtype %s, want a float type", t.DType)}
		}
		if !equalShape(t.Shape, w.Shape) {
			return &WeightError{dir, w.Name, fmt.Sprintf("shape %v, want %v", t.Shape, w.Shape)}
		}
		if i := firstNonFinite(t); i >= 0 {
			return &WeightError{dir, w.Name, fmt.Sprintf("non-finite value (NaN or Inf) at element %d", i)}
		}
		w.F32, w.BF16 = t.F32, t.BF16
		if len(w.Shape) == 1 {
			w.toF32() // norms and biases stay float32 (tiny)
		}
	}
	for name, t := range ts {
		if used[name] || strings.HasSuffix(name, "rotary_emb.inv_freq") {
			continue
		}
		if name == "lm_head.weight" && m.cfg.TieWordEmbeddings && sameValues(t, m.Embed) {
			continue
		}
		return &WeightError{dir, name, "unexpected tensor (not part of this architecture/config)"}
	}
	return nil
}

func equalShape(a, b []int) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func firstNonFinite(t *safetensors.Tensor) int {
	for i, v := range t.F32 {
		if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
			return i
		}
	}
	for i, b := range t.BF16 {
		if b&0x7f80 == 0x7f80 {
			return i
		}
	}
	return -1
}

func sameValues(t *safetensors.Tensor, w *Weight) bool {
	a := t.Float32()
	var buf []float32
	b := w.data(&buf)
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// Save writes dir/config.json and dir/model.safetensors atomically (F32, or
// BF16 for weights held as BF16). LoRA adapters are not included; save them
// with lora.Adapter.Save, or call MergeLoRA first.
func (m *Model) Save(dir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("llama: save %s: %w", dir, err)
	}
	var ts []*safetensors.Tensor
	for _, w := range m.Weights() {
		t := &safetensors.Tensor{Name: w.Name, Shape: w.Shape, DType: safetensors.F32, F32: w.F32}
		if w.F32 == nil {
			t.DType, t.BF16 = safetensors.BF16, w.BF16
		}
		ts = append(ts, t)
	}
	if err := safetensors.WriteFile(filepath.Join(dir, "model.safetensors"), ts, map[string]string{"format": "pt"}); err != nil {
		return fmt.Errorf("llama: save: %w", err)
	}
	cfg := *m.cfg
	if cfg.ModelType == "" { // AutoConfig needs model_type
		cfg.ModelType = map[string]string{"LlamaForCausalLM": "llama", "MistralForCausalLM": "mistral", "Qwen2ForCausalLM": "qwen2"}[cfg.Architecture()]
	}
	cfg.TorchDType = "float32"
	if m.Layers[0].Proj[lora.QProj].F32 == nil {
		cfg.TorchDType = "bfloat16"
	}
	cj, err := cfg.JSON()
	if err != nil {
		return fmt.Errorf("llama: save %s: %w", dir, err)
	}
	if err := safetensors.WriteAtomic(filepath.Join(dir, "config.json"), append(cj, '\n')); err != nil {
		return fmt.Errorf("llama: save: %w", err)
	}
	return nil
}

// ErrNoAdapter is returned by MergeLoRA when no adapter is attached.
var ErrNoAdapter = errors.New("llama: no LoRA adapter attached")

// EnableLoRA freezes the base weights (dropping their gradients) and
// attaches a new adapter initialised as PEFT does with the given seed.
// Params then returns only the adapter's A and B matrices. The seed also
// restarts the dropout stream (see DropoutState).
func (m *Model) EnableLoRA(cfg lora.Config, seed uint64) (*lora.Adapter, error) {
	a, err := lora.New(cfg, len(m.Layers), func(mod lora.Module) (int, int) { return projShape(m.cfg, mod) }, seed)
	if err != nil {
		return nil, err
	}
	if err := m.AttachLoRA(a); err != nil {
		return nil, err
	}
	m.seed, m.step = seed, 0 // the dropout stream follows the job's seed, also for a loaded model
	return a, nil
}

// CheckAdapter reports whether a fits this model's layer count and shapes.
func (m *Model) CheckAdapter(a *lora.Adapter) error {
	if len(a.Layers) > len(m.Layers) {
		return fmt.Errorf("llama: adapter has %d layers, model %d", len(a.Layers), len(m.Layers))
	}
	for l := range a.Layers {
		for mod := lora.QProj; mod < lora.NumModules; mod++ {
			p := a.Layers[l][mod]
			if p == nil {
				continue
			}
			in, out := projShape(m.cfg, mod)
			r := a.Config.Rank
			if p.In != in || p.Out != out || len(p.A) != r*in || len(p.B) != out*r {
				return fmt.Errorf("llama: adapter %s: shape (in %d, out %d), model wants (in %d, out %d)",
					lora.TensorName(l, mod, false), p.In, p.Out, in, out)
			}
		}
	}
	return nil
}

// AttachLoRA attaches an existing adapter for training (for example one
// restored from a checkpoint): base frozen, gradients on A and B.
func (m *Model) AttachLoRA(a *lora.Adapter) error {
	if err := m.CheckAdapter(a); err != nil {
		return err
	}
	for _, w := range m.Weights() {
		w.Grad = nil
	}
	a.EnableGrad()
	m.adapter = a
	return nil
}

// MergeLoRA folds the attached adapter into the base weights,
// W += scale·B·A, and detaches it (full fine-tuning mode again).
func (m *Model) MergeLoRA() error {
	if m.adapter == nil {
		return ErrNoAdapter
	}
	if err := MergeInto(m, m.adapter); err != nil {
		return err
	}
	m.adapter = nil
	return nil
}

// MergeInto adds scale·B·A of every pair of a into m's base weights
// (converting BF16 weights to float32).
func MergeInto(m *Model, a *lora.Adapter) error {
	if err := m.CheckAdapter(a); err != nil {
		return err
	}
	s := a.Config.Scale()
	r := a.Config.Rank
	for l := range a.Layers {
		for mod := lora.QProj; mod < lora.NumModules; mod++ {
			p := a.Layers[l][mod]
			if p == nil {
				continue
			}
			w := m.Layers[l].Proj[mod]
			w.toF32()
			nn.MatMulAcc(w.F32, p.B, p.A, p.Out, p.In, r, s)
		}
	}
	return nil
}

// Params returns the trainable parameters: every base weight (HF names) in
// full fine-tuning, or the adapter's A and B matrices (PEFT names) in LoRA
// mode. In full mode, BF16 weights are converted to float32 and gradient
// buffers allocated on first call.
func (m *Model) Params() []*model.Param {
	var ps []*model.Param
	if m.adapter != nil {
		for _, t := range m.adapter.Tensors() {
			ps = append(ps, &model.Param{Name: t.Name, Shape: t.Shape, Data: t.Data, Grad: t.Grad})
		}
		return ps
	}
	m.ensureFullGrads()
	for _, w := range m.Weights() {
		ps = append(ps, &model.Param{Name: w.Name, Shape: w.Shape, Data: w.F32, Grad: w.Grad, NoDecay: isNoDecay(w)})
	}
	return ps
}

func (m *Model) ensureFullGrads() {
	for _, w := range m.Weights() {
		w.toF32()
		if w.Grad == nil {
			w.Grad = make([]float32, len(w.F32))
		}
	}
}

// ZeroGrad clears the trainable gradients.
func (m *Model) ZeroGrad() {
	if m.adapter != nil {
		m.adapter.ZeroGrad()
		return
	}
	for _, w := range m.Weights() {
		clear(w.Grad)
	}
}

// NewCache returns an empty KV cache for this model: bfloat16 when its
// projections are kept in bfloat16 (unless Options.KVFloat32), else
// float32.
func (m *Model) NewCache() *model.KVCache {
	if m.servesBF16() && !m.opt.KVFloat32 {
		return model.NewKVCacheBF16(len(m.Layers), m.cfg.KVDim())
	}
	return model.NewKVCache(len(m.Layers), m.cfg.KVDim())
}

// servesBF16 reports whether the model's projections are kept in bfloat16.
func (m *Model) servesBF16() bool {
	for _, w := range m.Layers[0].Proj {
		if w != nil && w.BF16 != nil {
			return true
		}
	}
	return false
}
