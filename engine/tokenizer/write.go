package tokenizer

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
)

// ConfigJSON renders c as a tokenizer_config.json that LoadDir (and
// transformers) read back: the special tokens, add_bos_token/add_eos_token
// when set, the chat template and tokenizer_class.
func ConfigJSON(c Config) ([]byte, error) {
	m := map[string]any{}
	for k, v := range c.Extra {
		m[k] = v
	}
	set := func(k, v string) {
		if v != "" {
			m[k] = v
		}
	}
	set("bos_token", c.BOSToken)
	set("eos_token", c.EOSToken)
	set("pad_token", c.PadToken)
	set("unk_token", c.UnkToken)
	set("chat_template", c.ChatTemplate)
	cls := c.TokenizerClass
	if cls == "" {
		cls = "PreTrainedTokenizerFast"
	}
	m["tokenizer_class"] = cls
	if c.AddBOSToken != nil {
		m["add_bos_token"] = *c.AddBOSToken
	}
	if c.AddEOSToken != nil {
		m["add_eos_token"] = *c.AddEOSToken
	}
	b, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return nil, fmt.Errorf("tokenizer: config json: %w", err)
	}
	return append(b, '\n'), nil
}

// WriteDir writes tokenizer.json (tokJSON, for example from TrainBPE) and a
// tokenizer_config.json built from c into dir, each atomically (temporary
// file, fsync, rename), so LoadDir(dir) loads them back.
func WriteDir(dir string, tokJSON []byte, c Config) error {
	if _, err := FromJSON(tokJSON); err != nil {
		return fmt.Errorf("tokenizer: write %s: %w", dir, err)
	}
	cfg, err := ConfigJSON(c)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("tokenizer: write %s: %w", dir, err)
	}
	if err := writeAtomic(filepath.Join(dir, "tokenizer.json"), tokJSON); err != nil {
		return err
	}
	return writeAtomic(filepath.Join(dir, "tokenizer_config.json"), cfg)
}

func writeAtomic(path string, data []byte) (err error) {
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return fmt.Errorf("tokenizer: write %s: %w", path, err)
	}
	defer func() {
		if err != nil {
			f.Close()
			os.Remove(f.Name())
		}
	}()
	if _, err = f.Write(data); err != nil {
		return fmt.Errorf("tokenizer: write %s: %w", path, err)
	}
	if err = f.Sync(); err != nil {
		return fmt.Errorf("tokenizer: sync %s: %w", path, err)
	}
	if err = f.Close(); err != nil {
		return fmt.Errorf("tokenizer: close %s: %w", path, err)
	}
	if err = os.Rename(f.Name(), path); err != nil {
		return fmt.Errorf("tokenizer: rename %s: %w", path, err)
	}
	if d, derr := os.Open(filepath.Dir(path)); derr == nil {
		d.Sync()
		d.Close()
	}
	return nil
}
