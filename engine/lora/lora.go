// Package lora holds LoRA adapters (Hu et al. 2021) for the Llama-family
// decoder's linear layers, laid out and initialised as Hugging Face PEFT does,
// and saved/loaded in PEFT's format (adapter_config.json +
// adapter_model.safetensors).
//
// For a target projection y = x·Wᵀ (W: (out, in)), the adapter adds
//
//	y += scale · dropout(x)·Aᵀ·Bᵀ      A: (r, in), B: (out, r)
//	scale = Alpha/r, or Alpha/√r with RSLoRA
//
// A is initialised kaiming-uniform(a=√5), i.e. U(−1/√in, 1/√in), and B to
// zeros, so a fresh adapter leaves the model unchanged. The model package
// applies adapters (engine/model/llama): attached for training (only A and B
// have gradients; the base is frozen), per sequence for serving (unmerged,
// many adapters over one base), or merged into the base weights.
//
// Shape glossary: r rank, in/out a projection's input/output width, L layers.
package lora

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"sync"

	"github.com/strata-ml/strata/engine/safetensors"
)

// Module identifies one of the seven projections of a decoder layer.
type Module int

// The projections LoRA can target, in layer order.
const (
	QProj Module = iota
	KProj
	VProj
	OProj
	GateProj
	UpProj
	DownProj
	NumModules
)

// String returns the HF module name ("q_proj").
func (m Module) String() string {
	switch m {
	case QProj:
		return "q_proj"
	case KProj:
		return "k_proj"
	case VProj:
		return "v_proj"
	case OProj:
		return "o_proj"
	case GateProj:
		return "gate_proj"
	case UpProj:
		return "up_proj"
	case DownProj:
		return "down_proj"
	}
	return "Module(" + strconv.Itoa(int(m)) + ")"
}

// Parent returns the HF submodule holding m ("self_attn" or "mlp").
func (m Module) Parent() string {
	if m <= OProj {
		return "self_attn"
	}
	return "mlp"
}

// ParseModule maps an HF module name to a Module.
func ParseModule(s string) (Module, error) {
	for m := QProj; m < NumModules; m++ {
		if m.String() == s {
			return m, nil
		}
	}
	return 0, fmt.Errorf("lora: unknown target module %q (want q_proj, k_proj, v_proj, o_proj, gate_proj, up_proj or down_proj)", s)
}

// AllModules lists every target module name.
func AllModules() []string {
	out := make([]string, NumModules)
	for m := QProj; m < NumModules; m++ {
		out[m] = m.String()
	}
	return out
}

// Config holds LoRA hyperparameters (PEFT's LoraConfig subset).
type Config struct {
	Rank          int      // r, > 0
	Alpha         float64  // lora_alpha, > 0
	Dropout       float64  // lora_dropout in [0, 1), applied to x on the LoRA path in training
	RSLoRA        bool     // use_rslora: scale = Alpha/√r instead of Alpha/r
	TargetModules []string // subset of AllModules(); empty means all seven
}

// Validate checks the hyperparameters.
func (c Config) Validate() error {
	switch {
	case c.Rank <= 0 || c.Rank > 4096:
		return fmt.Errorf("lora: rank %d not in 1..4096", c.Rank)
	case !(c.Alpha >= 1e-6 && c.Alpha <= 1e6):
		return fmt.Errorf("lora: alpha %g not in [1e-6, 1e6]", c.Alpha)
	case !(c.Dropout >= 0 && c.Dropout < 1):
		return fmt.Errorf("lora: dropout %g not in [0, 1)", c.Dropout)
	}
	for _, t := range c.TargetModules {
		if _, err := ParseModule(t); err != nil {
			return err
		}
	}
	return nil
}

// Scale returns the multiplier of B·A: Alpha/r, or Alpha/√r with RSLoRA.
func (c Config) Scale() float32 {
	if c.RSLoRA {
		return float32(c.Alpha / math.Sqrt(float64(c.Rank)))
	}
	return float32(c.Alpha / float64(c.Rank))
}

// Targets reports which modules the config targets.
func (c Config) Targets() [NumModules]bool {
	var t [NumModules]bool
	if len(c.TargetModules) == 0 {
		for i := range t {
			t[i] = true
		}
		return t
	}
	for _, s := range c.TargetModules {
		if m, err := ParseModule(s); err == nil {
			t[m] = true
		}
	}
	return t
}

