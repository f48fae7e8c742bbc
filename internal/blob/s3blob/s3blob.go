// Package s3blob is the [blob.Bucket] adapter for any external S3 service
// (AWS S3, MinIO, or Strata's own endpoint) through the AWS SDK for Go v2. It
// is the only package that imports the S3 SDK.
//
// Put streams without holding the whole object: content up to [Config.PartSize]
// is sent with one PutObject; larger content becomes a multipart upload whose
// parts are buffered one at a time, completed only after the last byte was
// read and opts.Verify accepted it (and aborted otherwise), so a failed Put
// never leaves an object behind.
package s3blob

import (
	"bytes"
	"context"
	"crypto/md5"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"slices"
	"strconv"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/smithy-go"

	"github.com/strata-ml/strata/internal/blob"
)

// Config locates an S3 service. Empty credentials and region are taken from
// the environment (AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN,
// AWS_REGION or AWS_DEFAULT_REGION).
type Config struct {
	// Endpoint is the service URL ("http://127.0.0.1:9000"); empty for AWS.
	Endpoint string `json:"endpoint,omitempty"`
	Region   string `json:"region,omitempty"`
	// UsePathStyle addresses buckets as /bucket/key (MinIO and most self-hosted S3).
	UsePathStyle    bool   `json:"usePathStyle,omitempty"`
	AccessKeyID     string `json:"accessKeyId,omitempty"`
	SecretAccessKey string `json:"secretAccessKey,omitempty"`
	SessionToken    string `json:"sessionToken,omitempty"`
	// PartSize is the multipart part size and single-PutObject limit; 8 MiB when zero.
	PartSize int64 `json:"partSize,omitempty"`
	// HTTPClient overrides the SDK's HTTP client.
	HTTPClient *http.Client `json:"-"`
}

// NewResolver builds the s3:// resolver of a server: buckets named in
// external live on the external S3 service their Config describes (one client
// per distinct Config); every other bucket is served by def (the embedded
// store).
func NewResolver(def blob.Backend, external map[string]Config) (*blob.Resolver, error) {
	r := &blob.Resolver{Default: def, Buckets: map[string]blob.Backend{}}
	clients := map[Config]*Client{}
	for bucket, cfg := range external {
		c, ok := clients[cfg]
		if !ok {
			var err error
			if c, err = New(cfg); err != nil {
				return nil, fmt.Errorf("s3blob: bucket %s: %w", bucket, err)
			}
			clients[cfg] = c
		}
		r.Buckets[bucket] = c
	}
	return r, nil
}

// Client is a connection to one S3 service. It implements [blob.Backend].
type Client struct {
	s3       *s3.Client
	partSize int64
}

var _ blob.Backend = (*Client)(nil)

// New returns a client for cfg.
func New(cfg Config) (*Client, error) {
	if cfg.AccessKeyID == "" {
		cfg.AccessKeyID, cfg.SecretAccessKey, cfg.SessionToken = os.Getenv("AWS_ACCESS_KEY_ID"), os.Getenv("AWS_SECRET_ACCESS_KEY"), os.Getenv("AWS_SESSION_TOKEN")
	}
	if cfg.AccessKeyID == "" || cfg.SecretAccessKey == "" {
		return nil, errors.New("s3blob: no credentials: set the access key in the configuration or AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY")
	}
	if cfg.Region == "" {
		cfg.Region = os.Getenv("AWS_REGION")
	}
	if cfg.Region == "" {
		cfg.Region = os.Getenv("AWS_DEFAULT_REGION")
	}
	if cfg.Region == "" {
		cfg.Region = "us-east-1"
	}
	if cfg.PartSize <= 0 {
		cfg.PartSize = 8 << 20
	}
	if cfg.PartSize < 5<<20 {
		return nil, fmt.Errorf("s3blob: part size %d is below S3's 5 MiB minimum", cfg.PartSize)
	}
	creds := aws.Credentials{AccessKeyID: cfg.AccessKeyID, SecretAccessKey: cfg.SecretAccessKey, SessionToken: cfg.SessionToken}
	o := s3.Options{
		Region:       cfg.Region,
		UsePathStyle: cfg.UsePathStyle,
		Credentials:  aws.CredentialsProviderFunc(func(context.Context) (aws.Credentials, error) { return creds, nil }),
		// Request checksums are computed here (MD5, SHA-256) and the SDK's
		// would need another pass; response checksums are still validated.
		RequestChecksumCalculation: aws.RequestChecksumCalculationWhenRequired,
	}
	if cfg.Endpoint != "" {
		if _, err := url.Parse(cfg.Endpoint); err != nil {
			return nil, fmt.Errorf("s3blob: endpoint %q: %w", cfg.Endpoint, err)
		}
		o.BaseEndpoint = aws.String(cfg.Endpoint)
	}
	if cfg.HTTPClient != nil {
		o.HTTPClient = cfg.HTTPClient
	}
	return &Client{s3: s3.New(o), partSize: cfg.PartSize}, nil
}

