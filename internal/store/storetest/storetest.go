// Package storetest is the conformance suite every store.Store
// implementation runs: CRUD and uniqueness of every record type, list
// filters and keyset pagination, transactions (rollback, outbox atomicity)
// the durable queue's lease/heartbeat/ack/nack/release semantics, and the
// serving resource records.
package storetest

import (
	"encoding/json"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/strata-ml/strata/internal/store"
)

// Run runs the suite; open returns a fresh, empty store for each subtest.
func Run(t *testing.T, open func(t *testing.T) store.Store) {
	tests := []struct {
		name string
		fn   func(t *testing.T, s store.Store)
	}{
		{"Jobs", testJobs},
		{"JobList", testJobList},
		{"CustomModels", testCustomModels},
		{"Tags", testTags},
		{"TxOutbox", testTxOutbox},
		{"TxReadModifyWrite", testTxReadModifyWrite},
		{"Queue", testQueue},
		{"Keys", testKeys},
		{"FoundationModels", testFoundationModels},
		{"Resources", testResources},
		{"ResourceTx", testResourceTx},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := open(t)
			t.Cleanup(func() { s.Close() })
			tt.fn(t, s)
		})
	}
}

var t0 = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)

func newJob(account, id, name string, created time.Time) *store.Job {
	return &store.Job{
		ID: id, Account: account, Name: name, ARN: "arn:" + id,
		BaseModelID: "strata.starter-v1:0", CustomModelName: "m-" + name, RoleARN: "arn:aws:iam::123456789012:role/R",
		CustomizationType: "FINE_TUNING", HyperParameters: map[string]string{"epochCount": "1"},
		TrainingDataConfig: []byte(`{"s3Uri":"s3://b/t.jsonl"}`), TrainingS3URI: "s3://b/t.jsonl",
		OutputS3URI: "s3://b/out/", Status: store.JobInProgress, CreationTime: created,
		StatusDetails: store.StatusDetails{Validation: store.Phase{Status: store.PhaseNotStarted}},
	}
}

func testJobs(t *testing.T, s store.Store) {
	ctx := t.Context()
	j := newJob("111111111111", "aaaaaaaaaaaa", "job-1", t0)
	j.ClientRequestToken = "tok-1"
	if err := s.CreateJob(ctx, j); err != nil {
		t.Fatalf("CreateJob: %v", err)
	}
	got, err := s.GetJob(ctx, j.Account, j.ID)
	if err != nil {
		t.Fatalf("GetJob: %v", err)
	}
	if diff := cmp.Diff(j, got); diff != "" {
		t.Errorf("GetJob (-want +got):\n%s", diff)
	}
	if _, err := s.GetJob(ctx, "222222222222", j.ID); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("GetJob other account = %v, want ErrNotFound", err)
	}
	if g, err := s.GetJobByName(ctx, j.Account, "job-1"); err != nil || g.ID != j.ID {
		t.Errorf("GetJobByName = %v, %v", g, err)
	}
	if g, err := s.GetJobByToken(ctx, j.Account, "tok-1"); err != nil || g.ID != j.ID {
		t.Errorf("GetJobByToken = %v, %v", g, err)
	}
	dup := newJob(j.Account, "bbbbbbbbbbbb", "job-1", t0)
	if err := s.CreateJob(ctx, dup); !errors.Is(err, store.ErrConflict) {
		t.Errorf("CreateJob duplicate name = %v, want ErrConflict", err)
	}
	dup = newJob(j.Account, "bbbbbbbbbbbb", "job-2", t0)
	dup.ClientRequestToken = "tok-1"
	if err := s.CreateJob(ctx, dup); !errors.Is(err, store.ErrConflict) {
		t.Errorf("CreateJob duplicate token = %v, want ErrConflict", err)
	}
	// Same name in another account is fine; jobs without tokens don't collide.
	if err := s.CreateJob(ctx, newJob("222222222222", "cccccccccccc", "job-1", t0)); err != nil {
		t.Errorf("CreateJob other account: %v", err)
	}
	if err := s.CreateJob(ctx, newJob(j.Account, "dddddddddddd", "job-3", t0)); err != nil {
		t.Errorf("CreateJob no token: %v", err)
	}
	if err := s.CreateJob(ctx, newJob(j.Account, "eeeeeeeeeeee", "job-4", t0)); err != nil {
		t.Errorf("CreateJob no token 2: %v", err)
	}
	loss := 0.5
	j.Status, j.TrainingLoss, j.EndTime = store.JobCompleted, &loss, t0.Add(time.Hour)
	if err := s.UpdateJob(ctx, j); err != nil {
		t.Fatalf("UpdateJob: %v", err)
	}
	got, _ = s.GetJob(ctx, j.Account, j.ID)
	if diff := cmp.Diff(j, got); diff != "" {
		t.Errorf("after UpdateJob (-want +got):\n%s", diff)
	}
	if err := s.UpdateJob(ctx, newJob(j.Account, "zzzzzzzzzzzz", "nope", t0)); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("UpdateJob missing = %v", err)
	}
	n, err := s.CountJobs(ctx, j.Account, store.JobInProgress, store.JobStopping)
	if err != nil || n != 2 {
		t.Errorf("CountJobs = %d, %v, want 2", n, err)
	}
	if n, _ := s.CountJobs(ctx, ""); n != 4 {
		t.Errorf("CountJobs all = %d, want 4", n)
	}
}

