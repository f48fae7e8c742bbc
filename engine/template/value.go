package template

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"reflect"
	"sort"
	"strconv"
	"strings"

	"github.com/nikolalohinski/gonja/v2/exec"
)

// decodeOrdered decodes JSON keeping object key order: objects become
// *exec.Dict, arrays []any, numbers int or float64.
func decodeOrdered(data []byte) (any, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	v, err := decodeValue(dec)
	if err != nil {
		return nil, err
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return nil, errors.New("trailing data after JSON value")
	}
	return v, nil
}

func decodeValue(dec *json.Decoder) (any, error) {
	tok, err := dec.Token()
	if err != nil {
		return nil, err
	}
	switch t := tok.(type) {
	case json.Delim:
		switch t {
		case '{':
			d := exec.NewDict()
			for dec.More() {
				kt, err := dec.Token()
				if err != nil {
					return nil, err
				}
				k, _ := kt.(string)
				v, err := decodeValue(dec)
				if err != nil {
					return nil, err
				}
				d.Pairs = append(d.Pairs, &exec.Pair{Key: exec.AsValue(k), Value: exec.AsValue(v)})
			}
			if _, err := dec.Token(); err != nil {
				return nil, err
			}
			return d, nil
		case '[':
			l := pyList{}
			for dec.More() {
				v, err := decodeValue(dec)
				if err != nil {
					return nil, err
				}
				l = append(l, v)
			}
			if _, err := dec.Token(); err != nil {
				return nil, err
			}
			return l, nil
		}
	case json.Number:
		if i, err := strconv.ParseInt(t.String(), 10, 64); err == nil {
			return int(i), nil
		}
		f, err := t.Float64()
		if err != nil {
			return nil, err
		}
		return f, nil
	case string, bool, nil:
		return t, nil
	}
	return nil, fmt.Errorf("unexpected JSON token %v", tok)
}

// pyJSON writes v like Python's json.dumps(v, ensure_ascii, indent,
// separators, sort_keys).
type pyJSON struct {
	ensureASCII bool
	indent      string
	hasIndent   bool
	itemSep     string
	keySep      string
	sortKeys    bool
}

