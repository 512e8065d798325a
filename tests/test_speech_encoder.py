"""SpeechEncoder: frame counts, padded batches, .keras files that take audio, the harness, mixed precision, bad input, CTC training."""

import keras
import numpy as np
import pytest
from backend_autodiff import train_step

from course_lib.ctc import Alphabet
from course_lib.speech_encoder import SpeechEncoder

rng = np.random.default_rng(0)
SMALL = dict(conv_filters=(8, 8), conv_strides=(2, 2), recurrent_units=6, dropout=0.0)


def audio(*shape):
    return (0.1 * rng.normal(size=shape)).astype("float32")


def numpy(x):
    return keras.ops.convert_to_numpy(x)


@pytest.mark.parametrize("strides", [(2, 2), (2, 3), (1,)])
def test_output_frames_is_the_number_of_frames_it_outputs(strides):
    # no GRU: it keeps the number of frames, and on JAX every eager call of one compiles a scan
    encoder = SpeechEncoder(5, conv_filters=(4,) * len(strides), conv_strides=strides, recurrent_layers=0)
    for samples in (129, 1000, 1001, 1040, 3999):
        y = encoder(audio(2, samples))
        assert tuple(keras.ops.shape(y)) == (2, encoder.output_frames(samples), 5) == encoder.compute_output_shape((2, samples))
        frames = 1 + samples // 80  # 10 ms frames at 8 kHz, the first centred on sample 0
        for s in strides:
            frames = -(-frames // s)
        assert encoder.output_frames(samples) == frames
    np.testing.assert_array_equal(encoder.output_frames(np.array([1000, 3999])), [encoder.output_frames(1000), encoder.output_frames(3999)])


@pytest.mark.parametrize("layers", [dict(recurrent_layers=1), dict(recurrent_layers=0, transformer_layers=1, num_heads=2)], ids=["gru", "transformer"])
def test_a_padded_batch_gives_each_utterance_its_own_logits(layers):
    """With ``lengths``, padding (whatever it holds) changes nothing on the real frames; without, it does."""
    keras.utils.set_random_seed(0)
    encoder = SpeechEncoder(4, **{**SMALL, **layers})
    lengths = [1600, 900]
    x = audio(2, 2600)
    for row, n in zip(x, lengths):
        row[n - 200 : n] = 0.0  # each utterance ends in silence, as synthesised speech does
        row[n:] = rng.normal(size=2600 - n) * 5  # and the padding is garbage
    batch = numpy(encoder(x, lengths=np.array(lengths)))
    for row, n, got in zip(x, lengths, batch):
        alone = numpy(encoder(row[None, :n]))[0]
        assert alone.shape[0] == encoder.output_frames(n)
        np.testing.assert_allclose(got[: alone.shape[0]], alone, atol=1e-4)
    unmasked = numpy(encoder(x))
    assert not np.allclose(unmasked[0, : encoder.output_frames(lengths[0])], batch[0, : encoder.output_frames(lengths[0])], atol=1e-2)


def test_features_do_not_depend_on_loudness_or_on_the_rest_of_the_batch():
    keras.utils.set_random_seed(0)
    encoder = SpeechEncoder(4, **{**SMALL, "recurrent_layers": 0})  # the normalisation comes before the GRU
    x = audio(2, 2000)
    both = numpy(encoder(x))
    np.testing.assert_allclose(numpy(encoder(x[:1])), both[:1], atol=1e-4)
    np.testing.assert_allclose(numpy(encoder(x * np.float32(30.0))), both, atol=1e-3)


def test_keras_file_takes_raw_audio(assert_keras_roundtrip):
    keras.utils.set_random_seed(0)
    loaded = assert_keras_roundtrip(SpeechEncoder(11, **SMALL), audio(2, 1500))
    assert loaded.inputs[0].shape[1:] == (1500,)
    config = SpeechEncoder(11, recurrent_layers=2, transformer_layers=1, conv_strides=3).get_config()
    assert SpeechEncoder.from_config(config).get_config() == config
    assert config["conv_strides"] == [3, 3]


def test_a_saved_model_with_variable_length_input(tmp_path):
    keras.utils.set_random_seed(0)
    inputs = keras.Input((None,))
    model = keras.Model(inputs, SpeechEncoder(6, **{**SMALL, "recurrent_layers": 0})(inputs))  # GRU saving: test above
    model.save(tmp_path / "asr.keras")
    loaded = keras.saving.load_model(tmp_path / "asr.keras")
    for samples in (800, 1700):
        x = audio(1, samples)
        np.testing.assert_allclose(numpy(loaded(x)), numpy(model(x)), atol=1e-6)


def test_keras_layer_harness(keras_layer_test):
    keras_layer_test(
        SpeechEncoder,
        {"num_classes": 5, "conv_filters": [4, 4], "conv_strides": [2, 2], "recurrent_units": 3, "dropout": 0.1},
        input_shape=(2, 1000),
        expected_output_shape=(2, 4, 5),  # 1 + 1000 // 80 = 13 frames, then 7, then 4
        expected_num_trainable_weights=16,  # 2 convs and 2 layer norms (2 each), 2 GRUs (3 each), the dense layer (2)
        expected_num_non_trainable_weights=0,
        expected_num_seed_generators=4,  # the dropout after the convolutions, RecurrentEncoder's, each GRU's
        supports_masking=False,
    )


def test_mixed_precision_per_layer(assert_mixed_precision):
    x = audio(2, 1200)
    assert_mixed_precision(lambda dtype: SpeechEncoder(5, **SMALL, transformer_layers=1, num_heads=2, dtype=dtype), x)


@pytest.mark.parametrize(
    "x, kwargs, error, message",
    [
        (audio(2, 100, 1), {}, ValueError, r"rank 2 \(batch, samples\)"),
        (audio(400), {}, ValueError, r"rank 2 \(batch, samples\)"),
        (np.zeros((2, 0), "float32"), {}, ValueError, r"more than fft_length // 2 = 128 samples.*got 0"),
        (audio(2, 100), {}, ValueError, "got 100"),
        (np.array([["a", "b"]]), {}, TypeError, "numeric.*string"),
        (np.zeros((2, 400), bool), {}, TypeError, "numeric.*bool"),
        (audio(2, 400), {"lengths": np.array([1.5, 2.0])}, TypeError, "`lengths` must be integer"),
        (audio(2, 400), {"lengths": np.array([[400, 400]])}, ValueError, r"`lengths` must have shape \(batch,\)"),
    ],
)
def test_bad_input_raises_clear_errors(x, kwargs, error, message):
    with pytest.raises(error, match=message):
        SpeechEncoder(5, **SMALL)(x, **kwargs)


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"num_classes": 1}, "counts the blank"),
        ({"fft_length": 128}, "at least frame_length=200"),
        ({"conv_kernel_size": 4}, "must be odd"),
        ({"conv_filters": (4, 4), "conv_strides": (2,)}, "one stride per block"),
        ({"recurrent_layers": -1}, "int >= 0"),
        ({"log_floor": 0}, "positive number"),
        ({"dropout": 1.0}, r"rate in \[0, 1\)"),
    ],
)
def test_bad_arguments_are_refused(kwargs, message):
    with pytest.raises(ValueError, match=message):
        SpeechEncoder(**{"num_classes": 5, **kwargs})


