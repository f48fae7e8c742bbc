package sigv4_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"

	"github.com/strata-ml/strata/internal/sigv4"
)

const (
	testAKID    = "AKIDEXAMPLE"
	testSecret  = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"
	testAccount = "123456789012"
)

var signTime = time.Date(2026, 11, 23, 2, 30, 0, 0, time.UTC)

func lookup(_ context.Context, akid string) (string, string, error) {
	if akid == testAKID {
		return testSecret, testAccount, nil
	}
	return "", "", fmt.Errorf("key %q: %w", akid, sigv4.ErrUnknownAccessKey)
}

func newVerifier(now time.Time, services ...string) *sigv4.Verifier {
	return sigv4.New(sigv4.Options{Services: services, Lookup: lookup, Now: func() time.Time { return now }})
}

// result is what the test server saw.
type result struct {
	id       *sigv4.Identity
	err      error
	body     []byte
	readErr  error
	trailers http.Header
	length   int64
	encoding string
}

// serve starts a loopback server that verifies every request with v and
// reports what it saw on the returned channel.
func serve(t *testing.T, v *sigv4.Verifier) (string, <-chan result) {
	t.Helper()
	ch := make(chan result, 1)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var res result
		res.id, res.err = v.Verify(r)
		if res.err == nil {
			res.length = r.ContentLength
			res.encoding = r.Header.Get("Content-Encoding")
			res.body, res.readErr = io.ReadAll(r.Body)
			res.trailers = r.Trailer
		}
		ch <- res
		w.WriteHeader(http.StatusNoContent)
	}))
	t.Cleanup(srv.Close)
	return srv.URL, ch
}

func do(t *testing.T, req *http.Request, ch <-chan result) result {
	t.Helper()
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("do %s %s: %v", req.Method, req.URL, err)
	}
	resp.Body.Close()
	return <-ch
}

