package eventstream

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"unicode/utf8"
)

// DecoderOptions bound what a [Decoder] accepts.
type DecoderOptions struct {
	// MaxMessageLen is the largest total_len accepted; 0 means
	// DefaultMaxMessageLen.
	MaxMessageLen int
}

// Decoder reads consecutive messages from a stream.
type Decoder struct {
	r   io.Reader
	max int
	buf []byte
}

// NewDecoder returns a decoder reading from r.
func NewDecoder(r io.Reader, opts DecoderOptions) *Decoder {
	max := opts.MaxMessageLen
	if max <= 0 {
		max = DefaultMaxMessageLen
	}
	return &Decoder{r: r, max: max}
}

// Decode reads the next message. It returns io.EOF when the input ends
// cleanly between messages, and an error wrapping io.ErrUnexpectedEOF,
// ErrMalformed or ErrChecksum otherwise. The returned message does not alias
// the decoder's buffers.
func (d *Decoder) Decode() (Message, error) {
	var prelude [12]byte
	if _, err := io.ReadFull(d.r, prelude[:]); err != nil {
		if errors.Is(err, io.EOF) {
			return Message{}, io.EOF
		}
		return Message{}, fmt.Errorf("eventstream: read prelude: %w", err)
	}
	total := binary.BigEndian.Uint32(prelude[0:4])
	if got, want := crc32.ChecksumIEEE(prelude[:8]), binary.BigEndian.Uint32(prelude[8:12]); got != want {
		return Message{}, fmt.Errorf("%w: prelude crc %08x, computed %08x", ErrChecksum, want, got)
	}
	if total < minMsgLen || uint64(total) > uint64(d.max) {
		return Message{}, fmt.Errorf("%w: total length %d not in %d..%d", ErrMalformed, total, minMsgLen, d.max)
	}
	if cap(d.buf) < int(total) {
		d.buf = make([]byte, total)
	}
	buf := d.buf[:total]
	copy(buf, prelude[:])
	if _, err := io.ReadFull(d.r, buf[12:]); err != nil {
		if errors.Is(err, io.EOF) {
			err = io.ErrUnexpectedEOF
		}
		return Message{}, fmt.Errorf("eventstream: read message body: %w", err)
	}
	m, err := Parse(buf)
	if err != nil {
		return Message{}, err
	}
	return m, nil
}

// Parse decodes exactly one message that fills b. The result does not alias b.
func Parse(b []byte) (Message, error) {
	if len(b) < minMsgLen {
		return Message{}, fmt.Errorf("%w: %d bytes is shorter than the %d-byte minimum", ErrMalformed, len(b), minMsgLen)
	}
	total := binary.BigEndian.Uint32(b[0:4])
	hlen := binary.BigEndian.Uint32(b[4:8])
	if got, want := crc32.ChecksumIEEE(b[:8]), binary.BigEndian.Uint32(b[8:12]); got != want {
		return Message{}, fmt.Errorf("%w: prelude crc %08x, computed %08x", ErrChecksum, want, got)
	}
	if uint64(total) != uint64(len(b)) {
		return Message{}, fmt.Errorf("%w: total length %d, have %d bytes", ErrMalformed, total, len(b))
	}
	if uint64(hlen) > uint64(total)-minMsgLen {
		return Message{}, fmt.Errorf("%w: headers length %d exceeds message length %d", ErrMalformed, hlen, total)
	}
	end := len(b) - 4
	if got, want := crc32.ChecksumIEEE(b[:end]), binary.BigEndian.Uint32(b[end:]); got != want {
		return Message{}, fmt.Errorf("%w: message crc %08x, computed %08x", ErrChecksum, want, got)
	}
	hdrs, err := parseHeaders(b[12 : 12+hlen])
	if err != nil {
		return Message{}, err
	}
	var payload []byte
	if p := b[12+hlen : end]; len(p) > 0 {
		payload = append([]byte(nil), p...)
	}
	return Message{Headers: hdrs, Payload: payload}, nil
}

func parseHeaders(b []byte) ([]Header, error) {
	var hs []Header
	for len(b) > 0 {
		nlen := int(b[0])
		b = b[1:]
		if nlen == 0 || len(b) < nlen+1 {
			return nil, fmt.Errorf("%w: header name length %d with %d bytes left", ErrMalformed, nlen, len(b))
		}
		name := string(b[:nlen])
		if !utf8.ValidString(name) {
			return nil, fmt.Errorf("%w: header name is not UTF-8", ErrMalformed)
		}
		t := ValueType(b[nlen])
		b = b[nlen+1:]
		v := Value{Type: t}
		need := 0
		switch t {
		case TypeBoolTrue, TypeBoolFalse:
		case TypeInt8:
			need = 1
		case TypeInt16:
			need = 2
		case TypeInt32:
			need = 4
		case TypeInt64, TypeTimestamp:
			need = 8
		case TypeUUID:
			need = 16
		case TypeBytes, TypeString:
			if len(b) < 2 {
				return nil, fmt.Errorf("%w: header %q: truncated value length", ErrMalformed, name)
			}
			need = 2 + int(binary.BigEndian.Uint16(b))
			if need-2 > MaxHeaderValueLen {
				return nil, fmt.Errorf("%w: header %q: value length %d exceeds %d", ErrMalformed, name, need-2, MaxHeaderValueLen)
			}
		default:
			return nil, fmt.Errorf("%w: header %q: unknown value type %d", ErrMalformed, name, t)
		}
		if len(b) < need {
			return nil, fmt.Errorf("%w: header %q: %s value needs %d bytes, have %d", ErrMalformed, name, t, need, len(b))
		}
		switch t {
		case TypeInt8:
			v.Int = int64(int8(b[0]))
		case TypeInt16:
			v.Int = int64(int16(binary.BigEndian.Uint16(b)))
		case TypeInt32:
			v.Int = int64(int32(binary.BigEndian.Uint32(b)))
		case TypeInt64, TypeTimestamp:
			v.Int = int64(binary.BigEndian.Uint64(b))
		case TypeUUID:
			copy(v.UUID[:], b)
		case TypeBytes:
			v.Bytes = append([]byte{}, b[2:need]...)
		case TypeString:
			v.String = string(b[2:need])
			if !utf8.ValidString(v.String) {
				return nil, fmt.Errorf("%w: header %q: string value is not UTF-8", ErrMalformed, name)
			}
		}
		b = b[need:]
		hs = append(hs, Header{Name: name, Value: v})
	}
	return hs, nil
}
