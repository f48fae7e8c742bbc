package template

import "strings"

// condFunc is the global that rewritten conditional expressions call.
const condFunc = "__strata_cond"

// rewriteConditionals rewrites conditional expressions nested inside
// brackets, "(A if B else C)", which gonja cannot parse, into calls
// "(__strata_cond(B, A, C))". Both branches are then evaluated before the
// choice, which differs from Jinja only when the untaken branch fails.
// Conditionals at the top level of {{ }} and {% set %} are left to gonja,
// which evaluates them lazily.
func rewriteConditionals(src string) string { return rewriteTags(src, false) }

// rewriteConditionalsAll also rewrites the top-level conditional of
// {% set %} tags. It is the fallback for templates gonja cannot parse
// otherwise.
func rewriteConditionalsAll(src string) string { return rewriteTags(src, true) }

func rewriteTags(src string, sets bool) string {
	if !strings.Contains(src, "if") && !strings.Contains(src, ").") {
		return src
	}
	var sb strings.Builder
	i := 0
	for i < len(src) {
		j := strings.Index(src[i:], "{")
		if j < 0 || i+j+1 >= len(src) {
			sb.WriteString(src[i:])
			break
		}
		j += i
		var closer string
		switch src[j+1] {
		case '{':
			closer = "}}"
		case '%':
			closer = "%}"
		case '#':
			k := strings.Index(src[j+2:], "#}")
			if k < 0 {
				sb.WriteString(src[i:])
				return sb.String()
			}
			sb.WriteString(src[i : j+2+k+2])
			i = j + 2 + k + 2
			continue
		default:
			sb.WriteString(src[i : j+1])
			i = j + 1
			continue
		}
		body0 := j + 2
		end := findTagEnd(src, body0, closer)
		if end < 0 {
			sb.WriteString(src[i:])
			break
		}
		sb.WriteString(src[i:body0])
		body := src[body0:end]
		if closer == "%}" && isRawTag(body) {
			k := strings.Index(src[end:], "endraw")
			if k < 0 {
				sb.WriteString(src[body0:])
				return sb.String()
			}
			sb.WriteString(src[body0 : end+k])
			i = end + k
			continue
		}
		body = rewriteMethodChains(rewriteExpr(body, false))
		if sets && closer == "%}" {
			body = rewriteSet(body)
		}
		sb.WriteString(body)
		i = end
	}
	return sb.String()
}

// rewriteSet rewrites the tag body "set x = A if B else C" into
// "if B %}{%- set x = A -%}{%- else -%}{%- set x = C -%}{%- endif", which
// keeps Jinja's lazy evaluation (an if block shares its scope).
func rewriteSet(body string) string {
	lead := len(body) - len(strings.TrimLeft(body, "-+ \t\n\r"))
	b := body[lead:]
	if !strings.HasPrefix(b, "set ") {
		return body
	}
	eq := -1
	for _, t := range scanExpr(body) {
		if t.kind == 'p' && body[t.a] == '=' && (t.b >= len(body) || body[t.b] != '=') && (t.a == 0 || !strings.ContainsRune("=!<>", rune(body[t.a-1]))) {
			eq = t.a
			break
		}
	}
	if eq < 0 {
		return body
	}
	target := strings.TrimSpace(body[lead+len("set ") : eq])
	rhs := body[eq+1:]
	trail := ""
	if k := strings.LastIndexAny(rhs, "-+"); k >= 0 && strings.TrimSpace(rhs[k+1:]) == "" {
		rhs, trail = rhs[:k], rhs[k:]
	}
	x, cond, y, hasElse, ok := splitCond(rhs)
	if !ok {
		return body
	}
	out := body[:lead] + "if " + cond + " -%}{%- " + rewriteSet("set "+target+" = "+x)
	if hasElse {
		out += " -%}{%- else -%}{%- " + rewriteSet("set "+target+" = "+y)
	} else {
		out += " -%}{%- else -%}{%- set " + target + " = none"
	}
	return out + " -%}{%- endif " + trail
}

