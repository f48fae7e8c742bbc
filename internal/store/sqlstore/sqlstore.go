// Package sqlstore implements store.Store on database/sql for SQLite
// (modernc.org/sqlite, the embedded default, in WAL mode) and PostgreSQL
// (jackc/pgx). Records are kept as a JSON document plus the indexed columns
// that queries filter and sort on; schema changes are ordered migrations
// applied at Open.
package sqlstore

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib" // driver "pgx"
	_ "modernc.org/sqlite"             // driver "sqlite"

	"github.com/strata-ml/strata/internal/store"
)

type dialect int

const (
	sqlite dialect = iota
	postgres
)

type querier interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

// Store is a store.Store backed by a SQL database.
type Store struct {
	db      *sql.DB
	q       querier
	dialect dialect
	inTx    bool
}

var _ store.Store = (*Store)(nil)

// Open opens the database named by url and applies pending migrations:
//
//	postgres://user:pass@host:port/db?sslmode=disable   PostgreSQL
//	sqlite:PATH or a plain file path                     SQLite (WAL, created if missing)
func Open(ctx context.Context, url string) (*Store, error) {
	var (
		db  *sql.DB
		err error
		d   dialect
	)
	switch {
	case strings.HasPrefix(url, "postgres://") || strings.HasPrefix(url, "postgresql://"):
		d = postgres
		db, err = sql.Open("pgx", url)
		if err == nil {
			db.SetMaxOpenConns(16)
		}
	default:
		path := strings.TrimPrefix(url, "sqlite:")
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			return nil, fmt.Errorf("sqlstore: open %s: %w", path, err)
		}
		dsn := "file:" + path + "?_pragma=journal_mode(WAL)&_pragma=busy_timeout(10000)&_pragma=synchronous(FULL)&_txlock=immediate"
		db, err = sql.Open("sqlite", dsn)
		if err == nil {
			// One connection serializes writers; WAL keeps other processes'
			// readers (strata keys/models) working.
			db.SetMaxOpenConns(1)
		}
	}
	if err != nil {
		return nil, fmt.Errorf("sqlstore: open: %w", err)
	}
	s := &Store{db: db, q: db, dialect: d}
	if err := s.migrate(ctx); err != nil {
		db.Close()
		return nil, err
	}
	return s, nil
}

// Close closes the database.
func (s *Store) Close() error {
	if s.inTx {
		return nil
	}
	return s.db.Close()
}

// Tx runs fn in a transaction.
func (s *Store) Tx(ctx context.Context, fn func(store.Store) error) error {
	if s.inTx {
		return fn(s)
	}
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("sqlstore: begin: %w", err)
	}
	if err := fn(&Store{db: s.db, q: tx, dialect: s.dialect, inTx: true}); err != nil {
		_ = tx.Rollback()
		return err
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("sqlstore: commit: %w", err)
	}
	return nil
}

// rebind turns ? placeholders into $n for PostgreSQL.
func (s *Store) rebind(q string) string {
	if s.dialect != postgres {
		return q
	}
	var b strings.Builder
	n := 0
	for i := range len(q) {
		if q[i] == '?' {
			n++
			b.WriteString("$" + strconv.Itoa(n))
			continue
		}
		b.WriteByte(q[i])
	}
	return b.String()
}

func (s *Store) exec(ctx context.Context, q string, args ...any) (sql.Result, error) {
	return s.q.ExecContext(ctx, s.rebind(q), args...)
}

func (s *Store) query(ctx context.Context, q string, args ...any) (*sql.Rows, error) {
	return s.q.QueryContext(ctx, s.rebind(q), args...)
}

func (s *Store) queryRow(ctx context.Context, q string, args ...any) *sql.Row {
	return s.q.QueryRowContext(ctx, s.rebind(q), args...)
}

// isUnique reports whether err is a uniqueness violation.
func isUnique(err error) bool {
	if err == nil {
		return false
	}
	msg := err.Error()
	return strings.Contains(msg, "UNIQUE constraint failed") || strings.Contains(msg, "SQLSTATE 23505") ||
		strings.Contains(msg, "duplicate key value")
}

func nanos(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixNano()
}

func fromNanos(n int64) time.Time {
	if n == 0 {
		return time.Time{}
	}
	return time.Unix(0, n).UTC()
}

func nullable(s string) any {
	if s == "" {
		return nil
	}
	return s
}

// getDoc scans one JSON document column into v.
func (s *Store) getDoc(ctx context.Context, what string, v any, q string, args ...any) error {
	if s.inTx && s.dialect == postgres {
		// A record read in a transaction is read to be written back:
		// lock its row, so that a concurrent read-modify-write waits and
		// then reads this one's result instead of overwriting it
		// (PostgreSQL's READ COMMITTED lets both read the old version;
		// SQLite serializes writing transactions already).
		q += " FOR UPDATE"
	}
	var doc string
	err := s.queryRow(ctx, q, args...).Scan(&doc)
	if errors.Is(err, sql.ErrNoRows) {
		return fmt.Errorf("sqlstore: get %s: %w", what, store.ErrNotFound)
	}
	if err != nil {
		return fmt.Errorf("sqlstore: get %s: %w", what, err)
	}
	if err := json.Unmarshal([]byte(doc), v); err != nil {
		return fmt.Errorf("sqlstore: decode %s: %w", what, err)
	}
	return nil
}

// listDocs scans a list of JSON documents.
func listDocs[T any](ctx context.Context, s *Store, what string, q string, args ...any) ([]*T, error) {
	rows, err := s.query(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("sqlstore: list %s: %w", what, err)
	}
	defer rows.Close()
	var out []*T
	for rows.Next() {
		var doc string
		if err := rows.Scan(&doc); err != nil {
			return nil, fmt.Errorf("sqlstore: list %s: %w", what, err)
		}
		v := new(T)
		if err := json.Unmarshal([]byte(doc), v); err != nil {
			return nil, fmt.Errorf("sqlstore: decode %s: %w", what, err)
		}
		out = append(out, v)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("sqlstore: list %s: %w", what, err)
	}
	return out, nil
}

func mustJSON(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		panic(fmt.Sprintf("sqlstore: marshal %T: %v", v, err))
	}
	return string(b)
}

// pageClause appends the keyset-pagination condition and ORDER BY/LIMIT for
// lists ordered by (created, id).
func pageClause(where []string, args []any, p store.Page) (string, []any) {
	op, dir := ">", "ASC"
	if !p.Ascending {
		op, dir = "<", "DESC"
	}
	if !p.AfterTime.IsZero() || p.AfterID != "" {
		where = append(where, fmt.Sprintf("(created %s ? OR (created = ? AND id %s ?))", op, op))
		args = append(args, nanos(p.AfterTime), nanos(p.AfterTime), p.AfterID)
	}
	q := ""
	if len(where) > 0 {
		q = " WHERE " + strings.Join(where, " AND ")
	}
	q += fmt.Sprintf(" ORDER BY created %s, id %s", dir, dir)
	if p.Limit > 0 {
		q += " LIMIT " + strconv.Itoa(p.Limit)
	}
	return q, args
}

func likeEscape(s string) string {
	r := strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`)
	return "%" + r.Replace(s) + "%"
}
