package provision

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/strata-ml/strata/internal/apierr"
	"github.com/strata-ml/strata/internal/awsproto"
	"github.com/strata-ml/strata/internal/inference"
	"github.com/strata-ml/strata/internal/invoke"
)

// Target is a model resolved for serving.
type Target struct {
	ModelARN           string // the model's own ARN (custom or foundation)
	FoundationModelARN string // its base foundation model
	Family             invoke.Family
	Base               inference.BaseSpec
	Adapter            *inference.AdapterSpec // nil: the base itself
	Custom             bool                   // a custom model
}

// Resolver resolves a model identifier (foundation model id or ARN, custom
// model name or ARN) of an account. Unknown models are NotFound errors.
// When InBackground(ctx), the service is activating a throughput or
// deployment off any request (it keeps its status meanwhile), and the
// resolver may wait for a model that is still being prepared.
type Resolver interface {
	Resolve(ctx context.Context, account, ident string) (Target, error)
}

type backgroundKey struct{}

// InBackground reports whether ctx is the service's own, activating a
// throughput or deployment (at creation, update or restore), rather than a
// request's.
func InBackground(ctx context.Context) bool { return ctx.Value(backgroundKey{}) != nil }

// Config configures a Service.
type Config struct {
	Region string
	// MaxUnitsPerAccount bounds the model units an account may provision
	// (ServiceQuotaExceededException past it; default 64).
	MaxUnitsPerAccount int
	Now                func() time.Time
	Logger             *slog.Logger
}

// Service manages Provisioned Throughputs and custom model deployments.
type Service struct {
	cfg   Config
	store Store
	reg   *inference.Registry
	res   Resolver

	mu     sync.Mutex
	leases map[string]*inference.Lease // "pt/account/id" or "dp/account/id"
	gen    map[string]int              // bumped on every change; stale activations give up
	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup
}

// New returns a Service. Call Restore once at startup.
func New(cfg Config, st Store, reg *inference.Registry, res Resolver) *Service {
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.MaxUnitsPerAccount <= 0 {
		cfg.MaxUnitsPerAccount = defaultMaxUnitsPerAcc
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	ctx, cancel := context.WithCancel(context.Background())
	return &Service{cfg: cfg, store: st, reg: reg, res: res, leases: map[string]*inference.Lease{}, gen: map[string]int{}, ctx: ctx, cancel: cancel}
}

// Close stops activations and releases every pinned model.
func (s *Service) Close() {
	s.cancel()
	s.wg.Wait()
	s.mu.Lock()
	defer s.mu.Unlock()
	for k, l := range s.leases {
		l.Release()
		delete(s.leases, k)
	}
}

// Restore re-provisions the records found at startup: throughputs and
// deployments that were serving (or on their way) load again.
func (s *Service) Restore(ctx context.Context) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	pts, err := s.store.Throughputs(ctx, "")
	if err != nil {
		return fmt.Errorf("provision: restore: %w", err)
	}
	for _, t := range pts {
		if t.Status == PTFailed {
			continue
		}
		s.activateThroughput(t.Account, t.ID)
	}
	dps, err := s.store.Deployments(ctx, "")
	if err != nil {
		return fmt.Errorf("provision: restore: %w", err)
	}
	for _, d := range dps {
		if d.Status != DeployFailed {
			s.activateDeployment(d.Account, d.ID)
		}
	}
	return nil
}

func (s *Service) now() time.Time { return s.cfg.Now().UTC() }

func truncate(msg string) string {
	if len(msg) > maxFailureMessageLen {
		return msg[:maxFailureMessageLen]
	}
	return msg
}

// publicMessage is the client-safe text of an error.
func publicMessage(err error) string {
	if e, ok := errors.AsType[*apierr.Error](err); ok {
		return e.Msg
	}
	return "Internal error while loading the model."
}

// CreateThroughputInput is a validated CreateProvisionedModelThroughput.
type CreateThroughputInput struct {
	Name               string
	ModelID            string
	ModelUnits         int
	CommitmentDuration string
	ClientRequestToken string
	Tags               []Tag
}

