"""Sequence to sequence: the encoder-decoder of §1 for translation.

- :class:`Vocabulary` maps tokens to ids and back (id 0 is padding); it is stored in
  the model's config, so a saved model carries its vocabularies.
- :class:`RNNSeq2Seq`: a bidirectional GRU encoder (:class:`course_lib.recurrent.RecurrentEncoder`)
  and a GRU decoder that attends to the encoder's states
  (:class:`course_lib.attention.MultiHeadAttention` with one head).
- :class:`TransformerSeq2Seq`: :class:`course_lib.transformer.TransformerEncoder` and
  a stack of :class:`course_lib.transformer.TransformerDecoderBlock`.

Both are trained with teacher forcing (the decoder reads the true previous target
token) and decode with :func:`greedy_decode` or :func:`beam_search_decode`. Decoding is
incremental: ``start_decoding`` encodes the source once and ``decode_step`` reads one
token per step, the RNN carrying its GRU state and the Transformer a key-value cache
(each block's self-attention keys and values of the earlier positions, and the
cross-attention keys and values of the source, computed once), so a step never reruns
the model over the whole prefix. ``use_cache=False`` does rerun it, for comparison: the
outputs are the same (``tests/test_seq2seq.py``) and the cost is in ``benchmarks/``.
:func:`edit_distance`, :func:`exact_match` and :func:`character_error_rate` score them.
"""

from __future__ import annotations

import keras
import numpy as np
from keras import ops

from course_lib import _validation as check
from course_lib.attention import MultiHeadAttention
from course_lib.positional import SinusoidalPositionalEncoding
from course_lib.recurrent import RecurrentEncoder
from course_lib.transformer import TransformerDecoderBlock, TransformerEncoder


class Vocabulary:
    """Tokens ↔ ids, with ``<pad>`` = 0, ``<unk>`` = 1, ``<bos>`` = 2, ``<eos>`` = 3.

    Args:
        tokens: the regular tokens, in id order (ids start at 4).

    Example:
        >>> vocab = Vocabulary.from_sequences([["a", "b"], ["b", "c"]])
        >>> vocab.encode(["b", "z"], eos=True)
        [5, 1, 3]
        >>> vocab.decode([2, 5, 6, 3, 0])
        ['b', 'c']
    """

    SPECIALS = ("<pad>", "<unk>", "<bos>", "<eos>")
    PAD, UNK, BOS, EOS = 0, 1, 2, 3

    def __init__(self, tokens):
        tokens = list(tokens)
        clash = [t for t in tokens if t in self.SPECIALS]
        if clash or len(set(tokens)) != len(tokens):
            raise ValueError(f"Vocabulary: `tokens` must be distinct and not special tokens; repeated or special: {clash or 'duplicates'}")
        self.tokens = [*self.SPECIALS, *tokens]
        self.index = {token: i for i, token in enumerate(self.tokens)}

    @classmethod
    def from_sequences(cls, sequences):
        """Every distinct token of ``sequences`` (lists of tokens), sorted."""
        return cls(sorted({token for sequence in sequences for token in sequence}))

    def __len__(self):
        return len(self.tokens)

    def encode(self, tokens, bos: bool = False, eos: bool = False) -> list[int]:
        """Ids of ``tokens``; unknown tokens become ``<unk>``."""
        ids = [self.index.get(token, self.UNK) for token in tokens]
        return [self.BOS] * bos + ids + [self.EOS] * eos

    def encode_batch(self, sequences, length: int, bos: bool = False, eos: bool = False) -> np.ndarray:
        """A ``(len(sequences), length)`` int32 array of ids, padded with 0.

        Raises:
            ValueError: a sequence (with ``<bos>``/``<eos>``) is longer than ``length``;
                nothing is cut silently.
        """
        out = np.zeros((len(sequences), length), dtype="int32")
        for row, tokens in enumerate(sequences):
            ids = self.encode(tokens, bos, eos)
            if len(ids) > length:
                raise ValueError(f"Vocabulary.encode_batch: sequence {row} has {len(ids)} ids, more than length={length}: {tokens!r}")
            out[row, : len(ids)] = ids
        return out

    def decode(self, ids) -> list[str]:
        """Tokens of ``ids`` up to the first ``<eos>``, without ``<pad>`` and ``<bos>``."""
        tokens = []
        for i in np.asarray(ids).tolist():
            if i == self.EOS:
                break
            if i not in (self.PAD, self.BOS):
                tokens.append(self.tokens[i])
        return tokens

    def get_config(self):
        return {"tokens": self.tokens[len(self.SPECIALS) :]}

    @classmethod
    def from_config(cls, config):
        return cls(config["tokens"])

    def __eq__(self, other):
        return isinstance(other, Vocabulary) and other.tokens == self.tokens


