//go:build integration

package integration

import (
	"encoding/json"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/strata-ml/strata/engine/starter"
	"github.com/strata-ml/strata/internal/catalog"
)

// servingFlow is the whole serving workflow in boto3: upload the starter's
// sample ticket dataset through the S3 endpoint, fine-tune the starter
// model, poll until Completed, provision throughput for the custom model,
// wait until InService, then invoke it with the Meta body, Converse,
// ConverseStream and InvokeModelWithResponseStream, and score held-out
// tickets on the tuned model and on the base model (on demand).
const servingFlow = `
import boto3, botocore, json, os, sys, time
ep = os.environ["STRATA_ENDPOINT"]
cfg = botocore.config.Config(s3={"addressing_style": "path"}, retries={"max_attempts": 1}, read_timeout=600)
s3 = boto3.client("s3", endpoint_url=ep, region_name="us-east-1", config=cfg)
br = boto3.client("bedrock", endpoint_url=ep, region_name="us-east-1", config=cfg)
rt = boto3.client("bedrock-runtime", endpoint_url=ep, region_name="us-east-1", config=cfg)
s3.create_bucket(Bucket="tickets")
s3.put_object(Bucket="tickets", Key="train.jsonl", Body=open(os.environ["TRAIN"], "rb").read())
s3.put_object(Bucket="tickets", Key="validation.jsonl", Body=open(os.environ["VAL"], "rb").read())
arn = br.create_model_customization_job(
    jobName="tickets-job", customModelName="tickets-model",
    roleArn="arn:aws:iam::123456789012:role/BedrockRole",
    baseModelIdentifier=os.environ["BASE"], customizationType="FINE_TUNING",
    hyperParameters={"epochCount": "4", "batchSize": "8", "learningRate": "0.002", "learningRateWarmupSteps": "10", "loraRank": "64", "loraAlpha": "64"},
    trainingDataConfig={"s3Uri": "s3://tickets/train.jsonl"},
    validationDataConfig={"validators": [{"s3Uri": "s3://tickets/validation.jsonl"}]},
    outputDataConfig={"s3Uri": "s3://tickets/out/"})["jobArn"]
deadline = time.time() + 1500
while True:
    job = br.get_model_customization_job(jobIdentifier=arn)
    if job["status"] in ("Completed", "Failed", "Stopped"):
        break
    if time.time() > deadline:
        sys.exit("job timeout, last status " + job["status"])
    time.sleep(1)
if job["status"] != "Completed":
    sys.exit("job " + job["status"] + ": " + str(job.get("failureMessage")))
model_arn = job["outputModelArn"]
pt = br.create_provisioned_model_throughput(modelId=model_arn, modelUnits=1, provisionedModelName="tickets-pt")["provisionedModelArn"]
while True:
    p = br.get_provisioned_model_throughput(provisionedModelId=pt)
    if p["status"] in ("InService", "Failed"):
        break
    if time.time() > deadline:
        sys.exit("provisioning timeout")
    time.sleep(0.5)
if p["status"] != "InService":
    sys.exit("provisioned throughput failed: " + p.get("failureMessage", ""))
try:
    br.delete_custom_model(modelIdentifier=model_arn)
    conflict = "deleted"
except br.exceptions.ConflictException:
    conflict = "ConflictException"
tests = [json.loads(l) for l in open(os.environ["TEST"]) if l.strip()][:int(os.environ["N"])]
def score(model_id):
    ok = 0
    for t in tests:
        r = rt.invoke_model(modelId=model_id, body=json.dumps({"prompt": t["prompt"], "max_gen_len": 24, "temperature": 0}))
        out = json.loads(r["body"].read())
        ok += out["generation"].strip() == t["completion"].strip()
    return ok / len(tests)
tuned, base = score(pt), score(os.environ["BASE"])
t0 = tests[0]
conv = rt.converse(modelId=pt, messages=[{"role": "user", "content": [{"text": t0["prompt"]}]}],
                   inferenceConfig={"maxTokens": 24, "temperature": 0}, additionalModelRequestFields={"top_k": 5})
stream = list(rt.converse_stream(modelId=pt, messages=[{"role": "user", "content": [{"text": t0["prompt"]}]}],
                   inferenceConfig={"maxTokens": 24, "temperature": 0}, additionalModelRequestFields={"top_k": 5})["stream"])
events = [list(e.keys())[0] for e in stream]
conv_streamed = "".join(e["contentBlockDelta"]["delta"]["text"] for e in stream if "contentBlockDelta" in e)
chunks = [json.loads(e["chunk"]["bytes"]) for e in rt.invoke_model_with_response_stream(modelId=pt,
            body=json.dumps({"prompt": t0["prompt"], "max_gen_len": 24, "temperature": 0}))["body"]]
streamed = "".join(c["generation"] for c in chunks)
single = json.loads(rt.invoke_model(modelId=pt, body=json.dumps({"prompt": t0["prompt"], "max_gen_len": 24, "temperature": 0}))["body"].read())["generation"]
try:
    rt.invoke_model(modelId=pt, body=json.dumps({"inputText": "wrong family"}))
    wrong = "accepted"
except rt.exceptions.ValidationException as e:
    wrong = "ValidationException"
br.delete_provisioned_model_throughput(provisionedModelId=pt)
print(json.dumps({"tuned": tuned, "base": base, "conflict": conflict, "converseStop": conv["stopReason"],
    "converseText": conv["output"]["message"]["content"][0]["text"], "converseStreamed": conv_streamed,
    "converseRole": conv["output"]["message"]["role"], "converseInputTokens": conv["usage"]["inputTokens"], "events": events,
    "lastChunk": chunks[-1], "streamed": streamed, "single": single, "wrong": wrong}))
`

