//go:build integration

package integration

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// boto3Flow is the main user flow in boto3: upload data through the S3
// endpoint, create a fine-tuning job with string hyperparameters and a
// validation set, poll until Completed, read the metrics CSVs, get the model.
const boto3Flow = `
import boto3, botocore, json, os, sys, time
ep = os.environ["STRATA_ENDPOINT"]
cfg = botocore.config.Config(s3={"addressing_style": "path"}, retries={"max_attempts": 1})
s3 = boto3.client("s3", endpoint_url=ep, region_name="us-east-1", config=cfg)
br = boto3.client("bedrock", endpoint_url=ep, region_name="us-east-1", config=cfg)
s3.create_bucket(Bucket="py-data")
s3.put_object(Bucket="py-data", Key="ft/train.jsonl", Body=os.environ["TRAIN"].encode())
s3.put_object(Bucket="py-data", Key="ft/val.jsonl", Body=os.environ["VAL"].encode())
arn = br.create_model_customization_job(
    jobName="py-job", customModelName="py-model",
    roleArn="arn:aws:iam::123456789012:role/BedrockRole",
    baseModelIdentifier=os.environ["BASE"], customizationType="FINE_TUNING",
    hyperParameters={"epochCount": "2", "batchSize": "1", "learningRate": "0.0001"},
    trainingDataConfig={"s3Uri": "s3://py-data/ft/train.jsonl"},
    validationDataConfig={"validators": [{"s3Uri": "s3://py-data/ft/val.jsonl"}]},
    outputDataConfig={"s3Uri": "s3://py-data/out/"})["jobArn"]
deadline = time.time() + float(os.environ.get("DEADLINE", "300"))
while True:
    job = br.get_model_customization_job(jobIdentifier=arn)
    if job["status"] in ("Completed", "Failed", "Stopped"):
        break
    if time.time() > deadline:
        sys.exit("timeout, last status " + job["status"])
    time.sleep(0.5)
jid = arn.rsplit("/", 1)[1]
prefix = "out/model-customization-job-%s/" % jid
train_csv = s3.get_object(Bucket="py-data", Key=prefix + "training_artifacts/step_wise_training_metrics.csv")["Body"].read().decode()
val_csv = s3.get_object(Bucket="py-data", Key=prefix + "validation_artifacts/post_fine_tuning_validation/validation_metrics.csv")["Body"].read().decode()
model = br.get_custom_model(modelIdentifier=job["outputModelArn"])
try:
    br.get_custom_model(modelIdentifier="does-not-exist")
    missing = "no error"
except br.exceptions.ResourceNotFoundException as e:
    missing = "ResourceNotFoundException"
print(json.dumps({"status": job["status"], "failure": job.get("failureMessage"), "hp": job["hyperParameters"],
    "trainingLoss": job.get("trainingMetrics", {}).get("trainingLoss"), "validationMetrics": job.get("validationMetrics"),
    "trainCsv": train_csv, "valCsv": val_csv, "modelName": model["modelName"], "modelStatus": model["modelStatus"],
    "missing": missing, "creationTime": str(job["creationTime"])}, default=str))
`

func pythonEnv(srv *Server, extra ...string) []string {
	return append(append(os.Environ(), "STRATA_ENDPOINT="+srv.Endpoint, "AWS_ACCESS_KEY_ID="+testAKID,
		"AWS_SECRET_ACCESS_KEY="+testSecret, "AWS_DEFAULT_REGION="+testRegion, "AWS_EC2_METADATA_DISABLED=true",
		"AWS_CONFIG_FILE=/dev/null", "AWS_SHARED_CREDENTIALS_FILE=/dev/null"), extra...)
}

func havePythonBoto3(t *testing.T) string {
	py, err := exec.LookPath("python3")
	if err == nil {
		err = exec.Command(py, "-c", "import boto3").Run()
	}
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("python3 with boto3 missing: %v", err)
		}
		t.Skipf("python3 with boto3 missing: %v", err)
	}
	return py
}

