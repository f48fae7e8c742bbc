package model

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
)

// Config is a decoder's hyperparameters, decoded from a Hugging Face
// config.json. Zero-valued optional fields are filled by [Config.Fill].
type Config struct {
	Architectures         []string     `json:"architectures"`
	ModelType             string       `json:"model_type,omitempty"`
	HiddenSize            int          `json:"hidden_size"`                   // C
	IntermediateSize      int          `json:"intermediate_size"`             // FF
	NumHiddenLayers       int          `json:"num_hidden_layers"`             // L
	NumAttentionHeads     int          `json:"num_attention_heads"`           // H
	NumKeyValueHeads      int          `json:"num_key_value_heads,omitempty"` // Hkv (default H)
	HeadDim               int          `json:"head_dim,omitempty"`            // D (default C/H)
	VocabSize             int          `json:"vocab_size"`                    // V
	RMSNormEps            float64      `json:"rms_norm_eps,omitempty"`        // default 1e-6
	RopeTheta             float64      `json:"rope_theta,omitempty"`          // default 10000
	RopeScaling           *RopeScaling `json:"rope_scaling,omitempty"`
	MaxPositionEmbeddings int          `json:"max_position_embeddings,omitempty"`
	TieWordEmbeddings     bool         `json:"tie_word_embeddings"`
	HiddenAct             string       `json:"hidden_act,omitempty"` // must be "silu"
	// SlidingWindow is the attention window in tokens (Mistral; Qwen2 when
	// UseSlidingWindow). A query at index i sees keys j with i-W < j ≤ i.
	SlidingWindow    *int  `json:"sliding_window,omitempty"`
	UseSlidingWindow *bool `json:"use_sliding_window,omitempty"` // Qwen2 only; default false
	// AttentionBias adds biases to q, k, v and o projections (Llama option).
	AttentionBias bool `json:"attention_bias,omitempty"`
	MLPBias       bool `json:"mlp_bias,omitempty"` // unsupported when true
	// QKVBias (not in config.json) is set by Fill for Qwen2, whose q, k and v
	// projections always carry biases and o_proj none.
	QKVBias    bool            `json:"-"`
	BOSTokenID *int            `json:"bos_token_id,omitempty"`
	EOSTokenID json.RawMessage `json:"eos_token_id,omitempty"` // int or list; see EOSTokenIDs
	TorchDType string          `json:"torch_dtype,omitempty"`
}

// RopeScaling is config.json's rope_scaling. Supported types: "llama3" and
// "linear" (key "rope_type", or the older "type").
type RopeScaling struct {
	RopeType                      string  `json:"rope_type,omitempty"`
	Type                          string  `json:"type,omitempty"`
	Factor                        float64 `json:"factor"`
	LowFreqFactor                 float64 `json:"low_freq_factor,omitempty"`
	HighFreqFactor                float64 `json:"high_freq_factor,omitempty"`
	OriginalMaxPositionEmbeddings int     `json:"original_max_position_embeddings,omitempty"`
}

// Kind returns the scaling type ("llama3", "linear", ...).
func (r *RopeScaling) Kind() string {
	if r.RopeType != "" {
		return r.RopeType
	}
	return r.Type
}

// ErrUnsupported is wrapped by errors for architectures or options the engine
// does not implement.
var ErrUnsupported = errors.New("unsupported")

// Architecture returns the first entry of Architectures.
func (c *Config) Architecture() string {
	if len(c.Architectures) == 0 {
		return ""
	}
	return c.Architectures[0]
}

// KVDim returns Hkv*D, the width of k_proj and v_proj outputs.
func (c *Config) KVDim() int { return c.NumKeyValueHeads * c.HeadDim }

// QDim returns H*D, the width of q_proj's output.
func (c *Config) QDim() int { return c.NumAttentionHeads * c.HeadDim }

// Window returns the sliding-window size in effect, or 0 for full causal attention.
func (c *Config) Window() int {
	if c.SlidingWindow == nil || *c.SlidingWindow <= 0 {
		return 0
	}
	if c.Architecture() != "MistralForCausalLM" {
		return 0 // Llama has none; Qwen2 only with use_sliding_window (rejected by Validate)
	}
	return *c.SlidingWindow
}

// EOSTokenIDs returns eos_token_id as a list (it may be an int or a list in config.json).
func (c *Config) EOSTokenIDs() []int {
	if len(c.EOSTokenID) == 0 {
		return nil
	}
	var one int
	if json.Unmarshal(c.EOSTokenID, &one) == nil {
		return []int{one}
	}
	var many []int
	if json.Unmarshal(c.EOSTokenID, &many) == nil {
		return many
	}
	return nil
}

