"""FormulaRNNCell is SimpleRNN is the formula; RecurrentEncoder masks, saves, trains and checks input."""

import keras
import numpy as np
import pytest
from backend_autodiff import train_step

from course_lib import formulas as F
from course_lib.recurrent import FormulaRNNCell, RecurrentEncoder

rng = np.random.default_rng(0)


def randn(*shape):
    return rng.normal(size=shape).astype("float32")


def test_formula_cell_equals_simple_rnn_and_the_numpy_formula():
    x = randn(3, 7, 4)
    ours = keras.layers.RNN(FormulaRNNCell(5), return_sequences=True)
    ours.build(x.shape)
    reference = keras.layers.SimpleRNN(5, return_sequences=True)
    reference.build(x.shape)
    reference.set_weights(ours.get_weights())
    states = keras.ops.convert_to_numpy(ours(x))
    np.testing.assert_allclose(states, keras.ops.convert_to_numpy(reference(x)), atol=1e-5)
    kernel, recurrent_kernel, bias = ours.get_weights()  # W_xh.T, W_hh.T, b_h
    np.testing.assert_allclose(states, F.rnn(x, kernel.T, recurrent_kernel.T, bias), atol=1e-5)
    assert [w.name for w in ours.weights] == ["kernel", "recurrent_kernel", "bias"]


@pytest.mark.parametrize("cell", ["formula", "gru", "lstm"])
@pytest.mark.parametrize("bidirectional", [False, True])
def test_padded_steps_change_nothing(cell, bidirectional):
    keras.utils.set_random_seed(0)
    encoder = RecurrentEncoder(6, cell=cell, bidirectional=bidirectional, num_layers=2)
    model = keras.Sequential([keras.Input((None, 3)), keras.layers.Masking(mask_value=0.0), encoder])
    x = randn(4, 8, 3)
    x[:, 5:] = 0.0  # last three steps are padding
    other = x.copy()
    other[:, 5:] = 0.0
    other[:, 5:, 0] = 0.0
    base = keras.ops.convert_to_numpy(model(x))
    # the same sequences, cut to their real length: identical encodings
    np.testing.assert_allclose(base, keras.ops.convert_to_numpy(model(x[:, :5])), atol=1e-5)
    # change the padded steps through an explicit mask instead: still identical
    mask = np.arange(8)[None, :] < 5
    garbage = x.copy()
    garbage[:, 5:] = randn(4, 3, 3) * 10
    np.testing.assert_allclose(base, keras.ops.convert_to_numpy(encoder(garbage, mask=np.repeat(mask, 4, 0))), atol=1e-5)
    # and without the mask the garbage does change the encoding
    assert not np.allclose(base, keras.ops.convert_to_numpy(encoder(garbage)), atol=1e-3)


def test_mask_from_embedding_with_mask_zero():
    keras.utils.set_random_seed(0)
    tokens = np.array([[3, 5, 2, 0, 0], [4, 1, 0, 0, 0]])
    model = keras.Sequential([keras.Input((None,), dtype="int32"), keras.layers.Embedding(10, 4, mask_zero=True), RecurrentEncoder(5, cell="gru")])
    np.testing.assert_allclose(keras.ops.convert_to_numpy(model(tokens))[0], keras.ops.convert_to_numpy(model(tokens[:1, :3]))[0], atol=1e-5)


def test_return_sequences_shapes_and_mask_propagation():
    encoder = RecurrentEncoder(4, cell="lstm", bidirectional=True, return_sequences=True)
    x = randn(2, 6, 3)
    assert tuple(encoder(x).shape) == (2, 6, 8) == encoder.compute_output_shape(x.shape)
    mask = np.ones((2, 6), bool)
    assert encoder.compute_mask(x, mask) is mask
    assert RecurrentEncoder(4).compute_mask(x, mask) is None
    assert RecurrentEncoder(4).compute_output_shape((2, 6, 3)) == (2, 4)


@pytest.mark.parametrize(
    "layer",
    [
        RecurrentEncoder(5, cell="formula", num_layers=2, dropout=0.1),
        RecurrentEncoder(5, cell="gru", bidirectional=True),
        RecurrentEncoder(5, cell="lstm", return_sequences=True),
    ],
    ids=["formula", "gru-bi", "lstm-seq"],
)
def test_keras_file_round_trip(layer, assert_keras_roundtrip):
    assert_keras_roundtrip(layer, randn(3, 7, 2))
    config = layer.get_config()
    assert RecurrentEncoder.from_config(config).get_config() == config


def test_formula_cell_round_trip(assert_keras_roundtrip):
    assert_keras_roundtrip(keras.layers.RNN(FormulaRNNCell(4, activation="relu")), randn(2, 5, 3))


