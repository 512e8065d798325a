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


@pytest.fixture
def keras_layer_test():
    """Keras' own layer test harness, ``keras.src.testing.TestCase.run_layer_test``, as KerasHub uses it.

    It builds the layer from a shape, calls it on symbolic and on eager inputs, checks the
    numbers of weights and seed generators, round-trips its config and its serialization,
    trains it for a step with ``model.fit`` (compiled, on TensorFlow and JAX), and calls it
    with ``dtype="mixed_float16"`` (not on PyTorch's CPU, which the harness skips).
    """
    from keras.src.testing import TestCase

    class Harness(TestCase):
        def runTest(self):  # unittest needs a test method to make an instance
            pass

    return Harness().run_layer_test


POLICY_TOLERANCE = {"mixed_float16": 1e-2, "mixed_bfloat16": 6e-2}


@pytest.fixture(params=sorted(POLICY_TOLERANCE))
def assert_mixed_precision(request):
    """Check a layer built with ``dtype=<mixed policy>`` (the fixture's parameter) against float32.

    ``check(make, *inputs)``: ``make(dtype)`` builds the layer (``dtype=None`` for float32).
    The mixed layer, given the float32 layer's weights, must hand its policy to every
    layer inside it, keep float32 variables, return outputs in the compute dtype, and
    agree with the float32 outputs within the precision of that dtype.
    """
    import keras
    import numpy as np

    policy = request.param

    def check(make, *inputs):
        reference = make(None)
        expected = keras.ops.convert_to_numpy(reference(*inputs))
        layer = make(policy)
        layer(*inputs)
        layer.set_weights(reference.get_weights())
        output = layer(*inputs)
        compute = keras.dtype_policies.get(policy).compute_dtype
        wrong = {
            sub.name: sub.dtype_policy.name
            for sub in layer._flatten_layers(include_self=True, recursive=True)
            if sub.dtype_policy.name != policy
        }
        assert not wrong, f"{type(layer).__name__}(dtype={policy!r}) left layers on other policies: {wrong}"
        assert keras.backend.standardize_dtype(output.dtype) == compute
        floats = {keras.backend.standardize_dtype(w.dtype) for w in layer.weights if "float" in str(w.dtype)}
        assert floats == {"float32"}, f"variables must stay float32 under {policy!r}, got {floats}"
        output = keras.ops.convert_to_numpy(keras.ops.cast(output, "float32"))
        tolerance = POLICY_TOLERANCE[policy] * max(1.0, float(np.abs(expected).max()))
        np.testing.assert_allclose(output, expected, atol=tolerance, rtol=0)
        return layer

    check.policy = policy
    return check