// Pair is the adapter of one projection: A (r, in) and B (out, r), and their
// gradients when the adapter is trained (nil otherwise).
type Pair struct {
	In, Out      int
	A            []float32 // (r, in)
	B            []float32 // (out, r)
	GradA, GradB []float32 // same shapes, nil unless EnableGrad
	// BT is B transposed (r, out), kept for serving by
	// Adapter.PrepareServing; nil otherwise.
	BT []float32
}

// Adapter is a set of Pairs over the L layers of one base model.
type Adapter struct {
	Config    Config
	BaseModel string              // base_model_name_or_path written to adapter_config.json
	Layers    [][NumModules]*Pair // (L) per layer, nil where not targeted

	serving sync.Once
}

// PrepareServing readies a for inference, once: each pair also keeps Bᵀ
// (Pair.BT), with which a decoding step adds a few rows' low-rank delta as
// r row updates of length out rather than out dot products of length r.
// Call it only once the adapter's weights no longer change (never while
// training it: BT would go stale). It is safe for concurrent use.
func (a *Adapter) PrepareServing() {
	a.serving.Do(func() {
		r := a.Config.Rank
		for _, layer := range a.Layers {
			for _, p := range layer {
				if p == nil {
					continue
				}
				bt := make([]float32, len(p.B))
				for o := range p.Out {
					for j := range r {
						bt[j*p.Out+o] = p.B[o*r+j]
					}
				}
				p.BT = bt
			}
		}
	})
}

// ShapeFunc returns a module's (in, out) widths for the base model.
type ShapeFunc func(m Module) (in, out int)

// New returns a freshly initialised adapter over numLayers layers: A
// kaiming-uniform with the given seed, B zeros (PEFT's init_lora_weights=True).
func New(cfg Config, numLayers int, shape ShapeFunc, seed uint64) (*Adapter, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if numLayers <= 0 {
		return nil, fmt.Errorf("lora: %d layers", numLayers)
	}
	rng := rand.New(rand.NewPCG(seed, 0x4c6f5241))
	t := cfg.Targets()
	a := &Adapter{Config: cfg, Layers: make([][NumModules]*Pair, numLayers)}
	for l := range numLayers {
		for m := QProj; m < NumModules; m++ {
			if !t[m] {
				continue
			}
			in, out := shape(m)
			p := &Pair{In: in, Out: out, A: make([]float32, cfg.Rank*in), B: make([]float32, out*cfg.Rank)}
			bound := 1 / math.Sqrt(float64(in))
			for i := range p.A {
				p.A[i] = float32((rng.Float64()*2 - 1) * bound)
			}
			a.Layers[l][m] = p
		}
	}
	return a, nil
}

// Pair returns the adapter of module m in layer l, or nil.
func (a *Adapter) Pair(l int, m Module) *Pair {
	if a == nil || l >= len(a.Layers) {
		return nil
	}
	return a.Layers[l][m]
}

// EnableGrad allocates zeroed gradient buffers for every pair.
func (a *Adapter) EnableGrad() {
	a.each(func(_ int, _ Module, p *Pair) {
		if p.GradA == nil {
			p.GradA = make([]float32, len(p.A))
			p.GradB = make([]float32, len(p.B))
		}
	})
}

// ZeroGrad clears the gradient buffers.
func (a *Adapter) ZeroGrad() {
	a.each(func(_ int, _ Module, p *Pair) {
		clear(p.GradA)
		clear(p.GradB)
	})
}

func (a *Adapter) each(fn func(l int, m Module, p *Pair)) {
	for l := range a.Layers {
		for m := QProj; m < NumModules; m++ {
			if p := a.Layers[l][m]; p != nil {
				fn(l, m, p)
			}
		}
	}
}

// TensorName returns PEFT's saved name of the A or B matrix
// ("base_model.model.model.layers.3.self_attn.q_proj.lora_A.weight").
func TensorName(l int, m Module, b bool) string {
	ab := "lora_A"
	if b {
		ab = "lora_B"
	}
	return fmt.Sprintf("base_model.model.model.layers.%d.%s.%s.%s.weight", l, m.Parent(), m, ab)
}

// Named is one adapter tensor with its PEFT name, shape, data and gradient.
type Named struct {
	Name  string
	Shape []int
	Data  []float32
	Grad  []float32 // nil unless EnableGrad
}

// Tensors lists every A and B matrix by PEFT name, layer by layer, A before B.
func (a *Adapter) Tensors() []Named {
	var out []Named
	r := a.Config.Rank
	a.each(func(l int, m Module, p *Pair) {
		out = append(out,
			Named{TensorName(l, m, false), []int{r, p.In}, p.A, p.GradA},
			Named{TensorName(l, m, true), []int{p.Out, r}, p.B, p.GradB})
	})
	return out
}