func hashHex(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

var creds = aws.Credentials{AccessKeyID: testAKID, SecretAccessKey: testSecret}

// signedRequest builds a request signed by the AWS SDK for Go v2 signer.
func signedRequest(t *testing.T, method, rawURL string, body []byte, payloadHash, service string, hdr http.Header, c aws.Credentials) *http.Request {
	t.Helper()
	req, err := http.NewRequest(method, rawURL, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	for k, vs := range hdr {
		req.Header[k] = vs
	}
	if payloadHash == "" {
		payloadHash = hashHex(body)
	}
	opt := func(o *v4.SignerOptions) { o.DisableURIPathEscaping = service == "s3" }
	if err := v4.NewSigner().SignHTTP(context.Background(), c, req, payloadHash, service, "us-east-1", signTime, opt); err != nil {
		t.Fatal(err)
	}
	return req
}

func wantCode(t *testing.T, err error, want sigv4.Code) {
	t.Helper()
	if want == 0 {
		if err != nil {
			t.Fatalf("Verify() = %v, want success", err)
		}
		return
	}
	e, ok := errors.AsType[*sigv4.Error](err)
	if !ok {
		t.Fatalf("Verify() error = %v, want *sigv4.Error with code %v", err, want)
	}
	if e.Code != want {
		t.Fatalf("Verify() code = %v (%v), want %v", e.Code, err, want)
	}
}

// TestVerifyHeaderAuth signs requests with the SDK's signer and tampers with them.
func TestVerifyHeaderAuth(t *testing.T) {
	t.Parallel()
	body := []byte(`{"jobName":"j1","hyperParameters":{"epochCount":"2"}}`)
	arnPath := "/custom-models/arn%3Aaws%3Abedrock%3Aus-east-1%3A123456789012%3Acustom-model%2Famazon.titan-text-express-v1%3A0%3A8k%2Fabcdefghijkl"
	tests := []struct {
		name     string
		now      time.Time
		services []string
		method   string
		path     string
		body     []byte
		service  string
		creds    aws.Credentials
		hdr      http.Header
		tamper   func(r *http.Request)
		want     sigv4.Code
	}{
		{name: "bedrock post body", method: "POST", path: "/model-customization-jobs", body: body},
		{name: "bedrock arn path", method: "GET", path: arnPath},
		{name: "bedrock query", method: "GET", path: "/custom-models?creationTimeAfter=2024-01-02T03%3A04%3A05Z&maxResults=10&sortBy=CreationTime"},
		{name: "bedrock empty post", method: "POST", path: "/model-customization-jobs/j1/stop"},
		{name: "session token", method: "POST", path: "/model/m/invoke", body: body,
			creds: aws.Credentials{AccessKeyID: testAKID, SecretAccessKey: testSecret, SessionToken: "tok"}},
		{name: "s3 key with specials", method: "PUT", path: "/bkt/a%20b/c%2Bd%3D%C3%A9", body: body, service: "s3",
			hdr: http.Header{"X-Amz-Meta-Foo": {"  bar   baz "}}},
		{name: "s3 signed payload", method: "PUT", path: "/bkt/k", body: body, service: "s3",
			hdr: http.Header{"X-Amz-Content-Sha256": {hashHex(body)}}},
		{name: "s3 unsigned payload", method: "PUT", path: "/bkt/k", body: body, service: "s3",
			hdr: http.Header{"X-Amz-Content-Sha256": {sigv4.UnsignedPayload}}},
		{name: "bad secret", method: "POST", path: "/x", body: body,
			creds: aws.Credentials{AccessKeyID: testAKID, SecretAccessKey: "wrong"}, want: sigv4.CodeSignatureMismatch},
		{name: "unknown key", method: "POST", path: "/x", body: body,
			creds: aws.Credentials{AccessKeyID: "AKIDUNKNOWN", SecretAccessKey: testSecret}, want: sigv4.CodeUnknownAccessKey},
		{name: "body tampered", method: "POST", path: "/x", body: body, want: sigv4.CodeSignatureMismatch,
			tamper: func(r *http.Request) {
				r.Body = io.NopCloser(strings.NewReader(strings.Replace(string(body), "j1", "j2", 1)))
			}},
		{name: "path tampered", method: "GET", path: "/custom-models/a", want: sigv4.CodeSignatureMismatch,
			tamper: func(r *http.Request) { r.URL.Path = "/custom-models/b"; r.URL.RawPath = "" }},
		{name: "query tampered", method: "GET", path: "/custom-models?maxResults=10", want: sigv4.CodeSignatureMismatch,
			tamper: func(r *http.Request) { r.URL.RawQuery = "maxResults=11" }},
		{name: "method tampered", method: "GET", path: "/x", want: sigv4.CodeSignatureMismatch,
			tamper: func(r *http.Request) { r.Method = "DELETE" }},
		{name: "signed header tampered", method: "POST", path: "/x", body: body, hdr: http.Header{"Content-Type": {"application/json"}},
			want: sigv4.CodeSignatureMismatch, tamper: func(r *http.Request) { r.Header.Set("Content-Type", "text/plain") }},
		{name: "skew past", now: signTime.Add(16 * time.Minute), method: "GET", path: "/x", want: sigv4.CodeTimeSkewed},
		{name: "skew future", now: signTime.Add(-16 * time.Minute), method: "GET", path: "/x", want: sigv4.CodeTimeSkewed},
		{name: "skew within", now: signTime.Add(14 * time.Minute), method: "GET", path: "/x"},
		{name: "wrong service", services: []string{"s3"}, method: "GET", path: "/x", want: sigv4.CodeWrongService},
		{name: "no auth", method: "GET", path: "/x", want: sigv4.CodeMissingAuth,
			tamper: func(r *http.Request) { r.Header.Del("Authorization") }},
		{name: "v2 auth", method: "GET", path: "/x", want: sigv4.CodeUnsupportedAlgorithm,
			tamper: func(r *http.Request) { r.Header.Set("Authorization", "AWS AKIDEXAMPLE:c2lnbmF0dXJl") }},
		{name: "truncated auth", method: "GET", path: "/x", want: sigv4.CodeMalformed,
			tamper: func(r *http.Request) {
				a := r.Header.Get("Authorization")
				r.Header.Set("Authorization", a[:strings.Index(a, ", Signature")])
			}},
		{name: "missing date", method: "GET", path: "/x", want: sigv4.CodeMalformed,
			tamper: func(r *http.Request) { r.Header.Del("X-Amz-Date") }},
		{name: "s3 content sha mismatch", method: "PUT", path: "/bkt/k", body: body, service: "s3",
			hdr: http.Header{"X-Amz-Content-Sha256": {hashHex([]byte("other"))}}, want: sigv4.CodeContentSHA256Mismatch},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			now := tt.now
			if now.IsZero() {
				now = signTime
			}
			service := tt.service
			if service == "" {
				service = "bedrock"
			}
			services := tt.services
			if services == nil {
				services = []string{service}
			}
			c := tt.creds
			if c.AccessKeyID == "" {
				c = creds
			}
			base, ch := serve(t, newVerifier(now, services...))
			payload := ""
			if h := tt.hdr.Get("X-Amz-Content-Sha256"); h != "" {
				payload = h
			}
			req := signedRequest(t, tt.method, base+tt.path, tt.body, payload, service, tt.hdr, c)
			if tt.tamper != nil {
				tt.tamper(req)
			}
			res := do(t, req, ch)
			wantCode(t, res.err, tt.want)
			if tt.want != 0 {
				return
			}
			if res.readErr != nil || !bytes.Equal(res.body, tt.body) {
				t.Errorf("body after Verify = %q, %v; want %q", res.body, res.readErr, tt.body)
			}
			if res.id.Account != testAccount || res.id.Service != service || res.id.Region != "us-east-1" || res.id.SessionToken != c.SessionToken {
				t.Errorf("identity = %+v", res.id)
			}
		})
	}
}

