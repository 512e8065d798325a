"""benchmarks/run.py keeps running: its fast mode, as CI runs it. (Numbers live in benchmarks/README.md.)"""

import importlib.util
import math
import sys
from pathlib import Path

BENCHMARKS = Path(__file__).resolve().parent.parent / "benchmarks"


def _load():
    spec = importlib.util.spec_from_file_location("benchmarks_run", BENCHMARKS / "run.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules["benchmarks_run"] = module
    spec.loader.exec_module(module)
    return module


def test_fast_mode_reports_every_installed_peer(capsys, tmp_path):
    run = _load()
    results = run.main(["--fast", "--json", str(tmp_path / "results.json")])
    expected = {"course_lib TransformerEncoder"}
    expected |= {"keras_hub TransformerEncoder"} if importlib.util.find_spec("keras_hub") else set()
    expected |= {"torch TransformerEncoderLayer"} if importlib.util.find_spec("torch") else set()
    assert set(results["transformer"]) == expected
    assert set(results["rnn"]) == {"course_lib FormulaRNNCell", "keras SimpleRNN"}
    for rate in [*results["transformer"].values(), *results["rnn"].values(), results["matmul_flops_per_second"]]:
        assert math.isfinite(rate) and rate > 0
    assert results["transformer_ratio"]["course_lib TransformerEncoder"] == 1.0  # ours against ours
    assert set(results["rnn_ratio"]) == set(results["rnn"])
    assert set(results["decoding"]) == set(run.FAST["decode_lengths"])
    for row in results["decoding"].values():  # (the run itself checks that cached and uncached decode the same tokens)
        assert all(math.isfinite(row[k]) and row[k] > 0 for k in ("uncached", "cached", "speedup"))
    printed = capsys.readouterr().out
    assert "peer / ours" in printed and "% of matmul peak" in printed and "speed-up" in printed
    assert (tmp_path / "results.json").is_file()


def test_flop_count_of_the_transformer():
    run = _load()
    c = dict(batch=1, length=2, width=4, hidden=8, layers=1, features=3)
    per_layer = 2 * 2 * (4 * 16 + 2 * 4 * 8) + 2 * 2 * 1 * 4 * 4
    assert run.transformer_training_flops(c) == 3 * (per_layer + 2 * 2 * 3 * 4)
