"""The Transformer encoder (§8 of the article) and decoder, from course_lib's attention.

- :class:`TransformerEncoderBlock`: self-attention, then a position-wise feed-forward
  network, each wrapped in a residual connection and layer normalisation, either after
  (post-norm, the original Transformer and KerasHub's default) or before (pre-norm,
  easier to train deep).
- :class:`TransformerEncoder`: token embedding (or a linear projection of features),
  positional encoding, a stack of blocks, and optionally a pooled vector out.
- :class:`TransformerDecoderBlock`: causal self-attention, cross-attention to the
  encoder's outputs, feed-forward; used by :mod:`course_lib.seq2seq`.
"""

from __future__ import annotations

import math

import keras
from keras import ops

from course_lib import _validation as check
from course_lib.attention import MultiHeadAttention, padding_mask
from course_lib.positional import LearnedPositionalEmbedding, SinusoidalPositionalEncoding


def _head_size(owner, model_dim, num_heads):
    if model_dim % num_heads:
        raise ValueError(
            f"{owner}: the model width ({model_dim}, the last axis of `inputs`) must be divisible by num_heads={num_heads}"
        )
    return model_dim // num_heads


class _Sublayers:
    """Residual + layer norm around a sublayer, in post-norm or pre-norm order."""

    @staticmethod
    def residual(x, sublayer, norm, dropout, norm_first, training):
        if norm_first:
            return x + dropout(sublayer(norm(x)), training=training)
        return norm(x + dropout(sublayer(x), training=training))


class _Block(check.ChecksInputs, keras.layers.Layer):
    """What encoder and decoder blocks share: their arguments, the feed-forward network, the config."""

    def __init__(self, num_heads, ff_dim, dropout=0.0, norm_first=False, activation="relu", layer_norm_epsilon=1e-5, **kwargs):
        super().__init__(**kwargs)
        owner = type(self).__name__
        self.num_heads = check.positive_int(owner, "num_heads", num_heads)
        self.ff_dim = check.positive_int(owner, "ff_dim", ff_dim)
        self.dropout = check.rate(owner, "dropout", dropout)
        self.norm_first = bool(norm_first)
        self.activation = keras.activations.get(activation)
        self.layer_norm_epsilon = float(layer_norm_epsilon)
        self.supports_masking = True

    def _build_feed_forward(self, shape):
        self.ff_hidden = keras.layers.Dense(self.ff_dim, activation=self.activation, name="ff_hidden", dtype=self.dtype_policy)
        self.ff_hidden.build(shape)
        self.ff_output = keras.layers.Dense(self.model_dim, name="ff_output", dtype=self.dtype_policy)
        self.ff_output.build((*shape[:-1], self.ff_dim))
        self.dropout_layer = keras.layers.Dropout(self.dropout, dtype=self.dtype_policy)

    def _feed_forward(self, h):
        return self.ff_output(self.ff_hidden(h))

    def get_config(self):
        config = super().get_config()
        config.update(
            num_heads=self.num_heads,
            ff_dim=self.ff_dim,
            dropout=self.dropout,
            norm_first=self.norm_first,
            activation=keras.activations.serialize(self.activation),
            layer_norm_epsilon=self.layer_norm_epsilon,
        )
        return config


