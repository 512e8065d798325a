"""Argument and input checks shared by course_lib's layers.

Every message names the layer, the argument, what was expected and what came.
"""

from __future__ import annotations

import keras


def positive_int(owner: str, name: str, value) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise ValueError(f"{owner}: `{name}` must be a positive int, got {value!r}")
    return value


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


def numeric_input(owner: str, x, compute_dtype: str):
    """Cast a numeric input to ``compute_dtype``; raise a TypeError for strings and booleans."""
    dtype = keras.backend.standardize_dtype(getattr(x, "dtype", "float32"))
    if dtype == "string" or dtype == "bool" or dtype.startswith("complex"):
        raise TypeError(f"{owner}: `inputs` must be a numeric (int or float) tensor, got dtype {dtype}")
    return x if dtype == compute_dtype else keras.ops.cast(x, compute_dtype)


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
