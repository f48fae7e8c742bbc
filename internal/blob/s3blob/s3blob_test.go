package s3blob_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http/httptest"
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
	"github.com/strata-ml/strata/internal/testenv"
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

// TestConformanceMinIO runs the suite against a real MinIO server.
func TestConformanceMinIO(t *testing.T) {
	t.Parallel()
	ep, user, pw := testenv.MinIO(t)
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
	ep, user, pw := testenv.MinIO(t)
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