@keras.saving.register_keras_serializable(package="course_lib")
class TransformerEncoderBlock(_Block):
    """One Transformer encoder block: self-attention and a feed-forward network.

    Post-norm (``norm_first=False``): ``x = LN(x + MHA(x))``, ``x = LN(x + FFN(x))``.
    Pre-norm (``norm_first=True``): ``x = x + MHA(LN(x))``, ``x = x + FFN(LN(x))``.

    Args:
        num_heads: attention heads; the model width must be divisible by it.
        ff_dim: hidden size of the feed-forward network.
        dropout: dropout after attention and feed-forward (training only).
        norm_first: pre-norm instead of post-norm.
        activation: activation of the feed-forward network.
        layer_norm_epsilon: epsilon of the layer normalisations.

    Input shape:
        ``(batch, steps, model_dim)``; optional ``mask`` ``(batch, steps)``, True at
        real steps (padded steps are never attended to).

    Output shape:
        ``(batch, steps, model_dim)``; with ``return_attention_scores=True`` also the
        weights ``(batch, num_heads, steps, steps)``.

    Example:
        >>> block = TransformerEncoderBlock(num_heads=4, ff_dim=64)
        >>> keras.ops.shape(block(keras.ops.zeros((2, 10, 32))))
        (2, 10, 32)
    """

    def build(self, input_shape):
        owner = type(self).__name__
        shape = check.input_rank(owner, input_shape, 3, "(batch, steps, model_dim)")
        self.model_dim = shape[-1]
        head = _head_size(owner, self.model_dim, self.num_heads)
        self.attention = MultiHeadAttention(self.num_heads, head, dropout=self.dropout, name="self_attention", dtype=self.dtype_policy)
        self.attention.build(shape)
        self.attention_norm = keras.layers.LayerNormalization(epsilon=self.layer_norm_epsilon, name="attention_norm", dtype=self.dtype_policy)
        self.attention_norm.build(shape)
        self._build_feed_forward(shape)
        self.ff_norm = keras.layers.LayerNormalization(epsilon=self.layer_norm_epsilon, name="ff_norm", dtype=self.dtype_policy)
        self.ff_norm.build(shape)

    def call(self, inputs, mask=None, attention_mask=None, use_causal_mask=False, training=None, return_attention_scores=False):
        owner = type(self).__name__
        x = check.call_input(owner, inputs, 3, "(batch, steps, model_dim)", self.model_dim, self.compute_dtype)
        scores = []

        def attend(h):
            out = self.attention(
                h, query_mask=mask, value_mask=mask, attention_mask=attention_mask, use_causal_mask=use_causal_mask,
                return_attention_scores=return_attention_scores, training=training,
            )
            if return_attention_scores:  # only then: without the weights, attention runs as one fused kernel
                out, weights = out
                scores.append(weights)
            return out

        x = _Sublayers.residual(x, attend, self.attention_norm, self.dropout_layer, self.norm_first, training)
        x = _Sublayers.residual(x, self._feed_forward, self.ff_norm, self.dropout_layer, self.norm_first, training)
        return (x, scores[0]) if return_attention_scores else x

    def compute_output_shape(self, input_shape):
        return input_shape

    def compute_mask(self, inputs, mask=None):
        return mask



