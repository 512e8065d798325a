"""Fine-tuning tools (§3 step 5 of the article: 微调 — change the learning rate, the optimizer's settings).

- :func:`freeze` / :func:`unfreeze`: stop or restart training of layers by name.
  A frozen ``BatchNormalization`` also stops updating its moving statistics and
  normalises with them (Keras runs a non-trainable BatchNormalization in inference mode),
  which is what fine-tuning a pretrained network needs.
- :func:`gradual_unfreezing`: train in stages, unfreezing more layers at each stage
  (from the top down, as ULMFiT does).
- :func:`layerwise` optimizers: per-layer (discriminative) learning rates, a multiplier
  per layer name on top of the optimizer's schedule.
- :func:`enable_lora`: low-rank adapters through Keras' own ``Dense.enable_lora`` /
  ``EinsumDense.enable_lora``; the adapters train, the pretrained weights stay fixed,
  and a saved model holds the merged weights.
- :func:`warmup_cosine`: warm-up then cosine decay, ``keras.optimizers.schedules.CosineDecay``.

Checkpointing and resuming use ``keras.callbacks.BackupAndRestore`` as it is.
"""

from __future__ import annotations

import keras

from course_lib import _validation as check


def _all_layers(model):
    return [layer for layer in model._flatten_layers(include_self=False, recursive=True)]


def find_layers(model, names):
    """The layers of ``model`` (searched recursively) with the given names.

    Raises:
        ValueError: a name matches no layer; the message lists the names there are.
    """
    if isinstance(names, str):
        names = [names]
    layers = {}
    for layer in _all_layers(model):
        layers.setdefault(layer.name, layer)
    unknown = [n for n in names if n not in layers]
    if unknown:
        raise ValueError(f"unknown layer name(s) {unknown}; the model has layers {sorted(layers)}")
    return [layers[n] for n in names]


def _set_trainable(layer, value: bool):
    """``layer.trainable = value`` for the layer and every layer inside it.

    Assigning the value a layer already has does not reach the layers inside it, so
    each layer is set on its own.
    """
    for sub in layer._flatten_layers(include_self=True, recursive=True):
        if sub.trainable != value:
            sub.trainable = value


def freeze(model, names=None):
    """Make the named layers (all of ``model`` if ``names`` is None) non-trainable. Recompile afterwards."""
    for layer in [model] if names is None else find_layers(model, names):
        _set_trainable(layer, False)


def unfreeze(model, names=None):
    """Make the named layers (all of ``model`` if ``names`` is None) trainable, keeping the
    others as they are. Recompile afterwards.

    In Keras a layer trains only when every layer around it is trainable too, and
    setting ``trainable`` on a layer sets it on everything inside; so the layers that
    contain a named one are made trainable, and whatever else was frozen is frozen again.
    """
    if names is None:
        _set_trainable(model, True)
        return
    everything = _all_layers(model)
    targets = {id(sub) for layer in find_layers(model, names) for sub in layer._flatten_layers(include_self=True, recursive=True)}
    keep = targets | {id(layer) for layer in everything if layer.trainable}
    ancestors = {id(layer) for layer in everything if _contains(layer, targets)}
    _set_trainable(model, True)
    for layer in everything:  # outer layers come before the layers they contain
        if id(layer) not in keep and id(layer) not in ancestors and layer.trainable:
            layer.trainable = False


def _contains(layer, ids):
    return any(id(sub) in ids for sub in layer._flatten_layers(include_self=False, recursive=True))


def trainable_count(model) -> int:
    """Number of trainable parameters."""
    return int(sum(keras.ops.size(v) for v in model.trainable_weights))


