package sigv4_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"

	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"

	"github.com/strata-ml/strata/internal/sigv4"
)

var authorizationCases = []struct {
	in      string
	wantErr bool
}{
	{"AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/iam/aws4_request, SignedHeaders=content-type;host;x-amz-date, Signature=5d672d79c15b13162d9279b0855cfba6789a8edb4c82c400e06b5924a6f2b5d7", false},
	{"AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/iam/aws4_request,SignedHeaders=host,Signature=5d672d79c15b13162d9279b0855cfba6789a8edb4c82c400e06b5924a6f2b5d7", false},
	{"AWS4-HMAC-SHA256 Signature=5d672d79c15b13162d9279b0855cfba6789a8edb4c82c400e06b5924a6f2b5d7, SignedHeaders=host, Credential=AK/20150830/r/s/aws4_request", false},
	{"AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/iam/aws4_request, SignedHeaders=host", true},
	{"AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/iam/aws4_reques, SignedHeaders=host, Signature=5d672d79c15b13162d9279b0855cfba6789a8edb4c82c400e06b5924a6f2b5d7", true},
	{"AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/2015083/us-east-1/iam/aws4_request, SignedHeaders=host, Signature=5d672d79c15b13162d9279b0855cfba6789a8edb4c82c400e06b5924a6f2b5d7", true},
	{"AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/iam/aws4_request, SignedHeaders=Host, Signature=5d672d79c15b13162d9279b0855cfba6789a8edb4c82c400e06b5924a6f2b5d7", true},
	{"AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/iam/aws4_request, SignedHeaders=host, Signature=5D672D79C15B13162D9279B0855CFBA6789A8EDB4C82C400E06B5924A6F2B5D7", true},
	{"AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/iam/aws4_request, Credential=AKIDEXAMPLE/20150830/us-east-1/iam/aws4_request, SignedHeaders=host, Signature=5d672d79c15b13162d9279b0855cfba6789a8edb4c82c400e06b5924a6f2b5d7", true},
	{"AWS AKIDEXAMPLE:frJIUN8DYpKDtOLCwo//yllqDzg=", true},
	{"Bearer abc", true},
	{"", true},
	{"AWS4-HMAC-SHA256", true},
	{"AWS4-HMAC-SHA256 Credential", true},
}

func TestParseAuthorization(t *testing.T) {
	t.Parallel()
	for _, tt := range authorizationCases {
		a, err := sigv4.ParseAuthorization(tt.in)
		if (err != nil) != tt.wantErr {
			t.Errorf("ParseAuthorization(%q) = %+v, %v; wantErr %v", tt.in, a, err, tt.wantErr)
		}
	}
	a, err := sigv4.ParseAuthorization(authorizationCases[0].in)
	if err != nil || a.Credential != (sigv4.Credential{AccessKeyID: "AKIDEXAMPLE", Date: "20150830", Region: "us-east-1", Service: "iam"}) ||
		strings.Join(a.SignedHeaders, ";") != "content-type;host;x-amz-date" {
		t.Errorf("ParseAuthorization = %+v, %v", a, err)
	}
}

func FuzzParseAuthorization(f *testing.F) {
	for _, tt := range authorizationCases {
		f.Add(tt.in)
	}
	f.Fuzz(func(t *testing.T, in string) {
		a, err := sigv4.ParseAuthorization(in)
		if err != nil {
			return
		}
		// Round trip: the canonical rendering parses to the same value.
		s := "AWS4-HMAC-SHA256 Credential=" + a.Credential.AccessKeyID + "/" + a.Credential.Scope() +
			", SignedHeaders=" + strings.Join(a.SignedHeaders, ";") + ", Signature=" + a.Signature
		b, err := sigv4.ParseAuthorization(s)
		if err != nil || b.Credential != a.Credential || b.Signature != a.Signature || strings.Join(b.SignedHeaders, ";") != strings.Join(a.SignedHeaders, ";") {
			t.Fatalf("round trip of %q via %q = %+v, %v; want %+v", in, s, b, err, a)
		}
	})
}

var chunkHeaderCases = []struct {
	in      string
	size    int64
	sig     string
	wantErr bool
}{
	{"10000;chunk-signature=ad80c730a21e5b8d04586a2213dd63b9a0e99e0e2307b0ade35a65485a288648", 65536, "ad80c730a21e5b8d04586a2213dd63b9a0e99e0e2307b0ade35a65485a288648", false},
	{"0;chunk-signature=b6c6ea8a5354eaf15b3cb7646744f4275b71ea724fed81ceb9323e279d449df9", 0, "b6c6ea8a5354eaf15b3cb7646744f4275b71ea724fed81ceb9323e279d449df9", false},
	{"400", 1024, "", false},
	{"0", 0, "", false},
	{"a;ext=1", 10, "", false},
	{"", 0, "", true},
	{"-1", 0, "", true},
	{"+1", 0, "", true},
	{"zz", 0, "", true},
	{"10000000000000000", 0, "", true},
	{"ffffffffffffffff", 0, "", true},
	{"10;chunk-signature=abc", 0, "", true},
}

func TestParseChunkHeader(t *testing.T) {
	t.Parallel()
	for _, tt := range chunkHeaderCases {
		h, err := sigv4.ParseChunkHeader(tt.in)
		if (err != nil) != tt.wantErr || (err == nil && (h.Size != tt.size || h.Signature != tt.sig)) {
			t.Errorf("ParseChunkHeader(%q) = %+v, %v; want size %d sig %q wantErr %v", tt.in, h, err, tt.size, tt.sig, tt.wantErr)
		}
	}
}

