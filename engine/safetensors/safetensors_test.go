package safetensors

import (
	"encoding/binary"
	"errors"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// file builds a safetensors file from a raw JSON header and data length.
func file(header string, data int) []byte {
	b := binary.LittleEndian.AppendUint64(nil, uint64(len(header)))
	b = append(b, header...)
	return append(b, make([]byte, data)...)
}

var headerTests = []struct {
	name    string
	data    []byte
	wantErr string // substring; "" means valid
}{
	{"valid", file(`{"a":{"dtype":"F32","shape":[2,2],"data_offsets":[0,16]},"__metadata__":{"format":"pt"}}`, 16), ""},
	{"scalar", file(`{"s":{"dtype":"BF16","shape":[],"data_offsets":[0,2]}}`, 2), ""},
	{"empty tensor", file(`{"e":{"dtype":"F32","shape":[0,4],"data_offsets":[0,0]}}`, 0), ""},
	{"too short", []byte{1, 2, 3}, "too short"},
	{"zero header length", append(make([]byte, 8), '{', '}'), "out of range"},
	{"header length beyond file", binary.LittleEndian.AppendUint64(nil, 1000), "exceeds file size"},
	{"not json", file(`{"a":`, 0), "not a JSON object"},
	{"json array", file(`[1,2]`, 0), "not a JSON object"},
	{"missing field", file(`{"a":{"dtype":"F32","shape":[1]}}`, 4), "needs dtype"},
	{"unknown dtype", file(`{"a":{"dtype":"F8","shape":[1],"data_offsets":[0,1]}}`, 1), "unsupported dtype"},
	{"negative dim", file(`{"a":{"dtype":"F32","shape":[-1],"data_offsets":[0,4]}}`, 4), "dimension"},
	{"offsets beyond data", file(`{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}`, 4), "outside the data section"},
	{"offsets reversed", file(`{"a":{"dtype":"F32","shape":[1],"data_offsets":[4,0]}}`, 4), "outside the data section"},
	{"size mismatch", file(`{"a":{"dtype":"F32","shape":[3],"data_offsets":[0,8]}}`, 8), "needs 12"},
	{"overlap", file(`{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}}`, 12), "overlaps"},
	{"three offsets", file(`{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4,8]}}`, 8), "2 values"},
	{"bad metadata", file(`{"__metadata__":{"a":1}}`, 0), "__metadata__"},
	{"huge shape", file(`{"a":{"dtype":"F64","shape":[2147483647,2147483647,2147483647],"data_offsets":[0,8]}}`, 8), "too large"},
	{"extra field", file(`{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4],"x":1}}`, 4), "bad header entry"},
}

func TestParseHeader(t *testing.T) {
	for _, tt := range headerTests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ParseHeader("x.safetensors", tt.data, int64(len(tt.data)))
			if tt.wantErr == "" {
				if err != nil {
					t.Fatalf("ParseHeader: %v", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("ParseHeader err = %v, want containing %q", err, tt.wantErr)
			}
			if !errors.Is(err, ErrFormat) || !strings.Contains(err.Error(), "x.safetensors") {
				t.Errorf("error %v should be ErrFormat and name the file", err)
			}
		})
	}
}

func TestParseHeaderNamesTensor(t *testing.T) {
	d := file(`{"model.norm.weight":{"dtype":"F32","shape":[3],"data_offsets":[0,8]}}`, 8)
	_, err := ParseHeader("m.safetensors", d, int64(len(d)))
	var fe *FormatError
	if !errors.As(err, &fe) || fe.Tensor != "model.norm.weight" || fe.File != "m.safetensors" {
		t.Fatalf("err = %#v, want FormatError naming file and tensor", err)
	}
}

func FuzzSafetensorsHeader(f *testing.F) {
	for _, tt := range headerTests {
		f.Add(tt.data)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		h, err := ParseHeader("fuzz", data, int64(len(data)))
		if err != nil {
			return
		}
		// A valid header's entries must lie in the file and decode without panicking.
		for _, e := range h.Entries {
			if h.DataOff+e.End > int64(len(data)) || e.Begin > e.End {
				t.Fatalf("entry %q out of file", e.Name)
			}
			if _, err := decode(e, data[h.DataOff+e.Begin:h.DataOff+e.End], Options{KeepBF16: true}); err != nil {
				t.Fatalf("decode %q: %v", e.Name, err)
			}
		}
	})
}

