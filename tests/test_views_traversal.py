"""The Latent traversal page's view (mmviz/views/traversal.py), built without Streamlit on the
tiny zoo: what it decodes, how it labels and draws it, and the grid's PNG download."""

from __future__ import annotations

import io

import numpy as np
import pytest
import torch
from PIL import Image

from mmviz import explore as ex
from mmviz.views.traversal import (
    TraversalSettings,
    build_traversal_view,
    cell_text,
    dimension_order,
    file_stem,
)
from tests.test_explore import digits, models, sample, zoo  # noqa: F401


def test_grid_view_holds_the_decoded_grid_labelled_and_drawn(models, sample):  # noqa: F811
    model = models["mvae_tiny5"]
    settings = TraversalSettings("z", "grid", "posterior", (0, 3, 5), -2.0, 2.0, 5)
    view = build_traversal_view(model, sample, settings)
    assert view.grid.outputs["hand"].shape == (3, 5, 1, 28, 28)
    assert view.grid.outputs["label"].shape == (3, 5, 10)
    # the same numbers as the explore calls the page used to make
    base = ex.base_latents(model, sample, None, "posterior")
    ref = ex.traversal_grid(model, base, "z", [0, 3, 5], np.linspace(-2, 2, 5))
    for m in model.modalities:
        np.testing.assert_allclose(view.grid.outputs[m], ref.outputs[m], atol=1e-6)
    assert view.row_labels == ["z[0]", "z[3]", "z[5]"]
    assert view.col_labels == ["-2.0", "-1.0", "+0.0", "+1.0", "+2.0"]
    assert "value →" in view.caption and "sample's posterior" in view.caption
    # pictures for the pictorial modalities, tables of text for the others
    assert set(view.figures) == {"hand", "print", "sound"}
    assert set(view.tables) == {"label", "text"}
    assert view.animation is None
    table = view.tables["label"]
    assert list(table) == ["", *view.col_labels] and table[""] == view.row_labels
    for i in range(3):
        for j, c in enumerate(view.col_labels):
            k = int(view.grid.outputs["label"][i, j].argmax())
            assert table[c][i].startswith(f"{k} (")


def test_traversing_a_used_dimension_changes_what_is_decoded(models, digits):  # noqa: F811
    model = models["mvae_tiny5"]
    test = digits.indices("test")[:64]
    batch = {m: torch.from_numpy(np.ascontiguousarray(digits.data[m][test])) for m in digits.data}
    batch = {m: batch[m] for m in model.modalities}
    activity = ex.dimension_activity(model, batch, "z")
    order = dimension_order(activity, 8)
    assert sorted(order) == list(range(8))
    assert activity[order[0]] == activity.max() and activity[order[-1]] == activity.min()
    used = order[0]
    x = ex.sample_batch(digits, int(test[3]))
    view = build_traversal_view(model, x, TraversalSettings("z", dims=(used,), steps=7))
    row = view.grid.outputs["hand"][0]
    assert np.abs(row[0] - row[-1]).max() > 1e-3  # the image changes along the row
    # and each cell is the sample's posterior mean with only that dimension moved
    z = ex.base_latents(model, x, None)["z"].clone()
    z[0, used] = -3.0
    np.testing.assert_allclose(row[0], ex.decode_latents(model, {"z": z})["hand"], atol=1e-6)


def test_dimension_order_without_activity():
    assert dimension_order(None, 4) == [0, 1, 2, 3]
    assert dimension_order(np.array([0.1, 3.0, 0.0, 1.0]), 4) == [1, 3, 0, 2]


def test_prior_start_ignores_the_sample_posterior_does_not(models, digits):  # noqa: F811
    model = models["mvae_tiny5"]
    a, b = (ex.sample_batch(digits, int(i)) for i in digits.indices("test")[:2])
    prior = TraversalSettings("z", start="prior", dims=(1,), steps=3)
    np.testing.assert_array_equal(
        build_traversal_view(model, a, prior).grid.outputs["hand"],
        build_traversal_view(model, b, prior).grid.outputs["hand"],
    )
    assert "prior mean" in build_traversal_view(model, None, prior).caption
    post = TraversalSettings("z", start="posterior", dims=(1,), steps=3)
    assert not np.allclose(
        build_traversal_view(model, a, post).grid.outputs["hand"],
        build_traversal_view(model, b, post).grid.outputs["hand"],
    )


