package s3api_test

import (
	"bytes"
	"context"
	"crypto/md5"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/smithy-go"

	"github.com/strata-ml/strata/internal/s3api"
)

func randBytes(seed uint64, n int) []byte {
	r := rand.New(rand.NewPCG(seed, 1))
	b := make([]byte, n)
	for i := 0; i+8 <= n; i += 8 {
		v := r.Uint64()
		for j := range 8 {
			b[i+j] = byte(v >> (8 * j))
		}
	}
	for i := n &^ 7; i < n; i++ {
		b[i] = byte(r.Uint32())
	}
	return b
}

func md5Hex(b []byte) string {
	s := md5.Sum(b)
	return hex.EncodeToString(s[:])
}

// wantAPIError checks the S3 error code a client saw.
func wantAPIError(t *testing.T, what string, err error, code string) {
	t.Helper()
	ae, ok := errors.AsType[smithy.APIError](err)
	if !ok {
		t.Errorf("%s: error %v, want API error %s", what, err, code)
		return
	}
	if ae.ErrorCode() != code {
		t.Errorf("%s: error code %s (%v), want %s", what, ae.ErrorCode(), err, code)
	}
}

func mustCreateBucket(t *testing.T, c *s3.Client, name string) {
	t.Helper()
	if _, err := c.CreateBucket(t.Context(), &s3.CreateBucketInput{Bucket: aws.String(name)}); err != nil {
		t.Fatalf("CreateBucket(%s) = %v", name, err)
	}
}

