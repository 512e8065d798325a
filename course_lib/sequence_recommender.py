r"""A sequence recommender: encode a user's history, predict the next item at every position.

The article's §6: "the encoder encodes the user's history into a vector, and predicts the
user's future behaviour from that vector". :class:`SequenceRecommender` reads item ids
``(batch, steps)`` (0 = padding, on the left or on the right: a mask handles either) and
returns, at every position ``t``, scores over the whole catalogue for the item at
``t + 1``, computed from positions ``<= t`` only:

- ``encoder="transformer"``: item embedding plus a learned position embedding, then causal
  :class:`~course_lib.transformer.TransformerEncoderBlock` (pre-norm) and a final layer
  norm: SASRec (Kang & McAuley, 2018);
- ``encoder="gru"``: a unidirectional :class:`~course_lib.recurrent.RecurrentEncoder` with
  GRU cells over the item embeddings: GRU4Rec (Hidasi et al., 2016);
- ``encoder="bag"``: the running mean of the item embeddings up to each position through a
  :class:`~course_lib.encoders.DenseEncoder`: a bag of the history, blind to its order (a
  baseline: what order adds is what the other two gain over it).

The scores are dot products of the encoder's output with the item embedding matrix
(weight tying: one vector per item serves as input and as output), so
:math:`s_{t,i} = h_t \cdot e_i`; column 0 (padding) gets a large negative score and never
wins. Training with the full softmax is ordinary ``model.fit`` on
``inputs = history[:-1]``, ``targets = history[1:]`` (:func:`next_item_pairs`) with
``SparseCategoricalCrossentropy(from_logits=True, ignore_class=0)``. With a large catalogue
the full softmax is the cost; :func:`sampled_softmax_model` trains the same weights on the
target item against a few uniformly sampled items instead. :func:`top_k_items` retrieves
the top ``k`` items after each history with ``keras.ops.top_k``.

Positions are counted from the first real item of each history (0, 1, 2, ...), not from
the left edge of the padded array, so a left-padded and a right-padded history get the same
scores.
"""

from __future__ import annotations

import math

import keras
import numpy as np
from keras import ops

from course_lib import _validation as check
from course_lib.encoders import DenseEncoder
from course_lib.recurrent import RecurrentEncoder
from course_lib.transformer import TransformerEncoderBlock

ENCODERS = ("transformer", "gru", "bag")


def _concrete(x):
    """``x`` as a NumPy array when its values are known now (eager), else None (symbolic or traced)."""
    if isinstance(x, np.ndarray):
        return x
    if isinstance(x, keras.KerasTensor):
        return None
    try:
        return keras.ops.convert_to_numpy(x)
    except Exception:  # a traced tensor (tf.function, jax.jit) has no values yet
        return None


def check_item_ids(owner: str, values, num_items: int, name: str = "inputs"):
    """Raise a ValueError unless every entry of the NumPy array ``values`` is an id in ``0..num_items``."""
    if values.size and (values.min() < 0 or values.max() > num_items):
        bad = values[(values < 0) | (values > num_items)]
        raise ValueError(
            f"{owner}: `{name}` must hold item ids in 0..{num_items} (0 = padding), "
            f"got {bad.size} outside, e.g. {int(bad.flat[0])}"
        )


