"""The alphabet follows Keras' blank convention; the NumPy CTC loss is Keras' CTC loss; decoding and error rates."""

import itertools

import keras
import numpy as np
import pytest

from course_lib.ctc import BLANK, Alphabet, ctc_loss_reference, decode, greedy_collapse, word_error_rate
from course_lib.seq2seq import character_error_rate

rng = np.random.default_rng(0)


def log_softmax(x):
    x = x - x.max(axis=-1, keepdims=True)
    return x - np.log(np.exp(x).sum(axis=-1, keepdims=True))


# ------------------------------------------------------------------ alphabet


def test_alphabet_puts_the_blank_at_zero_and_round_trips():
    alphabet = Alphabet("0123456789")
    assert BLANK == 0 and alphabet.num_classes == 11 == len(alphabet) + 1
    labels = alphabet.encode("9007")
    assert labels == [10, 1, 1, 8] and 0 not in labels
    assert alphabet.decode(labels) == "9007"
    padded, lengths = alphabet.encode_batch(["12", "3", "456"], length=4)
    assert padded.dtype == np.int32 and lengths.dtype == np.int32
    assert padded.tolist() == [[2, 3, 0, 0], [4, 0, 0, 0], [5, 6, 7, 0]] and lengths.tolist() == [2, 1, 3]
    # keras.losses.CTC counts a label's length as its non-zero entries: the same lengths
    assert ((padded != 0).sum(axis=1) == lengths).all()
    assert [alphabet.decode(row) for row in padded] == ["12", "3", "456"]
    assert Alphabet("ab c") == Alphabet(list("ab c")) != Alphabet("abc")


@pytest.mark.parametrize(
    "call, error, message",
    [
        (lambda a: a.encode("12x4y"), ValueError, r"outside the alphabet.*\['x', 'y'\]"),
        (lambda a: a.encode(12), TypeError, "must be a string"),
        (lambda a: a.encode_batch(["123", "1"], length=2), ValueError, "3 characters, more than length=2"),
        (lambda a: a.encode_batch([]), ValueError, "must not be empty"),
        (lambda a: a.decode([3, 11]), ValueError, "label 11 is outside"),
    ],
)
def test_alphabet_refuses_what_it_cannot_encode(call, error, message):
    with pytest.raises(error, match=message):
        call(Alphabet("0123456789"))


@pytest.mark.parametrize(
    "characters, message", [("", "must not be empty"), ("abca", r"must not repeat.*\['a'\]"), (["ab", "c"], "single characters")]
)
def test_alphabet_refuses_bad_characters(characters, message):
    with pytest.raises(ValueError, match=message):
        Alphabet(characters)


# ------------------------------------------------------------------ the loss


def brute_force_ctc(log_probs, labels):
    """-log of the summed probability of every frame path that collapses to ``labels``."""
    frames, classes = log_probs.shape
    total = -np.inf
    for path in itertools.product(range(classes), repeat=frames):
        if greedy_collapse(np.array(path)) == list(labels):
            total = np.logaddexp(total, sum(log_probs[t, c] for t, c in enumerate(path)))
    return -total


@pytest.mark.parametrize("labels", [[1], [1, 2], [2, 2], [1, 2, 1], []])
def test_forward_recursion_sums_every_path(labels):
    log_probs = log_softmax(rng.normal(size=(5, 3)))
    np.testing.assert_allclose(ctc_loss_reference(log_probs, labels), brute_force_ctc(log_probs, labels), rtol=1e-10)


def test_reference_equals_keras_ctc_loss_and_ops_ctc_loss():
    """A batch with repeats (which need a blank between them) and different label and frame lengths."""
    alphabet = Alphabet("abcd")
    texts = ["abca", "dd", "b", "cabd"]
    labels, label_lengths = alphabet.encode_batch(texts)
    frames = 9
    logits = rng.normal(size=(len(texts), frames, alphabet.num_classes)).astype("float32") * 2
    expected = np.array([ctc_loss_reference(x, alphabet.encode(t)) for x, t in zip(logits, texts)])
    # keras.losses.CTC: all frames, blank 0, padding 0; reduction=None gives one loss per sequence
    keras_loss = keras.losses.CTC(reduction=None)(keras.ops.convert_to_tensor(labels), keras.ops.convert_to_tensor(logits))
    np.testing.assert_allclose(keras.ops.convert_to_numpy(keras_loss), expected, rtol=1e-4)
    # the default reduction averages over the batch
    mean = keras.losses.CTC()(keras.ops.convert_to_tensor(labels), keras.ops.convert_to_tensor(logits))
    np.testing.assert_allclose(float(keras.ops.convert_to_numpy(mean)), expected.mean(), rtol=1e-4)
    # keras.ops.ctc_loss with explicit, shorter frame lengths: the frames past them do not count
    frame_lengths = np.array([9, 4, 3, 7], dtype="int32")
    ops_loss = keras.ops.ctc_loss(
        keras.ops.convert_to_tensor(labels), keras.ops.convert_to_tensor(logits),
        keras.ops.convert_to_tensor(label_lengths), keras.ops.convert_to_tensor(frame_lengths), mask_index=0,
    )
    truncated = [ctc_loss_reference(x[:n], alphabet.encode(t)) for x, t, n in zip(logits, texts, frame_lengths)]
    np.testing.assert_allclose(keras.ops.convert_to_numpy(ops_loss), truncated, rtol=1e-4)


