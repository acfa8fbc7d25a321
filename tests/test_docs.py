"""The example docs include code by line range (PaddleScience's `--8<--` snippets): keep them on target."""
import glob
import os
import re

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DOCS = sorted(glob.glob(os.path.join(ROOT, "docs", "zh", "examples", "*.md")))


def snippets(doc):
    text = open(doc, encoding="utf-8").read()
    return re.findall(r"--8<--\n(\S+?)(?::(\d+):(\d+))?\n--8<--", text)


@pytest.mark.parametrize("doc", DOCS, ids=os.path.basename)
def test_snippet_ranges_start_at_a_definition(doc):
    found = snippets(doc)
    assert found, f"{doc} includes no code"
    for path, start, end in found:
        full = os.path.join(ROOT, path)
        assert os.path.isfile(full), f"{doc}: {path} does not exist"
        if not start:
            continue
        lines = open(full, encoding="utf-8").read().splitlines()
        a, b = int(start), int(end)
        assert 1 <= a <= b <= len(lines), f"{doc}: {path}:{a}:{b} outside the file ({len(lines)} lines)"
        first, last = lines[a - 1], lines[b - 1]
        assert re.match(r"\s*(def |class |@|[A-Za-z_]+:)", first), f"{doc}: {path}:{a} starts mid-block: {first!r}"
        after = lines[b] if b < len(lines) else ""
        indent = len(first) - len(first.lstrip())
        assert not after.strip() or len(after) - len(after.lstrip()) <= indent, \
            f"{doc}: {path}:{b} ends mid-block (next line {after!r})"


@pytest.mark.parametrize("doc", DOCS, ids=os.path.basename)
def test_figures_exist(doc):
    text = open(doc, encoding="utf-8").read()
    for img in re.findall(r"!\[[^\]]*\]\(([^)]+\.png)\)", text):
        assert os.path.isfile(os.path.join(os.path.dirname(doc), img)), f"{doc}: missing figure {img}"


@pytest.mark.parametrize("template", sorted(glob.glob(os.path.join(ROOT, "docs", "zh", "examples", "*.md.in"))),
                         ids=os.path.basename)
def test_docs_are_generated_from_their_templates(template):
    """Each doc is its template with the snippet ranges filled in: regenerate with docs/resolve_snippets.py."""
    import subprocess
    import sys
    res = subprocess.run([sys.executable, os.path.join(ROOT, "docs", "resolve_snippets.py"), template],
                         capture_output=True, text=True, check=True)
    assert res.stdout == open(template[:-3], encoding="utf-8").read(), f"regenerate {template[:-3]}"