@keras.saving.register_keras_serializable(package="course_lib")
class SequenceRecommender(check.ChecksInputs, keras.layers.Layer):
    """Next-item scores at every position of a history: SASRec, GRU4Rec or a bag of history.

    Args:
        num_items: size of the catalogue; items are ids ``1..num_items``, 0 is padding.
        model_dim: width of the item embeddings and of the encoder.
        encoder: ``"transformer"`` (causal self-attention, SASRec-style), ``"gru"``
            (GRU4Rec-style) or ``"bag"`` (running mean of the embeddings through a
            ``DenseEncoder``; order-blind baseline).
        num_layers: Transformer blocks, stacked GRU layers, or hidden layers of the
            bag's ``DenseEncoder``.
        num_heads: attention heads (transformer only); ``model_dim`` must be divisible by it.
        max_length: longest history accepted (size of the position table).
        dropout: dropout on the embeddings and inside the encoder (training only).
        ff_dim: hidden size of the Transformer's feed-forward network and of the bag's
            hidden layers; ``None`` means ``model_dim``.

    Input shape:
        ``(batch, steps)`` integer item ids in ``0..num_items``, ``steps <= max_length``,
        0 = padding (left or right).

    Output shape:
        ``(batch, steps, num_items + 1)`` logits: position ``t`` scores the item at
        ``t + 1`` from items ``<= t``; column 0 is a large negative number. The layer
        passes on the padding mask ``(batch, steps)``.

    Example:
        >>> recommender = SequenceRecommender(num_items=20, model_dim=8, encoder="gru", num_layers=1)
        >>> logits = recommender(np.array([[0, 3, 5, 7], [2, 4, 6, 8]]))
        >>> keras.ops.shape(logits)
        (2, 4, 21)
        >>> bool(keras.ops.all(keras.ops.argmax(logits, axis=-1) > 0))  # padding never wins
        True
    """

    def __init__(self, num_items, model_dim=64, encoder="transformer", num_layers=2, num_heads=2, max_length=50, dropout=0.2,
                 ff_dim=None, **kwargs):
        super().__init__(**kwargs)
        owner = type(self).__name__
        self.num_items = check.positive_int(owner, "num_items", num_items)
        self.model_dim = check.positive_int(owner, "model_dim", model_dim)
        self.encoder = check.one_of(owner, "encoder", encoder, ENCODERS)
        self.num_layers = check.positive_int(owner, "num_layers", num_layers)
        self.num_heads = check.positive_int(owner, "num_heads", num_heads)
        if self.encoder == "transformer" and self.model_dim % self.num_heads:
            raise ValueError(f"{owner}: `model_dim` ({self.model_dim}) must be divisible by num_heads={self.num_heads}")
        self.max_length = check.positive_int(owner, "max_length", max_length)
        self.dropout = check.rate(owner, "dropout", dropout)
        self.ff_dim = self.model_dim if ff_dim is None else check.positive_int(owner, "ff_dim", ff_dim)
        self.supports_masking = True

        policy = self.dtype_policy  # every sublayer computes in this layer's dtype
        self.item_embedding = keras.layers.Embedding(self.num_items + 1, self.model_dim, mask_zero=True, name="item_embedding", dtype=policy)
        self.dropout_layer = keras.layers.Dropout(self.dropout, dtype=policy)
        self.position_embedding = None
        self.blocks = []
        self.final_norm = None
        self.recurrent = None
        self.bag = None
        if self.encoder == "transformer":
            self.position_embedding = keras.layers.Embedding(
                self.max_length, self.model_dim, embeddings_initializer=keras.initializers.RandomNormal(stddev=0.02),
                name="position_embedding", dtype=policy,
            )
            self.blocks = [
                TransformerEncoderBlock(self.num_heads, self.ff_dim, self.dropout, norm_first=True, name=f"block{i + 1}", dtype=policy)
                for i in range(self.num_layers)
            ]
            self.final_norm = keras.layers.LayerNormalization(epsilon=1e-5, name="final_norm", dtype=policy)
        elif self.encoder == "gru":
            self.recurrent = RecurrentEncoder(
                self.model_dim, cell="gru", num_layers=self.num_layers, return_sequences=True, dropout=self.dropout, name="gru", dtype=policy
            )
        else:
            self.bag = DenseEncoder(
                self.model_dim, hidden_dims=(self.ff_dim,) * self.num_layers, dropout=self.dropout, name="bag", dtype=policy
            )

    def build(self, input_shape):
        owner = type(self).__name__
        shape = check.input_rank(owner, input_shape, 2, "(batch, steps) of item ids")
        self._check_length(shape)
        self.item_embedding.build(shape)
        sequence = (shape[0], shape[1], self.model_dim)
        if self.encoder == "transformer":
            self.position_embedding.build(shape)
            for block in self.blocks:
                block.build(sequence)
            self.final_norm.build(sequence)
        elif self.encoder == "gru":
            self.recurrent.build(sequence)
        else:
            self.bag.build((None, self.model_dim))

    def _check_length(self, shape):
        if shape[1] is not None and shape[1] > self.max_length:
            raise ValueError(f"{type(self).__name__}: `inputs` have {shape[1]} steps, longer than max_length={self.max_length}")

    def _check_inputs(self, inputs):
        owner = type(self).__name__
        dtype = keras.backend.standardize_dtype(inputs.dtype)
        if "int" not in dtype:
            raise TypeError(f"{owner}: `inputs` must be integer item ids (0..{self.num_items}), got dtype {dtype}")
        check.input_rank(owner, inputs.shape, 2, "(batch, steps) of item ids")
        self._check_length(tuple(inputs.shape))
        values = _concrete(inputs)
        if values is not None:
            check_item_ids(owner, values, self.num_items)

    def encode(self, inputs, training=None):
        """The encoder's output ``(batch, steps, model_dim)``: position ``t`` summarises items ``<= t``."""
        self._check_inputs(inputs)
        mask = ops.not_equal(inputs, 0)
        x = self.item_embedding(inputs)
        if self.encoder == "transformer":
            x = x * ops.cast(math.sqrt(self.model_dim), self.compute_dtype)
            # positions counted from each history's first real item: the same for left and right padding
            positions = ops.maximum(ops.cumsum(ops.cast(mask, "int32"), axis=1) - 1, 0)
            x = self.dropout_layer(x + self.position_embedding(positions), training=training)
            for block in self.blocks:
                x = block(x, mask=mask, use_causal_mask=True, training=training)
            return self.final_norm(x)
        x = self.dropout_layer(x, training=training)
        if self.encoder == "gru":
            return self.recurrent(x, mask=mask, training=training)
        keep = ops.expand_dims(ops.cast(mask, x.dtype), -1)
        running_mean = ops.cumsum(x * keep, axis=1) / ops.maximum(ops.cumsum(keep, axis=1), ops.cast(1.0, x.dtype))
        steps = ops.shape(inputs)[1]
        flat = self.bag(ops.reshape(running_mean, (-1, self.model_dim)), training=training)
        return ops.reshape(flat, (-1, steps, self.model_dim))

    def score(self, hidden):
        """Logits ``(..., num_items + 1)`` of encoder outputs ``(..., model_dim)``: ``h · e_i``, padding column large negative."""
        table = ops.cast(self.item_embedding.embeddings, self.compute_dtype)
        logits = ops.matmul(hidden, ops.transpose(table))
        padding = ops.equal(ops.arange(self.num_items + 1), 0)
        return ops.where(padding, ops.cast(check.large_negative(self.compute_dtype), logits.dtype), logits)

    def call(self, inputs, training=None):
        return self.score(self.encode(inputs, training=training))

    def compute_output_shape(self, input_shape):
        shape = tuple(input_shape)
        return (shape[0], shape[1], self.num_items + 1)

    def compute_mask(self, inputs, mask=None):
        return ops.not_equal(inputs, 0)

    def get_config(self):
        config = super().get_config()
        config.update(
            num_items=self.num_items,
            model_dim=self.model_dim,
            encoder=self.encoder,
            num_layers=self.num_layers,
            num_heads=self.num_heads,
            max_length=self.max_length,
            dropout=self.dropout,
            ff_dim=self.ff_dim,
        )
        return config


