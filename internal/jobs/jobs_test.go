package jobs

import (
	"context"
	"encoding/json"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/strata-ml/strata/internal/apierr"
	"github.com/strata-ml/strata/internal/catalog"
	"github.com/strata-ml/strata/internal/store"
	"github.com/strata-ml/strata/internal/store/sqlstore"
)

const acct = "123456789012"

func newService(t *testing.T, maxActive int) (*Service, store.Store, *int) {
	t.Helper()
	st, err := sqlstore.Open(t.Context(), filepath.Join(t.TempDir(), "db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	cat := catalog.New(st)
	cat.SetStarter("/starter", nil)
	wakes := 0
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	svc := New(Config{Store: st, Catalog: cat, Region: "us-west-2", MaxActiveJobs: maxActive, Wake: func() { wakes++ },
		Now: func() time.Time { now = now.Add(time.Second); return now }})
	return svc, st, &wakes
}

func input(name, token string) CreateJobInput {
	return CreateJobInput{JobName: name, CustomModelName: name + "-m", RoleARN: "arn:aws:iam::123456789012:role/R",
		ClientRequestToken: token, BaseModelIdentifier: catalog.StarterID, TrainingS3URI: "s3://b/t.jsonl",
		TrainingDataConfig: json.RawMessage(`{"s3Uri":"s3://b/t.jsonl"}`), OutputS3URI: "s3://b/o/"}
}

func TestCreateIdempotentAndQuota(t *testing.T) {
	svc, st, wakes := newService(t, 2)
	ctx := t.Context()
	a1, err := svc.CreateJob(ctx, acct, input("a", "tok"))
	if err != nil {
		t.Fatal(err)
	}
	a2, err := svc.CreateJob(ctx, acct, input("a-renamed", "tok"))
	if err != nil || a2 != a1 {
		t.Errorf("repeated token = %q, %v; want %q", a2, err, a1)
	}
	if _, err := svc.CreateJob(ctx, acct, input("b", "")); err != nil {
		t.Fatal(err)
	}
	if _, err := svc.CreateJob(ctx, acct, input("c", "")); !apierr.Is(err, apierr.QuotaExceeded) {
		t.Errorf("third active job = %v, want ServiceQuotaExceededException", err)
	}
	if _, err := svc.CreateJob(ctx, "999999999999", input("c", "")); err != nil {
		t.Errorf("quota is per account: %v", err)
	}
	if *wakes != 3 {
		t.Errorf("Wake called %d times, want 3", *wakes)
	}
	n, _ := st.CountJobs(ctx, "")
	if n != 3 {
		t.Errorf("jobs = %d, want 3", n)
	}
	// One task per job, in the queue.
	for range 3 {
		task, err := st.Lease(ctx, "w", time.Now(), time.Now().Add(time.Minute))
		if err != nil {
			t.Fatalf("lease: %v", err)
		}
		if task.MaxAttempts != 5 {
			t.Errorf("MaxAttempts = %d", task.MaxAttempts)
		}
	}
}

func TestStopStates(t *testing.T) {
	svc, st, _ := newService(t, 8)
	ctx := t.Context()
	arn, _ := svc.CreateJob(ctx, acct, input("s", ""))
	// A running job (validation started) goes through Stopping.
	j0, _ := svc.GetJob(ctx, acct, arn)
	j0.StatusDetails.Validation.Status = store.PhaseInProgress
	_ = st.UpdateJob(ctx, j0)
	if err := svc.StopJob(ctx, acct, arn); err != nil {
		t.Fatal(err)
	}
	if j, _ := svc.GetJob(ctx, acct, arn); j.Status != store.JobStopping || j.StatusDetails.Validation.Status != store.PhaseStopping {
		t.Errorf("running job after stop: %s %+v", j.Status, j.StatusDetails.Validation)
	}
	// A queued job is Stopped at once.
	q, _ := svc.CreateJob(ctx, acct, input("queued", ""))
	if err := svc.StopJob(ctx, acct, q); err != nil {
		t.Fatal(err)
	}
	if j, _ := svc.GetJob(ctx, acct, q); j.Status != store.JobStopped || j.EndTime.IsZero() {
		t.Errorf("queued job after stop: %s", j.Status)
	}
	if err := svc.StopJob(ctx, acct, "s"); err != nil {
		t.Errorf("stop while Stopping = %v", err)
	}
	j, _ := svc.GetJob(ctx, acct, "s")
	for _, status := range []string{store.JobCompleted, store.JobFailed, store.JobStopped} {
		j.Status = status
		_ = st.UpdateJob(ctx, j)
		if err := svc.StopJob(ctx, acct, "s"); !apierr.Is(err, apierr.Conflict) {
			t.Errorf("stop %s = %v, want ConflictException", status, err)
		}
	}
	evs, _ := st.ListEvents(ctx, j.ID, 0, 0)
	if len(evs) != 2 || evs[1].Type != EventStopping {
		t.Errorf("events = %+v", evs)
	}
	if err := svc.StopJob(ctx, acct, "arn:aws:bedrock:us-west-2:123456789012:model-customization-job/strata.starter-v1:0/zzzzzzzzzzzz"); !apierr.Is(err, apierr.NotFound) {
		t.Errorf("stop unknown arn = %v", err)
	}
}

func TestTagsAndTaggable(t *testing.T) {
	svc, _, _ := newService(t, 8)
	ctx := t.Context()
	arn, _ := svc.CreateJob(ctx, acct, input("t", ""))
	var tags []store.Tag
	for i := range MaxTagsPerResource {
		tags = append(tags, store.Tag{Key: fmt.Sprint("k", i), Value: "v"})
	}
	if err := svc.TagResource(ctx, acct, arn, tags); err != nil {
		t.Fatal(err)
	}
	if err := svc.TagResource(ctx, acct, arn, []store.Tag{{Key: "k0", Value: "again"}}); err != nil {
		t.Errorf("re-tagging an existing key: %v", err)
	}
	err := svc.TagResource(ctx, acct, arn, []store.Tag{{Key: "one-more", Value: "v"}})
	if e, ok := err.(*apierr.Error); !ok || e.Kind != apierr.TooManyTags || e.ResourceName != arn {
		t.Errorf("201st tag = %v, want TooManyTagsException naming the resource", err)
	}
	pm := "arn:aws:bedrock:us-west-2:123456789012:provisioned-model/abcdefghijkl"
	if _, err := svc.ListTags(ctx, acct, pm); !apierr.Is(err, apierr.NotFound) {
		t.Errorf("unregistered type = %v", err)
	}
	svc.RegisterTaggable("provisioned-model", func(context.Context, string, string) error { return nil })
	if err := svc.TagResource(ctx, acct, pm, []store.Tag{{Key: "a", Value: "b"}}); err != nil {
		t.Errorf("registered type: %v", err)
	}
	if _, err := svc.ListTags(ctx, "999999999999", pm); !apierr.Is(err, apierr.NotFound) {
		t.Errorf("other account's resource = %v", err)
	}
}

func TestListPaging(t *testing.T) {
	svc, _, _ := newService(t, 20)
	ctx := t.Context()
	for i := range 5 {
		if _, err := svc.CreateJob(ctx, acct, input(fmt.Sprint("j", i), "")); err != nil {
			t.Fatal(err)
		}
	}
	var names []string
	in := ListInput{MaxResults: 2, Ascending: true}
	for range 10 {
		page, next, err := svc.ListJobs(ctx, acct, in)
		if err != nil {
			t.Fatal(err)
		}
		for _, j := range page {
			names = append(names, j.Name)
		}
		if next == "" {
			break
		}
		in.NextToken = next
	}
	if fmt.Sprint(names) != "[j0 j1 j2 j3 j4]" {
		t.Errorf("paged = %v", names)
	}
	if _, _, err := svc.ListJobs(ctx, acct, ListInput{NextToken: "bogus"}); !apierr.Is(err, apierr.Validation) {
		t.Errorf("bad token = %v", err)
	}
}
