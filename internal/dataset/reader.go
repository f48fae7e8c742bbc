package dataset

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
)

// lineReader splits a stream into lines in bounded memory. A line longer
// than maxLine is not kept: its first bytes are, for the error message, and
// the rest is counted and skipped.
type lineReader struct {
	br      *bufio.Reader
	maxLine int
	lineNo  int64
	offset  int64 // bytes consumed
	first   bool
	// BOM reports a UTF-8 byte-order mark at the start (stripped).
	BOM bool
	// UTF16 reports a UTF-16 byte-order mark at the start.
	UTF16 bool
}

// rawLine is one line as read.
type rawLine struct {
	no     int64
	data   []byte // without the newline and a trailing \r; nil for overlong lines
	size   int64  // full length in bytes (excluding the newline)
	head   []byte // first bytes of an overlong line
	tooBig bool
	crlf   bool
}

const readBufSize = 256 * kb

func newLineReader(r io.Reader, maxLine int) *lineReader {
	return &lineReader{br: bufio.NewReaderSize(r, readBufSize), maxLine: maxLine, first: true}
}

// next reads one line, appending its bytes to buf (which it returns, maybe
// grown). It returns io.EOF after the last line. A final line without a
// newline is a line.
func (lr *lineReader) next(buf []byte, out *rawLine) ([]byte, error) {
	if lr.first {
		lr.first = false
		if b, err := lr.br.Peek(3); err == nil || len(b) > 0 {
			switch {
			case bytes.HasPrefix(b, bom):
				lr.BOM = true
				_, _ = lr.br.Discard(3)
				lr.offset += 3
			case bytes.HasPrefix(b, []byte{0xFF, 0xFE}), bytes.HasPrefix(b, []byte{0xFE, 0xFF}):
				lr.UTF16 = true
			}
		}
	}
	*out = rawLine{}
	start := len(buf)
	var size int64
	got, endedNL := false, false
	for {
		chunk, err := lr.br.ReadSlice('\n')
		if len(chunk) > 0 {
			got = true
		}
		size += int64(len(chunk))
		lr.offset += int64(len(chunk))
		if !out.tooBig {
			if size > int64(lr.maxLine)+2 { // +2: room for "\r\n"
				out.tooBig = true
				keep := 256
				have := buf[start:]
				if len(have) < keep {
					need := keep - len(have)
					if need > len(chunk) {
						need = len(chunk)
					}
					have = append(have, chunk[:need]...)
				}
				if len(have) > keep {
					have = have[:keep]
				}
				out.head = append([]byte(nil), have...)
				buf = buf[:start]
			} else {
				buf = append(buf, chunk...)
			}
		}
		if err == nil {
			endedNL = true
			break
		}
		if errors.Is(err, bufio.ErrBufferFull) {
			continue
		}
		if err == io.EOF {
			if !got {
				return buf[:start], io.EOF
			}
			break
		}
		return buf[:start], fmt.Errorf("read line %d: %w", lr.lineNo+1, err)
	}
	lr.lineNo++
	out.no = lr.lineNo
	if !out.tooBig {
		line := buf[start:]
		if n := len(line); n > 0 && line[n-1] == '\n' {
			line = line[:n-1]
		}
		if n := len(line); n > 0 && line[n-1] == '\r' {
			line = line[:n-1]
			out.crlf = true
		}
		out.data = line
		out.size = int64(len(line))
		buf = buf[:start+len(line)]
		if int64(len(line)) > int64(lr.maxLine) {
			out.tooBig = true
			out.head = append([]byte(nil), line[:min(256, len(line))]...)
			out.data = nil
			buf = buf[:start]
		}
	} else {
		out.size = size
		if endedNL {
			out.size--
		}
	}
	return buf, nil
}
