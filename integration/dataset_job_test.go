//go:build integration

package integration

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/bedrock"
	"github.com/aws/aws-sdk-go-v2/service/bedrock/types"

	"github.com/strata-ml/strata/engine/starter"
	"github.com/strata-ml/strata/internal/catalog"
)

// seedStarter builds (once, cached in $STRATA_CACHE/starter, default
// ~/.cache/strata/starter) the same starter model the server builds and
// copies it where the server looks for it, so the server finds a complete
// build with the same input hash and registers strata.starter-v1:0 in
// seconds instead of spending one to two minutes building it again.
func seedStarter(t *testing.T, dataDir string) {
	t.Helper()
	cache := os.Getenv("STRATA_CACHE")
	if cache == "" {
		home, err := os.UserHomeDir()
		if err != nil {
			t.Fatal(err)
		}
		cache = filepath.Join(home, ".cache", "strata")
	}
	built, err := starter.Ensure(filepath.Join(cache, "starter"))
	if err != nil {
		t.Fatalf("build starter: %v", err)
	}
	dst := filepath.Join(dataDir, "foundation-models", "starter", filepath.Base(built))
	if err := os.CopyFS(dst, os.DirFS(built)); err != nil {
		t.Fatalf("seed starter: %v", err)
	}
}

// datasetReport is the part of the stored dataset report the test reads.
type datasetReport struct {
	Valid          bool         `json:"valid"`
	FailureMessage string       `json:"failureMessage"`
	Errors         int64        `json:"errors"`
	Files          []reportFile `json:"files"`
	Issues         []struct {
		Severity string `json:"severity"`
		Code     string `json:"code"`
		File     string `json:"file"`
		Line     int64  `json:"line"`
		Reason   string `json:"reason"`
		Message  string `json:"message"`
	} `json:"issues"`
}

// reportFile is one file's entry in the dataset report.
type reportFile struct {
	File  string `json:"file"`
	Role  string `json:"role"`
	Lines int64  `json:"lines"`
}

// badLine is one broken record and the issue code internal/dataset
// documents for it (docs/datasets.md, "Issue codes").
type badLine struct {
	text, code string
}

// buildJSONL interleaves good prompt-completion records with bad ones and
// returns the file and, per bad line number, its expected code.
func buildJSONL(good int, bad []badLine) (string, map[int64]string) {
	var b strings.Builder
	want := map[int64]string{}
	line := int64(0)
	for i := range good {
		line++
		fmt.Fprintf(&b, "{\"prompt\": \"Ticket %d: my upload fails with ERR_%d. Category?\", \"completion\": \"storage\"}\n", i, 400+i)
		if i < len(bad) {
			line++
			b.WriteString(bad[i].text + "\n")
			want[line] = bad[i].code
		}
	}
	return b.String(), want
}

// runBadDatasetJob creates a FINE_TUNING job on the starter model and waits
// for it to fail; it returns the job, the wall time from creation to the
// observed Failed status, and the server-side Validation duration.
func runBadDatasetJob(t *testing.T, srv *Server, c *bedrock.Client, name, trainURI, valURI string) (*bedrock.GetModelCustomizationJobOutput, time.Duration) {
	t.Helper()
	in := &bedrock.CreateModelCustomizationJobInput{
		JobName: aws.String(name), CustomModelName: aws.String(name + "-model"),
		RoleArn:             aws.String("arn:aws:iam::123456789012:role/BedrockRole"),
		BaseModelIdentifier: aws.String(catalog.StarterID), CustomizationType: types.CustomizationTypeFineTuning,
		HyperParameters:      map[string]string{"epochCount": "1", "batchSize": "1", "learningRate": "0.0001"},
		TrainingDataConfig:   &types.TrainingDataConfig{S3Uri: aws.String(trainURI)},
		ValidationDataConfig: &types.ValidationDataConfig{Validators: []types.Validator{{S3Uri: aws.String(valURI)}}},
		OutputDataConfig:     &types.OutputDataConfig{S3Uri: aws.String("s3://dsets/out/")},
	}
	start := time.Now()
	out, err := c.CreateModelCustomizationJob(t.Context(), in)
	if err != nil {
		t.Fatal(err)
	}
	job := waitJob(t, c, aws.ToString(out.JobArn), 2*time.Minute, terminal)
	took := time.Since(start)
	if job.Status != types.ModelCustomizationJobStatusFailed {
		t.Fatalf("job %s = %s (%s), want Failed", name, job.Status, aws.ToString(job.FailureMessage))
	}
	return job, took
}

