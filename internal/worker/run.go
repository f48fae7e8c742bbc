package worker

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/strata-ml/strata/internal/awsproto"
	"github.com/strata-ml/strata/internal/catalog"
	"github.com/strata-ml/strata/internal/store"
	"github.com/strata-ml/strata/internal/trainspec"
)

// Failure messages as Bedrock words them (SPEC §A.9).
const (
	msgInternal = "Encountered an unexpected error when processing the request, please try again"
)

func msgGetObject(uri string) string {
	b, k := splitS3(uri)
	return fmt.Sprintf("Could not validate GetObject permissions to access Amazon S3 bucket: %s at key %s", b, k)
}

func msgPutObject(uri string) string {
	b, k := splitS3(uri)
	return fmt.Sprintf("Amazon S3 perms missing (PutObject): Could not validate PutObject permissions to access S3 bucket: %s at key %s", b, k)
}

// msgUnreachable reports object storage that failed for a reason other than
// a missing object (an unreachable external S3 endpoint, a refused
// connection), naming the innermost network error when there is one.
func msgUnreachable(uri string, err error) string {
	b, k := splitS3(uri)
	cause := err.Error()
	var op *net.OpError
	if errors.As(err, &op) {
		cause = op.Error()
	}
	return fmt.Sprintf("Could not access Amazon S3 bucket: %s at key %s: the object store did not answer (%s)", b, k, cause)
}

func splitS3(uri string) (bucket, key string) {
	rest := strings.TrimPrefix(uri, "s3://")
	bucket, key, _ = strings.Cut(rest, "/")
	return bucket, key
}

// joinURI joins an s3:// prefix and a relative key.
func joinURI(prefix, rel string) string {
	return strings.TrimSuffix(prefix, "/") + "/" + rel
}

// outcome of one child run.
type outcome int

const (
	outCompleted outcome = iota
	outFailed
	outStopped
	outInterrupted // shutdown or lease lost: re-queue, resume later
	outCrashed     // child died without a final event: retry
)

func (w *Worker) runTask(ctx context.Context, task *store.Task) {
	log := w.log.With("job_id", task.JobID, "attempt", task.Attempts)
	w.mu.Lock()
	w.running[task.JobID] = true
	w.mu.Unlock()
	defer func() {
		w.mu.Lock()
		delete(w.running, task.JobID)
		w.mu.Unlock()
	}()
	ack := func() {
		if err := w.cfg.Store.Ack(context.WithoutCancel(ctx), task.ID, w.cfg.Owner); err != nil {
			log.Error("ack", "err", err)
		}
	}
	j, err := w.cfg.Store.GetJob(ctx, task.Account, task.JobID)
	if errors.Is(err, store.ErrNotFound) {
		ack()
		return
	}
	if err != nil {
		log.Error("load job", "err", err)
		_ = w.cfg.Store.Nack(context.WithoutCancel(ctx), task.ID, w.cfg.Owner, w.cfg.Now().Add(5*time.Second), err.Error())
		return
	}
	switch j.Status {
	case store.JobCompleted, store.JobFailed, store.JobStopped:
		ack()
		return
	case store.JobStopping:
		w.finishStopped(ctx, j)
		ack()
		return
	}
	if task.Attempts > task.MaxAttempts {
		log.Error("job exceeded its attempts", "last_error", task.LastError)
		w.finishFailed(ctx, j, msgInternal)
		ack()
		return
	}
	// Heartbeat the lease for the whole run (staging and validation too).
	lost, hbDone := make(chan struct{}), make(chan struct{})
	go func() {
		t := time.NewTicker(w.cfg.Lease / 3)
		defer t.Stop()
		for {
			select {
			case <-hbDone:
				return
			case <-t.C:
				err := w.cfg.Store.Heartbeat(context.WithoutCancel(ctx), task.ID, w.cfg.Owner, w.cfg.Now().Add(w.cfg.Lease))
				if errors.Is(err, store.ErrLeaseLost) {
					log.Error("lease lost; abandoning the job to its new owner")
					close(lost)
					return
				}
			}
		}
	}()
	res := w.execute(ctx, task, j, lost, log)
	close(hbDone)
	bg := context.WithoutCancel(ctx)
	switch res.out {
	case outCompleted:
		if err := w.finishCompleted(bg, j, res); err != nil {
			log.Error("finish completed", "err", err)
			w.finishFailed(bg, j, msgInternal)
		}
		ack()
	case outFailed:
		w.finishFailed(bg, j, res.message)
		ack()
	case outStopped:
		w.finishStopped(bg, j)
		ack()
	case outInterrupted:
		if !res.leaseLost {
			_ = w.cfg.Store.Nack(bg, task.ID, w.cfg.Owner, w.cfg.Now(), "interrupted")
		}
	case outCrashed:
		if task.Attempts >= task.MaxAttempts {
			log.Error("child crashed, no attempts left", "err", res.message)
			msg := msgInternal
			if res.failMessage != "" {
				msg = res.failMessage
			}
			w.finishFailed(bg, j, msg)
			ack()
			return
		}
		backoff := time.Duration(1<<min(task.Attempts, 6)) * time.Second
		log.Warn("child crashed, will resume from checkpoint", "err", res.message, "retry_in", backoff)
		_ = w.cfg.Store.Nack(bg, task.ID, w.cfg.Owner, w.cfg.Now().Add(backoff), res.message)
	}
}

