// Package catalog is the model registry: the foundation models this server
// offers (the built-in starter model once it is ready, plus operator-
// registered Hugging Face directories kept in the store), the model families
// that decide accepted dataset formats and hyperparameter ranges, and the
// lookup of custom models by name or ARN for the runtime.
package catalog

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/strata-ml/strata/internal/apierr"
	"github.com/strata-ml/strata/internal/awsproto"
	"github.com/strata-ml/strata/internal/store"
)

// StarterID is the model id of the built-in starter model.
const StarterID = "strata.starter-v1:0"

// ErrNotFound is returned for an unknown or not-yet-ready model.
var ErrNotFound = errors.New("catalog: model not found")

// Model is a foundation model the server can customize and serve.
type Model struct {
	ID       string // Bedrock model id
	Name     string // display name (≤ 20 chars on the wire)
	Provider string
	Family   *Family
	Dir      string // local Hugging Face model directory
	Starter  bool
}

// ARN returns the model's foundation-model ARN in region.
func (m *Model) ARN(region string) string { return awsproto.FoundationModelARN(region, m.ID) }

// Store is the part of store.Store the catalog reads.
type Store interface {
	ListFoundationModels(ctx context.Context) ([]*store.FoundationModel, error)
	GetCustomModel(ctx context.Context, account, id string) (*store.CustomModel, error)
	GetCustomModelByName(ctx context.Context, account, name string) (*store.CustomModel, error)
}

// Catalog lists and resolves models. It is safe for concurrent use.
type Catalog struct {
	store Store

	mu         sync.Mutex
	starterDir string
	starterErr error
}

// New returns a catalog over st. The starter model is listed once
// SetStarter reports its directory.
func New(st Store) *Catalog { return &Catalog{store: st} }

// ErrStarterDisabled is the starter status of a server configured not to
// build it (noStarter).
var ErrStarterDisabled = errors.New("catalog: the starter model is disabled")

// SetStarter records the outcome of building the starter model.
func (c *Catalog) SetStarter(dir string, err error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.starterDir, c.starterErr = dir, err
}

// StarterStatus returns the starter model's directory ("" while not ready)
// and the error that prevented it, if any.
func (c *Catalog) StarterStatus() (string, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.starterDir, c.starterErr
}

// List returns every available foundation model, ordered by id.
func (c *Catalog) List(ctx context.Context) ([]*Model, error) {
	var out []*Model
	if dir, _ := c.StarterStatus(); dir != "" {
		out = append(out, &Model{ID: StarterID, Name: "Strata Starter", Provider: "Strata", Family: families["llama"], Dir: dir, Starter: true})
	}
	fms, err := c.store.ListFoundationModels(ctx)
	if err != nil {
		return nil, fmt.Errorf("catalog: list: %w", err)
	}
	for _, fm := range fms {
		if fm.ID == StarterID && len(out) > 0 {
			continue
		}
		out = append(out, fromRecord(fm))
	}
	slices.SortFunc(out, func(a, b *Model) int { return strings.Compare(a.ID, b.ID) })
	return out, nil
}

func fromRecord(fm *store.FoundationModel) *Model {
	f := families[fm.Family]
	if f == nil {
		f = families["llama"]
	}
	name, provider := fm.Name, fm.Provider
	if provider == "" {
		p, _, _ := strings.Cut(fm.ID, ".")
		provider = providerName(p)
	}
	if name == "" {
		_, rest, _ := strings.Cut(fm.ID, ".")
		name, _, _ = strings.Cut(rest, ":")
	}
	if len(name) > 20 {
		name = name[:20]
	}
	if len(provider) > 20 {
		provider = provider[:20]
	}
	return &Model{ID: fm.ID, Name: name, Provider: provider, Family: f, Dir: fm.Dir}
}

func providerName(p string) string {
	switch p {
	case "meta":
		return "Meta"
	case "mistral":
		return "Mistral AI"
	case "qwen":
		return "Qwen"
	case "strata":
		return "Strata"
	}
	if p == "" {
		return "Custom"
	}
	return strings.ToUpper(p[:1]) + p[1:]
}