def gradual_unfreezing(model, stages, compile_kwargs, x, y=None, **fit_kwargs):
    """Train in stages; before each, the listed layers are unfrozen and the model recompiled.

    Args:
        model: the model; layers not listed in any stage stay as they are.
        stages: a list of ``(epochs, layer_names)``: e.g. ``[(3, ["head"]), (3, ["block2"]),
            (3, ["block1"])]`` trains the head alone, then adds block2, then block1.
        compile_kwargs: arguments of ``model.compile`` (a fresh optimizer each stage:
            pass ``optimizer`` as a callable returning one, or a config string).
        x, y, fit_kwargs: passed to ``model.fit``.

    Returns:
        One dict of lists, like ``History.history``, over all stages, with an extra
        ``"trainable_params"`` entry per epoch.

    Raises:
        ValueError: a stage names an unknown layer, or has fewer than 1 epoch.
    """
    names_so_far = []
    for epochs, names in stages:
        check.positive_int("gradual_unfreezing", "epochs of a stage", epochs)
        find_layers(model, names)  # fail before any training
    history, epoch = {}, 0
    for epochs, names in stages:
        names_so_far += list(names)
        freeze(model)
        unfreeze(model, names_so_far)
        kwargs = dict(compile_kwargs)
        if callable(kwargs.get("optimizer")):
            kwargs["optimizer"] = kwargs["optimizer"]()
        model.compile(**kwargs)
        stage = model.fit(x, y, initial_epoch=epoch, epochs=epoch + epochs, **fit_kwargs).history
        for key, values in stage.items():
            history.setdefault(key, []).extend(values)
        history.setdefault("trainable_params", []).extend([trainable_count(model)] * epochs)
        epoch += epochs
    return history


_LAYERWISE = {}


def layerwise(optimizer_class):
    """An optimizer class like ``optimizer_class`` that scales the learning rate per layer.

    ``layerwise(keras.optimizers.Adam)(learning_rate=1e-3, multipliers={"fc1": 0.1})``
    updates every variable whose path contains a layer named ``fc1`` with a learning
    rate of ``1e-4`` and every other variable with ``1e-3``: discriminative learning
    rates, lower for the pretrained layers near the input. When several names match a
    variable, the innermost (the last in its path) wins. Works with any Keras optimizer
    whose ``update_step(gradient, variable, learning_rate)`` applies the learning rate
    (SGD, Adam, AdamW, RMSprop, ...), and with learning-rate schedules.

    Raises (when the optimizer first sees the variables):
        ValueError: a name in ``multipliers`` matches no variable.
    """
    if optimizer_class in _LAYERWISE:
        return _LAYERWISE[optimizer_class]

    class Layerwise(optimizer_class):
        def __init__(self, *args, multipliers=None, **kwargs):
            super().__init__(*args, **kwargs)
            self.multipliers = dict(multipliers or {})
            for name, factor in self.multipliers.items():
                if not isinstance(factor, (int, float)) or factor < 0:
                    raise ValueError(f"{type(self).__name__}: the multiplier of {name!r} must be a number >= 0, got {factor!r}")

        def build(self, var_list):
            paths = [v.path.split("/") for v in var_list]
            unknown = [n for n in self.multipliers if not any(n in p for p in paths)]
            if unknown:
                layer_names = sorted({part for p in paths for part in p[:-1]})
                raise ValueError(f"{type(self).__name__}: unknown layer name(s) {unknown} in `multipliers`; layers with variables: {layer_names}")
            self._factors = {}
            for variable, path in zip(var_list, paths):
                matches = [part for part in path[:-1] if part in self.multipliers]
                self._factors[self._var_key(variable)] = self.multipliers[matches[-1]] if matches else 1.0
            super().build(var_list)

        def update_step(self, gradient, variable, learning_rate):
            factor = self._factors.get(self._var_key(variable), 1.0)
            return super().update_step(gradient, variable, learning_rate * factor)

        def get_config(self):
            config = super().get_config()
            config["multipliers"] = self.multipliers
            return config

    Layerwise.__name__ = Layerwise.__qualname__ = f"Layerwise{optimizer_class.__name__}"
    registered = keras.saving.register_keras_serializable(package="course_lib")(Layerwise)
    _LAYERWISE[optimizer_class] = registered
    return registered