@keras.saving.register_keras_serializable(package="course_lib")
class TransformerEncoder(check.ChecksInputs, keras.layers.Layer):
    """A Transformer encoder: inputs → embedding + positions → blocks → sequence or vector.

    Args:
        num_layers: number of :class:`TransformerEncoderBlock`.
        num_heads: attention heads per block; ``model_dim`` must be divisible by it.
        ff_dim: feed-forward hidden size.
        model_dim: width of the model.
        vocab_size: if given, inputs are token ids ``(batch, steps)`` embedded by a
            ``keras.layers.Embedding`` with id 0 as padding (masked); otherwise inputs
            are features ``(batch, steps, features)`` projected to ``model_dim``.
        max_length: longest sequence accepted (size of the positional table).
        positional: ``"sinusoidal"`` or ``"learned"``.
        pooling: ``None`` to return the sequence, or ``"mean"`` / ``"max"`` (over real
            steps only) / ``"first"`` to return one vector.
        dropout: dropout rate inside the blocks and after the embedding.
        norm_first: pre-norm blocks (then a final layer norm is applied).

    Input shape:
        ``(batch, steps)`` token ids if ``vocab_size`` is set, else ``(batch, steps, features)``.

    Output shape:
        ``(batch, steps, model_dim)``, or ``(batch, model_dim)`` with pooling.

    Example:
        >>> encoder = TransformerEncoder(2, num_heads=4, ff_dim=64, model_dim=32, vocab_size=100, pooling="mean")
        >>> keras.ops.shape(encoder(keras.ops.ones((2, 7), dtype="int32")))
        (2, 32)
    """

    POSITIONAL = ("sinusoidal", "learned")
    POOLING = (None, "mean", "max", "first")

    def __init__(
        self,
        num_layers,
        num_heads,
        ff_dim,
        model_dim,
        vocab_size=None,
        max_length=512,
        positional="sinusoidal",
        pooling=None,
        dropout=0.0,
        norm_first=False,
        **kwargs,
    ):
        super().__init__(**kwargs)
        owner = type(self).__name__
        self.num_layers = check.positive_int(owner, "num_layers", num_layers)
        self.num_heads = check.positive_int(owner, "num_heads", num_heads)
        self.ff_dim = check.positive_int(owner, "ff_dim", ff_dim)
        self.model_dim = check.positive_int(owner, "model_dim", model_dim)
        _head_size(owner, self.model_dim, self.num_heads)
        self.vocab_size = None if vocab_size is None else check.positive_int(owner, "vocab_size", vocab_size)
        self.max_length = check.positive_int(owner, "max_length", max_length)
        self.positional = check.one_of(owner, "positional", positional, self.POSITIONAL)
        self.pooling = check.one_of(owner, "pooling", pooling, self.POOLING)
        self.dropout = check.rate(owner, "dropout", dropout)
        self.norm_first = bool(norm_first)
        self.supports_masking = True

        if self.vocab_size:
            self.embedding = keras.layers.Embedding(self.vocab_size, self.model_dim, mask_zero=True, name="token_embedding", dtype=self.dtype_policy)
        else:
            self.embedding = keras.layers.Dense(self.model_dim, name="input_projection", dtype=self.dtype_policy)
        position = SinusoidalPositionalEncoding if self.positional == "sinusoidal" else LearnedPositionalEmbedding
        self.position = position(self.max_length, name="position", dtype=self.dtype_policy)
        self.blocks = [
            TransformerEncoderBlock(self.num_heads, self.ff_dim, self.dropout, self.norm_first, name=f"block{i + 1}", dtype=self.dtype_policy)
            for i in range(self.num_layers)
        ]
        self.final_norm = keras.layers.LayerNormalization(epsilon=1e-5, name="final_norm", dtype=self.dtype_policy) if self.norm_first else None
        self.dropout_layer = keras.layers.Dropout(self.dropout, dtype=self.dtype_policy)
        self._features = None

    def _layout(self):
        return "(batch, steps) of token ids" if self.vocab_size else "(batch, steps, features)"

    def build(self, input_shape):
        owner = type(self).__name__
        shape = check.input_rank(owner, input_shape, 2 if self.vocab_size else 3, self._layout())
        if shape[1] is not None and shape[1] > self.max_length:
            raise ValueError(f"{owner}: `inputs` have {shape[1]} steps, longer than max_length={self.max_length}")
        self._features = None if self.vocab_size else shape[-1]
        self.embedding.build(shape)
        sequence = (shape[0], shape[1], self.model_dim)
        self.position.build(sequence)
        for block in self.blocks:
            block.build(sequence)
        if self.final_norm is not None:
            self.final_norm.build(sequence)

    def call(self, inputs, mask=None, training=None, return_attention_scores=False):
        owner = type(self).__name__
        if self.vocab_size:
            dtype = keras.backend.standardize_dtype(inputs.dtype)
            if "int" not in dtype:
                raise TypeError(f"{owner}: `inputs` must be integer token ids (vocab_size={self.vocab_size}), got dtype {dtype}")
            check.input_rank(owner, inputs.shape, 2, self._layout())
            mask = padding_mask(inputs) if mask is None else mask
            x = self.embedding(inputs) * ops.cast(math.sqrt(self.model_dim), self.compute_dtype)
        else:
            x = check.call_input(owner, inputs, 3, self._layout(), self._features, self.compute_dtype)
            x = self.embedding(x)
        x = self.dropout_layer(self.position(x), training=training)
        scores = []
        for block in self.blocks:
            if return_attention_scores:
                x, weights = block(x, mask=mask, training=training, return_attention_scores=True)
                scores.append(weights)
            else:
                x = block(x, mask=mask, training=training)
        if self.final_norm is not None:
            x = self.final_norm(x)
        x = self._pool(x, mask)
        return (x, scores) if return_attention_scores else x

    def _pool(self, x, mask):
        if self.pooling is None:
            return x
        if self.pooling == "first":
            return x[:, 0]
        if mask is None:
            return ops.mean(x, axis=1) if self.pooling == "mean" else ops.max(x, axis=1)
        keep = ops.expand_dims(ops.cast(mask, x.dtype), -1)
        if self.pooling == "mean":
            return ops.sum(x * keep, axis=1) / ops.maximum(ops.sum(keep, axis=1), 1.0)
        return ops.max(ops.where(keep > 0, x, ops.cast(check.large_negative(x.dtype), x.dtype)), axis=1)

    def compute_output_shape(self, input_shape):
        shape = tuple(input_shape)
        return (shape[0], self.model_dim) if self.pooling else (shape[0], shape[1], self.model_dim)

    def compute_mask(self, inputs, mask=None):
        if self.pooling:
            return None
        return padding_mask(inputs) if self.vocab_size and mask is None else mask

    def get_config(self):
        config = super().get_config()
        config.update(
            num_layers=self.num_layers,
            num_heads=self.num_heads,
            ff_dim=self.ff_dim,
            model_dim=self.model_dim,
            vocab_size=self.vocab_size,
            max_length=self.max_length,
            positional=self.positional,
            pooling=self.pooling,
            dropout=self.dropout,
            norm_first=self.norm_first,
        )
        return config


