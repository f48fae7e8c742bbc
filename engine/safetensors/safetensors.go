// Package safetensors reads and writes the safetensors format used by Hugging
// Face model directories: an 8-byte little-endian header length, a JSON header
// mapping tensor names to {dtype, shape, data_offsets}, then the raw data.
//
// # Reading
//
// [ReadFile] reads one file; [ReadDir] reads a model directory, either a single
// model.safetensors or the shards listed by model.safetensors.index.json.
// Floating-point tensors (F32, F16, BF16, F64) are decoded to float32 in
// [Tensor.F32]; with [Options.KeepBF16] BF16 tensors stay as raw bfloat16 bits
// in [Tensor.BF16] (half the memory; frozen weights are decoded on use).
// Integer tensors (I8..I64, U8..U64, BOOL) are decoded to [Tensor.I64].
//
// Every header is validated before any data is trusted ([ParseHeader]): the
// length must fit the file, offsets must lie inside the data section, tensors
// must not overlap, and each byte size must equal shape × dtype size. Errors
// name the file and the tensor and never panic.
//
// # Writing
//
// [WriteFile] writes tensors sorted by name, atomically (temporary file, fsync,
// rename), so a reader never sees a half-written file.
package safetensors

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

// DType is a safetensors element type as spelled in the header ("F32").
type DType string

// Element types.
const (
	F64  DType = "F64"
	F32  DType = "F32"
	F16  DType = "F16"
	BF16 DType = "BF16"
	I64  DType = "I64"
	I32  DType = "I32"
	I16  DType = "I16"
	I8   DType = "I8"
	U64  DType = "U64"
	U32  DType = "U32"
	U16  DType = "U16"
	U8   DType = "U8"
	Bool DType = "BOOL"
)

// Size returns the element size in bytes, or 0 for an unknown type.
func (d DType) Size() int {
	switch d {
	case F64, I64, U64:
		return 8
	case F32, I32, U32:
		return 4
	case F16, BF16, I16, U16:
		return 2
	case I8, U8, Bool:
		return 1
	}
	return 0
}

// IsFloat reports whether d is a floating-point type.
func (d DType) IsFloat() bool { return d == F64 || d == F32 || d == F16 || d == BF16 }

// MaxHeaderLen bounds the JSON header (100 MB, as the reference implementation).
const MaxHeaderLen = 100 << 20

// Tensor is one named tensor. Exactly one of F32, BF16 or I64 holds its data.
type Tensor struct {
	Name  string
	DType DType // dtype in the file (or to write)
	Shape []int
	F32   []float32 // float data decoded to float32
	BF16  []uint16  // raw bfloat16 bits (Options.KeepBF16, or to write BF16)
	I64   []int64   // integer data
}

// NumElements returns the product of the shape (1 for a scalar).
func (t *Tensor) NumElements() int { return numel(t.Shape) }

// Float32 returns the data as float32, decoding BF16 bits if needed.
func (t *Tensor) Float32() []float32 {
	if t.F32 != nil {
		return t.F32
	}
	if t.BF16 != nil {
		out := make([]float32, len(t.BF16))
		for i, b := range t.BF16 {
			out[i] = BF16ToF32(b)
		}
		return out
	}
	if t.I64 != nil {
		out := make([]float32, len(t.I64))
		for i, v := range t.I64 {
			out[i] = float32(v)
		}
		return out
	}
	return nil
}

func numel(shape []int) int {
	n := 1
	for _, d := range shape {
		n *= d
	}
	return n
}

// HeaderEntry is one tensor's header record, validated.
type HeaderEntry struct {
	Name  string
	DType DType
	Shape []int
	Begin int64 // offset of the first byte within the data section
	End   int64 // one past the last byte
}

// Header is a validated safetensors header.
type Header struct {
	Entries  []HeaderEntry     // sorted by Begin
	Metadata map[string]string // the optional "__metadata__" map
	DataOff  int64             // file offset of the data section (8 + header length)
}

// Options controls decoding.
type Options struct {
	// KeepBF16 keeps BF16 tensors as raw bits in Tensor.BF16 instead of
	// decoding them to float32.
	KeepBF16 bool
}

// FormatError reports an invalid file; it names the file and, where known, the tensor.
type FormatError struct {
	File   string
	Tensor string // empty when the problem is not tied to one tensor
	Reason string
}

func (e *FormatError) Error() string {
	if e.Tensor != "" {
		return fmt.Sprintf("safetensors: %s: tensor %q: %s", e.File, e.Tensor, e.Reason)
	}
	return fmt.Sprintf("safetensors: %s: %s", e.File, e.Reason)
}

// ErrFormat is matched (errors.Is) by every FormatError.
var ErrFormat = errors.New("safetensors: invalid file")

// Is makes errors.Is(err, ErrFormat) true for format errors.
func (e *FormatError) Is(target error) bool { return target == ErrFormat }

