r"""The article's formulas in NumPy, written to be read side by side with them.

§4 of the article gives three formulas; each has a function here, with the same
symbols, and a test showing it equals the matching Keras layer given the same weights:

=====================================================  ===============================
formula (seed §4)                                      function (Keras layer)
=====================================================  ===============================
:math:`h = f(Wx + b)`                                  :func:`dense` (``Dense``)
:math:`h[i,j,k] = f((W * x)[i,j,k] + b[k])`            :func:`conv2d` (``Conv2D``), :func:`conv1d` (``Conv1D``)
:math:`h_t = f(W_{hh} h_{t-1} + W_{xh} x_t + b_h)`     :func:`rnn` (``SimpleRNN``)
gated recurrences (beyond §4)                          :func:`gru` (``GRU``), :func:`lstm` (``LSTM``)
=====================================================  ===============================

Conventions. Vectors are rows, batched along the first axis, so the formula's
:math:`Wx` (``W`` of shape ``(out, in)`` acting on a column ``x``) is ``x @ W.T`` on a
batch. Keras stores the transpose: ``Dense.kernel`` is ``W.T`` of shape ``(in, out)``;
``SimpleRNN`` keeps ``W_xh.T`` as ``kernel`` and ``W_hh.T`` as ``recurrent_kernel``.
``GRU`` and ``LSTM`` do the same with their gates' weights stacked, in the order
z, r, h̃ (GRU) and i, f, c, o (LSTM).
Convolution kernels use Keras' layout ``(kh, kw, in_channels, out_channels)`` and, as
in every deep-learning library, "convolution" means cross-correlation (the kernel is
not flipped).

Step 4 of §3, the backward pass, is here too: :func:`dense_backward` and
:func:`rnn_backward` (through time), checked against autodiff and finite differences
in the tests, and :func:`gradient_descent_step` for step 4's update.
"""

from __future__ import annotations

import numpy as np

# ---------------------------------------------------------------- activations f


def relu(z):
    """ReLU, :math:`f(z) = \\max(0, z)` (FAQ Q3)."""
    return np.maximum(z, 0.0)


def relu_grad(z):
    """:math:`f'(z)` of ReLU: 1 where ``z > 0``, else 0 (the subgradient 0 at 0, as Keras uses)."""
    return (np.asarray(z) > 0).astype(np.result_type(z, np.float32))


def sigmoid(z):
    """Sigmoid, :math:`f(z) = 1 / (1 + e^{-z})`, computed without overflow."""
    z = np.asarray(z, dtype=np.result_type(z, np.float32))
    out = np.empty_like(z)
    positive = z >= 0
    out[positive] = 1.0 / (1.0 + np.exp(-z[positive]))
    e = np.exp(z[~positive])
    out[~positive] = e / (1.0 + e)
    return out


def sigmoid_grad(z):
    """:math:`f'(z) = f(z)(1 - f(z))` of the sigmoid."""
    s = sigmoid(z)
    return s * (1.0 - s)


def tanh(z):
    """Hyperbolic tangent, the RNN's usual :math:`f`."""
    return np.tanh(z)


def tanh_grad(z):
    """:math:`f'(z) = 1 - \\tanh^2(z)`."""
    return 1.0 - np.tanh(z) ** 2


def identity(z):
    """No activation: :math:`f(z) = z`."""
    return np.asarray(z)


def identity_grad(z):
    return np.ones_like(np.asarray(z, dtype=np.result_type(z, np.float32)))


ACTIVATIONS = {
    "relu": (relu, relu_grad),
    "sigmoid": (sigmoid, sigmoid_grad),
    "tanh": (tanh, tanh_grad),
    "linear": (identity, identity_grad),
}


def activation(name: str):
    """``(f, f')`` for an activation name: one of ``relu``, ``sigmoid``, ``tanh``, ``linear``."""
    if name not in ACTIVATIONS:
        raise ValueError(f"activation: `name` must be one of {sorted(ACTIVATIONS)}, got {name!r}")
    return ACTIVATIONS[name]