class Seq2Seq(check.ChecksInputs, keras.Model):
    """Common part of the encoder-decoder models: vocabularies, data preparation, decoding.

    ``model((source_ids, target_in_ids))`` returns next-token logits
    ``(batch, target_steps, target_vocab)``: position ``t`` predicts target token
    ``t + 1`` from the source and the target tokens up to ``t`` (teacher forcing).
    """

    def __init__(self, source_vocab, target_vocab, max_length=32, **kwargs):
        super().__init__(**kwargs)
        self.source_vocab = source_vocab if isinstance(source_vocab, Vocabulary) else Vocabulary.from_config(source_vocab)
        self.target_vocab = target_vocab if isinstance(target_vocab, Vocabulary) else Vocabulary.from_config(target_vocab)
        self.max_length = check.positive_int(type(self).__name__, "max_length", max_length)

    def build(self, input_shape):
        # Sublayers are built by one call on a tiny batch, so that a model loaded from a
        # .keras file (built from its build config) has every weight before loading them.
        tiny = ops.ones((1, 2), dtype="int32")
        self.call((tiny, tiny))
        self.built = True

    def prepare(self, source_tokens, target_tokens=None):
        """Ids for training: ``((source, target_in), target_out)``, or just ``source`` without targets.

        ``target_in`` is ``<bos>`` + target, ``target_out`` is target + ``<eos>``.
        """
        source = self.source_vocab.encode_batch(source_tokens, self.max_length)
        if target_tokens is None:
            return source
        target_in = self.target_vocab.encode_batch(target_tokens, self.max_length, bos=True)
        target_out = self.target_vocab.encode_batch(target_tokens, self.max_length, eos=True)
        return (source, target_in), target_out

    def _check_inputs(self, inputs):
        owner = type(self).__name__
        if not isinstance(inputs, (list, tuple)) or len(inputs) != 2:
            raise ValueError(f"{owner}: `inputs` must be a pair (source_ids, target_in_ids), got {type(inputs).__name__}")
        for name, x in zip(("source_ids", "target_in_ids"), inputs):
            dtype = keras.backend.standardize_dtype(x.dtype)
            if "int" not in dtype:
                raise TypeError(f"{owner}: `{name}` must hold integer token ids, got dtype {dtype}")
            check.input_rank(owner, x.shape, 2, f"(batch, steps) for `{name}`")
        return inputs

    # Incremental decoding: what greedy_decode and beam_search_decode call. `start_decoding`
    # encodes the source once; `decode_step` reads one more target token per sequence and
    # returns the next-token logits; `reorder_decoding` picks rows (the surviving beams).
    def start_decoding(self, source):
        """The decoding state for ``source`` ``(batch, steps)``: the encoder's work, done once."""
        raise NotImplementedError

    def decode_step(self, state, token_ids):
        """Read ``token_ids`` ``(batch,)``, the last token of each prefix; return ``(logits, state)``,
        ``logits`` ``(batch, target_vocab)`` predicting the token after it."""
        raise NotImplementedError

    @staticmethod
    def reorder_decoding(state, rows):
        """The state of the sequences ``rows`` (indices into the batch), in that order."""
        rows = ops.convert_to_tensor(np.asarray(rows, dtype="int32"))
        return keras.tree.map_structure(lambda x: x if isinstance(x, int) else ops.take(x, rows, axis=0), state)

    def translate(self, source_tokens, beam_width: int = 1, max_length: int | None = None) -> list[list[str]]:
        """Translate token lists: greedy for ``beam_width == 1``, else beam search."""
        source = self.prepare(source_tokens)
        length = max_length or self.max_length
        ids = greedy_decode(self, source, length) if beam_width == 1 else beam_search_decode(self, source, beam_width, length)
        return [self.target_vocab.decode(row) for row in ids]

    def get_config(self):
        config = super().get_config()
        config.update(source_vocab=self.source_vocab.get_config(), target_vocab=self.target_vocab.get_config(), max_length=self.max_length)
        return config


