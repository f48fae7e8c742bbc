package sigv4_test

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"strings"
	"testing"

	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"

	"github.com/strata-ml/strata/internal/sigv4"
)

// BenchmarkVerifyHeader verifies a signed Bedrock-style JSON request (body
// hashed by the server); compare with BenchmarkSDKSign, the SDK's own cost to
// produce the same signature.
func BenchmarkVerifyHeader(b *testing.B) {
	body := []byte(`{"jobName":"j1","customModelName":"m","baseModelIdentifier":"meta.llama3-1-8b-instruct-v1:0","hyperParameters":{"epochCount":"2"}}`)
	req, _ := http.NewRequest("POST", "http://127.0.0.1:8080/model-customization-jobs", bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	if err := v4.NewSigner().SignHTTP(context.Background(), creds, req, hashHex(body), "bedrock", "us-east-1", signTime); err != nil {
		b.Fatal(err)
	}
	v := newVerifier(signTime, "bedrock")
	b.ReportAllocs()
	for b.Loop() {
		req.Body = io.NopCloser(bytes.NewReader(body))
		if _, err := v.Verify(req); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkSDKSign(b *testing.B) {
	body := []byte(`{"jobName":"j1","customModelName":"m","baseModelIdentifier":"meta.llama3-1-8b-instruct-v1:0","hyperParameters":{"epochCount":"2"}}`)
	s := v4.NewSigner()
	b.ReportAllocs()
	for b.Loop() {
		req, _ := http.NewRequest("POST", "http://127.0.0.1:8080/model-customization-jobs", bytes.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		if err := s.SignHTTP(context.Background(), creds, req, hashHex(body), "bedrock", "us-east-1", signTime); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkChunkedReader decodes an unsigned aws-chunked body of 64 KiB
// chunks (MB/s of decoded payload).
func BenchmarkChunkedReader(b *testing.B) {
	chunk := strings.Repeat("x", 64<<10)
	var buf bytes.Buffer
	for range 64 {
		buf.WriteString("10000\r\n" + chunk + "\r\n")
	}
	buf.WriteString("0\r\nx-amz-checksum-crc32:AAAAAA==\r\n\r\n")
	enc := buf.Bytes()
	b.SetBytes(64 << 16)
	b.ReportAllocs()
	for b.Loop() {
		n, err := io.Copy(io.Discard, sigv4.NewChunkedReader(bytes.NewReader(enc), 64<<16, nil))
		if err != nil || n != 64<<16 {
			b.Fatal(n, err)
		}
	}
}