// TestServingWorkflowBoto3 runs the whole workflow with nothing faked: the
// real starter model, real training, Provisioned Throughput and all four
// runtime operations through boto3. The fine-tuned model must label held-out
// tickets correctly where the base model does not.
func TestServingWorkflowBoto3(t *testing.T) {
	py := havePythonBoto3(t)
	dir := t.TempDir()
	paths, err := starter.WriteSampleDataset(filepath.Join(dir, "sample"))
	if err != nil {
		t.Fatal(err)
	}
	srv := StartServer(t, filepath.Join(dir, "data"), "STRATA_TRAIN_COMMAND=", "STRATA_NO_STARTER=0")
	waitStarter(t, srv)
	cmd := exec.Command(py, "-c", servingFlow)
	cmd.Env = pythonEnv(srv, "TRAIN="+paths[0], "VAL="+paths[1], "TEST="+paths[2], "BASE="+catalog.StarterID, "N=40")
	out, err := cmd.Output()
	if err != nil {
		stderr := ""
		if ee, ok := err.(*exec.ExitError); ok {
			stderr = string(ee.Stderr)
		}
		t.Fatalf("boto3 serving flow: %v\n%s\n%s", err, out, stderr)
	}
	var res struct {
		Tuned, Base                          float64
		Conflict, ConverseStop, ConverseText string
		ConverseStreamed, ConverseRole       string
		ConverseInputTokens                  int
		Events                               []string
		LastChunk                            map[string]any
		Streamed, Single, Wrong              string
	}
	if err := json.Unmarshal(out, &res); err != nil {
		t.Fatalf("output %q: %v", out, err)
	}
	t.Logf("held-out exact match: tuned %.0f%%, base %.0f%%", 100*res.Tuned, 100*res.Base)
	if res.Tuned < 0.9 || res.Base > 0.2 {
		t.Errorf("exact match tuned %.2f (want ≥ 0.9), base %.2f (want ≤ 0.2)", res.Tuned, res.Base)
	}
	if res.Conflict != "ConflictException" {
		t.Errorf("deleting the custom model behind a Provisioned Throughput: %s", res.Conflict)
	}
	// The job tuned the model on raw prompt/completion records, so through the
	// chat template it may well answer with EOS at once: the text may be empty,
	// but the response must be well formed and agree with the stream.
	switch res.ConverseStop {
	case "end_turn", "max_tokens", "stop_sequence":
	default:
		t.Errorf("converse stopReason %q", res.ConverseStop)
	}
	if res.ConverseRole != "assistant" || res.ConverseInputTokens <= 0 {
		t.Errorf("converse role %q, inputTokens %d", res.ConverseRole, res.ConverseInputTokens)
	}
	if res.ConverseText != res.ConverseStreamed {
		t.Errorf("converse text %q, converse_stream text %q (greedy: want equal)", res.ConverseText, res.ConverseStreamed)
	}
	if n := len(res.Events); n < 4 || res.Events[0] != "messageStart" || res.Events[n-1] != "metadata" {
		t.Errorf("converse_stream events %v", res.Events)
	}
	if res.Streamed != res.Single || res.LastChunk["amazon-bedrock-invocationMetrics"] == nil {
		t.Errorf("stream %q vs %q; last chunk %v", res.Streamed, res.Single, res.LastChunk)
	}
	if res.Wrong != "ValidationException" {
		t.Errorf("wrong-family body: %s", res.Wrong)
	}
}
