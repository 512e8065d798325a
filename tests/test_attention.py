"""course_lib.attention equals Keras' attention, and its masks really hide what they hide."""

import keras
import numpy as np
import pytest

from course_lib.attention import MultiHeadAttention, causal_mask, padding_mask, scaled_dot_product_attention

rng = np.random.default_rng(0)
to_np = keras.ops.convert_to_numpy


def randn(*shape):
    return rng.normal(size=shape).astype("float32")


def heads_last(x):  # (batch, heads, steps, depth) <-> (batch, steps, heads, depth)
    return np.transpose(x, (0, 2, 1, 3))


@pytest.mark.parametrize("causal", [False, True])
def test_scaled_dot_product_attention_equals_keras_ops(causal):
    q, k, v = randn(2, 3, 6, 8), randn(2, 3, 6, 8), randn(2, 3, 6, 8)
    ours, weights = scaled_dot_product_attention(q, k, v, mask=causal_mask(6) if causal else None)
    theirs = keras.ops.dot_product_attention(heads_last(q), heads_last(k), heads_last(v), is_causal=causal)
    np.testing.assert_allclose(to_np(ours), heads_last(to_np(theirs)), atol=1e-5)
    np.testing.assert_allclose(to_np(weights).sum(-1), 1.0, atol=1e-5)


def test_attention_is_the_formula_in_numpy():
    q, k, v = randn(4, 3), randn(5, 3), randn(5, 2)
    scores = q @ k.T / np.sqrt(3)
    weights = np.exp(scores) / np.exp(scores).sum(-1, keepdims=True)
    out, w = scaled_dot_product_attention(q, k, v)
    np.testing.assert_allclose(to_np(w), weights, atol=1e-6)
    np.testing.assert_allclose(to_np(out), weights @ v, atol=1e-6)


def test_masks():
    np.testing.assert_array_equal(to_np(causal_mask(3)), [[1, 0, 0], [1, 1, 0], [1, 1, 1]])
    np.testing.assert_array_equal(to_np(causal_mask(2, 4)), [[1, 1, 1, 0], [1, 1, 1, 1]])
    np.testing.assert_array_equal(to_np(padding_mask(np.array([[5, 3, 0, 0]]))), [[True, True, False, False]])


def test_fully_masked_rows_get_zero_weights():
    _, weights = scaled_dot_product_attention(randn(1, 2, 4), randn(1, 3, 4), randn(1, 3, 4), mask=np.array([[[True] * 3, [False] * 3]]))
    np.testing.assert_array_equal(to_np(weights)[0, 1], 0.0)


def _pair(num_heads=4, key_dim=8, value_dim=None, dims=(16, 12)):
    query, value = randn(3, 5, dims[0]), randn(3, 7, dims[1])
    ours = MultiHeadAttention(num_heads, key_dim, value_dim=value_dim)
    theirs = keras.layers.MultiHeadAttention(num_heads, key_dim, value_dim=value_dim)
    ours(query, value)
    # Keras bug on JAX: keras.layers.MultiHeadAttention with value_dim != key_dim fails in its fused
    # path (jax.nn.dot_product_attention wants one head size for keys and values). Asking for the
    # attention scores makes Keras take its einsum path, which computes the same thing on every backend.
    theirs(query, value, return_attention_scores=True)
    ours.set_weights(theirs.get_weights())
    return ours, theirs, query, value


def test_multi_head_attention_equals_keras_given_the_same_weights():
    ours, theirs, query, value = _pair(value_dim=6)
    assert [tuple(w.shape) for w in ours.weights] == [tuple(w.shape) for w in theirs.weights]
    out, scores = ours(query, value, return_attention_scores=True)
    ref, ref_scores = theirs(query, value, return_attention_scores=True)
    np.testing.assert_allclose(to_np(out), to_np(ref), atol=1e-5)
    np.testing.assert_allclose(to_np(scores), to_np(ref_scores), atol=1e-6)


def test_projected_keys_and_values_attended_equal_the_layer():
    """What a decoder caches (each head's keys and values) gives, attended, what the layer gives."""
    mha = MultiHeadAttention(num_heads=2, key_dim=4)
    query, context = randn(2, 3, 8), randn(2, 5, 8)
    keep = np.array([[1, 1, 1, 0, 0], [1, 1, 1, 1, 1]], bool)
    expected, expected_weights = mha(query, context, value_mask=keep, return_attention_scores=True)
    keys, values = mha.project_keys_values(context)
    assert tuple(keys.shape) == tuple(values.shape) == (2, 2, 5, 4)
    out, weights = mha.attend(query, keys, values, mask=keep[:, None, None, :])
    np.testing.assert_allclose(to_np(out), to_np(expected), atol=1e-5)
    np.testing.assert_allclose(to_np(weights), to_np(expected_weights), atol=1e-6)


