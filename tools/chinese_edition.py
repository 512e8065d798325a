#!/usr/bin/env python
"""Build the Chinese edition (中文版) of the course from the English notebooks.

    .venv/bin/python tools/chinese_edition.py             # every notebook, and README.zh-CN.md's table
    .venv/bin/python tools/chinese_edition.py 07 08       # the ones named
    .venv/bin/python tools/chinese_edition.py --stub 21   # start (or update) a notebook's catalogue
    .venv/bin/python tools/chinese_edition.py --check     # what is untranslated or stale; exit 1 if any

A Chinese notebook ``notebooks/zh/NN_topic.ipynb`` is the executed English notebook with
each Markdown cell replaced by its translation from the catalogue
``notebooks/zh/translations/NN_topic.md``. Code cells, their outputs and the notebook's
metadata are copied unchanged, so the Chinese edition needs no second execution and cannot
disagree with the English one. ``tools/run_notebooks.py`` calls this after executing.

A catalogue is Markdown: one block per English Markdown cell, opened by a marker line
holding the hash of the English source the translation was written from::

    <!-- cell 3 a1b2c3d4e5f6 -->
    中文译文……

and one ``<!-- summary <hash> -->`` block translating the notebook's summary in
``course_lib.course`` (the Chinese README's course table). Blocks are matched to cells by
hash, so a block whose English cell changed no longer matches: the build refuses that
notebook, and ``--stub`` turns the block into a ``stale`` one beside a fresh stub, for the
translator to update. The title cell's last line (links to the other edition and to the
glossary) is written by this tool in both editions and is not part of the hash.
"""

from __future__ import annotations

import argparse
import copy
import hashlib
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from course_lib import course  # noqa: E402

NOTEBOOKS = ROOT / "notebooks"
ZH = NOTEBOOKS / "zh"
CATALOGUES = ZH / "translations"
GLOSSARY = NOTEBOOKS / "glossary.md"
README_ZH = ROOT / "README.zh-CN.md"

#: A stub block starts with this line; a finished translation never contains it.
TODO = "<!-- 待译 TODO: translate the English below, then delete this line -->"
MARKER = re.compile(r"^<!-- (cell (\d+)|summary|stale cell (\d+)) ([0-9a-f]{12}) -->$")
CJK = re.compile(r"[\u3400-\u9fff]")


def english_links(filename: str) -> str:
    """The last line of an English title cell: the Chinese edition and the glossary."""
    return f"[中文版](zh/{filename}) · [Glossary · 术语表](glossary.md)"


def chinese_links(filename: str) -> str:
    """The last line of a Chinese title cell: the English edition and the glossary."""
    return f"[English edition](../{filename}) · [术语表 · Glossary](../glossary.md)"


def digest(text: str) -> str:
    """The hash a catalogue stores beside a translation: 12 hex digits of SHA-256 of the English."""
    return hashlib.sha256(text.strip().encode("utf-8")).hexdigest()[:12]


def english_paths() -> list[Path]:
    return sorted(NOTEBOOKS.glob("[0-9][0-9]_*.ipynb"))


def catalogue_path(english: Path) -> Path:
    return CATALOGUES / f"{english.stem}.md"


def chinese_path(english: Path) -> Path:
    return ZH / english.name


def _title_body(source: str, filename: str) -> str:
    """An English title cell without its links line (what the translation is written from)."""
    lines = source.rstrip().splitlines()
    if lines and lines[-1] == english_links(filename):
        lines = lines[:-1]
    return "\n".join(lines).rstrip()


def english_texts(english: Path) -> list[tuple[str, int | None, str]]:
    """(kind, cell index, English text) for the summary and every Markdown cell, in order."""
    nb = nbformat.read(english, as_version=4)
    texts = [("summary", None, course.find(english.name[:2]).summary)]
    for index, cell in enumerate(nb.cells):
        if cell.cell_type == "markdown":
            source = _title_body(cell.source, english.name) if index == 0 else cell.source.rstrip()
            texts.append(("cell", index, source))
    return texts


@dataclass
class Block:
    kind: str  # "cell", "summary" or "stale"
    index: int | None
    sha: str
    text: str


