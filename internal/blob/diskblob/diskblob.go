// Package diskblob stores objects on local disk: the embedded [Store] behind
// Strata's S3-compatible endpoint (buckets with owners, objects, multipart
// uploads) and plain directories for file:// URIs ([Dir]).
//
// Every key is one regular file at <bucket dir>/<key>; keys must be clean
// relative paths (no empty, "." or ".." segments), and every file operation
// goes through an [os.Root], so neither a key nor a symbolic link can reach a
// file outside the store. Writes stream into a temporary file in the target
// directory (hashing MD5 and SHA-256 on the way), are fsynced, then renamed
// into place; a failed or cancelled write leaves nothing visible.
//
// The embedded store's layout under its directory:
//
//	buckets/<bucket>/<key>                    object data
//	meta/<bucket>/bucket.json                 bucket record (owner, creation time)
//	meta/<bucket>/<hh>/<sha256(key)>.json     object attributes (ETag, SHA-256, type, metadata, checksums)
//	multipart/<bucket>/<upload id>/           upload.json and part-NNNNN (+ .json) files
//
// S3 lets "a" and "a/b" coexist; a file tree cannot, so Put of a key that is a
// prefix of existing keys (or has an existing object as a prefix) fails with
// [blob.ErrInvalidKey].
package diskblob

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/url"
	"os"
	"path"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"time"

	"github.com/strata-ml/strata/internal/blob"
)

// Options configure a [Store] or [Dir].
type Options struct {
	// TempWriter, when set, wraps the writer of every temporary data file.
	// It is a test seam for storage failures (a full disk).
	TempWriter func(io.Writer) io.Writer
}

// Errors of the embedded store.
var (
	// ErrBucketExists reports that CreateBucket named an existing bucket; see [BucketExistsError].
	ErrBucketExists = errors.New("diskblob: bucket already exists")
	// ErrBucketNotEmpty reports that DeleteBucket named a bucket that holds objects.
	ErrBucketNotEmpty = errors.New("diskblob: bucket not empty")
)

// BucketExistsError reports who owns an existing bucket. It matches ErrBucketExists.
type BucketExistsError struct {
	Name  string
	Owner string
}

func (e *BucketExistsError) Error() string {
	return fmt.Sprintf("diskblob: bucket %q already exists (owner %q)", e.Name, e.Owner)
}

// Is makes errors.Is(err, ErrBucketExists) true.
func (e *BucketExistsError) Is(target error) bool { return target == ErrBucketExists }

// BucketInfo describes a bucket of the embedded store.
type BucketInfo struct {
	Name    string    `json:"name"`
	Owner   string    `json:"owner"` // account id
	Created time.Time `json:"created"`
}

// Store is the embedded multi-bucket object store. It implements [blob.Backend].
type Store struct {
	root *os.Root
	dir  string
	opts Options
}

var _ blob.Backend = (*Store)(nil)

// Open opens (creating if needed) the store in dir, removing temporary files
// left by a crash. One process at a time may use a store directory.
func Open(dir string, opts Options) (*Store, error) {
	for _, sub := range []string{"buckets", "meta", "multipart"} {
		if err := os.MkdirAll(filepath.Join(dir, sub), 0o755); err != nil {
			return nil, fmt.Errorf("diskblob: open %s: %w", dir, err)
		}
	}
	root, err := os.OpenRoot(dir)
	if err != nil {
		return nil, fmt.Errorf("diskblob: open %s: %w", dir, err)
	}
	s := &Store{root: root, dir: dir, opts: opts}
	if err := s.sweepTemp(); err != nil {
		root.Close()
		return nil, fmt.Errorf("diskblob: open %s: %w", dir, err)
	}
	return s, nil
}

// sweepTemp removes the temporary files of writes that a crash interrupted.
// A store directory belongs to one process, so at Open every temporary file
// is dead.
func (s *Store) sweepTemp() error {
	return fs.WalkDir(s.root.FS(), ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			if notExist(err) {
				return nil
			}
			return err
		}
		if strings.HasPrefix(d.Name(), tmpPrefix) && !d.IsDir() {
			if err := s.root.Remove(p); err != nil && !notExist(err) {
				return err
			}
		}
		return nil
	})
}

// Close releases the store's directory handle.
func (s *Store) Close() error { return s.root.Close() }

func bucketRecord(name string) string { return path.Join("meta", name, "bucket.json") }

// CreateBucket creates a bucket owned by account owner. An existing bucket
// yields a [*BucketExistsError].
func (s *Store) CreateBucket(ctx context.Context, name, owner string) error {
	if err := blob.ValidateBucketName(name); err != nil {
		return fmt.Errorf("diskblob: create bucket: %w", err)
	}
	if info, err := s.BucketInfo(ctx, name); err == nil {
		return &BucketExistsError{Name: name, Owner: info.Owner}
	}
	// Mkdir of the meta directory is the creation lock.
	if err := s.root.Mkdir(path.Join("meta", name), 0o755); err != nil && !errors.Is(err, fs.ErrExist) {
		return fmt.Errorf("diskblob: create bucket %s: %w", name, err)
	} else if err != nil {
		if info, err := s.BucketInfo(ctx, name); err == nil {
			return &BucketExistsError{Name: name, Owner: info.Owner}
		}
		// A crash left the directory without a record: take it over.
	}
	if err := s.root.MkdirAll(path.Join("buckets", name), 0o755); err != nil {
		return fmt.Errorf("diskblob: create bucket %s: %w", name, err)
	}
	data, _ := json.Marshal(BucketInfo{Name: name, Owner: owner, Created: time.Now().UTC()})
	if err := writeFileAtomic(s.root, bucketRecord(name), data); err != nil {
		return fmt.Errorf("diskblob: create bucket %s: %w", name, mapWriteErr(err))
	}
	return nil
}

