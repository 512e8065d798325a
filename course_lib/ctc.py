"""CTC helpers: an alphabet with a blank, the CTC loss by hand in NumPy, greedy collapse, decoding and word error rate.

Connectionist temporal classification (CTC) trains a model that emits one distribution
per frame, over the alphabet plus a *blank*, against a transcript that is much shorter
than the frames and not aligned with them. A frame path such as ``_33_1__4`` is read by
collapsing repeats (``_3_1_4``) and then dropping blanks (``314``); a doubled letter
needs a blank between its two copies (``3_3``). The loss is minus the log of the total
probability of every path that reads as the transcript, summed by a forward recursion
(:func:`ctc_loss_reference`), so no alignment is ever needed.

Keras' conventions, which :class:`Alphabet` follows (read in Keras 3's source):

- ``keras.losses.CTC`` hard-codes index **0** as the blank *and* as the padding of
  ``y_true``: a label's length is its number of non-zero entries, so no character may
  have index 0. It uses every frame of ``y_pred`` (all ``T`` of them) and takes
  logits (it applies the softmax itself). It returns one loss per sequence, averaged
  over the batch by the default reduction.
- ``keras.ops.ctc_loss(target, output, target_length, output_length, mask_index=0)``
  takes the lengths explicitly (frames past ``output_length`` are ignored);
  ``mask_index`` is the blank.
- ``keras.ops.ctc_decode(..., mask_index=0)`` returns label ids padded with ``-1``.

So an alphabet of ``n`` characters has ``n + 1`` classes: the blank is 0 and character
``i`` of the alphabet is label ``i + 1``.
"""

from __future__ import annotations

import numpy as np

from course_lib.seq2seq import edit_distance

BLANK = 0  # the blank's index, in keras.losses.CTC (fixed), keras.ops.ctc_loss and ctc_decode (mask_index=0)


class Alphabet:
    """Characters ↔ integer labels for CTC, with the blank at index 0 as Keras wants it.

    Args:
        characters: the characters of the transcripts, in order (a string or a
            sequence of one-character strings), without duplicates. Character ``i``
            gets label ``i + 1``; label 0 is the blank.

    Example:
        >>> alphabet = Alphabet("0123456789")
        >>> alphabet.num_classes
        11
        >>> alphabet.encode("303")
        [4, 1, 4]
        >>> labels, lengths = alphabet.encode_batch(["303", "42"])
        >>> labels.tolist(), lengths.tolist()
        ([[4, 1, 4], [5, 3, 0]], [3, 2])
        >>> alphabet.decode([4, 1, 4, 0, -1])
        '303'
    """

    def __init__(self, characters):
        characters = list(characters)
        if not characters:
            raise ValueError("Alphabet: `characters` must not be empty")
        bad = [c for c in characters if not isinstance(c, str) or len(c) != 1]
        if bad:
            raise ValueError(f"Alphabet: `characters` must be single characters, got {bad!r}")
        repeated = sorted({c for c in characters if characters.count(c) > 1})
        if repeated:
            raise ValueError(f"Alphabet: `characters` must not repeat, got {repeated!r} more than once")
        self.characters = "".join(characters)
        self._index = {c: i + 1 for i, c in enumerate(characters)}

    @property
    def num_classes(self) -> int:
        """Number of outputs a CTC model needs: the characters plus the blank."""
        return len(self.characters) + 1

    def __len__(self):
        return len(self.characters)

    def __repr__(self):
        return f"Alphabet({self.characters!r})"

    def __eq__(self, other):
        return isinstance(other, Alphabet) and other.characters == self.characters

    def encode(self, text: str) -> list[int]:
        """Labels of ``text``; raises a ValueError naming every character outside the alphabet."""
        if not isinstance(text, str):
            raise TypeError(f"Alphabet.encode: `text` must be a string, got {type(text).__name__}")
        unknown = sorted({c for c in text if c not in self._index})
        if unknown:
            raise ValueError(f"Alphabet.encode: `text` {text!r} has characters outside the alphabet {self.characters!r}: {unknown!r}")
        return [self._index[c] for c in text]

    def encode_batch(self, texts, length: int | None = None):
        """``(labels, lengths)``: int32 ``(batch, length)`` padded with 0 (the blank), and int32 ``(batch,)``.

        ``length`` defaults to the longest text; a longer text raises.
        """
        encoded = [self.encode(t) for t in texts]
        if not encoded:
            raise ValueError("Alphabet.encode_batch: `texts` must not be empty")
        longest = max(len(e) for e in encoded)
        length = longest if length is None else length
        if longest > length:
            raise ValueError(f"Alphabet.encode_batch: a text has {longest} characters, more than length={length}")
        labels = np.zeros((len(encoded), length), dtype="int32")
        for row, e in zip(labels, encoded):
            row[: len(e)] = e
        return labels, np.array([len(e) for e in encoded], dtype="int32")

    def decode(self, labels) -> str:
        """The text of ``labels``; the blank (0) and ``ctc_decode``'s padding (-1) are skipped."""
        out = []
        for label in np.asarray(labels).reshape(-1).tolist():
            if label in (BLANK, -1):
                continue
            if not 1 <= label <= len(self.characters):
                raise ValueError(f"Alphabet.decode: label {label} is outside 0..{len(self.characters)} (0 is the blank)")
            out.append(self.characters[label - 1])
        return "".join(out)