// CreateThroughput creates a Provisioned Throughput (Creating) and starts
// loading its model; it turns InService once the model is loaded.
func (s *Service) CreateThroughput(ctx context.Context, account string, in CreateThroughputInput) (*Throughput, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	all, err := s.store.Throughputs(ctx, account)
	if err != nil {
		return nil, fmt.Errorf("provision: create throughput: %w", err)
	}
	units := 0
	for _, t := range all {
		if in.ClientRequestToken != "" && t.ClientRequestToken == in.ClientRequestToken {
			return t, nil // idempotent retry
		}
		if t.Name == in.Name {
			return nil, apierr.Validationf("A Provisioned Throughput named %s already exists in this account.", in.Name)
		}
		units += t.DesiredModelUnits
	}
	if units+in.ModelUnits > s.cfg.MaxUnitsPerAccount {
		return nil, apierr.QuotaExceededf("Requested %d model units; the account has %d of its %d model units provisioned.", in.ModelUnits, units, s.cfg.MaxUnitsPerAccount)
	}
	tg, err := s.res.Resolve(ctx, account, in.ModelID)
	if err != nil {
		return nil, err
	}
	now := s.now()
	id := awsproto.NewID()
	t := &Throughput{
		ID: id, Account: account, ARN: awsproto.ResourceARN(s.cfg.Region, account, provisionedModelType, id),
		Name: in.Name, ModelARN: tg.ModelARN, DesiredModelARN: tg.ModelARN, FoundationModelARN: tg.FoundationModelARN,
		ModelUnits: in.ModelUnits, DesiredModelUnits: in.ModelUnits, Status: PTCreating,
		CommitmentDuration: in.CommitmentDuration, CreationTime: now, LastModifiedTime: now,
		ClientRequestToken: in.ClientRequestToken, Tags: in.Tags,
	}
	switch in.CommitmentDuration {
	case CommitmentOneMonth:
		t.CommitmentExpirationTime = now.AddDate(0, 1, 0)
	case CommitmentSixMonths:
		t.CommitmentExpirationTime = now.AddDate(0, 6, 0)
	}
	if err := s.store.PutThroughput(ctx, t); err != nil {
		if errors.Is(err, ErrConflict) { // another server process took the name
			list := func(ctx context.Context) ([]*Throughput, error) { return s.store.Throughputs(ctx, account) }
			if o, ok := raceWinner(ctx, in.ClientRequestToken, list); ok { // this very request, retried there
				return o, nil
			}
			return nil, apierr.Validationf("A Provisioned Throughput named %s already exists in this account.", in.Name)
		}
		return nil, fmt.Errorf("provision: create throughput: %w", err)
	}
	s.activateThroughput(account, id)
	return t, nil
}

// findThroughput resolves a name or ARN within account.
func (s *Service) findThroughput(ctx context.Context, account, ident string) (*Throughput, error) {
	id, err := awsproto.ParseIdent(ident, provisionedModelType)
	if err != nil {
		return nil, apierr.Wrap(apierr.Validation, fmt.Sprintf("The provided identifier %s is not a valid Provisioned Throughput name or ARN.", ident), err)
	}
	all, err := s.store.Throughputs(ctx, account)
	if err != nil {
		return nil, fmt.Errorf("provision: get throughput: %w", err)
	}
	if t, ok := findOwned(all, account, ident, id); ok {
		return t, nil
	}
	return nil, apierr.NotFoundf("Provisioned Throughput %s not found.", ident)
}

// GetThroughput returns a Provisioned Throughput by name or ARN.
func (s *Service) GetThroughput(ctx context.Context, account, ident string) (*Throughput, error) {
	return s.findThroughput(ctx, account, ident)
}

// ListThroughputs returns the account's Provisioned Throughputs.
func (s *Service) ListThroughputs(ctx context.Context, account string) ([]*Throughput, error) {
	all, err := s.store.Throughputs(ctx, account)
	if err != nil {
		return nil, fmt.Errorf("provision: list throughputs: %w", err)
	}
	return all, nil
}

