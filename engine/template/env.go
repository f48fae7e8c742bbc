package template

import (
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/nikolalohinski/gonja/v2/builtins"
	"github.com/nikolalohinski/gonja/v2/exec"
	"github.com/nikolalohinski/gonja/v2/nodes"
	"github.com/nikolalohinski/gonja/v2/parser"
	"github.com/nikolalohinski/gonja/v2/tokens"
)

// newEnvironment builds a fresh gonja environment with transformers'
// additions; nothing global is modified.
func newEnvironment() *exec.Environment {
	filters := exec.NewFilterSet(map[string]exec.FilterFunction{}).Update(builtins.Filters)
	_ = filters.Replace("tojson", filterToJSON)
	_ = filters.Replace("items", filterItems)
	_ = filters.Replace("trim", filterTrim)
	_ = filters.Replace("dictsort", filterDictSort)
	cs := exec.NewControlStructureSet(map[string]parser.ControlStructureParser{}).Update(builtins.ControlStructures)
	_ = cs.Register("generation", generationParser)
	_ = cs.Replace("for", forParser)
	_ = cs.Replace("macro", macroParser)
	ctx := exec.EmptyContext().Update(builtins.GlobalFunctions).Update(builtins.GlobalVariables)
	ctx.Set("raise_exception", raiseException)
	ctx.Set("range", rangeFunc)
	ctx.Set(condFunc, condCall)
	methods := builtins.Methods
	methods.Dict = orderedDictMethods(builtins.Methods.Dict)
	methods.Str = pyStrMethods(builtins.Methods.Str)
	methods.List = immutableList(builtins.Methods.List)
	_ = filters.Register(callFilter, callMethodFilter(methods))
	return &exec.Environment{
		Context:           ctx,
		Filters:           filters,
		Tests:             exec.NewTestSet(map[string]exec.TestFunction{}).Update(builtins.Tests),
		ControlStructures: cs,
		Methods:           methods,
	}
}

// callMethodFilter backs rewritten method calls: x|__strata_call('name', args...).
func callMethodFilter(m exec.Methods) exec.FilterFunction {
	return func(e *exec.Evaluator, in *exec.Value, params *exec.VarArgs) *exec.Value {
		if in.IsError() {
			return in
		}
		if len(params.Args) == 0 {
			return exec.AsValue(errors.New("method call: bad rewrite"))
		}
		name := params.Args[0].String()
		args := &exec.VarArgs{Args: params.Args[1:], KwArgs: params.KwArgs}
		var res any
		err := fmt.Errorf("%s has no method %q", in.String(), name)
		switch {
		case in.IsString():
			if fn, ok := m.Str.Get(name); ok {
				res, err = fn(in.String(), in, args)
			}
		case in.IsList():
			if fn, ok := m.List.Get(name); ok {
				l, _ := in.ToGoSimpleType(false).([]any)
				res, err = fn(l, in, args)
			}
		case in.IsDict():
			if fn, ok := m.Dict.Get(name); ok {
				d, _ := in.ToGoSimpleType(false).(map[string]any)
				res, err = fn(d, in, args)
			}
		}
		if err != nil {
			return exec.AsValue(err)
		}
		return exec.AsValue(res)
	}
}

// condCall backs rewritten conditional expressions: (cond, a[, b]).
func condCall(params *exec.VarArgs) *exec.Value {
	if len(params.Args) < 2 || len(params.Args) > 3 {
		return exec.AsValue(errors.New("conditional expression: bad rewrite"))
	}
	if params.Args[0].IsTrue() {
		return params.Args[1]
	}
	if len(params.Args) == 3 {
		return params.Args[2]
	}
	return exec.AsValue(nil)
}

func raiseException(msg string) (string, error) {
	return "", &RaiseError{Message: msg}
}

// rangeFunc is Python's range returning a list (gonja's builtin returns a
// channel fed by a goroutine that leaks when a loop breaks early).
func rangeFunc(params *exec.VarArgs) ([]int, error) {
	var a [3]int
	for i, v := range params.Args {
		if i >= 3 || !v.IsInteger() {
			return nil, errors.New("range: expected [start, ]stop[, step] integers")
		}
		a[i] = v.Integer()
	}
	start, stop, step := 0, 0, 1
	switch len(params.Args) {
	case 1:
		stop = a[0]
	case 2:
		start, stop = a[0], a[1]
	case 3:
		start, stop, step = a[0], a[1], a[2]
	default:
		return nil, errors.New("range: expected 1 to 3 arguments")
	}
	if step == 0 {
		return nil, errors.New("range: step must not be zero")
	}
	out := []int{}
	for i := start; (step > 0 && i < stop) || (step < 0 && i > stop); i += step {
		out = append(out, i)
		if len(out) > 1<<20 {
			return nil, errors.New("range: too many items")
		}
	}
	return out, nil
}

