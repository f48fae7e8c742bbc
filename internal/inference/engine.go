package inference

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"time"

	"github.com/strata-ml/strata/engine/compute"
	"github.com/strata-ml/strata/engine/generate"
	"github.com/strata-ml/strata/engine/lora"
	"github.com/strata-ml/strata/engine/model"
	"github.com/strata-ml/strata/internal/apierr"
	"github.com/strata-ml/strata/internal/invoke"
)

// Capacity bounds what an engine runs at once.
type Capacity struct {
	// MaxSeqs is the most sequences in the running batch.
	MaxSeqs int
	// KVBlocks is the size of the KV block pool.
	KVBlocks int
	// MaxQueue is the most requests waiting for admission; more are
	// throttled.
	MaxQueue int
}

// EngineConfig configures an Engine.
type EngineConfig struct {
	Capacity
	// BlockTokens is the number of tokens per KV block (default 16).
	BlockTokens int
	// PrefillChunk is the most prompt tokens of one sequence run in one
	// iteration (default 128).
	PrefillChunk int
	// MaxBatchTokens is the most tokens in one iteration over all sequences
	// (default MaxSeqs + PrefillChunk).
	MaxBatchTokens int
	// ContextLen is the longest sequence served (prompt + output).
	ContextLen int
	// Logger receives engine errors; nil discards them.
	Logger *slog.Logger
}

func (c *EngineConfig) fill() {
	if c.BlockTokens <= 0 {
		c.BlockTokens = 16
	}
	if c.PrefillChunk <= 0 {
		c.PrefillChunk = 128
	}
	if c.MaxSeqs <= 0 {
		c.MaxSeqs = 1
	}
	if c.MaxQueue <= 0 {
		c.MaxQueue = 4 * c.MaxSeqs
	}
	if c.MaxBatchTokens <= 0 {
		c.MaxBatchTokens = c.MaxSeqs + c.PrefillChunk
	}
	if c.KVBlocks <= 0 {
		c.KVBlocks = c.MaxSeqs * ((c.ContextLen + c.BlockTokens - 1) / c.BlockTokens)
	}
}

// SeqRequest is one generation submitted to an engine.
type SeqRequest struct {
	Prompt    []int32 // at least one token
	MaxTokens int     // ≥ 1 new tokens
	Sampling  generate.Sampling
	EOS       []int32
	Adapter   *lora.Adapter // nil: the base model
}

// Stats are an engine's counters.
type Stats struct {
	Running, Waiting int
	BlocksUsed       int
	BlocksTotal      int
	Steps            int64
	TokensGenerated  int64
	Preemptions      int64
	Completed        int64
	// CacheBytes is the memory held by pooled and in-use KV caches.
	CacheBytes int64
}

// Engine runs continuous batching over one model.
type Engine struct {
	model Model
	vocab int

	mu       sync.Mutex
	cfg      EngineConfig
	waiting  []*seq
	used     int // blocks held by running sequences
	stats    Stats
	closed   bool
	pool     []*model.KVCache
	wake     chan struct{}
	done     chan struct{}
	cancel   context.CancelFunc
	running  []*seq // owned by the loop goroutine
	admitSeq int64
}

// NewEngine starts an engine over m. Close stops it.
func NewEngine(m Model, cfg EngineConfig) *Engine {
	if cfg.ContextLen <= 0 {
		cfg.ContextLen = m.Config().MaxPositionEmbeddings
	}
	if cfg.ContextLen <= 0 {
		cfg.ContextLen = 2048
	}
	cfg.fill()
	ctx, cancel := context.WithCancel(context.Background())
	e := &Engine{model: m, vocab: m.Config().VocabSize, cfg: cfg,
		wake: make(chan struct{}, 1), done: make(chan struct{}), cancel: cancel}
	go e.loop(ctx)
	return e
}

// ContextLen returns the longest sequence the engine serves.
func (e *Engine) ContextLen() int {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.cfg.ContextLen
}

