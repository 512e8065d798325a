"""Speech synthesised offline with eSpeak NG, a spoken-digit corpus split by voice, and the log-mel spectrogram by hand.

Nothing here downloads anything. :func:`synthesize` calls the eSpeak NG speech
synthesiser (GPL-3.0), shipped as a shared library with its voice data by the
``espeakng-loader`` package, through :mod:`ctypes`. :func:`load_spoken_digits`
builds a corpus of spoken digit strings ("three one four") with many voices,
speaking rates, pitches and background-noise levels, split **by voice** (no test
voice shares its accent or its voice variant with a training voice), and caches it
like :func:`course_lib.datasets.load_mnist1d`. :func:`log_mel_spectrogram` computes
the features in NumPy (frames, window, FFT, power, mel filter bank, log) and equals
``keras.layers.MelSpectrogram(**keras_mel_settings(...))``.

All audio is float32 in [-1, 1] at :data:`SAMPLE_RATE` = 8,000 Hz (telephone quality:
enough for digits, half the samples of 16 kHz, which keeps a notebook that trains on
it within its time budget); :func:`synthesize` can also give 16,000 Hz or eSpeak's
native 22,050 Hz.

The module needs NumPy and SciPy only; Keras is needed by nobody here (the tests use
it to check :func:`log_mel_spectrogram` against ``keras.layers.MelSpectrogram``).
"""

from __future__ import annotations

import ctypes
import dataclasses
import hashlib
import json
import re
import threading
from pathlib import Path

import numpy as np

from course_lib import _validation as check
from course_lib.datasets import cache_file, read_cache, write_cache

#: The sample rate, in Hz, of everything this module returns by default.
SAMPLE_RATE = 8000
#: The sample rate of eSpeak NG's own output.
ESPEAK_SAMPLE_RATE = 22050
#: The sample rates :func:`synthesize` can give (resampled from 22,050 Hz with ``scipy.signal.resample_poly``).
SUPPORTED_SAMPLE_RATES = (8000, 16000, 22050)
#: eSpeak NG's range of speaking rates, in words per minute (it silently clamps values outside it).
RATE_RANGE = (80, 450)
#: eSpeak NG's range of base pitch (0 lowest, 100 highest).
PITCH_RANGE = (0, 100)

#: The English accents of the eSpeak NG data used for the corpus (``en-shaw`` reads the Shavian alphabet: left out).
ACCENTS = ("en", "en-us", "en-us-nyc", "en-gb-x-rp", "en-gb-x-gbclan", "en-gb-x-gbcwmd", "en-gb-scotland", "en-029")
#: The voice variants used for the corpus: eSpeak NG's eight male and five female timbres ("" is the accent's default).
VARIANTS = ("", "m1", "m2", "m3", "m4", "m5", "m6", "m7", "m8", "f1", "f2", "f3", "f4", "f5")
#: Which accents and variants each split uses: disjoint in both, so a test voice has neither an accent
#: nor a timbre that training heard. A voice is ``accent`` or ``accent+variant``.
SPLIT_VOICES = {
    "train": (("en", "en-us", "en-gb-x-rp", "en-gb-x-gbclan"), ("", "m1", "m3", "m5", "m7", "f1", "f2", "f5")),
    "validation": (("en-029", "en-gb-x-gbcwmd"), ("m4", "m8", "f4")),
    "test": (("en-gb-scotland", "en-us-nyc"), ("m2", "m6", "f3")),
}
#: The digit words, index = digit.
DIGIT_WORDS = ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine")
#: The transcript alphabet of the corpus: the ten digits (CTC adds its blank).
DIGIT_ALPHABET = "0123456789"
#: Speaking rates (words per minute), pitches and signal-to-noise ratios (dB) drawn per utterance by default.
RATES = (140, 160, 180, 200, 220)
PITCHES = (30, 40, 50, 60, 70)
SNRS_DB = (10.0, 20.0, 30.0)
#: Every utterance is scaled to this peak before noise is added (eSpeak's own level varies by voice).
PEAK = 0.5
#: Characters :func:`synthesize` accepts: letters, digits, space and plain punctuation (no markup).
_ALLOWED_TEXT = re.compile(r"[A-Za-z0-9 .,?!'\-]+")
_CACHE_FORMAT = 1

