#!/usr/bin/python3
"""render_jinja.py renders chat templates with Python jinja2 configured as
Hugging Face transformers does (ImmutableSandboxedEnvironment with
trim_blocks and lstrip_blocks, the loopcontrols extension, the {% generation %}
tag, and the tojson / raise_exception / strftime_now helpers). It is the
oracle for engine/template's golden tests. Run with /usr/bin/python3 (Debian
python3-jinja2).

stdin:  {"cases": [{"template": "...", "context": {...}, "now": "2024-07-26T10:00:00"}]}
stdout: {"results": [{"text": "..."} | {"error": "..."}]}
"""
import json
import sys
from datetime import datetime

import jinja2
from jinja2.ext import Extension, loopcontrols
from jinja2.sandbox import ImmutableSandboxedEnvironment


class AssistantTracker(Extension):
    # Same syntax as transformers' AssistantTracker; here it only renders the body.
    tags = {"generation"}

    def parse(self, parser):
        lineno = next(parser.stream).lineno
        body = parser.parse_statements(["name:endgeneration"], drop_needle=True)
        return jinja2.nodes.CallBlock(self.call_method("_generation_support"), [], [], body).set_lineno(lineno)

    def _generation_support(self, caller):
        return caller()


def make_env(now):
    def raise_exception(message):
        raise jinja2.exceptions.TemplateError(message)

    def tojson(x, ensure_ascii=False, indent=None, separators=None, sort_keys=False):
        return json.dumps(x, ensure_ascii=ensure_ascii, indent=indent, separators=separators, sort_keys=sort_keys)

    def strftime_now(format):
        return now.strftime(format)

    env = ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True, extensions=[AssistantTracker, loopcontrols])
    env.filters["tojson"] = tojson
    env.globals["raise_exception"] = raise_exception
    env.globals["strftime_now"] = strftime_now
    return env


def main():
    req = json.load(sys.stdin)
    out = []
    for case in req["cases"]:
        now = datetime.fromisoformat(case.get("now") or "2024-07-26T10:00:00")
        try:
            tpl = make_env(now).from_string(case["template"])
            out.append({"text": tpl.render(**case["context"])})
        except Exception as e:  # noqa: BLE001 - report every failure to the caller
            out.append({"error": type(e).__name__ + ": " + str(e)})
    json.dump({"results": out}, sys.stdout, ensure_ascii=False)


if __name__ == "__main__":
    main()