def test_recurrent_encoder_learns_under_fit():
    """Which half of the sequence holds the larger sum? Needs memory across steps."""
    keras.utils.set_random_seed(0)
    x = rng.normal(size=(512, 10, 1)).astype("float32")
    y = (x[:, :5].sum(axis=(1, 2)) > x[:, 5:].sum(axis=(1, 2))).astype("int32")
    model = keras.Sequential([keras.Input((10, 1)), RecurrentEncoder(16, cell="formula"), keras.layers.Dense(2)])
    model.compile(optimizer=keras.optimizers.Adam(0.01), loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True), metrics=["accuracy"])
    history = model.fit(x, y, epochs=15, batch_size=64, verbose=0)
    assert history.history["accuracy"][-1] > 0.85


@pytest.mark.parametrize(
    "x, error, message",
    [
        (randn(2, 5), ValueError, r"rank 3 \(batch, steps, features\)"),
        (np.array([[["a"]]]), TypeError, "numeric"),
    ],
)
def test_bad_input_raises_clear_errors(x, error, message):
    with pytest.raises(error, match=message):
        RecurrentEncoder(3)(x)


def test_wrong_feature_size_after_build_is_refused():
    encoder = RecurrentEncoder(3)
    encoder(randn(2, 5, 4))
    with pytest.raises(ValueError, match="4 features.*got shape"):
        encoder(randn(2, 5, 2))


@pytest.mark.parametrize(
    "make, message",
    [
        (lambda: RecurrentEncoder(0), "units"),
        (lambda: RecurrentEncoder(3, cell="transformer"), "cell"),
        (lambda: RecurrentEncoder(3, num_layers=0), "num_layers"),
        (lambda: RecurrentEncoder(3, dropout=-0.1), "dropout"),
        (lambda: FormulaRNNCell(-2), "units"),
    ],
)
def test_bad_arguments_raise_clear_errors(make, message):
    with pytest.raises(ValueError, match=message):
        make()


def test_recurrent_encoder_learns_in_a_custom_training_loop():
    keras.utils.set_random_seed(0)
    x = rng.normal(size=(256, 8, 1)).astype("float32")
    y = (x[:, :4].sum(axis=(1, 2)) > x[:, 4:].sum(axis=(1, 2))).astype("int32")
    encoder, head = RecurrentEncoder(16, cell="formula"), keras.layers.Dense(2)
    optimizer = keras.optimizers.Adam(0.01)
    loss_fn = keras.losses.SparseCategoricalCrossentropy(from_logits=True)
    first = float(keras.ops.convert_to_numpy(loss_fn(y, head(encoder(x)))))  # builds both layers before any gradient
    variables = encoder.trainable_variables + head.trainable_variables
    for epoch in range(10):
        for start in range(0, 256, 64):
            xb, yb = x[start : start + 64], y[start : start + 64]
            train_step(lambda: loss_fn(yb, head(encoder(xb, training=True))), variables, optimizer)
    last = float(keras.ops.convert_to_numpy(loss_fn(y, head(encoder(x)))))
    assert last < 0.5 * first, f"custom loop: loss {first:.3f} -> {last:.3f}"


MIXED = {
    "formula-cell": lambda dtype: keras.layers.RNN(FormulaRNNCell(6, dtype=dtype), dtype=dtype),
    "formula-bidirectional": lambda dtype: RecurrentEncoder(6, num_layers=2, bidirectional=True, dropout=0.1, dtype=dtype),
    "gru": lambda dtype: RecurrentEncoder(6, cell="gru", return_sequences=True, dtype=dtype),
    "lstm": lambda dtype: RecurrentEncoder(6, cell="lstm", dtype=dtype),
}


@pytest.mark.parametrize("name", MIXED)
def test_mixed_precision_per_layer(name, assert_mixed_precision):
    assert_mixed_precision(MIXED[name], randn(3, 7, 2))


def formula_rnn(units=4, dtype=None, **kwargs):
    """``keras.layers.RNN`` over a FormulaRNNCell: the harness calls a layer on one input, a cell needs states too."""
    return keras.layers.RNN(FormulaRNNCell(units, dtype=dtype), dtype=dtype, **kwargs)


@pytest.mark.parametrize(
    "layer_cls, init_kwargs, expected_output_shape, weights",
    [
        # weights: (trainable, non-trainable, seed generators)
        (formula_rnn, {"return_sequences": True}, (2, 5, 4), (3, 0, 0)),
        (RecurrentEncoder, {"units": 4, "num_layers": 2, "dropout": 0.1}, (2, 4), (6, 0, 1)),
        (RecurrentEncoder, {"units": 4, "cell": "gru", "bidirectional": True}, (2, 8), (6, 0, 2)),  # Keras GRU/LSTM keep a seed generator each
        (RecurrentEncoder, {"units": 4, "cell": "lstm", "return_sequences": True}, (2, 5, 4), (3, 0, 1)),
    ],
    ids=["formula-cell", "formula", "gru-bidirectional", "lstm"],
)
def test_keras_layer_harness(layer_cls, init_kwargs, expected_output_shape, weights, keras_layer_test):
    keras_layer_test(
        layer_cls,
        init_kwargs,
        input_shape=(2, 5, 3),
        expected_output_shape=expected_output_shape,
        expected_num_trainable_weights=weights[0],
        expected_num_non_trainable_weights=weights[1],
        expected_num_seed_generators=weights[2],
        supports_masking=True,
    )
