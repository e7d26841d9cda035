"""The Latent map page's view (mmviz/views/latent_map.py), built on the tiny zoo without
Streamlit: the points, the selected sample, the links, and the CSV of the codes shown."""

from __future__ import annotations

import numpy as np
import pytest

from mmviz import explore as ex
from mmviz.pagestate import LatentMapState
from mmviz.views.latent_map import (
    build_latent_map_view,
    colour_options,
    linked_samples,
    read_code_table,
)
from tests.test_explore import digits, models, zoo  # noqa: F401


def state(**fields) -> LatentMapState:
    return LatentMapState(ckpt="test", **fields)


def small(model, ds, calls=None):
    """A projection of 300 test samples (the page projects 2000; same code path)."""

    def projection(group, method, limit, links, include):
        if calls is not None:
            calls.append(include)
        return ex.latent_map(model, ds, group, "test", 300, method, list(links), include=include)

    return projection


def test_the_csv_round_trips_to_the_projected_points(models, digits):  # noqa: F811
    model = models["mvae_tiny5"]
    view = build_latent_map_view(
        model, digits, state(sample=4, colour="hand_ink", links=2), None, small(model, digits)
    )
    lm = view.map
    table = read_code_table(view.csv())
    assert len(table) == len(lm.index) == 300
    np.testing.assert_array_equal(table["dataset_index"], lm.index)
    test = digits.indices("test")
    np.testing.assert_array_equal(test[table["test_position"]], lm.index)
    np.testing.assert_allclose(table[["pc1", "pc2"]].to_numpy(), lm.coords, rtol=1e-6, atol=1e-6)
    means = table[[f"z_mean_{k}" for k in range(8)]].to_numpy()
    np.testing.assert_allclose(means, lm.means, rtol=1e-6, atol=1e-6)
    # the posterior means are the model's, sample by sample
    some = lm.index[:5]
    np.testing.assert_allclose(means[:5], ex.posterior_means(model, digits, some, "z"), atol=1e-5)
    np.testing.assert_array_equal(table["class"], digits.targets["class"][lm.index])
    np.testing.assert_allclose(table["hand_ink"], digits.factors["hand_ink"][lm.index])
    assert set(colour_options(digits)) <= set(table.columns)
    assert "hand_index" not in table.columns  # an identity factor, not a style
    assert view.file_name("mvae_tiny5") == "mmviz-mvae_tiny5-latent-z-pca-hand_ink.csv"
    assert not view.categorical  # continuous factor: a colour bar
    assert view.figure.data[0].marker.showscale is True
    np.testing.assert_allclose(view.values, digits.factors["hand_ink"][lm.index])


def test_the_selected_point_is_the_samples(models, digits):  # noqa: F811
    model = models["mvae_tiny5"]
    test = digits.indices("test")
    on_map = build_latent_map_view(model, digits, state(links=0), None, small(model, digits))
    i = int(on_map.map.index[10])  # a sample the 300-point subset holds
    p = int(np.flatnonzero(test == i)[0])
    view = build_latent_map_view(model, digits, state(sample=p), None, small(model, digits))
    assert view.selected == i and view.position == p and not view.picked
    selected = [t for t in view.figure.data if t.name == f"selected {i}"]
    assert selected, "the sidebar's sample is marked on the map"
    k = int(np.flatnonzero(view.map.index == i)[0])
    assert (selected[0].x[0], selected[0].y[0]) == pytest.approx(tuple(view.map.coords[k]))
    np.testing.assert_array_equal(view.data["hand"], digits.data["hand"][i])
    decoded = ex.reconstruct_view(model, ex.sample_batch(digits, i), None).outputs
    for m in model.modalities:
        np.testing.assert_allclose(view.decoded[m], decoded[m], atol=1e-6)
    # links: the sample first, then one of each other class; the default is 3
    assert [j for j, _, _ in view.map.links] == linked_samples(digits, i, 3)
    classes = [int(digits.targets["class"][j]) for j, _, _ in view.map.links]
    assert len(set(classes)) == 3 and view.map.links[0][0] == i
    assert np.allclose(view.map.links[0][1], view.map.coords[k], atol=1e-5)  # its joint point


def test_a_point_off_the_projected_subset_is_added(models, digits):  # noqa: F811
    model = models["mvae_tiny5"]
    test = digits.indices("test")
    calls: list = []
    first = build_latent_map_view(model, digits, state(links=0), None, small(model, digits))
    off = int(next(i for i in test if i not in set(first.map.index.tolist())))
    view = build_latent_map_view(
        model, digits, state(sample=2, links=0), off, small(model, digits, calls)
    )
    assert calls == [(), (off,)]  # projected again, with the pick on it
    assert off in view.map.index and view.picked
    assert view.selected == off and int(test[view.position]) == off
    assert len(read_code_table(view.csv())) == 301


def test_mfm_groups_and_categorical_colour(models, digits):  # noqa: F811
    model = models["mfm_tiny"]
    view = build_latent_map_view(
        model, digits, state(group="hand", colour="class"), None, small(model, digits)
    )
    assert view.map.group == "hand" and view.categorical
    assert view.figure.data[0].name.startswith("class ")
    table = read_code_table(view.csv())
    assert [c for c in table.columns if c.startswith("hand_mean_")] == [
        f"hand_mean_{k}" for k in range(model.latent_groups["hand"])
    ]
    with pytest.raises(ValueError, match="no latent group"):
        build_latent_map_view(model, digits, state(group="nope"), None, small(model, digits))


def test_tsne_map_names_its_axes(models, digits):  # noqa: F811
    model = models["jmvae_tiny"]

    def projection(group, method, limit, links, include):
        return ex.latent_map(
            model, digits, group, "test", 120, method, list(links), tsne_iter=250, include=include
        )

    view = build_latent_map_view(model, digits, state(method="tsne", links=1), None, projection)
    assert view.title.startswith("t-SNE of 120 test posterior means (z)")
    table = read_code_table(view.csv())
    np.testing.assert_allclose(table[["tsne1", "tsne2"]].to_numpy(), view.map.coords, rtol=1e-6)
    assert view.file_name("jmvae_tiny").endswith("-tsne-class.csv")
