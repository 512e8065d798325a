import keras
import numpy as np
import pytest

from course_lib.training import accuracy, forward


def test_forward_is_one_inference_pass():
    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(3), keras.layers.Dropout(0.5)])
    x = np.random.default_rng(0).normal(size=(5, 4)).astype("float32")
    np.testing.assert_allclose(forward(model, x), model.predict(x, verbose=0), atol=1e-6)
    assert not np.allclose(forward(model, x, training=True), forward(model, x))  # dropout only when training


def test_accuracy_counts_argmax_hits():
    model = keras.Sequential([keras.Input((2,)), keras.layers.Identity()])
    x = np.array([[1.0, 0.0], [0.0, 1.0], [2.0, 1.0]], "float32")
    assert accuracy(model, x, [0, 1, 1]) == pytest.approx(2 / 3)
    with pytest.raises(ValueError, match="same, non-zero number of rows"):
        accuracy(model, x, [0, 1])


def test_accuracy_takes_a_dict_of_inputs():
    inputs = {"a": keras.Input((2,), name="a"), "b": keras.Input((2,), name="b")}
    model = keras.Model(inputs, keras.layers.Add()([inputs["a"], inputs["b"]]))
    x = {"a": np.array([[1.0, 0.0], [0.0, 1.0], [1.0, 0.0]], "float32"), "b": np.zeros((3, 2), "float32")}
    assert accuracy(model, x, [0, 1, 1]) == pytest.approx(2 / 3)
    with pytest.raises(ValueError, match="got 3 and 2"):
        accuracy(model, x, [0, 1])


def _regression(seed):
    keras.utils.set_random_seed(seed)
    return keras.Sequential([keras.Input((4,)), keras.layers.Dense(8, activation="relu"), keras.layers.Dense(1)])


def test_a_restarted_run_repeats_a_freshly_compiled_one_without_tracing_again():
    from course_lib.training import Restartable

    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(64, 4)).astype("float32"), rng.normal(size=(64, 1)).astype("float32")
    fit = dict(batch_size=16, epochs=3, shuffle=False, verbose=0)

    reference = _regression(1)
    reference.compile(keras.optimizers.Adam(0.05), loss="mse")
    reference.fit(x, y, **fit)  # seed 1's run, compiled afresh

    model = _regression(0)
    model.compile(keras.optimizers.Adam(0.05), loss="mse")
    runs = Restartable(model)
    model.fit(x, y, **fit)  # a run from seed 0 moves the weights and the optimizer's moments
    traced = model.train_function
    assert int(model.optimizer.iterations) == 12
    runs.restart(_regression(1))  # weights copied from another instance
    assert int(model.optimizer.iterations) == 0
    model.fit(x, y, **fit)
    assert model.train_function is traced  # the step traced in the first run is reused
    for ours, theirs in zip(model.get_weights(), reference.get_weights()):
        np.testing.assert_allclose(ours, theirs, rtol=1e-5, atol=1e-6)


def test_restart_sets_a_learning_rate_for_one_run_and_refuses_an_uncompiled_model():
    from course_lib.training import Restartable

    model = _regression(0)
    model.compile(keras.optimizers.SGD(0.1), loss="mse")
    runs = Restartable(model)
    start = model.get_weights()
    runs.restart(learning_rate=0.5)
    assert float(model.optimizer.learning_rate) == pytest.approx(0.5)
    model.fit(np.ones((4, 4)), np.zeros((4, 1)), epochs=1, verbose=0)
    runs.restart(start)
    assert float(model.optimizer.learning_rate) == pytest.approx(0.1)  # back to the compiled rate
    for ours, theirs in zip(model.get_weights(), start):
        np.testing.assert_array_equal(ours, theirs)
    with pytest.raises(ValueError, match="Restartable: `model` must be a compiled keras.Model"):
        Restartable(_regression(0))


def test_restartable_refuses_a_model_that_has_trained():
    """Its optimizer's state is what every restart goes back to: after training that would be a mid-run Adam state."""
    from course_lib.training import Restartable

    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(1)])
    model.compile(keras.optimizers.Adam(0.1), loss="mse")
    model.fit(np.ones((8, 3)), np.ones((8, 1)), epochs=1, verbose=0)
    with pytest.raises(ValueError, match="already taken 1 steps"):
        Restartable(model)
