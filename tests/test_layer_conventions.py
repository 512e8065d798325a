"""What every public course_lib layer has: documentation, registration, and the shared tests.

Every public layer and model documents its arguments, its shapes and an example (run by
tests/test_docstring_examples.py), is registered for ``.keras`` files, and is put through
Keras' layer test harness and the per-layer mixed-precision check in its module's test
file, so that a layer added later is born tested on every backend.
"""

import importlib
import inspect
import pkgutil
from pathlib import Path

import keras
import pytest

import course_lib
from course_lib._validation import ChecksInputs
from course_lib.recurrent import FormulaRNNCell

MODULES = sorted(m.name for m in pkgutil.iter_modules(course_lib.__path__) if not m.name.startswith("_"))
TESTS = Path(__file__).parent


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


@pytest.mark.parametrize("cls", LAYERS, ids=lambda cls: cls.__name__)
def test_every_public_layer_checks_its_inputs_before_keras_converts_them(cls):
    if cls is FormulaRNNCell:  # a cell is called by keras.layers.RNN, on tensors RNN has already converted
        return
    mro = cls.__mro__
    assert ChecksInputs in mro and mro.index(ChecksInputs) < mro.index(keras.layers.Layer), (
        f"{cls.__name__} must have _validation.ChecksInputs before keras.layers.Layer among its bases"
    )


@pytest.mark.parametrize("cls", LAYERS, ids=lambda cls: cls.__name__)
def test_every_public_layer_goes_through_the_harness_and_mixed_precision(cls):
    module = cls.__module__.rsplit(".", 1)[-1]
    source = (TESTS / f"test_{module}.py").read_text(encoding="utf-8")
    assert cls.__name__ in source, f"tests/test_{module}.py never names {cls.__name__}"
    for fixture in ("keras_layer_test", "assert_mixed_precision"):
        assert fixture in source, f"tests/test_{module}.py does not use the `{fixture}` fixture (tests/conftest.py)"
