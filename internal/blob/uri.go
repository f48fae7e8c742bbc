package blob

import (
	"context"
	"fmt"
	"net/url"
	"strings"
	"sync"
)

// Opener opens the bucket a URI of its scheme names and returns the key
// within it (possibly "" for a bucket-level URI).
type Opener func(ctx context.Context, u *url.URL) (b Bucket, key string, err error)

var (
	registryMu sync.RWMutex // guards openers; written only at init and by RegisterForTest
	openers    = map[string]Opener{}
)

// Register makes a URI scheme ("file") resolvable. It is called from init
// functions and panics on an empty or duplicate scheme.
func Register(scheme string, o Opener) {
	registryMu.Lock()
	defer registryMu.Unlock()
	if scheme == "" || o == nil {
		panic("blob: Register with empty scheme or nil opener")
	}
	if _, dup := openers[scheme]; dup {
		panic("blob: Register called twice for scheme " + scheme)
	}
	openers[scheme] = o
}

// RegisterForTest registers o for scheme for the duration of t, restoring
// whatever was registered before.
func RegisterForTest(t interface{ Cleanup(func()) }, scheme string, o Opener) {
	registryMu.Lock()
	old, had := openers[scheme]
	openers[scheme] = o
	registryMu.Unlock()
	t.Cleanup(func() {
		registryMu.Lock()
		defer registryMu.Unlock()
		if had {
			openers[scheme] = old
		} else {
			delete(openers, scheme)
		}
	})
}

// Backend holds named buckets: the embedded store, or an external S3 endpoint.
type Backend interface {
	// Bucket returns the named bucket. It may not check that it exists.
	Bucket(ctx context.Context, name string) (Bucket, error)
}

// Resolver maps object URIs to buckets. The zero value resolves only
// registered schemes; s3:// needs a backend.
type Resolver struct {
	// Default serves s3:// buckets not listed in Buckets. Nil: such URIs fail.
	Default Backend
	// Buckets maps bucket names to the backend that holds them.
	Buckets map[string]Backend
}

// ParseS3URI splits "s3://bucket/key" into bucket and key (key may be "").
func ParseS3URI(uri string) (bucket, key string, err error) {
	rest, ok := strings.CutPrefix(uri, "s3://")
	if !ok {
		return "", "", fmt.Errorf("blob: %q is not an s3:// URI", uri)
	}
	bucket, key, _ = strings.Cut(rest, "/")
	if bucket == "" {
		return "", "", fmt.Errorf("blob: %q has no bucket", uri)
	}
	return bucket, key, nil
}

// Open resolves uri to a bucket and the key within it.
func (r *Resolver) Open(ctx context.Context, uri string) (Bucket, string, error) {
	if strings.HasPrefix(uri, "s3://") {
		name, key, err := ParseS3URI(uri)
		if err != nil {
			return nil, "", err
		}
		be := r.Buckets[name]
		if be == nil {
			be = r.Default
		}
		if be == nil {
			return nil, "", fmt.Errorf("blob: open %q: no backend for bucket %q: %w", uri, name, ErrBucketNotExist)
		}
		b, err := be.Bucket(ctx, name)
		if err != nil {
			return nil, "", fmt.Errorf("blob: open %q: %w", uri, err)
		}
		return b, key, nil
	}
	u, err := url.Parse(uri)
	if err != nil {
		return nil, "", fmt.Errorf("blob: parse %q: %w", uri, err)
	}
	registryMu.RLock()
	o := openers[u.Scheme]
	registryMu.RUnlock()
	if o == nil {
		return nil, "", fmt.Errorf("blob: %q: unsupported scheme %q", uri, u.Scheme)
	}
	b, key, err := o(ctx, u)
	if err != nil {
		return nil, "", fmt.Errorf("blob: open %q: %w", uri, err)
	}
	return b, key, nil
}