// UpdateThroughput renames a Provisioned Throughput and/or moves it to
// another model of the same base (custom model or the base itself). A model
// change goes Updating → InService once the new model is loaded; the old one
// serves until then.
func (s *Service) UpdateThroughput(ctx context.Context, account, ident string, name, modelID *string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	t, err := s.findThroughput(ctx, account, ident)
	if err != nil {
		return err
	}
	if t.Status == PTCreating || t.Status == PTUpdating {
		return apierr.Validationf("Provisioned Throughput %s is %s; wait until it is InService and try again.", t.Name, t.Status)
	}
	if name != nil && *name != t.Name {
		all, err := s.store.Throughputs(ctx, account)
		if err != nil {
			return fmt.Errorf("provision: update throughput: %w", err)
		}
		for _, o := range all {
			if o.Name == *name {
				return apierr.Validationf("A Provisioned Throughput named %s already exists in this account.", *name)
			}
		}
		t.Name = *name
	}
	changeModel := false
	if modelID != nil {
		tg, err := s.res.Resolve(ctx, account, *modelID)
		if err != nil {
			return err
		}
		if tg.FoundationModelARN != t.FoundationModelARN {
			return apierr.Validationf("The model %s is not based on %s; a Provisioned Throughput can only move to a model of the same base model.", *modelID, t.FoundationModelARN)
		}
		if tg.ModelARN != t.ModelARN {
			t.DesiredModelARN, t.Status, changeModel = tg.ModelARN, PTUpdating, true
		}
	}
	t.LastModifiedTime = s.now()
	if err := s.store.PutThroughput(ctx, t); err != nil {
		if errors.Is(err, ErrConflict) {
			return apierr.Validationf("A Provisioned Throughput named %s already exists in this account.", t.Name)
		}
		return fmt.Errorf("provision: update throughput: %w", err)
	}
	if changeModel {
		s.activateThroughput(account, t.ID)
	}
	return nil
}

// DeleteThroughput deletes a Provisioned Throughput and releases its
// capacity. One with a commitment term still running cannot be deleted.
func (s *Service) DeleteThroughput(ctx context.Context, account, ident string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	t, err := s.findThroughput(ctx, account, ident)
	if err != nil {
		return err
	}
	if !t.CommitmentExpirationTime.IsZero() && s.now().Before(t.CommitmentExpirationTime) {
		return apierr.Conflictf("Provisioned Throughput %s has a commitment term until %s and can't be deleted before it ends.", t.Name, awsproto.FormatTime(t.CommitmentExpirationTime))
	}
	if err := s.store.DeleteThroughput(ctx, account, t.ID); err != nil && !errors.Is(err, ErrNotFound) {
		return fmt.Errorf("provision: delete throughput: %w", err)
	}
	s.dropLease("pt/" + account + "/" + t.ID)
	return nil
}

// dropLease releases a resource's pinned model (the caller holds s.mu).
func (s *Service) dropLease(key string) {
	s.gen[key]++
	l := s.leases[key]
	delete(s.leases, key)
	if l != nil {
		l.Release()
	}
}

