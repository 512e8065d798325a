"""SequenceRecommender (SASRec / GRU4Rec / bag of history), its training pairs, retrieval and sampled softmax."""

import keras
import numpy as np
import pytest
from backend_autodiff import train_step

from course_lib.sequence_recommender import (
    SequenceRecommender,
    last_position_scores,
    next_item_pairs,
    sampled_softmax_model,
    top_k_items,
)

ENCODERS = ("transformer", "gru", "bag")
NUM_ITEMS = 12
HISTORIES = np.array([[0, 0, 3, 5, 7, 2], [1, 2, 3, 4, 5, 6], [0, 0, 0, 0, 0, 9]], dtype="int32")  # left-padded


def make(encoder, **kwargs):
    defaults = dict(num_items=NUM_ITEMS, model_dim=8, encoder=encoder, num_layers=1, max_length=10, dropout=0.0)
    return SequenceRecommender(**{**defaults, **kwargs})


def numpy(x):
    return keras.ops.convert_to_numpy(x)


def right_padded(histories):
    return np.stack([np.concatenate([row[row != 0], row[row == 0]]) for row in histories])


@pytest.mark.parametrize("encoder", ENCODERS)
def test_shape_and_padding_never_wins(encoder):
    logits = numpy(make(encoder)(HISTORIES))
    assert logits.shape == (3, 6, NUM_ITEMS + 1)
    assert np.all(logits[..., 0] < -1e8) and np.all(logits.argmax(-1) > 0)


@pytest.mark.parametrize("encoder", ENCODERS)
def test_each_position_sees_only_earlier_items(encoder):
    """Changing the items after position t leaves the scores at positions <= t unchanged (and changes later ones)."""
    recommender = make(encoder, num_layers=2)
    x = HISTORIES[1:2].copy()
    changed = x.copy()
    changed[0, 3:] = [11, 12, 10]
    a, b = numpy(recommender.encode(x)), numpy(recommender.encode(changed))  # the encoder's outputs, before scoring
    np.testing.assert_allclose(a[0, :3], b[0, :3], atol=1e-6)
    assert np.abs(a[0, 3:] - b[0, 3:]).max(axis=-1).min() > 1e-4  # every later position sees the change


@pytest.mark.parametrize("encoder", ENCODERS)
def test_left_and_right_padding_give_the_same_scores(encoder):
    """Masks and positions counted from each history's first item: the padding side does not matter."""
    recommender = make(encoder, num_layers=2)
    left = last_position_scores(recommender, HISTORIES)
    right = last_position_scores(recommender, right_padded(HISTORIES))
    scale = np.abs(left[:, 1:]).max()  # scores of an untrained model are small: compare relative to their size
    np.testing.assert_allclose(left, right, atol=1e-4 * scale)
    full = numpy(recommender(HISTORIES))[:, -1]  # left-padded: the newest item is in the last column
    np.testing.assert_allclose(left, full, atol=1e-4 * scale)
    assert np.abs(left[0, 1:] - left[1, 1:]).max() > 0.02 * scale  # different histories, different scores


def test_scores_are_dot_products_with_the_tied_item_embeddings_and_bag_is_a_running_mean():
    recommender = make("bag", num_layers=1)
    logits = numpy(recommender(HISTORIES))
    table = numpy(recommender.item_embedding.embeddings)
    x = HISTORIES[0]
    seen = [table[x[: t + 1][x[: t + 1] != 0]] for t in range(len(x))]
    means = np.stack([s.mean(0) if len(s) else np.zeros(8, "float32") for s in seen])
    hidden = numpy(recommender.bag(means))  # the DenseEncoder on the running mean of the history
    np.testing.assert_allclose(logits[0, 2:, 1:], (hidden @ table.T)[2:, 1:], atol=1e-5)


