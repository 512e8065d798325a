r"""Self-attention from its formula (§8 of the article: the Transformer's 自注意力机制).

.. math:: \mathrm{Attention}(Q, K, V) = \mathrm{softmax}\!\Big(\frac{Q K^T}{\sqrt{d_k}} + M\Big) V

where the mask :math:`M` is 0 where a query may look and :math:`-\infty` where it may
not (padding, or the future in a decoder). :func:`scaled_dot_product_attention` is
that line in ``keras.ops``; :class:`MultiHeadAttention` runs it in ``num_heads``
subspaces at once with weights laid out exactly as ``keras.layers.MultiHeadAttention``
lays them out, so the two can be compared weight for weight (``tests/test_attention.py``).
"""

from __future__ import annotations

import math

import keras
from keras import ops

from course_lib import _validation as check


def causal_mask(query_length: int, key_length: int | None = None):
    """Boolean ``(query_length, key_length)`` mask, True where query ``i`` may see key ``j <= i``."""
    key_length = query_length if key_length is None else key_length
    rows = ops.expand_dims(ops.arange(query_length), 1)
    cols = ops.expand_dims(ops.arange(key_length), 0)
    return ops.greater_equal(rows + (key_length - query_length), cols)


def padding_mask(tokens, pad_id: int = 0):
    """Boolean ``(batch, steps)`` mask, True at real tokens and False at ``pad_id``."""
    return ops.not_equal(tokens, pad_id)


def scaled_dot_product_attention(query, key, value, mask=None):
    r"""The attention formula, :math:`\mathrm{softmax}(QK^T/\sqrt{d_k} + M)\,V`.

    Args:
        query: ``(..., Tq, d_k)``.
        key: ``(..., Tk, d_k)``.
        value: ``(..., Tk, d_v)``.
        mask: optional boolean, broadcastable to ``(..., Tq, Tk)``; True where the query
            may attend. A query row with no visible key gets all-zero weights.

    Returns:
        ``(output, weights)``: ``(..., Tq, d_v)`` and the attention weights ``(..., Tq, Tk)``.

    Example:
        >>> q = k = v = keras.ops.ones((2, 5, 8))
        >>> out, w = scaled_dot_product_attention(q, k, v, mask=causal_mask(5))
        >>> keras.ops.shape(out), keras.ops.shape(w)
        ((2, 5, 8), (2, 5, 5))
        >>> keras.ops.convert_to_numpy(w[0, :3, :3]).round(3)  # equal scores: each query shares out what it may see
        array([[1.   , 0.   , 0.   ],
               [0.5  , 0.5  , 0.   ],
               [0.333, 0.333, 0.333]], dtype=float32)
    """
    d_k = query.shape[-1]
    if key.shape[-1] != d_k:
        raise ValueError(f"scaled_dot_product_attention: `key` must have depth d_k={d_k} like `query`, got {tuple(key.shape)}")
    if key.shape[-2] is not None and value.shape[-2] is not None and key.shape[-2] != value.shape[-2]:
        raise ValueError(
            f"scaled_dot_product_attention: `value` must have as many steps as `key` ({key.shape[-2]}), got {tuple(value.shape)}"
        )
    scores = ops.matmul(query, ops.swapaxes(key, -1, -2)) / ops.cast(math.sqrt(d_k), query.dtype)  # QK^T / sqrt(d_k)
    if mask is not None:
        mask = ops.cast(mask, "bool")
        scores = ops.where(mask, scores, ops.cast(check.large_negative(scores.dtype), scores.dtype))  # + M: -inf where hidden
    if scores.shape[-1] == 1:  # one key: every weight is 1 (and Keras warns about a softmax over one value)
        weights = ops.ones_like(scores)
    else:
        weights = ops.softmax(scores, axis=-1)  # softmax over the keys
    if mask is not None:
        weights = ops.where(mask, weights, ops.zeros_like(weights))  # rows with nothing visible stay 0
    return ops.matmul(weights, value), weights


