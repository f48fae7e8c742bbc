package sigv4

import (
	"bufio"
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"net/http"
	"strconv"
	"strings"
)

const (
	maxChunkLine     = 4096
	maxTrailerBytes  = 16 << 10
	chunkAlgorithm   = "AWS4-HMAC-SHA256-PAYLOAD"
	trailerAlgorithm = "AWS4-HMAC-SHA256-TRAILER"
	trailerSigHeader = "x-amz-trailer-signature"
)

// ChunkHeader is a parsed aws-chunked chunk header line.
type ChunkHeader struct {
	Size      int64
	Signature string // chunk-signature extension; "" when absent
}

// ParseChunkHeader parses one aws-chunked chunk header line, without its CRLF:
//
//	hex-size [ ";chunk-signature=" 64-hex ] [ ";" other-extension ]...
//
// The size is 1 to 16 hexadecimal digits and must fit in an int63.
func ParseChunkHeader(line string) (ChunkHeader, error) {
	sizeStr, exts, _ := strings.Cut(line, ";")
	sizeStr = strings.TrimRight(sizeStr, " \t")
	if sizeStr == "" || len(sizeStr) > 16 {
		return ChunkHeader{}, fmt.Errorf("chunk size %q: want 1 to 16 hex digits: %w", sizeStr, errMalformed)
	}
	n, err := strconv.ParseInt(sizeStr, 16, 64)
	if err != nil || n < 0 || strings.HasPrefix(sizeStr, "+") || strings.HasPrefix(sizeStr, "-") {
		return ChunkHeader{}, fmt.Errorf("chunk size %q: not a hex number: %w", sizeStr, errMalformed)
	}
	h := ChunkHeader{Size: n}
	if exts == "" {
		return h, nil
	}
	for ext := range strings.SplitSeq(exts, ";") {
		k, v, _ := strings.Cut(strings.TrimSpace(ext), "=")
		if k != "chunk-signature" {
			continue
		}
		if h.Signature != "" {
			return ChunkHeader{}, fmt.Errorf("duplicate chunk-signature: %w", errMalformed)
		}
		if h.Signature, err = ParseSignature(v); err != nil {
			return ChunkHeader{}, err
		}
	}
	return h, nil
}

// installChunked replaces r.Body with an aws-chunked decoder.
func installChunked(r *http.Request, s signed, key []byte, payload string) error {
	decoded := int64(-1)
	if d := r.Header.Get("X-Amz-Decoded-Content-Length"); d != "" {
		n, err := strconv.ParseInt(d, 10, 64)
		if err != nil || n < 0 {
			return newErr(CodeIncompleteBody, s.presigned, "x-amz-decoded-content-length %q is not a length", d)
		}
		decoded = n
	}
	var enc []string
	for _, v := range r.Header.Values("Content-Encoding") {
		for e := range strings.SplitSeq(v, ",") {
			if e = strings.TrimSpace(e); e != "" && !strings.EqualFold(e, "aws-chunked") {
				enc = append(enc, e)
			}
		}
	}
	r.Header.Del("Content-Encoding")
	if len(enc) > 0 {
		r.Header.Set("Content-Encoding", strings.Join(enc, ","))
	}
	r.Header.Del("Content-Length")
	r.ContentLength = decoded
	if decoded >= 0 {
		r.Header.Set("Content-Length", strconv.FormatInt(decoded, 10))
	}
	cr := &chunkedReader{
		body:    r.Body,
		br:      bufio.NewReaderSize(r.Body, 64<<10),
		signed:  payload != StreamingUnsignedTrailer,
		trailer: payload != StreamingPayload,
		key:     key,
		amzDate: s.amzDate,
		scope:   s.cred.Scope(),
		prevSig: s.signature,
		h:       sha256.New(),
		decoded: decoded,
	}
	if cr.trailer {
		if r.Trailer == nil {
			r.Trailer = make(http.Header)
		}
		cr.trailers = r.Trailer
	}
	if r.Body == nil {
		cr.br = bufio.NewReader(bytes.NewReader(nil))
		cr.body = io.NopCloser(nil)
	}
	r.Body = cr
	return nil
}

// NewChunkedReader decodes an aws-chunked body without signatures
// (STREAMING-UNSIGNED-PAYLOAD-TRAILER framing), storing trailing headers in
// trailers (when not nil) once Read returns io.EOF. decodedLength is checked
// at the end unless negative.
func NewChunkedReader(body io.Reader, decodedLength int64, trailers http.Header) io.Reader {
	return &chunkedReader{br: bufio.NewReaderSize(body, 64<<10), body: io.NopCloser(nil),
		trailer: true, h: sha256.New(), decoded: decodedLength, trailers: trailers}
}

type chunkedReader struct {
	br       *bufio.Reader
	body     io.Closer
	signed   bool // chunk signatures present and checked
	trailer  bool // trailing headers may follow the final chunk
	key      []byte
	amzDate  string
	scope    string
	prevSig  string
	curSig   string
	h        hash.Hash
	left     int64 // data bytes left in the current chunk
	inChunk  bool
	total    int64
	decoded  int64
	trailers http.Header
	err      error
}

func (c *chunkedReader) fail(format string, args ...any) error {
	c.err = newErr(CodeIncompleteBody, false, format, args...)
	return c.err
}

