"""Contrastive pretraining: two random views of each example, and a loss that matches them.

§2 of the article: pretrain a model on a large data set, then fine-tune it on a
specific task. Notebook 12 invents the pretraining task by reconstruction (masked
modelling, denoising) and, with this module, by *comparison* (SimCLR, Chen et al.
2020): draw two random **views** of every unlabelled example, and train the encoder so
that the two views of one example get similar codes and views of different examples
do not. Whatever survives every view-making nuisance is what the codes keep.

- :func:`smooth_noise` and :func:`random_views`: views of MNIST-1D signals, made with the
  nuisances of MNIST-1D's own generator (a circular shift, a scale, new correlated
  background noise, a shear, a little white noise). These are *oracle* invariances: the
  views undo exactly what the generator did to the digit templates, which makes the
  pretraining optimistic compared with real data, where the nuisances are unknown and
  views come from generic augmentations (crops, jitter, masking) or from natural pairs.
- :func:`info_nce`: the InfoNCE (NT-Xent) loss of two batches of codes, ``keras.ops`` only,
  so it trains on TensorFlow, JAX and PyTorch.
- :func:`contrastive_model` and :func:`pretrain_contrastive`: an encoder with a small
  projector on two inputs, trained with fresh views every epoch; keep the encoder, drop
  the projector.
- :func:`pretrained_mnist1d_encoder`: notebook 12's recipe (:data:`MNIST1D_ENCODER`,
  :data:`MNIST1D_UNLABELLED`, :data:`MNIST1D_PRETRAINING`) run once and cached, so that the
  fine-tuning notebooks start from the encoder notebook 12 pretrained.
"""

from __future__ import annotations

import keras
import numpy as np
from keras import ops

from course_lib import _validation as check
from course_lib.pretraining import corrupt, _steps_per_call

#: The encoder of notebook 12's contrastive recipe: ``course_lib.ConvEncoder(**MNIST1D_ENCODER)``,
#: three convolution blocks (32, 64, 64 kernels of 5, max pooling), global average pooling, a dense
#: ``projection`` to 64 numbers.
MNIST1D_ENCODER = dict(filters=(32, 64, 64), kernel_size=5, spatial_dims=1, pool_size=2, output_dim=64)
#: Its unlabelled data: ``load_mnist1d(**MNIST1D_UNLABELLED)``, all 20,000 signals, labels unused
#: (notebook 12's unlabelled set; the labelled task is ``load_mnist1d()``, seed 42).
MNIST1D_UNLABELLED = dict(num_samples=20_000, seed=7)
#: Its pretraining: ``pretrain_contrastive(encoder, x, **MNIST1D_PRETRAINING)``; the encoder's random
#: start is drawn after ``course_lib.set_seed(MNIST1D_PRETRAINING["seed"])``.
MNIST1D_PRETRAINING = dict(epochs=4, batch_size=250, learning_rate=4e-3, temperature=0.2, seed=0)


def _rng(seed):
    return seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)


def _signals(owner: str, x) -> np.ndarray:
    """``x`` as a float32 array ``(n, length)`` or ``(n, length, 1)``, non-empty; raise naming ``x`` otherwise."""
    check.reject_text(owner, x, "x")
    x = np.asarray(x)
    if x.dtype == bool or x.dtype.kind not in "iuf":
        raise TypeError(f"{owner}: `x` must be a numeric (int or float) array, got dtype {x.dtype}")
    if not (x.ndim == 2 or (x.ndim == 3 and x.shape[2] == 1)) or x.shape[0] == 0 or x.shape[1] < 2:
        raise ValueError(f"{owner}: `x` must be a non-empty batch of signals (n, length) or (n, length, 1), got shape {x.shape}")
    return x.astype("float32")