// ParseHeader validates the start of a file: prefix holds at least the
// 8-byte length and the JSON header, fileSize is the whole file's size. name is
// used in errors only.
func ParseHeader(name string, prefix []byte, fileSize int64) (*Header, error) {
	bad := func(tensor, f string, a ...any) error {
		return &FormatError{File: name, Tensor: tensor, Reason: fmt.Sprintf(f, a...)}
	}
	if len(prefix) < 8 || fileSize < 8 {
		return nil, bad("", "file too short (%d bytes) for the 8-byte header length", fileSize)
	}
	n := binary.LittleEndian.Uint64(prefix[:8])
	if n == 0 || n > MaxHeaderLen {
		return nil, bad("", "header length %d out of range (1..%d)", n, MaxHeaderLen)
	}
	if int64(n) > fileSize-8 {
		return nil, bad("", "header length %d exceeds file size %d", n, fileSize)
	}
	if uint64(len(prefix)) < 8+n {
		return nil, bad("", "header truncated: have %d of %d bytes", len(prefix)-8, n)
	}
	raw := prefix[8 : 8+n]
	var m map[string]json.RawMessage
	if err := json.Unmarshal(raw, &m); err != nil {
		return nil, bad("", "header is not a JSON object: %v", err)
	}
	h := &Header{DataOff: 8 + int64(n)}
	dataLen := fileSize - h.DataOff
	for k, v := range m {
		if k == "__metadata__" {
			if err := json.Unmarshal(v, &h.Metadata); err != nil {
				return nil, bad("", "__metadata__ must map strings to strings: %v", err)
			}
			continue
		}
		var e struct {
			DType   *string  `json:"dtype"`
			Shape   *[]int64 `json:"shape"`
			Offsets *[]int64 `json:"data_offsets"`
		}
		dec := json.NewDecoder(strings.NewReader(string(v)))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&e); err != nil {
			return nil, bad(k, "bad header entry: %v", err)
		}
		if e.DType == nil || e.Shape == nil || e.Offsets == nil {
			return nil, bad(k, "header entry needs dtype, shape and data_offsets")
		}
		dt := DType(*e.DType)
		if dt.Size() == 0 {
			return nil, bad(k, "unsupported dtype %q", *e.DType)
		}
		shape := make([]int, len(*e.Shape))
		count := int64(1)
		for i, d := range *e.Shape {
			if d < 0 || d > math.MaxInt32 {
				return nil, bad(k, "dimension %d is %d", i, d)
			}
			shape[i] = int(d)
			if d != 0 && count > math.MaxInt64/8/d {
				return nil, bad(k, "shape %v too large", *e.Shape)
			}
			count *= d
		}
		if len(*e.Offsets) != 2 {
			return nil, bad(k, "data_offsets must have 2 values, got %d", len(*e.Offsets))
		}
		b, end := (*e.Offsets)[0], (*e.Offsets)[1]
		if b < 0 || end < b || end > dataLen {
			return nil, bad(k, "data_offsets [%d, %d] outside the data section of %d bytes", b, end, dataLen)
		}
		if want := count * int64(dt.Size()); end-b != want {
			return nil, bad(k, "data_offsets span %d bytes, shape %v of %s needs %d", end-b, shape, dt, want)
		}
		h.Entries = append(h.Entries, HeaderEntry{Name: k, DType: dt, Shape: shape, Begin: b, End: end})
	}
	sort.Slice(h.Entries, func(i, j int) bool {
		if h.Entries[i].Begin != h.Entries[j].Begin {
			return h.Entries[i].Begin < h.Entries[j].Begin
		}
		return h.Entries[i].Name < h.Entries[j].Name
	})
	for i := 1; i < len(h.Entries); i++ {
		p, c := h.Entries[i-1], h.Entries[i]
		if c.Begin < p.End {
			return nil, bad(c.Name, "data overlaps tensor %q", p.Name)
		}
	}
	return h, nil
}

// ReadFile reads and decodes every tensor of one safetensors file.
func ReadFile(path string, opt Options) (map[string]*Tensor, *Header, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, nil, fmt.Errorf("safetensors: read %s: %w", path, err)
	}
	h, err := ParseHeader(path, data, int64(len(data)))
	if err != nil {
		return nil, nil, err
	}
	out := make(map[string]*Tensor, len(h.Entries))
	for _, e := range h.Entries {
		t, err := decode(e, data[h.DataOff+e.Begin:h.DataOff+e.End], opt)
		if err != nil {
			return nil, nil, &FormatError{File: path, Tensor: e.Name, Reason: err.Error()}
		}
		out[e.Name] = t
	}
	return out, h, nil
}

