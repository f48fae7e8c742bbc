// Package sigv4 verifies AWS Signature Version 4 on incoming HTTP requests,
// for every service the server speaks: "bedrock" (both Bedrock APIs, SPEC
// §A.2) and "s3" (the S3-compatible object endpoint).
//
// A server builds one [Verifier] per signing service set and calls
// [Verifier.Verify] before dispatching a request:
//
//	v := sigv4.New(sigv4.Options{
//		Services: []string{"s3"},
//		Lookup: func(ctx context.Context, akid string) (secret, account string, err error) {
//			// return sigv4.ErrUnknownAccessKey (wrapped or not) for unknown keys
//		},
//	})
//	id, err := v.Verify(r)
//	if e, ok := errors.AsType[*sigv4.Error](err); ok {
//		code, status := e.S3() // or e.Bedrock()
//	}
//
// Both authentication forms are accepted:
//
//   - header auth: "Authorization: AWS4-HMAC-SHA256 Credential=AKID/YYYYMMDD/region/service/aws4_request,
//     SignedHeaders=a;b;c, Signature=hex" with X-Amz-Date (or Date);
//   - presigned URLs: X-Amz-Algorithm, X-Amz-Credential, X-Amz-Date, X-Amz-Expires,
//     X-Amz-SignedHeaders and X-Amz-Signature in the query.
//
// For S3 only, presigned URLs of signature version 2 (?AWSAccessKeyId=,
// Expires=, Signature=), which boto3's generate_presigned_url still produces
// by default, are accepted too (path-style URLs only).
//
// X-Amz-Security-Token (session credentials) is tolerated and reported in
// [Identity.SessionToken]; the key lookup decides what an access key is worth.
// Header-auth requests must be dated within [Options.MaxSkew] (15 minutes by
// default) of the server clock; presigned URLs must be used between their
// X-Amz-Date (minus the skew) and X-Amz-Date + X-Amz-Expires (at most 7 days).
//
// # Payload
//
// The payload hash is the last line of the canonical request. Verify decides it
// from X-Amz-Content-Sha256 and, where it changes the body, replaces r.Body:
//
//   - header absent (Bedrock clients never send it; SPEC §A.2): the body is read
//     (at most [Options.MaxBodyBytes]), hashed, and r.Body is restored with the same
//     bytes. Presigned S3 requests use UNSIGNED-PAYLOAD instead.
//   - a hex SHA-256: r.Body is wrapped; the body's hash is checked as it is read,
//     and the final Read returns an [*Error] with [CodeContentSHA256Mismatch]
//     instead of io.EOF when it differs. Small bodies (≤ 1 MiB with a known
//     length) are checked before Verify returns.
//   - UNSIGNED-PAYLOAD: the body is not covered.
//   - STREAMING-AWS4-HMAC-SHA256-PAYLOAD[-TRAILER]: the aws-chunked body is decoded
//     as a stream; every chunk signature is chained from the seed signature and
//     checked when the chunk ends, and the trailer signature when present.
//   - STREAMING-UNSIGNED-PAYLOAD-TRAILER: the aws-chunked body is decoded; the
//     trailing headers (x-amz-checksum-*) are stored in r.Trailer when the body
//     reaches io.EOF. This is what current AWS SDKs and the CLI send by default.
//
// For aws-chunked bodies r.ContentLength becomes x-amz-decoded-content-length
// (or -1), and "aws-chunked" is removed from Content-Encoding. Bytes are handed
// to the caller before the signature of the chunk holding them is checked: a
// consumer must treat data as authentic only once Read has returned io.EOF, and
// discard it on any other error (the blob store writes to a temporary file and
// commits only at EOF).
//
// # Errors
//
// Every failure is an [*Error] with a [Code]. [Error.S3] gives the S3 XML error
// code and HTTP status (InvalidAccessKeyId, SignatureDoesNotMatch, AccessDenied,
// RequestTimeTooSkewed, AuthorizationHeaderMalformed,
// AuthorizationQueryParametersError, XAmzContentSHA256Mismatch, IncompleteBody, …),
// [Error.Bedrock] the restJson1 X-Amzn-ErrorType and status
// (UnrecognizedClientException, InvalidSignatureException,
// IncompleteSignatureException, MissingAuthenticationTokenException, …). The
// names and statuses follow AWS's common-errors pages, the Bedrock
// troubleshooting page and MinIO's cmd/api-errors.go.
package sigv4
