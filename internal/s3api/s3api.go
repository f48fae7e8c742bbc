// Package s3api serves Amazon S3's REST API over Strata's embedded object
// store ([diskblob.Store]), so the aws CLI, boto3 and the AWS SDKs can upload
// datasets and download artifacts with --endpoint-url pointing at Strata.
//
// Every request must be signed with SigV4 for service "s3" (header or
// presigned URL, including aws-chunked streaming uploads; see package sigv4).
// The access key's account owns the buckets it creates; every bucket and
// object operation requires that the caller's account owns the bucket, and
// ListBuckets lists only the caller's buckets.
//
// Operations: ListBuckets, CreateBucket, HeadBucket, DeleteBucket,
// GetBucketLocation, GetBucketVersioning, ListObjects (v1) and ListObjectsV2
// (prefix, delimiter, pagination, encoding-type=url), PutObject, GetObject
// (Range), HeadObject, DeleteObject, DeleteObjects, CopyObject, and multipart
// uploads (CreateMultipartUpload, UploadPart, UploadPartCopy,
// CompleteMultipartUpload, AbortMultipartUpload, ListParts,
// ListMultipartUploads). Buckets are
// addressed path-style (/bucket/key) or virtual-host style
// (bucket.<suffix>/key) for the configured host suffixes.
//
// Additional checksums (x-amz-checksum-crc32, -crc32c, -crc64nvme, -sha1,
// -sha256) are verified when sent as headers or aws-chunked trailers, stored,
// and returned by GetObject/HeadObject when x-amz-checksum-mode is ENABLED.
// Objects uploaded without one get a CRC64NVME checksum, as S3 does. Errors
// are S3's XML error documents with S3's codes.
package s3api

import (
	"crypto/rand"
	"encoding/hex"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/strata-ml/strata/internal/blob/diskblob"
	"github.com/strata-ml/strata/internal/sigv4"
)

// Options configure the handler.
type Options struct {
	// Store holds the buckets. Required.
	Store *diskblob.Store
	// Lookup resolves access keys to secrets and accounts. Required.
	Lookup sigv4.Lookup
	// Region is reported by GetBucketLocation; "us-east-1" when empty.
	Region string
	// VirtualHostSuffixes enables virtual-hosted-style addressing: a request
	// whose host (without port) is "<bucket>.<suffix>" addresses that bucket.
	VirtualHostSuffixes []string
	// Logger receives one line per failed request; slog.Default() when nil.
	Logger *slog.Logger
	// Now is the clock for signature checks; time.Now when nil.
	Now func() time.Time
}

// Handler is the S3 endpoint. It implements http.Handler.
type Handler struct {
	o        Options
	verifier *sigv4.Verifier
}

// New returns the S3 endpoint handler.
func New(o Options) *Handler {
	if o.Store == nil || o.Lookup == nil {
		panic("s3api: New needs Store and Lookup")
	}
	if o.Region == "" {
		o.Region = "us-east-1"
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	v := sigv4.New(sigv4.Options{Services: []string{"s3"}, Lookup: o.Lookup, Now: o.Now})
	return &Handler{o: o, verifier: v}
}

// IsS3Request reports whether r is signed for service "s3" (Authorization
// credential scope or presigned X-Amz-Credential), so that a server can mount
// this handler on the same listener as the Bedrock APIs.
func IsS3Request(r *http.Request) bool {
	return sigv4.SigningService(r) == "s3"
}

// request is one parsed S3 request.
type request struct {
	r       *http.Request
	w       http.ResponseWriter
	id      *sigv4.Identity
	bucket  string
	key     string
	reqID   string
	headErr bool // HEAD: errors carry no body
}

func newRequestID() string {
	var b [8]byte
	rand.Read(b[:])
	return strings.ToUpper(hex.EncodeToString(b[:]))
}

// ServeHTTP implements http.Handler.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	req := &request{r: r, w: w, reqID: newRequestID(), headErr: r.Method == http.MethodHead}
	w.Header().Set("X-Amz-Request-Id", req.reqID)
	w.Header().Set("X-Amz-Id-2", req.reqID)
	w.Header().Set("Server", "Strata")
	req.bucket, req.key = h.splitPath(r)
	if err := h.serve(req); err != nil {
		h.writeError(req, err)
	}
}

