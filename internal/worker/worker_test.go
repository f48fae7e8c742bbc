package worker

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/strata-ml/strata/internal/catalog"
	"github.com/strata-ml/strata/internal/jobs"
	"github.com/strata-ml/strata/internal/store"
	"github.com/strata-ml/strata/internal/store/sqlstore"
	"github.com/strata-ml/strata/internal/worker/workertest"
)

func TestMain(m *testing.M) {
	if len(os.Args) > 1 && os.Args[1] == "fake-train" {
		os.Exit(workertest.FakeTrain(os.Args[2:], os.Stdout))
	}
	os.Exit(m.Run())
}

const acct = "123456789012"

type env struct {
	st   store.Store
	svc  *jobs.Service
	w    *Worker
	objs string
}

func newEnv(t *testing.T) *env {
	t.Helper()
	dir := t.TempDir()
	st, err := sqlstore.Open(t.Context(), filepath.Join(dir, "db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	cat := catalog.New(st)
	cat.SetStarter(filepath.Join(dir, "starter"), nil)
	e := &env{st: st, objs: filepath.Join(dir, "objects")}
	w, err := New(Config{Store: st, Catalog: cat, Objects: DirObjects{Root: e.objs}, WorkDir: filepath.Join(dir, "jobs"),
		ModelsDir: filepath.Join(dir, "models"), Command: []string{os.Args[0], "fake-train"}, Poll: 20 * time.Millisecond,
		Lease: 3 * time.Second, StopGrace: 10 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	e.w = w
	e.svc = jobs.New(jobs.Config{Store: st, Catalog: cat, Region: "us-east-1", Wake: w.Wake})
	e.put(t, "b/train.jsonl", strings.Repeat(`{"prompt":"a","completion":"b"}`+"\n", 6))
	e.put(t, "b/val.jsonl", `{"prompt":"a","completion":"b"}`+"\n")
	return e
}

func (e *env) put(t *testing.T, key, data string) {
	p := filepath.Join(e.objs, key)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(data), 0o644); err != nil {
		t.Fatal(err)
	}
}

func (e *env) create(t *testing.T, name, train string, hp map[string]string) *store.Job {
	t.Helper()
	arn, err := e.svc.CreateJob(t.Context(), acct, jobs.CreateJobInput{
		JobName: name, CustomModelName: name + "-model", RoleARN: "arn:aws:iam::123456789012:role/R",
		BaseModelIdentifier: catalog.StarterID, TrainingDataConfig: json.RawMessage(`{"s3Uri":"` + train + `"}`),
		TrainingS3URI: train, Validators: []string{"s3://b/val.jsonl"}, OutputS3URI: "s3://b/out/", HyperParameters: hp,
	})
	if err != nil {
		t.Fatal(err)
	}
	j, err := e.svc.GetJob(t.Context(), acct, arn)
	if err != nil {
		t.Fatal(err)
	}
	return j
}

func (e *env) run(t *testing.T) (stop func()) {
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan struct{})
	go func() { _ = e.w.Run(ctx); close(done) }()
	return func() { cancel(); <-done }
}

func (e *env) wait(t *testing.T, id string, cond func(*store.Job) bool) *store.Job {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		j, err := e.st.GetJob(t.Context(), acct, id)
		if err != nil {
			t.Fatal(err)
		}
		if cond(j) {
			return j
		}
		if time.Now().After(deadline) {
			t.Fatalf("job %s stuck: status %s details %+v", id, j.Status, j.StatusDetails)
		}
		time.Sleep(10 * time.Millisecond) // polling a child process with a deadline
	}
}

func terminal(j *store.Job) bool { return jobs.Terminal(j.Status) }

func TestJobCompletes(t *testing.T) {
	e := newEnv(t)
	j := e.create(t, "ok", "s3://b/train.jsonl", map[string]string{"epochCount": "2", "batchSize": "2"})
	defer e.run(t)()
	j = e.wait(t, j.ID, terminal)
	if j.Status != store.JobCompleted {
		t.Fatalf("status = %s (%s)", j.Status, j.FailureMessage)
	}
	sd := j.StatusDetails
	for name, p := range map[string]store.Phase{"validation": sd.Validation, "dataProcessing": sd.DataProcessing, "training": sd.Training} {
		if p.Status != store.PhaseCompleted {
			t.Errorf("%s phase = %s", name, p.Status)
		}
	}
	if j.TrainingLoss == nil || len(j.ValidationLosses) != 1 || j.ValidationLosses[0] == nil {
		t.Errorf("metrics missing: %+v %+v", j.TrainingLoss, j.ValidationLosses)
	}
	m, err := e.st.GetCustomModel(t.Context(), acct, j.CustomModelID)
	if err != nil || m.Status != store.ModelActive || m.ARN != j.CustomModelARN {
		t.Fatalf("custom model = %+v, %v", m, err)
	}
	if _, err := os.Stat(filepath.Join(m.ArtifactDir, m.AdapterDir, "adapter_config.json")); err != nil {
		t.Errorf("adapter not in managed storage: %v", err)
	}
	prefix := filepath.Join(e.objs, "b/out/model-customization-job-"+j.ID)
	csv, err := os.ReadFile(filepath.Join(prefix, "training_artifacts/step_wise_training_metrics.csv"))
	if err != nil || !strings.HasPrefix(string(csv), "step_number,epoch_number,training_loss,perplexity\n") {
		t.Errorf("training metrics: %v %q", err, csv)
	}
	if got := strings.Count(string(csv), "\n"); got != 1+6 { // 6 records / batch 2 * 2 epochs
		t.Errorf("training metrics rows = %d, want 7", got)
	}
	for _, p := range []string{"validation_artifacts/post_fine_tuning_validation/validation_metrics.csv", "validation_artifacts/post_fine_tuning_validation/validation/validation_metrics.csv"} {
		if _, err := os.Stat(filepath.Join(prefix, p)); err != nil {
			t.Errorf("validation metrics: %v", err)
		}
	}
	if _, err := os.Stat(filepath.Join(e.objs, "b/out/.write_access_check_file.tmp")); err != nil {
		t.Errorf("write check object: %v", err)
	}
	evs, _ := e.st.ListEvents(t.Context(), j.ID, 0, 0)
	types := map[string]int{}
	for _, ev := range evs {
		types[ev.Type]++
	}
	if types["step"] != 6 || types["job.Completed"] != 1 || types["created"] != 1 || types["checkpoint"] == 0 {
		t.Errorf("event counts = %v", types)
	}
}

func TestJobStop(t *testing.T) {
	t.Setenv(workertest.EnvStepDelay, "200")
	e := newEnv(t)
	j := e.create(t, "stopme", "s3://b/train.jsonl", map[string]string{"epochCount": "10"})
	defer e.run(t)()
	e.wait(t, j.ID, func(j *store.Job) bool { return j.Step >= 1 })
	if err := e.svc.StopJob(t.Context(), acct, j.Name); err != nil {
		t.Fatal(err)
	}
	j = e.wait(t, j.ID, terminal)
	if j.Status != store.JobStopped || j.StatusDetails.Training.Status != store.PhaseStopped || j.EndTime.IsZero() {
		t.Fatalf("after stop: %s %+v", j.Status, j.StatusDetails)
	}
	ck, _ := filepath.Glob(filepath.Join(e.w.jobDir(j), "checkpoints", "step-*.json"))
	if len(ck) == 0 {
		t.Error("last checkpoint not kept")
	}
	if err := e.svc.StopJob(t.Context(), acct, j.Name); err == nil {
		t.Error("stopping a Stopped job succeeded, want ConflictException")
	}
}

func TestJobResumesAfterChildCrash(t *testing.T) {
	t.Setenv(workertest.EnvCrashAt, "5") // after the checkpoint at step 5
	e := newEnv(t)
	j := e.create(t, "crash", "s3://b/train.jsonl", map[string]string{"epochCount": "1"})
	defer e.run(t)()
	j = e.wait(t, j.ID, terminal)
	if j.Status != store.JobCompleted {
		t.Fatalf("status = %s (%s)", j.Status, j.FailureMessage)
	}
	evs, _ := e.st.ListEvents(t.Context(), j.ID, 0, 0)
	var steps []int
	for _, ev := range evs {
		if ev.Type == "step" {
			var te struct{ Step int }
			_ = json.Unmarshal(ev.Data, &te)
			steps = append(steps, te.Step)
		}
	}
	// Steps 1-5 ran, the child died before step 6, the retry resumed from
	// the step-5 checkpoint: step 6 is reported once, nothing is redone.
	if want := []int{1, 2, 3, 4, 5, 6}; !slices.Equal(steps, want) {
		t.Errorf("steps = %v", steps)
	}
}

func TestJobMissingInputFails(t *testing.T) {
	e := newEnv(t)
	j := e.create(t, "missing", "s3://b/nope.jsonl", nil)
	defer e.run(t)()
	j = e.wait(t, j.ID, terminal)
	want := "Could not validate GetObject permissions to access Amazon S3 bucket: b at key nope.jsonl"
	if j.Status != store.JobFailed || j.FailureMessage != want {
		t.Fatalf("got %s %q, want Failed %q", j.Status, j.FailureMessage, want)
	}
	if j.StatusDetails.Validation.Status != store.PhaseFailed || j.StatusDetails.Training.Status != store.PhaseNotStarted {
		t.Errorf("phases = %+v", j.StatusDetails)
	}
}

func TestJobBadJSONLFails(t *testing.T) {
	e := newEnv(t)
	e.put(t, "b/bad.jsonl", "{\"prompt\":\"a\"}\nnot json\n")
	j := e.create(t, "bad", "s3://b/bad.jsonl", nil)
	defer e.run(t)()
	j = e.wait(t, j.ID, terminal)
	if want := "Unable to parse Amazon S3 file: bad.jsonl. Data files must conform to JSONL format."; j.FailureMessage != want {
		t.Fatalf("failureMessage = %q, want %q", j.FailureMessage, want)
	}
}

func TestShutdownRequeuesAndResumes(t *testing.T) {
	t.Setenv(workertest.EnvStepDelay, "100")
	e := newEnv(t)
	j := e.create(t, "shutdown", "s3://b/train.jsonl", map[string]string{"epochCount": "2"})
	stop := e.run(t)
	e.wait(t, j.ID, func(j *store.Job) bool { return j.Step >= 6 })
	stop() // graceful shutdown: SIGTERM, checkpoint, re-queue
	j, _ = e.st.GetJob(t.Context(), acct, j.ID)
	if j.Status != store.JobInProgress || j.LastCheckpoint == "" {
		t.Fatalf("after shutdown: %s, checkpoint %q", j.Status, j.LastCheckpoint)
	}
	base := runtime.NumGoroutine()
	stop2 := e.run(t)
	j = e.wait(t, j.ID, terminal)
	if j.Status != store.JobCompleted {
		t.Fatalf("after restart: %s %s", j.Status, j.FailureMessage)
	}
	stop2()
	// Every goroutine the worker started (loops, heartbeat, supervisor,
	// output reader) is gone once Run returns.
	deadline := time.Now().Add(5 * time.Second)
	for runtime.NumGoroutine() > base {
		if time.Now().After(deadline) {
			buf := make([]byte, 1<<16)
			t.Fatalf("goroutines leaked: %d > %d\n%s", runtime.NumGoroutine(), base, buf[:runtime.Stack(buf, true)])
		}
		time.Sleep(10 * time.Millisecond) // polling goroutine exit with a deadline
	}
}

// refusingObjects fails every transfer as an unreachable S3 endpoint does.
type refusingObjects struct{ DirObjects }

func (refusingObjects) Download(_ context.Context, _, uri, _ string) error {
	return fmt.Errorf("s3blob: get %s: request send failed: %w", uri,
		&net.OpError{Op: "dial", Net: "tcp", Err: errors.New("connect: connection refused")})
}

// TestUnreachableStorageFails checks that staging from an object store that
// does not answer ends, once the attempts are spent, in Failed with a
// failureMessage naming the bucket, key and network error.
func TestUnreachableStorageFails(t *testing.T) {
	e := newEnv(t)
	e.w.cfg.Objects = refusingObjects{DirObjects{Root: e.objs}}
	e.svc = jobs.New(jobs.Config{Store: e.st, Catalog: e.w.cfg.Catalog, Region: "us-east-1", Wake: e.w.Wake, MaxAttempts: 1})
	j := e.create(t, "down", "s3://ext-down/in/train.jsonl", map[string]string{"epochCount": "1"})
	defer e.run(t)()
	j = e.wait(t, j.ID, terminal)
	want := "Could not access Amazon S3 bucket: ext-down at key in/train.jsonl: the object store did not answer (dial tcp: connect: connection refused)"
	if j.Status != store.JobFailed || j.FailureMessage != want {
		t.Errorf("job = %s %q, want Failed %q", j.Status, j.FailureMessage, want)
	}
}
