package inference

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/strata-ml/strata/engine/lora"
	"github.com/strata-ml/strata/internal/apierr"
)

type loadCounter struct {
	mu    sync.Mutex
	loads map[string]int
}

func (c *loadCounter) inc(k string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.loads == nil {
		c.loads = map[string]int{}
	}
	c.loads[k]++
}

func (c *loadCounter) get(k string) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.loads[k]
}

func fakeBaseSpec(c *loadCounter, key string, bytes int64, gate chan struct{}) BaseSpec {
	return BaseSpec{Key: key, Bytes: bytes, Load: func(ctx context.Context) (*Base, error) {
		if gate != nil {
			select {
			case <-gate:
			case <-ctx.Done():
				return nil, ctx.Err()
			}
		}
		c.inc(key)
		b := fakeBase(newFakeModel())
		b.Bytes = bytes
		return b, nil
	}}
}

func fakeAdapterSpec(c *loadCounter, key string) *AdapterSpec {
	return &AdapterSpec{Key: key, Load: func(ctx context.Context, b *Base) (*lora.Adapter, int64, error) {
		c.inc(key)
		return b.Model.(*fakeModel).Adapter(1), 100, nil
	}}
}

func newTestRegistry(t *testing.T, cfg RegistryConfig) *Registry {
	if cfg.Unit.KVTokens == 0 {
		cfg.Unit = Unit{Seqs: 2, KVTokens: 64} // 64 tokens × 32 B = 2 KiB per unit
	}
	r := NewRegistry(cfg)
	t.Cleanup(r.Close)
	return r
}

func TestRegistrySharesBaseAcrossAdapters(t *testing.T) {
	var c loadCounter
	r := newTestRegistry(t, RegistryConfig{})
	ctx := t.Context()
	base := fakeBaseSpec(&c, "base", 1000, nil)
	var leases []*Lease
	for i := range 6 {
		key := []string{"a1", "a2", "a3"}[i%3]
		l, err := r.Acquire(ctx, base, fakeAdapterSpec(&c, key), 0, true)
		if err != nil {
			t.Fatal(err)
		}
		leases = append(leases, l)
	}
	if n := c.get("base"); n != 1 {
		t.Errorf("base loaded %d times, want 1", n)
	}
	for _, k := range []string{"a1", "a2", "a3"} {
		if n := c.get(k); n != 1 {
			t.Errorf("adapter %s loaded %d times, want 1", k, n)
		}
	}
	if leases[0].Engine() != leases[5].Engine() {
		t.Error("custom models over one base got different engines")
	}
	// The leases share one engine: generation works through each adapter.
	g, err := Generate(ctx, leases[1].Base(), leases[1].Engine(), GenerateRequest{Prompt: "a", Params: greedy(3), Adapter: leases[1].Adapter()}, nil)
	if err != nil || g.Text != "ceg" {
		t.Errorf("generate through adapter: %q, %v; want \"ceg\"", g.Text, err)
	}
	for _, l := range leases {
		l.Release()
	}
	if got := r.Loaded(); len(got) != 1 || got[0].Adapters != 3 || got[0].Refs != 0 {
		t.Errorf("Loaded() = %+v, want one idle base with 3 adapters", got)
	}
}

func TestRegistryBudgetEvictsIdleLRU(t *testing.T) {
	var c loadCounter
	// Each base: 10000 B weights + 2048 B KV for its on-demand unit.
	r := newTestRegistry(t, RegistryConfig{MemoryBudget: 25000})
	ctx := t.Context()
	a, b, cc := fakeBaseSpec(&c, "A", 10000, nil), fakeBaseSpec(&c, "B", 10000, nil), fakeBaseSpec(&c, "C", 10000, nil)
	la, err := r.Acquire(ctx, a, nil, 0, true)
	if err != nil {
		t.Fatal(err)
	}
	lb, err := r.Acquire(ctx, b, nil, 0, true)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := r.Acquire(ctx, cc, nil, 0, true); !apierr.Is(err, apierr.QuotaExceeded) {
		t.Fatalf("third base with two in use: %v, want ServiceQuotaExceededException", err)
	}
	la.Release()
	lc, err := r.Acquire(ctx, cc, nil, 0, true)
	if err != nil {
		t.Fatalf("third base after releasing A: %v", err)
	}
	if st, _ := r.State("A", ""); st != NotLoaded {
		t.Errorf("A state %v after eviction, want NotLoaded", st)
	}
	lb.Release()
	lc.Release()
	la, err = r.Acquire(ctx, a, nil, 0, true)
	if err != nil {
		t.Fatal(err)
	}
	la.Release()
	if c.get("A") != 2 || c.get("B") != 1 || c.get("C") != 1 {
		t.Errorf("loads A=%d B=%d C=%d, want 2 1 1 (A evicted once, B least recently used next)", c.get("A"), c.get("B"), c.get("C"))
	}
	if st, _ := r.State("B", ""); st != NotLoaded {
		t.Errorf("B should have been evicted as least recently used")
	}
}

func TestRegistryNotReadyWhileLoading(t *testing.T) {
	var c loadCounter
	gate := make(chan struct{})
	r := newTestRegistry(t, RegistryConfig{})
	spec := fakeBaseSpec(&c, "slow", 1, gate)
	if _, err := r.Acquire(t.Context(), spec, nil, 0, false); !apierr.Is(err, apierr.ModelNotReady) {
		t.Fatalf("while loading: %v, want ModelNotReadyException", err)
	}
	if st, _ := r.State("slow", ""); st != Loading {
		t.Fatalf("state %v, want Loading", st)
	}
	close(gate)
	l, err := r.Acquire(t.Context(), spec, nil, 0, true)
	if err != nil {
		t.Fatal(err)
	}
	l.Release()
	if n := c.get("slow"); n != 1 {
		t.Errorf("loaded %d times, want 1", n)
	}
}

func TestRegistryUnitsSetCapacity(t *testing.T) {
	var c loadCounter
	r := newTestRegistry(t, RegistryConfig{})
	spec := fakeBaseSpec(&c, "m", 1, nil)
	l1, err := r.Acquire(t.Context(), spec, nil, 3, true)
	if err != nil {
		t.Fatal(err)
	}
	if got := l1.Engine().Capacity(); got.MaxSeqs != 8 || got.KVBlocks != 4*64/16 {
		t.Errorf("capacity with 1+3 units = %+v, want 8 seqs and 16 blocks", got)
	}
	l1.Release()
	l2, err := r.Acquire(t.Context(), spec, nil, 0, true)
	if err != nil {
		t.Fatal(err)
	}
	defer l2.Release()
	if got := l2.Engine().Capacity(); got.MaxSeqs != 2 {
		t.Errorf("capacity after releasing the units = %+v, want 2 seqs", got)
	}
}

func TestRegistryLoadFailureRetries(t *testing.T) {
	var calls atomic.Int32
	r := newTestRegistry(t, RegistryConfig{})
	spec := BaseSpec{Key: "bad", Load: func(ctx context.Context) (*Base, error) {
		if calls.Add(1) == 1 {
			return nil, errors.New("disk on fire")
		}
		return fakeBase(newFakeModel()), nil
	}}
	if _, err := r.Acquire(t.Context(), spec, nil, 0, true); !apierr.Is(err, apierr.ModelError) {
		t.Fatalf("failed load: %v, want ModelErrorException", err)
	}
	l, err := r.Acquire(t.Context(), spec, nil, 0, true)
	if err != nil {
		t.Fatalf("retry after a failed load: %v", err)
	}
	l.Release()
}