def _as_histories(owner, histories, num_items=None):
    """A 2-D integer NumPy array of padded histories, with clear errors otherwise."""
    if isinstance(histories, np.ndarray) or not isinstance(histories, (list, tuple)):
        values = _concrete(histories)
        if values is None:
            raise TypeError(f"{owner}: `histories` must be concrete values (a NumPy array or an eager tensor)")
    else:
        values = np.asarray(histories)
    if values.dtype.kind not in "iu":
        raise TypeError(f"{owner}: `histories` must be integer item ids, got dtype {values.dtype}")
    if values.ndim != 2:
        raise ValueError(f"{owner}: `histories` must have rank 2 (users, steps), got shape {values.shape}")
    if values.shape[0] == 0 or values.shape[1] == 0:
        raise ValueError(f"{owner}: `histories` must not be empty, got shape {values.shape}")
    if num_items is not None:
        check_item_ids(owner, values, num_items, "histories")
    if not np.all((values != 0).any(axis=1)):
        raise ValueError(f"{owner}: every history needs at least one item, got {int((~(values != 0).any(axis=1)).sum())} empty ones")
    return values.astype("int32")


def _built(recommender, steps):
    if not recommender.built:
        recommender.build((None, steps))
    return recommender


def _find_recommender(model):
    if isinstance(model, SequenceRecommender):
        return model
    for layer in getattr(model, "_flatten_layers", lambda **_: [])(include_self=False, recursive=True):
        if isinstance(layer, SequenceRecommender):
            return layer
    raise TypeError(f"`model` must be a SequenceRecommender or a model that contains one, got {type(model).__name__}")


