"""mmviz/plots: figures show what they claim (orientation, sizes, highlights, hover data)."""

from __future__ import annotations

import base64
import io

import numpy as np
import pytest
from PIL import Image

from mmviz import plots
from mmviz.data import audio
from mmviz.data.digits import specs as digit_specs

SPECS = digit_specs()


def decode_uri(uri: str) -> np.ndarray:
    assert uri.startswith("data:image/png;base64,")
    return np.asarray(Image.open(io.BytesIO(base64.b64decode(uri.split(",", 1)[1]))))


def test_to_rgb_grey_colour_and_spectrogram_orientation():
    hand = np.zeros((1, 28, 28))
    hand[0, 3, 5] = 1.0
    rgb = plots.to_rgb(hand, SPECS["hand"])
    assert (
        rgb.shape == (28, 28, 3) and rgb[3, 5].tolist() == [255, 255, 255] and rgb[0, 0].sum() == 0
    )
    col = np.zeros((3, 32, 32))
    col[0] = 1.0  # pure red
    assert plots.to_rgb(col, SPECS["print"])[10, 10].tolist() == [255, 0, 0]
    spec = np.zeros((1, 32, 32))
    spec[0, 0] = 1.0  # row 0 = the lowest frequency
    img = plots.to_rgb(spec, SPECS["sound"])
    assert img[-1].mean() > img[0].mean() + 100  # drawn at the bottom
    with pytest.raises(ValueError, match="not drawn as a picture"):
        plots.to_rgb(np.zeros(10), SPECS["label"])


def test_spectrogram_figure_origin_at_bottom_in_hz():
    spec = np.random.default_rng(0).random((1, 32, 32))
    fig = plots.modality_figure(spec, SPECS["sound"], freqs=audio.bin_frequencies())
    trace = fig.data[0]
    assert trace.type == "heatmap" and fig.layout.yaxis.autorange != "reversed"
    assert trace.y[0] == pytest.approx(625.0) and trace.y[-1] > trace.y[0]
    np.testing.assert_allclose(np.asarray(trace.z)[0], spec[0, 0])  # row 0 = first y = lowest


def test_image_figures():
    hand = plots.modality_figure(np.random.default_rng(0).random((1, 28, 28)), SPECS["hand"], "x")
    assert hand.data[0].type == "heatmap" and hand.layout.yaxis.autorange == "reversed"
    assert hand.layout.title.text == "x"
    colour = plots.modality_figure(np.random.default_rng(0).random((3, 32, 32)), SPECS["print"])
    assert colour.data[0].type == "image" and np.asarray(colour.data[0].z).shape == (32, 32, 3)


def test_mosaic_and_grid_figure():
    tiles = np.zeros((2, 3, 4, 5, 3), dtype=np.uint8)
    tiles[1, 2] = 200
    m = plots.mosaic(tiles, pad=1)
    assert m.shape == (2 * 5 - 1, 3 * 6 - 1, 3)
    assert m[5:9, 12:17].min() == 200 and m[0:4, 0:5].max() == 0 and m[4, 0].tolist() == [255] * 3
    samples = np.random.default_rng(0).random((8, 9, 1, 28, 28))
    fig = plots.grid_figure(
        samples, SPECS["hand"], [f"d{i}" for i in range(8)], [str(v) for v in range(9)]
    )
    img = decode_uri(fig.data[0].source)
    scale = 2
    assert img.shape[:2] == ((8 * 30 - 2) * scale, (9 * 30 - 2) * scale)
    assert list(fig.layout.yaxis.ticktext) == [f"d{i}" for i in range(8)]
    assert len(fig.to_json()) < 400_000  # one PNG, not 56k JSON numbers


