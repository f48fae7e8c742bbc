package server

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/strata-ml/strata/internal/blob"
	"github.com/strata-ml/strata/internal/blob/diskblob"
	"github.com/strata-ml/strata/internal/blob/s3blob"
	"github.com/strata-ml/strata/internal/catalog"
	"github.com/strata-ml/strata/internal/config"
	"github.com/strata-ml/strata/internal/jobs"
	"github.com/strata-ml/strata/internal/keys"
	"github.com/strata-ml/strata/internal/s3api"
	"github.com/strata-ml/strata/internal/store"
	"github.com/strata-ml/strata/internal/store/sqlstore"
	"github.com/strata-ml/strata/internal/worker"
)

// AppOptions are the pluggable parts of an App that live in other packages.
type AppOptions struct {
	Logger *slog.Logger
	// Starter builds (or finds) the offline starter model under dir and
	// returns its model directory; nil leaves the starter out.
	Starter func(dir string) (string, error)
	// Objects overrides the worker's object access (default: DirObjects
	// over DATADIR/objects).
	Objects worker.Objects
	// CheckDataset runs in each job's Validation phase (optional).
	CheckDataset worker.DatasetCheck
	// Configure may adjust the server options (S3 handler, delete guard)
	// before the server is built.
	Configure func(*Options, *App)
}

// App is a running Strata server: store, keys, catalog, job service,
// in-process worker and HTTP listener.
type App struct {
	Config  config.Config
	Store   store.Store
	Keys    *keys.Manager
	Catalog *catalog.Catalog
	Jobs    *jobs.Service
	Worker  *worker.Worker
	Server  *Server
	// Blobs is the embedded object store behind the S3 endpoint.
	Blobs *diskblob.Store
	// Serving is the serving side (runtime, Provisioned Throughput, deployments).
	Serving *Serving

	// The initial SigV4 credentials.
	AccessKeyID, SecretAccessKey, Account string

	log    *slog.Logger
	ln     net.Listener
	http   *http.Server
	cancel context.CancelFunc
	wg     sync.WaitGroup
}

