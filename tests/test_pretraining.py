"""Pretraining objectives: the masks hide what they say, the data is what the loss needs, a model learns."""

import keras
import numpy as np
import pytest

from course_lib import pretraining as P
from course_lib.encoders import DenseEncoder
from course_lib.transformer import TransformerEncoder


def test_mask_spans_hides_spans_at_about_the_rate():
    mask = P.mask_spans((200, 40), mask_rate=0.2, span_length=4, seed=0)
    assert mask.shape == (200, 40) and mask.dtype == bool
    assert mask.any(axis=1).all()  # every row hides something
    assert 0.1 < mask.mean() <= 0.2 + 1e-9
    for row in mask.astype(int):  # hidden steps come in runs of at least span_length (spans may touch)
        edges = np.flatnonzero(np.diff(np.r_[0, row, 0]))
        assert (edges[1::2] - edges[::2] >= 4).all()
    np.testing.assert_array_equal(mask, P.mask_spans((200, 40), 0.2, 4, seed=0))


def test_masked_modeling_data_hides_inputs_and_weights_only_hidden_steps():
    x = np.random.default_rng(0).normal(size=(8, 20, 3)).astype("float32")
    inputs, targets, weights = P.masked_modeling_data(x, mask_rate=0.25, span_length=5, seed=1)
    hidden = weights.astype(bool)
    assert inputs.shape == (8, 20, 4) and targets is not None and weights.shape == (8, 20)
    np.testing.assert_array_equal(inputs[..., :3][hidden], 0.0)
    np.testing.assert_array_equal(inputs[..., :3][~hidden], x[~hidden])
    np.testing.assert_array_equal(inputs[..., 3], weights)
    np.testing.assert_array_equal(targets, x)


def test_masked_loss_counts_only_hidden_steps():
    """With sample_weight = mask, predictions at visible steps do not change the loss."""
    x = np.random.default_rng(0).normal(size=(4, 10, 2)).astype("float32")
    _, targets, weights = P.masked_modeling_data(x, 0.3, 2, seed=0)
    loss = keras.losses.MeanSquaredError()
    perfect_on_hidden = np.where(weights[..., None] > 0, targets, 99.0).astype("float32")
    assert float(loss(targets, perfect_on_hidden, sample_weight=weights)) == pytest.approx(0.0)
    assert float(loss(targets, np.zeros_like(targets), sample_weight=weights)) > 0.1


def test_corrupt_and_denoising_data():
    x = np.full((100, 10), 0.5, "float32")
    noisy, clean = P.denoising_data(x, noise_std=0.2, drop_rate=0.3, seed=0, clip=(0, 1))
    assert clean is not None and noisy.shape == x.shape and 0.0 <= noisy.min() and noisy.max() <= 1.0
    assert 0.2 < (noisy == 0).mean() < 0.4
    np.testing.assert_array_equal(P.corrupt(x, 0.0, 0.0), x)


@pytest.mark.parametrize(
    "call, message",
    [
        (lambda: P.mask_spans((2, 10), mask_rate=0.0), "mask_rate"),
        (lambda: P.mask_spans((2, 10), span_length=11), "span_length"),
        (lambda: P.masked_modeling_data(np.zeros((2, 10))), r"\(batch, steps, features\)"),
        (lambda: P.masked_modeling_data(np.zeros((0, 10, 1))), "non-empty"),
        (lambda: P.corrupt(np.zeros(3), noise_std=-1), "noise_std"),
        (lambda: P.denoising_data(np.zeros((0, 3))), "empty"),
    ],
)
def test_bad_arguments(call, message):
    with pytest.raises(ValueError, match=message):
        call()


def test_masked_pretraining_of_a_transformer_learns_to_fill_in():
    """Smooth signals: the hidden steps can be inferred from their neighbours."""
    keras.utils.set_random_seed(0)
    t = np.linspace(0, 1, 24)
    rng = np.random.default_rng(0)
    x = np.sin(2 * np.pi * (rng.uniform(1, 3, (512, 1)) * t + rng.uniform(0, 1, (512, 1))))[..., None].astype("float32")
    inputs, targets, weights = P.masked_modeling_data(x, 0.2, 3, seed=0)
    encoder = TransformerEncoder(2, num_heads=2, ff_dim=64, model_dim=32, max_length=24)
    model = P.reconstruction_model(encoder, inputs.shape[1:], targets.shape[1:])
    model.compile(optimizer=keras.optimizers.Adam(3e-3), loss="mse")
    baseline = float(np.sum(weights[..., None] * targets**2) / weights.sum())  # predicting 0
    history = model.fit(inputs, targets, sample_weight=weights, epochs=20, batch_size=64, verbose=0)
    assert history.history["loss"][-1] < 0.3 * baseline


