package s3api

import (
	"context"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"

	"github.com/strata-ml/strata/internal/blob"
	"github.com/strata-ml/strata/internal/blob/diskblob"
	"github.com/strata-ml/strata/internal/sigv4"
)

// apiError is an S3 error response. Message is returned to the client; Err
// is logged only.
type apiError struct {
	Code    string
	Status  int
	Message string
	Err     error
	// Header holds extra response headers (Content-Range for InvalidRange).
	Header http.Header
}

func (e *apiError) Error() string {
	if e.Err != nil {
		return fmt.Sprintf("s3api: %s: %s: %v", e.Code, e.Message, e.Err)
	}
	return fmt.Sprintf("s3api: %s: %s", e.Code, e.Message)
}

func (e *apiError) Unwrap() error { return e.Err }

func s3err(code string, status int, format string, args ...any) *apiError {
	return &apiError{Code: code, Status: status, Message: fmt.Sprintf(format, args...)}
}

var (
	errMethodNotAllowed = s3err("MethodNotAllowed", http.StatusMethodNotAllowed, "The specified method is not allowed against this resource.")
	errNotImplemented   = s3err("NotImplemented", http.StatusNotImplemented, "A header or query you provided implies functionality that is not implemented.")
	errAccessDenied     = s3err("AccessDenied", http.StatusForbidden, "Access Denied")
	errMalformedXML     = s3err("MalformedXML", http.StatusBadRequest, "The XML you provided was not well-formed or did not validate against our published schema.")
)

// toAPIError maps any error to the S3 error it should produce.
func toAPIError(err error) *apiError {
	if e, ok := errors.AsType[*apiError](err); ok {
		return e
	}
	if e, ok := errors.AsType[*sigv4.Error](err); ok {
		code, status := e.S3()
		return &apiError{Code: code, Status: status, Message: e.Message, Err: err}
	}
	wrap := func(code string, status int, msg string) *apiError {
		return &apiError{Code: code, Status: status, Message: msg, Err: err}
	}
	switch {
	case errors.Is(err, blob.ErrNotExist):
		return wrap("NoSuchKey", http.StatusNotFound, "The specified key does not exist.")
	case errors.Is(err, blob.ErrBucketNotExist):
		return wrap("NoSuchBucket", http.StatusNotFound, "The specified bucket does not exist")
	case errors.Is(err, blob.ErrInvalidKey):
		return wrap("InvalidArgument", http.StatusBadRequest, "Object key is not supported by this store: "+publicReason(err))
	case errors.Is(err, blob.ErrInvalidRange):
		return wrap("InvalidRange", http.StatusRequestedRangeNotSatisfiable, "The requested range is not satisfiable")
	case errors.Is(err, blob.ErrStorageFull):
		return wrap("InsufficientStorage", http.StatusInsufficientStorage, "The server has no storage space left for this request.")
	case errors.Is(err, diskblob.ErrBucketNotEmpty):
		return wrap("BucketNotEmpty", http.StatusConflict, "The bucket you tried to delete is not empty")
	case errors.Is(err, diskblob.ErrNoSuchUpload):
		return wrap("NoSuchUpload", http.StatusNotFound, "The specified multipart upload does not exist. The upload ID may be invalid, or the upload may have been aborted or completed.")
	case errors.Is(err, diskblob.ErrInvalidPartOrder):
		return wrap("InvalidPartOrder", http.StatusBadRequest, "The list of parts was not in ascending order. The parts list must be specified in order by part number.")
	case errors.Is(err, diskblob.ErrInvalidPart):
		return wrap("InvalidPart", http.StatusBadRequest, "One or more of the specified parts could not be found. The part may not have been uploaded, or the specified entity tag may not match the part's entity tag.")
	case errors.Is(err, diskblob.ErrEntityTooSmall):
		return wrap("EntityTooSmall", http.StatusBadRequest, "Your proposed upload is smaller than the minimum allowed object size.")
	case errors.Is(err, io.ErrUnexpectedEOF):
		return wrap("IncompleteBody", http.StatusBadRequest, "You did not provide the number of bytes specified by the Content-Length HTTP header.")
	case errors.Is(err, context.Canceled):
		return wrap("RequestTimeout", http.StatusBadRequest, "Your socket connection to the server was not read from or written to within the timeout period.")
	}
	if _, ok := errors.AsType[*http.MaxBytesError](err); ok {
		return wrap("EntityTooLarge", http.StatusBadRequest, "Your proposed upload exceeds the maximum allowed size.")
	}
	return wrap("InternalError", http.StatusInternalServerError, "We encountered an internal error. Please try again.")
}

// publicReason returns the last component of a wrapped error chain's text
// after the sentinel, which for blob.ErrInvalidKey is the rule broken.
func publicReason(err error) string {
	s := err.Error()
	if i := strings.LastIndex(s, "invalid key: "); i >= 0 {
		return s[i+len("invalid key: "):]
	}
	return "invalid key"
}

type errorDoc struct {
	XMLName    xml.Name `xml:"Error"`
	Code       string   `xml:"Code"`
	Message    string   `xml:"Message"`
	BucketName string   `xml:"BucketName,omitempty"`
	Key        string   `xml:"Key,omitempty"`
	Resource   string   `xml:"Resource"`
	RequestID  string   `xml:"RequestId"`
	HostID     string   `xml:"HostId"`
}

func (h *Handler) writeError(req *request, err error) {
	e := toAPIError(err)
	log := h.o.Logger.Debug
	if e.Status >= 500 {
		log = h.o.Logger.Error
	}
	log("s3 request failed", "method", req.r.Method, "path", req.r.URL.Path, "code", e.Code,
		"status", e.Status, "request_id", req.reqID, "err", err)
	// Drain a little of an unread body so the connection can be reused.
	io.CopyN(io.Discard, req.r.Body, 64<<10)
	for k, v := range e.Header {
		req.w.Header()[k] = v
	}
	if req.headErr || e.Status == http.StatusNotModified {
		req.w.WriteHeader(e.Status)
		return
	}
	doc := errorDoc{Code: e.Code, Message: e.Message, BucketName: req.bucket, Key: req.key,
		Resource: req.r.URL.Path, RequestID: req.reqID, HostID: req.reqID}
	writeXML(req.w, e.Status, doc)
}

func writeXML(w http.ResponseWriter, status int, v any) {
	data, err := xml.Marshal(v)
	if err != nil {
		http.Error(w, "xml: "+err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/xml")
	w.WriteHeader(status)
	io.WriteString(w, xml.Header)
	w.Write(data)
}