// Start opens the data dir and starts serving on cfg.Addr.
func Start(ctx context.Context, cfg config.Config, o AppOptions) (*App, error) {
	log := o.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if err := os.MkdirAll(cfg.DataDir, 0o755); err != nil {
		return nil, fmt.Errorf("server: data dir: %w", err)
	}
	st, err := sqlstore.Open(ctx, cfg.DB())
	if err != nil {
		return nil, err
	}
	a := &App{Config: cfg, Store: st, log: log}
	fail := func(err error) (*App, error) {
		st.Close()
		return nil, err
	}
	for _, m := range cfg.Models {
		if _, ok := catalog.LookupFamily(m.Family); !ok && m.Family != "" {
			return fail(fmt.Errorf("server: model %s: unknown family %q (known: %v)", m.ID, m.Family, catalog.FamilyNames()))
		}
		fam := m.Family
		if fam == "" {
			fam = "llama"
		}
		if err := st.PutFoundationModel(ctx, &store.FoundationModel{ID: m.ID, Dir: m.Dir, Family: fam, Name: m.Name, Provider: m.Provider, Created: time.Now().UTC()}); err != nil {
			return fail(err)
		}
	}
	if a.Keys, err = keys.Open(st, cfg.DataDir); err != nil {
		return fail(err)
	}
	if a.AccessKeyID, a.SecretAccessKey, a.Account, err = a.Keys.EnsureInitial(ctx, cfg.AccountID, cfg.AccessKeyID, cfg.SecretAccessKey); err != nil {
		return fail(err)
	}
	a.Catalog = catalog.New(st)
	if a.Blobs, err = diskblob.Open(filepath.Join(cfg.DataDir, "objects"), diskblob.Options{}); err != nil {
		return fail(err)
	}
	objects := o.Objects
	if objects == nil {
		blobs := a.Blobs
		resolver, err := jobResolver(blobs, cfg.Buckets)
		if err != nil {
			return fail(err)
		}
		objects = worker.BlobObjects{
			Resolver: resolver,
			Owner: func(ctx context.Context, bucket string) (string, error) {
				if resolver.Default != blob.Backend(blobs) || resolver.Buckets[bucket] != nil {
					return "", nil // external S3: its own credentials decide
				}
				info, err := blobs.BucketInfo(ctx, bucket)
				return info.Owner, err
			},
		}
	}
	runCtx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	a.cancel = cancel
	wake := func() {}
	check := o.CheckDataset
	if check == nil {
		check = worker.ValidateDataset
	}
	if cfg.Workers > 0 {
		a.Worker, err = worker.New(worker.Config{
			Store: st, Catalog: a.Catalog, Objects: objects,
			WorkDir: filepath.Join(cfg.DataDir, "jobs"), ModelsDir: filepath.Join(cfg.DataDir, "custom-models"),
			Command: cfg.TrainCommand, Owner: workerOwner(cfg.DataDir), Concurrency: cfg.Workers, Threads: cfg.TrainThreads,
			CheckDataset: check, Logger: log.With("component", "worker"),
		})
		if err != nil {
			cancel()
			return fail(err)
		}
		wake = a.Worker.Wake
	}
	a.Jobs = jobs.New(jobs.Config{Store: st, Catalog: a.Catalog, Region: cfg.Region, MaxActiveJobs: cfg.MaxActiveJobs, Wake: wake})
	opts := Options{Store: st, Catalog: a.Catalog, Jobs: a.Jobs, Region: cfg.Region, Auth: NewKeyAuth(a.Keys, cfg.Region), Logger: log,
		S3:   s3api.New(s3api.Options{Store: a.Blobs, Lookup: keyLookup(a.Keys), Region: cfg.Region, Logger: log.With("component", "s3")}),
		IsS3: s3api.IsS3Request,
		ReportPath: func(account, jobID string) string {
			return filepath.Join(cfg.DataDir, "jobs", account, jobID, worker.ReportFile)
		}}
	if a.Serving, err = NewServing(runCtx, servingConfig(cfg, st, a.Catalog, log.With("component", "serving"))); err != nil {
		cancel()
		return fail(err)
	}
	opts.Serving, opts.DeleteGuard = a.Serving, a.Serving.DeleteGuard
	if o.Configure != nil {
		o.Configure(&opts, a)
	}
	a.Server = New(opts)
	a.ln, err = net.Listen("tcp", cfg.Addr)
	if err != nil {
		cancel()
		return fail(fmt.Errorf("server: listen %s: %w", cfg.Addr, err))
	}
	a.http = &http.Server{Handler: a.Server, ReadHeaderTimeout: 30 * time.Second, ErrorLog: slog.NewLogLogger(log.Handler(), slog.LevelWarn)}
	a.http.RegisterOnShutdown(a.Server.BeginShutdown)
	a.wg.Go(func() {
		if err := a.http.Serve(a.ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			log.Error("http serve", "err", err)
		}
	})
	if a.Worker != nil {
		a.wg.Go(func() {
			if err := a.Worker.Run(runCtx); err != nil {
				log.Error("worker", "err", err)
			}
		})
	}
	if o.Starter != nil && !cfg.NoStarter {
		go func() { // not waited for at shutdown: building may take a while
			dir, err := o.Starter(filepath.Join(cfg.DataDir, "foundation-models", "starter"))
			if err != nil {
				log.Error("starter model", "err", err)
			} else {
				log.Info("starter model ready", "model_id", catalog.StarterID, "dir", dir)
			}
			a.Catalog.SetStarter(dir, err)
		}()
	} else {
		a.Catalog.SetStarter("", catalog.ErrStarterDisabled)
	}
	return a, nil
}

// Endpoint returns the base URL the server listens on.
func (a *App) Endpoint() string { return "http://" + a.ln.Addr().String() }

// Shutdown stops accepting requests, lets running jobs checkpoint (they are
// re-queued and resume at the next start) and closes the store.
func (a *App) Shutdown(ctx context.Context) error {
	err := a.http.Shutdown(ctx)
	a.Serving.Close()
	a.cancel()
	done := make(chan struct{})
	go func() { a.wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-ctx.Done():
		err = errors.Join(err, ctx.Err())
	}
	return errors.Join(err, a.Blobs.Close(), a.Store.Close())
}

// jobResolver resolves job-data s3:// URIs: buckets named in external (or
// all of them, under config.AllBuckets) on their external S3 service, the
// rest on the embedded store.
func jobResolver(embedded *diskblob.Store, external map[string]config.BucketConfig) (*blob.Resolver, error) {
	m := make(map[string]s3blob.Config, len(external))
	for name, b := range external {
		m[name] = s3blob.Config{Endpoint: b.Endpoint, Region: b.Region, UsePathStyle: b.PathStyle,
			AccessKeyID: b.AccessKeyID, SecretAccessKey: b.SecretAccessKey, SessionToken: b.SessionToken}
	}
	r, err := s3blob.NewResolver(embedded, m)
	if err != nil {
		return nil, fmt.Errorf("server: buckets: %w", err)
	}
	if all := r.Buckets[config.AllBuckets]; all != nil {
		r.Default = all
		delete(r.Buckets, config.AllBuckets)
	}
	return r, nil
}

// workerOwner names this server's leases: stable across restarts of the same
// server (so a restart reclaims its own leases at once) and distinct between
// servers that share one PostgreSQL (host name plus data dir).
func workerOwner(dataDir string) string {
	host, _ := os.Hostname()
	abs, err := filepath.Abs(dataDir)
	if err != nil {
		abs = dataDir
	}
	return host + ":" + abs
}
