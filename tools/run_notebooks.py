#!/usr/bin/env python
"""Re-execute course notebooks in place on a fresh kernel and record their wall times.

This is the only way notebook outputs are produced:

    .venv/bin/python tools/run_notebooks.py            # every notebook
    .venv/bin/python tools/run_notebooks.py 01 03      # the ones named (number or filename)

Each notebook's outputs are cleared, it runs top to bottom on a new ``python3`` kernel
(from the notebooks/ folder, network forbidden as in the tests), and its wall time,
kernel start included, is stored in its metadata, with the host's reference time measured
before the first notebook and after the last (a fixed, seeded Keras fit in a fresh process:
about 1.2 s on an unloaded 2-core machine; a shared host can be 2-3x slower from one minute
to the next, and the notebooks' times move with it). The README's course table is then
regenerated from ``course_lib.course``, and the Chinese edition of each notebook run is
rebuilt from its new outputs (tools/chinese_edition.py). The exit status is 1 if a notebook failed or
ran over the time budget.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from pathlib import Path

import nbformat
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from course_lib import course  # noqa: E402
from course_lib.env import OFFLINE_ENV_VAR  # noqa: E402

NOTEBOOKS = ROOT / "notebooks"
README = ROOT / "README.md"


def select(names: list[str]) -> list[Path]:
    paths = sorted(NOTEBOOKS.glob("[0-9][0-9]_*.ipynb"))
    if not names:
        return paths
    chosen = []
    for name in names:
        matches = [p for p in paths if p.name == name or p.name.startswith(f"{name}_") or p.stem == name]
        if not matches:
            raise SystemExit(f"run_notebooks: no notebook matches {name!r}; have {[p.name for p in paths]}")
        chosen += matches
    return chosen


#: The host reference: 5 epochs of a small Conv1D classifier on fixed random data, after one untimed epoch.
REFERENCE = """
import os, time
os.environ["TF_CPP_MIN_LOG_LEVEL"] = "3"
import keras, numpy as np
keras.utils.set_random_seed(0)
x, y = np.random.rand(4096, 40, 8).astype("float32"), np.random.randint(0, 10, 4096)
model = keras.Sequential([keras.Input((40, 8)), keras.layers.Conv1D(32, 5, activation="relu"),
                          keras.layers.GlobalAveragePooling1D(), keras.layers.Dense(10)])
model.compile("adam", keras.losses.SparseCategoricalCrossentropy(from_logits=True))
model.fit(x, y, batch_size=64, epochs=1, verbose=0)
start = time.perf_counter()
model.fit(x, y, batch_size=64, epochs=5, verbose=0)
print(round(time.perf_counter() - start, 2))
"""


def host_reference() -> float | None:
    """Seconds the reference fit takes in a fresh process on this host now (None if it could not run)."""
    try:
        done = subprocess.run([sys.executable, "-c", REFERENCE], capture_output=True, text=True, timeout=300, check=True)
        return float(done.stdout.strip().splitlines()[-1])
    except (subprocess.SubprocessError, ValueError, IndexError):
        return None


def execute(path: Path, cell_timeout: int) -> float:
    nb = nbformat.read(path, as_version=4)
    for cell in nb.cells:
        if cell.cell_type == "code":
            cell.outputs = []
            cell.execution_count = None
            cell.metadata.pop("execution", None)
    client = NotebookClient(
        nb,
        timeout=cell_timeout,
        kernel_name="python3",
        record_timing=False,
        resources={"metadata": {"path": str(path.parent)}},
    )
    start = time.perf_counter()
    client.execute()
    seconds = time.perf_counter() - start
    nb.metadata.setdefault(course.METADATA_KEY, {})["wall_time_s"] = round(seconds, 1)
    nb.metadata["kernelspec"] = {"display_name": "Python 3 (ipykernel)", "language": "python", "name": "python3"}
    nbformat.write(nb, path)
    return seconds


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("names", nargs="*", help="notebook numbers or filenames (default: all)")
    parser.add_argument("--cell-timeout", type=int, default=300, help="seconds one cell may run")
    parser.add_argument("--table-only", action="store_true", help="only rewrite the README course table from the stored times")
    parser.add_argument("--no-reference", action="store_true", help="skip the host reference fits")
    args = parser.parse_args()

    os.environ[OFFLINE_ENV_VAR] = "1"
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    failed, ran = [], []
    reference = [] if args.table_only or args.no_reference else [host_reference()]
    if reference:
        print(f"host reference before: {reference[0]} s (about 1.2 s unloaded; higher is slower)")
    for path in [] if args.table_only else select(args.names):
        print(f"{path.name:<50}", end=" ", flush=True)
        try:
            seconds = execute(path, args.cell_timeout)
        except CellExecutionError as exc:
            print("FAILED (outputs left as they were)")
            print(str(exc)[-3000:])
            failed.append(path.name)
            continue
        ran.append(path)
        over = seconds > course.TIME_BUDGET_S
        print(f"{seconds:6.1f} s" + (f"  OVER the {course.TIME_BUDGET_S:.0f} s budget" if over else ""))
        if over:
            failed.append(path.name)
    if reference and ran:
        reference.append(host_reference())
        print(f"host reference after: {reference[1]} s")
        for path in ran:  # the host's state around the run, beside each recorded time
            nb = nbformat.read(path, as_version=4)
            nb.metadata[course.METADATA_KEY]["host_reference_s"] = reference
            nbformat.write(nb, path)

    import chinese_edition  # tools/chinese_edition.py, beside this file

    executed = [p.name for p in ran]  # over the budget or not, their outputs are new: their Chinese edition follows
    if (executed or args.table_only) and chinese_edition.main(executed) != 0:
        print("The Chinese edition of some notebooks is behind their English: translate the cells listed above.")
    readme = course.with_course_table(README.read_text(encoding="utf-8"), course.course_table_markdown(NOTEBOOKS))
    README.write_text(course.with_module_table(readme), encoding="utf-8")
    print(f"README course table updated. {'Failed or over budget: ' + ', '.join(failed) if failed else 'All within budget.'}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
