package sqlstore

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/strata-ml/strata/internal/store"
)

// CreateJob inserts j.
func (s *Store) CreateJob(ctx context.Context, j *store.Job) error {
	_, err := s.exec(ctx, `INSERT INTO jobs (account, id, name, status, created, client_token, doc) VALUES (?, ?, ?, ?, ?, ?, ?)`,
		j.Account, j.ID, j.Name, j.Status, nanos(j.CreationTime), nullable(j.ClientRequestToken), mustJSON(j))
	if isUnique(err) {
		return fmt.Errorf("sqlstore: create job %q: %w", j.Name, store.ErrConflict)
	}
	if err != nil {
		return fmt.Errorf("sqlstore: create job %q: %w", j.Name, err)
	}
	return nil
}

// GetJob returns a job by id.
func (s *Store) GetJob(ctx context.Context, account, id string) (*store.Job, error) {
	j := new(store.Job)
	if err := s.getDoc(ctx, "job "+id, j, `SELECT doc FROM jobs WHERE account = ? AND id = ?`, account, id); err != nil {
		return nil, err
	}
	return j, nil
}

// GetJobByName returns a job by name.
func (s *Store) GetJobByName(ctx context.Context, account, name string) (*store.Job, error) {
	j := new(store.Job)
	if err := s.getDoc(ctx, "job "+name, j, `SELECT doc FROM jobs WHERE account = ? AND name = ?`, account, name); err != nil {
		return nil, err
	}
	return j, nil
}

// GetJobByToken returns the job created with a client request token.
func (s *Store) GetJobByToken(ctx context.Context, account, token string) (*store.Job, error) {
	j := new(store.Job)
	if err := s.getDoc(ctx, "job with token", j, `SELECT doc FROM jobs WHERE account = ? AND client_token = ?`, account, token); err != nil {
		return nil, err
	}
	return j, nil
}

