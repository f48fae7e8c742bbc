package s3api_test

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/strata-ml/strata/internal/blob/diskblob"
)

func diskblobOpts() diskblob.Options { return diskblob.Options{} }

// TestBadInput sends what S3 rejects and checks S3's codes and that no object appears.
func TestBadInput(t *testing.T) {
	t.Parallel()
	e := newEnv(t, diskblobOpts())
	c := e.client("AKIDALICE")
	ctx := t.Context()
	mustCreateBucket(t, c, "bad")
	put := func(key string, body string, mod func(*s3.PutObjectInput)) error {
		in := &s3.PutObjectInput{Bucket: aws.String("bad"), Key: aws.String(key), Body: strings.NewReader(body)}
		if mod != nil {
			mod(in)
		}
		_, err := c.PutObject(ctx, in)
		return err
	}
	wantAPIError(t, "PutObject(wrong crc32)", put("k1", "hello", func(in *s3.PutObjectInput) { in.ChecksumCRC32 = aws.String("AAAAAA==") }), "BadDigest")
	wantAPIError(t, "PutObject(wrong sha256)", put("k2", "hello", func(in *s3.PutObjectInput) {
		in.ChecksumSHA256 = aws.String("MPJNul+wow4m6DsqxbninhsWHlwfp0JecwQzYpOLmCQ=") // sha256("hello") with one bit changed
	}), "BadDigest")
	wantAPIError(t, "PutObject(bad crc32 value)", put("k3", "hello", func(in *s3.PutObjectInput) { in.ChecksumCRC32 = aws.String("not base64") }), "InvalidRequest")
	wantAPIError(t, "PutObject(wrong Content-MD5)", put("k4", "hello", func(in *s3.PutObjectInput) { in.ContentMD5 = aws.String("XrY7u+Ae7tCTyyK7j1rNww==") }), "BadDigest")
	if err := put("good", "hello", func(in *s3.PutObjectInput) { in.ChecksumCRC32 = aws.String("NhCmhg==") }); err != nil {
		t.Errorf("PutObject(right crc32) = %v", err)
	}
	for _, k := range []string{"../escape", "a/../../escape", "a//b", "x/.strata-dir"} {
		wantAPIError(t, "PutObject("+k+")", put(k, "x", nil), "InvalidArgument")
	}
	wantAPIError(t, "PutObject(long key)", put(strings.Repeat("k", 1025), "x", nil), "KeyTooLongError")
	out, err := c.ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: aws.String("bad")})
	if err != nil || len(out.Contents) != 1 || aws.ToString(out.Contents[0].Key) != "good" {
		t.Errorf("after rejected Puts, ListObjectsV2 = %+v, %v; want only \"good\"", out, err)
	}
	entries, _ := os.ReadDir(e.dir)
	for _, de := range entries {
		if de.Name() == "escape" {
			t.Errorf("a key escaped the bucket directory")
		}
	}
}

type enospcWriter struct {
	w    io.Writer
	left int
}

func (f *enospcWriter) Write(p []byte) (int, error) {
	if len(p) > f.left {
		n, _ := f.w.Write(p[:f.left])
		f.left = 0
		return n, &os.PathError{Op: "write", Path: "tmp", Err: syscall.ENOSPC}
	}
	f.left -= len(p)
	return f.w.Write(p)
}

// TestDiskFull: a write error from the disk becomes 507 and leaves no object.
func TestDiskFull(t *testing.T) {
	t.Parallel()
	e := newEnv(t, diskblob.Options{TempWriter: func(w io.Writer) io.Writer { return &enospcWriter{w: w, left: 1 << 20} }})
	c := e.client("AKIDALICE")
	ctx := t.Context()
	mustCreateBucket(t, c, "full")
	_, err := c.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("full"), Key: aws.String("big"), Body: bytes.NewReader(make([]byte, 3<<20))})
	wantAPIError(t, "PutObject(disk full)", err, "InsufficientStorage")
	if _, err := c.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String("full"), Key: aws.String("big")}); err == nil {
		t.Errorf("a partial object is visible after a full disk")
	}
	if _, err := c.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("full"), Key: aws.String("small"), Body: strings.NewReader("ok")}); err != nil {
		t.Errorf("small PutObject after a full disk = %v", err)
	}
}

// TestPresignedGet presigns with the SDK's presign client and fetches with plain HTTP.
func TestPresignedGet(t *testing.T) {
	t.Parallel()
	e := newEnv(t, diskblobOpts())
	c := e.client("AKIDALICE")
	ctx := t.Context()
	mustCreateBucket(t, c, "pre")
	c.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("pre"), Key: aws.String("dir/file name.txt"), Body: strings.NewReader("presigned body")})
	ps := s3.NewPresignClient(c)
	req, err := ps.PresignGetObject(ctx, &s3.GetObjectInput{Bucket: aws.String("pre"), Key: aws.String("dir/file name.txt"),
		ResponseContentDisposition: aws.String(`attachment; filename="x.txt"`)}, s3.WithPresignExpires(5*time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.Get(req.URL)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || string(body) != "presigned body" || resp.Header.Get("Content-Disposition") != `attachment; filename="x.txt"` {
		t.Errorf("GET presigned = %d %q, Content-Disposition %q", resp.StatusCode, body, resp.Header.Get("Content-Disposition"))
	}
	// An expired URL: sign in the past.
	old, _ := http.NewRequest("GET", e.srv.URL+"/pre/dir/file%20name.txt?X-Amz-Expires=60", nil)
	u, _, err := v4.NewSigner().PresignHTTP(context.Background(), aws.Credentials{AccessKeyID: "AKIDALICE", SecretAccessKey: testKeys["AKIDALICE"][0]},
		old, "UNSIGNED-PAYLOAD", "s3", "us-east-1", time.Now().Add(-time.Hour), func(o *v4.SignerOptions) { o.DisableURIPathEscaping = true })
	if err != nil {
		t.Fatal(err)
	}
	resp, err = http.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	body, _ = io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 403 || !strings.Contains(string(body), "<Code>AccessDenied</Code>") || !strings.Contains(string(body), "expired") {
		t.Errorf("GET expired presigned = %d %s, want 403 AccessDenied (expired)", resp.StatusCode, body)
	}
}
