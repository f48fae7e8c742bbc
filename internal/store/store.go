// Package store defines Strata's metadata store: the record types of the
// control plane (customization jobs, custom models, tags, job events, the
// durable job queue, API keys, operator-registered foundation models,
// serving resources such as Provisioned Throughputs), the
// Store interface every backend implements, and its sentinel errors.
//
// Implementations live in subpackages (sqlstore: SQLite and PostgreSQL) and
// must pass the conformance suite in storetest. A Store is safe for
// concurrent use. Tx runs a function atomically: every change made through
// the Store it is given commits or rolls back together, which is how job
// state changes and their events form a transactional outbox.
package store

import (
	"context"
	"encoding/json"
	"errors"
	"time"
)

// Sentinel errors. Implementations wrap them with context.
var (
	// ErrNotFound means the record does not exist (for the account).
	ErrNotFound = errors.New("store: not found")
	// ErrConflict means a uniqueness constraint was violated.
	ErrConflict = errors.New("store: conflict")
	// ErrLeaseLost means a task's lease expired or belongs to another owner.
	ErrLeaseLost = errors.New("store: lease lost")
)

// Job statuses (ModelCustomizationJobStatus).
const (
	JobInProgress = "InProgress"
	JobCompleted  = "Completed"
	JobFailed     = "Failed"
	JobStopping   = "Stopping"
	JobStopped    = "Stopped"
)

// Phase statuses (JobStatusDetails).
const (
	PhaseNotStarted = "NotStarted"
	PhaseInProgress = "InProgress"
	PhaseCompleted  = "Completed"
	PhaseStopping   = "Stopping"
	PhaseStopped    = "Stopped"
	PhaseFailed     = "Failed"
)

// Custom model statuses (ModelStatus).
const (
	ModelCreating = "Creating"
	ModelActive   = "Active"
	ModelFailed   = "Failed"
)

// Phase is the status of one sub-task of a job.
type Phase struct {
	Status           string    `json:"status,omitempty"`
	CreationTime     time.Time `json:"creationTime,omitzero"`
	LastModifiedTime time.Time `json:"lastModifiedTime,omitzero"`
}

// StatusDetails holds the three sub-task phases of a customization job.
type StatusDetails struct {
	Validation     Phase `json:"validation"`
	DataProcessing Phase `json:"dataProcessing"`
	Training       Phase `json:"training"`
}

// Tag is a resource tag.
type Tag struct {
	Key   string `json:"key"`
	Value string `json:"value"`
}

// Job is a model customization job.
type Job struct {
	ID                  string            `json:"id"`      // 12-char [a-z0-9]
	Account             string            `json:"account"` // 12 digits
	ARN                 string            `json:"arn"`
	Name                string            `json:"name"`
	BaseModelID         string            `json:"baseModelId"`
	BaseModelARN        string            `json:"baseModelArn"`
	CustomModelName     string            `json:"customModelName"`
	CustomModelID       string            `json:"customModelId"`            // reserved at creation
	CustomModelARN      string            `json:"customModelArn,omitempty"` // set when Completed
	CustomModelTags     []Tag             `json:"customModelTags,omitempty"`
	CustomModelKMSKeyID string            `json:"customModelKmsKeyId,omitempty"`
	RoleARN             string            `json:"roleArn"`
	ClientRequestToken  string            `json:"clientRequestToken,omitempty"`
	CustomizationType   string            `json:"customizationType"`
	HyperParameters     map[string]string `json:"hyperParameters,omitempty"`
	TrainingDataConfig  json.RawMessage   `json:"trainingDataConfig"` // wire form, echoed
	TrainingS3URI       string            `json:"trainingS3Uri"`
	Validators          []string          `json:"validators,omitempty"` // s3 URIs
	OutputS3URI         string            `json:"outputS3Uri"`
	VPCConfig           json.RawMessage   `json:"vpcConfig,omitempty"`
	CustomizationConfig json.RawMessage   `json:"customizationConfig,omitempty"`
	Status              string            `json:"status"`
	StatusDetails       StatusDetails     `json:"statusDetails"`
	FailureMessage      string            `json:"failureMessage,omitempty"`
	TrainingLoss        *float64          `json:"trainingLoss,omitempty"`
	ValidationLosses    []*float64        `json:"validationLosses,omitempty"` // one per validator
	CreationTime        time.Time         `json:"creationTime"`
	LastModifiedTime    time.Time         `json:"lastModifiedTime,omitzero"`
	EndTime             time.Time         `json:"endTime,omitzero"`
	// LastCheckpoint is the newest durable checkpoint the child reported.
	LastCheckpoint string `json:"lastCheckpoint,omitempty"`
	// Step is the newest training step reported (for progress).
	Step       int `json:"step,omitempty"`
	TotalSteps int `json:"totalSteps,omitempty"`
}

