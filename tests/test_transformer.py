"""Transformer blocks and encoder: what each claims, and equality with a by-hand block."""

import keras
import numpy as np
import pytest

from course_lib.attention import MultiHeadAttention
from course_lib.transformer import TransformerDecoderBlock, TransformerEncoder, TransformerEncoderBlock

rng = np.random.default_rng(0)
to_np = keras.ops.convert_to_numpy


def randn(*shape):
    return rng.normal(size=shape).astype("float32")


@pytest.mark.parametrize("norm_first", [False, True])
def test_encoder_block_is_attention_plus_feed_forward(norm_first):
    block = TransformerEncoderBlock(num_heads=2, ff_dim=16, norm_first=norm_first)
    x = keras.ops.convert_to_tensor(randn(2, 5, 8))  # a backend tensor: torch does not add NumPy arrays to its tensors
    out = to_np(block(x))
    attention, ln1, ln2 = block.attention, block.attention_norm, block.ff_norm
    ff = lambda h: block.ff_output(block.ff_hidden(h))
    if norm_first:
        h = x + attention(ln1(x))
        expected = h + ff(ln2(h))
    else:
        h = ln1(x + attention(x))
        expected = ln2(h + ff(h))
    np.testing.assert_allclose(out, to_np(expected), atol=1e-5)


def test_encoder_block_equals_keras_hub_when_installed():
    keras_hub = pytest.importorskip("keras_hub")
    x = randn(2, 6, 16)
    theirs = keras_hub.layers.TransformerEncoder(intermediate_dim=32, num_heads=4)
    ours = TransformerEncoderBlock(num_heads=4, ff_dim=32)
    theirs(x)
    ours(x)
    # KerasHub orders: attention (q, k, v, output), attention norm, feed-forward norm, ff hidden, ff output
    w = theirs.get_weights()
    ours.set_weights(w[:8] + w[8:10] + w[12:16] + w[10:12])
    np.testing.assert_allclose(to_np(ours(x)), to_np(theirs(x)), atol=1e-5)


def test_padding_changes_nothing_in_the_encoder():
    encoder = TransformerEncoder(2, num_heads=2, ff_dim=16, model_dim=8, vocab_size=20, pooling="mean")
    a = np.array([[5, 6, 7, 0, 0], [3, 4, 0, 0, 0]])
    np.testing.assert_allclose(to_np(encoder(a))[1], to_np(encoder(a[1:, :2]))[0], atol=1e-5)
    seq = TransformerEncoder(1, num_heads=2, ff_dim=16, model_dim=8, vocab_size=20)
    np.testing.assert_allclose(to_np(seq(a))[0, :3], to_np(seq(a[:1, :3]))[0], atol=1e-5)
    assert to_np(seq.compute_mask(a)).tolist() == (a != 0).tolist()


@pytest.mark.parametrize("pooling", ["mean", "max", "first", None])
def test_encoder_on_features_shapes_and_scores(pooling):
    encoder = TransformerEncoder(2, num_heads=4, ff_dim=32, model_dim=16, pooling=pooling, positional="learned", norm_first=True)
    out, scores = encoder(randn(3, 10, 2), return_attention_scores=True)
    assert tuple(out.shape) == ((3, 16) if pooling else (3, 10, 16)) == encoder.compute_output_shape((3, 10, 2))
    assert len(scores) == 2 and tuple(scores[0].shape) == (3, 4, 10, 10)


def test_decoder_block_is_causal_and_sees_only_real_context():
    block = TransformerDecoderBlock(num_heads=2, ff_dim=16)
    target, context = randn(2, 6, 8), randn(2, 5, 8)
    base, cross = block(target, context, return_attention_scores=True)
    assert tuple(cross.shape) == (2, 2, 6, 5)
    future = target.copy()
    future[:, 3:] = randn(2, 3, 8)
    np.testing.assert_allclose(to_np(block(future, context))[:, :3], to_np(base)[:, :3], atol=1e-5)
    keep = np.array([[1, 1, 1, 0, 0], [1, 1, 1, 1, 1]], bool)
    noisy = context.copy()
    noisy[0, 3:] = randn(2, 8) * 50
    np.testing.assert_allclose(to_np(block(target, noisy, context_mask=keep))[0], to_np(block(target, context, context_mask=keep))[0], atol=1e-5)


@pytest.mark.parametrize("norm_first", [False, True])
def test_decoder_block_one_step_at_a_time_with_its_cache_equals_the_whole_prefix(norm_first):
    block = TransformerDecoderBlock(num_heads=2, ff_dim=16, norm_first=norm_first)
    target, context = randn(2, 6, 8), randn(2, 5, 8)
    keep = np.array([[1, 1, 1, 0, 0], [1, 1, 1, 1, 1]], bool)
    whole = to_np(block(target, context, context_mask=keep))
    cross, cache = block.cross_attention.project_keys_values(keras.ops.convert_to_tensor(context)), None
    for t in range(6):
        out, cache = block.decode_step(keras.ops.convert_to_tensor(target[:, t : t + 1]), cache, cross, keep)
        np.testing.assert_allclose(to_np(out)[:, 0], whole[:, t], atol=1e-5)
        assert tuple(cache[0].shape) == tuple(cache[1].shape) == (2, 2, t + 1, 4)


