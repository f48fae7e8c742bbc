package provision

import (
	"context"
	"errors"
	"fmt"

	"github.com/strata-ml/strata/internal/apierr"
	"github.com/strata-ml/strata/internal/awsproto"
	"github.com/strata-ml/strata/internal/inference"
)

// CreateDeploymentInput is a validated CreateCustomModelDeployment.
type CreateDeploymentInput struct {
	Name               string
	ModelARN           string
	Description        string
	ClientRequestToken string
	Tags               []Tag
}

// CreateDeployment deploys an Active custom model for on-demand inference
// (Creating → Active once its weights are loaded).
func (s *Service) CreateDeployment(ctx context.Context, account string, in CreateDeploymentInput) (*Deployment, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	all, err := s.store.Deployments(ctx, account)
	if err != nil {
		return nil, fmt.Errorf("provision: create deployment: %w", err)
	}
	for _, d := range all {
		if in.ClientRequestToken != "" && d.ClientRequestToken == in.ClientRequestToken {
			return d, nil
		}
		if d.Name == in.Name {
			return nil, apierr.Validationf("A custom model deployment named %s already exists in this account.", in.Name)
		}
	}
	tg, err := s.res.Resolve(ctx, account, in.ModelARN)
	if err != nil {
		return nil, err
	}
	if !tg.Custom {
		return nil, apierr.Validationf("The model %s is not a custom model. Only custom models can be deployed.", in.ModelARN)
	}
	now := s.now()
	id := awsproto.NewID()
	d := &Deployment{ID: id, Account: account, ARN: awsproto.ResourceARN(s.cfg.Region, account, deploymentModelType, id),
		Name: in.Name, ModelARN: tg.ModelARN, Description: in.Description, Status: DeployCreating,
		CreatedAt: now, LastUpdatedAt: now, ClientRequestToken: in.ClientRequestToken, Tags: in.Tags}
	if err := s.store.PutDeployment(ctx, d); err != nil {
		if errors.Is(err, ErrConflict) { // another server process took the name
			list := func(ctx context.Context) ([]*Deployment, error) { return s.store.Deployments(ctx, account) }
			if o, ok := raceWinner(ctx, in.ClientRequestToken, list); ok { // this very request, retried there
				return o, nil
			}
			return nil, apierr.Validationf("A custom model deployment named %s already exists in this account.", in.Name)
		}
		return nil, fmt.Errorf("provision: create deployment: %w", err)
	}
	s.activateDeployment(account, id)
	return d, nil
}

func (s *Service) findDeployment(ctx context.Context, account, ident string) (*Deployment, error) {
	id, err := awsproto.ParseIdent(ident, deploymentModelType)
	if err != nil {
		return nil, apierr.Wrap(apierr.Validation, fmt.Sprintf("The provided identifier %s is not a valid custom model deployment name or ARN.", ident), err)
	}
	all, err := s.store.Deployments(ctx, account)
	if err != nil {
		return nil, fmt.Errorf("provision: get deployment: %w", err)
	}
	if d, ok := findOwned(all, account, ident, id); ok {
		return d, nil
	}
	return nil, apierr.NotFoundf("Custom model deployment %s not found.", ident)
}

// GetDeployment returns a deployment by name or ARN.
func (s *Service) GetDeployment(ctx context.Context, account, ident string) (*Deployment, error) {
	return s.findDeployment(ctx, account, ident)
}

// ListDeployments returns the account's deployments.
func (s *Service) ListDeployments(ctx context.Context, account string) ([]*Deployment, error) {
	all, err := s.store.Deployments(ctx, account)
	if err != nil {
		return nil, fmt.Errorf("provision: list deployments: %w", err)
	}
	return all, nil
}

