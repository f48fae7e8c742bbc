package s3api_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"

	"github.com/strata-ml/strata/internal/blob/diskblob"
	"github.com/strata-ml/strata/internal/s3api"
)

// TestSDKTrailingChecksum: over TLS the Go SDK streams an unseekable body as
// aws-chunked with the checksum in a trailer (STREAMING-UNSIGNED-PAYLOAD-TRAILER).
func TestSDKTrailingChecksum(t *testing.T) {
	t.Parallel()
	st, err := diskblob.Open(t.TempDir(), diskblob.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	var modes []string
	h := s3api.New(s3api.Options{Store: st, Lookup: lookup, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodPut && strings.Count(r.URL.Path, "/") > 1 { // PutObject, not CreateBucket
			modes = append(modes, r.Header.Get("X-Amz-Content-Sha256")+" trailer="+r.Header.Get("X-Amz-Trailer"))
		}
		h.ServeHTTP(w, r)
	}))
	defer srv.Close()
	c := s3.New(s3.Options{Region: "us-east-1", BaseEndpoint: aws.String(srv.URL), UsePathStyle: true, HTTPClient: srv.Client(),
		Credentials: aws.CredentialsProviderFunc(func(context.Context) (aws.Credentials, error) {
			return aws.Credentials{AccessKeyID: "AKIDALICE", SecretAccessKey: testKeys["AKIDALICE"][0]}, nil
		}), RetryMaxAttempts: 1})
	ctx := t.Context()
	mustCreateBucket(t, c, "trailers")
	data := randBytes(5, 3<<20+11)
	for _, algo := range []types.ChecksumAlgorithm{types.ChecksumAlgorithmCrc32, types.ChecksumAlgorithmCrc32c, types.ChecksumAlgorithmCrc64nvme, types.ChecksumAlgorithmSha256} {
		key := "t/" + string(algo)
		_, err := c.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("trailers"), Key: aws.String(key),
			Body: io.MultiReader(bytes.NewReader(data)), ContentLength: aws.Int64(int64(len(data))), ChecksumAlgorithm: algo})
		if err != nil {
			t.Fatalf("PutObject(unseekable, %s) = %v", algo, err)
		}
		out, err := c.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String("trailers"), Key: aws.String(key), ChecksumMode: types.ChecksumModeEnabled})
		if err != nil {
			t.Fatalf("GetObject(%s) = %v", algo, err)
		}
		got, err := io.ReadAll(out.Body) // the SDK validates the returned checksum here
		out.Body.Close()
		if err != nil || !bytes.Equal(got, data) {
			t.Fatalf("GetObject(%s) = %d bytes, %v", algo, len(got), err)
		}
	}
	t.Logf("PUT payload modes: %q", modes)
	if len(modes) == 0 || !strings.HasPrefix(modes[0], "STREAMING-UNSIGNED-PAYLOAD-TRAILER trailer=x-amz-checksum-crc32") {
		t.Errorf("the SDK did not use a trailing checksum: %q", modes)
	}
}

// TestTrailerMismatch sends aws-chunked bodies by hand: a wrong or missing
// trailing checksum is rejected with S3's codes and stores nothing.
func TestTrailerMismatch(t *testing.T) {
	t.Parallel()
	e := newEnv(t, diskblobOpts())
	c := e.client("AKIDALICE")
	mustCreateBucket(t, c, "trail")
	payload := []byte("hello world")
	tests := []struct {
		name    string
		trailer string
		want    string
		status  int
	}{
		{"right", "x-amz-checksum-crc64nvme:jSnVw/bqjr4=\r\n", "", 200}, // the SDK's own test vector
		{"wrong", "x-amz-checksum-crc64nvme:AAAAAAAAAAA=\r\n", "<Code>BadDigest</Code>", 400},
		{"missing", "", "<Code>InvalidRequest</Code>", 400},
	}
	for _, tt := range tests {
		body := fmt.Sprintf("%x\r\n%s\r\n0\r\n%s\r\n", len(payload), payload, tt.trailer)
		req, _ := http.NewRequest("PUT", e.srv.URL+"/trail/"+tt.name, strings.NewReader(body))
		req.Header.Set("Content-Encoding", "aws-chunked")
		req.Header.Set("X-Amz-Decoded-Content-Length", fmt.Sprint(len(payload)))
		req.Header.Set("X-Amz-Trailer", "x-amz-checksum-crc64nvme")
		req.Header.Set("X-Amz-Content-Sha256", "STREAMING-UNSIGNED-PAYLOAD-TRAILER")
		err := v4.NewSigner().SignHTTP(t.Context(), aws.Credentials{AccessKeyID: "AKIDALICE", SecretAccessKey: testKeys["AKIDALICE"][0]},
			req, "STREAMING-UNSIGNED-PAYLOAD-TRAILER", "s3", "us-east-1", time.Now(), func(o *v4.SignerOptions) { o.DisableURIPathEscaping = true })
		if err != nil {
			t.Fatal(err)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		rb, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != tt.status || !strings.Contains(string(rb), tt.want) {
			t.Errorf("%s trailer: %d %s; want %d %s", tt.name, resp.StatusCode, rb, tt.status, tt.want)
		}
		_, err = c.HeadObject(t.Context(), &s3.HeadObjectInput{Bucket: aws.String("trail"), Key: aws.String(tt.name)})
		if (err == nil) != (tt.status == 200) {
			t.Errorf("%s trailer: object stored = %v, want %v", tt.name, err == nil, tt.status == 200)
		}
	}
}
