// Package eventstream encodes and decodes application/vnd.amazon.eventstream
// messages, the binary framing AWS uses for streaming responses such as
// InvokeModelWithResponseStream and ConverseStream (SPEC.md §A.14).
//
// A message is
//
//	total_len u32 | headers_len u32 | prelude_crc u32 | headers | payload | message_crc u32
//
// with big-endian integers and CRC-32 (IEEE). prelude_crc covers the first
// eight bytes and message_crc everything before it. Each header is
//
//	name_len u8 | name | value_type u8 | value
//
// with the ten value types of [ValueType]. The stream has no terminator: it
// ends when the underlying body ends.
//
// The decoder treats its input as untrusted: every length is checked against
// the bytes that remain and against [DecoderOptions] limits before anything is
// allocated, and both CRCs are verified. Errors wrap [ErrMalformed] or
// [ErrChecksum]; a clean end of input between messages is io.EOF.
package eventstream

import (
	"errors"
	"fmt"
	"time"
	"unicode/utf8"
)

// Frame geometry.
const (
	preludeLen = 8              // total_len + headers_len
	minMsgLen  = preludeLen + 8 // + prelude_crc + message_crc

	// MaxHeaderNameLen is the longest header name (one length byte).
	MaxHeaderNameLen = 255
	// MaxHeaderValueLen is the longest string or bytes header value
	// (2^15-1, the limit AWS's own encoder enforces).
	MaxHeaderValueLen = 1<<15 - 1
	// DefaultMaxMessageLen is the decoder's default limit on total_len
	// (16 MiB of payload plus 128 KiB of headers, AWS's documented ceiling).
	DefaultMaxMessageLen = 16<<20 + 128<<10 + minMsgLen
)

// Errors returned by the decoder and encoder; they are wrapped with detail.
var (
	// ErrMalformed reports bytes that are not a well-formed message.
	ErrMalformed = errors.New("eventstream: malformed message")
	// ErrChecksum reports a prelude or message CRC mismatch.
	ErrChecksum = errors.New("eventstream: checksum mismatch")
	// ErrInvalidHeader reports a header the encoder cannot represent.
	ErrInvalidHeader = errors.New("eventstream: invalid header")
)

// ValueType is the one-byte type tag of a header value.
type ValueType uint8

// Header value types, numbered as on the wire.
const (
	TypeBoolTrue  ValueType = 0
	TypeBoolFalse ValueType = 1
	TypeInt8      ValueType = 2
	TypeInt16     ValueType = 3
	TypeInt32     ValueType = 4
	TypeInt64     ValueType = 5
	TypeBytes     ValueType = 6
	TypeString    ValueType = 7
	TypeTimestamp ValueType = 8 // int64 milliseconds since the Unix epoch
	TypeUUID      ValueType = 9
)

func (t ValueType) String() string {
	switch t {
	case TypeBoolTrue:
		return "true"
	case TypeBoolFalse:
		return "false"
	case TypeInt8:
		return "int8"
	case TypeInt16:
		return "int16"
	case TypeInt32:
		return "int32"
	case TypeInt64:
		return "int64"
	case TypeBytes:
		return "bytes"
	case TypeString:
		return "string"
	case TypeTimestamp:
		return "timestamp"
	case TypeUUID:
		return "uuid"
	}
	return fmt.Sprintf("ValueType(%d)", uint8(t))
}

// Value is one header value. Type selects which field is meaningful: Int for
// the integer types and timestamps (milliseconds), Bytes for bytes, String for
// strings, UUID for UUIDs; the boolean is the type itself.
type Value struct {
	Type   ValueType
	Int    int64
	Bytes  []byte
	String string
	UUID   [16]byte
}

// Bool returns a boolean header value.
func Bool(b bool) Value {
	if b {
		return Value{Type: TypeBoolTrue}
	}
	return Value{Type: TypeBoolFalse}
}

// Int8 returns an int8 header value.
func Int8(v int8) Value { return Value{Type: TypeInt8, Int: int64(v)} }

