// Package blobtest is the conformance suite every [blob.Bucket]
// implementation runs: round trips of several sizes, ranges, listing with
// prefixes, delimiters and pagination, copy, delete, and the atomicity rules
// (a failed or rejected Put leaves nothing visible and keeps the old object).
package blobtest

import (
	"bytes"
	"context"
	"crypto/md5"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"slices"
	"sync"
	"testing"

	"github.com/strata-ml/strata/internal/blob"
)

// Options describe what an implementation does not support.
type Options struct {
	// NoAttributes: content type, user metadata, ETag and SHA-256 are not kept
	// after Put (plain file:// directories).
	NoAttributes bool
	// NoSHA256: Stat/Get/List do not report a SHA-256 (external S3).
	NoSHA256 bool
	// LocalKeys: the implementation maps keys to files and must reject keys
	// that are not clean relative paths with blob.ErrInvalidKey.
	LocalKeys bool
}

// Run runs the suite. newBucket returns an empty bucket for each subtest.
func Run(t *testing.T, newBucket func(t *testing.T) blob.Bucket, o Options) {
	t.Run("RoundTrip", func(t *testing.T) { testRoundTrip(t, newBucket(t), o) })
	t.Run("Overwrite", func(t *testing.T) { testOverwrite(t, newBucket(t)) })
	t.Run("Range", func(t *testing.T) { testRange(t, newBucket(t)) })
	t.Run("NotExist", func(t *testing.T) { testNotExist(t, newBucket(t)) })
	t.Run("Delete", func(t *testing.T) { testDelete(t, newBucket(t)) })
	t.Run("List", func(t *testing.T) { testList(t, newBucket(t), o) })
	t.Run("Copy", func(t *testing.T) { testCopy(t, newBucket(t), o) })
	t.Run("FailedPut", func(t *testing.T) { testFailedPut(t, newBucket(t)) })
	t.Run("ConcurrentPut", func(t *testing.T) { testConcurrentPut(t, newBucket(t)) })
	t.Run("InvalidKeys", func(t *testing.T) { testInvalidKeys(t, newBucket(t), o) })
	t.Run("Large", func(t *testing.T) { testLarge(t, newBucket(t)) })
	t.Run("FolderKey", func(t *testing.T) { testFolderKey(t, newBucket(t)) })
}

// testFolderKey covers keys ending in "/" (folder objects made by consoles
// and some tools) next to keys below them.
func testFolderKey(t *testing.T, b blob.Bucket) {
	put(t, b, "dir/", nil, nil)
	put(t, b, "dir/file", []byte("f"), nil)
	if a, err := b.Stat(t.Context(), "dir/"); err != nil || a.Size != 0 {
		t.Errorf("Stat(dir/) = %+v, %v", a, err)
	}
	keys, _, _ := listAll(t, b, blob.ListOptions{Prefix: "dir/"})
	if !slices.Equal(keys, []string{"dir/", "dir/file"}) {
		t.Errorf("List(dir/) = %q, want dir/ and dir/file", keys)
	}
	keys, prefixes, _ := listAll(t, b, blob.ListOptions{Delimiter: "/"})
	if len(keys) != 0 || !slices.Equal(prefixes, []string{"dir/"}) {
		t.Errorf("List(delimiter /) = %q %q, want prefix dir/", keys, prefixes)
	}
	if err := b.Delete(t.Context(), "dir/"); err != nil {
		t.Fatalf("Delete(dir/) = %v", err)
	}
	if got, _ := get(t, b, "dir/file", nil); string(got) != "f" {
		t.Errorf("Get(dir/file) after Delete(dir/) = %q", got)
	}
}

