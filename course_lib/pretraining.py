"""Self-supervised pretraining objectives: labels made from the data itself.

§2 of the article: pretrain a model on a large data set, then fine-tune it on a
specific task. Without labels, the task is invented from the inputs:

- **masked modelling** (:func:`mask_spans`, :func:`masked_modeling_data`) for sequence
  encoders (Transformer, recurrent): hide spans of a sequence and predict them from the
  rest, as BERT does with words;
- **denoising** (:func:`corrupt`, :func:`denoising_data`) for dense and convolutional
  encoders: corrupt the input and reconstruct the clean one.

Both are written as data transformations plus ordinary Keras losses (masked
positions are selected by ``sample_weight``), so they train with ``model.fit`` on every
backend. :func:`reconstruction_model` puts a prediction head on an encoder.
"""

from __future__ import annotations

import keras
import numpy as np

from course_lib import _validation as check


def _rng(seed):
    return seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)


def mask_spans(shape, mask_rate: float = 0.15, span_length: int = 4, seed=0) -> np.ndarray:
    """A boolean mask ``(batch, steps)`` hiding random spans, near ``mask_rate`` of the steps.

    Each row gets ``round(mask_rate * steps / span_length)`` spans (at least one, so every
    example contributes to the loss) of ``span_length`` consecutive steps, each starting at
    a random position. Spans are placed independently and may overlap, and the number of
    spans is rounded, so the hidden fraction is near ``mask_rate`` but not equal to it: with
    20 steps and spans of 2, ``mask_rate=0.5`` hides about 41 % of the steps (5 spans,
    overlapping) and ``mask_rate=0.15`` about 19 % (2 spans); ``tests/test_pretraining.py``
    measures both.

    Args:
        shape: ``(batch, steps)``.
        mask_rate: sets the number of spans, as above; in (0, 1).
        span_length: length of each hidden span, at least 1 and at most ``steps``.
        seed: an int or a ``numpy.random.Generator``.
    """
    batch, steps = shape
    if not 0.0 < mask_rate < 1.0:
        raise ValueError(f"mask_spans: `mask_rate` must be in (0, 1), got {mask_rate!r}")
    check.positive_int("mask_spans", "span_length", span_length)
    if span_length > steps:
        raise ValueError(f"mask_spans: `span_length` ({span_length}) must be at most the number of steps ({steps})")
    rng = _rng(seed)
    spans = max(1, round(mask_rate * steps / span_length))
    starts = rng.integers(0, steps - span_length + 1, size=(batch, spans))
    mask = np.zeros((batch, steps), bool)
    offsets = np.arange(span_length)
    rows = np.repeat(np.arange(batch), spans * span_length)
    mask[rows, (starts[..., None] + offsets).reshape(-1)] = True
    return mask


def masked_modeling_data(x, mask_rate: float = 0.15, span_length: int = 4, seed=0):
    """Inputs, targets and weights for masked modelling of sequences ``x`` ``(batch, steps, features)``.

    Hidden steps are set to 0, and one channel is appended that is 1 at hidden steps,
    so the encoder knows what it must fill in.

    Returns:
        ``(inputs, targets, weights)``: ``inputs`` ``(batch, steps, features + 1)``,
        ``targets = x``, and ``weights`` ``(batch, steps)``, 1 at hidden steps and 0
        elsewhere: pass it as ``sample_weight`` so only hidden steps count in the loss.
    """
    x = np.asarray(x, dtype="float32")
    if x.ndim != 3 or x.shape[0] == 0:
        raise ValueError(f"masked_modeling_data: `x` must be a non-empty batch (batch, steps, features), got shape {x.shape}")
    mask = mask_spans(x.shape[:2], mask_rate, span_length, seed)
    inputs = np.where(mask[..., None], 0.0, x)
    inputs = np.concatenate([inputs, mask[..., None].astype("float32")], axis=-1)
    return inputs.astype("float32"), x, mask.astype("float32")


