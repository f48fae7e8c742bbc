package eventstream

import (
	"bytes"
	"encoding/hex"
	"errors"
	"hash/crc32"
	"io"
	"strings"
	"testing"
	"time"

	awses "github.com/aws/aws-sdk-go-v2/aws/protocol/eventstream"
	"github.com/google/go-cmp/cmp"
)

func allTypesMessage() Message {
	return Message{
		Headers: []Header{
			{Name: "event-type", Value: Int32(40972)},
			{Name: "content-type", Value: String("application/json")},
			{Name: "bool false", Value: Bool(false)},
			{Name: "bool true", Value: Bool(true)},
			{Name: "byte", Value: Int8(-49)},
			{Name: "byte buf", Value: Bytes([]byte("I'm a little teapot!"))},
			{Name: "timestamp", Value: Timestamp(time.UnixMilli(8675309))},
			{Name: "int16", Value: Int16(42)},
			{Name: "int64", Value: Int64(42424242)},
			{Name: "uuid", Value: UUID([16]byte{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16})},
		},
		Payload: []byte(`{'foo':'bar'}`),
	}
}

func tableMessages() map[string]Message {
	return map[string]Message{
		"empty":          {},
		"payload only":   {Payload: []byte("hello")},
		"one string":     {Headers: []Header{{Name: "x", Value: String("y")}}},
		"all types":      allTypesMessage(),
		"converse event": NewEvent("messageStart", []byte(`{"role":"assistant"}`)),
		"exception":      NewException("modelStreamErrorException", []byte(`{"message":"boom","originalStatusCode":500}`)),
		"error":          NewError("InternalFailure", "something broke"),
		"extremes": {Headers: []Header{
			{Name: strings.Repeat("n", MaxHeaderNameLen), Value: String(strings.Repeat("é", MaxHeaderValueLen/2))},
			{Name: "i8", Value: Int8(-128)}, {Name: "i16", Value: Int16(-32768)},
			{Name: "i32", Value: Int32(-1 << 31)}, {Name: "i64", Value: Int64(-1 << 63)},
			{Name: "empty bytes", Value: Bytes([]byte{})},
		}},
	}
}

// toAWS converts our message to the SDK's representation.
func toAWS(t testing.TB, m Message) awses.Message {
	var out awses.Message
	for _, h := range m.Headers {
		var v awses.Value
		switch h.Value.Type {
		case TypeBoolTrue, TypeBoolFalse:
			v = awses.BoolValue(h.Value.Bool())
		case TypeInt8:
			v = awses.Int8Value(h.Value.Int)
		case TypeInt16:
			v = awses.Int16Value(h.Value.Int)
		case TypeInt32:
			v = awses.Int32Value(h.Value.Int)
		case TypeInt64:
			v = awses.Int64Value(h.Value.Int)
		case TypeBytes:
			v = awses.BytesValue(h.Value.Bytes)
		case TypeString:
			v = awses.StringValue(h.Value.String)
		case TypeTimestamp:
			v = awses.TimestampValue(h.Value.Time())
		case TypeUUID:
			v = awses.UUIDValue(h.Value.UUID)
		default:
			t.Fatalf("unknown type %v", h.Value.Type)
		}
		out.Headers = append(out.Headers, awses.Header{Name: h.Name, Value: v})
	}
	out.Payload = m.Payload
	return out
}

// fromAWS converts an SDK message to ours.
func fromAWS(t testing.TB, m awses.Message) Message {
	var out Message
	for _, h := range m.Headers {
		var v Value
		switch x := h.Value.(type) {
		case awses.BoolValue:
			v = Bool(bool(x))
		case awses.Int8Value:
			v = Int8(int8(x))
		case awses.Int16Value:
			v = Int16(int16(x))
		case awses.Int32Value:
			v = Int32(int32(x))
		case awses.Int64Value:
			v = Int64(int64(x))
		case awses.BytesValue:
			v = Bytes([]byte(x))
		case awses.StringValue:
			v = String(string(x))
		case awses.TimestampValue:
			v = Timestamp(time.Time(x))
		case awses.UUIDValue:
			v = UUID([16]byte(x))
		default:
			t.Fatalf("unknown SDK value %T", x)
		}
		out.Headers = append(out.Headers, Header{Name: h.Name, Value: v})
	}
	if len(m.Payload) > 0 {
		out.Payload = m.Payload
	}
	return out
}

