"""The Chinese edition (notebooks/zh/): complete, current, and code-identical to the English one.

The Chinese notebooks are not executed again: tools/chinese_edition.py builds each from the
executed English notebook and its translation catalogue, and these tests check that what is
stored is that build, that no Markdown cell is untranslated or translated from an older
English text, that every code cell and output is the English one, and that the terms used
are the glossary's.
"""

import importlib.util
import json
import re
import sys
from pathlib import Path

import nbformat
import pytest

from course_lib import course

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = ROOT / "notebooks"
ENGLISH = sorted(NOTEBOOKS.glob("[0-9][0-9]_*.ipynb"))
#: Notebooks whose translation is still being written (issue 15). Their tests are expected
#: to fail (strict: one that starts passing fails until it is taken off this list).
PENDING = set()


def _each(expect_translated=True):
    return [pytest.param(p, id=p.name, marks=[pytest.mark.xfail(strict=True, reason="translation in progress")]
                         if expect_translated and p.name[:2] in PENDING else []) for p in ENGLISH]
CJK_RUN = re.compile(r"[\u3400-\u9fff\u3007]+")
#: 中文（English）: a glossary term's first use. Full-width parentheses around Latin words only.
TERM_PAIR = re.compile(r"([\u3400-\u9fff\u3007A-Za-z0-9 -]*[\u3400-\u9fff])（([A-Za-z][A-Za-z0-9 '–-]*)）")


