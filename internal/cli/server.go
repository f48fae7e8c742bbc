package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
	"time"

	"github.com/strata-ml/strata/internal/config"
	"github.com/strata-ml/strata/internal/server"
	"github.com/strata-ml/strata/internal/store/sqlstore"
)

func init() {
	Register(Command{
		Name:    "server",
		Summary: "run the API (Bedrock control plane, runtime, S3) and workers with embedded defaults",
		Run:     runServer,
	})
}

// configFlags are the flags shared by commands that open the data dir.
type configFlags struct {
	file, dataDir, addr, region, db string
	memoryBudget                    string
	workers, maxModelUnits          int
}

func (c *configFlags) register(fs *flag.FlagSet, withServe bool) {
	fs.StringVar(&c.file, "config", os.Getenv("STRATA_CONFIG"), "JSON config file (env STRATA_CONFIG)")
	fs.StringVar(&c.dataDir, "data-dir", "", "data directory (env STRATA_DATA_DIR, default ./data)")
	fs.StringVar(&c.db, "database-url", "", "metadata store URL: sqlite:PATH or postgres://... (env STRATA_DATABASE_URL)")
	if withServe {
		fs.StringVar(&c.addr, "addr", "", "listen address HOST:PORT (env STRATA_ADDR, default 127.0.0.1:8080)")
		fs.StringVar(&c.region, "region", "", "region (env STRATA_REGION, default us-east-1)")
		fs.IntVar(&c.workers, "workers", -1, "jobs run at once by the in-process worker (env STRATA_WORKERS, default 1)")
		fs.StringVar(&c.memoryBudget, "memory-budget", "", "memory for served model weights and KV cache, e.g. 48GiB (env STRATA_MEMORY_BUDGET, default 3/4 of RAM)")
		fs.IntVar(&c.maxModelUnits, "max-model-units", 0, "per-account quota of provisioned model units (env STRATA_MAX_MODEL_UNITS, default 64)")
	}
}

func (c *configFlags) load() (config.Config, error) {
	cfg, err := config.Load(c.file, os.Getenv)
	if err != nil {
		return cfg, err
	}
	if c.dataDir != "" {
		cfg.DataDir = c.dataDir
	}
	if c.addr != "" {
		cfg.Addr = c.addr
	}
	if c.region != "" {
		cfg.Region = c.region
	}
	if c.db != "" {
		cfg.DatabaseURL = c.db
	}
	if c.workers >= 0 {
		cfg.Workers = c.workers
	}
	if c.memoryBudget != "" {
		n, err := config.ParseByteSize(c.memoryBudget)
		if err != nil {
			return cfg, fmt.Errorf("--memory-budget: %w", err)
		}
		cfg.MemoryBudget = n
	}
	if c.maxModelUnits != 0 {
		cfg.MaxModelUnits = c.maxModelUnits
	}
	return cfg, cfg.Validate()
}

func newLogger(cfg config.Config, w io.Writer) *slog.Logger {
	var lvl slog.Level
	_ = lvl.UnmarshalText([]byte(cfg.LogLevel))
	opts := &slog.HandlerOptions{Level: lvl}
	if strings.EqualFold(cfg.LogFormat, "json") {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}

func runServer(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("server", stderr)
	var cf configFlags
	cf.register(fs, true)
	describe := fs.Bool("describe-config", false, "print every setting with its environment variable and default, then exit")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *describe {
		for _, s := range config.Describe() {
			fmt.Fprintf(stdout, "%-18s %-28s %-24s %s\n", s.Key, s.Env, s.Default, s.Help)
		}
		return nil
	}
	cfg, err := cf.load()
	if err != nil {
		return err
	}
	log := newLogger(cfg, stderr)
	app, err := server.Start(ctx, cfg, server.AppOptions{Logger: log, Starter: starterBuilder()})
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "Strata is running.\n  endpoint: %s\n  region:   %s\n  account:  %s\n  data dir: %s\n\n",
		app.Endpoint(), cfg.Region, app.Account, cfg.DataDir)
	fmt.Fprintf(stdout, "Local credentials:\n  export AWS_ACCESS_KEY_ID=%s\n  export AWS_SECRET_ACCESS_KEY=%s\n  export AWS_REGION=%s AWS_DEFAULT_REGION=%s\n\n",
		app.AccessKeyID, app.SecretAccessKey, cfg.Region, cfg.Region)
	fmt.Fprintf(stdout, "Try: aws bedrock list-foundation-models --endpoint-url %s\n", app.Endpoint())
	log.Info("listening", "endpoint", app.Endpoint(), "region", cfg.Region, "data_dir", cfg.DataDir, "workers", cfg.Workers)
	<-ctx.Done()
	log.Info("shutting down")
	sctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	if err := app.Shutdown(sctx); err != nil && !errors.Is(err, context.Canceled) {
		return fmt.Errorf("shutdown: %w", err)
	}
	return nil
}

// openStore opens the metadata store named by the flags (for admin commands
// that run beside or without a server; SQLite in WAL mode allows both).
func openStore(ctx context.Context, cf *configFlags) (*sqlstore.Store, config.Config, error) {
	cfg, err := cf.load()
	if err != nil {
		return nil, cfg, err
	}
	if err := os.MkdirAll(cfg.DataDir, 0o755); err != nil {
		return nil, cfg, err
	}
	st, err := sqlstore.Open(ctx, cfg.DB())
	return st, cfg, err
}
