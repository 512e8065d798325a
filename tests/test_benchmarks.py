"""benchmarks/run.py keeps running: its fast mode, as CI runs it. (Numbers live in benchmarks/README.md.)"""

import importlib.util
import math
import sys
from pathlib import Path

import pytest

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
    if results["backend"] == "tensorflow":  # XLA rows: TensorFlow leaves XLA off on a CPU by default
        expected |= {"course_lib, jit_compile=True"} | ({"keras_hub, jit_compile=True"} if importlib.util.find_spec("keras_hub") else set())
    assert set(results["transformer"]) == expected == set(results["latency"]) == set(results["transformer_spread"])
    for low, high in results["transformer_spread"].values():
        assert 0 < low <= high
    assert set(results["forward_ms"]) == expected
    assert all(math.isfinite(ms) and ms > 0 for ms in [*results["latency"].values(), *results["forward_ms"].values()])
    assert set(results["rnn"]) == {"course_lib FormulaRNNCell", "keras SimpleRNN"}
    for rate in [*results["transformer"].values(), *results["rnn"].values(), results["matmul_flops_per_second"]]:
        assert math.isfinite(rate) and rate > 0
    assert results["transformer_ratio"]["course_lib TransformerEncoder"] == 1.0  # ours against ours
    assert set(results["rnn_ratio"]) == set(results["rnn"])
    assert set(results["decoding"]) == set(run.FAST["decode_lengths"])
    for row in results["decoding"].values():  # (the run itself checks that cached and uncached decode the same tokens)
        assert all(math.isfinite(row[k]) and row[k] > 0 for k in ("uncached", "cached", "speedup"))
    printed = capsys.readouterr().out
    assert printed.strip() == run.report(results)  # what it prints is what --readme writes
    assert "peer / ours" in printed and "% of measured matmul rate" in printed and "speed-up" in printed
    assert (tmp_path / "results.json").is_file()


def test_readme_block_is_replaced_and_the_rest_kept(tmp_path):
    run = _load()
    begin, end = run.readme_markers("tensorflow")
    readme = tmp_path / "README.md"
    readme.write_text(f"# intro\n\n{begin}\nold numbers\n{end}\n\nprose after\n")
    results = {"backend": "tensorflow", "date": "2026-12-02", "machine": "a test machine", "config": dict(run.FAST, repeats=1),
               "matmul_flops_per_second": 1e9, "transformer": {"ours": 10.0}, "transformer_ratio": {"ours": 1.0},
               "transformer_spread": {"ours": (1.0, 1.0)}, "latency": {"ours": 2.0}, "latency_ratio": {"ours": 1.0}, "forward_ms": {"ours": 30.0},
               "rnn": {"cell": 5.0}, "rnn_ratio": {"cell": 1.0}, "decoding": {2: {"uncached": 2.0, "cached": 1.0, "speedup": 2.0}},
               "skipped": []}
    run.write_readme(results, readme)
    text = readme.read_text()
    assert "old numbers" not in text and "a test machine" in text and "| 2 output tokens | 2.000 | 1.000 | 2.0x |" in text
    assert text.startswith("# intro") and text.endswith("prose after\n")
    run.write_readme(results, readme)  # idempotent
    assert readme.read_text() == text
    results["backend"] = "jax"
    with pytest.raises(ValueError, match="results:jax:begin"):
        run.write_readme(results, readme)


def test_flop_count_of_the_transformer():
    run = _load()
    c = dict(batch=1, length=2, width=4, hidden=8, layers=1, features=3)
    per_layer = 2 * 2 * (4 * 16 + 2 * 4 * 8) + 2 * 2 * 1 * 4 * 4
    assert run.transformer_training_flops(c) == 3 * (per_layer + 2 * 2 * 3 * 4)
