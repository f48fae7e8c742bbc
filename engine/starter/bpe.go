package starter

import (
	"fmt"
	"path/filepath"
	"slices"

	"github.com/strata-ml/strata/engine/safetensors"
	"github.com/strata-ml/strata/engine/tokenizer"
)

// trainBPE writes dir/tokenizer.json: a byte-level BPE of at most vocab
// tokens trained on texts with engine/tokenizer's trainer, with the special
// tokens first and BOS prepended by the post-processor (as Llama 3's).
func trainBPE(dir string, texts []string, vocab int) error {
	b, err := tokenizer.TrainBPE(slices.Values(texts), tokenizer.TrainOptions{
		VocabSize: vocab, SpecialTokens: specialTokens, BOS: BOSToken,
	})
	if err != nil {
		return err
	}
	if err := safetensors.WriteAtomic(filepath.Join(dir, "tokenizer.json"), b); err != nil {
		return fmt.Errorf("write tokenizer.json: %w", err)
	}
	return nil
}