// TestSDKObjects drives the handler with the AWS SDK for Go v2 S3 client:
// bytes in equal bytes out for sizes around the 8 MiB multipart threshold,
// with the SDK's own response checksum validation on.
func TestSDKObjects(t *testing.T) {
	t.Parallel()
	e := newEnv(t, diskblobOpts())
	c := e.client("AKIDALICE")
	ctx := t.Context()
	mustCreateBucket(t, c, "data")
	for i, n := range []int{0, 1, 8<<20 - 1, 8 << 20, 8<<20 + 1} {
		key := fmt.Sprintf("sizes/ü %d.bin", n)
		data := randBytes(uint64(i), n)
		put, err := c.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("data"), Key: aws.String(key), Body: bytes.NewReader(data),
			ContentType: aws.String("application/x-test"), Metadata: map[string]string{"run": "1"}})
		if err != nil {
			t.Fatalf("PutObject(%d bytes) = %v", n, err)
		}
		if got := strings.Trim(aws.ToString(put.ETag), `"`); got != md5Hex(data) {
			t.Errorf("PutObject ETag = %s, want %s", got, md5Hex(data))
		}
		out, err := c.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String("data"), Key: aws.String(key), ChecksumMode: types.ChecksumModeEnabled})
		if err != nil {
			t.Fatalf("GetObject(%d bytes) = %v", n, err)
		}
		got, err := io.ReadAll(out.Body)
		out.Body.Close()
		if err != nil || !bytes.Equal(got, data) {
			t.Fatalf("GetObject(%d bytes) read %d bytes (md5 %s), err %v; want md5 %s", n, len(got), md5Hex(got), err, md5Hex(data))
		}
		if aws.ToString(out.ContentType) != "application/x-test" || out.Metadata["run"] != "1" || aws.ToString(out.ChecksumCRC64NVME) == "" {
			t.Errorf("GetObject headers: type %q metadata %v crc64nvme %q", aws.ToString(out.ContentType), out.Metadata, aws.ToString(out.ChecksumCRC64NVME))
		}
	}
	// Range.
	out, err := c.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String("data"), Key: aws.String("sizes/ü 8388608.bin"), Range: aws.String("bytes=100-199")})
	if err != nil {
		t.Fatalf("GetObject(range) = %v", err)
	}
	got, _ := io.ReadAll(out.Body)
	if want := randBytes(3, 8<<20)[100:200]; !bytes.Equal(got, want) || aws.ToString(out.ContentRange) != "bytes 100-199/8388608" {
		t.Errorf("GetObject(range) = %d bytes, Content-Range %q", len(got), aws.ToString(out.ContentRange))
	}
	_, err = c.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String("data"), Key: aws.String("sizes/ü 1.bin"), Range: aws.String("bytes=5-9")})
	wantAPIError(t, "GetObject(range past end)", err, "InvalidRange")
	// Head.
	head, err := c.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String("data"), Key: aws.String("sizes/ü 1.bin")})
	if err != nil || aws.ToInt64(head.ContentLength) != 1 {
		t.Errorf("HeadObject = %+v, %v", head, err)
	}
	_, err = c.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String("data"), Key: aws.String("nope")})
	if !strings.Contains(fmt.Sprint(err), "404") {
		t.Errorf("HeadObject(missing) = %v, want 404", err)
	}
	_, err = c.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String("data"), Key: aws.String("nope")})
	wantAPIError(t, "GetObject(missing)", err, "NoSuchKey")
	// Copy.
	cp, err := c.CopyObject(ctx, &s3.CopyObjectInput{Bucket: aws.String("data"), Key: aws.String("copy/one"), CopySource: aws.String("data/sizes/%C3%BC%201.bin")})
	if err != nil || strings.Trim(aws.ToString(cp.CopyObjectResult.ETag), `"`) != md5Hex(randBytes(1, 1)) {
		t.Errorf("CopyObject = %v, %v", cp, err)
	}
	// Delete and DeleteObjects.
	if _, err := c.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: aws.String("data"), Key: aws.String("copy/one")}); err != nil {
		t.Errorf("DeleteObject = %v", err)
	}
	var ids []types.ObjectIdentifier
	for _, n := range []int{0, 1, 8<<20 - 1, 8 << 20, 8<<20 + 1} {
		ids = append(ids, types.ObjectIdentifier{Key: aws.String(fmt.Sprintf("sizes/ü %d.bin", n))})
	}
	del, err := c.DeleteObjects(ctx, &s3.DeleteObjectsInput{Bucket: aws.String("data"), Delete: &types.Delete{Objects: ids}})
	if err != nil || len(del.Deleted) != 5 || len(del.Errors) != 0 {
		t.Fatalf("DeleteObjects = %+v, %v", del, err)
	}
	if _, err := c.DeleteBucket(ctx, &s3.DeleteBucketInput{Bucket: aws.String("data")}); err != nil {
		t.Errorf("DeleteBucket(emptied) = %v", err)
	}
}

func TestSDKListObjectsV2(t *testing.T) {
	t.Parallel()
	e := newEnv(t, diskblobOpts())
	c := e.client("AKIDALICE")
	ctx := t.Context()
	mustCreateBucket(t, c, "list")
	var want []string
	for i := range 25 {
		k := fmt.Sprintf("p/%02d/obj+%d é.txt", i%5, i)
		want = append(want, k)
		if _, err := c.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("list"), Key: aws.String(k), Body: strings.NewReader(k)}); err != nil {
			t.Fatal(err)
		}
	}
	slices.Sort(want)
	var got []string
	pages := 0
	p := s3.NewListObjectsV2Paginator(c, &s3.ListObjectsV2Input{Bucket: aws.String("list"), Prefix: aws.String("p/"), MaxKeys: aws.Int32(7)})
	for p.HasMorePages() {
		out, err := p.NextPage(ctx)
		if err != nil {
			t.Fatalf("ListObjectsV2 page %d = %v", pages, err)
		}
		pages++
		for _, o := range out.Contents {
			got = append(got, aws.ToString(o.Key))
		}
	}
	if !slices.Equal(got, want) || pages != 4 {
		t.Errorf("ListObjectsV2 pages = %d, keys = %q; want 4 pages, %q", pages, got, want)
	}
	out, err := c.ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: aws.String("list"), Prefix: aws.String("p/"), Delimiter: aws.String("/")})
	if err != nil || len(out.CommonPrefixes) != 5 || len(out.Contents) != 0 || aws.ToString(out.CommonPrefixes[0].Prefix) != "p/00/" {
		t.Errorf("ListObjectsV2(delimiter) = %+v, %v", out, err)
	}
	_, err = c.ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: aws.String("list"), ContinuationToken: aws.String("garbage")})
	wantAPIError(t, "ListObjectsV2(bad token)", err, "InvalidArgument")
}