# eSpeak NG's C API (speak_lib.h).
_AUDIO_OUTPUT_SYNCHRONOUS = 2
_POS_CHARACTER = 1
_CHARS_UTF8 = 1
_PARAM_RATE = 1
_PARAM_PITCH = 3
_EE_NOT_FOUND = 2
_CALLBACK = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.POINTER(ctypes.c_short), ctypes.c_int, ctypes.c_void_p)

_lock = threading.Lock()
_engine: dict = {}  # filled once per process by _espeak(): the library, its callback, the sample buffer
_PLATFORMS = "Linux x86-64, macOS arm64 and Windows"


def _espeak():
    """The initialised eSpeak NG library (initialised once per process) and the list its callback fills."""
    try:
        import espeakng_loader
    except ImportError as exc:
        raise ImportError(
            "course_lib.speech needs the package espeakng-loader, which ships the eSpeak NG library and its voices: "
            f"`pip install espeakng-loader~=0.2.4` (wheels exist for {_PLATFORMS} only; on another platform "
            "the spoken-digit corpus cannot be generated)"
        ) from exc
    if _engine:
        return _engine["lib"], _engine["chunks"]
    try:
        lib = ctypes.CDLL(espeakng_loader.get_library_path())
        data_path = espeakng_loader.get_data_path()
    except (OSError, RuntimeError) as exc:
        raise ImportError(f"espeakng-loader is installed but its eSpeak NG library or data could not be loaded ({exc})") from exc
    lib.espeak_Initialize.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_char_p, ctypes.c_int]
    lib.espeak_Initialize.restype = ctypes.c_int
    lib.espeak_SetSynthCallback.argtypes = [_CALLBACK]
    lib.espeak_SetVoiceByName.argtypes = [ctypes.c_char_p]
    lib.espeak_SetVoiceByName.restype = ctypes.c_int
    lib.espeak_SetParameter.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_int]
    lib.espeak_SetParameter.restype = ctypes.c_int
    lib.espeak_Synth.argtypes = [ctypes.c_char_p, ctypes.c_size_t, ctypes.c_uint, ctypes.c_int, ctypes.c_uint,
                                 ctypes.c_uint, ctypes.c_void_p, ctypes.c_void_p]
    lib.espeak_Synth.restype = ctypes.c_int
    lib.espeak_Synchronize.restype = ctypes.c_int
    rate = lib.espeak_Initialize(_AUDIO_OUTPUT_SYNCHRONOUS, 500, data_path.encode(), 0)  # 500 ms per callback
    if rate != ESPEAK_SAMPLE_RATE:
        raise RuntimeError(f"eSpeak NG failed to initialise with the data in {data_path} (returned {rate})")
    chunks: list = []

    def collect(wav, num_samples, events):
        if num_samples > 0:
            chunks.append(np.ctypeslib.as_array(wav, shape=(num_samples,)).copy())
        return 0  # 0: go on synthesising

    callback = _CALLBACK(collect)  # kept in _engine: a collected callback would crash the library
    lib.espeak_SetSynthCallback(callback)
    _engine.update(lib=lib, chunks=chunks, callback=callback, data_path=Path(data_path))
    return lib, chunks


def available_voices() -> tuple[tuple[str, ...], tuple[str, ...]]:
    """The English accents and the voice variants that the installed eSpeak NG data really has.

    Returns:
        ``(accents, variants)``, lower case, sorted: accents such as ``"en-us"`` (from
        ``espeak-ng-data/lang``), variants such as ``"m3"`` or ``"whisper"`` (from
        ``espeak-ng-data/voices/!v``). A voice is ``accent`` or ``accent+variant``.

    Example:
        >>> accents, variants = available_voices()
        >>> "en-gb-scotland" in accents, "f5" in variants
        (True, True)
    """
    _espeak()
    if "voices" not in _engine:  # listed once per process
        data = _engine["data_path"]
        accents = sorted(p.name.lower() for p in (data / "lang").rglob("en*") if p.is_file())
        variants = sorted(p.name.lower() for p in (data / "voices" / "!v").iterdir() if p.is_file())
        _engine["voices"] = (tuple(accents), tuple(variants))
    return _engine["voices"]