def corrupt(x, noise_std: float = 0.1, drop_rate: float = 0.0, seed=0, clip=None) -> np.ndarray:
    """Gaussian noise of ``noise_std`` plus, with ``drop_rate``, inputs set to 0 at random.

    Args:
        clip: optional ``(low, high)`` to keep values in range (e.g. ``(0, 1)`` for pixels).
    """
    if noise_std < 0 or not 0.0 <= drop_rate < 1.0:
        raise ValueError(f"corrupt: need noise_std >= 0 and 0 <= drop_rate < 1, got {noise_std!r} and {drop_rate!r}")
    x = np.asarray(x, dtype="float32")
    rng = _rng(seed)
    noisy = x + rng.normal(0.0, noise_std, x.shape) if noise_std else x.copy()
    if drop_rate:
        noisy = np.where(rng.random(x.shape) < drop_rate, 0.0, noisy)
    if clip is not None:
        noisy = np.clip(noisy, *clip)
    return noisy.astype("float32")


def denoising_data(x, noise_std: float = 0.1, drop_rate: float = 0.0, seed=0, clip=None):
    """``(corrupted, clean)``: train a model to map the first to the second."""
    x = np.asarray(x, dtype="float32")
    if x.size == 0:
        raise ValueError(f"denoising_data: `x` must not be empty, got shape {x.shape}")
    return corrupt(x, noise_std, drop_rate, seed, clip), x


def reconstruction_model(encoder, input_shape, output_shape, name: str = "pretraining_model"):
    """``encoder`` followed by a linear head predicting an array of ``output_shape`` per example.

    For masked modelling the encoder returns a sequence ``(steps, width)`` and the head
    predicts ``(steps, features)``; for denoising it returns a vector and the head
    predicts the flat input. After pretraining, keep ``encoder`` and drop the head.
    """
    inputs = keras.Input(tuple(input_shape))
    codes = encoder(inputs)
    size = int(np.prod(output_shape[-1:])) if len(codes.shape) == 3 else int(np.prod(output_shape))
    outputs = keras.layers.Dense(size, name="reconstruction_head")(codes)
    if len(codes.shape) == 2 and tuple(output_shape) != (size,):
        outputs = keras.layers.Reshape(tuple(output_shape))(outputs)
    return keras.Model(inputs, outputs, name=name)


def _steps_per_call(steps: int) -> int:
    """``steps_per_execution`` for an epoch of ``steps`` batches: all of them in one call into the
    backend (the same updates in the same order, without a Python round trip per batch); 1 on
    PyTorch, whose trainer runs one step per call."""
    return 1 if keras.backend.backend() == "torch" else steps


