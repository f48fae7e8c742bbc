package sigv4_test

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/strata-ml/strata/internal/sigv4"
)

// TestV2Presigned checks the S3 documentation's query-string authentication
// example (signature version 2): GET /johnsmith/photos/puppy.jpg, expiring at
// 1175139620, signed with the documentation's example key.
func TestV2Presigned(t *testing.T) {
	t.Parallel()
	look := func(_ context.Context, akid string) (string, string, error) {
		if akid == "AKIAIOSFODNN7EXAMPLE" {
			return "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", "123", nil
		}
		return "", "", sigv4.ErrUnknownAccessKey
	}
	const u = "http://127.0.0.1/johnsmith/photos/puppy.jpg?AWSAccessKeyId=AKIAIOSFODNN7EXAMPLE&Expires=1175139620&Signature=NpgCjnDzrM%2BWFzoENXmpNDUsSn8%3D"
	tests := []struct {
		name string
		url  string
		now  time.Time
		want sigv4.Code
	}{
		{"valid", u, time.Unix(1175139000, 0), 0},
		{"expired", u, time.Unix(1175139621, 0), sigv4.CodeExpired},
		{"tampered path", "http://127.0.0.1/johnsmith/photos/kitten.jpg?AWSAccessKeyId=AKIAIOSFODNN7EXAMPLE&Expires=1175139620&Signature=NpgCjnDzrM%2BWFzoENXmpNDUsSn8%3D", time.Unix(1175139000, 0), sigv4.CodeSignatureMismatch},
		{"unknown key", "http://127.0.0.1/johnsmith/photos/puppy.jpg?AWSAccessKeyId=AKIDOTHER&Expires=1175139620&Signature=NpgCjnDzrM%2BWFzoENXmpNDUsSn8%3D", time.Unix(1175139000, 0), sigv4.CodeUnknownAccessKey},
	}
	for _, tt := range tests {
		v := sigv4.New(sigv4.Options{Services: []string{"s3"}, Lookup: look, Now: func() time.Time { return tt.now }})
		r, _ := http.NewRequest("GET", tt.url, nil)
		id, err := v.Verify(r)
		wantCode(t, err, tt.want)
		if tt.want == 0 && (id.Account != "123" || !id.Presigned) {
			t.Errorf("%s: identity %+v", tt.name, id)
		}
		if got := sigv4.SigningService(r); got != "s3" {
			t.Errorf("%s: SigningService = %q, want s3", tt.name, got)
		}
	}
	bedrock := sigv4.New(sigv4.Options{Services: []string{"bedrock"}, Lookup: look, Now: func() time.Time { return time.Unix(1175139000, 0) }})
	r, _ := http.NewRequest("GET", u, nil)
	_, err := bedrock.Verify(r)
	wantCode(t, err, sigv4.CodeWrongService)
}
