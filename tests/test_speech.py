"""course_lib.speech: eSpeak NG synthesis, the spoken-digit corpus split by voice, and the log-mel spectrogram by hand."""

import sys

import keras
import numpy as np
import pytest

from course_lib import speech

SMALL = dict(num_train=24, num_validation=6, num_test=6, seed=5)


@pytest.fixture(scope="module")
def corpus_dir(tmp_path_factory):
    """A small cached corpus, generated once for the module (clean speech; noise is added on loading)."""
    path = tmp_path_factory.mktemp("speech_cache")
    speech.load_spoken_digits(**SMALL, cache_dir=path)
    return path


def _mean_spectrum(voice):
    return speech.log_mel_spectrogram(speech.synthesize("three one four", voice=voice)).mean(axis=0)


# --------------------------------------------------------------------------- synthesis


def test_synthesis_is_speech_of_plausible_duration():
    audio = speech.synthesize("three one four")
    assert audio.dtype == np.float32 and audio.ndim == 1
    seconds = len(audio) / speech.SAMPLE_RATE
    assert 0.6 < seconds < 1.3, f"three words at 175 words per minute took {seconds:.2f} s"  # measured 0.83 s
    rms = float(np.sqrt(np.mean(audio**2)))
    assert rms > 0.02 and float(np.abs(audio).max()) <= 1.0, f"rms {rms}"
    loud = np.abs(audio) > 0.05
    assert 0.3 < loud.mean(), "mostly silent"
    wide = speech.synthesize("three one four", sample_rate=16000)
    assert abs(len(wide) / len(audio) - 2.0) < 0.02  # same speech at twice the sample rate


def test_rate_changes_duration_and_pitch_does_not():
    slow, fast = (len(speech.synthesize("three one four", rate=r)) for r in (100, 300))
    assert 2.8 < slow / fast < 3.8, f"rate 100 vs 300: {slow / fast:.2f}x longer"  # measured 3.3x
    low, high = (len(speech.synthesize("three one four", pitch=p)) for p in (0, 100))
    assert abs(low / high - 1.0) < 0.05


def test_different_voices_differ_and_one_voice_repeats_itself():
    voices = ("en+m1", "en+f2", "en-gb-scotland+m1", "en+m2")
    spectra = {voice: _mean_spectrum(voice) for voice in voices}
    again = float(np.abs(_mean_spectrum("en+m1") - spectra["en+m1"]).mean())
    assert again < 0.5, f"the same voice twice differs by {again:.2f} dB"  # measured 0.12 dB
    for i, a in enumerate(voices):
        for b in voices[i + 1:]:
            gap = float(np.abs(spectra[a] - spectra[b]).mean())
            assert gap > 1.0, f"{a} and {b} differ by only {gap:.2f} dB on average"  # measured 2.3 to 6.0 dB


def test_the_voices_used_exist_in_the_installed_data():
    accents, variants = speech.available_voices()
    assert set(speech.ACCENTS) <= set(accents)
    assert set(speech.VARIANTS) - {""} <= set(variants)


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(text=""), "`text` must contain something"),
        (dict(text="   "), "`text` must contain something"),
        (dict(text=3), "`text` must be a string"),
        (dict(text="one <two>"), r"`text` may hold.*'<', '>'"),
        (dict(text="caf\u00e9"), r"`text` may hold.*'\u00e9'"),
        (dict(text="one", voice="xx"), "unknown accent 'xx'"),
        (dict(text="one", voice="en+nobody"), "unknown variant 'nobody'"),
        (dict(text="one", voice=""), "`voice` must be a non-empty string"),
        (dict(text="one", rate=50), r"`rate` must be an integer in \[80, 450\], got 50"),
        (dict(text="one", rate=500), r"`rate` must be an integer in \[80, 450\], got 500"),
        (dict(text="one", rate=True), "`rate`"),
        (dict(text="one", pitch=101), r"`pitch` must be an integer in \[0, 100\], got 101"),
        (dict(text="one", sample_rate=44100), r"`sample_rate` must be one of \(8000, 16000, 22050\) Hz, got 44100"),
    ],
)
def test_bad_synthesis_arguments_are_refused_clearly(kwargs, match):
    with pytest.raises(ValueError, match=match):
        speech.synthesize(**kwargs)