func testJobList(t *testing.T, s store.Store) {
	ctx := t.Context()
	const acct = "111111111111"
	for i := range 7 {
		j := newJob(acct, fmt.Sprintf("job%08d", i), fmt.Sprintf("train-%d", i), t0.Add(time.Duration(i%4)*time.Minute))
		if i == 3 {
			j.Status = store.JobFailed
		}
		if err := s.CreateJob(ctx, j); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.CreateJob(ctx, newJob("999999999999", "other0000000", "train-x", t0)); err != nil {
		t.Fatal(err)
	}
	for _, asc := range []bool{true, false} {
		var ids []string
		p := store.Page{Ascending: asc, Limit: 3}
		for range 10 {
			page, err := s.ListJobs(ctx, store.JobQuery{Account: acct, Page: p})
			if err != nil {
				t.Fatal(err)
			}
			for _, j := range page {
				ids = append(ids, j.ID)
			}
			if len(page) < p.Limit {
				break
			}
			last := page[len(page)-1]
			p.AfterTime, p.AfterID = last.CreationTime, last.ID
		}
		if len(ids) != 7 {
			t.Fatalf("asc=%v paged ids = %v, want 7", asc, ids)
		}
		seen := map[string]bool{}
		for _, id := range ids {
			if seen[id] {
				t.Errorf("duplicate id %s across pages", id)
			}
			seen[id] = true
		}
		all, _ := s.ListJobs(ctx, store.JobQuery{Account: acct, Page: store.Page{Ascending: asc}})
		for i := 1; i < len(all); i++ {
			a, b := all[i-1], all[i]
			before := a.CreationTime.Before(b.CreationTime) || (a.CreationTime.Equal(b.CreationTime) && a.ID < b.ID)
			if before != asc {
				t.Errorf("asc=%v order wrong at %d: %s %s", asc, i, a.ID, b.ID)
			}
		}
	}
	got, _ := s.ListJobs(ctx, store.JobQuery{Account: acct, Status: store.JobFailed})
	if len(got) != 1 || got[0].Name != "train-3" {
		t.Errorf("status filter = %d jobs", len(got))
	}
	got, _ = s.ListJobs(ctx, store.JobQuery{Account: acct, NameContains: "n-5"})
	if len(got) != 1 || got[0].Name != "train-5" {
		t.Errorf("name filter = %d jobs", len(got))
	}
	got, _ = s.ListJobs(ctx, store.JobQuery{Account: acct, NameContains: "%"})
	if len(got) != 0 {
		t.Errorf("name filter %% matched %d jobs (LIKE not escaped)", len(got))
	}
	got, _ = s.ListJobs(ctx, store.JobQuery{Account: acct, CreatedAfter: t0.Add(90 * time.Second), CreatedBefore: t0.Add(4 * time.Minute)})
	if len(got) != 3 { // created at minutes 2, 3, 2
		t.Errorf("time filter = %d jobs, want 3", len(got))
	}
}

func testCustomModels(t *testing.T, s store.Store) {
	ctx := t.Context()
	loss := 1.25
	m := &store.CustomModel{ID: "mmmmmmmmmmmm", Account: "111111111111", ARN: "arn:m", Name: "model-a",
		BaseModelID: "strata.starter-v1:0", BaseModelARN: "arn:base", Status: store.ModelActive, CreationTime: t0,
		TrainingLoss: &loss, ValidationLosses: []*float64{&loss, nil}, ArtifactDir: "/x", AdapterDir: "adapter"}
	if err := s.CreateCustomModel(ctx, m); err != nil {
		t.Fatal(err)
	}
	got, err := s.GetCustomModel(ctx, m.Account, m.ID)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(m, got); diff != "" {
		t.Errorf("GetCustomModel (-want +got):\n%s", diff)
	}
	if g, err := s.GetCustomModelByName(ctx, m.Account, "model-a"); err != nil || g.ID != m.ID {
		t.Errorf("GetCustomModelByName = %v, %v", g, err)
	}
	m2 := *m
	m2.ID = "nnnnnnnnnnnn"
	if err := s.CreateCustomModel(ctx, &m2); !errors.Is(err, store.ErrConflict) {
		t.Errorf("duplicate name = %v", err)
	}
	m2.Name, m2.BaseModelARN, m2.CreationTime = "model-b", "arn:other", t0.Add(time.Second)
	if err := s.CreateCustomModel(ctx, &m2); err != nil {
		t.Fatal(err)
	}
	got2, _ := s.ListCustomModels(ctx, store.ModelQuery{Account: m.Account, BaseModelARN: "arn:other"})
	if len(got2) != 1 || got2[0].ID != m2.ID {
		t.Errorf("base filter = %v", got2)
	}
	if err := s.PutTags(ctx, m.Account, m.ARN, []store.Tag{{Key: "k", Value: "v"}}); err != nil {
		t.Fatal(err)
	}
	if err := s.DeleteCustomModel(ctx, m.Account, m.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := s.GetCustomModel(ctx, m.Account, m.ID); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("after delete = %v", err)
	}
	if tags, _ := s.ListTags(ctx, m.Account, m.ARN); len(tags) != 0 {
		t.Errorf("tags survive delete: %v", tags)
	}
	if err := s.DeleteCustomModel(ctx, m.Account, m.ID); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("second delete = %v", err)
	}
	m2.Status = store.ModelFailed
	if err := s.UpdateCustomModel(ctx, &m2); err != nil {
		t.Fatal(err)
	}
	got2, _ = s.ListCustomModels(ctx, store.ModelQuery{Account: m.Account, Status: store.ModelFailed})
	if len(got2) != 1 {
		t.Errorf("status filter = %d", len(got2))
	}
}