// CustomModel is a custom model produced by a customization job.
type CustomModel struct {
	ID                 string            `json:"id"`
	Account            string            `json:"account"`
	ARN                string            `json:"arn"`
	Name               string            `json:"name"`
	JobARN             string            `json:"jobArn,omitempty"`
	JobName            string            `json:"jobName,omitempty"`
	BaseModelID        string            `json:"baseModelId"`
	BaseModelARN       string            `json:"baseModelArn"`
	CustomizationType  string            `json:"customizationType,omitempty"`
	KMSKeyARN          string            `json:"kmsKeyArn,omitempty"`
	HyperParameters    map[string]string `json:"hyperParameters,omitempty"`
	TrainingDataConfig json.RawMessage   `json:"trainingDataConfig,omitempty"`
	Validators         []string          `json:"validators,omitempty"`
	OutputS3URI        string            `json:"outputS3Uri,omitempty"`
	TrainingLoss       *float64          `json:"trainingLoss,omitempty"`
	ValidationLosses   []*float64        `json:"validationLosses,omitempty"`
	Status             string            `json:"status"`
	FailureMessage     string            `json:"failureMessage,omitempty"`
	CreationTime       time.Time         `json:"creationTime"`
	// ArtifactDir is the Strata-managed local directory holding the model's
	// weights: AdapterDir (PEFT layout) and/or MergedDir (HF layout), both
	// relative to ArtifactDir.
	ArtifactDir string `json:"artifactDir,omitempty"`
	AdapterDir  string `json:"adapterDir,omitempty"`
	MergedDir   string `json:"mergedDir,omitempty"`
}

// FoundationModel is an operator-registered base model (Hugging Face dir).
type FoundationModel struct {
	ID       string    `json:"id"`     // Bedrock model id, e.g. meta.llama3-1-8b-instruct-v1:0
	Dir      string    `json:"dir"`    // local HF model directory
	Family   string    `json:"family"` // catalog family name, e.g. "llama"
	Name     string    `json:"name,omitempty"`
	Provider string    `json:"provider,omitempty"`
	Created  time.Time `json:"created"`
}

// Key kinds.
const (
	KeySigV4  = "sigv4"
	KeyBearer = "bearer"
)

// Key is an API credential. SigV4 keys keep their secret encrypted
// (recoverable, SigV4 needs it); bearer keys keep only a hash.
type Key struct {
	ID        string    `json:"id"` // access key id, or the bearer key's public id
	Account   string    `json:"account"`
	Kind      string    `json:"kind"`
	Secret    []byte    `json:"secret,omitempty"` // sealed secret (sigv4)
	Hash      string    `json:"hash,omitempty"`   // hex SHA-256 of the token (bearer)
	Name      string    `json:"name,omitempty"`
	Created   time.Time `json:"created"`
	ExpiresAt time.Time `json:"expiresAt,omitzero"`
}

// Resource is a serving resource record (a Provisioned Throughput, a custom
// model deployment): the columns the store indexes and enforces, and the
// owner's full record as an opaque JSON document. Kind separates resource
// types; within a kind, ID and Name are each unique per account.
type Resource struct {
	Kind     string
	Account  string
	ID       string
	Name     string
	ARN      string
	Status   string
	Created  time.Time
	Modified time.Time
	Doc      json.RawMessage
}

// Event is one job event in the outbox, in append order (Seq).
type Event struct {
	Seq   int64           `json:"seq"`
	JobID string          `json:"jobId"`
	Time  time.Time       `json:"time"`
	Type  string          `json:"type"`
	Data  json.RawMessage `json:"data,omitempty"`
}

// Task is a durable queue entry: one job to run.
type Task struct {
	ID          int64
	JobID       string
	Account     string
	Attempts    int // leases so far, including the current one
	MaxAttempts int
	Owner       string
	LeaseUntil  time.Time
	AvailableAt time.Time
	LastError   string
}

// Page selects a window of a list ordered by (CreationTime, ID).
type Page struct {
	Ascending bool
	// After is the cursor of the last item of the previous page (zero: start).
	AfterTime time.Time
	AfterID   string
	Limit     int
}

