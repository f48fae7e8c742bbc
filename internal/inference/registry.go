package inference

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/strata-ml/strata/engine/lora"
	"github.com/strata-ml/strata/internal/apierr"
)

// Unit is the capacity one model unit buys on a base model: concurrent
// sequences in the running batch and KV cache tokens (docs/serving.md).
type Unit struct {
	Seqs     int // default 4
	KVTokens int // default 8192
}

// RegistryConfig configures a Registry.
type RegistryConfig struct {
	// MemoryBudget bounds weights + adapters + reserved KV cache, in bytes;
	// 0 means unlimited.
	MemoryBudget int64
	// Unit is the capacity of one model unit.
	Unit Unit
	// OnDemandUnits is the capacity every loaded base gets for on-demand
	// traffic, on top of its provisioned units (default 1).
	OnDemandUnits int
	// LoadWait is how long a request waits for a model that is loading
	// before it fails with ModelNotReadyException (default 0: at once).
	LoadWait time.Duration
	// Engine holds the engine settings other than capacity.
	Engine EngineConfig
	Logger *slog.Logger
}

// BaseSpec identifies and loads base weights. Custom models over the same
// base share one BaseSpec.Key and so one loaded copy.
type BaseSpec struct {
	Key string
	// Bytes, if known, is the expected resident size: a load that cannot
	// fit fails before reading anything.
	Bytes int64
	Load  func(ctx context.Context) (*Base, error)
}

// AdapterSpec identifies and loads a LoRA adapter for a base; it returns the
// adapter and its resident size in bytes.
type AdapterSpec struct {
	Key  string
	Load func(ctx context.Context, b *Base) (*lora.Adapter, int64, error)
}

type entry struct {
	key      string
	ready    chan struct{} // closed when loading ends
	err      error
	bytes    int64
	refs     int
	lastUsed time.Time

	// bases
	base    *Base
	eng     *Engine
	pinned  int   // provisioned units
	kvBytes int64 // KV memory reserved for the engine's capacity

	// adapters
	baseKey string
	adapter *lora.Adapter
}

// Registry loads, shares and unloads models under a memory budget. Entries
// in use (leased) are never unloaded; idle ones are unloaded, least recently
// used first, when a load needs their memory.
type Registry struct {
	cfg RegistryConfig

	mu       sync.Mutex
	bases    map[string]*entry
	adapters map[string]*entry
	loads    sync.WaitGroup
	ctx      context.Context
	cancel   context.CancelFunc
}

// NewRegistry returns an empty registry.
func NewRegistry(cfg RegistryConfig) *Registry {
	if cfg.Unit.Seqs <= 0 {
		cfg.Unit.Seqs = 4
	}
	if cfg.Unit.KVTokens <= 0 {
		cfg.Unit.KVTokens = 8192
	}
	if cfg.OnDemandUnits <= 0 {
		cfg.OnDemandUnits = 1
	}
	ctx, cancel := context.WithCancel(context.Background())
	return &Registry{cfg: cfg, bases: map[string]*entry{}, adapters: map[string]*entry{}, ctx: ctx, cancel: cancel}
}

// Close cancels loads in flight and unloads everything.
func (r *Registry) Close() {
	r.cancel()
	r.loads.Wait()
	r.mu.Lock()
	defer r.mu.Unlock()
	for k, e := range r.bases {
		if e.eng != nil {
			e.eng.Close()
		}
		delete(r.bases, k)
	}
	clear(r.adapters)
}

// Lease holds a loaded base (and adapter) in memory until Release.
type Lease struct {
	r       *Registry
	base    *entry
	adapter *entry
	units   int
	once    sync.Once
}

// Base returns the loaded base.
func (l *Lease) Base() *Base { return l.base.base }

// Engine returns the base's batching engine.
func (l *Lease) Engine() *Engine { return l.base.eng }

// Adapter returns the leased adapter, or nil for the base model.
func (l *Lease) Adapter() *lora.Adapter {
	if l.adapter == nil {
		return nil
	}
	return l.adapter.adapter
}

// Release returns the lease (and its provisioned units).
func (l *Lease) Release() {
	l.once.Do(func() {
		r := l.r
		r.mu.Lock()
		defer r.mu.Unlock()
		now := time.Now()
		l.base.refs--
		l.base.lastUsed = now
		if l.adapter != nil {
			l.adapter.refs--
			l.adapter.lastUsed = now
		}
		if l.units > 0 {
			l.base.pinned -= l.units
			r.resize(l.base)
		}
	})
}

// State is the load state of a model.
type State int

