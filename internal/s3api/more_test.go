package s3api_test

import (
	"context"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/strata-ml/strata/internal/blob/diskblob"
	"github.com/strata-ml/strata/internal/s3api"
)

// TestVirtualHostStyle: with a host suffix configured, the SDK's default
// virtual-hosted addressing (bucket.s3.strata.test) reaches the bucket.
func TestVirtualHostStyle(t *testing.T) {
	t.Parallel()
	st, err := diskblob.Open(t.TempDir(), diskblob.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	srv := httptest.NewServer(s3api.New(s3api.Options{Store: st, Lookup: lookup, VirtualHostSuffixes: []string{"s3.strata.test"},
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}))
	defer srv.Close()
	addr := srv.Listener.Addr().String()
	_, port, _ := net.SplitHostPort(addr)
	// Every host name dials the test server.
	hc := &http.Client{Transport: &http.Transport{DialContext: func(ctx context.Context, network, _ string) (net.Conn, error) {
		return (&net.Dialer{}).DialContext(ctx, network, addr)
	}}}
	c := s3.New(s3.Options{Region: "us-east-1", BaseEndpoint: aws.String("http://s3.strata.test:" + port), HTTPClient: hc,
		Credentials: aws.CredentialsProviderFunc(func(context.Context) (aws.Credentials, error) {
			return aws.Credentials{AccessKeyID: "AKIDALICE", SecretAccessKey: testKeys["AKIDALICE"][0]}, nil
		}), RetryMaxAttempts: 1})
	ctx := t.Context()
	if _, err := c.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String("vhost")}); err != nil {
		t.Fatalf("CreateBucket(virtual host) = %v", err)
	}
	if _, err := c.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("vhost"), Key: aws.String("dir/k"), Body: strings.NewReader("v")}); err != nil {
		t.Fatalf("PutObject(virtual host) = %v", err)
	}
	out, err := c.ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: aws.String("vhost")})
	if err != nil || len(out.Contents) != 1 || aws.ToString(out.Contents[0].Key) != "dir/k" {
		t.Fatalf("ListObjectsV2(virtual host) = %+v, %v", out, err)
	}
	// The same object is reachable path-style.
	pc := s3.New(s3.Options{Region: "us-east-1", BaseEndpoint: aws.String(srv.URL), UsePathStyle: true,
		Credentials: aws.CredentialsProviderFunc(func(context.Context) (aws.Credentials, error) {
			return aws.Credentials{AccessKeyID: "AKIDALICE", SecretAccessKey: testKeys["AKIDALICE"][0]}, nil
		})})
	if _, err := pc.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String("vhost"), Key: aws.String("dir/k")}); err != nil {
		t.Errorf("HeadObject(path style) = %v", err)
	}
}

// TestListObjectsV1AndConditions covers ListObjects (v1, marker paging) and
// If-Match / If-None-Match.
func TestListObjectsV1AndConditions(t *testing.T) {
	t.Parallel()
	e := newEnv(t, diskblobOpts())
	c := e.client("AKIDALICE")
	ctx := t.Context()
	mustCreateBucket(t, c, "v1list")
	for _, k := range []string{"a/1", "a/2", "b", "c/3"} {
		if _, err := c.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("v1list"), Key: aws.String(k), Body: strings.NewReader(k)}); err != nil {
			t.Fatal(err)
		}
	}
	var keys []string
	marker := ""
	for range 10 {
		out, err := c.ListObjects(ctx, &s3.ListObjectsInput{Bucket: aws.String("v1list"), Marker: aws.String(marker), MaxKeys: aws.Int32(2)})
		if err != nil {
			t.Fatalf("ListObjects = %v", err)
		}
		for _, o := range out.Contents {
			keys = append(keys, aws.ToString(o.Key))
			marker = aws.ToString(o.Key)
		}
		if !aws.ToBool(out.IsTruncated) {
			break
		}
	}
	if strings.Join(keys, ",") != "a/1,a/2,b,c/3" {
		t.Errorf("ListObjects pages = %q", keys)
	}
	out, err := c.ListObjects(ctx, &s3.ListObjectsInput{Bucket: aws.String("v1list"), Delimiter: aws.String("/")})
	if err != nil || len(out.CommonPrefixes) != 2 || len(out.Contents) != 1 {
		t.Errorf("ListObjects(delimiter) = %+v, %v", out, err)
	}
	head, err := c.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String("v1list"), Key: aws.String("b")})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String("v1list"), Key: aws.String("b"), IfMatch: head.ETag}); err != nil {
		t.Errorf("GetObject(If-Match current) = %v", err)
	}
	_, err = c.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String("v1list"), Key: aws.String("b"), IfMatch: aws.String(`"0000"`)})
	wantAPIError(t, "GetObject(If-Match stale)", err, "PreconditionFailed")
	_, err = c.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String("v1list"), Key: aws.String("b"), IfNoneMatch: head.ETag})
	if err == nil || !strings.Contains(err.Error(), "304") {
		t.Errorf("GetObject(If-None-Match current) = %v, want 304", err)
	}
}