func testTags(t *testing.T, s store.Store) {
	ctx := t.Context()
	const a, arn = "111111111111", "arn:x"
	if err := s.PutTags(ctx, a, arn, []store.Tag{{Key: "b", Value: "1"}, {Key: "a", Value: "2"}}); err != nil {
		t.Fatal(err)
	}
	if err := s.PutTags(ctx, a, arn, []store.Tag{{Key: "b", Value: "3"}}); err != nil {
		t.Fatal(err)
	}
	got, _ := s.ListTags(ctx, a, arn)
	if diff := cmp.Diff([]store.Tag{{Key: "a", Value: "2"}, {Key: "b", Value: "3"}}, got); diff != "" {
		t.Errorf("ListTags (-want +got):\n%s", diff)
	}
	if other, _ := s.ListTags(ctx, "222222222222", arn); len(other) != 0 {
		t.Errorf("tags leak across accounts: %v", other)
	}
	if err := s.DeleteTags(ctx, a, arn, []string{"a", "missing"}); err != nil {
		t.Fatal(err)
	}
	got, _ = s.ListTags(ctx, a, arn)
	if diff := cmp.Diff([]store.Tag{{Key: "b", Value: "3"}}, got); diff != "" {
		t.Errorf("after DeleteTags (-want +got):\n%s", diff)
	}
}