def smooth_noise(shape, width: float = 1.1, seed=0) -> np.ndarray:
    """Correlated noise like MNIST-1D's background: white noise blurred by a Gaussian, circularly.

    Args:
        shape: ``(n, length)``.
        width: the standard deviation of the Gaussian blur, in samples (> 0); the kernel spans
            7 samples.
        seed: an int or a ``numpy.random.Generator``.

    Returns:
        float32 ``(n, length)`` with unit variance per sample; neighbouring samples are correlated.

    Example:
        >>> noise = smooth_noise((2000, 40), seed=0)
        >>> noise.shape, noise.dtype.name, round(float(noise.std()), 1)
        ((2000, 40), 'float32', 1.0)
        >>> bool(np.corrcoef(noise[:, 0], noise[:, 1])[0, 1] > 0.5)  # neighbours move together
        True
    """
    try:
        n, length = (int(s) for s in shape)
    except (TypeError, ValueError):
        raise ValueError(f"smooth_noise: `shape` must be (n, length), got {shape!r}") from None
    check.positive_int("smooth_noise", "shape[0]", n)
    check.positive_int("smooth_noise", "shape[1]", length)
    if isinstance(width, bool) or not isinstance(width, (int, float)) or not width > 0:
        raise ValueError(f"smooth_noise: `width` must be a number > 0, got {width!r}")
    offsets = np.arange(-3, 4)
    kernel = np.exp(-0.5 * (offsets / width) ** 2)
    kernel /= np.sqrt(np.sum(kernel**2))  # unit variance after the blur
    white = _rng(seed).normal(size=(n, length))
    return sum(k * np.roll(white, offset, axis=1) for offset, k in zip(offsets, kernel)).astype("float32")


def random_views(x, seed=0, scale=(0.75, 1.25), background: float = 0.4, shear: float = 2.0, white_noise: float = 0.1) -> np.ndarray:
    """A random view of each signal: MNIST-1D's own nuisances, drawn afresh.

    In this order: a circular shift by a uniform number of samples, a scale drawn from
    ``scale``, new background noise (:func:`smooth_noise` times ``background``), a shear
    (a linear trend from ``-s`` to ``s`` with ``s`` uniform in ``[-shear, shear]``) and white
    noise of ``white_noise`` (:func:`course_lib.pretraining.corrupt`). Each signal gets its
    own draw. They are the generator's nuisances, so a contrastive encoder trained on
    these views learns the invariances of MNIST-1D by construction (oracle invariances:
    an optimistic set-up).

    Args:
        x: signals ``(n, length)`` or ``(n, length, 1)``, numeric.
        seed: an int or a ``numpy.random.Generator`` (pass one Generator to draw a fresh
            view at every call).
        scale: ``(low, high)`` of the scale factor, ``0 < low <= high``.
        background, shear, white_noise: the sizes of those nuisances, each >= 0 (0 turns it off).

    Returns:
        float32, the shape of ``x``. The same ``seed`` gives the same views.

    Raises:
        ValueError: ``x`` of another shape or empty, or a bad nuisance size.
        TypeError: ``x`` not numeric.

    Example:
        >>> x = np.tile(np.sin(np.linspace(0, 6.28, 40)), (3, 1))
        >>> views = random_views(x, seed=0)
        >>> views.shape, views.dtype.name
        ((3, 40), 'float32')
        >>> np.array_equal(views, random_views(x, seed=0)), np.array_equal(views, random_views(x, seed=1))
        (True, False)
        >>> random_views(x[..., None], seed=0).shape  # a channel axis is kept
        (3, 40, 1)
    """
    signals = _signals("random_views", x)
    channel = signals.ndim == 3
    signals = signals[..., 0] if channel else signals
    try:
        low, high = (float(s) for s in scale)
    except (TypeError, ValueError):
        raise ValueError(f"random_views: `scale` must be (low, high), got {scale!r}") from None
    if not 0 < low <= high:
        raise ValueError(f"random_views: `scale` must be (low, high) with 0 < low <= high, got {scale!r}")
    for name, value in (("background", background), ("shear", shear), ("white_noise", white_noise)):
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not value >= 0:
            raise ValueError(f"random_views: `{name}` must be a number >= 0, got {value!r}")
    rng = _rng(seed)
    n, length = signals.shape
    shift = rng.integers(0, length, n)
    views = signals[np.arange(n)[:, None], (np.arange(length) - shift[:, None]) % length]  # circular shift
    views = views * rng.uniform(low, high, (n, 1))
    views = views + background * smooth_noise((n, length), seed=rng)
    views = views + rng.uniform(-shear, shear, (n, 1)) * np.linspace(-1, 1, length)  # a random linear trend
    views = corrupt(views, noise_std=white_noise, seed=rng)
    return views[..., None] if channel else views


