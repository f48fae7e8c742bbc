package s3api_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/strata-ml/strata/internal/blob/diskblob"
	"github.com/strata-ml/strata/internal/s3api"
	"github.com/strata-ml/strata/internal/sigv4"
)

// Two accounts with one key each.
var testKeys = map[string][2]string{
	"AKIDALICE": {"alice-secret-key-0123456789", "111111111111"},
	"AKIDBOB":   {"bob-secret-key-0123456789", "222222222222"},
}

func lookup(_ context.Context, akid string) (string, string, error) {
	if k, ok := testKeys[akid]; ok {
		return k[0], k[1], nil
	}
	return "", "", fmt.Errorf("key %q: %w", akid, sigv4.ErrUnknownAccessKey)
}

type env struct {
	store *diskblob.Store
	srv   *httptest.Server
	dir   string

	mu    sync.Mutex
	modes map[string]int // payload modes of object uploads seen ("UNSIGNED-PAYLOAD", "STREAMING-...", "sha256")
}

func newEnv(t *testing.T, o diskblob.Options) *env { return newEnvTLS(t, o, false) }

// newEnvTLS is newEnv with an HTTPS listener when tls is set (clients then
// stream uploads as aws-chunked with trailing checksums).
func newEnvTLS(t *testing.T, o diskblob.Options, tls bool) *env {
	t.Helper()
	dir := t.TempDir()
	st, err := diskblob.Open(dir, o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	h := s3api.New(s3api.Options{Store: st, Lookup: lookup, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	e := &env{store: st, dir: dir, modes: map[string]int{}}
	e.srv = httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodPut && strings.Count(r.URL.Path, "/") > 1 {
			m := r.Header.Get("X-Amz-Content-Sha256")
			if len(m) == 64 {
				m = "sha256"
			}
			if tr := r.Header.Get("X-Amz-Trailer"); tr != "" {
				m += " trailer " + tr
			}
			e.mu.Lock()
			e.modes[m]++
			e.mu.Unlock()
		}
		h.ServeHTTP(w, r)
	}))
	if tls {
		e.srv.StartTLS()
	} else {
		e.srv.Start()
	}
	t.Cleanup(e.srv.Close)
	return e
}

// client returns an S3 client for the access key, path-style, no retries.
func (e *env) client(akid string, opts ...func(*s3.Options)) *s3.Client {
	secret := testKeys[akid][0]
	if secret == "" {
		secret = "unknown"
	}
	o := s3.Options{
		Region:       "us-east-1",
		BaseEndpoint: aws.String(e.srv.URL),
		UsePathStyle: true,
		Credentials: aws.CredentialsProviderFunc(func(context.Context) (aws.Credentials, error) {
			return aws.Credentials{AccessKeyID: akid, SecretAccessKey: secret}, nil
		}),
		RetryMaxAttempts: 1,
	}
	for _, f := range opts {
		f(&o)
	}
	return s3.New(o)
}
