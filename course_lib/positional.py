r"""Positional encodings: how a Transformer knows the order of its inputs.

Self-attention treats its inputs as a set: permute the steps and the outputs are
permuted the same way. Adding a vector that depends on the position breaks that
symmetry. Two standard choices:

- :class:`SinusoidalPositionalEncoding` (Vaswani et al., 2017), fixed:
  :math:`PE[p, 2i] = \sin(p / 10000^{2i/d})`, :math:`PE[p, 2i+1] = \cos(p / 10000^{2i/d})`;
- :class:`LearnedPositionalEmbedding`, one trained vector per position.
"""

from __future__ import annotations

import keras
import numpy as np

from course_lib import _validation as check


def sinusoidal_table(length: int, depth: int, base: float = 10000.0) -> np.ndarray:
    """The ``(length, depth)`` table :math:`PE[p, 2i] = \\sin(p / b^{2i/d})`, :math:`PE[p, 2i+1] = \\cos(\\cdot)`."""
    check.positive_int("sinusoidal_table", "length", length)
    check.positive_int("sinusoidal_table", "depth", depth)
    positions = np.arange(length)[:, None]
    frequencies = base ** (-np.arange(0, depth, 2) / depth)  # 1 / b^(2i/d)
    table = np.zeros((length, depth), dtype="float32")
    table[:, 0::2] = np.sin(positions * frequencies)
    table[:, 1::2] = np.cos(positions * frequencies[: depth // 2])
    return table


class _PositionalBase(check.ChecksInputs, keras.layers.Layer):
    def __init__(self, max_length, **kwargs):
        super().__init__(**kwargs)
        self.max_length = check.positive_int(type(self).__name__, "max_length", max_length)
        self.supports_masking = True

    def _check(self, shape):
        owner = type(self).__name__
        shape = check.input_rank(owner, shape, 3, "(batch, steps, features)")
        if shape[1] is not None and shape[1] > self.max_length:
            raise ValueError(
                f"{owner}: `inputs` have {shape[1]} steps, longer than max_length={self.max_length} positions in the table"
            )
        return shape

    def call(self, inputs):
        x = check.numeric_input(type(self).__name__, inputs, self.compute_dtype)
        self._check(x.shape)
        steps = keras.ops.shape(x)[1]
        return x + keras.ops.expand_dims(self.table[:steps], 0)

    def compute_output_shape(self, input_shape):
        return input_shape

    def compute_mask(self, inputs, mask=None):
        return mask

    def get_config(self):
        config = super().get_config()
        config.update(max_length=self.max_length)
        return config


@keras.saving.register_keras_serializable(package="course_lib")
class SinusoidalPositionalEncoding(_PositionalBase):
    """Add the fixed sinusoidal table of :func:`sinusoidal_table` to a sequence.

    Args:
        max_length: the longest sequence the layer accepts.

    Input shape:
        ``(batch, steps, depth)`` with ``steps <= max_length``.

    Output shape:
        the same: ``inputs + PE[:steps]``.

    Example:
        >>> encoded = SinusoidalPositionalEncoding(max_length=64)(keras.ops.zeros((2, 10, 16)))
        >>> keras.ops.shape(encoded)
        (2, 10, 16)
        >>> keras.ops.convert_to_numpy(encoded[0, 0, :4])  # position 0: sin(0) = 0, cos(0) = 1
        array([0., 1., 0., 1.], dtype=float32)
    """

    def build(self, input_shape):
        shape = self._check(input_shape)
        table = sinusoidal_table(self.max_length, shape[-1])
        self.table = self.add_weight(name="table", shape=table.shape, initializer=keras.initializers.Constant(table), trainable=False)


@keras.saving.register_keras_serializable(package="course_lib")
class LearnedPositionalEmbedding(_PositionalBase):
    """Add one trained vector per position to a sequence.

    Args:
        max_length: the longest sequence the layer accepts (one vector each).

    Input shape:
        ``(batch, steps, depth)`` with ``steps <= max_length``.

    Output shape:
        the same: ``inputs + P[:steps]``.

    Example:
        >>> keras.ops.shape(LearnedPositionalEmbedding(max_length=64)(keras.ops.zeros((2, 10, 16))))
        (2, 10, 16)
    """

    def build(self, input_shape):
        shape = self._check(input_shape)
        self.table = self.add_weight(
            name="table", shape=(self.max_length, shape[-1]), initializer=keras.initializers.RandomNormal(stddev=0.02)
        )