// ConfigFile and WeightsFile are PEFT's file names.
const (
	ConfigFile  = "adapter_config.json"
	WeightsFile = "adapter_model.safetensors"
)

type peftConfig struct {
	PeftType          string   `json:"peft_type"`
	TaskType          string   `json:"task_type"`
	BaseModel         string   `json:"base_model_name_or_path"`
	R                 int      `json:"r"`
	LoraAlpha         float64  `json:"lora_alpha"`
	LoraDropout       float64  `json:"lora_dropout"`
	UseRSLoRA         bool     `json:"use_rslora"`
	TargetModules     any      `json:"target_modules"`
	Bias              string   `json:"bias"`
	FanInFanOut       bool     `json:"fan_in_fan_out"`
	InferenceMode     bool     `json:"inference_mode"`
	InitLoraWeights   bool     `json:"init_lora_weights"`
	ModulesToSave     []string `json:"modules_to_save"`
	UseDora           bool     `json:"use_dora"`
	LayersToTransform any      `json:"layers_to_transform"`
}

// Save writes dir/adapter_config.json and dir/adapter_model.safetensors
// (F32), each atomically. dir is created if needed.
func (a *Adapter) Save(dir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("lora: save %s: %w", dir, err)
	}
	var targets []string
	t := a.Config.Targets()
	for m := QProj; m < NumModules; m++ {
		if t[m] {
			targets = append(targets, m.String())
		}
	}
	pc := peftConfig{PeftType: "LORA", TaskType: "CAUSAL_LM", BaseModel: a.BaseModel, R: a.Config.Rank,
		LoraAlpha: a.Config.Alpha, LoraDropout: a.Config.Dropout, UseRSLoRA: a.Config.RSLoRA,
		TargetModules: targets, Bias: "none", InferenceMode: true, InitLoraWeights: true}
	cj, err := json.MarshalIndent(pc, "", "  ")
	if err != nil {
		return fmt.Errorf("lora: save %s: %w", dir, err)
	}
	var ts []*safetensors.Tensor
	for _, n := range a.Tensors() {
		ts = append(ts, &safetensors.Tensor{Name: n.Name, DType: safetensors.F32, Shape: n.Shape, F32: n.Data})
	}
	if err := safetensors.WriteFile(filepath.Join(dir, WeightsFile), ts, map[string]string{"format": "pt"}); err != nil {
		return fmt.Errorf("lora: save: %w", err)
	}
	if err := safetensors.WriteAtomic(filepath.Join(dir, ConfigFile), append(cj, '\n')); err != nil {
		return fmt.Errorf("lora: save: %w", err)
	}
	return nil
}

var tensorNameRE = regexp.MustCompile(`^base_model\.model\.model\.layers\.(\d+)\.(self_attn|mlp)\.([a-z_]+)\.lora_([AB])(?:\.default)?\.weight$`)

// ErrAdapter is wrapped by every Load error about the adapter's content.
var ErrAdapter = errors.New("lora: invalid adapter")

