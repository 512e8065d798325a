"""Freezing, gradual unfreezing, per-layer learning rates, LoRA, schedules and resuming do what they say."""

import keras
import numpy as np
import pytest

from course_lib import finetuning as FT
from course_lib.encoders import ConvEncoder, DenseEncoder

rng = np.random.default_rng(0)
to_np = keras.ops.convert_to_numpy


def data(n=64, features=6, classes=3):
    x = rng.normal(size=(n, features)).astype("float32")
    return x, (x[:, 0] > 0).astype("int32") + (x[:, 1] > 0).astype("int32")


def make_model(seed=0):
    keras.utils.set_random_seed(seed)
    return keras.Sequential(
        [keras.Input((6,)), DenseEncoder(4, hidden_dims=(8,), name="encoder"), keras.layers.Dense(3, name="head")], name="model"
    )


def weights_of(layer):
    return [to_np(w).copy() for w in layer.weights]


def one_epoch(model, x, y, optimizer=None):
    model.compile(optimizer=optimizer or keras.optimizers.SGD(0.1), loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    model.fit(x, y, epochs=1, batch_size=16, verbose=0, shuffle=False)


def changed(before, after):
    return any(not np.array_equal(a, b) for a, b in zip(before, after))


def test_freezing_stops_updates_and_unfreezing_restarts_them():
    model, (x, y) = make_model(), data()
    FT.freeze(model, ["encoder"])
    encoder, head = FT.find_layers(model, ["encoder", "head"])
    before_encoder, before_head = weights_of(encoder), weights_of(head)
    one_epoch(model, x, y)
    assert not changed(before_encoder, weights_of(encoder)) and changed(before_head, weights_of(head))
    assert FT.trainable_count(model) == 4 * 3 + 3
    FT.unfreeze(model, ["encoder"])
    before = weights_of(encoder)
    one_epoch(model, x, y)
    assert changed(before, weights_of(encoder))


def test_unfreezing_an_inner_layer_keeps_its_siblings_frozen():
    model, (x, y) = make_model(), data()
    FT.freeze(model)
    FT.unfreeze(model, ["fc2"])  # the encoder's output layer only
    fc1, fc2, head = FT.find_layers(model, ["fc1", "fc2", "head"])
    before = [weights_of(layer) for layer in (fc1, fc2, head)]
    one_epoch(model, x, y)
    assert [changed(b, weights_of(layer)) for b, layer in zip(before, (fc1, fc2, head))] == [False, True, False]


def test_frozen_batch_norm_keeps_its_statistics_and_runs_in_inference_mode():
    keras.utils.set_random_seed(0)
    encoder = ConvEncoder((4,), spatial_dims=1, batch_norm=True, name="conv")
    model = keras.Sequential([keras.Input((10, 1)), encoder, keras.layers.Dense(2, name="head")])
    x = (rng.normal(size=(32, 10, 1)) * 3 + 5).astype("float32")
    y = rng.integers(0, 2, 32)
    bn = FT.find_layers(model, ["bn1"])[0]
    one_epoch(model, x, y)  # trainable: statistics move towards the data
    trained_mean = to_np(bn.moving_mean).copy()
    assert not np.allclose(trained_mean, 0.0)
    FT.freeze(model, ["conv"])
    one_epoch(model, x, y)
    np.testing.assert_array_equal(to_np(bn.moving_mean), trained_mean)  # frozen: statistics kept
    # and a frozen BatchNormalization normalises with its moving statistics even when training=True
    np.testing.assert_allclose(to_np(model(x, training=True)), to_np(model(x, training=False)), atol=1e-6)


def test_gradual_unfreezing_adds_layers_stage_by_stage():
    model, (x, y) = make_model(), data()
    FT.freeze(model)
    fc1 = FT.find_layers(model, ["fc1"])[0]
    before = weights_of(fc1)
    history = FT.gradual_unfreezing(
        model,
        [(1, ["head"]), (2, ["fc2"]), (1, ["fc1"])],
        dict(optimizer=lambda: keras.optimizers.SGD(0.05), loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True)),
        x, y, batch_size=16, verbose=0, shuffle=False,
    )
    assert len(history["loss"]) == 4
    assert history["trainable_params"] == [15, 15 + (8 * 4 + 4), 15 + 36, 15 + 36 + (6 * 8 + 8)]
    assert changed(before, weights_of(fc1))


