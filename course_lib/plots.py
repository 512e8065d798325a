"""Plots the notebooks share, so that every notebook draws the same idea the same way.

Every function draws with matplotlib, returns the :class:`matplotlib.figure.Figure`
it drew on, and checks its input: a wrong shape raises a ``ValueError`` that names
the argument, what was expected and what came.
"""

from __future__ import annotations

import numpy as np


def _plt():
    import matplotlib.pyplot as plt

    return plt


def _as_images(name: str, images, image_shape) -> np.ndarray:
    images = np.asarray(images)
    if images.ndim < 2 or images.shape[0] == 0:
        raise ValueError(f"`{name}` must be a non-empty batch of images, got shape {images.shape}")
    size = int(np.prod(image_shape))
    if int(np.prod(images.shape[1:])) != size:
        raise ValueError(
            f"`{name}` rows must hold {size} values to show as {tuple(image_shape)} images, got shape {images.shape}"
        )
    return images.reshape((images.shape[0], *image_shape))


def show_images(images, image_shape=(8, 8), titles=None, ncols: int = 10, cmap: str = "gray_r", size: float = 0.9,
                symmetric: bool = False):
    """Show a batch of images on a grid, ``ncols`` per row.

    Args:
        images: array ``(n, *image_shape)`` or ``(n, prod(image_shape))``.
        image_shape: the shape of one image, e.g. ``(8, 8)``.
        titles: optional ``n`` strings shown above the images.
        ncols: images per row.
        symmetric: one colour scale for all images, centred on 0 (from ``-m`` to ``m``,
            ``m`` the largest absolute value), so that a diverging ``cmap`` such as
            ``"RdBu_r"`` shows the sign: 0 white, positive red, negative blue.
    """
    plt = _plt()
    images = _as_images("images", images, image_shape)
    n = len(images)
    if titles is not None and len(titles) != n:
        raise ValueError(f"`titles` must have one entry per image ({n}), got {len(titles)}")
    nrows = -(-n // ncols)
    scale = {}
    if symmetric:
        m = float(np.abs(images).max()) or 1.0
        scale = {"vmin": -m, "vmax": m}
    fig, axes = plt.subplots(nrows, ncols, figsize=(size * ncols, size * nrows * 1.15), squeeze=False)
    for i, ax in enumerate(axes.flat):
        ax.axis("off")
        if i < n:
            ax.imshow(images[i], cmap=cmap, **scale)
            if titles is not None:
                ax.set_title(str(titles[i]), fontsize=8)
    fig.tight_layout()
    return fig


def compare_reconstructions(originals, reconstructions, image_shape=(8, 8), n: int = 10, labels=("input", "output")):
    """Originals on the top row, their reconstructions underneath.

    Args:
        originals, reconstructions: arrays of the same shape, ``(m, prod(image_shape))``
            or ``(m, *image_shape)``; the first ``n`` are shown.
        labels: the names of the two rows.
    """
    plt = _plt()
    originals = _as_images("originals", originals, image_shape)
    reconstructions = _as_images("reconstructions", reconstructions, image_shape)
    if originals.shape != reconstructions.shape:
        raise ValueError(
            f"`reconstructions` must match `originals` in shape, got {reconstructions.shape} vs {originals.shape}"
        )
    n = min(n, len(originals))
    fig, axes = plt.subplots(2, n, figsize=(0.9 * n, 2.1), squeeze=False)
    for row, (batch, label) in enumerate(zip((originals, reconstructions), labels)):
        for i in range(n):
            ax = axes[row, i]
            ax.imshow(batch[i], cmap="gray_r", vmin=0.0, vmax=1.0)
            ax.set_xticks([])
            ax.set_yticks([])
        axes[row, 0].set_ylabel(label, fontsize=9)
    fig.tight_layout()
    return fig


def plot_codes_2d(codes, labels, ax=None, title: str | None = None, cmap: str = "tab10"):
    """Scatter 2-D codes (one point per example), coloured by class label.

    Args:
        codes: array ``(n, 2)``.
        labels: ``n`` integer class labels.
        ax: an existing axes to draw on (a new figure otherwise).
    """
    plt = _plt()
    codes = np.asarray(codes)
    labels = np.asarray(labels)
    if codes.ndim != 2 or codes.shape[1] != 2:
        raise ValueError(f"`codes` must have shape (n, 2), got {codes.shape}")
    if labels.shape != (codes.shape[0],):
        raise ValueError(f"`labels` must have shape ({codes.shape[0]},) to match `codes`, got {labels.shape}")
    if ax is None:
        _, ax = plt.subplots(figsize=(4.5, 4.0))
    scatter = ax.scatter(codes[:, 0], codes[:, 1], c=labels, cmap=cmap, s=8, alpha=0.8)
    classes = np.unique(labels)
    handles = [
        plt.Line2D([], [], marker="o", linestyle="", color=scatter.cmap(scatter.norm(c)), label=str(c)) for c in classes
    ]
    ax.legend(handles=handles, fontsize=7, loc="center left", bbox_to_anchor=(1.0, 0.5), frameon=False)
    ax.set_xlabel("code[0]")
    ax.set_ylabel("code[1]")
    if title:
        ax.set_title(title)
    return ax.figure


def plot_history(history, metrics=("loss",), ax=None, title: str | None = None, log: bool = False):
    """Training curves from a Keras ``History`` (or its ``.history`` dict).

    Each metric is drawn with its ``val_`` twin when there is one.
    """
    plt = _plt()
    logs = getattr(history, "history", history)
    if not isinstance(logs, dict):
        raise ValueError(f"`history` must be a keras History or a dict of lists, got {type(history).__name__}")
    missing = [m for m in metrics if m not in logs]
    if missing:
        raise ValueError(f"`metrics` {missing} not in the history; it has {sorted(logs)}")
    if ax is None:
        _, ax = plt.subplots()
    for metric in metrics:
        ax.plot(np.arange(1, len(logs[metric]) + 1), logs[metric], label=metric)
        if f"val_{metric}" in logs:
            ax.plot(np.arange(1, len(logs[f"val_{metric}"]) + 1), logs[f"val_{metric}"], label=f"val_{metric}", linestyle="--")
    ax.set_xlabel("epoch")
    if log:
        ax.set_yscale("log")
    ax.legend()
    if title:
        ax.set_title(title)
    return ax.figure


def draw_encoder_decoder(
    ax=None,
    input_label: str = "input x",
    code_label: str = "code h",
    output_label: str = "output",
    encoder_label: str = "encoder",
    decoder_label: str = "decoder",
):
    """The encoder-decoder picture: input -> encoder -> code -> decoder -> output.

    The encoder narrows to the code and the decoder widens again, as in the
    autoencoder of notebook 01 and the translation model of notebook 11.
    """
    plt = _plt()
    from matplotlib.patches import FancyArrowPatch, Polygon, Rectangle

    if ax is None:
        _, ax = plt.subplots(figsize=(8, 2.6))
    ax.set_xlim(0, 10)
    ax.set_ylim(0, 4)
    ax.axis("off")
    boxes = [  # (shape, text position, text, text rotation)
        (Rectangle((0.2, 0.5), 1.0, 3.0, color="#9ecae1"), (0.7, 2.0), input_label, 90),
        (Polygon([(1.9, 0.5), (3.9, 1.4), (3.9, 2.6), (1.9, 3.5)], color="#fdae6b"), (2.9, 2.0), encoder_label, 0),
        (Rectangle((4.3, 1.4), 1.4, 1.2, color="#a1d99b"), (5.0, 2.0), code_label, 0),
        (Polygon([(6.1, 1.4), (8.1, 0.5), (8.1, 3.5), (6.1, 2.6)], color="#fdae6b"), (7.1, 2.0), decoder_label, 0),
        (Rectangle((8.8, 0.5), 1.0, 3.0, color="#9ecae1"), (9.3, 2.0), output_label, 90),
    ]
    for patch, (x, y), text, rotation in boxes:
        ax.add_patch(patch)
        ax.text(x, y, text, ha="center", va="center", fontsize=9, rotation=rotation)
    for x0, x1 in ((1.2, 1.9), (3.9, 4.3), (5.7, 6.1), (8.1, 8.8)):
        ax.add_patch(FancyArrowPatch((x0, 2.0), (x1, 2.0), arrowstyle="->", mutation_scale=12))
    return ax.figure


def draw_unrolled_rnn(steps: int = 4, ax=None, input_label: str = "x", state_label: str = "h"):
    """The recurrence unrolled in time: each step reads x_t and h_{t-1} and writes h_t.

    Every box applies the same weights (W_xh, W_hh, b_h): one cell, used ``steps`` times.
    """
    plt = _plt()
    from matplotlib.patches import FancyArrowPatch, FancyBboxPatch

    if isinstance(steps, bool) or not isinstance(steps, int) or steps < 1:
        raise ValueError(f"`steps` must be a positive int, got {steps!r}")
    if ax is None:
        _, ax = plt.subplots(figsize=(1.9 * steps + 1.5, 2.8))
    ax.set_xlim(-1.2, 2.0 * steps)
    ax.set_ylim(-0.2, 3.2)
    ax.axis("off")
    arrow = dict(arrowstyle="->", mutation_scale=12)
    ax.text(-0.8, 1.5, f"${state_label}_0$", ha="center", va="center", fontsize=11)
    for t in range(steps):
        x0 = 2.0 * t
        ax.add_patch(FancyBboxPatch((x0 + 0.1, 1.1), 1.0, 0.8, boxstyle="round,pad=0.05", color="#fdae6b"))
        ax.text(x0 + 0.6, 1.5, "f(·)", ha="center", va="center", fontsize=10)
        ax.text(x0 + 0.6, 0.1, f"${input_label}_{{{t + 1}}}$", ha="center", va="center", fontsize=11)
        ax.add_patch(FancyArrowPatch((x0 + 0.6, 0.35), (x0 + 0.6, 1.05), **arrow))
        ax.text(x0 + 0.6, 2.9, f"${state_label}_{{{t + 1}}}$", ha="center", va="center", fontsize=11)
        ax.add_patch(FancyArrowPatch((x0 + 0.6, 1.95), (x0 + 0.6, 2.65), **arrow))
        ax.add_patch(FancyArrowPatch((x0 - 0.55 if t == 0 else x0 - 0.85, 1.5), (x0 + 0.05, 1.5), **arrow))
    ax.set_title("the same weights $W_{xh}, W_{hh}, b_h$ at every step", fontsize=10)
    return ax.figure


_CJK_FAMILIES = (
    "Noto Sans CJK SC", "Noto Sans SC", "Source Han Sans SC", "WenQuanYi Micro Hei", "WenQuanYi Zen Hei",
    "SimHei", "Microsoft YaHei", "PingFang SC", "Heiti SC", "Arial Unicode MS", "AR PL UMing CN",
    "Noto Sans CJK JP",  # the font the course installs (below): last, so that a Simplified Chinese one wins
)

#: The course's own CJK font: Noto Sans CJK (SIL Open Font License 1.1), shipped on PyPI by
#: ``notojp-matplotlib`` (requirements.txt) for Linux, macOS, Windows and Colab alike.
COURSE_FONT_PACKAGE = "notojp-matplotlib"
_COURSE_FONT_FILE = ("notojp_matplotlib", "fonts", "NotoSansCJKjp-Regular.otf")


def course_font_file():
    """The path of the CJK font file the course installs, or None where its package is missing.

    The package is found without being imported: importing it would also switch every
    plot's default font, which the course leaves to the learner.
    """
    import importlib.util
    from pathlib import Path

    spec = importlib.util.find_spec(_COURSE_FONT_FILE[0])
    if spec is None or not spec.submodule_search_locations:
        return None
    path = Path(next(iter(spec.submodule_search_locations)), *_COURSE_FONT_FILE[1:])
    return path if path.is_file() else None


def _register_course_font() -> None:
    from matplotlib import font_manager

    path = course_font_file()
    if path is not None and str(path) not in {f.fname for f in font_manager.fontManager.ttflist}:
        font_manager.fontManager.addfont(str(path))


def font_for(text: str):
    """The name of an installed font that can draw every character of ``text``, or None.

    Matplotlib's default font has no Chinese characters; this looks for a CJK font
    among those installed (Noto Sans CJK, WenQuanYi, SimHei, PingFang, ...), after
    registering the one the course installs (:func:`course_font_file`). Use it for
    Chinese labels in your own plots: ``ax.set_title("注意力图", fontfamily=font_for("注意力图"))``.

    Noto Sans CJK JP, the course's font, covers every Chinese character; for a few of them
    it draws the Japanese form of the glyph. Where a Simplified Chinese font is installed
    (Noto Sans CJK SC, PingFang SC, Microsoft YaHei, ...), that one is chosen first.
    """
    from matplotlib import font_manager

    needed = {ord(c) for c in text}
    if all(c < 0x250 for c in needed):
        return font_manager.FontProperties().get_name()
    _register_course_font()
    installed = {f.name: f.fname for f in font_manager.fontManager.ttflist}
    for family in _CJK_FAMILIES:
        if family in installed:
            try:
                from fontTools.ttLib import TTFont

                cmap = TTFont(installed[family], fontNumber=0, lazy=True).getBestCmap()
            except Exception:  # unreadable font file: try the next
                continue
            if needed <= set(cmap):
                return family
    return None


def plot_alignment(weights, source_tokens, target_tokens, ax=None, title: str | None = None, fallback_labels=None):
    """An attention (alignment) heat map: one row per output token, one column per input token.

    Args:
        weights: ``(len(target_tokens), len(source_tokens))`` attention weights.
        source_tokens, target_tokens: the tick labels.
        fallback_labels: optional dict token → ASCII label (e.g. pinyin) used for target
            tokens when no installed font can draw them (the course installs one, see
            :func:`font_for`; the fallback is for a machine where that install was skipped).
    """
    plt = _plt()
    weights = np.asarray(weights)
    expected = (len(target_tokens), len(source_tokens))
    if weights.shape != expected:
        raise ValueError(f"`weights` must have shape (target tokens, source tokens) = {expected}, got {weights.shape}")
    if ax is None:
        _, ax = plt.subplots(figsize=(0.35 * expected[1] + 2, 0.3 * expected[0] + 1.5))
    ax.imshow(weights, cmap="viridis", vmin=0.0, vmax=1.0)
    ax.set_xticks(range(expected[1]), [str(t) for t in source_tokens], rotation=90)
    labels = [str(t) for t in target_tokens]
    font = font_for("".join(labels))
    if font is None:
        labels = [(fallback_labels or {}).get(t, t.encode("ascii", "backslashreplace").decode()) for t in labels]
        ax.set_yticks(range(expected[0]), labels)
    else:
        ax.set_yticks(range(expected[0]), labels, fontfamily=font)
    ax.set_xlabel("input token (attended to)", fontsize=8)
    ax.set_ylabel("output token", fontsize=8)
    if title:
        ax.set_title(title, fontsize=9)
    return ax.figure