@keras.saving.register_keras_serializable(package="course_lib")
class MultiHeadAttention(check.ChecksInputs, keras.layers.Layer):
    r"""Multi-head attention built on :func:`scaled_dot_product_attention`.

    Each head ``h`` projects the inputs, :math:`Q_h = X_q W^Q_h`, :math:`K_h = X_k W^K_h`,
    :math:`V_h = X_v W^V_h`, attends, and the heads' outputs are joined by
    :math:`W^O`. Called with one input it is self-attention; with ``value`` (and
    ``key``) from an encoder it is the cross-attention of a decoder.

    The weights have the names and shapes of ``keras.layers.MultiHeadAttention``
    (query/key/value kernels ``(d_model, num_heads, key_dim)`` with biases
    ``(num_heads, key_dim)``, output kernel ``(num_heads, value_dim, d_model)``), in the
    same order, so ``set_weights`` moves weights between the two.

    When the caller does not ask for the weights (``return_attention_scores=False``, and
    no attention dropout while training) and keys and values have one head size, the
    layer computes the same numbers with ``keras.ops.dot_product_attention``, which a
    backend may run as one fused kernel (flash attention on a GPU, PyTorch's fused CPU
    kernel); a query that sees no key still gets a zero output. With the weights asked
    for, it runs :func:`scaled_dot_product_attention`, the formula.

    Args:
        num_heads: number of heads.
        key_dim: size of each head's queries and keys.
        value_dim: size of each head's values (default ``key_dim``).
        dropout: dropout on the attention weights (training only).
        use_bias: biases in the projections.
        output_dim: size of the output (default: the query's feature size).

    Input shape:
        ``query`` ``(batch, Tq, d_q)``; ``value`` ``(batch, Tk, d_v)`` (default ``query``);
        ``key`` ``(batch, Tk, d_k)`` (default ``value``). Masks: ``attention_mask``
        boolean ``(batch, Tq, Tk)`` (True = may attend), ``query_mask`` ``(batch, Tq)``,
        ``value_mask`` ``(batch, Tk)``, ``use_causal_mask`` for decoders.

    Output shape:
        ``(batch, Tq, output_dim)``; with ``return_attention_scores=True`` also the
        weights ``(batch, num_heads, Tq, Tk)``.

    Example:
        >>> mha = MultiHeadAttention(num_heads=4, key_dim=8)
        >>> keras.ops.shape(mha(keras.ops.ones((2, 10, 32))))
        (2, 10, 32)
    """

    def __init__(self, num_heads, key_dim, value_dim=None, dropout=0.0, use_bias=True, output_dim=None, **kwargs):
        super().__init__(**kwargs)
        owner = type(self).__name__
        self.num_heads = check.positive_int(owner, "num_heads", num_heads)
        self.key_dim = check.positive_int(owner, "key_dim", key_dim)
        self.value_dim = self.key_dim if value_dim is None else check.positive_int(owner, "value_dim", value_dim)
        self.dropout = check.rate(owner, "dropout", dropout)
        self.use_bias = bool(use_bias)
        self.output_dim = None if output_dim is None else check.positive_int(owner, "output_dim", output_dim)
        self.dropout_layer = keras.layers.Dropout(self.dropout, dtype=self.dtype_policy)
        self.supports_masking = True

    def build(self, query_shape, value_shape=None, key_shape=None):
        owner = type(self).__name__
        query_shape = check.input_rank(owner, query_shape, 3, "(batch, steps, features)")
        value_shape = query_shape if value_shape is None else check.input_rank(owner, value_shape, 3, "(batch, steps, features)")
        key_shape = value_shape if key_shape is None else check.input_rank(owner, key_shape, 3, "(batch, steps, features)")
        self._dims = (query_shape[-1], key_shape[-1], value_shape[-1])
        output_dim = self.output_dim or query_shape[-1]

        def projection(name, d_in, d_head):
            kernel = self.add_weight(name=f"{name}_kernel", shape=(d_in, self.num_heads, d_head), initializer="glorot_uniform")
            bias = self.add_weight(name=f"{name}_bias", shape=(self.num_heads, d_head), initializer="zeros") if self.use_bias else None
            return kernel, bias

        # same order as keras.layers.MultiHeadAttention.get_weights(): query, key, value, output
        self.query_kernel, self.query_bias = projection("query", query_shape[-1], self.key_dim)
        self.key_kernel, self.key_bias = projection("key", key_shape[-1], self.key_dim)
        self.value_kernel, self.value_bias = projection("value", value_shape[-1], self.value_dim)
        self.output_kernel = self.add_weight(
            name="output_kernel", shape=(self.num_heads, self.value_dim, output_dim), initializer="glorot_uniform"
        )
        self.output_bias = self.add_weight(name="output_bias", shape=(output_dim,), initializer="zeros") if self.use_bias else None

    def _project(self, x, kernel, bias, heads_first=True):
        """Each head's projection: ``(batch, heads, steps, size)``, or ``(batch, steps, heads, size)``
        with ``heads_first=False`` (the order ``ops.dot_product_attention`` takes)."""
        if not heads_first:
            heads = ops.einsum("btd,dhk->bthk", x, kernel)
            return heads if bias is None else heads + bias
        heads = ops.einsum("btd,dhk->bhtk", x, kernel)
        return heads if bias is None else heads + ops.expand_dims(bias, 1)

    def call(
        self,
        query,
        value=None,
        key=None,
        attention_mask=None,
        query_mask=None,
        value_mask=None,
        use_causal_mask=False,
        return_attention_scores=False,
        training=None,
    ):
        owner = type(self).__name__
        value = query if value is None else value
        key = value if key is None else key
        for name, x, size in (("query", query, self._dims[0]), ("key", key, self._dims[1]), ("value", value, self._dims[2])):
            check.input_rank(owner, x.shape, 3, f"(batch, steps, features) for `{name}`")
            if x.shape[-1] != size:
                raise ValueError(f"{owner}: `{name}` must have {size} features (the size it was built with), got shape {tuple(x.shape)}")
        mask = self._combined_mask(query, key, attention_mask, query_mask, value_mask, use_causal_mask)  # masks ride on the inputs
        query, key, value = (
            check.numeric_input(owner, x, self.compute_dtype, name) for name, x in (("query", query), ("key", key), ("value", value))
        )
        if not return_attention_scores and (not self.dropout or not training) and self.value_dim == self.key_dim:
            # the weights are not needed: one fused kernel (JAX's wants one head size for keys and values)
            return self._fused(query, key, value, mask)
        q = self._project(query, self.query_kernel, self.query_bias)
        keys, values = self.project_keys_values(key, value)
        output, weights = self._attend_heads(q, keys, values, mask, training)
        return (output, weights) if return_attention_scores else output

    def _fused(self, query, key, value, mask):
        """The same attention through ``keras.ops.dot_product_attention``: no (Tq, Tk) weights are
        handed back, so the backend may fuse the softmax (flash attention on GPUs, PyTorch's fused
        CPU kernel) and the heads stay in ``(batch, steps, heads, size)`` order, which saves the
        transposes into and out of ``(batch, heads, steps, size)``."""
        q = self._project(query, self.query_kernel, self.query_bias, heads_first=False)
        k = self._project(key, self.key_kernel, self.key_bias, heads_first=False)
        v = self._project(value, self.value_kernel, self.value_bias, heads_first=False)
        seen = None
        if mask is not None:
            seen = ops.any(mask, axis=-1, keepdims=True)  # (batch, 1, Tq, 1): does the query see any key?
            mask = ops.logical_or(mask, ops.logical_not(seen))  # blind rows attend everywhere (no NaN), zeroed below
        context = ops.dot_product_attention(q, k, v, mask=mask)  # (batch, Tq, heads, value_dim)
        if seen is not None:
            context = ops.where(ops.transpose(seen, (0, 2, 1, 3)), context, ops.zeros_like(context))
        output = ops.einsum("bthv,hvd->btd", context, self.output_kernel)
        return output if self.output_bias is None else output + self.output_bias

    def project_keys_values(self, key, value=None):
        """Each head's keys and values, ``(batch, num_heads, steps, key_dim / value_dim)``.

        A decoder computes them once per position and keeps them (the key-value cache):
        :meth:`attend` with the keys and values of every earlier position gives what
        calling the layer on the whole prefix gives at its last position.
        """
        value = key if value is None else value
        return self._project(key, self.key_kernel, self.key_bias), self._project(value, self.value_kernel, self.value_bias)

    def attend(self, query, keys, values, mask=None, training=None):
        """Attention of ``query`` ``(batch, Tq, d_q)`` to projected ``keys`` and ``values``
        (from :meth:`project_keys_values`); ``mask`` broadcastable to ``(batch, heads, Tq, Tk)``.

        Returns ``(output, weights)``: ``(batch, Tq, output_dim)`` and ``(batch, heads, Tq, Tk)``.
        """
        return self._attend_heads(self._project(query, self.query_kernel, self.query_bias), keys, values, mask, training)

    def _attend_heads(self, q, keys, values, mask, training):
        context, weights = scaled_dot_product_attention(q, keys, values, mask)
        if self.dropout:
            # dropout on the weights, then the weighted sum again (as Keras does)
            weights = self.dropout_layer(weights, training=training)
            context = ops.matmul(weights, values)
        output = ops.einsum("bhtv,hvd->btd", context, self.output_kernel)
        if self.output_bias is not None:
            output = output + self.output_bias
        return output, weights

    def _combined_mask(self, query, key, attention_mask, query_mask, value_mask, use_causal_mask):
        """One boolean mask ``(batch, 1, Tq, Tk)`` from every source of masking, or None."""
        masks = []
        if query_mask is None:
            query_mask = getattr(query, "_keras_mask", None)
        if value_mask is None:
            value_mask = getattr(key, "_keras_mask", None)
        if attention_mask is not None:
            masks.append(ops.cast(attention_mask, "bool"))
        if query_mask is not None:
            masks.append(ops.expand_dims(ops.cast(query_mask, "bool"), -1))
        if value_mask is not None:
            masks.append(ops.expand_dims(ops.cast(value_mask, "bool"), -2))
        if use_causal_mask:
            masks.append(ops.expand_dims(causal_mask(ops.shape(query)[1], ops.shape(key)[1]), 0))
        if not masks:
            return None
        mask = masks[0]
        for m in masks[1:]:
            mask = ops.logical_and(mask, m)
        return ops.expand_dims(mask, 1)  # the same mask for every head

    def compute_output_shape(self, query_shape, value_shape=None, key_shape=None):
        return (*tuple(query_shape)[:-1], self.output_dim or query_shape[-1])

    def compute_mask(self, query, value=None, key=None, query_mask=None, **kwargs):
        return getattr(query, "_keras_mask", None) if query_mask is None else query_mask

    def get_config(self):
        config = super().get_config()
        config.update(
            num_heads=self.num_heads,
            key_dim=self.key_dim,
            value_dim=self.value_dim,
            dropout=self.dropout,
            use_bias=self.use_bias,
            output_dim=self.output_dim,
        )
        return config