// SetCapacity changes the engine's limits; running sequences are kept, and
// new admissions respect the new limits.
func (e *Engine) SetCapacity(c Capacity) {
	e.mu.Lock()
	e.cfg.Capacity = c
	e.cfg.MaxBatchTokens = 0
	e.cfg.fill()
	e.mu.Unlock()
	e.signal()
}

// Capacity returns the engine's current limits.
func (e *Engine) Capacity() Capacity {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.cfg.Capacity
}

// Stats returns a snapshot of the engine's counters.
func (e *Engine) Stats() Stats {
	e.mu.Lock()
	defer e.mu.Unlock()
	s := e.stats
	s.Waiting = len(e.waiting)
	s.BlocksUsed = e.used
	s.BlocksTotal = e.cfg.KVBlocks
	return s
}

// Close stops the engine; pending and running requests fail with
// ServiceUnavailableException.
func (e *Engine) Close() {
	e.mu.Lock()
	if e.closed {
		e.mu.Unlock()
		<-e.done
		return
	}
	e.closed = true
	e.mu.Unlock()
	e.cancel()
	<-e.done
}

func (e *Engine) signal() {
	select {
	case e.wake <- struct{}{}:
	default:
	}
}

// seq is one sequence's state. Fields above mu are owned by the loop.
type seq struct {
	ctx       context.Context
	toks      []int32 // prompt + generated
	promptLen int
	maxNew    int
	computed  int // tokens in cache
	blocks    int
	eos       []int32
	sampler   *generate.Sampler
	adapter   *lora.Adapter
	cache     *model.KVCache
	order     int64 // admission order, for preemption

	mu        sync.Mutex
	out       []int32 // generated tokens (no EOS)
	finished  bool
	stop      invoke.StopKind
	err       error
	cancelled bool
	first     time.Time
	notify    chan struct{}
}

func (s *seq) publish(tok int32, now time.Time) {
	s.mu.Lock()
	s.out = append(s.out, tok)
	if s.first.IsZero() {
		s.first = now
	}
	s.mu.Unlock()
	s.poke()
}

func (s *seq) finish(stop invoke.StopKind, err error) {
	s.mu.Lock()
	if !s.finished {
		s.finished, s.stop, s.err = true, stop, err
	}
	s.mu.Unlock()
	s.poke()
}

func (s *seq) poke() {
	select {
	case s.notify <- struct{}{}:
	default:
	}
}

func (s *seq) wantsCancel() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.cancelled
}

// Stream is the consumer side of a submitted sequence.
type Stream struct {
	s    *seq
	read int
}

