"""The NumPy formulas of course_lib.formulas equal Keras' layers, autodiff and finite differences."""

import keras
import numpy as np
import pytest
from backend_autodiff import value_and_grad
from keras import ops

from course_lib import formulas as F

rng = np.random.default_rng(0)
ATOL = 1e-5


def randn(*shape):
    return rng.normal(size=shape).astype("float32")


@pytest.mark.parametrize("name", ["relu", "sigmoid", "tanh", "linear"])
def test_activations_equal_keras_and_their_derivatives_equal_finite_differences(name):
    f, f_grad = F.activation(name)
    z = np.linspace(-6, 6, 101).astype("float64")
    z = z[np.abs(z) > 1e-3]  # ReLU has no derivative at 0
    np.testing.assert_allclose(f(z), keras.ops.convert_to_numpy(keras.activations.get(name)(z.astype("float32"))), atol=ATOL)
    eps = 1e-6
    np.testing.assert_allclose(f_grad(z), (f(z + eps) - f(z - eps)) / (2 * eps), atol=1e-6)


def test_sigmoid_does_not_overflow():
    assert np.all(np.isfinite(F.sigmoid(np.array([-1000.0, 1000.0]))))


@pytest.mark.parametrize("name", ["relu", "sigmoid", "tanh", "linear"])
def test_dense_equals_keras_dense(name):
    x, W, b = randn(5, 7), randn(4, 7), randn(4)
    layer = keras.layers.Dense(4, activation=name)
    layer.build((None, 7))
    layer.set_weights([W.T, b])  # Keras stores W transposed
    np.testing.assert_allclose(F.dense(x, W, b, F.activation(name)[0]), keras.ops.convert_to_numpy(layer(x)), atol=ATOL)
    np.testing.assert_allclose(F.dense(x[0], W, b, F.activation(name)[0]), keras.ops.convert_to_numpy(layer(x))[0], atol=ATOL)


@pytest.mark.parametrize("stride", [1, 2])
@pytest.mark.parametrize("padding", ["valid", "same"])
def test_conv2d_equals_keras_conv2d(stride, padding):
    x, W, b = randn(2, 9, 8, 3), randn(3, 2, 3, 4), randn(4)
    layer = keras.layers.Conv2D(4, (3, 2), strides=stride, padding=padding, activation="relu")
    layer.build(x.shape)
    layer.set_weights([W, b])
    np.testing.assert_allclose(F.conv2d(x, W, b, F.relu, stride, padding), keras.ops.convert_to_numpy(layer(x)), atol=ATOL)


@pytest.mark.parametrize("stride", [1, 3])
@pytest.mark.parametrize("padding", ["valid", "same"])
def test_conv1d_equals_keras_conv1d(stride, padding):
    x, W, b = randn(2, 20, 3), randn(5, 3, 6), randn(6)
    layer = keras.layers.Conv1D(6, 5, strides=stride, padding=padding, activation="tanh")
    layer.build(x.shape)
    layer.set_weights([W, b])
    np.testing.assert_allclose(F.conv1d(x, W, b, F.tanh, stride, padding), keras.ops.convert_to_numpy(layer(x)), atol=ATOL)
    np.testing.assert_allclose(F.conv1d(x[1], W, b, F.tanh, stride, padding), keras.ops.convert_to_numpy(layer(x))[1], atol=ATOL)


def test_rnn_equals_keras_simple_rnn():
    x, W_xh, W_hh, b_h = randn(3, 6, 4), randn(5, 4) * 0.5, randn(5, 5) * 0.5, randn(5)
    layer = keras.layers.SimpleRNN(5, return_sequences=True)
    layer.build(x.shape)
    layer.set_weights([W_xh.T, W_hh.T, b_h])  # kernel, recurrent_kernel, bias
    states = F.rnn(x, W_xh, W_hh, b_h)
    np.testing.assert_allclose(states, keras.ops.convert_to_numpy(layer(x)), atol=ATOL)
    np.testing.assert_allclose(F.rnn(x[0], W_xh, W_hh, b_h)[-1], states[0, -1], atol=ATOL)