// JobQuery filters ListJobs.
type JobQuery struct {
	Account       string
	NameContains  string
	Status        string
	CreatedAfter  time.Time
	CreatedBefore time.Time
	Page
}

// ModelQuery filters ListCustomModels.
type ModelQuery struct {
	Account       string
	NameContains  string
	BaseModelARN  string
	Status        string
	CreatedAfter  time.Time
	CreatedBefore time.Time
	Page
}

// Store is the metadata store. All methods are safe for concurrent use.
type Store interface {
	// Tx runs fn in a transaction; fn must use only the Store it is given.
	// Calling Tx on a transactional Store runs fn in the same transaction.
	Tx(ctx context.Context, fn func(Store) error) error
	Close() error

	// CreateJob inserts j; ErrConflict when the name or the client token is
	// already used in the account.
	CreateJob(ctx context.Context, j *Job) error
	GetJob(ctx context.Context, account, id string) (*Job, error)
	GetJobByName(ctx context.Context, account, name string) (*Job, error)
	GetJobByToken(ctx context.Context, account, token string) (*Job, error)
	// UpdateJob replaces the stored job with j (same account and id).
	UpdateJob(ctx context.Context, j *Job) error
	ListJobs(ctx context.Context, q JobQuery) ([]*Job, error)
	// CountJobs counts the account's jobs in any of the statuses ("" = all accounts).
	CountJobs(ctx context.Context, account string, statuses ...string) (int, error)

	CreateCustomModel(ctx context.Context, m *CustomModel) error
	GetCustomModel(ctx context.Context, account, id string) (*CustomModel, error)
	GetCustomModelByName(ctx context.Context, account, name string) (*CustomModel, error)
	UpdateCustomModel(ctx context.Context, m *CustomModel) error
	ListCustomModels(ctx context.Context, q ModelQuery) ([]*CustomModel, error)
	DeleteCustomModel(ctx context.Context, account, id string) error

	// PutTags adds or replaces tags on a resource; ListTags returns them by key.
	PutTags(ctx context.Context, account, arn string, tags []Tag) error
	DeleteTags(ctx context.Context, account, arn string, keys []string) error
	ListTags(ctx context.Context, account, arn string) ([]Tag, error)

	// AppendEvents adds events to the outbox; Seq is assigned.
	AppendEvents(ctx context.Context, evs ...Event) error
	// ListEvents returns a job's events with Seq > after, oldest first.
	ListEvents(ctx context.Context, jobID string, after int64, limit int) ([]Event, error)

	// Enqueue adds a task, available at t.AvailableAt.
	Enqueue(ctx context.Context, t Task) error
	// Lease takes the oldest available task (ready, or leased with an
	// expired lease) for owner until the given time; ErrNotFound if none.
	Lease(ctx context.Context, owner string, now, until time.Time) (*Task, error)
	// Heartbeat extends a lease; ErrLeaseLost if owner no longer holds it.
	Heartbeat(ctx context.Context, taskID int64, owner string, until time.Time) error
	// Ack removes a finished task.
	Ack(ctx context.Context, taskID int64, owner string) error
	// Nack returns the task to the queue, available at retryAt.
	Nack(ctx context.Context, taskID int64, owner string, retryAt time.Time, msg string) error
	// ReleaseOwner makes every task leased by owner available now (used at
	// startup after a crash); it returns how many were released.
	ReleaseOwner(ctx context.Context, owner string) (int, error)

	PutKey(ctx context.Context, k *Key) error
	GetKey(ctx context.Context, id string) (*Key, error)
	ListKeys(ctx context.Context) ([]*Key, error)
	DeleteKey(ctx context.Context, id string) error

	PutFoundationModel(ctx context.Context, m *FoundationModel) error
	ListFoundationModels(ctx context.Context) ([]*FoundationModel, error)
	DeleteFoundationModel(ctx context.Context, id string) error

	// PutResource inserts r, or replaces the record of its kind, account and
	// id; ErrConflict when another record of the kind has its name in the
	// account. It is durable when it returns (outside Tx; inside, at commit).
	PutResource(ctx context.Context, r *Resource) error
	GetResource(ctx context.Context, kind, account, id string) (*Resource, error)
	// ListResources lists the records of a kind in account ("" = every
	// account), ordered by (Created, ID).
	ListResources(ctx context.Context, kind, account string) ([]*Resource, error)
	// DeleteResource deletes a record; ErrNotFound when there is none.
	DeleteResource(ctx context.Context, kind, account, id string) error
}