@keras.saving.register_keras_serializable(package="course_lib")
class RNNSeq2Seq(Seq2Seq):
    """GRU encoder-decoder with attention (Bahdanau et al., 2015; Luong et al., 2015).

    The bidirectional GRU encoder turns the source into one vector per token; the
    decoder GRU starts from their (masked) mean, and at each target step attends to
    all of them (dot-product attention, one head) and predicts the next token from its
    state and the attended context.

    With ``attention=False`` it is the encoder-decoder of Sutskever et al. (2014) and
    Cho et al. (2014), the "one vector" of §1: the decoder sees the source only through
    the vector it starts from, and predicts from its state alone.

    Args:
        source_vocab, target_vocab: :class:`Vocabulary` of each side.
        embed_dim: token embedding size.
        units: GRU size of each encoder direction (the decoder has ``2 * units``).
        max_length: longest sequence, in ids, either side.
        attention: whether the decoder attends to the encoder's states at every step.

    Example:
        >>> model = RNNSeq2Seq(Vocabulary(["a", "b"]), Vocabulary(["x"]), embed_dim=8, units=8)
        >>> keras.ops.shape(model((np.array([[4, 5]]), np.array([[2, 4]]))))
        (1, 2, 5)
    """

    def __init__(self, source_vocab, target_vocab, embed_dim=64, units=64, max_length=32, attention=True, **kwargs):
        super().__init__(source_vocab, target_vocab, max_length, **kwargs)
        self.embed_dim = check.positive_int(type(self).__name__, "embed_dim", embed_dim)
        self.units = check.positive_int(type(self).__name__, "units", units)
        if not isinstance(attention, bool):
            raise TypeError(f"RNNSeq2Seq: `attention` must be True or False, got {attention!r}")
        self.use_attention = attention
        policy = self.dtype_policy  # every sublayer computes in this model's dtype
        self.source_embedding = keras.layers.Embedding(len(self.source_vocab), embed_dim, mask_zero=True, name="source_embedding", dtype=policy)
        self.encoder = RecurrentEncoder(units, cell="gru", bidirectional=True, return_sequences=True, name="encoder", dtype=policy)
        self.initial_state = keras.layers.Dense(2 * units, activation="tanh", name="initial_state", dtype=policy)
        self.target_embedding = keras.layers.Embedding(len(self.target_vocab), embed_dim, mask_zero=True, name="target_embedding", dtype=policy)
        self.decoder = keras.layers.GRU(2 * units, return_sequences=True, name="decoder", dtype=policy)
        self.attention = MultiHeadAttention(num_heads=1, key_dim=2 * units, name="attention", dtype=policy) if attention else None
        self.output_layer = keras.layers.Dense(len(self.target_vocab), name="next_token", dtype=policy)

    def call(self, inputs, training=None, return_attention_scores=False):
        source, target_in = self._check_inputs(inputs)
        source_mask, target_mask = ops.not_equal(source, 0), ops.not_equal(target_in, 0)
        memory, summary = self._encode(source, source_mask, training)
        states = self.decoder(
            self.target_embedding(target_in), initial_state=self.initial_state(summary), mask=target_mask, training=training
        )
        if self.attention is None:
            if return_attention_scores:
                raise ValueError("RNNSeq2Seq: this model was built with attention=False; it has no attention scores to return")
            return self.output_layer(states)
        context, weights = self.attention(states, memory, value_mask=source_mask, return_attention_scores=True, training=training)
        logits = self.output_layer(ops.concatenate([states, context], axis=-1))
        return (logits, weights[:, 0]) if return_attention_scores else logits

    def _encode(self, source, source_mask, training):
        """The encoder's states ``(batch, steps, 2 * units)`` and their masked mean, the one vector."""
        memory = self.encoder(self.source_embedding(source), mask=source_mask, training=training)
        keep = ops.expand_dims(ops.cast(source_mask, memory.dtype), -1)
        return memory, ops.sum(memory * keep, axis=1) / ops.maximum(ops.sum(keep, axis=1), 1.0)

    def start_decoding(self, source):
        if not self.built:
            self.build(None)
        source = ops.convert_to_tensor(np.asarray(source, dtype="int32"))
        source_mask = ops.not_equal(source, 0)
        memory, summary = self._encode(source, source_mask, training=False)
        return {"memory": memory, "source_mask": source_mask, "state": self.initial_state(summary)}

    def decode_step(self, state, token_ids):
        tokens = ops.convert_to_tensor(np.asarray(token_ids, dtype="int32").reshape(-1, 1))
        # one step of the decoder's GRU cell (the layer would scan over a sequence of length 1)
        hidden, _ = self.decoder.cell(self.target_embedding(tokens)[:, 0], [state["state"]], training=False)
        out = ops.expand_dims(hidden, 1)  # (batch, 1, 2 * units)
        state = {**state, "state": hidden}
        if self.attention is None:
            return self.output_layer(out)[:, 0], state
        context = self.attention(out, state["memory"], value_mask=state["source_mask"], training=False)
        return self.output_layer(ops.concatenate([out, context], axis=-1))[:, 0], state

    def get_config(self):
        config = super().get_config()
        config.update(embed_dim=self.embed_dim, units=self.units, attention=self.use_attention)
        return config


