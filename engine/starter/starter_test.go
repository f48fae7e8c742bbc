package starter

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/strata-ml/strata/engine/tokenizer"
	"github.com/strata-ml/strata/engine/train"
)

func TestTokenizerRoundTrip(t *testing.T) {
	dir := t.TempDir()
	if err := writeTokenizer(dir, pretrainTexts(), 2048); err != nil {
		t.Fatal(err)
	}
	tok, err := tokenizer.LoadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	if v := tok.VocabSize(); v > 2048 || v < 512 {
		t.Errorf("vocab %d, want 512..2048", v)
	}
	for _, s := range []string{"Ticket: we get ERR_429_API_LIMIT when calling the orders endpoint.", "naïve café ☕ 123"} {
		ids := tok.Encode(s, true)
		if ids[0] != tok.BOS() {
			t.Errorf("Encode(%q) does not start with BOS", s)
		}
		if got := tok.Decode(ids, true); got != s {
			t.Errorf("Decode(Encode(%q)) = %q", s, got)
		}
		t.Logf("%q: %d tokens", s, len(ids))
	}
}

func TestBuildQuick(t *testing.T) {
	start := time.Now()
	dir, err := EnsureWith(t.Context(), t.TempDir(), Options{PretrainEpochs: -1})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("built in %v", time.Since(start))
	for _, f := range []string{"config.json", "model.safetensors", "tokenizer.json", "tokenizer_config.json", "generation_config.json", "special_tokens_map.json"} {
		if _, err := os.Stat(filepath.Join(dir, f)); err != nil {
			t.Error(err)
		}
	}
	var cfg map[string]any
	b, _ := os.ReadFile(filepath.Join(dir, "config.json"))
	json.Unmarshal(b, &cfg)
	t.Logf("config %v", cfg)
	_ = train.HPBatchSize
}