// Int16 returns an int16 header value.
func Int16(v int16) Value { return Value{Type: TypeInt16, Int: int64(v)} }

// Int32 returns an int32 header value.
func Int32(v int32) Value { return Value{Type: TypeInt32, Int: int64(v)} }

// Int64 returns an int64 header value.
func Int64(v int64) Value { return Value{Type: TypeInt64, Int: v} }

// Bytes returns a bytes header value (at most MaxHeaderValueLen bytes).
func Bytes(b []byte) Value { return Value{Type: TypeBytes, Bytes: b} }

// String returns a string header value (at most MaxHeaderValueLen bytes).
func String(s string) Value { return Value{Type: TypeString, String: s} }

// Timestamp returns a timestamp header value with millisecond precision.
func Timestamp(t time.Time) Value { return Value{Type: TypeTimestamp, Int: t.UnixMilli()} }

// UUID returns a UUID header value.
func UUID(u [16]byte) Value { return Value{Type: TypeUUID, UUID: u} }

// Time returns a timestamp value as a time.Time in UTC.
func (v Value) Time() time.Time { return time.UnixMilli(v.Int).UTC() }

// Bool reports a boolean value's truth (false for other types).
func (v Value) Bool() bool { return v.Type == TypeBoolTrue }

// Header is one named header of a message.
type Header struct {
	Name  string
	Value Value
}

// Message is one eventstream message: ordered headers and an opaque payload.
type Message struct {
	Headers []Header
	Payload []byte
}

// Get returns the first header with the given name.
func (m Message) Get(name string) (Value, bool) {
	for _, h := range m.Headers {
		if h.Name == name {
			return h.Value, true
		}
	}
	return Value{}, false
}

// StringHeader returns the string value of a header, or "" when it is
// absent or not a string.
func (m Message) StringHeader(name string) string {
	v, ok := m.Get(name)
	if !ok || v.Type != TypeString {
		return ""
	}
	return v.String
}

func validateHeader(h Header) error {
	if len(h.Name) == 0 || len(h.Name) > MaxHeaderNameLen {
		return fmt.Errorf("%w: name length %d not in 1..%d", ErrInvalidHeader, len(h.Name), MaxHeaderNameLen)
	}
	if !utf8.ValidString(h.Name) {
		return fmt.Errorf("%w: name %q is not UTF-8", ErrInvalidHeader, h.Name)
	}
	v := h.Value
	switch v.Type {
	case TypeBoolTrue, TypeBoolFalse, TypeInt64, TypeTimestamp, TypeUUID:
	case TypeInt8:
		if v.Int < -1<<7 || v.Int >= 1<<7 {
			return fmt.Errorf("%w: %s: %d overflows int8", ErrInvalidHeader, h.Name, v.Int)
		}
	case TypeInt16:
		if v.Int < -1<<15 || v.Int >= 1<<15 {
			return fmt.Errorf("%w: %s: %d overflows int16", ErrInvalidHeader, h.Name, v.Int)
		}
	case TypeInt32:
		if v.Int < -1<<31 || v.Int >= 1<<31 {
			return fmt.Errorf("%w: %s: %d overflows int32", ErrInvalidHeader, h.Name, v.Int)
		}
	case TypeBytes:
		if len(v.Bytes) > MaxHeaderValueLen {
			return fmt.Errorf("%w: %s: %d bytes exceeds %d", ErrInvalidHeader, h.Name, len(v.Bytes), MaxHeaderValueLen)
		}
	case TypeString:
		if len(v.String) > MaxHeaderValueLen {
			return fmt.Errorf("%w: %s: %d bytes exceeds %d", ErrInvalidHeader, h.Name, len(v.String), MaxHeaderValueLen)
		}
		if !utf8.ValidString(v.String) {
			return fmt.Errorf("%w: %s: string value is not UTF-8", ErrInvalidHeader, h.Name)
		}
	default:
		return fmt.Errorf("%w: %s: unknown value type %d", ErrInvalidHeader, h.Name, v.Type)
	}
	return nil
}
