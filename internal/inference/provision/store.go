// Package provision manages the serving resources of the control plane:
// Provisioned Throughputs (Creating → InService, Updating → InService,
// Failed) and custom model deployments (Creating → Active, Failed, with
// update details). It keeps their records durable, turns model units into
// real capacity on the inference registry (pinned weights, concurrent
// sequences and KV cache memory; see docs/serving.md), restores them after a
// restart, and resolves runtime model identifiers that name them.
//
// It speaks no HTTP: the server's handlers decode and validate wire input
// and call [Service]; errors are apierr kinds.
package provision

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"time"
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
	storeFileName         = "provisioning.json"
	storeFormatVersion    = 1
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

// ErrNotFound is returned by a Store for a missing record.
var ErrNotFound = errors.New("provision: not found")

// Store keeps the records durably. Implementations are safe for concurrent
// use; a successful Put survives a crash.
type Store interface {
	PutThroughput(ctx context.Context, t *Throughput) error
	DeleteThroughput(ctx context.Context, account, id string) error
	Throughputs(ctx context.Context) ([]*Throughput, error)
	PutDeployment(ctx context.Context, d *Deployment) error
	DeleteDeployment(ctx context.Context, account, id string) error
	Deployments(ctx context.Context) ([]*Deployment, error)
}

// FileStore is a Store in one JSON file, rewritten atomically (temp file,
// fsync, rename, directory fsync) on every change.
type FileStore struct {
	path string

	mu  sync.Mutex
	pts map[string]*Throughput
	dps map[string]*Deployment
}

type fileFormat struct {
	Version     int           `json:"version"`
	Throughputs []*Throughput `json:"throughputs"`
	Deployments []*Deployment `json:"deployments"`
}

// OpenFileStore opens (or creates) dir/provisioning.json.
func OpenFileStore(dir string) (*FileStore, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("provision: open store: %w", err)
	}
	s := &FileStore{path: filepath.Join(dir, storeFileName), pts: map[string]*Throughput{}, dps: map[string]*Deployment{}}
	b, err := os.ReadFile(s.path)
	if errors.Is(err, os.ErrNotExist) {
		return s, nil
	}
	if err != nil {
		return nil, fmt.Errorf("provision: read %s: %w", s.path, err)
	}
	var f fileFormat
	if err := json.Unmarshal(b, &f); err != nil {
		return nil, fmt.Errorf("provision: parse %s: %w", s.path, err)
	}
	if f.Version != storeFormatVersion {
		return nil, fmt.Errorf("provision: %s: unsupported format version %d", s.path, f.Version)
	}
	for _, t := range f.Throughputs {
		s.pts[t.Account+"/"+t.ID] = t
	}
	for _, d := range f.Deployments {
		s.dps[d.Account+"/"+d.ID] = d
	}
	return s, nil
}

func (s *FileStore) save() error {
	f := fileFormat{Version: storeFormatVersion, Throughputs: []*Throughput{}, Deployments: []*Deployment{}}
	for _, t := range s.pts {
		f.Throughputs = append(f.Throughputs, t)
	}
	for _, d := range s.dps {
		f.Deployments = append(f.Deployments, d)
	}
	slices.SortFunc(f.Throughputs, func(a, b *Throughput) int { return a.CreationTime.Compare(b.CreationTime) })
	slices.SortFunc(f.Deployments, func(a, b *Deployment) int { return a.CreatedAt.Compare(b.CreatedAt) })
	b, err := json.MarshalIndent(f, "", "  ")
	if err != nil {
		return fmt.Errorf("provision: encode store: %w", err)
	}
	return writeAtomic(s.path, b)
}

func writeAtomic(path string, b []byte) error {
	dir := filepath.Dir(path)
	tmp, err := os.CreateTemp(dir, ".provisioning-*.tmp")
	if err != nil {
		return fmt.Errorf("provision: write %s: %w", path, err)
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(b); err != nil {
		tmp.Close()
		return fmt.Errorf("provision: write %s: %w", path, err)
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return fmt.Errorf("provision: sync %s: %w", path, err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("provision: close %s: %w", path, err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("provision: rename %s: %w", path, err)
	}
	if d, err := os.Open(dir); err == nil {
		_ = d.Sync()
		d.Close()
	}
	return nil
}

func clone[T any](v *T) *T {
	c := *v
	return &c
}

// PutThroughput inserts or replaces t.
func (s *FileStore) PutThroughput(_ context.Context, t *Throughput) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	k := t.Account + "/" + t.ID
	old := s.pts[k]
	s.pts[k] = clone(t)
	if err := s.save(); err != nil {
		if old == nil {
			delete(s.pts, k)
		} else {
			s.pts[k] = old
		}
		return err
	}
	return nil
}

// DeleteThroughput removes a record.
func (s *FileStore) DeleteThroughput(_ context.Context, account, id string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	k := account + "/" + id
	old, ok := s.pts[k]
	if !ok {
		return ErrNotFound
	}
	delete(s.pts, k)
	if err := s.save(); err != nil {
		s.pts[k] = old
		return err
	}
	return nil
}

// Throughputs returns copies of all records.
func (s *FileStore) Throughputs(context.Context) ([]*Throughput, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]*Throughput, 0, len(s.pts))
	for _, t := range s.pts {
		out = append(out, clone(t))
	}
	return out, nil
}

// PutDeployment inserts or replaces d.
func (s *FileStore) PutDeployment(_ context.Context, d *Deployment) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	k := d.Account + "/" + d.ID
	old := s.dps[k]
	s.dps[k] = clone(d)
	if err := s.save(); err != nil {
		if old == nil {
			delete(s.dps, k)
		} else {
			s.dps[k] = old
		}
		return err
	}
	return nil
}

// DeleteDeployment removes a record.
func (s *FileStore) DeleteDeployment(_ context.Context, account, id string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	k := account + "/" + id
	old, ok := s.dps[k]
	if !ok {
		return ErrNotFound
	}
	delete(s.dps, k)
	if err := s.save(); err != nil {
		s.dps[k] = old
		return err
	}
	return nil
}

// Deployments returns copies of all records.
func (s *FileStore) Deployments(context.Context) ([]*Deployment, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]*Deployment, 0, len(s.dps))
	for _, d := range s.dps {
		out = append(out, clone(d))
	}
	return out, nil
}
