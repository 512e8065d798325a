"""Contrastive pretraining: the loss is InfoNCE, matching pairs minimise it, the views are the nuisances, a model learns."""

import keras
import numpy as np
import pytest
from backend_autodiff import value_and_grad

from course_lib import contrastive as C


def _info_nce_numpy(a, b, temperature):
    """InfoNCE written out in NumPy: a softmax cross-entropy over the n candidates, both ways, averaged."""
    a = a / np.linalg.norm(a, axis=1, keepdims=True)
    b = b / np.linalg.norm(b, axis=1, keepdims=True)
    s = a @ b.T / temperature
    rows = -np.mean([np.log(np.exp(s[i, i]) / np.exp(s[i]).sum()) for i in range(len(s))])
    cols = -np.mean([np.log(np.exp(s[j, j]) / np.exp(s[:, j]).sum()) for j in range(len(s))])
    return (rows + cols) / 2


@pytest.mark.parametrize("temperature", [0.1, 0.5, 1.0])
def test_info_nce_equals_the_numpy_formula(temperature):
    rng = np.random.default_rng(0)
    a, b = rng.normal(size=(2, 6, 5)).astype("float32")
    got = float(keras.ops.convert_to_numpy(C.info_nce(keras.ops.convert_to_tensor(a), keras.ops.convert_to_tensor(b), temperature)))
    assert got == pytest.approx(_info_nce_numpy(a.astype("float64"), b.astype("float64"), temperature), rel=1e-5)


def test_info_nce_is_minimised_by_matching_pairs():
    """Partners equal: lowest loss; any shuffle of the partners raises it above log n; no information gives log n."""
    rng = np.random.default_rng(1)
    z = rng.normal(size=(8, 16)).astype("float32")
    matched = float(C.info_nce(z, z, 0.1))
    assert matched < 0.1, matched
    for seed in range(5):
        order = np.random.default_rng(seed).permutation(8)
        if (order == np.arange(8)).all():
            continue
        assert float(C.info_nce(z, z[order], 0.1)) > matched + 1.0
    assert float(C.info_nce(z, z[::-1], 0.1)) > np.log(8)
    assert float(C.info_nce(np.ones_like(z), np.ones_like(z), 0.1)) == pytest.approx(np.log(8), rel=1e-5)  # all alike


def test_info_nce_has_gradients_that_pull_partners_together():
    """One gradient step on codes lowers the loss: it trains on every backend (keras.ops only)."""
    rng = np.random.default_rng(2)
    a = keras.Variable(rng.normal(size=(6, 4)).astype("float32"))
    b = keras.ops.convert_to_tensor(rng.normal(size=(6, 4)).astype("float32"))
    before, (grad,) = value_and_grad(lambda: C.info_nce(a, b, 0.5), [a])
    a.assign(a - 0.5 * grad)
    assert float(keras.ops.convert_to_numpy(C.info_nce(a, b, 0.5))) < float(keras.ops.convert_to_numpy(before)) - 0.01


def test_views_are_deterministic_from_a_seed_and_keep_shape_and_dtype():
    x = np.random.default_rng(0).normal(size=(5, 40)).astype("float64")
    views = C.random_views(x, seed=3)
    assert views.shape == (5, 40) and views.dtype == np.float32
    np.testing.assert_array_equal(views, C.random_views(x, seed=3))
    assert not np.array_equal(views, C.random_views(x, seed=4))
    assert C.random_views(x[..., None], seed=3).shape == (5, 40, 1)
    np.testing.assert_allclose(C.random_views(x[..., None], seed=3)[..., 0], views)
    rng = np.random.default_rng(0)  # one Generator: a fresh view at every call
    assert not np.array_equal(C.random_views(x, rng), C.random_views(x, rng))


def test_views_apply_the_nuisances_they_name():
    """With every nuisance but the shift off, a view is a circular shift of the signal; the noise is correlated."""
    x = np.random.default_rng(0).normal(size=(4, 40)).astype("float32")
    shifted = C.random_views(x, seed=0, scale=(1, 1), background=0, shear=0, white_noise=0)
    for row, view in zip(x, shifted):
        assert any(np.allclose(np.roll(row, k), view) for k in range(40))
    scaled = C.random_views(x, seed=0, scale=(2, 2), background=0, shear=0, white_noise=0)
    np.testing.assert_allclose(scaled, 2 * shifted, rtol=1e-6)
    noise = C.smooth_noise((4000, 40), seed=0)
    assert noise.std() == pytest.approx(1.0, abs=0.03)
    assert np.corrcoef(noise[:, 0], noise[:, 1])[0, 1] > 0.5 and abs(np.corrcoef(noise[:, 0], noise[:, 20])[0, 1]) < 0.05


def test_pretraining_lowers_the_loss_and_matches_views():
    """A few epochs on 512 random signals: the loss falls well below guessing (log 64)."""
    keras.utils.set_random_seed(0)
    x = 2 * np.random.default_rng(0).normal(size=(512, 40, 1)).astype("float32")
    encoder = keras.Sequential(
        [keras.Input((40, 1)), keras.layers.Conv1D(16, 5, activation="relu"), keras.layers.GlobalMaxPooling1D(), keras.layers.Dense(16)],
        name="encoder",
    )
    model, history = C.pretrain_contrastive(encoder, x, epochs=6, batch_size=64, learning_rate=1e-2, projection_dims=(32, 16))
    losses = history["loss"]
    assert len(losses) == 6 and all(np.isfinite(losses))
    assert losses[-1] < losses[0] - 0.8 and losses[-1] < np.log(64) - 1.2, losses  # measured: 3.9 -> 2.4, log 64 = 4.16
    assert model.get_layer("encoder") is encoder and model.get_layer("projector") is not None


