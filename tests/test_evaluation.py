"""course_lib.evaluation: experiments over seeds, mean ± sd, paired differences."""

import keras
import numpy as np
import pytest

from course_lib.evaluation import Estimate, SeedResults, over_seeds


def test_over_seeds_collects_each_metric_per_seed():
    results = over_seeds(lambda seed: {"a": seed, "b": 2 * seed + 1}, seeds=[1, 2, 3])
    assert results.seeds == (1, 2, 3) and results.names == ["a", "b"]
    assert results["a"].values == (1.0, 2.0, 3.0)
    assert results["a"].mean == pytest.approx(2.0) and results["a"].sd == pytest.approx(1.0)
    assert results["a"].sem == pytest.approx(1 / np.sqrt(3))
    gain = results.paired_difference("b", "a")
    assert gain.values == (2.0, 3.0, 4.0) and gain.name == "b - a"
    assert str(results["b"]) == "b: 5.000 ± 2.000 (mean ± sd over 3 seeds)"
    assert str(Estimate("g", (2e-4, 3e-4))) == "g: 2.50e-04 ± 7.07e-05 (mean ± sd over 2 seeds)"


def test_each_run_starts_from_its_seed():
    """NumPy and the Keras backend are seeded before each call: a rerun gives the same table, another seed another."""

    def draw(seed):
        return {"numpy": np.random.rand(), "keras": float(keras.ops.convert_to_numpy(keras.random.uniform(())))}

    first, again, other = over_seeds(draw, [0, 1]), over_seeds(draw, [0, 1]), over_seeds(draw, [2, 3])
    assert first.values == again.values
    assert first["numpy"].values != other["numpy"].values and first["keras"].values != other["keras"].values


def test_a_single_number_and_a_single_seed():
    results = over_seeds(lambda seed: 0.5, seeds=[7])
    assert results["value"].values == (0.5,) and results["value"].sd == 0.0
    assert Estimate("x", (1.0, 3.0)).sd == pytest.approx(np.sqrt(2))


@pytest.mark.parametrize(
    "call, error, message",
    [
        (lambda: over_seeds(lambda s: 1.0, seeds=[]), ValueError, "at least one seed"),
        (lambda: over_seeds(lambda s: {"a": 1.0} if s == 0 else {"b": 1.0}, seeds=[0, 1]), ValueError, r"seed 1 returned \['b'\]"),
        (lambda: over_seeds(lambda s: {"a": "high"}, seeds=[0]), TypeError, "'a' was 'high'"),
        (lambda: SeedResults((0,), {"a": (1.0,)})["b"], KeyError, r"no metric 'b'.*\['a'\]"),
    ],
)
def test_bad_use_raises_clear_errors(call, error, message):
    with pytest.raises(error, match=message):
        call()
