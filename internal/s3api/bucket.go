package s3api

import (
	"encoding/base64"
	"encoding/xml"
	"errors"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/strata-ml/strata/internal/blob"
	"github.com/strata-ml/strata/internal/blob/diskblob"
)

const s3NS = "http://s3.amazonaws.com/doc/2006-03-01/"

// timeXML formats timestamps in XML bodies (ISO-8601 with milliseconds).
func timeXML(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05.000Z") }

type owner struct {
	ID          string `xml:"ID"`
	DisplayName string `xml:"DisplayName"`
}

// ownedBucket checks that the bucket exists and the caller owns it.
func (h *Handler) ownedBucket(req *request, name string) (*diskblob.Bucket, error) {
	if err := blob.ValidateBucketName(name); err != nil {
		return nil, &apiError{Code: "NoSuchBucket", Status: http.StatusNotFound, Message: "The specified bucket does not exist", Err: err}
	}
	info, err := h.o.Store.BucketInfo(req.r.Context(), name)
	if err != nil {
		return nil, err
	}
	if info.Owner != req.id.Account {
		return nil, errAccessDenied
	}
	return h.o.Store.OpenBucket(req.r.Context(), name)
}

func (h *Handler) listBuckets(req *request) error {
	all, err := h.o.Store.ListBuckets(req.r.Context())
	if err != nil {
		return err
	}
	type bucketXML struct {
		Name         string `xml:"Name"`
		CreationDate string `xml:"CreationDate"`
		BucketRegion string `xml:"BucketRegion"`
	}
	out := struct {
		XMLName xml.Name    `xml:"ListAllMyBucketsResult"`
		NS      string      `xml:"xmlns,attr"`
		Owner   owner       `xml:"Owner"`
		Buckets []bucketXML `xml:"Buckets>Bucket"`
	}{NS: s3NS, Owner: owner{req.id.Account, req.id.Account}}
	for _, b := range all {
		if b.Owner == req.id.Account {
			out.Buckets = append(out.Buckets, bucketXML{b.Name, timeXML(b.Created), h.o.Region})
		}
	}
	writeXML(req.w, http.StatusOK, out)
	return nil
}

func (h *Handler) createBucket(req *request) error {
	if err := blob.ValidateBucketName(req.bucket); err != nil {
		return &apiError{Code: "InvalidBucketName", Status: http.StatusBadRequest, Message: "The specified bucket is not valid.", Err: err}
	}
	body, err := io.ReadAll(io.LimitReader(req.r.Body, 64<<10))
	if err != nil {
		return err
	}
	if len(strings.TrimSpace(string(body))) > 0 {
		var cfg struct {
			LocationConstraint string `xml:"LocationConstraint"`
		}
		if xml.Unmarshal(body, &cfg) != nil {
			return errMalformedXML
		}
	}
	err = h.o.Store.CreateBucket(req.r.Context(), req.bucket, req.id.Account)
	if e, ok := errors.AsType[*diskblob.BucketExistsError](err); ok {
		if e.Owner == req.id.Account {
			return s3err("BucketAlreadyOwnedByYou", http.StatusConflict, "Your previous request to create the named bucket succeeded and you already own it.")
		}
		return s3err("BucketAlreadyExists", http.StatusConflict, "The requested bucket name is not available. The bucket namespace is shared by all users of the system. Please select a different name and try again.")
	}
	if err != nil {
		return err
	}
	req.w.Header().Set("Location", "/"+req.bucket)
	req.w.WriteHeader(http.StatusOK)
	return nil
}

func (h *Handler) headBucket(req *request) error {
	if _, err := h.ownedBucket(req, req.bucket); err != nil {
		return err
	}
	req.w.Header().Set("X-Amz-Bucket-Region", h.o.Region)
	req.w.WriteHeader(http.StatusOK)
	return nil
}

func (h *Handler) deleteBucket(req *request) error {
	if _, err := h.ownedBucket(req, req.bucket); err != nil {
		return err
	}
	if err := h.o.Store.DeleteBucket(req.r.Context(), req.bucket); err != nil {
		return err
	}
	req.w.WriteHeader(http.StatusNoContent)
	return nil
}

func (h *Handler) getBucketLocation(req *request) error {
	if _, err := h.ownedBucket(req, req.bucket); err != nil {
		return err
	}
	loc := h.o.Region
	if loc == "us-east-1" {
		loc = "" // S3 reports the classic region as an empty constraint
	}
	writeXML(req.w, http.StatusOK, struct {
		XMLName xml.Name `xml:"LocationConstraint"`
		NS      string   `xml:"xmlns,attr"`
		Value   string   `xml:",chardata"`
	}{NS: s3NS, Value: loc})
	return nil
}

func (h *Handler) getBucketVersioning(req *request) error {
	if _, err := h.ownedBucket(req, req.bucket); err != nil {
		return err
	}
	writeXML(req.w, http.StatusOK, struct {
		XMLName xml.Name `xml:"VersioningConfiguration"`
		NS      string   `xml:"xmlns,attr"`
	}{NS: s3NS})
	return nil
}

type objectXML struct {
	Key               string `xml:"Key"`
	LastModified      string `xml:"LastModified"`
	ETag              string `xml:"ETag"`
	ChecksumAlgorithm string `xml:"ChecksumAlgorithm,omitempty"`
	ChecksumType      string `xml:"ChecksumType,omitempty"`
	Size              int64  `xml:"Size"`
	StorageClass      string `xml:"StorageClass"`
	Owner             *owner `xml:"Owner,omitempty"`
}

type prefixXML struct {
	Prefix string `xml:"Prefix"`
}

type listResult struct {
	XMLName xml.Name `xml:"ListBucketResult"`
	NS      string   `xml:"xmlns,attr"`
	Name    string   `xml:"Name"`
	Prefix  string   `xml:"Prefix"`
	// v1
	Marker     *string `xml:"Marker,omitempty"`
	NextMarker string  `xml:"NextMarker,omitempty"`
	// v2
	KeyCount              *int        `xml:"KeyCount,omitempty"`
	ContinuationToken     string      `xml:"ContinuationToken,omitempty"`
	NextContinuationToken string      `xml:"NextContinuationToken,omitempty"`
	StartAfter            string      `xml:"StartAfter,omitempty"`
	MaxKeys               int         `xml:"MaxKeys"`
	Delimiter             string      `xml:"Delimiter,omitempty"`
	EncodingType          string      `xml:"EncodingType,omitempty"`
	IsTruncated           bool        `xml:"IsTruncated"`
	Contents              []objectXML `xml:"Contents"`
	CommonPrefixes        []prefixXML `xml:"CommonPrefixes"`
}

// s3URLEncode encodes a key as S3 does for encoding-type=url (form encoding,
// '/' kept).
func s3URLEncode(s string) string {
	return strings.ReplaceAll(url.QueryEscape(s), "%2F", "/")
}

func etagQuoted(e string) string { return `"` + e + `"` }

func checksumTypeOf(v string) string {
	if strings.Contains(v, "-") {
		return "COMPOSITE"
	}
	return "FULL_OBJECT"
}

func (h *Handler) listObjects(req *request, v2 bool) error {
	b, err := h.ownedBucket(req, req.bucket)
	if err != nil {
		return err
	}
	q := req.r.URL.Query()
	maxKeys := 1000
	if s := q.Get("max-keys"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 0 {
			return s3err("InvalidArgument", http.StatusBadRequest, "Provided max-keys not an integer or within integer range")
		}
		maxKeys = min(n, 1000)
	}
	enc := q.Get("encoding-type")
	if enc != "" && enc != "url" {
		return s3err("InvalidArgument", http.StatusBadRequest, "Invalid Encoding Method specified in Request")
	}
	opts := blob.ListOptions{Prefix: q.Get("prefix"), Delimiter: q.Get("delimiter"), MaxKeys: maxKeys}
	res := listResult{NS: s3NS, Name: req.bucket, MaxKeys: maxKeys, EncodingType: enc}
	if v2 {
		opts.StartAfter = q.Get("start-after")
		res.StartAfter = q.Get("start-after")
		if tok := q.Get("continuation-token"); tok != "" {
			raw, err := base64.RawURLEncoding.DecodeString(tok)
			if err != nil || !strings.HasPrefix(string(raw), "v1:") {
				return s3err("InvalidArgument", http.StatusBadRequest, "The continuation token provided is incorrect")
			}
			opts.StartAfter = string(raw[3:])
			res.ContinuationToken = tok
		}
	} else {
		opts.StartAfter = q.Get("marker")
		m := q.Get("marker")
		res.Marker = &m
	}
	var page blob.ListPage
	if maxKeys > 0 {
		page, err = b.List(req.r.Context(), opts)
		if err != nil {
			return err
		}
	}
	code := func(s string) string {
		if enc == "url" {
			return s3URLEncode(s)
		}
		return s
	}
	res.Prefix, res.Delimiter = code(opts.Prefix), code(opts.Delimiter)
	if res.StartAfter != "" {
		res.StartAfter = code(res.StartAfter)
	}
	for _, a := range page.Objects {
		o := objectXML{Key: code(a.Key), LastModified: timeXML(a.ModTime), ETag: etagQuoted(a.ETag), Size: a.Size, StorageClass: "STANDARD"}
		for algo, v := range a.Checksums {
			o.ChecksumAlgorithm, o.ChecksumType = algo, checksumTypeOf(v)
		}
		if !v2 || q.Get("fetch-owner") == "true" {
			o.Owner = &owner{req.id.Account, req.id.Account}
		}
		res.Contents = append(res.Contents, o)
	}
	for _, p := range page.CommonPrefixes {
		res.CommonPrefixes = append(res.CommonPrefixes, prefixXML{code(p)})
	}
	res.IsTruncated = page.Truncated
	if page.Truncated {
		if v2 {
			res.NextContinuationToken = base64.RawURLEncoding.EncodeToString([]byte("v1:" + page.NextStartAfter))
		} else if opts.Delimiter != "" {
			res.NextMarker = code(page.NextStartAfter)
		}
	}
	if v2 {
		n := len(res.Contents) + len(res.CommonPrefixes)
		res.KeyCount = &n
	}
	writeXML(req.w, http.StatusOK, res)
	return nil
}

func (h *Handler) deleteObjects(req *request) error {
	b, err := h.ownedBucket(req, req.bucket)
	if err != nil {
		return err
	}
	data, err := io.ReadAll(http.MaxBytesReader(req.w, req.r.Body, 2<<20))
	if err != nil {
		return err
	}
	var in struct {
		Quiet   bool `xml:"Quiet"`
		Objects []struct {
			Key string `xml:"Key"`
		} `xml:"Object"`
	}
	if err := xml.Unmarshal(data, &in); err != nil || len(in.Objects) > 1000 {
		return errMalformedXML
	}
	type deleted struct {
		Key string `xml:"Key"`
	}
	type failed struct {
		Key     string `xml:"Key"`
		Code    string `xml:"Code"`
		Message string `xml:"Message"`
	}
	out := struct {
		XMLName xml.Name  `xml:"DeleteResult"`
		NS      string    `xml:"xmlns,attr"`
		Deleted []deleted `xml:"Deleted"`
		Errors  []failed  `xml:"Error"`
	}{NS: s3NS}
	for _, o := range in.Objects {
		if err := b.Delete(req.r.Context(), o.Key); err != nil && !errors.Is(err, blob.ErrInvalidKey) {
			e := toAPIError(err)
			out.Errors = append(out.Errors, failed{o.Key, e.Code, e.Message})
			continue
		}
		if !in.Quiet {
			out.Deleted = append(out.Deleted, deleted{o.Key})
		}
	}
	writeXML(req.w, http.StatusOK, out)
	return nil
}
