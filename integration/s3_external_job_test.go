//go:build integration

package integration

import (
	"encoding/json"
	"errors"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/bedrock"
	"github.com/aws/aws-sdk-go-v2/service/bedrock/types"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	s3types "github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/strata-ml/strata/internal/testenv"
)

// listKeys lists every key under prefix.
func listKeys(t *testing.T, c *s3.Client, bucket, prefix string) []string {
	t.Helper()
	var keys []string
	p := s3.NewListObjectsV2Paginator(c, &s3.ListObjectsV2Input{Bucket: aws.String(bucket), Prefix: aws.String(prefix)})
	for p.HasMorePages() {
		page, err := p.NextPage(t.Context())
		if err != nil {
			t.Fatalf("ListObjectsV2 %s/%s: %v", bucket, prefix, err)
		}
		for _, o := range page.Contents {
			keys = append(keys, aws.ToString(o.Key))
		}
	}
	return keys
}

// TestExternalS3JobData runs customization jobs whose data lives in the
// embedded store and in a real MinIO mapped by the "buckets" config: each
// reads its training and validation data from its own store and writes the
// metrics CSVs back there; a bucket mapped to an endpoint with nothing
// listening fails its job with a failureMessage that names the bucket and
// the refused connection instead of leaving it in progress.
func TestExternalS3JobData(t *testing.T) {
	ctx := t.Context()
	ep, user, pw := testenv.MinIO(t)
	minio := s3.New(s3.Options{Region: testRegion, BaseEndpoint: aws.String(ep), UsePathStyle: true, Credentials: creds(user, pw)})
	createBucket(t, minio, "ext-data")
	putObject(t, minio, "ext-data", "in/train.jsonl", trainLines(8))
	putObject(t, minio, "ext-data", "in/val.jsonl", trainLines(2))

	dir := t.TempDir()
	RegisterTestModel(t, dir)
	cfg := map[string]any{"buckets": map[string]any{
		"ext-data": map[string]any{"endpoint": ep, "region": testRegion, "pathStyle": true, "accessKeyId": user, "secretAccessKey": pw},
		"ext-down": map[string]any{"endpoint": "http://" + testenv.LoopbackAddr(t), "pathStyle": true, "accessKeyId": "AKIDDOWN", "secretAccessKey": "down-secret"},
	}}
	b, _ := json.Marshal(cfg)
	cfgPath := filepath.Join(t.TempDir(), "strata.json")
	if err := os.WriteFile(cfgPath, b, 0o600); err != nil {
		t.Fatal(err)
	}
	srv := StartServer(t, dir, "STRATA_CONFIG="+cfgPath, "STRATA_WORKERS=3", "STRATA_FAKE_STEP_MS=20")
	c, embedded := srv.Bedrock(), srv.S3()
	createBucket(t, embedded, "data")
	putObject(t, embedded, "data", "train.jsonl", trainLines(8))
	putObject(t, embedded, "data", "val.jsonl", trainLines(2))

	create := func(in *bedrock.CreateModelCustomizationJobInput) (arn, id string) {
		t.Helper()
		out, err := c.CreateModelCustomizationJob(ctx, in)
		if err != nil {
			t.Fatalf("CreateModelCustomizationJob %s: %v", aws.ToString(in.JobName), err)
		}
		arn = aws.ToString(out.JobArn)
		return arn, arn[strings.LastIndex(arn, "/")+1:]
	}
	embArn, embID := create(jobInput("embedded-job", "1"))
	ext := jobInput("minio-job", "1")
	ext.TrainingDataConfig.S3Uri = aws.String("s3://ext-data/in/train.jsonl")
	ext.ValidationDataConfig.Validators[0].S3Uri = aws.String("s3://ext-data/in/val.jsonl")
	ext.OutputDataConfig.S3Uri = aws.String("s3://ext-data/out/")
	extArn, extID := create(ext)
	down := jobInput("down-job", "1")
	down.TrainingDataConfig.S3Uri = aws.String("s3://ext-down/train.jsonl")
	down.ValidationDataConfig = nil
	down.OutputDataConfig.S3Uri = aws.String("s3://data/out-down/")
	downArn, _ := create(down)

	for _, arn := range []string{embArn, extArn} {
		o := waitJob(t, c, arn, 2*time.Minute, terminal)
		if o.Status != types.ModelCustomizationJobStatusCompleted {
			t.Fatalf("job %s = %s (%s), want Completed", arn, o.Status, aws.ToString(o.FailureMessage))
		}
	}
	artifacts := []string{
		"training_artifacts/step_wise_training_metrics.csv",
		"validation_artifacts/post_fine_tuning_validation/validation/validation_metrics.csv",
	}
	// The MinIO job's outputs are in MinIO and not in the embedded store.
	got := listKeys(t, minio, "ext-data", "out/model-customization-job-"+extID+"/")
	for _, a := range artifacts {
		if !slices.Contains(got, "out/model-customization-job-"+extID+"/"+a) {
			t.Errorf("MinIO lacks %s; has %v", a, got)
		}
	}
	obj, err := minio.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String("ext-data"), Key: aws.String("out/model-customization-job-" + extID + "/" + artifacts[0])})
	if err != nil {
		t.Fatal(err)
	}
	csv, err := io.ReadAll(obj.Body)
	obj.Body.Close()
	if err != nil || !strings.HasPrefix(string(csv), "step_number,epoch_number,training_loss,perplexity\n") || strings.Count(string(csv), "\n") != 9 {
		t.Errorf("MinIO training metrics csv (8 records, one epoch), %v:\n%s", err, csv)
	}
	_, err = embedded.HeadBucket(ctx, &s3.HeadBucketInput{Bucket: aws.String("ext-data")})
	var nf *s3types.NotFound
	if !errors.As(err, &nf) {
		t.Errorf("embedded store HeadBucket(ext-data) = %v, want NotFound", err)
	}
	// The embedded job's outputs are in the embedded store and not in MinIO.
	got = listKeys(t, embedded, "data", "out/model-customization-job-"+embID+"/")
	for _, a := range artifacts {
		if !slices.Contains(got, "out/model-customization-job-"+embID+"/"+a) {
			t.Errorf("embedded store lacks %s; has %v", a, got)
		}
	}
	if got := listKeys(t, embedded, "data", "out/model-customization-job-"+extID+"/"); len(got) != 0 {
		t.Errorf("MinIO job's outputs also in the embedded store: %v", got)
	}
	_, err = minio.HeadBucket(ctx, &s3.HeadBucketInput{Bucket: aws.String("data")})
	if !errors.As(err, &nf) {
		t.Errorf("MinIO HeadBucket(data) = %v, want NotFound", err)
	}

	// The unreachable mapping fails (after the crash retries), not stuck.
	o := waitJob(t, c, downArn, 3*time.Minute, terminal)
	msg := aws.ToString(o.FailureMessage)
	t.Logf("unreachable bucket job: %s: %s", o.Status, msg)
	if o.Status != types.ModelCustomizationJobStatusFailed || !strings.Contains(msg, "ext-down") || !strings.Contains(msg, "connection refused") {
		t.Errorf("unreachable bucket job = %s %q, want Failed naming ext-down and the refused connection", o.Status, msg)
	}
}
