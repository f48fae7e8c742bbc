// Package blob is Strata's object-storage seam: a small [Bucket] interface
// (streaming Put, ranged Get, Stat, Delete, List, Copy) that datasets,
// training artifacts and model weights go through, the sentinel errors every
// implementation returns, and the resolution of object URIs to buckets.
//
// Implementations live in subpackages: diskblob (the embedded local-disk store
// behind Strata's S3-compatible endpoint, and file:// directories) and s3blob
// (any external S3: AWS, MinIO). blobtest holds the conformance suite each of
// them runs.
//
// # URIs
//
// "s3://bucket/key" resolves through a [Resolver], which maps bucket names to
// a [Backend] (the embedded store or an external S3 endpoint) with a default
// for unmapped buckets. Other schemes ("file:///abs/dir/key") resolve through
// the init-time scheme registry ([Register]); diskblob registers "file".
//
// # Contract
//
// Every method is safe for concurrent use. Put is atomic: readers see the old
// object or the complete new one, never a prefix, and a failed Put (read error,
// checksum mismatch, full disk, cancelled context) leaves no object behind.
// Keys are UTF-8, 1 to 1024 bytes; local implementations additionally reject
// keys that are not clean relative paths ([ErrInvalidKey]) so that no key can
// name a file outside the store.
package blob

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"
	"unicode/utf8"
)

// Sentinel errors. Implementations wrap them with context; test with errors.Is.
var (
	// ErrNotExist reports that the object does not exist.
	ErrNotExist = errors.New("blob: object does not exist")
	// ErrBucketNotExist reports that the bucket does not exist.
	ErrBucketNotExist = errors.New("blob: bucket does not exist")
	// ErrInvalidKey reports that the key is empty, too long, not UTF-8, or not storable.
	ErrInvalidKey = errors.New("blob: invalid key")
	// ErrInvalidRange reports that the requested range is not satisfiable.
	ErrInvalidRange = errors.New("blob: invalid range")
	// ErrChecksum reports that the content does not match an expected checksum.
	ErrChecksum = errors.New("blob: checksum mismatch")
	// ErrStorageFull reports that the backing storage has no space left.
	ErrStorageFull = errors.New("blob: storage full")
)

// Attrs describes a stored object.
type Attrs struct {
	Key     string
	Size    int64
	ModTime time.Time
	// ETag is the hex MD5 of the content for single-part objects, or the S3
	// multipart form "hex-N"; no quotes. Empty when the implementation cannot
	// tell cheaply (List on a bare file:// directory).
	ETag string
	// SHA256 is the hex SHA-256 of the content; empty when unknown (external S3).
	SHA256      string
	ContentType string
	// Metadata holds user metadata (S3 x-amz-meta-*), keys lowercase.
	Metadata map[string]string
	// Checksums holds S3 additional checksums by algorithm name
	// ("CRC32", "CRC32C", "CRC64NVME", "SHA1", "SHA256"), base64 values as S3 reports them.
	Checksums map[string]string
}

// PutOptions are optional settings for Put and Copy.
type PutOptions struct {
	ContentType string
	Metadata    map[string]string
	Checksums   map[string]string
	// Tee, when set, receives a copy of the content as it is stored (to
	// compute extra checksums without a second pass).
	Tee io.Writer
	// Verify, when set, is called after the whole content has been written
	// and before it becomes visible, with the attributes it will have. An error
	// aborts the Put (nothing is stored) and is returned wrapped. It lets a
	// caller check checksums that arrive after the body (S3 trailers).
	Verify func(Attrs) error
}

// Range selects bytes of an object. Start >= 0 with Length >= 0 selects
// [Start, Start+Length) clipped to the object; Length < 0 reads to the end.
// Start < 0 selects the last -Start bytes (an S3 suffix range).
type Range struct {
	Start  int64
	Length int64
}

// Object is an open object body with its attributes and the byte span it covers.
type Object struct {
	io.ReadCloser
	Attrs Attrs
	// Offset and Length are the resolved span of the body within the object.
	Offset, Length int64
}

// ListOptions select a page of a listing.
type ListOptions struct {
	Prefix string
	// Delimiter groups keys that contain it after Prefix into CommonPrefixes.
	Delimiter string
	// StartAfter lists keys (and prefixes) strictly greater than it;
	// pass the previous page's NextStartAfter to continue.
	StartAfter string
	// MaxKeys bounds Objects+CommonPrefixes; 1000 when <= 0.
	MaxKeys int
}

// ListPage is one page of a listing, in ascending byte order of keys.
type ListPage struct {
	Objects        []Attrs
	CommonPrefixes []string
	// Truncated reports that more entries follow NextStartAfter.
	Truncated      bool
	NextStartAfter string
}