// testLarge writes more than two 5 MiB parts (the multipart path of S3
// adapters), then fails a write of the same size part-way through.
func testLarge(t *testing.T, b blob.Bucket) {
	data := randBytes(77, 11<<20+7)
	a := put(t, b, "large/object", data, nil)
	if a.Size != int64(len(data)) {
		t.Errorf("Put(large) size = %d, want %d", a.Size, len(data))
	}
	got, _ := get(t, b, "large/object", nil)
	if !bytes.Equal(got, data) {
		t.Fatalf("Get(large) returned %d bytes (md5 %s), want %d (md5 %s)", len(got), md5Hex(got), len(data), md5Hex(data))
	}
	_, err := b.Put(t.Context(), "large/failed", &failingReader{r: bytes.NewReader(data), after: 7 << 20, err: errors.New("boom")}, nil)
	if err == nil {
		t.Fatalf("Put(large) with a reader failing at 7 MiB succeeded")
	}
	if _, err := b.Stat(t.Context(), "large/failed"); !errors.Is(err, blob.ErrNotExist) {
		t.Errorf("Stat after a failed large Put = %v, want ErrNotExist", err)
	}
}

func randBytes(seed uint64, n int) []byte {
	r := rand.New(rand.NewPCG(seed, 7))
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(r.Uint32())
	}
	return b
}

func md5Hex(b []byte) string {
	s := md5.Sum(b)
	return hex.EncodeToString(s[:])
}

