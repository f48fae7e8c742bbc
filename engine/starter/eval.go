package starter

import (
	"context"
	"fmt"
	"strings"

	"github.com/strata-ml/strata/engine/generate"
	"github.com/strata-ml/strata/engine/lora"
	"github.com/strata-ml/strata/engine/model"
	"github.com/strata-ml/strata/engine/tokenizer"
)

// ExactMatch generates a greedy completion for every prompt (batched, at
// most maxNew tokens, ending at the EOS ids) and returns the fraction whose
// trimmed text equals the trimmed expected completion, and the outputs.
func ExactMatch(ctx context.Context, m model.Model, tok *tokenizer.Tokenizer, ad *lora.Adapter, eos []int32, prompts, want []string, maxNew int) (float64, []string, error) {
	if len(prompts) != len(want) || len(prompts) == 0 {
		return 0, nil, fmt.Errorf("starter: exact match: %d prompts, %d answers", len(prompts), len(want))
	}
	reqs := make([]generate.Request, len(prompts))
	for i, p := range prompts {
		reqs[i] = generate.Request{Prompt: tok.Encode(p, true), MaxNewTokens: maxNew, EOS: eos, Adapter: ad}
	}
	const batch = 32
	outs := make([]string, len(prompts))
	hits := 0
	for lo := 0; lo < len(reqs); lo += batch {
		hi := min(lo+batch, len(reqs))
		res, err := generate.Generate(ctx, m, reqs[lo:hi], nil)
		if err != nil {
			return 0, nil, err
		}
		for i, r := range res {
			outs[lo+i] = tok.Decode(r.Tokens, true)
			if strings.TrimSpace(outs[lo+i]) == strings.TrimSpace(want[lo+i]) {
				hits++
			}
		}
	}
	return float64(hits) / float64(len(prompts)), outs, nil
}
