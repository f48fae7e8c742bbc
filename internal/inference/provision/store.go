// Package provision manages the serving resources of the control plane:
// Provisioned Throughputs (Creating → InService, Updating → InService,
// Failed) and custom model deployments (Creating → Active, Failed, with
// update details). It keeps their records durable, turns model units into
// real capacity on the inference registry (pinned weights, concurrent
// sequences and KV cache memory; see docs/serving.md), restores them after a
// restart, and resolves runtime model identifiers that name them. The
// records live in the metadata store (SQLStore); ImportFile moves those of
// the older DATADIR/serving/provisioning.json into it once.
//
// It speaks no HTTP: the server's handlers decode and validate wire input
// and call [Service]; errors are apierr kinds.
package provision

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/strata-ml/strata/internal/store"
)

// Statuses of a Provisioned Throughput (ProvisionedModelStatus).
const (
	PTCreating  = "Creating"
	PTInService = "InService"
	PTUpdating  = "Updating"
	PTFailed    = "Failed"
)

// Statuses of a custom model deployment and of its updates.
const (
	DeployCreating        = "Creating"
	DeployActive          = "Active"
	DeployFailed          = "Failed"
	UpdateUpdating        = "Updating"
	UpdateCompleted       = "UpdateCompleted"
	UpdateFailed          = "UpdateFailed"
	CommitmentOneMonth    = "OneMonth"
	CommitmentSixMonths   = "SixMonths"
	provisionedModelType  = "provisioned-model"
	deploymentModelType   = "custom-model-deployment"
	maxFailureMessageLen  = 2048
	defaultMaxUnitsPerAcc = 64
)

// Tag is a resource tag.
type Tag struct {
	Key   string `json:"key"`
	Value string `json:"value"`
}

// Throughput is a Provisioned Throughput.
type Throughput struct {
	ID                       string    `json:"id"`
	Account                  string    `json:"account"`
	ARN                      string    `json:"arn"`
	Name                     string    `json:"name"`
	ModelARN                 string    `json:"modelArn"`
	DesiredModelARN          string    `json:"desiredModelArn"`
	FoundationModelARN       string    `json:"foundationModelArn"`
	ModelUnits               int       `json:"modelUnits"`
	DesiredModelUnits        int       `json:"desiredModelUnits"`
	Status                   string    `json:"status"`
	FailureMessage           string    `json:"failureMessage,omitempty"`
	CommitmentDuration       string    `json:"commitmentDuration,omitempty"`
	CommitmentExpirationTime time.Time `json:"commitmentExpirationTime,omitzero"`
	CreationTime             time.Time `json:"creationTime"`
	LastModifiedTime         time.Time `json:"lastModifiedTime"`
	ClientRequestToken       string    `json:"clientRequestToken,omitempty"`
	Tags                     []Tag     `json:"tags,omitempty"`
}

// Deployment is a custom model deployment.
type Deployment struct {
	ID                 string    `json:"id"`
	Account            string    `json:"account"`
	ARN                string    `json:"arn"`
	Name               string    `json:"name"`
	ModelARN           string    `json:"modelArn"`
	Description        string    `json:"description,omitempty"`
	Status             string    `json:"status"`
	FailureMessage     string    `json:"failureMessage,omitempty"`
	CreatedAt          time.Time `json:"createdAt"`
	LastUpdatedAt      time.Time `json:"lastUpdatedAt,omitzero"`
	UpdateModelARN     string    `json:"updateModelArn,omitempty"`
	UpdateStatus       string    `json:"updateStatus,omitempty"`
	ClientRequestToken string    `json:"clientRequestToken,omitempty"`
	Tags               []Tag     `json:"tags,omitempty"`
}

// Errors of a Store.
var (
	// ErrNotFound means the record does not exist.
	ErrNotFound = errors.New("provision: not found")
	// ErrConflict means another record of the account has the name.
	ErrConflict = errors.New("provision: name already in use")
)

// Store keeps the records durably. Implementations are safe for concurrent
// use; a Put or Delete that returns nil has been committed and survives a
// crash.
type Store interface {
	// PutThroughput inserts or replaces t; ErrConflict when another
	// throughput of the account has its name.
	PutThroughput(ctx context.Context, t *Throughput) error
	DeleteThroughput(ctx context.Context, account, id string) error
	Throughput(ctx context.Context, account, id string) (*Throughput, error)
	// Throughputs lists the throughputs of account ("" = every account),
	// oldest first.
	Throughputs(ctx context.Context, account string) ([]*Throughput, error)
	// PutDeployment inserts or replaces d; ErrConflict when another
	// deployment of the account has its name.
	PutDeployment(ctx context.Context, d *Deployment) error
	DeleteDeployment(ctx context.Context, account, id string) error
	Deployment(ctx context.Context, account, id string) (*Deployment, error)
	// Deployments lists the deployments of account ("" = every account),
	// oldest first.
	Deployments(ctx context.Context, account string) ([]*Deployment, error)
}

