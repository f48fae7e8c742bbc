package cli

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"

	"github.com/strata-ml/strata/engine/generate"
	"github.com/strata-ml/strata/engine/lora"
	"github.com/strata-ml/strata/engine/model"
	"github.com/strata-ml/strata/engine/tokenizer"
	"github.com/strata-ml/strata/engine/train"
)

func init() {
	Register(Command{
		Name:    "generate",
		Summary: "generate text with a model directory and optional LoRA adapter",
		Run:     runGenerate,
	})
	Register(Command{
		Name:    "chat",
		Summary: "chat with a model directory (its chat template) and optional LoRA adapter",
		Run:     runChat,
	})
}

// genFlags are the flags generate and chat share.
type genFlags struct {
	modelDir, adapterDir string
	maxTokens, topK      int
	temperature, topP    float64
	seed                 uint64
	stops                multiFlag
	threads              int
}

func (g *genFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&g.modelDir, "model", "", `model: a Hugging Face directory, or "starter"`)
	fs.StringVar(&g.adapterDir, "adapter", "", "optional PEFT LoRA adapter directory (applied unmerged)")
	fs.IntVar(&g.maxTokens, "max-tokens", 0, "maximum new tokens (0 = generation_config's max_new_tokens, else 256)")
	fs.Float64Var(&g.temperature, "temperature", -1, "sampling temperature, 0 = greedy (default: generation_config.json, else greedy)")
	fs.IntVar(&g.topK, "top-k", -1, "keep the K most likely tokens, 0 = all (default: generation_config.json)")
	fs.Float64Var(&g.topP, "top-p", -1, "nucleus sampling mass, 1 = all (default: generation_config.json)")
	fs.Uint64Var(&g.seed, "seed", 0, "sampling seed")
	fs.Var(&g.stops, "stop", "stop sequence; repeatable")
	fs.IntVar(&g.threads, "threads", 0, "compute threads (0 = all cores)")
}

// session is a loaded model ready to generate.
type session struct {
	m       model.Model
	tok     *tokenizer.Tokenizer
	gen     generate.GenerationConfig
	adapter *lora.Adapter
	opts    genFlags
}

func openSession(g genFlags) (*session, error) {
	if g.modelDir == "" {
		return nil, fmt.Errorf("%w: --model is required", ErrUsage)
	}
	dir, err := resolveModelDir(g.modelDir, os.Stderr)
	if err != nil {
		return nil, err
	}
	m, tok, gen, err := loadModelDir(dir, true)
	if err != nil {
		return nil, err
	}
	s := &session{m: m, tok: tok, gen: gen, opts: g}
	if g.adapterDir != "" {
		a, err := lora.Load(g.adapterDir)
		if err != nil {
			return nil, fmt.Errorf("adapter: %w", err)
		}
		s.adapter = a
	}
	return s, nil
}

func (s *session) sampling() (generate.Sampling, error) {
	sp := s.gen.Sampling()
	if s.opts.temperature >= 0 {
		sp.Temperature = s.opts.temperature
	}
	if s.opts.topK >= 0 {
		sp.TopK = s.opts.topK
	}
	if s.opts.topP >= 0 {
		sp.TopP = s.opts.topP
	}
	sp.Seed = s.opts.seed
	return sp, sp.Validate()
}

func (s *session) eos() []int32 {
	var ids []int32
	for _, e := range s.gen.EOSTokenIDs {
		ids = append(ids, int32(e))
	}
	if len(ids) == 0 {
		for _, e := range s.m.Config().EOSTokenIDs() {
			ids = append(ids, int32(e))
		}
	}
	if e := s.tok.EOS(); e >= 0 && !slices.Contains(ids, e) {
		ids = append(ids, e)
	}
	return ids
}

