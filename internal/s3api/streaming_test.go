package s3api_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/hex"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/aws/aws-sdk-go-v2/service/s3"
)

// signedChunkedPut builds a STREAMING-AWS4-HMAC-SHA256-PAYLOAD PutObject (the
// framing Java SDK v1 and minio-go use): seed signature from the SDK signer,
// chunk signatures from the SDK's StreamSigner. mangle may damage the body.
func signedChunkedPut(t *testing.T, url string, payload []byte, mangle func([]byte) []byte) *http.Request {
	t.Helper()
	now := time.Now().UTC()
	cr := aws.Credentials{AccessKeyID: "AKIDALICE", SecretAccessKey: testKeys["AKIDALICE"][0]}
	req, _ := http.NewRequest("PUT", url, nil)
	req.Header.Set("X-Amz-Content-Sha256", "STREAMING-AWS4-HMAC-SHA256-PAYLOAD")
	req.Header.Set("Content-Encoding", "aws-chunked")
	req.Header.Set("X-Amz-Decoded-Content-Length", fmt.Sprint(len(payload)))
	if err := v4.NewSigner().SignHTTP(context.Background(), cr, req, "STREAMING-AWS4-HMAC-SHA256-PAYLOAD", "s3", "us-east-1", now,
		func(o *v4.SignerOptions) { o.DisableURIPathEscaping = true }); err != nil {
		t.Fatal(err)
	}
	auth := req.Header.Get("Authorization")
	seed, _ := hex.DecodeString(auth[strings.LastIndex(auth, "=")+1:])
	ss := v4.NewStreamSigner(cr, "s3", "us-east-1", seed)
	var b bytes.Buffer
	for off := 0; ; off += 64 << 10 {
		off = min(off, len(payload))
		data := payload[off:min(off+64<<10, len(payload))]
		sig, err := ss.GetSignature(context.Background(), nil, data, now)
		if err != nil {
			t.Fatal(err)
		}
		fmt.Fprintf(&b, "%x;chunk-signature=%x\r\n", len(data), sig)
		b.Write(data)
		b.WriteString("\r\n")
		if len(data) == 0 {
			break
		}
	}
	body := b.Bytes()
	if mangle != nil {
		body = mangle(body)
	}
	req.Body = io.NopCloser(bytes.NewReader(body))
	req.ContentLength = int64(len(body))
	return req
}

func TestSignedStreamingPut(t *testing.T) {
	t.Parallel()
	e := newEnv(t, diskblobOpts())
	c := e.client("AKIDALICE")
	mustCreateBucket(t, c, "chunked")
	payload := randBytes(8, 200_000)
	tests := []struct {
		name   string
		mangle func([]byte) []byte
		status int
		code   string
	}{
		{"intact", nil, 200, ""},
		{"flipped byte", func(b []byte) []byte { b[100_000] ^= 0x40; return b }, 403, "SignatureDoesNotMatch"},
		{"truncated", func(b []byte) []byte { return b[:150_000] }, 400, "IncompleteBody"},
	}
	for _, tt := range tests {
		req := signedChunkedPut(t, e.srv.URL+"/chunked/"+strings.ReplaceAll(tt.name, " ", "-"), payload, tt.mangle)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != tt.status || !strings.Contains(string(body), tt.code) {
			t.Errorf("%s: %d %s; want %d %s", tt.name, resp.StatusCode, body, tt.status, tt.code)
		}
		out, err := c.GetObject(t.Context(), &s3.GetObjectInput{Bucket: aws.String("chunked"), Key: aws.String(strings.ReplaceAll(tt.name, " ", "-"))})
		if tt.status != 200 {
			if err == nil {
				out.Body.Close()
				t.Errorf("%s: the object was stored", tt.name)
			}
			continue
		}
		if err != nil {
			t.Fatalf("%s: GetObject = %v", tt.name, err)
		}
		got, _ := io.ReadAll(out.Body)
		out.Body.Close()
		if !bytes.Equal(got, payload) {
			t.Errorf("%s: stored %d bytes, want the decoded %d", tt.name, len(got), len(payload))
		}
	}
}

// TestTruncatedBody: a client that sends fewer bytes than its Content-Length
// and half-closes gets IncompleteBody, and nothing is stored.
func TestTruncatedBody(t *testing.T) {
	t.Parallel()
	e := newEnv(t, diskblobOpts())
	c := e.client("AKIDALICE")
	mustCreateBucket(t, c, "trunc")
	req, _ := http.NewRequest("PUT", e.srv.URL+"/trunc/obj", nil)
	req.Header.Set("X-Amz-Content-Sha256", "UNSIGNED-PAYLOAD")
	req.ContentLength = 1000
	if err := v4.NewSigner().SignHTTP(t.Context(), aws.Credentials{AccessKeyID: "AKIDALICE", SecretAccessKey: testKeys["AKIDALICE"][0]},
		req, "UNSIGNED-PAYLOAD", "s3", "us-east-1", time.Now(), func(o *v4.SignerOptions) { o.DisableURIPathEscaping = true }); err != nil {
		t.Fatal(err)
	}
	conn, err := net.Dial("tcp", e.srv.Listener.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	var head bytes.Buffer
	fmt.Fprintf(&head, "PUT /trunc/obj HTTP/1.1\r\nHost: %s\r\nContent-Length: 1000\r\n", req.Host)
	for k, vs := range req.Header {
		fmt.Fprintf(&head, "%s: %s\r\n", k, vs[0])
	}
	head.WriteString("\r\n")
	conn.Write(head.Bytes())
	conn.Write(make([]byte, 500))
	conn.(*net.TCPConn).CloseWrite()
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 400 || !strings.Contains(string(body), "<Code>IncompleteBody</Code>") {
		t.Errorf("truncated PUT = %d %s, want 400 IncompleteBody", resp.StatusCode, body)
	}
	if _, err := c.HeadObject(t.Context(), &s3.HeadObjectInput{Bucket: aws.String("trunc"), Key: aws.String("obj")}); err == nil {
		t.Errorf("a truncated upload was stored")
	}
}
