package tokenizer

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
)

// Config holds the tokenizer_config.json settings that matter for encoding
// and chat templates.
type Config struct {
	BOSToken, EOSToken, PadToken, UnkToken string
	// AddBOSToken and AddEOSToken are nil when the file does not set them.
	AddBOSToken, AddEOSToken *bool
	// ChatTemplate is the default chat template ("" if none). A separate
	// chat_template.jinja file in the directory takes precedence, as in
	// transformers.
	ChatTemplate string
	// ChatTemplates holds named templates when the config lists several
	// (for example "default" and "tool_use").
	ChatTemplates  map[string]string
	TokenizerClass string
	// Extra holds every string-valued special token entry (for example
	// "boi_token"), keyed by name, for use as template variables.
	Extra map[string]string
}

// tokenString reads a special token written as a string or as an
// AddedToken object with "content".
func tokenString(r json.RawMessage) (string, error) {
	if isNull(r) {
		return "", nil
	}
	var s string
	if err := json.Unmarshal(r, &s); err == nil {
		return s, nil
	}
	var o struct {
		Content string `json:"content"`
	}
	if err := json.Unmarshal(r, &o); err != nil {
		return "", err
	}
	return o.Content, nil
}

// ParseConfig parses tokenizer_config.json.
func ParseConfig(data []byte) (Config, error) {
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(data, &raw); err != nil {
		return Config{}, fmt.Errorf("tokenizer_config: %w", err)
	}
	c := Config{Extra: map[string]string{}}
	var err error
	for _, k := range []struct {
		key string
		dst *string
	}{{"bos_token", &c.BOSToken}, {"eos_token", &c.EOSToken}, {"pad_token", &c.PadToken}, {"unk_token", &c.UnkToken}} {
		if *k.dst, err = tokenString(raw[k.key]); err != nil {
			return Config{}, fmt.Errorf("tokenizer_config: %s: %w", k.key, err)
		}
	}
	for k, v := range raw {
		if len(k) > 6 && k[len(k)-6:] == "_token" {
			if s, err := tokenString(v); err == nil && s != "" {
				c.Extra[k] = s
			}
		}
	}
	for _, k := range []struct {
		key string
		dst **bool
	}{{"add_bos_token", &c.AddBOSToken}, {"add_eos_token", &c.AddEOSToken}} {
		if v, ok := raw[k.key]; ok && !isNull(v) {
			var b bool
			if err := json.Unmarshal(v, &b); err != nil {
				return Config{}, fmt.Errorf("tokenizer_config: %s: %w", k.key, err)
			}
			*k.dst = &b
		}
	}
	if v, ok := raw["tokenizer_class"]; ok && !isNull(v) {
		_ = json.Unmarshal(v, &c.TokenizerClass)
	}
	if v, ok := raw["chat_template"]; ok && !isNull(v) {
		var s string
		if err := json.Unmarshal(v, &s); err == nil {
			c.ChatTemplate = s
		} else {
			var named []struct {
				Name     string `json:"name"`
				Template string `json:"template"`
			}
			if err := json.Unmarshal(v, &named); err != nil {
				return Config{}, fmt.Errorf("tokenizer_config: chat_template: want string or [{name, template}]: %w", err)
			}
			c.ChatTemplates = map[string]string{}
			for _, n := range named {
				c.ChatTemplates[n.Name] = n.Template
			}
			c.ChatTemplate = c.ChatTemplates["default"]
		}
	}
	return c, nil
}

// LoadDir loads tokenizer.json from dir together with tokenizer_config.json
// (bos/eos/pad tokens, add_bos_token/add_eos_token, chat_template) and
// chat_template.jinja when present.
//
// When tokenizer_config.json sets add_bos_token or add_eos_token, the
// post-processor becomes "[bos] $A [eos]" accordingly, as transformers'
// Llama and Gemma tokenizers do; otherwise tokenizer.json's post-processor
// is used unchanged.
func LoadDir(dir string) (*Tokenizer, error) {
	t, err := Load(filepath.Join(dir, "tokenizer.json"))
	if err != nil {
		return nil, err
	}
	b, err := os.ReadFile(filepath.Join(dir, "tokenizer_config.json"))
	if errors.Is(err, fs.ErrNotExist) {
		return t, nil
	}
	if err != nil {
		return nil, fmt.Errorf("tokenizer: %w", err)
	}
	c, err := ParseConfig(b)
	if err != nil {
		return nil, fmt.Errorf("tokenizer: %s: %w", dir, err)
	}
	if j, err := os.ReadFile(filepath.Join(dir, "chat_template.jinja")); err == nil {
		c.ChatTemplate = string(j)
	}
	if err := t.applyConfig(c); err != nil {
		return nil, fmt.Errorf("tokenizer: %s: %w", dir, err)
	}
	return t, nil
}

// applyConfig sets special ids and the add_bos/add_eos template from c.
func (t *Tokenizer) applyConfig(c Config) error {
	t.cfg = c
	look := func(name, tok string) (int32, error) {
		if tok == "" {
			return -1, nil
		}
		id, ok := t.TokenToID(tok)
		if !ok {
			return -1, fmt.Errorf("tokenizer_config: %s %q is not in the vocabulary", name, tok)
		}
		return id, nil
	}
	var err error
	if t.bos, err = look("bos_token", c.BOSToken); err != nil {
		return err
	}
	if t.eos, err = look("eos_token", c.EOSToken); err != nil {
		return err
	}
	if t.pad, err = look("pad_token", c.PadToken); err != nil {
		return err
	}
	if c.AddBOSToken == nil && c.AddEOSToken == nil {
		if c.BOSToken == "" {
			t.finish()
		}
		return nil
	}
	addBOS := c.AddBOSToken != nil && *c.AddBOSToken
	addEOS := c.AddEOSToken != nil && *c.AddEOSToken
	var tp templateProc
	if addBOS {
		if t.bos < 0 {
			return errors.New("tokenizer_config: add_bos_token is true but bos_token is not set")
		}
		tp.pre = []int32{t.bos}
	}
	if addEOS {
		if t.eos < 0 {
			return errors.New("tokenizer_config: add_eos_token is true but eos_token is not set")
		}
		tp.post = []int32{t.eos}
	}
	t.post = tp
	return nil
}