func testTxOutbox(t *testing.T, s store.Store) {
	ctx := t.Context()
	j := newJob("111111111111", "aaaaaaaaaaaa", "job", t0)
	boom := errors.New("boom")
	err := s.Tx(ctx, func(tx store.Store) error {
		if err := tx.CreateJob(ctx, j); err != nil {
			return err
		}
		if err := tx.AppendEvents(ctx, store.Event{JobID: j.ID, Time: t0, Type: "created"}); err != nil {
			return err
		}
		return boom
	})
	if !errors.Is(err, boom) {
		t.Fatalf("Tx = %v, want boom", err)
	}
	if _, err := s.GetJob(ctx, j.Account, j.ID); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("rolled-back job exists: %v", err)
	}
	if evs, _ := s.ListEvents(ctx, j.ID, 0, 0); len(evs) != 0 {
		t.Errorf("rolled-back events exist: %v", evs)
	}
	err = s.Tx(ctx, func(tx store.Store) error {
		if err := tx.CreateJob(ctx, j); err != nil {
			return err
		}
		if err := tx.Enqueue(ctx, store.Task{JobID: j.ID, Account: j.Account, AvailableAt: t0}); err != nil {
			return err
		}
		return tx.AppendEvents(ctx,
			store.Event{JobID: j.ID, Time: t0, Type: "created", Data: []byte(`{"a":1}`)},
			store.Event{JobID: j.ID, Time: t0.Add(time.Second), Type: "status"})
	})
	if err != nil {
		t.Fatal(err)
	}
	evs, err := s.ListEvents(ctx, j.ID, 0, 0)
	if err != nil || len(evs) != 2 {
		t.Fatalf("ListEvents = %v, %v", evs, err)
	}
	if evs[0].Type != "created" || string(evs[0].Data) != `{"a":1}` || !evs[0].Time.Equal(t0) || evs[1].Seq <= evs[0].Seq {
		t.Errorf("events = %+v", evs)
	}
	more, _ := s.ListEvents(ctx, j.ID, evs[0].Seq, 0)
	if len(more) != 1 || more[0].Seq != evs[1].Seq {
		t.Errorf("ListEvents after = %+v", more)
	}
}

// testTxReadModifyWrite runs concurrent transactions that each read a
// job, wait, and write it back with one more count: a store that let two
// of them read the same version would lose a count, as a worker recording
// progress once lost a concurrent StopModelCustomizationJob on PostgreSQL.
func testTxReadModifyWrite(t *testing.T, s store.Store) {
	ctx := t.Context()
	j := newJob("111111111111", "aaaaaaaaaaaa", "job", t0)
	must(t, s.CreateJob(ctx, j))
	const writers, rounds = 4, 5
	errs := make(chan error, writers)
	for w := range writers {
		go func() {
			for range rounds {
				err := s.Tx(ctx, func(tx store.Store) error {
					cur, err := tx.GetJob(ctx, j.Account, j.ID)
					if err != nil {
						return err
					}
					time.Sleep(2 * time.Millisecond) // let the others read
					n := 0
					fmt.Sscan(cur.HyperParameters["count"], &n)
					cur.HyperParameters["count"] = fmt.Sprint(n + 1)
					cur.HyperParameters[fmt.Sprint("writer", w)] = "seen"
					return tx.UpdateJob(ctx, cur)
				})
				if err != nil {
					errs <- err
					return
				}
			}
			errs <- nil
		}()
	}
	for range writers {
		if err := <-errs; err != nil {
			t.Fatalf("Tx: %v", err)
		}
	}
	got, err := s.GetJob(ctx, j.Account, j.ID)
	must(t, err)
	if got.HyperParameters["count"] != fmt.Sprint(writers*rounds) {
		t.Errorf("job count = %s after %d read-modify-write transactions: updates were lost", got.HyperParameters["count"], writers*rounds)
	}

	// The same for a serving resource (units counted in its document).
	r := newResource("provisioned-model", j.Account, "pt0000000001", "pt", t0)
	must(t, s.PutResource(ctx, r))
	for range writers {
		go func() {
			for range rounds {
				err := s.Tx(ctx, func(tx store.Store) error {
					cur, err := tx.GetResource(ctx, r.Kind, r.Account, r.ID)
					if err != nil {
						return err
					}
					time.Sleep(2 * time.Millisecond)
					var doc struct{ Units int }
					if err := json.Unmarshal(cur.Doc, &doc); err != nil {
						return err
					}
					cur.Doc = fmt.Appendf(nil, `{"units":%d}`, doc.Units+1)
					return tx.PutResource(ctx, cur)
				})
				if err != nil {
					errs <- err
					return
				}
			}
			errs <- nil
		}()
	}
	for range writers {
		if err := <-errs; err != nil {
			t.Fatalf("Tx: %v", err)
		}
	}
	res, err := s.GetResource(ctx, r.Kind, r.Account, r.ID)
	must(t, err)
	if want := fmt.Sprintf(`{"units":%d}`, 1+writers*rounds); string(res.Doc) != want {
		t.Errorf("resource doc = %s after %d read-modify-write transactions, want %s: updates were lost", res.Doc, writers*rounds, want)
	}
}