// filterToJSON is transformers' tojson: json.dumps(x, ensure_ascii=False,
// indent=indent, separators=separators, sort_keys=sort_keys).
func filterToJSON(e *exec.Evaluator, in *exec.Value, params *exec.VarArgs) *exec.Value {
	if in.IsError() {
		return in
	}
	p := &pyJSON{itemSep: ", ", keySep: ": "}
	if v, ok := params.KwArgs["ensure_ascii"]; ok {
		p.ensureASCII = v.IsTrue()
	}
	if v, ok := params.KwArgs["sort_keys"]; ok {
		p.sortKeys = v.IsTrue()
	}
	indent := params.KwArgs["indent"]
	if indent == nil && len(params.Args) > 0 {
		indent = params.Args[0]
	}
	if indent != nil && !indent.IsNil() {
		p.hasIndent = true
		p.itemSep = ","
		if indent.IsInteger() {
			p.indent = strings.Repeat(" ", max(indent.Integer(), 0))
		} else {
			p.indent = indent.String()
		}
	}
	if v, ok := params.KwArgs["separators"]; ok && !v.IsNil() {
		if !v.IsList() || v.Len() != 2 {
			return exec.AsValue(errors.New("tojson: separators must be a pair"))
		}
		p.itemSep, p.keySep = v.Index(0).String(), v.Index(1).String()
	}
	var sb strings.Builder
	if err := p.dump(&sb, in.Interface(), 0); err != nil {
		return exec.AsValue(err)
	}
	return exec.AsValue(sb.String())
}

// orderedDictMethods makes keys/values/items/get honour the insertion order
// of *exec.Dict values (JSON objects), falling back to gonja's versions.
func orderedDictMethods(base *exec.MethodSet[map[string]any]) *exec.MethodSet[map[string]any] {
	pairsOf := func(v *exec.Value) ([]*exec.Pair, bool) {
		switch d := v.Interface().(type) {
		case *exec.Dict:
			return d.Pairs, true
		case exec.Dict:
			return d.Pairs, true
		}
		return nil, false
	}
	m := map[string]exec.Method[map[string]any]{}
	for _, name := range []string{"keys", "values", "items", "get", "pop", "update", "copy", "setdefault"} {
		if fn, ok := base.Get(name); ok {
			m[name] = fn
		}
	}
	wrap := func(name string, ordered func(pairs []*exec.Pair, args *exec.VarArgs) (any, error)) {
		fallback := m[name]
		m[name] = func(self map[string]any, selfValue *exec.Value, args *exec.VarArgs) (any, error) {
			if pairs, ok := pairsOf(selfValue); ok {
				return ordered(pairs, args)
			}
			if fallback == nil {
				return nil, fmt.Errorf("dict has no method %q", name)
			}
			return fallback(self, selfValue, args)
		}
	}
	wrap("keys", func(pairs []*exec.Pair, _ *exec.VarArgs) (any, error) {
		out := make([]any, len(pairs))
		for i, p := range pairs {
			out[i] = p.Key.Interface()
		}
		return out, nil
	})
	wrap("values", func(pairs []*exec.Pair, _ *exec.VarArgs) (any, error) {
		out := make([]any, len(pairs))
		for i, p := range pairs {
			out[i] = p.Value.Interface()
		}
		return out, nil
	})
	wrap("items", func(pairs []*exec.Pair, _ *exec.VarArgs) (any, error) {
		out := make([]any, len(pairs))
		for i, p := range pairs {
			out[i] = []any{p.Key.Interface(), p.Value.Interface()}
		}
		return out, nil
	})
	wrap("get", func(pairs []*exec.Pair, args *exec.VarArgs) (any, error) {
		if len(args.Args) < 1 || len(args.Args) > 2 {
			return nil, errors.New("get() takes 1 or 2 positional arguments")
		}
		k := args.Args[0].String()
		for _, p := range pairs {
			if p.Key.String() == k {
				return p.Value.Interface(), nil
			}
		}
		if len(args.Args) == 2 {
			return args.Args[1].Interface(), nil
		}
		return nil, nil
	})
	return exec.NewMethodSet(m)
}

