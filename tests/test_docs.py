"""The example docs follow PaddleScience's example-doc format and stay true to the project: code included by
line range (`--8<--` snippets) on target and numbered, commands run from the example's folder with paths that
exist, PaddleScience's sections in order, and each doc equal to its regenerated template. README's results
summary quotes the results docs, and every relative link of README and the docs resolves."""
import glob
import os
import re

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DOCS = sorted(glob.glob(os.path.join(ROOT, "docs", "zh", "examples", "*.md")))
RESULTS = sorted(glob.glob(os.path.join(ROOT, "docs", "results", "*.md")))  # every result, with its command
SCRIPTS = {"VelocityGAN": "velocitygan", "GDRNN": "gdrnn", "MDDiffusion": "md_diffusion"}  # script -> its folder
SECTIONS = ["## 1. 背景简介", "## 2. 问题定义", "## 3. 问题求解", "## 4. 完整代码", "## 5. 结果展示",
            "## 6. 参考文献"]
WRITTEN = ("outputs", "data_gen")  # folders the documented commands write (ignored by git), absent in a fresh clone
SHARED = os.path.join(os.path.dirname(ROOT), "shared", "data")  # the optional real data beside the project (README)


def read(path):
    return open(path, encoding="utf-8").read()


def snippets(doc):
    text = read(doc)
    return re.findall(r"--8<--\n(\S+?)(?::(\d+):(\d+))?\n--8<--", text)


def shell_blocks(text):
    """(the ``` sh blocks as lists of lines, the text outside them)."""
    blocks, outside, block, lang = [], [], None, None
    for line in text.splitlines():
        fence = re.match(r"\s*```\s*(\w*)", line)
        if block is None and fence:
            block, lang = [], fence.group(1)
        elif block is not None and re.fullmatch(r"\s*```\s*", line):
            if lang in ("sh", "bash", "shell"):
                blocks.append(block)
            else:
                outside.extend(block)
            block = None
        elif block is not None:
            block.append(line)
        else:
            outside.append(line)
    return blocks, "\n".join(outside)


def commands(block):
    """(the example folder a preceding `cd examples/<name>` entered, or None; the line) for each line."""
    folder = None
    for line in block:
        cd = re.match(r"\s*cd\s+examples/(\w+)\s*(#.*)?$", line)
        folder = cd.group(1) if cd else folder
        yield folder, line


@pytest.mark.parametrize("doc", DOCS, ids=os.path.basename)
def test_snippet_ranges_start_at_a_definition(doc):
    found = snippets(doc)
    assert found, f"{doc} includes no code"
    for path, start, end in found:
        full = os.path.join(ROOT, path)
        assert os.path.isfile(full), f"{doc}: {path} does not exist"
        if not start:
            continue
        lines = read(full).splitlines()
        a, b = int(start), int(end)
        assert 1 <= a <= b <= len(lines), f"{doc}: {path}:{a}:{b} outside the file ({len(lines)} lines)"
        first = lines[a - 1]
        assert re.match(r"\s*(def |class |@|[A-Za-z_]+:|[A-Za-z_]+ = )", first), f"{doc}: {path}:{a} starts mid-block: {first!r}"
        after = lines[b] if b < len(lines) else ""
        indent = len(first) - len(first.lstrip())
        assert not after.strip() or len(after) - len(after.lstrip()) <= indent, \
            f"{doc}: {path}:{b} ends mid-block (next line {after!r})"


@pytest.mark.parametrize("doc", DOCS, ids=os.path.basename)
def test_snippet_fences_carry_line_numbers(doc):
    """A range is numbered from its first line (linenums="<start>"); a whole file from 1, titled by its path."""
    found = re.findall(r"^[ \t]*```([^\n]*)\n[ \t]*--8<--\n[ \t]*(\S+?)(?::(\d+):\d+)?\n[ \t]*--8<--$", read(doc), re.M)
    assert found, f"{doc} includes no code"
    for attrs, path, start in found:
        want = f'linenums="{start}"' if start else f'linenums="1" title="{path}"'
        got = " ".join(re.findall(r'\w+="[^"]*"', attrs))
        assert got == want, f"{doc}: the fence of {path}{':' + start if start else ''} has {got!r}, not {want!r}"


@pytest.mark.parametrize("doc", DOCS, ids=os.path.basename)
def test_commands_run_from_the_example_folder(doc):
    """`python <Script>.py ...` in a ``` sh block after `cd examples/<name>`, as PaddleScience's docs run them."""
    text = read(doc)
    blocks, outside = shell_blocks(text)
    script = re.compile(r"(\S*?)\b(" + "|".join(SCRIPTS) + r")\.py\b")
    for block in blocks:
        for folder, line in commands(block):
            for prefix, name in script.findall(line.split("#")[0]):
                assert not prefix, f"{doc}: {line.strip()!r}: run {name}.py from examples/{SCRIPTS[name]}"
                assert folder == SCRIPTS[name], \
                    f"{doc}: {line.strip()!r} needs `cd examples/{SCRIPTS[name]}` earlier in its code block"
    # the results docs' tables, included verbatim, name the commands that made each figure as run from the project root
    prose = "\n".join(line for line in text.splitlines() if not line.lstrip().startswith("|"))
    assert not re.search(r"python\s+examples/", prose), f"{doc}: a command runs python examples/...; cd there first"
    outside = "\n".join(line for line in outside.splitlines() if not line.lstrip().startswith("|"))
    stray = re.search(r"python\b[^`\n]*\b(?:" + "|".join(SCRIPTS) + r")\.py", outside)
    assert not stray, f"{doc}: {stray.group(0)!r} outside a ``` sh block that enters the example folder"


