//go:build integration

package integration

import (
	"crypto/sha256"
	"encoding/hex"
	"io"
	"net/http"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
)

// TestAuthFrontDoor checks the error names AWS's front door uses for bad
// credentials, against the real binary: status, X-Amzn-ErrorType, and a
// JSON message, never a 5xx.
func TestAuthFrontDoor(t *testing.T) {
	srv := StartServer(t, t.TempDir())
	sum := sha256.Sum256(nil)
	emptyHash := hex.EncodeToString(sum[:])
	signed := func(akid, secret, region string, at time.Time) *http.Request {
		req, _ := http.NewRequestWithContext(t.Context(), "GET", srv.Endpoint+"/custom-models", nil)
		if err := v4.NewSigner().SignHTTP(t.Context(), aws.Credentials{AccessKeyID: akid, SecretAccessKey: secret}, req, emptyHash, "bedrock", region, at); err != nil {
			t.Fatal(err)
		}
		return req
	}
	plain := func(auth string) *http.Request {
		req, _ := http.NewRequestWithContext(t.Context(), "GET", srv.Endpoint+"/custom-models", nil)
		if auth != "" {
			req.Header.Set("Authorization", auth)
		}
		return req
	}
	tests := []struct {
		name   string
		req    *http.Request
		status int
		code   string
	}{
		{"valid", signed(testAKID, testSecret, testRegion, time.Now()), 200, ""},
		{"missing", plain(""), 403, "MissingAuthenticationTokenException"},
		{"unknown key", signed("AKIDNOBODY", "x", testRegion, time.Now()), 403, "UnrecognizedClientException"},
		{"wrong secret", signed(testAKID, "wrong", testRegion, time.Now()), 403, "InvalidSignatureException"},
		{"expired", signed(testAKID, testSecret, testRegion, time.Now().Add(-20*time.Minute)), 403, "InvalidSignatureException"},
		{"wrong region", signed(testAKID, testSecret, "eu-west-1", time.Now()), 403, "InvalidSignatureException"},
		{"malformed", plain("AWS4-HMAC-SHA256 Credential=oops"), 400, "IncompleteSignatureException"},
		{"bad bearer", plain("Bearer ABSKnotatoken"), 403, "UnrecognizedClientException"},
	}
	for _, tt := range tests {
		res, err := http.DefaultClient.Do(tt.req)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(res.Body)
		res.Body.Close()
		if res.StatusCode != tt.status || res.Header.Get("X-Amzn-ErrorType") != tt.code || res.Header.Get("X-Amzn-RequestId") == "" {
			t.Errorf("%s: %d %q %s, want %d %q", tt.name, res.StatusCode, res.Header.Get("X-Amzn-ErrorType"), body, tt.status, tt.code)
		}
	}
}
