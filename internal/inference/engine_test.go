package inference

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/google/go-cmp/cmp"
	"github.com/strata-ml/strata/internal/apierr"
	"github.com/strata-ml/strata/internal/invoke"
)

func greedy(max int, stop ...string) invoke.Params {
	return invoke.Params{MaxTokens: max, Stop: stop}
}

func newTestEngine(t *testing.T, m *fakeModel, cfg EngineConfig) *Engine {
	t.Helper()
	e := NewEngine(m, cfg)
	t.Cleanup(e.Close)
	return e
}

func TestGenerateStops(t *testing.T) {
	m := newFakeModel()
	e := newTestEngine(t, m, EngineConfig{Capacity: Capacity{MaxSeqs: 4}})
	b := fakeBase(m)
	tests := []struct {
		name   string
		prompt string
		params invoke.Params
		want   invoke.Result
	}{
		{"length", "abc", greedy(4), invoke.Result{Text: "defg", InputTokens: 3, OutputTokens: 4, Stop: invoke.StopLength}},
		{"eos", "w", greedy(10), invoke.Result{Text: "xyz", InputTokens: 1, OutputTokens: 3, Stop: invoke.StopEnd}},
		{"stop sequence", "a", greedy(20, "fg", "zz"), invoke.Result{Text: "bcde", InputTokens: 1, OutputTokens: 6, Stop: invoke.StopSequence, StopSequence: "fg"}},
		{"held back then released", "a", greedy(3, "cx"), invoke.Result{Text: "bcd", InputTokens: 1, OutputTokens: 3, Stop: invoke.StopLength}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var streamed strings.Builder
			g, err := Generate(t.Context(), b, e, GenerateRequest{Prompt: tt.prompt, Params: tt.params}, func(s string) error {
				streamed.WriteString(s)
				return nil
			})
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, g.Result); diff != "" {
				t.Errorf("result (-want +got):\n%s", diff)
			}
			if streamed.String() != g.Text {
				t.Errorf("streamed %q, result text %q", streamed.String(), g.Text)
			}
		})
	}
}

// TestContinuousBatching runs many requests with distinct adapters at once:
// every output must be exactly what the request would produce alone, and the
// model must have seen batches of several sequences.
func TestContinuousBatching(t *testing.T) {
	m := newFakeModel()
	e := newTestEngine(t, m, EngineConfig{Capacity: Capacity{MaxSeqs: 8, MaxQueue: 64}})
	holdUntil(t, m, e, 8)
	b := fakeBase(m)
	const n = 24
	var wg sync.WaitGroup
	errs := make([]error, n)
	got := make([]string, n)
	for i := range n {
		shift := int32(i % 3)
		ad := m.Adapter(shift)
		wg.Go(func() {
			g, err := Generate(t.Context(), b, e, GenerateRequest{Prompt: "A", Params: greedy(5 + i%4), Adapter: ad}, nil)
			got[i], errs[i] = g.Text, err
		})
	}
	wg.Wait()
	for i := range n {
		if errs[i] != nil {
			t.Fatalf("request %d: %v", i, errs[i])
		}
		var want strings.Builder
		c := byte('A')
		for range 5 + i%4 {
			c += 1 + byte(i%3)
			want.WriteByte(c)
		}
		if got[i] != want.String() {
			t.Errorf("request %d (shift %d): got %q, want %q", i, i%3, got[i], want.String())
		}
	}
	if m.MaxB < 2 {
		t.Errorf("largest batch %d, want several sequences per step", m.MaxB)
	}
	st := e.Stats()
	if st.BlocksUsed != 0 || st.Running != 0 {
		t.Errorf("after all requests: %+v, want no blocks or sequences held", st)
	}
}