def test_denoising_pretraining_of_a_dense_encoder_reconstructs():
    from course_lib.datasets import load_digits_split

    keras.utils.set_random_seed(0)
    x = load_digits_split().x_train
    noisy, clean = P.denoising_data(x, noise_std=0.2, seed=0, clip=(0, 1))
    model = P.reconstruction_model(DenseEncoder(16, hidden_dims=(64,)), (64,), (64,))
    model.compile(optimizer=keras.optimizers.Adam(3e-3), loss="mse")
    history = model.fit(noisy, clean, epochs=15, batch_size=64, verbose=0)
    assert history.history["loss"][-1] < 0.5 * history.history["loss"][0]


def test_pretrain_helpers_lower_their_loss_and_keep_the_encoder():
    keras.utils.set_random_seed(0)
    rng = np.random.default_rng(0)
    t = np.linspace(0, 1, 16)
    x = np.sin(2 * np.pi * (rng.uniform(1, 3, (256, 1)) * t))[..., None].astype("float32")
    encoder = TransformerEncoder(1, num_heads=2, ff_dim=32, model_dim=16, max_length=16)
    model, history = P.pretrain_masked(encoder, x, epochs=6, mask_rate=0.2, span_length=2, batch_size=64, learning_rate=3e-3)
    assert len(history["loss"]) == 6 and history["loss"][-1] < history["loss"][0]
    assert model.get_layer(encoder.name) is encoder
    dense = DenseEncoder(8, hidden_dims=(32,))
    model, history = P.pretrain_denoising(dense, x[..., 0], epochs=6, noise_std=0.2, batch_size=64, learning_rate=3e-3)
    assert history["loss"][-1] < history["loss"][0] and model.get_layer(dense.name) is dense
    with pytest.raises(ValueError, match="epochs"):
        P.pretrain_denoising(dense, x[..., 0], epochs=0)


def test_pretrain_masked_again_with_its_model_equals_a_fresh_call():
    """``model=`` only saves the tracing: the same start gives the same losses and weights as a new model.

    One batch per epoch, so that no shuffle is compared: on JAX and PyTorch Keras draws the batch
    order of a new model's first fit differently from a built one's (TensorFlow's is the same).
    """
    x = np.random.default_rng(0).normal(size=(300, 10, 2)).astype("float32")

    def encoder():
        layer = TransformerEncoder(1, num_heads=2, ff_dim=16, model_dim=8, max_length=10, pooling=None)
        layer.build((None, 10, 3))
        return layer

    settings = dict(epochs=2, batch_size=300, mask_rate=0.3, span_length=2)
    keras.utils.set_random_seed(0)
    first = encoder()
    start = first.get_weights()
    model, _ = P.pretrain_masked(first, x[:100], **settings)  # trained once: a different head and optimizer state
    keras.utils.set_random_seed(1)
    fresh_model, fresh = P.pretrain_masked(encoder(), x, **settings)
    keras.utils.set_random_seed(1)
    first.set_weights(encoder().get_weights())
    again_model, again = P.pretrain_masked(first, x, model=model, **settings)
    assert again_model is model
    if keras.backend.backend() == "tensorflow":  # bit for bit
        assert again == fresh
        assert all(np.array_equal(a, b) for a, b in zip(again_model.get_weights(), fresh_model.get_weights()))
    else:  # the same run up to float32 rounding (its second step differs in the 7th digit)
        np.testing.assert_allclose(again["loss"], fresh["loss"], rtol=1e-5)
        for a, b in zip(again_model.get_weights(), fresh_model.get_weights()):
            np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-6)
    assert not all(np.array_equal(a, b) for a, b in zip(start, first.get_weights()))
    with pytest.raises(ValueError, match="earlier pretrain_masked call"):
        P.pretrain_masked(encoder(), x, model=model, **settings)  # another encoder
    with pytest.raises(ValueError, match="earlier pretrain_masked call"):
        P.pretrain_masked(first, x, model=keras.Sequential([keras.Input((10, 3)), first]), **settings)


def test_pretrain_denoising_reshuffles_whole_batches_and_refuses_too_little_data():
    dense = DenseEncoder(4, hidden_dims=(8,))
    x = np.random.default_rng(0).random((100, 6)).astype("float32")
    _, history = P.pretrain_denoising(dense, x, epochs=3, batch_size=32, noise_std=0.1)
    assert len(history["loss"]) == 3 and len(set(history["loss"])) == 3
    with pytest.raises(ValueError, match="fewer than one batch"):
        P.pretrain_denoising(dense, x[:10], epochs=1, batch_size=32)
    with pytest.raises(ValueError, match="batch_size"):
        P.pretrain_denoising(dense, x, epochs=1, batch_size=0)


@pytest.mark.parametrize("mask_rate, measured", [(0.5, 0.41), (0.15, 0.19)])
def test_hidden_fraction_is_what_the_docstring_says(mask_rate, measured):
    """Overlapping spans hide less than mask_rate; rounding the number of spans can hide more."""
    from course_lib.pretraining import mask_spans

    fraction = mask_spans((5000, 20), mask_rate=mask_rate, span_length=2, seed=0).mean()
    assert fraction == pytest.approx(measured, abs=0.01)