// splitCond splits "A if B else C" at depth 0.
func splitCond(e string) (a, b, c string, hasElse, ok bool) {
	toks := scanExpr(e)
	depth, ifAt, elseAt := 0, -1, -1
	for k, t := range toks {
		switch t.kind {
		case '(':
			depth++
		case ')':
			depth--
		case 'n':
			if depth != 0 {
				continue
			}
			switch w := e[t.a:t.b]; {
			case w == "if" && ifAt < 0 && k > 0:
				ifAt = k
			case w == "else" && ifAt >= 0 && elseAt < 0:
				elseAt = k
			}
		}
	}
	if ifAt < 0 {
		return "", "", "", false, false
	}
	a = strings.TrimSpace(e[toks[0].a:toks[ifAt].a])
	if elseAt < 0 {
		return a, strings.TrimSpace(e[toks[ifAt].b:]), "", false, true
	}
	return a, strings.TrimSpace(e[toks[ifAt].b:toks[elseAt].a]), strings.TrimSpace(e[toks[elseAt].b:]), true, true
}

func isRawTag(body string) bool {
	b := strings.TrimLeft(body, "-+ \t\n\r")
	return strings.HasPrefix(b, "raw") && (len(b) == 3 || strings.ContainsAny(b[3:4], " \t\n\r-+"))
}

// findTagEnd returns the index of closer ending the tag body starting at i,
// skipping string literals.
func findTagEnd(s string, i int, closer string) int {
	for i < len(s) {
		switch c := s[i]; c {
		case '\'', '"':
			i = skipString(s, i)
			continue
		}
		if strings.HasPrefix(s[i:], closer) {
			return i
		}
		i++
	}
	return -1
}

func skipString(s string, i int) int {
	q := s[i]
	i++
	for i < len(s) {
		if s[i] == '\\' {
			i += 2
			continue
		}
		if s[i] == q {
			return i + 1
		}
		i++
	}
	return len(s)
}

// token kinds for the tiny expression scanner.
type etok struct {
	a, b int // [a, b) in the expression
	kind byte
}

func scanExpr(s string) []etok {
	var out []etok
	for i := 0; i < len(s); {
		c := s[i]
		switch {
		case c == ' ' || c == '\t' || c == '\n' || c == '\r':
			i++
		case c == '\'' || c == '"':
			j := skipString(s, i)
			out = append(out, etok{i, j, 's'})
			i = j
		case c == '_' || (c|0x20 >= 'a' && c|0x20 <= 'z') || c >= 0x80:
			j := i
			for j < len(s) && (s[j] == '_' || (s[j]|0x20 >= 'a' && s[j]|0x20 <= 'z') || (s[j] >= '0' && s[j] <= '9') || s[j] >= 0x80) {
				j++
			}
			out = append(out, etok{i, j, 'n'})
			i = j
		case strings.IndexByte("([{", c) >= 0:
			out = append(out, etok{i, i + 1, '('})
			i++
		case strings.IndexByte(")]}", c) >= 0:
			out = append(out, etok{i, i + 1, ')'})
			i++
		default:
			out = append(out, etok{i, i + 1, 'p'})
			i++
		}
	}
	return out
}

// rewriteExpr rewrites conditionals inside bracket groups of s. When
// inGroup is set, s itself is the inside of a bracket group.
func rewriteExpr(s string, inGroup bool) string {
	toks := scanExpr(s)
	if len(toks) == 0 {
		return s
	}
	// First rewrite nested groups, innermost first, rebuilding s.
	var sb strings.Builder
	last := 0
	for k := 0; k < len(toks); k++ {
		if toks[k].kind != '(' {
			continue
		}
		depth, m := 0, k
		for ; m < len(toks); m++ {
			switch toks[m].kind {
			case '(':
				depth++
			case ')':
				depth--
			}
			if depth == 0 {
				break
			}
		}
		if m >= len(toks) {
			break // unbalanced: leave it for gonja to report
		}
		inner := s[toks[k].b:toks[m].a]
		sb.WriteString(s[last:toks[k].b])
		sb.WriteString(rewriteElements(rewriteExpr(inner, true)))
		last = toks[m].a
		k = m
	}
	sb.WriteString(s[last:])
	return sb.String()
}