var cmpOpts = cmp.Options{cmp.Comparer(func(a, b []byte) bool { return bytes.Equal(a, b) })}

// TestMatchesAWSEncoder checks byte-for-byte equality with the AWS SDK's
// encoder and that the SDK's decoder reads our frames back unchanged.
func TestMatchesAWSEncoder(t *testing.T) {
	for name, m := range tableMessages() {
		t.Run(name, func(t *testing.T) {
			ours, err := Append(nil, m)
			if err != nil {
				t.Fatal(err)
			}
			var theirs bytes.Buffer
			if err := awses.NewEncoder().Encode(&theirs, toAWS(t, m)); err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(ours, theirs.Bytes()) {
				t.Fatalf("encoding differs from SDK:\nours   %x\ntheirs %x", ours, theirs.Bytes())
			}
			got, err := awses.NewDecoder().Decode(bytes.NewReader(ours), nil)
			if err != nil {
				t.Fatalf("SDK decode: %v", err)
			}
			if diff := cmp.Diff(m, fromAWS(t, got), cmpOpts); diff != "" {
				t.Errorf("SDK decoded (-want +got):\n%s", diff)
			}
		})
	}
}

func TestRoundTripStream(t *testing.T) {
	var buf bytes.Buffer
	w := NewWriter(&buf)
	var want []Message
	for _, m := range tableMessages() {
		if err := w.Write(m); err != nil {
			t.Fatal(err)
		}
		want = append(want, m)
	}
	d := NewDecoder(&buf, DecoderOptions{})
	for i := range want {
		got, err := d.Decode()
		if err != nil {
			t.Fatalf("message %d: %v", i, err)
		}
		if diff := cmp.Diff(want[i], got, cmpOpts); diff != "" {
			t.Errorf("message %d (-want +got):\n%s", i, diff)
		}
	}
	if _, err := d.Decode(); err != io.EOF {
		t.Fatalf("after last message: %v, want io.EOF", err)
	}
}

// TestConverseFirstFrame pins the first frame of a ConverseStream as captured
// from the Go SDK's encoder (SPEC.md §A.14).
func TestConverseFirstFrame(t *testing.T) {
	b, err := Append(nil, NewEvent("messageStart", []byte(`{"role":"assistant"}`)))
	if err != nil {
		t.Fatal(err)
	}
	want, _ := hex.DecodeString("000000760000005296d5fade0b3a6576")
	if !bytes.HasPrefix(b, want) {
		t.Fatalf("prefix %x, want %x", b[:16], want)
	}
}