@keras.saving.register_keras_serializable(package="course_lib")
class TransformerSeq2Seq(Seq2Seq):
    """Transformer encoder-decoder (Vaswani et al., 2017), small.

    Args:
        source_vocab, target_vocab: :class:`Vocabulary` of each side.
        model_dim, num_heads, ff_dim, num_layers, dropout: sizes of the encoder and of
            the decoder (the same for both).
        max_length: longest sequence, in ids, either side.

    Example:
        >>> model = TransformerSeq2Seq(Vocabulary(["a", "b"]), Vocabulary(["x"]), model_dim=8, num_heads=2, ff_dim=16)
        >>> keras.ops.shape(model((np.array([[4, 5]]), np.array([[2, 4]]))))
        (1, 2, 5)
    """

    def __init__(self, source_vocab, target_vocab, model_dim=64, num_heads=4, ff_dim=128, num_layers=2, dropout=0.1, max_length=32, **kwargs):
        super().__init__(source_vocab, target_vocab, max_length, **kwargs)
        owner = type(self).__name__
        self.model_dim = check.positive_int(owner, "model_dim", model_dim)
        self.num_heads = check.positive_int(owner, "num_heads", num_heads)
        self.ff_dim = check.positive_int(owner, "ff_dim", ff_dim)
        self.num_layers = check.positive_int(owner, "num_layers", num_layers)
        self.dropout = check.rate(owner, "dropout", dropout)
        policy = self.dtype_policy  # every sublayer computes in this model's dtype
        self.encoder = TransformerEncoder(
            num_layers, num_heads, ff_dim, model_dim, vocab_size=len(self.source_vocab), max_length=max_length, dropout=dropout, name="encoder", dtype=policy
        )
        self.target_embedding = keras.layers.Embedding(len(self.target_vocab), model_dim, name="target_embedding", dtype=policy)
        self.position = SinusoidalPositionalEncoding(max_length, name="target_position", dtype=policy)
        self.dropout_layer = keras.layers.Dropout(dropout, dtype=policy)
        self.decoder_blocks = [TransformerDecoderBlock(num_heads, ff_dim, dropout, name=f"decoder{i + 1}", dtype=policy) for i in range(num_layers)]
        self.output_layer = keras.layers.Dense(len(self.target_vocab), name="next_token", dtype=policy)

    def call(self, inputs, training=None, return_attention_scores=False):
        source, target_in = self._check_inputs(inputs)
        source_mask, target_mask = ops.not_equal(source, 0), ops.not_equal(target_in, 0)
        memory = self.encoder(source, mask=source_mask, training=training)
        x = self.target_embedding(target_in) * ops.cast(self.model_dim**0.5, self.compute_dtype)
        x = self.dropout_layer(self.position(x), training=training)
        for block in self.decoder_blocks:
            x, weights = block(x, memory, mask=target_mask, context_mask=source_mask, training=training, return_attention_scores=True)
        logits = self.output_layer(x)
        return (logits, ops.mean(weights, axis=1)) if return_attention_scores else logits

    def start_decoding(self, source):
        """Encode once; project the encoder's output to each block's cross-attention keys and
        values once; start every block's self-attention cache empty."""
        if not self.built:
            self.build(None)
        source = ops.convert_to_tensor(np.asarray(source, dtype="int32"))
        source_mask = ops.not_equal(source, 0)
        memory = self.encoder(source, mask=source_mask, training=False)
        cross = [block.cross_attention.project_keys_values(memory) for block in self.decoder_blocks]
        return {"source_mask": source_mask, "cross": cross, "cache": [None] * len(self.decoder_blocks), "step": 0}

    def decode_step(self, state, token_ids):
        """One target position through every block, reusing the keys and values cached for the
        earlier positions (:meth:`TransformerDecoderBlock.decode_step`): the work per step no
        longer grows with the prefix's length."""
        step = state["step"]
        if step >= self.max_length:
            raise ValueError(f"TransformerSeq2Seq.decode_step: position {step} is past max_length={self.max_length}")
        tokens = ops.convert_to_tensor(np.asarray(token_ids, dtype="int32").reshape(-1, 1))
        x = self.target_embedding(tokens) * ops.cast(self.model_dim**0.5, self.compute_dtype)
        x = x + ops.cast(self.position.table[step], x.dtype)
        caches = []
        for block, cache, cross in zip(self.decoder_blocks, state["cache"], state["cross"]):
            x, cache = block.decode_step(x, cache, cross, state["source_mask"])
            caches.append(cache)
        return self.output_layer(x)[:, 0], {**state, "cache": caches, "step": step + 1}

    def get_config(self):
        config = super().get_config()
        config.update(
            model_dim=self.model_dim, num_heads=self.num_heads, ff_dim=self.ff_dim, num_layers=self.num_layers, dropout=self.dropout
        )
        return config


