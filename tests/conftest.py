import matplotlib
import pytest

from course_lib.env import allow_network, forbid_network

matplotlib.use("Agg")


@pytest.fixture(autouse=True, scope="session")
def no_network():
    """Unit tests never leave the machine: any non-loopback connect raises."""
    forbid_network()
    yield
    allow_network()


@pytest.fixture(autouse=True)
def close_figures():
    yield
    import matplotlib.pyplot as plt

    plt.close("all")


@pytest.fixture
def assert_keras_roundtrip(tmp_path):
    """Save a one-layer model to .keras, load it back, and check identical outputs."""
    import json

    import keras
    import numpy as np

    def check(layer, x, **call_kwargs):
        inputs = keras.Input(x.shape[1:], dtype=str(x.dtype))
        model = keras.Model(inputs, layer(inputs, **call_kwargs))
        expected = keras.ops.convert_to_numpy(model(x, training=False))
        path = tmp_path / f"{layer.name}.keras"
        model.save(path)
        loaded = keras.saving.load_model(path)
        assert type(loaded.layers[-1]) is type(layer)
        as_json = lambda config: json.loads(json.dumps(config))  # a .keras file stores tuples as lists
        assert as_json(loaded.layers[-1].get_config()) == as_json(layer.get_config())
        np.testing.assert_array_equal(keras.ops.convert_to_numpy(loaded(x, training=False)), expected)
        return loaded

    return check