type runResult struct {
	out     outcome
	message string
	// failMessage, when set, is the failureMessage should a crash exhaust the attempts.
	failMessage string
	outputDir   string
	leaseLost   bool
}

func (w *Worker) jobDir(j *store.Job) string { return filepath.Join(w.cfg.WorkDir, j.Account, j.ID) }

// starterWait bounds how long a job waits for the starter model that the
// server builds in the background at startup (a job resumed right after a
// restart can be leased before that build is done).
const starterWait = 10 * time.Minute

// baseModel resolves a job's base model. A job on the starter model waits
// while the starter is still being built rather than failing: it fails only
// if the build failed or does not finish within starterWait.
func (w *Worker) baseModel(ctx context.Context, id string) (*catalog.Model, error) {
	return w.cfg.Catalog.GetWait(ctx, id, starterWait)
}

// execute stages inputs and runs the child once.
func (w *Worker) execute(ctx context.Context, task *store.Task, j *store.Job, lost <-chan struct{}, log interface {
	Info(string, ...any)
	Warn(string, ...any)
	Error(string, ...any)
}) runResult {
	dir := w.jobDir(j)
	inDir, outDir, ckDir := filepath.Join(dir, "input"), filepath.Join(dir, "output"), filepath.Join(dir, "checkpoints")
	for _, d := range []string{inDir, outDir, ckDir} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return runResult{out: outCrashed, message: err.Error()}
		}
	}
	base, err := w.baseModel(ctx, j.BaseModelID)
	if err != nil {
		if errors.Is(err, catalog.ErrNotFound) {
			return runResult{out: outFailed, message: fmt.Sprintf("The base model %s is not available on this server.", j.BaseModelID)}
		}
		return runResult{out: outCrashed, message: err.Error()}
	}
	// Validation phase: stage inputs, check output write access, check data.
	started := true
	if _, err := w.update(ctx, j.Account, j.ID, func(j *store.Job, now time.Time) []store.Event {
		if j.Status != store.JobInProgress {
			started = false // stopped before it began
			return nil
		}
		setStage(j, "Validation", now)
		return []store.Event{stageEvent("Validation")}
	}); err != nil {
		return runResult{out: outCrashed, message: err.Error()}
	}
	if !started {
		return runResult{out: outStopped}
	}
	trainFile := filepath.Join(inDir, "train", path.Base(j.TrainingS3URI))
	if err := w.cfg.Objects.Download(ctx, j.Account, j.TrainingS3URI, trainFile); err != nil {
		if w.cfg.Objects.IsNotExist(err) {
			return runResult{out: outFailed, message: msgGetObject(j.TrainingS3URI)}
		}
		return runResult{out: outCrashed, message: err.Error(), failMessage: msgUnreachable(j.TrainingS3URI, err)}
	}
	var valFiles []string
	for i, v := range j.Validators {
		f := filepath.Join(inDir, fmt.Sprintf("validation-%d", i), path.Base(v))
		if err := w.cfg.Objects.Download(ctx, j.Account, v, f); err != nil {
			if w.cfg.Objects.IsNotExist(err) {
				return runResult{out: outFailed, message: msgGetObject(v)}
			}
			return runResult{out: outCrashed, message: err.Error(), failMessage: msgUnreachable(v, err)}
		}
		valFiles = append(valFiles, f)
	}
	check := filepath.Join(dir, ".write_access_check_file.tmp")
	if err := os.WriteFile(check, nil, 0o644); err == nil {
		if err := w.cfg.Objects.Upload(ctx, j.Account, check, joinURI(j.OutputS3URI, ".write_access_check_file.tmp")); err != nil {
			return runResult{out: outFailed, message: msgPutObject(joinURI(j.OutputS3URI, ".write_access_check_file.tmp"))}
		}
	}
	if w.cfg.CheckDataset != nil {
		msg, err := w.cfg.CheckDataset(ctx, DatasetRequest{BaseModelID: j.BaseModelID, HyperParameters: j.HyperParameters, WorkDir: dir,
			CustomizationType: j.CustomizationType, Family: base.Family,
			ModelDir: base.Dir, TrainFile: trainFile, ValidationFiles: valFiles})
		if err != nil {
			return runResult{out: outCrashed, message: err.Error()}
		}
		if msg != "" {
			return runResult{out: outFailed, message: msg}
		}
	}
	spec := trainspec.Spec{
		JobID: j.ID, CustomizationType: j.CustomizationType, BaseModelDir: base.Dir,
		TrainFiles: []string{trainFile}, ValidationFiles: valFiles, HyperParameters: j.HyperParameters,
		OutputDir: outDir, CheckpointDir: ckDir, Seed: seedOf(j.ID), Threads: w.cfg.Threads,
	}
	specFile := filepath.Join(dir, "spec.json")
	b, _ := json.MarshalIndent(spec, "", "  ")
	if err := writeAtomic(specFile, bytes.NewReader(b)); err != nil {
		return runResult{out: outCrashed, message: err.Error()}
	}
	args := append(append([]string{}, w.cfg.Command[1:]...), "--spec", specFile)
	if entries, _ := os.ReadDir(ckDir); len(entries) > 0 {
		args = append(args, "--resume")
	}
	select {
	case <-lost:
		return runResult{out: outInterrupted, leaseLost: true}
	default:
	}
	return w.runChild(ctx, task, j, args, outDir, lost, log)
}

