r"""Recurrent encoders: the article's RNN formula as a Keras cell, and a sequence encoder.

:class:`FormulaRNNCell` is §4's recurrence :math:`h_t = f(W_{hh} h_{t-1} + W_{xh} x_t + b_h)`
written out in ``keras.ops``; wrapped in ``keras.layers.RNN`` it computes exactly what
``keras.layers.SimpleRNN`` computes (``tests/test_recurrent.py`` checks it, and checks
both against :func:`course_lib.formulas.rnn`). :class:`RecurrentEncoder` stacks such
cells, or Keras' GRU/LSTM, optionally bidirectional, and honours masks of padded steps.
"""

from __future__ import annotations

import keras

from course_lib import _validation as check


@keras.saving.register_keras_serializable(package="course_lib")
class FormulaRNNCell(keras.layers.Layer):
    r"""One step of §4's recurrence: :math:`h_t = f(W_{hh} h_{t-1} + W_{xh} x_t + b_h)`.

    Use it inside ``keras.layers.RNN(FormulaRNNCell(units))``, which loops it over time.
    Weights are stored as Keras stores them (rows are inputs):
    ``kernel`` is :math:`W_{xh}^T` ``(features, units)``, ``recurrent_kernel`` is
    :math:`W_{hh}^T` ``(units, units)``, ``bias`` is :math:`b_h` ``(units,)``, the same
    names and shapes as ``keras.layers.SimpleRNNCell``.

    Args:
        units: size of the hidden state :math:`h_t`.
        activation: :math:`f`, ``"tanh"`` by default.
        use_bias: whether to add :math:`b_h`.
        kernel_initializer, recurrent_initializer, bias_initializer: initialisers of
            :math:`W_{xh}`, :math:`W_{hh}` (orthogonal by default, as in Keras) and :math:`b_h`.

    Input shape:
        ``x_t``: ``(batch, features)``; state ``h_{t-1}``: ``(batch, units)``.

    Output shape:
        ``h_t``: ``(batch, units)``, returned both as the output and as the new state.

    Example:
        >>> rnn = keras.layers.RNN(FormulaRNNCell(16))
        >>> keras.ops.shape(rnn(keras.ops.zeros((2, 5, 3))))
        (2, 16)
    """

    def __init__(
        self,
        units,
        activation="tanh",
        use_bias=True,
        kernel_initializer="glorot_uniform",
        recurrent_initializer="orthogonal",
        bias_initializer="zeros",
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.units = check.positive_int(type(self).__name__, "units", units)
        self.activation = keras.activations.get(activation)
        self.use_bias = bool(use_bias)
        self.kernel_initializer = keras.initializers.get(kernel_initializer)
        self.recurrent_initializer = keras.initializers.get(recurrent_initializer)
        self.bias_initializer = keras.initializers.get(bias_initializer)
        self.state_size = self.units
        self.output_size = self.units

    def build(self, input_shape):
        features = tuple(input_shape)[-1]
        if features is None:
            raise ValueError(f"{type(self).__name__}: the feature axis of `inputs` must be known, got shape {tuple(input_shape)}")
        self.kernel = self.add_weight(shape=(features, self.units), initializer=self.kernel_initializer, name="kernel")
        self.recurrent_kernel = self.add_weight(
            shape=(self.units, self.units), initializer=self.recurrent_initializer, name="recurrent_kernel"
        )
        self.bias = self.add_weight(shape=(self.units,), initializer=self.bias_initializer, name="bias") if self.use_bias else None

    def call(self, inputs, states, training=None):
        h_prev = states[0] if isinstance(states, (list, tuple)) else states
        z = keras.ops.matmul(h_prev, self.recurrent_kernel) + keras.ops.matmul(inputs, self.kernel)  # W_hh h + W_xh x
        if self.bias is not None:
            z = z + self.bias  # + b_h
        h = self.activation(z)  # f(...)
        return h, [h] if isinstance(states, (list, tuple)) else h

    def get_initial_state(self, batch_size=None):
        return [keras.ops.zeros((batch_size, self.units), dtype=self.compute_dtype)]

    def get_config(self):
        config = super().get_config()
        config.update(
            units=self.units,
            activation=keras.activations.serialize(self.activation),
            use_bias=self.use_bias,
            kernel_initializer=keras.initializers.serialize(self.kernel_initializer),
            recurrent_initializer=keras.initializers.serialize(self.recurrent_initializer),
            bias_initializer=keras.initializers.serialize(self.bias_initializer),
        )
        return config


@keras.saving.register_keras_serializable(package="course_lib")
class RecurrentEncoder(check.ChecksInputs, keras.layers.Layer):
    """Encode a sequence with stacked recurrent layers: §4's RNN, or GRU/LSTM.

    Args:
        units: size of each layer's hidden state.
        cell: ``"formula"`` (:class:`FormulaRNNCell`, the article's formula),
            ``"gru"`` or ``"lstm"`` (Keras' built-in layers).
        num_layers: how many recurrent layers are stacked.
        bidirectional: read the sequence both ways and concatenate (doubles the size).
        return_sequences: return every step's state instead of the last one.
        dropout: dropout rate between stacked layers (training only).

    Input shape:
        ``(batch, steps, features)``, numeric. A mask ``(batch, steps)`` (from
        ``keras.layers.Masking`` or ``Embedding(mask_zero=True)``, or passed as
        ``mask=``) marks padded steps: they change neither the state nor the output.

    Output shape:
        ``(batch, units)``, or ``(batch, steps, units)`` with ``return_sequences``;
        ``2 * units`` instead of ``units`` when bidirectional.

    Example:
        >>> encoder = RecurrentEncoder(32, cell="gru", bidirectional=True)
        >>> keras.ops.shape(encoder(keras.ops.zeros((4, 10, 3))))
        (4, 64)
    """

    CELLS = ("formula", "gru", "lstm")

    def __init__(self, units, cell="formula", num_layers=1, bidirectional=False, return_sequences=False, dropout=0.0, **kwargs):
        super().__init__(**kwargs)
        owner = type(self).__name__
        self.units = check.positive_int(owner, "units", units)
        self.cell = check.one_of(owner, "cell", cell, self.CELLS)
        self.num_layers = check.positive_int(owner, "num_layers", num_layers)
        self.bidirectional = bool(bidirectional)
        self.return_sequences = bool(return_sequences)
        self.dropout = check.rate(owner, "dropout", dropout)
        self.supports_masking = True
        policy = self.dtype_policy  # every sublayer computes in this layer's dtype
        self.rnn_layers = []
        for i in range(self.num_layers):
            sequences = self.return_sequences or i < self.num_layers - 1
            if self.cell == "formula":
                layer = keras.layers.RNN(
                    FormulaRNNCell(self.units, dtype=policy), return_sequences=sequences, name=f"rnn{i + 1}", dtype=policy
                )
            else:
                kind = keras.layers.GRU if self.cell == "gru" else keras.layers.LSTM
                layer = kind(self.units, return_sequences=sequences, name=f"{self.cell}{i + 1}", dtype=policy)
            if self.bidirectional:
                layer = keras.layers.Bidirectional(layer, name=f"bidirectional{i + 1}", dtype=policy)
            self.rnn_layers.append(layer)
        self.dropout_layer = keras.layers.Dropout(self.dropout, dtype=policy) if self.dropout else None
        self._features = None

    def build(self, input_shape):
        owner = type(self).__name__
        shape = check.input_rank(owner, input_shape, 3, "(batch, steps, features)")
        if shape[-1] is None:
            raise ValueError(f"{owner}: the feature axis of `inputs` must be known, got shape {shape}")
        self._features = shape[-1]
        size = self.units * (2 if self.bidirectional else 1)
        for layer in self.rnn_layers:
            layer.build(shape)
            shape = (shape[0], shape[1], size)  # what the next stacked layer reads

    def call(self, inputs, mask=None, training=None):
        owner = type(self).__name__
        x = check.call_input(owner, inputs, 3, "(batch, steps, features)", self._features, self.compute_dtype)
        for i, layer in enumerate(self.rnn_layers):
            x = layer(x, mask=mask, training=training)
            if self.dropout_layer is not None and i < self.num_layers - 1:
                x = self.dropout_layer(x, training=training)
        return x

    def compute_mask(self, inputs, mask=None):
        return mask if self.return_sequences else None

    def compute_output_shape(self, input_shape):
        size = self.units * (2 if self.bidirectional else 1)
        shape = tuple(input_shape)
        return (shape[0], shape[1], size) if self.return_sequences else (shape[0], size)

    def get_config(self):
        config = super().get_config()
        config.update(
            units=self.units,
            cell=self.cell,
            num_layers=self.num_layers,
            bidirectional=self.bidirectional,
            return_sequences=self.return_sequences,
            dropout=self.dropout,
        )
        return config
