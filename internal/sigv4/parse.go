package sigv4

import (
	"errors"
	"fmt"
	"net/url"
	"sort"
	"strings"
	"time"
)

// Algorithm is the only signing algorithm accepted.
const Algorithm = "AWS4-HMAC-SHA256"

const (
	amzDateFormat   = "20060102T150405Z"
	scopeDateFormat = "20060102"
	scopeTerminator = "aws4_request"
)

// Credential is the "AKID/YYYYMMDD/region/service/aws4_request" part of a signature.
type Credential struct {
	AccessKeyID string
	Date        string // YYYYMMDD
	Region      string
	Service     string
}

// Scope returns "YYYYMMDD/region/service/aws4_request".
func (c Credential) Scope() string {
	return c.Date + "/" + c.Region + "/" + c.Service + "/" + scopeTerminator
}

// Authorization is a parsed SigV4 Authorization header.
type Authorization struct {
	Credential    Credential
	SignedHeaders []string // lowercase, as listed
	Signature     string   // 64 lowercase hex digits
}

var errMalformed = errors.New("malformed")

// ParseCredential parses "AKID/YYYYMMDD/region/service/aws4_request".
func ParseCredential(s string) (Credential, error) {
	parts := strings.Split(s, "/")
	if len(parts) < 5 {
		return Credential{}, fmt.Errorf("credential %q: want AKID/YYYYMMDD/REGION/SERVICE/aws4_request: %w", s, errMalformed)
	}
	n := len(parts)
	c := Credential{
		AccessKeyID: strings.Join(parts[:n-4], "/"),
		Date:        parts[n-4],
		Region:      parts[n-3],
		Service:     parts[n-2],
	}
	if parts[n-1] != scopeTerminator {
		return Credential{}, fmt.Errorf("credential %q: incorrect terminal %q, want %q: %w", s, parts[n-1], scopeTerminator, errMalformed)
	}
	if c.AccessKeyID == "" || c.Region == "" || c.Service == "" {
		return Credential{}, fmt.Errorf("credential %q: empty component: %w", s, errMalformed)
	}
	if _, err := time.Parse(scopeDateFormat, c.Date); err != nil || len(c.Date) != 8 {
		return Credential{}, fmt.Errorf("credential %q: incorrect date format %q, want yyyyMMdd: %w", s, c.Date, errMalformed)
	}
	return c, nil
}

// ParseSignedHeaders parses "host;x-amz-date" into its lowercase names.
func ParseSignedHeaders(s string) ([]string, error) {
	if s == "" {
		return nil, fmt.Errorf("empty SignedHeaders: %w", errMalformed)
	}
	hs := strings.Split(s, ";")
	for _, h := range hs {
		if h == "" || h != strings.ToLower(h) || strings.ContainsAny(h, " \t:\r\n") {
			return nil, fmt.Errorf("SignedHeaders %q: bad header name %q: %w", s, h, errMalformed)
		}
	}
	return hs, nil
}

// ParseSignature checks that s is 64 lowercase hex digits.
func ParseSignature(s string) (string, error) {
	if len(s) != 64 {
		return "", fmt.Errorf("signature %q: want 64 hex digits: %w", s, errMalformed)
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f') {
			return "", fmt.Errorf("signature %q: want lowercase hex: %w", s, errMalformed)
		}
	}
	return s, nil
}

// ParseAuthorization parses an Authorization header value of the form
//
//	AWS4-HMAC-SHA256 Credential=AKID/YYYYMMDD/REGION/SERVICE/aws4_request, SignedHeaders=h1;h2, Signature=HEX
//
// Components are separated by commas with optional spaces and may appear in any
// order; each must appear exactly once. An algorithm other than
// AWS4-HMAC-SHA256 yields an error wrapping [ErrUnsupportedAlgorithm].
func ParseAuthorization(h string) (Authorization, error) {
	algo, rest, _ := strings.Cut(strings.TrimSpace(h), " ")
	if algo != Algorithm {
		return Authorization{}, fmt.Errorf("algorithm %q: %w", algo, ErrUnsupportedAlgorithm)
	}
	var a Authorization
	var haveCred, haveSH, haveSig bool
	for part := range strings.SplitSeq(rest, ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		k, v, ok := strings.Cut(part, "=")
		if !ok {
			return Authorization{}, fmt.Errorf("component %q: want key=value: %w", part, errMalformed)
		}
		var err error
		switch k {
		case "Credential":
			if haveCred {
				return Authorization{}, fmt.Errorf("duplicate Credential: %w", errMalformed)
			}
			haveCred = true
			a.Credential, err = ParseCredential(v)
		case "SignedHeaders":
			if haveSH {
				return Authorization{}, fmt.Errorf("duplicate SignedHeaders: %w", errMalformed)
			}
			haveSH = true
			a.SignedHeaders, err = ParseSignedHeaders(v)
		case "Signature":
			if haveSig {
				return Authorization{}, fmt.Errorf("duplicate Signature: %w", errMalformed)
			}
			haveSig = true
			a.Signature, err = ParseSignature(v)
		default:
			return Authorization{}, fmt.Errorf("unknown component %q: %w", k, errMalformed)
		}
		if err != nil {
			return Authorization{}, err
		}
	}
	switch {
	case !haveCred:
		return Authorization{}, fmt.Errorf("missing Credential: %w", errMalformed)
	case !haveSH:
		return Authorization{}, fmt.Errorf("missing SignedHeaders: %w", errMalformed)
	case !haveSig:
		return Authorization{}, fmt.Errorf("missing Signature: %w", errMalformed)
	}
	return a, nil
}