func testQueue(t *testing.T, s store.Store) {
	ctx := t.Context()
	now := t0
	if _, err := s.Lease(ctx, "w1", now, now.Add(time.Minute)); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("Lease on empty queue = %v", err)
	}
	must(t, s.Enqueue(ctx, store.Task{JobID: "j1", Account: "a", MaxAttempts: 2, AvailableAt: now}))
	must(t, s.Enqueue(ctx, store.Task{JobID: "j2", Account: "a", AvailableAt: now.Add(time.Hour)}))
	t1, err := s.Lease(ctx, "w1", now, now.Add(time.Minute))
	if err != nil || t1.JobID != "j1" || t1.Attempts != 1 || t1.MaxAttempts != 2 || t1.Owner != "w1" {
		t.Fatalf("Lease = %+v, %v", t1, err)
	}
	if _, err := s.Lease(ctx, "w2", now, now.Add(time.Minute)); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("second Lease (j2 not yet available) = %v", err)
	}
	must(t, s.Heartbeat(ctx, t1.ID, "w1", now.Add(2*time.Minute)))
	if err := s.Heartbeat(ctx, t1.ID, "w2", now.Add(2*time.Minute)); !errors.Is(err, store.ErrLeaseLost) {
		t.Errorf("Heartbeat by non-owner = %v", err)
	}
	// Lease expiry: another worker takes it over after until.
	later := now.Add(3 * time.Minute)
	t2, err := s.Lease(ctx, "w2", later, later.Add(time.Minute))
	if err != nil || t2.ID != t1.ID || t2.Attempts != 2 || t2.Owner != "w2" {
		t.Fatalf("Lease after expiry = %+v, %v", t2, err)
	}
	if err := s.Ack(ctx, t1.ID, "w1"); !errors.Is(err, store.ErrLeaseLost) {
		t.Errorf("Ack by old owner = %v", err)
	}
	must(t, s.Nack(ctx, t2.ID, "w2", later.Add(time.Minute), "child crashed"))
	if _, err := s.Lease(ctx, "w2", later, later.Add(time.Minute)); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("Lease before retryAt = %v", err)
	}
	t3, err := s.Lease(ctx, "w3", later.Add(time.Minute), later.Add(2*time.Minute))
	if err != nil || t3.ID != t1.ID || t3.Attempts != 3 || t3.LastError != "child crashed" {
		t.Fatalf("Lease after nack = %+v, %v", t3, err)
	}
	n, err := s.ReleaseOwner(ctx, "w3")
	if err != nil || n != 1 {
		t.Errorf("ReleaseOwner = %d, %v", n, err)
	}
	t4, err := s.Lease(ctx, "w1", later.Add(time.Minute), later.Add(2*time.Minute))
	if err != nil || t4.ID != t1.ID {
		t.Fatalf("Lease after release = %+v, %v", t4, err)
	}
	must(t, s.Ack(ctx, t4.ID, "w1"))
	t5, err := s.Lease(ctx, "w1", now.Add(2*time.Hour), now.Add(3*time.Hour))
	if err != nil || t5.JobID != "j2" {
		t.Fatalf("Lease j2 = %+v, %v", t5, err)
	}
	must(t, s.Ack(ctx, t5.ID, "w1"))
	if _, err := s.Lease(ctx, "w1", now.Add(5*time.Hour), now.Add(6*time.Hour)); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("queue not empty after acks: %v", err)
	}
}