def _tool():
    spec = importlib.util.spec_from_file_location("chinese_edition", ROOT / "tools" / "chinese_edition.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules["chinese_edition"] = module
    spec.loader.exec_module(module)
    return module


edition = _tool()


def _load(path):
    return json.loads(Path(path).read_text(encoding="utf-8"))


def _source(cell):
    return "".join(cell["source"]) if isinstance(cell["source"], list) else cell["source"]


def _markdown(path):
    return [_source(c) for c in _load(path)["cells"] if c["cell_type"] == "markdown"]


def glossary():
    """{english: chinese} from notebooks/glossary.md's table."""
    rows = {}
    for line in edition.GLOSSARY.read_text(encoding="utf-8").splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")] if line.startswith("|") else []
        if len(cells) >= 2 and cells[0] not in ("English", "") and not set(cells[0]) <= set("-:"):
            assert cells[0] not in rows, f"glossary: {cells[0]!r} is listed twice"
            rows[cells[0]] = cells[1]
    return rows


def test_every_english_notebook_has_a_chinese_edition_and_nothing_else_is_there():
    chinese = {p.name for p in edition.ZH.glob("*.ipynb")}
    assert chinese == {p.name for p in ENGLISH if p.name[:2] not in PENDING}, "run `.venv/bin/python tools/chinese_edition.py`"
    catalogues = {p.stem for p in edition.CATALOGUES.glob("*.md")}
    assert catalogues == {p.stem for p in ENGLISH}, "one catalogue per notebook, named as the notebook"


@pytest.mark.parametrize("english", _each())
def test_translation_is_complete_and_current(english):
    """No Markdown cell untranslated, none translated from an English text that has changed since."""
    found = edition.problems(english)
    assert not found, "\n".join(found)


@pytest.mark.parametrize("english", _each())
def test_stored_chinese_notebook_is_the_build_output(english):
    """Generated, never edited by hand: what is stored is what the build command writes now."""
    stored = nbformat.read(edition.chinese_path(english), as_version=4)
    assert stored == edition.build(english), f"stale: run `.venv/bin/python tools/chinese_edition.py {english.name[:2]}`"


@pytest.mark.parametrize("english", _each())
def test_code_cells_and_outputs_are_the_english_ones(english):
    en, zh = _load(english), _load(edition.chinese_path(english))
    assert [c["cell_type"] for c in zh["cells"]] == [c["cell_type"] for c in en["cells"]]
    for i, (a, b) in enumerate(zip(en["cells"], zh["cells"])):
        if a["cell_type"] == "code":
            assert b == a, f"code cell {i} differs from the English notebook's"
        else:
            assert _source(b) != _source(a), f"Markdown cell {i} is the English text"
    assert zh["metadata"]["kernelspec"] == en["metadata"]["kernelspec"]
    assert course.read_wall_time(edition.chinese_path(english)) == course.read_wall_time(english)


@pytest.mark.parametrize("english", _each())
def test_title_cell_quotes_the_seed_and_links_both_ways(english):
    entry = course.find(english.name[:2])
    en_title = _markdown(english)[0]
    zh_title = _markdown(edition.chinese_path(english))[0]
    lines = zh_title.splitlines()
    assert lines[0].startswith(f"# {entry.number} · ") and CJK_RUN.search(lines[0]), f"Chinese heading: {lines[0]!r}"
    assert lines[1] == "原文章节：" + ", ".join(entry.seed_sections), f"second line: {lines[1]!r}"
    quotes = [run for run in CJK_RUN.findall(en_title) if len(run) >= 4]
    assert quotes, "the English title cell quotes no sentence of the seed article"
    missing = [q for q in quotes if q not in zh_title]
    assert not missing, f"the Chinese title cell must quote the article as the English one does; missing {missing}"
    assert en_title.rstrip().endswith(edition.english_links(english.name))
    assert zh_title.rstrip().endswith(edition.chinese_links(english.name))


@pytest.mark.parametrize("english", _each())
def test_the_skeleton_survives_translation(english):
    """The same sections in the same order, with the course's Chinese names for the fixed ones."""
    def headings(path):
        return [line for text in _markdown(path) for line in text.splitlines() if line.startswith("## ")]

    fixed = {"## Learning objectives": "## 学习目标", "## Setup": "## 准备工作", "## Summary": "## 小结", "## Exercises": "## 练习"}
    en, zh = headings(english), headings(edition.chinese_path(english))
    assert len(zh) == len(en), f"{len(en)} level-2 headings in English, {len(zh)} in Chinese"
    for a, b in zip(en, zh):
        number = re.match(r"## (\d+)\. ", a)
        if a in fixed:
            assert b == fixed[a], f"{a!r} should be {fixed[a]!r}, got {b!r}"
        elif number:
            assert b.startswith(number.group(0)) and CJK_RUN.search(b), f"{a!r} -> {b!r}"


@pytest.mark.parametrize("english", _each())
def test_formulas_links_and_code_names_survive_translation(english):
    math = re.compile(r"\$\$.+?\$\$|\$[^$\n]+\$", re.S)
    link = re.compile(r"\]\(([^)]+)\)")
    code = re.compile(r"`([^`\n]+)`")
    for i, (a, b) in enumerate(zip(_markdown(english), _markdown(edition.chinese_path(english)))):
        if i == 0:  # the title cell's last line links the other edition, from its own folder
            a, b = a.rstrip().rsplit("\n", 1)[0], b.rstrip().rsplit("\n", 1)[0]
        assert set(math.findall(b)) == set(math.findall(a)), f"Markdown cell {i}: formulas changed: {set(math.findall(a)) ^ set(math.findall(b))}"
        assert set(link.findall(b)) == set(link.findall(a)), f"Markdown cell {i}: link targets changed"
        assert set(code.findall(a)) <= set(code.findall(b)), f"Markdown cell {i}: code names lost: {set(code.findall(a)) - set(code.findall(b))}"


@pytest.mark.xfail(bool(PENDING), strict=True, reason="the glossary's terms are used once every notebook is translated")
def test_the_glossary_has_the_course_terms_and_every_term_used_is_in_it():
    terms = glossary()
    for english, chinese in {"encoder": "编码器", "self-attention": "自注意力", "positional encoding": "位置编码", "mask": "掩码",
                             "teacher forcing": "教师强制", "beam search": "束搜索", "linear probe": "线性探测",
                             "negative transfer": "负迁移", "contrastive learning": "对比学习"}.items():
        assert terms.get(english) == chinese, f"glossary: {english} should be {chinese}, has {terms.get(english)!r}"
    assert list(terms) == sorted(terms, key=str.lower), "glossary: keep the rows sorted by their English term"
    problems, used = [], set()
    for english in ENGLISH:
        for text in _markdown(edition.chinese_path(english)):
            for before, term in TERM_PAIR.findall(text):
                if term not in terms:
                    problems.append(f"{english.name[:2]}: {term!r} (as {before[-8:]}) is not in notebooks/glossary.md")
                elif not before.endswith(terms[term]):
                    problems.append(f"{english.name[:2]}: {term!r} is written {before[-8:]!r}, the glossary says {terms[term]!r}")
                used.add(term)
    assert not problems, "\n".join(problems)
    corpus = "\n".join(text for english in ENGLISH for text in _markdown(edition.chinese_path(english)))
    unused = [f"{e} ({z})" for e, z in terms.items() if z not in corpus]
    assert not unused, f"glossary terms the Chinese edition never uses: {unused}"
    assert len(used) >= 0.5 * len(terms), f"only {len(used)} of {len(terms)} glossary terms are introduced as 中文（English）"


def test_term_check_can_fail():
    assert TERM_PAIR.findall("我们先看自注意力（self-attention）和前馈网络（feed-forward network）。") == [
        ("我们先看自注意力", "self-attention"), ("和前馈网络", "feed-forward network")]
    assert TERM_PAIR.findall("见笔记本 07（`attention`）或（见上）") == []


def test_the_glossary_has_the_terms_the_issue_names_sorted_and_once():
    terms = glossary()
    assert terms["self-attention"] == "自注意力" and terms["teacher forcing"] == "教师强制"
    assert list(terms) == sorted(terms, key=str.lower) and len(set(terms.values())) == len(terms)


def test_readmes_link_each_other_and_the_chinese_course_table_is_generated():
    english, chinese = (ROOT / "README.md").read_text(encoding="utf-8"), edition.README_ZH.read_text(encoding="utf-8")
    assert "(README.zh-CN.md)" in english and "(README.md)" in chinese
    assert "(notebooks/glossary.md)" in english and "(notebooks/glossary.md)" in chinese
    assert edition.readme_course_table(chinese) == edition.course_table_markdown(), (
        "README.zh-CN.md's course table is stale: run `.venv/bin/python tools/chinese_edition.py`")
    for notebook in course.COURSE:
        assert f"(notebooks/zh/{notebook.filename})" in chinese
        assert (notebook.number in PENDING) == (f"{notebook.title}（待译）" in chinese), notebook.number


def _sandbox(tmp_path, monkeypatch):
    """A copy of notebook 07 and its catalogue in tmp_path, with the tool pointed there."""
    notebooks, zh = tmp_path / "notebooks", tmp_path / "notebooks" / "zh"
    (zh / "translations").mkdir(parents=True)
    english = notebooks / "07_self_attention.ipynb"
    english.write_bytes((NOTEBOOKS / english.name).read_bytes())
    for name, value in {"NOTEBOOKS": notebooks, "ZH": zh, "CATALOGUES": zh / "translations", "ROOT": tmp_path}.items():
        monkeypatch.setattr(edition, name, value)
    catalogue = edition.write_stub(english)  # every block a stub; "translate" each by marking its English
    assert edition.problems(english) and all("still a stub" in p for p in edition.problems(english))
    text = catalogue.read_text(encoding="utf-8").replace(edition.TODO + "\n", "译文：")
    catalogue.write_text(text.replace("译文：# 07 · ", "# 07 · 译文：", 1), encoding="utf-8")
    return english


def test_a_changed_english_cell_stops_the_build_until_it_is_translated_again(tmp_path, monkeypatch):
    english = _sandbox(tmp_path, monkeypatch)
    assert edition.problems(english) == []
    nb = nbformat.read(english, as_version=4)
    index = next(i for i, c in enumerate(nb.cells) if c.cell_type == "markdown" and i > 0)
    nb.cells[index].source += " One more sentence."
    nbformat.write(nb, english)
    found = edition.problems(english)
    assert any(f"cell {index}: no translation of its current English" in p for p in found), found
    assert any(f"translation of cell {index} matches no English cell" in p for p in found), found
    with pytest.raises(ValueError, match="cannot be built"):
        edition.build(english)
    edition.write_stub(english)  # the old translation becomes a stale block beside a fresh stub
    found = edition.problems(english)
    assert any("still a stub" in p for p in found) and any("stale block" in p for p in found), found
    catalogue = edition.read_catalogue(edition.catalogue_path(english))
    stale = next(b for b in catalogue.blocks if b.kind == "stale")
    stub = next(b for b in catalogue.blocks if b.kind == "cell" and b.index == index)
    assert edition.TODO in stub.text and "One more sentence." in stub.text and edition.CJK.search(stale.text)


def test_build_copies_code_and_translates_markdown(tmp_path, monkeypatch):
    english = _sandbox(tmp_path, monkeypatch)
    en, zh = nbformat.read(english, as_version=4), edition.build(english)
    assert [c.source for c in zh.cells if c.cell_type == "code"] == [c.source for c in en.cells if c.cell_type == "code"]
    assert zh.cells[0].source.splitlines()[0].startswith("# 07 · ")
    assert zh.metadata["course"]["edition"] == "zh-CN"