// fetchReport reads the job's dataset report over HTTP, SigV4-signed.
func fetchReport(t *testing.T, srv *Server, arn string) datasetReport {
	t.Helper()
	var rep datasetReport
	strataGet(t, srv, "/strata/v1/jobs/"+strings.NewReplacer(":", "%3A", "/", "%2F").Replace(arn)+"/dataset-report", &rep)
	return rep
}

// TestBrokenDatasetJobFailsFast is the issue's proof: a fine-tuning job on
// the starter model whose training JSONL holds several distinct bad lines
// among good ones fails in Validation within seconds, with Bedrock's
// failure message (SPEC.md §A.9), and its dataset report, served at
// /strata/v1/jobs/{id}/dataset-report, names every bad line with its code.
// A second job with a clean training file and a broken validation file
// fails the same way, naming the validation file.
func TestBrokenDatasetJobFailsFast(t *testing.T) {
	dir := t.TempDir()
	seedStarter(t, dir)
	// The fake training child stays configured: if validation wrongly
	// passed, the job would go on to Completed and the test would fail fast.
	srv := StartServer(t, dir, "STRATA_NO_STARTER=0")
	waitStarter(t, srv)
	c, s3c := srv.Bedrock(), srv.S3()
	createBucket(t, s3c, "dsets")

	// The starter model is in the "open" family: prompt-completion records,
	// extra keys only warned about (so no extra-key line here).
	train, want := buildJSONL(12, []badLine{
		{`{"prompt": "Ticket: login loops. Category?", "completion": "auth"`, "invalid_json"},
		{`{"prompt": "Ticket: invoice missing. Category?"}`, "missing_field"},
		{`{"prompt": "", "completion": "billing"}`, "empty_field"},
		{`{"prompt": 42, "completion": "billing"}`, "wrong_type"},
		{`["prompt", "completion"]`, "not_object"},
	})
	putObject(t, s3c, "dsets", "ft/train.jsonl", train)
	putObject(t, s3c, "dsets", "ft/val.jsonl", trainLines(4))

	job, took := runBadDatasetJob(t, srv, c, "bad-train", "s3://dsets/ft/train.jsonl", "s3://dsets/ft/val.jsonl")
	vd := job.StatusDetails.ValidationDetails
	var server time.Duration
	if vd != nil && vd.CreationTime != nil && vd.LastModifiedTime != nil {
		server = vd.LastModifiedTime.Sub(*vd.CreationTime)
	}
	t.Logf("bad training data: Failed %v after CreateModelCustomizationJob (Validation phase %v by its statusDetails timestamps)", took.Round(time.Millisecond), server)
	// Generous bound: validating 17 short lines takes milliseconds; the rest
	// is staging, the 100 ms poll and a 2-core machine shared with other
	// test processes. Training would take far longer than this.
	if took > 30*time.Second {
		t.Errorf("job took %v to fail, want < 30s", took)
	}
	if vd == nil || vd.Status != types.JobStatusDetailsFailed {
		t.Errorf("statusDetails.validationDetails = %+v, want Failed", vd)
	}
	if td := job.StatusDetails.TrainingDetails; td != nil && td.Status != types.JobStatusDetailsNotStarted {
		t.Errorf("statusDetails.trainingDetails = %+v, want NotStarted", td)
	}

	// Bedrock's wording for the first error (invalid JSON on line 2), then
	// where it is and the count of the rest (docs/datasets.md).
	msg := aws.ToString(job.FailureMessage)
	t.Logf("failureMessage: %s", msg)
	wantPrefix := "Unable to parse Amazon S3 file: train.jsonl. Data files must conform to JSONL format. train.jsonl line 2: "
	if !strings.HasPrefix(msg, wantPrefix) {
		t.Errorf("failureMessage = %q\nwant prefix %q", msg, wantPrefix)
	}
	wantTail := regexp.MustCompile(` 5 errors in all \(([a-z_]+ 1(, )?){5}\); the dataset report lists each with its file and line\.$`)
	if !wantTail.MatchString(msg) {
		t.Errorf("failureMessage = %q, want it to end with the 5 error codes", msg)
	}
	for _, code := range want {
		if !strings.Contains(msg, code+" 1") {
			t.Errorf("failureMessage lacks %q: %q", code+" 1", msg)
		}
	}

	rep := fetchReport(t, srv, aws.ToString(job.JobArn))
	if rep.Valid || rep.FailureMessage != msg || rep.Errors != int64(len(want)) {
		t.Errorf("report valid=%v errors=%d failureMessage=%q; want invalid, %d errors, the job's message", rep.Valid, rep.Errors, rep.FailureMessage, len(want))
	}
	got := map[int64]string{}
	for _, is := range rep.Issues {
		t.Logf("issue: %s %s %s:%d %s", is.Severity, is.Code, is.File, is.Line, is.Reason)
		if is.Severity != "error" {
			continue
		}
		if is.File != "train.jsonl" {
			t.Errorf("error issue in %q, want train.jsonl: %+v", is.File, is)
		}
		if prev, dup := got[is.Line]; dup {
			t.Errorf("line %d reported twice: %s and %s", is.Line, prev, is.Code)
		}
		got[is.Line] = is.Code
		if is.Reason == "" {
			t.Errorf("issue without a reason: %+v", is)
		}
	}
	for line, code := range want {
		if got[line] != code {
			t.Errorf("report line %d = %q, want %q", line, got[line], code)
		}
	}
	for line, code := range got {
		if _, ok := want[line]; !ok {
			t.Errorf("report flags good line %d as %s", line, code)
		}
	}
	if i := slices.IndexFunc(rep.Files, func(f reportFile) bool { return f.File == "train.jsonl" }); i < 0 || rep.Files[i].Lines != 17 {
		t.Errorf("report files = %+v, want train.jsonl with 17 lines", rep.Files)
	}

	// Validation set only: a clean training file, one broken validation line.
	good, _ := buildJSONL(12, nil)
	putObject(t, s3c, "dsets", "ft/good.jsonl", good)
	putObject(t, s3c, "dsets", "ft/val-bad.jsonl", "{\"prompt\": \"a\", \"completion\": \"b\"}\n{\"prompt\": \"unterminated\n")
	vjob, vtook := runBadDatasetJob(t, srv, c, "bad-val", "s3://dsets/ft/good.jsonl", "s3://dsets/ft/val-bad.jsonl")
	t.Logf("bad validation data: Failed %v after CreateModelCustomizationJob", vtook.Round(time.Millisecond))
	vmsg := aws.ToString(vjob.FailureMessage)
	if want := "Unable to parse Amazon S3 file: val-bad.jsonl. Data files must conform to JSONL format. val-bad.jsonl line 2: "; !strings.HasPrefix(vmsg, want) || strings.Contains(vmsg, "errors in all") {
		t.Errorf("failureMessage = %q, want prefix %q and a single error", vmsg, want)
	}
	if vd := vjob.StatusDetails.ValidationDetails; vd == nil || vd.Status != types.JobStatusDetailsFailed {
		t.Errorf("statusDetails.validationDetails = %+v, want Failed", vd)
	}
	vrep := fetchReport(t, srv, aws.ToString(vjob.JobArn))
	if vrep.Errors != 1 || len(vrep.Issues) == 0 {
		t.Fatalf("validation report errors=%d issues=%+v, want 1", vrep.Errors, vrep.Issues)
	}
	for _, is := range vrep.Issues {
		if is.Severity == "error" && (is.File != "val-bad.jsonl" || is.Line != 2 || is.Code != "invalid_json") {
			t.Errorf("validation issue = %+v, want val-bad.jsonl line 2 invalid_json", is)
		}
	}
}
