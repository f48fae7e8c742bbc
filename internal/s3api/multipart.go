package s3api

import (
	"encoding/base64"
	"encoding/xml"
	"fmt"
	"hash"
	"io"
	"net/http"
	"strconv"
	"strings"

	"github.com/strata-ml/strata/internal/blob"
	"github.com/strata-ml/strata/internal/blob/diskblob"
)

// createMultipart starts an upload; its checksum algorithm and type are
// recorded with it as "ALGO/TYPE".
func (h *Handler) createMultipart(req *request) error {
	if err := checkKey(req.key); err != nil {
		return err
	}
	b, err := h.ownedBucket(req, req.bucket)
	if err != nil {
		return err
	}
	algo := strings.ToUpper(req.r.Header.Get("X-Amz-Checksum-Algorithm"))
	if algo != "" && newChecksumHash(algo) == nil {
		return s3err("InvalidRequest", http.StatusBadRequest, "Checksum algorithm provided is unsupported. Please try again with any of the valid types: [CRC32, CRC32C, CRC64NVME, SHA1, SHA256]")
	}
	ctype := strings.ToUpper(req.r.Header.Get("X-Amz-Checksum-Type"))
	switch {
	case ctype == "":
	case ctype == "FULL_OBJECT" && (algo == "" || fullObjectCapable(algo)):
	case ctype == "COMPOSITE" && algo != "" && algo != "CRC64NVME":
	default:
		return s3err("InvalidRequest", http.StatusBadRequest, "The %s checksum type cannot be used with the %s checksum algorithm.", ctype, algo)
	}
	// Record the algorithm with its type: "CRC32/COMPOSITE", "CRC64NVME/FULL_OBJECT".
	spec := ""
	if algo != "" {
		if ctype == "" {
			ctype = "COMPOSITE"
			if algo == "CRC64NVME" {
				ctype = "FULL_OBJECT"
			}
		}
		spec = algo + "/" + ctype
	}
	o := putOptionsFromHeaders(req.r.Header)
	u, err := b.CreateMultipartUpload(req.r.Context(), req.key, &o, spec)
	if err != nil {
		return err
	}
	if algo != "" {
		req.w.Header().Set("X-Amz-Checksum-Algorithm", algo)
		req.w.Header().Set("X-Amz-Checksum-Type", ctype)
	}
	writeXML(req.w, http.StatusOK, struct {
		XMLName  xml.Name `xml:"InitiateMultipartUploadResult"`
		NS       string   `xml:"xmlns,attr"`
		Bucket   string   `xml:"Bucket"`
		Key      string   `xml:"Key"`
		UploadID string   `xml:"UploadId"`
	}{NS: s3NS, Bucket: req.bucket, Key: req.key, UploadID: u.ID})
	return nil
}

func partNumber(req *request) (int, error) {
	n, err := strconv.Atoi(req.r.URL.Query().Get("partNumber"))
	if err != nil || n < 1 || n > diskblob.MaxPartNumber {
		return 0, s3err("InvalidArgument", http.StatusBadRequest, "Part number must be an integer between 1 and 10000, inclusive")
	}
	return n, nil
}

func uploadAlgo(u diskblob.Upload) (algo, ctype string) {
	algo, ctype, _ = strings.Cut(u.ChecksumAlgorithm, "/")
	return algo, ctype
}

func (h *Handler) uploadPart(req *request) error {
	b, err := h.ownedBucket(req, req.bucket)
	if err != nil {
		return err
	}
	n, err := partNumber(req)
	if err != nil {
		return err
	}
	if err := checkSize(req.r); err != nil {
		return err
	}
	uploadID := req.r.URL.Query().Get("uploadId")
	u, err := b.Upload(req.r.Context(), req.key, uploadID)
	if err != nil {
		return err
	}
	algo, _ := uploadAlgo(u)
	cs, err := parseBodyChecksum(req.r, algo)
	if err != nil {
		return err
	}
	if algo != "" && cs.algo != algo {
		return s3err("InvalidRequest", http.StatusBadRequest, "Checksum Type mismatch occurred, expected checksum Type: %s, actual checksum Type: %s", strings.ToLower(algo), strings.ToLower(cs.algo))
	}
	body := http.MaxBytesReader(req.w, req.r.Body, MaxPutSize)
	p, err := b.UploadPart(req.r.Context(), req.key, uploadID, n, body, cs.options(blob.PutOptions{}))
	if err != nil {
		return err
	}
	req.w.Header().Set("ETag", etagQuoted(p.ETag))
	for a, v := range p.Checksums {
		req.w.Header().Set(checksumHeader(a), v)
	}
	req.w.WriteHeader(http.StatusOK)
	return nil
}

