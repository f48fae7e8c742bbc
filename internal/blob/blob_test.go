package blob_test

import (
	"errors"
	"testing"

	"github.com/strata-ml/strata/internal/blob"
)

var bucketNameCases = []struct {
	name string
	ok   bool
}{
	{"my-bucket", true}, {"a.b.c", true}, {"abc", true}, {"0bucket9", true},
	{"ab", false}, {"a" + string(make([]byte, 63)), false}, {"My-Bucket", false}, {"my_bucket", false},
	{"-bucket", false}, {"bucket-", false}, {"my..bucket", false}, {"192.168.5.4", false},
	{"xn--bucket", false}, {"bucket-s3alias", false}, {"bucket--ol-s3", false}, {"sthree-x", false},
}

func TestValidateBucketName(t *testing.T) {
	t.Parallel()
	for _, tt := range bucketNameCases {
		if err := blob.ValidateBucketName(tt.name); (err == nil) != tt.ok {
			t.Errorf("ValidateBucketName(%q) = %v, want ok=%v", tt.name, err, tt.ok)
		}
	}
}

func FuzzValidateBucketName(f *testing.F) {
	for _, tt := range bucketNameCases {
		f.Add(tt.name)
	}
	f.Fuzz(func(t *testing.T, name string) {
		if blob.ValidateBucketName(name) == nil && (len(name) < 3 || len(name) > 63) {
			t.Fatalf("accepted %q", name)
		}
	})
}

func TestParseS3URI(t *testing.T) {
	t.Parallel()
	tests := []struct {
		uri, bucket, key string
		wantErr          bool
	}{
		{"s3://b/k", "b", "k", false},
		{"s3://bkt/dir/sub/file.jsonl", "bkt", "dir/sub/file.jsonl", false},
		{"s3://bkt/", "bkt", "", false},
		{"s3://bkt", "bkt", "", false},
		{"s3:///k", "", "", true},
		{"file:///x", "", "", true},
	}
	for _, tt := range tests {
		b, k, err := blob.ParseS3URI(tt.uri)
		if (err != nil) != tt.wantErr || b != tt.bucket || k != tt.key {
			t.Errorf("ParseS3URI(%q) = %q, %q, %v; want %q, %q, err %v", tt.uri, b, k, err, tt.bucket, tt.key, tt.wantErr)
		}
	}
}

func TestResolveRange(t *testing.T) {
	t.Parallel()
	tests := []struct {
		rng            *blob.Range
		size           int64
		off, n         int64
		wantInvalidErr bool
	}{
		{nil, 10, 0, 10, false},
		{&blob.Range{Start: 0, Length: 5}, 10, 0, 5, false},
		{&blob.Range{Start: 8, Length: 5}, 10, 8, 2, false},
		{&blob.Range{Start: 3, Length: -1}, 10, 3, 7, false},
		{&blob.Range{Start: -4}, 10, 6, 4, false},
		{&blob.Range{Start: -40}, 10, 0, 10, false},
		{&blob.Range{Start: 10, Length: 1}, 10, 0, 0, true},
		{&blob.Range{Start: -1}, 0, 0, 0, true},
		{&blob.Range{Start: 0, Length: 1}, 0, 0, 0, true},
	}
	for _, tt := range tests {
		off, n, err := blob.ResolveRange(tt.rng, tt.size)
		if errors.Is(err, blob.ErrInvalidRange) != tt.wantInvalidErr || (err == nil && (off != tt.off || n != tt.n)) {
			t.Errorf("ResolveRange(%+v, %d) = %d, %d, %v; want %d, %d, invalid=%v", tt.rng, tt.size, off, n, err, tt.off, tt.n, tt.wantInvalidErr)
		}
	}
}

func TestValidateKey(t *testing.T) {
	t.Parallel()
	for _, k := range []string{"", string(make([]byte, 1025)), "a\x00b", "bad\xffutf8"} {
		if err := blob.ValidateKey(k); !errors.Is(err, blob.ErrInvalidKey) {
			t.Errorf("ValidateKey(%q) = %v, want ErrInvalidKey", k, err)
		}
	}
	for _, k := range []string{"a", "dir/ü.txt", "../odd but valid in S3", "\uFFFD"} {
		if err := blob.ValidateKey(k); err != nil {
			t.Errorf("ValidateKey(%q) = %v", k, err)
		}
	}
}