// strftimeNow implements strftime_now(format) with Python directives.
func (t *Template) strftimeNow(format string) string {
	now := time.Now
	if t.opts.Now != nil {
		now = t.opts.Now
	}
	return strftime(now(), format)
}

func strftime(tm time.Time, f string) string {
	var sb strings.Builder
	for i := 0; i < len(f); i++ {
		if f[i] != '%' || i+1 == len(f) {
			sb.WriteByte(f[i])
			continue
		}
		i++
		switch f[i] {
		case 'd':
			fmt.Fprintf(&sb, "%02d", tm.Day())
		case '-':
			if i+1 < len(f) {
				i++
				switch f[i] {
				case 'd':
					fmt.Fprintf(&sb, "%d", tm.Day())
				case 'm':
					fmt.Fprintf(&sb, "%d", int(tm.Month()))
				case 'H':
					fmt.Fprintf(&sb, "%d", tm.Hour())
				case 'I':
					fmt.Fprintf(&sb, "%d", (tm.Hour()+11)%12+1)
				case 'M':
					fmt.Fprintf(&sb, "%d", tm.Minute())
				default:
					sb.WriteString("%-" + string(f[i]))
				}
			}
		case 'm':
			fmt.Fprintf(&sb, "%02d", int(tm.Month()))
		case 'Y':
			fmt.Fprintf(&sb, "%d", tm.Year())
		case 'y':
			fmt.Fprintf(&sb, "%02d", tm.Year()%100)
		case 'b', 'h':
			sb.WriteString(tm.Month().String()[:3])
		case 'B':
			sb.WriteString(tm.Month().String())
		case 'a':
			sb.WriteString(tm.Weekday().String()[:3])
		case 'A':
			sb.WriteString(tm.Weekday().String())
		case 'H':
			fmt.Fprintf(&sb, "%02d", tm.Hour())
		case 'I':
			fmt.Fprintf(&sb, "%02d", (tm.Hour()+11)%12+1)
		case 'M':
			fmt.Fprintf(&sb, "%02d", tm.Minute())
		case 'S':
			fmt.Fprintf(&sb, "%02d", tm.Second())
		case 'p':
			if tm.Hour() < 12 {
				sb.WriteString("AM")
			} else {
				sb.WriteString("PM")
			}
		case 'j':
			fmt.Fprintf(&sb, "%03d", tm.YearDay())
		case 'e':
			fmt.Fprintf(&sb, "%2d", tm.Day())
		case 'Z':
			sb.WriteString(tm.Format("MST"))
		case 'z':
			sb.WriteString(tm.Format("-0700"))
		case 'F':
			sb.WriteString(tm.Format("2006-01-02"))
		case 'T':
			sb.WriteString(tm.Format("15:04:05"))
		case '%':
			sb.WriteByte('%')
		default:
			sb.WriteByte('%')
			sb.WriteByte(f[i])
		}
	}
	return sb.String()
}

// generationBlock is transformers' {% generation %}...{% endgeneration %}:
// it renders its body and records the body's span in the output.
type generationBlock struct {
	pos  *tokens.Token
	body *nodes.Wrapper
}

func (g *generationBlock) Position() *tokens.Token { return g.pos }
func (g *generationBlock) String() string {
	return fmt.Sprintf("GenerationControlStructure(Line=%d Col=%d)", g.pos.Line, g.pos.Col)
}

func (g *generationBlock) Execute(r *exec.Renderer, _ *nodes.ControlStructureBlock) error {
	var body strings.Builder
	sub := r.Inherit()
	sub.Output = &body
	if err := sub.ExecuteWrapper(g.body); err != nil {
		return err
	}
	if w, ok := r.Output.(*countingWriter); ok && w.spans != nil {
		start := w.sb.Len()
		*w.spans = append(*w.spans, Span{start, start + body.Len()})
	}
	_, err := io.WriteString(r.Output, body.String())
	return err
}

func generationParser(p *parser.Parser, args *parser.Parser) (nodes.ControlStructure, error) {
	g := &generationBlock{pos: p.Current()}
	wrapper, end, err := p.WrapUntil("endgeneration")
	if err != nil {
		return nil, err
	}
	if !args.End() || !end.End() {
		return nil, errors.New("generation takes no arguments")
	}
	g.body = wrapper
	return g, nil
}