def test_next_item_pairs_shift_pad_and_truncate():
    inputs, targets = next_item_pairs([[1, 2, 3], [4, 5, 6, 7, 8, 9], [3]], max_length=4)
    assert inputs.tolist() == [[0, 0, 1, 2], [5, 6, 7, 8]] and targets.tolist() == [[0, 0, 2, 3], [6, 7, 8, 9]]
    inputs, targets = next_item_pairs([[1, 2, 3]], max_length=4, padding="right")
    assert inputs.tolist() == [[1, 2, 0, 0]] and targets.tolist() == [[2, 3, 0, 0]]
    with pytest.raises(ValueError, match=r"sequences\[1\].*>= 1"):
        next_item_pairs([[1, 2], [0, 3]], max_length=4)
    with pytest.raises(ValueError, match="nothing to train on"):
        next_item_pairs([[1], []], max_length=4)
    with pytest.raises(ValueError, match="padding"):
        next_item_pairs([[1, 2]], max_length=4, padding="middle")


def test_top_k_items_is_the_numpy_ranking_and_excludes_on_request():
    recommender = make("gru")
    scores = last_position_scores(recommender, HISTORIES)
    items, values = top_k_items(recommender, HISTORIES, k=5)
    np.testing.assert_array_equal(items, np.argsort(-scores[:, 1:], axis=1, kind="stable")[:, :5] + 1)
    np.testing.assert_allclose(values, np.take_along_axis(scores, items, 1), rtol=1e-6)
    model = keras.Sequential([keras.Input((6,), dtype="int32"), recommender])  # a model containing it works too
    np.testing.assert_array_equal(top_k_items(model, HISTORIES, k=5)[0], items)
    exclude = np.zeros_like(scores, bool)
    exclude[:, items[:, 0]] = True
    assert not np.isin(top_k_items(recommender, HISTORIES, k=5, exclude=exclude)[0][:, 0], items[:, 0]).any()
    everything = top_k_items(recommender, HISTORIES, k=NUM_ITEMS)[0]
    assert (np.sort(everything, 1) == np.arange(1, NUM_ITEMS + 1)).all()  # every item once, padding never


@pytest.mark.parametrize(
    "call, error, message",
    [
        (lambda r: top_k_items(r, HISTORIES, k=0), ValueError, "k"),
        (lambda r: top_k_items(r, HISTORIES, k=NUM_ITEMS + 1), ValueError, r"k.*1\.\.num_items=12"),
        (lambda r: top_k_items(r, HISTORIES[:, None], k=3), ValueError, "rank 2"),
        (lambda r: top_k_items(r, np.zeros((2, 4), "int32"), k=3), ValueError, "at least one item"),
        (lambda r: top_k_items(r, np.full((2, 4), 13), k=3), ValueError, r"0\.\.12"),
        (lambda r: top_k_items(r, np.ones((2, 4), "float32"), k=3), TypeError, "integer"),
        (lambda r: top_k_items(r, np.zeros((0, 4), "int32"), k=3), ValueError, "empty"),
        (lambda r: top_k_items(r, HISTORIES, k=3, exclude=np.zeros((3, 5), bool)), ValueError, "exclude"),
        (lambda r: top_k_items("model", HISTORIES, k=3), TypeError, "SequenceRecommender"),
    ],
)
def test_retrieval_refuses_bad_input(call, error, message):
    with pytest.raises(error, match=message):
        call(make("bag"))


def _cyclic_data(steps=8, users=48):
    """Every history walks the cycle 1 -> 2 -> ... -> 12 -> 1 from a random start: the next item is always known."""
    starts = np.random.default_rng(0).integers(0, NUM_ITEMS, users)
    sequences = [(start + np.arange(steps + 1)) % NUM_ITEMS + 1 for start in starts]
    return next_item_pairs(sequences, max_length=steps)


def _both_ways_data(repeats=4):
    """Three-item walks along the cycle from every item, forwards (a, a+1 -> a+2) and backwards (a+1, a -> a-1)."""
    walks = [(a + steps) % NUM_ITEMS + 1 for a in range(NUM_ITEMS) for steps in (np.arange(3), 1 - np.arange(3))]
    return next_item_pairs(walks * repeats, max_length=2)


