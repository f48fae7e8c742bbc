package template

import (
	"errors"
	"fmt"
	"sort"
	"strings"
	"unicode"

	"github.com/nikolalohinski/gonja/v2/builtins"
	controlStructures "github.com/nikolalohinski/gonja/v2/builtins/control_structures"
	"github.com/nikolalohinski/gonja/v2/exec"
	"github.com/nikolalohinski/gonja/v2/nodes"
	"github.com/nikolalohinski/gonja/v2/parser"
)

// This file closes gaps between gonja and Python's jinja2 as transformers
// configures it, found by the golden tests.

// pyStrMethods overrides string methods whose gonja versions differ from
// Python's (no-argument strip/split, replace without count).
func pyStrMethods(base *exec.MethodSet[string]) *exec.MethodSet[string] {
	m := map[string]exec.Method[string]{}
	for _, name := range []string{"capitalize", "casefold", "center", "count", "encode", "endswith", "expandtabs", "find",
		"format", "format_map", "isalnum", "isalpha", "isascii", "isdecimal", "isdigit", "islower", "isnumeric",
		"isprintable", "isspace", "istitle", "isupper", "join", "ljust", "lower", "partition", "removeprefix",
		"removesuffix", "rfind", "rjust", "rpartition", "splitlines", "swapcase", "title", "upper", "zfill"} {
		if fn, ok := base.Get(name); ok {
			m[name] = fn
		}
	}
	optString := func(args *exec.VarArgs, i int) (string, bool, error) {
		if len(args.Args) <= i || args.Args[i].IsNil() {
			return "", false, nil
		}
		if !args.Args[i].IsString() {
			return "", false, fmt.Errorf("argument %d must be str or None", i+1)
		}
		return args.Args[i].String(), true, nil
	}
	stripper := func(left, right bool) exec.Method[string] {
		return func(self string, _ *exec.Value, args *exec.VarArgs) (any, error) {
			if len(args.Args) > 1 {
				return nil, errors.New("strip takes at most 1 argument")
			}
			chars, ok, err := optString(args, 0)
			if err != nil {
				return nil, err
			}
			f := unicode.IsSpace
			if ok {
				f = func(r rune) bool { return strings.ContainsRune(chars, r) }
			}
			if left {
				self = strings.TrimLeftFunc(self, f)
			}
			if right {
				self = strings.TrimRightFunc(self, f)
			}
			return self, nil
		}
	}
	affix := func(suffix bool) exec.Method[string] {
		return func(self string, _ *exec.Value, args *exec.VarArgs) (any, error) {
			if len(args.Args) < 1 || len(args.Args) > 3 {
				return nil, errors.New("startswith/endswith take 1 to 3 arguments")
			}
			rs := []rune(self)
			a, e := 0, len(rs)
			clamp := func(i int) int {
				if i < 0 {
					i += len(rs)
				}
				return min(max(i, 0), len(rs))
			}
			if len(args.Args) > 1 && !args.Args[1].IsNil() {
				a = clamp(args.Args[1].Integer())
			}
			if len(args.Args) > 2 && !args.Args[2].IsNil() {
				e = clamp(args.Args[2].Integer())
			}
			if a > e {
				return false, nil
			}
			sub := string(rs[a:e])
			var cands []string
			if p := args.Args[0]; p.IsString() {
				cands = []string{p.String()}
			} else if p.IsList() {
				for i := range p.Len() {
					cands = append(cands, p.Index(i).String())
				}
			} else {
				return nil, errors.New("TypeError: startswith/endswith first arg must be str or a tuple of str")
			}
			for _, c := range cands {
				if (suffix && strings.HasSuffix(sub, c)) || (!suffix && strings.HasPrefix(sub, c)) {
					return true, nil
				}
			}
			return false, nil
		}
	}
	m["startswith"] = affix(false)
	m["endswith"] = affix(true)
	m["strip"] = stripper(true, true)
	m["lstrip"] = stripper(true, false)
	m["rstrip"] = stripper(false, true)
	splitter := func(fromRight bool) exec.Method[string] {
		return func(self string, _ *exec.Value, args *exec.VarArgs) (any, error) {
			sep, hasSep, err := optString(args, 0)
			if err != nil {
				return nil, err
			}
			if v, ok := args.KwArgs["sep"]; ok && !v.IsNil() {
				sep, hasSep = v.String(), true
			}
			maxsplit := -1
			if len(args.Args) > 1 {
				maxsplit = args.Args[1].Integer()
			}
			if v, ok := args.KwArgs["maxsplit"]; ok {
				maxsplit = v.Integer()
			}
			var parts []string
			switch {
			case hasSep && sep == "":
				return nil, errors.New("ValueError: empty separator")
			case hasSep && maxsplit < 0:
				parts = strings.Split(self, sep)
			case hasSep && !fromRight:
				parts = strings.SplitN(self, sep, maxsplit+1)
			case hasSep:
				parts = rsplitN(self, sep, maxsplit)
			default:
				parts = pyWhitespaceSplit(self, maxsplit, fromRight)
			}
			out := make(pyList, len(parts))
			for i, p := range parts {
				out[i] = p
			}
			return out, nil
		}
	}
	m["split"] = splitter(false)
	m["rsplit"] = splitter(true)
	m["replace"] = func(self string, _ *exec.Value, args *exec.VarArgs) (any, error) {
		if len(args.Args) < 2 || len(args.Args) > 3 {
			return nil, errors.New("replace takes 2 or 3 arguments")
		}
		n := -1
		if len(args.Args) == 3 {
			n = args.Args[2].Integer()
		}
		return strings.Replace(self, args.Args[0].String(), args.Args[1].String(), n), nil
	}
	return exec.NewMethodSet(m)
}

