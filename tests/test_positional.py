import keras
import numpy as np
import pytest

from course_lib.positional import LearnedPositionalEmbedding, SinusoidalPositionalEncoding, sinusoidal_table

to_np = keras.ops.convert_to_numpy


def test_sinusoidal_table_is_the_formula():
    table = sinusoidal_table(50, 16)
    p, i = 7, 3
    assert table[p, 2 * i] == pytest.approx(np.sin(p / 10000 ** (2 * i / 16)), abs=1e-6)
    assert table[p, 2 * i + 1] == pytest.approx(np.cos(p / 10000 ** (2 * i / 16)), abs=1e-6)
    np.testing.assert_allclose(table[0, 1::2], 1.0)
    assert sinusoidal_table(4, 5).shape == (4, 5)  # odd depth works


@pytest.mark.parametrize("layer_class", [SinusoidalPositionalEncoding, LearnedPositionalEmbedding])
def test_adds_one_vector_per_position_and_round_trips(layer_class, assert_keras_roundtrip):
    layer = layer_class(max_length=12)
    x = np.zeros((2, 9, 6), "float32")
    out = to_np(layer(x))
    np.testing.assert_allclose(out[0], out[1])
    np.testing.assert_allclose(out[0], to_np(layer.table)[:9])
    if layer_class is SinusoidalPositionalEncoding:
        np.testing.assert_allclose(out[0], sinusoidal_table(12, 6)[:9], atol=1e-6)
        assert not layer.trainable_weights
    else:
        assert len(layer.trainable_weights) == 1
    assert_keras_roundtrip(layer_class(max_length=12), np.random.default_rng(0).normal(size=(2, 9, 6)).astype("float32"))


@pytest.mark.parametrize("layer_class", [SinusoidalPositionalEncoding, LearnedPositionalEmbedding])
def test_sequence_longer_than_the_table_is_refused(layer_class):
    with pytest.raises(ValueError, match="12 steps, longer than max_length=10"):
        layer_class(max_length=10)(np.zeros((1, 12, 4), "float32"))
    layer = layer_class(max_length=10)
    layer(np.zeros((1, 5, 4), "float32"))
    with pytest.raises(ValueError, match="longer than max_length=10"):
        layer(np.zeros((1, 11, 4), "float32"))


def test_bad_arguments_and_input():
    with pytest.raises(ValueError, match="max_length"):
        SinusoidalPositionalEncoding(0)
    with pytest.raises(ValueError, match="rank 3"):
        SinusoidalPositionalEncoding(8)(np.zeros((2, 4), "float32"))


@pytest.mark.parametrize("layer_class", [SinusoidalPositionalEncoding, LearnedPositionalEmbedding])
def test_mixed_precision_per_layer(layer_class, assert_mixed_precision):
    x = np.random.default_rng(1).normal(size=(2, 9, 6)).astype("float32")
    assert_mixed_precision(lambda dtype: layer_class(max_length=12, dtype=dtype), x)


@pytest.mark.parametrize("layer_class, trainable", [(SinusoidalPositionalEncoding, 0), (LearnedPositionalEmbedding, 1)])
def test_keras_layer_harness(layer_class, trainable, keras_layer_test):
    keras_layer_test(
        layer_class,
        {"max_length": 12},
        input_shape=(2, 9, 6),
        expected_output_shape=(2, 9, 6),
        expected_num_trainable_weights=trainable,
        expected_num_non_trainable_weights=1 - trainable,
        expected_num_seed_generators=0,
        supports_masking=True,
    )
