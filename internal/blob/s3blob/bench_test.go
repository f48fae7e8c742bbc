package s3blob_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http/httptest"
	"testing"

	"github.com/strata-ml/strata/internal/blob"
	"github.com/strata-ml/strata/internal/blob/diskblob"
	"github.com/strata-ml/strata/internal/blob/s3blob"
	"github.com/strata-ml/strata/internal/s3api"
	"github.com/strata-ml/strata/internal/sigv4"
	"github.com/strata-ml/strata/internal/testenv"
)

// BenchmarkPutGet uploads and downloads an 8 MiB object through s3blob, against
// Strata's endpoint and against MinIO (the peer) in the same run; compare the
// MB/s of the two sub-benchmarks.
func BenchmarkPutGet(b *testing.B) {
	st, err := diskblob.Open(b.TempDir(), diskblob.Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer st.Close()
	lookup := func(_ context.Context, akid string) (string, string, error) {
		if akid == "AKIDBENCH" {
			return "bench-secret", "111111111111", nil
		}
		return "", "", sigv4.ErrUnknownAccessKey
	}
	srv := httptest.NewServer(s3api.New(s3api.Options{Store: st, Lookup: lookup, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}))
	defer srv.Close()
	targets := []struct {
		name string
		cfg  func(b *testing.B) s3blob.Config
	}{
		{"strata", func(*testing.B) s3blob.Config {
			return s3blob.Config{Endpoint: srv.URL, UsePathStyle: true, AccessKeyID: "AKIDBENCH", SecretAccessKey: "bench-secret", PartSize: 16 << 20}
		}},
		{"minio", func(b *testing.B) s3blob.Config {
			ep, user, pw := testenv.MinIO(b)
			return s3blob.Config{Endpoint: ep, UsePathStyle: true, AccessKeyID: user, SecretAccessKey: pw, PartSize: 16 << 20}
		}},
	}
	data := bytes.Repeat([]byte("0123456789abcdef"), 8<<20/16)
	for _, tg := range targets {
		b.Run(tg.name, func(b *testing.B) {
			c, err := s3blob.New(tg.cfg(b))
			if err != nil {
				b.Fatal(err)
			}
			name := fmt.Sprintf("bench-%s", tg.name)
			if err := c.CreateBucket(b.Context(), name); err != nil {
				b.Fatal(err)
			}
			bk, _ := c.Bucket(b.Context(), name)
			b.SetBytes(2 * int64(len(data)))
			b.ReportAllocs()
			for b.Loop() {
				if _, err := bk.Put(b.Context(), "obj", bytes.NewReader(data), nil); err != nil {
					b.Fatal(err)
				}
				got, err := blob.ReadAll(b.Context(), bk, "obj")
				if err != nil || len(got) != len(data) {
					b.Fatalf("get: %d bytes, %v", len(got), err)
				}
			}
		})
	}
}
