"""Data sets of the course, all available offline.

``load_mnist1d`` generates MNIST-1D locally with the ``mnist1d`` package and caches it.

``load_digits_split`` wraps scikit-learn's bundled 8x8 digits (1,797 images, shipped
inside scikit-learn, so nothing is downloaded): pixels scaled to [0, 1], a stratified
train/test split from :func:`sklearn.model_selection.train_test_split`.

Both loaders take ``validation_size`` to carve a stratified validation split out of the
training data, leaving the test split untouched.

The cache helpers (:func:`default_cache_dir`, :func:`cache_file`, :func:`read_cache`,
:func:`write_cache`) are the one implementation every course_lib module that caches what it
generates uses: one place for the cache, atomic writes, and a damaged file named in the error.
"""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path

import numpy as np


@dataclasses.dataclass(frozen=True)
class Split:
    """A train/test split: inputs as flat float32 rows, labels int64, and the shape of one example
    (an image's ``(8, 8)``, a signal's ``(40,)``) in ``image_shape``.

    With ``validation_size`` the loaders also carve a validation split out of the
    training data (``x_val``, ``y_val``; otherwise None): every choice (epochs, learning
    rate, architecture) is made on it, and the test split is used once, at the end.
    """

    x_train: np.ndarray
    x_test: np.ndarray
    y_train: np.ndarray
    y_test: np.ndarray
    image_shape: tuple[int, ...]
    class_names: tuple[str, ...]
    x_val: np.ndarray | None = None
    y_val: np.ndarray | None = None

    def __iter__(self):
        """Unpack as ``x_train, x_test, y_train, y_test`` like scikit-learn's split."""
        return iter((self.x_train, self.x_test, self.y_train, self.y_test))


def _with_validation(split: Split, validation_size, seed: int, owner: str) -> Split:
    """``split`` with a stratified fraction ``validation_size`` of its training data moved to validation."""
    if validation_size is None:
        return split
    if isinstance(validation_size, bool) or not isinstance(validation_size, (int, float)) or not 0.0 < validation_size < 1.0:
        raise ValueError(f"{owner}: `validation_size` must be a fraction strictly between 0 and 1 or None, got {validation_size!r}")
    from sklearn.model_selection import train_test_split

    x_train, x_val, y_train, y_val = train_test_split(
        split.x_train, split.y_train, test_size=validation_size, random_state=seed, stratify=split.y_train
    )
    return dataclasses.replace(split, x_train=x_train, y_train=y_train, x_val=x_val, y_val=y_val)


def load_digits_split(test_size: float = 0.2, seed: int = 0, validation_size: float | None = None) -> Split:
    """scikit-learn's bundled digits, scaled to [0, 1] and split with stratification.

    Args:
        test_size: fraction of the 1,797 images held out, strictly between 0 and 1.
        seed: seed of the split, so every notebook sees the same test set.
        validation_size: if given, this fraction of the training images becomes the
            validation split (``x_val``, ``y_val``); the test split stays the same.

    Returns:
        A :class:`Split` with ``x_*`` of shape ``(n, 64)`` (float32 in [0, 1]),
        ``y_*`` of shape ``(n,)`` (int64 in 0..9) and ``image_shape == (8, 8)``.

    Example:
        >>> split = load_digits_split()
        >>> split.x_train.shape, split.x_test.shape
        ((1437, 64), (360, 64))
        >>> split = load_digits_split(validation_size=0.2)
        >>> split.x_train.shape, split.x_val.shape, split.x_test.shape
        ((1149, 64), (288, 64), (360, 64))
    """
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    if isinstance(test_size, bool) or not isinstance(test_size, (int, float)) or not 0.0 < test_size < 1.0:
        raise ValueError(f"load_digits_split: `test_size` must be a fraction strictly between 0 and 1, got {test_size!r}")
    digits = load_digits()
    x = (digits.data / 16.0).astype("float32")  # pixel intensities are 0..16
    y = digits.target.astype("int64")
    x_train, x_test, y_train, y_test = train_test_split(x, y, test_size=test_size, random_state=seed, stratify=y)
    split = Split(x_train, x_test, y_train, y_test, image_shape=(8, 8), class_names=tuple(str(i) for i in range(10)))
    return _with_validation(split, validation_size, seed, "load_digits_split")


#: The published MNIST-1D test accuracies (Greydanus & Kobak, 2020), 4,000 training examples.
MNIST1D_PUBLISHED_ACCURACY = {"logistic regression": 0.32, "MLP": 0.68, "CNN": 0.94, "GRU": 0.91, "human": 0.96}