def _log_softmax(x, axis=-1):
    x = np.asarray(x, dtype="float64")
    shifted = x - x.max(axis=axis, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(axis=axis, keepdims=True))


def ctc_loss_reference(log_probs, labels, blank: int = BLANK, return_alpha: bool = False):
    r"""The CTC loss of one sequence by the forward recursion, in NumPy (float64, log space).

    The transcript ``labels`` :math:`l_1 \dots l_L` is extended with blanks,
    :math:`z = (\_, l_1, \_, l_2, \dots, l_L, \_)` of length :math:`S = 2L + 1`.
    :math:`\alpha_t(s)` is the log-probability of all frame paths of length
    :math:`t + 1` that read as :math:`z_1 \dots z_s`:

    .. math::
        \alpha_0(0) = y_0(\_),\quad \alpha_0(1) = y_0(l_1),\quad
        \alpha_t(s) = y_t(z_s) + \operatorname{logsumexp}\big(\alpha_{t-1}(s), \alpha_{t-1}(s-1),
        [\alpha_{t-1}(s-2) \text{ if } z_s \ne \_ \text{ and } z_s \ne z_{s-2}]\big)

    (a path stays, moves on by one, or skips a blank between two different labels), and
    the loss is :math:`-\operatorname{logsumexp}(\alpha_{T-1}(S-1), \alpha_{T-1}(S-2))`:
    a path may end on the last label or on the blank after it.

    Args:
        log_probs: ``(frames, classes)`` per-frame log-probabilities, or logits: they
            are log-softmax-normalised here, which leaves log-probabilities unchanged
            and matches ``keras.losses.CTC``, which takes logits.
        labels: the transcript's labels (no blanks), e.g. ``Alphabet.encode(text)``.
        blank: index of the blank.
        return_alpha: also return :math:`\alpha`, ``(frames, 2L + 1)``.

    Returns:
        The loss (a float; ``inf`` when the transcript cannot fit in the frames), and
        :math:`\alpha` with ``return_alpha``.

    Example:
        >>> uniform = np.zeros((2, 3))  # 2 frames, blank + 2 characters, all equally likely
        >>> paths = ["11", "_1", "1_"]  # the three 2-frame paths that read "1"
        >>> round(ctc_loss_reference(uniform, [1]), 4), round(float(-np.log(len(paths) / 3**2)), 4)
        (1.0986, 1.0986)
    """
    lp = _log_softmax(log_probs)
    if lp.ndim != 2:
        raise ValueError(f"ctc_loss_reference: `log_probs` must have shape (frames, classes), got shape {lp.shape}")
    frames, classes = lp.shape
    labels = [int(v) for v in np.asarray(labels, dtype="int64").reshape(-1)]
    bad = [v for v in labels if not 0 <= v < classes or v == blank]
    if bad:
        raise ValueError(f"ctc_loss_reference: `labels` must be classes in 0..{classes - 1} other than the blank {blank}, got {bad}")
    if not 0 <= blank < classes:
        raise ValueError(f"ctc_loss_reference: `blank` must be in 0..{classes - 1}, got {blank}")
    z = [blank]
    for v in labels:
        z += [v, blank]
    size = len(z)
    alpha = np.full((frames, size), -np.inf)
    if frames == 0:
        raise ValueError("ctc_loss_reference: `log_probs` must have at least one frame")
    alpha[0, 0] = lp[0, blank]
    if size > 1:
        alpha[0, 1] = lp[0, z[1]]
    for t in range(1, frames):
        for s in range(size):
            terms = [alpha[t - 1, s]]
            if s >= 1:
                terms.append(alpha[t - 1, s - 1])
            if s >= 2 and z[s] != blank and z[s] != z[s - 2]:
                terms.append(alpha[t - 1, s - 2])
            alpha[t, s] = np.logaddexp.reduce(terms) + lp[t, z[s]]
    ends = alpha[-1, -1] if size == 1 else np.logaddexp(alpha[-1, -1], alpha[-1, -2])
    loss = float(-ends)
    return (loss, alpha) if return_alpha else loss