// Load states.
const (
	NotLoaded State = iota
	Loading
	Ready
	LoadFailed
)

// State reports whether base (and adapter, when given) are loaded.
func (r *Registry) State(baseKey, adapterKey string) (State, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	st, err := entryState(r.bases[baseKey])
	if st != Ready || adapterKey == "" {
		return st, err
	}
	return entryState(r.adapters[adapterKey])
}

func entryState(e *entry) (State, error) {
	if e == nil {
		return NotLoaded, nil
	}
	select {
	case <-e.ready:
		if e.err != nil {
			return LoadFailed, e.err
		}
		return Ready, nil
	default:
		return Loading, nil
	}
}

// Acquire leases base (and adapter, if non-nil), loading them if needed.
// units > 0 provisions that many model units on the base for as long as the
// lease is held. When wait is false, a model still loading after LoadWait
// fails with ModelNotReadyException (the load goes on in the background);
// when true, Acquire waits for the load or ctx.
func (r *Registry) Acquire(ctx context.Context, base BaseSpec, adapter *AdapterSpec, units int, wait bool) (*Lease, error) {
	r.mu.Lock()
	be := r.bases[base.Key]
	if be == nil && base.Bytes > 0 {
		if err := r.makeRoom(base.Bytes); err != nil {
			r.mu.Unlock()
			return nil, err
		}
	}
	if be == nil {
		be = &entry{key: base.Key, ready: make(chan struct{})}
		r.bases[base.Key] = be
		r.loads.Add(1)
		go r.loadBase(be, base)
	}
	be.refs++
	be.lastUsed = time.Now()
	l := &Lease{r: r, base: be}
	if units > 0 {
		be.pinned += units
		l.units = units
		if err := r.resize(be); err != nil {
			be.pinned -= units
			l.units = 0
			be.refs--
			r.mu.Unlock()
			return nil, err
		}
	}
	r.mu.Unlock()

	if err := r.await(ctx, be, wait); err != nil {
		l.Release()
		return nil, err
	}
	if adapter == nil {
		return l, nil
	}
	r.mu.Lock()
	ae := r.adapters[adapter.Key]
	if ae == nil || ae.baseKey != base.Key {
		ae = &entry{key: adapter.Key, baseKey: base.Key, ready: make(chan struct{})}
		r.adapters[adapter.Key] = ae
		r.loads.Add(1)
		go r.loadAdapter(ae, be.base, adapter)
	}
	ae.refs++
	ae.lastUsed = time.Now()
	l.adapter = ae
	r.mu.Unlock()
	if err := r.await(ctx, ae, wait); err != nil {
		l.Release()
		return nil, err
	}
	return l, nil
}

func (r *Registry) await(ctx context.Context, e *entry, wait bool) error {
	var timeout <-chan time.Time
	if !wait {
		t := time.NewTimer(r.cfg.LoadWait)
		defer t.Stop()
		timeout = t.C
	}
	select {
	case <-e.ready:
	default:
		select {
		case <-e.ready:
		case <-ctx.Done():
			return ctx.Err()
		case <-timeout:
			return apierr.New(apierr.ModelNotReady, "Model is not ready for inference. Wait and try your request again.")
		}
	}
	return e.err
}

func (r *Registry) loadBase(e *entry, spec BaseSpec) {
	defer r.loads.Done()
	b, err := spec.Load(r.ctx)
	r.mu.Lock()
	defer r.mu.Unlock()
	defer close(e.ready)
	if err == nil {
		err = r.makeRoom(b.Bytes + r.kvBytes(b, r.cfg.OnDemandUnits+e.pinned))
	}
	if err != nil {
		e.err = loadError(spec.Key, err)
		delete(r.bases, e.key)
		if r.cfg.Logger != nil {
			r.cfg.Logger.Error("inference: load base", "model", spec.Key, "err", err)
		}
		return
	}
	e.base, e.bytes = b, b.Bytes
	cfg := r.cfg.Engine
	cfg.ContextLen = b.ContextLen
	cfg.Logger = r.cfg.Logger
	e.eng = NewEngine(b.Model, cfg)
	e.base.ContextLen = e.eng.ContextLen()
	if err := r.resize(e); err != nil && r.cfg.Logger != nil {
		r.cfg.Logger.Error("inference: size engine", "model", spec.Key, "err", err)
	}
}

func loadError(key string, err error) error {
	if _, ok := errors.AsType[*apierr.Error](err); ok {
		return err
	}
	return apierr.Wrap(apierr.ModelError, "The model could not be loaded.", fmt.Errorf("inference: load %s: %w", key, err))
}

