"""Feed-forward encoders: the article's §5 dense encoder, and convolutional encoders.

Both are Keras 3 layers written with ``keras`` and ``keras.ops`` only, so they run on
the TensorFlow, JAX and PyTorch backends, save to and load from ``.keras`` files, and
work under ``model.fit`` and in custom training loops. The recurrent encoder is in
:mod:`course_lib.recurrent`.
"""

from __future__ import annotations

import keras

from course_lib import _validation as check


@keras.saving.register_keras_serializable(package="course_lib")
class DenseEncoder(check.ChecksInputs, keras.layers.Layer):
    """The article's §5 ``Encoder`` (fc1 → ReLU → fc2), for any depth, activation and dropout.

    The article's PyTorch ``Encoder(input_dim, hidden_dim, output_dim)`` is
    ``DenseEncoder(output_dim, hidden_dims=(hidden_dim,), input_dim=input_dim)``:
    each hidden layer computes ``h = activation(W x + b)`` (then dropout while
    training), and the last layer is linear unless ``output_activation`` is set.

    Args:
        output_dim: size of the code, the encoder's output (the article's ``output_dim``).
        hidden_dims: sizes of the hidden layers, e.g. ``(128,)``; ``()`` for a single
            linear map. (The article has one hidden layer of ``hidden_dim``.)
        input_dim: if given, the number of input features the encoder accepts (the
            article's ``input_dim``); otherwise taken from the first input.
        activation: activation of the hidden layers (``"relu"`` as in the article).
        output_activation: activation of the code; ``None`` keeps it linear.
        dropout: dropout rate after each hidden activation, in [0, 1); only active
            when called with ``training=True``.
        kernel_initializer: initialiser of every weight matrix (Keras' default Glorot
            uniform; ``"he_normal"`` suits deep ReLU stacks, see notebook 02).

    Input shape:
        ``(batch, input_dim)``, numeric (integers are cast to float).

    Output shape:
        ``(batch, output_dim)``.

    Example:
        >>> encoder = DenseEncoder(output_dim=32, hidden_dims=(128,), input_dim=64)
        >>> keras.ops.shape(encoder(keras.ops.zeros((4, 64))))
        (4, 32)
        >>> encoder.count_params()  # 64*128 + 128 + 128*32 + 32, as counted by hand in notebook 06
        12448
    """

    def __init__(
        self,
        output_dim,
        hidden_dims=(128,),
        input_dim=None,
        activation="relu",
        output_activation=None,
        dropout=0.0,
        kernel_initializer="glorot_uniform",
        **kwargs,
    ):
        super().__init__(**kwargs)
        owner = type(self).__name__
        self.output_dim = check.positive_int(owner, "output_dim", output_dim)
        self.hidden_dims = check.positive_ints(owner, "hidden_dims", hidden_dims)
        self.input_dim = None if input_dim is None else check.positive_int(owner, "input_dim", input_dim)
        self.activation = keras.activations.get(activation)
        self.output_activation = keras.activations.get(output_activation)
        self.dropout = check.rate(owner, "dropout", dropout)
        self.kernel_initializer = keras.initializers.get(kernel_initializer)
        self.hidden_layers = [
            keras.layers.Dense(units, kernel_initializer=self.kernel_initializer, name=f"fc{i + 1}", dtype=self.dtype_policy)
            for i, units in enumerate(self.hidden_dims)
        ]
        self.dropout_layer = keras.layers.Dropout(self.dropout, dtype=self.dtype_policy) if self.dropout else None
        self.output_layer = keras.layers.Dense(
            self.output_dim,
            kernel_initializer=self.kernel_initializer,
            name=f"fc{len(self.hidden_dims) + 1}",
            dtype=self.dtype_policy,
        )

    def build(self, input_shape):
        owner = type(self).__name__
        shape = check.input_rank(owner, input_shape, 2, "(batch, features)")
        if shape[-1] is None:
            raise ValueError(f"{owner}: the feature axis of `inputs` must be known, got shape {shape}")
        if self.input_dim is not None and shape[-1] != self.input_dim:
            raise ValueError(f"{owner}: `inputs` must have input_dim={self.input_dim} features, got shape {shape}")
        self.input_dim = shape[-1]
        for layer in [*self.hidden_layers, self.output_layer]:
            layer.build(shape)
            shape = layer.compute_output_shape(shape)

    def call(self, inputs, training=None):
        owner = type(self).__name__
        x = check.call_input(owner, inputs, 2, "(batch, features)", self.input_dim, self.compute_dtype)
        for layer in self.hidden_layers:
            x = self.activation(layer(x))
            if self.dropout_layer is not None:
                x = self.dropout_layer(x, training=training)
        return self.output_activation(self.output_layer(x))

    def compute_output_shape(self, input_shape):
        return (*tuple(input_shape)[:-1], self.output_dim)

    def get_config(self):
        config = super().get_config()
        config.update(
            output_dim=self.output_dim,
            hidden_dims=list(self.hidden_dims),
            input_dim=self.input_dim,
            activation=keras.activations.serialize(self.activation),
            output_activation=keras.activations.serialize(self.output_activation),
            dropout=self.dropout,
            kernel_initializer=keras.initializers.serialize(self.kernel_initializer),
        )
        return config