// splitPath finds the bucket and key, virtual-host style first.
func (h *Handler) splitPath(r *http.Request) (bucket, key string) {
	host := r.Host
	if hh, _, err := net.SplitHostPort(host); err == nil {
		host = hh
	}
	for _, suf := range h.o.VirtualHostSuffixes {
		if b, ok := strings.CutSuffix(host, "."+suf); ok && b != "" {
			return b, strings.TrimPrefix(r.URL.Path, "/")
		}
	}
	p := strings.TrimPrefix(r.URL.Path, "/")
	bucket, key, _ = strings.Cut(p, "/")
	return bucket, key
}

func (h *Handler) serve(req *request) error {
	r := req.r
	id, err := h.verifier.Verify(r)
	if err != nil {
		return err
	}
	req.id = id
	q := r.URL.Query()
	q.Del("x-id") // the Go SDK names some operations in the query; routing ignores it
	if req.bucket == "" {
		if r.Method == http.MethodGet {
			return h.listBuckets(req)
		}
		return errMethodNotAllowed
	}
	if req.key == "" {
		switch {
		case r.Method == http.MethodPut && len(q) == 0:
			return h.createBucket(req)
		case r.Method == http.MethodHead:
			return h.headBucket(req)
		case r.Method == http.MethodDelete && len(q) == 0:
			return h.deleteBucket(req)
		case r.Method == http.MethodPost && q.Has("delete"):
			return h.deleteObjects(req)
		case r.Method == http.MethodGet && q.Has("uploads"):
			return h.listMultipartUploads(req)
		case r.Method == http.MethodGet && q.Has("location"):
			return h.getBucketLocation(req)
		case r.Method == http.MethodGet && q.Has("versioning"):
			return h.getBucketVersioning(req)
		case r.Method == http.MethodGet && q.Get("list-type") == "2":
			return h.listObjects(req, true)
		case r.Method == http.MethodGet && !hasSubresource(q):
			return h.listObjects(req, false)
		}
		return errNotImplemented
	}
	switch r.Method {
	case http.MethodPut:
		switch {
		case q.Has("partNumber") && q.Has("uploadId") && r.Header.Get("X-Amz-Copy-Source") != "":
			return h.uploadPartCopy(req)
		case q.Has("partNumber") && q.Has("uploadId"):
			return h.uploadPart(req)
		case hasSubresource(q):
			return errNotImplemented
		case r.Header.Get("X-Amz-Copy-Source") != "":
			return h.copyObject(req)
		default:
			return h.putObject(req)
		}
	case http.MethodGet:
		switch {
		case q.Has("uploadId"):
			return h.listParts(req)
		case hasSubresource(q):
			return errNotImplemented
		}
		return h.getObject(req, false)
	case http.MethodHead:
		return h.getObject(req, true)
	case http.MethodDelete:
		if q.Has("uploadId") {
			return h.abortMultipart(req)
		}
		if hasSubresource(q) {
			return errNotImplemented
		}
		return h.deleteObject(req)
	case http.MethodPost:
		switch {
		case q.Has("uploads"):
			return h.createMultipart(req)
		case q.Has("uploadId"):
			return h.completeMultipart(req)
		}
		return errNotImplemented
	}
	return errMethodNotAllowed
}

// subresources this endpoint does not serve; their presence routes to NotImplemented.
var subresources = []string{"acl", "tagging", "policy", "cors", "lifecycle", "website", "logging",
	"notification", "replication", "encryption", "object-lock", "retention", "legal-hold",
	"torrent", "restore", "select", "uploads", "versions", "versionId", "attributes", "accelerate",
	"requestPayment", "analytics", "inventory", "metrics", "ownershipControls", "publicAccessBlock",
	"intelligent-tiering", "policyStatus"}

func hasSubresource(q map[string][]string) bool {
	for _, s := range subresources {
		if _, ok := q[s]; ok {
			return true
		}
	}
	return false
}