def _check_voice(voice) -> None:
    if not isinstance(voice, str) or not voice:
        raise ValueError(f"synthesize: `voice` must be a non-empty string such as 'en-us' or 'en+f2', got {voice!r}")
    accents, variants = available_voices()
    accent, _, variant = voice.lower().partition("+")
    if accent not in accents:
        raise ValueError(f"synthesize: `voice` {voice!r} has the unknown accent {accent!r}; expected one of {accents}")
    if "+" in voice and variant not in variants:  # eSpeak ignores an unknown variant silently: refuse it here
        raise ValueError(f"synthesize: `voice` {voice!r} has the unknown variant {variant!r}; expected one of {variants}")


def synthesize(text: str, voice: str = "en", rate: int = 175, pitch: int = 50, sample_rate: int = SAMPLE_RATE) -> np.ndarray:
    """Speak ``text`` with eSpeak NG and return the waveform.

    eSpeak NG is called through :mod:`ctypes` (synchronous output, a callback that
    collects its 16-bit samples at 22,050 Hz), then resampled with
    ``scipy.signal.resample_poly``. Its output is not bit-identical from call to call:
    it depends on what the process synthesised before (eSpeak keeps state), and lengths
    differ by up to about a hundred samples at 8 kHz, which is why the corpus is
    generated once and cached.

    Args:
        text: what to say: letters, digits, spaces and ``. , ? ! ' -`` only.
        voice: an accent from :func:`available_voices`, optionally ``+variant``
            (``"en-us"``, ``"en-gb-scotland+f3"``, ``"en+m7"``).
        rate: speaking rate in words per minute, in :data:`RATE_RANGE`.
        pitch: base pitch in :data:`PITCH_RANGE` (50 is the voice's default).
        sample_rate: one of :data:`SUPPORTED_SAMPLE_RATES`.

    Returns:
        float32 audio of shape ``(samples,)`` in [-1, 1] at ``sample_rate``, with the
        short silences eSpeak leaves at the start and the end.

    Raises:
        ValueError: empty text, a character outside those above, an unknown accent or
            variant, ``rate``, ``pitch`` or ``sample_rate`` out of range.
        ImportError: ``espeakng-loader`` is not installed (it has wheels for Linux
            x86-64, macOS arm64 and Windows).

    Example:
        >>> audio = synthesize("three one four", voice="en-us+f2")
        >>> audio.dtype, audio.ndim, 0.8 < len(audio) / SAMPLE_RATE < 2.0, 0.1 < float(np.abs(audio).max()) <= 1.0
        (dtype('float32'), 1, True, True)
    """
    if not isinstance(text, str):
        raise ValueError(f"synthesize: `text` must be a string, got {type(text).__name__}")
    if not text.strip():
        raise ValueError(f"synthesize: `text` must contain something to say, got {text!r}")
    if not _ALLOWED_TEXT.fullmatch(text):
        bad = sorted(set(c for c in text if not _ALLOWED_TEXT.fullmatch(c)))
        raise ValueError(f"synthesize: `text` may hold letters, digits, spaces and . , ? ! ' - only; got {bad} in {text!r}")
    check.integer("synthesize", "rate", rate, *RATE_RANGE)
    check.integer("synthesize", "pitch", pitch, *PITCH_RANGE)
    if sample_rate not in SUPPORTED_SAMPLE_RATES or isinstance(sample_rate, bool):
        raise ValueError(f"synthesize: `sample_rate` must be one of {SUPPORTED_SAMPLE_RATES} Hz, got {sample_rate!r}")
    _check_voice(voice)
    lib, chunks = _espeak()
    with _lock:
        chunks.clear()
        if lib.espeak_SetVoiceByName(voice.encode()) != 0:
            raise ValueError(f"synthesize: eSpeak NG could not select `voice` {voice!r}")
        lib.espeak_SetParameter(_PARAM_RATE, int(rate), 0)
        lib.espeak_SetParameter(_PARAM_PITCH, int(pitch), 0)
        encoded = text.encode("utf-8")
        error = lib.espeak_Synth(encoded, len(encoded) + 1, 0, _POS_CHARACTER, 0, _CHARS_UTF8, None, None)
        lib.espeak_Synchronize()
        samples = np.concatenate(chunks) if chunks else np.zeros(0, np.int16)
        chunks.clear()
    if error != 0 or samples.size == 0:
        raise RuntimeError(f"eSpeak NG produced no audio for {text!r} with voice {voice!r} (error code {error})")
    return _resample(samples.astype(np.float32) / 32768.0, sample_rate)