@pytest.mark.parametrize("reset_after", [True, False])
def test_gru_equals_keras_gru(reset_after):
    x, hidden = randn(3, 7, 4), 5
    W_x, W_h = randn(3 * hidden, 4) * 0.5, randn(3 * hidden, hidden) * 0.5  # blocks z, r, h~ as Keras orders them
    b_x, b_h = randn(3 * hidden), randn(3 * hidden) if reset_after else np.zeros(3 * hidden, "float32")
    layer = keras.layers.GRU(hidden, return_sequences=True, reset_after=reset_after)
    layer.build(x.shape)
    # kernel, recurrent_kernel, bias: bias is (2, 3 * hidden) = [input bias, recurrent bias] with reset_after,
    # a single (3 * hidden,) vector without it.
    layer.set_weights([W_x.T, W_h.T, np.stack([b_x, b_h]) if reset_after else b_x])
    states, gates = F.gru(x, W_x, W_h, b_x, b_h, reset_after=reset_after, return_gates=True)
    np.testing.assert_allclose(states, ops.convert_to_numpy(layer(x)), atol=ATOL)
    # The update rule, in Keras' orientation: z near 1 keeps the previous state.
    previous = np.concatenate([np.zeros((3, 1, hidden), "float32"), states[:, :-1]], axis=1)
    np.testing.assert_allclose(states, gates["z"] * previous + (1 - gates["z"]) * gates["h_tilde"], atol=1e-6)
    h0 = randn(hidden)
    with_h0 = keras.layers.GRU(hidden, return_sequences=True, reset_after=reset_after)
    with_h0.build(x.shape)
    with_h0.set_weights(layer.get_weights())
    keras_h0 = ops.convert_to_numpy(with_h0(x, initial_state=[ops.convert_to_tensor(np.tile(h0, (3, 1)))]))
    np.testing.assert_allclose(F.gru(x, W_x, W_h, b_x, b_h, h0=h0, reset_after=reset_after), keras_h0, atol=ATOL)
    np.testing.assert_allclose(F.gru(x[1], W_x, W_h, b_x, b_h, reset_after=reset_after), states[1], atol=ATOL)


def test_gru_reset_after_differs_from_reset_before():
    # The two conventions are different cells: same weights, different states (so the test above tests both).
    x, W_x, W_h, b = randn(2, 6, 3), randn(12, 3), randn(12, 4), np.zeros(12, "float32")
    after, before = F.gru(x, W_x, W_h, b, b, reset_after=True), F.gru(x, W_x, W_h, b, b, reset_after=False)
    assert np.abs(after - before).max() > 1e-2


def test_lstm_equals_keras_lstm():
    x, hidden = randn(3, 7, 4), 5
    W_x, W_h, b = randn(4 * hidden, 4) * 0.5, randn(4 * hidden, hidden) * 0.5, randn(4 * hidden)  # blocks i, f, c, o
    layer = keras.layers.LSTM(hidden, return_sequences=True)
    layer.build(x.shape)
    layer.set_weights([W_x.T, W_h.T, b])  # kernel, recurrent_kernel, bias
    states, gates = F.lstm(x, W_x, W_h, b, return_gates=True)
    np.testing.assert_allclose(states, ops.convert_to_numpy(layer(x)), atol=ATOL)
    np.testing.assert_allclose(states, gates["o"] * np.tanh(gates["c"]), atol=1e-6)
    h0, c0 = randn(hidden), randn(hidden)
    initial = [ops.convert_to_tensor(np.tile(v, (3, 1))) for v in (h0, c0)]
    np.testing.assert_allclose(F.lstm(x, W_x, W_h, b, h0=h0, c0=c0), ops.convert_to_numpy(layer(x, initial_state=initial)), atol=ATOL)
    np.testing.assert_allclose(F.lstm(x[2], W_x, W_h, b)[-1], states[2, -1], atol=ATOL)


