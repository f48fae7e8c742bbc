// Package dataset validates training and validation datasets before a
// customization job trains on them, with Amazon Bedrock's rules and
// failure messages (SPEC.md §A.8–§A.10), and reports what training will
// see: every bad record by file, line, code and reason; token counts and
// histograms from the base model's own tokenizer and chat template; records
// that would be truncated; the share of tokens carrying loss; duplicates,
// near-empty records and train/validation overlap; a rendered example with
// its loss mask; the optimizer steps the hyperparameters imply; and time
// and memory estimates.
//
// Validate reads each file once, streaming, in bounded memory: lines are
// capped (a line over the cap is skipped with a precise error, not
// buffered), issues past a threshold spill to a temporary file, and
// duplicate detection uses a capped hash set.
//
// The rules depend on the base model's Family and the CustomizationType
// (LimitsFor). The package does no HTTP: the server and the job runner call
// Validate and serve Report.WriteJSON or Report.FailureMessage.
package dataset
