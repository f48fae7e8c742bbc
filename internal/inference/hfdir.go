package inference

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"

	"github.com/strata-ml/strata/engine/generate"
	"github.com/strata-ml/strata/engine/lora"
	"github.com/strata-ml/strata/engine/model"
	"github.com/strata-ml/strata/engine/template"
	"github.com/strata-ml/strata/engine/tokenizer"
)

// HFTokenizer adapts engine/tokenizer to Tokenizer. Encode adds the
// tokenizer's special tokens (BOS) unless the text already starts with them;
// Decode skips special tokens.
type HFTokenizer struct{ T *tokenizer.Tokenizer }

// Encode tokenizes text, parsing special-token text.
func (h HFTokenizer) Encode(text string) ([]int32, error) {
	ids := h.T.Encode(text, true)
	if bos := h.T.BOS(); bos >= 0 && len(ids) >= 2 && ids[0] == bos && ids[1] == bos {
		ids = ids[1:]
	}
	return ids, nil
}

// Decode turns ids into text without special tokens.
func (h HFTokenizer) Decode(ids []int32) (string, error) { return h.T.Decode(ids, true), nil }

// HFTemplate adapts engine/template to ChatTemplate.
type HFTemplate struct {
	T   *template.Template
	Cfg tokenizer.Config
}

// Render renders the conversation with the generation prompt appended.
func (h HFTemplate) Render(system string, msgs []ChatMessage) (string, error) {
	in := template.Input{System: system, AddGenerationPrompt: true}
	for _, m := range msgs {
		in.Messages = append(in.Messages, template.Message{Role: m.Role, Content: m.Text})
	}
	return h.T.Render(template.InputFor(h.Cfg, in))
}

// dirBytes sums the sizes of the safetensors files in dir.
func dirBytes(dir string) int64 {
	var n int64
	files, _ := filepath.Glob(filepath.Join(dir, "*.safetensors"))
	for _, f := range files {
		if st, err := os.Stat(f); err == nil {
			n += st.Size()
		}
	}
	return n
}

// PrepareModel lays a loaded model out for serving where it knows how:
// projections that share an input fused into one matrix each, so that a
// decoding step runs them as one product. A model is prepared once, before
// it serves.
func PrepareModel(m model.Model) {
	if f, ok := m.(interface{ FuseProjections() }); ok {
		f.FuseProjections()
	}
}

// HFBaseSpec returns the BaseSpec of a Hugging Face model directory
// (config.json, *.safetensors, tokenizer.json, optional chat template and
// generation_config.json). The key is the cleaned directory path.
func HFBaseSpec(dir string) BaseSpec {
	dir = filepath.Clean(dir)
	return BaseSpec{Key: dir, Bytes: dirBytes(dir), Load: func(ctx context.Context) (*Base, error) {
		return LoadHFDir(dir)
	}}
}

// LoadHFDir loads a Hugging Face model directory for serving (BF16 weights
// stay BF16 in memory).
func LoadHFDir(dir string) (*Base, error) {
	m, err := model.Load(dir, model.Options{KeepBF16: true})
	if err != nil {
		return nil, fmt.Errorf("inference: load %s: %w", dir, err)
	}
	PrepareModel(m)
	tok, err := tokenizer.LoadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("inference: load %s: %w", dir, err)
	}
	gen, err := generate.LoadGenerationConfig(dir)
	if err != nil {
		return nil, fmt.Errorf("inference: load %s: %w", dir, err)
	}
	b := &Base{Model: m, Tokenizer: HFTokenizer{tok}, ContextLen: m.Config().MaxPositionEmbeddings, Bytes: dirBytes(dir)}
	if tc := tok.Config(); tc.ChatTemplate != "" {
		t, err := template.FromConfig(tc, template.Options{})
		if err != nil {
			return nil, fmt.Errorf("inference: load %s: chat template: %w", dir, err)
		}
		b.Template = HFTemplate{T: t, Cfg: tc}
	}
	for _, e := range gen.EOSTokenIDs {
		b.EOS = append(b.EOS, int32(e))
	}
	if len(b.EOS) == 0 {
		for _, e := range m.Config().EOSTokenIDs() {
			b.EOS = append(b.EOS, int32(e))
		}
	}
	if e := tok.EOS(); e >= 0 && !slices.Contains(b.EOS, e) {
		b.EOS = append(b.EOS, e)
	}
	return b, nil
}

// adapterChecker is the optional capability of a model that validates an
// adapter's shapes (engine/model/llama implements it).
type adapterChecker interface {
	CheckAdapter(a *lora.Adapter) error
}

// PEFTAdapterSpec returns the AdapterSpec of a PEFT adapter directory.
func PEFTAdapterSpec(dir string) *AdapterSpec {
	dir = filepath.Clean(dir)
	return &AdapterSpec{Key: dir, Load: func(ctx context.Context, b *Base) (*lora.Adapter, int64, error) {
		a, err := lora.Load(dir)
		if err != nil {
			return nil, 0, fmt.Errorf("inference: adapter %s: %w", dir, err)
		}
		if c, ok := b.Model.(adapterChecker); ok {
			if err := c.CheckAdapter(a); err != nil {
				return nil, 0, fmt.Errorf("inference: adapter %s does not fit its base: %w", dir, err)
			}
		}
		var n int64
		for _, t := range a.Tensors() {
			n += 4 * int64(len(t.Data))
		}
		return a, n, nil
	}}
}
