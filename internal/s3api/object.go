package s3api

import (
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/strata-ml/strata/internal/blob"
	"github.com/strata-ml/strata/internal/blob/diskblob"
)

// MaxPutSize is the largest single PutObject or UploadPart, as in S3 (5 GiB).
const MaxPutSize = 5 << 30

// metaPrefix starts user-metadata headers.
const metaPrefix = "X-Amz-Meta-"

// putOptionsFromHeaders reads Content-Type and x-amz-meta-* headers.
func putOptionsFromHeaders(hdr http.Header) blob.PutOptions {
	o := blob.PutOptions{ContentType: hdr.Get("Content-Type")}
	for k, v := range hdr {
		if name, ok := strings.CutPrefix(k, metaPrefix); ok && len(v) > 0 {
			if o.Metadata == nil {
				o.Metadata = map[string]string{}
			}
			o.Metadata[strings.ToLower(name)] = strings.Join(v, ",")
		}
	}
	return o
}

// checkKey applies S3's own key rules (1..1024 bytes of UTF-8).
func checkKey(key string) error {
	if len(key) > 1024 {
		return s3err("KeyTooLongError", http.StatusBadRequest, "Your key is too long")
	}
	if err := blob.ValidateKey(key); err != nil {
		return &apiError{Code: "InvalidArgument", Status: http.StatusBadRequest, Message: "Object key must be valid UTF-8 without NUL characters.", Err: err}
	}
	return nil
}

// checkSize rejects bodies over MaxPutSize and requires a length for plain bodies.
func checkSize(r *http.Request) error {
	if r.ContentLength > MaxPutSize {
		return s3err("EntityTooLarge", http.StatusBadRequest, "Your proposed upload exceeds the maximum allowed size.")
	}
	return nil
}

func (h *Handler) putObject(req *request) error {
	if err := checkKey(req.key); err != nil {
		return err
	}
	b, err := h.ownedBucket(req, req.bucket)
	if err != nil {
		return err
	}
	if err := checkSize(req.r); err != nil {
		return err
	}
	cs, err := parseBodyChecksum(req.r, "CRC64NVME")
	if err != nil {
		return err
	}
	body := http.MaxBytesReader(req.w, req.r.Body, MaxPutSize)
	a, err := b.Put(req.r.Context(), req.key, body, cs.options(putOptionsFromHeaders(req.r.Header)))
	if err != nil {
		return err
	}
	req.w.Header().Set("ETag", etagQuoted(a.ETag))
	for algo, v := range a.Checksums {
		req.w.Header().Set(checksumHeader(algo), v)
		req.w.Header().Set("X-Amz-Checksum-Type", checksumTypeOf(v))
	}
	req.w.WriteHeader(http.StatusOK)
	return nil
}

// parseRange parses a Range header: "bytes=a-b", "bytes=a-" or "bytes=-n".
// ok is false for a header S3 ignores (syntax it does not understand, or
// several ranges); the whole object is then served.
func parseRange(h string) (rng blob.Range, ok bool) {
	spec, found := strings.CutPrefix(strings.TrimSpace(h), "bytes=")
	if !found || strings.Contains(spec, ",") {
		return blob.Range{}, false
	}
	first, last, found := strings.Cut(spec, "-")
	if !found {
		return blob.Range{}, false
	}
	if first == "" {
		n, err := strconv.ParseInt(last, 10, 64)
		if err != nil || n <= 0 {
			return blob.Range{}, false
		}
		return blob.Range{Start: -n}, true
	}
	start, err := strconv.ParseInt(first, 10, 64)
	if err != nil || start < 0 {
		return blob.Range{}, false
	}
	if last == "" {
		return blob.Range{Start: start, Length: -1}, true
	}
	end, err := strconv.ParseInt(last, 10, 64)
	if err != nil || end < start {
		return blob.Range{}, false
	}
	return blob.Range{Start: start, Length: end - start + 1}, true
}