def test_draws_wrap_into_rows_with_a_label_under_each_tile():
    draws = np.zeros((19, 1, 28, 28))
    for k in range(19):
        draws[k, 0, k, :] = 1.0  # a bright row k marks draw k
    fig = plots.draws_figure(draws, SPECS["hand"], [f"#{k}" for k in range(19)], per_row=8)
    img = decode_uri(fig.data[0].source)
    scale = round(72 / 28)
    row_h = 28 + plots.images.TILE_PAD + plots.images.LABEL_BAND
    assert img.shape[:2] == (3 * row_h * scale, (8 * 30 - 2) * scale)  # 8 + 8 + 3 tiles
    # draw 10 is in row 1, column 2: its bright line is where the tile is
    y0, x0 = (row_h + 10) * scale, 2 * 30 * scale
    assert img[y0, x0 + 5].min() > 200 and img[y0 - scale, x0 + 5].max() < 50
    # the five padding tiles of the last row are blank, and every draw has its label
    assert img[2 * row_h * scale + 5, 7 * 30 * scale + 5].min() == 255
    assert [a.text for a in fig.layout.annotations] == [f"#{k}" for k in range(19)]
    assert fig.layout.annotations[10].x == pytest.approx((2 * 30 + 14) * scale)


def test_animation_frames_and_slider():
    frames = [np.full((4, 6, 3), k * 40, dtype=np.uint8) for k in range(5)]
    fig = plots.animation_figure(frames, [f"{v}" for v in range(5)], captions=list("abcde"))
    assert len(fig.frames) == 5 and len(fig.layout.sliders[0].steps) == 5
    assert decode_uri(fig.frames[3].data[0].source)[0, 0, 0] == 120
    assert fig.frames[2].layout.annotations[0].text == "c"
    with pytest.raises(ValueError):
        plots.animation_figure([], [])


def test_strip_scales_to_common_height():
    a, b = np.zeros((28, 28, 3), np.uint8), np.zeros((32, 32, 3), np.uint8)
    assert plots.strip([a, b], height=56, pad=4).shape == (56, 56 + 4 + 56, 3)


def test_probability_and_agreement():
    p = np.array([0.1, 0.7, 0.2])
    fig = plots.probability_figure(p, ["a", "b", "c"], truth=2)
    bar = fig.data[0]
    assert bar.marker.color[1] != bar.marker.color[0] and list(bar.marker.line.width) == [0, 0, 3]
    agree = plots.agreement_figure({"hand": 0.5, "text": 1.0})
    assert list(agree.data[0].y) == [0.5, 1.0] and list(agree.data[0].text) == ["50%", "100%"]


def test_experts_and_shares():
    means, stds = np.zeros((3, 4)), np.ones((3, 4))
    fig = plots.experts_figure(
        ["hand", "label", "prior"], means, stds, np.zeros(4), np.ones(4) * 0.5, dims=[1, 3]
    )
    assert [t.name for t in fig.data] == ["hand", "label", "prior", "product"]
    assert len(fig.data[0].y) == 2 and list(fig.data[3].error_y.array) == [0.5, 0.5]
    broad = plots.experts_figure(
        ["hand", "prior"],
        np.zeros((2, 3)),
        np.array([[10.0] * 3, [1.0] * 3]),
        np.zeros(3),
        np.full(3, 0.3),
    )
    assert broad.layout.yaxis.range[1] <= 5.0  # a know-nothing expert does not flatten the view
    sh = plots.shares_figure(["hand", "prior"], np.array([0.75, 0.25]))
    assert fig.layout is not None and sum(t.x[0] for t in sh.data) == pytest.approx(1.0)
    assert sh.layout.barmode == "stack"


def test_posterior_figure_without_std():
    fig = plots.posterior_figure(
        {"obs": np.zeros(4), "all": np.ones(4)}, {"obs": None, "all": np.ones(4)}
    )
    assert fig.data[0].error_y.array is None and list(fig.data[1].error_y.array) == [1, 1, 1, 1]


