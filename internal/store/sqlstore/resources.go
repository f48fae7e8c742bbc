package sqlstore

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"

	"github.com/strata-ml/strata/internal/store"
)

const resourceColumns = `kind, account, id, name, arn, status, created, modified, doc`

// PutResource inserts or replaces a serving resource in one statement.
func (s *Store) PutResource(ctx context.Context, r *store.Resource) error {
	_, err := s.exec(ctx, `INSERT INTO serving_resources (`+resourceColumns+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
		ON CONFLICT (kind, account, id) DO UPDATE SET name = excluded.name, arn = excluded.arn, status = excluded.status,
		created = excluded.created, modified = excluded.modified, doc = excluded.doc`,
		r.Kind, r.Account, r.ID, r.Name, r.ARN, r.Status, nanos(r.Created), nanos(r.Modified), string(r.Doc))
	if isUnique(err) {
		return fmt.Errorf("sqlstore: put %s %q: %w", r.Kind, r.Name, store.ErrConflict)
	}
	if err != nil {
		return fmt.Errorf("sqlstore: put %s %s: %w", r.Kind, r.ID, err)
	}
	return nil
}

// GetResource returns a serving resource by id.
func (s *Store) GetResource(ctx context.Context, kind, account, id string) (*store.Resource, error) {
	q := `SELECT ` + resourceColumns + ` FROM serving_resources WHERE kind = ? AND account = ? AND id = ?`
	if s.inTx && s.dialect == postgres {
		q += " FOR UPDATE" // read to be written back: see getDoc
	}
	rows, err := s.query(ctx, q, kind, account, id)
	if err != nil {
		return nil, fmt.Errorf("sqlstore: get %s %s: %w", kind, id, err)
	}
	out, err := scanResources(rows)
	if err != nil {
		return nil, fmt.Errorf("sqlstore: get %s %s: %w", kind, id, err)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("sqlstore: get %s %s: %w", kind, id, store.ErrNotFound)
	}
	return out[0], nil
}

// ListResources lists serving resources of a kind by (created, id).
func (s *Store) ListResources(ctx context.Context, kind, account string) ([]*store.Resource, error) {
	q, args := `SELECT `+resourceColumns+` FROM serving_resources WHERE kind = ?`, []any{kind}
	if account != "" {
		q += ` AND account = ?`
		args = append(args, account)
	}
	rows, err := s.query(ctx, q+` ORDER BY created, id`, args...)
	if err != nil {
		return nil, fmt.Errorf("sqlstore: list %s: %w", kind, err)
	}
	out, err := scanResources(rows)
	if err != nil {
		return nil, fmt.Errorf("sqlstore: list %s: %w", kind, err)
	}
	return out, nil
}

// DeleteResource deletes a serving resource.
func (s *Store) DeleteResource(ctx context.Context, kind, account, id string) error {
	res, err := s.exec(ctx, `DELETE FROM serving_resources WHERE kind = ? AND account = ? AND id = ?`, kind, account, id)
	if err != nil {
		return fmt.Errorf("sqlstore: delete %s %s: %w", kind, id, err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return fmt.Errorf("sqlstore: delete %s %s: %w", kind, id, store.ErrNotFound)
	}
	return nil
}

// scanResources reads and closes rows of resourceColumns.
func scanResources(rows *sql.Rows) ([]*store.Resource, error) {
	defer rows.Close()
	var out []*store.Resource
	for rows.Next() {
		var (
			r                 store.Resource
			created, modified int64
			doc               string
		)
		if err := rows.Scan(&r.Kind, &r.Account, &r.ID, &r.Name, &r.ARN, &r.Status, &created, &modified, &doc); err != nil {
			return nil, err
		}
		r.Created, r.Modified = fromNanos(created), fromNanos(modified)
		if doc != "" {
			r.Doc = json.RawMessage(doc)
		}
		out = append(out, &r)
	}
	return out, rows.Err()
}