// BucketInfo returns a bucket's record, or an error wrapping blob.ErrBucketNotExist.
func (s *Store) BucketInfo(ctx context.Context, name string) (BucketInfo, error) {
	if blob.ValidateBucketName(name) != nil {
		return BucketInfo{}, fmt.Errorf("diskblob: bucket %q: %w", name, blob.ErrBucketNotExist)
	}
	data, err := s.root.ReadFile(bucketRecord(name))
	if err != nil {
		if notExist(err) {
			return BucketInfo{}, fmt.Errorf("diskblob: bucket %q: %w", name, blob.ErrBucketNotExist)
		}
		return BucketInfo{}, fmt.Errorf("diskblob: bucket %q: %w", name, err)
	}
	var info BucketInfo
	if err := json.Unmarshal(data, &info); err != nil {
		return BucketInfo{}, fmt.Errorf("diskblob: bucket %q: corrupt record: %w", name, err)
	}
	return info, nil
}

// ListBuckets returns every bucket, sorted by name.
func (s *Store) ListBuckets(ctx context.Context) ([]BucketInfo, error) {
	ents, err := fs.ReadDir(s.root.FS(), "meta")
	if err != nil {
		return nil, fmt.Errorf("diskblob: list buckets: %w", err)
	}
	var out []BucketInfo
	for _, e := range ents {
		if info, err := s.BucketInfo(ctx, e.Name()); err == nil {
			out = append(out, info)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

// DeleteBucket removes an empty bucket and its unfinished multipart uploads.
func (s *Store) DeleteBucket(ctx context.Context, name string) error {
	if _, err := s.BucketInfo(ctx, name); err != nil {
		return err
	}
	b := s.bucket(name)
	page, err := b.List(ctx, blob.ListOptions{MaxKeys: 1})
	if err != nil {
		return err
	}
	if len(page.Objects) > 0 {
		return fmt.Errorf("diskblob: delete bucket %s: %w", name, ErrBucketNotEmpty)
	}
	if err := s.root.Remove(bucketRecord(name)); err != nil && !notExist(err) {
		return fmt.Errorf("diskblob: delete bucket %s: %w", name, err)
	}
	syncDir(s.root, path.Join("meta", name))
	for _, p := range []string{path.Join("buckets", name), path.Join("meta", name), path.Join("multipart", name)} {
		if err := s.root.RemoveAll(p); err != nil {
			return fmt.Errorf("diskblob: delete bucket %s: %w", name, err)
		}
	}
	return nil
}

func (s *Store) bucket(name string) *Bucket {
	return &Bucket{root: s.root, name: name, objDir: path.Join("buckets", name),
		metaDir: path.Join("meta", name), opts: s.opts, store: s}
}

// Bucket returns an existing bucket; it implements [blob.Backend].
func (s *Store) Bucket(ctx context.Context, name string) (blob.Bucket, error) {
	return s.OpenBucket(ctx, name)
}

// OpenBucket is Bucket with the concrete type, for multipart uploads.
func (s *Store) OpenBucket(ctx context.Context, name string) (*Bucket, error) {
	if _, err := s.BucketInfo(ctx, name); err != nil {
		return nil, err
	}
	return s.bucket(name), nil
}

// Dir returns a bucket over a plain directory (created if missing): keys are
// paths relative to it, and no attributes are kept beside the files, so
// content type, metadata and checksums are not stored, and Stat, Get and List
// report no ETag or SHA-256 (Put still returns them).
func Dir(dir string, opts Options) (*Bucket, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("diskblob: dir %s: %w", dir, err)
	}
	root, err := os.OpenRoot(dir)
	if err != nil {
		return nil, fmt.Errorf("diskblob: dir %s: %w", dir, err)
	}
	b := &Bucket{root: root, name: dir, objDir: ".", opts: opts}
	runtime.AddCleanup(b, func(r *os.Root) { r.Close() }, root)
	return b, nil
}

func init() {
	blob.Register("file", openFileURI)
}

// openFileURI resolves file:///abs/dir/ to (that directory, "") and
// file:///abs/dir/name to (its parent directory, "name").
func openFileURI(ctx context.Context, u *url.URL) (blob.Bucket, string, error) {
	if u.Host != "" && u.Host != "localhost" {
		return nil, "", fmt.Errorf("diskblob: file URI host %q is not local", u.Host)
	}
	p := u.Path
	if !strings.HasPrefix(p, "/") {
		return nil, "", fmt.Errorf("diskblob: file URI path %q is not absolute", p)
	}
	dir, key := p, ""
	if !strings.HasSuffix(p, "/") {
		dir, key = path.Split(p)
	}
	b, err := Dir(filepath.FromSlash(path.Clean(dir)), Options{})
	if err != nil {
		return nil, "", err
	}
	return b, key, nil
}