// TestVerifyPresigned presigns URLs with the SDK's signer.
func TestVerifyPresigned(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		now     time.Time
		expires string
		tamper  func(u *url.URL)
		want    sigv4.Code
	}{
		{name: "valid", now: signTime.Add(time.Minute), expires: "900"},
		{name: "valid at end", now: signTime.Add(900 * time.Second), expires: "900"},
		{name: "expired", now: signTime.Add(901 * time.Second), expires: "900", want: sigv4.CodeExpired},
		{name: "not yet valid", now: signTime.Add(-16 * time.Minute), expires: "900", want: sigv4.CodeNotYetValid},
		{name: "too long expiry", now: signTime, expires: "604801", want: sigv4.CodeMalformed},
		{name: "signature tampered", now: signTime, expires: "900", want: sigv4.CodeSignatureMismatch,
			tamper: func(u *url.URL) {
				q := u.Query()
				q.Set("X-Amz-Expires", "901")
				u.RawQuery = q.Encode()
			}},
		{name: "key tampered", now: signTime, expires: "900", want: sigv4.CodeSignatureMismatch,
			tamper: func(u *url.URL) { u.Path = "/bkt/other" }},
		{name: "missing signature", now: signTime, expires: "900", want: sigv4.CodeMalformed,
			tamper: func(u *url.URL) {
				q := u.Query()
				q.Del("X-Amz-Signature")
				u.RawQuery = q.Encode()
			}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			base, ch := serve(t, newVerifier(tt.now, "s3"))
			req, _ := http.NewRequest("GET", base+"/bkt/dir/obj%20name.txt?response-content-type=text%2Fplain", nil)
			q := req.URL.Query()
			q.Set("X-Amz-Expires", tt.expires)
			req.URL.RawQuery = q.Encode()
			signedURL, hdr, err := v4.NewSigner().PresignHTTP(context.Background(), creds, req, sigv4.UnsignedPayload, "s3", "us-east-1", signTime,
				func(o *v4.SignerOptions) { o.DisableURIPathEscaping = true })
			if err != nil {
				t.Fatal(err)
			}
			u, _ := url.Parse(signedURL)
			if tt.tamper != nil {
				tt.tamper(u)
			}
			get, _ := http.NewRequest("GET", u.String(), nil)
			for k, v := range hdr {
				if k != "Host" {
					get.Header[k] = v
				}
			}
			res := do(t, get, ch)
			wantCode(t, res.err, tt.want)
			if tt.want == 0 && !res.id.Presigned {
				t.Errorf("identity = %+v, want Presigned", res.id)
			}
		})
	}
}