def info_nce(codes_a, codes_b, temperature: float = 0.2):
    """The InfoNCE (NT-Xent) loss of paired codes: row ``i`` of ``codes_a`` must pick row ``i`` of ``codes_b``.

    With ``z_i`` and ``z'_i`` the L2-normalised rows and ``s_ij = z_i · z'_j / temperature``,

        L = ½ · mean_i [ logsumexp_j s_ij − s_ii ]  +  ½ · mean_j [ logsumexp_i s_ij − s_jj ]

    a cross-entropy over the ``n`` candidates read both ways. Guessing gives ``log n``;
    a perfect match drives it towards 0. Written with ``keras.ops`` only, so it is
    differentiable on every backend.

    Args:
        codes_a, codes_b: ``(n, d)`` codes of the two views of the same ``n`` examples, ``n >= 2``.
        temperature: > 0; smaller values sharpen the softmax.

    Returns:
        A scalar tensor of the backend.

    Raises:
        ValueError: shapes that are not the same ``(n, d)`` with ``n >= 2``, or ``temperature <= 0``.
        TypeError: text inputs.

    Example:
        >>> z = np.eye(4, dtype="float32")
        >>> matched = float(info_nce(z, z))             # every code is its partner's twin
        >>> shuffled = float(info_nce(z, z[[1, 2, 3, 0]]))
        >>> bool(matched < np.log(4) < shuffled)
        True
        >>> round(float(info_nce(z, np.ones((4, 4), "float32"))), 4) == round(float(np.log(4)), 4)  # no information
        True
    """
    if isinstance(temperature, bool) or not isinstance(temperature, (int, float)) or not temperature > 0:
        raise ValueError(f"info_nce: `temperature` must be a number > 0, got {temperature!r}")
    check.reject_text("info_nce", codes_a, "codes_a")
    check.reject_text("info_nce", codes_b, "codes_b")
    a, b = ops.convert_to_tensor(codes_a), ops.convert_to_tensor(codes_b)
    shape_a, shape_b = tuple(a.shape), tuple(b.shape)  # static shapes: None where a traced batch size is unknown
    same = len(shape_a) == len(shape_b) == 2 and all(p is None or q is None or p == q for p, q in zip(shape_a, shape_b))
    if not same:
        raise ValueError(f"info_nce: `codes_a` and `codes_b` must have the same shape (n, d), got {shape_a} and {shape_b}")
    if shape_a[0] is not None and shape_a[0] < 2:
        raise ValueError(f"info_nce: need at least 2 pairs (n >= 2) to contrast, got shape {shape_a}")
    if not keras.backend.standardize_dtype(a.dtype).startswith(("float", "bfloat")):
        a, b = ops.cast(a, "float32"), ops.cast(b, "float32")
    a = a / ops.maximum(ops.norm(a, axis=-1, keepdims=True), 1e-12)
    b = b / ops.maximum(ops.norm(b, axis=-1, keepdims=True), 1e-12)
    logits = ops.matmul(a, ops.transpose(b)) / temperature  # (n, n) similarities
    matched = ops.diagonal(logits)  # the partner of row i is column i
    a_picks_b = ops.mean(ops.logsumexp(logits, axis=1) - matched)
    b_picks_a = ops.mean(ops.logsumexp(logits, axis=0) - matched)
    return (a_picks_b + b_picks_a) / 2


def contrastive_model(encoder, input_shape, projection_dims=(64, 32), seed: int = 0, name: str = "contrastive_model"):
    """``encoder`` followed by a projector, on two views; outputs their projected codes stacked, ``(n, 2, d)``.

    As in SimCLR, the projector (a ReLU ``Dense(projection_dims[0])``, ..., then a linear
    ``Dense(projection_dims[-1])``) sits between the encoder and the loss and is thrown
    away after pretraining. Both views go through the same encoder and projector.

    Args:
        encoder: a layer or model mapping one example to a vector ``(d_code,)``.
        input_shape: the shape of one example, e.g. ``(40, 1)``.
        projection_dims: the projector's widths, at least one.
        seed: seeds the projector's initial weights.

    Returns:
        A ``keras.Model`` with inputs ``[view_1, view_2]`` and output ``(n, 2, projection_dims[-1])``.

    Example:
        >>> encoder = keras.Sequential([keras.layers.Flatten(), keras.layers.Dense(8)])
        >>> model = contrastive_model(encoder, (40,), projection_dims=(16, 4))
        >>> x = np.zeros((3, 40), "float32")
        >>> tuple(keras.ops.shape(model([x, x])))
        (3, 2, 4)
    """
    dims = check.positive_ints("contrastive_model", "projection_dims", projection_dims, allow_empty=False)
    layers = [
        keras.layers.Dense(width, activation=None if i == len(dims) - 1 else "relu",
                           kernel_initializer=keras.initializers.GlorotUniform(seed=seed + i))
        for i, width in enumerate(dims)
    ]
    projector = keras.Sequential(layers, name="projector")
    view_1, view_2 = keras.Input(tuple(input_shape), name="view_1"), keras.Input(tuple(input_shape), name="view_2")
    return keras.Model([view_1, view_2], ops.stack([projector(encoder(view_1)), projector(encoder(view_2))], axis=1), name=name)