// activateThroughput loads the throughput's desired model with its units in
// the background and records the outcome.
func (s *Service) activateThroughput(account, id string) {
	key := "pt/" + account + "/" + id
	s.gen[key]++ // the caller holds s.mu
	gen := s.gen[key]
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		ctx := context.WithValue(s.ctx, backgroundKey{}, true)
		t, err := s.throughputByID(ctx, account, id)
		if err != nil {
			return
		}
		tg, err := s.res.Resolve(ctx, account, t.DesiredModelARN)
		var lease *inference.Lease
		if err == nil {
			lease, err = s.reg.Acquire(ctx, tg.Base, tg.Adapter, t.DesiredModelUnits, true)
		}
		s.mu.Lock()
		defer s.mu.Unlock()
		if s.gen[key] != gen || ctx.Err() != nil {
			if lease != nil {
				lease.Release()
			}
			return
		}
		t, gerr := s.throughputByID(ctx, account, id)
		if gerr != nil {
			if lease != nil {
				lease.Release()
			}
			return
		}
		t.LastModifiedTime = s.now()
		if err != nil {
			s.cfg.Logger.Error("provision: activate throughput", "arn", t.ARN, "err", err)
			if t.Status == PTUpdating {
				// The old model keeps serving; report why the update failed.
				t.Status, t.DesiredModelARN = PTInService, t.ModelARN
				t.FailureMessage = truncate("Update failed: " + publicMessage(err))
			} else {
				t.Status, t.FailureMessage = PTFailed, truncate(publicMessage(err))
			}
		} else {
			if old := s.leases[key]; old != nil {
				old.Release()
			}
			s.leases[key] = lease
			t.Status, t.ModelARN, t.ModelUnits, t.FailureMessage = PTInService, t.DesiredModelARN, t.DesiredModelUnits, ""
		}
		if perr := s.store.PutThroughput(ctx, t); perr != nil {
			s.cfg.Logger.Error("provision: record throughput status", "arn", t.ARN, "err", perr)
		}
	}()
}

func (s *Service) throughputByID(ctx context.Context, account, id string) (*Throughput, error) {
	return s.store.Throughput(ctx, account, id)
}

// ModelInUse returns the ARN of a Provisioned Throughput or deployment that
// serves modelARN (current or desired), or "" when none does. The control
// plane refuses to delete such a model (ConflictException).
func (s *Service) ModelInUse(ctx context.Context, account, modelARN string) (string, error) {
	pts, err := s.store.Throughputs(ctx, account)
	if err != nil {
		return "", fmt.Errorf("provision: model in use: %w", err)
	}
	for _, t := range pts {
		if t.ModelARN == modelARN || t.DesiredModelARN == modelARN {
			return t.ARN, nil
		}
	}
	dps, err := s.store.Deployments(ctx, account)
	if err != nil {
		return "", fmt.Errorf("provision: model in use: %w", err)
	}
	for _, d := range dps {
		if d.ModelARN == modelARN || d.UpdateModelARN == modelARN && d.UpdateStatus == UpdateUpdating {
			return d.ARN, nil
		}
	}
	return "", nil
}

// Serving resolves a runtime modelId that names a Provisioned Throughput
// (name or ARN) or a deployment (ARN). ok is false when ident names neither.
// A resource still loading gives ModelNotReadyException; a failed one a
// ValidationException.
func (s *Service) Serving(ctx context.Context, account, ident string) (tg Target, ok bool, err error) {
	if strings.HasPrefix(ident, "arn:") {
		a, perr := awsproto.ParseARN(ident)
		if perr != nil {
			return Target{}, false, nil
		}
		switch a.Type() {
		case provisionedModelType:
			t, err := s.findThroughput(ctx, account, ident)
			if err != nil {
				return Target{}, true, err
			}
			tg, err := s.throughputTarget(ctx, t)
			return tg, true, err
		case deploymentModelType:
			d, err := s.findDeployment(ctx, account, ident)
			if err != nil {
				return Target{}, true, err
			}
			tg, err := s.deploymentTarget(ctx, d)
			return tg, true, err
		}
		return Target{}, false, nil
	}
	all, err := s.store.Throughputs(ctx, account)
	if err != nil {
		return Target{}, false, fmt.Errorf("provision: resolve %s: %w", ident, err)
	}
	for _, t := range all {
		if t.Name == ident {
			tg, err := s.throughputTarget(ctx, t)
			return tg, true, err
		}
	}
	return Target{}, false, nil
}

func (s *Service) throughputTarget(ctx context.Context, t *Throughput) (Target, error) {
	switch t.Status {
	case PTCreating:
		return Target{}, apierr.New(apierr.ModelNotReady, "Provisioned Throughput %s is still being created. Wait until it is InService and try again.", t.Name)
	case PTFailed:
		return Target{}, apierr.Validationf("Provisioned Throughput %s failed: %s", t.Name, t.FailureMessage)
	}
	return s.res.Resolve(ctx, t.Account, t.ModelARN)
}
