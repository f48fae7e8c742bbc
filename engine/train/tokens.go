package train

import (
	"errors"

	"github.com/strata-ml/strata/engine/tokenizer"
)

// tokEncoder adapts *tokenizer.Tokenizer to Encoder.
type tokEncoder struct{ t *tokenizer.Tokenizer }

func (e tokEncoder) EncodeOffsets(text string) ([]int32, [][2]int, error) {
	ids, offs := e.t.EncodeWithOffsets(text, false)
	out := make([][2]int, len(offs))
	for i, o := range offs {
		out[i] = [2]int{o.Start, o.End}
	}
	return ids, out, nil
}

// TokensFor returns the Tokens for a Hugging Face tokenizer: BOS is the
// token its post-processor prepends with add_special_tokens (none if it
// prepends nothing), EOS its eos_token, falling back to eos, the first of
// the model's EOS ids. chat may be nil.
func TokensFor(t *tokenizer.Tokenizer, chat ChatRenderer, eos []int) (Tokens, error) {
	tk := Tokens{Encoder: tokEncoder{t}, Chat: chat, BOS: -1, EOS: t.EOS()}
	with, without := t.Encode("a", true), t.Encode("a", false)
	if len(with) > len(without) && len(without) > 0 && with[len(with)-len(without)] == without[0] && len(with)-len(without) == 1 {
		tk.BOS = with[0]
	}
	if tk.EOS < 0 && len(eos) > 0 {
		tk.EOS = int32(eos[0])
	}
	if tk.EOS < 0 {
		return Tokens{}, errors.New("train: the tokenizer has no eos_token and the model config no eos_token_id; cannot end completions")
	}
	return tk, nil
}
