// Package starter builds Strata's starter model: a small Llama-architecture
// model (about 5.3M parameters) with a byte-level BPE tokenizer trained by
// engine/tokenizer on a bundled corpus, lightly pre-trained on that corpus,
// and written as a complete Hugging Face directory (config.json,
// model.safetensors, tokenizer.json, tokenizer_config.json with a chat
// template, special_tokens_map.json, generation_config.json). It runs
// offline and deterministically, in one to two minutes on two cores, and
// caches the result by the hash of everything that goes into it.
//
// It also generates the sample dataset (support tickets that mention product
// error codes such as ERR_429_API_LIMIT, labelled with a category and a
// priority) used by the quickstart and the fine-tuning proof.
//
// Shape glossary: C hidden, L layers, H heads, FF MLP width, V vocabulary,
// T sequence length.
package starter

import (
	"context"
	"crypto/sha256"
	_ "embed"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/strata-ml/strata/engine/model"
	_ "github.com/strata-ml/strata/engine/model/llama" // registers LlamaForCausalLM
	"github.com/strata-ml/strata/engine/safetensors"
	"github.com/strata-ml/strata/engine/tokenizer"
	"github.com/strata-ml/strata/engine/train"
)

//go:embed corpus.txt
var corpus string

// recipeVersion changes whenever the build changes in a way the hash of its
// inputs would not show.
const recipeVersion = "starter-v6"

// Special tokens of the starter tokenizer; the trainer gives them ids 0 to 4.
const (
	BOSToken         = "<|begin_of_text|>"
	EOSToken         = "<|end_of_text|>"
	StartHeaderToken = "<|start_header_id|>"
	EndHeaderToken   = "<|end_header_id|>"
	EOTToken         = "<|eot_id|>"
)

var specialTokens = []string{BOSToken, EOSToken, StartHeaderToken, EndHeaderToken, EOTToken}

// ChatTemplate is the starter's chat template (Llama 3 style headers).
const ChatTemplate = "{{ bos_token }}{% for message in messages %}" +
	"{{ '<|start_header_id|>' + message['role'] + '<|end_header_id|>\\n\\n' + message['content'] | trim + '<|eot_id|>' }}" +
	"{% endfor %}{% if add_generation_prompt %}{{ '<|start_header_id|>assistant<|end_header_id|>\\n\\n' }}{% endif %}"

// Config returns the starter model's architecture for a vocabulary of v
// tokens. The bundled corpus saturates the BPE trainer at about 1,100
// tokens, so a larger vocabulary cannot add parameters; the MLP is widened
// instead (FF 1280), which with tied embeddings gives about 5.3M parameters.
func Config(v int) *model.Config {
	return &model.Config{
		Architectures: []string{"LlamaForCausalLM"}, ModelType: "llama",
		HiddenSize: 256, IntermediateSize: 1280, NumHiddenLayers: 4,
		NumAttentionHeads: 4, NumKeyValueHeads: 4, VocabSize: v,
		RMSNormEps: 1e-5, RopeTheta: 10000, MaxPositionEmbeddings: 512,
		TieWordEmbeddings: true, HiddenAct: "silu", TorchDType: "float32",
	}
}

// Options tunes the build; the zero value is the shipped recipe. Tests use
// smaller settings.
type Options struct {
	VocabSize      int // default 2048
	PretrainEpochs int // default 8; -1 skips pre-training
	Seed           uint64
	// OnEvent, if set, receives the pre-training loop's events.
	OnEvent func(train.Event)
}

func (o Options) withDefaults() Options {
	if o.VocabSize == 0 {
		o.VocabSize = 2048
	}
	if o.PretrainEpochs == 0 {
		o.PretrainEpochs = 8
	}
	if o.Seed == 0 {
		o.Seed = 20241123
	}
	return o
}

// Ensure returns the directory of the starter model under dir, building it
// first if no complete build with the same inputs is there.
func Ensure(dir string) (modelDir string, err error) {
	return EnsureWith(context.Background(), dir, Options{})
}

// completeMarker marks a finished build.
const completeMarker = ".starter-complete"

// EnsureWith is Ensure with options.
func EnsureWith(ctx context.Context, dir string, o Options) (string, error) {
	o = o.withDefaults()
	texts := pretrainTexts()
	h := sha256.New()
	fmt.Fprintf(h, "%s\x00%d\x00%d\x00%d\x00%s\x00", recipeVersion, o.VocabSize, o.PretrainEpochs, o.Seed, ChatTemplate)
	cj, _ := json.Marshal(Config(o.VocabSize))
	h.Write(cj)
	for _, t := range texts {
		h.Write([]byte(t))
		h.Write([]byte{0})
	}
	sum := hex.EncodeToString(h.Sum(nil))[:16]
	final := filepath.Join(dir, "starter-"+sum)
	if _, err := os.Stat(filepath.Join(final, completeMarker)); err == nil {
		return final, nil
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", fmt.Errorf("starter: %w", err)
	}
	work, err := os.MkdirTemp(dir, ".starter-build-")
	if err != nil {
		return "", fmt.Errorf("starter: %w", err)
	}
	defer os.RemoveAll(work)
	out, err := build(ctx, work, texts, o)
	if err != nil {
		return "", err
	}
	if err := safetensors.WriteAtomic(filepath.Join(out, completeMarker), []byte(sum+"\n")); err != nil {
		return "", fmt.Errorf("starter: %w", err)
	}
	if err := os.Rename(out, final); err != nil {
		// Another process may have finished the same build first.
		if _, serr := os.Stat(filepath.Join(final, completeMarker)); serr == nil {
			return final, nil
		}
		return "", fmt.Errorf("starter: %w", err)
	}
	if d, err := os.Open(dir); err == nil {
		d.Sync()
		d.Close()
	}
	return final, nil
}

