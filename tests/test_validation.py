"""course_lib._validation: every layer refuses text and booleans with the same clear error on every backend.

TensorFlow turns a NumPy array of strings into a string tensor; JAX and PyTorch fail inside
Keras' own input conversion with a ValueError that names no layer. course_lib checks
before Keras converts, so the error below is the one a learner sees on each backend.
"""

import keras
import numpy as np
import pytest

from course_lib import _validation as check
from course_lib.attention import MultiHeadAttention
from course_lib.encoders import ConvEncoder, DenseEncoder
from course_lib.positional import LearnedPositionalEmbedding, SinusoidalPositionalEncoding
from course_lib.recurrent import RecurrentEncoder
from course_lib.seq2seq import RNNSeq2Seq, TransformerSeq2Seq, Vocabulary
from course_lib.transformer import TransformerDecoderBlock, TransformerEncoder, TransformerEncoderBlock

VOCAB = Vocabulary(["a", "b"])
LAYERS = {  # a small instance and the shape of a good input
    "DenseEncoder": (lambda: DenseEncoder(3), (2, 4)),
    "ConvEncoder": (lambda: ConvEncoder((4,), spatial_dims=1), (2, 6, 1)),
    "RecurrentEncoder": (lambda: RecurrentEncoder(3), (2, 5, 2)),
    "MultiHeadAttention": (lambda: MultiHeadAttention(2, 4), (2, 5, 8)),
    "SinusoidalPositionalEncoding": (lambda: SinusoidalPositionalEncoding(8), (2, 5, 4)),
    "LearnedPositionalEmbedding": (lambda: LearnedPositionalEmbedding(8), (2, 5, 4)),
    "TransformerEncoderBlock": (lambda: TransformerEncoderBlock(2, 8), (2, 5, 4)),
    "TransformerEncoder": (lambda: TransformerEncoder(1, 2, 8, 4), (2, 5, 3)),
}


def first_argument(name):
    return "query" if name == "MultiHeadAttention" else "inputs"  # the errors name the argument of `call`


@pytest.mark.parametrize("name", LAYERS)
def test_text_input_is_refused_with_the_layers_name(name):
    make, shape = LAYERS[name]
    text = np.full(shape, "a")
    argument = first_argument(name)
    with pytest.raises(TypeError, match=rf"{name}: `{argument}` must be a numeric \(int or float\) tensor, got dtype string"):
        make()(text)
    with pytest.raises(TypeError, match=rf"{name}: .*got dtype string"):
        make()(text.tolist())  # a nested Python list of strings too


@pytest.mark.parametrize("name", LAYERS)
def test_boolean_input_is_refused_and_numbers_are_cast(name):
    make, shape = LAYERS[name]
    argument = first_argument(name)
    with pytest.raises(TypeError, match=rf"{name}: `{argument}` must be a numeric .*got dtype bool"):
        make()(np.zeros(shape, bool))
    layer = make()
    ints = np.arange(np.prod(shape)).reshape(shape) % 3
    np.testing.assert_allclose(
        keras.ops.convert_to_numpy(layer(ints)), keras.ops.convert_to_numpy(layer(ints.astype("float32"))), atol=1e-6
    )


def test_decoder_block_and_models_name_the_input_that_is_text():
    context = np.zeros((1, 3, 4), "float32")
    with pytest.raises(TypeError, match=r"TransformerDecoderBlock: `inputs` must be a numeric"):
        TransformerDecoderBlock(2, 8)(np.full((1, 2, 4), "x"), context)
    with pytest.raises(TypeError, match=r"TransformerDecoderBlock: `context` must be a numeric .*got dtype string"):
        TransformerDecoderBlock(2, 8)(np.zeros((1, 2, 4), "float32"), np.full((1, 3, 4), "x"))
    with pytest.raises(TypeError, match=r"MultiHeadAttention: `value` must be a numeric .*got dtype string"):
        MultiHeadAttention(2, 4)(np.zeros((1, 2, 4), "float32"), value=np.full((1, 3, 4), "x"))
    target = np.array([[2, 4]], "int32")
    for model in (RNNSeq2Seq(VOCAB, VOCAB, embed_dim=4, units=4), TransformerSeq2Seq(VOCAB, VOCAB, model_dim=4, num_heads=2, ff_dim=8)):
        with pytest.raises(TypeError, match=rf"{type(model).__name__}: `inputs\[0\]` must be a numeric .*got dtype string"):
            model((np.array([["a", "b"]]), target))


def test_symbolic_inputs_pass_the_check():
    inputs = keras.Input((5, 2))
    assert tuple(RecurrentEncoder(3)(inputs).shape) == (None, 3)
    check.reject_text("layer", (inputs, [np.zeros(2), {"x": np.ones(1)}]))  # numbers in any nesting: no error


def test_large_negative_fits_the_dtype():
    assert np.isfinite(np.float16(check.large_negative("float16")))
    assert check.large_negative("float32") == check.large_negative("bfloat16") == -1e9


@pytest.mark.parametrize("value, low, high, expected", [
    (3, 1, 5, None), (np.int64(1), 1, None, None), (0, 1, None, ">= 1"), (6, 1, 5, r"in \[1, 5\]"),
    (True, 0, 5, r"in \[0, 5\]"), (2.0, 0, 5, r"in \[0, 5\]"), ("3", 0, None, ">= 0"),
])
def test_integer_names_the_argument_the_bounds_and_the_value(value, low, high, expected):
    if expected is None:
        assert check.integer("owner", "n", value, low, high) == int(value)
        assert type(check.integer("owner", "n", value, low, high)) is int
    else:
        with pytest.raises(ValueError, match=rf"owner: `n` must be an integer {expected}, got {value!r}"):
            check.integer("owner", "n", value, low, high)