// TestBoto3AndCLIFlow runs the main flow with boto3, then checks the result
// with the aws CLI, and a Bearer API key with boto3.
func TestBoto3AndCLIFlow(t *testing.T) {
	py := havePythonBoto3(t)
	dir := t.TempDir()
	RegisterTestModel(t, dir)
	srv := StartServer(t, dir, "STRATA_FAKE_STEP_MS=20")
	cmd := exec.Command(py, "-c", boto3Flow)
	cmd.Env = pythonEnv(srv, "TRAIN="+trainLines(6), "VAL="+trainLines(2), "BASE="+testModelID)
	out, err := cmd.Output()
	if err != nil {
		stderr := ""
		if ee, ok := err.(*exec.ExitError); ok {
			stderr = string(ee.Stderr)
		}
		t.Fatalf("boto3 flow: %v\n%s\n%s", err, out, stderr)
	}
	var res struct {
		Status, Failure, TrainCsv, ValCsv, ModelName, ModelStatus, Missing string
		HP                                                                 map[string]string
		TrainingLoss                                                       *float64
		ValidationMetrics                                                  []map[string]float64
	}
	if err := json.Unmarshal(out, &res); err != nil {
		t.Fatalf("boto3 output %q: %v", out, err)
	}
	if res.Status != "Completed" {
		t.Fatalf("job %s: %s", res.Status, res.Failure)
	}
	if res.HP["epochCount"] != "2" || res.TrainingLoss == nil || len(res.ValidationMetrics) != 1 || res.ValidationMetrics[0]["validationLoss"] == 0 {
		t.Errorf("job result = %+v", res)
	}
	if strings.Count(res.TrainCsv, "\n") != 13 || !strings.HasPrefix(res.ValCsv, "step_number,epoch_number,validation_loss,perplexity\n") {
		t.Errorf("csvs:\n%s\n%s", res.TrainCsv, res.ValCsv)
	}
	if res.ModelName != "py-model" || res.ModelStatus != "Active" || res.Missing != "ResourceNotFoundException" {
		t.Errorf("model = %+v", res)
	}

	// The aws CLI sees the same job and model.
	if _, err := exec.LookPath("aws"); err == nil {
		aws := func(args ...string) string {
			c := exec.Command("aws", append(args, "--endpoint-url", srv.Endpoint, "--output", "json")...)
			c.Env = pythonEnv(srv)
			b, err := c.CombinedOutput()
			if err != nil {
				t.Fatalf("aws %v: %v\n%s", args, err, b)
			}
			return string(b)
		}
		if got := aws("bedrock", "list-model-customization-jobs", "--status-equals", "Completed"); !strings.Contains(got, `"jobName": "py-job"`) {
			t.Errorf("aws list-model-customization-jobs:\n%s", got)
		}
		if got := aws("bedrock", "get-custom-model", "--model-identifier", "py-model"); !strings.Contains(got, `"modelStatus": "Active"`) {
			t.Errorf("aws get-custom-model:\n%s", got)
		}
		local := filepath.Join(t.TempDir(), "train.jsonl")
		_ = os.WriteFile(local, []byte(trainLines(3)), 0o644)
		aws("s3", "cp", local, "s3://py-data/cli/train.jsonl")
		if got := aws("s3", "ls", "s3://py-data/cli/"); !strings.Contains(got, "train.jsonl") {
			t.Errorf("aws s3 ls:\n%s", got)
		}
	} else if os.Getenv("CI") == "true" {
		t.Fatal("aws CLI missing")
	}

	// Bearer API key (AWS_BEARER_TOKEN_BEDROCK) with boto3.
	keyOut := Strata(t, "keys", "create", "--bearer", "--data-dir", dir, "--account", testAcct)
	_, token, ok := strings.Cut(keyOut, "AWS_BEARER_TOKEN_BEDROCK=")
	if !ok {
		t.Fatalf("keys create output: %s", keyOut)
	}
	bc := exec.Command(py, "-c", `
import boto3, os
br = boto3.client("bedrock", endpoint_url=os.environ["STRATA_ENDPOINT"], region_name="us-east-1")
print(",".join(m["modelName"] for m in br.list_custom_models()["modelSummaries"]))`)
	bc.Env = append(os.Environ(), "STRATA_ENDPOINT="+srv.Endpoint, "AWS_BEARER_TOKEN_BEDROCK="+strings.TrimSpace(token),
		"AWS_CONFIG_FILE=/dev/null", "AWS_SHARED_CREDENTIALS_FILE=/dev/null", "AWS_ACCESS_KEY_ID=", "AWS_SECRET_ACCESS_KEY=")
	b, err := bc.CombinedOutput()
	if err != nil || strings.TrimSpace(string(b)) != "py-model" {
		t.Errorf("bearer list_custom_models = %q, %v", b, err)
	}
}