func (c *chunkedReader) Read(p []byte) (int, error) {
	if c.err != nil {
		return 0, c.err
	}
	for c.left == 0 {
		if c.inChunk {
			if err := c.endChunk(); err != nil {
				return 0, err
			}
		}
		if err := c.nextChunk(); err != nil {
			return 0, err
		}
	}
	if int64(len(p)) > c.left {
		p = p[:c.left]
	}
	n, err := c.br.Read(p)
	if c.signed {
		c.h.Write(p[:n])
	}
	c.left -= int64(n)
	c.total += int64(n)
	if c.decoded >= 0 && c.total > c.decoded {
		return n, c.fail("the aws-chunked body is longer than x-amz-decoded-content-length %d", c.decoded)
	}
	if err == io.EOF {
		return n, c.fail("the aws-chunked body ended inside a chunk")
	}
	if err != nil {
		c.err = &Error{Code: CodeIncompleteBody, Message: "could not read the request body", Err: err}
		return n, c.err
	}
	return n, nil
}

func (c *chunkedReader) readLine() (string, error) {
	line, err := c.br.ReadSlice('\n')
	if errors.Is(err, bufio.ErrBufferFull) || len(line) > maxChunkLine {
		return "", c.fail("aws-chunked line too long")
	}
	if err == io.EOF {
		if len(line) == 0 {
			return "", io.EOF
		}
		return "", c.fail("the aws-chunked body ended inside a line")
	}
	if err != nil {
		c.err = &Error{Code: CodeIncompleteBody, Message: "could not read the request body", Err: err}
		return "", c.err
	}
	if len(line) < 2 || line[len(line)-2] != '\r' {
		return "", c.fail("aws-chunked line not terminated by CRLF")
	}
	return string(line[:len(line)-2]), nil
}

func (c *chunkedReader) chunkSignature(sum []byte) string {
	sts := chunkAlgorithm + "\n" + c.amzDate + "\n" + c.scope + "\n" + c.prevSig + "\n" + emptySHA256 + "\n" + hex.EncodeToString(sum)
	return hex.EncodeToString(hmacSHA256(c.key, sts))
}

func (c *chunkedReader) checkChunk() error {
	if !c.signed {
		return nil
	}
	want := c.chunkSignature(c.h.Sum(nil))
	if !hmac.Equal([]byte(want), []byte(c.curSig)) {
		c.err = newErr(CodeSignatureMismatch, false, "the chunk signature we calculated does not match the signature you provided")
		return c.err
	}
	c.prevSig = c.curSig
	return nil
}

func (c *chunkedReader) endChunk() error {
	line, err := c.readLine()
	if err == io.EOF {
		return c.fail("the aws-chunked body ended after chunk data")
	}
	if err != nil {
		return err
	}
	if line != "" {
		return c.fail("chunk data longer than its declared size")
	}
	c.inChunk = false
	return c.checkChunk()
}

func (c *chunkedReader) nextChunk() error {
	line, err := c.readLine()
	if err == io.EOF {
		return c.fail("the aws-chunked body ended before its final chunk")
	}
	if err != nil {
		return err
	}
	ch, err := ParseChunkHeader(line)
	if err != nil {
		return c.fail("bad aws-chunked chunk header: %v", err)
	}
	if c.signed && ch.Signature == "" {
		return c.fail("aws-chunked chunk header without chunk-signature")
	}
	c.curSig = ch.Signature
	c.h.Reset()
	if ch.Size > 0 {
		c.left, c.inChunk = ch.Size, true
		return nil
	}
	// Final chunk.
	if err := c.checkChunk(); err != nil {
		return err
	}
	if c.trailer {
		if err := c.readTrailers(); err != nil {
			return err
		}
	} else if line, err := c.readLine(); err != nil && err != io.EOF {
		return err
	} else if err == nil && line != "" {
		return c.fail("unexpected data after the final aws-chunked chunk")
	}
	if c.decoded >= 0 && c.total != c.decoded {
		return c.fail("the aws-chunked body holds %d bytes, x-amz-decoded-content-length says %d", c.total, c.decoded)
	}
	c.err = io.EOF
	return io.EOF
}

func (c *chunkedReader) readTrailers() error {
	var canon strings.Builder
	sig := ""
	size := 0
	for {
		line, err := c.readLine()
		if err == io.EOF || (err == nil && line == "") {
			break
		}
		if err != nil {
			return err
		}
		if size += len(line); size > maxTrailerBytes {
			return c.fail("aws-chunked trailers too large")
		}
		name, value, ok := strings.Cut(line, ":")
		name = strings.ToLower(strings.TrimSpace(name))
		value = strings.TrimSpace(value)
		if !ok || name == "" {
			return c.fail("bad aws-chunked trailer line %q", line)
		}
		if name == trailerSigHeader {
			sig = value
			continue
		}
		canon.WriteString(name + ":" + value + "\n")
		if c.trailers != nil {
			c.trailers.Set(name, value)
		}
	}
	if !c.signed {
		return nil
	}
	if sig == "" {
		c.err = newErr(CodeSignatureMismatch, false, "the trailer signature is missing")
		return c.err
	}
	sum := sha256.Sum256([]byte(canon.String()))
	sts := trailerAlgorithm + "\n" + c.amzDate + "\n" + c.scope + "\n" + c.prevSig + "\n" + hex.EncodeToString(sum[:])
	if want := hex.EncodeToString(hmacSHA256(c.key, sts)); !hmac.Equal([]byte(want), []byte(sig)) {
		c.err = newErr(CodeSignatureMismatch, false, "the trailer signature we calculated does not match the signature you provided")
		return c.err
	}
	return nil
}

func (c *chunkedReader) Close() error { return c.body.Close() }
