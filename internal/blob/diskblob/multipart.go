package diskblob

import (
	"context"
	"crypto/md5"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"path"
	"sort"
	"strings"
	"time"

	"github.com/strata-ml/strata/internal/blob"
)

// Multipart upload errors.
var (
	// ErrNoSuchUpload reports an unknown, completed or aborted upload id.
	ErrNoSuchUpload = errors.New("diskblob: no such multipart upload")
	// ErrInvalidPart reports a listed part that was not uploaded or whose ETag differs.
	ErrInvalidPart = errors.New("diskblob: invalid part")
	// ErrInvalidPartOrder reports parts not listed in ascending order.
	ErrInvalidPartOrder = errors.New("diskblob: parts not in ascending order")
	// ErrEntityTooSmall reports a part other than the last below MinPartSize.
	ErrEntityTooSmall = errors.New("diskblob: part smaller than the minimum allowed size")
)

// MinPartSize is the smallest size of any part but the last, as in S3.
const MinPartSize = 5 << 20

// MaxPartNumber is the largest part number, as in S3.
const MaxPartNumber = 10000

// Upload describes a multipart upload in progress.
type Upload struct {
	ID          string            `json:"id"`
	Key         string            `json:"key"`
	Initiated   time.Time         `json:"initiated"`
	ContentType string            `json:"content_type,omitempty"`
	Metadata    map[string]string `json:"metadata,omitempty"`
	// ChecksumAlgorithm is the S3 additional checksum the upload was created with, if any.
	ChecksumAlgorithm string `json:"checksum_algorithm,omitempty"`
}

// Part describes one uploaded part.
type Part struct {
	Number    int               `json:"number"`
	Size      int64             `json:"size"`
	ETag      string            `json:"etag"` // hex MD5, no quotes
	ModTime   time.Time         `json:"mod_time"`
	Checksums map[string]string `json:"checksums,omitempty"`
}

// CompletePart names a part in CompleteMultipartUpload.
type CompletePart struct {
	Number int
	ETag   string // quotes are ignored
}

func (b *Bucket) uploadDir(id string) string {
	return path.Join("multipart", b.name, id)
}

func validUploadID(id string) bool {
	if len(id) != 32 {
		return false
	}
	_, err := hex.DecodeString(id)
	return err == nil
}

// CreateMultipartUpload starts an upload for key. opts supplies the final
// object's content type and metadata; algo names its additional checksum ("" for none).
func (b *Bucket) CreateMultipartUpload(ctx context.Context, key string, opts *blob.PutOptions, algo string) (Upload, error) {
	if b.store == nil {
		return Upload{}, fmt.Errorf("diskblob: multipart uploads need the embedded store")
	}
	if err := checkKey(key); err != nil {
		return Upload{}, b.wrapErr("create multipart upload", key, err)
	}
	var raw [16]byte
	rand.Read(raw[:])
	u := Upload{ID: hex.EncodeToString(raw[:]), Key: key, Initiated: time.Now().UTC(), ChecksumAlgorithm: algo}
	if opts != nil {
		u.ContentType, u.Metadata = opts.ContentType, opts.Metadata
	}
	dir := b.uploadDir(u.ID)
	if err := b.root.MkdirAll(dir, 0o755); err != nil {
		return Upload{}, b.wrapErr("create multipart upload", key, mapWriteErr(err))
	}
	data, _ := json.Marshal(u)
	if err := writeFileAtomic(b.root, path.Join(dir, "upload.json"), data); err != nil {
		b.root.RemoveAll(dir)
		return Upload{}, b.wrapErr("create multipart upload", key, mapWriteErr(err))
	}
	return u, nil
}

// upload loads an upload's record and checks that it belongs to key.
func (b *Bucket) upload(key, id string) (Upload, error) {
	if !validUploadID(id) {
		return Upload{}, fmt.Errorf("upload %q: %w", id, ErrNoSuchUpload)
	}
	data, err := b.root.ReadFile(path.Join(b.uploadDir(id), "upload.json"))
	if err != nil {
		if notExist(err) {
			return Upload{}, fmt.Errorf("upload %q: %w", id, ErrNoSuchUpload)
		}
		return Upload{}, err
	}
	var u Upload
	if err := json.Unmarshal(data, &u); err != nil {
		return Upload{}, fmt.Errorf("upload %q: corrupt record: %w", id, err)
	}
	if u.Key != key {
		return Upload{}, fmt.Errorf("upload %q is for another key: %w", id, ErrNoSuchUpload)
	}
	return u, nil
}

func partName(n int) string { return fmt.Sprintf("part-%05d", n) }

