"""Notebook hygiene: what a learner opening any notebook can rely on.

nbval (configured in pyproject.toml) re-runs every notebook; these tests check the
stored notebooks themselves: executed once top to bottom by tools/run_notebooks.py,
no stored errors, the course skeleton, listed in the course map and the README.
"""

import json
import re
from pathlib import Path

import pytest

from course_lib import course

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = ROOT / "notebooks"
PATHS = sorted(NOTEBOOKS.glob("*.ipynb"))
SOURCES = sorted(ROOT.glob("course_lib/**/*.py")) + PATHS


def _load(path):
    return json.loads(path.read_text(encoding="utf-8"))


def _source(cell):
    return "".join(cell["source"]) if isinstance(cell["source"], list) else cell["source"]


def _code_cells(nb):
    return [c for c in nb["cells"] if c["cell_type"] == "code" and _source(c).strip()]


def _headings(nb):
    """(cell index, heading line) for every level-2 Markdown heading."""
    return [
        (i, line.strip())
        for i, cell in enumerate(nb["cells"])
        if cell["cell_type"] == "markdown"
        for line in _source(cell).splitlines()
        if line.startswith("## ")
    ]


def _calls(code, name):
    """The argument text of every call ``name(...)`` in ``code`` (parentheses balanced)."""
    calls = []
    for match in re.finditer(re.escape(name) + r"\(", code):
        depth, i = 1, match.end()
        while depth and i < len(code):
            depth += {"(": 1, ")": -1}.get(code[i], 0)
            i += 1
        calls.append(code[match.end() : i - 1])
    return calls


def test_every_notebook_is_in_the_course_map_and_back():
    on_disk = {p.name for p in PATHS}
    listed = {nb.filename for nb in course.COURSE}
    assert on_disk == listed, f"not in course_lib.course.COURSE: {on_disk - listed}; listed but missing: {listed - on_disk}"


def test_readme_course_table_is_the_generated_one():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    expected = course.course_table_markdown(NOTEBOOKS)
    assert course.readme_course_table(readme) == expected, (
        "README course table is stale: run `.venv/bin/python tools/run_notebooks.py` to regenerate it"
    )


def test_readme_module_table_is_the_generated_one():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert course.readme_module_table(readme) == course.module_table_markdown(), (
        "README module table is stale: run `.venv/bin/python tools/run_notebooks.py --table-only` to regenerate it"
    )


@pytest.mark.parametrize("path", PATHS, ids=lambda p: p.name)
def test_executed_once_top_to_bottom_without_errors(path):
    nb = _load(path)
    assert nb["metadata"].get("kernelspec", {}).get("name") == "python3"
    counts = [c.get("execution_count") for c in _code_cells(nb)]
    assert counts == list(range(1, len(counts) + 1)), f"execution counts {counts}: rerun tools/run_notebooks.py"
    errors = [o for c in _code_cells(nb) for o in c.get("outputs", []) if o.get("output_type") == "error"]
    assert not errors, f"stored error output: {errors[0].get('ename')}: {errors[0].get('evalue')}"


@pytest.mark.parametrize("path", PATHS, ids=lambda p: p.name)
def test_recorded_wall_time_is_within_budget(path):
    seconds = course.read_wall_time(path)
    assert seconds is not None, "no wall time recorded: run tools/run_notebooks.py"
    assert seconds <= course.TIME_BUDGET_S, f"{path.name} took {seconds} s, budget {course.TIME_BUDGET_S} s"


@pytest.mark.parametrize("path", PATHS, ids=lambda p: p.name)
def test_course_skeleton(path):
    nb = _load(path)
    entry = course.find(path.name[:2])
    first = _source(nb["cells"][0])
    assert nb["cells"][0]["cell_type"] == "markdown" and first.splitlines()[0] == entry.heading
    assert entry.seed_line in first, f"first cell must name the seed sections: {entry.seed_line!r}"

    headings = _headings(nb)
    titles = [h for _, h in headings]
    for required in ("## Learning objectives", "## Setup", "## Summary", "## Exercises"):
        assert required in titles, f"missing section {required!r}; has {titles}"
    numbered = [int(m.group(1)) for t in titles if (m := re.match(r"## (\d+)\. ", t))]
    assert len(numbered) >= 2 and numbered == list(range(1, len(numbered) + 1)), f"numbered sections {numbered}"
    order = [titles.index(t) for t in ("## Learning objectives", "## Setup")]
    first_numbered = next(i for i, t in enumerate(titles) if re.match(r"## 1\. ", t))
    assert order[0] < order[1] < first_numbered < titles.index("## Summary") < titles.index("## Exercises")

    setup_cell = _code_cells(nb)[0]
    assert "setup_notebook(" in _source(setup_cell), "the first code cell must call course_lib.setup_notebook()"
    exercises_at = dict((t, i) for i, t in headings)["## Exercises"]
    solutions = [c for c in nb["cells"][exercises_at:] if c["cell_type"] == "code" and _source(c).strip()]
    assert solutions, "exercises need worked solutions that run"


