package safetensors

import (
	"encoding/binary"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"sort"
)

// WriteFile writes tensors to path atomically (temporary file in the same
// directory, fsync, rename). Each tensor is written as its DType: F32 from
// Tensor.F32, BF16 from Tensor.BF16 (or rounded from F32), F16 rounded from F32,
// I32/I64 from Tensor.I64. Names must be unique and non-empty.
func WriteFile(path string, tensors []*Tensor, metadata map[string]string) error {
	ts := append([]*Tensor(nil), tensors...)
	sort.Slice(ts, func(i, j int) bool { return ts[i].Name < ts[j].Name })
	type entry struct {
		DType   DType   `json:"dtype"`
		Shape   []int   `json:"shape"`
		Offsets []int64 `json:"data_offsets"`
	}
	hdr := map[string]any{}
	if len(metadata) > 0 {
		hdr["__metadata__"] = metadata
	}
	var off int64
	for i, t := range ts {
		if t.Name == "" || t.Name == "__metadata__" {
			return fmt.Errorf("safetensors: write %s: bad tensor name %q", path, t.Name)
		}
		if i > 0 && ts[i-1].Name == t.Name {
			return fmt.Errorf("safetensors: write %s: duplicate tensor %q", path, t.Name)
		}
		n := int64(numel(t.Shape))
		have := len(t.F32) + len(t.BF16) + len(t.I64)
		if int64(have) != n {
			return fmt.Errorf("safetensors: write %s: tensor %q: shape %v needs %d values, have %d", path, t.Name, t.Shape, n, have)
		}
		sz := int64(t.DType.Size())
		if sz == 0 || (t.DType != F32 && t.DType != BF16 && t.DType != F16 && t.DType != I32 && t.DType != I64) {
			return fmt.Errorf("safetensors: write %s: tensor %q: cannot write dtype %q", path, t.Name, t.DType)
		}
		shape := t.Shape
		if shape == nil {
			shape = []int{}
		}
		hdr[t.Name] = entry{DType: t.DType, Shape: shape, Offsets: []int64{off, off + n*sz}}
		off += n * sz
	}
	h, err := json.Marshal(hdr)
	if err != nil {
		return fmt.Errorf("safetensors: write %s: %w", path, err)
	}
	for len(h)%8 != 0 {
		h = append(h, ' ')
	}
	buf := make([]byte, 0, 8+len(h)+int(off))
	buf = binary.LittleEndian.AppendUint64(buf, uint64(len(h)))
	buf = append(buf, h...)
	le := binary.LittleEndian
	for _, t := range ts {
		switch t.DType {
		case F32:
			for _, v := range t.Float32() {
				buf = le.AppendUint32(buf, math.Float32bits(v))
			}
		case BF16:
			if t.BF16 != nil {
				for _, v := range t.BF16 {
					buf = le.AppendUint16(buf, v)
				}
			} else {
				for _, v := range t.Float32() {
					buf = le.AppendUint16(buf, F32ToBF16(v))
				}
			}
		case F16:
			for _, v := range t.Float32() {
				buf = le.AppendUint16(buf, F32ToF16(v))
			}
		case I32:
			for _, v := range t.I64 {
				buf = le.AppendUint32(buf, uint32(int32(v)))
			}
		case I64:
			for _, v := range t.I64 {
				buf = le.AppendUint64(buf, uint64(v))
			}
		}
	}
	return WriteAtomic(path, buf)
}

// WriteAtomic writes data to path through a temporary file in the same
// directory, fsyncs it, renames it into place and fsyncs the directory.
func WriteAtomic(path string, data []byte) error {
	dir := filepath.Dir(path)
	f, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp*")
	if err != nil {
		return fmt.Errorf("safetensors: write %s: %w", path, err)
	}
	tmp := f.Name()
	ok := false
	defer func() {
		if !ok {
			f.Close()
			os.Remove(tmp)
		}
	}()
	if _, err := f.Write(data); err != nil {
		return fmt.Errorf("safetensors: write %s: %w", path, err)
	}
	if err := f.Sync(); err != nil {
		return fmt.Errorf("safetensors: sync %s: %w", path, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("safetensors: close %s: %w", path, err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return fmt.Errorf("safetensors: rename %s: %w", path, err)
	}
	ok = true
	if d, err := os.Open(dir); err == nil {
		d.Sync()
		d.Close()
	}
	return nil
}

// BF16ToF32 widens bfloat16 bits to float32 (exact).
func BF16ToF32(b uint16) float32 { return math.Float32frombits(uint32(b) << 16) }

// F32ToBF16 rounds a float32 to bfloat16 bits, nearest-even, keeping NaN a NaN
// (as torch's .to(torch.bfloat16)).
func F32ToBF16(f float32) uint16 {
	u := math.Float32bits(f)
	if u&0x7fffffff > 0x7f800000 {
		return uint16(u>>16) | 0x40
	}
	u += 0x7fff + (u>>16)&1
	return uint16(u >> 16)
}

// F16ToF32 widens IEEE half bits to float32 (exact, subnormals included).
func F16ToF32(h uint16) float32 {
	sign := uint32(h>>15) << 31
	exp := uint32(h>>10) & 0x1f
	mant := uint32(h) & 0x3ff
	switch {
	case exp == 0x1f:
		return math.Float32frombits(sign | 0x7f800000 | mant<<13)
	case exp == 0:
		if mant == 0 {
			return math.Float32frombits(sign)
		}
		f := float32(mant) / 1024 / 16384 // mant * 2^-24
		if sign != 0 {
			return -f
		}
		return f
	}
	return math.Float32frombits(sign | (exp+112)<<23 | mant<<13)
}

// F32ToF16 rounds a float32 to IEEE half bits, nearest-even, with overflow to
// infinity.
func F32ToF16(f float32) uint16 {
	u := math.Float32bits(f)
	sign := uint16(u>>16) & 0x8000
	a := u & 0x7fffffff
	switch {
	case a > 0x7f800000:
		return sign | 0x7e00
	case a >= 0x477ff000: // rounds to >= 65536 → inf
		return sign | 0x7c00
	case a < 0x38800000: // below the smallest normal half: subnormal or zero
		v := math.Float32frombits(a) * (1 << 24) // in units of 2^-24
		r := uint16(math.RoundToEven(float64(v)))
		return sign | r
	}
	e := (a >> 23) - 112
	m := a & 0x7fffff
	h := uint32(e)<<10 | m>>13
	rem := m & 0x1fff
	if rem > 0x1000 || (rem == 0x1000 && h&1 == 1) {
		h++
	}
	return sign | uint16(h)
}
