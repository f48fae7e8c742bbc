package dataset

import (
	"fmt"
	"strconv"
	"unicode/utf16"
	"unicode/utf8"
)

// jkind is the type of a JSON value.
type jkind uint8

const (
	jNull jkind = iota
	jFalse
	jTrue
	jNumber
	jString
	jArray
	jObject
)

func (k jkind) String() string {
	switch k {
	case jNull:
		return "null"
	case jFalse, jTrue:
		return "boolean"
	case jNumber:
		return "number"
	case jString:
		return "string"
	case jArray:
		return "array"
	}
	return "object"
}

// jnode is one value of a parsed line. Object members are a key node (a
// string) whose next is the value node, whose next is the following key.
type jnode struct {
	kind jkind
	esc  bool  // string holds escapes
	s, e int32 // strings: content without quotes; other values: their bytes
	// first is the first child (array element or object key), next the
	// following sibling; -1 for none.
	first, next int32
	n           int32 // number of elements or members
}

// jparser parses one JSON value in a single pass into a flat node list,
// iteratively (nesting is bounded by maxDepth, never by the goroutine
// stack). A parser is reused line after line; it is not safe for
// concurrent use.
type jparser struct {
	b     []byte
	nodes []jnode
	stack []int32 // open containers
	last  []int32 // last child of each open container
}

// jerror is a syntax error at byte offset off (0-based).
type jerror struct {
	off   int
	msg   string
	depth bool // nesting too deep
}

func (p *jparser) fail(off int, format string, args ...any) *jerror {
	return &jerror{off: off, msg: fmt.Sprintf(format, args...)}
}

func quoteChar(c byte) string {
	if c == '\'' {
		return `'\''`
	}
	if c == '"' {
		return `'"'`
	}
	if c < 0x20 || c >= 0x7f {
		q := strconv.Quote(string(rune(c)))
		return "'" + q[1:len(q)-1] + "'"
	}
	return "'" + string(c) + "'"
}

func isWS(c byte) bool { return c == ' ' || c == '\t' || c == '\n' || c == '\r' }

