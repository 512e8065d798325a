"""Small helpers every training notebook uses.

``forward`` runs a model once over a whole (small) array in inference mode and
returns NumPy. On the course's data sets this is faster than ``model.predict``,
which splits the data into batches and, on TensorFlow, traces a new function for
each new model.

``Restartable`` keeps one compiled model and restarts it for every run of an experiment
(new initial weights, a fresh optimizer state), so that Keras traces its training step
once instead of once per seed, method or label budget.
"""

from __future__ import annotations

import numpy as np


def forward(model, x, training: bool = False) -> np.ndarray:
    """``model(x, training=training)`` as a NumPy array: one pass over the whole array.

    Example:
        >>> forward(keras.Sequential([keras.layers.Dense(2)]), np.zeros((3, 4))).shape
        (3, 2)
    """
    import keras

    return keras.ops.convert_to_numpy(model(x, training=training))


def accuracy(model, x, y) -> float:
    """Fraction of rows of ``x`` whose highest-scoring class is ``y``.

    Raises:
        ValueError: ``x`` and ``y`` have different numbers of rows, or are empty.
    """
    y = np.asarray(y)
    rows = len(next(iter(x.values()))) if isinstance(x, dict) else len(x)  # a dict of inputs, as KerasHub models take
    if rows != len(y) or len(y) == 0:
        raise ValueError(f"accuracy: `x` and `y` must have the same, non-zero number of rows, got {rows} and {len(y)}")
    return float((forward(model, x).argmax(axis=-1) == y).mean())


class Restartable:
    """A compiled model restarted for each run: given weights and a fresh optimizer, without tracing again.

    Keras traces a model's training step the first time ``fit`` runs it, which takes
    seconds on a CPU; an experiment over seeds, label budgets or methods that compiled a new
    model for every run would pay that each time. ``Restartable`` compiles nothing itself:
    it records the optimizer's state at step 0 once, and ``restart`` puts the model back to
    any weights with that state (iteration 0, no momentum, the compiled learning rate), so
    the next ``fit`` is a fresh run that reuses the traced step. On TensorFlow it is the very
    run a newly compiled model would make; on JAX and PyTorch a shuffled ``fit`` takes its
    batches in another order (Keras shuffles a new model's first fit differently), the same
    run in distribution.

    Args:
        model: a compiled ``keras.Model``.

    Raises:
        ValueError: ``model`` is not compiled, or its optimizer has already taken steps.

    Example:
        >>> model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(1)])
        >>> model.compile(keras.optimizers.Adam(0.1), loss="mse")
        >>> runs = Restartable(model)
        >>> start = model.get_weights()
        >>> _ = model.fit(np.ones((8, 3)), np.ones((8, 1)), epochs=2, verbose=0)
        >>> int(model.optimizer.iterations), np.allclose(model.get_weights()[0], start[0])
        (2, False)
        >>> model = runs.restart(start)
        >>> int(model.optimizer.iterations), np.allclose(model.get_weights()[0], start[0])
        (0, True)
    """

    def __init__(self, model):
        if getattr(model, "optimizer", None) is None or not getattr(model, "compiled", False):
            raise ValueError(f"Restartable: `model` must be a compiled keras.Model, got {model!r} (call model.compile first)")
        import keras

        steps = int(keras.ops.convert_to_numpy(model.optimizer.iterations))
        if steps:
            raise ValueError(
                f"Restartable: `model`'s optimizer has already taken {steps} steps; its state is what a restart goes back "
                "to, so wrap the model right after model.compile, before it trains"
            )
        self.model = model
        if not model.optimizer.built:
            model.optimizer.build(model.trainable_variables)
        self._fresh = [keras.ops.convert_to_numpy(v) for v in model.optimizer.variables]

    def restart(self, weights=None, learning_rate=None):
        """The model with ``weights`` and the optimizer at step 0; returns the model.

        Args:
            weights: a list of arrays as ``model.get_weights()`` gives them, or a model or
                layer with the same weights to copy them from (for example a new instance
                built from another seed); None keeps the model's current weights.
            learning_rate: a constant learning rate for this run instead of the compiled one.
        """
        if weights is not None:
            self.model.set_weights(weights.get_weights() if hasattr(weights, "get_weights") else weights)
        self.model.optimizer.set_weights(self._fresh)
        if learning_rate is not None:
            self.model.optimizer.learning_rate = learning_rate
        return self.model