// Bucket returns the named bucket without checking that it exists.
func (c *Client) Bucket(ctx context.Context, name string) (blob.Bucket, error) {
	return &Bucket{c: c, name: name}, nil
}

// CreateBucket creates a bucket (for tests and setup tools).
func (c *Client) CreateBucket(ctx context.Context, name string) error {
	_, err := c.s3.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String(name)})
	if err != nil {
		return fmt.Errorf("s3blob: create bucket %s: %w", name, err)
	}
	return nil
}

// Bucket is one bucket of an S3 service. It implements [blob.Bucket].
type Bucket struct {
	c    *Client
	name string
}

var _ blob.Bucket = (*Bucket)(nil)

// mapErr translates S3 errors into blob sentinels.
func (b *Bucket) mapErr(op, key string, err error) error {
	var sentinel error
	if ae, ok := errors.AsType[smithy.APIError](err); ok {
		switch ae.ErrorCode() {
		case "NoSuchKey", "NotFound":
			sentinel = blob.ErrNotExist
		case "NoSuchBucket":
			sentinel = blob.ErrBucketNotExist
		case "InvalidRange":
			sentinel = blob.ErrInvalidRange
		case "BadDigest", "XAmzContentSHA256Mismatch":
			sentinel = blob.ErrChecksum
		case "KeyTooLongError", "XMinioInvalidObjectName", "InvalidArgument":
			if key != "" {
				sentinel = blob.ErrInvalidKey
			}
		}
	}
	if sentinel == nil {
		if re, ok := errors.AsType[*awshttp.ResponseError](err); ok {
			switch re.HTTPStatusCode() {
			case http.StatusNotFound:
				sentinel = blob.ErrNotExist
			case http.StatusRequestedRangeNotSatisfiable:
				sentinel = blob.ErrInvalidRange
			}
		}
	}
	if sentinel != nil {
		return fmt.Errorf("s3blob: %s s3://%s/%s: %w: %w", op, b.name, key, sentinel, err)
	}
	return fmt.Errorf("s3blob: %s s3://%s/%s: %w", op, b.name, key, err)
}