// TestJoinRunningBatchAndPrefillChunks starts a long generation, then a
// request with a long prompt: the prompt must be run in chunks of at most
// PrefillChunk tokens, each in the same step as a decode token of the first.
func TestJoinRunningBatchAndPrefillChunks(t *testing.T) {
	m := newFakeModel()
	e := newTestEngine(t, m, EngineConfig{Capacity: Capacity{MaxSeqs: 4}, PrefillChunk: 16})
	b := fakeBase(m)
	ctx := t.Context()
	first, err := e.Submit(ctx, SeqRequest{Prompt: []int32{'a'}, MaxTokens: 2000, EOS: []int32{fakeEOS}, Adapter: m.Adapter(1)})
	if err != nil {
		t.Fatal(err)
	}
	// Wait until the first sequence is decoding.
	for {
		toks, done, err := first.Next(ctx)
		if err != nil || done {
			t.Fatalf("first ended early: %v", err)
		}
		if len(toks) > 0 {
			break
		}
	}
	long := strings.Repeat("0", 100)
	g, err := Generate(ctx, b, e, GenerateRequest{Prompt: long, Params: greedy(2)}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if g.Text != "12" {
		t.Fatalf("second request text %q, want %q", g.Text, "12")
	}
	first.Cancel()
	m.Mu.Lock()
	defer m.Mu.Unlock()
	chunks, joint := 0, 0
	for _, sizes := range m.Steps {
		for _, n := range sizes {
			if n > 16 {
				t.Fatalf("a step ran %d tokens of one sequence, want ≤ 16: %v", n, sizes)
			}
			if n > 1 {
				chunks++
			}
		}
		if len(sizes) == 2 && (sizes[0] == 1 && sizes[1] > 1) {
			joint++
		}
	}
	if chunks < 6 {
		t.Errorf("100-token prompt ran in %d chunks, want ≥ 6", chunks)
	}
	if joint < 6 {
		t.Logf("steps: %v", m.Steps)
		t.Errorf("only %d steps ran a prompt chunk alongside the decoding sequence", joint)
	}
}

func TestCancelAndTimeout(t *testing.T) {
	m := newFakeModel()
	e := newTestEngine(t, m, EngineConfig{Capacity: Capacity{MaxSeqs: 2}})
	b := fakeBase(m)

	ctx, cancel := context.WithCancel(t.Context())
	n := 0
	_, err := Generate(ctx, b, e, GenerateRequest{Prompt: "a", Params: greedy(100000), Adapter: m.Adapter(1)}, func(string) error {
		if n++; n == 3 {
			cancel()
		}
		return nil
	})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled generation: err = %v, want context.Canceled", err)
	}

	e = newTestEngine(t, m, EngineConfig{Capacity: Capacity{MaxSeqs: 2}, ContextLen: 1 << 24})
	dctx, dcancel := context.WithDeadline(t.Context(), time.Now().Add(20*time.Millisecond))
	defer dcancel()
	// Shift 1 from 'a' walks the odd bytes and never reaches 'z' (EOS).
	_, err = Generate(dctx, b, e, GenerateRequest{Prompt: "a", Params: greedy(1 << 30), Adapter: m.Adapter(1)}, nil)
	if !apierr.Is(err, apierr.ModelTimeout) {
		t.Fatalf("past deadline: err = %v, want ModelTimeoutException", err)
	}
	waitIdle(t, e)
}

// holdUntil blocks the model's first step until n requests are in the
// engine, so that they are batched together.
func holdUntil(t *testing.T, m *fakeModel, e *Engine, n int) {
	m.Gate = make(chan struct{})
	go func() {
		deadline := time.Now().Add(5 * time.Second)
		for st := e.Stats(); st.Running+st.Waiting < n && time.Now().Before(deadline); st = e.Stats() {
			time.Sleep(time.Millisecond)
		}
		close(m.Gate)
	}()
}

func waitIdle(t *testing.T, e *Engine) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		st := e.Stats()
		if st.Running == 0 && st.Waiting == 0 && st.BlocksUsed == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("engine not idle: %+v", st)
		}
		e.signal()
		time.Sleep(time.Millisecond) // polling with a deadline, not waiting for a fixed time
	}
}