func (h *Handler) uploadPartCopy(req *request) error {
	b, err := h.ownedBucket(req, req.bucket)
	if err != nil {
		return err
	}
	n, err := partNumber(req)
	if err != nil {
		return err
	}
	sb, sk, err := copySource(req.r.Header.Get("X-Amz-Copy-Source"))
	if err != nil {
		return err
	}
	src, err := h.ownedBucket(req, sb)
	if err != nil {
		return err
	}
	var rng *blob.Range
	if v := req.r.Header.Get("X-Amz-Copy-Source-Range"); v != "" {
		r, ok := parseRange(v)
		if !ok || r.Start < 0 || r.Length < 0 {
			return s3err("InvalidArgument", http.StatusBadRequest, "The x-amz-copy-source-range value must be of the form bytes=first-last where first and last are the zero-based offsets of the first and last bytes to copy")
		}
		rng = &r
	}
	uploadID := req.r.URL.Query().Get("uploadId")
	u, err := b.Upload(req.r.Context(), req.key, uploadID)
	if err != nil {
		return err
	}
	o, err := src.Get(req.r.Context(), sk, rng)
	if err != nil {
		return err
	}
	defer o.Close()
	if rng != nil && o.Offset+o.Length < rng.Start+rng.Length {
		return s3err("InvalidRange", http.StatusRequestedRangeNotSatisfiable, "The requested range is not satisfiable")
	}
	algo, _ := uploadAlgo(u)
	cs := &bodyChecksum{algo: algo, r: req.r}
	if algo != "" {
		cs.h = newChecksumHash(algo)
	}
	p, err := b.UploadPart(req.r.Context(), req.key, uploadID, n, o, cs.options(blob.PutOptions{}))
	if err != nil {
		return err
	}
	writeXML(req.w, http.StatusOK, struct {
		XMLName      xml.Name `xml:"CopyPartResult"`
		NS           string   `xml:"xmlns,attr"`
		LastModified string   `xml:"LastModified"`
		ETag         string   `xml:"ETag"`
	}{NS: s3NS, LastModified: timeXML(p.ModTime), ETag: etagQuoted(p.ETag)})
	return nil
}

type completeXML struct {
	Parts []struct {
		PartNumber int    `xml:"PartNumber"`
		ETag       string `xml:"ETag"`
	} `xml:"Part"`
}

func (h *Handler) completeMultipart(req *request) error {
	b, err := h.ownedBucket(req, req.bucket)
	if err != nil {
		return err
	}
	uploadID := req.r.URL.Query().Get("uploadId")
	u, parts, err := b.ListParts(req.r.Context(), req.key, uploadID)
	if err != nil {
		return err
	}
	data, err := io.ReadAll(http.MaxBytesReader(req.w, req.r.Body, 4<<20))
	if err != nil {
		return err
	}
	var in completeXML
	if err := xml.Unmarshal(data, &in); err != nil || len(in.Parts) == 0 {
		return errMalformedXML
	}
	list := make([]diskblob.CompletePart, len(in.Parts))
	for i, p := range in.Parts {
		list[i] = diskblob.CompletePart{Number: p.PartNumber, ETag: p.ETag}
	}
	algo, ctype := uploadAlgo(u)
	opts := &blob.PutOptions{Checksums: map[string]string{}}
	var full hash.Hash
	switch {
	case algo == "":
		// S3 gives every new object a CRC64NVME full-object checksum.
		algo, full = "CRC64NVME", newChecksumHash("CRC64NVME")
	case ctype == "FULL_OBJECT":
		full = newChecksumHash(algo)
	default:
		v, err := compositeChecksum(algo, list, parts)
		if err != nil {
			return err
		}
		opts.Checksums[algo] = v
	}
	if full != nil {
		opts.Tee = full
		opts.Verify = func(a blob.Attrs) error {
			got := base64.StdEncoding.EncodeToString(full.Sum(nil))
			if want := req.r.Header.Get(checksumHeader(algo)); want != "" && want != got {
				return s3err("BadDigest", http.StatusBadRequest, "The %s you specified did not match the calculated checksum.", algo)
			}
			opts.Checksums[algo] = got
			return nil
		}
	}
	a, err := b.CompleteMultipartUpload(req.r.Context(), req.key, uploadID, list, opts)
	if err != nil {
		return err
	}
	res := struct {
		XMLName           xml.Name `xml:"CompleteMultipartUploadResult"`
		NS                string   `xml:"xmlns,attr"`
		Location          string   `xml:"Location"`
		Bucket            string   `xml:"Bucket"`
		Key               string   `xml:"Key"`
		ETag              string   `xml:"ETag"`
		ChecksumCRC32     string   `xml:"ChecksumCRC32,omitempty"`
		ChecksumCRC32C    string   `xml:"ChecksumCRC32C,omitempty"`
		ChecksumCRC64NVME string   `xml:"ChecksumCRC64NVME,omitempty"`
		ChecksumSHA1      string   `xml:"ChecksumSHA1,omitempty"`
		ChecksumSHA256    string   `xml:"ChecksumSHA256,omitempty"`
		ChecksumType      string   `xml:"ChecksumType,omitempty"`
	}{NS: s3NS, Location: "/" + req.bucket + "/" + req.key, Bucket: req.bucket, Key: req.key, ETag: etagQuoted(a.ETag)}
	for k, v := range a.Checksums {
		res.ChecksumType = checksumTypeOf(v)
		switch k {
		case "CRC32":
			res.ChecksumCRC32 = v
		case "CRC32C":
			res.ChecksumCRC32C = v
		case "CRC64NVME":
			res.ChecksumCRC64NVME = v
		case "SHA1":
			res.ChecksumSHA1 = v
		case "SHA256":
			res.ChecksumSHA256 = v
		}
	}
	writeXML(req.w, http.StatusOK, res)
	return nil
}

