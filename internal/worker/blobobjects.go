package worker

import (
	"context"
	"errors"
	"fmt"
	"os"

	"github.com/strata-ml/strata/internal/blob"
)

// ErrNotOwner is returned when a job's account does not own the bucket.
var ErrNotOwner = errors.New("worker: bucket belongs to another account")

// BlobObjects implements Objects over blob URIs (s3:// through the
// resolver: the embedded store or an external S3).
type BlobObjects struct {
	Resolver *blob.Resolver
	// Owner, when set, returns the account that owns a bucket; a job may
	// only read and write buckets of its own account.
	Owner func(ctx context.Context, bucket string) (string, error)
}

func (b BlobObjects) open(ctx context.Context, account, uri string) (blob.Bucket, string, error) {
	if b.Owner != nil {
		name, _, err := blob.ParseS3URI(uri)
		if err == nil {
			owner, err := b.Owner(ctx, name)
			if err != nil {
				return nil, "", fmt.Errorf("worker: %s: %w", uri, err)
			}
			if owner != "" && owner != account {
				return nil, "", fmt.Errorf("worker: %s: %w", uri, ErrNotOwner)
			}
		}
	}
	return b.Resolver.Open(ctx, uri)
}

// Download copies an object to the local file dst (atomically).
func (b BlobObjects) Download(ctx context.Context, account, uri, dst string) error {
	bk, key, err := b.open(ctx, account, uri)
	if err != nil {
		return err
	}
	obj, err := bk.Get(ctx, key, nil)
	if err != nil {
		return fmt.Errorf("worker: download %s: %w", uri, err)
	}
	defer obj.Close()
	if err := writeAtomic(dst, obj); err != nil {
		return fmt.Errorf("worker: download %s: %w", uri, err)
	}
	return nil
}

// Upload stores the local file src at uri.
func (b BlobObjects) Upload(ctx context.Context, account, src, uri string) error {
	bk, key, err := b.open(ctx, account, uri)
	if err != nil {
		return err
	}
	f, err := os.Open(src)
	if err != nil {
		return fmt.Errorf("worker: upload %s: %w", uri, err)
	}
	defer f.Close()
	if _, err := bk.Put(ctx, key, f, nil); err != nil {
		return fmt.Errorf("worker: upload %s: %w", uri, err)
	}
	return nil
}

// IsNotExist reports a missing object or bucket, or one of another account.
func (BlobObjects) IsNotExist(err error) bool {
	return errors.Is(err, blob.ErrNotExist) || errors.Is(err, blob.ErrBucketNotExist) ||
		errors.Is(err, ErrNotOwner) || errors.Is(err, blob.ErrInvalidKey)
}
