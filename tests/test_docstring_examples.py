"""The examples in course_lib's docstrings run, on every backend, and print what they show.

Every public layer and model documents its arguments, its input and output shapes and
an example; the examples are doctests, so a shape printed as ``TensorShape([4, 32])``
on TensorFlow but ``(4, 32)`` on JAX, or an example that no longer runs, fails here.
"""

import doctest
import importlib
import inspect
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


def _public_layers():
    for name in MODULES:
        module = importlib.import_module(f"course_lib.{name}")
        for _, cls in inspect.getmembers(module, inspect.isclass):
            public = cls.__module__ == module.__name__ and not cls.__name__.startswith("_")
            base = any(sub.__module__.startswith("course_lib") for sub in cls.__subclasses__())  # e.g. Seq2Seq
            if public and issubclass(cls, keras.layers.Layer) and not base:
                yield cls


LAYERS = sorted(_public_layers(), key=lambda cls: cls.__name__)


def test_every_public_layer_is_found():
    names = {cls.__name__ for cls in LAYERS}
    assert {"DenseEncoder", "ConvEncoder", "FormulaRNNCell", "RecurrentEncoder", "MultiHeadAttention", "TransformerEncoder",
            "TransformerEncoderBlock", "TransformerDecoderBlock", "RNNSeq2Seq", "TransformerSeq2Seq"} <= names


@pytest.mark.parametrize("cls", LAYERS, ids=lambda cls: cls.__name__)
def test_every_public_layer_documents_args_shapes_and_an_example(cls):
    doc = inspect.getdoc(cls) or ""
    missing = [section for section in ("Args:", "Example:") if section not in doc]
    if not issubclass(cls, keras.Model):  # models document what they return in their own words
        missing += [section for section in ("Input shape:", "Output shape:") if section not in doc]
    assert not missing, f"{cls.__name__}'s docstring lacks {missing}"
    assert ">>>" in doc, f"{cls.__name__}'s example has no doctest"
    assert keras.saving.get_registered_object(f"course_lib>{cls.__name__}") is cls, f"{cls.__name__} is not registered for .keras files"