func testKeys(t *testing.T, s store.Store) {
	ctx := t.Context()
	k := &store.Key{ID: "AKIAEXAMPLE", Account: "111111111111", Kind: store.KeySigV4, Secret: []byte{1, 2, 3}, Created: t0}
	must(t, s.PutKey(ctx, k))
	got, err := s.GetKey(ctx, k.ID)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(k, got); diff != "" {
		t.Errorf("GetKey (-want +got):\n%s", diff)
	}
	must(t, s.PutKey(ctx, &store.Key{ID: "BK1", Account: "111111111111", Kind: store.KeyBearer, Hash: "ab", Created: t0}))
	keys, _ := s.ListKeys(ctx)
	if len(keys) != 2 {
		t.Errorf("ListKeys = %d", len(keys))
	}
	must(t, s.DeleteKey(ctx, "BK1"))
	if _, err := s.GetKey(ctx, "BK1"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("GetKey deleted = %v", err)
	}
	if err := s.DeleteKey(ctx, "BK1"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("DeleteKey twice = %v", err)
	}
}

func testFoundationModels(t *testing.T, s store.Store) {
	ctx := t.Context()
	m := &store.FoundationModel{ID: "meta.llama3-1-8b-instruct-v1:0", Dir: "/models/l", Family: "llama", Created: t0}
	must(t, s.PutFoundationModel(ctx, m))
	m.Dir = "/models/l2"
	must(t, s.PutFoundationModel(ctx, m))
	got, err := s.ListFoundationModels(ctx)
	if err != nil || len(got) != 1 || got[0].Dir != "/models/l2" {
		t.Fatalf("ListFoundationModels = %v, %v", got, err)
	}
	must(t, s.DeleteFoundationModel(ctx, m.ID))
	if err := s.DeleteFoundationModel(ctx, m.ID); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("delete twice = %v", err)
	}
}

func newResource(kind, account, id, name string, created time.Time) *store.Resource {
	return &store.Resource{Kind: kind, Account: account, ID: id, Name: name, ARN: "arn:" + kind + "/" + id,
		Status: "Creating", Created: created, Modified: created, Doc: []byte(`{"id":"` + id + `","units":1}`)}
}

