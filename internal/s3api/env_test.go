package s3api_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http/httptest"
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
}

func newEnv(t *testing.T, o diskblob.Options) *env {
	t.Helper()
	dir := t.TempDir()
	st, err := diskblob.Open(dir, o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	h := s3api.New(s3api.Options{Store: st, Lookup: lookup, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return &env{store: st, srv: srv, dir: dir}
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