// encodeSignedChunks frames payload as STREAMING-AWS4-HMAC-SHA256-PAYLOAD with
// chunk signatures from the SDK's StreamSigner (headers empty, so its string
// to sign is exactly the S3 chunk string to sign).
func encodeSignedChunks(t *testing.T, payload []byte, chunk int, seed string, trailer string) []byte {
	t.Helper()
	seedSig, _ := hex.DecodeString(seed)
	ss := v4.NewStreamSigner(creds, "s3", "us-east-1", seedSig)
	var b bytes.Buffer
	for off := 0; ; off += chunk {
		off = min(off, len(payload))
		end := min(off+chunk, len(payload))
		data := payload[off:end]
		sig, err := ss.GetSignature(context.Background(), nil, data, signTime)
		if err != nil {
			t.Fatal(err)
		}
		fmt.Fprintf(&b, "%x;chunk-signature=%s\r\n", len(data), hex.EncodeToString(sig))
		b.Write(data)
		if len(data) == 0 {
			break
		}
		b.WriteString("\r\n")
	}
	if trailer == "" {
		b.WriteString("\r\n")
	} else {
		b.WriteString(trailer)
	}
	return b.Bytes()
}

func seedRequest(t *testing.T, base string, payloadMode string, decodedLen int, body []byte, extra http.Header) *http.Request {
	t.Helper()
	hdr := http.Header{
		"X-Amz-Content-Sha256":         {payloadMode},
		"Content-Encoding":             {"aws-chunked"},
		"X-Amz-Decoded-Content-Length": {strconv.Itoa(decodedLen)},
	}
	for k, v := range extra {
		hdr[k] = v
	}
	return signedRequest(t, "PUT", base+"/bkt/big", body, payloadMode, "s3", hdr, creds)
}

func seedSignature(req *http.Request) string {
	a := req.Header.Get("Authorization")
	return a[strings.LastIndex(a, "=")+1:]
}

func TestVerifyStreamingSigned(t *testing.T) {
	t.Parallel()
	payload := bytes.Repeat([]byte("0123456789abcdef"), 5000) // 80000 bytes
	tests := []struct {
		name    string
		chunk   int
		decoded int
		mangle  func(b []byte) []byte
		want    sigv4.Code // from reading the body
	}{
		{name: "64KiB chunks", chunk: 65536, decoded: len(payload)},
		{name: "8KiB chunks", chunk: 8192, decoded: len(payload)},
		{name: "one byte flipped", chunk: 8192, decoded: len(payload), want: sigv4.CodeSignatureMismatch,
			mangle: func(b []byte) []byte { b[20000] ^= 1; return b }},
		{name: "truncated", chunk: 8192, decoded: len(payload), want: sigv4.CodeIncompleteBody,
			mangle: func(b []byte) []byte { return b[:len(b)/2] }},
		{name: "wrong decoded length", chunk: 8192, decoded: len(payload) - 1, want: sigv4.CodeIncompleteBody},
		{name: "final chunk dropped", chunk: 8192, decoded: len(payload), want: sigv4.CodeIncompleteBody,
			mangle: func(b []byte) []byte { return b[:bytes.LastIndex(b, []byte("0;chunk-signature"))] }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			base, ch := serve(t, newVerifier(signTime, "s3"))
			// The seed signature does not cover the body, only its framing headers.
			req := seedRequest(t, base, sigv4.StreamingPayload, tt.decoded, nil, nil)
			body := encodeSignedChunks(t, payload, tt.chunk, seedSignature(req), "")
			if tt.mangle != nil {
				body = tt.mangle(body)
			}
			req.Body = io.NopCloser(bytes.NewReader(body))
			req.ContentLength = int64(len(body))
			res := do(t, req, ch)
			if res.err != nil {
				t.Fatalf("Verify() = %v", res.err)
			}
			wantCode(t, res.readErr, tt.want)
			if tt.want == 0 {
				if !bytes.Equal(res.body, payload) {
					t.Errorf("decoded body differs: %d bytes, want %d", len(res.body), len(payload))
				}
				if res.length != int64(len(payload)) || res.encoding != "" {
					t.Errorf("ContentLength, Content-Encoding = %d, %q; want %d, \"\"", res.length, res.encoding, len(payload))
				}
			}
		})
	}
}