// run generates a continuation of prompt ids, streaming text to w, and
// returns the full text.
func (s *session) run(ctx context.Context, prompt []int32, stops []string, w io.Writer) (string, error) {
	sp, err := s.sampling()
	if err != nil {
		return "", err
	}
	maxNew := s.opts.maxTokens
	if maxNew <= 0 {
		maxNew = s.gen.MaxNewTokens
	}
	if maxNew <= 0 {
		maxNew = 256
	}
	if mp := s.m.Config().MaxPositionEmbeddings; mp > 0 && len(prompt)+maxNew > mp {
		maxNew = mp - len(prompt)
		if maxNew <= 0 {
			return "", fmt.Errorf("the prompt has %d tokens; the model's context is %d", len(prompt), mp)
		}
	}
	dec := s.tok.NewStreamDecoder(true)
	stop := generate.NewStopMatcher(stops)
	var all strings.Builder
	emit := func(text string) {
		all.WriteString(text)
		io.WriteString(w, text)
		if f, ok := w.(interface{ Sync() error }); ok {
			f.Sync()
		}
	}
	_, err = generate.Generate(ctx, s.m, []generate.Request{{Prompt: prompt, MaxNewTokens: maxNew, Sampling: sp, EOS: s.eos(), Adapter: s.adapter}},
		func(_ int, id int32) bool {
			out, stopped := stop.Push(dec.Next(id))
			emit(out)
			return stopped
		})
	out, stopped := stop.Push(dec.Flush())
	emit(out)
	if !stopped {
		emit(stop.Flush())
	}
	return all.String(), err
}

func runGenerate(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("generate", stderr)
	var g genFlags
	g.register(fs)
	var prompt string
	var raw bool
	fs.StringVar(&prompt, "prompt", "", "prompt text (default: read stdin)")
	fs.BoolVar(&raw, "raw", false, "do not add the tokenizer's special tokens (BOS) to the prompt")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		prompt = strings.Join(fs.Args(), " ")
	}
	if prompt == "" {
		b, err := io.ReadAll(io.LimitReader(os.Stdin, 64<<20))
		if err != nil {
			return err
		}
		prompt = string(b)
	}
	if prompt == "" {
		return fmt.Errorf("%w: no prompt (use --prompt, an argument or stdin)", ErrUsage)
	}
	s, err := openSession(g)
	if err != nil {
		return err
	}
	if g.threads > 0 {
		setThreads(g.threads)
	}
	ids := s.tok.Encode(prompt, !raw)
	if len(ids) == 0 {
		return errors.New("the prompt encodes to no tokens")
	}
	_, err = s.run(ctx, ids, g.stops, stdout)
	fmt.Fprintln(stdout)
	return err
}

func runChat(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("chat", stderr)
	var g genFlags
	g.register(fs)
	var system string
	fs.StringVar(&system, "system", "", "system prompt")
	if err := fs.Parse(args); err != nil {
		return err
	}
	s, err := openSession(g)
	if err != nil {
		return err
	}
	if g.threads > 0 {
		setThreads(g.threads)
	}
	render := chatPromptFor(s.tok)
	if render == nil {
		return fmt.Errorf("model %s has no chat template; use strata generate", g.modelDir)
	}
	var msgs []train.Message
	in := bufio.NewScanner(os.Stdin)
	in.Buffer(make([]byte, 1<<16), 16<<20)
	for {
		fmt.Fprint(stderr, "> ")
		if !in.Scan() {
			fmt.Fprintln(stderr)
			return in.Err()
		}
		line := strings.TrimSpace(in.Text())
		if line == "" {
			continue
		}
		msgs = append(msgs, train.Message{Role: "user", Content: line})
		text, err := render(system, msgs)
		if err != nil {
			return err
		}
		ids := s.tok.Encode(text, false)
		reply, err := s.run(ctx, ids, g.stops, stdout)
		fmt.Fprintln(stdout)
		if err != nil {
			return err
		}
		msgs = append(msgs, train.Message{Role: "assistant", Content: strings.TrimSpace(reply)})
	}
}
