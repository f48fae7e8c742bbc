package diskblob

import (
	"context"
	"crypto/md5"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"sort"
	"strings"
	"syscall"
	"time"

	"github.com/strata-ml/strata/internal/blob"
)

// tmpPrefix starts the name of every temporary file; keys may not use it.
const tmpPrefix = ".strata-tmp-"

// dirMarker is the file that holds an object whose key ends in "/" (a
// "folder" object: "a/b/" is stored as a/b/.strata-dir); keys may not use it.
const dirMarker = ".strata-dir"

// Bucket is a directory of objects, one regular file per key, with an
// optional sidecar directory of attributes. It implements [blob.Bucket].
type Bucket struct {
	root    *os.Root
	name    string
	objDir  string // slash path of the object tree inside root
	metaDir string // slash path of the sidecar tree; "" keeps no attributes
	opts    Options
	store   *Store // nil for file:// buckets
}

var _ blob.Bucket = (*Bucket)(nil)

// meta is the sidecar record of an object. Size and MtimeNS tie it to one
// version of the data file: a record that does not match is ignored and
// rebuilt from the data, so a crash between the two renames of a Put never
// serves wrong attributes.
type meta struct {
	Key         string            `json:"key"`
	Size        int64             `json:"size"`
	MtimeNS     int64             `json:"mtime_ns"`
	ETag        string            `json:"etag"`
	SHA256      string            `json:"sha256"`
	ContentType string            `json:"content_type,omitempty"`
	Metadata    map[string]string `json:"metadata,omitempty"`
	Checksums   map[string]string `json:"checksums,omitempty"`
}

// checkKey applies the local-disk key rules on top of blob.ValidateKey: every
// '/'-separated segment is non-empty, not "." or "..", at most 255 bytes, and
// not a temporary-file name. Such keys can only name files inside the tree.
func checkKey(key string) error {
	if err := blob.ValidateKey(key); err != nil {
		return err
	}
	segs := strings.Split(strings.TrimSuffix(key, "/"), "/")
	for _, seg := range segs {
		switch {
		case seg == "" || seg == "." || seg == "..":
			return fmt.Errorf("%w: key %q has an empty, '.' or '..' path segment", blob.ErrInvalidKey, key)
		case len(seg) > 255:
			return fmt.Errorf("%w: key %q has a path segment longer than 255 bytes", blob.ErrInvalidKey, key)
		case strings.HasPrefix(seg, tmpPrefix) || seg == dirMarker:
			return fmt.Errorf("%w: key %q uses a name reserved by the store", blob.ErrInvalidKey, key)
		}
	}
	return nil
}

func (b *Bucket) objPath(key string) string {
	if strings.HasSuffix(key, "/") {
		return path.Join(b.objDir, key, dirMarker)
	}
	return path.Join(b.objDir, key)
}

func (b *Bucket) metaPath(key string) string {
	h := sha256.Sum256([]byte(key))
	x := hex.EncodeToString(h[:])
	return path.Join(b.metaDir, x[:2], x+".json")
}

func (b *Bucket) wrapErr(op, key string, err error) error {
	return fmt.Errorf("diskblob: %s %s/%s: %w", op, b.name, key, err)
}

// notExist maps filesystem "not there" errors (including a file where a
// directory was expected) to blob.ErrNotExist.
func notExist(err error) bool {
	return errors.Is(err, fs.ErrNotExist) || errors.Is(err, syscall.ENOTDIR)
}

func randomName() string {
	var b [8]byte
	rand.Read(b[:])
	return tmpPrefix + hex.EncodeToString(b[:])
}

// ctxReader fails reads once ctx is done.
type ctxReader struct {
	ctx context.Context
	r   io.Reader
}

func (c ctxReader) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.r.Read(p)
}

// written is the result of streaming content into a temporary file.
type written struct {
	tmp    string // slash path in root
	size   int64
	md5    []byte
	sha256 []byte
	mtime  time.Time
}

