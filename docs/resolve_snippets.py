"""Fill the code-snippet ranges of an example doc from the real files.

A template line ``@@path::name@@`` becomes ``path:start:end``, the lines of
the top-level ``def``/``class`` ``name`` (decorators included), of the method
``Class.method``, or of the YAML top-level key ``name:`` in ``path``.
tests/test_docs.py checks the result.

    python docs/resolve_snippets.py docs/zh/examples/gdrnn.md.in > docs/zh/examples/gdrnn.md
"""
import os
import re
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def block(path, name):
    lines = open(os.path.join(ROOT, path), encoding="utf-8").read().splitlines()
    indent, first = "", 0
    if "." in name:  # a method: search inside its class
        cls, name = name.split(".")
        first, indent = block_start(lines, cls, "", 0), "    "
    start = block_start(lines, name, indent, first)
    while start > 0 and lines[start - 1].startswith(indent + "@"):
        start -= 1
    end = start + 1
    deeper = indent + " "
    while end < len(lines) and (not lines[end].strip() or lines[end].startswith(deeper)
                                or lines[end].startswith(indent + ")")):
        end += 1
    while not lines[end - 1].strip():
        end -= 1
    return f"{path}:{start + 1}:{end}"


def block_start(lines, name, indent, first):
    pat = re.compile(rf"^{indent}(def |class ){re.escape(name)}\b|^{indent}{re.escape(name)}:")
    return next(i for i, line in enumerate(lines) if i >= first and pat.match(line))


def main(template):
    text = open(template, encoding="utf-8").read()
    sys.stdout.write(re.sub(r"@@(\S+?)::(\S+?)@@", lambda m: block(m.group(1), m.group(2)), text))


if __name__ == "__main__":
    main(sys.argv[1])
