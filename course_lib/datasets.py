"""Data sets of the course, all available offline.

``load_digits_split`` wraps scikit-learn's bundled 8x8 digits (1,797 images, shipped
inside scikit-learn, so nothing is downloaded): pixels scaled to [0, 1], a stratified
train/test split from :func:`sklearn.model_selection.train_test_split`.
"""

from __future__ import annotations

import dataclasses

import numpy as np


@dataclasses.dataclass(frozen=True)
class Split:
    """A train/test split. Images are flat float32 rows; labels are int64."""

    x_train: np.ndarray
    x_test: np.ndarray
    y_train: np.ndarray
    y_test: np.ndarray
    image_shape: tuple[int, ...]
    class_names: tuple[str, ...]

    def __iter__(self):
        """Unpack as ``x_train, x_test, y_train, y_test`` like scikit-learn's split."""
        return iter((self.x_train, self.x_test, self.y_train, self.y_test))


def load_digits_split(test_size: float = 0.2, seed: int = 0) -> Split:
    """scikit-learn's bundled digits, scaled to [0, 1] and split with stratification.

    Args:
        test_size: fraction of the 1,797 images held out, strictly between 0 and 1.
        seed: seed of the split, so every notebook sees the same test set.

    Returns:
        A :class:`Split` with ``x_*`` of shape ``(n, 64)`` (float32 in [0, 1]),
        ``y_*`` of shape ``(n,)`` (int64 in 0..9) and ``image_shape == (8, 8)``.

    Example:
        >>> split = load_digits_split()
        >>> split.x_train.shape, split.x_test.shape
        ((1437, 64), (360, 64))
    """
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    if isinstance(test_size, bool) or not isinstance(test_size, (int, float)) or not 0.0 < test_size < 1.0:
        raise ValueError(f"load_digits_split: `test_size` must be a fraction strictly between 0 and 1, got {test_size!r}")
    digits = load_digits()
    x = (digits.data / 16.0).astype("float32")  # pixel intensities are 0..16
    y = digits.target.astype("int64")
    x_train, x_test, y_train, y_test = train_test_split(x, y, test_size=test_size, random_state=seed, stratify=y)
    return Split(x_train, x_test, y_train, y_test, image_shape=(8, 8), class_names=tuple(str(i) for i in range(10)))