// writeTemp streams r into a new temporary file in dir, fsyncs it and
// returns its hashes. On error nothing is left behind.
func (b *Bucket) writeTemp(ctx context.Context, dir string, r io.Reader, tee io.Writer) (written, error) {
	tmp := path.Join(dir, randomName())
	f, err := b.root.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil && notExist(err) {
		// A concurrent Delete may have pruned the directory; recreate it once.
		if err = b.root.MkdirAll(dir, 0o755); err == nil {
			f, err = b.root.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
		}
	}
	if err != nil {
		return written{}, err
	}
	ok := false
	defer func() {
		if !ok {
			f.Close()
			b.root.Remove(tmp)
		}
	}()
	hm, hs := md5.New(), sha256.New()
	var w io.Writer = f
	if b.opts.TempWriter != nil {
		w = b.opts.TempWriter(w)
	}
	dst := io.MultiWriter(w, hm, hs)
	if tee != nil {
		dst = io.MultiWriter(w, hm, hs, tee)
	}
	n, err := io.Copy(dst, ctxReader{ctx, r})
	if err != nil {
		return written{}, err
	}
	if err := f.Sync(); err != nil {
		return written{}, err
	}
	fi, err := f.Stat()
	if err != nil {
		return written{}, err
	}
	if err := f.Close(); err != nil {
		return written{}, err
	}
	ok = true
	return written{tmp: tmp, size: n, md5: hm.Sum(nil), sha256: hs.Sum(nil), mtime: fi.ModTime()}, nil
}

// commit verifies, then atomically publishes a written temp file as key,
// followed by its sidecar. On error the temp file is removed.
func (b *Bucket) commit(key string, w written, etag string, opts *blob.PutOptions) (blob.Attrs, error) {
	if opts == nil {
		opts = &blob.PutOptions{}
	}
	a := blob.Attrs{
		Key: key, Size: w.size, ModTime: w.mtime, ETag: etag, SHA256: hex.EncodeToString(w.sha256),
		ContentType: opts.ContentType, Metadata: opts.Metadata, Checksums: opts.Checksums,
	}
	if opts.Verify != nil {
		if err := opts.Verify(a); err != nil {
			b.root.Remove(w.tmp)
			return blob.Attrs{}, err
		}
	}
	target := b.objPath(key)
	err := b.root.Rename(w.tmp, target)
	if err != nil && (errors.Is(err, syscall.EISDIR) || errors.Is(err, syscall.EEXIST) || errors.Is(err, syscall.ENOTEMPTY)) {
		// An empty directory left by an earlier failed write may hold the
		// name; Remove fails (and we report the conflict) unless it is empty.
		if b.root.Remove(target) == nil {
			err = b.root.Rename(w.tmp, target)
		}
	}
	if err != nil {
		b.root.Remove(w.tmp)
		if errors.Is(err, syscall.EISDIR) || errors.Is(err, syscall.EEXIST) || errors.Is(err, syscall.ENOTEMPTY) {
			return blob.Attrs{}, fmt.Errorf("%w: key %q is a prefix of existing keys", blob.ErrInvalidKey, key)
		}
		return blob.Attrs{}, err
	}
	syncDir(b.root, path.Dir(target))
	if b.metaDir != "" {
		m := meta{Key: key, Size: a.Size, MtimeNS: a.ModTime.UnixNano(), ETag: a.ETag, SHA256: a.SHA256,
			ContentType: a.ContentType, Metadata: a.Metadata, Checksums: a.Checksums}
		if err := b.writeMeta(m); err != nil {
			// The data is durable; a missing or stale sidecar is rebuilt on read,
			// but the content type and metadata would be lost: report it.
			return blob.Attrs{}, fmt.Errorf("write attributes: %w", err)
		}
	}
	return a, nil
}

func (b *Bucket) writeMeta(m meta) error {
	data, err := json.Marshal(m)
	if err != nil {
		return err
	}
	return writeFileAtomic(b.root, b.metaPath(m.Key), data)
}

