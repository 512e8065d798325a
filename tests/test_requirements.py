"""The installed environment fits requirements.txt, and the checker itself is right."""

from pathlib import Path

import pytest

from course_lib.env import check_requirements, format_requirement_table

ROOT = Path(__file__).resolve().parent.parent


def test_installed_versions_fit_requirements_txt():
    checks = check_requirements(ROOT / "requirements.txt")
    assert {c.name for c in checks} >= {"tensorflow", "keras", "numpy", "scikit-learn", "matplotlib", "nbval", "pytest"}
    bad = [c for c in checks if not c.ok]
    assert not bad, "installed packages do not fit requirements.txt:\n" + format_requirement_table(checks)


def test_checker_flags_missing_and_out_of_range(tmp_path):
    req = tmp_path / "requirements.txt"
    req.write_text(
        "# comment\n\n-e .\n"
        "numpy>=1.0  # fits\n"
        "pytest<1.0\n"
        "a-package-that-is-not-installed==1.0\n"
        'keras>=0 ; python_version < "3.0"\n'
    )
    checks = {c.name: c for c in check_requirements(req)}
    assert set(checks) == {"numpy", "pytest", "a-package-that-is-not-installed"}  # the marker skips keras
    assert checks["numpy"].ok
    assert not checks["pytest"].ok
    assert not checks["a-package-that-is-not-installed"].ok
    table = format_requirement_table(list(checks.values()))
    assert "MISSING" in table and "NO" in table and table.splitlines()[0].split() == ["package", "required", "installed", "ok"]


def test_checker_errors_name_the_problem(tmp_path):
    with pytest.raises(FileNotFoundError, match="path"):
        check_requirements(tmp_path / "nope.txt")
    bad = tmp_path / "requirements.txt"
    bad.write_text("numpy>=1\nthis is not a requirement!\n")
    with pytest.raises(ValueError, match="line 2"):
        check_requirements(bad)