def test_sweep_view(models, sample):  # noqa: F811
    model = models["mfm_tiny"]
    settings = TraversalSettings("y", "sweep", "posterior", (0, 2), -1.0, 1.0, 3)
    view = build_traversal_view(model, sample, settings)
    assert view.grid.sweep and view.grid.outputs["print"].shape == (3, 3, 3, 32, 32)
    assert view.row_labels == ["y[0] = -1.00", "y[0] = +0.00", "y[0] = +1.00"]
    assert "y[2] →" in view.caption
    assert set(view.figures) == {"hand", "print"} and set(view.tables) == {"label"}
    with pytest.raises(ValueError, match="two different"):
        build_traversal_view(model, sample, TraversalSettings("y", "sweep", dims=(1, 1)))
    with pytest.raises(ValueError, match="two dimensions"):
        build_traversal_view(model, sample, TraversalSettings("y", "sweep", dims=(1,)))


def test_animation_view_has_a_frame_per_value(models, sample):  # noqa: F811
    model = models["mvae_tiny5"]
    settings = TraversalSettings("z", "animation", dims=(2,), lo=-1.0, hi=1.0, steps=4)
    view = build_traversal_view(model, sample, settings)
    assert view.animation is not None and not view.figures and not view.tables
    assert len(view.animation.frames) == 4
    assert view.animation_caption.startswith("Left to right: hand, print, sound")
    assert view.animation.layout.title.text == "z[2] from -1.0 to +1.0"
    # each frame's caption names the decoded label and phrase of that column
    spec = model.specs["label"]
    first = view.animation.frames[0].layout.annotations[0].text
    assert f"label: {cell_text(spec, view.grid.outputs['label'][0, 0])}" in first


def test_bad_group_or_dimension_is_refused(models, sample):  # noqa: F811
    model = models["mvae_tiny5"]
    with pytest.raises(ValueError, match="dimensions"):
        build_traversal_view(model, sample, TraversalSettings("z", dims=(8,)))
    with pytest.raises(ValueError, match="no latent group"):
        build_traversal_view(model, sample, TraversalSettings("y", dims=(0,)))
    with pytest.raises(ValueError, match="mode"):
        build_traversal_view(model, sample, TraversalSettings("z", "film", dims=(0,)))


def test_grid_png_download(models, sample):  # noqa: F811
    model = models["mvae_tiny5"]
    view = build_traversal_view(model, sample, TraversalSettings("z", dims=(0, 1), steps=3))
    im = Image.open(io.BytesIO(view.png("hand")))
    pad = 2  # plots.images.TILE_PAD
    assert im.size == (4 * (3 * (28 + pad) - pad), 4 * (2 * (28 + pad) - pad))
    # the top-left tile is the first cell's image (grey, scaled 4x)
    a = np.asarray(im.convert("L"), dtype=float)[: 28 * 4 : 4, : 28 * 4 : 4] / 255
    np.testing.assert_allclose(a, view.grid.outputs["hand"][0, 0, 0], atol=1 / 255 + 1e-6)
    sound = Image.open(io.BytesIO(view.png("sound")))
    assert sound.mode == "RGB" and sound.size[1] == 4 * (2 * (32 + pad) - pad)


def test_file_stem_names_checkpoint_sample_and_settings():
    s = TraversalSettings("z", "grid", "posterior", (0, 4, 7), -3.0, 2.5, 9)
    assert file_stem("mvae_digits5", 3, s) == "mmviz-mvae_digits5-i3-z-grid-d0+4+7-v-3to2.5-s9"
    prior = TraversalSettings("y", "sweep", "prior", (1, 2), -1.0, 1.0, 5)
    assert file_stem("mfm_tiny", 3, prior) == "mmviz-mfm_tiny-prior-y-sweep-d1+2-v-1to1-s5"