func TestDecodeErrors(t *testing.T) {
	good, err := Append(nil, allTypesMessage())
	if err != nil {
		t.Fatal(err)
	}
	flip := func(i int) []byte {
		b := bytes.Clone(good)
		b[i] ^= 0x01
		return b
	}
	tests := []struct {
		name string
		in   []byte
		want error
	}{
		{"truncated prelude", good[:5], io.ErrUnexpectedEOF},
		{"truncated body", good[:len(good)-3], io.ErrUnexpectedEOF},
		{"prelude crc", flip(9), ErrChecksum},
		{"total length", flip(3), ErrChecksum},
		{"headers length", flip(7), ErrChecksum},
		{"header byte", flip(14), ErrChecksum},
		{"payload byte", flip(len(good) - 6), ErrChecksum},
		{"message crc", flip(len(good) - 1), ErrChecksum},
		{"too short total", mkRaw(8, 0, nil), ErrMalformed},
		{"headers past end", mkRaw(20, 10, []byte{1, 2, 3, 4}), ErrMalformed},
		{"bad header type", mkRaw(0, 3, []byte{1, 'a', 42}), ErrMalformed},
		{"zero name", mkRaw(0, 2, []byte{0, 7}), ErrMalformed},
		{"string overrun", mkRaw(0, 5, []byte{1, 'a', 7, 0, 9}), ErrMalformed},
		{"bad utf8", mkRaw(0, 6, []byte{1, 'a', 7, 0, 1, 0xff}), ErrMalformed},
		{"huge total", mkRaw(DefaultMaxMessageLen+1, 0, nil), ErrMalformed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := NewDecoder(bytes.NewReader(tt.in), DecoderOptions{}).Decode()
			if !errors.Is(err, tt.want) {
				t.Fatalf("Decode = %v, want %v", err, tt.want)
			}
		})
	}
}

// mkRaw builds a frame with valid CRCs around the given header bytes. A
// non-zero total overrides the computed total length.
func mkRaw(total, hlen int, headers []byte) []byte {
	if total == 0 {
		total = minMsgLen + len(headers)
	}
	b := []byte{byte(total >> 24), byte(total >> 16), byte(total >> 8), byte(total), 0, 0, 0, byte(hlen)}
	c := crcOf(b)
	b = append(b, byte(c>>24), byte(c>>16), byte(c>>8), byte(c))
	b = append(b, headers...)
	c = crcOf(b)
	return append(b, byte(c>>24), byte(c>>16), byte(c>>8), byte(c))
}

func TestEncodeErrors(t *testing.T) {
	tests := []Header{
		{Name: "", Value: String("x")},
		{Name: strings.Repeat("n", 256), Value: String("x")},
		{Name: "s", Value: String(strings.Repeat("a", MaxHeaderValueLen+1))},
		{Name: "b", Value: Bytes(make([]byte, MaxHeaderValueLen+1))},
		{Name: "i8", Value: Value{Type: TypeInt8, Int: 128}},
		{Name: "t", Value: Value{Type: 10}},
		{Name: "u", Value: String("\xff")},
	}
	for _, h := range tests {
		if _, err := Append(nil, Message{Headers: []Header{h}}); !errors.Is(err, ErrInvalidHeader) {
			t.Errorf("Append(%q) = %v, want ErrInvalidHeader", h.Name, err)
		}
	}
}

func TestNewErrorTruncatesUTF8(t *testing.T) {
	m := NewError("X", strings.Repeat("é", MaxHeaderValueLen))
	if _, err := Append(nil, m); err != nil {
		t.Fatal(err)
	}
}

// FuzzDecode checks that decoding arbitrary bytes never panics, that every
// accepted message re-encodes to exactly the same bytes, and that the AWS SDK
// decoder agrees on what it contains.
func FuzzDecode(f *testing.F) {
	for _, m := range tableMessages() {
		b, err := Append(nil, m)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add(mkRaw(0, 3, []byte{1, 'a', 42}))
	f.Fuzz(func(t *testing.T, in []byte) {
		m, err := Parse(in)
		if err != nil {
			return
		}
		out, err := Append(nil, m)
		if err != nil {
			t.Fatalf("re-encode accepted message: %v", err)
		}
		if !bytes.Equal(in, out) {
			t.Fatalf("round trip changed bytes:\nin  %x\nout %x", in, out)
		}
		am, err := awses.NewDecoder().Decode(bytes.NewReader(in), nil)
		if err != nil {
			t.Fatalf("SDK rejects a message we accept: %v", err)
		}
		if diff := cmp.Diff(m, fromAWS(t, am), cmpOpts); diff != "" {
			t.Fatalf("SDK reads differently (-ours +sdk):\n%s", diff)
		}
	})
}
func crcOf(b []byte) uint32 { return crc32.ChecksumIEEE(b) }