// Load reads a PEFT adapter directory. Only LoRA on the seven projections is
// supported (no DoRA, no bias training, no modules_to_save); anything else is
// an error naming the file and the field or tensor.
func Load(dir string) (*Adapter, error) {
	cp := filepath.Join(dir, ConfigFile)
	raw, err := os.ReadFile(cp)
	if err != nil {
		return nil, fmt.Errorf("lora: read %s: %w", cp, err)
	}
	cfg, base, err := parseConfig(cp, raw)
	if err != nil {
		return nil, err
	}
	wp := filepath.Join(dir, WeightsFile)
	ts, _, err := safetensors.ReadFile(wp, safetensors.Options{})
	if err != nil {
		return nil, fmt.Errorf("lora: %w", err)
	}
	type ent struct {
		l int
		m Module
	}
	found := map[ent]*Pair{}
	maxL := -1
	targets := cfg.Targets()
	for name, t := range ts {
		g := tensorNameRE.FindStringSubmatch(name)
		if g == nil {
			return nil, fmt.Errorf("lora: %s: %w: unexpected tensor %q", wp, ErrAdapter, name)
		}
		l, err := strconv.Atoi(g[1])
		if err != nil || l > 4096 {
			return nil, fmt.Errorf("lora: %s: %w: tensor %q: bad layer", wp, ErrAdapter, name)
		}
		m, err := ParseModule(g[3])
		if err != nil || m.Parent() != g[2] || !targets[m] {
			return nil, fmt.Errorf("lora: %s: %w: tensor %q is not a targeted module", wp, ErrAdapter, name)
		}
		if len(t.Shape) != 2 || t.F32 == nil {
			return nil, fmt.Errorf("lora: %s: %w: tensor %q: want a 2-D float matrix, got %s %v", wp, ErrAdapter, name, t.DType, t.Shape)
		}
		p := found[ent{l, m}]
		if p == nil {
			p = &Pair{}
			found[ent{l, m}] = p
		}
		if g[4] == "A" {
			if t.Shape[0] != cfg.Rank {
				return nil, fmt.Errorf("lora: %s: %w: tensor %q: shape %v, want (r=%d, in)", wp, ErrAdapter, name, t.Shape, cfg.Rank)
			}
			p.In, p.A = t.Shape[1], t.F32
		} else {
			if t.Shape[1] != cfg.Rank {
				return nil, fmt.Errorf("lora: %s: %w: tensor %q: shape %v, want (out, r=%d)", wp, ErrAdapter, name, t.Shape, cfg.Rank)
			}
			p.Out, p.B = t.Shape[0], t.F32
		}
		maxL = max(maxL, l)
	}
	if maxL < 0 {
		return nil, fmt.Errorf("lora: %s: %w: no LoRA tensors", wp, ErrAdapter)
	}
	a := &Adapter{Config: cfg, BaseModel: base, Layers: make([][NumModules]*Pair, maxL+1)}
	keys := make([]ent, 0, len(found))
	for k := range found {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, func(x, y ent) int { return (x.l*int(NumModules) + int(x.m)) - (y.l*int(NumModules) + int(y.m)) })
	for _, k := range keys {
		p := found[k]
		if p.A == nil || p.B == nil {
			return nil, fmt.Errorf("lora: %s: %w: layer %d %s has only one of lora_A/lora_B", wp, ErrAdapter, k.l, k.m)
		}
		for _, v := range p.A {
			if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
				return nil, fmt.Errorf("lora: %s: %w: tensor %q holds NaN or Inf", wp, ErrAdapter, TensorName(k.l, k.m, false))
			}
		}
		for _, v := range p.B {
			if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
				return nil, fmt.Errorf("lora: %s: %w: tensor %q holds NaN or Inf", wp, ErrAdapter, TensorName(k.l, k.m, true))
			}
		}
		a.Layers[k.l][k.m] = p
	}
	return a, nil
}

// parseConfig decodes and checks adapter_config.json (cp names it in errors).
func parseConfig(cp string, raw []byte) (Config, string, error) {
	var pc peftConfig
	if err := json.Unmarshal(raw, &pc); err != nil {
		return Config{}, "", fmt.Errorf("lora: parse %s: %w", cp, err)
	}
	bad := func(f string, a ...any) error {
		return fmt.Errorf("lora: %s: %w: %s", cp, ErrAdapter, fmt.Sprintf(f, a...))
	}
	if pc.PeftType != "LORA" {
		return Config{}, "", bad("peft_type %q, want LORA", pc.PeftType)
	}
	if pc.UseDora || pc.FanInFanOut || (pc.Bias != "" && pc.Bias != "none") || len(pc.ModulesToSave) > 0 || pc.LayersToTransform != nil {
		return Config{}, "", bad("use_dora, fan_in_fan_out, bias, modules_to_save and layers_to_transform are not supported")
	}
	cfg := Config{Rank: pc.R, Alpha: pc.LoraAlpha, Dropout: pc.LoraDropout, RSLoRA: pc.UseRSLoRA}
	switch tm := pc.TargetModules.(type) {
	case []any:
		for _, v := range tm {
			s, ok := v.(string)
			if !ok {
				return Config{}, "", bad("target_modules must be strings")
			}
			cfg.TargetModules = append(cfg.TargetModules, s)
		}
	case string:
		if tm != "all-linear" {
			if _, err := ParseModule(tm); err != nil {
				return Config{}, "", bad("target_modules %q: only a list of module names or \"all-linear\" is supported", tm)
			}
			cfg.TargetModules = []string{tm}
		}
	default:
		return Config{}, "", bad("target_modules missing")
	}
	if err := cfg.Validate(); err != nil {
		return Config{}, "", fmt.Errorf("%s: %w", cp, err)
	}
	return cfg, pc.BaseModel, nil
}