def test_per_layer_learning_rates_scale_each_layers_update():
    x, y = data()
    updates = {}
    for multipliers in ({}, {"fc1": 0.1, "head": 2.0}):
        model = make_model()
        layers = FT.find_layers(model, ["fc1", "fc2", "head"])
        before = [weights_of(layer)[0] for layer in layers]
        optimizer = FT.layerwise(keras.optimizers.SGD)(learning_rate=0.1, multipliers=multipliers)
        model.compile(optimizer=optimizer, loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
        model.train_on_batch(x, y)
        updates[bool(multipliers)] = [weights_of(layer)[0] - b for layer, b in zip(layers, before)]
    plain, scaled = updates[False], updates[True]
    for factor, a, b in zip((0.1, 1.0, 2.0), plain, scaled):  # one SGD step from the same weights: exact ratio
        np.testing.assert_allclose(b, factor * a, rtol=1e-4, atol=1e-7)


def test_layerwise_optimizer_rejects_unknown_names_and_round_trips(tmp_path):
    model, (x, y) = make_model(), data()
    model.compile(optimizer=FT.layerwise(keras.optimizers.Adam)(multipliers={"nope": 0.5}), loss="mse")
    with pytest.raises(ValueError, match=r"unknown layer name\(s\) \['nope'\]"):
        model.train_on_batch(x, np.zeros((64, 3)))
    with pytest.raises(ValueError, match="multiplier"):
        FT.layerwise(keras.optimizers.Adam)(multipliers={"fc1": -1})
    model = make_model()
    model.compile(optimizer=FT.layerwise(keras.optimizers.Adam)(learning_rate=1e-3, multipliers={"fc1": 0.5}), loss="mse")
    model.fit(x, np.zeros((64, 3)), epochs=1, verbose=0)
    model.save(tmp_path / "m.keras")
    loaded = keras.saving.load_model(tmp_path / "m.keras")
    assert loaded.optimizer.multipliers == {"fc1": 0.5} and type(loaded.optimizer).__name__ == "LayerwiseAdam"


def test_lora_trains_only_adapters_and_the_merged_model_reloads_identically(tmp_path):
    model, (x, y) = make_model(), data()
    original = to_np(model(x))
    adapted = FT.enable_lora(model, rank=2, targets=["encoder"], train=["head"])
    assert {layer.name for layer in adapted} == {"fc1", "fc2"}
    np.testing.assert_allclose(to_np(model(x)), original, atol=1e-6)  # B starts at 0: nothing changed yet
    trainable = {v.path.split("/")[-1] for v in model.trainable_weights}
    assert trainable == {"lora_kernel_a", "lora_kernel_b", "kernel", "bias"}  # kernel/bias: the head's
    assert FT.trainable_count(model) == (6 * 2 + 2 * 8) + (8 * 2 + 2 * 4) + (4 * 3 + 3)
    encoder_base = [to_np(v).copy() for v in model.get_layer("encoder").weights if "lora" not in v.path]
    one_epoch(model, x, y)
    assert not changed(encoder_base, [to_np(v) for v in model.get_layer("encoder").weights if "lora" not in v.path])
    tuned = to_np(model(x))
    assert not np.allclose(tuned, original)
    model.save(tmp_path / "lora.keras")
    loaded = keras.saving.load_model(tmp_path / "lora.keras")
    np.testing.assert_allclose(to_np(loaded(x)), tuned, atol=1e-5)


def test_lora_bad_settings():
    model = make_model()
    for bad in (0, -1, 1.5):
        with pytest.raises(ValueError, match="rank"):
            FT.enable_lora(model, rank=bad)
    with pytest.raises(ValueError, match=r"unknown layer name\(s\) \['decoder'\]"):
        FT.enable_lora(model, rank=2, targets=["decoder"])


def test_warmup_cosine_schedule_shape_and_errors():
    schedule = FT.warmup_cosine(1e-3, total_steps=100, warmup_steps=10)
    rates = [float(to_np(schedule(step))) for step in (0, 5, 10, 55, 100)]
    assert rates[0] == 0.0 and rates[1] == pytest.approx(5e-4) and rates[2] == pytest.approx(1e-3)
    assert rates[3] == pytest.approx(5e-4, rel=0.05) and rates[4] == pytest.approx(0.0, abs=1e-9)
    with pytest.raises(ValueError, match="warmup_steps.*shorter than training"):
        FT.warmup_cosine(1e-3, total_steps=10, warmup_steps=10)
    with pytest.raises(ValueError, match="total_steps"):
        FT.warmup_cosine(1e-3, total_steps=0, warmup_steps=0)


def test_unknown_layer_names_are_reported_with_the_names_there_are():
    with pytest.raises(ValueError, match=r"unknown layer name\(s\) \['decoder'\].*'encoder'"):
        FT.freeze(make_model(), ["decoder"])


class _Interrupt(keras.callbacks.Callback):
    def __init__(self, epoch):
        super().__init__()
        self.epoch = epoch

    def on_epoch_end(self, epoch, logs=None):
        if epoch == self.epoch:
            raise RuntimeError("interrupted")


def test_backup_and_restore_resumes_an_interrupted_run_to_the_same_weights(tmp_path):
    x, y = data()

    def run(callbacks):
        model = make_model(seed=1)
        model.compile(optimizer=keras.optimizers.Adam(0.01), loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
        model.fit(x, y, epochs=6, batch_size=16, verbose=0, shuffle=False, callbacks=callbacks)
        return model

    uninterrupted = run([])
    backup = keras.callbacks.BackupAndRestore(str(tmp_path / "backup"))
    with pytest.raises(RuntimeError, match="interrupted"):
        run([backup, _Interrupt(2)])
    resumed = run([keras.callbacks.BackupAndRestore(str(tmp_path / "backup"))])
    for a, b in zip(uninterrupted.get_weights(), resumed.get_weights()):
        np.testing.assert_allclose(a, b, atol=1e-6)


def _keras_lora_dense(kernel, bias, rank, alpha=None):
    # A Keras Dense holding `kernel` and `bias`, then Keras' own LoRA on it.
    dense = keras.layers.Dense(kernel.shape[1])
    dense.build((None, kernel.shape[0]))
    dense.set_weights([kernel, bias])
    dense.enable_lora(rank, lora_alpha=alpha)
    return dense


@pytest.mark.parametrize("alpha", [None, 6])
def test_lora_by_hand_equals_keras_enable_lora_and_its_merge(alpha):
    d_in, d_out, rank = 7, 5, 3
    g = np.random.default_rng(3)
    kernel, bias = g.normal(size=(d_in, d_out)).astype("float32"), g.normal(size=d_out).astype("float32")
    x = g.normal(size=(32, d_in)).astype("float32")
    keras.utils.set_random_seed(0)
    dense = _keras_lora_dense(kernel, bias, rank, alpha)
    scale = (rank if alpha is None else alpha) / rank  # Keras: lora_alpha / lora_rank, lora_alpha = rank by default
    a = to_np(dense.lora_kernel_a).astype("float64")
    assert a.shape == (d_in, rank) and to_np(dense.lora_kernel_b).shape == (rank, d_out)

    def by_hand(b):  # x W + (alpha / r) x A B + bias, in float64
        x64 = x.astype("float64")
        return x64 @ kernel + scale * (x64 @ a) @ b + bias

    frozen = x.astype("float64") @ kernel + bias
    np.testing.assert_array_equal(to_np(dense.lora_kernel_b), 0.0)  # B starts at zero ...
    np.testing.assert_allclose(to_np(dense(x)), frozen, atol=1e-5)  # ... so the layer is the frozen one
    b = g.normal(0, 0.5, size=(rank, d_out)).astype("float32")
    dense.lora_kernel_b.assign(b)
    assert np.abs(by_hand(b) - frozen).max() > 0.5  # a non-zero B moves the output
    np.testing.assert_allclose(to_np(dense(x)), by_hand(b), atol=1e-5)
    # what trains: A and B (Keras' enable_lora freezes the kernel only; the bias stays trainable)
    trainable = {v.path.split("/")[-1]: int(np.prod(v.shape)) for v in dense.trainable_weights}
    assert trainable == {"lora_kernel_a": d_in * rank, "lora_kernel_b": rank * d_out, "bias": d_out}
    # the merge: W' = W + (alpha / r) A B in one plain Dense predicts the same, and is what Keras saves as the kernel
    merged = keras.layers.Dense(d_out)
    merged.build((None, d_in))
    merged.set_weights([(kernel + scale * a @ b).astype("float32"), bias])
    np.testing.assert_allclose(to_np(merged(x)), to_np(dense(x)), atol=1e-5)
    np.testing.assert_allclose(to_np(merged.kernel), to_np(dense.kernel), atol=1e-6)
    assert not np.allclose(to_np(merged.kernel), kernel, atol=1e-2)