func TestSDKMultipart(t *testing.T) {
	t.Parallel()
	e := newEnv(t, diskblobOpts())
	c := e.client("AKIDALICE")
	ctx := t.Context()
	mustCreateBucket(t, c, "mpu")
	data := randBytes(42, 12<<20+3)
	for _, algo := range []types.ChecksumAlgorithm{"", types.ChecksumAlgorithmCrc32, types.ChecksumAlgorithmCrc64nvme, types.ChecksumAlgorithmSha256} {
		key := "big/alg-" + string(algo)
		cr, err := c.CreateMultipartUpload(ctx, &s3.CreateMultipartUploadInput{Bucket: aws.String("mpu"), Key: aws.String(key), ChecksumAlgorithm: algo})
		if err != nil {
			t.Fatalf("CreateMultipartUpload(%s) = %v", algo, err)
		}
		var parts []types.CompletedPart
		var sums []byte
		for i, off := 0, 0; off < len(data); i, off = i+1, off+5<<20 {
			chunk := data[off:min(off+5<<20, len(data))]
			up, err := c.UploadPart(ctx, &s3.UploadPartInput{Bucket: aws.String("mpu"), Key: aws.String(key), UploadId: cr.UploadId,
				PartNumber: aws.Int32(int32(i + 1)), Body: bytes.NewReader(chunk), ChecksumAlgorithm: algo})
			if err != nil {
				t.Fatalf("UploadPart(%s, %d) = %v", algo, i+1, err)
			}
			parts = append(parts, types.CompletedPart{PartNumber: aws.Int32(int32(i + 1)), ETag: up.ETag,
				ChecksumCRC32: up.ChecksumCRC32, ChecksumCRC64NVME: up.ChecksumCRC64NVME, ChecksumSHA256: up.ChecksumSHA256})
			s := md5.Sum(chunk)
			sums = append(sums, s[:]...)
		}
		lp, err := c.ListParts(ctx, &s3.ListPartsInput{Bucket: aws.String("mpu"), Key: aws.String(key), UploadId: cr.UploadId})
		if err != nil || len(lp.Parts) != 3 {
			t.Fatalf("ListParts = %+v, %v", lp, err)
		}
		done, err := c.CompleteMultipartUpload(ctx, &s3.CompleteMultipartUploadInput{Bucket: aws.String("mpu"), Key: aws.String(key), UploadId: cr.UploadId,
			MultipartUpload: &types.CompletedMultipartUpload{Parts: parts}})
		if err != nil {
			t.Fatalf("CompleteMultipartUpload(%s) = %v", algo, err)
		}
		s := md5.Sum(sums)
		if want := fmt.Sprintf(`"%x-3"`, s[:]); aws.ToString(done.ETag) != want {
			t.Errorf("multipart ETag = %s, want %s", aws.ToString(done.ETag), want)
		}
		out, err := c.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String("mpu"), Key: aws.String(key), ChecksumMode: types.ChecksumModeEnabled})
		if err != nil {
			t.Fatalf("GetObject(multipart %s) = %v", algo, err)
		}
		got, err := io.ReadAll(out.Body)
		out.Body.Close()
		if err != nil || !bytes.Equal(got, data) {
			t.Fatalf("GetObject(multipart %s) = %d bytes, %v; want the uploaded %d bytes", algo, len(got), err, len(data))
		}
	}
	// Truncated upload: parts missing, too small, wrong ETag, bad order; aborted upload.
	cr, _ := c.CreateMultipartUpload(ctx, &s3.CreateMultipartUploadInput{Bucket: aws.String("mpu"), Key: aws.String("bad")})
	up1, _ := c.UploadPart(ctx, &s3.UploadPartInput{Bucket: aws.String("mpu"), Key: aws.String("bad"), UploadId: cr.UploadId, PartNumber: aws.Int32(1), Body: strings.NewReader("small")})
	up2, _ := c.UploadPart(ctx, &s3.UploadPartInput{Bucket: aws.String("mpu"), Key: aws.String("bad"), UploadId: cr.UploadId, PartNumber: aws.Int32(2), Body: strings.NewReader("tail")})
	complete := func(parts ...types.CompletedPart) error {
		_, err := c.CompleteMultipartUpload(ctx, &s3.CompleteMultipartUploadInput{Bucket: aws.String("mpu"), Key: aws.String("bad"), UploadId: cr.UploadId,
			MultipartUpload: &types.CompletedMultipartUpload{Parts: parts}})
		return err
	}
	p1 := types.CompletedPart{PartNumber: aws.Int32(1), ETag: up1.ETag}
	p2 := types.CompletedPart{PartNumber: aws.Int32(2), ETag: up2.ETag}
	wantAPIError(t, "Complete(small first part)", complete(p1, p2), "EntityTooSmall")
	wantAPIError(t, "Complete(missing part)", complete(p1, types.CompletedPart{PartNumber: aws.Int32(3), ETag: up2.ETag}), "InvalidPart")
	wantAPIError(t, "Complete(wrong etag)", complete(types.CompletedPart{PartNumber: aws.Int32(1), ETag: up2.ETag}), "InvalidPart")
	wantAPIError(t, "Complete(order)", complete(p2, p1), "InvalidPartOrder")
	if _, err := c.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String("mpu"), Key: aws.String("bad")}); err == nil {
		t.Errorf("a failed CompleteMultipartUpload left an object")
	}
	lu, err := c.ListMultipartUploads(ctx, &s3.ListMultipartUploadsInput{Bucket: aws.String("mpu")})
	if err != nil || len(lu.Uploads) != 1 || aws.ToString(lu.Uploads[0].UploadId) != aws.ToString(cr.UploadId) {
		t.Errorf("ListMultipartUploads = %+v, %v; want the one unfinished upload", lu, err)
	}
	if _, err := c.AbortMultipartUpload(ctx, &s3.AbortMultipartUploadInput{Bucket: aws.String("mpu"), Key: aws.String("bad"), UploadId: cr.UploadId}); err != nil {
		t.Errorf("AbortMultipartUpload = %v", err)
	}
	wantAPIError(t, "Complete(aborted)", complete(p1), "NoSuchUpload")
	if lu, err := c.ListMultipartUploads(ctx, &s3.ListMultipartUploadsInput{Bucket: aws.String("mpu")}); err != nil || len(lu.Uploads) != 0 {
		t.Errorf("ListMultipartUploads after abort = %+v, %v", lu, err)
	}
}