func (p *pyJSON) dump(sb *strings.Builder, v any, depth int) error {
	if ev, ok := v.(*exec.Value); ok {
		v = ev.Interface()
	}
	switch x := v.(type) {
	case nil:
		sb.WriteString("null")
		return nil
	case bool:
		if x {
			sb.WriteString("true")
		} else {
			sb.WriteString("false")
		}
		return nil
	case string:
		p.str(sb, x)
		return nil
	case int:
		sb.WriteString(strconv.Itoa(x))
		return nil
	case int64:
		sb.WriteString(strconv.FormatInt(x, 10))
		return nil
	case int32:
		sb.WriteString(strconv.FormatInt(int64(x), 10))
		return nil
	case float64:
		sb.WriteString(pyFloat(x))
		return nil
	case float32:
		sb.WriteString(pyFloat(float64(x)))
		return nil
	case exec.Dict:
		return p.dict(sb, x.Pairs, depth)
	case *exec.Dict:
		return p.dict(sb, x.Pairs, depth)
	case []any:
		return p.list(sb, len(x), func(i int) any { return x[i] }, depth)
	case pyList:
		return p.list(sb, len(x), func(i int) any { return x[i] }, depth)
	case map[string]any:
		keys := make([]string, 0, len(x))
		for k := range x {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		pairs := make([]*exec.Pair, len(keys))
		for i, k := range keys {
			pairs[i] = &exec.Pair{Key: exec.AsValue(k), Value: exec.AsValue(x[k])}
		}
		return p.dict(sb, pairs, depth)
	case error:
		return x
	}
	rv := reflect.ValueOf(v)
	switch rv.Kind() {
	case reflect.Slice, reflect.Array:
		return p.list(sb, rv.Len(), func(i int) any { return rv.Index(i).Interface() }, depth)
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		fmt.Fprint(sb, v)
		return nil
	case reflect.Pointer:
		if rv.IsNil() {
			sb.WriteString("null")
			return nil
		}
		return p.dump(sb, rv.Elem().Interface(), depth)
	}
	return fmt.Errorf("tojson: object of type %T is not JSON serializable", v)
}

func (p *pyJSON) newline(sb *strings.Builder, depth int) {
	sb.WriteByte('\n')
	for range depth {
		sb.WriteString(p.indent)
	}
}

func (p *pyJSON) list(sb *strings.Builder, n int, at func(int) any, depth int) error {
	if n == 0 {
		sb.WriteString("[]")
		return nil
	}
	sb.WriteByte('[')
	for i := range n {
		if i > 0 {
			sb.WriteString(p.itemSep)
		}
		if p.hasIndent {
			p.newline(sb, depth+1)
		}
		if err := p.dump(sb, at(i), depth+1); err != nil {
			return err
		}
	}
	if p.hasIndent {
		p.newline(sb, depth)
	}
	sb.WriteByte(']')
	return nil
}

func (p *pyJSON) dict(sb *strings.Builder, pairs []*exec.Pair, depth int) error {
	if len(pairs) == 0 {
		sb.WriteString("{}")
		return nil
	}
	if p.sortKeys {
		pairs = append([]*exec.Pair(nil), pairs...)
		sort.SliceStable(pairs, func(i, j int) bool { return pairs[i].Key.String() < pairs[j].Key.String() })
	}
	sb.WriteByte('{')
	for i, kv := range pairs {
		if i > 0 {
			sb.WriteString(p.itemSep)
		}
		if p.hasIndent {
			p.newline(sb, depth+1)
		}
		k := kv.Key.Interface()
		switch kk := k.(type) {
		case string:
			p.str(sb, kk)
		case bool, nil, int, float64:
			var tmp strings.Builder
			if err := p.dump(&tmp, kk, 0); err != nil {
				return err
			}
			p.str(sb, tmp.String())
		default:
			return fmt.Errorf("tojson: keys must be str, int, float, bool or None, not %T", k)
		}
		sb.WriteString(p.keySep)
		if err := p.dump(sb, kv.Value, depth+1); err != nil {
			return err
		}
	}
	if p.hasIndent {
		p.newline(sb, depth)
	}
	sb.WriteByte('}')
	return nil
}

func (p *pyJSON) str(sb *strings.Builder, s string) {
	sb.WriteByte('"')
	for _, r := range s {
		switch r {
		case '"':
			sb.WriteString(`\"`)
		case '\\':
			sb.WriteString(`\\`)
		case '\n':
			sb.WriteString(`\n`)
		case '\r':
			sb.WriteString(`\r`)
		case '\t':
			sb.WriteString(`\t`)
		case '\b':
			sb.WriteString(`\b`)
		case '\f':
			sb.WriteString(`\f`)
		default:
			switch {
			case r < 0x20 || (p.ensureASCII && r == 0x7f):
				fmt.Fprintf(sb, `\u%04x`, r)
			case p.ensureASCII && r > 0x7e:
				if r > 0xFFFF {
					r -= 0x10000
					fmt.Fprintf(sb, `\u%04x\u%04x`, 0xD800+(r>>10), 0xDC00+(r&0x3FF))
				} else {
					fmt.Fprintf(sb, `\u%04x`, r)
				}
			default:
				sb.WriteRune(r)
			}
		}
	}
	sb.WriteByte('"')
}

// pyFloat formats like Python's float repr.
func pyFloat(f float64) string {
	switch {
	case math.IsNaN(f):
		return "NaN"
	case math.IsInf(f, 1):
		return "Infinity"
	case math.IsInf(f, -1):
		return "-Infinity"
	}
	abs := math.Abs(f)
	if abs != 0 && (abs >= 1e16 || abs < 1e-4) {
		return strconv.FormatFloat(f, 'e', -1, 64)
	}
	s := strconv.FormatFloat(f, 'f', -1, 64)
	if !strings.ContainsAny(s, ".") {
		s += ".0"
	}
	return s
}
