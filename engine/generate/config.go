package generate

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
)

// GenerationConfig is what generation_config.json in a Hugging Face model
// directory says about decoding. Missing fields keep their zero values.
type GenerationConfig struct {
	BOSTokenID   int     // -1 when absent
	EOSTokenIDs  []int   // eos_token_id, a number or a list
	PadTokenID   int     // -1 when absent
	DoSample     bool    // do_sample
	Temperature  float64 // 0 when absent
	TopK         int     // top_k
	TopP         float64 // top_p
	MaxNewTokens int     // max_new_tokens, 0 when absent
	MaxLength    int     // max_length, 0 when absent
}

type rawGenCfg struct {
	BOS          *int            `json:"bos_token_id"`
	EOS          json.RawMessage `json:"eos_token_id"`
	Pad          *int            `json:"pad_token_id"`
	DoSample     bool            `json:"do_sample"`
	Temperature  *float64        `json:"temperature"`
	TopK         *int            `json:"top_k"`
	TopP         *float64        `json:"top_p"`
	MaxNewTokens *int            `json:"max_new_tokens"`
	MaxLength    *int            `json:"max_length"`
}

// GenerationConfigFile is the file name in a model directory.
const GenerationConfigFile = "generation_config.json"

// ParseGenerationConfig decodes generation_config.json bytes.
func ParseGenerationConfig(b []byte) (GenerationConfig, error) {
	var r rawGenCfg
	if err := json.Unmarshal(b, &r); err != nil {
		return GenerationConfig{}, fmt.Errorf("generate: parse %s: %w", GenerationConfigFile, err)
	}
	g := GenerationConfig{BOSTokenID: -1, PadTokenID: -1, DoSample: r.DoSample}
	if r.BOS != nil {
		g.BOSTokenID = *r.BOS
	}
	if r.Pad != nil {
		g.PadTokenID = *r.Pad
	}
	if len(r.EOS) > 0 && string(r.EOS) != "null" {
		var one int
		if err := json.Unmarshal(r.EOS, &one); err == nil {
			g.EOSTokenIDs = []int{one}
		} else if err := json.Unmarshal(r.EOS, &g.EOSTokenIDs); err != nil {
			return GenerationConfig{}, fmt.Errorf("generate: parse %s: eos_token_id is neither a number nor a list of numbers", GenerationConfigFile)
		}
	}
	if r.Temperature != nil {
		g.Temperature = *r.Temperature
	}
	if r.TopK != nil {
		g.TopK = *r.TopK
	}
	if r.TopP != nil {
		g.TopP = *r.TopP
	}
	if r.MaxNewTokens != nil {
		g.MaxNewTokens = *r.MaxNewTokens
	}
	if r.MaxLength != nil {
		g.MaxLength = *r.MaxLength
	}
	for _, id := range g.EOSTokenIDs {
		if id < 0 {
			return GenerationConfig{}, fmt.Errorf("generate: parse %s: negative eos_token_id %d", GenerationConfigFile, id)
		}
	}
	return g, nil
}

// LoadGenerationConfig reads dir/generation_config.json. A missing file is
// not an error: it returns the zero config with BOS and pad set to -1.
func LoadGenerationConfig(dir string) (GenerationConfig, error) {
	b, err := os.ReadFile(filepath.Join(dir, GenerationConfigFile))
	if errors.Is(err, fs.ErrNotExist) {
		return GenerationConfig{BOSTokenID: -1, PadTokenID: -1}, nil
	}
	if err != nil {
		return GenerationConfig{}, fmt.Errorf("generate: %w", err)
	}
	return ParseGenerationConfig(b)
}

// Sampling returns the config's default sampling options: greedy unless
// do_sample is set.
func (g GenerationConfig) Sampling() Sampling {
	if !g.DoSample {
		return Sampling{}
	}
	s := Sampling{Temperature: g.Temperature, TopK: g.TopK, TopP: g.TopP}
	if s.Temperature == 0 {
		s.Temperature = 1
	}
	return s
}