func setObjectHeaders(w http.ResponseWriter, a blob.Attrs) {
	hd := w.Header()
	ct := a.ContentType
	if ct == "" {
		ct = "binary/octet-stream"
	}
	hd.Set("Content-Type", ct)
	hd.Set("ETag", etagQuoted(a.ETag))
	hd.Set("Last-Modified", a.ModTime.UTC().Format(http.TimeFormat))
	hd.Set("Accept-Ranges", "bytes")
	for k, v := range a.Metadata {
		hd.Set(metaPrefix+k, v)
	}
}

func (h *Handler) getObject(req *request, head bool) error {
	if err := checkKey(req.key); err != nil {
		return err
	}
	b, err := h.ownedBucket(req, req.bucket)
	if err != nil {
		return err
	}
	var rng *blob.Range
	if v := req.r.Header.Get("Range"); v != "" {
		if r, ok := parseRange(v); ok {
			rng = &r
		}
	}
	if pn := req.r.URL.Query().Get("partNumber"); pn != "" && pn != "1" {
		return s3err("InvalidPartNumber", http.StatusRequestedRangeNotSatisfiable, "The requested partnumber is not satisfiable")
	}
	o, err := b.Get(req.r.Context(), req.key, rng)
	if errors.Is(err, blob.ErrInvalidRange) {
		if a, serr := b.Stat(req.r.Context(), req.key); serr == nil {
			e := toAPIError(err)
			e.Header = http.Header{"Content-Range": {fmt.Sprintf("bytes */%d", a.Size)}}
			return e
		}
	}
	if err != nil {
		return err
	}
	defer o.Close()
	a := o.Attrs
	if err := checkConditions(req.r, a); err != nil {
		return err
	}
	setObjectHeaders(req.w, a)
	// response-* query parameters override response headers (presigned downloads).
	for param, header := range responseOverrides {
		if v := req.r.URL.Query().Get(param); v != "" {
			req.w.Header().Set(header, v)
		}
	}
	if rng == nil && strings.EqualFold(req.r.Header.Get("X-Amz-Checksum-Mode"), "ENABLED") {
		for algo, v := range a.Checksums {
			req.w.Header().Set(checksumHeader(algo), v)
			req.w.Header().Set("X-Amz-Checksum-Type", checksumTypeOf(v))
		}
	}
	req.w.Header().Set("Content-Length", strconv.FormatInt(o.Length, 10))
	status := http.StatusOK
	if rng != nil {
		status = http.StatusPartialContent
		req.w.Header().Set("Content-Range", fmt.Sprintf("bytes %d-%d/%d", o.Offset, o.Offset+o.Length-1, a.Size))
	}
	req.w.WriteHeader(status)
	if head {
		return nil
	}
	var src io.Reader = o
	if u, ok := o.ReadCloser.(interface{ Unwrap() io.Reader }); ok {
		src = u.Unwrap() // lets net/http use sendfile for file-backed objects
	}
	if _, err := io.Copy(req.w, src); err != nil {
		// Headers are out; all we can do is cut the connection short.
		h.o.Logger.Debug("s3 get: copy body", "bucket", req.bucket, "key", req.key, "err", err)
	}
	return nil
}

// responseOverrides maps GetObject's response-* query parameters to headers.
var responseOverrides = map[string]string{
	"response-content-type":        "Content-Type",
	"response-content-language":    "Content-Language",
	"response-expires":             "Expires",
	"response-cache-control":       "Cache-Control",
	"response-content-disposition": "Content-Disposition",
	"response-content-encoding":    "Content-Encoding",
}

