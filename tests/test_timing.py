"""course_lib.timing: interleaved races and speed-ups as ratios."""

import time

import pytest

from course_lib.timing import Race, race


def test_interleaved_order_and_counts():
    calls = []
    result = race({"a": lambda: calls.append("a"), "b": lambda: calls.append("b")}, repeats=3, warmup=2)
    assert calls == ["a", "a", "b", "b"] + ["a", "b"] * 3  # warm-up each, then one of each per repeat
    assert set(result.seconds) == {"a", "b"} and all(len(t) == 3 for t in result.seconds.values())


def test_speedup_is_median_of_per_repeat_ratios():
    result = Race({"fast": (1.0, 1.0, 2.0), "slow": (3.0, 2.0, 10.0)})
    assert result.ratios("fast", over="slow") == (3.0, 2.0, 5.0)
    assert result.speedup("fast", over="slow") == 3.0  # not median(slow) / median(fast) = 3.0 / 1.0 by luck: check another
    drifting = Race({"fast": (1.0, 4.0, 4.0), "slow": (2.0, 8.0, 8.0)})  # the load quadruples after the first repeat
    assert drifting.speedup("fast", over="slow") == 2.0
    assert drifting.spread("fast", over="slow") == (2.0, 2.0)
    assert result.median("slow") == 3.0


def test_a_real_race_sees_a_real_difference():
    result = race({"short": lambda: time.sleep(0.002), "long": lambda: time.sleep(0.02)}, repeats=3)
    assert 3 < result.speedup("short", over="long") < 11  # 10x asked; sleep overshoots, never by 3x
    table = result.table(baseline="long")
    assert list(table.index) == ["short", "long"] and table.loc["long", "speed-up over long"] == 1.0


@pytest.mark.parametrize(
    "contenders, kwargs, error, words",
    [
        ({}, {}, ValueError, "non-empty"),
        ({"a": 3}, {}, TypeError, "'a'"),
        ({"a": lambda: None}, {"repeats": 0}, ValueError, "`repeats`"),
        ({"a": lambda: None}, {"warmup": -1}, ValueError, "`warmup`"),
    ],
)
def test_bad_arguments_are_named(contenders, kwargs, error, words):
    with pytest.raises(error, match=words):
        race(contenders, **kwargs)


def test_unknown_name_lists_the_contenders():
    with pytest.raises(KeyError, match="'b'.*'a'"):
        Race({"a": (1.0,)}).median("b")