func (r *Registry) loadAdapter(e *entry, b *Base, spec *AdapterSpec) {
	defer r.loads.Done()
	ad, n, err := spec.Load(r.ctx, b)
	r.mu.Lock()
	defer r.mu.Unlock()
	defer close(e.ready)
	if err == nil {
		if err = r.makeRoom(n); err == nil {
			e.adapter, e.bytes = ad, n
		}
	}
	if err != nil {
		e.err = loadError(spec.Key, err)
		delete(r.adapters, e.key)
	}
}

func (r *Registry) kvBytes(b *Base, units int) int64 {
	return int64(units) * int64(r.cfg.Unit.KVTokens) * KVBytesPerToken(b.Model)
}

// used returns the memory held by loaded entries (under r.mu).
func (r *Registry) used() int64 {
	var n int64
	for _, e := range r.bases {
		n += e.bytes + e.kvBytes
	}
	for _, e := range r.adapters {
		n += e.bytes
	}
	return n
}

// makeRoom unloads idle entries, least recently used first, until need more
// bytes fit in the budget (under r.mu).
func (r *Registry) makeRoom(need int64) error {
	if r.cfg.MemoryBudget <= 0 {
		return nil
	}
	for r.used()+need > r.cfg.MemoryBudget {
		var victims []*entry
		for _, e := range r.adapters {
			if e.refs == 0 && e.err == nil && e.adapter != nil {
				victims = append(victims, e)
			}
		}
		for _, e := range r.bases {
			if e.refs == 0 && e.pinned == 0 && e.eng != nil && !r.hasAdapterRefs(e.key) {
				victims = append(victims, e)
			}
		}
		if len(victims) == 0 {
			return apierr.New(apierr.QuotaExceeded,
				"Not enough model memory: %d MiB needed, %d MiB of the %d MiB budget in use by models that are serving.",
				need>>20, r.used()>>20, r.cfg.MemoryBudget>>20)
		}
		v := slices.MinFunc(victims, func(a, b *entry) int { return a.lastUsed.Compare(b.lastUsed) })
		r.unload(v)
	}
	return nil
}

func (r *Registry) hasAdapterRefs(baseKey string) bool {
	for _, a := range r.adapters {
		if a.baseKey == baseKey && a.refs > 0 {
			return true
		}
	}
	return false
}

func (r *Registry) unload(e *entry) {
	if e.eng != nil {
		go e.eng.Close() // fails nothing: the entry is idle
		delete(r.bases, e.key)
		for k, a := range r.adapters {
			if a.baseKey == e.key {
				delete(r.adapters, k)
			}
		}
		return
	}
	delete(r.adapters, e.key)
}

// resize sets a loaded base's engine capacity from its units (under r.mu).
func (r *Registry) resize(e *entry) error {
	if e.eng == nil {
		return nil // sized when the load finishes
	}
	units := r.cfg.OnDemandUnits + e.pinned
	kv := r.kvBytes(e.base, units)
	if grow := kv - e.kvBytes; grow > 0 {
		e.kvBytes = 0 // don't count the old reservation twice
		err := r.makeRoom(kv)
		if err != nil {
			e.kvBytes = kv - grow
			return err
		}
	}
	e.kvBytes = kv
	bt := e.eng.cfg.BlockTokens
	e.eng.SetCapacity(Capacity{
		MaxSeqs:  units * r.cfg.Unit.Seqs,
		KVBlocks: units * r.cfg.Unit.KVTokens / bt,
		MaxQueue: 4 * units * r.cfg.Unit.Seqs,
	})
	return nil
}

// Loaded describes one loaded base for monitoring.
type Loaded struct {
	Key      string
	Bytes    int64
	KVBytes  int64
	Units    int
	Refs     int
	Adapters int
	Stats    Stats
}

// Loaded lists the loaded bases.
func (r *Registry) Loaded() []Loaded {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []Loaded
	for _, e := range r.bases {
		if e.eng == nil {
			continue
		}
		n := 0
		for _, a := range r.adapters {
			if a.baseKey == e.key && a.adapter != nil {
				n++
			}
		}
		out = append(out, Loaded{Key: e.key, Bytes: e.bytes, KVBytes: e.kvBytes, Units: r.cfg.OnDemandUnits + e.pinned, Refs: e.refs, Adapters: n, Stats: e.eng.Stats()})
	}
	slices.SortFunc(out, func(a, b Loaded) int { return strings.Compare(a.Key, b.Key) })
	return out
}