def pretrain_contrastive(encoder, x, epochs: int = 5, batch_size: int = 250, learning_rate: float = 4e-3, temperature: float = 0.2,
                         projection_dims=(64, 32), view_kwargs=None, seed: int = 0, verbose: int = 0):
    """Contrastive pretraining of an encoder on unlabelled signals ``x``: match two random views of each.

    Fresh views (:func:`random_views`) are drawn for every epoch, so the encoder never
    sees the same pair twice. Each batch of ``batch_size`` signals is a classification
    with ``batch_size`` classes (:func:`info_nce`): guessing gives ``log(batch_size)``.
    Adam with a linear warm-up over the first half epoch, then cosine decay to 0
    (:func:`course_lib.finetuning.warmup_cosine`); one compiled call runs each epoch
    (one call per step on PyTorch, whose trainer allows no more).

    Args:
        encoder: maps one signal (the shape of ``x[0]``) to a vector; it is trained in place.
        x: unlabelled signals ``(n, length)`` or ``(n, length, 1)``, at least ``batch_size``
            of them (incomplete last batches are dropped, so every batch has as many
            candidates).
        epochs: passes over ``x``.
        batch_size: pairs per batch, >= 2.
        learning_rate: the peak learning rate.
        temperature: of :func:`info_nce`.
        projection_dims: of :func:`contrastive_model`.
        view_kwargs: extra arguments of :func:`random_views` (e.g. ``{"shear": 0}``).
        seed: seeds the views and the projector (seed the encoder yourself, e.g. with
            :func:`course_lib.set_seed` before building it).

    Returns:
        ``(model, history)``: the encoder with its projector on two views, and
        ``{"loss": [...]}``, the contrastive loss per epoch.

    Raises:
        ValueError: bad ``epochs`` or ``batch_size``, ``x`` of the wrong shape, or fewer
            signals than ``batch_size``.

    Example:
        >>> encoder = keras.Sequential([keras.layers.Flatten(), keras.layers.Dense(16)], name="encoder")
        >>> x = np.random.default_rng(0).normal(size=(64, 40)).astype("float32")
        >>> model, history = pretrain_contrastive(encoder, x, epochs=2, batch_size=32)
        >>> len(history["loss"]), [layer.name for layer in model.layers[2:]]
        (2, ['encoder', 'projector'])
    """
    from course_lib.finetuning import warmup_cosine

    check.positive_int("pretrain_contrastive", "epochs", epochs)
    check.positive_int("pretrain_contrastive", "batch_size", batch_size)
    if batch_size < 2:
        raise ValueError(f"pretrain_contrastive: `batch_size` must be at least 2 (a batch is what each pair is contrasted with), got {batch_size}")
    x = _signals("pretrain_contrastive", x)
    if len(x) < batch_size:
        raise ValueError(f"pretrain_contrastive: `x` has {len(x)} signals, fewer than one batch (`batch_size`={batch_size})")
    x = x[: len(x) // batch_size * batch_size]  # whole batches only
    steps = len(x) // batch_size
    model = contrastive_model(encoder, x.shape[1:], projection_dims, seed)
    schedule = warmup_cosine(learning_rate, total_steps=epochs * steps + 1, warmup_steps=max(1, steps // 2))
    loss = lambda _, codes: info_nce(codes[:, 0], codes[:, 1], temperature)  # noqa: E731 (the loss makes its own targets)
    model.compile(optimizer=keras.optimizers.Adam(schedule), loss=loss, steps_per_execution=_steps_per_call(steps))
    rng, losses, dummy = np.random.default_rng(seed), [], np.zeros(len(x), "float32")
    view_kwargs = dict(view_kwargs or {})
    for _ in range(epochs):
        views = [random_views(x, rng, **view_kwargs), random_views(x, rng, **view_kwargs)]
        losses += model.fit(views, dummy, batch_size=batch_size, epochs=1, shuffle=True, verbose=verbose).history["loss"]
    return model, {"loss": losses}


def _recipe_digest() -> str:
    import hashlib
    import json

    recipe = json.dumps([MNIST1D_ENCODER, MNIST1D_UNLABELLED, MNIST1D_PRETRAINING], sort_keys=True)
    return hashlib.sha256(recipe.encode()).hexdigest()[:10]


def pretrained_mnist1d_encoder(cache_dir=None, retrain: bool = False):
    """Notebook 12's contrastively pretrained MNIST-1D encoder, trained once and cached.

    The recipe is the module's three constants: a ``ConvEncoder(**MNIST1D_ENCODER)`` built
    after ``course_lib.set_seed(0)`` (so its random start is fixed), pretrained with
    ``pretrain_contrastive(encoder, x, **MNIST1D_PRETRAINING)`` on the 20,000 unlabelled
    signals of ``load_mnist1d(**MNIST1D_UNLABELLED)`` (labels not used). Notebook 12 runs it
    (``retrain=True``) and saves the encoder; notebooks 13 and later load that file, and
    where it is missing (a fresh Colab runtime that skipped notebook 12) train it here
    first, about 15 s on a 2-core CPU. The file name carries a digest of the recipe, so a
    changed recipe never loads an old encoder. Training calls ``course_lib.set_seed``, which
    reseeds Python, NumPy and Keras.

    Args:
        cache_dir: where the weights and the loss history are kept (``.npz``) (default
            ``~/.cache/course_lib``, as for ``load_mnist1d``); ``False`` to train without a cache.
        retrain: train even if a cached encoder exists (and overwrite it).

    Returns:
        ``(encoder, info)``: the trained ``ConvEncoder`` (``(n, 40, 1)`` signals to ``(n, 64)``
        codes) and ``{"loss": [...] per epoch, "seconds": training time, "loaded": bool}``.

    Raises:
        ValueError: a cache file that cannot be read (the message names it; delete it to retrain).

    Example:
        >>> MNIST1D_ENCODER["output_dim"], MNIST1D_PRETRAINING["epochs"], MNIST1D_UNLABELLED["num_samples"]
        (64, 4, 20000)
    """
    import time

    from course_lib.datasets import cache_file, load_mnist1d, read_cache, write_cache
    from course_lib.encoders import ConvEncoder
    from course_lib.env import set_seed

    def fresh_encoder():
        encoder = ConvEncoder(**MNIST1D_ENCODER, name="encoder")
        encoder.build((None, 40, 1))
        return encoder

    path = cache_file(cache_dir, f"mnist1d_contrastive_encoder_{_recipe_digest()}.npz")
    if path is not None and not retrain and path.is_file():
        encoder = fresh_encoder()

        def read(cached):
            encoder.set_weights([cached[f"weight_{i}"] for i in range(len(encoder.weights))])
            return {"loss": cached["loss"].tolist(), "seconds": float(cached["seconds"])}

        info = read_cache("pretrained_mnist1d_encoder", path, read)
        return encoder, {**info, "loaded": True}
    unlabelled = load_mnist1d(**MNIST1D_UNLABELLED)
    x = np.concatenate([unlabelled.x_train, unlabelled.x_test])[..., None]  # all signals; their labels are not used
    set_seed(MNIST1D_PRETRAINING["seed"])
    encoder = fresh_encoder()
    start = time.perf_counter()
    _, history = pretrain_contrastive(encoder, x, **MNIST1D_PRETRAINING)
    info = {"loss": [float(v) for v in history["loss"]], "seconds": time.perf_counter() - start}
    if path is not None:
        weights = {f"weight_{i}": np.asarray(w) for i, w in enumerate(encoder.get_weights())}
        write_cache(path, loss=np.asarray(info["loss"]), seconds=np.asarray(info["seconds"]), **weights)
    return encoder, {**info, "loaded": False}