// parse parses b as exactly one JSON value; the root is node 0.
func (p *jparser) parse(b []byte, maxDepth int) *jerror {
	p.b, p.nodes, p.stack, p.last = b, p.nodes[:0], p.stack[:0], p.last[:0]
	i := 0
	n := len(b)
	skip := func() {
		for i < n && isWS(b[i]) {
			i++
		}
	}
	// add appends a node as the next child of the innermost container.
	add := func(nd jnode) int32 {
		nd.first, nd.next = -1, -1
		idx := int32(len(p.nodes))
		p.nodes = append(p.nodes, nd)
		if d := len(p.stack); d > 0 {
			parent := p.stack[d-1]
			if l := p.last[d-1]; l >= 0 {
				p.nodes[l].next = idx
			} else {
				p.nodes[parent].first = idx
			}
			p.last[d-1] = idx
		}
		return idx
	}
	// states after a value inside a container
	const (
		wantValue = iota
		wantKey
		afterKey
		afterValue
	)
	state := wantValue
	for {
		skip()
		if i >= n {
			return p.fail(n, "unexpected end of JSON input")
		}
		c := b[i]
		switch state {
		case wantKey:
			if c == '}' && p.nodes[p.stack[len(p.stack)-1]].n == 0 {
				goto closeContainer
			}
			if c != '"' {
				return p.fail(i, "invalid character %s looking for beginning of object key string", quoteChar(c))
			}
			s, e, esc, err := p.scanString(i)
			if err != nil {
				return err
			}
			add(jnode{kind: jString, s: int32(s), e: int32(e), esc: esc})
			i = e + 1
			state = afterKey
			continue
		case afterKey:
			if c != ':' {
				return p.fail(i, "invalid character %s after object key", quoteChar(c))
			}
			i++
			state = wantValue
			continue
		case afterValue:
			d := len(p.stack)
			if d == 0 {
				return p.fail(i, "invalid character %s after top-level value", quoteChar(c))
			}
			top := &p.nodes[p.stack[d-1]]
			switch {
			case c == ',':
				i++
				if top.kind == jObject {
					state = wantKey
				} else {
					state = wantValue
				}
				continue
			case c == '}' && top.kind == jObject, c == ']' && top.kind == jArray:
				goto closeContainer
			case top.kind == jObject:
				return p.fail(i, "invalid character %s after object key:value pair", quoteChar(c))
			default:
				return p.fail(i, "invalid character %s after array element", quoteChar(c))
			}
		}
		// wantValue
		switch {
		case c == '{' || c == '[':
			if len(p.stack) >= maxDepth {
				return &jerror{off: i, depth: true}
			}
			k := jObject
			if c == '[' {
				k = jArray
			}
			if d := len(p.stack); d > 0 {
				p.nodes[p.stack[d-1]].n++
			}
			idx := add(jnode{kind: k, s: int32(i)})
			p.stack = append(p.stack, idx)
			p.last = append(p.last, -1)
			i++
			if k == jObject {
				state = wantKey
			} else {
				skip()
				if i < n && b[i] == ']' {
					goto closeContainer
				}
				state = wantValue
			}
			continue
		case c == '"':
			s, e, esc, err := p.scanString(i)
			if err != nil {
				return err
			}
			p.countChild()
			add(jnode{kind: jString, s: int32(s), e: int32(e), esc: esc})
			i = e + 1
		case c == '-' || (c >= '0' && c <= '9'):
			e, err := p.scanNumber(i)
			if err != nil {
				return err
			}
			p.countChild()
			add(jnode{kind: jNumber, s: int32(i), e: int32(e)})
			i = e
		case c == 't' || c == 'f' || c == 'n':
			word, k := "true", jTrue
			if c == 'f' {
				word, k = "false", jFalse
			} else if c == 'n' {
				word, k = "null", jNull
			}
			for j := 0; j < len(word); j++ {
				if i+j >= n {
					return p.fail(n, "unexpected end of JSON input")
				}
				if b[i+j] != word[j] {
					return p.fail(i+j, "invalid character %s in literal %s (expecting '%c')", quoteChar(b[i+j]), word, word[j])
				}
			}
			p.countChild()
			add(jnode{kind: k, s: int32(i), e: int32(i + len(word))})
			i += len(word)
		default:
			return p.fail(i, "invalid character %s looking for beginning of value", quoteChar(c))
		}
		state = afterValue
		if len(p.stack) == 0 {
			goto done
		}
		continue
	closeContainer:
		{
			d := len(p.stack)
			p.nodes[p.stack[d-1]].e = int32(i + 1)
			p.stack, p.last = p.stack[:d-1], p.last[:d-1]
			i++
			state = afterValue
			if d == 1 {
				goto done
			}
			continue
		}
	done:
		skip()
		if i < n {
			return p.fail(i, "invalid character %s after top-level value", quoteChar(b[i]))
		}
		return nil
	}
}

// countChild counts a scalar child of the innermost container.
func (p *jparser) countChild() {
	if d := len(p.stack); d > 0 {
		p.nodes[p.stack[d-1]].n++
	}
}

// scanString scans the string starting at the quote at i and returns its
// content span [s, e) (e is the closing quote).
func (p *jparser) scanString(i int) (s, e int, esc bool, err *jerror) {
	b := p.b
	s = i + 1
	for j := s; j < len(b); j++ {
		c := b[j]
		switch {
		case c == '"':
			return s, j, esc, nil
		case c == '\\':
			esc = true
			j++
			if j >= len(b) {
				return 0, 0, false, p.fail(len(b), "unexpected end of JSON input")
			}
			switch b[j] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
			case 'u':
				for k := 1; k <= 4; k++ {
					if j+k >= len(b) {
						return 0, 0, false, p.fail(len(b), "unexpected end of JSON input")
					}
					if !isHex(b[j+k]) {
						return 0, 0, false, p.fail(j+k, "invalid character %s in \\u hexadecimal character escape", quoteChar(b[j+k]))
					}
				}
				j += 4
			default:
				return 0, 0, false, p.fail(j, "invalid character %s in string escape code", quoteChar(b[j]))
			}
		case c < 0x20:
			return 0, 0, false, p.fail(j, "invalid character %s in string literal", quoteChar(c))
		}
	}
	return 0, 0, false, p.fail(len(b), "unexpected end of JSON input")
}

