import matplotlib.figure
import numpy as np
import pytest

from course_lib import plots

rng = np.random.default_rng(0)


def test_show_images_draws_one_axis_per_image():
    fig = plots.show_images(rng.random((12, 64)), (8, 8), titles=[str(i) for i in range(12)], ncols=5)
    shown = [ax for ax in fig.axes if ax.images]
    assert len(shown) == 12 and shown[3].get_title() == "3"


def test_show_images_symmetric_scale_puts_zero_in_the_middle():
    images = rng.normal(size=(3, 64)) + 0.5  # not centred: a per-image scale would not map 0 to white
    images[1, 0] = -4.0
    fig = plots.show_images(images, (8, 8), ncols=3, cmap="RdBu_r", symmetric=True)
    limits = {ax.images[0].get_clim() for ax in fig.axes if ax.images}
    assert limits == {(-4.0, 4.0)}
    own = plots.show_images(images, (8, 8), ncols=3)
    assert len({ax.images[0].get_clim() for ax in own.axes if ax.images}) == 3  # default: each image its own range


def test_compare_reconstructions_two_rows():
    x = rng.random((5, 64))
    fig = plots.compare_reconstructions(x, x * 0.5, n=4)
    assert len([ax for ax in fig.axes if ax.images]) == 8
    np.testing.assert_allclose(fig.axes[4].images[0].get_array(), (x[0] * 0.5).reshape(8, 8))


def test_plot_codes_2d_one_point_per_example_and_legend_per_class():
    fig = plots.plot_codes_2d(rng.normal(size=(30, 2)), np.arange(30) % 3, title="codes")
    ax = fig.axes[0]
    assert ax.collections[0].get_offsets().shape == (30, 2)
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["0", "1", "2"]


def test_plot_history_draws_validation_twin():
    fig = plots.plot_history({"loss": [3, 2, 1], "val_loss": [3, 2.5, 2]}, log=True)
    assert [line.get_label() for line in fig.axes[0].lines] == ["loss", "val_loss"]


def test_draw_encoder_decoder_returns_figure():
    fig = plots.draw_encoder_decoder(code_label="h")
    assert isinstance(fig, matplotlib.figure.Figure)
    assert "h" in [t.get_text() for t in fig.axes[0].texts]


def test_plot_alignment_labels_and_font_fallback(monkeypatch):
    weights = np.full((2, 3), 1 / 3)
    fig = plots.plot_alignment(weights, ["a", "b", "c"], ["x", "y"], title="t")
    ax = fig.axes[0]
    assert [t.get_text() for t in ax.get_xticklabels()] == ["a", "b", "c"]
    assert [t.get_text() for t in ax.get_yticklabels()] == ["x", "y"]
    assert (ax.get_xlabel(), ax.get_ylabel()) == ("input token (attended to)", "output token")
    fig = plots.plot_alignment(weights[:1], ["a", "b", "c"], ["年"], fallback_labels={"年": "nian"})
    assert fig.axes[0].get_yticklabels()[0].get_text() == "年"
    assert fig.axes[0].get_yticklabels()[0].get_fontname() == plots.font_for("年")
    monkeypatch.setattr(plots, "font_for", lambda text: None)  # a machine without any CJK font
    fig = plots.plot_alignment(weights[:1], ["a", "b", "c"], ["年"], fallback_labels={"年": "nian"})
    assert fig.axes[0].get_yticklabels()[0].get_text() == "nian"
    fig = plots.plot_alignment(weights[:1], ["a", "b", "c"], ["年"])
    assert fig.axes[0].get_yticklabels()[0].get_text() == "\\u5e74", "no fallback given: the code point, not a missing glyph"


def test_the_course_installs_a_free_cjk_font_that_draws_chinese():
    """requirements.txt brings Noto Sans CJK (OFL) on every platform; font_for finds it without importing its package."""
    import sys
    import warnings

    from matplotlib import font_manager

    path = plots.course_font_file()
    assert path is not None, f"install {plots.COURSE_FONT_PACKAGE} (requirements.txt): no CJK font for the plots"
    assert "SIL Open Font License" in (path.parent / "LICENSE").read_text(encoding="utf-8")
    text = "二〇二一年三月五日，星期五。编码器与自注意力"
    family = plots.font_for(text)
    assert family is not None and family in plots._CJK_FAMILIES
    assert "notojp_matplotlib" not in sys.modules, "importing the font's package would change every plot's default font"
    fig, ax = plots._plt().subplots()
    ax.set_title(text, fontfamily=family)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # matplotlib warns "Glyph ... missing from font" for a character it cannot draw
        fig.canvas.draw()
    assert font_manager.findfont(font_manager.FontProperties(family=family), fallback_to_default=False)


def test_draw_unrolled_rnn_one_box_per_step():
    fig = plots.draw_unrolled_rnn(steps=5)
    texts = [t.get_text() for t in fig.axes[0].texts]
    assert texts.count("f(·)") == 5 and "$x_{5}$" in texts and "$h_{5}$" in texts


@pytest.mark.parametrize(
    "call, message",
    [
        (lambda: plots.show_images(np.zeros((3, 10)), (8, 8)), "64 values"),
        (lambda: plots.show_images(np.zeros((0, 64))), "non-empty"),
        (lambda: plots.show_images(np.zeros((2, 64)), titles=["a"]), "titles"),
        (lambda: plots.compare_reconstructions(np.zeros((3, 64)), np.zeros((2, 64))), "reconstructions"),
        (lambda: plots.plot_codes_2d(np.zeros((4, 3)), np.zeros(4)), r"codes.*\(n, 2\)"),
        (lambda: plots.plot_codes_2d(np.zeros((4, 2)), np.zeros(5)), "labels"),
        (lambda: plots.plot_history({"loss": [1]}, metrics=("accuracy",)), "accuracy"),
        (lambda: plots.plot_history([1, 2]), "History"),
        (lambda: plots.draw_unrolled_rnn(0), "steps"),
        (lambda: plots.plot_alignment(np.zeros((2, 2)), ["a"], ["x", "y"]), r"weights.*\(2, 1\)"),
    ],
)
def test_bad_input_names_the_argument(call, message):
    with pytest.raises(ValueError, match=message):
        call()