def test_missing_espeakng_loader_raises_an_import_error_that_says_what_to_do(monkeypatch):
    monkeypatch.setitem(sys.modules, "espeakng_loader", None)  # `import espeakng_loader` now raises ImportError
    with pytest.raises(ImportError, match=r"espeakng-loader.*pip install espeakng-loader.*Linux x86-64, macOS arm64 and Windows"):
        speech.synthesize("one")
    with pytest.raises(ImportError, match="espeakng-loader"):
        speech.load_spoken_digits(**SMALL, cache_dir=False)


# --------------------------------------------------------------------------- the corpus


def test_corpus_is_split_by_voice_accent_and_timbre(corpus_dir):
    data = speech.load_spoken_digits(**SMALL, cache_dir=corpus_dir)
    splits = {"train": data.train, "validation": data.validation, "test": data.test}
    voices = {name: set(split.voices) for name, split in splits.items()}
    accents = {name: {v.partition("+")[0] for v in data.split_voices[name]} for name in splits}
    variants = {name: {v.partition("+")[2] for v in data.split_voices[name]} for name in splits}
    for a, b in (("train", "validation"), ("train", "test"), ("validation", "test")):
        assert not voices[a] & voices[b], f"{a} and {b} share voices {voices[a] & voices[b]}"
        assert not accents[a] & accents[b] and not variants[a] & variants[b]
    for name, split in splits.items():
        assert voices[name] <= set(data.split_voices[name])
        assert len(voices[name]) >= 3, f"{name} uses only {voices[name]}"
    assert len(data.split_voices["train"]) == 32 and len(data.split_voices["test"]) == 6


def test_corpus_arrays_transcripts_and_metadata(corpus_dir):
    data = speech.load_spoken_digits(**SMALL, cache_dir=corpus_dir)
    assert data.sample_rate == speech.SAMPLE_RATE and data.alphabet == "0123456789"
    width = data.train.audio.shape[1]
    for split, size in ((data.train, 24), (data.validation, 6), (data.test, 6)):
        assert split.audio.shape == (size, width) and split.audio.dtype == np.float32 and len(split) == size
        assert split.lengths.dtype == np.int64 and split.lengths.max() <= width and split.lengths.min() > 0.5 * speech.SAMPLE_RATE
        assert float(np.abs(split.audio).max()) <= 1.0
        for text, words, length in zip(split.text, split.words, split.lengths):
            assert 3 <= len(text) <= 5 and set(text) <= set(data.alphabet)
            assert words == speech.digits_to_words(text)
            assert 0.15 < length / speech.SAMPLE_RATE / len(text) < 0.7  # seconds per spoken digit
        assert set(split.rates) <= set(speech.RATES) and set(split.pitches) <= set(speech.PITCHES)
        assert set(split.snr_db) <= set(speech.SNRS_DB)
    assert width == max(s.lengths.max() for s in (data.train, data.validation, data.test))


def test_corpus_metadata_is_deterministic_and_the_seed_matters():
    def metadata(data):
        return [(s.text, s.voices, s.rates.tolist(), s.pitches.tolist(), s.snr_db.tolist()) for s in (data.train, data.validation, data.test)]

    small = dict(num_train=8, num_validation=3, num_test=3)
    first = speech.load_spoken_digits(**small, seed=1, cache_dir=False)
    second = speech.load_spoken_digits(**small, seed=1, cache_dir=False)
    other = speech.load_spoken_digits(**small, seed=2, cache_dir=False)
    assert metadata(first) == metadata(second)
    assert metadata(first) != metadata(other)
    # eSpeak's own output may differ by some samples from call to call, never by much
    assert np.abs(first.train.lengths - second.train.lengths).max() < 0.05 * speech.SAMPLE_RATE


def test_corpus_is_cached_and_read_back_without_synthesising(corpus_dir, monkeypatch):
    first = speech.load_spoken_digits(**SMALL, cache_dir=corpus_dir)
    files = sorted(p.name for p in corpus_dir.iterdir())
    assert files == [first.cache_file.name] and first.cache_file.name.startswith("spoken_digits_v1_")

    def refuse(*args, **kwargs):
        raise AssertionError("synthesize was called although the corpus is cached")

    monkeypatch.setattr(speech, "synthesize", refuse)
    again = speech.load_spoken_digits(**SMALL, cache_dir=corpus_dir)
    for a, b in ((first.train, again.train), (first.test, again.test)):
        np.testing.assert_array_equal(a.audio, b.audio)
        np.testing.assert_array_equal(a.lengths, b.lengths)
        assert a.text == b.text and a.voices == b.voices
    with pytest.raises(AssertionError, match="synthesize was called"):  # other settings: a new corpus, not the cache
        speech.load_spoken_digits(**{**SMALL, "seed": 6}, cache_dir=corpus_dir)


