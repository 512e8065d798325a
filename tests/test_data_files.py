"""Every file in data/ is listed in data/README.md with its provenance and a matching SHA-256."""

import hashlib
import re
from pathlib import Path

import pytest

DATA = Path(__file__).resolve().parent.parent / "data"
FILES = sorted(p for p in DATA.rglob("*") if p.is_file() and p.name != "README.md")
ROW = re.compile(r"^\|\s*`?(?P<file>[^|`]+?)`?\s*\|(?P<provenance>[^|]+)\|(?P<licence>[^|]+)\|\s*(?P<sha>[0-9a-f]{64})\s*\|$")


def _listed():
    rows = {}
    for line in (DATA / "README.md").read_text(encoding="utf-8").splitlines():
        if m := ROW.match(line.strip()):
            rows[m["file"]] = m
    return rows


def test_readme_lists_only_files_that_exist():
    missing = [name for name in _listed() if not (DATA / name).is_file()]
    assert not missing, f"data/README.md lists files that are not in data/: {missing}"


@pytest.mark.parametrize("path", FILES, ids=lambda p: str(p.relative_to(DATA)))
def test_file_is_listed_with_matching_checksum(path):
    name = str(path.relative_to(DATA))
    row = _listed().get(name)
    assert row is not None, f"data/{name} is not listed in data/README.md (provenance, licence, sha256)"
    assert row["provenance"].strip() and row["licence"].strip()
    actual = hashlib.sha256(path.read_bytes()).hexdigest()
    assert actual == row["sha"], f"data/{name}: sha256 {actual} does not match data/README.md ({row['sha']})"