@pytest.mark.parametrize("encoder", ENCODERS)
def test_order_is_learned_by_the_sequence_encoders_and_not_by_the_bag(encoder):
    """{a, a+1} is followed by a+2 or by a-1 depending on the order: a bag of the history cannot tell, at best 1/2."""
    keras.utils.set_random_seed(0)
    inputs, targets = _both_ways_data()
    recommender = make(encoder, model_dim=16)
    model = keras.Sequential([keras.Input((2,), dtype="int32"), recommender])
    model.compile(keras.optimizers.Adam(0.02), keras.losses.SparseCategoricalCrossentropy(from_logits=True, ignore_class=0))
    model.fit(np.tile(inputs, (100, 1)), np.tile(targets, (100, 1)), batch_size=len(inputs), epochs=1, verbose=0)  # 100 steps
    accuracy = (top_k_items(recommender, inputs, k=1)[0][:, 0] == targets[:, -1]).mean()
    if encoder == "bag":
        assert 0.3 < accuracy < 0.55  # it learns the pair, not which of its two continuations
    else:
        assert accuracy > 0.9  # 1.0 or 0.96 over seeds 0-2 on JAX


def test_learns_in_a_custom_training_loop():
    keras.utils.set_random_seed(0)
    inputs, targets = _cyclic_data()
    recommender = make("bag", model_dim=16)  # the smallest encoder: JAX traces every eager step anew
    recommender(inputs[:2])
    loss_fn = keras.losses.SparseCategoricalCrossentropy(from_logits=True, ignore_class=0)
    optimizer = keras.optimizers.Adam(0.03)
    x, y = keras.ops.convert_to_tensor(inputs), keras.ops.convert_to_tensor(targets)
    losses = [train_step(lambda: loss_fn(y, recommender(x, training=True)), recommender.trainable_variables, optimizer) for _ in range(15)]
    assert losses[-1] < 0.65 * losses[0]  # 2.49 -> 1.44-1.50 on the three backends


