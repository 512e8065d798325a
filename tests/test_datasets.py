import numpy as np
import pytest

from course_lib.datasets import load_digits_split


def test_digits_split_shapes_range_and_types():
    split = load_digits_split()
    assert split.x_train.shape == (1437, 64) and split.x_test.shape == (360, 64)
    assert split.x_train.dtype == np.float32 and split.y_train.dtype == np.int64
    assert 0.0 <= split.x_train.min() and split.x_train.max() <= 1.0
    assert split.image_shape == (8, 8) and len(split.class_names) == 10
    x_train, x_test, y_train, y_test = split
    assert x_train is split.x_train and y_test is split.y_test


def test_digits_split_is_stratified_and_repeatable():
    split = load_digits_split(test_size=0.25, seed=1)
    train_share = np.bincount(split.y_train) / len(split.y_train)
    test_share = np.bincount(split.y_test) / len(split.y_test)
    np.testing.assert_allclose(train_share, test_share, atol=0.01)
    again = load_digits_split(test_size=0.25, seed=1)
    np.testing.assert_array_equal(split.x_test, again.x_test)
    other = load_digits_split(test_size=0.25, seed=2)
    assert not np.array_equal(split.x_test, other.x_test)


@pytest.mark.parametrize("bad", [0, 1, 1.5, -0.1, "0.2", True])
def test_digits_split_rejects_bad_test_size(bad):
    with pytest.raises(ValueError, match="test_size"):
        load_digits_split(test_size=bad)