def next_item_pairs(sequences, max_length, padding="left"):
    """``(inputs, targets)`` for next-item training: each sequence's last ``max_length + 1`` items, shifted by one.

    Args:
        sequences: a list of 1-D sequences of item ids (``>= 1``) in time order, e.g.
            each user's training history. Sequences with fewer than 2 items are skipped.
        max_length: steps of the arrays (longer histories keep their most recent items).
        padding: ``"left"`` (the newest item in the last column) or ``"right"``.

    Returns:
        ``(inputs, targets)``, int32 arrays ``(n, max_length)``: ``targets[:, t]`` is the item
        after ``inputs[:, t]``; 0 where padded.

    Example:
        >>> inputs, targets = next_item_pairs([[4, 5, 6], [7]], max_length=4)
        >>> inputs.tolist(), targets.tolist()
        ([[0, 0, 4, 5]], [[0, 0, 5, 6]])
    """
    owner = "next_item_pairs"
    max_length = check.positive_int(owner, "max_length", max_length)
    check.one_of(owner, "padding", padding, ("left", "right"))
    inputs, targets = [], []
    for i, sequence in enumerate(sequences):
        sequence = np.asarray(sequence)
        if sequence.size and (sequence.dtype.kind not in "iu" or sequence.min() < 1):
            raise ValueError(f"{owner}: `sequences[{i}]` must hold item ids >= 1, got {sequence[:5].tolist()}...")
        if sequence.size < 2:
            continue
        window = sequence[-(max_length + 1):]
        for rows, part in ((inputs, window[:-1]), (targets, window[1:])):
            row = np.zeros(max_length, "int32")
            if padding == "left":
                row[max_length - part.size:] = part
            else:
                row[: part.size] = part
            rows.append(row)
    if not inputs:
        raise ValueError(f"{owner}: no sequence has 2 or more items, nothing to train on")
    return np.stack(inputs), np.stack(targets)


def last_position_scores(model, histories, batch_size=1024):
    """Scores ``(users, num_items + 1)`` of the next item after each history (its last real position), as NumPy.

    ``histories`` ``(users, steps)``: padded item ids, left or right. Column 0 (padding) is a
    large negative number. Inference only (no dropout); computed ``batch_size`` users at a
    time, scoring only the last position (not the whole ``(steps, num_items + 1)``).
    """
    recommender = _find_recommender(model)
    values = _as_histories("last_position_scores", histories, recommender.num_items)
    steps = values.shape[1]
    _built(recommender, steps)
    last = steps - 1 - np.argmax((values != 0)[:, ::-1], axis=1)  # index of each history's newest item
    out = []
    for start in range(0, len(values), batch_size):
        chunk = values[start : start + batch_size]
        hidden = recommender.encode(ops.convert_to_tensor(chunk), training=False)
        index = ops.convert_to_tensor(last[start : start + batch_size].reshape(-1, 1, 1).astype("int32"))
        hidden = ops.take_along_axis(hidden, ops.broadcast_to(index, (len(chunk), 1, recommender.model_dim)), axis=1)[:, 0]
        out.append(ops.convert_to_numpy(ops.cast(recommender.score(hidden), "float32")))
    return np.concatenate(out)


def top_k_items(model, histories, k=10, exclude=None, batch_size=1024):
    """The ``k`` best next items after each history, by ``keras.ops.top_k`` over the full catalogue.

    Args:
        model: a :class:`SequenceRecommender` (or a ``keras.Model`` containing one).
        histories: ``(users, steps)`` padded item ids, 0 = padding, left or right.
        k: how many items to return, ``1 <= k <= num_items``.
        exclude: optional boolean ``(users, num_items + 1)``, True for items never to
            recommend (e.g. those already seen). ``None`` excludes nothing: repeat
            consumption is real, and a seen item may be the right next one.
        batch_size: users scored at a time.

    Returns:
        ``(items, scores)``: NumPy ``(users, k)`` item ids (never 0), best first, and their scores.

    Example:
        >>> recommender = SequenceRecommender(num_items=30, model_dim=8, encoder="bag", num_layers=1)
        >>> items, scores = top_k_items(recommender, np.array([[0, 0, 3, 4], [1, 2, 3, 4]]), k=5)
        >>> items.shape, bool((items > 0).all()), bool((np.diff(scores, axis=1) <= 0).all())
        ((2, 5), True, True)
    """
    recommender = _find_recommender(model)
    owner = "top_k_items"
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or not 1 <= k <= recommender.num_items:
        raise ValueError(f"{owner}: `k` must be an int in 1..num_items={recommender.num_items}, got {k!r}")
    scores = last_position_scores(recommender, histories, batch_size)
    if exclude is not None:
        exclude = np.asarray(exclude, bool)
        if exclude.shape != scores.shape:
            raise ValueError(f"{owner}: `exclude` must have shape {scores.shape} (users, num_items + 1), got {exclude.shape}")
        scores = np.where(exclude, check.large_negative("float32"), scores)
        scores[:, 0] = 2 * check.large_negative("float32")  # padding stays below every excluded item
    values, items = ops.top_k(ops.convert_to_tensor(scores), k=int(k))
    return ops.convert_to_numpy(items).astype("int32"), ops.convert_to_numpy(values)