def load_mnist1d(num_samples: int = 5000, seed: int = 42, cache_dir=None, validation_size: float | None = None) -> Split:
    """MNIST-1D, generated on this machine: 10 classes of 1-D signals of length 40.

    The ``mnist1d`` package's :func:`mnist1d.data.make_dataset` builds each signal
    from a digit template by padding, shearing, scaling, translating and adding
    correlated noise. Its defaults (``num_samples=5000``, ``seed=42``, 80 % for
    training) are the data set of the paper's table (:data:`MNIST1D_PUBLISHED_ACCURACY`).
    Nothing is downloaded: the package's download path is never used. The result is
    cached as ``.npz`` in ``cache_dir`` (default ``~/.cache/course_lib``), so the
    second call takes milliseconds.

    Args:
        num_samples: how many signals to generate in all (a multiple of 10).
        seed: the generator's seed.
        cache_dir: where to cache; ``False`` to neither read nor write a cache.
        validation_size: if given, this fraction of the training signals becomes the
            validation split (``x_val``, ``y_val``, stratified); the test split stays the same.

    Returns:
        A :class:`Split` with ``x_*`` float32 ``(n, 40)`` and ``y_*`` int64, ``image_shape == (40,)``.

    Raises:
        ValueError: a bad argument, or a corrupt cache file (the message names it).
    """
    if isinstance(num_samples, bool) or not isinstance(num_samples, int) or num_samples < 20 or num_samples % 10:
        raise ValueError(f"load_mnist1d: `num_samples` must be a multiple of 10, at least 20, got {num_samples!r}")
    path = cache_file(cache_dir, f"mnist1d_{num_samples}_{seed}.npz")
    if path is not None and path.is_file():
        arrays = read_cache("load_mnist1d", path, lambda cached: {key: cached[key] for key in ("x", "x_test", "y", "y_test")})
    else:
        from mnist1d.data import get_dataset_args, make_dataset

        args = get_dataset_args()
        args.num_samples, args.seed = num_samples, seed
        data = make_dataset(args)
        arrays = {key: np.asarray(data[key]) for key in ("x", "x_test", "y", "y_test")}
        if path is not None:
            write_cache(path, **arrays)
    split = Split(
        arrays["x"].astype("float32"),
        arrays["x_test"].astype("float32"),
        arrays["y"].astype("int64"),
        arrays["y_test"].astype("int64"),
        image_shape=(arrays["x"].shape[1],),
        class_names=tuple(str(i) for i in range(10)),
    )
    return _with_validation(split, validation_size, seed, "load_mnist1d")


def default_cache_dir() -> Path:
    """Where course_lib caches what it generates: ``$XDG_CACHE_HOME/course_lib``, else ``~/.cache/course_lib``.

    Example:
        >>> default_cache_dir().name
        'course_lib'
    """
    return Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "course_lib"


def cache_file(cache_dir, name: str) -> Path | None:
    """The path of cache file ``name`` in ``cache_dir`` (None: :func:`default_cache_dir`); None if ``cache_dir`` is False.

    Example:
        >>> cache_file("/tmp/c", "x.npz").as_posix(), cache_file(False, "x.npz")
        ('/tmp/c/x.npz', None)
    """
    if cache_dir is False:
        return None
    return (default_cache_dir() if cache_dir is None else Path(cache_dir)) / name


def read_cache(owner: str, path, read):
    """``read(arrays)`` on the ``.npz`` at ``path``; any failure means a damaged file and raises a ValueError naming it.

    ``read`` may raise itself (for example when the stored settings do not match the
    requested ones); its message ends up in the error. ``owner`` names the caller.

    Example:
        >>> import tempfile
        >>> path = Path(tempfile.mkdtemp()) / "bad.npz"
        >>> _ = path.write_bytes(b"not a zip file")
        >>> read_cache("demo", path, lambda arrays: arrays["x"])  # doctest: +ELLIPSIS
        Traceback (most recent call last):
        ValueError: demo: the cache file .../bad.npz is corrupt (...); delete it to regenerate
    """
    try:
        with np.load(path) as cached:
            return read(cached)
    except Exception as exc:  # zip, pickle, key, shape or content errors: all mean a damaged file
        raise ValueError(f"{owner}: the cache file {path} is corrupt ({exc!r}); delete it to regenerate") from exc


def write_cache(path, **arrays) -> None:
    """Save ``arrays`` as ``.npz`` at ``path`` atomically: to a temporary file, then renamed.

    A crash mid-write never leaves a half-written cache behind, and two processes writing
    the same file at once (two notebooks, two test workers) each rename a complete file.

    Example:
        >>> import tempfile
        >>> path = Path(tempfile.mkdtemp()) / "sub" / "x.npz"
        >>> write_cache(path, x=np.arange(3))
        >>> read_cache("demo", path, lambda arrays: arrays["x"].tolist()), [p.name for p in path.parent.iterdir()]
        ([0, 1, 2], ['x.npz'])
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f"{path.name}.{os.getpid()}.tmp.npz")
    np.savez(tmp, **arrays)
    tmp.replace(path)


def stratified_rows(y, n: int, seed: int = 0) -> np.ndarray:
    """The sorted row indices of a stratified draw of ``n`` of the labels ``y``: every class keeps its share.

    The few-label experiments (notebooks 13, 14, 17) draw their labelled training sets with
    it; ``seed`` picks the draw. ``n == len(y)`` gives every row. The draw is
    :func:`sklearn.model_selection.train_test_split` with ``stratify=y``.

    Raises:
        ValueError: ``y`` is empty, or ``n`` is not an integer between the number of classes and ``len(y)``.

    Example:
        >>> y = np.repeat(np.arange(3), 10)
        >>> rows = stratified_rows(y, 6, seed=1)
        >>> np.bincount(y[rows]).tolist(), len(stratified_rows(y, 30))
        ([2, 2, 2], 30)
    """
    from sklearn.model_selection import train_test_split

    y = np.asarray(y)
    if y.ndim != 1 or len(y) == 0:
        raise ValueError(f"stratified_rows: `y` must be a non-empty 1-D array of labels, got shape {y.shape}")
    classes = len(np.unique(y))
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or not classes <= n <= len(y):
        raise ValueError(f"stratified_rows: `n` must be an integer in [{classes}, {len(y)}] (one per class at least), got {n!r}")
    if n == len(y):
        return np.arange(len(y))
    rows, _ = train_test_split(np.arange(len(y)), train_size=int(n), stratify=y, random_state=seed)
    return np.sort(rows)
