from pathlib import Path

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


def test_mnist1d_is_generated_locally_cached_and_repeatable(tmp_path):
    from course_lib.datasets import load_mnist1d

    split = load_mnist1d(num_samples=200, seed=3, cache_dir=tmp_path)
    assert split.x_train.shape == (160, 40) and split.x_test.shape == (40, 40) and split.image_shape == (40,)
    assert split.x_train.dtype == np.float32 and set(np.unique(split.y_train)) == set(range(10))
    cached = list(tmp_path.glob("*.npz"))
    assert [p.name for p in cached] == ["mnist1d_200_3.npz"]
    again = load_mnist1d(num_samples=200, seed=3, cache_dir=tmp_path)  # from the cache
    np.testing.assert_array_equal(split.x_test, again.x_test)
    fresh = load_mnist1d(num_samples=200, seed=3, cache_dir=False)  # generated again, no cache
    np.testing.assert_array_equal(split.x_train, fresh.x_train)


def test_mnist1d_default_matches_the_paper_split():
    from course_lib.datasets import MNIST1D_PUBLISHED_ACCURACY, load_mnist1d

    split = load_mnist1d(cache_dir=False)
    assert split.x_train.shape == (4000, 40) and split.x_test.shape == (1000, 40)
    assert MNIST1D_PUBLISHED_ACCURACY["human"] == 0.96


def test_mnist1d_corrupt_cache_and_bad_arguments(tmp_path):
    from course_lib.datasets import load_mnist1d

    (tmp_path / "mnist1d_200_3.npz").write_bytes(b"not a zip file")
    with pytest.raises(ValueError, match="mnist1d_200_3.npz is corrupt.*delete it"):
        load_mnist1d(num_samples=200, seed=3, cache_dir=tmp_path)
    for bad in (15, 0, 2.5, True):
        with pytest.raises(ValueError, match="num_samples"):
            load_mnist1d(num_samples=bad, cache_dir=False)


def test_validation_split_comes_out_of_training_and_leaves_test_alone():
    plain = load_digits_split()
    split = load_digits_split(validation_size=0.25)
    np.testing.assert_array_equal(split.x_test, plain.x_test)
    assert len(split.x_train) + len(split.x_val) == len(plain.x_train) and len(split.x_val) == 360
    rows = lambda x: {r.tobytes() for r in x}
    assert rows(split.x_train) | rows(split.x_val) == rows(plain.x_train)
    assert not rows(split.x_val) & rows(split.x_test)
    np.testing.assert_allclose(np.bincount(split.y_val) / len(split.y_val), np.bincount(split.y_train) / len(split.y_train), atol=0.02)
    assert plain.x_val is None and plain.y_val is None
    assert len(tuple(split)) == 4  # unpacks as before: x_train, x_test, y_train, y_test


@pytest.mark.parametrize("bad", [0, 1, 1.2, "0.2", True])
def test_bad_validation_size_is_refused(bad):
    with pytest.raises(ValueError, match="validation_size"):
        load_digits_split(validation_size=bad)


def test_mnist1d_validation_split(tmp_path):
    from course_lib.datasets import load_mnist1d

    split = load_mnist1d(num_samples=200, seed=3, cache_dir=tmp_path, validation_size=0.25)
    assert split.x_train.shape == (120, 40) and split.x_val.shape == (40, 40) and split.x_test.shape == (40, 40)
    assert set(np.unique(split.y_val)) == set(range(10))


def test_cache_file_follows_xdg_and_can_be_switched_off(monkeypatch, tmp_path):
    from course_lib.datasets import cache_file, default_cache_dir

    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    assert default_cache_dir() == tmp_path / "course_lib"
    assert cache_file(None, "a.npz") == tmp_path / "course_lib" / "a.npz"
    assert cache_file(tmp_path / "elsewhere", "a.npz") == tmp_path / "elsewhere" / "a.npz"
    assert cache_file(False, "a.npz") is None
    monkeypatch.delenv("XDG_CACHE_HOME")
    assert default_cache_dir() == Path.home() / ".cache" / "course_lib"


def test_write_cache_is_atomic_and_read_cache_names_a_damaged_file(monkeypatch, tmp_path):
    from course_lib.datasets import read_cache, write_cache

    path = tmp_path / "deep" / "x.npz"
    write_cache(path, x=np.arange(4), y=np.ones(2))
    assert sorted(p.name for p in path.parent.iterdir()) == ["x.npz"]  # no temporary file left behind
    assert read_cache("demo", path, lambda arrays: arrays["x"].sum()) == 6

    def refuse(arrays):
        raise ValueError("its settings differ")

    with pytest.raises(ValueError, match=r"demo: the cache file .*x\.npz is corrupt .*its settings differ.*delete it"):
        read_cache("demo", path, refuse)
    with pytest.raises(ValueError, match=r"the cache file .*x\.npz is corrupt .*KeyError"):
        read_cache("demo", path, lambda arrays: arrays["missing"])

    def crash(file, **arrays):  # a crash mid-write: the old file must survive intact
        Path(file).write_bytes(b"half")
        raise OSError("disk full")

    monkeypatch.setattr(np, "savez", crash)
    with pytest.raises(OSError, match="disk full"):
        write_cache(path, x=np.zeros(4))
    monkeypatch.undo()
    assert read_cache("demo", path, lambda arrays: arrays["x"].tolist()) == [0, 1, 2, 3]


def test_stratified_rows_keep_every_class_share_and_refuse_impossible_sizes():
    from course_lib.datasets import load_mnist1d, stratified_rows

    y = load_mnist1d(cache_dir=False, validation_size=0.2).y_train
    rows = stratified_rows(y, 40, seed=3)
    assert len(rows) == 40 and len(set(rows)) == 40 and (np.diff(rows) > 0).all()
    assert np.bincount(y[rows], minlength=10).tolist() == [4] * 10  # MNIST-1D's classes are balanced
    assert not np.array_equal(rows, stratified_rows(y, 40, seed=4)) and np.array_equal(rows, stratified_rows(y, 40, seed=3))
    np.testing.assert_array_equal(stratified_rows(y, len(y)), np.arange(len(y)))
    for bad in (9, len(y) + 1, 2.5, True):
        with pytest.raises(ValueError, match=rf"stratified_rows: `n` must be an integer in \[10, {len(y)}\].*got {bad!r}"):
            stratified_rows(y, bad)
    with pytest.raises(ValueError, match="`y` must be a non-empty 1-D array"):
        stratified_rows([], 1)
