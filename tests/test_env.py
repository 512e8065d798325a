import random
import socket
import subprocess
import sys

import numpy as np
import pytest

import course_lib
from course_lib import env


def _draws():
    import keras

    return random.random(), np.random.rand(), float(keras.random.uniform((1,))[0])


def test_set_seed_makes_python_numpy_and_backend_repeatable():
    env.set_seed(123)
    first = _draws()
    env.set_seed(123)
    assert _draws() == first
    env.set_seed(124)
    assert _draws() != first


def test_set_seed_makes_layer_initialisation_repeatable():
    import keras

    weights = []
    for _ in range(2):
        env.set_seed(7)
        layer = keras.layers.Dense(4)
        layer.build((None, 3))
        weights.append(keras.ops.convert_to_numpy(layer.kernel))
    np.testing.assert_array_equal(weights[0], weights[1])


@pytest.mark.parametrize("bad, error", [(-1, ValueError), (1.5, TypeError), ("0", TypeError), (True, TypeError)])
def test_set_seed_rejects_bad_seeds(bad, error):
    with pytest.raises(error, match="seed"):
        env.set_seed(bad)


def test_environment_report_describes_this_machine():
    import keras

    report = env.environment_report()
    assert report.keras == keras.__version__
    assert report.backend == keras.backend.backend()
    assert report.course_lib == course_lib.__version__
    assert report.devices and any(d.startswith("CPU") for d in report.devices)
    assert report.colab is False
    text = str(report)
    for field in ("python", "keras", "backend", "devices", "accelerator", "colab"):
        assert field in text


def test_setup_notebook_seeds_prints_and_forbids_network_when_offline(monkeypatch, capsys):
    monkeypatch.setenv(env.OFFLINE_ENV_VAR, "1")
    env.allow_network()
    try:
        report = env.setup_notebook(seed=3)
        out = capsys.readouterr().out
        assert report.keras in out and "seed" in out and "3" in out
        with pytest.raises(env.NetworkAccessError, match="COURSE_LIB_OFFLINE"):
            socket.create_connection(("192.0.2.1", 80), timeout=1)
    finally:
        env.forbid_network()


def test_forbid_network_keeps_loopback_open():
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(1)
    try:
        client = socket.create_connection(server.getsockname(), timeout=2)
        client.close()
    finally:
        server.close()
    with pytest.raises(env.NetworkAccessError, match="203.0.113.5"):
        socket.create_connection(("203.0.113.5", 443), timeout=1)


def test_import_is_light():
    """Importing course_lib must not import Keras, a backend or matplotlib."""
    code = "import sys, course_lib; print(sorted(m for m in ('keras', 'tensorflow', 'jax', 'torch', 'matplotlib') if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip()
    assert out == "[]"


def test_lazy_submodules_and_unknown_attribute():
    assert course_lib.datasets.load_digits_split is not None
    with pytest.raises(AttributeError, match="no attribute 'nope'"):
        course_lib.nope  # noqa: B018


def test_version_matches_installed_metadata():
    import importlib.metadata

    assert importlib.metadata.version("course_lib") == course_lib.__version__
