// Package inference serves models: a registry that loads, shares and unloads
// base weights and LoRA adapters under a memory budget, and one continuous
// batching engine per loaded base that runs many requests — each with its own
// optional adapter over the shared base — through the model's batched Step.
//
// # Scheduling
//
// Each [Engine] owns a goroutine that runs the model one iteration at a time.
// An iteration takes every running sequence that is decoding (one token each)
// plus chunks of the prompts of newly admitted sequences (at most
// PrefillChunk tokens of one prompt, MaxBatchTokens in all), so a long prompt
// never stalls the streams already running. New requests join the running
// batch at the next iteration; finished, cancelled or timed-out ones leave it
// at once. Sampling (greedy, temperature, top-k, top-p, seeded) is
// engine/generate's.
//
// # KV cache blocks
//
// KV memory is accounted in blocks of BlockTokens tokens. A sequence holds
// ⌈cached tokens / BlockTokens⌉ blocks, taken from the engine's pool as it
// grows. When the pool runs dry while a decoding sequence needs a block, the
// most recently admitted other sequence is preempted: its blocks return to
// the pool and it goes back to the head of the queue with its prompt and the
// tokens generated so far, to be recomputed when blocks free up (vLLM's
// recompute preemption). The engine's per-sequence caches are contiguous
// slices reused from a pool, so resident KV memory stays within a small
// factor (≤ 2×, from slice growth) of the blocks in use and does not grow with
// the number of requests served.
//
// # Errors
//
// Submit returns apierr kinds a Bedrock client expects: ThrottlingException
// when the queue is full, ValidationException for a prompt longer than the
// context, ModelTimeoutException past the request's deadline,
// ModelNotReadyException while weights are still loading (from the
// [Registry]), and ModelErrorException when the model itself fails.
//
// Shape glossary: B sequences in a step, T new tokens of a sequence, V vocab.
package inference

import (
	"github.com/strata-ml/strata/engine/model"
)

// Model is what the engine needs from a loaded decoder: engine/model's
// batched Step over per-sequence KV caches and adapters. A Model is used by
// one goroutine at a time (the engine's).
type Model interface {
	Config() *model.Config
	NewCache() *model.KVCache
	// Step runs each sequence's new tokens and returns, per sequence, the
	// last position's logits (V).
	Step(seqs []model.Seq) ([][]float32, error)
}

// Tokenizer converts text and token ids. Encode parses special-token text
// (a rendered chat template contains them); Decode skips nothing.
type Tokenizer interface {
	Encode(text string) ([]int32, error)
	Decode(ids []int32) (string, error)
}

// ChatTemplate renders a conversation into the prompt text the model was
// trained on, ending with the assistant turn's header.
type ChatTemplate interface {
	Render(system string, msgs []ChatMessage) (string, error)
}

// ChatMessage is one turn of a conversation.
type ChatMessage struct {
	Role string // "user" or "assistant"
	Text string
}

// Base is a loaded base model with everything needed to serve it.
type Base struct {
	Model     Model
	Tokenizer Tokenizer
	Template  ChatTemplate // nil: chats are rendered as plain "role: text" lines
	EOS       []int32      // end-of-sequence ids
	// ContextLen is the longest sequence (prompt + output) the model serves.
	ContextLen int
	// Bytes is the resident size of the weights, for the memory budget.
	Bytes int64
}

// KVBytesPerToken returns the KV cache bytes one token takes in every layer
// of m: keys and values in the dtype of the caches m makes (bfloat16 for a
// model served with bfloat16 weights, else float32).
func KVBytesPerToken(m Model) int64 {
	size := int64(4)
	if m.NewCache().BF16() {
		size = 2
	}
	cfg := m.Config()
	return 2 * int64(cfg.NumHiddenLayers) * int64(cfg.KVDim()) * size
}