@pytest.mark.parametrize("doc", DOCS, ids=os.path.basename)
def test_command_paths_exist(doc):
    """Every ../../ path of a command, taken from the example folder, is in the project and exists (under outputs/
    and data_gen/ the commands write it; a path into ../shared/data is checked where that data is present)."""
    for block in shell_blocks(read(doc))[0]:
        for folder, line in commands(block):
            for rel in re.findall(r"(?<![\w./-])\.\./\.\./[^\s'\"`;|&)]*", line):
                assert folder, f"{doc}: {rel} in a code block with no `cd examples/<name>` before it"
                full = os.path.normpath(os.path.join(ROOT, "examples", folder, rel))
                inside = os.path.relpath(full, ROOT)
                if inside.startswith(".."):
                    assert full.startswith(SHARED + os.sep), f"{doc}: {rel} leaves the project (from examples/{folder})"
                    assert not os.path.isdir(SHARED) or os.path.exists(full), f"{doc}: {rel}: no {full}"
                elif inside.split(os.sep)[0] not in WRITTEN:
                    assert os.path.exists(full), f"{doc}: {rel} (from examples/{folder}): no {inside} in the project"


@pytest.mark.parametrize("doc", DOCS, ids=os.path.basename)
def test_sections_follow_paddlescience(doc):
    """PaddleScience's numbered sections in order, and the pretrained-weights table above them."""
    text = read(doc)
    assert [line for line in text.splitlines() if re.match(r"## \d", line)] == SECTIONS, f"{doc}: sections"
    head, template_head = text.split("\n## 1.")[0], read(doc + ".in").split("\n## 1.")[0]
    assert re.search(r"^\|[^\n]*预训练模型", head, re.M) or "@@table:README.md:Pretrained weights:1@@" in template_head, \
        f"{doc}: no pretrained-weights table before ## 1."


@pytest.mark.parametrize("doc", DOCS, ids=os.path.basename)
def test_figures_exist(doc):
    text = read(doc)
    for img in re.findall(r"!\[[^\]]*\]\(([^)]+\.png)\)", text):
        assert os.path.isfile(os.path.join(os.path.dirname(doc), img)), f"{doc}: missing figure {img}"


@pytest.mark.parametrize("template", sorted(glob.glob(os.path.join(ROOT, "docs", "zh", "examples", "*.md.in"))),
                         ids=os.path.basename)
def test_docs_are_generated_from_their_templates(template):
    """Each doc is its template with the includes filled in: regenerate with docs/resolve_snippets.py."""
    import subprocess
    import sys
    res = subprocess.run([sys.executable, os.path.join(ROOT, "docs", "resolve_snippets.py"), template],
                         capture_output=True, text=True)
    assert res.returncode == 0, res.stderr
    assert res.stdout == read(template[:-3]), f"regenerate {template[:-3]}"


def slug(heading):
    """The anchor a markdown renderer (GitHub's rule) gives a heading."""
    return re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")


def sections(path):
    """{anchor: the text under that heading, up to the next heading of any level}."""
    found, key = {}, None
    for line in read(path).splitlines():
        head = re.match(r"#{1,6} +(.+)", line)
        if head:
            key = slug(head.group(1))
            found[key] = ""
        elif key is not None:
            found[key] += line + "\n"
    return found


@pytest.mark.parametrize("doc", [os.path.join(ROOT, "README.md")] + RESULTS + DOCS, ids=os.path.relpath)
def test_links_resolve(doc):
    """Every relative link and image of the doc names a file of the project, and an anchor a heading there."""
    links = re.findall(r"\]\(([^)\s]+)\)", read(doc))
    assert links, f"{doc} links nothing"
    for link in links:
        if re.match(r"\w+://|mailto:", link):
            continue
        path, _, anchor = link.partition("#")
        full = os.path.normpath(os.path.join(os.path.dirname(doc), path)) if path else doc
        assert os.path.exists(full), f"{doc}: link {link}: no {full}"
        assert not os.path.relpath(full, ROOT).startswith(".."), f"{doc}: link {link} leaves the project"
        if anchor:
            assert anchor in sections(full), f"{doc}: link {link}: {path or doc} has no heading with anchor {anchor!r}"


def test_readme_results_quote_the_results_docs():
    """Each row of README's results summary links a section of a results doc, and every figure in the row is
    written in that section: the summary cannot drift from the full report."""
    summary = sections(os.path.join(ROOT, "README.md"))["results"]
    rows = [line for line in summary.splitlines() if line.startswith("|") and not line.startswith("|---")][1:]
    assert len(rows) >= 9, "README's results summary lost its rows"
    for row in rows:
        link = re.search(r"\]\((docs/results/[^)#]+\.md)#([^)]+)\)", row)
        assert link, f"README results row links no results doc section: {row[:80]}"
        section = sections(os.path.join(ROOT, link.group(1)))[link.group(2)]
        words = set(re.findall(r"\d+(?:\.\d+)*", section))
        text = re.sub(r"\[[^\]]*\]\([^)]*\)", "", row)  # the link itself is not a figure
        missing = [n for n in re.findall(r"\d+(?:\.\d+)*", text) if n not in words]
        assert not missing, f"README results row {text[:60]!r}: {missing} not in {link.group(1)}#{link.group(2)}"
