// Package template renders Hugging Face chat templates (the Jinja
// chat_template of tokenizer_config.json) the way transformers does, and
// finds the spans of assistant turns so training can mask everything else.
//
// Rendering uses gonja v2 configured like transformers'
// ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True) with the
// loopcontrols extension, the {% generation %} tag, and transformers' tojson
// (json.dumps with ensure_ascii=False and insertion-ordered keys),
// raise_exception and strftime_now. JSON objects passed in (tools, tool-call
// arguments, extra message fields) keep their key order. Golden tests compare
// every output byte with Python jinja2 (tools/tokenizer/render_jinja.py).
package template