// SQLStore is a Store on the metadata store's serving resource records
// (kinds "provisioned-model" and "custom-model-deployment"), so that every
// server process sharing a database sees the same resources. Names are
// unique per account in the database itself.
type SQLStore struct {
	st store.Store
}

var _ Store = (*SQLStore)(nil)

// NewSQLStore returns a Store on st (which may be a transaction's Store).
func NewSQLStore(st store.Store) *SQLStore { return &SQLStore{st: st} }

func (t *Throughput) resource() (*store.Resource, error) {
	doc, err := json.Marshal(t)
	if err != nil {
		return nil, fmt.Errorf("provision: encode throughput %s: %w", t.ID, err)
	}
	return &store.Resource{Kind: provisionedModelType, Account: t.Account, ID: t.ID, Name: t.Name, ARN: t.ARN,
		Status: t.Status, Created: t.CreationTime, Modified: t.LastModifiedTime, Doc: doc}, nil
}

func (d *Deployment) resource() (*store.Resource, error) {
	doc, err := json.Marshal(d)
	if err != nil {
		return nil, fmt.Errorf("provision: encode deployment %s: %w", d.ID, err)
	}
	return &store.Resource{Kind: deploymentModelType, Account: d.Account, ID: d.ID, Name: d.Name, ARN: d.ARN,
		Status: d.Status, Created: d.CreatedAt, Modified: d.LastUpdatedAt, Doc: doc}, nil
}

// storeErr maps the metadata store's sentinel errors to this package's.
func storeErr(op string, err error) error {
	switch {
	case errors.Is(err, store.ErrNotFound):
		return fmt.Errorf("provision: %s: %w (%w)", op, ErrNotFound, err)
	case errors.Is(err, store.ErrConflict):
		return fmt.Errorf("provision: %s: %w (%w)", op, ErrConflict, err)
	}
	return fmt.Errorf("provision: %s: %w", op, err)
}

func put(ctx context.Context, st store.Store, r *store.Resource, err error) error {
	if err != nil {
		return err
	}
	if err := st.PutResource(ctx, r); err != nil {
		return storeErr("put "+r.Kind+" "+r.ID, err)
	}
	return nil
}

func get[T any](ctx context.Context, st store.Store, kind, account, id string) (*T, error) {
	r, err := st.GetResource(ctx, kind, account, id)
	if err != nil {
		return nil, storeErr("get "+kind+" "+id, err)
	}
	v := new(T)
	if err := json.Unmarshal(r.Doc, v); err != nil {
		return nil, fmt.Errorf("provision: decode %s %s: %w", kind, id, err)
	}
	return v, nil
}

func list[T any](ctx context.Context, st store.Store, kind, account string) ([]*T, error) {
	rs, err := st.ListResources(ctx, kind, account)
	if err != nil {
		return nil, storeErr("list "+kind, err)
	}
	out := make([]*T, len(rs))
	for i, r := range rs {
		out[i] = new(T)
		if err := json.Unmarshal(r.Doc, out[i]); err != nil {
			return nil, fmt.Errorf("provision: decode %s %s: %w", kind, r.ID, err)
		}
	}
	return out, nil
}

func del(ctx context.Context, st store.Store, kind, account, id string) error {
	if err := st.DeleteResource(ctx, kind, account, id); err != nil {
		return storeErr("delete "+kind+" "+id, err)
	}
	return nil
}

// PutThroughput inserts or replaces t.
func (s *SQLStore) PutThroughput(ctx context.Context, t *Throughput) error {
	r, err := t.resource()
	return put(ctx, s.st, r, err)
}

// DeleteThroughput deletes a throughput.
func (s *SQLStore) DeleteThroughput(ctx context.Context, account, id string) error {
	return del(ctx, s.st, provisionedModelType, account, id)
}

// Throughput returns a throughput by id.
func (s *SQLStore) Throughput(ctx context.Context, account, id string) (*Throughput, error) {
	return get[Throughput](ctx, s.st, provisionedModelType, account, id)
}

// Throughputs lists throughputs, oldest first.
func (s *SQLStore) Throughputs(ctx context.Context, account string) ([]*Throughput, error) {
	return list[Throughput](ctx, s.st, provisionedModelType, account)
}

// PutDeployment inserts or replaces d.
func (s *SQLStore) PutDeployment(ctx context.Context, d *Deployment) error {
	r, err := d.resource()
	return put(ctx, s.st, r, err)
}

// DeleteDeployment deletes a deployment.
func (s *SQLStore) DeleteDeployment(ctx context.Context, account, id string) error {
	return del(ctx, s.st, deploymentModelType, account, id)
}

// Deployment returns a deployment by id.
func (s *SQLStore) Deployment(ctx context.Context, account, id string) (*Deployment, error) {
	return get[Deployment](ctx, s.st, deploymentModelType, account, id)
}

// Deployments lists deployments, oldest first.
func (s *SQLStore) Deployments(ctx context.Context, account string) ([]*Deployment, error) {
	return list[Deployment](ctx, s.st, deploymentModelType, account)
}