func TestSDKBucketsAndAccess(t *testing.T) {
	t.Parallel()
	e := newEnv(t, diskblobOpts())
	alice, bob := e.client("AKIDALICE"), e.client("AKIDBOB")
	ctx := t.Context()
	mustCreateBucket(t, alice, "alice-data")
	mustCreateBucket(t, bob, "bob-data")
	_, err := alice.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String("alice-data")})
	wantAPIError(t, "CreateBucket(own existing)", err, "BucketAlreadyOwnedByYou")
	_, err = bob.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String("alice-data")})
	wantAPIError(t, "CreateBucket(other's)", err, "BucketAlreadyExists")
	for _, name := range []string{"Bad_Bucket", "ab", "192.168.1.1", "my..bucket", "-dash"} {
		_, err = alice.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String(name)})
		wantAPIError(t, "CreateBucket("+name+")", err, "InvalidBucketName")
	}
	lb, err := alice.ListBuckets(ctx, &s3.ListBucketsInput{})
	if err != nil || len(lb.Buckets) != 1 || aws.ToString(lb.Buckets[0].Name) != "alice-data" {
		t.Errorf("ListBuckets(alice) = %+v, %v; want only alice-data", lb, err)
	}
	if _, err := alice.HeadBucket(ctx, &s3.HeadBucketInput{Bucket: aws.String("alice-data")}); err != nil {
		t.Errorf("HeadBucket = %v", err)
	}
	alice.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("alice-data"), Key: aws.String("k"), Body: strings.NewReader("secret")})
	_, err = bob.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String("alice-data"), Key: aws.String("k")})
	wantAPIError(t, "GetObject(other's bucket)", err, "AccessDenied")
	_, err = bob.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("alice-data"), Key: aws.String("k"), Body: strings.NewReader("x")})
	wantAPIError(t, "PutObject(other's bucket)", err, "AccessDenied")
	_, err = bob.CopyObject(ctx, &s3.CopyObjectInput{Bucket: aws.String("bob-data"), Key: aws.String("stolen"), CopySource: aws.String("alice-data/k")})
	wantAPIError(t, "CopyObject(from other's bucket)", err, "AccessDenied")
	_, err = alice.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String("nobucket"), Key: aws.String("k")})
	wantAPIError(t, "GetObject(no bucket)", err, "NoSuchBucket")
	_, err = alice.DeleteBucket(ctx, &s3.DeleteBucketInput{Bucket: aws.String("alice-data")})
	wantAPIError(t, "DeleteBucket(non-empty)", err, "BucketNotEmpty")
	_, err = e.client("AKIDNOBODY").ListBuckets(ctx, &s3.ListBucketsInput{})
	wantAPIError(t, "ListBuckets(unknown key)", err, "InvalidAccessKeyId")
	wrong := e.client("AKIDALICE", func(o *s3.Options) {
		o.Credentials = aws.CredentialsProviderFunc(func(ctx2 context.Context) (aws.Credentials, error) {
			return aws.Credentials{AccessKeyID: "AKIDALICE", SecretAccessKey: "wrong"}, nil
		})
	})
	_, err = wrong.ListBuckets(ctx, &s3.ListBucketsInput{})
	wantAPIError(t, "ListBuckets(wrong secret)", err, "SignatureDoesNotMatch")
	resp, err := http.Get(e.srv.URL + "/alice-data/k")
	if err == nil {
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 403 || !strings.Contains(string(body), "<Code>AccessDenied</Code>") {
			t.Errorf("anonymous GET = %d %s, want 403 AccessDenied", resp.StatusCode, body)
		}
	}
}

func TestIsS3Request(t *testing.T) {
	t.Parallel()
	tests := []struct {
		auth, query string
		want        bool
	}{
		{"AWS4-HMAC-SHA256 Credential=AK/20261123/us-east-1/s3/aws4_request, SignedHeaders=host, Signature=00", "", true},
		{"AWS4-HMAC-SHA256 Credential=AK/20261123/us-east-1/bedrock/aws4_request, SignedHeaders=host, Signature=00", "", false},
		{"Bearer token", "", false},
		{"", "X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AK%2F20261123%2Fus-east-1%2Fs3%2Faws4_request", true},
		{"", "", false},
	}
	for _, tt := range tests {
		r, _ := http.NewRequest("GET", "http://h/bucket/key?"+tt.query, nil)
		if tt.auth != "" {
			r.Header.Set("Authorization", tt.auth)
		}
		if got := s3api.IsS3Request(r); got != tt.want {
			t.Errorf("IsS3Request(auth %q, query %q) = %v, want %v", tt.auth, tt.query, got, tt.want)
		}
	}
}