func rsplitN(s, sep string, n int) []string {
	var out []string
	for n > 0 {
		i := strings.LastIndex(s, sep)
		if i < 0 {
			break
		}
		out = append(out, s[i+len(sep):])
		s = s[:i]
		n--
	}
	out = append(out, s)
	for i, j := 0, len(out)-1; i < j; i, j = i+1, j-1 {
		out[i], out[j] = out[j], out[i]
	}
	return out
}

// pyWhitespaceSplit is str.split()/rsplit() without a separator.
func pyWhitespaceSplit(s string, maxsplit int, fromRight bool) []string {
	if maxsplit < 0 {
		return strings.FieldsFunc(s, unicode.IsSpace)
	}
	if fromRight {
		var out []string
		s = strings.TrimRightFunc(s, unicode.IsSpace)
		for maxsplit > 0 && s != "" {
			i := strings.LastIndexFunc(s, unicode.IsSpace)
			if i < 0 {
				break
			}
			out = append(out, s[i+1:])
			s = strings.TrimRightFunc(s[:i], unicode.IsSpace)
			maxsplit--
		}
		if s != "" {
			out = append(out, s)
		}
		for i, j := 0, len(out)-1; i < j; i, j = i+1, j-1 {
			out[i], out[j] = out[j], out[i]
		}
		return out
	}
	var out []string
	s = strings.TrimLeftFunc(s, unicode.IsSpace)
	for maxsplit > 0 && s != "" {
		i := strings.IndexFunc(s, unicode.IsSpace)
		if i < 0 {
			break
		}
		out = append(out, s[:i])
		s = strings.TrimLeftFunc(s[i:], unicode.IsSpace)
		maxsplit--
	}
	if s != "" {
		out = append(out, s)
	}
	return out
}

// immutableList makes list mutators fail like jinja2's
// ImmutableSandboxedEnvironment (transformers' environment).
func immutableList(base *exec.MethodSet[[]any]) *exec.MethodSet[[]any] {
	m := map[string]exec.Method[[]any]{}
	for _, name := range []string{"count", "index", "copy"} {
		if fn, ok := base.Get(name); ok {
			m[name] = fn
		}
	}
	for _, name := range []string{"append", "extend", "insert", "pop", "remove", "clear", "reverse", "sort"} {
		m[name] = func([]any, *exec.Value, *exec.VarArgs) (any, error) {
			return nil, fmt.Errorf("SecurityError: access to attribute '%s' of 'list' object is unsafe", name)
		}
	}
	return exec.NewMethodSet(m)
}

// filterItems is |items keeping the order of JSON objects.
func filterItems(e *exec.Evaluator, in *exec.Value, params *exec.VarArgs) *exec.Value {
	var pairs []*exec.Pair
	switch d := in.Interface().(type) {
	case *exec.Dict:
		pairs = d.Pairs
	case exec.Dict:
		pairs = d.Pairs
	default:
		fn, _ := builtins.Filters.Get("items")
		return fn(e, in, params)
	}
	out := make(pyList, len(pairs))
	for i, p := range pairs {
		out[i] = pyList{p.Key.Interface(), p.Value.Interface()}
	}
	return exec.AsValue(out)
}

func sortStable(p []*exec.Pair, less func(i, j int) bool) { sort.SliceStable(p, less) }

// forNone wraps {% for %} so that iterating a variable bound to None fails
// like Python ("'NoneType' object is not iterable"), while an undefined
// variable still iterates as empty.
type forNone struct {
	*controlStructures.ForControlStructure
}

func (f forNone) Execute(r *exec.Renderer, tag *nodes.ControlStructureBlock) error {
	if n, ok := f.ObjectEvaluator.(*nodes.Name); ok {
		if v, has := r.Environment.Context.Get(n.Name.Val); has && isNone(v) {
			return fmt.Errorf("TypeError: 'NoneType' object is not iterable (line %d)", n.Name.Line)
		}
	}
	return f.ForControlStructure.Execute(r, tag)
}

func isNone(v any) bool {
	if v == nil {
		return true
	}
	if ev, ok := v.(*exec.Value); ok {
		return ev.IsNil()
	}
	return false
}

