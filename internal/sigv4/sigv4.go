package sigv4

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Payload hash values of X-Amz-Content-Sha256 with a special meaning.
const (
	UnsignedPayload              = "UNSIGNED-PAYLOAD"
	StreamingPayload             = "STREAMING-AWS4-HMAC-SHA256-PAYLOAD"
	StreamingPayloadTrailer      = "STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER"
	StreamingUnsignedTrailer     = "STREAMING-UNSIGNED-PAYLOAD-TRAILER"
	emptySHA256                  = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
	defaultMaxSkew               = 15 * time.Minute
	defaultMaxBodyBytes          = 32 << 20
	maxPresignExpiry             = 7 * 24 * time.Hour
	smallBodyVerifyUpFrontLength = 1 << 20
)

// Lookup returns the secret key of an access key id and the account that owns
// it. It returns an error wrapping [ErrUnknownAccessKey] for unknown keys; any
// other error is reported as an internal failure. It is called concurrently.
type Lookup func(ctx context.Context, accessKeyID string) (secret, account string, err error)

// Options configure a [Verifier].
type Options struct {
	// Services lists the signing names accepted in the credential scope
	// (e.g. {"bedrock"} or {"s3"}). Required.
	Services []string
	// Regions, when not empty, restricts the accepted credential-scope regions.
	Regions []string
	// Lookup resolves access keys. Required.
	Lookup Lookup
	// MaxSkew bounds |server time - request time| for header auth; 15 minutes when zero.
	MaxSkew time.Duration
	// MaxBodyBytes bounds a body that must be buffered to be hashed
	// (no X-Amz-Content-Sha256 header); 32 MiB when zero.
	MaxBodyBytes int64
	// Now returns the current time; time.Now when nil.
	Now func() time.Time
}

// Verifier checks SigV4 signatures. It is safe for concurrent use.
type Verifier struct {
	o Options
}