func FuzzParseChunkHeader(f *testing.F) {
	for _, tt := range chunkHeaderCases {
		f.Add(tt.in)
	}
	f.Fuzz(func(t *testing.T, in string) {
		h, err := sigv4.ParseChunkHeader(in)
		if err == nil && h.Size < 0 {
			t.Fatalf("ParseChunkHeader(%q) size %d < 0", in, h.Size)
		}
	})
}

// FuzzChunkedReader feeds arbitrary bodies to the aws-chunked decoder: it must
// never panic, and on success the decoded bytes must be the chunk data.
func FuzzChunkedReader(f *testing.F) {
	f.Add([]byte("5\r\nhello\r\n0\r\nx-amz-checksum-crc32:AAAA\r\n\r\n"), int64(5))
	f.Add([]byte("3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n"), int64(-1))
	f.Add([]byte("5\r\nhel"), int64(5))
	f.Add([]byte("0\r\n"), int64(0))
	f.Fuzz(func(t *testing.T, body []byte, decoded int64) {
		tr := http.Header{}
		got, err := io.ReadAll(sigv4.NewChunkedReader(bytes.NewReader(body), decoded, tr))
		if err != nil {
			if _, ok := errors.AsType[*sigv4.Error](err); !ok {
				t.Fatalf("error %v is not a *sigv4.Error", err)
			}
			return
		}
		if decoded >= 0 && int64(len(got)) != decoded {
			t.Fatalf("decoded %d bytes, header says %d", len(got), decoded)
		}
	})
}

// FuzzVerify mutates a request signed by the SDK (Authorization, X-Amz-Date,
// X-Amz-Content-Sha256, path, query, body): Verify must never panic, must
// fail only with *sigv4.Error, and must reject any change to the signature.
func FuzzVerify(f *testing.F) {
	body := []byte(`{"a":1}`)
	req := signedRequestNoT(http.MethodPut, "http://127.0.0.1/bkt/key?x=1", body, hashHex(body), "s3")
	f.Add(req.Header.Get("Authorization"), req.Header.Get("X-Amz-Date"), hashHex(body), "/bkt/key", "x=1", body)
	f.Add(req.Header.Get("Authorization"), req.Header.Get("X-Amz-Date"), "STREAMING-UNSIGNED-PAYLOAD-TRAILER", "/bkt/key", "x=1", []byte("7\r\n{\"a\":1}\r\n0\r\n\r\n"))
	f.Add(req.Header.Get("Authorization"), req.Header.Get("X-Amz-Date"), "STREAMING-AWS4-HMAC-SHA256-PAYLOAD", "/bkt/key", "X-Amz-Algorithm=AWS4-HMAC-SHA256", body)
	v := newVerifier(signTime, "s3")
	origSig := req.Header.Get("Authorization")[strings.LastIndex(req.Header.Get("Authorization"), "=")+1:]
	f.Fuzz(func(t *testing.T, auth, date, payload, path, query string, body []byte) {
		u := &url.URL{Scheme: "http", Host: "127.0.0.1", Path: path, RawQuery: query}
		r, err := http.NewRequest(http.MethodPut, "http://127.0.0.1/", bytes.NewReader(body))
		if err != nil {
			return
		}
		r.URL = u
		r.Host = "127.0.0.1"
		r.Header.Set("Authorization", auth)
		r.Header.Set("X-Amz-Date", date)
		r.Header.Set("X-Amz-Content-Sha256", payload)
		r.Header.Set("Content-Encoding", "aws-chunked")
		_, err = v.Verify(r)
		if err != nil {
			if _, ok := errors.AsType[*sigv4.Error](err); !ok {
				t.Fatalf("Verify error %v is not a *sigv4.Error", err)
			}
			return
		}
		if !strings.HasSuffix(auth, origSig) {
			t.Fatalf("Verify accepted a different signature: %q", auth)
		}
		if _, err := io.ReadAll(r.Body); err != nil {
			if _, ok := errors.AsType[*sigv4.Error](err); !ok {
				t.Fatalf("body error %v is not a *sigv4.Error", err)
			}
		}
	})
}

func signedRequestNoT(method, rawURL string, body []byte, payloadHash, service string) *http.Request {
	req, _ := http.NewRequest(method, rawURL, bytes.NewReader(body))
	req.Header.Set("X-Amz-Content-Sha256", payloadHash)
	v4.NewSigner().SignHTTP(context.Background(), creds, req, payloadHash, service, "us-east-1", signTime,
		func(o *v4.SignerOptions) { o.DisableURIPathEscaping = service == "s3" })
	return req
}

// TestFuzzVerifySeed checks that FuzzVerify's first seed is a valid request,
// so that the fuzzer starts from an accepted signature.
func TestFuzzVerifySeed(t *testing.T) {
	body := []byte(`{"a":1}`)
	req := signedRequestNoT(http.MethodPut, "http://127.0.0.1/bkt/key?x=1", body, hashHex(body), "s3")
	req.Header.Set("Content-Encoding", "aws-chunked")
	if _, err := newVerifier(signTime, "s3").Verify(req); err != nil {
		t.Fatalf("seed request: Verify = %v", err)
	}
}
