//go:build integration

package integration

import (
	"encoding/json"
	"io"
	"net/http"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/bedrock/types"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/strata-ml/strata/internal/catalog"
)

// waitStarter waits until the server's starter model is built.
func waitStarter(t *testing.T, srv *Server) {
	t.Helper()
	Eventually(t, 8*time.Minute, "starter model", func() (bool, error) {
		res, err := http.Get(srv.Endpoint + "/healthz")
		if err != nil {
			return false, err
		}
		defer res.Body.Close()
		b, _ := io.ReadAll(res.Body)
		var h map[string]any
		_ = json.Unmarshal(b, &h)
		st, _ := h["starterModel"].(string)
		if strings.HasPrefix(st, "failed") {
			t.Fatalf("starter model: %s", st)
		}
		return st == "ready", nil
	})
}

// TestRealTrainStarterBoto3 is the main flow end to end with nothing faked:
// the server builds the starter model, boto3 uploads data through the S3
// endpoint and creates a fine-tuning job on strata.starter-v1:0 with string
// hyperparameters and a validation set, the real "strata train" child trains
// it, and boto3 reads the metrics CSVs and the custom model.
func TestRealTrainStarterBoto3(t *testing.T) {
	py := havePythonBoto3(t)
	dir := t.TempDir()
	srv := StartServer(t, dir, "STRATA_TRAIN_COMMAND=", "STRATA_NO_STARTER=0")
	waitStarter(t, srv)
	var train strings.Builder
	for i := range 24 {
		train.WriteString(`{"prompt": "Ticket: my upload fails with ERR_` + string(rune('A'+i%26)) + `. Category?", "completion": "storage"}` + "\n")
	}
	cmd := exec.Command(py, "-c", boto3Flow)
	cmd.Env = pythonEnv(srv, "TRAIN="+train.String(), "VAL="+trainLines(3), "BASE="+catalog.StarterID, "DEADLINE=600")
	out, err := cmd.Output()
	if err != nil {
		stderr := ""
		if ee, ok := err.(*exec.ExitError); ok {
			stderr = string(ee.Stderr)
		}
		t.Fatalf("boto3 flow: %v\n%s\n%s", err, out, stderr)
	}
	var res struct {
		Status, Failure, TrainCsv, ValCsv, ModelName, ModelStatus string
		TrainingLoss                                              *float64
		ValidationMetrics                                         []map[string]float64
	}
	if err := json.Unmarshal(out, &res); err != nil {
		t.Fatalf("boto3 output %q: %v", out, err)
	}
	if res.Status != "Completed" {
		t.Fatalf("job %s: %s", res.Status, res.Failure)
	}
	// 24 records, batch 1, 2 epochs = 48 optimizer steps.
	if n := strings.Count(res.TrainCsv, "\n"); n != 1+48 {
		t.Errorf("training metrics has %d lines, want 49:\n%s", n, res.TrainCsv)
	}
	if res.TrainingLoss == nil || *res.TrainingLoss <= 0 || len(res.ValidationMetrics) != 1 || res.ModelStatus != "Active" {
		t.Errorf("result = %+v", res)
	}

	// kill -9 while the real child trains a second job; after the restart
	// (the starter is cached in the data dir) it resumes from its checkpoint.
	c := srv.Bedrock()
	in := jobInput("real-crash", "2")
	in.BaseModelIdentifier = aws.String(catalog.StarterID)
	in.HyperParameters = map[string]string{"epochCount": "2", "batchSize": "1", "learningRate": "0.0001", "checkpointSteps": "4"}
	in.TrainingDataConfig.S3Uri = aws.String("s3://py-data/ft/train.jsonl")
	in.ValidationDataConfig.Validators[0].S3Uri = aws.String("s3://py-data/ft/val.jsonl")
	in.OutputDataConfig.S3Uri = aws.String("s3://py-data/out2/")
	created, err := c.CreateModelCustomizationJob(t.Context(), in)
	if err != nil {
		t.Fatal(err)
	}
	arn := aws.ToString(created.JobArn)
	path := "/strata/v1/jobs/" + strings.NewReplacer(":", "%3A", "/", "%2F").Replace(arn) + "/metrics"
	Eventually(t, 5*time.Minute, "real job past a checkpoint", func() (bool, error) {
		var m jobMetrics
		strataGet(t, srv, path, &m)
		return m.Step >= 10, nil
	})
	srv.Kill9()
	srv2 := StartServer(t, dir, "STRATA_TRAIN_COMMAND=", "STRATA_NO_STARTER=0")
	waitStarter(t, srv2)
	j := waitJob(t, srv2.Bedrock(), arn, 10*time.Minute, terminal)
	if j.Status != types.ModelCustomizationJobStatusCompleted {
		t.Fatalf("after kill -9 and restart: %s %s", j.Status, aws.ToString(j.FailureMessage))
	}
	var m jobMetrics
	strataGet(t, srv2, path, &m)
	seen := map[int]bool{}
	for _, s := range m.Training {
		seen[s.Step] = true
	}
	if len(seen) != 48 || len(m.Training) > 48+4 {
		t.Errorf("steps: %d distinct of %d events, want 48 distinct and at most 4 repeated", len(seen), len(m.Training))
	}
	obj, err := srv2.S3().GetObject(t.Context(), &s3.GetObjectInput{Bucket: aws.String("py-data"),
		Key: aws.String("out2/model-customization-job-" + arn[strings.LastIndex(arn, "/")+1:] + "/training_artifacts/step_wise_training_metrics.csv")})
	if err != nil {
		t.Fatal(err)
	}
	csv, _ := io.ReadAll(obj.Body)
	obj.Body.Close()
	if n := strings.Count(string(csv), "\n"); n != 49 {
		t.Errorf("resumed job's metrics csv has %d lines, want 49", n)
	}
}