// Put implements [blob.Bucket].
func (b *Bucket) Put(ctx context.Context, key string, r io.Reader, opts *blob.PutOptions) (blob.Attrs, error) {
	if err := blob.ValidateKey(key); err != nil {
		return blob.Attrs{}, fmt.Errorf("s3blob: put s3://%s/%s: %w", b.name, key, err)
	}
	if opts == nil {
		opts = &blob.PutOptions{}
	}
	hm, hs := md5.New(), sha256.New()
	w := io.MultiWriter(hm, hs)
	if opts.Tee != nil {
		w = io.MultiWriter(hm, hs, opts.Tee)
	}
	src := io.TeeReader(r, w)
	buf := make([]byte, b.c.partSize)
	n, err := io.ReadFull(src, buf)
	if err != nil && err != io.EOF && err != io.ErrUnexpectedEOF {
		return blob.Attrs{}, fmt.Errorf("s3blob: put s3://%s/%s: read: %w", b.name, key, err)
	}
	attrs := blob.Attrs{Key: key, ContentType: opts.ContentType, Metadata: opts.Metadata, Checksums: opts.Checksums}
	finish := func(size int64) error {
		attrs.Size = size
		attrs.ETag = hex.EncodeToString(hm.Sum(nil))
		attrs.SHA256 = hex.EncodeToString(hs.Sum(nil))
		if opts.Verify != nil {
			return opts.Verify(attrs)
		}
		return nil
	}
	if int64(n) < b.c.partSize {
		if err := finish(int64(n)); err != nil {
			return blob.Attrs{}, fmt.Errorf("s3blob: put s3://%s/%s: %w", b.name, key, err)
		}
		out, err := b.c.s3.PutObject(ctx, &s3.PutObjectInput{
			Bucket: aws.String(b.name), Key: aws.String(key), Body: bytes.NewReader(buf[:n]),
			ContentLength: aws.Int64(int64(n)), ContentType: optString(opts.ContentType), Metadata: opts.Metadata,
		})
		if err != nil {
			return blob.Attrs{}, b.mapErr("put", key, err)
		}
		attrs.ETag = strings.Trim(aws.ToString(out.ETag), `"`)
		return attrs, nil
	}
	return b.putMultipart(ctx, key, src, buf, &attrs, finish, opts)
}

func optString(s string) *string {
	if s == "" {
		return nil
	}
	return aws.String(s)
}

func (b *Bucket) putMultipart(ctx context.Context, key string, src io.Reader, buf []byte, attrs *blob.Attrs, finish func(int64) error, opts *blob.PutOptions) (blob.Attrs, error) {
	cr, err := b.c.s3.CreateMultipartUpload(ctx, &s3.CreateMultipartUploadInput{
		Bucket: aws.String(b.name), Key: aws.String(key), ContentType: optString(opts.ContentType), Metadata: opts.Metadata,
	})
	if err != nil {
		return blob.Attrs{}, b.mapErr("put", key, err)
	}
	abort := func(cause error) (blob.Attrs, error) {
		// Abort with a fresh context: ctx may be the reason we stop.
		b.c.s3.AbortMultipartUpload(context.WithoutCancel(ctx), &s3.AbortMultipartUploadInput{Bucket: aws.String(b.name), Key: aws.String(key), UploadId: cr.UploadId})
		return blob.Attrs{}, cause
	}
	var parts []types.CompletedPart
	var total int64
	n := len(buf)
	for num := int32(1); ; num++ {
		up, err := b.c.s3.UploadPart(ctx, &s3.UploadPartInput{
			Bucket: aws.String(b.name), Key: aws.String(key), UploadId: cr.UploadId, PartNumber: aws.Int32(num),
			Body: bytes.NewReader(buf[:n]), ContentLength: aws.Int64(int64(n)),
		})
		if err != nil {
			return abort(b.mapErr("put", key, err))
		}
		parts = append(parts, types.CompletedPart{PartNumber: aws.Int32(num), ETag: up.ETag})
		total += int64(n)
		n, err = io.ReadFull(src, buf)
		if err == io.EOF {
			break
		}
		if err != nil && err != io.ErrUnexpectedEOF {
			return abort(fmt.Errorf("s3blob: put s3://%s/%s: read: %w", b.name, key, err))
		}
		if num == 10000 {
			return abort(fmt.Errorf("s3blob: put s3://%s/%s: more than 10000 parts of %d bytes", b.name, key, len(buf)))
		}
	}
	if err := finish(total); err != nil {
		return abort(fmt.Errorf("s3blob: put s3://%s/%s: %w", b.name, key, err))
	}
	out, err := b.c.s3.CompleteMultipartUpload(ctx, &s3.CompleteMultipartUploadInput{
		Bucket: aws.String(b.name), Key: aws.String(key), UploadId: cr.UploadId,
		MultipartUpload: &types.CompletedMultipartUpload{Parts: parts},
	})
	if err != nil {
		return abort(b.mapErr("put", key, err))
	}
	attrs.ETag = strings.Trim(aws.ToString(out.ETag), `"`)
	return *attrs, nil
}