@dataclass
class Catalogue:
    path: Path
    blocks: list[Block] = field(default_factory=list)

    def translation(self, sha: str, kind: str) -> Block | None:
        wanted = "summary" if kind == "summary" else "cell"
        return next((b for b in self.blocks if b.sha == sha and b.kind == wanted), None)


def read_catalogue(path: Path) -> Catalogue:
    """Parse a catalogue file; anything before the first marker is a comment."""
    catalogue = Catalogue(path)
    if not path.is_file():
        return catalogue
    current = None
    lines = []
    for line in path.read_text(encoding="utf-8").splitlines():
        match = MARKER.match(line.strip())
        if match:
            if current is not None:
                current.text = "\n".join(lines).strip()
                catalogue.blocks.append(current)
            label, cell, stale, sha = match.groups()
            if label == "summary":
                current = Block("summary", None, sha, "")
            elif cell is not None:
                current = Block("cell", int(cell), sha, "")
            else:
                current = Block("stale", int(stale), sha, "")
            lines = []
        elif current is not None:
            lines.append(line)
    if current is not None:
        current.text = "\n".join(lines).strip()
        catalogue.blocks.append(current)
    return catalogue


def problems(english: Path) -> list[str]:
    """What keeps ``english``'s Chinese edition from being complete and current (empty: none)."""
    catalogue = read_catalogue(catalogue_path(english))
    if not catalogue.blocks:
        return [f"{english.name}: no catalogue {catalogue_path(english).relative_to(ROOT)}; run --stub {english.name[:2]}"]
    found = []
    used = set()
    for kind, index, text in english_texts(english):
        where = "summary" if kind == "summary" else f"cell {index}"
        block = catalogue.translation(digest(text), kind)
        if block is None:
            found.append(f"{english.name} {where}: no translation of its current English (changed or new): {text[:70]!r}")
            continue
        used.add(id(block))
        if TODO in block.text:
            found.append(f"{english.name} {where}: still a stub (the {TODO[:12]}... line is there)")
        elif not CJK.search(block.text):
            found.append(f"{english.name} {where}: the translation has no Chinese in it")
    for block in catalogue.blocks:
        if block.kind == "stale":
            found.append(f"{english.name}: a stale block (cell {block.index}) is left in the catalogue: update or delete it")
        elif id(block) not in used:
            found.append(f"{english.name}: a translation of cell {block.index} matches no English cell: its English changed")
    return found


def build(english: Path) -> nbformat.NotebookNode:
    """The Chinese notebook for ``english``; ValueError listing the problems if its catalogue is not complete."""
    found = problems(english)
    if found:
        raise ValueError("the Chinese edition cannot be built:\n  " + "\n  ".join(found))
    catalogue = read_catalogue(catalogue_path(english))
    nb = nbformat.read(english, as_version=4)
    zh = copy.deepcopy(nb)
    for index, cell in enumerate(zh.cells):
        if cell.cell_type != "markdown":
            continue
        text = _title_body(cell.source, english.name) if index == 0 else cell.source.rstrip()
        translated = catalogue.translation(digest(text), "cell").text
        cell.source = translated + ("\n\n" + chinese_links(english.name) if index == 0 else "")
    zh.metadata.setdefault(course.METADATA_KEY, {}).update(edition="zh-CN", generated_from=f"../{english.name}")
    return zh


def chinese_title(english: Path) -> str:
    """The Chinese notebook's title: its first line without ``# NN · ``."""
    catalogue = read_catalogue(catalogue_path(english))
    first = english_texts(english)[1]
    block = catalogue.translation(digest(first[2]), "cell")
    if block is None or TODO in block.text:  # not translated yet: the English title, marked
        return course.find(english.name[:2]).title + "（待译）"
    heading = block.text.splitlines()[0]
    return heading.split(" · ", 1)[1] if " · " in heading else heading.lstrip("# ")


def chinese_summary(english: Path) -> str:
    catalogue = read_catalogue(catalogue_path(english))
    block = catalogue.translation(digest(english_texts(english)[0][2]), "summary")
    if block is None or TODO in block.text:
        return course.find(english.name[:2]).summary + "（待译）"
    return block.text


