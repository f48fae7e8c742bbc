package template

import "testing"

func TestRewriteConditionals(t *testing.T) {
	tests := []struct{ in, want string }{
		{"{{ a if b else c }}", "{{ a if b else c }}"},
		{"{{ 'x' + (a if b else c) + 'y' }}", "{{ 'x' + (__strata_cond(b, a, c)) + 'y' }}"},
		{"{% set r = r if r is defined else (false if e is defined and e | lower == 'none' else true) %}",
			"{% set r = r if r is defined else (__strata_cond(e is defined and e | lower == 'none', false, true)) %}"},
		{"{{ f(a if b else c, 'if') }}", "{{ f(__strata_cond(b, a, c), 'if') }}"},
		{"{{ [x if y] }}", "{{ [__strata_cond(y, x)] }}"},
		{"{{ {'k': v if v is string else v | tojson} }}", "{{ {'k': __strata_cond(v is string, v, v | tojson)} }}"},
		{"{# (a if b else c) #}{% raw %}{{ (a if b else c) }}{% endraw %}", "{# (a if b else c) #}{% raw %}{{ (a if b else c) }}{% endraw %}"},
		{"text (a if b else c) {{ '(a if b else c)' }}", "text (a if b else c) {{ '(a if b else c)' }}"},
		{"{{ (a if b else c if d else e) }}", "{{ (__strata_cond(b, a, __strata_cond(d, c, e))) }}"},
		{"{% set x = (m | default('', true)).replace('/t', '').strip() %}", "{% set x = (m | default('', true))|__strata_call('replace', '/t', '')|__strata_call('strip') %}"},
		{"{{ f(x).strip() + (y).upper() }}", "{{ f(x).strip() + (y)|__strata_call('upper') }}"},
	}
	for _, tt := range tests {
		if got := rewriteConditionals(tt.in); got != tt.want {
			t.Errorf("rewriteConditionals(%q) =\n %q, want\n %q", tt.in, got, tt.want)
		}
	}
}

func TestRewriteSet(t *testing.T) {
	in := "{%- set r = r if r is not undefined else (false if e else true) -%}"
	want := "{%- if r is not undefined -%}{%- set r = r -%}{%- else -%}{%- set r = (__strata_cond(e, false, true)) -%}{%- endif -%}"
	if got := rewriteConditionalsAll(in); got != want {
		t.Errorf("rewriteConditionalsAll(%q) =\n %q, want\n %q", in, got, want)
	}
	tpl, err := New("{% set x = 'a' if y is defined else 'b' %}{{ x }}", Options{})
	if err != nil {
		t.Fatal(err)
	}
	if got, _ := tpl.Render(Input{}); got != "b" {
		t.Errorf("Render = %q, want b", got)
	}
}