@pytest.mark.parametrize("path", PATHS, ids=lambda p: p.name)
def test_claims_are_checked_and_training_is_quiet(path):
    code = "\n".join(_source(c) for c in _code_cells(_load(path)))
    assert "# NBVAL_CHECK_OUTPUT" in code, "mark at least one deterministic cell with # NBVAL_CHECK_OUTPUT"
    assert re.search(r"^\s*assert |check_", code, re.M), "results a notebook claims must be checked in code"
    keras_fits = [args for args in _calls(code, ".fit") if re.search(r"\b(epochs|batch_size)\s*=", args)]
    for args in keras_fits:
        assert re.search(r"verbose\s*=\s*[02]\b", args), f"Keras fit(...) without verbose=0 or 2: fit({args[:80]}...)"
    streams = "".join("".join(o.get("text", "")) for c in _code_cells(_load(path)) for o in c.get("outputs", []))
    assert not re.search(r"Epoch \d+/\d+|━━━━━━━━━━━━━━━━━━━━ \d", streams), "a progress bar was stored: use verbose=0 or 2"


@pytest.mark.parametrize("path", SOURCES, ids=lambda p: p.name)
def test_keras_3_style_only(path):
    text = path.read_text(encoding="utf-8")
    assert "tf.keras" not in text, f"{path.name} uses tf.keras; use `import keras` (Keras 3)"


@pytest.mark.parametrize("path", PATHS, ids=lambda p: p.name)
def test_exercise_solutions_are_stored_collapsed(path):
    """Rule 6 (CONTRIBUTING.md): a learner sees the exercise, and the solution only when asked."""
    nb = _load(path)
    exercises_at = dict((t, i) for i, t in _headings(nb))["## Exercises"]
    solutions = [c for c in nb["cells"][exercises_at:] if c["cell_type"] == "code" and _source(c).strip()]
    for cell in solutions:
        first = _source(cell).splitlines()[0]
        assert re.fullmatch(r"# Solution \d+.*", first), f"a code cell after ## Exercises must start '# Solution N', got {first!r}"
        assert cell["metadata"].get("jupyter", {}).get("source_hidden") is True, f"{first}: not collapsed in JupyterLab/Notebook 7"
        assert cell["metadata"].get("cellView") == "form", f"{first}: not collapsed on Colab (cellView: form)"


@pytest.mark.parametrize("path", PATHS, ids=lambda p: p.name)
def test_validation_data_never_comes_from_the_test_split(path):
    """Rule 1 (CONTRIBUTING.md): choices are made on validation data; the test split is used once, at the end."""
    code = "\n".join(_source(c) for c in _code_cells(_load(path)))
    for match in re.finditer(r"validation_data\s*=\s*", code):
        rest = code[match.end() :]
        if rest.startswith("("):
            argument = rest[: _closing(rest) + 1]
        else:
            argument = re.match(r"[\w.\[\]]+", rest).group(0)
        assert "test" not in argument, f"validation_data={argument}: validate on a split carved from the training data"


def _closing(text):
    """Index of the parenthesis closing the one that opens ``text``."""
    depth = 0
    for i, char in enumerate(text):
        depth += {"(": 1, ")": -1}.get(char, 0)
        if depth == 0:
            return i
    raise ValueError(f"unbalanced parentheses in {text[:80]!r}")


@pytest.mark.parametrize("path", PATHS, ids=lambda p: p.name)
def test_one_idea_at_a_learners_pace(path):
    """Rule 5 (CONTRIBUTING.md): a notebook has at most course.MAX_CELLS cells; a longer one is split."""
    cells = len(_load(path)["cells"])
    assert cells <= course.MAX_CELLS, f"{path.name} has {cells} cells, more than {course.MAX_CELLS}: split it (rule 5)"


