//go:build integration

package integration

import (
	"bytes"
	"crypto/md5"
	"encoding/hex"
	"errors"
	"io"
	"math/rand/v2"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/aws/aws-sdk-go-v2/service/bedrock"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
)

func s3RandBytes(seed uint64, n int) []byte {
	r := rand.New(rand.NewPCG(seed, 3))
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(r.Uint32())
	}
	return b
}

func s3MD5(b []byte) string {
	s := md5.Sum(b)
	return hex.EncodeToString(s[:])
}

func s3Get(t *testing.T, c *s3.Client, bucket, key string) []byte {
	t.Helper()
	out, err := c.GetObject(t.Context(), &s3.GetObjectInput{Bucket: aws.String(bucket), Key: aws.String(key), ChecksumMode: types.ChecksumModeEnabled})
	if err != nil {
		t.Fatalf("GetObject(%s/%s) = %v", bucket, key, err)
	}
	defer out.Body.Close()
	data, err := io.ReadAll(out.Body)
	if err != nil {
		t.Fatalf("GetObject(%s/%s) read = %v", bucket, key, err)
	}
	return data
}

// TestS3DurableAfterKill9: every upload the real server acknowledged (single
// and multipart) survives kill -9, and an upload cut off by the kill leaves
// no object and no stray file in the listing.
func TestS3DurableAfterKill9(t *testing.T) {
	dataDir := t.TempDir()
	srv := StartServer(t, dataDir)
	c := srv.S3()
	ctx := t.Context()
	if _, err := c.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String("durable")}); err != nil {
		t.Fatal(err)
	}
	small := s3RandBytes(1, 100_000)
	if _, err := c.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("durable"), Key: aws.String("small.bin"), Body: bytes.NewReader(small)}); err != nil {
		t.Fatal(err)
	}
	big := s3RandBytes(2, 11<<20)
	cr, err := c.CreateMultipartUpload(ctx, &s3.CreateMultipartUploadInput{Bucket: aws.String("durable"), Key: aws.String("big.bin")})
	if err != nil {
		t.Fatal(err)
	}
	var parts []types.CompletedPart
	for i, off := int32(1), 0; off < len(big); i, off = i+1, off+5<<20 {
		up, err := c.UploadPart(ctx, &s3.UploadPartInput{Bucket: aws.String("durable"), Key: aws.String("big.bin"), UploadId: cr.UploadId,
			PartNumber: aws.Int32(i), Body: bytes.NewReader(big[off:min(off+5<<20, len(big))])})
		if err != nil {
			t.Fatal(err)
		}
		parts = append(parts, types.CompletedPart{PartNumber: aws.Int32(i), ETag: up.ETag})
	}
	if _, err := c.CompleteMultipartUpload(ctx, &s3.CompleteMultipartUploadInput{Bucket: aws.String("durable"), Key: aws.String("big.bin"),
		UploadId: cr.UploadId, MultipartUpload: &types.CompletedMultipartUpload{Parts: parts}}); err != nil {
		t.Fatal(err)
	}

	// Start an upload whose body stalls after 1 MiB of 4 MiB, wait until the
	// server is writing it (a temporary file exists), then kill the server.
	pr, pw := io.Pipe()
	req, _ := http.NewRequest("PUT", srv.Endpoint+"/durable/cut.bin", pr)
	req.ContentLength = 4 << 20
	req.Header.Set("X-Amz-Content-Sha256", "UNSIGNED-PAYLOAD")
	if err := v4.NewSigner().SignHTTP(ctx, aws.Credentials{AccessKeyID: testAKID, SecretAccessKey: testSecret}, req, "UNSIGNED-PAYLOAD", "s3", testRegion, time.Now(),
		func(o *v4.SignerOptions) { o.DisableURIPathEscaping = true }); err != nil {
		t.Fatal(err)
	}
	go func() {
		if resp, err := http.DefaultClient.Do(req); err == nil {
			resp.Body.Close()
		}
	}()
	go pw.Write(make([]byte, 1<<20))
	bucketDir := filepath.Join(dataDir, "objects", "buckets", "durable")
	Eventually(t, 30*time.Second, "the server to start writing cut.bin", func() (bool, error) {
		ents, err := os.ReadDir(bucketDir)
		for _, e := range ents {
			if strings.HasPrefix(e.Name(), ".strata-tmp-") {
				return true, nil
			}
		}
		return false, err
	})
	srv.Kill9()
	pw.CloseWithError(errors.New("killed"))

	srv2 := StartServer(t, dataDir)
	c2 := srv2.S3()
	if got := s3Get(t, c2, "durable", "small.bin"); !bytes.Equal(got, small) {
		t.Errorf("small object after kill -9: md5 %s, want %s", s3MD5(got), s3MD5(small))
	}
	if got := s3Get(t, c2, "durable", "big.bin"); !bytes.Equal(got, big) {
		t.Errorf("multipart object after kill -9: md5 %s, want %s", s3MD5(got), s3MD5(big))
	}
	list, err := c2.ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: aws.String("durable")})
	if err != nil {
		t.Fatal(err)
	}
	var keys []string
	for _, o := range list.Contents {
		keys = append(keys, aws.ToString(o.Key))
	}
	if strings.Join(keys, ",") != "big.bin,small.bin" {
		t.Errorf("after kill -9 the bucket lists %q, want big.bin and small.bin only", keys)
	}
	// The restarted store swept the dead upload's temporary file.
	ents, _ := os.ReadDir(bucketDir)
	for _, e := range ents {
		if strings.HasPrefix(e.Name(), ".strata-tmp-") {
			t.Errorf("temporary file %s survived the restart", e.Name())
		}
	}
}

// TestS3SharedListener: S3 and Bedrock share the listener; requests are routed
// by their signing service, so buckets named like Bedrock paths do not shadow
// the Bedrock API, and presigned URLs work against the real server.
func TestS3SharedListener(t *testing.T) {
	srv := StartServer(t, t.TempDir())
	c := srv.S3()
	ctx := t.Context()
	for _, b := range []string{"custom-models", "model-customization-jobs", "foundation-models"} {
		if _, err := c.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String(b)}); err != nil {
			t.Fatalf("CreateBucket(%s) = %v", b, err)
		}
		if _, err := c.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String(b), Key: aws.String("k"), Body: strings.NewReader(b)}); err != nil {
			t.Fatalf("PutObject(%s/k) = %v", b, err)
		}
	}
	if _, err := srv.Bedrock().ListCustomModels(ctx, &bedrock.ListCustomModelsInput{}); err != nil {
		t.Errorf("ListCustomModels with a bucket named custom-models = %v", err)
	}
	if got := s3Get(t, c, "custom-models", "k"); string(got) != "custom-models" {
		t.Errorf("GetObject(custom-models/k) = %q", got)
	}
	ps, err := s3.NewPresignClient(c).PresignGetObject(ctx, &s3.GetObjectInput{Bucket: aws.String("model-customization-jobs"), Key: aws.String("k")})
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.Get(ps.URL)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || string(body) != "model-customization-jobs" {
		t.Errorf("presigned GET = %d %q", resp.StatusCode, body)
	}
	// The objects are plain files under the data dir's objects/ tree.
	if _, err := os.Stat(filepath.Join(srv.DataDir, "objects", "buckets", "custom-models", "k")); err != nil {
		t.Errorf("object file not in the data dir: %v", err)
	}
}
