// Package generate turns a causal language model into text: token samplers
// (greedy, temperature, top-k, top-p with a seeded random stream), stop
// sequences matched on streamed text, end-of-sequence ids from
// generation_config.json, and the decode loop that runs batched prefill and
// per-token decode steps over a model's KV cache.
//
// The sampler pieces (Sampling, Sampler, StopMatcher, GenerationConfig) do
// not depend on any model and are shared with the serving engine.
//
// Shape glossary: B sequences in a batch, T tokens, V vocabulary size.
package generate