def test_sampled_softmax_trains_the_same_weights():
    keras.utils.set_random_seed(0)
    inputs, targets = _cyclic_data()
    recommender = make("gru", model_dim=16)
    trainer = sampled_softmax_model(recommender, steps=8, num_negatives=4, seed=0)
    assert {id(v) for v in recommender.trainable_variables} <= {id(v) for v in trainer.trainable_variables}
    logits = numpy(trainer([inputs, targets]))
    assert logits.shape == (48, 8, 5)
    trainer.compile(keras.optimizers.Adam(0.05), keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    x, y = np.tile(inputs, (60, 1)), np.tile(targets, (60, 1))  # 60 steps, one epoch
    trainer.fit([x, y], np.zeros_like(y), sample_weight=(y > 0).astype("float32"), batch_size=len(inputs), verbose=0)
    items, _ = top_k_items(recommender, inputs, k=1)  # ranked with the full scores after sampled training
    assert (items[:, 0] == targets[:, -1]).mean() > 0.9


def test_sampled_scores_mask_a_negative_that_is_the_target():
    recommender = make("bag")
    trainer = sampled_softmax_model(recommender, steps=6, num_negatives=NUM_ITEMS, seed=0)
    targets = np.full((3, 6), 5, "int32")
    positive = numpy(recommender(HISTORIES))[..., 5]
    for _ in range(20):  # a new uniform draw each call; 12 draws from 12 items miss item 5 with probability 0.35
        logits = numpy(trainer([HISTORIES, targets]))
        masked = logits[..., 1:] < -1e8
        if masked.any():
            break
    assert masked.any()
    np.testing.assert_allclose(logits[..., 0], positive, atol=1e-5)  # index 0 is the target's own logit
    assert (masked == masked[:1, :1]).all()  # one draw for the whole batch: the same columns everywhere
    real = np.broadcast_to((HISTORIES != 0)[..., None], masked.shape) & ~masked  # padded steps score every item 0
    assert not np.isclose(logits[..., 1:][real], np.broadcast_to(positive[..., None], masked.shape)[real], rtol=1e-4, atol=0).any()


class _RealItemColumns(SequenceRecommender):
    """The logits of the real items only: column 0 is -1e9 in float32 and -3e4 in float16 by design."""

    def call(self, inputs, training=None):
        return super().call(inputs, training=training)[..., 1:]


@pytest.mark.parametrize("encoder", ENCODERS)
def test_mixed_precision_per_layer(encoder, assert_mixed_precision):
    kwargs = dict(num_items=NUM_ITEMS, model_dim=8, encoder=encoder, num_layers=1, max_length=10, dropout=0.1)
    assert_mixed_precision(lambda dtype: _RealItemColumns(**kwargs, dtype=dtype), HISTORIES)
    layer = SequenceRecommender(**kwargs, dtype=assert_mixed_precision.policy)
    assert np.all(numpy(keras.ops.argmax(layer(HISTORIES), axis=-1)) > 0)  # padding still never wins


@pytest.mark.parametrize("encoder", ENCODERS)
def test_keras_file_round_trip_and_config(encoder, assert_keras_roundtrip):
    layer = SequenceRecommender(NUM_ITEMS, model_dim=8, encoder=encoder, num_layers=2, num_heads=2, max_length=6, dropout=0.1, ff_dim=12)
    loaded = assert_keras_roundtrip(layer, HISTORIES)
    assert loaded.layers[-1].get_config()["encoder"] == encoder


@pytest.mark.parametrize(
    "encoder, weights",
    [
        # (trainable, non-trainable, seed generators)
        ("transformer", (2 + 16 + 2, 0, 1 + 2)),  # embeddings, one block, final norm; dropouts: embedding, block
        ("gru", (1 + 3, 0, 3)),  # dropouts: embedding, RecurrentEncoder (between layers), the GRU's own
        ("bag", (1 + 2 * 2, 0, 2)),
    ],
)
def test_keras_layer_harness(encoder, weights, keras_layer_test):
    keras_layer_test(
        SequenceRecommender,
        {"num_items": NUM_ITEMS, "model_dim": 8, "encoder": encoder, "num_layers": 1, "max_length": 6, "dropout": 0.1},
        input_data=HISTORIES,
        expected_output_shape=(3, 6, NUM_ITEMS + 1),
        expected_num_trainable_weights=weights[0],
        expected_num_non_trainable_weights=weights[1],
        expected_num_seed_generators=weights[2],
        supports_masking=True,
        expected_mask_shape=(3, 6),
    )


@pytest.mark.parametrize(
    "x, error, message",
    [
        (HISTORIES.astype("float32"), TypeError, "integer item ids"),
        (HISTORIES[..., None], ValueError, r"rank 2 \(batch, steps\)"),
        (np.full((2, 4), NUM_ITEMS + 1), ValueError, r"item ids in 0\.\.12"),
        (np.full((2, 4), -1), ValueError, r"item ids in 0\.\.12"),
        (np.ones((2, 11), "int32"), ValueError, "longer than max_length=10"),
        (np.array([["a", "b"]]), TypeError, "numeric"),
    ],
)
def test_bad_input_raises_clear_errors(x, error, message):
    with pytest.raises(error, match=message):
        make("transformer")(x)


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"num_items": 0}, "num_items"),
        ({"encoder": "lstm"}, "encoder"),
        ({"model_dim": 6, "num_heads": 4}, "divisible"),
        ({"dropout": 1.0}, "dropout"),
        ({"max_length": 0}, "max_length"),
        ({"ff_dim": -2}, "ff_dim"),
    ],
)
def test_bad_arguments_raise_clear_errors(kwargs, message):
    with pytest.raises(ValueError, match=message):
        SequenceRecommender(**{"num_items": NUM_ITEMS, "model_dim": 8, **kwargs})


def test_sampled_softmax_model_refuses_bad_arguments():
    with pytest.raises(ValueError, match="num_negatives.*at most num_items=12"):
        sampled_softmax_model(make("bag"), steps=6, num_negatives=13)
    with pytest.raises(TypeError, match="SequenceRecommender"):
        sampled_softmax_model(keras.layers.Dense(3), steps=6)