// ErrUnsupportedAlgorithm reports an authorization scheme other than AWS4-HMAC-SHA256.
var ErrUnsupportedAlgorithm = errors.New("unsupported signing algorithm, use AWS4-HMAC-SHA256")

// uriEncode percent-encodes s as SigV4 requires: every byte except the
// unreserved characters A-Z a-z 0-9 - _ . ~ is written as %XX (uppercase hex).
// When keepSlash is set, '/' is kept.
func uriEncode(s string, keepSlash bool) string {
	const hex = "0123456789ABCDEF"
	var b strings.Builder
	b.Grow(len(s))
	for i := 0; i < len(s); i++ {
		c := s[i]
		if 'A' <= c && c <= 'Z' || 'a' <= c && c <= 'z' || '0' <= c && c <= '9' ||
			c == '-' || c == '_' || c == '.' || c == '~' || (keepSlash && c == '/') {
			b.WriteByte(c)
			continue
		}
		b.WriteByte('%')
		b.WriteByte(hex[c>>4])
		b.WriteByte(hex[c&15])
	}
	return b.String()
}

// canonicalURI returns the canonical path of u. Each escaped segment is
// unescaped and re-encoded with the SigV4 rules, so that %2F inside a segment
// (Bedrock ARNs) survives. With double set (every service but S3) the result is
// encoded once more, as the AWS SDKs do.
func canonicalURI(u *url.URL, double bool) string {
	p := u.EscapedPath()
	if p == "" {
		p = "/"
	}
	segs := strings.Split(p, "/")
	for i, s := range segs {
		if d, err := url.PathUnescape(s); err == nil {
			s = d
		}
		segs[i] = uriEncode(s, false)
	}
	out := strings.Join(segs, "/")
	if double {
		out = uriEncode(out, true)
	}
	return out
}

// canonicalQuery returns the canonical query string of rawQuery, leaving out
// the parameter named skip (X-Amz-Signature for presigned URLs). Names and
// values are decoded (a literal '+' stays '+'), re-encoded and sorted after
// encoding.
func canonicalQuery(rawQuery, skip string) string {
	type kv struct{ k, v string }
	var params []kv
	for part := range strings.SplitSeq(rawQuery, "&") {
		if part == "" {
			continue
		}
		k, v, _ := strings.Cut(part, "=")
		if dk, err := url.PathUnescape(k); err == nil {
			k = dk
		}
		if dv, err := url.PathUnescape(v); err == nil {
			v = dv
		}
		if skip != "" && k == skip {
			continue
		}
		params = append(params, kv{uriEncode(k, false), uriEncode(v, false)})
	}
	sort.Slice(params, func(i, j int) bool {
		if params[i].k != params[j].k {
			return params[i].k < params[j].k
		}
		return params[i].v < params[j].v
	})
	var b strings.Builder
	for i, p := range params {
		if i > 0 {
			b.WriteByte('&')
		}
		b.WriteString(p.k)
		b.WriteByte('=')
		b.WriteString(p.v)
	}
	return b.String()
}

// stripSpaces trims s and collapses runs of spaces, as the canonical header rules require.
func stripSpaces(s string) string {
	s = strings.TrimSpace(s)
	if !strings.Contains(s, "  ") {
		return s
	}
	var b strings.Builder
	space := false
	for i := 0; i < len(s); i++ {
		if s[i] == ' ' {
			if space {
				continue
			}
			space = true
		} else {
			space = false
		}
		b.WriteByte(s[i])
	}
	return b.String()
}
