package sqlstore

import (
	"context"
	"fmt"
	"strings"
)

// migrations are applied in order, once each; never edit a released one,
// append a new one. "AUTOINC" becomes the dialect's auto-increment key.
var migrations = []string{
	// 1: jobs, custom models, tags.
	`CREATE TABLE jobs (
		account TEXT NOT NULL,
		id TEXT NOT NULL,
		name TEXT NOT NULL,
		status TEXT NOT NULL,
		created BIGINT NOT NULL,
		client_token TEXT,
		doc TEXT NOT NULL,
		PRIMARY KEY (account, id)
	);
	CREATE UNIQUE INDEX jobs_name ON jobs (account, name);
	CREATE UNIQUE INDEX jobs_token ON jobs (account, client_token);
	CREATE INDEX jobs_created ON jobs (account, created, id);
	CREATE TABLE custom_models (
		account TEXT NOT NULL,
		id TEXT NOT NULL,
		name TEXT NOT NULL,
		status TEXT NOT NULL,
		base_model_arn TEXT NOT NULL,
		created BIGINT NOT NULL,
		doc TEXT NOT NULL,
		PRIMARY KEY (account, id)
	);
	CREATE UNIQUE INDEX custom_models_name ON custom_models (account, name);
	CREATE TABLE tags (
		account TEXT NOT NULL,
		arn TEXT NOT NULL,
		k TEXT NOT NULL,
		v TEXT NOT NULL,
		PRIMARY KEY (account, arn, k)
	)`,
	// 2: job event outbox and the durable queue.
	`CREATE TABLE events (
		seq AUTOINC,
		job_id TEXT NOT NULL,
		t BIGINT NOT NULL,
		type TEXT NOT NULL,
		data TEXT
	);
	CREATE INDEX events_job ON events (job_id, seq);
	CREATE TABLE tasks (
		id AUTOINC,
		job_id TEXT NOT NULL,
		account TEXT NOT NULL,
		state TEXT NOT NULL,
		attempts INTEGER NOT NULL DEFAULT 0,
		max_attempts INTEGER NOT NULL,
		owner TEXT,
		lease_until BIGINT NOT NULL DEFAULT 0,
		available_at BIGINT NOT NULL,
		last_error TEXT
	);
	CREATE INDEX tasks_ready ON tasks (state, available_at, id)`,
	// 3: keys and operator-registered foundation models.
	`CREATE TABLE api_keys (
		id TEXT PRIMARY KEY,
		account TEXT NOT NULL,
		doc TEXT NOT NULL
	);
	CREATE TABLE foundation_models (
		id TEXT PRIMARY KEY,
		doc TEXT NOT NULL
	)`,
	// 4: serving resources (Provisioned Throughputs, deployments), which
	// lived in DATADIR/serving/provisioning.json before.
	`CREATE TABLE serving_resources (
		kind TEXT NOT NULL,
		account TEXT NOT NULL,
		id TEXT NOT NULL,
		name TEXT NOT NULL,
		arn TEXT NOT NULL,
		status TEXT NOT NULL,
		created BIGINT NOT NULL,
		modified BIGINT NOT NULL,
		doc TEXT NOT NULL,
		PRIMARY KEY (kind, account, id)
	);
	CREATE UNIQUE INDEX serving_resources_name ON serving_resources (kind, account, name);
	CREATE INDEX serving_resources_created ON serving_resources (kind, account, created, id)`,
}

func (s *Store) migrate(ctx context.Context) error {
	if _, err := s.db.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY)`); err != nil {
		return fmt.Errorf("sqlstore: migrate: %w", err)
	}
	autoinc := "INTEGER PRIMARY KEY AUTOINCREMENT"
	if s.dialect == postgres {
		autoinc = "BIGSERIAL PRIMARY KEY"
	}
	for i, m := range migrations {
		v := i + 1
		tx, err := s.db.BeginTx(ctx, nil)
		if err != nil {
			return fmt.Errorf("sqlstore: migrate %d: %w", v, err)
		}
		var n int
		if err := tx.QueryRowContext(ctx, s.rebind(`SELECT COUNT(*) FROM schema_migrations WHERE version = ?`), v).Scan(&n); err != nil {
			_ = tx.Rollback()
			return fmt.Errorf("sqlstore: migrate %d: %w", v, err)
		}
		if n > 0 {
			_ = tx.Rollback()
			continue
		}
		for stmt := range strings.SplitSeq(strings.ReplaceAll(m, "AUTOINC", autoinc), ";") {
			if strings.TrimSpace(stmt) == "" {
				continue
			}
			if _, err := tx.ExecContext(ctx, stmt); err != nil {
				_ = tx.Rollback()
				return fmt.Errorf("sqlstore: migrate %d: %w", v, err)
			}
		}
		if _, err := tx.ExecContext(ctx, s.rebind(`INSERT INTO schema_migrations (version) VALUES (?)`), v); err != nil {
			_ = tx.Rollback()
			return fmt.Errorf("sqlstore: migrate %d: %w", v, err)
		}
		if err := tx.Commit(); err != nil {
			return fmt.Errorf("sqlstore: migrate %d: %w", v, err)
		}
	}
	return nil
}

// SchemaVersion returns the number of applied migrations.
func (s *Store) SchemaVersion(ctx context.Context) (int, error) {
	var n int
	err := s.queryRow(ctx, `SELECT COUNT(*) FROM schema_migrations`).Scan(&n)
	return n, err
}