func TestVerifyStreamingSignedTrailer(t *testing.T) {
	t.Parallel()
	payload := []byte(strings.Repeat("trailer test ", 1000))
	for _, good := range []bool{true, false} {
		t.Run(fmt.Sprint("good=", good), func(t *testing.T) {
			t.Parallel()
			base, ch := serve(t, newVerifier(signTime, "s3"))
			req := seedRequest(t, base, sigv4.StreamingPayloadTrailer, len(payload), nil,
				http.Header{"X-Amz-Trailer": {"x-amz-checksum-crc32"}})
			// Build the body by hand: the SDK has no signed-trailer encoder.
			body := encodeSignedChunks(t, payload, 4096, seedSignature(req), "\x00")
			body = body[:len(body)-1]
			finalSig := string(body[bytes.LastIndex(body, []byte("chunk-signature="))+16:][:64])
			trailer := "x-amz-checksum-crc32:AAAAAA==\n"
			sts := "AWS4-HMAC-SHA256-TRAILER\n" + signTime.Format("20060102T150405Z") + "\n20261123/us-east-1/s3/aws4_request\n" + finalSig + "\n" + hashHex([]byte(trailer))
			sig := hex.EncodeToString(hmacChain(sts))
			if !good {
				sig = strings.Repeat("0", 64)
			}
			body = append(body, "x-amz-checksum-crc32:AAAAAA==\r\nx-amz-trailer-signature:"+sig+"\r\n\r\n"...)
			req.Body = io.NopCloser(bytes.NewReader(body))
			req.ContentLength = int64(len(body))
			res := do(t, req, ch)
			if res.err != nil {
				t.Fatalf("Verify() = %v", res.err)
			}
			if good {
				wantCode(t, res.readErr, 0)
				if got := res.trailers.Get("X-Amz-Checksum-Crc32"); got != "AAAAAA==" {
					t.Errorf("trailer = %q, want AAAAAA==", got)
				}
			} else {
				wantCode(t, res.readErr, sigv4.CodeSignatureMismatch)
			}
		})
	}
}

func TestVerifyStreamingUnsignedTrailer(t *testing.T) {
	t.Parallel()
	payload := []byte(strings.Repeat("x", 70000))
	var b bytes.Buffer
	fmt.Fprintf(&b, "%x\r\n%s\r\n", 65536, payload[:65536])
	fmt.Fprintf(&b, "%x\r\n%s\r\n", len(payload)-65536, payload[65536:])
	b.WriteString("0\r\nx-amz-checksum-crc64nvme:abcdEFGH1234=\r\n\r\n")
	base, ch := serve(t, newVerifier(signTime, "s3"))
	req := seedRequest(t, base, sigv4.StreamingUnsignedTrailer, len(payload), nil,
		http.Header{"X-Amz-Trailer": {"x-amz-checksum-crc64nvme"}})
	req.Body = io.NopCloser(bytes.NewReader(b.Bytes()))
	req.ContentLength = int64(b.Len())
	res := do(t, req, ch)
	if res.err != nil || res.readErr != nil {
		t.Fatalf("Verify() = %v, read = %v", res.err, res.readErr)
	}
	if !bytes.Equal(res.body, payload) {
		t.Errorf("decoded body differs")
	}
	if got := res.trailers.Get("x-amz-checksum-crc64nvme"); got != "abcdEFGH1234=" {
		t.Errorf("trailer = %q", got)
	}
}