def course_table_markdown() -> str:
    """README.zh-CN.md's course table, from the Chinese titles and summaries and the recorded times."""
    lines = ["| # | 笔记本 | 原文章节 | 你将动手做什么、看到什么 | 用时（双核 CPU） |", "|---|---|---|---|---:|"]
    for nb in course.COURSE:
        english = NOTEBOOKS / nb.filename
        seconds = course.read_wall_time(english)
        time = f"{seconds:.0f} 秒" if seconds is not None else "未运行"
        link = f"[{chinese_title(english)}](notebooks/zh/{nb.filename})"
        lines.append(f"| {nb.number} | {link} | {', '.join(nb.seed_sections)} | {chinese_summary(english)} | {time} |")
    return "\n".join(lines)


def with_english_links(english: Path) -> bool:
    """Make the English title cell end with its links line; True if the file changed."""
    nb = nbformat.read(english, as_version=4)
    title = nb.cells[0]
    wanted = _title_body(title.source, english.name) + "\n\n" + english_links(english.name)
    if title.source == wanted:
        return False
    title.source = wanted
    nbformat.write(nb, english)
    return True


def write_stub(english: Path) -> Path:
    """Create or update a catalogue: keep what still matches, add stubs, mark the rest stale."""
    path = catalogue_path(english)
    catalogue = read_catalogue(path)
    kept = set()
    out = [f"<!-- The Chinese edition of {english.name}: one block per Markdown cell, under the hash of the English"
           f" it translates. Built by tools/chinese_edition.py; conventions in CONTRIBUTING.md. -->", ""]
    for kind, index, text in english_texts(english):
        block = catalogue.translation(digest(text), kind)
        marker = f"<!-- summary {digest(text)} -->" if kind == "summary" else f"<!-- cell {index} {digest(text)} -->"
        if block is not None:
            kept.add(id(block))
            body = block.text
        else:
            body = TODO + "\n" + text
        out += [marker, body, ""]
    for block in catalogue.blocks:
        if id(block) not in kept and block.kind != "summary":
            out += [f"<!-- stale cell {block.index} {block.sha} -->", block.text, ""]
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(out).rstrip() + "\n", encoding="utf-8")
    return path


README_BEGIN = "<!-- course-table:begin (generated by tools/chinese_edition.py; do not edit by hand) -->"
README_END = "<!-- course-table:end -->"


def readme_course_table(text: str) -> str:
    begin, end = text.find(README_BEGIN), text.find(README_END)
    if begin < 0 or end < begin:
        raise ValueError(f"README.zh-CN.md has no table between {README_BEGIN!r} and {README_END!r}")
    return text[begin + len(README_BEGIN) : end].strip()


def write_readme_table() -> None:
    text = README_ZH.read_text(encoding="utf-8")
    begin, end = text.find(README_BEGIN), text.find(README_END)
    if begin < 0 or end < begin:
        raise ValueError(f"README.zh-CN.md has no table between {README_BEGIN!r} and {README_END!r}")
    text = text[: begin + len(README_BEGIN)] + "\n" + course_table_markdown() + "\n" + text[end:]
    README_ZH.write_text(text, encoding="utf-8")


def select(names: list[str]) -> list[Path]:
    paths = english_paths()
    if not names:
        return paths
    chosen = [p for name in names for p in paths if p.name == name or p.name.startswith(f"{name}_") or p.stem == name]
    if len(chosen) < len(names):
        raise SystemExit(f"chinese_edition: not every name in {names} matches a notebook; have {[p.name for p in paths]}")
    return chosen


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("names", nargs="*", help="notebook numbers or filenames (default: all)")
    parser.add_argument("--stub", action="store_true", help="create or update the named notebooks' catalogues")
    parser.add_argument("--check", action="store_true", help="list what is untranslated or stale; build nothing")
    args = parser.parse_args(argv)
    paths = select(args.names)
    if args.stub:
        for english in paths:
            with_english_links(english)
            print(f"catalogue: {write_stub(english).relative_to(ROOT)}")
        return 0
    failed = []
    for english in paths:
        found = problems(english)
        if found:
            failed.append(english.name)
            print("\n".join(found))
        elif not args.check:
            ZH.mkdir(exist_ok=True)
            nbformat.write(build(english), chinese_path(english))
    if not args.check and README_ZH.is_file():
        write_readme_table()
    print(f"Chinese edition: {len(paths) - len(failed)} of {len(paths)} notebooks "
          + ("checked" if args.check else "built") + (f"; not complete: {', '.join(failed)}" if failed else ""))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
