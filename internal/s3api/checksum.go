package s3api

import (
	"crypto/md5"
	"crypto/sha1"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"hash"
	"hash/crc32"
	"hash/crc64"
	"net/http"
	"strings"

	"github.com/strata-ml/strata/internal/blob"
)

// crc64NVME is the reversed NVMe CRC-64 polynomial, the form crc64.MakeTable takes.
const crc64NVME = 0x9a6c9329ac4bc9b5

var (
	crc32cTable    = crc32.MakeTable(crc32.Castagnoli)
	crc64NVMETable = crc64.MakeTable(crc64NVME)
)

// checksumAlgorithms are S3's additional checksum algorithms, by S3 name.
var checksumAlgorithms = []string{"CRC32", "CRC32C", "CRC64NVME", "SHA1", "SHA256"}

func newChecksumHash(algo string) hash.Hash {
	switch algo {
	case "CRC32":
		return crc32.NewIEEE()
	case "CRC32C":
		return crc32.New(crc32cTable)
	case "CRC64NVME":
		return crc64.New(crc64NVMETable)
	case "SHA1":
		return sha1.New()
	case "SHA256":
		return sha256.New()
	}
	return nil
}

func checksumHeader(algo string) string { return "x-amz-checksum-" + strings.ToLower(algo) }

// fullObjectCapable reports whether algo can be a FULL_OBJECT multipart checksum.
func fullObjectCapable(algo string) bool {
	return algo == "CRC32" || algo == "CRC32C" || algo == "CRC64NVME"
}

// bodyChecksum tracks the additional checksum of a request body.
type bodyChecksum struct {
	algo     string
	h        hash.Hash
	expected string // from a header; "" when a trailer or nothing carries it
	trailer  string // trailer name carrying the expected value, if any
	r        *http.Request
	md5      []byte // Content-MD5, when sent
}

// parseBodyChecksum reads the checksum a request declares: one
// x-amz-checksum-* header, an x-amz-trailer naming one, or
// x-amz-sdk-checksum-algorithm alone (compute and store). With none,
// defaultAlgo is computed ("" for none).
func parseBodyChecksum(r *http.Request, defaultAlgo string) (*bodyChecksum, error) {
	c := &bodyChecksum{r: r}
	if v := r.Header.Get("Content-Md5"); v != "" {
		m, err := base64.StdEncoding.DecodeString(v)
		if err != nil || len(m) != md5.Size {
			return nil, s3err("InvalidDigest", http.StatusBadRequest, "The Content-MD5 you specified is not valid.")
		}
		c.md5 = m
	}
	for _, algo := range checksumAlgorithms {
		v := r.Header.Get(checksumHeader(algo))
		if v == "" {
			continue
		}
		if c.algo != "" {
			return nil, s3err("InvalidRequest", http.StatusBadRequest, "Expecting a single x-amz-checksum- header. Multiple checksum Types are not allowed.")
		}
		c.algo, c.expected = algo, v
	}
	if t := strings.ToLower(strings.TrimSpace(r.Header.Get("X-Amz-Trailer"))); t != "" {
		algo := strings.ToUpper(strings.TrimPrefix(t, "x-amz-checksum-"))
		if newChecksumHash(algo) == nil || !strings.HasPrefix(t, "x-amz-checksum-") {
			return nil, s3err("InvalidRequest", http.StatusBadRequest, "The value specified in the x-amz-trailer header is not supported")
		}
		if c.algo != "" && c.algo != algo {
			return nil, s3err("InvalidRequest", http.StatusBadRequest, "Expecting a single x-amz-checksum- header. Multiple checksum Types are not allowed.")
		}
		c.algo, c.trailer = algo, t
	}
	if c.algo == "" {
		if a := strings.ToUpper(r.Header.Get("X-Amz-Sdk-Checksum-Algorithm")); a != "" {
			if newChecksumHash(a) == nil {
				return nil, s3err("InvalidRequest", http.StatusBadRequest, "Checksum algorithm provided is unsupported. Please try again with any of the valid types: [CRC32, CRC32C, CRC64NVME, SHA1, SHA256]")
			}
			c.algo = a
		}
	}
	if c.algo == "" {
		c.algo = defaultAlgo
	}
	if c.algo != "" {
		c.h = newChecksumHash(c.algo)
		if c.expected != "" {
			raw, err := base64.StdEncoding.DecodeString(c.expected)
			if err != nil || len(raw) != c.h.Size() {
				return nil, s3err("InvalidRequest", http.StatusBadRequest, "Value for %s header is invalid.", checksumHeader(c.algo))
			}
		}
	}
	return c, nil
}

// options returns PutOptions that compute the checksum while storing and
// verify it (and Content-MD5) before the object becomes visible.
func (c *bodyChecksum) options(base blob.PutOptions) *blob.PutOptions {
	o := base
	// Verify fills in the computed checksum; the store writes the map after Verify.
	o.Checksums = map[string]string{}
	for k, v := range base.Checksums {
		o.Checksums[k] = v
	}
	if c.h != nil {
		o.Tee = c.h
	}
	o.Verify = func(a blob.Attrs) error {
		if c.md5 != nil && fmt.Sprintf("%x", c.md5) != a.ETag {
			return s3err("BadDigest", http.StatusBadRequest, "The Content-MD5 you specified did not match what we received.")
		}
		if c.h == nil {
			return nil
		}
		got := base64.StdEncoding.EncodeToString(c.h.Sum(nil))
		want := c.expected
		if c.trailer != "" {
			want = c.r.Trailer.Get(c.trailer)
			if want == "" {
				return s3err("InvalidRequest", http.StatusBadRequest, "The %s trailer declared in x-amz-trailer was not sent.", c.trailer)
			}
		}
		if want != "" && want != got {
			return s3err("BadDigest", http.StatusBadRequest, "The %s you specified did not match the calculated checksum.", c.algo)
		}
		o.Checksums[c.algo] = got
		return nil
	}
	return &o
}
