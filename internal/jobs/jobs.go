// Package jobs is the model-customization service: it validates and creates
// customization jobs (idempotently, within per-account quotas), enqueues them
// on the durable queue, stops them, lists and deletes custom models, and tags
// resources. It speaks in store records and apierr errors; it has no HTTP and
// no SQL.
package jobs

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/strata-ml/strata/internal/apierr"
	"github.com/strata-ml/strata/internal/awsproto"
	"github.com/strata-ml/strata/internal/catalog"
	"github.com/strata-ml/strata/internal/store"
)

// Event types the service and the worker append to a job's outbox.
const (
	EventCreated  = "created"
	EventStopping = "stopping"
)

// Config configures a Service.
type Config struct {
	Store   store.Store
	Catalog *catalog.Catalog
	Region  string
	// MaxActiveJobs is the per-account quota of InProgress and Stopping jobs
	// (ServiceQuotaExceededException past it); 0 means 8.
	MaxActiveJobs int
	// MaxAttempts is how many times a job may be leased (crash restarts) before it fails; 0 means 5.
	MaxAttempts int
	// Now returns the current time; nil means time.Now.
	Now func() time.Time
	// Wake is called after a job is enqueued or asked to stop (may be nil).
	Wake func()
}

// Service implements the customization operations.
type Service struct {
	cfg Config

	mu       sync.Mutex
	taggable map[string]func(ctx context.Context, account, arn string) error
}