// writeFileAtomic writes data to name in root: temp file, fsync, rename, fsync dir.
func writeFileAtomic(root *os.Root, name string, data []byte) error {
	dir := path.Dir(name)
	if err := root.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	tmp := path.Join(dir, randomName())
	f, err := root.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		return err
	}
	_, err = f.Write(data)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = root.Rename(tmp, name)
	}
	if err != nil {
		root.Remove(tmp)
		return err
	}
	syncDir(root, dir)
	return nil
}

func syncDir(root *os.Root, dir string) {
	if d, err := root.Open(dir); err == nil {
		d.Sync()
		d.Close()
	}
}

func mapWriteErr(err error) error {
	if errors.Is(err, syscall.ENOSPC) || errors.Is(err, syscall.EDQUOT) {
		return fmt.Errorf("%w: %w", blob.ErrStorageFull, err)
	}
	return err
}

// Put implements [blob.Bucket].
func (b *Bucket) Put(ctx context.Context, key string, r io.Reader, opts *blob.PutOptions) (blob.Attrs, error) {
	if err := checkKey(key); err != nil {
		return blob.Attrs{}, b.wrapErr("put", key, err)
	}
	dir := path.Dir(b.objPath(key))
	if err := b.root.MkdirAll(dir, 0o755); err != nil {
		if errors.Is(err, syscall.ENOTDIR) || errors.Is(err, fs.ErrExist) {
			err = fmt.Errorf("%w: a prefix of key %q is an existing object", blob.ErrInvalidKey, key)
		}
		return blob.Attrs{}, b.wrapErr("put", key, mapWriteErr(err))
	}
	var tee io.Writer
	if opts != nil {
		tee = opts.Tee
	}
	w, err := b.writeTemp(ctx, dir, r, tee)
	if err != nil {
		return blob.Attrs{}, b.wrapErr("put", key, mapWriteErr(err))
	}
	a, err := b.commit(key, w, hex.EncodeToString(w.md5), opts)
	if err != nil {
		return blob.Attrs{}, b.wrapErr("put", key, mapWriteErr(err))
	}
	return a, nil
}

// attrs returns the attributes of the data file f (already open) for key,
// from the sidecar when it matches f, else by hashing f.
func (b *Bucket) attrs(key string, f *os.File, fi fs.FileInfo) (blob.Attrs, error) {
	a := blob.Attrs{Key: key, Size: fi.Size(), ModTime: fi.ModTime()}
	if b.metaDir == "" {
		return a, nil
	}
	if data, err := b.root.ReadFile(b.metaPath(key)); err == nil {
		var m meta
		if json.Unmarshal(data, &m) == nil && m.Key == key && m.Size == fi.Size() && m.MtimeNS == fi.ModTime().UnixNano() {
			a.ETag, a.SHA256, a.ContentType, a.Metadata, a.Checksums = m.ETag, m.SHA256, m.ContentType, m.Metadata, m.Checksums
			return a, nil
		}
	}
	// Stale or missing sidecar: rebuild it from the data.
	hm, hs := md5.New(), sha256.New()
	if _, err := io.Copy(io.MultiWriter(hm, hs), io.NewSectionReader(f, 0, fi.Size())); err != nil {
		return blob.Attrs{}, err
	}
	a.ETag, a.SHA256 = hex.EncodeToString(hm.Sum(nil)), hex.EncodeToString(hs.Sum(nil))
	b.writeMeta(meta{Key: key, Size: a.Size, MtimeNS: a.ModTime.UnixNano(), ETag: a.ETag, SHA256: a.SHA256}) // best effort
	return a, nil
}

func (b *Bucket) open(op, key string) (*os.File, fs.FileInfo, error) {
	if err := checkKey(key); err != nil {
		return nil, nil, b.wrapErr(op, key, err)
	}
	f, err := b.root.Open(b.objPath(key))
	if err != nil {
		if notExist(err) {
			return nil, nil, b.wrapErr(op, key, blob.ErrNotExist)
		}
		return nil, nil, b.wrapErr(op, key, err)
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, nil, b.wrapErr(op, key, err)
	}
	if !fi.Mode().IsRegular() {
		f.Close()
		return nil, nil, b.wrapErr(op, key, blob.ErrNotExist)
	}
	return f, fi, nil
}