func sha256Hex(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

func put(t *testing.T, b blob.Bucket, key string, data []byte, opts *blob.PutOptions) blob.Attrs {
	t.Helper()
	a, err := b.Put(t.Context(), key, bytes.NewReader(data), opts)
	if err != nil {
		t.Fatalf("Put(%q, %d bytes) = %v", key, len(data), err)
	}
	return a
}

func get(t *testing.T, b blob.Bucket, key string, rng *blob.Range) ([]byte, *blob.Object) {
	t.Helper()
	o, err := b.Get(t.Context(), key, rng)
	if err != nil {
		t.Fatalf("Get(%q, %+v) = %v", key, rng, err)
	}
	defer o.Close()
	data, err := io.ReadAll(o)
	if err != nil {
		t.Fatalf("Get(%q) read = %v", key, err)
	}
	return data, o
}

func testRoundTrip(t *testing.T, b blob.Bucket, o Options) {
	for i, n := range []int{0, 1, 1<<20 + 1} {
		key := fmt.Sprintf("dir/sub/ünï cödé +%%=&.%d", n)
		data := randBytes(uint64(i), n)
		opts := &blob.PutOptions{ContentType: "application/x-test", Metadata: map[string]string{"origin": "blobtest"}}
		a := put(t, b, key, data, opts)
		if a.Size != int64(n) || a.ETag != md5Hex(data) || (a.SHA256 != "" && a.SHA256 != sha256Hex(data)) {
			t.Errorf("Put(%d bytes) attrs = size %d etag %s sha %s; want %d %s %s", n, a.Size, a.ETag, a.SHA256, n, md5Hex(data), sha256Hex(data))
		}
		got, obj := get(t, b, key, nil)
		if !bytes.Equal(got, data) {
			t.Fatalf("Get(%q) returned %d bytes (md5 %s), want %d (md5 %s)", key, len(got), md5Hex(got), n, md5Hex(data))
		}
		st, err := b.Stat(t.Context(), key)
		if err != nil {
			t.Fatalf("Stat(%q) = %v", key, err)
		}
		for _, got := range []blob.Attrs{st, obj.Attrs} {
			if got.Size != int64(n) || got.Key != key {
				t.Errorf("Stat/Get attrs = %+v, want size %d key %q", got, n, key)
			}
			if o.NoAttributes {
				continue
			}
			if got.ETag != md5Hex(data) || got.ContentType != "application/x-test" || got.Metadata["origin"] != "blobtest" {
				t.Errorf("Stat/Get attrs = %+v, want etag %s, content type and metadata kept", got, md5Hex(data))
			}
			if !o.NoSHA256 && got.SHA256 != sha256Hex(data) {
				t.Errorf("Stat/Get SHA256 = %q, want %s", got.SHA256, sha256Hex(data))
			}
		}
	}
}

func testOverwrite(t *testing.T, b blob.Bucket) {
	put(t, b, "k", []byte("first version"), nil)
	put(t, b, "k", []byte("second"), nil)
	if got, _ := get(t, b, "k", nil); string(got) != "second" {
		t.Errorf("after overwrite Get = %q, want %q", got, "second")
	}
}

func testRange(t *testing.T, b blob.Bucket) {
	data := []byte("0123456789abcdefghij")
	put(t, b, "r", data, nil)
	tests := []struct {
		rng  blob.Range
		want string
	}{
		{blob.Range{Start: 0, Length: 10}, "0123456789"},
		{blob.Range{Start: 5, Length: -1}, "56789abcdefghij"},
		{blob.Range{Start: 15, Length: 100}, "fghij"},
		{blob.Range{Start: -3}, "hij"},
		{blob.Range{Start: -100}, string(data)},
		{blob.Range{Start: 19, Length: 1}, "j"},
	}
	for _, tt := range tests {
		got, o := get(t, b, "r", &tt.rng)
		if string(got) != tt.want || o.Length != int64(len(tt.want)) || o.Attrs.Size != int64(len(data)) {
			t.Errorf("Get(range %+v) = %q (offset %d length %d size %d), want %q", tt.rng, got, o.Offset, o.Length, o.Attrs.Size, tt.want)
		}
	}
	if _, err := b.Get(t.Context(), "r", &blob.Range{Start: 20, Length: 1}); !errors.Is(err, blob.ErrInvalidRange) {
		t.Errorf("Get(range beyond end) = %v, want ErrInvalidRange", err)
	}
}

func testNotExist(t *testing.T, b blob.Bucket) {
	if _, err := b.Stat(t.Context(), "missing/key"); !errors.Is(err, blob.ErrNotExist) {
		t.Errorf("Stat(missing) = %v, want ErrNotExist", err)
	}
	if _, err := b.Get(t.Context(), "missing", nil); !errors.Is(err, blob.ErrNotExist) {
		t.Errorf("Get(missing) = %v, want ErrNotExist", err)
	}
	put(t, b, "p/q", []byte("x"), nil)
	if _, err := b.Stat(t.Context(), "p"); !errors.Is(err, blob.ErrNotExist) {
		t.Errorf("Stat(prefix of a key) = %v, want ErrNotExist", err)
	}
}

func testDelete(t *testing.T, b blob.Bucket) {
	put(t, b, "d/e/f", []byte("x"), nil)
	if err := b.Delete(t.Context(), "d/e/f"); err != nil {
		t.Fatalf("Delete = %v", err)
	}
	if _, err := b.Stat(t.Context(), "d/e/f"); !errors.Is(err, blob.ErrNotExist) {
		t.Errorf("Stat after Delete = %v, want ErrNotExist", err)
	}
	if err := b.Delete(t.Context(), "d/e/f"); err != nil {
		t.Errorf("Delete(missing) = %v, want nil", err)
	}
	page, err := b.List(t.Context(), blob.ListOptions{})
	if err != nil || len(page.Objects)+len(page.CommonPrefixes) != 0 {
		t.Errorf("List after Delete = %+v, %v; want empty", page, err)
	}
	// The key can be reused as a file where a directory was.
	put(t, b, "d", []byte("y"), nil)
}

func listAll(t *testing.T, b blob.Bucket, opts blob.ListOptions) (keys, prefixes []string, pages int) {
	t.Helper()
	for {
		page, err := b.List(t.Context(), opts)
		if err != nil {
			t.Fatalf("List(%+v) = %v", opts, err)
		}
		pages++
		for _, a := range page.Objects {
			keys = append(keys, a.Key)
		}
		prefixes = append(prefixes, page.CommonPrefixes...)
		if !page.Truncated {
			return keys, prefixes, pages
		}
		if pages > 100 {
			t.Fatalf("List(%+v) does not end", opts)
		}
		opts.StartAfter = page.NextStartAfter
	}
}

func testList(t *testing.T, b blob.Bucket, o Options) {
	keys := []string{"a-c", "a/1", "a/2", "a/b/3", "b", "c/d/e", "c/f", "z"} // S3 byte order: '-' < '/'

	for _, k := range slices.Backward(keys) {
		put(t, b, k, []byte(k), nil)
	}
	tests := []struct {
		opts         blob.ListOptions
		wantKeys     []string
		wantPrefixes []string
	}{
		{blob.ListOptions{}, keys, nil},
		{blob.ListOptions{MaxKeys: 3}, keys, nil},
		{blob.ListOptions{Prefix: "a/"}, []string{"a/1", "a/2", "a/b/3"}, nil},
		{blob.ListOptions{Prefix: "a"}, []string{"a-c", "a/1", "a/2", "a/b/3"}, nil},
		{blob.ListOptions{Delimiter: "/"}, []string{"a-c", "b", "z"}, []string{"a/", "c/"}},
		{blob.ListOptions{Delimiter: "/", MaxKeys: 1}, []string{"a-c", "b", "z"}, []string{"a/", "c/"}},
		{blob.ListOptions{Prefix: "a/", Delimiter: "/"}, []string{"a/1", "a/2"}, []string{"a/b/"}},
		{blob.ListOptions{Prefix: "c/", Delimiter: "/", MaxKeys: 1}, []string{"c/f"}, []string{"c/d/"}},
		{blob.ListOptions{StartAfter: "b"}, []string{"c/d/e", "c/f", "z"}, nil},
		{blob.ListOptions{Prefix: "nope"}, nil, nil},
	}
	for _, tt := range tests {
		gotKeys, gotPrefixes, _ := listAll(t, b, tt.opts)
		if !slices.Equal(gotKeys, tt.wantKeys) || !slices.Equal(gotPrefixes, tt.wantPrefixes) {
			t.Errorf("List(%+v) = keys %q prefixes %q; want %q %q", tt.opts, gotKeys, gotPrefixes, tt.wantKeys, tt.wantPrefixes)
		}
	}
	if _, _, pages := listAll(t, b, blob.ListOptions{MaxKeys: 3}); pages != 3 {
		t.Errorf("List(MaxKeys 3) of 8 keys took %d pages, want 3", pages)
	}
	page, err := b.List(t.Context(), blob.ListOptions{Prefix: "b"})
	if err != nil || len(page.Objects) != 1 {
		t.Fatalf("List(b) = %+v, %v", page, err)
	}
	if a := page.Objects[0]; a.Size != 1 || a.ModTime.IsZero() || (!o.NoAttributes && a.ETag != md5Hex([]byte("b"))) {
		t.Errorf("List attrs = %+v, want size 1, mod time, etag %s", a, md5Hex([]byte("b")))
	}
}

func testCopy(t *testing.T, b blob.Bucket, o Options) {
	data := randBytes(9, 70000)
	put(t, b, "src", data, &blob.PutOptions{ContentType: "text/x-src", Metadata: map[string]string{"m": "1"}})
	a, err := b.Copy(t.Context(), "dst/copy", "src", nil)
	if err != nil {
		t.Fatalf("Copy = %v", err)
	}
	if a.Size != int64(len(data)) {
		t.Errorf("Copy attrs = %+v", a)
	}
	got, obj := get(t, b, "dst/copy", nil)
	if !bytes.Equal(got, data) {
		t.Errorf("Get(copy) differs from source")
	}
	if !o.NoAttributes && (obj.Attrs.ContentType != "text/x-src" || obj.Attrs.Metadata["m"] != "1") {
		t.Errorf("copy attrs = %+v, want source's content type and metadata", obj.Attrs)
	}
	if _, err := b.Copy(t.Context(), "x", "missing", nil); !errors.Is(err, blob.ErrNotExist) {
		t.Errorf("Copy(missing) = %v, want ErrNotExist", err)
	}
}

type failingReader struct {
	r     io.Reader
	after int
	err   error
}

func (f *failingReader) Read(p []byte) (int, error) {
	if f.after <= 0 {
		return 0, f.err
	}
	if len(p) > f.after {
		p = p[:f.after]
	}
	n, err := f.r.Read(p)
	f.after -= n
	return n, err
}

func testFailedPut(t *testing.T, b blob.Bucket) {
	errBoom := errors.New("boom")
	data := randBytes(3, 300000)
	_, err := b.Put(t.Context(), "f/new", &failingReader{r: bytes.NewReader(data), after: 200000, err: errBoom}, nil)
	if err == nil {
		t.Fatalf("Put with a failing reader succeeded")
	}
	if _, err := b.Stat(t.Context(), "f/new"); !errors.Is(err, blob.ErrNotExist) {
		t.Errorf("Stat after failed Put = %v, want ErrNotExist (no partial object)", err)
	}
	put(t, b, "f/old", []byte("old"), nil)
	if _, err := b.Put(t.Context(), "f/old", &failingReader{r: bytes.NewReader(data), after: 1000, err: errBoom}, nil); err == nil {
		t.Fatalf("overwrite with a failing reader succeeded")
	}
	errReject := errors.New("rejected")
	_, err = b.Put(t.Context(), "f/old", bytes.NewReader(data), &blob.PutOptions{Verify: func(a blob.Attrs) error {
		if a.Size != int64(len(data)) {
			return fmt.Errorf("verify saw size %d", a.Size)
		}
		return errReject
	}})
	if !errors.Is(err, errReject) {
		t.Errorf("Put rejected by Verify = %v, want errReject", err)
	}
	if got, _ := get(t, b, "f/old", nil); string(got) != "old" {
		t.Errorf("after failed overwrites Get = %q, want %q", got, "old")
	}
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if _, err := b.Put(ctx, "f/cancelled", bytes.NewReader(data), nil); err == nil {
		t.Errorf("Put with a cancelled context succeeded")
	}
	if _, err := b.Stat(t.Context(), "f/cancelled"); !errors.Is(err, blob.ErrNotExist) {
		t.Errorf("Stat after cancelled Put = %v, want ErrNotExist", err)
	}
	keys, _, _ := listAll(t, b, blob.ListOptions{})
	if !slices.Equal(keys, []string{"f/old"}) {
		t.Errorf("List after failed Puts = %q, want only f/old", keys)
	}
}

func testConcurrentPut(t *testing.T, b blob.Bucket) {
	const n = 4
	versions := make([][]byte, n)
	for i := range versions {
		versions[i] = randBytes(uint64(100+i), 200000+i)
	}
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			if _, err := b.Put(t.Context(), "c/k", bytes.NewReader(versions[i]), nil); err != nil {
				t.Errorf("concurrent Put %d = %v", i, err)
			}
		})
	}
	wg.Wait()
	got, _ := get(t, b, "c/k", nil)
	for _, v := range versions {
		if bytes.Equal(got, v) {
			return
		}
	}
	t.Errorf("after concurrent Puts the object (%d bytes) is none of the versions written", len(got))
}

func testInvalidKeys(t *testing.T, b blob.Bucket, o Options) {
	bad := []string{""}
	if o.LocalKeys {
		bad = append(bad, "../escape", "a/../../escape", "/abs", "a//b", "a/./b", "/", "a//", ".", "..", "x/.strata-tmp-1", "x/.strata-dir")
	}
	for _, k := range bad {
		if _, err := b.Put(t.Context(), k, bytes.NewReader([]byte("x")), nil); !errors.Is(err, blob.ErrInvalidKey) {
			t.Errorf("Put(%q) = %v, want ErrInvalidKey", k, err)
		}
		if _, err := b.Get(t.Context(), k, nil); err == nil {
			t.Errorf("Get(%q) succeeded", k)
		}
	}
}