// Fill sets defaults (HF's) for fields config.json may omit.
func (c *Config) Fill() {
	if c.NumKeyValueHeads == 0 {
		c.NumKeyValueHeads = c.NumAttentionHeads
	}
	if c.HeadDim == 0 && c.NumAttentionHeads > 0 {
		c.HeadDim = c.HiddenSize / c.NumAttentionHeads
	}
	if c.RMSNormEps == 0 {
		c.RMSNormEps = 1e-6
	}
	if c.RopeTheta == 0 {
		c.RopeTheta = 10000
	}
	if c.HiddenAct == "" {
		c.HiddenAct = "silu"
	}
	if c.MaxPositionEmbeddings == 0 {
		c.MaxPositionEmbeddings = 2048
	}
	if c.Architecture() == "Qwen2ForCausalLM" {
		c.QKVBias = true
	}
}

// Validate reports an inconsistent or unsupported configuration. It checks
// only what every Llama-family decoder needs; architectures add their own
// checks when registered.
func (c *Config) Validate() error {
	bad := func(f string, a ...any) error { return fmt.Errorf("model: config: "+f, a...) }
	switch {
	case c.HiddenSize <= 0:
		return bad("hidden_size %d must be > 0", c.HiddenSize)
	case c.IntermediateSize <= 0:
		return bad("intermediate_size %d must be > 0", c.IntermediateSize)
	case c.NumHiddenLayers <= 0:
		return bad("num_hidden_layers %d must be > 0", c.NumHiddenLayers)
	case c.NumAttentionHeads <= 0:
		return bad("num_attention_heads %d must be > 0", c.NumAttentionHeads)
	case c.NumKeyValueHeads <= 0 || c.NumAttentionHeads%c.NumKeyValueHeads != 0:
		return bad("num_key_value_heads %d must divide num_attention_heads %d", c.NumKeyValueHeads, c.NumAttentionHeads)
	case c.HeadDim <= 0 || c.HeadDim%2 != 0:
		return bad("head_dim %d must be even and > 0", c.HeadDim)
	case c.VocabSize <= 0:
		return bad("vocab_size %d must be > 0", c.VocabSize)
	case !(c.RMSNormEps > 0) || math.IsInf(c.RMSNormEps, 0):
		return bad("rms_norm_eps %g must be > 0", c.RMSNormEps)
	case !(c.RopeTheta > 0) || math.IsInf(c.RopeTheta, 0):
		return bad("rope_theta %g must be > 0", c.RopeTheta)
	case c.HiddenAct != "silu":
		return fmt.Errorf("model: config: hidden_act %q: %w (only silu)", c.HiddenAct, ErrUnsupported)
	case c.MLPBias:
		return fmt.Errorf("model: config: mlp_bias: %w", ErrUnsupported)
	case c.UseSlidingWindow != nil && *c.UseSlidingWindow:
		return fmt.Errorf("model: config: use_sliding_window (Qwen2 per-layer windows): %w", ErrUnsupported)
	case c.HiddenSize > 1<<16 || c.IntermediateSize > 1<<18 || c.VocabSize > 1<<22 || c.NumHiddenLayers > 1024 || c.NumAttentionHeads > 1024:
		return bad("dimensions too large")
	}
	if r := c.RopeScaling; r != nil {
		switch r.Kind() {
		case "llama3":
			if !(r.Factor > 0) || !(r.LowFreqFactor > 0) || !(r.HighFreqFactor > r.LowFreqFactor) || r.OriginalMaxPositionEmbeddings <= 0 {
				return bad("rope_scaling llama3 needs factor > 0, 0 < low_freq_factor < high_freq_factor, original_max_position_embeddings > 0")
			}
		case "linear":
			if !(r.Factor > 0) {
				return bad("rope_scaling linear needs factor > 0")
			}
		case "default", "":
		default:
			return fmt.Errorf("model: config: rope_scaling type %q: %w (llama3, linear)", r.Kind(), ErrUnsupported)
		}
	}
	return nil
}

// ParseConfig decodes and validates a config.json, filling defaults.
func ParseConfig(data []byte) (*Config, error) {
	var c Config
	if err := json.Unmarshal(data, &c); err != nil {
		return nil, fmt.Errorf("model: parse config: %w", err)
	}
	c.Fill()
	if err := c.Validate(); err != nil {
		return nil, err
	}
	return &c, nil
}

// LoadConfig reads dir/config.json.
func LoadConfig(dir string) (*Config, error) {
	p := filepath.Join(dir, "config.json")
	data, err := os.ReadFile(p)
	if err != nil {
		return nil, fmt.Errorf("model: read %s: %w", p, err)
	}
	c, err := ParseConfig(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", p, err)
	}
	return c, nil
}

// JSON returns the config as config.json content (HF field names).
func (c *Config) JSON() ([]byte, error) {
	return json.MarshalIndent(c, "", "  ")
}
