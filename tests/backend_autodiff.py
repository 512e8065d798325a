"""Gradients and a custom training step on whichever Keras backend the tests run under.

Keras 3 has no backend-neutral gradient API: a custom training loop is written the way
each backend's Keras guide writes it ("Writing a training loop from scratch in
TensorFlow / JAX / PyTorch"). These helpers are that, once, so that a test states what
it trains and runs unchanged under ``KERAS_BACKEND=tensorflow``, ``jax`` or ``torch``:

- TensorFlow: ``tf.GradientTape``;
- JAX: ``jax.value_and_grad`` of a stateless call (``keras.StatelessScope`` maps each
  variable to the traced value, as ``Layer.stateless_call`` does);
- PyTorch: ``torch.autograd.grad``.
"""

from __future__ import annotations

import keras


def value_and_grad(loss_fn, variables):
    """``(loss, gradients)`` of ``loss_fn()`` (no arguments; it reads ``variables``) w.r.t. ``variables``.

    ``variables`` are ``keras.Variable`` objects; the gradients come back as backend
    tensors in the same order.
    """
    variables = list(variables)
    backend = keras.backend.backend()
    if backend == "tensorflow":
        import tensorflow as tf

        with tf.GradientTape() as tape:
            loss = loss_fn()
        return loss, tape.gradient(loss, [v.value for v in variables])
    if backend == "jax":
        import jax

        def stateless(values):
            with keras.StatelessScope(state_mapping=list(zip(variables, values))):
                return loss_fn()

        return jax.value_and_grad(stateless)([v.value for v in variables])
    if backend == "torch":
        import torch

        loss = loss_fn()
        return loss, list(torch.autograd.grad(loss, [v.value for v in variables]))
    raise NotImplementedError(f"no gradients on the {backend!r} backend")


def train_step(loss_fn, variables, optimizer):
    """One step of gradient descent on ``loss_fn()`` with a Keras optimizer; returns the loss as a float."""
    variables = list(variables)
    loss, grads = value_and_grad(loss_fn, variables)
    optimizer.apply(grads, variables)
    return float(keras.ops.convert_to_numpy(loss))

