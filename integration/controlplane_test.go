//go:build integration

package integration

import (
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
	"github.com/aws/smithy-go"
)

func putObject(t *testing.T, c *s3.Client, bucket, key, body string) {
	t.Helper()
	if _, err := c.PutObject(t.Context(), &s3.PutObjectInput{Bucket: aws.String(bucket), Key: aws.String(key), Body: strings.NewReader(body)}); err != nil {
		t.Fatalf("PutObject %s/%s: %v", bucket, key, err)
	}
}

func createBucket(t *testing.T, c *s3.Client, bucket string) {
	t.Helper()
	if _, err := c.CreateBucket(t.Context(), &s3.CreateBucketInput{Bucket: aws.String(bucket)}); err != nil {
		var owned *s3types.BucketAlreadyOwnedByYou
		if !errors.As(err, &owned) {
			t.Fatalf("CreateBucket %s: %v", bucket, err)
		}
	}
}

func waitJob(t *testing.T, c *bedrock.Client, id string, timeout time.Duration, done func(*bedrock.GetModelCustomizationJobOutput) bool) *bedrock.GetModelCustomizationJobOutput {
	t.Helper()
	var out *bedrock.GetModelCustomizationJobOutput
	Eventually(t, timeout, "job "+id, func() (bool, error) {
		var err error
		out, err = c.GetModelCustomizationJob(t.Context(), &bedrock.GetModelCustomizationJobInput{JobIdentifier: aws.String(id)})
		if err != nil {
			return false, err
		}
		return done(out), nil
	})
	return out
}

func terminal(o *bedrock.GetModelCustomizationJobOutput) bool {
	return o.Status == types.ModelCustomizationJobStatusCompleted || o.Status == types.ModelCustomizationJobStatusFailed ||
		o.Status == types.ModelCustomizationJobStatusStopped
}

func jobInput(name string, epochs string) *bedrock.CreateModelCustomizationJobInput {
	return &bedrock.CreateModelCustomizationJobInput{
		JobName: aws.String(name), CustomModelName: aws.String(name + "-model"),
		RoleArn:             aws.String("arn:aws:iam::123456789012:role/BedrockRole"),
		BaseModelIdentifier: aws.String(testModelID), CustomizationType: types.CustomizationTypeFineTuning,
		HyperParameters:      map[string]string{"epochCount": epochs, "batchSize": "1", "learningRate": "0.0001"},
		TrainingDataConfig:   &types.TrainingDataConfig{S3Uri: aws.String("s3://data/train.jsonl")},
		ValidationDataConfig: &types.ValidationDataConfig{Validators: []types.Validator{{S3Uri: aws.String("s3://data/val.jsonl")}}},
		OutputDataConfig:     &types.OutputDataConfig{S3Uri: aws.String("s3://data/out/")},
		JobTags:              []types.Tag{{Key: aws.String("team"), Value: aws.String("ml")}},
		CustomModelTags:      []types.Tag{{Key: aws.String("stage"), Value: aws.String("dev")}},
	}
}

// TestGoSDKControlPlane drives every control-plane operation with the AWS
// SDK for Go v2 (service/bedrock v1.63.0): paginators, typed errors,
// idempotency, stop, tags, and the S3 endpoint for data and metrics.
func TestGoSDKControlPlane(t *testing.T) {
	dir := t.TempDir()
	RegisterTestModel(t, dir)
	srv := StartServer(t, dir, "STRATA_WORKERS=2", "STRATA_FAKE_STEP_MS=30")
	controlPlane(t, srv)
}

// TestGoSDKControlPlanePostgres runs the same flow with the metadata in
// PostgreSQL (a throwaway server from /usr/lib/postgresql/15/bin, or
// STRATA_TEST_POSTGRES).
func TestGoSDKControlPlanePostgres(t *testing.T) {
	url := StartPostgres(t)
	dir := t.TempDir()
	md := filepath.Join(dir, "hf-model")
	_ = os.MkdirAll(md, 0o755)
	_ = os.WriteFile(filepath.Join(md, "config.json"), []byte(`{}`), 0o644)
	Strata(t, "models", "add", "--data-dir", dir, "--database-url", url, "--id", testModelID, "--dir", md)
	srv := StartServer(t, dir, "STRATA_WORKERS=2", "STRATA_FAKE_STEP_MS=30", "STRATA_DATABASE_URL="+url)
	controlPlane(t, srv)
}