def greedy_collapse(frame_ids, blank: int = BLANK) -> list[int]:
    """Read a frame path: collapse repeated ids, then drop blanks (``[0, 3, 3, 0, 3, 1, 1]`` → ``[3, 3, 1]``).

    Applied to the per-frame argmax (the best path) this is greedy CTC decoding.

    Example:
        >>> greedy_collapse([0, 3, 3, 0, 3, 1, 1, 0])
        [3, 3, 1]
    """
    ids = np.asarray(frame_ids)
    if ids.ndim != 1:
        raise ValueError(f"greedy_collapse: `frame_ids` must be one path of shape (frames,), got shape {ids.shape}")
    out, previous = [], None
    for i in ids.tolist():
        if i != previous and i != blank:
            out.append(int(i))
        previous = i
    return out


def decode(logits, lengths, alphabet: Alphabet, beam_width: int = 1) -> list[str]:
    """Transcripts of a batch of per-frame logits with ``keras.ops.ctc_decode``: greedy, or beam search.

    Args:
        logits: ``(batch, frames, alphabet.num_classes)`` logits (blank at 0), a
            NumPy array or a backend tensor.
        lengths: ``(batch,)`` number of real frames of each sequence (for a
            :class:`course_lib.speech_encoder.SpeechEncoder`, ``output_frames`` of the
            number of samples).
        alphabet: the :class:`Alphabet` the model was trained with.
        beam_width: 1 for greedy decoding (the best path, collapsed), more for beam
            search over collapsed prefixes (``strategy="beam_search"``).

    Returns:
        One string per sequence.

    Example:
        >>> alphabet = Alphabet("ab")
        >>> path = [1, 1, 0, 2, 0]  # "a a _ b _"
        >>> logits = np.eye(3)[path][None] * 10.0
        >>> decode(logits, [5], alphabet), decode(logits, [5], alphabet, beam_width=4)
        (['ab'], ['ab'])
    """
    import keras  # here, so that importing course_lib.ctc stays cheap

    if isinstance(beam_width, bool) or not isinstance(beam_width, int) or beam_width < 1:
        raise ValueError(f"decode: `beam_width` must be a positive int, got {beam_width!r}")
    logits = keras.ops.convert_to_tensor(logits, dtype="float32")
    if len(logits.shape) != 3 or logits.shape[-1] != alphabet.num_classes:
        raise ValueError(
            f"decode: `logits` must have shape (batch, frames, {alphabet.num_classes}) for {alphabet!r} "
            f"(its characters and the blank), got shape {tuple(logits.shape)}"
        )
    lengths = np.asarray(keras.ops.convert_to_numpy(lengths) if not isinstance(lengths, (list, tuple, np.ndarray)) else lengths)
    if lengths.shape != (logits.shape[0],):
        raise ValueError(f"decode: `lengths` must have shape ({logits.shape[0]},), got shape {lengths.shape}")
    if (lengths < 1).any() or (lengths > logits.shape[1]).any():
        raise ValueError(f"decode: `lengths` must be in 1..{logits.shape[1]} (the frames of `logits`), got {lengths.tolist()}")
    lengths = keras.ops.convert_to_tensor(lengths.astype("int32"))
    if beam_width == 1:
        decoded, _ = keras.ops.ctc_decode(logits, lengths, strategy="greedy", mask_index=BLANK)
    else:
        decoded, _ = keras.ops.ctc_decode(logits, lengths, strategy="beam_search", beam_width=beam_width, top_paths=1, mask_index=BLANK)
    return [alphabet.decode(row) for row in keras.ops.convert_to_numpy(decoded)[0]]


def word_error_rate(references, hypotheses) -> float:
    """Word edit distance summed over the pairs, divided by the number of reference words (0 is perfect).

    Words are the strings' whitespace-separated parts; the distance is
    :func:`course_lib.seq2seq.edit_distance` on the word lists (the character error
    rate is :func:`course_lib.seq2seq.character_error_rate`).

    Example:
        >>> word_error_rate(["three one four", "two"], ["three four", "two"])
        0.25
    """
    references, hypotheses = list(references), list(hypotheses)
    if len(references) != len(hypotheses) or not references:
        raise ValueError(f"word_error_rate: need as many hypotheses as references (> 0), got {len(hypotheses)} and {len(references)}")
    words = [r.split() for r in references]
    total = sum(len(w) for w in words)
    if total == 0:
        raise ValueError("word_error_rate: the references have no words")
    return sum(edit_distance(w, h.split()) for w, h in zip(words, hypotheses)) / total