@pytest.mark.parametrize(
    "call, match",
    [
        (lambda: C.info_nce(np.ones((4, 3)), np.ones((4, 2))), "`codes_a` and `codes_b` must have the same shape"),
        (lambda: C.info_nce(np.ones((4, 3, 1)), np.ones((4, 3, 1))), "same shape \\(n, d\\)"),
        (lambda: C.info_nce(np.ones((1, 3)), np.ones((1, 3))), "at least 2 pairs"),
        (lambda: C.info_nce(np.ones((4, 3)), np.ones((4, 3)), temperature=0), "`temperature` must be a number > 0"),
        (lambda: C.random_views(np.ones((4, 40, 2))), "`x` must be a non-empty batch of signals"),
        (lambda: C.random_views(np.ones((0, 40))), "`x` must be a non-empty batch"),
        (lambda: C.random_views(np.ones(40)), "`x` must be a non-empty batch"),
        (lambda: C.random_views(np.ones((4, 40)), scale=(1.2, 0.8)), "`scale` must be"),
        (lambda: C.random_views(np.ones((4, 40)), shear=-1), "`shear` must be a number >= 0"),
        (lambda: C.smooth_noise((4,)), "`shape` must be \\(n, length\\)"),
        (lambda: C.smooth_noise((4, 40), width=0), "`width` must be a number > 0"),
        (lambda: C.pretrain_contrastive(keras.layers.Dense(2), np.ones((8, 40)), epochs=0), "`epochs` must be a positive int"),
        (lambda: C.pretrain_contrastive(keras.layers.Dense(2), np.ones((8, 40)), batch_size=1), "`batch_size` must be at least 2"),
        (lambda: C.pretrain_contrastive(keras.layers.Dense(2), np.ones((8, 40)), batch_size=16), "fewer than one batch"),
        (lambda: C.contrastive_model(keras.layers.Dense(2), (40,), projection_dims=()), "`projection_dims` must not be empty"),
    ],
)
def test_bad_inputs_raise_errors_naming_the_argument(call, match):
    with pytest.raises(ValueError, match=match):
        call()


def test_text_inputs_raise_a_type_error():
    with pytest.raises(TypeError, match="`x` must be a numeric"):
        C.random_views(np.array([["a"] * 40] * 2))
    with pytest.raises(TypeError, match="`codes_a` must be a numeric"):
        C.info_nce(np.array([["a", "b"], ["c", "d"]]), np.ones((2, 2)))


@pytest.fixture
def small_recipe(monkeypatch):
    """Notebook 12's recipe shrunk to seconds: 500 signals, one pass, a small encoder."""
    monkeypatch.setattr(C, "MNIST1D_ENCODER", dict(filters=(4,), kernel_size=3, spatial_dims=1, pool_size=2, output_dim=8))
    monkeypatch.setattr(C, "MNIST1D_UNLABELLED", dict(num_samples=500, seed=7))
    monkeypatch.setattr(C, "MNIST1D_PRETRAINING", dict(epochs=1, batch_size=100, learning_rate=4e-3, temperature=0.2, seed=0))


def test_pretrained_encoder_is_trained_once_then_loaded_from_the_cache(tmp_path, small_recipe):
    encoder, info = C.pretrained_mnist1d_encoder(cache_dir=tmp_path)
    assert not info["loaded"] and len(info["loss"]) == 1 and info["seconds"] > 0
    (cached,) = tmp_path.glob("mnist1d_contrastive_encoder_*.npz")
    loaded, loaded_info = C.pretrained_mnist1d_encoder(cache_dir=tmp_path)
    assert loaded_info["loaded"] and loaded_info["loss"] == info["loss"] and loaded_info["seconds"] == info["seconds"]
    x = np.random.default_rng(0).normal(size=(5, 40, 1)).astype("float32")
    np.testing.assert_array_equal(keras.ops.convert_to_numpy(loaded(x)), keras.ops.convert_to_numpy(encoder(x)))
    _, again = C.pretrained_mnist1d_encoder(cache_dir=tmp_path, retrain=True)
    assert not again["loaded"] and [p.name for p in tmp_path.glob("*.npz")] == [cached.name]


def test_a_changed_recipe_never_loads_an_old_encoder(tmp_path, small_recipe, monkeypatch):
    C.pretrained_mnist1d_encoder(cache_dir=tmp_path)
    monkeypatch.setattr(C, "MNIST1D_PRETRAINING", {**C.MNIST1D_PRETRAINING, "learning_rate": 1e-3})
    _, info = C.pretrained_mnist1d_encoder(cache_dir=tmp_path)
    assert not info["loaded"] and len(list(tmp_path.glob("*.npz"))) == 2


def test_pretrained_encoder_without_a_cache_writes_nothing(tmp_path, small_recipe, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    _, info = C.pretrained_mnist1d_encoder(cache_dir=False)
    assert not info["loaded"] and not list(tmp_path.rglob("mnist1d_contrastive_encoder_*"))


def test_a_corrupt_cached_encoder_raises_naming_the_file(tmp_path, small_recipe):
    C.pretrained_mnist1d_encoder(cache_dir=tmp_path)
    (cached,) = tmp_path.glob("mnist1d_contrastive_encoder_*.npz")
    cached.write_bytes(b"not a zip file")
    with pytest.raises(ValueError, match=f"cache file {cached}.* is corrupt.*delete it"):
        C.pretrained_mnist1d_encoder(cache_dir=tmp_path)