func seedOf(id string) int64 {
	var h int64 = 1469598103934665603 & 0x7fffffffffffffff
	for i := range len(id) {
		h = (h ^ int64(id[i])) * 1099511628211 & 0x7fffffffffffffff
	}
	return h
}

func stageEvent(stage string) store.Event {
	b, _ := json.Marshal(trainspec.Event{Type: trainspec.EventStatus, Stage: stage})
	return store.Event{Type: trainspec.EventStatus, Data: b}
}

// setStage moves the job's statusDetails to stage.
func setStage(j *store.Job, stage string, now time.Time) {
	sd := &j.StatusDetails
	set := func(p *store.Phase, status string) {
		if p.Status == status {
			return
		}
		if p.Status == store.PhaseNotStarted || p.Status == "" {
			p.CreationTime = now
		}
		p.Status, p.LastModifiedTime = status, now
	}
	switch stage {
	case "Validation":
		set(&sd.Validation, store.PhaseInProgress)
	case "DataProcessing":
		set(&sd.Validation, store.PhaseCompleted)
		set(&sd.DataProcessing, store.PhaseInProgress)
	case "Training":
		set(&sd.Validation, store.PhaseCompleted)
		set(&sd.DataProcessing, store.PhaseCompleted)
		set(&sd.Training, store.PhaseInProgress)
	}
}