func rangeHeader(r *blob.Range) *string {
	if r == nil {
		return nil
	}
	if r.Start < 0 {
		return aws.String(fmt.Sprintf("bytes=%d", r.Start)) // "bytes=-n"
	}
	if r.Length < 0 {
		return aws.String(fmt.Sprintf("bytes=%d-", r.Start))
	}
	if r.Length == 0 {
		return aws.String(fmt.Sprintf("bytes=%d-%d", r.Start, r.Start)) // trimmed to zero below
	}
	return aws.String(fmt.Sprintf("bytes=%d-%d", r.Start, r.Start+r.Length-1))
}

// parseContentRange reads "bytes a-b/size".
func parseContentRange(s string) (off, n, size int64, ok bool) {
	spec, found := strings.CutPrefix(s, "bytes ")
	if !found {
		return 0, 0, 0, false
	}
	rng, total, _ := strings.Cut(spec, "/")
	a, bs, _ := strings.Cut(rng, "-")
	off, err1 := strconv.ParseInt(a, 10, 64)
	end, err2 := strconv.ParseInt(bs, 10, 64)
	size, err3 := strconv.ParseInt(total, 10, 64)
	if err1 != nil || err2 != nil || err3 != nil {
		return 0, 0, 0, false
	}
	return off, end - off + 1, size, true
}

// Get implements [blob.Bucket].
func (b *Bucket) Get(ctx context.Context, key string, rng *blob.Range) (*blob.Object, error) {
	if err := blob.ValidateKey(key); err != nil {
		return nil, fmt.Errorf("s3blob: get s3://%s/%s: %w", b.name, key, err)
	}
	out, err := b.c.s3.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(b.name), Key: aws.String(key), Range: rangeHeader(rng)})
	if err != nil {
		return nil, b.mapErr("get", key, err)
	}
	length := aws.ToInt64(out.ContentLength)
	a := blob.Attrs{Key: key, Size: length, ETag: strings.Trim(aws.ToString(out.ETag), `"`),
		ContentType: aws.ToString(out.ContentType), Metadata: out.Metadata, ModTime: aws.ToTime(out.LastModified)}
	o := &blob.Object{ReadCloser: out.Body, Attrs: a, Offset: 0, Length: length}
	if off, n, size, ok := parseContentRange(aws.ToString(out.ContentRange)); ok {
		o.Offset, o.Length, o.Attrs.Size = off, n, size
	}
	if rng != nil && rng.Length == 0 && rng.Start >= 0 {
		o.ReadCloser = readCloser{io.LimitReader(out.Body, 0), out.Body}
		o.Length = 0
	}
	return o, nil
}

type readCloser struct {
	io.Reader
	io.Closer
}

// Stat implements [blob.Bucket].
func (b *Bucket) Stat(ctx context.Context, key string) (blob.Attrs, error) {
	if err := blob.ValidateKey(key); err != nil {
		return blob.Attrs{}, fmt.Errorf("s3blob: stat s3://%s/%s: %w", b.name, key, err)
	}
	out, err := b.c.s3.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String(b.name), Key: aws.String(key)})
	if err != nil {
		return blob.Attrs{}, b.mapErr("stat", key, err)
	}
	return blob.Attrs{Key: key, Size: aws.ToInt64(out.ContentLength), ETag: strings.Trim(aws.ToString(out.ETag), `"`),
		ContentType: aws.ToString(out.ContentType), Metadata: out.Metadata, ModTime: aws.ToTime(out.LastModified)}, nil
}

