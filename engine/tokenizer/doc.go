// Package tokenizer loads Hugging Face tokenizer.json files and encodes and
// decodes text exactly as the Hugging Face Rust tokenizers library does.
//
// It implements, in pure Go, the pipeline of the Rust library: added-token
// extraction, normalizers (NFC/NFD/NFKC/NFKD, Lowercase, Prepend, Replace,
// Strip, StripAccents, Sequence), pre-tokenizers (ByteLevel, Split with the
// original regex, Metaspace, Digits, Punctuation, Whitespace, WhitespaceSplit,
// Sequence), the BPE model (byte_fallback, ignore_merges, fuse_unk, merges in
// string and array form) and the Unigram model (Viterbi, byte_fallback),
// post-processors (TemplateProcessing, ByteLevel, Roberta, Bert,
// Sequence) and decoders (ByteLevel, Replace, ByteFallback, Fuse, Strip,
// Metaspace, Sequence). Components it does not implement are rejected at load
// time with an error naming them; nothing falls back silently.
//
// Token ids are int32 throughout, matching the model's token tensors.
// Byte offsets returned by EncodeWithOffsets index the original input string.
//
// TrainBPE trains a byte-level BPE tokenizer and writes a standard
// tokenizer.json that the Hugging Face library loads and reproduces.
package tokenizer
