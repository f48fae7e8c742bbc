package diskblob_test

import (
	"bytes"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/strata-ml/strata/internal/blob"
	"github.com/strata-ml/strata/internal/blob/blobtest"
	"github.com/strata-ml/strata/internal/blob/diskblob"
)

func newStore(t *testing.T, o diskblob.Options) *diskblob.Store {
	t.Helper()
	s, err := diskblob.Open(t.TempDir(), o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func TestConformanceStore(t *testing.T) {
	t.Parallel()
	blobtest.Run(t, func(t *testing.T) blob.Bucket {
		s := newStore(t, diskblob.Options{})
		if err := s.CreateBucket(t.Context(), "conformance", "111111111111"); err != nil {
			t.Fatal(err)
		}
		b, err := s.Bucket(t.Context(), "conformance")
		if err != nil {
			t.Fatal(err)
		}
		return b
	}, blobtest.Options{LocalKeys: true})
}

func TestConformanceDir(t *testing.T) {
	t.Parallel()
	blobtest.Run(t, func(t *testing.T) blob.Bucket {
		b, err := diskblob.Dir(t.TempDir(), diskblob.Options{})
		if err != nil {
			t.Fatal(err)
		}
		return b
	}, blobtest.Options{LocalKeys: true, NoAttributes: true})
}

func TestFileURI(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "train.jsonl"), []byte(`{"prompt":"a"}`+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	var r blob.Resolver
	b, key, err := r.Open(t.Context(), "file://"+dir+"/train.jsonl")
	if err != nil || key != "train.jsonl" {
		t.Fatalf("Open(file) = %v, %q, %v", b, key, err)
	}
	data, err := blob.ReadAll(t.Context(), b, key)
	if err != nil || string(data) != `{"prompt":"a"}`+"\n" {
		t.Fatalf("ReadAll = %q, %v", data, err)
	}
	b, key, err = r.Open(t.Context(), "file://"+dir+"/out/")
	if err != nil || key != "" {
		t.Fatalf("Open(dir) = %q, %v", key, err)
	}
	if _, err := b.Put(t.Context(), "model/adapter.bin", strings.NewReader("w"), nil); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dir, "out", "model", "adapter.bin")); err != nil {
		t.Errorf("file not where the URI says: %v", err)
	}
	if _, _, err := r.Open(t.Context(), "file:relative/x"); err == nil {
		t.Errorf("Open(relative file URI) succeeded")
	}
}