// New returns a Verifier. It panics when Services or Lookup is missing (a
// programming error).
func New(o Options) *Verifier {
	if len(o.Services) == 0 || o.Lookup == nil {
		panic("sigv4: New needs Services and Lookup")
	}
	if o.MaxSkew <= 0 {
		o.MaxSkew = defaultMaxSkew
	}
	if o.MaxBodyBytes <= 0 {
		o.MaxBodyBytes = defaultMaxBodyBytes
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	return &Verifier{o: o}
}

// Identity is who signed a verified request.
type Identity struct {
	AccessKeyID  string
	Account      string
	Region       string
	Service      string
	SessionToken string    // X-Amz-Security-Token, when sent
	Time         time.Time // the signing time (X-Amz-Date)
	Presigned    bool
	// PayloadHash is the payload hash that was signed: a hex SHA-256 or one of
	// UnsignedPayload, StreamingPayload, StreamingPayloadTrailer, StreamingUnsignedTrailer.
	PayloadHash string
}

// HasAuth reports whether r carries SigV4 authentication (header or query).
func HasAuth(r *http.Request) bool {
	q := r.URL.Query()
	return r.Header.Get("Authorization") != "" || q.Get("X-Amz-Algorithm") != "" || isV2Presigned(q)
}

// SigningService returns the service named in r's credential scope (header or
// presigned query) without verifying anything, or "" when there is none. It
// lets a server route a request to the service it was signed for.
func SigningService(r *http.Request) string {
	if h := r.Header.Get("Authorization"); h != "" {
		_, rest, _ := strings.Cut(h, "Credential=")
		cred, _, _ := strings.Cut(rest, ",")
		if c, err := ParseCredential(strings.TrimSpace(cred)); err == nil {
			return c.Service
		}
		return ""
	}
	q := r.URL.Query()
	if c, err := ParseCredential(q.Get("X-Amz-Credential")); err == nil {
		return c.Service
	}
	if isV2Presigned(q) {
		return "s3" // signature version 2 exists only for S3
	}
	return ""
}

// signed is what header and query authentication have in common.
type signed struct {
	cred          Credential
	signedHeaders []string
	signature     string
	amzDate       string
	t             time.Time
	presigned     bool
	token         string
	bodyHashed    bool // the body was buffered and hashed by Verify
}

// Verify authenticates r. On success it may replace r.Body, r.ContentLength,
// r.Trailer and the Content-Encoding header (see the package doc). Failures are
// [*Error] values.
func (v *Verifier) Verify(r *http.Request) (*Identity, error) {
	q := r.URL.Query()
	var s signed
	var err error
	switch {
	case r.Header.Get("Authorization") != "":
		s, err = v.parseHeaderAuth(r)
	case q.Get("X-Amz-Algorithm") != "" || q.Get("X-Amz-Signature") != "" || q.Get("X-Amz-Credential") != "":
		s, err = v.parsePresigned(r)
	case isV2Presigned(q):
		return v.verifyV2Presigned(r)
	default:
		return nil, newErr(CodeMissingAuth, false, "request is not signed: missing Authorization header or X-Amz-Algorithm query parameter")
	}
	if err != nil {
		return nil, err
	}
	if !slices.Contains(v.o.Services, s.cred.Service) {
		return nil, newErr(CodeWrongService, s.presigned, "credential should be scoped to correct service: %q", v.o.Services[0])
	}
	if len(v.o.Regions) > 0 && !slices.Contains(v.o.Regions, s.cred.Region) {
		return nil, newErr(CodeWrongRegion, s.presigned, "the region %q is wrong; expecting %q", s.cred.Region, v.o.Regions[0])
	}

	payload, err := v.payloadHash(r, &s)
	if err != nil {
		return nil, err
	}

	secret, account, err := v.o.Lookup(r.Context(), s.cred.AccessKeyID)
	if err != nil {
		if errors.Is(err, ErrUnknownAccessKey) {
			return nil, &Error{Code: CodeUnknownAccessKey, Presigned: s.presigned,
				Message: "the AWS access key id you provided does not exist in our records", Err: err}
		}
		return nil, &Error{Code: CodeInternal, Presigned: s.presigned, Message: "internal error looking up access key", Err: err}
	}
	key := signingKey(secret, s.cred)

	creq, err := canonicalRequest(r, s, payload)
	if err != nil {
		return nil, err
	}
	sts := stringToSign(s.amzDate, s.cred.Scope(), creq)
	want := hex.EncodeToString(hmacSHA256(key, sts))
	if !hmac.Equal([]byte(want), []byte(s.signature)) {
		return nil, &Error{Code: CodeSignatureMismatch, Presigned: s.presigned,
			Message: "the request signature we calculated does not match the signature you provided; check your key and signing method",
			Err:     fmt.Errorf("canonical request %q, string to sign %q", creq, sts)}
	}

	id := &Identity{
		AccessKeyID:  s.cred.AccessKeyID,
		Account:      account,
		Region:       s.cred.Region,
		Service:      s.cred.Service,
		SessionToken: s.token,
		Time:         s.t,
		Presigned:    s.presigned,
		PayloadHash:  payload,
	}
	if err := v.wrapBody(r, s, key, payload); err != nil {
		return nil, err
	}
	return id, nil
}

func (v *Verifier) parseHeaderAuth(r *http.Request) (signed, error) {
	h := r.Header.Get("Authorization")
	a, err := ParseAuthorization(h)
	if err != nil {
		if errors.Is(err, ErrUnsupportedAlgorithm) {
			return signed{}, &Error{Code: CodeUnsupportedAlgorithm,
				Message: "the authorization mechanism you have provided is not supported; please use AWS4-HMAC-SHA256", Err: err}
		}
		return signed{}, &Error{Code: CodeMalformed, Message: "the authorization header is malformed: " + err.Error(), Err: err}
	}
	s := signed{cred: a.Credential, signedHeaders: a.SignedHeaders, signature: a.Signature,
		token: r.Header.Get("X-Amz-Security-Token")}
	if d := r.Header.Get("X-Amz-Date"); d != "" {
		t, err := time.Parse(amzDateFormat, d)
		if err != nil {
			return signed{}, newErr(CodeMalformed, false, "X-Amz-Date %q must be in the ISO8601 basic format yyyyMMdd'T'HHmmss'Z'", d)
		}
		s.t, s.amzDate = t, d
	} else if d := r.Header.Get("Date"); d != "" {
		t, err := http.ParseTime(d)
		if err != nil {
			return signed{}, newErr(CodeMalformed, false, "Date header %q is not an HTTP date", d)
		}
		s.t, s.amzDate = t.UTC(), t.UTC().Format(amzDateFormat)
	} else {
		return signed{}, newErr(CodeMalformed, false, "authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header")
	}
	if s.amzDate[:8] != s.cred.Date {
		return signed{}, newErr(CodeMalformed, false, "invalid credential date %q: it is not the same as X-Amz-Date %q", s.cred.Date, s.amzDate[:8])
	}
	if !slices.Contains(s.signedHeaders, "host") {
		return signed{}, newErr(CodeMalformed, false, "SignedHeaders must include host")
	}
	now := v.o.Now()
	if d := now.Sub(s.t); d > v.o.MaxSkew {
		return signed{}, newErr(CodeTimeSkewed, false, "signature expired: %s is now earlier than %s (%s - %s)",
			s.amzDate, now.Add(-v.o.MaxSkew).UTC().Format(amzDateFormat), now.UTC().Format(amzDateFormat), v.o.MaxSkew)
	} else if -d > v.o.MaxSkew {
		return signed{}, newErr(CodeTimeSkewed, false, "signature not yet current: %s is still later than %s (%s + %s)",
			s.amzDate, now.Add(v.o.MaxSkew).UTC().Format(amzDateFormat), now.UTC().Format(amzDateFormat), v.o.MaxSkew)
	}
	return s, nil
}

func (v *Verifier) parsePresigned(r *http.Request) (signed, error) {
	q := r.URL.Query()
	bad := func(format string, args ...any) (signed, error) {
		return signed{}, newErr(CodeMalformed, true, format, args...)
	}
	for _, k := range []string{"X-Amz-Algorithm", "X-Amz-Credential", "X-Amz-Signature", "X-Amz-Date", "X-Amz-SignedHeaders", "X-Amz-Expires"} {
		if len(q[k]) != 1 || q.Get(k) == "" {
			return bad("query-string authentication version 4 requires exactly one non-empty %s parameter", k)
		}
	}
	if algo := q.Get("X-Amz-Algorithm"); algo != Algorithm {
		return signed{}, &Error{Code: CodeUnsupportedAlgorithm, Presigned: true,
			Message: fmt.Sprintf("X-Amz-Algorithm %q is not supported; only AWS4-HMAC-SHA256", algo)}
	}
	cred, err := ParseCredential(q.Get("X-Amz-Credential"))
	if err != nil {
		return bad("error parsing the X-Amz-Credential parameter: %v", err)
	}
	sh, err := ParseSignedHeaders(q.Get("X-Amz-SignedHeaders"))
	if err != nil {
		return bad("error parsing the X-Amz-SignedHeaders parameter: %v", err)
	}
	if !slices.Contains(sh, "host") {
		return bad("X-Amz-SignedHeaders must include host")
	}
	sig, err := ParseSignature(q.Get("X-Amz-Signature"))
	if err != nil {
		return bad("error parsing the X-Amz-Signature parameter: %v", err)
	}
	d := q.Get("X-Amz-Date")
	t, err := time.Parse(amzDateFormat, d)
	if err != nil {
		return bad("X-Amz-Date must be in the ISO8601 long format yyyyMMdd'T'HHmmss'Z'")
	}
	if d[:8] != cred.Date {
		return bad("invalid credential date %q: it is not the same as X-Amz-Date %q", cred.Date, d[:8])
	}
	exp, err := strconv.ParseInt(q.Get("X-Amz-Expires"), 10, 64)
	if err != nil {
		return bad("X-Amz-Expires should be a number")
	}
	if exp < 1 || time.Duration(exp)*time.Second > maxPresignExpiry {
		return bad("X-Amz-Expires must be between 1 and 604800 seconds")
	}
	now := v.o.Now()
	if t.Sub(now) > v.o.MaxSkew {
		return signed{}, newErr(CodeNotYetValid, true, "request is not valid yet")
	}
	if now.After(t.Add(time.Duration(exp) * time.Second)) {
		return signed{}, newErr(CodeExpired, true, "request has expired")
	}
	token := q.Get("X-Amz-Security-Token")
	if token == "" {
		token = r.Header.Get("X-Amz-Security-Token")
	}
	return signed{cred: cred, signedHeaders: sh, signature: sig, amzDate: d, t: t, presigned: true, token: token}, nil
}

// payloadHash decides the last line of the canonical request. A body that has
// to be hashed here is buffered and restored.
func (v *Verifier) payloadHash(r *http.Request, s *signed) (string, error) {
	h := r.Header.Get("X-Amz-Content-Sha256")
	if s.presigned && h == "" {
		h = r.URL.Query().Get("X-Amz-Content-Sha256")
	}
	if h == "" && s.presigned && s.cred.Service == "s3" {
		return UnsignedPayload, nil
	}
	switch h {
	case "":
		body, err := v.readBody(r, s.presigned)
		if err != nil {
			return "", err
		}
		s.bodyHashed = true
		sum := sha256.Sum256(body)
		return hex.EncodeToString(sum[:]), nil
	case UnsignedPayload, StreamingPayload, StreamingPayloadTrailer, StreamingUnsignedTrailer:
		if s.presigned && h != UnsignedPayload {
			return "", newErr(CodeMalformed, true, "X-Amz-Content-Sha256 %q cannot be used with a presigned URL", h)
		}
		return h, nil
	}
	if len(h) != 64 {
		return "", newErr(CodeContentSHA256Mismatch, s.presigned, "the provided 'x-amz-content-sha256' header must be a valid SHA256")
	}
	if _, err := hex.DecodeString(h); err != nil {
		return "", newErr(CodeContentSHA256Mismatch, s.presigned, "the provided 'x-amz-content-sha256' header must be a valid SHA256")
	}
	return strings.ToLower(h), nil
}

func (v *Verifier) readBody(r *http.Request, presigned bool) ([]byte, error) {
	if r.Body == nil || r.Body == http.NoBody {
		return nil, nil
	}
	if r.ContentLength > v.o.MaxBodyBytes {
		return nil, newErr(CodeBodyTooLarge, presigned, "request body of %d bytes exceeds the %d bytes limit", r.ContentLength, v.o.MaxBodyBytes)
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, v.o.MaxBodyBytes+1))
	if err != nil {
		return nil, &Error{Code: CodeIncompleteBody, Presigned: presigned, Message: "could not read the request body", Err: err}
	}
	if int64(len(body)) > v.o.MaxBodyBytes {
		return nil, newErr(CodeBodyTooLarge, presigned, "request body exceeds the %d bytes limit", v.o.MaxBodyBytes)
	}
	_ = r.Body.Close()
	r.Body = io.NopCloser(bytes.NewReader(body))
	return body, nil
}