def tones(n, seed):
    """Synthetic "speech": 2 or 3 tone bursts of 3 pitches (one per character of "abc"), with gaps."""
    r = np.random.default_rng(seed)
    x = np.zeros((n, 2400), "float32")
    texts = []
    t = np.arange(400) / 8000
    for row in x:
        text = "".join(r.choice(list("abc"), r.integers(2, 4)))
        for i, c in enumerate(text):
            start = 200 + 700 * i + r.integers(0, 100)
            row[start : start + 400] = np.sin(2 * np.pi * {"a": 500, "b": 1200, "c": 2500}[c] * t)
        row += 0.01 * r.normal(size=row.shape)
        texts.append(text)
    return x, texts


def test_ctc_training_lowers_the_loss_under_fit_and_in_a_custom_loop():
    """The frame classifier (no GRU; the harness trains one with a GRU): on JAX a GRU's training step compiles for long."""
    alphabet = Alphabet("abc")
    x, texts = tones(64, 0)
    labels, _ = alphabet.encode_batch(texts)
    keras.utils.set_random_seed(0)
    inputs = keras.Input((2400,))
    model = keras.Model(inputs, SpeechEncoder(alphabet.num_classes, conv_filters=(16, 16), conv_strides=(2, 2), recurrent_layers=0, dropout=0.0)(inputs))
    loss_fn = keras.losses.CTC()
    model.compile(keras.optimizers.Adam(1e-2, clipnorm=1.0), loss=loss_fn)
    first = model.evaluate(x, labels, batch_size=64, verbose=0)  # compiled: on JAX an eager CTC loss is slow to trace
    model.fit(x, labels, batch_size=16, epochs=6, verbose=0)
    after_fit = model.evaluate(x, labels, batch_size=64, verbose=0)
    assert after_fit < 0.5 * first, f"fit: CTC loss {first:.2f} -> {after_fit:.2f}"
    optimizer = keras.optimizers.Adam(3e-3, clipnorm=1.0)
    for start in range(0, 32, 16):  # two steps of a custom loop
        xb, yb = x[start : start + 16], labels[start : start + 16]
        train_step(lambda: loss_fn(yb, model(xb, training=True)), model.trainable_variables, optimizer)
    after_loop = model.evaluate(x, labels, batch_size=64, verbose=0)
    assert after_loop < after_fit, f"custom loop: CTC loss {after_fit:.2f} -> {after_loop:.2f}"