def _resample(audio: np.ndarray, sample_rate: int) -> np.ndarray:
    if sample_rate == ESPEAK_SAMPLE_RATE:
        return audio.astype(np.float32)
    from math import gcd

    from scipy.signal import firwin, resample_poly

    g = gcd(sample_rate, ESPEAK_SAMPLE_RATE)
    up, down = sample_rate // g, ESPEAK_SAMPLE_RATE // g
    if ("filter", sample_rate) not in _engine:  # resample_poly's own default filter, designed once instead of per call
        half_len = 10 * max(up, down)
        _engine["filter", sample_rate] = firwin(2 * half_len + 1, 1.0 / max(up, down), window=("kaiser", 5.0))
    out = resample_poly(audio, up, down, window=_engine["filter", sample_rate])
    return np.clip(out, -1.0, 1.0).astype(np.float32)


def digits_to_words(digits: str) -> str:
    """``"314"`` -> ``"three one four"``: what the corpus makes eSpeak say.

    Example:
        >>> digits_to_words("3140")
        'three one four zero'
    """
    if not isinstance(digits, str) or not digits or not digits.isdigit() or not digits.isascii():
        raise ValueError(f"digits_to_words: `digits` must be a non-empty string of the digits 0-9, got {digits!r}")
    return " ".join(DIGIT_WORDS[int(d)] for d in digits)


@dataclasses.dataclass(frozen=True)
class Utterances:
    """One split of :class:`SpokenDigits`: padded audio, true lengths, transcripts and how each was made.

    ``audio[i, :lengths[i]]`` is utterance ``i``; the rest of the row is padding that
    carries the same background noise (so the end of speech is not marked by digital
    silence). ``text[i]`` is its transcript in digits (``"314"``), ``words[i]`` what was
    said (``"three one four"``); ``voices``, ``rates``, ``pitches`` and ``snr_db`` record
    the voice (``accent+variant``), rate (words per minute), pitch and signal-to-noise
    ratio of each (``inf``: no noise).
    """

    audio: np.ndarray
    lengths: np.ndarray
    text: tuple[str, ...]
    words: tuple[str, ...]
    voices: tuple[str, ...]
    rates: np.ndarray
    pitches: np.ndarray
    snr_db: np.ndarray

    def __len__(self):
        return len(self.text)


@dataclasses.dataclass(frozen=True)
class SpokenDigits:
    """The spoken-digit corpus: ``train``, ``validation`` and ``test`` :class:`Utterances` with disjoint voices.

    ``sample_rate`` is in Hz; ``alphabet`` is the transcript alphabet (:data:`DIGIT_ALPHABET`);
    ``split_voices`` maps each split to the voices it may use; ``cache_file`` is the
    ``.npz`` it was read from or written to (None without a cache).
    """

    train: Utterances
    validation: Utterances
    test: Utterances
    sample_rate: int
    alphabet: str
    split_voices: dict
    cache_file: Path | None = None


def _voices(split):
    accents, variants = SPLIT_VOICES[split]
    return tuple(a + ("+" + v if v else "") for a in accents for v in variants)


def _plan(sizes, seed, min_digits, max_digits, rates, pitches):
    """The metadata of every utterance, drawn from ``seed`` alone (so it is identical on every machine)."""
    rng = np.random.default_rng([seed, 0])
    plan = {}
    for split, size in zip(("train", "validation", "test"), sizes):
        voices = _voices(split)
        counts = rng.integers(min_digits, max_digits + 1, size=size)
        plan[split] = {
            "text": ["".join(str(d) for d in rng.integers(0, 10, size=c)) for c in counts],
            "voices": [voices[i] for i in rng.integers(0, len(voices), size=size)],
            "rates": np.asarray(rates, np.int64)[rng.integers(0, len(rates), size=size)],
            "pitches": np.asarray(pitches, np.int64)[rng.integers(0, len(pitches), size=size)],
        }
    return plan