// endPhases marks the running phase(s) with status (Completed, Failed, Stopped).
func endPhases(j *store.Job, status string, now time.Time) {
	for _, p := range []*store.Phase{&j.StatusDetails.Validation, &j.StatusDetails.DataProcessing, &j.StatusDetails.Training} {
		switch {
		case status == store.PhaseCompleted:
			if p.Status != store.PhaseCompleted {
				p.Status, p.LastModifiedTime = store.PhaseCompleted, now
			}
		case p.Status == store.PhaseInProgress || p.Status == store.PhaseStopping:
			p.Status, p.LastModifiedTime = status, now
		}
	}
}

func (w *Worker) runChild(ctx context.Context, task *store.Task, j *store.Job, args []string, outDir string, lost <-chan struct{}, log interface {
	Info(string, ...any)
	Warn(string, ...any)
	Error(string, ...any)
}) runResult {
	cmd := exec.Command(w.cfg.Command[0], args...)
	cmd.SysProcAttr = childAttr()
	var stderr tailBuffer
	cmd.Stderr = &stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return runResult{out: outCrashed, message: err.Error()}
	}
	if err := cmd.Start(); err != nil {
		return runResult{out: outCrashed, message: fmt.Sprintf("start %s: %v", w.cfg.Command[0], err)}
	}
	log.Info("child started", "pid", cmd.Process.Pid, "args", strings.Join(args, " "))

	// Supervisor: heartbeat the lease, watch for Stopping and shutdown.
	done := make(chan struct{})
	type reason int
	const (
		none reason = iota
		userStop
		shutdown
		lostLease
	)
	why := make(chan reason, 1)
	go func() {
		poll := time.NewTicker(w.cfg.Poll)
		defer poll.Stop()
		var killTimer <-chan time.Time
		sent := none
		signal := func(r reason) {
			if sent != none {
				return
			}
			sent = r
			why <- r
			_ = cmd.Process.Signal(syscall.SIGTERM)
			killTimer = time.After(w.cfg.StopGrace)
		}
		ctxDone, lostCh := ctx.Done(), lost
		for {
			select {
			case <-done:
				return
			case <-ctxDone:
				ctxDone = nil // fire once
				signal(shutdown)
			case <-killTimer:
				_ = cmd.Process.Kill()
			case <-lostCh:
				lostCh = nil
				if sent == none {
					sent = lostLease
					why <- lostLease
				}
				_ = cmd.Process.Kill()
			case <-poll.C:
				if sent != none {
					continue
				}
				if cur, err := w.cfg.Store.GetJob(context.WithoutCancel(ctx), j.Account, j.ID); err == nil && cur.Status == store.JobStopping {
					signal(userStop)
				}
			}
		}
	}()
	var final *trainspec.Event
	sc := bufio.NewScanner(stdout)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		line := bytes.TrimSpace(sc.Bytes())
		if len(line) == 0 {
			continue
		}
		var ev trainspec.Event
		if err := json.Unmarshal(line, &ev); err != nil || ev.Type == "" {
			log.Warn("child printed a non-event line", "line", string(line))
			continue
		}
		switch ev.Type {
		case trainspec.EventCompleted, trainspec.EventFailed, trainspec.EventStopped:
			e := ev
			final = &e
		}
		if err := w.recordEvent(context.WithoutCancel(ctx), j, ev, line); err != nil {
			log.Error("record event", "err", err)
		}
	}
	waitErr := cmd.Wait()
	close(done)
	var r reason
	select {
	case r = <-why:
	default:
	}
	log.Info("child exited", "err", waitErr, "final", finalType(final), "reason", r)
	switch {
	case r == lostLease:
		return runResult{out: outInterrupted, leaseLost: true}
	case final != nil && final.Type == trainspec.EventCompleted && waitErr == nil:
		return runResult{out: outCompleted, outputDir: outDir}
	case final != nil && final.Type == trainspec.EventFailed:
		msg := final.Message
		if msg == "" {
			msg = msgInternal
		}
		return runResult{out: outFailed, message: msg}
	case r == shutdown:
		return runResult{out: outInterrupted}
	case r == userStop:
		return runResult{out: outStopped}
	case final != nil && final.Type == trainspec.EventStopped:
		// Stopped without our asking: treat as an interruption to resume.
		return runResult{out: outCrashed, message: "child stopped unexpectedly"}
	}
	msg := fmt.Sprintf("child exited: %v", waitErr)
	if s := strings.TrimSpace(stderr.String()); s != "" {
		msg += ": " + lastLine(s)
	}
	return runResult{out: outCrashed, message: msg}
}