// Get implements [blob.Bucket].
func (b *Bucket) Get(ctx context.Context, key string, rng *blob.Range) (*blob.Object, error) {
	f, fi, err := b.open("get", key)
	if err != nil {
		return nil, err
	}
	a, err := b.attrs(key, f, fi)
	if err != nil {
		f.Close()
		return nil, b.wrapErr("get", key, err)
	}
	off, n, err := blob.ResolveRange(rng, fi.Size())
	if err != nil {
		f.Close()
		return nil, b.wrapErr("get", key, err)
	}
	if _, err := f.Seek(off, io.SeekStart); err != nil {
		f.Close()
		return nil, b.wrapErr("get", key, err)
	}
	return &blob.Object{
		ReadCloser: &fileReader{LimitedReader: io.LimitedReader{R: f, N: n}, f: f},
		Attrs:      a, Offset: off, Length: n,
	}, nil
}

// fileReader reads a span of an open file. Unwrap exposes the
// *io.LimitedReader over the *os.File so that net/http can send it with
// sendfile(2).
type fileReader struct {
	io.LimitedReader
	f *os.File
}

func (r *fileReader) Close() error { return r.f.Close() }

// Unwrap returns the underlying *io.LimitedReader of the *os.File.
func (r *fileReader) Unwrap() io.Reader { return &r.LimitedReader }

// Stat implements [blob.Bucket].
func (b *Bucket) Stat(ctx context.Context, key string) (blob.Attrs, error) {
	f, fi, err := b.open("stat", key)
	if err != nil {
		return blob.Attrs{}, err
	}
	defer f.Close()
	a, err := b.attrs(key, f, fi)
	if err != nil {
		return blob.Attrs{}, b.wrapErr("stat", key, err)
	}
	return a, nil
}

// Delete implements [blob.Bucket].
func (b *Bucket) Delete(ctx context.Context, key string) error {
	if err := checkKey(key); err != nil {
		return b.wrapErr("delete", key, err)
	}
	p := b.objPath(key)
	fi, err := b.root.Lstat(p)
	if err != nil {
		if notExist(err) {
			return nil
		}
		return b.wrapErr("delete", key, err)
	}
	if fi.IsDir() {
		return nil // a prefix, not an object
	}
	if err := b.root.Remove(p); err != nil && !notExist(err) {
		return b.wrapErr("delete", key, err)
	}
	if b.metaDir != "" {
		b.root.Remove(b.metaPath(key))
	}
	syncDir(b.root, path.Dir(p))
	// Prune now-empty parent directories up to the bucket directory.
	for dir := path.Dir(p); dir != b.objDir && dir != "." && (b.objDir == "." || strings.HasPrefix(dir, b.objDir+"/")); dir = path.Dir(dir) {
		if b.root.Remove(dir) != nil {
			break
		}
	}
	return nil
}

// walk calls fn for every object key under prefix, in no particular order.
func (b *Bucket) walk(prefix string, fn func(key string, d fs.DirEntry) error) error {
	start := b.objDir
	if i := strings.LastIndex(prefix, "/"); i >= 0 {
		start = path.Join(b.objDir, prefix[:i])
	}
	fsys := b.root.FS()
	err := fs.WalkDir(fsys, start, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			if notExist(err) {
				return nil
			}
			return err
		}
		if strings.HasPrefix(d.Name(), tmpPrefix) {
			if d.IsDir() {
				return fs.SkipDir
			}
			return nil
		}
		if d.IsDir() || !d.Type().IsRegular() {
			return nil
		}
		key := strings.TrimPrefix(p, b.objDir+"/")
		if b.objDir == "." {
			key = p
		}
		if d.Name() == dirMarker {
			key = strings.TrimSuffix(key, dirMarker)
		}
		if !strings.HasPrefix(key, prefix) {
			return nil
		}
		return fn(key, d)
	})
	if notExist(err) {
		return nil
	}
	return err
}

