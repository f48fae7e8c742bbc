package s3blob_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/strata-ml/strata/internal/blob"
	"github.com/strata-ml/strata/internal/blob/blobtest"
	"github.com/strata-ml/strata/internal/blob/diskblob"
	"github.com/strata-ml/strata/internal/blob/s3blob"
	"github.com/strata-ml/strata/internal/s3api"
	"github.com/strata-ml/strata/internal/sigv4"
)

var bucketSeq atomic.Int64

// conformance runs the blob suite against an S3 endpoint, one new bucket per subtest.
func conformance(t *testing.T, cfg s3blob.Config) {
	c, err := s3blob.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	blobtest.Run(t, func(t *testing.T) blob.Bucket {
		name := fmt.Sprintf("conf-%d-%d", time.Now().UnixNano()%1e6, bucketSeq.Add(1))
		if err := c.CreateBucket(t.Context(), name); err != nil {
			t.Fatal(err)
		}
		b, _ := c.Bucket(t.Context(), name)
		return b
	}, blobtest.Options{NoSHA256: true})
}

// TestConformanceEmbeddedEndpoint runs the suite through Strata's own S3
// endpoint: s3blob → HTTP → s3api → diskblob.
func TestConformanceEmbeddedEndpoint(t *testing.T) {
	t.Parallel()
	st, err := diskblob.Open(t.TempDir(), diskblob.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	lookup := func(_ context.Context, akid string) (string, string, error) {
		if akid == "AKIDSTRATA" {
			return "strata-secret", "111111111111", nil
		}
		return "", "", sigv4.ErrUnknownAccessKey
	}
	srv := httptest.NewServer(s3api.New(s3api.Options{Store: st, Lookup: lookup, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}))
	defer srv.Close()
	conformance(t, s3blob.Config{Endpoint: srv.URL, UsePathStyle: true, AccessKeyID: "AKIDSTRATA", SecretAccessKey: "strata-secret", PartSize: 5 << 20})
}

// minioBin returns the MinIO server binary ($STRATA_MINIO_BIN, else the
// deps.sh cache), skipping (failing under CI=true) when it is missing.
func minioBin(t testing.TB) string {
	p := os.Getenv("STRATA_MINIO_BIN")
	if p == "" {
		home, _ := os.UserHomeDir()
		cache := os.Getenv("STRATA_CACHE")
		if cache == "" {
			cache = home + "/.cache/strata"
		}
		p = cache + "/bin/minio"
	}
	if _, err := os.Stat(p); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("MinIO binary %s missing (scripts/deps.sh builds it): %v", p, err)
		}
		t.Skipf("MinIO binary %s missing (scripts/deps.sh builds it)", p)
	}
	return p
}

func freePort(t testing.TB) string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// startMinIO runs a MinIO server on a loopback port with a temporary data
// directory for the duration of t.
func startMinIO(t testing.TB) (endpoint, user, password string) {
	bin := minioBin(t)
	addr, console := freePort(t), freePort(t)
	var pw [12]byte
	rand.Read(pw[:])
	user, password = "strataminio", hex.EncodeToString(pw[:])
	cmd := exec.Command(bin, "server", "--quiet", "--address", addr, "--console-address", console, t.TempDir())
	cmd.Env = append(os.Environ(), "MINIO_ROOT_USER="+user, "MINIO_ROOT_PASSWORD="+password, "MINIO_BROWSER=off",
		"MINIO_UPDATE=off", "HOME="+t.TempDir())
	var logs strings.Builder
	cmd.Stdout, cmd.Stderr = &logs, &logs
	if err := cmd.Start(); err != nil {
		t.Fatalf("start minio: %v", err)
	}
	t.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
	})
	endpoint = "http://" + addr
	deadline := time.Now().Add(60 * time.Second)
	for {
		resp, err := http.Get(endpoint + "/minio/health/ready")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return endpoint, user, password
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("minio did not become ready: %v\n%s", err, logs.String())
		}
		time.Sleep(100 * time.Millisecond) // polling an external process, not waiting on test state
	}
}

// TestConformanceMinIO runs the suite against a real MinIO server.
func TestConformanceMinIO(t *testing.T) {
	t.Parallel()
	ep, user, pw := startMinIO(t)
	conformance(t, s3blob.Config{Endpoint: ep, UsePathStyle: true, AccessKeyID: user, SecretAccessKey: pw, PartSize: 5 << 20})
}

func TestNewNeedsCredentials(t *testing.T) {
	t.Setenv("AWS_ACCESS_KEY_ID", "")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "")
	if _, err := s3blob.New(s3blob.Config{Endpoint: "http://127.0.0.1:1"}); err == nil {
		t.Errorf("New without credentials succeeded")
	}
	t.Setenv("AWS_ACCESS_KEY_ID", "AKID")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "secret")
	if _, err := s3blob.New(s3blob.Config{Endpoint: "http://127.0.0.1:1"}); err != nil {
		t.Errorf("New with env credentials = %v", err)
	}
}

// TestNewResolver maps one bucket to MinIO and leaves the rest on the embedded store.
func TestNewResolver(t *testing.T) {
	t.Parallel()
	ep, user, pw := startMinIO(t)
	st, err := diskblob.Open(t.TempDir(), diskblob.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	st.CreateBucket(t.Context(), "local-data", "111111111111")
	cfg := s3blob.Config{Endpoint: ep, UsePathStyle: true, AccessKeyID: user, SecretAccessKey: pw}
	r, err := s3blob.NewResolver(st, map[string]s3blob.Config{"remote-data": cfg, "remote-other": cfg})
	if err != nil {
		t.Fatal(err)
	}
	c, _ := s3blob.New(cfg)
	c.CreateBucket(t.Context(), "remote-data")
	for _, uri := range []string{"s3://remote-data/x/y.jsonl", "s3://local-data/x/y.jsonl"} {
		b, key, err := r.Open(t.Context(), uri)
		if err != nil {
			t.Fatalf("Open(%s) = %v", uri, err)
		}
		if _, err := b.Put(t.Context(), key, strings.NewReader(uri), nil); err != nil {
			t.Fatalf("Put via %s = %v", uri, err)
		}
	}
	// The remote object is in MinIO, the local one on disk.
	rb, _ := c.Bucket(t.Context(), "remote-data")
	if got, err := blob.ReadAll(t.Context(), rb, "x/y.jsonl"); err != nil || string(got) != "s3://remote-data/x/y.jsonl" {
		t.Errorf("MinIO object = %q, %v", got, err)
	}
	lb, _ := st.Bucket(t.Context(), "local-data")
	if got, err := blob.ReadAll(t.Context(), lb, "x/y.jsonl"); err != nil || string(got) != "s3://local-data/x/y.jsonl" {
		t.Errorf("embedded object = %q, %v", got, err)
	}
}
