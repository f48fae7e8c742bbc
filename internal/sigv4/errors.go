package sigv4

import (
	"errors"
	"fmt"
	"net/http"
)

// ErrUnknownAccessKey is what a [Lookup] returns (possibly wrapped) when the
// access key id is not known. Any other lookup error is an internal failure.
var ErrUnknownAccessKey = errors.New("sigv4: unknown access key")

// Code classifies a verification failure.
type Code int

// Verification failure codes.
const (
	// CodeMissingAuth means the request carries no SigV4 authentication at all.
	CodeMissingAuth Code = iota + 1
	// CodeMalformed means the Authorization header or presign query is incomplete or unparsable.
	CodeMalformed
	// CodeUnsupportedAlgorithm means the request uses a scheme other than AWS4-HMAC-SHA256.
	CodeUnsupportedAlgorithm
	// CodeUnknownAccessKey means the lookup does not know the access key id.
	CodeUnknownAccessKey
	// CodeSignatureMismatch means the signature (or a chunk or trailer signature) is wrong.
	CodeSignatureMismatch
	// CodeTimeSkewed means the request date is too far from the server clock.
	CodeTimeSkewed
	// CodeExpired means a presigned URL has expired.
	CodeExpired
	// CodeNotYetValid means a presigned URL is dated in the future.
	CodeNotYetValid
	// CodeWrongService means the credential scope names a service this verifier does not serve.
	CodeWrongService
	// CodeWrongRegion means the credential scope names a region this verifier does not serve.
	CodeWrongRegion
	// CodeContentSHA256Mismatch means the body does not hash to X-Amz-Content-Sha256.
	CodeContentSHA256Mismatch
	// CodeIncompleteBody means an aws-chunked body is truncated, malformed or of the wrong decoded length.
	CodeIncompleteBody
	// CodeBodyTooLarge means a body that must be buffered to be hashed exceeds the limit.
	CodeBodyTooLarge
	// CodeInternal means the key lookup or the body read failed for a server-side reason.
	CodeInternal
)

var codeNames = map[Code]string{
	CodeMissingAuth:           "MissingAuth",
	CodeMalformed:             "Malformed",
	CodeUnsupportedAlgorithm:  "UnsupportedAlgorithm",
	CodeUnknownAccessKey:      "UnknownAccessKey",
	CodeSignatureMismatch:     "SignatureMismatch",
	CodeTimeSkewed:            "TimeSkewed",
	CodeExpired:               "Expired",
	CodeNotYetValid:           "NotYetValid",
	CodeWrongService:          "WrongService",
	CodeWrongRegion:           "WrongRegion",
	CodeContentSHA256Mismatch: "ContentSHA256Mismatch",
	CodeIncompleteBody:        "IncompleteBody",
	CodeBodyTooLarge:          "BodyTooLarge",
	CodeInternal:              "Internal",
}

// String returns the code's Go-side name.
func (c Code) String() string {
	if s, ok := codeNames[c]; ok {
		return s
	}
	return fmt.Sprintf("Code(%d)", int(c))
}

// Error is a verification failure. Message is safe to return to the client;
// Err is an internal cause for logs only.
type Error struct {
	Code    Code
	Message string
	// Presigned is true when the failure concerns query (presigned URL) authentication;
	// S3 then reports malformed input as AuthorizationQueryParametersError.
	Presigned bool
	Err       error
}

func (e *Error) Error() string {
	if e.Err != nil {
		return fmt.Sprintf("sigv4: %s: %s: %v", e.Code, e.Message, e.Err)
	}
	return fmt.Sprintf("sigv4: %s: %s", e.Code, e.Message)
}

// Unwrap returns the internal cause.
func (e *Error) Unwrap() error { return e.Err }

// S3 returns the S3 REST error code and HTTP status for the failure
// (XML error body, Code element).
func (e *Error) S3() (code string, status int) {
	switch e.Code {
	case CodeMissingAuth:
		return "AccessDenied", http.StatusForbidden
	case CodeMalformed, CodeWrongService, CodeWrongRegion:
		if e.Presigned {
			return "AuthorizationQueryParametersError", http.StatusBadRequest
		}
		return "AuthorizationHeaderMalformed", http.StatusBadRequest
	case CodeUnsupportedAlgorithm:
		return "InvalidRequest", http.StatusBadRequest
	case CodeUnknownAccessKey:
		return "InvalidAccessKeyId", http.StatusForbidden
	case CodeSignatureMismatch:
		return "SignatureDoesNotMatch", http.StatusForbidden
	case CodeTimeSkewed:
		return "RequestTimeTooSkewed", http.StatusForbidden
	case CodeExpired, CodeNotYetValid:
		return "AccessDenied", http.StatusForbidden
	case CodeContentSHA256Mismatch:
		return "XAmzContentSHA256Mismatch", http.StatusBadRequest
	case CodeIncompleteBody:
		return "IncompleteBody", http.StatusBadRequest
	case CodeBodyTooLarge:
		return "EntityTooLarge", http.StatusBadRequest
	default:
		return "InternalError", http.StatusInternalServerError
	}
}

// Bedrock returns the restJson1 error type (X-Amzn-ErrorType) and HTTP status
// for the failure, as AWS's front door reports them for Bedrock.
func (e *Error) Bedrock() (code string, status int) {
	switch e.Code {
	case CodeMissingAuth:
		return "MissingAuthenticationTokenException", http.StatusForbidden
	case CodeMalformed, CodeUnsupportedAlgorithm, CodeIncompleteBody:
		return "IncompleteSignatureException", http.StatusBadRequest
	case CodeUnknownAccessKey:
		return "UnrecognizedClientException", http.StatusForbidden
	case CodeSignatureMismatch, CodeTimeSkewed, CodeExpired, CodeNotYetValid,
		CodeWrongService, CodeWrongRegion, CodeContentSHA256Mismatch:
		return "InvalidSignatureException", http.StatusForbidden
	case CodeBodyTooLarge:
		return "ValidationException", http.StatusRequestEntityTooLarge
	default:
		return "InternalServerException", http.StatusInternalServerError
	}
}

func newErr(c Code, presigned bool, format string, args ...any) *Error {
	return &Error{Code: c, Presigned: presigned, Message: fmt.Sprintf(format, args...)}
}