// Submit queues a generation. The sequence stops when ctx is done
// (cancelled: context.Canceled; deadline: ModelTimeoutException), when the
// consumer calls Stream.Cancel, or when it ends by EOS, MaxTokens or the
// context length.
func (e *Engine) Submit(ctx context.Context, r SeqRequest) (*Stream, error) {
	if len(r.Prompt) == 0 {
		return nil, apierr.Validationf("The prompt is empty after tokenization.")
	}
	for _, t := range r.Prompt {
		if t < 0 || int(t) >= e.vocab {
			return nil, apierr.Validationf("The prompt contains token id %d outside the model's vocabulary of %d.", t, e.vocab)
		}
	}
	if err := r.Sampling.Validate(); err != nil {
		return nil, apierr.Wrap(apierr.Validation, "Invalid sampling parameters.", err)
	}
	if r.Adapter != nil {
		r.Adapter.PrepareServing() // once per adapter; it is not trained while served
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.closed {
		return nil, apierr.New(apierr.ServiceUnavailable, "The model is being unloaded. Try again.")
	}
	if len(r.Prompt) >= e.cfg.ContextLen {
		return nil, apierr.Validationf("Input is too long for requested model. The prompt has %d tokens; the model's context window is %d tokens.", len(r.Prompt), e.cfg.ContextLen)
	}
	if len(e.waiting) >= e.cfg.MaxQueue {
		return nil, apierr.New(apierr.Throttled, "Too many requests, please wait before trying again.")
	}
	maxNew := max(r.MaxTokens, 1)
	s := &seq{ctx: ctx, toks: slices.Clip(slices.Clone(r.Prompt)), promptLen: len(r.Prompt), maxNew: maxNew,
		eos: r.EOS, sampler: generate.NewSampler(r.Sampling), adapter: r.Adapter, notify: make(chan struct{}, 1)}
	e.waiting = append(e.waiting, s)
	e.signal()
	return &Stream{s: s}, nil
}

// Next waits for tokens generated since the last call. It returns done once
// the sequence has ended and every token was returned; err is the reason it
// failed, if it did. ctx bounds only the wait.
func (st *Stream) Next(ctx context.Context) (toks []int32, done bool, err error) {
	for {
		if err := ctx.Err(); err != nil {
			return nil, false, err
		}
		s := st.s
		s.mu.Lock()
		if st.read < len(s.out) {
			toks = slices.Clone(s.out[st.read:])
			st.read = len(s.out)
			s.mu.Unlock()
			return toks, false, nil
		}
		if s.finished {
			err := s.err
			s.mu.Unlock()
			return nil, true, err
		}
		s.mu.Unlock()
		select {
		case <-s.notify:
		case <-ctx.Done():
			return nil, false, ctx.Err()
		}
	}
}

// Cancel stops generating (a stop sequence matched, or the client left).
func (st *Stream) Cancel() {
	st.s.mu.Lock()
	st.s.cancelled = true
	st.s.mu.Unlock()
}

// Stop returns why the sequence ended (valid once Next reported done).
func (st *Stream) Stop() invoke.StopKind {
	st.s.mu.Lock()
	defer st.s.mu.Unlock()
	return st.s.stop
}

// FirstToken returns when the first token was produced (zero if none).
func (st *Stream) FirstToken() time.Time {
	st.s.mu.Lock()
	defer st.s.mu.Unlock()
	return st.s.first
}

func (e *Engine) blocksFor(tokens int) int {
	return (tokens + e.cfg.BlockTokens - 1) / e.cfg.BlockTokens
}

func (e *Engine) loop(ctx context.Context) {
	defer close(e.done)
	defer e.shutdown()
	for {
		if !e.admit(ctx) {
			return
		}
		if len(e.running) == 0 {
			select {
			case <-ctx.Done():
				return
			case <-e.wake:
			}
			continue
		}
		e.iterate()
	}
}

// admit drops finished or cancelled sequences and moves waiting ones into
// the running batch while capacity allows. It reports false on shutdown.
func (e *Engine) admit(ctx context.Context) bool {
	if ctx.Err() != nil {
		return false
	}
	// Leave: cancelled or timed out sequences free their blocks now.
	kept := e.running[:0]
	for _, s := range e.running {
		if err := seqDone(s); err != nil {
			e.release(s)
			s.finish(invoke.StopEnd, err)
			continue
		}
		kept = append(kept, s)
	}
	clear(e.running[len(kept):])
	e.running = kept

	e.mu.Lock()
	defer e.mu.Unlock()
	w := e.waiting[:0]
	for _, s := range e.waiting {
		if err := seqDone(s); err != nil {
			s.finish(invoke.StopEnd, err)
			continue
		}
		w = append(w, s)
	}
	clear(e.waiting[len(w):])
	e.waiting = w
	reserved := e.used
	for len(e.waiting) > 0 && len(e.running) < e.cfg.MaxSeqs {
		s := e.waiting[0]
		need := e.blocksFor(min(len(s.toks), s.computed+e.cfg.PrefillChunk))
		if e.blocksFor(len(s.toks)+1) > e.cfg.KVBlocks {
			e.waiting = e.waiting[1:]
			s.finish(invoke.StopEnd, apierr.Validationf("Input is too long for the provisioned KV cache (%d blocks of %d tokens).", e.cfg.KVBlocks, e.cfg.BlockTokens))
			continue
		}
		if reserved+need > e.cfg.KVBlocks && len(e.running) > 0 {
			break
		}
		reserved += need
		e.waiting = e.waiting[1:]
		if n := len(e.pool); n > 0 {
			s.cache, e.pool = e.pool[n-1], e.pool[:n-1]
			s.cache.Reset()
		} else {
			s.cache = e.model.NewCache()
		}
		e.admitSeq++
		s.order = e.admitSeq
		e.running = append(e.running, s)
	}
	e.stats.Running = len(e.running)
	return true
}

// seqDone returns the error that ends a sequence from outside: its context
// (deadline → ModelTimeoutException) or a consumer cancel.
func seqDone(s *seq) error {
	if err := s.ctx.Err(); err != nil {
		if errors.Is(err, context.DeadlineExceeded) {
			return apierr.Wrap(apierr.ModelTimeout, "Model has timed out in processing the request. Try your request again.", err)
		}
		return err
	}
	if s.wantsCancel() {
		return context.Canceled
	}
	return nil
}

// release returns a sequence's blocks and cache to the pools.
func (e *Engine) release(s *seq) {
	e.mu.Lock()
	e.used -= s.blocks
	s.blocks = 0
	if s.cache != nil {
		s.cache.Reset()
		if len(e.pool) < e.cfg.MaxSeqs {
			e.pool = append(e.pool, s.cache)
		}
		s.cache = nil
	}
	e.mu.Unlock()
}

// grow makes s hold blocks for tokens cached tokens; false if the pool is dry.
func (e *Engine) grow(s *seq, tokens int) bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	need := e.blocksFor(tokens) - s.blocks
	if need <= 0 {
		return true
	}
	if e.used+need > e.cfg.KVBlocks {
		return false
	}
	e.used += need
	s.blocks += need
	return true
}