@pytest.mark.parametrize(
    "layer, x",
    [
        (TransformerEncoderBlock(2, 16, dropout=0.1, norm_first=True), randn(2, 5, 8)),
        (TransformerEncoder(2, 2, 16, 8, vocab_size=30, pooling="mean", dropout=0.1), np.array([[3, 4, 0], [5, 0, 0]], "int32")),
        (TransformerEncoder(1, 2, 16, 8, positional="learned"), randn(2, 5, 3)),
    ],
    ids=["block", "encoder-tokens", "encoder-features"],
)
def test_round_trip(layer, x, assert_keras_roundtrip):
    assert_keras_roundtrip(layer, x)


def test_fit_learns_a_sequence_task():
    """Is the first token repeated later in the sequence? Needs attention across positions."""
    keras.utils.set_random_seed(0)
    x = rng.integers(1, 20, size=(1024, 8))
    y = (x[:, 1:] == x[:, :1]).any(axis=1).astype("int32")
    x[y == 0, 1] = x[y == 0, 0]  # make half of each class
    y = (x[:, 1:] == x[:, :1]).any(axis=1).astype("int32")
    model = keras.Sequential([keras.Input((8,), dtype="int32"), TransformerEncoder(2, 4, 64, 32, vocab_size=20, pooling="mean"), keras.layers.Dense(2)])
    model.compile(optimizer=keras.optimizers.Adam(2e-3), loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True), metrics=["accuracy"])
    history = model.fit(x, y, epochs=15, batch_size=64, verbose=0)
    assert history.history["accuracy"][-1] > 0.9


@pytest.mark.parametrize(
    "call, error, message",
    [
        (lambda: TransformerEncoderBlock(3, 16)(randn(1, 4, 8)), ValueError, "divisible by num_heads=3"),
        (lambda: TransformerEncoder(1, 3, 16, model_dim=8), ValueError, "divisible by num_heads=3"),
        (lambda: TransformerEncoderBlock(2, 16)(randn(4, 8)), ValueError, "rank 3"),
        (lambda: TransformerEncoder(1, 2, 16, 8, vocab_size=10)(randn(2, 4)), TypeError, "integer token ids"),
        (lambda: TransformerEncoder(1, 2, 16, 8, vocab_size=10)(np.ones((2, 4, 1), "int32")), ValueError, "rank 2"),
        (lambda: TransformerEncoder(1, 2, 16, 8, max_length=4)(randn(2, 6, 3)), ValueError, "6 steps, longer than max_length=4"),
        (lambda: TransformerEncoder(1, 2, 16, 8, pooling="sum"), ValueError, "pooling"),
        (lambda: TransformerEncoder(1, 2, 16, 8, positional="rotary"), ValueError, "positional"),
        (lambda: TransformerDecoderBlock(2, 16)(randn(1, 3, 8), randn(1, 4, 6)), ValueError, "context.*8 features|8 features"),
    ],
)
def test_bad_input_raises_clear_errors(call, error, message):
    with pytest.raises(error, match=message):
        call()


TOKENS = np.array([[3, 4, 0], [5, 0, 0]], "int32")
MIXED = {
    "block": (lambda dtype: TransformerEncoderBlock(2, 16, dropout=0.1, dtype=dtype), (randn(2, 5, 8),)),
    "block-pre-norm": (lambda dtype: TransformerEncoderBlock(2, 16, norm_first=True, dtype=dtype), (randn(2, 5, 8),)),
    "encoder-tokens": (lambda dtype: TransformerEncoder(2, 2, 16, 8, vocab_size=30, pooling="max", dtype=dtype), (TOKENS,)),
    "encoder-features": (
        lambda dtype: TransformerEncoder(1, 2, 16, 8, positional="learned", norm_first=True, pooling="mean", dtype=dtype),
        (randn(2, 5, 3),),
    ),
    "decoder-block": (lambda dtype: TransformerDecoderBlock(2, 16, dropout=0.1, dtype=dtype), (randn(2, 6, 8), randn(2, 4, 8))),
}


@pytest.mark.parametrize("name", MIXED)
def test_mixed_precision_per_layer(name, assert_mixed_precision):
    make, inputs = MIXED[name]
    assert_mixed_precision(make, *inputs)


