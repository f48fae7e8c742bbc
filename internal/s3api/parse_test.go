package s3api

import (
	"errors"
	"net/url"
	"strings"
	"testing"

	"github.com/strata-ml/strata/internal/blob"
)

var rangeCases = []struct {
	in   string
	want blob.Range
	ok   bool
}{
	{"bytes=0-9", blob.Range{Start: 0, Length: 10}, true},
	{"bytes=100-", blob.Range{Start: 100, Length: -1}, true},
	{"bytes=-500", blob.Range{Start: -500}, true},
	{"bytes=5-5", blob.Range{Start: 5, Length: 1}, true},
	{"bytes=9-0", blob.Range{}, false},
	{"bytes=-0", blob.Range{}, false},
	{"bytes=0-1,5-6", blob.Range{}, false},
	{"items=0-1", blob.Range{}, false},
	{"bytes=a-b", blob.Range{}, false},
	{"bytes=-", blob.Range{}, false},
	{"bytes=99999999999999999999-", blob.Range{}, false},
	{"", blob.Range{}, false},
}

func TestParseRange(t *testing.T) {
	t.Parallel()
	for _, tt := range rangeCases {
		got, ok := parseRange(tt.in)
		if ok != tt.ok || (ok && got != tt.want) {
			t.Errorf("parseRange(%q) = %+v, %v; want %+v, %v", tt.in, got, ok, tt.want, tt.ok)
		}
	}
}

func FuzzParseRange(f *testing.F) {
	for _, tt := range rangeCases {
		f.Add(tt.in)
	}
	f.Fuzz(func(t *testing.T, in string) {
		r, ok := parseRange(in)
		if !ok {
			return
		}
		if r.Start >= 0 && r.Length == 0 || r.Start < 0 && r.Length != 0 {
			t.Fatalf("parseRange(%q) = %+v: empty or inconsistent range", in, r)
		}
		// Any accepted range resolves without panicking against any size.
		for _, size := range []int64{0, 1, 1000} {
			if off, n, err := blob.ResolveRange(&r, size); err == nil && (off < 0 || n < 0 || off+n > size) {
				t.Fatalf("ResolveRange(%+v, %d) = %d, %d", r, size, off, n)
			} else if err != nil && !errors.Is(err, blob.ErrInvalidRange) {
				t.Fatalf("ResolveRange error %v", err)
			}
		}
	})
}

var copySourceCases = []struct {
	in          string
	bucket, key string
	ok          bool
}{
	{"bkt/key", "bkt", "key", true},
	{"/bkt/dir/a%20b.txt", "bkt", "dir/a b.txt", true},
	{"bkt/k?versionId=3", "bkt", "k", true},
	{"bkt/%C3%BC+x", "bkt", "ü+x", true},
	{"bkt", "", "", false},
	{"/bkt/", "", "", false},
	{"%zz/k", "", "", false},
	{"", "", "", false},
}

func TestCopySource(t *testing.T) {
	t.Parallel()
	for _, tt := range copySourceCases {
		b, k, err := copySource(tt.in)
		if (err == nil) != tt.ok || b != tt.bucket || k != tt.key {
			t.Errorf("copySource(%q) = %q, %q, %v; want %q, %q, ok %v", tt.in, b, k, err, tt.bucket, tt.key, tt.ok)
		}
	}
}

func FuzzCopySource(f *testing.F) {
	for _, tt := range copySourceCases {
		f.Add(tt.in)
	}
	f.Fuzz(func(t *testing.T, in string) {
		b, k, err := copySource(in)
		if err != nil {
			if _, ok := errors.AsType[*apiError](err); !ok {
				t.Fatalf("copySource(%q) error %v is not an S3 error", in, err)
			}
			return
		}
		if b == "" || k == "" || strings.Contains(b, "/") {
			t.Fatalf("copySource(%q) = %q, %q", in, b, k)
		}
		// Round trip: encoding the parsed source parses back to it.
		b2, k2, err := copySource(url.PathEscape(b) + "/" + url.PathEscape(k))
		if err != nil || b2 != b || k2 != k {
			t.Fatalf("round trip of %q/%q = %q, %q, %v", b, k, b2, k2, err)
		}
	})
}

func FuzzURLEncode(f *testing.F) {
	for _, s := range []string{"a b", "ü+é/x", "100%", "a&b=c"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		// botocore decodes encoding-type=url values with unquote_plus.
		got, err := url.QueryUnescape(s3URLEncode(s))
		if err != nil || got != s {
			t.Fatalf("QueryUnescape(s3URLEncode(%q)) = %q, %v", s, got, err)
		}
	})
}