// UpdateDeployment moves a deployment to another custom model; the old one
// serves until the new one is loaded (updateStatus Updating →
// UpdateCompleted, or UpdateFailed).
func (s *Service) UpdateDeployment(ctx context.Context, account, ident, modelARN string) (*Deployment, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	d, err := s.findDeployment(ctx, account, ident)
	if err != nil {
		return nil, err
	}
	if d.Status != DeployActive || d.UpdateStatus == UpdateUpdating {
		return nil, apierr.Validationf("Custom model deployment %s is not Active with no update in progress; try again later.", d.Name)
	}
	tg, err := s.res.Resolve(ctx, account, modelARN)
	if err != nil {
		return nil, err
	}
	if !tg.Custom {
		return nil, apierr.Validationf("The model %s is not a custom model. Only custom models can be deployed.", modelARN)
	}
	d.UpdateModelARN, d.UpdateStatus, d.LastUpdatedAt = tg.ModelARN, UpdateUpdating, s.now()
	if err := s.store.PutDeployment(ctx, d); err != nil {
		return nil, fmt.Errorf("provision: update deployment: %w", err)
	}
	s.activateDeployment(account, d.ID)
	return d, nil
}

// DeleteDeployment deletes a deployment and unpins its model.
func (s *Service) DeleteDeployment(ctx context.Context, account, ident string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	d, err := s.findDeployment(ctx, account, ident)
	if err != nil {
		return err
	}
	if err := s.store.DeleteDeployment(ctx, account, d.ID); err != nil && !errors.Is(err, ErrNotFound) {
		return fmt.Errorf("provision: delete deployment: %w", err)
	}
	s.dropLease("dp/" + account + "/" + d.ID)
	return nil
}

func (s *Service) deploymentByID(ctx context.Context, account, id string) (*Deployment, error) {
	return s.store.Deployment(ctx, account, id)
}

func (s *Service) activateDeployment(account, id string) {
	key := "dp/" + account + "/" + id
	s.gen[key]++ // the caller holds s.mu
	gen := s.gen[key]
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		ctx := context.WithValue(s.ctx, backgroundKey{}, true)
		d, err := s.deploymentByID(ctx, account, id)
		if err != nil {
			return
		}
		want := d.ModelARN
		if d.UpdateStatus == UpdateUpdating {
			want = d.UpdateModelARN
		}
		tg, err := s.res.Resolve(ctx, account, want)
		var lease *inference.Lease
		if err == nil {
			lease, err = s.reg.Acquire(ctx, tg.Base, tg.Adapter, 0, true)
		}
		s.mu.Lock()
		defer s.mu.Unlock()
		d, gerr := s.deploymentByID(ctx, account, id)
		if s.gen[key] != gen || ctx.Err() != nil || gerr != nil {
			if lease != nil {
				lease.Release()
			}
			return
		}
		d.LastUpdatedAt = s.now()
		switch {
		case err != nil && d.UpdateStatus == UpdateUpdating:
			d.UpdateStatus, d.FailureMessage = UpdateFailed, truncate(publicMessage(err))
		case err != nil:
			d.Status, d.FailureMessage = DeployFailed, truncate(publicMessage(err))
		default:
			if old := s.leases[key]; old != nil {
				old.Release()
			}
			s.leases[key] = lease
			if d.UpdateStatus == UpdateUpdating {
				d.ModelARN, d.UpdateStatus = d.UpdateModelARN, UpdateCompleted
			}
			d.Status, d.FailureMessage = DeployActive, ""
		}
		if err != nil {
			s.cfg.Logger.Error("provision: activate deployment", "arn", d.ARN, "err", err)
		}
		if perr := s.store.PutDeployment(ctx, d); perr != nil {
			s.cfg.Logger.Error("provision: record deployment status", "arn", d.ARN, "err", perr)
		}
	}()
}

func (s *Service) deploymentTarget(ctx context.Context, d *Deployment) (Target, error) {
	switch d.Status {
	case DeployCreating:
		return Target{}, apierr.New(apierr.ModelNotReady, "Custom model deployment %s is still being created. Wait until it is Active and try again.", d.Name)
	case DeployFailed:
		return Target{}, apierr.Validationf("Custom model deployment %s failed: %s", d.Name, d.FailureMessage)
	}
	return s.res.Resolve(ctx, d.Account, d.ModelARN)
}
