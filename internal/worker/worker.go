// Package worker runs customization jobs from the durable queue: it leases a
// task, stages the job's S3 inputs to local files, writes a trainspec.Spec,
// runs the "strata train" child process, maps the child's events to the
// job's statusDetails and to the event outbox, heartbeats the lease, and on
// exit uploads the metrics CSVs, moves the weights into Strata-managed
// storage and registers the custom model — or stops, fails, or re-queues the
// job so that it resumes from its last checkpoint after a crash.
package worker

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/strata-ml/strata/internal/catalog"
	"github.com/strata-ml/strata/internal/store"
)

// Objects moves job inputs and outputs between object storage (s3:// URIs)
// and local files. Implementations must be safe for concurrent use.
type Objects interface {
	// Download copies the object at uri to the local file dst on behalf of
	// account; a missing object, or one account may not read, yields an
	// error for which IsNotExist reports true.
	Download(ctx context.Context, account, uri, dst string) error
	// Upload copies the local file src to uri on behalf of account.
	Upload(ctx context.Context, account, src, uri string) error
	// IsNotExist reports whether err means the object does not exist (or
	// is not accessible to the account).
	IsNotExist(err error) bool
}

// DatasetCheck validates a staged dataset before training. It returns a
// user-facing failure message ("" when the data is fine) or an error.
type DatasetCheck func(ctx context.Context, req DatasetRequest) (failure string, err error)

// DatasetRequest describes the staged files of one job for a DatasetCheck.
type DatasetRequest struct {
	BaseModelID       string
	HyperParameters   map[string]string
	WorkDir           string // the job's work directory (reports, spills)
	CustomizationType string
	Family            *catalog.Family
	ModelDir          string
	TrainFile         string   // local path; its base name is the S3 object's
	ValidationFiles   []string // local paths
}

// Config configures a Worker.
type Config struct {
	Store   store.Store
	Catalog *catalog.Catalog
	Objects Objects
	// WorkDir holds one directory per running job (inputs, spec, outputs, checkpoints).
	WorkDir string
	// ModelsDir is the Strata-managed storage of custom model weights.
	ModelsDir string
	// Command is the child's argv prefix; "--spec FILE" (and "--resume") are
	// appended. Default: the running executable plus "train".
	Command []string
	// Owner identifies this worker's leases; stable across restarts of the
	// same process slot so a restart reclaims its own leases at once.
	Owner string
	// Concurrency is the number of jobs run at once (default 1).
	Concurrency int
	// Lease is the lease duration (default 30s); heartbeats run every Lease/3.
	Lease time.Duration
	// Poll is how often an idle worker looks for tasks (default 1s).
	Poll time.Duration
	// StopGrace is how long a stopping child may take to checkpoint and
	// exit after SIGTERM before it is killed (default 2m).
	StopGrace time.Duration
	// Threads is passed to the child (0 = all cores).
	Threads int
	// CheckDataset, when set, runs in the Validation phase.
	CheckDataset DatasetCheck
	Logger       *slog.Logger
	Now          func() time.Time
}

// Worker leases and runs jobs.
type Worker struct {
	cfg  Config
	wake chan struct{}
	log  *slog.Logger

	mu      sync.Mutex
	running map[string]bool
}

