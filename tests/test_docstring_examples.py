"""The examples in course_lib's docstrings run, on every backend, and print what they show.

The examples are doctests, so a shape printed as ``TensorShape([4, 32])`` on TensorFlow
but ``(4, 32)`` on JAX, or an example that no longer runs, fails here.
"""

import doctest
import importlib
import pkgutil

import keras
import numpy as np
import pytest

import course_lib

MODULES = sorted(m.name for m in pkgutil.iter_modules(course_lib.__path__) if not m.name.startswith("_"))


def _examples(module):
    return [t for t in doctest.DocTestFinder().find(module, extraglobs={"keras": keras, "np": np}) if t.examples]


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples_run_and_print_what_they_show(name):
    module = importlib.import_module(f"course_lib.{name}")
    report = []
    runner = doctest.DocTestRunner(optionflags=doctest.NORMALIZE_WHITESPACE)
    for test in _examples(module):
        runner.run(test, out=report.append)
    assert runner.failures == 0, "".join(report)