// GetWait is Get that, for the starter model while the server is still
// building it in the background (after a restart a resumed job or a
// restored Provisioned Throughput can ask before it is registered), waits
// for the build to settle, for at most d. It fails as Get does once the
// build has failed or d has passed.
func (c *Catalog) GetWait(ctx context.Context, ident string, d time.Duration) (*Model, error) {
	m, err := c.Get(ctx, ident)
	if !errors.Is(err, ErrNotFound) || !c.isStarter(ident) {
		return m, err
	}
	tick := time.NewTicker(250 * time.Millisecond)
	defer tick.Stop()
	deadline := time.After(d)
	for {
		if dir, serr := c.StarterStatus(); dir != "" || serr != nil {
			return c.Get(ctx, ident)
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-deadline:
			return nil, err
		case <-tick.C:
		}
	}
}

// StarterPending reports whether ident names the starter model while the
// server is still building (or finding) it.
func (c *Catalog) StarterPending(ident string) bool {
	dir, err := c.StarterStatus()
	return dir == "" && err == nil && c.isStarter(ident)
}

// isStarter reports whether ident names the starter model (id or ARN).
func (c *Catalog) isStarter(ident string) bool {
	if ident == StarterID {
		return true
	}
	a, err := awsproto.ParseARN(ident)
	return err == nil && a.Type() == "foundation-model" && strings.TrimPrefix(a.Resource, "foundation-model/") == StarterID
}

// Get resolves a foundation model id or ARN; ErrNotFound if unknown.
func (c *Catalog) Get(ctx context.Context, ident string) (*Model, error) {
	id := ident
	if strings.HasPrefix(ident, "arn:") {
		a, err := awsproto.ParseARN(ident)
		if err != nil || a.Type() != "foundation-model" || a.Account != "" {
			return nil, fmt.Errorf("catalog: %q: %w", ident, ErrNotFound)
		}
		id = strings.TrimPrefix(a.Resource, "foundation-model/")
	}
	models, err := c.List(ctx)
	if err != nil {
		return nil, err
	}
	for _, m := range models {
		if m.ID == id {
			return m, nil
		}
	}
	// Bedrock's customizable variants carry a context-length suffix
	// (meta.llama3-1-8b-instruct-v1:0:128k): accept it for a registered id.
	if i := strings.LastIndexByte(id, ':'); i > 0 && strings.Count(id, ":") == 2 {
		for _, m := range models {
			if m.ID == id[:i] {
				return m, nil
			}
		}
	}
	return nil, fmt.Errorf("catalog: %q: %w", ident, ErrNotFound)
}

// GetCustomModel resolves a custom model by name or ARN within account. It
// returns an apierr NotFound error when there is none (or it belongs to
// another account) and a Validation error for a malformed ARN.
func (c *Catalog) GetCustomModel(ctx context.Context, account, ident string) (*store.CustomModel, error) {
	id, err := awsproto.ParseIdent(ident, "custom-model")
	if err != nil {
		if strings.HasPrefix(ident, "arn:") {
			if a, perr := awsproto.ParseARN(ident); perr == nil && a.Type() == "foundation-model" {
				return nil, apierr.NotFoundf("The specified model %s is not a custom model.", ident)
			}
		}
		return nil, apierr.Wrap(apierr.Validation, fmt.Sprintf("The provided model identifier %s is not a valid custom model identifier.", ident), err)
	}
	var m *store.CustomModel
	if id.ARN != nil {
		if id.ARN.Account != account {
			return nil, apierr.NotFoundf("Could not find model %s.", ident)
		}
		m, err = c.store.GetCustomModel(ctx, account, id.ID)
		if err == nil && m.ARN != ident {
			err = store.ErrNotFound
		}
	} else {
		m, err = c.store.GetCustomModelByName(ctx, account, id.Name)
	}
	if errors.Is(err, store.ErrNotFound) {
		return nil, apierr.Wrap(apierr.NotFound, fmt.Sprintf("Could not find model %s.", ident), err)
	}
	if err != nil {
		return nil, fmt.Errorf("catalog: get custom model: %w", err)
	}
	return m, nil
}