func hmacChain(sts string) []byte {
	k := hmacSum([]byte("AWS4"+testSecret), "20261123")
	k = hmacSum(k, "us-east-1")
	k = hmacSum(k, "s3")
	k = hmacSum(k, "aws4_request")
	return hmacSum(k, sts)
}

func TestErrorCodes(t *testing.T) {
	t.Parallel()
	tests := []struct {
		code          sigv4.Code
		presigned     bool
		s3            string
		s3Status      int
		bedrock       string
		bedrockStatus int
	}{
		{sigv4.CodeMissingAuth, false, "AccessDenied", 403, "MissingAuthenticationTokenException", 403},
		{sigv4.CodeMalformed, false, "AuthorizationHeaderMalformed", 400, "IncompleteSignatureException", 400},
		{sigv4.CodeMalformed, true, "AuthorizationQueryParametersError", 400, "IncompleteSignatureException", 400},
		{sigv4.CodeUnknownAccessKey, false, "InvalidAccessKeyId", 403, "UnrecognizedClientException", 403},
		{sigv4.CodeSignatureMismatch, false, "SignatureDoesNotMatch", 403, "InvalidSignatureException", 403},
		{sigv4.CodeTimeSkewed, false, "RequestTimeTooSkewed", 403, "InvalidSignatureException", 403},
		{sigv4.CodeExpired, true, "AccessDenied", 403, "InvalidSignatureException", 403},
		{sigv4.CodeContentSHA256Mismatch, false, "XAmzContentSHA256Mismatch", 400, "InvalidSignatureException", 403},
		{sigv4.CodeIncompleteBody, false, "IncompleteBody", 400, "IncompleteSignatureException", 400},
		{sigv4.CodeInternal, false, "InternalError", 500, "InternalServerException", 500},
	}
	for _, tt := range tests {
		e := &sigv4.Error{Code: tt.code, Presigned: tt.presigned}
		if c, s := e.S3(); c != tt.s3 || s != tt.s3Status {
			t.Errorf("%v.S3() = %s %d, want %s %d", tt.code, c, s, tt.s3, tt.s3Status)
		}
		if c, s := e.Bedrock(); c != tt.bedrock || s != tt.bedrockStatus {
			t.Errorf("%v.Bedrock() = %s %d, want %s %d", tt.code, c, s, tt.bedrock, tt.bedrockStatus)
		}
	}
}

func TestSigningService(t *testing.T) {
	t.Parallel()
	req := signedRequest(t, "GET", "http://h/x", nil, "", "s3", nil, creds)
	if got := sigv4.SigningService(req); got != "s3" {
		t.Errorf("SigningService(header) = %q, want s3", got)
	}
	req, _ = http.NewRequest("GET", "http://h/b/k?X-Amz-Credential=AK%2F20261123%2Fus-east-1%2Fbedrock%2Faws4_request", nil)
	if got := sigv4.SigningService(req); got != "bedrock" {
		t.Errorf("SigningService(query) = %q, want bedrock", got)
	}
	req, _ = http.NewRequest("GET", "http://h/b/k", nil)
	if got := sigv4.SigningService(req); got != "" {
		t.Errorf("SigningService(unsigned) = %q, want empty", got)
	}
}
