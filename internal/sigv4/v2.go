package sigv4

import (
	"crypto/hmac"
	"crypto/sha1"
	"encoding/base64"
	"errors"
	"net/http"
	"net/url"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"
)

// v2Subresources are the query parameters that S3 signature version 2 signs
// (botocore's HmacV1Auth.QSAOfInterest).
var v2Subresources = []string{
	"accelerate", "acl", "cors", "defaultObjectAcl", "location", "logging",
	"partNumber", "policy", "requestPayment", "torrent", "versioning", "versionId",
	"versions", "website", "uploads", "uploadId", "response-content-type",
	"response-content-language", "response-expires", "response-cache-control",
	"response-content-disposition", "response-content-encoding", "delete",
	"lifecycle", "tagging", "restore", "storageClass", "notification", "replication",
	"requestPayment", "analytics", "metrics", "inventory", "select", "select-type",
	"object-lock",
}

// isV2Presigned reports whether q carries S3 signature version 2 query authentication.
func isV2Presigned(q url.Values) bool {
	return q.Get("AWSAccessKeyId") != "" && q.Has("Signature") && q.Has("Expires") && !q.Has("X-Amz-Algorithm")
}

// verifyV2Presigned checks an S3 presigned URL of signature version 2
// (?AWSAccessKeyId=&Expires=&Signature=), which boto3's generate_presigned_url
// still produces by default. Only path-style URLs are supported: the signed
// resource is the request path.
func (v *Verifier) verifyV2Presigned(r *http.Request) (*Identity, error) {
	q := r.URL.Query()
	if !slices.Contains(v.o.Services, "s3") {
		return nil, newErr(CodeWrongService, true, "signature version 2 is accepted for S3 only")
	}
	exp, err := strconv.ParseInt(q.Get("Expires"), 10, 64)
	if err != nil {
		return nil, newErr(CodeMalformed, true, "Expires should be a number of seconds since the epoch")
	}
	sig, err := base64.StdEncoding.DecodeString(q.Get("Signature"))
	if err != nil || len(sig) != sha1.Size {
		return nil, newErr(CodeSignatureMismatch, true, "the request signature we calculated does not match the signature you provided")
	}
	if v.o.Now().After(time.Unix(exp, 0)) {
		return nil, newErr(CodeExpired, true, "request has expired")
	}
	akid := q.Get("AWSAccessKeyId")
	secret, account, err := v.o.Lookup(r.Context(), akid)
	if err != nil {
		if errors.Is(err, ErrUnknownAccessKey) {
			return nil, &Error{Code: CodeUnknownAccessKey, Presigned: true, Message: "the AWS access key id you provided does not exist in our records", Err: err}
		}
		return nil, &Error{Code: CodeInternal, Presigned: true, Message: "internal error looking up access key", Err: err}
	}
	sts := v2StringToSign(r, q.Get("Expires"))
	m := hmac.New(sha1.New, []byte(secret))
	m.Write([]byte(sts))
	if !hmac.Equal(m.Sum(nil), sig) {
		return nil, &Error{Code: CodeSignatureMismatch, Presigned: true,
			Message: "the request signature we calculated does not match the signature you provided; check your key and signing method"}
	}
	token := q.Get("x-amz-security-token")
	return &Identity{AccessKeyID: akid, Account: account, Service: "s3", SessionToken: token,
		Time: time.Unix(exp, 0), Presigned: true, PayloadHash: UnsignedPayload}, nil
}

func v2StringToSign(r *http.Request, expires string) string {
	var b strings.Builder
	b.WriteString(r.Method + "\n")
	b.WriteString(r.Header.Get("Content-MD5") + "\n")
	b.WriteString(r.Header.Get("Content-Type") + "\n")
	b.WriteString(expires + "\n")
	var amz []string
	for k, vs := range r.Header {
		if lk := strings.ToLower(k); strings.HasPrefix(lk, "x-amz-") {
			amz = append(amz, lk+":"+strings.Join(vs, ","))
		}
	}
	sort.Strings(amz)
	for _, h := range amz {
		b.WriteString(h + "\n")
	}
	b.WriteString(canonicalURI(r.URL, false))
	var sub [][2]string
	for part := range strings.SplitSeq(r.URL.RawQuery, "&") {
		k, val, hasVal := strings.Cut(part, "=")
		if !slices.Contains(v2Subresources, k) {
			continue
		}
		if d, err := url.QueryUnescape(val); err == nil {
			val = d
		}
		if !hasVal {
			sub = append(sub, [2]string{k, ""})
			continue
		}
		sub = append(sub, [2]string{k, "=" + val})
	}
	sort.SliceStable(sub, func(i, j int) bool { return sub[i][0] < sub[j][0] })
	for i, s := range sub {
		if i == 0 {
			b.WriteByte('?')
		} else {
			b.WriteByte('&')
		}
		b.WriteString(s[0] + s[1])
	}
	return b.String()
}