// pretrainTexts returns the documents the tokenizer and the pre-training
// see: the bundled prose, paragraph by paragraph, and unlabelled ticket
// texts (no categories or priorities) from a seed that the sample dataset
// does not use.
func pretrainTexts() []string {
	var out []string
	for _, p := range strings.Split(corpus, "\n\n") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	for _, t := range GenerateTickets(600, 7) {
		out = append(out, t.Text)
	}
	return out
}

// build writes the model into a directory under work and returns it.
func build(ctx context.Context, work string, texts []string, o Options) (string, error) {
	tokDir := filepath.Join(work, "tokenizer")
	if err := os.MkdirAll(tokDir, 0o755); err != nil {
		return "", fmt.Errorf("starter: %w", err)
	}
	if err := writeTokenizer(tokDir, texts, o.VocabSize); err != nil {
		return "", err
	}
	tok, err := tokenizer.LoadDir(tokDir)
	if err != nil {
		return "", fmt.Errorf("starter: load trained tokenizer: %w", err)
	}
	cfg := Config(tok.VocabSize())
	bos, eos := int(tok.BOS()), int(tok.EOS())
	eot, _ := tok.TokenToID(EOTToken)
	cfg.BOSTokenID = &bos
	cfg.EOSTokenID = json.RawMessage(fmt.Sprint(eos))
	gen := fmt.Sprintf(`{"bos_token_id": %d, "eos_token_id": [%d, %d], "do_sample": false, "max_new_tokens": 128}`+"\n", bos, eos, eot)
	if err := safetensors.WriteAtomic(filepath.Join(tokDir, "generation_config.json"), []byte(gen)); err != nil {
		return "", fmt.Errorf("starter: %w", err)
	}
	m, err := model.New(cfg, o.Seed, model.Options{})
	if err != nil {
		return "", fmt.Errorf("starter: %w", err)
	}
	out := filepath.Join(work, "out")
	if o.PretrainEpochs < 0 {
		if err := m.Save(out); err != nil {
			return "", fmt.Errorf("starter: %w", err)
		}
		if err := train.CopyTokenizerFiles(tokDir, out); err != nil {
			return "", fmt.Errorf("starter: %w", err)
		}
		return out, nil
	}
	// Light pre-training with the training loop itself, on the same texts.
	var b strings.Builder
	for _, t := range texts {
		line, _ := json.Marshal(map[string]string{"input": t})
		b.Write(line)
		b.WriteByte('\n')
	}
	data := filepath.Join(work, "pretrain.jsonl")
	if err := os.WriteFile(data, []byte(b.String()), 0o644); err != nil {
		return "", fmt.Errorf("starter: %w", err)
	}
	tokens, err := train.TokensFor(tok, nil, []int{eos})
	if err != nil {
		return "", fmt.Errorf("starter: %w", err)
	}
	hp, err := train.ParseHyperParameters(map[string]string{
		train.HPEpochCount: fmt.Sprint(o.PretrainEpochs), train.HPBatchSize: "8", train.HPLearningRate: "2e-3",
		train.HPLearningRateWarmupSteps: "20", train.HPLearningRateScheduler: "cosine", train.HPMaxSeqLen: "128",
		train.HPMicroBatchTokens: "1024", train.HPWeightDecay: "0.01", train.HPCheckpointKeep: "1",
	})
	if err != nil {
		return "", fmt.Errorf("starter: %w", err)
	}
	_, err = train.Run(ctx, train.Options{
		Model: m, Tokens: tokens, PreTraining: true, TrainFiles: []string{data}, HP: hp, Full: true,
		Seed: o.Seed, OutputDir: out, BaseModelDir: tokDir, OnEvent: o.OnEvent,
	})
	if err != nil {
		return "", fmt.Errorf("starter: pre-train: %w", err)
	}
	merged := filepath.Join(out, train.MergedDirName)
	if _, err := os.Stat(filepath.Join(merged, "config.json")); err != nil {
		return "", fmt.Errorf("starter: pre-train wrote no model: %w", err)
	}
	return merged, nil
}

// writeTokenizer trains the byte-level BPE tokenizer and writes
// tokenizer.json, tokenizer_config.json and special_tokens_map.json.
func writeTokenizer(dir string, texts []string, vocab int) error {
	if err := trainBPE(dir, texts, vocab); err != nil {
		return fmt.Errorf("starter: train tokenizer: %w", err)
	}
	cfg := map[string]any{
		"bos_token": BOSToken, "eos_token": EOSToken, "pad_token": EOSToken,
		"add_bos_token": true, "add_eos_token": false,
		"chat_template": ChatTemplate, "model_max_length": 512,
		"tokenizer_class": "PreTrainedTokenizerFast", "clean_up_tokenization_spaces": false,
	}
	b, _ := json.MarshalIndent(cfg, "", "  ")
	if err := safetensors.WriteAtomic(filepath.Join(dir, "tokenizer_config.json"), append(b, '\n')); err != nil {
		return err
	}
	sm, _ := json.MarshalIndent(map[string]string{"bos_token": BOSToken, "eos_token": EOSToken, "pad_token": EOSToken}, "", "  ")
	return safetensors.WriteAtomic(filepath.Join(dir, "special_tokens_map.json"), append(sm, '\n'))
}