def test_dense_backward_equals_autodiff_and_finite_differences():
    x, W, b, target = randn(6, 5).astype("float64"), randn(3, 5).astype("float64"), randn(3).astype("float64"), randn(6, 3)

    def loss(W, b, x):
        return 0.5 * np.sum((F.dense(x, W, b, F.tanh) - target) ** 2)

    grad_h = F.dense(x, W, b, F.tanh) - target
    gW, gb, gx = F.dense_backward(x, W, b, grad_h, F.tanh_grad)

    # The backend's autodiff, in float32: Keras computes in float32 on JAX and PyTorch (it promotes
    # float64 to float32 there, as JAX does by default), so the bound is float32's, about 1e-5 on
    # values of order 1. Finite differences below check the formulas in float64.
    tW, tb, tx = (keras.Variable(v, dtype="float32") for v in (W, b, x))

    def autodiff_loss():
        h = ops.tanh(ops.matmul(tx, ops.transpose(tW)) + tb)
        return 0.5 * ops.sum(ops.subtract(h, target) ** 2)  # ops: torch does not subtract NumPy arrays from its tensors

    _, grads = value_and_grad(autodiff_loss, [tW, tb, tx])
    for ours, theirs in zip((gW, gb, gx), grads):
        np.testing.assert_allclose(ours, ops.convert_to_numpy(theirs), rtol=1e-5, atol=1e-5)

    eps = 1e-6
    for index in [(0, 0), (2, 4), (1, 3)]:
        bumped = [W.copy(), W.copy()]
        bumped[0][index] += eps
        bumped[1][index] -= eps
        numeric = (loss(bumped[0], b, x) - loss(bumped[1], b, x)) / (2 * eps)
        assert numeric == pytest.approx(gW[index], rel=1e-5, abs=1e-8)


def test_rnn_backward_through_time_equals_autodiff_and_finite_differences():
    x = randn(2, 5, 3).astype("float64")
    W_xh, W_hh, b_h = (randn(4, 3) * 0.5).astype("float64"), (randn(4, 4) * 0.5).astype("float64"), randn(4).astype("float64")
    target = randn(2, 5, 4).astype("float64")

    def loss(W_xh, W_hh, b_h, x):
        return 0.5 * np.sum((F.rnn(x, W_xh, W_hh, b_h) - target) ** 2)

    grad_states = F.rnn(x, W_xh, W_hh, b_h) - target
    ours = F.rnn_backward(x, W_xh, W_hh, b_h, grad_states)

    variables = [keras.Variable(v, dtype="float32") for v in (W_xh, W_hh, b_h, x)]  # float32, as above

    def autodiff_loss():
        v_xh, v_hh, v_b, v_x = variables
        h, states = ops.zeros((2, 4)), []
        for t in range(5):
            h = ops.tanh(ops.matmul(h, ops.transpose(v_hh)) + ops.matmul(v_x[:, t], ops.transpose(v_xh)) + v_b)
            states.append(h)
        return 0.5 * ops.sum(ops.subtract(ops.stack(states, 1), target) ** 2)

    _, grads = value_and_grad(autodiff_loss, variables)
    for mine, theirs in zip(ours, grads):
        np.testing.assert_allclose(mine, ops.convert_to_numpy(theirs), rtol=1e-5, atol=1e-5)

    eps = 1e-6
    up, down = W_hh.copy(), W_hh.copy()
    up[1, 2] += eps
    down[1, 2] -= eps
    numeric = (loss(W_xh, up, b_h, x) - loss(W_xh, down, b_h, x)) / (2 * eps)
    assert numeric == pytest.approx(ours[1][1, 2], rel=1e-5)


def test_initialisers_match_keras_statistics():
    fan_in, fan_out = 400, 300
    generator = np.random.default_rng(1)
    ours_glorot = F.glorot_uniform(fan_in, fan_out, generator)
    keras_glorot = keras.ops.convert_to_numpy(keras.initializers.GlorotUniform(seed=1)((fan_in, fan_out)))
    limit = np.sqrt(6 / (fan_in + fan_out))
    assert ours_glorot.shape == (fan_out, fan_in)
    assert np.abs(ours_glorot).max() <= limit and np.abs(keras_glorot).max() <= limit
    assert ours_glorot.var() == pytest.approx(keras_glorot.var(), rel=0.03)
    assert ours_glorot.var() == pytest.approx(2 / (fan_in + fan_out), rel=0.03)

    ours_he = F.he_normal(fan_in, fan_out, generator)
    keras_he = keras.ops.convert_to_numpy(keras.initializers.HeNormal(seed=1)((fan_in, fan_out)))
    assert ours_he.var() == pytest.approx(keras_he.var(), rel=0.03)
    assert ours_he.var() == pytest.approx(2 / fan_in, rel=0.03)
    assert np.abs(ours_he).max() <= 2 * np.sqrt(2 / fan_in) / 0.8796 + 1e-6