func forParser(p *parser.Parser, args *parser.Parser) (nodes.ControlStructure, error) {
	base, _ := builtins.ControlStructures.Get("for")
	cs, err := base(p, args)
	if err != nil {
		return nil, err
	}
	if fcs, ok := cs.(*controlStructures.ForControlStructure); ok {
		return forNone{fcs}, nil
	}
	return cs, nil
}

// pyList is a list with Python indexing (gonja rejects x[-1] on a
// one-element list).
type pyList []any

// GetItem implements exec.ItemGetter.
func (l pyList) GetItem(key any) (*exec.Value, bool) {
	var i int
	switch k := key.(type) {
	case int:
		i = k
	case int64:
		i = int(k)
	default:
		return exec.AsValue(nil), false
	}
	if i < 0 {
		i += len(l)
	}
	if i < 0 || i >= len(l) {
		return exec.AsValue(nil), false
	}
	return exec.ToValue(l[i]), true
}

// filterTrim is jinja2's trim: str(value).strip(chars), with undefined
// and None-like values giving "".
func filterTrim(e *exec.Evaluator, in *exec.Value, params *exec.VarArgs) *exec.Value {
	if in.IsError() {
		return in
	}
	s := ""
	if !in.IsNil() {
		s = in.String()
	}
	if len(params.Args) > 0 && !params.Args[0].IsNil() {
		chars := params.Args[0].String()
		return exec.AsValue(strings.Trim(s, chars))
	}
	return exec.AsValue(strings.TrimFunc(s, unicode.IsSpace))
}

// filterDictSort is |dictsort for ordered JSON objects (by key,
// case-insensitive, like jinja2's defaults).
func filterDictSort(e *exec.Evaluator, in *exec.Value, params *exec.VarArgs) *exec.Value {
	var pairs []*exec.Pair
	switch d := in.Interface().(type) {
	case *exec.Dict:
		pairs = d.Pairs
	case exec.Dict:
		pairs = d.Pairs
	default:
		fn, _ := builtins.Filters.Get("dictsort")
		return fn(e, in, params)
	}
	caseSensitive, byValue, reverse := false, false, false
	if v, ok := params.KwArgs["case_sensitive"]; ok {
		caseSensitive = v.IsTrue()
	} else if len(params.Args) > 0 {
		caseSensitive = params.Args[0].IsTrue()
	}
	if v, ok := params.KwArgs["by"]; ok {
		byValue = v.String() == "value"
	} else if len(params.Args) > 1 {
		byValue = params.Args[1].String() == "value"
	}
	if v, ok := params.KwArgs["reverse"]; ok {
		reverse = v.IsTrue()
	} else if len(params.Args) > 2 {
		reverse = params.Args[2].IsTrue()
	}
	sorted := append([]*exec.Pair(nil), pairs...)
	key := func(p *exec.Pair) *exec.Value {
		if byValue {
			return p.Value
		}
		return p.Key
	}
	less := func(a, b *exec.Value) bool {
		if a.IsNumber() && b.IsNumber() {
			return a.Float() < b.Float()
		}
		x, y := a.String(), b.String()
		if !caseSensitive {
			x, y = strings.ToLower(x), strings.ToLower(y)
		}
		return x < y
	}
	sortStable(sorted, func(i, j int) bool {
		if reverse {
			return less(key(sorted[j]), key(sorted[i]))
		}
		return less(key(sorted[i]), key(sorted[j]))
	})
	out := make(pyList, len(sorted))
	for i, p := range sorted {
		out[i] = pyList{p.Key.Interface(), p.Value.Interface()}
	}
	return exec.AsValue(out)
}

// maxMacroDepth bounds macro recursion so a recursive template fails with an
// error instead of exhausting the stack.
const maxMacroDepth = 200

const depthVar = "__strata_macro_depth"

// guardedMacro wraps {% macro %} so calls count their depth.
type guardedMacro struct {
	*controlStructures.MacroControlStructure
}

func (g guardedMacro) Execute(r *exec.Renderer, _ *nodes.ControlStructureBlock) error {
	macro, err := exec.MacroNodeToFunc(g.Macro, r)
	if err != nil {
		return fmt.Errorf("macro %s: %w", g.Name, err)
	}
	depth, _ := r.Environment.Context.Get(depthVar)
	counter, _ := depth.(*int)
	name, line := g.Name, g.Location.Line
	r.Environment.Context.Set(g.Name, exec.Macro(func(params *exec.VarArgs) *exec.Value {
		if counter != nil {
			if *counter >= maxMacroDepth {
				return exec.AsValue(fmt.Errorf("macro %s (line %d): recursion deeper than %d", name, line, maxMacroDepth))
			}
			*counter++
			defer func() { *counter-- }()
		}
		return macro(params)
	}))
	return nil
}

func macroParser(p *parser.Parser, args *parser.Parser) (nodes.ControlStructure, error) {
	base, _ := builtins.ControlStructures.Get("macro")
	cs, err := base(p, args)
	if err != nil {
		return nil, err
	}
	if m, ok := cs.(*controlStructures.MacroControlStructure); ok {
		return guardedMacro{m}, nil
	}
	return cs, nil
}
