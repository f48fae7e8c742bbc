// Package train runs one fine-tuning or continued pre-training job on an
// engine model: it reads the dataset files (SPEC.md §A.8 formats), turns
// records into token sequences with the loss on the right tokens, and runs
// AdamW with gradient accumulation, clipping, warmup and decay, validation,
// early stopping, metrics, health checks and checkpoints that resume exactly.
//
// # Data
//
// Fine-tuning: prompt/completion records learn the completion and EOS;
// conversations (bedrock-conversation-2024 or {"system","messages"}) are
// rendered with the model's chat template and learn the assistant turns.
// One record is one example; batchSize examples make one optimizer step,
// split into micro-batches of at most microBatchTokens tokens (rows padded to
// the longest in the micro-batch) whose gradients accumulate into the
// gradient of the step's token-mean loss.
//
// Continued pre-training: {"input"} records and .txt files are documents,
// BOS + text + EOS, learned on every token and packed into sequences of
// maxSeqLen tokens; Seg and Pos keep documents from attending to each other.
// One packed sequence is one example.
//
// # Order and resume
//
// Epoch e visits the examples in a permutation drawn from (seed, e), so a
// run is a pure function of its inputs and seed. A checkpoint holds the
// trainable weights, the AdamW moments and step, and the position in the data
// order; Run with Resume continues from the newest checkpoint that verifies
// and produces the same losses as a run that was never interrupted.
//
// # Metrics
//
// OutputDir/step_wise_training_metrics.csv has one row per optimizer step
// (step_number from 0, epoch_number from 0, training_loss, perplexity) and
// OutputDir/validation_metrics.csv one row per validation pass
// (validation_loss instead of training_loss), as Bedrock writes them
// (SPEC.md §A.11). Events go to Options.OnEvent as they happen; Event.Step
// counts steps done (from 1) and Event.Epoch is 1-based.
//
// Shape glossary: B rows per micro-batch, T tokens per row, V vocabulary.
package train