func decode(e HeaderEntry, b []byte, opt Options) (*Tensor, error) {
	n := numel(e.Shape)
	t := &Tensor{Name: e.Name, DType: e.DType, Shape: append([]int(nil), e.Shape...)}
	le := binary.LittleEndian
	switch e.DType {
	case F32:
		t.F32 = make([]float32, n)
		for i := range t.F32 {
			t.F32[i] = math.Float32frombits(le.Uint32(b[4*i:]))
		}
	case F64:
		t.F32 = make([]float32, n)
		for i := range t.F32 {
			t.F32[i] = float32(math.Float64frombits(le.Uint64(b[8*i:])))
		}
	case BF16:
		if opt.KeepBF16 {
			t.BF16 = make([]uint16, n)
			for i := range t.BF16 {
				t.BF16[i] = le.Uint16(b[2*i:])
			}
		} else {
			t.F32 = make([]float32, n)
			for i := range t.F32 {
				t.F32[i] = BF16ToF32(le.Uint16(b[2*i:]))
			}
		}
	case F16:
		t.F32 = make([]float32, n)
		for i := range t.F32 {
			t.F32[i] = F16ToF32(le.Uint16(b[2*i:]))
		}
	case I64, U64:
		t.I64 = make([]int64, n)
		for i := range t.I64 {
			t.I64[i] = int64(le.Uint64(b[8*i:]))
		}
	case I32:
		t.I64 = make([]int64, n)
		for i := range t.I64 {
			t.I64[i] = int64(int32(le.Uint32(b[4*i:])))
		}
	case U32:
		t.I64 = make([]int64, n)
		for i := range t.I64 {
			t.I64[i] = int64(le.Uint32(b[4*i:]))
		}
	case I16:
		t.I64 = make([]int64, n)
		for i := range t.I64 {
			t.I64[i] = int64(int16(le.Uint16(b[2*i:])))
		}
	case U16:
		t.I64 = make([]int64, n)
		for i := range t.I64 {
			t.I64[i] = int64(le.Uint16(b[2*i:]))
		}
	case I8:
		t.I64 = make([]int64, n)
		for i := range t.I64 {
			t.I64[i] = int64(int8(b[i]))
		}
	case U8, Bool:
		t.I64 = make([]int64, n)
		for i := range t.I64 {
			t.I64[i] = int64(b[i])
		}
	default:
		return nil, fmt.Errorf("unsupported dtype %q", e.DType)
	}
	return t, nil
}

// IndexFile is the name of the shard index in a sharded model directory.
const IndexFile = "model.safetensors.index.json"

// ReadDir reads all tensors of a Hugging Face model directory: the shards named
// by model.safetensors.index.json if present, otherwise model.safetensors.
// A tensor present in two shards, or listed in the index but missing from its
// shard, is an error naming both.
func ReadDir(dir string, opt Options) (map[string]*Tensor, error) {
	idxPath := filepath.Join(dir, IndexFile)
	raw, err := os.ReadFile(idxPath)
	if errors.Is(err, os.ErrNotExist) {
		ts, _, err := ReadFile(filepath.Join(dir, "model.safetensors"), opt)
		return ts, err
	}
	if err != nil {
		return nil, fmt.Errorf("safetensors: read %s: %w", idxPath, err)
	}
	var idx struct {
		WeightMap map[string]string `json:"weight_map"`
	}
	if err := json.Unmarshal(raw, &idx); err != nil {
		return nil, fmt.Errorf("safetensors: parse %s: %w", idxPath, err)
	}
	if len(idx.WeightMap) == 0 {
		return nil, fmt.Errorf("safetensors: %s: empty weight_map", idxPath)
	}
	shards := map[string]bool{}
	for name, f := range idx.WeightMap {
		if f == "" || filepath.Base(f) != f {
			return nil, fmt.Errorf("safetensors: %s: tensor %q: bad shard name %q", idxPath, name, f)
		}
		shards[f] = true
	}
	files := make([]string, 0, len(shards))
	for f := range shards {
		files = append(files, f)
	}
	sort.Strings(files)
	out := map[string]*Tensor{}
	from := map[string]string{}
	for _, f := range files {
		p := filepath.Join(dir, f)
		ts, _, err := ReadFile(p, opt)
		if err != nil {
			return nil, err
		}
		for name, t := range ts {
			if prev, dup := from[name]; dup {
				return nil, fmt.Errorf("safetensors: tensor %q in both %s and %s", name, prev, p)
			}
			if idx.WeightMap[name] != f {
				return nil, fmt.Errorf("safetensors: %s: tensor %q not listed for this shard in %s", p, name, idxPath)
			}
			from[name] = p
			out[name] = t
		}
	}
	for name, f := range idx.WeightMap {
		if _, ok := out[name]; !ok {
			return nil, fmt.Errorf("safetensors: %s: tensor %q listed in %s is missing", filepath.Join(dir, f), name, idxPath)
		}
	}
	return out, nil
}