def test_reference_takes_logits_or_log_probs_and_returns_alpha():
    logits = rng.normal(size=(6, 4))
    loss, alpha = ctc_loss_reference(logits, [1, 3], return_alpha=True)
    assert loss == pytest.approx(ctc_loss_reference(log_softmax(logits), [1, 3]), rel=1e-12)
    assert alpha.shape == (6, 5)  # 2L + 1 states: _ 1 _ 3 _
    assert np.isneginf(alpha[0, 2:]).all()  # at frame 0 only "_" and "1" can have been read
    assert -np.logaddexp(alpha[-1, -1], alpha[-1, -2]) == pytest.approx(loss)


def test_a_transcript_that_cannot_fit_has_infinite_loss():
    # "aa" needs 3 frames (a _ a); 2 are not enough, while "ab" fits in 2
    log_probs = log_softmax(rng.normal(size=(2, 3)))
    assert ctc_loss_reference(log_probs, [1, 1]) == np.inf
    assert np.isfinite(ctc_loss_reference(log_probs, [1, 2]))


@pytest.mark.parametrize(
    "log_probs, labels, message",
    [
        (np.zeros((4,)), [1], r"shape \(frames, classes\)"),
        (np.zeros((4, 3)), [3], "classes in 0..2 other than the blank"),
        (np.zeros((4, 3)), [0, 1], "other than the blank 0"),
        (np.zeros((0, 3)), [1], "at least one frame"),
    ],
)
def test_reference_refuses_bad_input(log_probs, labels, message):
    with pytest.raises(ValueError, match=message):
        ctc_loss_reference(log_probs, labels)


# ------------------------------------------------------------------ decoding


def test_greedy_collapse_merges_repeats_before_dropping_blanks():
    assert greedy_collapse([0, 3, 3, 0, 3, 1, 1, 0]) == [3, 3, 1]
    assert greedy_collapse([2, 2, 2]) == [2]
    assert greedy_collapse([0, 0]) == []
    assert greedy_collapse(np.array([1, 2, 1])) == [1, 2, 1]
    with pytest.raises(ValueError, match="one path"):
        greedy_collapse(np.zeros((2, 3), dtype=int))


def test_greedy_decode_is_the_collapsed_best_path():
    alphabet = Alphabet("abc")
    logits = rng.normal(size=(6, 12, 4)).astype("float32") * 3
    lengths = np.array([12, 12, 7, 5, 1, 9])
    expected = [alphabet.decode(greedy_collapse(x[:n].argmax(axis=-1))) for x, n in zip(logits, lengths)]
    assert decode(logits, lengths, alphabet) == expected
    assert decode(keras.ops.convert_to_tensor(logits), keras.ops.convert_to_tensor(lengths), alphabet) == expected


def test_beam_search_finds_the_likelier_labelling_that_greedy_misses():
    """Two frames, P(blank) = 0.6 and P(a) = 0.4 in each: the best path "_ _" reads "" (0.36),
    but "a" is likelier: "a a", "a _", "_ a" sum to 0.64. Greedy says "", the beam says "a"."""
    alphabet = Alphabet("a")
    logits = np.log(np.array([[[0.6, 0.4], [0.6, 0.4]]], dtype="float32"))
    assert decode(logits, [2], alphabet) == [""]
    assert decode(logits, [2], alphabet, beam_width=4) == ["a"]
    assert np.exp(-ctc_loss_reference(logits[0], [1])) == pytest.approx(0.64, rel=1e-5)


def test_beam_search_agrees_with_greedy_on_confident_logits():
    alphabet = Alphabet("0123456789")
    paths = [[0, 4, 4, 0, 4, 2, 0, 0], [3, 0, 0, 1, 1, 1, 0, 0]]
    logits = np.eye(11, dtype="float32")[paths] * 8.0
    assert decode(logits, [8, 6], alphabet) == decode(logits, [8, 6], alphabet, beam_width=8) == ["331", "20"]


@pytest.mark.parametrize(
    "logits, lengths, kwargs, message",
    [
        (np.zeros((2, 5, 4)), [5, 5], {}, r"shape \(batch, frames, 3\)"),
        (np.zeros((2, 5)), [5, 5], {}, r"shape \(batch, frames, 3\)"),
        (np.zeros((2, 5, 3)), [5], {}, r"`lengths` must have shape \(2,\)"),
        (np.zeros((2, 5, 3)), [5, 6], {}, "must be in 1..5"),
        (np.zeros((2, 5, 3)), [5, 5], {"beam_width": 0}, "positive int"),
    ],
)
def test_decode_refuses_bad_input(logits, lengths, kwargs, message):
    with pytest.raises(ValueError, match=message):
        decode(logits, lengths, Alphabet("ab"), **kwargs)


# ------------------------------------------------------------------ error rates


def test_word_error_rate_counts_word_edits_over_reference_words():
    assert word_error_rate(["three one four"], ["three one four"]) == 0.0
    assert word_error_rate(["three one four", "two"], ["three four", "two"]) == pytest.approx(1 / 4)
    assert word_error_rate(["a b"], ["c d e"]) == pytest.approx(3 / 2)  # 2 substitutions + 1 insertion
    # the same number as the character error rate computed on word lists
    refs, hyps = ["one two three", "four five"], ["one too three", "for five six"]
    assert word_error_rate(refs, hyps) == pytest.approx(character_error_rate([r.split() for r in refs], [h.split() for h in hyps]))
    with pytest.raises(ValueError, match="as many hypotheses"):
        word_error_rate(["a"], [])
    with pytest.raises(ValueError, match="no words"):
        word_error_rate([""], ["a"])