@pytest.mark.parametrize("masks", ["none", "padding", "blind rows", "causal"])
def test_fused_path_equals_the_formula(masks):
    """Without the weights asked for, the layer calls ops.dot_product_attention (``_fused``): the
    same numbers as the formula, also where a query sees no key (zeros, not NaN or an average)."""
    mha = MultiHeadAttention(num_heads=2, key_dim=4)
    query, context = randn(3, 4, 8), randn(3, 6, 8)
    kwargs = {}
    if masks == "padding":
        kwargs = dict(value_mask=np.array([[1] * 6, [1] * 3 + [0] * 3, [1] + [0] * 5], bool))
    elif masks == "blind rows":
        kwargs = dict(attention_mask=np.concatenate([np.ones((3, 2, 6), bool), np.zeros((3, 2, 6), bool)], axis=1))
    elif masks == "causal":
        kwargs = dict(use_causal_mask=True)
    formula, _ = mha(query, context, return_attention_scores=True, **kwargs)
    fused = mha(query, context, **kwargs)
    np.testing.assert_allclose(to_np(fused), to_np(formula), atol=1e-5)
    if masks == "blind rows":
        np.testing.assert_array_equal(to_np(fused)[:, 2:], np.broadcast_to(to_np(mha.output_bias), (3, 2, 8)))


def test_multi_head_attention_masks_equal_keras():
    ours, theirs, query, _ = _pair(dims=(16, 16))
    mask = np.ones((3, 5, 5), bool)
    mask[:, :, 3:] = False
    np.testing.assert_allclose(to_np(ours(query, attention_mask=mask)), to_np(theirs(query, query, attention_mask=mask)), atol=1e-5)
    np.testing.assert_allclose(to_np(ours(query, use_causal_mask=True)), to_np(theirs(query, query, use_causal_mask=True)), atol=1e-5)


def test_padded_keys_change_nothing():
    ours = MultiHeadAttention(2, 4)
    x = randn(2, 6, 8)
    keep = np.array([[1, 1, 1, 1, 0, 0], [1, 1, 1, 0, 0, 0]], bool)
    changed = x.copy()
    changed[~keep] = randn(int((~keep).sum()), 8) * 100
    a, b = to_np(ours(x, value_mask=keep)), to_np(ours(changed, query_mask=keep, value_mask=keep))
    for row in range(2):
        np.testing.assert_allclose(a[row, keep[row]], b[row, keep[row]], atol=1e-5)
    assert not np.allclose(to_np(ours(changed))[0, :4], a[0, :4], atol=1e-3)  # unmasked, padding leaks in


def test_causal_mask_hides_the_future():
    ours = MultiHeadAttention(2, 4)
    x = randn(1, 6, 8)
    future = x.copy()
    future[:, 4:] = randn(1, 2, 8)
    a, b = to_np(ours(x, use_causal_mask=True)), to_np(ours(future, use_causal_mask=True))
    np.testing.assert_allclose(a[:, :4], b[:, :4], atol=1e-6)
    assert not np.allclose(a[:, 4:], b[:, 4:])


def test_keras_mask_from_embedding_is_used():
    tokens = np.array([[3, 4, 5, 0, 0]])
    embedding = keras.layers.Embedding(10, 8, mask_zero=True)
    attention = MultiHeadAttention(2, 4)
    inputs = keras.Input((None,), dtype="int32")
    model = keras.Model(inputs, attention(embedding(inputs)))
    padded = to_np(model(tokens))[0, :3]
    longer = to_np(model(tokens[:, :3]))[0]
    np.testing.assert_allclose(padded, longer, atol=1e-5)


def test_round_trip(assert_keras_roundtrip):
    assert_keras_roundtrip(MultiHeadAttention(2, 4, dropout=0.1, output_dim=6), randn(2, 5, 8))


@pytest.mark.parametrize(
    "call, error, message",
    [
        (lambda: scaled_dot_product_attention(randn(2, 4), randn(3, 5), randn(3, 4)), ValueError, "d_k=4"),
        (lambda: scaled_dot_product_attention(randn(2, 4), randn(3, 4), randn(2, 4)), ValueError, "value"),
        (lambda: MultiHeadAttention(0, 4), ValueError, "num_heads"),
        (lambda: MultiHeadAttention(2, 4, dropout=2.0), ValueError, "dropout"),
        (lambda: MultiHeadAttention(2, 4)(randn(2, 8)), ValueError, "rank 3"),
    ],
)
def test_bad_input_raises_clear_errors(call, error, message):
    with pytest.raises(error, match=message):
        call()


def test_wrong_width_after_build_is_refused():
    layer = MultiHeadAttention(2, 4)
    layer(randn(1, 3, 8))
    with pytest.raises(ValueError, match="query.*8 features"):
        layer(randn(1, 3, 6))


@pytest.mark.parametrize("cross", [False, True], ids=["self", "cross"])
def test_mixed_precision_per_layer(cross, assert_mixed_precision):
    inputs = (randn(2, 5, 8), randn(2, 7, 6)) if cross else (randn(2, 5, 8),)
    assert_mixed_precision(lambda dtype: MultiHeadAttention(2, 4, value_dim=3, dropout=0.1, dtype=dtype), *inputs)


@pytest.mark.parametrize("dropout, seeds", [(0.0, 0), (0.2, 1)])
def test_keras_layer_harness(dropout, seeds, keras_layer_test):
    keras_layer_test(
        MultiHeadAttention,
        {"num_heads": 2, "key_dim": 4, "dropout": dropout, "output_dim": 6},
        input_shape=(2, 5, 8),
        expected_output_shape=(2, 5, 6),
        expected_num_trainable_weights=8,
        expected_num_non_trainable_weights=0,
        expected_num_seed_generators=seeds,
        supports_masking=True,
    )