def enable_lora(model, rank: int, targets=None, alpha=None, train=()):
    """Add rank-``rank`` LoRA adapters to the model's Dense/EinsumDense layers; freeze all else.

    Each targeted layer's kernel :math:`W` is frozen and learns :math:`W + \\frac{\\alpha}{r} A B`
    with :math:`A` ``(in, r)`` and :math:`B` ``(r, out)``, :math:`B` starting at 0, so the
    model starts exactly where the pretrained one was.

    Args:
        rank: adapter rank ``r > 0``.
        targets: names of layers to adapt (a named layer's Dense/EinsumDense sublayers
            are all adapted); ``None`` for every Dense/EinsumDense of the model.
        alpha: LoRA scale (Keras' default: the rank).
        train: names of layers that stay fully trainable (e.g. a new head).

    Returns:
        The adapted layers. Recompile the model afterwards.

    Raises:
        ValueError: ``rank <= 0``, an unknown layer name, or nothing to adapt.
    """
    if isinstance(rank, bool) or not isinstance(rank, int) or rank <= 0:
        raise ValueError(f"enable_lora: `rank` must be a positive int, got {rank!r}")
    lora_types = (keras.layers.Dense, keras.layers.EinsumDense)
    roots = [model] if targets is None else find_layers(model, targets)
    keep = find_layers(model, train) if train else []
    keep_ids = {id(sub) for layer in keep for sub in layer._flatten_layers(include_self=True, recursive=True)}
    adapted = []
    for root in roots:
        for layer in root._flatten_layers(include_self=True, recursive=True):
            if isinstance(layer, lora_types) and id(layer) not in keep_ids and not layer.lora_enabled and layer not in adapted:
                adapted.append(layer)
    if not adapted:
        raise ValueError(f"enable_lora: no Dense or EinsumDense layer to adapt under {targets or 'the model'}")
    # Freeze at the level of variables: every layer stays "trainable", so that the adapters
    # inside them are collected, but no pretrained variable trains (except in `train` layers).
    _set_trainable(model, True)
    for variable in model.weights:
        variable.trainable = False
    for layer in keep:
        for variable in layer.weights:
            variable.trainable = True
    for layer in adapted:
        layer.enable_lora(rank, lora_alpha=alpha)  # new trainable A and B; the kernel stays frozen
    return adapted


def warmup_cosine(peak_learning_rate: float, total_steps: int, warmup_steps: int, final_fraction: float = 0.0):
    """Linear warm-up from 0 to ``peak_learning_rate`` over ``warmup_steps``, then cosine decay.

    A thin, checked front to ``keras.optimizers.schedules.CosineDecay`` (whose
    ``warmup_target``/``warmup_steps`` do the warm-up).

    Raises:
        ValueError: ``warmup_steps >= total_steps`` (the warm-up would outlast training),
            or non-positive sizes.
    """
    check.positive_int("warmup_cosine", "total_steps", total_steps)
    if isinstance(warmup_steps, bool) or not isinstance(warmup_steps, int) or warmup_steps < 0:
        raise ValueError(f"warmup_cosine: `warmup_steps` must be an int >= 0, got {warmup_steps!r}")
    if warmup_steps >= total_steps:
        raise ValueError(f"warmup_cosine: `warmup_steps` ({warmup_steps}) must be shorter than training (`total_steps`={total_steps})")
    if peak_learning_rate <= 0 or not 0.0 <= final_fraction <= 1.0:
        raise ValueError(f"warmup_cosine: need peak_learning_rate > 0 and 0 <= final_fraction <= 1, got {peak_learning_rate!r}, {final_fraction!r}")
    return keras.optimizers.schedules.CosineDecay(
        initial_learning_rate=0.0,
        decay_steps=total_steps - warmup_steps,
        alpha=final_fraction,
        warmup_target=peak_learning_rate,
        warmup_steps=warmup_steps,
    )
