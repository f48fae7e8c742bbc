package dataset

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/strata-ml/strata/engine/lora"
	"github.com/strata-ml/strata/engine/model"
	_ "github.com/strata-ml/strata/engine/model/llama" // registers the Llama-family architectures
	"github.com/strata-ml/strata/engine/tokenizer"
)

// Model is a base model directory as the validator uses it.
type Model struct {
	Dir     string
	Info    *ModelInfo
	Family  Family
	Encoder *Encoder
	// ChatTemplate is the model's chat template source ("" if none).
	ChatTemplate string
}

// TemplateLoader compiles a chat template source for a tokenizer's special
// tokens. It is a seam for engine/template.
type TemplateLoader func(source string, tok *tokenizer.Tokenizer) (ChatTemplate, error)

// LoadModel reads a Hugging Face model directory: config.json, the
// tokenizer (tokenizer.json, tokenizer_config.json) and, with tl, the chat
// template. BOS and EOS follow engine/train.TokensFor: BOS is what the
// tokenizer's post-processor prepends, EOS its eos_token or else the
// config's first eos_token_id.
func LoadModel(dir string, tl TemplateLoader) (*Model, error) {
	info, err := ReadModelInfo(dir)
	if err != nil {
		return nil, err
	}
	tok, err := tokenizer.LoadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("dataset: load tokenizer of %s: %w", dir, err)
	}
	m := &Model{Dir: dir, Info: info, Family: DetectFamily(info), ChatTemplate: tok.Config().ChatTemplate}
	enc := &Encoder{Tokenizer: EngineTokenizer{tok}, BOS: -1, EOS: tok.EOS()}
	with, without := tok.Encode("a", true), tok.Encode("a", false)
	if len(with) == len(without)+1 && len(without) > 0 && with[1] == without[0] {
		enc.BOS = with[0]
	}
	if enc.EOS < 0 {
		if ids := info.eosIDs(); len(ids) > 0 {
			enc.EOS = int32(ids[0])
		}
	}
	if enc.BOS >= 0 {
		enc.BOSText, _ = tok.IDToToken(enc.BOS)
	}
	if enc.EOS >= 0 {
		enc.EOSText, _ = tok.IDToToken(enc.EOS)
	}
	if m.ChatTemplate != "" && tl != nil {
		if enc.Template, err = tl(m.ChatTemplate, tok); err != nil {
			return nil, fmt.Errorf("dataset: chat template of %s: %w", dir, err)
		}
	}
	m.Encoder = enc
	return m, nil
}

func (m *ModelInfo) eosIDs() []int {
	var one int
	if json.Unmarshal(m.EOSTokenID, &one) == nil {
		return []int{one}
	}
	var many []int
	_ = json.Unmarshal(m.EOSTokenID, &many)
	return many
}

// EngineTokenizer adapts engine/tokenizer to Tokenizer.
type EngineTokenizer struct{ T *tokenizer.Tokenizer }

// EncodeOffsets tokenizes text without special tokens, with byte spans. A
// panic inside the tokenizer becomes an error: a record must never crash
// the validator.
func (e EngineTokenizer) EncodeOffsets(text string) (_ []int32, _ [][2]int, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("tokenizer failed: %v", r)
		}
	}()
	ids, offs := e.T.EncodeWithOffsets(text, false)
	out := make([][2]int, len(offs))
	for i, o := range offs {
		out[i] = [2]int{o.Start, o.End}
	}
	return ids, out, nil
}

// ModelProbe measures training throughput of a model directory with the
// engine: it loads the model, attaches LoRA (or trains all weights), and
// times ForwardBackward on random tokens.
type ModelProbe struct {
	Dir string
	// Method is "lora" (default) or "full"; LoRARank defaults to 8.
	Method   string
	LoRARank int
	// MinSteps and MinTime bound the timed part: at least MinSteps steps
	// (default 1) and MinTime (default 1s), after one warm-up step.
	MinSteps int
	MinTime  time.Duration
}