@keras.saving.register_keras_serializable(package="course_lib")
class ConvEncoder(check.ChecksInputs, keras.layers.Layer):
    """A stack of convolution blocks that ends in one vector: the article's "卷积层用于提取局部特征".

    Each block computes ``h[i, j, k] = activation((W * x)[i, j, k] + b[k])`` (§4), then
    optionally batch normalisation, pooling and dropout. The final feature map becomes
    a vector by global average or max pooling, or by flattening; an optional dense
    layer projects it to ``output_dim``.

    Args:
        filters: number of kernels of each block, e.g. ``(32, 64)``: one block each.
        kernel_size: kernel size along each spatial axis.
        spatial_dims: 1 for signals ``(batch, length, channels)``, 2 for images
            ``(batch, height, width, channels)``.
        strides: stride of each convolution.
        padding: ``"same"`` or ``"valid"``.
        activation: activation after each convolution.
        pool_size: max-pooling window after each block; ``None`` for no pooling.
        batch_norm: batch normalisation after each convolution.
        dropout: dropout rate after each block (training only).
        reduction: how the last feature map becomes a vector: ``"global_average"``,
            ``"global_max"`` or ``"flatten"``.
        output_dim: if given, a final linear dense layer to this size.

    Input shape:
        ``(batch, length, channels)`` if ``spatial_dims == 1``, ``(batch, height,
        width, channels)`` if ``spatial_dims == 2``; channels last.

    Output shape:
        ``(batch, output_dim)``, or ``(batch, filters[-1])`` for global pooling, or the
        flattened size.

    Example:
        >>> encoder = ConvEncoder(filters=(16, 32), spatial_dims=2, output_dim=10)
        >>> keras.ops.shape(encoder(keras.ops.zeros((4, 8, 8, 1))))
        (4, 10)
    """

    REDUCTIONS = ("global_average", "global_max", "flatten")

    def __init__(
        self,
        filters=(32, 64),
        kernel_size=3,
        spatial_dims=2,
        strides=1,
        padding="same",
        activation="relu",
        pool_size=2,
        batch_norm=False,
        dropout=0.0,
        reduction="global_average",
        output_dim=None,
        **kwargs,
    ):
        super().__init__(**kwargs)
        owner = type(self).__name__
        self.filters = check.positive_ints(owner, "filters", filters, allow_empty=False)
        self.kernel_size = check.positive_int(owner, "kernel_size", kernel_size)
        self.spatial_dims = check.one_of(owner, "spatial_dims", spatial_dims, (1, 2))
        self.strides = check.positive_int(owner, "strides", strides)
        self.padding = check.one_of(owner, "padding", padding, ("same", "valid"))
        self.activation = keras.activations.get(activation)
        self.pool_size = None if pool_size is None else check.positive_int(owner, "pool_size", pool_size)
        self.batch_norm = bool(batch_norm)
        self.dropout = check.rate(owner, "dropout", dropout)
        self.reduction = check.one_of(owner, "reduction", reduction, self.REDUCTIONS)
        self.output_dim = None if output_dim is None else check.positive_int(owner, "output_dim", output_dim)

        policy = self.dtype_policy  # every sublayer computes in this layer's dtype
        conv = keras.layers.Conv1D if spatial_dims == 1 else keras.layers.Conv2D
        pool = keras.layers.MaxPooling1D if spatial_dims == 1 else keras.layers.MaxPooling2D
        self.convs = [
            conv(n, self.kernel_size, strides=self.strides, padding=self.padding, name=f"conv{i + 1}", dtype=policy)
            for i, n in enumerate(self.filters)
        ]
        self.norms = [keras.layers.BatchNormalization(name=f"bn{i + 1}", dtype=policy) for i in range(len(self.filters))] if self.batch_norm else []
        self.pools = [pool(self.pool_size, padding="same", name=f"pool{i + 1}", dtype=policy) for i in range(len(self.filters))] if self.pool_size else []
        self.dropout_layer = keras.layers.Dropout(self.dropout, dtype=policy) if self.dropout else None
        if self.reduction == "flatten":
            self.reduce_layer = keras.layers.Flatten(dtype=policy)
        elif spatial_dims == 1:
            self.reduce_layer = (keras.layers.GlobalAveragePooling1D if self.reduction == "global_average" else keras.layers.GlobalMaxPooling1D)(dtype=policy)
        else:
            self.reduce_layer = (keras.layers.GlobalAveragePooling2D if self.reduction == "global_average" else keras.layers.GlobalMaxPooling2D)(dtype=policy)
        self.projection = keras.layers.Dense(self.output_dim, name="projection", dtype=policy) if self.output_dim else None
        self._channels = None

    def _layout(self):
        return "(batch, length, channels)" if self.spatial_dims == 1 else "(batch, height, width, channels)"

    def build(self, input_shape):
        owner = type(self).__name__
        shape = check.input_rank(owner, input_shape, self.spatial_dims + 2, self._layout())
        if shape[-1] is None:
            raise ValueError(f"{owner}: the channel axis of `inputs` must be known, got shape {shape}")
        self._channels = shape[-1]
        for i, conv in enumerate(self.convs):
            try:
                for layer in [conv, *self.norms[i : i + 1], *self.pools[i : i + 1]]:
                    layer.build(shape)
                    shape = layer.compute_output_shape(shape)
                too_small = any(d is not None and d < 1 for d in shape[1:-1])
            except ValueError:  # Keras refuses a kernel larger than its input
                too_small = True
            if too_small:
                raise ValueError(
                    f"{owner}: `inputs` of shape {tuple(input_shape)} are too small for {len(self.filters)} blocks "
                    f"of kernel_size={self.kernel_size}, padding={self.padding!r}, pool_size={self.pool_size}"
                )
        if self.reduction == "flatten" and any(d is None for d in shape[1:]):
            raise ValueError(f"{owner}: reduction='flatten' needs fixed spatial sizes, got input shape {tuple(input_shape)}")
        self.reduce_layer.build(shape)
        shape = self.reduce_layer.compute_output_shape(shape)
        if self.projection is not None:
            self.projection.build(shape)

    def call(self, inputs, training=None):
        owner = type(self).__name__
        x = check.call_input(owner, inputs, self.spatial_dims + 2, self._layout(), self._channels, self.compute_dtype)
        for i, conv in enumerate(self.convs):
            x = conv(x)  # (W * x) + b
            if self.norms:
                x = self.norms[i](x, training=training)
            x = self.activation(x)  # f(...)
            if self.pools:
                x = self.pools[i](x)
            if self.dropout_layer is not None:
                x = self.dropout_layer(x, training=training)
        x = self.reduce_layer(x)
        return self.projection(x) if self.projection is not None else x

    def compute_output_shape(self, input_shape):
        shape = tuple(input_shape)
        for i, conv in enumerate(self.convs):  # batch norm keeps the shape
            for layer in [conv, *self.pools[i : i + 1]]:
                shape = layer.compute_output_shape(shape)
        shape = self.reduce_layer.compute_output_shape(shape)
        return (shape[0], self.output_dim) if self.projection is not None else shape

    def get_config(self):
        config = super().get_config()
        config.update(
            filters=list(self.filters),
            kernel_size=self.kernel_size,
            spatial_dims=self.spatial_dims,
            strides=self.strides,
            padding=self.padding,
            activation=keras.activations.serialize(self.activation),
            pool_size=self.pool_size,
            batch_norm=self.batch_norm,
            dropout=self.dropout,
            reduction=self.reduction,
            output_dim=self.output_dim,
        )
        return config