# ------------------------------------------------------------- initialisation


def glorot_uniform(fan_in: int, fan_out: int, rng: np.random.Generator, shape=None):
    """Glorot/Xavier uniform: :math:`U(-l, l)`, :math:`l = \\sqrt{6 / (\\text{fan\\_in} + \\text{fan\\_out})}`.

    Keeps the variance of activations and gradients about equal from layer to layer
    for tanh/sigmoid-like activations. Keras' default for ``Dense`` and ``Conv``.
    """
    limit = np.sqrt(6.0 / (fan_in + fan_out))
    return rng.uniform(-limit, limit, size=shape or (fan_out, fan_in)).astype(np.float32)


def he_normal(fan_in: int, fan_out: int, rng: np.random.Generator, shape=None):
    """He normal: :math:`N(0, 2 / \\text{fan\\_in})`, truncated at two standard deviations as Keras does.

    The factor 2 makes up for ReLU zeroing half of its inputs.
    """
    std = np.sqrt(2.0 / fan_in) / 0.87962566103423978  # std of a unit normal truncated to [-2, 2]
    size = shape or (fan_out, fan_in)
    draws = rng.normal(0.0, std, size=size)
    outside = np.abs(draws) > 2 * std
    while outside.any():  # redraw values outside two standard deviations
        draws[outside] = rng.normal(0.0, std, size=int(outside.sum()))
        outside = np.abs(draws) > 2 * std
    return draws.astype(np.float32)


# ------------------------------------------------------------ h = f(Wx + b)


def _as_batch(name, x, rank):
    x = np.asarray(x)
    if not np.issubdtype(x.dtype, np.number):
        raise TypeError(f"`{name}` must be numeric, got dtype {x.dtype}")
    if x.ndim not in (rank, rank + 1):
        raise ValueError(f"`{name}` must have rank {rank} (one example) or {rank + 1} (a batch), got shape {x.shape}")
    return x if x.ndim == rank + 1 else x[None], x.ndim == rank


def dense(x, W, b, f=identity):
    """The dense layer of §4: :math:`h = f(Wx + b)`.

    Args:
        x: input, shape ``(in,)`` or a batch ``(n, in)``.
        W: weights, shape ``(out, in)`` as in the formula (Keras' ``kernel`` is ``W.T``).
        b: bias, shape ``(out,)``.
        f: activation function, e.g. :func:`relu`.

    Returns:
        ``h`` of shape ``(out,)`` or ``(n, out)``.
    """
    x = np.asarray(x)
    W, b = np.asarray(W), np.asarray(b)
    if W.ndim != 2 or b.shape != (W.shape[0],):
        raise ValueError(f"dense: `W` must be (out, in) and `b` (out,), got {W.shape} and {b.shape}")
    if x.shape[-1] != W.shape[1]:
        raise ValueError(f"dense: `x` must have {W.shape[1]} features (W is {W.shape}), got shape {x.shape}")
    return f(x @ W.T + b)


def dense_backward(x, W, b, grad_h, f_grad=identity_grad):
    """Backward pass of :func:`dense` by the chain rule.

    With :math:`z = Wx + b` and :math:`h = f(z)`, given :math:`\\partial L/\\partial h`:
    :math:`\\delta = \\partial L/\\partial h \\odot f'(z)`,
    :math:`\\partial L/\\partial W = \\delta^T x`, :math:`\\partial L/\\partial b = \\sum \\delta`,
    :math:`\\partial L/\\partial x = \\delta W`.

    Args:
        x: the batch ``(n, in)`` the forward pass saw.
        W, b: the weights ``(out, in)`` and bias ``(out,)``.
        grad_h: :math:`\\partial L/\\partial h`, shape ``(n, out)``.
        f_grad: derivative of the activation, e.g. :func:`relu_grad`.

    Returns:
        ``(grad_W, grad_b, grad_x)`` with the shapes of ``W``, ``b`` and ``x``.
    """
    x = np.atleast_2d(x)
    z = x @ np.asarray(W).T + b
    delta = np.atleast_2d(grad_h) * f_grad(z)
    return delta.T @ x, delta.sum(axis=0), delta @ W