class _SampledScores(keras.layers.Layer):
    """Logits of each target item and of ``num_negatives`` uniformly sampled items, for :func:`sampled_softmax_model`."""

    def __init__(self, recommender, num_negatives, seed=None, **kwargs):
        super().__init__(**kwargs)
        self.recommender = recommender
        self.num_negatives = num_negatives
        self.seed_generator = keras.random.SeedGenerator(seed)

    def call(self, inputs, targets, training=None):
        r = self.recommender
        hidden = r.encode(inputs, training=training)  # (batch, steps, d)
        table = ops.cast(r.item_embedding.embeddings, hidden.dtype)
        targets = ops.cast(targets, "int32")
        positive = ops.sum(hidden * ops.take(table, targets, axis=0), axis=-1, keepdims=True)  # (batch, steps, 1)
        negatives = keras.random.randint((self.num_negatives,), 1, r.num_items + 1, seed=self.seed_generator, dtype="int32")
        negative = ops.matmul(hidden, ops.transpose(ops.take(table, negatives, axis=0)))  # (batch, steps, K)
        hit = ops.equal(ops.expand_dims(targets, -1), negatives)  # a sample that is the target is not a negative
        negative = ops.where(hit, ops.cast(check.large_negative(hidden.dtype), hidden.dtype), negative)
        return ops.concatenate([positive, negative], axis=-1)

    def compute_output_shape(self, inputs_shape, targets_shape=None):
        return (*tuple(inputs_shape), 1 + self.num_negatives)


def sampled_softmax_model(recommender, steps, num_negatives=100, seed=None):
    r"""A ``keras.Model`` that trains ``recommender``'s weights with a uniformly sampled softmax.

    The full softmax costs a score for every item of the catalogue at every position. The
    sampled softmax scores only the target item and ``num_negatives`` items drawn uniformly
    from ``1..num_items`` (the same draw for the whole batch, a new draw every step), and
    trains the target to win among them: cross-entropy over ``1 + num_negatives`` logits
    with the target at index 0. A drawn item that equals the target is masked out. With a
    uniform proposal the usual :math:`\log Q` correction is the same for every item and
    cancels, so none is applied; the gradient is a noisy, cheaper estimate of the full
    softmax's, which is why it can rank less well with few negatives.

    The returned model takes ``[inputs, targets]`` (both ``(batch, steps)`` ids, as from
    :func:`next_item_pairs`) and outputs ``(batch, steps, 1 + num_negatives)`` logits; fit it
    with ``y = zeros`` and ``sample_weight = targets > 0`` (padding carries no loss) and
    ``SparseCategoricalCrossentropy(from_logits=True)``. The recommender itself is then
    used as usual (full scores, :func:`top_k_items`).

    Args:
        recommender: the :class:`SequenceRecommender` to train (its weights are shared).
        steps: length of the training arrays.
        num_negatives: items sampled per step, ``1 <= num_negatives <= num_items``.
        seed: seed of the sampler.

    Example:
        >>> recommender = SequenceRecommender(num_items=50, model_dim=8, encoder="bag", num_layers=1)
        >>> trainer = sampled_softmax_model(recommender, steps=6, num_negatives=10)
        >>> keras.ops.shape(trainer([np.ones((2, 6), "int32"), np.full((2, 6), 2, "int32")]))
        (2, 6, 11)
    """
    owner = "sampled_softmax_model"
    if not isinstance(recommender, SequenceRecommender):
        raise TypeError(f"{owner}: `recommender` must be a SequenceRecommender, got {type(recommender).__name__}")
    steps = check.positive_int(owner, "steps", steps)
    num_negatives = check.positive_int(owner, "num_negatives", num_negatives)
    if num_negatives > recommender.num_items:
        raise ValueError(f"{owner}: `num_negatives` must be at most num_items={recommender.num_items}, got {num_negatives}")
    _built(recommender, steps)
    inputs = keras.Input((steps,), dtype="int32", name="inputs")
    targets = keras.Input((steps,), dtype="int32", name="targets")
    scores = _SampledScores(recommender, num_negatives, seed, name="sampled_scores", dtype=recommender.dtype_policy)(inputs, targets)
    return keras.Model([inputs, targets], scores, name="sampled_softmax")
