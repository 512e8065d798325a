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