def pretrain_masked(encoder, x, epochs: int = 10, mask_rate: float = 0.15, span_length: int = 4, batch_size: int = 128,
                    learning_rate: float = 1e-3, seed: int = 0, verbose: int = 0, model=None):
    """Masked-modelling pretraining of a sequence encoder on unlabelled ``x`` ``(n, steps, features)``.

    A fresh span mask is drawn for every epoch, so the encoder never sees the same
    holes twice. The encoder must map ``(steps, features + 1)`` (the signal plus the
    "hidden" channel of :func:`masked_modeling_data`) to a sequence.

    Args:
        model: optionally, the model an earlier call returned for this same ``encoder``
            and input shape. It is trained again from the encoder's current weights with a
            new head and a fresh optimizer, as a new call would train it, but without
            tracing its training step a second time (seconds on a CPU). On TensorFlow the
            run is the new call's bit for bit; on JAX and PyTorch it agrees to float32
            rounding, and its batches come in another order (Keras shuffles a new model's
            first fit differently): an equivalent run, not the identical one.

    Returns:
        ``(model, history)``: the encoder with its reconstruction head, and the loss per
        epoch. Only hidden steps contribute to it, but Keras averages over all steps, so
        it equals the hidden-step mean squared error times the hidden fraction.

    Raises:
        ValueError: ``epochs`` is not a positive integer, or ``model`` was not made for
            ``encoder`` and this input shape.
    """
    from course_lib.training import Restartable

    check.positive_int("pretrain_masked", "epochs", epochs)
    x = np.asarray(x, dtype="float32")
    inputs, targets, weights = masked_modeling_data(x[:1], mask_rate, span_length, seed)
    fresh = reconstruction_model(encoder, inputs.shape[1:], targets.shape[1:])  # a new head, drawn as a new call draws it
    if model is None:
        model = fresh
        model.compile(optimizer=keras.optimizers.Adam(learning_rate), loss="mse")
        model._course_lib_restart = (Restartable(model), learning_rate)
    else:
        restart, compiled_rate = getattr(model, "_course_lib_restart", (None, None))
        if restart is None or encoder not in model.layers or tuple(model.input_shape[1:]) != tuple(inputs.shape[1:]):
            raise ValueError(
                f"pretrain_masked: `model` must be what an earlier pretrain_masked call returned for this `encoder` "
                f"({encoder.name}) and inputs of shape {tuple(inputs.shape[1:])}, got {model!r}"
            )
        # the compiled rate comes back with the optimizer's state; set a rate only if it changed
        restart.restart(fresh.get_weights(), learning_rate=None if learning_rate == compiled_rate else learning_rate)
    rng, losses = np.random.default_rng(seed), []
    for _ in range(epochs):
        inputs, targets, weights = masked_modeling_data(x, mask_rate, span_length, rng)
        losses += model.fit(inputs, targets, sample_weight=weights, epochs=1, batch_size=batch_size, verbose=verbose).history["loss"]
    return model, {"loss": losses}


def pretrain_denoising(encoder, x, epochs: int = 10, noise_std: float = 0.1, drop_rate: float = 0.0, batch_size: int = 128,
                       learning_rate: float = 1e-3, clip=None, seed: int = 0, verbose: int = 0):
    """Denoising pretraining of an encoder on unlabelled ``x``: reconstruct ``x`` from a corrupted copy.

    Every epoch reshuffles ``x`` and draws fresh noise; it trains on whole batches only,
    ``len(x) // batch_size`` of them, so each epoch leaves out a different random
    remainder of fewer than ``batch_size`` rows. The encoder must map one example to a vector.

    Returns:
        ``(model, history)``: the encoder with its reconstruction head, and the loss per epoch.

    Raises:
        ValueError: ``epochs`` or ``batch_size`` is not a positive integer, or ``x`` has
            fewer rows than one batch.
    """
    check.positive_int("pretrain_denoising", "epochs", epochs)
    check.positive_int("pretrain_denoising", "batch_size", batch_size)
    x = np.asarray(x, dtype="float32")
    if len(x) < batch_size:
        raise ValueError(f"pretrain_denoising: `x` has {len(x)} rows, fewer than one batch (`batch_size`={batch_size})")
    model = reconstruction_model(encoder, x.shape[1:], x.shape[1:])
    steps = len(x) // batch_size  # whole batches: each epoch leaves out a different random remainder
    model.compile(optimizer=keras.optimizers.Adam(learning_rate), loss="mse", steps_per_execution=_steps_per_call(steps))
    # Every epoch's shuffled rows and fresh noise are drawn here, so one `fit` call runs all the epochs
    # (a call per epoch would rebuild Keras' input pipeline each time, which costs more than the epoch).
    rng = np.random.default_rng(seed)
    rows = np.concatenate([rng.permutation(len(x))[: steps * batch_size] for _ in range(epochs)])
    noisy = np.concatenate([corrupt(x[part], noise_std, drop_rate, rng, clip) for part in np.split(rows, epochs)])
    history = model.fit(noisy, x[rows], batch_size=batch_size, epochs=epochs, steps_per_epoch=steps, shuffle=False, verbose=verbose)
    return model, {"loss": history.history["loss"]}