def _course_lib_uses(path):
    """{(module, name): first cell index} for every course_lib name a notebook's code uses."""
    import ast

    import course_lib

    def resolve(name):
        """(module, name) of a top-level ``course_lib.name``; (name, None) for a submodule."""
        if name in course_lib._LAZY_SUBMODULES:
            return name, None
        if name in course_lib._LAZY_ATTRIBUTES:
            return course_lib._LAZY_ATTRIBUTES[name], name
        return "env", name  # set_seed, setup_notebook, ...: re-exported from course_lib.env

    uses = {}
    for index, cell in enumerate(_load(path)["cells"]):
        if cell["cell_type"] != "code":
            continue
        code = "\n".join(line for line in _source(cell).splitlines() if not line.lstrip().startswith(("%", "!")))
        tree = ast.parse(code)
        modules = {}  # local alias -> course_lib submodule
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and node.module and node.module.split(".")[0] == "course_lib":
                for alias in node.names:
                    if node.module == "course_lib":
                        module, name = resolve(alias.name)
                        if name is None:
                            modules[alias.asname or alias.name] = module
                        else:
                            uses.setdefault((module, name), index)
                    else:
                        uses.setdefault((node.module.split(".")[1], alias.name), index)
            elif isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id == "course_lib":
                module, name = resolve(node.attr)
                if name is not None:
                    uses.setdefault((module, name), index)
            elif isinstance(node, ast.Attribute) and isinstance(node.value, ast.Attribute):
                inner = node.value
                if isinstance(inner.value, ast.Name) and inner.value.id == "course_lib" and inner.attr in course_lib._LAZY_SUBMODULES:
                    uses.setdefault((inner.attr, node.attr), index)
        for node in ast.walk(tree):  # F.glorot_uniform after `from course_lib import formulas as F`
            if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id in modules:
                uses.setdefault((modules[node.value.id], node.attr), index)
    return uses


def _teacher(module, name):
    """The notebook whose ``teaches`` covers ``module.name`` (the most specific entry), or None."""
    for key in (f"{module}.{name}", module):
        for notebook in course.COURSE:
            if key in notebook.teaches:
                return notebook
    return None


@pytest.mark.parametrize("path", PATHS, ids=lambda p: p.name)
def test_nothing_is_used_before_it_is_taught(path):
    """Rule 4 (CONTRIBUTING.md): a notebook uses only course_lib modules taught by it or an earlier notebook."""
    here = course.find(path.name[:2])
    problems = []
    for (module, name), index in sorted(_course_lib_uses(path).items(), key=lambda item: item[1]):
        if module in course.INFRASTRUCTURE:
            continue
        teacher = _teacher(module, name)
        if teacher is None:
            problems.append(f"cell {index}: course_lib.{module}.{name} is taught by no notebook (add it to a Notebook's teaches)")
        elif teacher.number > here.number:
            problems.append(f"cell {index}: course_lib.{module}.{name} is taught only later, in notebook {teacher.number}")
    assert not problems, f"{path.name}:\n" + "\n".join(problems)


def test_the_teaching_map_covers_course_lib_and_names_only_what_exists():
    import importlib
    import pkgutil

    import course_lib

    public = {m.name for m in pkgutil.iter_modules(course_lib.__path__) if not m.name.startswith("_")}
    taught = {entry.split(".")[0] for notebook in course.COURSE for entry in notebook.teaches}
    assert public - set(course.INFRASTRUCTURE) - taught == set(), "modules that no notebook teaches"
    assert taught | set(course.INFRASTRUCTURE) <= public, "the map names modules that do not exist"
    for notebook in course.COURSE:
        for entry in notebook.teaches:
            module, _, name = entry.partition(".")
            if name:
                assert hasattr(importlib.import_module(f"course_lib.{module}"), name), f"{notebook.number}: {entry} does not exist"
    entries = [entry for notebook in course.COURSE for entry in notebook.teaches]
    assert len(entries) == len(set(entries)), "an entry is taught by two notebooks"


def test_the_teaching_check_can_fail(tmp_path):
    """A notebook that imports a later notebook's module is caught (the check above is not vacuous)."""
    import nbformat

    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(
        "import course_lib\nfrom course_lib import formulas as F\nfrom course_lib.attention import MultiHeadAttention\n"
        "F.conv2d\ncourse_lib.TransformerEncoder\ncourse_lib.datasets.load_digits_split")])
    path = tmp_path / "01_x.ipynb"
    nbformat.write(nb, path)
    uses = _course_lib_uses(path)
    assert set(uses) == {("formulas", "conv2d"), ("attention", "MultiHeadAttention"), ("transformer", "TransformerEncoder"),
                         ("datasets", "load_digits_split")}
    assert [_teacher(*use).number for use in sorted(uses) if use[0] not in course.INFRASTRUCTURE] == ["07", "05", "08"]


def test_every_module_in_the_module_table_has_its_test_file():
    import pkgutil

    import course_lib

    for module in (m.name for m in pkgutil.iter_modules(course_lib.__path__) if not m.name.startswith("_")):
        assert (ROOT / course.test_file(module)).is_file(), f"course_lib.{module}: no {course.test_file(module)}"
    assert next(line for line in course.module_table_markdown().splitlines() if line.startswith("| `attention` |")).endswith("| 07 | `tests/test_attention.py` |")


def test_seed_section_table_lists_every_notebook_under_its_sections():
    table = course.seed_section_table_markdown()
    for notebook in course.COURSE:
        base = {entry.split(".")[0] if entry.startswith("§") else "§9" for entry in notebook.seed_sections}
        for section in base:
            row = next(line for line in table.splitlines() if line.startswith(f"| {section} |"))
            assert notebook.number in row.rsplit("|", 2)[1], f"{notebook.number} missing from the {section} row"