@keras.saving.register_keras_serializable(package="course_lib")
class TransformerDecoderBlock(_Block):
    """One Transformer decoder block: causal self-attention, cross-attention, feed-forward.

    Position ``t`` of the output sees target positions ``<= t`` only (the causal
    mask), and every real position of the encoder's output ``context``.

    Args:
        num_heads, ff_dim, dropout, norm_first, activation, layer_norm_epsilon: as for
            :class:`TransformerEncoderBlock`.

    Input shape:
        ``inputs`` ``(batch, target_steps, model_dim)``; ``context``
        ``(batch, source_steps, model_dim)``; optional masks ``(batch, target_steps)``
        and ``context_mask`` ``(batch, source_steps)``.

    Output shape:
        ``(batch, target_steps, model_dim)``; with ``return_attention_scores=True``
        also the cross-attention weights ``(batch, num_heads, target_steps, source_steps)``.

    Example:
        >>> block = TransformerDecoderBlock(num_heads=4, ff_dim=64)
        >>> keras.ops.shape(block(keras.ops.zeros((2, 6, 32)), keras.ops.zeros((2, 9, 32))))
        (2, 6, 32)
    """

    def build(self, inputs_shape, context_shape=None):
        owner = type(self).__name__
        shape = check.input_rank(owner, inputs_shape, 3, "(batch, target_steps, model_dim)")
        context_shape = shape if context_shape is None else check.input_rank(owner, context_shape, 3, "(batch, source_steps, model_dim)")
        self.model_dim = shape[-1]
        head = _head_size(owner, self.model_dim, self.num_heads)
        norm = lambda name: keras.layers.LayerNormalization(epsilon=self.layer_norm_epsilon, name=name, dtype=self.dtype_policy)
        self.self_attention = MultiHeadAttention(self.num_heads, head, dropout=self.dropout, name="self_attention", dtype=self.dtype_policy)
        self.self_attention.build(shape)
        self.cross_attention = MultiHeadAttention(self.num_heads, head, dropout=self.dropout, name="cross_attention", dtype=self.dtype_policy)
        self.cross_attention.build(shape, context_shape)
        self.norms = [norm("self_attention_norm"), norm("cross_attention_norm"), norm("ff_norm")]
        for layer in self.norms:
            layer.build(shape)
        self._build_feed_forward(shape)

    def call(self, inputs, context, mask=None, context_mask=None, training=None, return_attention_scores=False):
        owner = type(self).__name__
        x = check.call_input(owner, inputs, 3, "(batch, target_steps, model_dim)", self.model_dim, self.compute_dtype)
        check.call_input(owner, context, 3, "(batch, source_steps, model_dim)", self.model_dim, self.compute_dtype)
        cross = []

        def self_attend(h):
            return self.self_attention(h, query_mask=mask, value_mask=mask, use_causal_mask=True, training=training)

        def cross_attend(h):
            out = self.cross_attention(
                h, context, query_mask=mask, value_mask=context_mask, return_attention_scores=return_attention_scores,
                training=training,
            )
            if return_attention_scores:
                out, weights = out
                cross.append(weights)
            return out

        residual = lambda h, sublayer, norm: _Sublayers.residual(h, sublayer, norm, self.dropout_layer, self.norm_first, training)
        x = residual(x, self_attend, self.norms[0])
        x = residual(x, cross_attend, self.norms[1])
        x = residual(x, self._feed_forward, self.norms[2])
        return (x, cross[0]) if return_attention_scores else x

    def decode_step(self, inputs, cache, context_keys_values, context_mask=None):
        """The block at one new target position, from the keys and values of the earlier ones.

        ``inputs`` ``(batch, 1, model_dim)`` is the block's input at the new position;
        ``cache`` the self-attention's ``(keys, values)`` of the earlier positions (each
        ``(batch, num_heads, steps, head_size)``), or ``None`` at the first;
        ``context_keys_values`` the cross-attention's keys and values of the encoder's
        output (``self.cross_attention.project_keys_values(context)``, computed once per
        source). Inference only (no dropout).

        Returns ``(output, cache)``: ``(batch, 1, model_dim)``, equal to :meth:`call` on
        the whole prefix at its last position, and the cache with this position added.
        The causal mask needs no code here: the cache holds only the past.
        """
        h = self.norms[0](inputs) if self.norm_first else inputs
        keys, values = self.self_attention.project_keys_values(h)
        if cache is not None:
            keys, values = ops.concatenate([cache[0], keys], axis=2), ops.concatenate([cache[1], values], axis=2)
        attended, _ = self.self_attention.attend(h, keys, values)
        x = inputs + attended if self.norm_first else self.norms[0](inputs + attended)
        h = self.norms[1](x) if self.norm_first else x
        mask = None if context_mask is None else ops.expand_dims(ops.expand_dims(ops.cast(context_mask, "bool"), 1), 1)
        attended, _ = self.cross_attention.attend(h, *context_keys_values, mask)
        x = x + attended if self.norm_first else self.norms[1](x + attended)
        h = self.norms[2](x) if self.norm_first else x
        x = x + self._feed_forward(h) if self.norm_first else self.norms[2](x + self._feed_forward(h))
        return x, (keys, values)

    def compute_output_shape(self, inputs_shape, context_shape=None):
        return inputs_shape

    def compute_mask(self, inputs, context=None, mask=None, **kwargs):
        return mask