func testResources(t *testing.T, s store.Store) {
	ctx := t.Context()
	const a, b, pt, dp = "111111111111", "222222222222", "provisioned-model", "custom-model-deployment"
	r1 := newResource(pt, a, "pt0000000001", "alpha", t0.Add(time.Second))
	must(t, s.PutResource(ctx, r1))
	got, err := s.GetResource(ctx, pt, a, r1.ID)
	if err != nil {
		t.Fatalf("GetResource: %v", err)
	}
	if diff := cmp.Diff(r1, got); diff != "" {
		t.Errorf("GetResource (-want +got):\n%s", diff)
	}
	for _, k := range [][3]string{{dp, a, r1.ID}, {pt, b, r1.ID}, {pt, a, "missing"}} {
		if _, err := s.GetResource(ctx, k[0], k[1], k[2]); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("GetResource%v = %v, want ErrNotFound", k, err)
		}
	}
	// Update in place: same key, new fields (a rename included).
	r1.Name, r1.Status, r1.Modified, r1.Doc = "alpha-2", "InService", t0.Add(time.Hour), []byte(`{"id":"pt0000000001","units":2}`)
	must(t, s.PutResource(ctx, r1))
	if got, _ := s.GetResource(ctx, pt, a, r1.ID); !cmp.Equal(r1, got) {
		t.Errorf("after update = %+v, want %+v", got, r1)
	}
	// Names are unique per kind and account, not across them.
	if err := s.PutResource(ctx, newResource(pt, a, "pt0000000002", "alpha-2", t0)); !errors.Is(err, store.ErrConflict) {
		t.Errorf("duplicate name = %v, want ErrConflict", err)
	}
	r2 := newResource(pt, a, "pt0000000002", "beta", t0)
	must(t, s.PutResource(ctx, r2))
	r1b := *r1
	r1b.Name = "beta"
	if err := s.PutResource(ctx, &r1b); !errors.Is(err, store.ErrConflict) {
		t.Errorf("rename onto a taken name = %v, want ErrConflict", err)
	}
	if got, _ := s.GetResource(ctx, pt, a, r1.ID); got == nil || got.Name != "alpha-2" {
		t.Errorf("failed rename changed the record: %+v", got)
	}
	must(t, s.PutResource(ctx, newResource(pt, b, "pt0000000003", "alpha-2", t0)))
	must(t, s.PutResource(ctx, newResource(dp, a, "dp0000000001", "alpha-2", t0)))

	list, err := s.ListResources(ctx, pt, a)
	if err != nil {
		t.Fatal(err)
	}
	if ids := resourceIDs(list); !cmp.Equal(ids, []string{"pt0000000002", "pt0000000001"}) { // by creation time
		t.Errorf("ListResources(pt, a) = %v", ids)
	}
	all, _ := s.ListResources(ctx, pt, "")
	if ids := resourceIDs(all); !cmp.Equal(ids, []string{"pt0000000002", "pt0000000003", "pt0000000001"}) { // (created, id)
		t.Errorf("ListResources(pt, all) = %v", ids)
	}
	if dps, _ := s.ListResources(ctx, dp, ""); len(dps) != 1 || dps[0].Kind != dp {
		t.Errorf("ListResources(dp) = %v", dps)
	}

	must(t, s.DeleteResource(ctx, pt, a, r1.ID))
	if _, err := s.GetResource(ctx, pt, a, r1.ID); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("after delete = %v", err)
	}
	if err := s.DeleteResource(ctx, pt, a, r1.ID); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("delete twice = %v, want ErrNotFound", err)
	}
	if err := s.DeleteResource(ctx, pt, b, r2.ID); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("delete in another account = %v, want ErrNotFound", err)
	}
	// A deleted record's name is free again.
	must(t, s.PutResource(ctx, newResource(pt, a, "pt0000000004", "alpha-2", t0)))
}

func testResourceTx(t *testing.T, s store.Store) {
	ctx := t.Context()
	const a, pt = "111111111111", "provisioned-model"
	keep := newResource(pt, a, "pt0000000001", "keep", t0)
	must(t, s.PutResource(ctx, keep))
	boom := errors.New("boom")
	err := s.Tx(ctx, func(tx store.Store) error {
		if err := tx.PutResource(ctx, newResource(pt, a, "pt0000000002", "new", t0)); err != nil {
			return err
		}
		upd := *keep
		upd.Status = "Failed"
		if err := tx.PutResource(ctx, &upd); err != nil {
			return err
		}
		if err := tx.DeleteResource(ctx, pt, a, keep.ID); err != nil {
			return err
		}
		return boom
	})
	if !errors.Is(err, boom) {
		t.Fatalf("Tx = %v, want boom", err)
	}
	list, _ := s.ListResources(ctx, pt, a)
	if len(list) != 1 || !cmp.Equal(list[0], keep) {
		t.Errorf("after rollback = %+v, want only %+v", list, keep)
	}
	// Several records commit together.
	err = s.Tx(ctx, func(tx store.Store) error {
		for i := range 3 {
			if err := tx.PutResource(ctx, newResource(pt, a, fmt.Sprintf("pt%010d", 10+i), fmt.Sprintf("n%d", i), t0.Add(time.Duration(i)))); err != nil {
				return err
			}
		}
		return nil
	})
	must(t, err)
	if list, _ := s.ListResources(ctx, pt, a); len(list) != 4 {
		t.Errorf("after commit = %d records, want 4", len(list))
	}
}

func resourceIDs(rs []*store.Resource) []string {
	ids := make([]string, len(rs))
	for i, r := range rs {
		ids[i] = r.ID
	}
	return ids
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