# ------------------------------------------------------------------ decoding


def _log_softmax(logits) -> np.ndarray:
    logits = keras.ops.convert_to_numpy(logits).astype("float64")
    logits -= logits.max(axis=-1, keepdims=True)
    return logits - np.log(np.exp(logits).sum(axis=-1, keepdims=True))


class _Rerun:
    """Decoding without a cache: the whole model over the source and the whole prefix, every step."""

    def __init__(self, model, source):
        self.model, self.source = model, source

    def start(self):
        return self.source

    def step(self, source, prefixes):
        return _log_softmax(self.model((source, prefixes), training=False)[:, -1]), source

    @staticmethod
    def reorder(source, rows):
        return source[rows]


class _Cached(_Rerun):
    """Decoding with the model's own state (:meth:`Seq2Seq.start_decoding`): one new token per step."""

    def start(self):
        return self.model.start_decoding(self.source)

    def step(self, state, prefixes):
        logits, state = self.model.decode_step(state, prefixes[:, -1])
        return _log_softmax(logits), state

    def reorder(self, state, rows):
        return self.model.reorder_decoding(state, rows)


def _decoder(model, source, use_cache):
    return (_Cached if use_cache and isinstance(model, Seq2Seq) else _Rerun)(model, source)


def greedy_decode(model, source, max_length: int, use_cache: bool = True) -> np.ndarray:
    """Pick the most likely next token, step by step, until ``<eos>`` or ``max_length``.

    Args:
        model: a :class:`Seq2Seq` (or any model mapping ``(source, prefix)`` to logits).
        source: ``(batch, steps)`` source ids.
        use_cache: decode incrementally with the model's cached state (a :class:`Seq2Seq`);
            ``False`` reruns the whole model on the whole prefix at every step (same result, slower).

    Returns:
        ``(batch, <= max_length)`` target ids without ``<bos>``, ``<eos>`` included where reached,
        then ``<pad>`` (0), which is never emitted before ``<eos>``.
    """
    source = np.asarray(source)
    decoder = _decoder(model, source, use_cache)
    state = decoder.start()
    prefixes = np.full((len(source), 1), Vocabulary.BOS, dtype="int32")
    done = np.zeros(len(source), bool)
    for _ in range(max_length):
        log_probs, state = decoder.step(state, prefixes)
        log_probs[:, Vocabulary.PAD] = -np.inf  # padding is not an output: never emitted before <eos>
        next_ids = log_probs.argmax(axis=-1).astype("int32")
        next_ids[done] = Vocabulary.PAD
        prefixes = np.concatenate([prefixes, next_ids[:, None]], axis=1)
        done |= next_ids == Vocabulary.EOS
        if done.all():
            break
    return prefixes[:, 1:]