// compositeChecksum is S3's checksum of checksums: the algorithm over the
// concatenated binary part checksums, base64, "-" and the part count.
func compositeChecksum(algo string, list []diskblob.CompletePart, parts []diskblob.Part) (string, error) {
	byNum := map[int]diskblob.Part{}
	for _, p := range parts {
		byNum[p.Number] = p
	}
	h := newChecksumHash(algo)
	for _, c := range list {
		p, ok := byNum[c.Number]
		if !ok {
			return "", fmt.Errorf("part %d: %w", c.Number, diskblob.ErrInvalidPart)
		}
		raw, err := base64.StdEncoding.DecodeString(p.Checksums[algo])
		if err != nil || len(raw) == 0 {
			return "", &apiError{Code: "InvalidRequest", Status: http.StatusBadRequest,
				Message: fmt.Sprintf("Part %d has no %s checksum; the upload requires one.", c.Number, algo)}
		}
		h.Write(raw)
	}
	return fmt.Sprintf("%s-%d", base64.StdEncoding.EncodeToString(h.Sum(nil)), len(list)), nil
}

func (h *Handler) abortMultipart(req *request) error {
	b, err := h.ownedBucket(req, req.bucket)
	if err != nil {
		return err
	}
	if err := b.AbortMultipartUpload(req.r.Context(), req.key, req.r.URL.Query().Get("uploadId")); err != nil {
		return err
	}
	req.w.WriteHeader(http.StatusNoContent)
	return nil
}