// Delete implements [blob.Bucket].
func (b *Bucket) Delete(ctx context.Context, key string) error {
	if err := blob.ValidateKey(key); err != nil {
		return fmt.Errorf("s3blob: delete s3://%s/%s: %w", b.name, key, err)
	}
	if _, err := b.c.s3.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: aws.String(b.name), Key: aws.String(key)}); err != nil {
		if errors.Is(b.mapErr("delete", key, err), blob.ErrNotExist) {
			return nil
		}
		return b.mapErr("delete", key, err)
	}
	return nil
}

// List implements [blob.Bucket]. S3's StartAfter would repeat a common
// prefix that the previous page ended with, so prefixes at or before
// StartAfter are dropped and more is fetched to fill the page.
func (b *Bucket) List(ctx context.Context, opts blob.ListOptions) (blob.ListPage, error) {
	maxKeys := opts.MaxKeys
	if maxKeys <= 0 {
		maxKeys = 1000
	}
	var page blob.ListPage
	in := &s3.ListObjectsV2Input{Bucket: aws.String(b.name), Prefix: optString(opts.Prefix), Delimiter: optString(opts.Delimiter),
		StartAfter: optString(opts.StartAfter)}
	last := ""
	for {
		in.MaxKeys = aws.Int32(int32(maxKeys - len(page.Objects) - len(page.CommonPrefixes) + 1))
		out, err := b.c.s3.ListObjectsV2(ctx, in)
		if err != nil {
			return blob.ListPage{}, b.mapErr("list", opts.Prefix, err)
		}
		// Merge the page's objects and prefixes in key order.
		type entry struct {
			key    string
			prefix bool
			obj    types.Object
		}
		var ents []entry
		for _, o := range out.Contents {
			ents = append(ents, entry{key: aws.ToString(o.Key), obj: o})
		}
		for _, p := range out.CommonPrefixes {
			ents = append(ents, entry{key: aws.ToString(p.Prefix), prefix: true})
		}
		slices.SortFunc(ents, func(x, y entry) int { return strings.Compare(x.key, y.key) })
		for _, e := range ents {
			if e.key <= opts.StartAfter || e.key == last {
				continue
			}
			if len(page.Objects)+len(page.CommonPrefixes) == maxKeys {
				page.Truncated = true
				page.NextStartAfter = last
				return page, nil
			}
			if e.prefix {
				page.CommonPrefixes = append(page.CommonPrefixes, e.key)
			} else {
				page.Objects = append(page.Objects, blob.Attrs{Key: e.key, Size: aws.ToInt64(e.obj.Size),
					ETag: strings.Trim(aws.ToString(e.obj.ETag), `"`), ModTime: aws.ToTime(e.obj.LastModified)})
			}
			last = e.key
		}
		if !aws.ToBool(out.IsTruncated) {
			return page, nil
		}
		in.StartAfter = nil
		in.ContinuationToken = out.NextContinuationToken
	}
}

// Copy implements [blob.Bucket] with a server-side CopyObject (objects up
// to 5 GiB).
func (b *Bucket) Copy(ctx context.Context, dstKey, srcKey string, opts *blob.PutOptions) (blob.Attrs, error) {
	in := &s3.CopyObjectInput{Bucket: aws.String(b.name), Key: aws.String(dstKey),
		CopySource: aws.String(b.name + "/" + escapeKey(srcKey))}
	if opts != nil {
		in.MetadataDirective = types.MetadataDirectiveReplace
		in.ContentType = optString(opts.ContentType)
		in.Metadata = opts.Metadata
	}
	if _, err := b.c.s3.CopyObject(ctx, in); err != nil {
		return blob.Attrs{}, b.mapErr("copy", srcKey, err)
	}
	return b.Stat(ctx, dstKey)
}

// escapeKey percent-encodes a key for x-amz-copy-source, keeping '/'.
func escapeKey(k string) string {
	parts := strings.Split(k, "/")
	for i, p := range parts {
		parts[i] = url.PathEscape(p)
	}
	return strings.Join(parts, "/")
}