func finalType(e *trainspec.Event) string {
	if e == nil {
		return ""
	}
	return e.Type
}

func lastLine(s string) string {
	if i := strings.LastIndexByte(s, '\n'); i >= 0 {
		return s[i+1:]
	}
	return s
}

// recordEvent stores a child event in the outbox and applies it to the job.
func (w *Worker) recordEvent(ctx context.Context, j *store.Job, ev trainspec.Event, raw []byte) error {
	_, err := w.update(ctx, j.Account, j.ID, func(cur *store.Job, now time.Time) []store.Event {
		switch ev.Type {
		case trainspec.EventStatus:
			if cur.Status == store.JobInProgress {
				setStage(cur, ev.Stage, now)
			}
		case trainspec.EventStep:
			cur.Step, cur.TotalSteps = ev.Step, ev.TotalSteps
		case trainspec.EventCheckpoint:
			cur.LastCheckpoint = ev.Path
		}
		t := ev.Time
		if t.IsZero() {
			t = now
		}
		return []store.Event{{Type: ev.Type, Time: t.UTC(), Data: append([]byte(nil), raw...)}}
	})
	return err
}

// tailBuffer keeps the last 8 KiB written to it.
type tailBuffer struct{ b []byte }

func (t *tailBuffer) Write(p []byte) (int, error) {
	t.b = append(t.b, p...)
	if len(t.b) > 8<<10 {
		t.b = t.b[len(t.b)-8<<10:]
	}
	return len(p), nil
}

func (t *tailBuffer) String() string { return string(t.b) }

func (w *Worker) finishFailed(ctx context.Context, j *store.Job, msg string) {
	if len(msg) > 2048 {
		msg = msg[:2048]
	}
	if _, err := w.update(ctx, j.Account, j.ID, func(cur *store.Job, now time.Time) []store.Event {
		if cur.Status != store.JobInProgress && cur.Status != store.JobStopping {
			return nil
		}
		cur.Status, cur.FailureMessage, cur.EndTime = store.JobFailed, msg, now
		endPhases(cur, store.PhaseFailed, now)
		b, _ := json.Marshal(trainspec.Event{Type: trainspec.EventFailed, Message: msg})
		return []store.Event{{Type: "job." + store.JobFailed, Data: b}}
	}); err != nil {
		w.log.Error("mark failed", "job_id", j.ID, "err", err)
	}
}

func (w *Worker) finishStopped(ctx context.Context, j *store.Job) {
	if _, err := w.update(ctx, j.Account, j.ID, func(cur *store.Job, now time.Time) []store.Event {
		if cur.Status != store.JobInProgress && cur.Status != store.JobStopping {
			return nil
		}
		cur.Status, cur.EndTime = store.JobStopped, now
		endPhases(cur, store.PhaseStopped, now)
		return []store.Event{{Type: "job." + store.JobStopped}}
	}); err != nil {
		w.log.Error("mark stopped", "job_id", j.ID, "err", err)
	}
}