// UpdateJob replaces a job.
func (s *Store) UpdateJob(ctx context.Context, j *store.Job) error {
	res, err := s.exec(ctx, `UPDATE jobs SET name = ?, status = ?, doc = ? WHERE account = ? AND id = ?`,
		j.Name, j.Status, mustJSON(j), j.Account, j.ID)
	if err != nil {
		return fmt.Errorf("sqlstore: update job %s: %w", j.ID, err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return fmt.Errorf("sqlstore: update job %s: %w", j.ID, store.ErrNotFound)
	}
	return nil
}

// ListJobs lists jobs.
func (s *Store) ListJobs(ctx context.Context, q store.JobQuery) ([]*store.Job, error) {
	where := []string{"account = ?"}
	args := []any{q.Account}
	if q.NameContains != "" {
		where = append(where, `name LIKE ? ESCAPE '\'`)
		args = append(args, likeEscape(q.NameContains))
	}
	if q.Status != "" {
		where = append(where, "status = ?")
		args = append(args, q.Status)
	}
	if !q.CreatedAfter.IsZero() {
		where = append(where, "created > ?")
		args = append(args, nanos(q.CreatedAfter))
	}
	if !q.CreatedBefore.IsZero() {
		where = append(where, "created < ?")
		args = append(args, nanos(q.CreatedBefore))
	}
	tail, args := pageClause(where, args, q.Page)
	return listDocs[store.Job](ctx, s, "jobs", `SELECT doc FROM jobs`+tail, args...)
}

// CountJobs counts jobs in the given statuses.
func (s *Store) CountJobs(ctx context.Context, account string, statuses ...string) (int, error) {
	var where []string
	var args []any
	if account != "" {
		where = append(where, "account = ?")
		args = append(args, account)
	}
	if len(statuses) > 0 {
		where = append(where, "status IN (?"+strings.Repeat(", ?", len(statuses)-1)+")")
		for _, st := range statuses {
			args = append(args, st)
		}
	}
	q := `SELECT COUNT(*) FROM jobs`
	if len(where) > 0 {
		q += " WHERE " + strings.Join(where, " AND ")
	}
	var n int
	if err := s.queryRow(ctx, q, args...).Scan(&n); err != nil {
		return 0, fmt.Errorf("sqlstore: count jobs: %w", err)
	}
	return n, nil
}

// CreateCustomModel inserts m.
func (s *Store) CreateCustomModel(ctx context.Context, m *store.CustomModel) error {
	_, err := s.exec(ctx, `INSERT INTO custom_models (account, id, name, status, base_model_arn, created, doc) VALUES (?, ?, ?, ?, ?, ?, ?)`,
		m.Account, m.ID, m.Name, m.Status, m.BaseModelARN, nanos(m.CreationTime), mustJSON(m))
	if isUnique(err) {
		return fmt.Errorf("sqlstore: create custom model %q: %w", m.Name, store.ErrConflict)
	}
	if err != nil {
		return fmt.Errorf("sqlstore: create custom model %q: %w", m.Name, err)
	}
	return nil
}

// GetCustomModel returns a custom model by id.
func (s *Store) GetCustomModel(ctx context.Context, account, id string) (*store.CustomModel, error) {
	m := new(store.CustomModel)
	if err := s.getDoc(ctx, "custom model "+id, m, `SELECT doc FROM custom_models WHERE account = ? AND id = ?`, account, id); err != nil {
		return nil, err
	}
	return m, nil
}

// GetCustomModelByName returns a custom model by name.
func (s *Store) GetCustomModelByName(ctx context.Context, account, name string) (*store.CustomModel, error) {
	m := new(store.CustomModel)
	if err := s.getDoc(ctx, "custom model "+name, m, `SELECT doc FROM custom_models WHERE account = ? AND name = ?`, account, name); err != nil {
		return nil, err
	}
	return m, nil
}

// UpdateCustomModel replaces a custom model.
func (s *Store) UpdateCustomModel(ctx context.Context, m *store.CustomModel) error {
	res, err := s.exec(ctx, `UPDATE custom_models SET status = ?, doc = ? WHERE account = ? AND id = ?`,
		m.Status, mustJSON(m), m.Account, m.ID)
	if err != nil {
		return fmt.Errorf("sqlstore: update custom model %s: %w", m.ID, err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return fmt.Errorf("sqlstore: update custom model %s: %w", m.ID, store.ErrNotFound)
	}
	return nil
}

// ListCustomModels lists custom models.
func (s *Store) ListCustomModels(ctx context.Context, q store.ModelQuery) ([]*store.CustomModel, error) {
	where := []string{"account = ?"}
	args := []any{q.Account}
	if q.NameContains != "" {
		where = append(where, `name LIKE ? ESCAPE '\'`)
		args = append(args, likeEscape(q.NameContains))
	}
	if q.Status != "" {
		where = append(where, "status = ?")
		args = append(args, q.Status)
	}
	if q.BaseModelARN != "" {
		where = append(where, "base_model_arn = ?")
		args = append(args, q.BaseModelARN)
	}
	if !q.CreatedAfter.IsZero() {
		where = append(where, "created > ?")
		args = append(args, nanos(q.CreatedAfter))
	}
	if !q.CreatedBefore.IsZero() {
		where = append(where, "created < ?")
		args = append(args, nanos(q.CreatedBefore))
	}
	tail, args := pageClause(where, args, q.Page)
	return listDocs[store.CustomModel](ctx, s, "custom models", `SELECT doc FROM custom_models`+tail, args...)
}

// DeleteCustomModel deletes a custom model and its tags.
func (s *Store) DeleteCustomModel(ctx context.Context, account, id string) error {
	return s.Tx(ctx, func(st store.Store) error {
		tx := st.(*Store)
		m, err := tx.GetCustomModel(ctx, account, id)
		if err != nil {
			return err
		}
		if _, err := tx.exec(ctx, `DELETE FROM custom_models WHERE account = ? AND id = ?`, account, id); err != nil {
			return fmt.Errorf("sqlstore: delete custom model %s: %w", id, err)
		}
		if _, err := tx.exec(ctx, `DELETE FROM tags WHERE account = ? AND arn = ?`, account, m.ARN); err != nil {
			return fmt.Errorf("sqlstore: delete custom model %s tags: %w", id, err)
		}
		return nil
	})
}

// PutTags adds or replaces tags.
func (s *Store) PutTags(ctx context.Context, account, arn string, tags []store.Tag) error {
	return s.Tx(ctx, func(st store.Store) error {
		tx := st.(*Store)
		for _, t := range tags {
			if _, err := tx.exec(ctx, `DELETE FROM tags WHERE account = ? AND arn = ? AND k = ?`, account, arn, t.Key); err != nil {
				return fmt.Errorf("sqlstore: put tags: %w", err)
			}
			if _, err := tx.exec(ctx, `INSERT INTO tags (account, arn, k, v) VALUES (?, ?, ?, ?)`, account, arn, t.Key, t.Value); err != nil {
				return fmt.Errorf("sqlstore: put tags: %w", err)
			}
		}
		return nil
	})
}

// DeleteTags removes tags by key.
func (s *Store) DeleteTags(ctx context.Context, account, arn string, keys []string) error {
	for _, k := range keys {
		if _, err := s.exec(ctx, `DELETE FROM tags WHERE account = ? AND arn = ? AND k = ?`, account, arn, k); err != nil {
			return fmt.Errorf("sqlstore: delete tags: %w", err)
		}
	}
	return nil
}

// ListTags lists a resource's tags by key.
func (s *Store) ListTags(ctx context.Context, account, arn string) ([]store.Tag, error) {
	rows, err := s.query(ctx, `SELECT k, v FROM tags WHERE account = ? AND arn = ? ORDER BY k`, account, arn)
	if err != nil {
		return nil, fmt.Errorf("sqlstore: list tags: %w", err)
	}
	defer rows.Close()
	var out []store.Tag
	for rows.Next() {
		var t store.Tag
		if err := rows.Scan(&t.Key, &t.Value); err != nil {
			return nil, fmt.Errorf("sqlstore: list tags: %w", err)
		}
		out = append(out, t)
	}
	return out, rows.Err()
}

// AppendEvents appends to the outbox.
func (s *Store) AppendEvents(ctx context.Context, evs ...store.Event) error {
	for _, e := range evs {
		var data any
		if len(e.Data) > 0 {
			data = string(e.Data)
		}
		if _, err := s.exec(ctx, `INSERT INTO events (job_id, t, type, data) VALUES (?, ?, ?, ?)`, e.JobID, nanos(e.Time), e.Type, data); err != nil {
			return fmt.Errorf("sqlstore: append event: %w", err)
		}
	}
	return nil
}

// ListEvents lists a job's events after a sequence number.
func (s *Store) ListEvents(ctx context.Context, jobID string, after int64, limit int) ([]store.Event, error) {
	if limit <= 0 {
		limit = 1000
	}
	rows, err := s.query(ctx, fmt.Sprintf(`SELECT seq, t, type, data FROM events WHERE job_id = ? AND seq > ? ORDER BY seq LIMIT %d`, limit), jobID, after)
	if err != nil {
		return nil, fmt.Errorf("sqlstore: list events: %w", err)
	}
	defer rows.Close()
	var out []store.Event
	for rows.Next() {
		var (
			e    store.Event
			t    int64
			data *string
		)
		if err := rows.Scan(&e.Seq, &t, &e.Type, &data); err != nil {
			return nil, fmt.Errorf("sqlstore: list events: %w", err)
		}
		e.JobID, e.Time = jobID, fromNanos(t)
		if data != nil {
			e.Data = json.RawMessage(*data)
		}
		out = append(out, e)
	}
	return out, rows.Err()
}

// Enqueue adds a task.
func (s *Store) Enqueue(ctx context.Context, t store.Task) error {
	if t.MaxAttempts <= 0 {
		t.MaxAttempts = 3
	}
	_, err := s.exec(ctx, `INSERT INTO tasks (job_id, account, state, attempts, max_attempts, available_at) VALUES (?, ?, 'ready', 0, ?, ?)`,
		t.JobID, t.Account, t.MaxAttempts, nanos(t.AvailableAt))
	if err != nil {
		return fmt.Errorf("sqlstore: enqueue %s: %w", t.JobID, err)
	}
	return nil
}

// Lease takes the oldest available task.
func (s *Store) Lease(ctx context.Context, owner string, now, until time.Time) (*store.Task, error) {
	var task *store.Task
	err := s.Tx(ctx, func(st store.Store) error {
		tx := st.(*Store)
		q := `SELECT id FROM tasks WHERE (state = 'ready' AND available_at <= ?) OR (state = 'leased' AND lease_until < ?) ORDER BY id LIMIT 1`
		if tx.dialect == postgres {
			q += " FOR UPDATE SKIP LOCKED"
		}
		var id int64
		if err := tx.queryRow(ctx, q, nanos(now), nanos(now)).Scan(&id); err != nil {
			if errors.Is(err, sql.ErrNoRows) {
				return fmt.Errorf("sqlstore: lease: %w", store.ErrNotFound)
			}
			return fmt.Errorf("sqlstore: lease: %w", err)
		}
		if _, err := tx.exec(ctx, `UPDATE tasks SET state = 'leased', owner = ?, lease_until = ?, attempts = attempts + 1 WHERE id = ?`, owner, nanos(until), id); err != nil {
			return fmt.Errorf("sqlstore: lease %d: %w", id, err)
		}
		t := &store.Task{ID: id}
		var (
			lease, avail int64
			lastErr      *string
		)
		err := tx.queryRow(ctx, `SELECT job_id, account, attempts, max_attempts, owner, lease_until, available_at, last_error FROM tasks WHERE id = ?`, id).
			Scan(&t.JobID, &t.Account, &t.Attempts, &t.MaxAttempts, &t.Owner, &lease, &avail, &lastErr)
		if err != nil {
			return fmt.Errorf("sqlstore: lease %d: %w", id, err)
		}
		t.LeaseUntil, t.AvailableAt = fromNanos(lease), fromNanos(avail)
		if lastErr != nil {
			t.LastError = *lastErr
		}
		task = t
		return nil
	})
	return task, err
}

// Heartbeat extends a lease.
func (s *Store) Heartbeat(ctx context.Context, taskID int64, owner string, until time.Time) error {
	res, err := s.exec(ctx, `UPDATE tasks SET lease_until = ? WHERE id = ? AND owner = ? AND state = 'leased'`, nanos(until), taskID, owner)
	if err != nil {
		return fmt.Errorf("sqlstore: heartbeat %d: %w", taskID, err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return fmt.Errorf("sqlstore: heartbeat %d: %w", taskID, store.ErrLeaseLost)
	}
	return nil
}

// Ack removes a task.
func (s *Store) Ack(ctx context.Context, taskID int64, owner string) error {
	res, err := s.exec(ctx, `DELETE FROM tasks WHERE id = ? AND owner = ? AND state = 'leased'`, taskID, owner)
	if err != nil {
		return fmt.Errorf("sqlstore: ack %d: %w", taskID, err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return fmt.Errorf("sqlstore: ack %d: %w", taskID, store.ErrLeaseLost)
	}
	return nil
}

// Nack returns a task to the queue.
func (s *Store) Nack(ctx context.Context, taskID int64, owner string, retryAt time.Time, msg string) error {
	res, err := s.exec(ctx, `UPDATE tasks SET state = 'ready', owner = NULL, lease_until = 0, available_at = ?, last_error = ? WHERE id = ? AND owner = ? AND state = 'leased'`,
		nanos(retryAt), msg, taskID, owner)
	if err != nil {
		return fmt.Errorf("sqlstore: nack %d: %w", taskID, err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return fmt.Errorf("sqlstore: nack %d: %w", taskID, store.ErrLeaseLost)
	}
	return nil
}

// ReleaseOwner releases every lease held by owner.
func (s *Store) ReleaseOwner(ctx context.Context, owner string) (int, error) {
	res, err := s.exec(ctx, `UPDATE tasks SET state = 'ready', owner = NULL, lease_until = 0 WHERE owner = ? AND state = 'leased'`, owner)
	if err != nil {
		return 0, fmt.Errorf("sqlstore: release %s: %w", owner, err)
	}
	n, _ := res.RowsAffected()
	return int(n), nil
}

// PutKey inserts or replaces a key.
func (s *Store) PutKey(ctx context.Context, k *store.Key) error {
	return s.Tx(ctx, func(st store.Store) error {
		tx := st.(*Store)
		if _, err := tx.exec(ctx, `DELETE FROM api_keys WHERE id = ?`, k.ID); err != nil {
			return fmt.Errorf("sqlstore: put key: %w", err)
		}
		if _, err := tx.exec(ctx, `INSERT INTO api_keys (id, account, doc) VALUES (?, ?, ?)`, k.ID, k.Account, mustJSON(k)); err != nil {
			return fmt.Errorf("sqlstore: put key: %w", err)
		}
		return nil
	})
}

// GetKey returns a key by id.
func (s *Store) GetKey(ctx context.Context, id string) (*store.Key, error) {
	k := new(store.Key)
	if err := s.getDoc(ctx, "key", k, `SELECT doc FROM api_keys WHERE id = ?`, id); err != nil {
		return nil, err
	}
	return k, nil
}

// ListKeys lists keys by id.
func (s *Store) ListKeys(ctx context.Context) ([]*store.Key, error) {
	return listDocs[store.Key](ctx, s, "keys", `SELECT doc FROM api_keys ORDER BY id`)
}

// DeleteKey deletes a key.
func (s *Store) DeleteKey(ctx context.Context, id string) error {
	res, err := s.exec(ctx, `DELETE FROM api_keys WHERE id = ?`, id)
	if err != nil {
		return fmt.Errorf("sqlstore: delete key: %w", err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return fmt.Errorf("sqlstore: delete key %s: %w", id, store.ErrNotFound)
	}
	return nil
}

// PutFoundationModel inserts or replaces an operator-registered model.
func (s *Store) PutFoundationModel(ctx context.Context, m *store.FoundationModel) error {
	return s.Tx(ctx, func(st store.Store) error {
		tx := st.(*Store)
		if _, err := tx.exec(ctx, `DELETE FROM foundation_models WHERE id = ?`, m.ID); err != nil {
			return fmt.Errorf("sqlstore: put foundation model: %w", err)
		}
		if _, err := tx.exec(ctx, `INSERT INTO foundation_models (id, doc) VALUES (?, ?)`, m.ID, mustJSON(m)); err != nil {
			return fmt.Errorf("sqlstore: put foundation model: %w", err)
		}
		return nil
	})
}

// ListFoundationModels lists operator-registered models by id.
func (s *Store) ListFoundationModels(ctx context.Context) ([]*store.FoundationModel, error) {
	return listDocs[store.FoundationModel](ctx, s, "foundation models", `SELECT doc FROM foundation_models ORDER BY id`)
}

// DeleteFoundationModel deletes an operator-registered model.
func (s *Store) DeleteFoundationModel(ctx context.Context, id string) error {
	res, err := s.exec(ctx, `DELETE FROM foundation_models WHERE id = ?`, id)
	if err != nil {
		return fmt.Errorf("sqlstore: delete foundation model: %w", err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return fmt.Errorf("sqlstore: delete foundation model %s: %w", id, store.ErrNotFound)
	}
	return nil
}