func TestThrottleWhenQueueFull(t *testing.T) {
	m := newFakeModel()
	m.Gate = make(chan struct{})
	e := newTestEngine(t, m, EngineConfig{Capacity: Capacity{MaxSeqs: 1, MaxQueue: 1}})
	ctx := t.Context()
	a, err := e.Submit(ctx, SeqRequest{Prompt: []int32{'a'}, MaxTokens: 2})
	if err != nil {
		t.Fatal(err)
	}
	// Let the loop admit a (it blocks in Step on the gate), then fill the queue.
	deadline := time.Now().Add(5 * time.Second)
	for e.Stats().Running != 1 {
		if time.Now().After(deadline) {
			t.Fatal("first request never admitted")
		}
		time.Sleep(time.Millisecond)
	}
	bq, err := e.Submit(ctx, SeqRequest{Prompt: []int32{'b'}, MaxTokens: 2})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.Submit(ctx, SeqRequest{Prompt: []int32{'c'}, MaxTokens: 2}); !apierr.Is(err, apierr.Throttled) {
		t.Fatalf("third request: %v, want ThrottlingException", err)
	}
	close(m.Gate)
	for _, st := range []*Stream{a, bq} {
		for {
			_, done, err := st.Next(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if done {
				break
			}
		}
	}
}

// TestPreemption gives the engine too few KV blocks for its sequences to
// grow together: they must be preempted, recomputed and still produce
// exactly their unconstrained outputs.
func TestPreemption(t *testing.T) {
	m := newFakeModel()
	e := newTestEngine(t, m, EngineConfig{Capacity: Capacity{MaxSeqs: 4, KVBlocks: 6}, BlockTokens: 4})
	holdUntil(t, m, e, 4)
	b := fakeBase(m)
	var wg sync.WaitGroup
	res := make([]Generation, 4)
	errs := make([]error, 4)
	for i := range 4 {
		wg.Go(func() {
			res[i], errs[i] = Generate(t.Context(), b, e, GenerateRequest{Prompt: string(rune('A' + i)), Params: greedy(10)}, nil)
		})
	}
	wg.Wait()
	for i := range 4 {
		if errs[i] != nil {
			t.Fatal(errs[i])
		}
		var want strings.Builder
		for j := 1; j <= 10; j++ {
			want.WriteByte(byte('A' + i + j))
		}
		if res[i].Text != want.String() {
			t.Errorf("seq %d: %q, want %q", i, res[i].Text, want.String())
		}
	}
	if st := e.Stats(); st.Preemptions == 0 {
		t.Errorf("no preemptions with 6 blocks of 4 tokens for 4×11 tokens: %+v", st)
	}
	waitIdle(t, e)
}

// TestBadRequestIsolated: a request the model fails on errors alone; the
// requests running beside it still complete.
func TestBadRequestIsolated(t *testing.T) {
	m := newFakeModel()
	m.FailOn = '!'
	e := newTestEngine(t, m, EngineConfig{Capacity: Capacity{MaxSeqs: 8}, PrefillChunk: 4})
	b := fakeBase(m)
	if _, err := e.Submit(t.Context(), SeqRequest{Prompt: []int32{9999}, MaxTokens: 1}); !apierr.Is(err, apierr.Validation) {
		t.Fatalf("out-of-vocabulary prompt: %v, want ValidationException", err)
	}
	if _, err := e.Submit(t.Context(), SeqRequest{Prompt: make([]int32, 5000), MaxTokens: 1}); !apierr.Is(err, apierr.Validation) {
		t.Fatalf("prompt past the context: %v, want ValidationException", err)
	}
	var wg sync.WaitGroup
	var good []error
	var mu sync.Mutex
	for i := range 6 {
		wg.Go(func() {
			_, err := Generate(t.Context(), b, e, GenerateRequest{Prompt: fmt.Sprint(i), Params: greedy(30)}, nil)
			mu.Lock()
			good = append(good, err)
			mu.Unlock()
		})
	}
	_, err := Generate(t.Context(), b, e, GenerateRequest{Prompt: "x!", Params: greedy(3)}, nil)
	if !apierr.Is(err, apierr.ModelError) {
		t.Errorf("poisoned request: %v, want ModelErrorException", err)
	}
	wg.Wait()
	for _, err := range good {
		// A healthy request that shared the failed step fails too; every
		// other must complete.
		if err != nil && !apierr.Is(err, apierr.ModelError) {
			t.Errorf("healthy request: %v", err)
		}
	}
}

func TestStreamDecoderMultibyte(t *testing.T) {
	text := "héllo wörld → 你好 🌍!"
	ids, _ := byteTokenizer{}.Encode(text)
	d := newStreamDecoder(byteTokenizer{}, []int32{'x'})
	var got strings.Builder
	for _, id := range ids {
		piece, err := d.push(id)
		if err != nil {
			t.Fatal(err)
		}
		if !utf8.ValidString(piece) || strings.ContainsRune(piece, utf8.RuneError) {
			t.Fatalf("piece %q is not clean UTF-8", piece)
		}
		got.WriteString(piece)
	}
	got.WriteString(d.flush())
	if got.String() != text {
		t.Fatalf("streamed %q, want %q", got.String(), text)
	}
}