// UploadPart stores part n (1..10000) of an upload, replacing an earlier
// upload of the same number. opts.Verify and opts.Checksums apply to the part.
func (b *Bucket) UploadPart(ctx context.Context, key, uploadID string, n int, r io.Reader, opts *blob.PutOptions) (Part, error) {
	if n < 1 || n > MaxPartNumber {
		return Part{}, b.wrapErr("upload part", key, fmt.Errorf("%w: part number %d not in 1..%d", ErrInvalidPart, n, MaxPartNumber))
	}
	if _, err := b.upload(key, uploadID); err != nil {
		return Part{}, b.wrapErr("upload part", key, err)
	}
	dir := b.uploadDir(uploadID)
	var tee io.Writer
	if opts != nil {
		tee = opts.Tee
	}
	w, err := b.writeTemp(ctx, dir, r, tee)
	if err != nil {
		return Part{}, b.wrapErr("upload part", key, mapWriteErr(err))
	}
	p := Part{Number: n, Size: w.size, ETag: hex.EncodeToString(w.md5), ModTime: w.mtime}
	if opts != nil {
		p.Checksums = opts.Checksums
		if opts.Verify != nil {
			a := blob.Attrs{Key: key, Size: w.size, ETag: p.ETag, SHA256: hex.EncodeToString(w.sha256), Checksums: p.Checksums}
			if err := opts.Verify(a); err != nil {
				b.root.Remove(w.tmp)
				return Part{}, b.wrapErr("upload part", key, err)
			}
		}
	}
	// Record first, then data: a part is valid only when both agree.
	data, _ := json.Marshal(p)
	if err := writeFileAtomic(b.root, path.Join(dir, partName(n)+".json"), data); err != nil {
		b.root.Remove(w.tmp)
		return Part{}, b.wrapErr("upload part", key, mapWriteErr(err))
	}
	if err := b.root.Rename(w.tmp, path.Join(dir, partName(n))); err != nil {
		b.root.Remove(w.tmp)
		return Part{}, b.wrapErr("upload part", key, err)
	}
	syncDir(b.root, dir)
	return p, nil
}

// Upload returns an upload's record (without listing its parts).
func (b *Bucket) Upload(ctx context.Context, key, uploadID string) (Upload, error) {
	u, err := b.upload(key, uploadID)
	if err != nil {
		return Upload{}, b.wrapErr("get multipart upload", key, err)
	}
	return u, nil
}

// ListMultipartUploads returns the bucket's uploads in progress whose key
// starts with prefix, ordered by key then initiation time.
func (b *Bucket) ListMultipartUploads(ctx context.Context, prefix string) ([]Upload, error) {
	if b.store == nil {
		return nil, nil
	}
	dir := path.Join("multipart", b.name)
	ents, err := fs.ReadDir(b.root.FS(), dir)
	if err != nil {
		if notExist(err) {
			return nil, nil
		}
		return nil, fmt.Errorf("diskblob: list multipart uploads %s: %w", b.name, err)
	}
	var out []Upload
	for _, e := range ents {
		if !validUploadID(e.Name()) {
			continue
		}
		data, err := b.root.ReadFile(path.Join(dir, e.Name(), "upload.json"))
		if err != nil {
			continue // being created or aborted
		}
		var u Upload
		if json.Unmarshal(data, &u) == nil && strings.HasPrefix(u.Key, prefix) {
			out = append(out, u)
		}
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Key != out[j].Key {
			return out[i].Key < out[j].Key
		}
		return out[i].Initiated.Before(out[j].Initiated)
	})
	return out, nil
}

// ListParts returns an upload and its parts in part-number order.
func (b *Bucket) ListParts(ctx context.Context, key, uploadID string) (Upload, []Part, error) {
	u, err := b.upload(key, uploadID)
	if err != nil {
		return Upload{}, nil, b.wrapErr("list parts", key, err)
	}
	parts, err := b.parts(uploadID)
	if err != nil {
		return Upload{}, nil, b.wrapErr("list parts", key, err)
	}
	return u, parts, nil
}

func (b *Bucket) parts(uploadID string) ([]Part, error) {
	dir := b.uploadDir(uploadID)
	ents, err := fs.ReadDir(b.root.FS(), dir)
	if err != nil {
		return nil, err
	}
	var parts []Part
	for _, e := range ents {
		name := e.Name()
		if !strings.HasPrefix(name, "part-") || !strings.HasSuffix(name, ".json") {
			continue
		}
		data, err := b.root.ReadFile(path.Join(dir, name))
		if err != nil {
			continue
		}
		var p Part
		if json.Unmarshal(data, &p) != nil {
			continue
		}
		fi, err := b.root.Stat(path.Join(dir, partName(p.Number)))
		if err != nil || fi.Size() != p.Size {
			continue // data not (yet) in place
		}
		parts = append(parts, p)
	}
	sort.Slice(parts, func(i, j int) bool { return parts[i].Number < parts[j].Number })
	return parts, nil
}