# ---------------------------------------------- h[i,j,k] = f((W * x)[i,j,k] + b[k])


def _same_padding(size, kernel, stride):
    """Padding before and after one axis for ``padding="same"``, as TensorFlow and Keras pad."""
    out = -(-size // stride)
    total = max((out - 1) * stride + kernel - size, 0)
    return total // 2, total - total // 2


def conv2d(x, W, b, f=identity, stride=1, padding="valid"):
    """The convolution of §4: :math:`h[i,j,k] = f((W * x)[i,j,k] + b[k])`, with

    .. math:: (W * x)[i,j,k] = \\sum_{u,v,c} W[u,v,c,k]\\; x[i s + u,\\; j s + v,\\; c]

    Args:
        x: image ``(H, W_in, C)`` or batch ``(n, H, W_in, C)``, channels last.
        W: kernels ``(kh, kw, C, K)``: ``K`` kernels, one per output channel ``k``.
        b: bias ``(K,)``.
        f: activation.
        stride: step ``s`` between kernel positions (an int or ``(sh, sw)``).
        padding: ``"valid"`` (no padding) or ``"same"`` (zero-pad so the output is
            ``ceil(size / s)`` along each axis).

    Returns:
        ``h`` of shape ``(H_out, W_out, K)`` or ``(n, H_out, W_out, K)``.
    """
    x, single = _as_batch("x", x, 3)
    W, b = np.asarray(W), np.asarray(b)
    if W.ndim != 4 or W.shape[2] != x.shape[-1] or b.shape != (W.shape[3],):
        raise ValueError(
            f"conv2d: `W` must be (kh, kw, {x.shape[-1]}, K) with `b` (K,), got W {W.shape} and b {b.shape}"
        )
    sh, sw = (stride, stride) if np.isscalar(stride) else stride
    kh, kw = W.shape[:2]
    if padding == "same":
        (top, bottom), (left, right) = _same_padding(x.shape[1], kh, sh), _same_padding(x.shape[2], kw, sw)
        x = np.pad(x, ((0, 0), (top, bottom), (left, right), (0, 0)))
    elif padding != "valid":
        raise ValueError(f"conv2d: `padding` must be 'valid' or 'same', got {padding!r}")
    out_h, out_w = (x.shape[1] - kh) // sh + 1, (x.shape[2] - kw) // sw + 1
    if out_h < 1 or out_w < 1:
        raise ValueError(f"conv2d: kernel {W.shape[:2]} is larger than the (padded) input {x.shape[1:3]}")
    h = np.empty((x.shape[0], out_h, out_w, W.shape[3]), dtype=np.result_type(x, W))
    for i in range(out_h):
        for j in range(out_w):
            patch = x[:, i * sh : i * sh + kh, j * sw : j * sw + kw, :]  # (n, kh, kw, C)
            h[:, i, j, :] = np.einsum("nuvc,uvck->nk", patch, W)  # sum over u, v, c for every k
    h = f(h + b)
    return h[0] if single else h


def conv1d(x, W, b, f=identity, stride=1, padding="valid"):
    """One-dimensional :func:`conv2d`: :math:`h[i,k] = f(\\sum_{u,c} W[u,c,k]\\, x[i s + u, c] + b[k])`.

    Args:
        x: signal ``(L, C)`` or batch ``(n, L, C)``; ``W``: ``(kl, C, K)``; ``b``: ``(K,)``.
    """
    x, single = _as_batch("x", x, 2)
    W = np.asarray(W)
    if W.ndim != 3:
        raise ValueError(f"conv1d: `W` must be (kl, C, K), got {W.shape}")
    # A signal is an image of height 1 (a height-1 kernel is never padded).
    h = conv2d(x[:, None], W[None], b, f, stride=(1, stride), padding=padding)[:, 0]
    return h[0] if single else h


# -------------------------------------------- h_t = f(W_hh h_{t-1} + W_xh x_t + b_h)


def rnn(x, W_xh, W_hh, b_h, h0=None, f=tanh):
    """The recurrence of §4: :math:`h_t = f(W_{hh} h_{t-1} + W_{xh} x_t + b_h)`, for t = 1..T.

    Args:
        x: sequence ``(T, in)`` or batch ``(n, T, in)``.
        W_xh: input weights ``(hidden, in)``; W_hh: recurrent weights ``(hidden, hidden)``;
        b_h: bias ``(hidden,)``.
        h0: initial state ``(hidden,)`` or ``(n, hidden)``; zeros by default.
        f: activation, ``tanh`` as in ``SimpleRNN``.

    Returns:
        All states ``h_1..h_T``: ``(T, hidden)`` or ``(n, T, hidden)``. The last one,
        ``[..., -1, :]``, is the encoding of the whole sequence.
    """
    x, single = _as_batch("x", x, 2)
    W_xh, W_hh = np.asarray(W_xh), np.asarray(W_hh)
    hidden = W_hh.shape[0]
    if W_hh.shape != (hidden, hidden) or W_xh.shape != (hidden, x.shape[-1]) or np.shape(b_h) != (hidden,):
        raise ValueError(
            f"rnn: need W_xh ({hidden}, {x.shape[-1]}), W_hh ({hidden}, {hidden}), b_h ({hidden},); "
            f"got {W_xh.shape}, {W_hh.shape}, {np.shape(b_h)}"
        )
    h = np.zeros((x.shape[0], hidden), dtype=np.result_type(x, W_xh)) if h0 is None else np.broadcast_to(h0, (x.shape[0], hidden))
    states = []
    for t in range(x.shape[1]):
        h = f(h @ W_hh.T + x[:, t] @ W_xh.T + b_h)
        states.append(h)
    states = np.stack(states, axis=1)
    return states[0] if single else states


def rnn_backward(x, W_xh, W_hh, b_h, grad_states, h0=None, f_grad=tanh_grad):
    """Backpropagation through time for :func:`rnn`.

    Walks the sequence backwards; at each step the gradient reaching :math:`h_t` is the
    loss's own :math:`\\partial L/\\partial h_t` plus what flows back from
    :math:`h_{t+1}` through :math:`W_{hh}`.

    Args:
        x, W_xh, W_hh, b_h, h0: as for :func:`rnn`, batched (``x`` is ``(n, T, in)``).
        grad_states: :math:`\\partial L/\\partial h_t` for every step, ``(n, T, hidden)``
            (zeros except the last step when only the final state is used).
        f_grad: derivative of the activation.

    Returns:
        ``(grad_W_xh, grad_W_hh, grad_b_h, grad_x)``.
    """
    x = np.asarray(x)
    n, steps, _ = x.shape
    hidden = W_hh.shape[0]
    h_prev = np.zeros((n, hidden), x.dtype) if h0 is None else np.broadcast_to(h0, (n, hidden))
    pre, inputs_h = [], []
    for t in range(steps):  # forward again, keeping the pre-activations z_t
        z = h_prev @ W_hh.T + x[:, t] @ W_xh.T + b_h
        pre.append(z)
        inputs_h.append(h_prev)
        h_prev = _activation_from_grad(f_grad)(z)
    grad_W_xh, grad_W_hh = np.zeros_like(W_xh, dtype=np.float64), np.zeros_like(W_hh, dtype=np.float64)
    grad_b, grad_x = np.zeros(hidden), np.zeros(x.shape)
    carry = np.zeros((n, hidden))
    for t in reversed(range(steps)):
        delta = (grad_states[:, t] + carry) * f_grad(pre[t])
        grad_W_xh += delta.T @ x[:, t]
        grad_W_hh += delta.T @ inputs_h[t]
        grad_b += delta.sum(axis=0)
        grad_x[:, t] = delta @ W_xh
        carry = delta @ W_hh
    return grad_W_xh, grad_W_hh, grad_b, grad_x


def _activation_from_grad(f_grad):
    for f, g in ACTIVATIONS.values():
        if g is f_grad:
            return f
    raise ValueError("rnn_backward: `f_grad` must be one of relu_grad, sigmoid_grad, tanh_grad, identity_grad")


# ------------------------------------------------- gated recurrences: GRU and LSTM


def _gated_shapes(name, x, W_x, W_h, gates, biases):
    """Check ``W_x (gates*hidden, in)``, ``W_h (gates*hidden, hidden)`` and each bias ``(gates*hidden,)``."""
    W_x, W_h = np.asarray(W_x), np.asarray(W_h)
    if W_h.ndim != 2 or W_h.shape[0] != gates * W_h.shape[1]:
        raise ValueError(f"{name}: `W_h` must be ({gates} * hidden, hidden), got {W_h.shape}")
    hidden = W_h.shape[1]
    if W_x.shape != (gates * hidden, x.shape[-1]):
        raise ValueError(f"{name}: `W_x` must be ({gates * hidden}, {x.shape[-1]}) = ({gates} * hidden, in), got {W_x.shape}")
    for bias_name, bias in biases.items():
        if np.shape(bias) != (gates * hidden,):
            raise ValueError(f"{name}: `{bias_name}` must be ({gates * hidden},) = ({gates} * hidden,), got {np.shape(bias)}")
    return W_x, W_h, hidden


def _initial_state(name, arg, state, n, hidden, dtype):
    if state is None:
        return np.zeros((n, hidden), dtype=dtype)
    if np.shape(state) not in ((hidden,), (n, hidden)):
        raise ValueError(f"{name}: `{arg}` must be ({hidden},) or ({n}, {hidden}), got {np.shape(state)}")
    return np.broadcast_to(np.asarray(state, dtype=dtype), (n, hidden))


def gru(x, W_x, W_h, b_x, b_h, h0=None, reset_after=True, return_gates=False):
    r"""The gated recurrent unit (Cho et al., 2014), with Keras' conventions, for t = 1..T:

    .. math::

        z_t &= \sigma(W_{xz} x_t + b_{xz} + W_{hz} h_{t-1} + b_{hz})          && \text{update gate} \\
        r_t &= \sigma(W_{xr} x_t + b_{xr} + W_{hr} h_{t-1} + b_{hr})          && \text{reset gate} \\
        \tilde h_t &= \tanh(W_{xh} x_t + b_{xh} + r_t \odot (W_{hh} h_{t-1} + b_{hh})) && \text{candidate} \\
        h_t &= z_t \odot h_{t-1} + (1 - z_t) \odot \tilde h_t

    ``z_t`` near 1 *keeps* the old state (Keras' convention; many textbooks write
    :math:`(1 - z_t) h_{t-1} + z_t \tilde h_t`, the same cell with ``z`` renamed ``1 - z``).
    ``reset_after=True`` (Keras' default, cuDNN's convention) applies :math:`r_t` after the
    recurrent matrix product, as above; ``reset_after=False`` is Cho et al.'s original,
    :math:`\tilde h_t = \tanh(W_{xh} x_t + W_{hh}(r_t \odot h_{t-1}) + b_{xh} + b_{hh})`,
    where Keras has a single bias (pass it as ``b_x`` and zeros as ``b_h``).

    Args:
        x: sequence ``(T, in)`` or batch ``(n, T, in)``.
        W_x: input weights ``(3 * hidden, in)``, the blocks of rows for z, r, h̃ in
            Keras' order (``GRU.kernel`` is ``W_x.T``).
        W_h: recurrent weights ``(3 * hidden, hidden)``, same order (``recurrent_kernel`` is ``W_h.T``).
        b_x, b_h: input and recurrent biases ``(3 * hidden,)`` (Keras' ``bias`` of shape
            ``(2, 3 * hidden)`` is ``[b_x, b_h]`` when ``reset_after=True``).
        h0: initial state ``(hidden,)`` or ``(n, hidden)``; zeros by default.
        reset_after: where the reset gate acts, as in ``keras.layers.GRU``.
        return_gates: also return the gates.

    Returns:
        All states ``h_1..h_T``, ``(T, hidden)`` or ``(n, T, hidden)``; with
        ``return_gates=True`` the pair ``(states, gates)``, ``gates`` a dict with ``"z"``,
        ``"r"`` and ``"h_tilde"`` of the same shape as the states.

    Example:
        >>> rng = np.random.default_rng(0)
        >>> x = rng.normal(size=(2, 5, 3))                            # 2 sequences, 5 steps, 3 inputs
        >>> W_x, W_h = rng.normal(size=(12, 3)), rng.normal(size=(12, 4))  # hidden = 4
        >>> states, gates = gru(x, W_x, W_h, np.zeros(12), np.zeros(12), return_gates=True)
        >>> states.shape, gates["z"].shape
        ((2, 5, 4), (2, 5, 4))
        >>> bool(np.all((gates["z"] > 0) & (gates["z"] < 1)))
        True
    """
    x, single = _as_batch("x", x, 2)
    W_x, W_h, hidden = _gated_shapes("gru", x, W_x, W_h, 3, {"b_x": b_x, "b_h": b_h})
    b_x, b_h = np.asarray(b_x), np.asarray(b_h)
    h = _initial_state("gru", "h0", h0, x.shape[0], hidden, np.result_type(x, W_x))
    u = slice(0, hidden), slice(hidden, 2 * hidden), slice(2 * hidden, 3 * hidden)  # z, r, h̃ blocks
    states, gates = [], {"z": [], "r": [], "h_tilde": []}
    for t in range(x.shape[1]):
        from_x = x[:, t] @ W_x.T + b_x  # (n, 3 * hidden): W_xz x_t + b_xz, W_xr x_t + b_xr, W_xh x_t + b_xh
        if reset_after:
            from_h = h @ W_h.T + b_h
            z = sigmoid(from_x[:, u[0]] + from_h[:, u[0]])
            r = sigmoid(from_x[:, u[1]] + from_h[:, u[1]])
            h_tilde = np.tanh(from_x[:, u[2]] + r * from_h[:, u[2]])
        else:
            from_x = from_x + b_h
            z = sigmoid(from_x[:, u[0]] + h @ W_h[u[0]].T)
            r = sigmoid(from_x[:, u[1]] + h @ W_h[u[1]].T)
            h_tilde = np.tanh(from_x[:, u[2]] + (r * h) @ W_h[u[2]].T)
        h = z * h + (1.0 - z) * h_tilde
        states.append(h)
        for name, value in (("z", z), ("r", r), ("h_tilde", h_tilde)):
            gates[name].append(value)
    return _stacked(states, gates, single, return_gates)


def _stacked(states, gates, single, return_gates):
    """The per-step lists of a gated loop as arrays ``(n, T, hidden)`` (or ``(T, hidden)`` for one sequence)."""
    states = np.stack(states, axis=1)
    gates = {name: np.stack(values, axis=1) for name, values in gates.items()}
    if single:
        states, gates = states[0], {name: value[0] for name, value in gates.items()}
    return (states, gates) if return_gates else states


def lstm(x, W_x, W_h, b, h0=None, c0=None, return_gates=False):
    r"""The long short-term memory cell (Hochreiter & Schmidhuber, 1997, with the forget
    gate of Gers et al., 2000), as ``keras.layers.LSTM`` computes it, for t = 1..T:

    .. math::

        i_t &= \sigma(W_{xi} x_t + W_{hi} h_{t-1} + b_i)   && \text{input gate} \\
        f_t &= \sigma(W_{xf} x_t + W_{hf} h_{t-1} + b_f)   && \text{forget gate} \\
        g_t &= \tanh(W_{xc} x_t + W_{hc} h_{t-1} + b_c)    && \text{candidate cell} \\
        o_t &= \sigma(W_{xo} x_t + W_{ho} h_{t-1} + b_o)   && \text{output gate} \\
        c_t &= f_t \odot c_{t-1} + i_t \odot g_t, \qquad h_t = o_t \odot \tanh(c_t)

    Args:
        x: sequence ``(T, in)`` or batch ``(n, T, in)``.
        W_x: input weights ``(4 * hidden, in)``, the blocks of rows for i, f, c, o in
            Keras' order (``LSTM.kernel`` is ``W_x.T``).
        W_h: recurrent weights ``(4 * hidden, hidden)``, same order (``recurrent_kernel`` is ``W_h.T``).
        b: bias ``(4 * hidden,)``, same order (Keras' ``bias``; ``unit_forget_bias`` only
            initialises its f block to 1).
        h0, c0: initial state and cell ``(hidden,)`` or ``(n, hidden)``; zeros by default.
        return_gates: also return the gates and the cells.

    Returns:
        All states ``h_1..h_T``, ``(T, hidden)`` or ``(n, T, hidden)``; with
        ``return_gates=True`` the pair ``(states, gates)``, ``gates`` a dict with ``"i"``,
        ``"f"``, ``"g"``, ``"o"`` and the cells ``"c"``, each shaped like the states.

    Example:
        >>> rng = np.random.default_rng(0)
        >>> x = rng.normal(size=(5, 3))                               # one sequence, 5 steps, 3 inputs
        >>> W_x, W_h = rng.normal(size=(16, 3)), rng.normal(size=(16, 4))  # hidden = 4
        >>> states, gates = lstm(x, W_x, W_h, np.zeros(16), return_gates=True)
        >>> states.shape, sorted(gates)
        ((5, 4), ['c', 'f', 'g', 'i', 'o'])
        >>> bool(np.allclose(states, gates["o"] * np.tanh(gates["c"])))
        True
    """
    x, single = _as_batch("x", x, 2)
    W_x, W_h, hidden = _gated_shapes("lstm", x, W_x, W_h, 4, {"b": b})
    b = np.asarray(b)
    dtype = np.result_type(x, W_x)
    h = _initial_state("lstm", "h0", h0, x.shape[0], hidden, dtype)
    c = _initial_state("lstm", "c0", c0, x.shape[0], hidden, dtype)
    states, gates = [], {"i": [], "f": [], "g": [], "o": [], "c": []}
    for t in range(x.shape[1]):
        a = x[:, t] @ W_x.T + h @ W_h.T + b  # (n, 4 * hidden): the blocks i, f, c, o
        i, f, g, o = (a[:, k * hidden : (k + 1) * hidden] for k in range(4))
        i, f, g, o = sigmoid(i), sigmoid(f), np.tanh(g), sigmoid(o)
        c = f * c + i * g
        h = o * np.tanh(c)
        states.append(h)
        for name, value in (("i", i), ("f", f), ("g", g), ("o", o), ("c", c)):
            gates[name].append(value)
    return _stacked(states, gates, single, return_gates)


# ---------------------------------------------------------------- step 4: update


def gradient_descent_step(params, grads, learning_rate: float):
    """One step of gradient descent: :math:`\\theta \\leftarrow \\theta - \\eta\\, \\partial L/\\partial \\theta`.

    Args:
        params, grads: sequences of arrays of matching shapes.
        learning_rate: :math:`\\eta > 0`.

    Returns:
        The new parameters (new arrays; the inputs are not modified).
    """
    if learning_rate <= 0:
        raise ValueError(f"gradient_descent_step: `learning_rate` must be > 0, got {learning_rate}")
    if len(params) != len(grads):
        raise ValueError(f"gradient_descent_step: {len(params)} params but {len(grads)} grads")
    for p, g in zip(params, grads):
        if np.shape(p) != np.shape(g):
            raise ValueError(f"gradient_descent_step: a gradient of shape {np.shape(g)} for a parameter of shape {np.shape(p)}")
    return [p - learning_rate * g for p, g in zip(params, grads)]
