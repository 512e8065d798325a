"""Argument and input checks shared by course_lib's layers.

Every message names the layer, the argument, what was expected and what came.
"""

from __future__ import annotations

import functools
import inspect

import numpy as np

# Keras is imported inside the few checks that need it, so that course_lib's data modules
# (speech, recommendation) can share these checks without importing Keras.


def positive_int(owner: str, name: str, value) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise ValueError(f"{owner}: `{name}` must be a positive int, got {value!r}")
    return value


def integer(owner: str, name: str, value, low: int, high: int | None = None) -> int:
    """``value`` as an int in ``[low, high]`` (``high=None``: no upper bound); raise naming ``name`` otherwise."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < low or (high is not None and value > high):
        bound = f"in [{low}, {high}]" if high is not None else f">= {low}"
        raise ValueError(f"{owner}: `{name}` must be an integer {bound}, got {value!r}")
    return int(value)


def positive_ints(owner: str, name: str, values, allow_empty: bool = True) -> tuple[int, ...]:
    if isinstance(values, int) and not isinstance(values, bool):
        values = (values,)
    try:
        values = tuple(values)
    except TypeError:
        raise ValueError(f"{owner}: `{name}` must be a sequence of positive ints, got {values!r}") from None
    if not values and not allow_empty:
        raise ValueError(f"{owner}: `{name}` must not be empty")
    for v in values:
        positive_int(owner, name, v)
    return values


def rate(owner: str, name: str, value) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0.0 <= value < 1.0:
        raise ValueError(f"{owner}: `{name}` must be a rate in [0, 1), got {value!r}")
    return float(value)


def one_of(owner: str, name: str, value, choices):
    if value not in choices:
        raise ValueError(f"{owner}: `{name}` must be one of {list(choices)}, got {value!r}")
    return value


def input_rank(owner: str, shape, rank: int, layout: str):
    """Raise unless ``shape`` has ``rank`` axes; ``layout`` describes them, e.g. "(batch, features)"."""
    shape = tuple(shape)
    if len(shape) != rank:
        raise ValueError(f"{owner}: `inputs` must have rank {rank} {layout}, got shape {shape}")
    return shape


def _dtype_name(x) -> str | None:
    """``x``'s dtype as Keras names it, ``"string"`` for NumPy text and object arrays; None if it has none."""
    if isinstance(x, str):
        return "string"
    dtype = getattr(x, "dtype", None)
    if dtype is None:
        return None
    if isinstance(dtype, np.dtype) and dtype.kind in "USO":
        return "string"
    import keras

    try:
        return keras.backend.standardize_dtype(dtype)
    except ValueError:  # a dtype Keras has no name for (e.g. a string dtype of another library)
        return str(dtype)


def reject_text(owner: str, inputs, name: str = "inputs"):
    """Raise a TypeError for text in ``inputs`` (any nesting), before a backend tries to convert it.

    TensorFlow converts a NumPy array of strings to a string tensor that the layer's own
    check refuses; JAX and PyTorch fail inside Keras' conversion with a ValueError that
    names no layer. Checking first gives the same, clear error on every backend.
    """
    for path, x in _leaves(name, inputs):
        if _dtype_name(x) == "string":
            raise TypeError(f"{owner}: `{path}` must be a numeric (int or float) tensor, got dtype string")


def _leaves(name, x):
    """``(path, leaf)`` for every leaf of nested lists, tuples and dicts, e.g. ``("inputs[0]", array)``."""
    if isinstance(x, (list, tuple)):
        for i, item in enumerate(x):
            yield from _leaves(f"{name}[{i}]", item)
    elif isinstance(x, dict):
        for key, item in x.items():
            yield from _leaves(f"{name}[{key!r}]", item)
    else:
        yield name, x


class ChecksInputs:
    """Mixin for course_lib's layers: refuse text in any argument of ``call``, before Keras converts it."""

    def __call__(self, *args, **kwargs):
        try:
            arguments = _call_signature(type(self)).bind_partial(self, *args, **kwargs).arguments
        except TypeError:  # wrong arguments: let Keras say what is wrong
            arguments = {}
        for name, value in arguments.items():
            if name != "self":
                reject_text(type(self).__name__, value, name)
        return super().__call__(*args, **kwargs)


@functools.lru_cache(maxsize=None)
def _call_signature(cls) -> inspect.Signature:
    """The signature of ``cls.call``, read once per class rather than on every call."""
    return inspect.signature(cls.call)


def numeric_input(owner: str, x, compute_dtype: str, name: str = "inputs"):
    """Cast a numeric input to ``compute_dtype``; raise a TypeError for strings, booleans and complex numbers."""
    import keras

    dtype = _dtype_name(x) or "float32"
    if dtype == "string" or dtype == "bool" or dtype.startswith("complex"):
        raise TypeError(f"{owner}: `{name}` must be a numeric (int or float) tensor, got dtype {dtype}")
    return x if dtype == compute_dtype else keras.ops.cast(x, compute_dtype)


def large_negative(dtype) -> float:
    """A score that softmax turns into 0 and that ``dtype`` can hold (float16 tops out at 65504)."""
    import keras

    return -3e4 if keras.backend.standardize_dtype(dtype) == "float16" else -1e9


def call_input(owner: str, x, rank: int, layout: str, features: int, compute_dtype: str):
    """The checks every layer's ``call`` makes: dtype, rank, feature size; returns ``x`` cast."""
    x = numeric_input(owner, x, compute_dtype)
    input_rank(owner, x.shape, rank, layout)
    feature_size(owner, x, features)
    return x


def feature_size(owner: str, x, expected: int):
    """Raise when the last axis of ``x`` is not the size the layer was built for."""
    got = x.shape[-1]
    if got is not None and expected is not None and got != expected:
        raise ValueError(
            f"{owner}: `inputs` must have {expected} features on the last axis (the size it was built with), "
            f"got shape {tuple(x.shape)}"
        )