// rewriteElements rewrites each comma- (or colon-) separated element of a
// bracket group's inside that is a conditional expression.
func rewriteElements(s string) string {
	toks := scanExpr(s)
	var sb strings.Builder
	start, depth := 0, 0
	flush := func(end int) {
		sb.WriteString(rewriteCond(s[start:end]))
	}
	for _, t := range toks {
		switch t.kind {
		case '(':
			depth++
		case ')':
			depth--
		case 'p':
			if depth == 0 && (s[t.a] == ',' || s[t.a] == ':') {
				flush(t.a)
				sb.WriteByte(s[t.a])
				start = t.b
			}
		}
	}
	flush(len(s))
	return sb.String()
}

// rewriteCond turns "A if B else C" (at depth 0 of e) into a call.
func rewriteCond(e string) string {
	toks := scanExpr(e)
	depth, ifAt, elseAt := 0, -1, -1
	for k, t := range toks {
		switch t.kind {
		case '(':
			depth++
		case ')':
			depth--
		case 'n':
			if depth != 0 {
				continue
			}
			w := e[t.a:t.b]
			if w == "if" && ifAt < 0 && k > 0 {
				ifAt = k
			} else if w == "else" && ifAt >= 0 && elseAt < 0 {
				elseAt = k
			}
		}
	}
	if ifAt < 0 {
		return e
	}
	lead := e[:toks[0].a]
	a := e[toks[0].a:toks[ifAt].a]
	var b, c string
	if elseAt >= 0 {
		b = e[toks[ifAt].b:toks[elseAt].a]
		c = rewriteCond(e[toks[elseAt].b:])
	} else {
		b = e[toks[ifAt].b:]
	}
	nl := strings.Repeat("\n", strings.Count(e, "\n")-strings.Count(a+b+c, "\n"))
	out := lead + condFunc + "(" + strings.TrimSpace(b) + ", " + strings.TrimSpace(a)
	if elseAt >= 0 {
		out += ", " + strings.TrimSpace(c)
	}
	return out + ")" + nl
}

// callFilter is the filter that rewritten method calls use.
const callFilter = "__strata_call"

// rewriteMethodChains rewrites method calls on parenthesized expressions,
// "(x | f).strip().split(',')", which gonja cannot call, into filter chains,
// "(x | f)|__strata_call('strip')|__strata_call('split', ',')".
func rewriteMethodChains(s string) string {
	for range 16 { // inner chains are rewritten on later passes
		t := rewriteMethodChainsOnce(s)
		if t == s {
			break
		}
		s = t
	}
	return s
}

func rewriteMethodChainsOnce(s string) string {
	toks := scanExpr(s)
	var sb strings.Builder
	last := 0
	for k := 0; k < len(toks); k++ {
		t := toks[k]
		if t.kind != '(' || s[t.a] != '(' {
			continue
		}
		if k > 0 && (toks[k-1].kind == ')' || toks[k-1].kind == 's' || (toks[k-1].kind == 'n' && !isKeyword(s[toks[k-1].a:toks[k-1].b]))) {
			continue // a call or subscript, not a parenthesized expression
		}
		m := matchClose(toks, k)
		if m < 0 {
			break
		}
		j := m
		for j+3 < len(toks) && toks[j+1].kind == 'p' && s[toks[j+1].a] == '.' && toks[j+2].kind == 'n' && toks[j+3].kind == '(' && s[toks[j+3].a] == '(' {
			end := matchClose(toks, j+3)
			if end < 0 {
				break
			}
			sb.WriteString(s[last:toks[j+1].a])
			sb.WriteString("|" + callFilter + "('" + s[toks[j+2].a:toks[j+2].b] + "'")
			if end > j+4 {
				sb.WriteString(", ")
				sb.WriteString(s[toks[j+3].b:toks[end].a])
			}
			sb.WriteString(")")
			last = toks[end].b
			j = end
		}
		if j > m {
			k = j
		}
	}
	sb.WriteString(s[last:])
	return sb.String()
}

// matchClose returns the index of the token closing the group opened at k.
func matchClose(toks []etok, k int) int {
	depth := 0
	for m := k; m < len(toks); m++ {
		switch toks[m].kind {
		case '(':
			depth++
		case ')':
			depth--
			if depth == 0 {
				return m
			}
		}
	}
	return -1
}

func isKeyword(w string) bool {
	switch w {
	case "if", "elif", "else", "in", "and", "or", "not", "is", "for", "set":
		return true
	}
	return false
}