// preempt sends s back to the head of the queue to be recomputed later.
func (e *Engine) preempt(s *seq) {
	e.release(s)
	s.computed = 0
	e.mu.Lock()
	e.waiting = slices.Insert(e.waiting, 0, s)
	e.stats.Preemptions++
	e.mu.Unlock()
	e.running = slices.DeleteFunc(e.running, func(x *seq) bool { return x == s })
}

// iterate runs one model step over the running batch.
func (e *Engine) iterate() {
	e.mu.Lock()
	budget, chunk := e.cfg.MaxBatchTokens, e.cfg.PrefillChunk
	e.mu.Unlock()

	// Decoding sequences first, one token each; preempt the youngest other
	// sequence when the block pool is dry.
	var batch []*seq
	var ns []int
	decoding := make([]*seq, 0, len(e.running))
	for _, s := range e.running {
		if len(s.toks)-s.computed == 1 {
			decoding = append(decoding, s)
		}
	}
	for _, s := range decoding {
		if !slices.Contains(e.running, s) {
			continue // preempted below
		}
		for !e.grow(s, s.computed+1) {
			victim := e.youngest(s)
			if victim == nil {
				victim = s
			}
			e.preempt(victim)
			if i := slices.Index(batch, victim); i >= 0 {
				batch, ns = slices.Delete(batch, i, i+1), slices.Delete(ns, i, i+1)
				budget++
			}
			if victim == s {
				break
			}
		}
		if slices.Contains(e.running, s) && budget > 0 {
			batch, ns = append(batch, s), append(ns, 1)
			budget--
		}
	}
	// Then prompt chunks.
	for _, s := range e.running {
		left := len(s.toks) - s.computed
		if budget <= 0 || slices.Contains(batch, s) {
			continue
		}
		n := min(left, chunk, budget)
		if !e.grow(s, s.computed+n) {
			continue
		}
		batch, ns = append(batch, s), append(ns, n)
		budget -= n
	}
	if len(batch) == 0 {
		// Every running sequence is a prompt waiting for blocks that the
		// others hold: preempt the youngest so the oldest can proceed.
		if v := e.youngest(nil); v != nil && len(e.running) > 1 {
			e.preempt(v)
		} else if v != nil {
			e.release(v)
			v.finish(invoke.StopEnd, apierr.Validationf("Input is too long for the provisioned KV cache."))
			e.running = e.running[:0]
		}
		return
	}
	seqs := make([]model.Seq, len(batch))
	for i, s := range batch {
		seqs[i] = model.Seq{Tokens: s.toks[s.computed : s.computed+ns[i]], Cache: s.cache, Adapter: s.adapter}
	}
	logits, err := e.step(seqs)
	if err != nil {
		for _, s := range batch {
			e.release(s)
			s.finish(invoke.StopEnd, apierr.Wrap(apierr.ModelError, "The model failed to process the request.", err))
		}
		e.running = slices.DeleteFunc(e.running, func(x *seq) bool { return slices.Contains(batch, x) })
		return
	}
	// Each sequence samples from its own logits with its own sampler: on
	// the pool's threads, as a step's sampling would otherwise leave them
	// idle (top-p over a large vocabulary sorts its candidates).
	sampled := make([]int32, len(batch))
	compute.Parallel(len(batch), func(lo, hi int) {
		for i := lo; i < hi; i++ {
			if s := batch[i]; s.computed+ns[i] >= len(s.toks) {
				sampled[i] = int32(s.sampler.Sample(logits[i]))
			}
		}
	})
	now := time.Now()
	var generated int64
	var finished []*seq
	for i, s := range batch {
		s.computed += ns[i]
		if s.computed < len(s.toks) {
			continue // more prompt to go
		}
		tok := sampled[i]
		s.toks = append(s.toks, tok)
		generated++
		nGen := len(s.toks) - s.promptLen
		switch {
		case slices.Contains(s.eos, tok):
			s.finish(invoke.StopEnd, nil)
		default:
			s.publish(tok, now)
			if nGen >= s.maxNew {
				s.finish(invoke.StopLength, nil)
			} else if len(s.toks) >= e.cfg.ContextLen {
				s.finish(invoke.StopContext, nil)
			} else {
				continue
			}
		}
		finished = append(finished, s)
	}
	for _, s := range finished {
		e.release(s)
	}
	e.running = slices.DeleteFunc(e.running, func(x *seq) bool { return slices.Contains(finished, x) })
	e.mu.Lock()
	e.stats.Steps++
	e.stats.TokensGenerated += generated
	e.stats.Completed += int64(len(finished))
	e.stats.CacheBytes = e.cacheBytes()
	e.mu.Unlock()
}