// finishCompleted uploads the metrics CSVs, moves the weights into managed
// storage and registers the custom model Active, atomically with the job's
// Completed status.
func (w *Worker) finishCompleted(ctx context.Context, j *store.Job, res runResult) error {
	var result trainspec.Result
	b, err := os.ReadFile(filepath.Join(res.outputDir, trainspec.ResultFile))
	if err != nil {
		return fmt.Errorf("worker: read result: %w", err)
	}
	if err := json.Unmarshal(b, &result); err != nil {
		return fmt.Errorf("worker: parse result: %w", err)
	}
	prefix := joinURI(j.OutputS3URI, "model-customization-job-"+j.ID)
	uploads := map[string][]string{
		trainspec.StepMetricsFile: {"training_artifacts/" + trainspec.StepMetricsFile},
		trainspec.ValidationMetricsFile: {
			"validation_artifacts/post_fine_tuning_validation/" + trainspec.ValidationMetricsFile,
			"validation_artifacts/post_fine_tuning_validation/validation/" + trainspec.ValidationMetricsFile,
		},
	}
	for name, dsts := range uploads {
		src := filepath.Join(res.outputDir, name)
		if _, err := os.Stat(src); err != nil {
			continue
		}
		for _, d := range dsts {
			if err := w.cfg.Objects.Upload(ctx, j.Account, src, joinURI(prefix, d)); err != nil {
				return fmt.Errorf("worker: upload %s: %w", name, err)
			}
		}
	}
	artifactDir := filepath.Join(w.cfg.ModelsDir, j.Account, j.CustomModelID)
	if err := os.MkdirAll(artifactDir, 0o755); err != nil {
		return fmt.Errorf("worker: artifacts: %w", err)
	}
	move := func(rel string) (string, error) {
		if rel == "" {
			return "", nil
		}
		src := filepath.Join(res.outputDir, rel)
		if _, err := os.Stat(src); err != nil {
			return "", nil
		}
		dst := filepath.Join(artifactDir, filepath.Base(rel))
		_ = os.RemoveAll(dst)
		if err := os.Rename(src, dst); err != nil {
			return "", fmt.Errorf("worker: move %s: %w", rel, err)
		}
		return filepath.Base(rel), nil
	}
	adapter, err := move(result.AdapterDir)
	if err != nil {
		return err
	}
	merged, err := move(result.MergedDir)
	if err != nil {
		return err
	}
	backfill, err := w.missingSteps(ctx, j.ID, filepath.Join(res.outputDir, trainspec.StepMetricsFile))
	if err != nil {
		return err
	}
	region := "us-east-1"
	if a, err := awsproto.ParseARN(j.ARN); err == nil {
		region = a.Region
	}
	tl := result.TrainingLoss
	var vls []*float64
	for _, v := range j.Validators {
		if l, ok := lookupValidation(result.ValidationLoss, v); ok {
			vls = append(vls, &l)
		} else {
			vls = append(vls, nil)
		}
	}
	err = w.cfg.Store.Tx(ctx, func(tx store.Store) error {
		cur, err := tx.GetJob(ctx, j.Account, j.ID)
		if err != nil {
			return err
		}
		now := w.cfg.Now().UTC()
		m := &store.CustomModel{
			ID: cur.CustomModelID, Account: cur.Account, Name: cur.CustomModelName,
			ARN:    awsproto.CustomModelARN(region, cur.Account, cur.BaseModelID, cur.CustomModelID),
			JobARN: cur.ARN, JobName: cur.Name, BaseModelID: cur.BaseModelID, BaseModelARN: cur.BaseModelARN,
			CustomizationType: cur.CustomizationType, KMSKeyARN: kmsARN(cur.CustomModelKMSKeyID),
			HyperParameters: cur.HyperParameters, TrainingDataConfig: cur.TrainingDataConfig,
			Validators: cur.Validators, OutputS3URI: cur.OutputS3URI,
			TrainingLoss: &tl, ValidationLosses: vls, Status: store.ModelActive, CreationTime: now,
			ArtifactDir: artifactDir, AdapterDir: adapter, MergedDir: merged,
		}
		if err := tx.CreateCustomModel(ctx, m); err != nil {
			if errors.Is(err, store.ErrConflict) {
				if prev, perr := tx.GetCustomModel(ctx, cur.Account, cur.CustomModelID); perr == nil {
					m = prev // already registered by an earlier attempt
				} else {
					return err
				}
			} else {
				return err
			}
		} else if len(cur.CustomModelTags) > 0 {
			if err := tx.PutTags(ctx, cur.Account, m.ARN, cur.CustomModelTags); err != nil {
				return err
			}
		}
		cur.Status, cur.EndTime, cur.LastModifiedTime = store.JobCompleted, now, now
		cur.CustomModelARN = m.ARN
		cur.TrainingLoss, cur.ValidationLosses = &tl, vls
		endPhases(cur, store.PhaseCompleted, now)
		if err := tx.UpdateJob(ctx, cur); err != nil {
			return err
		}
		for i := range backfill {
			backfill[i].JobID, backfill[i].Time = cur.ID, now
		}
		if err := tx.AppendEvents(ctx, backfill...); err != nil {
			return err
		}
		data, _ := json.Marshal(map[string]any{"customModelArn": m.ARN, "trainingLoss": tl})
		return tx.AppendEvents(ctx, store.Event{JobID: cur.ID, Time: now, Type: "job." + store.JobCompleted, Data: data})
	})
	if err != nil {
		return fmt.Errorf("worker: register model: %w", err)
	}
	for _, d := range []string{"input", "output", "checkpoints"} { // keep the dataset report
		_ = os.RemoveAll(filepath.Join(w.jobDir(j), d))
	}
	return nil
}