def test_corpus_honours_xdg_cache_home(monkeypatch, tmp_path):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    data = speech.load_spoken_digits(num_train=2, num_validation=1, num_test=1, cache_dir=None)
    assert data.cache_file.parent == tmp_path / "course_lib" and data.cache_file.is_file()


@pytest.mark.parametrize("damage", ["garbage", "truncated", "other settings"])
def test_corrupt_cache_raises_a_value_error_naming_the_file(corpus_dir, tmp_path, damage):
    good = speech.load_spoken_digits(**SMALL, cache_dir=corpus_dir).cache_file
    bad = tmp_path / good.name
    content = good.read_bytes()
    if damage == "garbage":
        bad.write_bytes(b"not a zip file")
    elif damage == "truncated":
        bad.write_bytes(content[: len(content) // 2])
    else:  # a readable file whose contents belong to another corpus
        with np.load(good) as cached:
            arrays = {key: cached[key] for key in cached.files}
        np.savez(bad, **{**arrays, "lengths": arrays["lengths"][:-1]})
    with pytest.raises(ValueError, match=rf"cache file .*{good.name} is corrupt.*delete it"):
        speech.load_spoken_digits(**SMALL, cache_dir=tmp_path)


def test_noise_is_added_at_the_requested_snr(corpus_dir):
    clean = speech.load_spoken_digits(**SMALL, cache_dir=corpus_dir, snr_db=None)
    assert np.all(np.isinf(clean.train.snr_db))
    for requested in ((10.0,), (0.0, 20.0)):
        noisy = speech.load_spoken_digits(**SMALL, cache_dir=corpus_dir, snr_db=requested)
        for c, n in ((clean.train, noisy.train), (clean.test, noisy.test)):
            for i, length in enumerate(c.lengths):
                signal = c.audio[i, :length].astype(np.float64)
                noise = n.audio[i, :length].astype(np.float64) - signal
                measured = 10 * np.log10(np.sum(signal**2) / np.sum(noise**2))
                assert abs(measured - n.snr_db[i]) < 0.3, f"asked {n.snr_db[i]} dB, measured {measured:.2f} dB"
                tail = n.audio[i, length:] - c.audio[i, length:]
                assert tail.size == 0 or np.std(tail) > 0  # the noise goes on in the padding
        assert set(noisy.train.snr_db) == set(requested)
    peak = max(float(np.abs(s.audio).max()) for s in (clean.train, clean.validation, clean.test))
    assert abs(peak - speech.PEAK) < 1e-3


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(num_train=0), "`num_train` must be an integer"),
        (dict(num_test=2.5), "`num_test` must be an integer"),
        (dict(min_digits=4, max_digits=3), "`max_digits` must be an integer in \\[4, 10\\]"),
        (dict(rates=(100, 60)), "`rates` must be an integer in \\[80, 450\\], got 60"),
        (dict(rates=()), "`rates` must not be empty"),
        (dict(pitches=(120,)), "`pitches`"),
        (dict(snr_db=()), "`snr_db` must be a non-empty"),
        (dict(snr_db=("loud",)), "`snr_db` must be a sequence of numbers"),
        (dict(sample_rate=11025), "`sample_rate` must be one of"),
    ],
)
def test_bad_corpus_arguments_are_refused(kwargs, match):
    with pytest.raises(ValueError, match=match):
        speech.load_spoken_digits(**{**SMALL, **kwargs}, cache_dir=False)


# --------------------------------------------------------------------------- the log-mel spectrogram


def _keras_log_mel(audio, **settings):
    layer = keras.layers.MelSpectrogram(**speech.keras_mel_settings(**settings))
    out = layer(keras.ops.convert_to_tensor(audio))
    return keras.ops.convert_to_numpy(keras.ops.swapaxes(out, -1, -2))