def load_spoken_digits(
    num_train: int = 1200,
    num_validation: int = 300,
    num_test: int = 300,
    seed: int = 0,
    min_digits: int = 3,
    max_digits: int = 5,
    rates=RATES,
    pitches=PITCHES,
    snr_db=SNRS_DB,
    sample_rate: int = SAMPLE_RATE,
    cache_dir=None,
) -> SpokenDigits:
    """Spoken digit strings ("three one four" -> ``"314"``), synthesised on this machine, split by voice.

    Each utterance says ``min_digits`` to ``max_digits`` random digits as words, in a
    voice drawn from its split's voices (:data:`SPLIT_VOICES`: 32 training voices from
    4 accents x 8 timbres, 6 validation and 6 test voices; the three splits share no
    accent and no timbre, so the test voices are speakers the model never heard), at a
    rate and a pitch drawn from ``rates`` and ``pitches``. Each is scaled to peak
    :data:`PEAK` and white Gaussian noise is added at an SNR drawn from ``snr_db``
    (signal power over noise power, both measured over the utterance's own samples).

    Transcripts are the digits: an alphabet of 10 symbols (plus CTC's blank) that a
    small encoder learns in seconds, where repeated digits ("4 4") show why CTC needs
    its blank; the spoken words are in ``words`` for a letter-level alphabet.

    The metadata (digits, voice, rate, pitch, SNR) and the noise are drawn from
    ``seed`` and are identical everywhere. eSpeak NG's audio is not bit-identical from
    call to call, so the clean speech is generated once and cached as ``.npz`` in
    ``cache_dir`` (written atomically; the file name holds the format version and a hash
    of the settings); the noise is added on loading.

    Args:
        num_train, num_validation, num_test: utterances per split (at least 1 each).
        seed: seed of the metadata and of the noise.
        min_digits, max_digits: the range of digits per utterance, 1 <= min <= max <= 10.
        rates: speaking rates to draw from, words per minute, each in :data:`RATE_RANGE`.
        pitches: pitches to draw from, each in :data:`PITCH_RANGE`.
        snr_db: signal-to-noise ratios to draw from, in dB; ``None`` for clean audio.
        sample_rate: one of :data:`SUPPORTED_SAMPLE_RATES`.
        cache_dir: where to cache (default :func:`course_lib.datasets.default_cache_dir`); ``False`` for no cache.

    Returns:
        A :class:`SpokenDigits`; each split's ``audio`` is float32 ``(n, max_samples)``
        padded to the longest utterance of the whole corpus, with ``lengths`` int64.

    Raises:
        ValueError: a bad argument, or a corrupt cache file (the message names it).
        ImportError: no cache and ``espeakng-loader`` is not installed.
    """
    owner = "load_spoken_digits"
    for name, value in (("num_train", num_train), ("num_validation", num_validation), ("num_test", num_test)):
        check.integer(owner, name, value, 1, 10**6)
    check.integer(owner, "seed", seed, 0, 2**63 - 1)
    check.integer(owner, "min_digits", min_digits, 1, 10)
    check.integer(owner, "max_digits", max_digits, min_digits, 10)
    rates, pitches = _int_tuple("rates", rates, RATE_RANGE, owner), _int_tuple("pitches", pitches, PITCH_RANGE, owner)
    if snr_db is not None:
        try:
            snr_db = tuple(float(s) for s in snr_db)
        except (TypeError, ValueError):
            raise ValueError(f"{owner}: `snr_db` must be a sequence of numbers (dB) or None, got {snr_db!r}") from None
        if not snr_db or not all(np.isfinite(s) for s in snr_db):
            raise ValueError(f"{owner}: `snr_db` must be a non-empty sequence of finite numbers (dB) or None, got {snr_db!r}")
    if sample_rate not in SUPPORTED_SAMPLE_RATES or isinstance(sample_rate, bool):
        raise ValueError(f"{owner}: `sample_rate` must be one of {SUPPORTED_SAMPLE_RATES} Hz, got {sample_rate!r}")

    sizes = (num_train, num_validation, num_test)
    plan = _plan(sizes, seed, min_digits, max_digits, rates, pitches)
    settings = {"format": _CACHE_FORMAT, "sizes": sizes, "seed": seed, "digits": (min_digits, max_digits), "rates": rates,
                "pitches": pitches, "sample_rate": sample_rate, "voices": {s: _voices(s) for s in SPLIT_VOICES}}
    key = hashlib.sha256(json.dumps(settings, sort_keys=True).encode()).hexdigest()[:12]
    path = cache_file(cache_dir, f"spoken_digits_v{_CACHE_FORMAT}_{key}.npz")
    expected = sum(sizes)
    if path is not None and path.is_file():
        def read(cached):
            samples, lengths, stored = cached["samples"], cached["lengths"], str(cached["settings"])
            if json.loads(stored) != json.loads(json.dumps(settings)) or lengths.shape != (expected,) \
                    or samples.dtype != np.int16 or lengths.min() < 1 or lengths.sum() != samples.size:
                raise ValueError("its contents do not match the settings it was written for")
            return samples, lengths

        samples, lengths = read_cache(owner, path, read)
    else:
        clips = [
            np.round(synthesize(digits_to_words(t), v, int(r), int(p), sample_rate) * 32767).astype(np.int16)
            for split in ("train", "validation", "test")
            for t, v, r, p in zip(plan[split]["text"], plan[split]["voices"], plan[split]["rates"], plan[split]["pitches"])
        ]
        samples = np.concatenate(clips)
        lengths = np.array([len(c) for c in clips], np.int64)
        if path is not None:
            write_cache(path, samples=samples, lengths=lengths, settings=np.array(json.dumps(settings)))

    width = int(lengths.max())
    starts = np.concatenate([[0], np.cumsum(lengths)])
    snr_rng = np.random.default_rng([seed, 1])  # the SNRs are drawn apart from the noise, which depends on the padded width
    splits, offset = {}, 0
    for number, (split, size) in enumerate(zip(("train", "validation", "test"), sizes)):
        audio = np.zeros((size, width), np.float32)
        split_lengths = lengths[offset:offset + size]
        snrs = (np.full(size, np.inf) if snr_db is None
                else np.asarray(snr_db, np.float64)[snr_rng.integers(0, len(snr_db), size=size)])
        noise_rng = np.random.default_rng([seed, 2, number])
        noise_std = np.zeros(size, np.float32)
        for i in range(size):
            clip = samples[starts[offset + i]:starts[offset + i + 1]].astype(np.float64)
            clip *= PEAK / max(np.abs(clip).max(), 1.0)
            audio[i, :len(clip)] = clip
            noise_std[i] = np.sqrt(np.mean(clip**2) / 10.0 ** (snrs[i] / 10.0))  # 0 for snr = inf
        if snr_db is not None:
            noise = noise_rng.standard_normal((size, width), dtype=np.float32)
            noise *= noise_std[:, None]
            audio += noise
        np.clip(audio, -1.0, 1.0, out=audio)
        entry = plan[split]
        splits[split] = Utterances(
            audio=audio, lengths=split_lengths.copy(), text=tuple(entry["text"]),
            words=tuple(digits_to_words(t) for t in entry["text"]), voices=tuple(entry["voices"]),
            rates=entry["rates"], pitches=entry["pitches"], snr_db=snrs,
        )
        offset += size
    return SpokenDigits(**splits, sample_rate=sample_rate, alphabet=DIGIT_ALPHABET,
                        split_voices={s: _voices(s) for s in SPLIT_VOICES}, cache_file=path)