// Bucket is a flat namespace of objects.
type Bucket interface {
	// Put stores r's content under key, streaming (never buffering the whole
	// content) and atomically.
	Put(ctx context.Context, key string, r io.Reader, opts *PutOptions) (Attrs, error)
	// Get opens key, or the part of it that rng selects (nil: all of it).
	// The caller closes the returned Object.
	Get(ctx context.Context, key string, rng *Range) (*Object, error)
	// Stat returns key's attributes.
	Stat(ctx context.Context, key string) (Attrs, error)
	// Delete removes key. Deleting a missing key is not an error.
	Delete(ctx context.Context, key string) error
	// List returns one page of keys.
	List(ctx context.Context, opts ListOptions) (ListPage, error)
	// Copy copies srcKey to dstKey within the bucket. Nil opts keep the
	// source's content type and metadata.
	Copy(ctx context.Context, dstKey, srcKey string, opts *PutOptions) (Attrs, error)
}

// ValidateKey checks the rules every implementation shares: 1 to 1024 bytes of
// valid UTF-8 without NUL.
func ValidateKey(key string) error {
	if key == "" || len(key) > 1024 {
		return fmt.Errorf("%w: key must be 1 to 1024 bytes, got %d", ErrInvalidKey, len(key))
	}
	if !utf8.ValidString(key) || strings.ContainsRune(key, 0) {
		return fmt.Errorf("%w: key %q is not valid UTF-8 or contains NUL", ErrInvalidKey, key)
	}
	return nil
}

// ReadAll reads a whole object. Meant for small objects (manifests, configs).
func ReadAll(ctx context.Context, b Bucket, key string) ([]byte, error) {
	o, err := b.Get(ctx, key, nil)
	if err != nil {
		return nil, err
	}
	defer o.Close()
	data, err := io.ReadAll(o)
	if err != nil {
		return nil, fmt.Errorf("blob: read %q: %w", key, err)
	}
	return data, nil
}

// ResolveRange turns rng into a concrete [offset, offset+length) span of an
// object of the given size, or reports ErrInvalidRange. A nil rng is the
// whole object.
func ResolveRange(rng *Range, size int64) (offset, length int64, err error) {
	if rng == nil {
		return 0, size, nil
	}
	if rng.Start < 0 {
		n := min(-rng.Start, size)
		if n == 0 {
			return 0, 0, fmt.Errorf("%w: suffix range of an empty object", ErrInvalidRange)
		}
		return size - n, n, nil
	}
	if rng.Start >= size {
		return 0, 0, fmt.Errorf("%w: start %d beyond size %d", ErrInvalidRange, rng.Start, size)
	}
	if rng.Length < 0 || rng.Start+rng.Length > size {
		return rng.Start, size - rng.Start, nil
	}
	return rng.Start, rng.Length, nil
}

// ValidateBucketName checks Amazon S3's general-purpose bucket naming rules:
// 3 to 63 characters of lowercase letters, digits, '.' and '-', beginning and
// ending with a letter or digit, no "..", not an IPv4 address, and none of the
// reserved prefixes (xn--, sthree-, amzn-s3-demo-) or suffixes (-s3alias,
// --ol-s3, .mrap, --x-s3, --table-s3).
func ValidateBucketName(name string) error {
	bad := func(why string) error { return fmt.Errorf("blob: bucket name %q %s", name, why) }
	if len(name) < 3 || len(name) > 63 {
		return bad("must be 3 to 63 characters long")
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		if !('a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '.' || c == '-') {
			return bad("may contain only lowercase letters, digits, '.' and '-'")
		}
	}
	isAlnum := func(c byte) bool { return 'a' <= c && c <= 'z' || '0' <= c && c <= '9' }
	if !isAlnum(name[0]) || !isAlnum(name[len(name)-1]) {
		return bad("must begin and end with a letter or digit")
	}
	if strings.Contains(name, "..") {
		return bad("must not contain two adjacent periods")
	}
	if isIPv4(name) {
		return bad("must not be formatted as an IP address")
	}
	for _, p := range []string{"xn--", "sthree-", "amzn-s3-demo-"} {
		if strings.HasPrefix(name, p) {
			return bad("must not start with " + p)
		}
	}
	for _, s := range []string{"-s3alias", "--ol-s3", ".mrap", "--x-s3", "--table-s3"} {
		if strings.HasSuffix(name, s) {
			return bad("must not end with " + s)
		}
	}
	return nil
}

func isIPv4(s string) bool {
	parts := strings.Split(s, ".")
	if len(parts) != 4 {
		return false
	}
	for _, p := range parts {
		if p == "" || len(p) > 3 {
			return false
		}
		for i := 0; i < len(p); i++ {
			if p[i] < '0' || p[i] > '9' {
				return false
			}
		}
	}
	return true
}