// Measure implements ThroughputProbe. It refuses models whose
// weights would not fit in the memory available, and shortens the batch
// so one step stays near 2 TFLOP (6·params·tokens), a few seconds of CPU.
func (p *ModelProbe) Measure(ctx context.Context, batch, seqLen int) (ProbeResult, error) {
	lo := p.Method != "full"
	if info, err := ReadModelInfo(p.Dir); err == nil {
		n := info.Params()
		need := n * 16 // weights, gradients and AdamW moments in F32
		if lo {
			need = n * 2 // frozen weights kept as BF16
		}
		if avail := memAvailable(); avail > 0 && need > avail*8/10 {
			return ProbeResult{}, fmt.Errorf("dataset: probe: the model needs about %d MiB to train, %d MiB are available", need>>20, avail>>20)
		}
		if n > 0 {
			if maxTok := int(2e12 / (6 * float64(n))); batch*seqLen > maxTok {
				batch, seqLen = 1, max(16, min(seqLen, maxTok))
			}
		}
	}
	m, err := model.Load(p.Dir, model.Options{KeepBF16: lo})
	if err != nil {
		return ProbeResult{}, fmt.Errorf("dataset: probe: %w", err)
	}
	if lo {
		r := p.LoRARank
		if r <= 0 {
			r = 8
		}
		if _, err := m.EnableLoRA(lora.Config{Rank: r, Alpha: float64(2 * r)}, 1); err != nil {
			return ProbeResult{}, fmt.Errorf("dataset: probe: %w", err)
		}
	}
	cfg := m.Config()
	if cfg.MaxPositionEmbeddings > 0 && seqLen > cfg.MaxPositionEmbeddings {
		seqLen = cfg.MaxPositionEmbeddings
	}
	n := batch * seqLen
	b := &model.Batch{B: batch, T: seqLen, Tokens: make([]int32, n), Targets: make([]int32, n)}
	rng := rand.New(rand.NewPCG(1, 2))
	for i := range b.Tokens {
		b.Tokens[i] = int32(rng.IntN(cfg.VocabSize))
	}
	copy(b.Targets, b.Tokens[1:])
	b.Targets[n-1] = model.IgnoreIndex
	step := func() error {
		m.ZeroGrad()
		_, _, err := m.ForwardBackward(b)
		return err
	}
	if err := step(); err != nil { // warm-up: buffers, caches
		return ProbeResult{}, fmt.Errorf("dataset: probe: %w", err)
	}
	minSteps, minTime := max(p.MinSteps, 1), p.MinTime
	if minTime == 0 {
		minTime = time.Second
	}
	start := time.Now()
	steps := 0
	for steps < minSteps || time.Since(start) < minTime {
		if err := ctx.Err(); err != nil {
			return ProbeResult{}, errors.Join(errors.New("dataset: probe canceled"), err)
		}
		if err := step(); err != nil {
			return ProbeResult{}, fmt.Errorf("dataset: probe: %w", err)
		}
		steps++
	}
	return ProbeResult{TokensPerSecond: float64(steps*n) / time.Since(start).Seconds(), Batch: batch, SeqLen: seqLen}, nil
}

// EncodeIDs tokenizes text without special tokens or offsets.
func (e EngineTokenizer) EncodeIDs(text string) (_ []int32, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("tokenizer failed: %v", r)
		}
	}()
	return e.T.Encode(text, false), nil
}

// IsSpecial reports whether id is a special added token.
func (e EngineTokenizer) IsSpecial(id int32) bool { return e.T.IsSpecial(id) }

// memAvailable returns MemAvailable from /proc/meminfo in bytes, or 0.
func memAvailable() int64 {
	f, err := os.Open("/proc/meminfo")
	if err != nil {
		return 0
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if rest, ok := strings.CutPrefix(sc.Text(), "MemAvailable:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(rest), "kB")), 10, 64)
			if err != nil {
				return 0
			}
			return kb << 10
		}
	}
	return 0
}
