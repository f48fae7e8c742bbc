//go:build integration

package sigv4_test

import (
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"

	"github.com/strata-ml/strata/internal/sigv4"
)

// botocoreScript signs Bedrock control-plane and runtime calls with botocore
// (an independent SigV4 implementation): ARN path labels, query strings,
// JSON bodies, and a wrong secret that must be refused.
const botocoreScript = `
import sys, boto3
from botocore.config import Config
ep, secret = sys.argv[1], sys.argv[2]
cfg = Config(retries={"max_attempts": 1})
def client(name, sec):
    return boto3.client(name, endpoint_url=ep, region_name="us-east-1", aws_access_key_id="AKIDEXAMPLE", aws_secret_access_key=sec, config=cfg)
br = client("bedrock", secret)
arn = "arn:aws:bedrock:us-east-1:123456789012:custom-model/amazon.titan-text-express-v1:0:8k/abcdefghijkl"
br.get_custom_model(modelIdentifier=arn)
br.list_custom_models(nameContains="a b+c/d", maxResults=5)
br.stop_model_customization_job(jobIdentifier="job name with spaces")
client("bedrock-runtime", secret).invoke_model(modelId=arn, body=b'{"prompt":"hi \\u00e9"}', contentType="application/json")
try:
    client("bedrock", "wrong").list_custom_models()
    raise SystemExit("a wrong secret was accepted")
except br.exceptions.ClientError as e:
    assert e.response["Error"]["Code"] == "InvalidSignatureException", e.response
print("botocore ok")
`

func TestBotocoreBedrock(t *testing.T) {
	py, err := exec.LookPath("python3")
	if err == nil {
		err = exec.Command(py, "-c", "import boto3").Run()
	}
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("python3 with boto3 required under CI=true: %v", err)
		}
		t.Skipf("python3 with boto3 not available: %v", err)
	}
	v := sigv4.New(sigv4.Options{Services: []string{"bedrock"}, Lookup: lookup})
	var mu sync.Mutex
	var seen []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, err := v.Verify(r)
		mu.Lock()
		seen = append(seen, r.Method+" "+r.URL.EscapedPath()+" -> "+errString(err))
		mu.Unlock()
		if err != nil {
			e, _ := errors.AsType[*sigv4.Error](err)
			code, status := e.Bedrock()
			w.Header().Set("X-Amzn-ErrorType", code)
			w.WriteHeader(status)
			io.WriteString(w, `{"message":"denied"}`)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, `{}`)
	}))
	defer srv.Close()
	cmd := exec.CommandContext(t.Context(), py, "-c", botocoreScript, srv.URL, testSecret)
	cmd.Env = append(os.Environ(), "AWS_CONFIG_FILE=/nonexistent", "AWS_SHARED_CREDENTIALS_FILE=/nonexistent", "AWS_EC2_METADATA_DISABLED=true")
	out, err := cmd.CombinedOutput()
	t.Logf("requests:\n%s", strings.Join(seen, "\n"))
	if err != nil || !strings.Contains(string(out), "botocore ok") {
		t.Fatalf("botocore script: %v\n%s", err, out)
	}
}

func errString(err error) string {
	if err == nil {
		return "ok"
	}
	return err.Error()
}
