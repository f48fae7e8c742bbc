//go:build integration

// Package integration runs the real strata binary on 127.0.0.1:0 and drives
// it with the official clients: the AWS SDK for Go v2, boto3 and the aws CLI.
// The binaries are built once per test run (TestMain). Runtime tests (the
// serving side) add their own files and reuse StartServer / Bedrock / S3.
package integration

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/bedrock"
	"github.com/aws/aws-sdk-go-v2/service/s3"
)

// Binaries built once by TestMain.
var bins struct {
	dir, strata, faketrain string
}

const (
	testAKID   = "AKIDSTRATATEST"
	testSecret = "strata-test-secret"
	testAcct   = "123456789012"
	testRegion = "us-east-1"
)

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "strata-it-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	bins.dir = dir
	bins.strata = filepath.Join(dir, "strata")
	bins.faketrain = filepath.Join(dir, "faketrain")
	root, _ := filepath.Abs("..")
	for out, pkg := range map[string]string{bins.strata: "./cmd/strata", bins.faketrain: "./integration/faketrain"} {
		cmd := exec.Command("go", "build", "-o", out, pkg)
		cmd.Dir = root
		if b, err := cmd.CombinedOutput(); err != nil {
			fmt.Fprintf(os.Stderr, "build %s: %v\n%s", pkg, err, b)
			os.Exit(1)
		}
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// Server is a running strata server process.
type Server struct {
	t        testing.TB
	cmd      *exec.Cmd
	DataDir  string
	Endpoint string
	done     chan struct{}
	mu       sync.Mutex
	logs     bytes.Buffer
}

// StartServer starts "strata server" on a free loopback port with the test
// credentials; env adds or overrides environment variables (KEY=VALUE). By
// default jobs run in the fake child (STRATA_TRAIN_COMMAND) and the starter
// model is not built (STRATA_NO_STARTER=1); pass "STRATA_TRAIN_COMMAND=" and
// "STRATA_NO_STARTER=0" for the real thing.
func StartServer(t testing.TB, dataDir string, env ...string) *Server {
	t.Helper()
	cmd := exec.Command(bins.strata, "server", "--data-dir", dataDir, "--addr", "127.0.0.1:0")
	cmd.Env = append(os.Environ(),
		"STRATA_ACCESS_KEY_ID="+testAKID, "STRATA_SECRET_ACCESS_KEY="+testSecret, "STRATA_ACCOUNT_ID="+testAcct,
		"STRATA_TRAIN_COMMAND="+bins.faketrain+" train", "STRATA_NO_STARTER=1", "STRATA_LOG_LEVEL=debug")
	cmd.Env = append(cmd.Env, env...)
	s := &Server{t: t, cmd: cmd, DataDir: dataDir, done: make(chan struct{})}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = writerFunc(func(p []byte) (int, error) {
		s.mu.Lock()
		defer s.mu.Unlock()
		return s.logs.Write(p)
	})
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	endpoint := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			if ep, ok := strings.CutPrefix(strings.TrimSpace(sc.Text()), "endpoint: "); ok {
				endpoint <- ep
			}
		}
		_, _ = io.Copy(io.Discard, stdout)
	}()
	go func() { _ = cmd.Wait(); close(s.done) }()
	select {
	case s.Endpoint = <-endpoint:
	case <-s.done:
		t.Fatalf("server exited at startup:\n%s", s.Logs())
	case <-time.After(60 * time.Second):
		s.Kill9()
		t.Fatalf("server did not start:\n%s", s.Logs())
	}
	t.Cleanup(func() {
		s.Stop()
		if t.Failed() {
			t.Logf("server log (tail):\n%s", tail(s.Logs(), 6000))
		}
	})
	return s
}

type writerFunc func([]byte) (int, error)

func (f writerFunc) Write(p []byte) (int, error) { return f(p) }

func tail(s string, n int) string {
	if len(s) > n {
		return s[len(s)-n:]
	}
	return s
}

// Logs returns the server's stderr so far.
func (s *Server) Logs() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.logs.String()
}

// Kill9 kills the server with SIGKILL and waits for it to exit.
func (s *Server) Kill9() {
	_ = s.cmd.Process.Signal(syscall.SIGKILL)
	<-s.done
}

// Stop asks the server to shut down (SIGTERM) and waits.
func (s *Server) Stop() {
	select {
	case <-s.done:
		return
	default:
	}
	_ = s.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-s.done:
	case <-time.After(60 * time.Second):
		s.Kill9()
	}
}

func creds(akid, secret string) aws.CredentialsProvider {
	return aws.CredentialsProviderFunc(func(context.Context) (aws.Credentials, error) {
		return aws.Credentials{AccessKeyID: akid, SecretAccessKey: secret, Source: "test"}, nil
	})
}

// Bedrock returns a Go SDK control-plane client for the test credentials.
func (s *Server) Bedrock() *bedrock.Client {
	return bedrock.New(bedrock.Options{Region: testRegion, BaseEndpoint: aws.String(s.Endpoint), Credentials: creds(testAKID, testSecret)})
}

// S3 returns a Go SDK S3 client (path-style) for the test credentials.
func (s *Server) S3() *s3.Client {
	return s3.New(s3.Options{Region: testRegion, BaseEndpoint: aws.String(s.Endpoint), Credentials: creds(testAKID, testSecret), UsePathStyle: true})
}

// Strata runs a strata CLI command and returns its stdout.
func Strata(t testing.TB, args ...string) string {
	t.Helper()
	cmd := exec.Command(bins.strata, args...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		t.Fatalf("strata %v: %v\n%s%s", args, err, out.String(), errb.String())
	}
	return out.String()
}

// testModelID is the operator-registered model the fake-child tests train.
const testModelID = "meta.llama3-2-1b-instruct-v1:0"

// RegisterTestModel registers testModelID (a placeholder HF dir) in dataDir.
func RegisterTestModel(t testing.TB, dataDir string) {
	t.Helper()
	md := filepath.Join(dataDir, "hf-model")
	if err := os.MkdirAll(md, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(md, "config.json"), []byte(`{"architectures":["LlamaForCausalLM"]}`), 0o644); err != nil {
		t.Fatal(err)
	}
	Strata(t, "models", "add", "--data-dir", dataDir, "--id", testModelID, "--dir", md, "--family", "llama")
}

// Eventually polls cond until it returns true or the deadline passes.
func Eventually(t testing.TB, timeout time.Duration, what string, cond func() (bool, error)) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		ok, err := cond()
		if err != nil {
			t.Fatalf("%s: %v", what, err)
		}
		if ok {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(100 * time.Millisecond) // polling a separate process with a deadline
	}
}

func trainLines(n int) string {
	var b strings.Builder
	for i := range n {
		fmt.Fprintf(&b, "{\"prompt\": \"What is %d + %d?\", \"completion\": \"%d\"}\n", i, i, 2*i)
	}
	return b.String()
}