func isHex(c byte) bool {
	return c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F'
}

// scanNumber scans -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)? at i.
func (p *jparser) scanNumber(i int) (int, *jerror) {
	b := p.b
	j := i
	digits := func() int {
		k := j
		for j < len(b) && b[j] >= '0' && b[j] <= '9' {
			j++
		}
		return j - k
	}
	need := func(what string) *jerror {
		if j >= len(b) {
			return p.fail(len(b), "unexpected end of JSON input")
		}
		return p.fail(j, "invalid character %s in numeric literal (%s)", quoteChar(b[j]), what)
	}
	if b[j] == '-' {
		j++
	}
	if j < len(b) && b[j] == '0' {
		j++
	} else if digits() == 0 {
		return 0, need("want a digit")
	}
	if j < len(b) && b[j] == '.' {
		j++
		if digits() == 0 {
			return 0, need("want a digit after the decimal point")
		}
	}
	if j < len(b) && (b[j] == 'e' || b[j] == 'E') {
		j++
		if j < len(b) && (b[j] == '+' || b[j] == '-') {
			j++
		}
		if digits() == 0 {
			return 0, need("want an exponent digit")
		}
	}
	return j, nil
}

// str returns the decoded value of string node i. Invalid escapes cannot
// occur (the scanner refused them); unpaired surrogates become U+FFFD, as
// encoding/json does.
func (p *jparser) str(i int32) string {
	nd := &p.nodes[i]
	raw := p.b[nd.s:nd.e]
	if !nd.esc {
		return string(raw)
	}
	out := make([]byte, 0, len(raw))
	for j := 0; j < len(raw); j++ {
		c := raw[j]
		if c != '\\' {
			out = append(out, c)
			continue
		}
		j++
		switch raw[j] {
		case 'b':
			out = append(out, '\b')
		case 'f':
			out = append(out, '\f')
		case 'n':
			out = append(out, '\n')
		case 'r':
			out = append(out, '\r')
		case 't':
			out = append(out, '\t')
		case 'u':
			r := hex4(raw[j+1 : j+5])
			j += 4
			if utf16.IsSurrogate(r) {
				if j+6 < len(raw) && raw[j+1] == '\\' && raw[j+2] == 'u' {
					if r2 := hex4(raw[j+3 : j+7]); utf16.DecodeRune(r, r2) != utf8.RuneError {
						r = utf16.DecodeRune(r, r2)
						j += 6
						out = utf8.AppendRune(out, r)
						continue
					}
				}
				r = utf8.RuneError
			}
			out = utf8.AppendRune(out, r)
		default: // '"', '\\', '/'
			out = append(out, raw[j])
		}
	}
	return string(out)
}

func hex4(b []byte) rune {
	var r rune
	for _, c := range b {
		r <<= 4
		switch {
		case c >= '0' && c <= '9':
			r |= rune(c - '0')
		case c >= 'a' && c <= 'f':
			r |= rune(c - 'a' + 10)
		default:
			r |= rune(c - 'A' + 10)
		}
	}
	return r
}

// keyIs reports whether string node k equals key.
func (p *jparser) keyIs(k int32, key string) bool {
	nd := &p.nodes[k]
	if !nd.esc {
		return string(p.b[nd.s:nd.e]) == key
	}
	return p.str(k) == key
}

// get returns the value of key in object node obj (the last one if the key
// repeats), or -1.
func (p *jparser) get(obj int32, key string) int32 {
	v := int32(-1)
	for k := p.nodes[obj].first; k >= 0; {
		val := p.nodes[k].next
		if p.keyIs(k, key) {
			v = val
		}
		k = p.nodes[val].next
	}
	return v
}

// keys returns the decoded keys of object node obj in order.
func (p *jparser) keys(obj int32) []string {
	var out []string
	for k := p.nodes[obj].first; k >= 0; k = p.nodes[p.nodes[k].next].next {
		out = append(out, p.str(k))
	}
	return out
}

// elems returns the element nodes of array node arr.
func (p *jparser) elems(arr int32) []int32 {
	out := make([]int32, 0, p.nodes[arr].n)
	for e := p.nodes[arr].first; e >= 0; e = p.nodes[e].next {
		out = append(out, e)
	}
	return out
}