@pytest.mark.parametrize(
    "layer_cls, init_kwargs, inputs, expected_output_shape, weights",
    [
        # weights: (trainable, non-trainable, seed generators); a block has 8 attention
        # weights, 4 of layer norms and 4 of the feed-forward network
        (TransformerEncoderBlock, {"num_heads": 2, "ff_dim": 16, "dropout": 0.1}, {"input_shape": (2, 5, 8)}, (2, 5, 8), (16, 0, 2)),
        (TransformerEncoderBlock, {"num_heads": 2, "ff_dim": 16, "norm_first": True}, {"input_shape": (2, 5, 8)}, (2, 5, 8), (16, 0, 0)),
        (
            TransformerEncoder,
            {"num_layers": 2, "num_heads": 2, "ff_dim": 16, "model_dim": 8, "vocab_size": 30, "pooling": "mean", "dropout": 0.1},
            {"input_data": TOKENS},
            (2, 8),
            (1 + 2 * 16, 1, 1 + 2 * 2),  # embedding, blocks; the sinusoidal table; dropouts
        ),
        (
            TransformerEncoder,
            {"num_layers": 1, "num_heads": 2, "ff_dim": 16, "model_dim": 8, "positional": "learned", "norm_first": True},
            {"input_shape": (2, 5, 3)},
            (2, 5, 8),
            (2 + 1 + 16 + 2, 0, 0),  # projection, learned positions, block, final layer norm
        ),
    ],
    ids=["block", "block-pre-norm", "encoder-tokens", "encoder-features"],
)
def test_keras_layer_harness(layer_cls, init_kwargs, inputs, expected_output_shape, weights, keras_layer_test):
    keras_layer_test(
        layer_cls,
        init_kwargs,
        **inputs,
        expected_output_shape=expected_output_shape,
        expected_num_trainable_weights=weights[0],
        expected_num_non_trainable_weights=weights[1],
        expected_num_seed_generators=weights[2],
        supports_masking=True,
    )


def test_keras_layer_harness_propagates_the_padding_mask(keras_layer_test):
    keras_layer_test(
        TransformerEncoder,
        {"num_layers": 1, "num_heads": 2, "ff_dim": 16, "model_dim": 8, "vocab_size": 30},
        input_data=TOKENS,
        expected_output_shape=(2, 3, 8),
        supports_masking=True,
        expected_mask_shape=(2, 3),  # token id 0 is padding: the mask goes on to the next layer
    )


def test_decoder_block_keras_layer_harness(keras_layer_test):
    keras_layer_test(
        TransformerDecoderBlock,
        {"num_heads": 2, "ff_dim": 16, "dropout": 0.1},
        input_shape={"inputs_shape": (2, 6, 8), "context_shape": (2, 4, 8)},
        expected_output_shape=(2, 6, 8),
        expected_num_trainable_weights=2 * 8 + 3 * 2 + 4,
        expected_num_non_trainable_weights=0,
        expected_num_seed_generators=3,
        supports_masking=True,
        # The harness's training step calls the layer with its inputs as one dict; a layer with
        # two inputs trains in the TransformerSeq2Seq tests (tests/test_seq2seq.py) instead.
        run_training_check=False,
    )


@pytest.mark.parametrize("norm_first", [False, True])
@pytest.mark.parametrize("masked", [False, True])
def test_encoder_block_equals_a_block_written_from_the_formulas(norm_first, masked):
    """A block from the formulas (MHA of notebook 07, LN and FFN in keras.ops) with copied weights."""
    ops = keras.ops
    block = TransformerEncoderBlock(num_heads=2, ff_dim=12, dropout=0.2, norm_first=norm_first)
    x = ops.convert_to_tensor(randn(3, 6, 8))
    mask = ops.convert_to_tensor(np.array([[1] * 6, [1] * 4 + [0] * 2, [1, 1, 0, 0, 0, 0]], bool)) if masked else None
    block.build(x.shape)
    mha = MultiHeadAttention(num_heads=2, key_dim=4)
    mha.build(x.shape)
    mha.set_weights(block.attention.get_weights())
    weights = {name: [ops.convert_to_tensor(w) for w in getattr(block, name).get_weights()]
               for name in ("attention_norm", "ff_hidden", "ff_output", "ff_norm")}

    def layer_norm(h, name):
        gamma, beta = weights[name]
        mean = ops.mean(h, axis=-1, keepdims=True)
        variance = ops.mean(ops.square(h - mean), axis=-1, keepdims=True)
        return (h - mean) / ops.sqrt(variance + 1e-5) * gamma + beta

    def feed_forward(h):
        (w1, b1), (w2, b2) = weights["ff_hidden"], weights["ff_output"]
        return ops.matmul(ops.relu(ops.matmul(h, w1) + b1), w2) + b2

    attend = lambda h: mha(h, query_mask=mask, value_mask=mask)
    if norm_first:
        h = x + attend(layer_norm(x, "attention_norm"))
        expected = h + feed_forward(layer_norm(h, "ff_norm"))
    else:
        h = layer_norm(x + attend(x), "attention_norm")
        expected = layer_norm(h + feed_forward(h), "ff_norm")
    out = to_np(block(x, mask=mask, training=False))  # dropout off at inference
    np.testing.assert_allclose(out, to_np(expected), atol=1e-5)
    assert np.abs(to_np(block(x, mask=mask, training=True)) - out).max() > 0.1  # and on in training
