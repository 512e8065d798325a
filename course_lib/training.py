"""Small helpers every training notebook uses.

``forward`` runs a model once over a whole (small) array in inference mode and
returns NumPy. On the course's data sets this is faster than ``model.predict``,
which splits the data into batches and, on TensorFlow, traces a new function for
each new model.
"""

from __future__ import annotations

import numpy as np


def forward(model, x, training: bool = False) -> np.ndarray:
    """``model(x, training=training)`` as a NumPy array: one pass over the whole array.

    Example:
        >>> forward(keras.Sequential([keras.layers.Dense(2)]), np.zeros((3, 4))).shape
        (3, 2)
    """
    import keras

    return keras.ops.convert_to_numpy(model(x, training=training))


def accuracy(model, x, y) -> float:
    """Fraction of rows of ``x`` whose highest-scoring class is ``y``.

    Raises:
        ValueError: ``x`` and ``y`` have different numbers of rows, or are empty.
    """
    y = np.asarray(y)
    rows = len(next(iter(x.values()))) if isinstance(x, dict) else len(x)  # a dict of inputs, as KerasHub models take
    if rows != len(y) or len(y) == 0:
        raise ValueError(f"accuracy: `x` and `y` must have the same, non-zero number of rows, got {rows} and {len(y)}")
    return float((forward(model, x).argmax(axis=-1) == y).mean())
