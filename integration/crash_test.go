//go:build integration

package integration

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/aws/aws-sdk-go-v2/service/bedrock"
	"github.com/aws/aws-sdk-go-v2/service/bedrock/types"
)

// strataGet GETs one of Strata's own /strata/v1 paths, SigV4-signed.
func strataGet(t *testing.T, srv *Server, path string, v any) {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), "GET", srv.Endpoint+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(nil)
	err = v4.NewSigner().SignHTTP(t.Context(), aws.Credentials{AccessKeyID: testAKID, SecretAccessKey: testSecret},
		req, hex.EncodeToString(sum[:]), "bedrock", testRegion, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	if res.StatusCode != 200 {
		t.Fatalf("GET %s = %d %s", path, res.StatusCode, b)
	}
	if err := json.Unmarshal(b, v); err != nil {
		t.Fatalf("GET %s: %v: %s", path, err, b)
	}
}

type jobMetrics struct {
	Status   string `json:"status"`
	Step     int    `json:"step"`
	Training []struct {
		Step int     `json:"step"`
		Loss float64 `json:"loss"`
	} `json:"trainingMetrics"`
}

// TestKill9ResumesJob kills the server with SIGKILL while a job trains and a
// second one waits in the queue, restarts it on the same data dir, and
// checks that both jobs finish Completed (the first from its checkpoint)
// and no record is lost.
func TestKill9ResumesJob(t *testing.T) {
	dir := t.TempDir()
	RegisterTestModel(t, dir)
	env := []string{"STRATA_FAKE_STEP_MS=120", "STRATA_WORKERS=1"}
	srv := StartServer(t, dir, env...)
	c, s3c := srv.Bedrock(), srv.S3()
	createBucket(t, s3c, "data")
	putObject(t, s3c, "data", "train.jsonl", trainLines(12))
	putObject(t, s3c, "data", "val.jsonl", trainLines(2))
	a, err := c.CreateModelCustomizationJob(t.Context(), jobInput("crash-a", "2"))
	if err != nil {
		t.Fatal(err)
	}
	b, err := c.CreateModelCustomizationJob(t.Context(), jobInput("crash-b", "1"))
	if err != nil {
		t.Fatal(err)
	}
	idA := aws.ToString(a.JobArn)
	path := "/strata/v1/jobs/" + strings.NewReplacer(":", "%3A", "/", "%2F").Replace(idA) + "/metrics"
	Eventually(t, time.Minute, "job A past its first checkpoint", func() (bool, error) {
		var m jobMetrics
		strataGet(t, srv, path, &m)
		return m.Step >= 7, nil
	})
	srv.Kill9()

	srv2 := StartServer(t, dir, env...)
	c2 := srv2.Bedrock()
	for _, arn := range []string{idA, aws.ToString(b.JobArn)} {
		j := waitJob(t, c2, arn, 3*time.Minute, terminal)
		if j.Status != types.ModelCustomizationJobStatusCompleted {
			t.Fatalf("%s after restart: %s %s", aws.ToString(j.JobName), j.Status, aws.ToString(j.FailureMessage))
		}
	}
	var m jobMetrics
	strataGet(t, srv2, path, &m)
	seen := map[int]bool{}
	for _, s := range m.Training {
		seen[s.Step] = true
	}
	for s := 1; s <= 24; s++ {
		if !seen[s] {
			t.Errorf("step %d never reported (steps %v)", s, m.Training)
		}
	}
	// The resumed run starts from the checkpoint at step 5 or 10, not from 0:
	// at most the steps since the last checkpoint are repeated.
	if n := len(m.Training); n > 24+5 {
		t.Errorf("%d step events: resumed from scratch, not from the checkpoint", n)
	}
	list, err := c2.ListModelCustomizationJobs(t.Context(), &bedrock.ListModelCustomizationJobsInput{})
	if err != nil || len(list.ModelCustomizationJobSummaries) != 2 {
		t.Errorf("jobs after restart = %+v, %v", list, err)
	}
	logs := srv2.Logs()
	if !strings.Contains(logs, "reclaimed leases after restart") {
		t.Errorf("restart did not reclaim the lease:\n%s", tail(logs, 3000))
	}
}