// List implements [blob.Bucket]. It walks the keys under the prefix's
// directory and sorts them, so its cost grows with that subtree.
func (b *Bucket) List(ctx context.Context, opts blob.ListOptions) (blob.ListPage, error) {
	maxKeys := opts.MaxKeys
	if maxKeys <= 0 {
		maxKeys = 1000
	}
	type entry struct {
		key string
		d   fs.DirEntry
	}
	var entries []entry
	err := b.walk(opts.Prefix, func(key string, d fs.DirEntry) error {
		if err := ctx.Err(); err != nil {
			return err
		}
		if key > opts.StartAfter {
			entries = append(entries, entry{key, d})
		} else if opts.Delimiter != "" {
			// Keys at or before StartAfter may still open a common prefix that sorts after it.
			if rest := key[len(opts.Prefix):]; strings.Contains(rest, opts.Delimiter) {
				entries = append(entries, entry{key, d})
			}
		}
		return nil
	})
	if err != nil {
		return blob.ListPage{}, fmt.Errorf("diskblob: list %s prefix %q: %w", b.name, opts.Prefix, err)
	}
	sort.Slice(entries, func(i, j int) bool { return entries[i].key < entries[j].key })
	var page blob.ListPage
	last := ""
	for _, e := range entries {
		if opts.Delimiter != "" {
			rest := e.key[len(opts.Prefix):]
			if i := strings.Index(rest, opts.Delimiter); i >= 0 {
				cp := opts.Prefix + rest[:i+len(opts.Delimiter)]
				if cp <= opts.StartAfter || cp == last {
					continue
				}
				if len(page.Objects)+len(page.CommonPrefixes) == maxKeys {
					page.Truncated = true
					break
				}
				page.CommonPrefixes = append(page.CommonPrefixes, cp)
				last = cp
				continue
			}
		}
		if e.key <= opts.StartAfter {
			continue
		}
		if len(page.Objects)+len(page.CommonPrefixes) == maxKeys {
			page.Truncated = true
			break
		}
		fi, err := e.d.Info()
		if err != nil {
			continue // deleted meanwhile
		}
		a := blob.Attrs{Key: e.key, Size: fi.Size(), ModTime: fi.ModTime()}
		if b.metaDir != "" {
			if data, err := b.root.ReadFile(b.metaPath(e.key)); err == nil {
				var m meta
				if json.Unmarshal(data, &m) == nil && m.Size == a.Size && m.MtimeNS == a.ModTime.UnixNano() {
					a.ETag, a.SHA256, a.ContentType = m.ETag, m.SHA256, m.ContentType
				}
			}
			if a.ETag == "" {
				if full, err := b.Stat(ctx, e.key); err == nil {
					a = full
				}
			}
		}
		page.Objects = append(page.Objects, a)
		last = e.key
	}
	if page.Truncated {
		page.NextStartAfter = last
	}
	return page, nil
}

// Copy implements [blob.Bucket].
func (b *Bucket) Copy(ctx context.Context, dstKey, srcKey string, opts *blob.PutOptions) (blob.Attrs, error) {
	return CopyObject(ctx, b, dstKey, b, srcKey, opts)
}

// CopyObject copies between two buckets of this package (possibly the same),
// streaming. Nil opts keep the source's content type, metadata and checksums.
func CopyObject(ctx context.Context, dst *Bucket, dstKey string, src *Bucket, srcKey string, opts *blob.PutOptions) (blob.Attrs, error) {
	o, err := src.Get(ctx, srcKey, nil)
	if err != nil {
		return blob.Attrs{}, err
	}
	defer o.Close()
	if opts == nil {
		opts = &blob.PutOptions{ContentType: o.Attrs.ContentType, Metadata: o.Attrs.Metadata, Checksums: o.Attrs.Checksums}
	}
	return dst.Put(ctx, dstKey, o, opts)
}