def test_gradient_descent_step_equals_keras_sgd():
    params, grads = [randn(3, 2), randn(2)], [randn(3, 2), randn(2)]
    ours = F.gradient_descent_step(params, grads, 0.1)
    variables = [keras.Variable(p) for p in params]
    keras.optimizers.SGD(learning_rate=0.1).apply_gradients(zip([keras.ops.convert_to_tensor(g) for g in grads], variables))
    for mine, theirs in zip(ours, variables):
        np.testing.assert_allclose(mine, keras.ops.convert_to_numpy(theirs), atol=1e-6)
    np.testing.assert_array_equal(params[0], params[0].copy())  # inputs untouched


@pytest.mark.parametrize(
    "call, error, message",
    [
        (lambda: F.dense(randn(2, 5), randn(3, 4), randn(3)), ValueError, "x.*4 features"),
        (lambda: F.dense(randn(2, 4), randn(3, 4), randn(2)), ValueError, "`b`"),
        (lambda: F.conv2d(randn(2, 5, 5, 3), randn(3, 3, 2, 4), randn(4)), ValueError, "`W`"),
        (lambda: F.conv2d(randn(5, 5), randn(3, 3, 1, 4), randn(4)), ValueError, "rank 3"),
        (lambda: F.conv2d(randn(5, 5, 1), randn(3, 3, 1, 4), randn(4), padding="full"), ValueError, "padding"),
        (lambda: F.conv2d(randn(2, 2, 1), randn(3, 3, 1, 4), randn(4)), ValueError, "larger than"),
        (lambda: F.conv2d(np.array([[["a"]]]), randn(1, 1, 1, 1), randn(1)), TypeError, "numeric"),
        (lambda: F.rnn(randn(2, 5, 3), randn(4, 2), randn(4, 4), randn(4)), ValueError, "W_xh"),
        (lambda: F.gru(randn(2, 5, 3), randn(12, 2), randn(12, 4), randn(12), randn(12)), ValueError, "`W_x`"),
        (lambda: F.gru(randn(2, 5, 3), randn(12, 3), randn(8, 4), randn(12), randn(12)), ValueError, "`W_h`"),
        (lambda: F.gru(randn(2, 5, 3), randn(12, 3), randn(12, 4), randn(12), randn(4)), ValueError, "`b_h`"),
        (lambda: F.gru(randn(2, 5, 3), randn(12, 3), randn(12, 4), randn(12), randn(12), h0=randn(3)), ValueError, "`h0`"),
        (lambda: F.gru(randn(5), randn(12, 1), randn(12, 4), randn(12), randn(12)), ValueError, "`x`"),
        (lambda: F.lstm(randn(2, 5, 3), randn(16, 3), randn(16, 4), randn(12)), ValueError, "`b`"),
        (lambda: F.lstm(randn(2, 5, 3), randn(12, 3), randn(16, 4), randn(16)), ValueError, "`W_x`"),
        (lambda: F.lstm(randn(2, 5, 3), randn(16, 3), randn(16, 4), randn(16), c0=randn(3, 4)), ValueError, "`c0`"),
        (lambda: F.activation("gelu"), ValueError, "name"),
        (lambda: F.gradient_descent_step([randn(2)], [randn(2)], 0.0), ValueError, "learning_rate"),
        (lambda: F.gradient_descent_step([randn(2)], [randn(3)], 0.1), ValueError, "shape"),
    ],
)
def test_bad_input_raises_clear_errors(call, error, message):
    with pytest.raises(error, match=message):
        call()