func canonicalRequest(r *http.Request, s signed, payload string) (string, error) {
	var b strings.Builder
	b.WriteString(r.Method)
	b.WriteByte('\n')
	b.WriteString(canonicalURI(r.URL, s.cred.Service != "s3"))
	b.WriteByte('\n')
	skip := ""
	if s.presigned {
		skip = "X-Amz-Signature"
	}
	b.WriteString(canonicalQuery(r.URL.RawQuery, skip))
	b.WriteByte('\n')
	for _, name := range s.signedHeaders {
		var vals []string
		switch name {
		case "host":
			vals = []string{r.Host}
		case "content-length":
			vals = r.Header.Values("Content-Length")
			if len(vals) == 0 {
				vals = []string{strconv.FormatInt(max(r.ContentLength, 0), 10)}
			}
		case "transfer-encoding":
			vals = r.TransferEncoding
		default:
			vals = r.Header.Values(name)
		}
		if len(vals) == 0 && name != "content-length" {
			return "", newErr(CodeSignatureMismatch, s.presigned, "signed header %q is missing from the request", name)
		}
		b.WriteString(name)
		b.WriteByte(':')
		for i, val := range vals {
			if i > 0 {
				b.WriteByte(',')
			}
			b.WriteString(stripSpaces(val))
		}
		b.WriteByte('\n')
	}
	b.WriteByte('\n')
	b.WriteString(strings.Join(s.signedHeaders, ";"))
	b.WriteByte('\n')
	b.WriteString(payload)
	return b.String(), nil
}