func TestRoundTrip(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "m.safetensors")
	in := []*Tensor{
		{Name: "w", DType: F32, Shape: []int{2, 3}, F32: []float32{1, -2, 3.5, 0, float32(math.Inf(1)), 1e-30}},
		{Name: "b", DType: BF16, Shape: []int{2}, F32: []float32{1.5, -0.25}},
		{Name: "h", DType: F16, Shape: []int{3}, F32: []float32{65504, -1e-7, 0.1}},
		{Name: "i", DType: I32, Shape: []int{2}, I64: []int64{-100, 7}},
		{Name: "l", DType: I64, Shape: []int{1}, I64: []int64{1 << 40}},
	}
	if err := WriteFile(p, in, map[string]string{"format": "pt"}); err != nil {
		t.Fatal(err)
	}
	got, h, err := ReadFile(p, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if h.Metadata["format"] != "pt" {
		t.Errorf("metadata = %v", h.Metadata)
	}
	if diff := cmp.Diff(in[0].F32, got["w"].F32); diff != "" {
		t.Errorf("F32 (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]float32{1.5, -0.25}, got["b"].F32); diff != "" {
		t.Errorf("BF16 (-want +got):\n%s", diff)
	}
	wantH := []float32{65504, F16ToF32(F32ToF16(-1e-7)), F16ToF32(F32ToF16(0.1))}
	if diff := cmp.Diff(wantH, got["h"].F32); diff != "" || math.Abs(float64(got["h"].F32[2])-0.1) > 1e-4 {
		t.Errorf("F16 (-want +got):\n%s %v", diff, got["h"].F32)
	}
	if diff := cmp.Diff([]int64{-100, 7}, got["i"].I64); diff != "" {
		t.Errorf("I32 (-want +got):\n%s", diff)
	}
	if got["l"].I64[0] != 1<<40 {
		t.Errorf("I64 = %v", got["l"].I64)
	}
	kept, _, err := ReadFile(p, Options{KeepBF16: true})
	if err != nil {
		t.Fatal(err)
	}
	if kept["b"].BF16 == nil || kept["b"].F32 != nil || kept["b"].Float32()[0] != 1.5 {
		t.Errorf("KeepBF16: %+v", kept["b"])
	}
	// No temporary files left behind.
	ents, _ := os.ReadDir(dir)
	if len(ents) != 1 {
		t.Errorf("dir holds %d entries, want 1", len(ents))
	}
}

func TestWriteErrors(t *testing.T) {
	p := filepath.Join(t.TempDir(), "x.safetensors")
	tests := []struct {
		name string
		ts   []*Tensor
	}{
		{"duplicate", []*Tensor{{Name: "a", DType: F32, Shape: []int{1}, F32: []float32{1}}, {Name: "a", DType: F32, Shape: []int{1}, F32: []float32{1}}}},
		{"short data", []*Tensor{{Name: "a", DType: F32, Shape: []int{2}, F32: []float32{1}}}},
		{"empty name", []*Tensor{{Name: "", DType: F32, Shape: []int{1}, F32: []float32{1}}}},
		{"bad dtype", []*Tensor{{Name: "a", DType: "Q4", Shape: []int{1}, F32: []float32{1}}}},
	}
	for _, tt := range tests {
		if err := WriteFile(p, tt.ts, nil); err == nil {
			t.Errorf("%s: WriteFile succeeded", tt.name)
		}
	}
}

func TestReadDirSharded(t *testing.T) {
	dir := t.TempDir()
	w := func(name string, ts ...*Tensor) {
		if err := WriteFile(filepath.Join(dir, name), ts, nil); err != nil {
			t.Fatal(err)
		}
	}
	w("model-00001-of-00002.safetensors", &Tensor{Name: "a", DType: F32, Shape: []int{1}, F32: []float32{1}})
	w("model-00002-of-00002.safetensors", &Tensor{Name: "b", DType: BF16, Shape: []int{1}, F32: []float32{2}})
	idx := `{"metadata":{},"weight_map":{"a":"model-00001-of-00002.safetensors","b":"model-00002-of-00002.safetensors"}}`
	if err := os.WriteFile(filepath.Join(dir, IndexFile), []byte(idx), 0o644); err != nil {
		t.Fatal(err)
	}
	ts, err := ReadDir(dir, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if len(ts) != 2 || ts["a"].F32[0] != 1 || ts["b"].F32[0] != 2 {
		t.Fatalf("ReadDir = %v", ts)
	}
	// Index names a tensor no shard holds.
	bad := `{"weight_map":{"a":"model-00001-of-00002.safetensors","b":"model-00002-of-00002.safetensors","c":"model-00002-of-00002.safetensors"}}`
	os.WriteFile(filepath.Join(dir, IndexFile), []byte(bad), 0o644)
	if _, err := ReadDir(dir, Options{}); err == nil || !strings.Contains(err.Error(), `"c"`) {
		t.Errorf("missing tensor: err = %v", err)
	}
	// Path escape in shard name.
	esc := `{"weight_map":{"a":"../x.safetensors"}}`
	os.WriteFile(filepath.Join(dir, IndexFile), []byte(esc), 0o644)
	if _, err := ReadDir(dir, Options{}); err == nil || !strings.Contains(err.Error(), "bad shard name") {
		t.Errorf("escaping shard: err = %v", err)
	}
}

func TestTruncatedFile(t *testing.T) {
	p := filepath.Join(t.TempDir(), "t.safetensors")
	if err := WriteFile(p, []*Tensor{{Name: "w", DType: F32, Shape: []int{4}, F32: []float32{1, 2, 3, 4}}}, nil); err != nil {
		t.Fatal(err)
	}
	data, _ := os.ReadFile(p)
	os.WriteFile(p, data[:len(data)-3], 0o644)
	_, _, err := ReadFile(p, Options{})
	if !errors.Is(err, ErrFormat) || !strings.Contains(err.Error(), `"w"`) || !strings.Contains(err.Error(), p) {
		t.Fatalf("truncated: err = %v, want ErrFormat naming file and tensor", err)
	}
}

func TestHalfConversions(t *testing.T) {
	for _, f := range []float32{0, 1, -2, 0.5, 65504, 6.1035156e-05, 5.9604645e-08, -3.75} {
		if got := F16ToF32(F32ToF16(f)); got != f {
			t.Errorf("f16 round trip %v = %v", f, got)
		}
	}
	if !math.IsInf(float64(F16ToF32(F32ToF16(70000))), 1) {
		t.Error("f16 overflow should be +Inf")
	}
	if b := F32ToBF16(float32(math.NaN())); !math.IsNaN(float64(BF16ToF32(b))) {
		t.Error("bf16 NaN lost")
	}
	// nearest-even: 1 + 2^-8 is a tie between 1 and 1+2^-7 → 1.
	if got := BF16ToF32(F32ToBF16(1 + 1.0/256)); got != 1 {
		t.Errorf("bf16 tie = %v, want 1", got)
	}
}