def _int_tuple(name, values, bounds, owner):
    try:
        values = tuple(values)
    except TypeError:
        raise ValueError(f"{owner}: `{name}` must be a sequence of integers in [{bounds[0]}, {bounds[1]}], got {values!r}") from None
    if not values:
        raise ValueError(f"{owner}: `{name}` must not be empty")
    for value in values:
        check.integer(owner, name, value, *bounds)
    return tuple(int(v) for v in values)


# ----------------------------------------------------------------------------- features


def hertz_to_mel(frequency):
    """The HTK mel scale that Keras uses: ``1127 ln(1 + f / 700)`` (= ``2595 log10(1 + f / 700)``).

    Example:
        >>> round(float(hertz_to_mel(1000.0)), 1)
        1000.0
    """
    return 1127.0 * np.log1p(np.asarray(frequency, np.float64) / 700.0)


def mel_filter_bank(num_mel_bins: int, fft_length: int, sample_rate: int, min_freq: float = 20.0, max_freq=None) -> np.ndarray:
    """Triangular filters, equally spaced on the mel scale, as a ``(fft_length // 2 + 1, num_mel_bins)`` matrix.

    Filter ``m`` rises from 0 at mel point ``m`` to 1 at point ``m + 1`` and falls back
    to 0 at point ``m + 2``, the ``num_mel_bins + 2`` points equally spaced in mel from
    ``min_freq`` to ``max_freq``; the slopes are linear in mel, and the DC bin gets no
    weight, as in Keras' ``MelSpectrogram.linear_to_mel_weight_matrix`` (HTK's convention).

    Example:
        >>> mel_filter_bank(40, 256, 8000).shape
        (129, 40)
    """
    max_freq = sample_rate / 2 if max_freq is None else max_freq
    bins_mel = hertz_to_mel(np.linspace(0.0, sample_rate / 2, fft_length // 2 + 1))[1:, None]
    edges = np.linspace(hertz_to_mel(min_freq), hertz_to_mel(max_freq), num_mel_bins + 2)
    lower, center, upper = edges[:-2], edges[1:-1], edges[2:]
    rising = (bins_mel - lower) / (center - lower)
    falling = (upper - bins_mel) / (upper - center)
    weights = np.maximum(0.0, np.minimum(rising, falling))
    return np.concatenate([np.zeros((1, num_mel_bins)), weights])


def keras_mel_settings(sample_rate: int = SAMPLE_RATE, frame_length: int = 200, frame_step: int = 80, fft_length: int = 256,
                       num_mel_bins: int = 40, min_freq: float = 20.0, max_freq=None, min_power: float = 1e-10) -> dict:
    """The ``keras.layers.MelSpectrogram`` arguments under which it equals :func:`log_mel_spectrogram` (transposed).

    Keras' layer returns ``(..., num_mel_bins, frames)`` in dB; ``top_db`` is set far
    above any real range (1,000 dB), because Keras clips at the maximum over the
    *whole batch* minus ``top_db``, which would make an utterance's features depend on
    the other utterances in its batch.

    Example:
        >>> keras_mel_settings()["sequence_stride"], keras_mel_settings()["fft_length"]
        (80, 256)
    """
    return dict(fft_length=fft_length, sequence_stride=frame_step, sequence_length=frame_length, window="hann",
                sampling_rate=sample_rate, num_mel_bins=num_mel_bins, min_freq=min_freq,
                max_freq=sample_rate // 2 if max_freq is None else max_freq, power_to_db=True, top_db=1000.0,
                mag_exp=2.0, min_power=min_power, ref_power=1.0)


def log_mel_spectrogram(audio, sample_rate: int = SAMPLE_RATE, frame_length: int = 200, frame_step: int = 80,
                        fft_length: int = 256, num_mel_bins: int = 40, min_freq: float = 20.0, max_freq=None,
                        min_power: float = 1e-10) -> np.ndarray:
    """The log-mel spectrogram by hand: frames, Hann window, FFT, power, mel filter bank, decibels.

    1. Pad ``fft_length // 2`` samples on each side by reflection, so that frame ``t``
       is centred on sample ``t * frame_step``: ``1 + samples // frame_step`` frames.
    2. Cut frames of ``fft_length`` samples every ``frame_step``, multiply by a periodic
       Hann window of ``frame_length`` samples centred in the frame (zeros around it).
    3. Real FFT of each frame, power ``|X|**2`` (``fft_length // 2 + 1`` bins, unscaled).
    4. Mel energies: power times :func:`mel_filter_bank`.
    5. Decibels: ``10 log10(max(energy, min_power))``, i.e. ``(10 / ln 10) ln(energy)``
       floored at ``10 log10(min_power)`` (-100 dB by default).

    With the defaults at 8 kHz a frame is 25 ms and the step 10 ms. The result equals
    ``keras.layers.MelSpectrogram(**keras_mel_settings(sample_rate, ...))(audio)`` with its
    last two axes swapped, within 0.01 dB on every backend (the tests check it).

    Args:
        audio: float array ``(samples,)`` or ``(batch, samples)``, more than ``fft_length // 2`` samples.
        sample_rate: in Hz, positive.
        frame_length: window length in samples (``sequence_length`` in Keras), at most ``fft_length``.
        frame_step: hop between frames in samples (``sequence_stride`` in Keras).
        fft_length: FFT size in samples.
        num_mel_bins: number of mel filters.
        min_freq, max_freq: the band the filters cover, in Hz (``max_freq`` defaults to ``sample_rate / 2``).
        min_power: the floor of the energies before the log.

    Returns:
        float32 ``(frames, num_mel_bins)`` or ``(batch, frames, num_mel_bins)``, in dB.

    Example:
        >>> log_mel_spectrogram(np.zeros(8000, np.float32) + 0.1).shape
        (101, 40)
    """
    owner = "log_mel_spectrogram"
    check.integer(owner, "sample_rate", sample_rate, 1, 10**6)
    check.integer(owner, "fft_length", fft_length, 2, 2**20)
    check.integer(owner, "frame_length", frame_length, 1, fft_length)
    check.integer(owner, "frame_step", frame_step, 1, 2**20)
    check.integer(owner, "num_mel_bins", num_mel_bins, 1, fft_length // 2)
    max_freq = sample_rate / 2 if max_freq is None else max_freq
    if not 0.0 <= min_freq < max_freq <= sample_rate / 2:
        raise ValueError(f"{owner}: need 0 <= `min_freq` < `max_freq` <= sample_rate / 2 = {sample_rate / 2} Hz, "
                         f"got min_freq={min_freq!r}, max_freq={max_freq!r}")
    if isinstance(audio, str) or not hasattr(audio, "__len__") and not hasattr(audio, "shape"):
        raise ValueError(f"{owner}: `audio` must be a float array (samples,) or (batch, samples), got {type(audio).__name__}")
    audio = np.asarray(audio)
    if audio.dtype.kind != "f":
        raise ValueError(f"{owner}: `audio` must hold floats (waveform in [-1, 1]), got dtype {audio.dtype}")
    if audio.ndim not in (1, 2):
        raise ValueError(f"{owner}: `audio` must have shape (samples,) or (batch, samples), got shape {audio.shape}")
    if audio.shape[-1] <= fft_length // 2 or audio.size == 0:
        raise ValueError(f"{owner}: `audio` is empty or too short: need more than fft_length // 2 = {fft_length // 2} "
                         f"samples, got shape {audio.shape}")
    if not np.all(np.isfinite(audio)):
        raise ValueError(f"{owner}: `audio` holds NaN or infinite values")
    x = audio.astype(np.float64)
    half = fft_length // 2
    x = np.pad(x, [(0, 0)] * (x.ndim - 1) + [(half, half)], mode="reflect")
    frames = np.lib.stride_tricks.sliding_window_view(x, fft_length, axis=-1)[..., ::frame_step, :]  # (..., frames, fft_length)
    hann = 0.5 - 0.5 * np.cos(2.0 * np.pi * np.arange(frame_length) / frame_length)  # periodic Hann
    left = (fft_length - frame_length) // 2
    window = np.zeros(fft_length)
    window[left:left + frame_length] = hann
    power = np.abs(np.fft.rfft(frames * window, n=fft_length, axis=-1)) ** 2
    energy = power @ mel_filter_bank(num_mel_bins, fft_length, sample_rate, min_freq, max_freq)
    return (10.0 * np.log10(np.maximum(energy, min_power))).astype(np.float32)