func stringToSign(amzDate, scope, canonical string) string {
	sum := sha256.Sum256([]byte(canonical))
	return Algorithm + "\n" + amzDate + "\n" + scope + "\n" + hex.EncodeToString(sum[:])
}

func hmacSHA256(key []byte, data string) []byte {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(data))
	return m.Sum(nil)
}

func signingKey(secret string, c Credential) []byte {
	k := hmacSHA256([]byte("AWS4"+secret), c.Date)
	k = hmacSHA256(k, c.Region)
	k = hmacSHA256(k, c.Service)
	return hmacSHA256(k, scopeTerminator)
}

// wrapBody installs the body reader the payload mode needs.
func (v *Verifier) wrapBody(r *http.Request, s signed, key []byte, payload string) error {
	switch payload {
	case UnsignedPayload:
		return nil
	case StreamingPayload, StreamingPayloadTrailer, StreamingUnsignedTrailer:
		return installChunked(r, s, key, payload)
	}
	if s.bodyHashed {
		return nil
	}
	if r.Body == nil || r.Body == http.NoBody {
		if payload != emptySHA256 {
			return newErr(CodeContentSHA256Mismatch, s.presigned, "the provided 'x-amz-content-sha256' header does not match what was computed")
		}
		return nil
	}
	want, _ := hex.DecodeString(payload)
	if r.ContentLength >= 0 && r.ContentLength <= smallBodyVerifyUpFrontLength {
		body, err := io.ReadAll(io.LimitReader(r.Body, smallBodyVerifyUpFrontLength+1))
		if err != nil {
			return &Error{Code: CodeIncompleteBody, Presigned: s.presigned, Message: "could not read the request body", Err: err}
		}
		sum := sha256.Sum256(body)
		if !bytes.Equal(sum[:], want) {
			return newErr(CodeContentSHA256Mismatch, s.presigned, "the provided 'x-amz-content-sha256' header does not match what was computed")
		}
		_ = r.Body.Close()
		r.Body = io.NopCloser(bytes.NewReader(body))
		return nil
	}
	r.Body = &sha256Reader{rc: r.Body, h: sha256.New(), want: want, presigned: s.presigned}
	return nil
}

// sha256Reader checks the SHA-256 of everything read against want at EOF.
type sha256Reader struct {
	rc        io.ReadCloser
	h         hash.Hash
	want      []byte
	presigned bool
	err       error
}

func (s *sha256Reader) Read(p []byte) (int, error) {
	if s.err != nil {
		return 0, s.err
	}
	n, err := s.rc.Read(p)
	s.h.Write(p[:n])
	if err == io.EOF {
		if !bytes.Equal(s.h.Sum(nil), s.want) {
			s.err = newErr(CodeContentSHA256Mismatch, s.presigned, "the provided 'x-amz-content-sha256' header does not match what was computed")
			return n, s.err
		}
		s.err = io.EOF
	}
	return n, err
}

func (s *sha256Reader) Close() error { return s.rc.Close() }
