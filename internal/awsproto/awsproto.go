// Package awsproto holds the restJson1 helpers of the Bedrock wire protocol:
// ARNs and resource ids, ISO-8601 timestamps, the service model's anchored
// patterns, Coral-style input validation messages, strict JSON request
// decoding and pagination tokens. It knows nothing about HTTP routing or
// storage.
package awsproto

import (
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// TimeFormat is the layout of timestamps in response bodies: ISO-8601 UTC
// with milliseconds and a Z suffix (SPEC §A.3).
const TimeFormat = "2006-01-02T15:04:05.000Z"

// FormatTime formats t for a response body.
func FormatTime(t time.Time) string { return t.UTC().Format(TimeFormat) }

// ParseTime parses a timestamp query member: ISO-8601 with or without
// fractional seconds, or epoch seconds.
func ParseTime(s string) (time.Time, error) {
	if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
		return t.UTC(), nil
	}
	if f, err := strconv.ParseFloat(s, 64); err == nil {
		sec := int64(f)
		return time.Unix(sec, int64((f-float64(sec))*1e9)).UTC(), nil
	}
	return time.Time{}, fmt.Errorf("awsproto: bad timestamp %q", s)
}

const idAlphabet = "abcdefghijklmnopqrstuvwxyz0123456789"

// NewID returns a random 12-character [a-z0-9] resource id.
func NewID() string {
	var b [12]byte
	_, _ = rand.Read(b[:])
	for i := range b {
		b[i] = idAlphabet[int(b[i])%len(idAlphabet)]
	}
	return string(b[:])
}

// IsID reports whether s is a 12-character [a-z0-9] resource id.
func IsID(s string) bool {
	if len(s) != 12 {
		return false
	}
	for i := range len(s) {
		if !strings.ContainsRune(idAlphabet, rune(s[i])) {
			return false
		}
	}
	return true
}

// EncodeToken encodes a pagination cursor as an opaque nextToken.
func EncodeToken(cursor string) string {
	return base64.RawURLEncoding.EncodeToString([]byte("v1:" + cursor))
}

// DecodeToken decodes a nextToken produced by EncodeToken.
func DecodeToken(tok string) (string, error) {
	b, err := base64.RawURLEncoding.DecodeString(tok)
	if err != nil || !strings.HasPrefix(string(b), "v1:") {
		return "", fmt.Errorf("awsproto: invalid pagination token")
	}
	return string(b[3:]), nil
}