// checkConditions applies If-Match / If-None-Match.
func checkConditions(r *http.Request, a blob.Attrs) error {
	match := func(list string) bool {
		for e := range strings.SplitSeq(list, ",") {
			e = strings.Trim(strings.TrimSpace(e), `"`)
			if e == "*" || e == a.ETag {
				return true
			}
		}
		return false
	}
	if v := r.Header.Get("If-Match"); v != "" && !match(v) {
		return s3err("PreconditionFailed", http.StatusPreconditionFailed, "At least one of the pre-conditions you specified did not hold")
	}
	if v := r.Header.Get("If-None-Match"); v != "" && match(v) {
		return &apiError{Code: "NotModified", Status: http.StatusNotModified, Message: "Not Modified"}
	}
	return nil
}

func (h *Handler) deleteObject(req *request) error {
	if err := checkKey(req.key); err != nil {
		return err
	}
	b, err := h.ownedBucket(req, req.bucket)
	if err != nil {
		return err
	}
	if err := b.Delete(req.r.Context(), req.key); err != nil && !errors.Is(err, blob.ErrInvalidKey) {
		// A key the store cannot hold cannot exist, so deleting it succeeds.
		return err
	}
	req.w.WriteHeader(http.StatusNoContent)
	return nil
}

// copySource parses x-amz-copy-source: "[/]bucket/key[?versionId=...]", URL-encoded.
func copySource(v string) (bucket, key string, err error) {
	v, _, _ = strings.Cut(v, "?")
	dec, uerr := url.PathUnescape(v)
	if uerr != nil {
		return "", "", s3err("InvalidArgument", http.StatusBadRequest, "Copy Source must mention the source bucket and key: sourcebucket/sourcekey")
	}
	dec = strings.TrimPrefix(dec, "/")
	bucket, key, _ = strings.Cut(dec, "/")
	if bucket == "" || key == "" {
		return "", "", s3err("InvalidArgument", http.StatusBadRequest, "Copy Source must mention the source bucket and key: sourcebucket/sourcekey")
	}
	return bucket, key, nil
}

func (h *Handler) copyObject(req *request) error {
	if err := checkKey(req.key); err != nil {
		return err
	}
	dst, err := h.ownedBucket(req, req.bucket)
	if err != nil {
		return err
	}
	sb, sk, err := copySource(req.r.Header.Get("X-Amz-Copy-Source"))
	if err != nil {
		return err
	}
	src, err := h.ownedBucket(req, sb)
	if err != nil {
		return err
	}
	sa, err := src.Stat(req.r.Context(), sk)
	if err != nil {
		return err
	}
	var opts blob.PutOptions
	switch d := strings.ToUpper(req.r.Header.Get("X-Amz-Metadata-Directive")); d {
	case "", "COPY":
		if sb == req.bucket && sk == req.key {
			return s3err("InvalidRequest", http.StatusBadRequest, "This copy request is illegal because it is trying to copy an object to itself without changing the object's metadata, storage class, website redirect location or encryption attributes.")
		}
		opts = blob.PutOptions{ContentType: sa.ContentType, Metadata: sa.Metadata}
	case "REPLACE":
		opts = putOptionsFromHeaders(req.r.Header)
	default:
		return s3err("InvalidArgument", http.StatusBadRequest, "Unknown metadata directive.")
	}
	// The copy is a new single-part object: recompute its full-object checksum.
	algo := "CRC64NVME"
	for a, v := range sa.Checksums {
		if checksumTypeOf(v) == "FULL_OBJECT" {
			algo = a
		}
	}
	cs := &bodyChecksum{algo: algo, h: newChecksumHash(algo), r: req.r}
	a, err := diskblob.CopyObject(req.r.Context(), dst, req.key, src, sk, cs.options(opts))
	if err != nil {
		return err
	}
	writeXML(req.w, http.StatusOK, struct {
		XMLName      xml.Name `xml:"CopyObjectResult"`
		NS           string   `xml:"xmlns,attr"`
		LastModified string   `xml:"LastModified"`
		ETag         string   `xml:"ETag"`
	}{NS: s3NS, LastModified: timeXML(a.ModTime), ETag: etagQuoted(a.ETag)})
	return nil
}