@pytest.mark.parametrize("snr_db", [(20.0,), None], ids=["noisy", "clean with silent padding"])
def test_log_mel_by_hand_equals_keras_mel_spectrogram(corpus_dir, snr_db):
    audio = speech.load_spoken_digits(**SMALL, cache_dir=corpus_dir, snr_db=snr_db).test.audio
    ours = speech.log_mel_spectrogram(audio, speech.SAMPLE_RATE)
    theirs = _keras_log_mel(audio, sample_rate=speech.SAMPLE_RATE)
    assert ours.shape == theirs.shape == (6, 1 + audio.shape[1] // 80, 40) and ours.dtype == np.float32
    np.testing.assert_allclose(ours, theirs, rtol=0, atol=0.01)  # measured: at most 0.003 dB
    assert float(ours.max() - ours.min()) > 40  # a real spectrogram, not a constant: speech spans tens of dB


def test_log_mel_other_settings_and_unbatched_input_equal_keras():
    audio = speech.synthesize("seven", sample_rate=16000)
    audio = audio + np.random.default_rng(0).normal(0, 0.01, audio.shape).astype(np.float32)
    settings = dict(sample_rate=16000, frame_length=400, frame_step=160, fft_length=512, num_mel_bins=64, min_freq=60.0, max_freq=7600.0)
    ours = speech.log_mel_spectrogram(audio, **settings)
    np.testing.assert_allclose(ours, _keras_log_mel(audio, **settings), rtol=0, atol=0.01)
    assert ours.shape == (1 + len(audio) // 160, 64)


def test_mel_filter_bank_equals_keras_and_no_filter_is_empty():
    fb = speech.mel_filter_bank(40, 256, 8000)
    layer = keras.layers.MelSpectrogram(**speech.keras_mel_settings())
    theirs = keras.ops.convert_to_numpy(layer.linear_to_mel_weight_matrix(40, 129, 8000, 20.0, 4000.0))
    np.testing.assert_allclose(fb, theirs, atol=1e-5)
    assert fb.shape == (129, 40) and np.all(fb.max(axis=0) > 0.3) and np.all(fb[0] == 0)
    assert abs(float(speech.hertz_to_mel(1000.0)) - 1000.0) < 0.1


def test_log_mel_is_ten_log10_of_the_mel_energy_of_a_tone():
    """A pure 1 kHz tone puts its energy into the mel bands around 1 kHz, at the level the FFT predicts."""
    t = np.arange(8000) / 8000
    tone = (0.5 * np.sin(2 * np.pi * 1000 * t)).astype(np.float32)
    spec = speech.log_mel_spectrogram(tone)
    centres = np.argmax(speech.mel_filter_bank(40, 256, 8000), axis=0) * 8000 / 256
    loudest = int(np.argmax(spec[50]))
    assert abs(centres[loudest] - 1000) < 80
    # the peak power of a Hann-windowed sine: (amplitude * sum(window) / 2) ** 2, window sum = 100 for 200 samples
    assert abs(float(spec[50].max()) - 10 * np.log10((0.5 * 100 / 2) ** 2)) < 3.0


@pytest.mark.parametrize(
    "audio, kwargs, match",
    [
        (np.zeros(0, np.float32), {}, "`audio` is empty or too short"),
        (np.zeros((2, 100), np.float32), {}, "need more than fft_length // 2 = 128 samples"),
        (np.zeros((2, 3, 400), np.float32), {}, r"shape \(samples,\) or \(batch, samples\), got shape \(2, 3, 400\)"),
        (np.zeros(400, np.int16), {}, "`audio` must hold floats"),
        ("hello", {}, "`audio` must be a float array"),
        (np.full(400, np.nan, np.float32), {}, "NaN or infinite"),
        (np.zeros(400, np.float32), dict(sample_rate=0), "`sample_rate` must be an integer"),
        (np.zeros(400, np.float32), dict(sample_rate=4000, max_freq=4000.0), r"`max_freq` <= sample_rate / 2 = 2000.0 Hz"),
        (np.zeros(400, np.float32), dict(frame_length=300), r"`frame_length` must be an integer in \[1, 256\]"),
    ],
)
def test_bad_spectrogram_inputs_are_refused(audio, kwargs, match):
    with pytest.raises(ValueError, match=match):
        speech.log_mel_spectrogram(audio, **kwargs)


def test_digits_to_words_and_its_errors():
    assert speech.digits_to_words("0917") == "zero nine one seven"
    for bad in ("", "12a", 12, "\u0663"):
        with pytest.raises(ValueError, match="`digits` must be a non-empty string of the digits 0-9"):
            speech.digits_to_words(bad)
