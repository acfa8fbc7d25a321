"""Make an example doc from its template: code snippets by line range, results tables from the project's markdown.

Two includes, each replaced by what the real files hold when the doc is made:

- ``@@path::name@@`` becomes ``path:start:end``, the lines of the top-level ``def``/``class`` ``name``
  (decorators included), of the method ``Class.method``, of the top-level assignment ``name = ...``, or of
  the YAML top-level key ``name:`` in ``path``. Written inside PaddleScience's ``--8<--`` snippet blocks.
- ``@@table:<file>:<heading>:<k>@@``, on its own line, becomes the k-th (1-based) markdown table (consecutive
  lines starting with ``|``) under the heading (``#`` to ``####``) whose text is ``<heading>`` in the markdown
  file ``<file>`` (a path from the project root: ``README.md`` for the weights, ``docs/results/<example>.md``
  for results), up to the next heading; verbatim, so a doc's tables are those files', except that a relative
  link is rewritten to point from the doc to the same file.

Then the opening fence of every snippet block gets its line numbers, as PaddleScience's docs have them:
``linenums="<start>"`` for a range, ``linenums="1" title="<path>"`` for a whole file, in place of whatever
the template wrote after the language. A name, heading or table that is not there is an error
naming it. tests/test_docs.py checks the result.

    python docs/resolve_snippets.py docs/zh/examples/gdrnn.md.in > docs/zh/examples/gdrnn.md
"""
import os
import re
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SNIPPET = re.compile(r"^(?P<indent>[ \t]*)```[ \t]*(?P<lang>\w+)[^\n]*(?P<body>\n(?P=indent)--8<--\n"
                     r"(?P=indent)(?P<path>\S+?)(?::(?P<start>\d+):\d+)?\n(?P=indent)--8<--)$", re.M)


def block(path, name):
    lines = open(os.path.join(ROOT, path), encoding="utf-8").read().splitlines()
    indent, first = "", 0
    if "." in name:  # a method: search inside its class
        cls, name = name.split(".")
        first, indent = block_start(lines, cls, "", 0, path), "    "
    start = block_start(lines, name, indent, first, path)
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


def block_start(lines, name, indent, first, path):
    pat = re.compile(rf"^{indent}(def |class ){re.escape(name)}\b|^{indent}{re.escape(name)}:|^{indent}{re.escape(name)} = ")
    found = next((i for i, line in enumerate(lines) if i >= first and pat.match(line)), None)
    if found is None:
        raise SystemExit(f"{path}: no def, class, assignment or YAML key {name!r}")
    return found


def md_table(path, heading, k):
    """The k-th table under the heading ``heading`` of the markdown file ``path``: a list of lines, verbatim."""
    ask = f"(asked by @@table:{path}:{heading}:{k}@@)"
    if not os.path.isfile(os.path.join(ROOT, path)):
        raise SystemExit(f"no file {path} {ask}")
    section, fenced = None, False
    for line in open(os.path.join(ROOT, path), encoding="utf-8").read().splitlines():
        fenced ^= line.lstrip().startswith("```")  # a "#" line in a code block is no heading
        head = None if fenced else re.fullmatch(r"(#{1,6}) +(.+?)\s*", line)
        if section is not None:
            if head:
                break
            section.append("" if fenced else line)
        elif head and len(head.group(1)) <= 4 and head.group(2) == heading:
            section = []
    if section is None:
        raise SystemExit(f"{path} has no heading {heading!r} {ask}")
    tables, in_table = [], False
    for line in section:
        if line.startswith("|") and not in_table:
            tables.append([])
        in_table = line.startswith("|")
        if in_table:
            tables[-1].append(line)
    if not 1 <= k <= len(tables):
        raise SystemExit(f"{path} has {len(tables)} table(s) under {heading!r}, not a table {k} {ask}")
    return tables[k - 1]


def relink(line, source, doc):
    """``line`` of the markdown file ``source`` with its relative links made relative to ``doc``'s folder."""
    def move(m):
        target = m.group(1)
        if re.match(r"\w+://|#|mailto:", target):
            return m.group(0)
        full = os.path.normpath(os.path.join(ROOT, os.path.dirname(source), target))
        return "](" + os.path.relpath(full, os.path.dirname(os.path.abspath(doc))) + ")"
    return re.sub(r"\]\(([^)\s]+)\)", move, line)


def fence(m):
    start = m.group("start")
    attrs = f'linenums="{start}"' if start else f'linenums="1" title="{m.group("path")}"'
    return f"{m.group('indent')}``` {m.group('lang')} {attrs}{m.group('body')}"


def main(template):
    text = open(template, encoding="utf-8").read()
    text = re.sub(r"^([ \t]*)@@table:([^:\s]+):(.+):(\d+)@@[ \t]*$",
                  lambda m: "\n".join(m.group(1) + relink(line, m.group(2), template)
                                      for line in md_table(m.group(2), m.group(3), int(m.group(4)))),
                  text, flags=re.M)
    text = re.sub(r"@@(\S+?)::(\S+?)@@", lambda m: block(m.group(1), m.group(2)), text)
    sys.stdout.write(SNIPPET.sub(fence, text))


if __name__ == "__main__":
    main(sys.argv[1])