func controlPlane(t *testing.T, srv *Server) {
	c, s3c := srv.Bedrock(), srv.S3()
	ctx := t.Context()

	createBucket(t, s3c, "data")
	putObject(t, s3c, "data", "train.jsonl", trainLines(8))
	putObject(t, s3c, "data", "val.jsonl", trainLines(2))
	// Long enough (2,000 steps at 30 ms) that the stop always lands while
	// the child trains, however far the worker's event recording lags.
	putObject(t, s3c, "data", "long.jsonl", trainLines(200))

	fms, err := c.ListFoundationModels(ctx, &bedrock.ListFoundationModelsInput{ByCustomizationType: types.ModelCustomizationFineTuning})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.ContainsFunc(fms.ModelSummaries, func(m types.FoundationModelSummary) bool { return aws.ToString(m.ModelId) == testModelID }) {
		t.Fatalf("ListFoundationModels lacks %s: %+v", testModelID, fms.ModelSummaries)
	}
	fm, err := c.GetFoundationModel(ctx, &bedrock.GetFoundationModelInput{ModelIdentifier: aws.String(testModelID)})
	if err != nil || aws.ToString(fm.ModelDetails.ProviderName) != "Meta" {
		t.Fatalf("GetFoundationModel = %+v, %v", fm, err)
	}

	// Create, with an explicit token; the retry returns the same ARN.
	in := jobInput("sdk-job", "2")
	in.ClientRequestToken = aws.String("sdk-token-1")
	first, err := c.CreateModelCustomizationJob(ctx, in)
	if err != nil {
		t.Fatal(err)
	}
	again, err := c.CreateModelCustomizationJob(ctx, in)
	if err != nil || aws.ToString(again.JobArn) != aws.ToString(first.JobArn) {
		t.Fatalf("idempotent retry = %v, %v; want %s", again, err, aws.ToString(first.JobArn))
	}
	// A job to stop (long), and a second quick one (SDK fills the token).
	long := jobInput("sdk-stop", "10")
	long.TrainingDataConfig.S3Uri = aws.String("s3://data/long.jsonl")
	stopArn, err := c.CreateModelCustomizationJob(ctx, long)
	if err != nil {
		t.Fatal(err)
	}
	second, err := c.CreateModelCustomizationJob(ctx, jobInput("sdk-job-2", "1"))
	if err != nil {
		t.Fatal(err)
	}
	waitJob(t, c, aws.ToString(stopArn.JobArn), time.Minute, func(o *bedrock.GetModelCustomizationJobOutput) bool {
		return o.StatusDetails != nil && o.StatusDetails.TrainingDetails != nil && o.StatusDetails.TrainingDetails.Status == types.JobStatusDetailsInProgress
	})
	if _, err := c.StopModelCustomizationJob(ctx, &bedrock.StopModelCustomizationJobInput{JobIdentifier: aws.String("sdk-stop")}); err != nil {
		t.Fatal(err)
	}
	stopped := waitJob(t, c, "sdk-stop", time.Minute, terminal)
	if stopped.Status != types.ModelCustomizationJobStatusStopped || stopped.EndTime == nil {
		t.Errorf("stopped job = %s (%s)", stopped.Status, aws.ToString(stopped.FailureMessage))
	}

	done := waitJob(t, c, aws.ToString(first.JobArn), 2*time.Minute, terminal)
	if done.Status != types.ModelCustomizationJobStatusCompleted {
		t.Fatalf("job = %s: %s", done.Status, aws.ToString(done.FailureMessage))
	}
	if done.TrainingMetrics == nil || done.TrainingMetrics.TrainingLoss == nil || len(done.ValidationMetrics) != 1 || done.OutputModelArn == nil {
		t.Errorf("completed job lacks metrics/model: %+v", done)
	}
	if done.StatusDetails.ValidationDetails.Status != types.JobStatusDetailsCompleted || done.StatusDetails.TrainingDetails.Status != types.JobStatusDetailsCompleted {
		t.Errorf("statusDetails = %+v", done.StatusDetails)
	}
	if done.HyperParameters["epochCount"] != "2" || aws.ToString(done.ClientRequestToken) != "sdk-token-1" {
		t.Errorf("echo = %v %v", done.HyperParameters, aws.ToString(done.ClientRequestToken))
	}
	waitJob(t, c, aws.ToString(second.JobArn), 2*time.Minute, terminal)

	// Metrics CSVs through the S3 endpoint.
	id := aws.ToString(first.JobArn)[strings.LastIndex(aws.ToString(first.JobArn), "/")+1:]
	obj, err := s3c.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String("data"), Key: aws.String("out/model-customization-job-" + id + "/training_artifacts/step_wise_training_metrics.csv")})
	if err != nil {
		t.Fatal(err)
	}
	csv, _ := io.ReadAll(obj.Body)
	obj.Body.Close()
	if !strings.HasPrefix(string(csv), "step_number,epoch_number,training_loss,perplexity\n") || strings.Count(string(csv), "\n") != 17 {
		t.Errorf("training metrics csv:\n%s", csv)
	}

	// Paginators over every job and model.
	var names []string
	p := bedrock.NewListModelCustomizationJobsPaginator(c, &bedrock.ListModelCustomizationJobsInput{MaxResults: aws.Int32(1), SortOrder: types.SortOrderAscending})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			t.Fatal(err)
		}
		for _, s := range page.ModelCustomizationJobSummaries {
			names = append(names, aws.ToString(s.JobName))
		}
	}
	if want := []string{"sdk-job", "sdk-stop", "sdk-job-2"}; !slices.Equal(names, want) {
		t.Errorf("paginated jobs = %v, want %v", names, want)
	}
	var models []string
	mp := bedrock.NewListCustomModelsPaginator(c, &bedrock.ListCustomModelsInput{MaxResults: aws.Int32(1)})
	for mp.HasMorePages() {
		page, err := mp.NextPage(ctx)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range page.ModelSummaries {
			models = append(models, aws.ToString(m.ModelName))
			if m.ModelStatus != types.ModelStatusActive || aws.ToString(m.BaseModelName) != "meta.llama3-2-1b-instruct-v1" {
				t.Errorf("model summary = %+v", m)
			}
		}
	}
	if len(models) != 2 {
		t.Errorf("custom models = %v, want 2", models)
	}
	filtered, err := c.ListModelCustomizationJobs(ctx, &bedrock.ListModelCustomizationJobsInput{StatusEquals: types.FineTuningJobStatusStopped})
	if err != nil || len(filtered.ModelCustomizationJobSummaries) != 1 {
		t.Errorf("statusEquals=Stopped = %+v, %v", filtered, err)
	}

	cm, err := c.GetCustomModel(ctx, &bedrock.GetCustomModelInput{ModelIdentifier: done.OutputModelArn})
	if err != nil {
		t.Fatal(err)
	}
	if aws.ToString(cm.ModelName) != "sdk-job-model" || cm.ModelStatus != types.ModelStatusActive || aws.ToString(cm.JobArn) != aws.ToString(first.JobArn) ||
		cm.TrainingMetrics == nil || len(cm.ValidationMetrics) != 1 {
		t.Errorf("GetCustomModel = %+v", cm)
	}
	if _, err := c.GetCustomModel(ctx, &bedrock.GetCustomModelInput{ModelIdentifier: aws.String("sdk-job-model")}); err != nil {
		t.Errorf("GetCustomModel by name: %v", err)
	}

	// Tags: customModelTags applied at registration; tag, untag, list.
	tags, err := c.ListTagsForResource(ctx, &bedrock.ListTagsForResourceInput{ResourceARN: cm.ModelArn})
	if err != nil || len(tags.Tags) != 1 || aws.ToString(tags.Tags[0].Key) != "stage" {
		t.Errorf("model tags = %+v, %v", tags, err)
	}
	if _, err := c.TagResource(ctx, &bedrock.TagResourceInput{ResourceARN: cm.ModelArn, Tags: []types.Tag{{Key: aws.String("owner"), Value: aws.String("me")}}}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.UntagResource(ctx, &bedrock.UntagResourceInput{ResourceARN: cm.ModelArn, TagKeys: []string{"stage"}}); err != nil {
		t.Fatal(err)
	}
	tags, _ = c.ListTagsForResource(ctx, &bedrock.ListTagsForResourceInput{ResourceARN: cm.ModelArn})
	if len(tags.Tags) != 1 || aws.ToString(tags.Tags[0].Key) != "owner" {
		t.Errorf("after tag/untag = %+v", tags.Tags)
	}
	jobTags, _ := c.ListTagsForResource(ctx, &bedrock.ListTagsForResourceInput{ResourceARN: first.JobArn})
	if len(jobTags.Tags) != 1 {
		t.Errorf("job tags = %+v", jobTags.Tags)
	}

	// Typed errors.
	_, err = c.GetCustomModel(ctx, &bedrock.GetCustomModelInput{ModelIdentifier: aws.String("nope")})
	if _, ok := errors.AsType[*types.ResourceNotFoundException](err); !ok {
		t.Errorf("GetCustomModel(nope) = %T %v", err, err)
	}
	bad := jobInput("-bad-", "1")
	_, err = c.CreateModelCustomizationJob(ctx, bad)
	if _, ok := errors.AsType[*types.ValidationException](err); !ok {
		t.Errorf("bad jobName = %T %v", err, err)
	}
	_, err = c.StopModelCustomizationJob(ctx, &bedrock.StopModelCustomizationJobInput{JobIdentifier: aws.String("sdk-job")})
	if _, ok := errors.AsType[*types.ConflictException](err); !ok {
		t.Errorf("stop completed job = %T %v", err, err)
	}
	_, err = c.CreateModelCustomizationJob(ctx, jobInput("sdk-job", "1"))
	if _, ok := errors.AsType[*types.ConflictException](err); !ok {
		t.Errorf("duplicate job name = %T %v", err, err)
	}
	hp := jobInput("hp", "99")
	_, err = c.CreateModelCustomizationJob(ctx, hp)
	if e, ok := errors.AsType[*types.ValidationException](err); !ok || !strings.Contains(e.ErrorMessage(), "epochCount") {
		t.Errorf("epochCount 99 = %T %v", err, err)
	}
	badSig := bedrock.New(bedrock.Options{Region: testRegion, BaseEndpoint: aws.String(srv.Endpoint), Credentials: creds(testAKID, "wrong")})
	_, err = badSig.ListCustomModels(ctx, &bedrock.ListCustomModelsInput{})
	if ae, ok := errors.AsType[smithy.APIError](err); !ok || ae.ErrorCode() != "InvalidSignatureException" {
		t.Errorf("wrong secret = %v", err)
	}
	unknown := bedrock.New(bedrock.Options{Region: testRegion, BaseEndpoint: aws.String(srv.Endpoint), Credentials: creds("AKIDUNKNOWN", "x")})
	_, err = unknown.ListCustomModels(ctx, &bedrock.ListCustomModelsInput{})
	if ae, ok := errors.AsType[smithy.APIError](err); !ok || ae.ErrorCode() != "UnrecognizedClientException" {
		t.Errorf("unknown key = %v", err)
	}

	// Delete.
	if _, err := c.DeleteCustomModel(ctx, &bedrock.DeleteCustomModelInput{ModelIdentifier: cm.ModelArn}); err != nil {
		t.Fatal(err)
	}
	_, err = c.GetCustomModel(ctx, &bedrock.GetCustomModelInput{ModelIdentifier: cm.ModelArn})
	if _, ok := errors.AsType[*types.ResourceNotFoundException](err); !ok {
		t.Errorf("after delete = %v", err)
	}
}