func (h *Handler) listParts(req *request) error {
	b, err := h.ownedBucket(req, req.bucket)
	if err != nil {
		return err
	}
	q := req.r.URL.Query()
	u, parts, err := b.ListParts(req.r.Context(), req.key, q.Get("uploadId"))
	if err != nil {
		return err
	}
	maxParts := 1000
	if s := q.Get("max-parts"); s != "" {
		if n, err := strconv.Atoi(s); err == nil && n >= 0 {
			maxParts = min(n, 1000)
		}
	}
	marker, _ := strconv.Atoi(q.Get("part-number-marker"))
	type partXML struct {
		PartNumber        int    `xml:"PartNumber"`
		LastModified      string `xml:"LastModified"`
		ETag              string `xml:"ETag"`
		Size              int64  `xml:"Size"`
		ChecksumCRC32     string `xml:"ChecksumCRC32,omitempty"`
		ChecksumCRC32C    string `xml:"ChecksumCRC32C,omitempty"`
		ChecksumCRC64NVME string `xml:"ChecksumCRC64NVME,omitempty"`
		ChecksumSHA1      string `xml:"ChecksumSHA1,omitempty"`
		ChecksumSHA256    string `xml:"ChecksumSHA256,omitempty"`
	}
	algo, ctype := uploadAlgo(u)
	res := struct {
		XMLName              xml.Name  `xml:"ListPartsResult"`
		NS                   string    `xml:"xmlns,attr"`
		Bucket               string    `xml:"Bucket"`
		Key                  string    `xml:"Key"`
		UploadID             string    `xml:"UploadId"`
		PartNumberMarker     int       `xml:"PartNumberMarker"`
		NextPartNumberMarker int       `xml:"NextPartNumberMarker"`
		MaxParts             int       `xml:"MaxParts"`
		IsTruncated          bool      `xml:"IsTruncated"`
		StorageClass         string    `xml:"StorageClass"`
		ChecksumAlgorithm    string    `xml:"ChecksumAlgorithm,omitempty"`
		ChecksumType         string    `xml:"ChecksumType,omitempty"`
		Owner                owner     `xml:"Owner"`
		Initiator            owner     `xml:"Initiator"`
		Parts                []partXML `xml:"Part"`
	}{NS: s3NS, Bucket: req.bucket, Key: req.key, UploadID: u.ID, PartNumberMarker: marker, MaxParts: maxParts,
		StorageClass: "STANDARD", ChecksumAlgorithm: algo, ChecksumType: ctype,
		Owner: owner{req.id.Account, req.id.Account}, Initiator: owner{req.id.Account, req.id.Account}}
	for _, p := range parts {
		if p.Number <= marker {
			continue
		}
		if len(res.Parts) == maxParts {
			res.IsTruncated = true
			break
		}
		px := partXML{PartNumber: p.Number, LastModified: timeXML(p.ModTime), ETag: etagQuoted(p.ETag), Size: p.Size}
		px.ChecksumCRC32, px.ChecksumCRC32C, px.ChecksumCRC64NVME = p.Checksums["CRC32"], p.Checksums["CRC32C"], p.Checksums["CRC64NVME"]
		px.ChecksumSHA1, px.ChecksumSHA256 = p.Checksums["SHA1"], p.Checksums["SHA256"]
		res.Parts = append(res.Parts, px)
		res.NextPartNumberMarker = p.Number
	}
	writeXML(req.w, http.StatusOK, res)
	return nil
}

// listMultipartUploads answers ListMultipartUploads (prefix, key-marker and
// max-uploads; no delimiter grouping).
func (h *Handler) listMultipartUploads(req *request) error {
	b, err := h.ownedBucket(req, req.bucket)
	if err != nil {
		return err
	}
	q := req.r.URL.Query()
	maxUploads := 1000
	if s := q.Get("max-uploads"); s != "" {
		if n, err := strconv.Atoi(s); err == nil && n >= 0 {
			maxUploads = min(n, 1000)
		}
	}
	ups, err := b.ListMultipartUploads(req.r.Context(), q.Get("prefix"))
	if err != nil {
		return err
	}
	type uploadXML struct {
		Key          string `xml:"Key"`
		UploadID     string `xml:"UploadId"`
		Initiated    string `xml:"Initiated"`
		StorageClass string `xml:"StorageClass"`
		Owner        owner  `xml:"Owner"`
		Initiator    owner  `xml:"Initiator"`
	}
	res := struct {
		XMLName            xml.Name    `xml:"ListMultipartUploadsResult"`
		NS                 string      `xml:"xmlns,attr"`
		Bucket             string      `xml:"Bucket"`
		KeyMarker          string      `xml:"KeyMarker"`
		UploadIDMarker     string      `xml:"UploadIdMarker"`
		NextKeyMarker      string      `xml:"NextKeyMarker,omitempty"`
		NextUploadIDMarker string      `xml:"NextUploadIdMarker,omitempty"`
		Prefix             string      `xml:"Prefix"`
		MaxUploads         int         `xml:"MaxUploads"`
		IsTruncated        bool        `xml:"IsTruncated"`
		Uploads            []uploadXML `xml:"Upload"`
	}{NS: s3NS, Bucket: req.bucket, KeyMarker: q.Get("key-marker"), UploadIDMarker: q.Get("upload-id-marker"),
		Prefix: q.Get("prefix"), MaxUploads: maxUploads}
	me := owner{req.id.Account, req.id.Account}
	for _, u := range ups {
		if km := q.Get("key-marker"); km != "" && (u.Key < km || u.Key == km && (q.Get("upload-id-marker") == "" || u.ID <= q.Get("upload-id-marker"))) {
			continue
		}
		if len(res.Uploads) == maxUploads {
			res.IsTruncated = true
			break
		}
		res.Uploads = append(res.Uploads, uploadXML{u.Key, u.ID, timeXML(u.Initiated), "STANDARD", me, me})
		res.NextKeyMarker, res.NextUploadIDMarker = u.Key, u.ID
	}
	if !res.IsTruncated {
		res.NextKeyMarker, res.NextUploadIDMarker = "", ""
	}
	writeXML(req.w, http.StatusOK, res)
	return nil
}
