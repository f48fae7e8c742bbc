package generate

import (
	"context"
	"errors"
	"fmt"
	"slices"

	"github.com/strata-ml/strata/engine/lora"
	"github.com/strata-ml/strata/engine/model"
)

// LM is what the decode loop needs from a model; model.Model satisfies it.
type LM interface {
	NewCache() *model.KVCache
	Step(seqs []model.Seq) ([][]float32, error)
}

// Request is one sequence to continue.
type Request struct {
	Prompt       []int32       // prompt token ids, at least one
	MaxNewTokens int           // > 0
	Sampling     Sampling      // zero value: greedy
	EOS          []int32       // token ids that end the sequence (not emitted)
	Adapter      *lora.Adapter // optional LoRA adapter, applied unmerged
}

// Finish reasons.
const (
	FinishEOS     = "eos"    // an EOS id was sampled
	FinishLength  = "length" // MaxNewTokens reached
	FinishStopped = "stop"   // OnToken asked to stop (e.g. a stop sequence)
)

// Result is one finished sequence.
type Result struct {
	Tokens       []int32 // generated ids, without the EOS
	FinishReason string
	PromptTokens int
}

// OnToken receives each generated token of sequence i as it is sampled (EOS
// ids are not passed). Returning true ends that sequence with FinishStopped.
type OnToken func(i int, id int32) (stop bool)

// Generate continues every request in one batch: a single prefill Step over
// all prompts, then one Step per generated token over the sequences still
// running. Each sequence has its own KV cache, sampler and adapter. It
// returns when every sequence has finished or ctx is done (then with
// ctx.Err() and the partial results).
func Generate(ctx context.Context, lm LM, reqs []Request, on OnToken) ([]Result, error) {
	type live struct {
		i       int
		cache   *model.KVCache
		sampler *Sampler
		next    []int32
	}
	res := make([]Result, len(reqs))
	var run []*live
	for i, r := range reqs {
		if len(r.Prompt) == 0 {
			return nil, fmt.Errorf("generate: request %d: empty prompt", i)
		}
		if r.MaxNewTokens <= 0 {
			return nil, fmt.Errorf("generate: request %d: maxNewTokens %d must be > 0", i, r.MaxNewTokens)
		}
		if err := r.Sampling.Validate(); err != nil {
			return nil, fmt.Errorf("generate: request %d: %w", i, err)
		}
		res[i].PromptTokens = len(r.Prompt)
		run = append(run, &live{i: i, cache: lm.NewCache(), sampler: NewSampler(r.Sampling), next: r.Prompt})
	}
	seqs := make([]model.Seq, 0, len(run))
	for len(run) > 0 {
		if err := ctx.Err(); err != nil {
			return res, err
		}
		seqs = seqs[:0]
		for _, l := range run {
			seqs = append(seqs, model.Seq{Tokens: l.next, Cache: l.cache, Adapter: reqs[l.i].Adapter})
		}
		logits, err := lm.Step(seqs)
		if err != nil {
			return res, fmt.Errorf("generate: %w", err)
		}
		if len(logits) != len(run) {
			return res, errors.New("generate: model returned the wrong number of logit rows")
		}
		kept := run[:0]
		for k, l := range run {
			r := &reqs[l.i]
			id := int32(l.sampler.Sample(logits[k]))
			out := &res[l.i]
			switch {
			case slices.Contains(r.EOS, id):
				out.FinishReason = FinishEOS
				continue
			}
			out.Tokens = append(out.Tokens, id)
			if on != nil && on(l.i, id) {
				out.FinishReason = FinishStopped
				continue
			}
			if len(out.Tokens) >= r.MaxNewTokens {
				out.FinishReason = FinishLength
				continue
			}
			l.next = []int32{id}
			kept = append(kept, l)
		}
		run = kept
	}
	return res, nil
}