// New returns a Service.
func New(cfg Config) *Service {
	if cfg.MaxActiveJobs == 0 {
		cfg.MaxActiveJobs = 8
	}
	if cfg.MaxAttempts == 0 {
		cfg.MaxAttempts = 5
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	s := &Service{cfg: cfg, taggable: map[string]func(context.Context, string, string) error{}}
	s.RegisterTaggable("model-customization-job", s.jobExists)
	s.RegisterTaggable("custom-model", s.modelExists)
	return s
}

// RegisterTaggable lets another service (provisioned throughput,
// deployments) make a resource type taggable: exists returns nil when arn
// names an existing resource of account, else an apierr NotFound error.
func (s *Service) RegisterTaggable(resourceType string, exists func(ctx context.Context, account, arn string) error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.taggable[resourceType] = exists
}

func (s *Service) now() time.Time { return s.cfg.Now().UTC() }

// CreateJobInput is a validated CreateModelCustomizationJob request.
type CreateJobInput struct {
	JobName             string
	CustomModelName     string
	RoleARN             string
	ClientRequestToken  string
	BaseModelIdentifier string
	CustomizationType   string
	CustomModelKMSKeyID string
	JobTags             []store.Tag
	CustomModelTags     []store.Tag
	TrainingDataConfig  json.RawMessage // wire form
	TrainingS3URI       string
	Validators          []string
	OutputS3URI         string
	HyperParameters     map[string]string
	VPCConfig           json.RawMessage
	CustomizationConfig json.RawMessage
}

// CreateJob creates and enqueues a job and returns its ARN. A repeated
// client request token returns the original job's ARN.
func (s *Service) CreateJob(ctx context.Context, account string, in CreateJobInput) (string, error) {
	st := s.cfg.Store
	if in.ClientRequestToken != "" {
		if j, err := st.GetJobByToken(ctx, account, in.ClientRequestToken); err == nil {
			return j.ARN, nil
		} else if !errors.Is(err, store.ErrNotFound) {
			return "", fmt.Errorf("jobs: create: %w", err)
		}
	}
	if strings.HasPrefix(in.BaseModelIdentifier, "arn:") {
		if a, err := awsproto.ParseARN(in.BaseModelIdentifier); err == nil && a.Type() == "custom-model" {
			return "", apierr.Validationf("Customizing a custom model (%s) is not supported; use a foundation model as baseModelIdentifier.", in.BaseModelIdentifier)
		}
	}
	base, err := s.cfg.Catalog.Get(ctx, in.BaseModelIdentifier)
	if errors.Is(err, catalog.ErrNotFound) {
		return "", apierr.Wrap(apierr.NotFound, fmt.Sprintf("The specified base model %s could not be found or is not available for customization.", in.BaseModelIdentifier), err)
	}
	if err != nil {
		return "", fmt.Errorf("jobs: create: %w", err)
	}
	ctype := in.CustomizationType
	if ctype == "" {
		ctype = "FINE_TUNING"
	}
	if _, ok := base.Family.Formats[ctype]; !ok {
		return "", apierr.Validationf("The customization type %s is not supported for the model %s. Supported types: %s.", ctype, base.ID, strings.Join(base.Family.Customizations(), ", "))
	}
	if in.TrainingS3URI == "" {
		return "", apierr.Validationf("trainingDataConfig.s3Uri is required for customization type %s.", ctype)
	}
	hp, err := base.Family.ResolveHyperParameters(base.ID, in.HyperParameters)
	if err != nil {
		return "", err
	}
	if _, err := st.GetCustomModelByName(ctx, account, in.CustomModelName); err == nil {
		return "", apierr.Conflictf("A custom model named %s already exists.", in.CustomModelName)
	} else if !errors.Is(err, store.ErrNotFound) {
		return "", fmt.Errorf("jobs: create: %w", err)
	}
	now := s.now()
	id := awsproto.NewID()
	j := &store.Job{
		ID: id, Account: account, Name: in.JobName,
		ARN:         awsproto.JobARN(s.cfg.Region, account, base.ID, id),
		BaseModelID: base.ID, BaseModelARN: base.ARN(s.cfg.Region),
		CustomModelName: in.CustomModelName, CustomModelID: awsproto.NewID(),
		CustomModelTags: in.CustomModelTags, CustomModelKMSKeyID: in.CustomModelKMSKeyID,
		RoleARN: in.RoleARN, ClientRequestToken: in.ClientRequestToken,
		CustomizationType: ctype, HyperParameters: hp,
		TrainingDataConfig: in.TrainingDataConfig, TrainingS3URI: in.TrainingS3URI,
		Validators: in.Validators, OutputS3URI: in.OutputS3URI,
		VPCConfig: in.VPCConfig, CustomizationConfig: in.CustomizationConfig,
		Status: store.JobInProgress, CreationTime: now, LastModifiedTime: now,
		StatusDetails: store.StatusDetails{
			Validation:     store.Phase{Status: store.PhaseNotStarted, CreationTime: now, LastModifiedTime: now},
			DataProcessing: store.Phase{Status: store.PhaseNotStarted, CreationTime: now, LastModifiedTime: now},
			Training:       store.Phase{Status: store.PhaseNotStarted, CreationTime: now, LastModifiedTime: now},
		},
	}
	err = st.Tx(ctx, func(tx store.Store) error {
		n, err := tx.CountJobs(ctx, account, store.JobInProgress, store.JobStopping)
		if err != nil {
			return err
		}
		if n >= s.cfg.MaxActiveJobs {
			return apierr.QuotaExceededf("You have reached the maximum number of concurrent model customization jobs (%d) for this account. Wait for a job to finish or stop one.", s.cfg.MaxActiveJobs)
		}
		if err := tx.CreateJob(ctx, j); err != nil {
			return err
		}
		if len(in.JobTags) > 0 {
			if err := tx.PutTags(ctx, account, j.ARN, in.JobTags); err != nil {
				return err
			}
		}
		if err := tx.Enqueue(ctx, store.Task{JobID: id, Account: account, MaxAttempts: s.cfg.MaxAttempts, AvailableAt: now}); err != nil {
			return err
		}
		return tx.AppendEvents(ctx, store.Event{JobID: id, Time: now, Type: EventCreated, Data: mustJSON(map[string]string{"jobArn": j.ARN})})
	})
	if errors.Is(err, store.ErrConflict) {
		if in.ClientRequestToken != "" {
			if prev, perr := st.GetJobByToken(ctx, account, in.ClientRequestToken); perr == nil {
				return prev.ARN, nil
			}
		}
		return "", apierr.Wrap(apierr.Conflict, fmt.Sprintf("A model customization job named %s already exists.", in.JobName), err)
	}
	if err != nil {
		if _, ok := errors.AsType[*apierr.Error](err); ok {
			return "", err
		}
		return "", fmt.Errorf("jobs: create %s: %w", in.JobName, err)
	}
	if s.cfg.Wake != nil {
		s.cfg.Wake()
	}
	return j.ARN, nil
}

func mustJSON(v any) json.RawMessage {
	b, _ := json.Marshal(v)
	return b
}

// GetJob resolves a job by name or ARN within account.
func (s *Service) GetJob(ctx context.Context, account, ident string) (*store.Job, error) {
	id, err := awsproto.ParseIdent(ident, "model-customization-job")
	if err != nil {
		return nil, apierr.Wrap(apierr.Validation, fmt.Sprintf("The provided job identifier %s is not a valid model customization job identifier.", ident), err)
	}
	var j *store.Job
	if id.ARN != nil {
		if id.ARN.Account != account {
			return nil, apierr.NotFoundf("Could not find model customization job %s.", ident)
		}
		j, err = s.cfg.Store.GetJob(ctx, account, id.ID)
		if err == nil && j.ARN != ident {
			err = store.ErrNotFound
		}
	} else {
		j, err = s.cfg.Store.GetJobByName(ctx, account, id.Name)
	}
	if errors.Is(err, store.ErrNotFound) {
		return nil, apierr.Wrap(apierr.NotFound, fmt.Sprintf("Could not find model customization job %s.", ident), err)
	}
	if err != nil {
		return nil, fmt.Errorf("jobs: get %s: %w", ident, err)
	}
	return j, nil
}

// StopJob asks an InProgress job to stop: it becomes Stopping now and
// Stopped once the worker has checkpointed and ended the child. A job that
// has not started (still queued) becomes Stopped at once.
func (s *Service) StopJob(ctx context.Context, account, ident string) error {
	j, err := s.GetJob(ctx, account, ident)
	if err != nil {
		return err
	}
	err = s.cfg.Store.Tx(ctx, func(tx store.Store) error {
		cur, err := tx.GetJob(ctx, account, j.ID)
		if err != nil {
			return err
		}
		switch cur.Status {
		case store.JobStopping:
			return nil
		case store.JobInProgress:
		default:
			return apierr.Conflictf("The model customization job %s is %s and cannot be stopped; only InProgress jobs can be stopped.", cur.Name, cur.Status)
		}
		now := s.now()
		if cur.StatusDetails.Validation.Status == store.PhaseNotStarted {
			// Still queued: no child to stop, so it is Stopped at once.
			cur.Status, cur.LastModifiedTime, cur.EndTime = store.JobStopped, now, now
			if err := tx.UpdateJob(ctx, cur); err != nil {
				return err
			}
			return tx.AppendEvents(ctx, store.Event{JobID: cur.ID, Time: now, Type: "job." + store.JobStopped})
		}
		cur.Status, cur.LastModifiedTime = store.JobStopping, now
		for _, p := range []*store.Phase{&cur.StatusDetails.Validation, &cur.StatusDetails.DataProcessing, &cur.StatusDetails.Training} {
			if p.Status == store.PhaseInProgress {
				p.Status, p.LastModifiedTime = store.PhaseStopping, now
			}
		}
		if err := tx.UpdateJob(ctx, cur); err != nil {
			return err
		}
		return tx.AppendEvents(ctx, store.Event{JobID: cur.ID, Time: now, Type: EventStopping})
	})
	if err != nil {
		if _, ok := errors.AsType[*apierr.Error](err); ok {
			return err
		}
		return fmt.Errorf("jobs: stop %s: %w", ident, err)
	}
	if s.cfg.Wake != nil {
		s.cfg.Wake()
	}
	return nil
}

// ListInput holds the common list filters and paging of list operations.
type ListInput struct {
	NameContains  string
	Status        string
	BaseModelARN  string
	CreatedAfter  time.Time
	CreatedBefore time.Time
	Ascending     bool
	MaxResults    int
	NextToken     string
}

func (in ListInput) page() (store.Page, error) {
	p := store.Page{Ascending: in.Ascending, Limit: in.MaxResults}
	if p.Limit == 0 {
		p.Limit = 100
	}
	if in.NextToken != "" {
		cur, err := awsproto.DecodeToken(in.NextToken)
		if err != nil {
			return p, apierr.Validationf("The provided nextToken is invalid.")
		}
		ts, id, ok := strings.Cut(cur, "|")
		t, err := awsproto.ParseTime(ts)
		if !ok || err != nil {
			return p, apierr.Validationf("The provided nextToken is invalid.")
		}
		p.AfterTime, p.AfterID = t, id
	}
	p.Limit++ // one extra to know whether there is a next page
	return p, nil
}

func nextToken(n, limit int, t time.Time, id string) string {
	if n < limit {
		return ""
	}
	return awsproto.EncodeToken(t.UTC().Format(time.RFC3339Nano) + "|" + id)
}

// ListJobs lists the account's jobs; it returns the page and the next token.
func (s *Service) ListJobs(ctx context.Context, account string, in ListInput) ([]*store.Job, string, error) {
	p, err := in.page()
	if err != nil {
		return nil, "", err
	}
	jobs, err := s.cfg.Store.ListJobs(ctx, store.JobQuery{Account: account, NameContains: in.NameContains, Status: in.Status,
		CreatedAfter: in.CreatedAfter, CreatedBefore: in.CreatedBefore, Page: p})
	if err != nil {
		return nil, "", fmt.Errorf("jobs: list: %w", err)
	}
	if len(jobs) < p.Limit {
		return jobs, "", nil
	}
	jobs = jobs[:p.Limit-1]
	last := jobs[len(jobs)-1]
	return jobs, nextToken(p.Limit, p.Limit, last.CreationTime, last.ID), nil
}

// GetCustomModel resolves a custom model by name or ARN.
func (s *Service) GetCustomModel(ctx context.Context, account, ident string) (*store.CustomModel, error) {
	return s.cfg.Catalog.GetCustomModel(ctx, account, ident)
}

// ListCustomModels lists the account's custom models.
func (s *Service) ListCustomModels(ctx context.Context, account string, in ListInput) ([]*store.CustomModel, string, error) {
	p, err := in.page()
	if err != nil {
		return nil, "", err
	}
	ms, err := s.cfg.Store.ListCustomModels(ctx, store.ModelQuery{Account: account, NameContains: in.NameContains, Status: in.Status,
		BaseModelARN: in.BaseModelARN, CreatedAfter: in.CreatedAfter, CreatedBefore: in.CreatedBefore, Page: p})
	if err != nil {
		return nil, "", fmt.Errorf("jobs: list custom models: %w", err)
	}
	if len(ms) < p.Limit {
		return ms, "", nil
	}
	ms = ms[:p.Limit-1]
	last := ms[len(ms)-1]
	return ms, nextToken(p.Limit, p.Limit, last.CreationTime, last.ID), nil
}

// DeleteGuard reports an apierr Conflict error when a custom model is in
// use (e.g. by a provisioned throughput); set by the serving side.
type DeleteGuard func(ctx context.Context, account, modelARN string) error

// DeleteCustomModel deletes a custom model unless guard objects.
func (s *Service) DeleteCustomModel(ctx context.Context, account, ident string, guard DeleteGuard) error {
	m, err := s.GetCustomModel(ctx, account, ident)
	if err != nil {
		return err
	}
	if guard != nil {
		if err := guard(ctx, account, m.ARN); err != nil {
			return err
		}
	}
	if err := s.cfg.Store.DeleteCustomModel(ctx, account, m.ID); err != nil {
		if errors.Is(err, store.ErrNotFound) {
			return apierr.Wrap(apierr.NotFound, fmt.Sprintf("Could not find model %s.", ident), err)
		}
		return fmt.Errorf("jobs: delete custom model: %w", err)
	}
	return nil
}

// MaxTagsPerResource is the tag quota per resource.
const MaxTagsPerResource = 200

func (s *Service) resolveTaggable(ctx context.Context, account, arn string) error {
	a, err := awsproto.ParseARN(arn)
	if err != nil {
		return apierr.Wrap(apierr.Validation, fmt.Sprintf("The resource ARN %s is not valid.", arn), err)
	}
	if a.Account != account {
		return apierr.NotFoundf("The resource %s could not be found.", arn)
	}
	s.mu.Lock()
	exists := s.taggable[a.Type()]
	s.mu.Unlock()
	if exists == nil {
		return apierr.NotFoundf("The resource %s could not be found.", arn)
	}
	return exists(ctx, account, arn)
}

func (s *Service) jobExists(ctx context.Context, account, arn string) error {
	_, err := s.GetJob(ctx, account, arn)
	return err
}

func (s *Service) modelExists(ctx context.Context, account, arn string) error {
	_, err := s.GetCustomModel(ctx, account, arn)
	return err
}

// TagResource adds tags to a resource of the account.
func (s *Service) TagResource(ctx context.Context, account, arn string, tags []store.Tag) error {
	if err := s.resolveTaggable(ctx, account, arn); err != nil {
		return err
	}
	return s.cfg.Store.Tx(ctx, func(tx store.Store) error {
		cur, err := tx.ListTags(ctx, account, arn)
		if err != nil {
			return err
		}
		keys := map[string]bool{}
		for _, t := range cur {
			keys[t.Key] = true
		}
		for _, t := range tags {
			keys[t.Key] = true
		}
		if len(keys) > MaxTagsPerResource {
			return apierr.TooManyTagsf(arn, "The request would give the resource %d tags; the maximum is %d.", len(keys), MaxTagsPerResource)
		}
		return tx.PutTags(ctx, account, arn, tags)
	})
}

// UntagResource removes tags by key.
func (s *Service) UntagResource(ctx context.Context, account, arn string, keys []string) error {
	if err := s.resolveTaggable(ctx, account, arn); err != nil {
		return err
	}
	if err := s.cfg.Store.DeleteTags(ctx, account, arn, keys); err != nil {
		return fmt.Errorf("jobs: untag: %w", err)
	}
	return nil
}

// ListTags lists a resource's tags.
func (s *Service) ListTags(ctx context.Context, account, arn string) ([]store.Tag, error) {
	if err := s.resolveTaggable(ctx, account, arn); err != nil {
		return nil, err
	}
	tags, err := s.cfg.Store.ListTags(ctx, account, arn)
	if err != nil {
		return nil, fmt.Errorf("jobs: list tags: %w", err)
	}
	return tags, nil
}

// Events returns a job's events after seq (for SSE and polling clients).
func (s *Service) Events(ctx context.Context, account, ident string, after int64, limit int) (*store.Job, []store.Event, error) {
	j, err := s.GetJob(ctx, account, ident)
	if err != nil {
		return nil, nil, err
	}
	evs, err := s.cfg.Store.ListEvents(ctx, j.ID, after, limit)
	if err != nil {
		return nil, nil, fmt.Errorf("jobs: events: %w", err)
	}
	return j, evs, nil
}

// Terminal reports whether a job status is final.
func Terminal(status string) bool {
	return slices.Contains([]string{store.JobCompleted, store.JobFailed, store.JobStopped}, status)
}