// New returns a Worker.
func New(cfg Config) (*Worker, error) {
	if cfg.Concurrency <= 0 {
		cfg.Concurrency = 1
	}
	if cfg.Lease <= 0 {
		cfg.Lease = 30 * time.Second
	}
	if cfg.Poll <= 0 {
		cfg.Poll = time.Second
	}
	if cfg.StopGrace <= 0 {
		cfg.StopGrace = 2 * time.Minute
	}
	if cfg.Owner == "" {
		cfg.Owner = "local"
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if len(cfg.Command) == 0 {
		exe, err := os.Executable()
		if err != nil {
			return nil, fmt.Errorf("worker: find executable: %w", err)
		}
		cfg.Command = []string{exe, "train"}
	}
	if cfg.Store == nil || cfg.Catalog == nil || cfg.Objects == nil || cfg.WorkDir == "" || cfg.ModelsDir == "" {
		return nil, errors.New("worker: Store, Catalog, Objects, WorkDir and ModelsDir are required")
	}
	return &Worker{cfg: cfg, wake: make(chan struct{}, 1), log: cfg.Logger, running: map[string]bool{}}, nil
}

// Wake makes an idle worker look for tasks now.
func (w *Worker) Wake() {
	select {
	case w.wake <- struct{}{}:
	default:
	}
}

// Running returns the ids of the jobs this worker runs now.
func (w *Worker) Running() []string {
	w.mu.Lock()
	defer w.mu.Unlock()
	var ids []string
	for id := range w.running {
		ids = append(ids, id)
	}
	return ids
}

// Run reclaims this owner's leases (left by a crash) and runs jobs until ctx
// is done. Jobs interrupted by shutdown are re-queued to resume later.
func (w *Worker) Run(ctx context.Context) error {
	if n, err := w.cfg.Store.ReleaseOwner(ctx, w.cfg.Owner); err != nil {
		return fmt.Errorf("worker: reclaim leases: %w", err)
	} else if n > 0 {
		w.log.Info("reclaimed leases after restart", "owner", w.cfg.Owner, "tasks", n)
	}
	var wg sync.WaitGroup
	for i := range w.cfg.Concurrency {
		wg.Go(func() { w.loop(ctx, i) })
	}
	wg.Wait()
	return nil
}

func (w *Worker) loop(ctx context.Context, slot int) {
	t := time.NewTicker(w.cfg.Poll)
	defer t.Stop()
	for ctx.Err() == nil {
		now := w.cfg.Now()
		task, err := w.cfg.Store.Lease(ctx, w.cfg.Owner, now, now.Add(w.cfg.Lease))
		switch {
		case err == nil:
			w.runTask(ctx, task)
			continue
		case errors.Is(err, store.ErrNotFound), ctx.Err() != nil:
		default:
			w.log.Error("lease", "slot", slot, "err", err)
		}
		select {
		case <-ctx.Done():
		case <-t.C:
		case <-w.wake:
		}
	}
}

// update applies fn to the job in a transaction and appends the events it
// returns (the outbox): the status change and its events commit together.
// When fn returns nil nothing is written.
func (w *Worker) update(ctx context.Context, account, id string, fn func(j *store.Job, now time.Time) []store.Event) (*store.Job, error) {
	var out *store.Job
	err := w.cfg.Store.Tx(ctx, func(tx store.Store) error {
		j, err := tx.GetJob(ctx, account, id)
		if err != nil {
			return err
		}
		now := w.cfg.Now().UTC()
		evs := fn(j, now)
		j.LastModifiedTime = now
		if err := tx.UpdateJob(ctx, j); err != nil {
			return err
		}
		for i := range evs {
			evs[i].JobID = id
			if evs[i].Time.IsZero() {
				evs[i].Time = now
			}
		}
		if err := tx.AppendEvents(ctx, evs...); err != nil {
			return err
		}
		out = j
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("worker: update job %s: %w", id, err)
	}
	return out, nil
}

// copyFile copies src to dst atomically (temp + fsync + rename).
func copyFile(src, dst string) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	return writeAtomic(dst, in)
}

func writeAtomic(dst string, r io.Reader) error {
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		return err
	}
	tmp, err := os.CreateTemp(filepath.Dir(dst), ".tmp-"+filepath.Base(dst)+"-*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if _, err := io.Copy(tmp, r); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), dst)
}

// DirObjects stores s3://BUCKET/KEY as ROOT/BUCKET/KEY on local disk.
type DirObjects struct{ Root string }

func (d DirObjects) path(uri string) (string, error) {
	rest, ok := strings.CutPrefix(uri, "s3://")
	if !ok || rest == "" {
		return "", fmt.Errorf("worker: %q is not an s3:// URI", uri)
	}
	clean := filepath.Clean("/" + rest)
	if clean == "/" || strings.Contains(rest, "..") {
		return "", fmt.Errorf("worker: bad object URI %q", uri)
	}
	return filepath.Join(d.Root, clean), nil
}

// Download copies an object to dst.
func (d DirObjects) Download(_ context.Context, _, uri, dst string) error {
	p, err := d.path(uri)
	if err != nil {
		return err
	}
	if err := copyFile(p, dst); err != nil {
		return fmt.Errorf("worker: download %s: %w", uri, err)
	}
	return nil
}

// Upload copies src to an object.
func (d DirObjects) Upload(_ context.Context, _, src, uri string) error {
	p, err := d.path(uri)
	if err != nil {
		return err
	}
	if err := copyFile(src, p); err != nil {
		return fmt.Errorf("worker: upload %s: %w", uri, err)
	}
	return nil
}

// IsNotExist reports a missing object.
func (DirObjects) IsNotExist(err error) bool { return errors.Is(err, fs.ErrNotExist) }
