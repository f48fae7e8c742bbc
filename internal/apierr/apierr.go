// Package apierr categorizes errors for the API boundary: every error a
// service returns to a client carries a Kind, a public message that is safe to
// show, and an optional internal cause that is only logged. The single table
// Kind → (HTTP status, Bedrock error code) lives here; only the server's error
// writer consults it.
package apierr

import (
	"errors"
	"fmt"
	"net/http"
)

// Kind is the category of an API error.
type Kind int

// Kinds, one per Bedrock (or AWS front-door) error code.
const (
	Internal Kind = iota
	Validation
	AccessDenied
	NotFound
	Conflict
	Throttled
	QuotaExceeded
	TooManyTags
	ResourceInUse
	Unavailable
	// Front-door kinds: errors AWS emits before an operation runs.
	UnrecognizedClient
	InvalidSignature
	MissingAuthenticationToken
	ExpiredToken
	IncompleteSignature
	UnknownOperation
	// Runtime kinds (bedrock-runtime operations).
	ModelTimeout
	ModelError
	ModelNotReady
	ModelStreamError
	ServiceUnavailable
)

type row struct {
	status int
	code   string
}

var table = map[Kind]row{
	Internal:                   {http.StatusInternalServerError, "InternalServerException"},
	Validation:                 {http.StatusBadRequest, "ValidationException"},
	AccessDenied:               {http.StatusForbidden, "AccessDeniedException"},
	NotFound:                   {http.StatusNotFound, "ResourceNotFoundException"},
	Conflict:                   {http.StatusBadRequest, "ConflictException"},
	Throttled:                  {http.StatusTooManyRequests, "ThrottlingException"},
	QuotaExceeded:              {http.StatusBadRequest, "ServiceQuotaExceededException"},
	TooManyTags:                {http.StatusBadRequest, "TooManyTagsException"},
	ResourceInUse:              {http.StatusBadRequest, "ResourceInUseException"},
	Unavailable:                {http.StatusServiceUnavailable, "ServiceUnavailableException"},
	UnrecognizedClient:         {http.StatusForbidden, "UnrecognizedClientException"},
	InvalidSignature:           {http.StatusForbidden, "InvalidSignatureException"},
	MissingAuthenticationToken: {http.StatusForbidden, "MissingAuthenticationTokenException"},
	ExpiredToken:               {http.StatusForbidden, "ExpiredTokenException"},
	IncompleteSignature:        {http.StatusBadRequest, "IncompleteSignatureException"},
	UnknownOperation:           {http.StatusNotFound, "UnknownOperationException"},
	ModelTimeout:               {http.StatusRequestTimeout, "ModelTimeoutException"},
	ModelError:                 {http.StatusFailedDependency, "ModelErrorException"},
	ModelNotReady:              {http.StatusTooManyRequests, "ModelNotReadyException"},
	ModelStreamError:           {http.StatusFailedDependency, "ModelStreamErrorException"},
	ServiceUnavailable:         {http.StatusServiceUnavailable, "ServiceUnavailableException"},
}

// Status returns the HTTP status code of k.
func (k Kind) Status() int { return table[k].status }

// Code returns the error code (X-Amzn-ErrorType) of k.
func (k Kind) Code() string { return table[k].code }

// String returns the error code of k.
func (k Kind) String() string { return k.Code() }

// Error is an error with a Kind, a public message and an internal cause.
type Error struct {
	Kind Kind
	// Msg is the public message returned to the client.
	Msg string
	// Err is the internal cause; it is logged, never returned to the client.
	Err error
	// ResourceName is set for TooManyTagsException and ModelErrorException.
	ResourceName string
}

// Error returns the public message followed by the internal cause, if any.
func (e *Error) Error() string {
	if e.Err != nil {
		return e.Kind.Code() + ": " + e.Msg + ": " + e.Err.Error()
	}
	return e.Kind.Code() + ": " + e.Msg
}

// Unwrap returns the internal cause.
func (e *Error) Unwrap() error { return e.Err }

// New returns an *Error of kind k with a formatted public message.
func New(k Kind, format string, args ...any) *Error {
	return &Error{Kind: k, Msg: fmt.Sprintf(format, args...)}
}

// Wrap returns an *Error of kind k with public message msg and internal cause.
func Wrap(k Kind, msg string, cause error) *Error {
	return &Error{Kind: k, Msg: msg, Err: cause}
}

// Validationf returns a ValidationException.
func Validationf(format string, args ...any) error { return New(Validation, format, args...) }

// NotFoundf returns a ResourceNotFoundException.
func NotFoundf(format string, args ...any) error { return New(NotFound, format, args...) }

// Conflictf returns a ConflictException.
func Conflictf(format string, args ...any) error { return New(Conflict, format, args...) }

// QuotaExceededf returns a ServiceQuotaExceededException.
func QuotaExceededf(format string, args ...any) error {
	return New(QuotaExceeded, format, args...)
}

// AccessDeniedf returns an AccessDeniedException.
func AccessDeniedf(format string, args ...any) error { return New(AccessDenied, format, args...) }

// TooManyTagsf returns a TooManyTagsException for the named resource.
func TooManyTagsf(resource, format string, args ...any) error {
	e := New(TooManyTags, format, args...)
	e.ResourceName = resource
	return e
}

// KindOf returns the Kind of err, Internal when err carries none.
func KindOf(err error) Kind {
	if e, ok := errors.AsType[*Error](err); ok {
		return e.Kind
	}
	return Internal
}

// Is reports whether err is an *Error of kind k.
func Is(err error, k Kind) bool {
	e, ok := errors.AsType[*Error](err)
	return ok && e.Kind == k
}