def test_posterior_and_experts_figures_hold_their_error_bars():
    means = {"obs": np.array([0.0, 2.5, -1.0]), "all": np.array([0.5, 0.0, 0.0])}
    stds = {"obs": np.array([0.2, 1.5, 0.3]), "all": np.array([3.0, 0.1, 0.1])}
    fig = plots.posterior_figure(means, stds)
    lo, hi = fig.layout.yaxis.range
    assert lo <= -2.5 and hi >= 4.0  # every whole bar: 0.5 - 3.0 and 2.5 + 1.5
    assert fig.layout.xaxis.range[0] < -0.4 and fig.layout.xaxis.range[1] > 2.4  # offsets
    assert fig.layout.yaxis.title.text == "mean ± std"
    codes = plots.posterior_figure({"a": np.ones(3), "b": np.zeros(3)}, {"a": None, "b": None})
    assert codes.layout.yaxis.title.text == "code"  # point codes have no std
    names, m, s = ["hand", "prior"], np.array([[1.0, -2.0], [0.0, 0.0]]), np.ones((2, 2))
    ex = plots.experts_figure(names, m, s, np.array([0.5, -1.5]), np.array([0.4, 0.4]))
    assert ex.layout.yaxis.range[1] >= 3.0 and not ex.layout.annotations  # -2 - 1 fits
    broad = plots.experts_figure(names, m, s * 9, np.zeros(2), np.full(2, 0.3))
    assert "cut" in broad.layout.annotations[0].text  # a clipped bar is said to be clipped


def test_latent_map_links_do_not_take_a_class_colour():
    rng = np.random.default_rng(0)
    coords, index, classes = rng.normal(size=(30, 2)), np.arange(100, 130), np.arange(30) % 3
    links = [(101, np.zeros(2), {"hand": np.ones(2), "label": -np.ones(2)})]
    fig = plots.latent_map_figure(
        coords,
        index,
        classes,
        classes,
        "class",
        True,
        links,
        ["hand", "label"],
        positions=index - 100,
    )
    class_colours = {t.marker.color for t in fig.data if t.name.startswith("class")}
    link = {t.name: t for t in fig.data if t.name.startswith("q(z | ") and t.name != "q(z | all)"}
    assert set(link) == {"q(z | hand)", "q(z | label)"}
    assert not {t.line.color for t in link.values()} & class_colours
    assert link["q(z | hand)"].line.dash != link["q(z | label)"].line.dash
    assert fig.data[0].hovertemplate.startswith("test sample %{hovertext}")


def test_shares_figure_names_every_segment():
    sh = plots.shares_figure(["hand", "text", "prior"], np.array([0.9, 0.01, 0.09]))
    assert sh.layout.showlegend and [t.name for t in sh.data] == ["hand 90%", "text 1%", "prior 9%"]
    assert sh.layout.legend.orientation == "h"


def test_latent_map_figure():
    rng = np.random.default_rng(0)
    coords, index = rng.normal(size=(30, 2)), np.arange(100, 130)
    classes = np.arange(30) % 3
    fig = plots.latent_map_figure(coords, index, classes, classes, "class", True)
    assert (
        len(fig.data) == 3
        and sorted(np.concatenate([t.customdata for t in fig.data]).tolist()) == index.tolist()
    )
    links = [(101, np.zeros(2), {"hand": np.ones(2), "label": -np.ones(2)})]
    fig2 = plots.latent_map_figure(
        coords, index, classes, rng.random(30), "ink", False, links, ["hand", "label"], selected=105
    )
    names = [t.name for t in fig2.data]
    assert (
        names[0] == "ink"
        and "q(z | hand)" in names
        and "q(z | all)" in names
        and names[-1] == "selected 105"
    )
    assert fig2.data[0].marker.showscale


def test_draws_png_is_a_readable_grid_of_the_draws():
    import io

    from PIL import Image

    from mmviz.data.digits import specs as digit_specs
    from mmviz.plots import draws_png

    spec = digit_specs()["hand"]
    draws = np.random.default_rng(0).random((10, 1, 28, 28)).astype(np.float32)
    im = Image.open(io.BytesIO(draws_png(draws, spec, per_row=8, scale=2)))
    assert im.format == "PNG"
    # 2 rows of 8 tiles of 28 px with 2 px gaps... each pixel scaled by 2
    assert im.size[0] > 8 * 28 * 2 and im.size[1] > 2 * 28 * 2
    assert im.size[0] < 8 * 36 * 2 and im.size[1] < 2 * 36 * 2