func lookupValidation(m map[string]float64, uri string) (float64, bool) {
	if v, ok := m[uri]; ok {
		return v, true
	}
	if v, ok := m[path.Base(uri)]; ok {
		return v, true
	}
	for k, v := range m {
		if filepath.Base(k) == path.Base(uri) {
			return v, true
		}
	}
	return 0, false
}

func kmsARN(id string) string {
	if strings.HasPrefix(id, "arn:") && strings.Contains(id, ":key/") {
		return id
	}
	return ""
}

// missingSteps returns step events for the rows of the child's metrics CSV
// that no recorded step event covers: steps the child reported just before a
// crash, after its last checkpoint was written but before the worker stored
// them, are not re-run after the resume. The CSV (step_number from 0) is the
// child's durable record; event steps count from 1.
func (w *Worker) missingSteps(ctx context.Context, jobID, csvPath string) ([]store.Event, error) {
	f, err := os.Open(csvPath)
	if err != nil {
		return nil, nil // no metrics file: nothing to backfill
	}
	defer f.Close()
	seen := map[int]bool{}
	after := int64(0)
	for {
		evs, err := w.cfg.Store.ListEvents(ctx, jobID, after, 5000)
		if err != nil {
			return nil, fmt.Errorf("worker: backfill: %w", err)
		}
		for _, e := range evs {
			after = e.Seq
			if e.Type == trainspec.EventStep {
				var te trainspec.Event
				if json.Unmarshal(e.Data, &te) == nil {
					seen[te.Step] = true
				}
			}
		}
		if len(evs) < 5000 {
			break
		}
	}
	var out []store.Event
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		var step, epoch int
		var loss, ppl float64
		if n, _ := fmt.Sscanf(strings.ReplaceAll(sc.Text(), ",", " "), "%d %d %g %g", &step, &epoch, &loss, &ppl); n != 4 {
			continue // header or malformed row
		}
		if seen[step+1] {
			continue
		}
		seen[step+1] = true
		b, _ := json.Marshal(trainspec.Event{Type: trainspec.EventStep, Step: step + 1, Epoch: epoch + 1, Loss: loss, Perplexity: ppl,
			Message: "backfilled from " + trainspec.StepMetricsFile})
		out = append(out, store.Event{Type: trainspec.EventStep, Data: b})
	}
	return out, nil
}