// TestNoEscape checks that keys and symbolic links cannot reach outside the store.
func TestNoEscape(t *testing.T) {
	t.Parallel()
	outside := t.TempDir()
	secret := filepath.Join(outside, "secret")
	os.WriteFile(secret, []byte("secret"), 0o644)
	dir := t.TempDir()
	b, err := diskblob.Dir(dir, diskblob.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(outside, filepath.Join(dir, "link")); err != nil {
		t.Fatal(err)
	}
	if _, err := b.Get(t.Context(), "link/secret", nil); err == nil {
		t.Errorf("Get through a symlink out of the store succeeded")
	}
	if _, err := b.Put(t.Context(), "link/new", strings.NewReader("x"), nil); err == nil {
		t.Errorf("Put through a symlink out of the store succeeded")
	}
	if _, err := os.Stat(filepath.Join(outside, "new")); err == nil {
		t.Errorf("a file was created outside the store")
	}
	for _, k := range []string{"../secret", "a/../../secret"} {
		if _, err := b.Put(t.Context(), k, strings.NewReader("x"), nil); !errors.Is(err, blob.ErrInvalidKey) {
			t.Errorf("Put(%q) = %v, want ErrInvalidKey", k, err)
		}
	}
	if data, _ := os.ReadFile(secret); string(data) != "secret" {
		t.Errorf("secret changed to %q", data)
	}
}

type enospcWriter struct {
	w    io.Writer
	left int
}

func (e *enospcWriter) Write(p []byte) (int, error) {
	if len(p) > e.left {
		n, _ := e.w.Write(p[:e.left])
		e.left = 0
		return n, &os.PathError{Op: "write", Path: "x", Err: syscall.ENOSPC}
	}
	e.left -= len(p)
	return e.w.Write(p)
}

func TestDiskFull(t *testing.T) {
	t.Parallel()
	s := newStore(t, diskblob.Options{TempWriter: func(w io.Writer) io.Writer { return &enospcWriter{w: w, left: 100000} }})
	s.CreateBucket(t.Context(), "full", "1")
	b, _ := s.OpenBucket(t.Context(), "full")
	_, err := b.Put(t.Context(), "big", bytes.NewReader(make([]byte, 300000)), nil)
	if !errors.Is(err, blob.ErrStorageFull) {
		t.Fatalf("Put on a full disk = %v, want ErrStorageFull", err)
	}
	if _, err := b.Stat(t.Context(), "big"); !errors.Is(err, blob.ErrNotExist) {
		t.Errorf("Stat after a full-disk Put = %v, want ErrNotExist", err)
	}
	if _, err := b.Put(t.Context(), "small", bytes.NewReader(make([]byte, 1000)), nil); err != nil {
		t.Errorf("small Put = %v", err)
	}
}

func TestBuckets(t *testing.T) {
	t.Parallel()
	s := newStore(t, diskblob.Options{})
	ctx := t.Context()
	if err := s.CreateBucket(ctx, "alpha", "111"); err != nil {
		t.Fatal(err)
	}
	err := s.CreateBucket(ctx, "alpha", "222")
	if e, ok := errors.AsType[*diskblob.BucketExistsError](err); !ok || e.Owner != "111" || !errors.Is(err, diskblob.ErrBucketExists) {
		t.Errorf("CreateBucket(existing) = %v, want BucketExistsError owner 111", err)
	}
	if err := s.CreateBucket(ctx, "Bad_Name", "1"); err == nil {
		t.Errorf("CreateBucket(Bad_Name) succeeded")
	}
	s.CreateBucket(ctx, "beta", "222")
	list, err := s.ListBuckets(ctx)
	if err != nil || len(list) != 2 || list[0].Name != "alpha" || list[1].Owner != "222" {
		t.Errorf("ListBuckets = %+v, %v", list, err)
	}
	b, _ := s.Bucket(ctx, "alpha")
	b.Put(ctx, "k", strings.NewReader("x"), nil)
	if err := s.DeleteBucket(ctx, "alpha"); !errors.Is(err, diskblob.ErrBucketNotEmpty) {
		t.Errorf("DeleteBucket(non-empty) = %v, want ErrBucketNotEmpty", err)
	}
	b.Delete(ctx, "k")
	if err := s.DeleteBucket(ctx, "alpha"); err != nil {
		t.Errorf("DeleteBucket = %v", err)
	}
	if _, err := s.Bucket(ctx, "alpha"); !errors.Is(err, blob.ErrBucketNotExist) {
		t.Errorf("Bucket(deleted) = %v, want ErrBucketNotExist", err)
	}
	r := blob.Resolver{Default: s}
	if _, _, err := r.Open(ctx, "s3://beta/x/y"); err != nil {
		t.Errorf("Resolver.Open(s3://beta/x/y) = %v", err)
	}
	if _, _, err := r.Open(ctx, "s3://nope/x"); !errors.Is(err, blob.ErrBucketNotExist) {
		t.Errorf("Resolver.Open(s3://nope/x) = %v, want ErrBucketNotExist", err)
	}
}

// TestStaleAttributes simulates a crash between the data and sidecar renames.
func TestStaleAttributes(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	s, _ := diskblob.Open(dir, diskblob.Options{})
	defer s.Close()
	if err := s.CreateBucket(t.Context(), "bk1", "1"); err != nil {
		t.Fatal(err)
	}
	b, _ := s.Bucket(t.Context(), "bk1")
	b.Put(t.Context(), "k", strings.NewReader("old"), nil)
	// Replace the data behind the store's back, as a crash before the sidecar rename would leave it.
	if err := os.WriteFile(filepath.Join(dir, "buckets", "bk1", "k"), []byte("newer"), 0o644); err != nil {
		t.Fatal(err)
	}
	a, err := b.Stat(t.Context(), "k")
	if err != nil || a.Size != 5 || a.ETag != md5hex("newer") {
		t.Errorf("Stat after data change = %+v, %v; want attrs of the new data", a, err)
	}
}

// TestOpenSweepsTemp: temporary files of a crashed write disappear at Open.
func TestOpenSweepsTemp(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	s, _ := diskblob.Open(dir, diskblob.Options{})
	s.CreateBucket(t.Context(), "swept", "1")
	s.Close()
	stale := filepath.Join(dir, "buckets", "swept", "sub", ".strata-tmp-0123456789abcdef")
	os.MkdirAll(filepath.Dir(stale), 0o755)
	os.WriteFile(stale, []byte("partial"), 0o644)
	s, err := diskblob.Open(dir, diskblob.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if _, err := os.Stat(stale); !os.IsNotExist(err) {
		t.Errorf("stale temporary file still there after Open: %v", err)
	}
}

// TestEmptyDirDoesNotBlockKey: a failed write under "x/" leaves no obstacle to key "x".
func TestEmptyDirDoesNotBlockKey(t *testing.T) {
	t.Parallel()
	b, err := diskblob.Dir(t.TempDir(), diskblob.Options{})
	if err != nil {
		t.Fatal(err)
	}
	_, err = b.Put(t.Context(), "x/y", strings.NewReader("data"), &blob.PutOptions{Verify: func(blob.Attrs) error { return errors.New("rejected") }})
	if err == nil {
		t.Fatal("rejected Put succeeded")
	}
	if _, err := b.Put(t.Context(), "x", strings.NewReader("now a file"), nil); err != nil {
		t.Errorf("Put(x) after a failed Put(x/y) = %v", err)
	}
	b.Put(t.Context(), "p/q", strings.NewReader("q"), nil)
	if _, err := b.Put(t.Context(), "p", strings.NewReader("p"), nil); !errors.Is(err, blob.ErrInvalidKey) {
		t.Errorf("Put(p) while p/q exists = %v, want ErrInvalidKey", err)
	}
}