func (e *Engine) cacheBytes() int64 {
	var n int64
	for _, c := range e.pool {
		n += int64(c.Bytes())
	}
	for _, s := range e.running {
		if s.cache != nil {
			n += int64(s.cache.Bytes())
		}
	}
	return n
}

// step calls the model, turning a panic into an error so one bad batch never
// takes the server down.
func (e *Engine) step(seqs []model.Seq) (logits [][]float32, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("inference: model step panicked: %v", r)
		}
	}()
	logits, err = e.model.Step(seqs)
	if err == nil && len(logits) != len(seqs) {
		err = fmt.Errorf("inference: model returned %d logit rows for %d sequences", len(logits), len(seqs))
	}
	if err != nil && e.cfg.Logger != nil {
		e.cfg.Logger.Error("inference: step failed", "seqs", len(seqs), "err", err)
	}
	return logits, err
}

// youngest returns the most recently admitted running sequence other than s.
func (e *Engine) youngest(s *seq) *seq {
	var best *seq
	for _, x := range e.running {
		if x != s && (best == nil || x.order > best.order) {
			best = x
		}
	}
	return best
}

func (e *Engine) shutdown() {
	err := apierr.New(apierr.ServiceUnavailable, "The model was unloaded while processing the request. Try again.")
	for _, s := range e.running {
		s.finish(invoke.StopEnd, err)
	}
	e.running = nil
	e.mu.Lock()
	for _, s := range e.waiting {
		s.finish(invoke.StopEnd, err)
	}
	e.waiting = nil
	e.pool = nil
	e.mu.Unlock()
}
