//go:build integration

package integration

import (
	"errors"
	"path/filepath"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/bedrock"
	bdtypes "github.com/aws/aws-sdk-go-v2/service/bedrock/types"
	"github.com/aws/aws-sdk-go-v2/service/bedrockruntime"

	"github.com/strata-ml/strata/engine/starter"
)

// TestProvisionKill9Restart checks that a Provisioned Throughput the API
// acknowledged survives kill -9 of the server (the record is committed to
// the metadata store before the 2xx), serves after the restart, and that a
// delete is as durable; the per-account unit quota comes from
// STRATA_MAX_MODEL_UNITS.
func TestProvisionKill9Restart(t *testing.T) {
	dir := t.TempDir()
	md, err := starter.EnsureWith(t.Context(), filepath.Join(dir, "tiny"), starter.Options{PretrainEpochs: -1, VocabSize: 512})
	if err != nil {
		t.Fatal(err)
	}
	Strata(t, "models", "add", "--data-dir", dir, "--id", tinyModelID, "--dir", md, "--family", "llama")
	env := []string{"STRATA_NO_STARTER=1", "STRATA_MAX_MODEL_UNITS=2", "STRATA_MODEL_LOAD_WAIT=30s"}
	srv := StartServer(t, dir, env...)
	ctx := t.Context()
	cp := srv.Bedrock()
	var quota *bdtypes.ServiceQuotaExceededException
	if _, err := cp.CreateProvisionedModelThroughput(ctx, &bedrock.CreateProvisionedModelThroughputInput{ModelId: aws.String(tinyModelID),
		ModelUnits: aws.Int32(3), ProvisionedModelName: aws.String("too-big")}); !errors.As(err, &quota) {
		t.Fatalf("3 units over a quota of 2: %v, want ServiceQuotaExceededException", err)
	}
	pt, err := cp.CreateProvisionedModelThroughput(ctx, &bedrock.CreateProvisionedModelThroughputInput{ModelId: aws.String(tinyModelID),
		ModelUnits: aws.Int32(2), ProvisionedModelName: aws.String("durable-pt")})
	if err != nil {
		t.Fatal(err)
	}
	srv.Kill9() // right after the 2xx, while the model may still be loading

	srv = StartServer(t, dir, env...)
	cp = srv.Bedrock()
	Eventually(t, time.Minute, "InService after the restart", func() (bool, error) {
		g, err := cp.GetProvisionedModelThroughput(ctx, &bedrock.GetProvisionedModelThroughputInput{ProvisionedModelId: aws.String("durable-pt")})
		if err != nil {
			return false, err
		}
		if aws.ToString(g.ProvisionedModelArn) != aws.ToString(pt.ProvisionedModelArn) || aws.ToInt32(g.ModelUnits) != 2 {
			t.Fatalf("after restart: %+v", g)
		}
		return g.Status == bdtypes.ProvisionedModelStatusInService, nil
	})
	rt := srv.Runtime()
	body := []byte(`{"prompt":"hello","max_gen_len":4}`)
	if _, err := rt.InvokeModel(ctx, &bedrockruntime.InvokeModelInput{ModelId: aws.String("durable-pt"), Body: body}); err != nil {
		t.Fatalf("InvokeModel through the restored throughput: %v", err)
	}
	var ve *bdtypes.ValidationException
	if _, err := cp.CreateProvisionedModelThroughput(ctx, &bedrock.CreateProvisionedModelThroughputInput{ModelId: aws.String(tinyModelID),
		ModelUnits: aws.Int32(1), ProvisionedModelName: aws.String("durable-pt")}); !errors.As(err, &ve) {
		t.Fatalf("a second throughput named durable-pt: %v, want ValidationException", err)
	}
	if _, err := cp.DeleteProvisionedModelThroughput(ctx, &bedrock.DeleteProvisionedModelThroughputInput{ProvisionedModelId: aws.String("durable-pt")}); err != nil {
		t.Fatal(err)
	}
	srv.Kill9()

	srv = StartServer(t, dir, env...)
	var nf *bdtypes.ResourceNotFoundException
	if _, err := srv.Bedrock().GetProvisionedModelThroughput(ctx, &bedrock.GetProvisionedModelThroughputInput{ProvisionedModelId: aws.String("durable-pt")}); !errors.As(err, &nf) {
		t.Fatalf("deleted throughput after kill -9: %v, want ResourceNotFoundException", err)
	}
}
