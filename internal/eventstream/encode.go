package eventstream

import (
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"io"
)

// Append appends the wire form of m to dst. It fails only when a header
// cannot be represented (see [ErrInvalidHeader]) or the message is larger
// than 4 GiB.
func Append(dst []byte, m Message) ([]byte, error) {
	hlen := 0
	for _, h := range m.Headers {
		if err := validateHeader(h); err != nil {
			return dst, err
		}
		hlen += encodedHeaderLen(h)
	}
	total := uint64(minMsgLen) + uint64(hlen) + uint64(len(m.Payload))
	if total > 1<<32-1 {
		return dst, fmt.Errorf("%w: message of %d bytes exceeds 4 GiB", ErrInvalidHeader, total)
	}
	start := len(dst)
	dst = binary.BigEndian.AppendUint32(dst, uint32(total))
	dst = binary.BigEndian.AppendUint32(dst, uint32(hlen))
	dst = binary.BigEndian.AppendUint32(dst, crc32.ChecksumIEEE(dst[start:start+preludeLen]))
	for _, h := range m.Headers {
		dst = appendHeader(dst, h)
	}
	dst = append(dst, m.Payload...)
	dst = binary.BigEndian.AppendUint32(dst, crc32.ChecksumIEEE(dst[start:]))
	return dst, nil
}

// Encode writes the wire form of m to w in a single Write call.
func Encode(w io.Writer, m Message) error {
	b, err := Append(nil, m)
	if err != nil {
		return err
	}
	if _, err := w.Write(b); err != nil {
		return fmt.Errorf("eventstream: write message: %w", err)
	}
	return nil
}

func encodedHeaderLen(h Header) int {
	n := 1 + len(h.Name) + 1
	switch h.Value.Type {
	case TypeInt8:
		n++
	case TypeInt16:
		n += 2
	case TypeInt32:
		n += 4
	case TypeInt64, TypeTimestamp:
		n += 8
	case TypeBytes:
		n += 2 + len(h.Value.Bytes)
	case TypeString:
		n += 2 + len(h.Value.String)
	case TypeUUID:
		n += 16
	}
	return n
}

func appendHeader(dst []byte, h Header) []byte {
	dst = append(dst, byte(len(h.Name)))
	dst = append(dst, h.Name...)
	v := h.Value
	dst = append(dst, byte(v.Type))
	switch v.Type {
	case TypeInt8:
		dst = append(dst, byte(int8(v.Int)))
	case TypeInt16:
		dst = binary.BigEndian.AppendUint16(dst, uint16(int16(v.Int)))
	case TypeInt32:
		dst = binary.BigEndian.AppendUint32(dst, uint32(int32(v.Int)))
	case TypeInt64, TypeTimestamp:
		dst = binary.BigEndian.AppendUint64(dst, uint64(v.Int))
	case TypeBytes:
		dst = binary.BigEndian.AppendUint16(dst, uint16(len(v.Bytes)))
		dst = append(dst, v.Bytes...)
	case TypeString:
		dst = binary.BigEndian.AppendUint16(dst, uint16(len(v.String)))
		dst = append(dst, v.String...)
	case TypeUUID:
		dst = append(dst, v.UUID[:]...)
	}
	return dst
}