// CompleteMultipartUpload assembles the listed parts into the object,
// atomically. The ETag is S3's: hex MD5 of the concatenated binary part MD5s,
// "-" and the part count. opts, when set, supplies the object's checksums and
// a final Verify; content type and metadata come from the upload.
func (b *Bucket) CompleteMultipartUpload(ctx context.Context, key, uploadID string, list []CompletePart, opts *blob.PutOptions) (blob.Attrs, error) {
	u, err := b.upload(key, uploadID)
	if err != nil {
		return blob.Attrs{}, b.wrapErr("complete multipart upload", key, err)
	}
	if len(list) == 0 {
		return blob.Attrs{}, b.wrapErr("complete multipart upload", key, fmt.Errorf("%w: no parts listed", ErrInvalidPart))
	}
	have, err := b.parts(uploadID)
	if err != nil {
		return blob.Attrs{}, b.wrapErr("complete multipart upload", key, err)
	}
	byNum := map[int]Part{}
	for _, p := range have {
		byNum[p.Number] = p
	}
	etags := md5.New()
	for i, c := range list {
		if i > 0 && c.Number <= list[i-1].Number {
			return blob.Attrs{}, b.wrapErr("complete multipart upload", key, ErrInvalidPartOrder)
		}
		p, ok := byNum[c.Number]
		if !ok || strings.Trim(c.ETag, `"`) != p.ETag {
			return blob.Attrs{}, b.wrapErr("complete multipart upload", key, fmt.Errorf("%w: part %d not uploaded or ETag %s differs", ErrInvalidPart, c.Number, c.ETag))
		}
		raw, _ := hex.DecodeString(p.ETag)
		etags.Write(raw)
	}
	for _, c := range list[:len(list)-1] {
		if p := byNum[c.Number]; p.Size < MinPartSize {
			return blob.Attrs{}, b.wrapErr("complete multipart upload", key, fmt.Errorf("%w: part %d is %d bytes", ErrEntityTooSmall, c.Number, p.Size))
		}
	}
	dir := b.uploadDir(uploadID)
	readers := make([]io.Reader, 0, len(list))
	var closers []io.Closer
	defer func() {
		for _, c := range closers {
			c.Close()
		}
	}()
	for _, c := range list {
		f, err := b.root.Open(path.Join(dir, partName(c.Number)))
		if err != nil {
			return blob.Attrs{}, b.wrapErr("complete multipart upload", key, err)
		}
		closers = append(closers, f)
		readers = append(readers, f)
	}
	target := b.objPath(key)
	if err := b.root.MkdirAll(path.Dir(target), 0o755); err != nil {
		return blob.Attrs{}, b.wrapErr("complete multipart upload", key, fmt.Errorf("%w: a prefix of key %q is an existing object", blob.ErrInvalidKey, key))
	}
	var tee io.Writer
	if opts != nil {
		tee = opts.Tee
	}
	w, err := b.writeTemp(ctx, path.Dir(target), io.MultiReader(readers...), tee)
	if err != nil {
		return blob.Attrs{}, b.wrapErr("complete multipart upload", key, mapWriteErr(err))
	}
	po := &blob.PutOptions{ContentType: u.ContentType, Metadata: u.Metadata}
	if opts != nil {
		po.Checksums, po.Verify = opts.Checksums, opts.Verify
	}
	etag := fmt.Sprintf("%s-%d", hex.EncodeToString(etags.Sum(nil)), len(list))
	a, err := b.commit(key, w, etag, po)
	if err != nil {
		return blob.Attrs{}, b.wrapErr("complete multipart upload", key, mapWriteErr(err))
	}
	b.root.RemoveAll(dir)
	return a, nil
}

// AbortMultipartUpload discards an upload and its parts.
func (b *Bucket) AbortMultipartUpload(ctx context.Context, key, uploadID string) error {
	if _, err := b.upload(key, uploadID); err != nil {
		return b.wrapErr("abort multipart upload", key, err)
	}
	if err := b.root.RemoveAll(b.uploadDir(uploadID)); err != nil {
		return b.wrapErr("abort multipart upload", key, err)
	}
	return nil
}
