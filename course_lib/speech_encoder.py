"""A speech encoder for CTC: raw audio in, one vector of logits per frame out (features computed inside the model).

:class:`SpeechEncoder` is the encoder of notebook 15: ``keras.layers.MelSpectrogram``
turns the waveform into a log-mel spectrogram inside the model (so a saved ``.keras``
model takes audio), each utterance is normalised over its own real frames,
convolutions over time subsample it, a bidirectional GRU (and/or Transformer blocks)
gives every frame its context, and a dense layer gives per-frame logits over the
alphabet and the CTC blank, ready for ``keras.losses.CTC`` and ``keras.ops.ctc_decode``.
"""

from __future__ import annotations

import keras

from course_lib import _validation as check
from course_lib.recurrent import RecurrentEncoder
from course_lib.transformer import TransformerEncoder


@keras.saving.register_keras_serializable(package="course_lib")
class SpeechEncoder(check.ChecksInputs, keras.layers.Layer):
    """Raw audio → log-mel frames → strided convolutions → BiGRU / Transformer → per-frame logits.

    The steps, in order:

    1. ``keras.layers.MelSpectrogram`` (Hann window of ``frame_length`` samples every
       ``frame_step`` samples, ``fft_length``-point FFT, ``num_mel_bins`` triangular
       filters, power) in decibels, ``10 log10(max(power, log_floor))``. Keras' clipping
       at ``top_db`` below the maximum is switched off: that maximum is taken over the
       whole *batch*, so an utterance's features would depend on the others in it.
    2. Per-utterance normalisation: each mel bin gets mean 0 and variance 1 over the
       utterance's real frames (cepstral mean and variance normalisation), which
       removes loudness and much of a voice's colour.
    3. One convolution block per entry of ``conv_filters``: zero padding of
       ``conv_kernel_size // 2`` frames on each side, a ``"valid"`` ``Conv1D`` with that
       block's stride, layer normalisation, ReLU, dropout. A stride of 2 halves the
       number of frames.
    4. ``recurrent_layers`` bidirectional GRUs (:class:`course_lib.recurrent.RecurrentEncoder`,
       ``recurrent_units`` each way) and/or ``transformer_layers`` Transformer blocks
       (:class:`course_lib.transformer.TransformerEncoder`); with none of either, the
       model is a frame classifier that sees only the convolutions' receptive field.
    5. ``Dense(num_classes)``: logits, not probabilities, as ``keras.losses.CTC`` wants.

    Padded batches: pass ``lengths``, the number of real samples of each utterance.
    Samples past it are zeroed, frames past :meth:`output_frames` of it are left out of
    the normalisation, zeroed before every convolution and masked in the GRU and the
    attention, so that a padded utterance gets the same logits on its real frames as
    the same utterance alone (exactly so when it ends in at least ``fft_length // 2``
    samples of silence, as synthesised speech does; otherwise the STFT's reflection at
    the end differs in the last frames). The logits of padded frames are not defined:
    give CTC the lengths ``output_frames(lengths)``. Without ``lengths`` every sample is
    real, which is what ``keras.losses.CTC`` assumes (it uses all frames), so a model
    trained with it on zero-padded audio learns to emit the blank on the padding.

    Args:
        num_classes: size of the output, the alphabet *plus* the blank
            (:attr:`course_lib.ctc.Alphabet.num_classes`).
        sample_rate: sampling rate of the audio in Hz (sets the mel filters).
        frame_length: window length in samples (200 = 25 ms at 8 kHz).
        frame_step: hop between frames in samples (80 = 10 ms at 8 kHz).
        fft_length: FFT size, at least ``frame_length``.
        num_mel_bins: number of mel filters.
        log_floor: smallest mel power, so that silence has a finite logarithm.
        conv_filters: filters of each convolution block, e.g. ``(64, 64)``.
        conv_kernel_size: kernel size (odd) of every convolution, in frames.
        conv_strides: stride of each block; an int applies to every block.
        recurrent_units: GRU size in each direction.
        recurrent_layers: number of bidirectional GRU layers (0 for none).
        transformer_layers: number of Transformer blocks after the GRUs (0 for none).
        num_heads: attention heads of the Transformer blocks.
        dropout: dropout rate after each block (training only).

    Input shape:
        ``(batch, samples)`` float audio at ``sample_rate`` (any scale; it is
        normalised per utterance); optional ``lengths`` ``(batch,)`` ints.

    Output shape:
        ``(batch, output_frames(samples), num_classes)`` logits.

    Example:
        >>> encoder = SpeechEncoder(11, conv_filters=(16, 16), recurrent_units=8)
        >>> keras.ops.shape(encoder(keras.ops.zeros((2, 8000))))
        (2, 26, 11)
        >>> encoder.output_frames(8000)
        26
    """

    def __init__(
        self,
        num_classes,
        sample_rate=8000,
        frame_length=200,
        frame_step=80,
        fft_length=256,
        num_mel_bins=40,
        log_floor=1e-6,
        conv_filters=(64, 64),
        conv_kernel_size=5,
        conv_strides=2,
        recurrent_units=64,
        recurrent_layers=1,
        transformer_layers=0,
        num_heads=4,
        dropout=0.1,
        **kwargs,
    ):
        super().__init__(**kwargs)
        owner = type(self).__name__
        self.num_classes = check.positive_int(owner, "num_classes", num_classes)
        if self.num_classes < 2:
            raise ValueError(f"{owner}: `num_classes` counts the blank too, so it must be at least 2, got {num_classes}")
        self.sample_rate = check.positive_int(owner, "sample_rate", sample_rate)
        self.frame_length = check.positive_int(owner, "frame_length", frame_length)
        self.frame_step = check.positive_int(owner, "frame_step", frame_step)
        self.fft_length = check.positive_int(owner, "fft_length", fft_length)
        if self.fft_length < self.frame_length:
            raise ValueError(f"{owner}: `fft_length` must be at least frame_length={frame_length}, got {fft_length}")
        self.num_mel_bins = check.positive_int(owner, "num_mel_bins", num_mel_bins)
        if isinstance(log_floor, bool) or not isinstance(log_floor, (int, float)) or log_floor <= 0:
            raise ValueError(f"{owner}: `log_floor` must be a positive number, got {log_floor!r}")
        self.log_floor = float(log_floor)
        self.conv_filters = check.positive_ints(owner, "conv_filters", conv_filters)
        self.conv_kernel_size = check.positive_int(owner, "conv_kernel_size", conv_kernel_size)
        if self.conv_kernel_size % 2 == 0:
            raise ValueError(f"{owner}: `conv_kernel_size` must be odd (centred on its frame), got {conv_kernel_size}")
        if isinstance(conv_strides, int) and not isinstance(conv_strides, bool):
            conv_strides = (conv_strides,) * len(self.conv_filters)
        self.conv_strides = check.positive_ints(owner, "conv_strides", conv_strides)
        if len(self.conv_strides) != len(self.conv_filters):
            raise ValueError(
                f"{owner}: `conv_strides` needs one stride per block of conv_filters={list(self.conv_filters)}, got {list(self.conv_strides)}"
            )
        self.recurrent_units = check.positive_int(owner, "recurrent_units", recurrent_units)
        self.recurrent_layers = self._count(owner, "recurrent_layers", recurrent_layers)
        self.transformer_layers = self._count(owner, "transformer_layers", transformer_layers)
        self.num_heads = check.positive_int(owner, "num_heads", num_heads)
        self.dropout = check.rate(owner, "dropout", dropout)

        policy = self.dtype_policy  # every sublayer computes in this layer's dtype
        self.mel = keras.layers.MelSpectrogram(
            fft_length=self.fft_length,
            sequence_stride=self.frame_step,
            sequence_length=self.frame_length,
            sampling_rate=self.sample_rate,
            num_mel_bins=self.num_mel_bins,
            power_to_db=True,
            min_power=self.log_floor,
            top_db=1e4,  # Keras clips at (max over the whole batch) - top_db: make that never happen
            name="mel_spectrogram",
            dtype=policy,
        )
        pad = self.conv_kernel_size // 2
        self.paddings = [keras.layers.ZeroPadding1D(pad, name=f"pad{i + 1}", dtype=policy) for i in range(len(self.conv_filters))]
        self.convs = [
            keras.layers.Conv1D(n, self.conv_kernel_size, strides=s, padding="valid", name=f"conv{i + 1}", dtype=policy)
            for i, (n, s) in enumerate(zip(self.conv_filters, self.conv_strides))
        ]
        self.conv_norms = [keras.layers.LayerNormalization(name=f"conv_norm{i + 1}", dtype=policy) for i in range(len(self.conv_filters))]
        self.recurrent = (
            RecurrentEncoder(
                self.recurrent_units, cell="gru", num_layers=self.recurrent_layers, bidirectional=True,
                return_sequences=True, dropout=self.dropout, name="recurrent", dtype=policy,
            )
            if self.recurrent_layers
            else None
        )
        self.transformer = None
        if self.transformer_layers:
            width = 2 * self.recurrent_units if self.recurrent_layers else (self.conv_filters[-1] if self.conv_filters else self.num_mel_bins)
            self.transformer = TransformerEncoder(
                self.transformer_layers, self.num_heads, ff_dim=2 * width, model_dim=width, max_length=4096,
                dropout=self.dropout, name="transformer", dtype=policy,
            )
        self.dropout_layer = keras.layers.Dropout(self.dropout, dtype=policy) if self.dropout else None
        self.classifier = keras.layers.Dense(self.num_classes, name="logits", dtype=policy)

    @staticmethod
    def _count(owner, name, value):
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise ValueError(f"{owner}: `{name}` must be an int >= 0, got {value!r}")
        return value

    # ------------------------------------------------------------------ frames

    def feature_frames(self, num_samples):
        """Number of spectrogram frames for ``num_samples`` samples (int or integer tensor)."""
        return 1 + num_samples // self.frame_step  # the STFT is centred: one frame every frame_step, from sample 0

    def output_frames(self, num_samples):
        """Number of output frames (CTC's logit length) for ``num_samples`` samples (int, array or tensor)."""
        frames = self.feature_frames(num_samples)
        for s in self.conv_strides:
            frames = (frames + s - 1) // s  # ceil: output frame i is centred on input frame i * s
        return frames

    # ------------------------------------------------------------------ layer

    def build(self, inputs_shape, lengths_shape=None):
        owner = type(self).__name__
        shape = check.input_rank(owner, inputs_shape, 2, "(batch, samples)")
        self._check_samples(shape[1])
        frames = None if shape[1] is None else self.feature_frames(shape[1])
        x = (shape[0], frames, self.num_mel_bins)
        for pad, conv, norm in zip(self.paddings, self.convs, self.conv_norms):
            x = pad.compute_output_shape(x)
            conv.build(x)
            x = conv.compute_output_shape(x)
            norm.build(x)
        if self.recurrent is not None:
            self.recurrent.build(x)
            x = self.recurrent.compute_output_shape(x)
        if self.transformer is not None:
            self.transformer.build(x)
            x = (x[0], x[1], self.transformer.model_dim)
        self.classifier.build(x)

    def _check_samples(self, samples):
        if samples is not None and samples <= self.fft_length // 2:
            raise ValueError(
                f"{type(self).__name__}: `inputs` must have more than fft_length // 2 = {self.fft_length // 2} samples "
                f"(the STFT pads by reflection), got {samples}"
            )

    def call(self, inputs, lengths=None, training=None):
        owner = type(self).__name__
        ops = keras.ops
        x = check.numeric_input(owner, inputs, "float32")  # audio stays float32 (the STFT computes in it anyway)
        check.input_rank(owner, x.shape, 2, "(batch, samples)")
        self._check_samples(x.shape[1])
        samples = ops.shape(x)[1]
        if lengths is not None:
            lengths = self._lengths(lengths, x)
            x = x * ops.cast(ops.arange(samples)[None, :] < lengths[:, None], x.dtype)  # zero what is past each end

        features = self.mel(x)  # (batch, mels, frames): 10 log10(max(power, log_floor)), computed in float32
        features = ops.transpose(ops.cast(features, "float32"), (0, 2, 1))  # (batch, frames, mels)
        frames = ops.shape(features)[1]
        valid = None if lengths is None else self.feature_frames(lengths)
        mask = self._mask(valid, frames, features)
        count = ops.sum(mask, axis=1, keepdims=True)  # (batch, 1, 1)
        mean = ops.sum(features * mask, axis=1, keepdims=True) / count
        variance = ops.sum(ops.square(features - mean) * mask, axis=1, keepdims=True) / count
        h = ops.cast((features - mean) / ops.sqrt(variance + 1e-5) * mask, self.compute_dtype)

        for pad, conv, norm, s in zip(self.paddings, self.convs, self.conv_norms, self.conv_strides):
            h = conv(pad(h))
            h = ops.relu(norm(h))
            if self.dropout_layer is not None:
                h = self.dropout_layer(h, training=training)
            if valid is not None:
                valid = (valid + s - 1) // s
            mask = self._mask(valid, ops.shape(h)[1], h)
            h = h * mask  # padded frames are zeros, as the next block's zero padding would be
        frame_mask = None if valid is None else ops.arange(ops.shape(h)[1])[None, :] < valid[:, None]
        if self.recurrent is not None:
            h = self.recurrent(h, mask=frame_mask, training=training)
        if self.transformer is not None:
            h = self.transformer(h, mask=frame_mask, training=training)
        return self.classifier(h)

    def _lengths(self, lengths, x):
        owner = type(self).__name__
        dtype = check._dtype_name(lengths)
        if dtype is not None and not (dtype.startswith("int") or dtype.startswith("uint")):
            raise TypeError(f"{owner}: `lengths` must be integer numbers of samples, got dtype {dtype}")
        lengths = keras.ops.convert_to_tensor(lengths, dtype="int32")
        if len(lengths.shape) != 1:
            raise ValueError(f"{owner}: `lengths` must have shape (batch,), got shape {tuple(lengths.shape)}")
        return lengths

    def _mask(self, valid, frames, like):
        """``(batch, frames, 1)`` float32-or-compute-dtype mask: 1 on real frames."""
        ops = keras.ops
        if valid is None:
            return ops.ones_like(like[..., :1])
        return ops.cast(ops.arange(frames)[None, :, None] < valid[:, None, None], like.dtype)

    def compute_output_shape(self, inputs_shape, lengths_shape=None):
        shape = tuple(inputs_shape)
        frames = None if shape[1] is None else self.output_frames(shape[1])
        return (shape[0], frames, self.num_classes)

    def get_config(self):
        config = super().get_config()
        config.update(
            num_classes=self.num_classes,
            sample_rate=self.sample_rate,
            frame_length=self.frame_length,
            frame_step=self.frame_step,
            fft_length=self.fft_length,
            num_mel_bins=self.num_mel_bins,
            log_floor=self.log_floor,
            conv_filters=list(self.conv_filters),
            conv_kernel_size=self.conv_kernel_size,
            conv_strides=list(self.conv_strides),
            recurrent_units=self.recurrent_units,
            recurrent_layers=self.recurrent_layers,
            transformer_layers=self.transformer_layers,
            num_heads=self.num_heads,
            dropout=self.dropout,
        )
        return config