def beam_search_decode(model, source, beam_width: int, max_length: int, length_penalty: float = 1.0, use_cache: bool = True) -> np.ndarray:
    """Keep the ``beam_width`` most likely prefixes at every step; return the best finished one.

    Scores are summed log-probabilities; finished hypotheses are ranked by score divided
    by ``length ** length_penalty`` so that short outputs are not favoured.
    ``use_cache`` as for :func:`greedy_decode`.

    Returns:
        ``(batch, steps)`` target ids without ``<bos>``, as :func:`greedy_decode`.
    """
    check.positive_int("beam_search_decode", "beam_width", beam_width)
    source = np.asarray(source)
    batch, k = len(source), beam_width
    decoder = _decoder(model, source, use_cache)
    state = decoder.start()  # one row per source at first, then one per (source, beam)
    prefixes = np.full((batch, 1, 1), Vocabulary.BOS, dtype="int32")
    scores = np.zeros((batch, 1))
    finished = np.zeros((batch, 1), bool)
    lengths = np.zeros((batch, 1))
    for _ in range(max_length):
        beams = prefixes.shape[1]
        log_probs, state = decoder.step(state, prefixes.reshape(batch * beams, -1))
        log_probs = log_probs.reshape(batch, beams, -1)
        log_probs[..., Vocabulary.PAD] = -np.inf  # padding is not an output: never emitted before <eos>
        log_probs[finished] = -np.inf  # a finished hypothesis only continues with padding, at no cost
        log_probs[finished, Vocabulary.PAD] = 0.0
        vocab = log_probs.shape[-1]
        total = (scores[:, :, None] + log_probs).reshape(batch, -1)
        best = np.argsort(-total, axis=1, kind="stable")[:, :k]
        beam_of, token = best // vocab, (best % vocab).astype("int32")
        rows = np.arange(batch)[:, None]
        prefixes = np.concatenate([prefixes[rows, beam_of], token[:, :, None]], axis=2)
        state = decoder.reorder(state, (rows * beams + beam_of).reshape(-1))
        scores = total[rows, best]
        was_finished = finished[rows, beam_of]
        lengths = lengths[rows, beam_of] + ~was_finished
        finished = was_finished | (token == Vocabulary.EOS)
        if finished.all():
            break
    ranked = np.where(finished, scores / np.maximum(lengths, 1.0) ** length_penalty, -np.inf)
    ranked = np.where(finished.any(axis=1, keepdims=True), ranked, scores)
    return prefixes[np.arange(batch), ranked.argmax(axis=1), 1:]


def sequence_log_prob(model, source, target_ids) -> np.ndarray:
    """Log-probability the model gives each target sequence (up to and including ``<eos>``).

    Args:
        source: ``(batch, steps)`` source ids.
        target_ids: ``(batch, steps)`` decoded ids without ``<bos>`` (as the decoders return them).

    Returns:
        ``(batch,)`` sums of the log-probabilities of each token.
    """
    target_ids = np.asarray(target_ids)
    prefixes = np.concatenate([np.full((len(target_ids), 1), Vocabulary.BOS, "int32"), target_ids[:, :-1]], axis=1)
    log_probs = _log_softmax(model((np.asarray(source), prefixes), training=False))
    picked = np.take_along_axis(log_probs, target_ids[..., None].astype("int64"), axis=-1)[..., 0]
    real = np.cumsum(target_ids == Vocabulary.EOS, axis=1) - (target_ids == Vocabulary.EOS) == 0  # up to the first <eos>
    return (picked * (real & (target_ids != Vocabulary.PAD))).sum(axis=1)


# ------------------------------------------------------------------ scores


def edit_distance(reference, hypothesis) -> int:
    """Levenshtein distance: fewest insertions, deletions and substitutions turning one into the other."""
    previous = list(range(len(hypothesis) + 1))
    for i, r in enumerate(reference, start=1):
        current = [i]
        for j, h in enumerate(hypothesis, start=1):
            current.append(min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (r != h)))
        previous = current
    return previous[-1]


def exact_match(references, hypotheses) -> float:
    """Fraction of hypotheses equal to their reference."""
    if len(references) != len(hypotheses) or not references:
        raise ValueError(f"exact_match: need as many hypotheses as references (> 0), got {len(hypotheses)} and {len(references)}")
    return float(np.mean([list(r) == list(h) for r, h in zip(references, hypotheses)]))


def character_error_rate(references, hypotheses) -> float:
    """Total edit distance divided by total reference length (0 is perfect)."""
    if len(references) != len(hypotheses) or not references:
        raise ValueError(f"character_error_rate: need as many hypotheses as references (> 0), got {len(hypotheses)} and {len(references)}")
    return sum(edit_distance(r, h) for r, h in zip(references, hypotheses)) / sum(len(r) for r in references)
