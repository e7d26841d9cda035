"""View builders (mmviz/views/): what a page shows, built without Streamlit.

The Missing modalities view runs each encoder once per view (counted) and shows the same
numbers as the separate explore calls it replaces (a reference computed the old way).
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from mmviz import explore as ex
from mmviz.models import UnsupportedSubset
from mmviz.tinyzoo import DIGITS5
from mmviz.views.missing import build_missing_view
from tests.test_explore import digits, models, sample, zoo  # noqa: F401


@pytest.mark.parametrize("observed", [["hand"], ["hand", "text"], ["label"], DIGITS5])
def test_missing_view_matches_the_separate_computations(models, sample, observed):  # noqa: F811
    model = models["mvae_tiny5"]
    view = build_missing_view(model, sample, observed, {"hand": 0.3}, "noise")
    damaged = view.damaged
    assert not torch.equal(damaged["hand"], sample["hand"])  # the slider's damage is applied
    reference = ex.reconstruct_view(model, damaged, observed)
    for m, out in reference.outputs.items():
        np.testing.assert_allclose(view.recon.outputs[m], out, atol=1e-6)
    for g, kl in reference.shift.items():
        assert view.recon.shift[g] == pytest.approx(kl, rel=1e-5, abs=1e-6)
    poe = ex.poe_view(model, damaged, observed)
    np.testing.assert_allclose(view.experts.product_mean, poe.product_mean, atol=1e-6)
    np.testing.assert_allclose(view.experts.share_total, poe.share_total, atol=1e-9)
    assert view.prior_wins == int((poe.shares[-1] > 0.5).sum())
    # q(z | all) is what the shift is measured against
    full = ex.reconstruct_view(model, damaged, None).posterior["z"]
    np.testing.assert_allclose(view.recon.reference["z"].mean, full.mean, atol=1e-6)


def test_each_encoder_runs_once_per_view(models, sample, monkeypatch):  # noqa: F811
    model = models["mvae_tiny5"]
    calls: list[str] = []
    original = type(model).expert

    def counted(self, inputs, m):
        calls.append(m)
        return original(self, inputs, m)

    monkeypatch.setattr(type(model), "expert", counted)
    build_missing_view(model, sample, ["hand", "label"], {}, "noise")
    assert sorted(calls) == sorted(model.input_modalities)  # once each, observed or not


@pytest.mark.parametrize("cid", ["jmvae_tiny", "mfm_tiny", "mopoe_tiny"])
def test_missing_view_of_other_models(models, sample, cid):  # noqa: F811
    model = models[cid]
    observed = model.input_modalities[:1]
    view = build_missing_view(model, sample, observed, {}, "occlude")
    assert view.experts is None
    assert (view.mixture is not None) == bool(model.mixture_components(observed))
    assert set(view.recon.outputs) == set(model.modalities)
    assert view.recon.reference  # q(z | all), for the side-by-side posterior figure


def test_missing_view_refuses_nothing_observed(models, sample):  # noqa: F811
    with pytest.raises(UnsupportedSubset, match="observes none"):
        build_missing_view(models["mvae_tiny5"], sample, ["nonsense"], {}, "noise")


# ---- compare mode ---------------------------------------------------------------------------
def test_compare_view_matches_the_separate_computations(models, sample, digits):  # noqa: F811
    from mmviz.views.missing import build_compare_view, damage

    ids = ["mvae_tiny5", "jmvae_tiny", "mfm_tiny", "mopoe_tiny"]
    compared = {c: models[c] for c in ids}
    view = build_compare_view(compared, sample, ["hand"], {"hand": 0.4}, "noise", digits.specs)
    assert view.names == ids
    damaged = damage(sample, digits.specs, {"hand": 0.4}, "noise")
    reference = ex.compare_views(compared, damaged, ["hand"])
    assert view.failures == {c: v for c, v in reference.items() if isinstance(v, str)}
    rows = {r.modality: r for r in view.rows}
    assert list(rows) == [m for m in digits.modalities if m in rows]  # the dataset's order
    hand = rows["hand"]
    assert hand.tag == "observed" and hand.figure is not None and hand.texts is None
    assert hand.checkpoints == [c for c in ids if c not in view.failures]
    ticks = [t.replace("<br>", "") for t in hand.figure.layout.xaxis.ticktext]
    assert ticks == hand.checkpoints
    label = rows["label"]
    assert label.tag == "generated" and label.figure is None
    for cid, text in zip(label.checkpoints, label.texts, strict=True):
        out = reference[cid].outputs["label"]
        assert text == f"{int(out.argmax())} ({out.max():.0%})"
    text = rows["text"]
    assert text.checkpoints == ["mvae_tiny5"]  # the only one with a text modality
    assert text.texts == [
        ex.tokens_to_text(reference["mvae_tiny5"].outputs["text"], digits.specs["text"])
        or "(empty)"
    ]


def test_compare_view_names_the_models_that_cannot(models, sample, digits):  # noqa: F811
    from mmviz.views.missing import build_compare_view

    compared = {c: models[c] for c in ["mvae_tiny5", "jmvae_tiny"]}
    view = build_compare_view(compared, sample, ["text"], {}, "noise", digits.specs)
    assert "observes none" in view.failures["jmvae_tiny"]
    assert all(r.checkpoints == ["mvae_tiny5"] for r in view.rows)
    assert [r.modality for r in view.rows] == [m for m in digits.modalities if m in DIGITS5]


def test_missing_view_helpers():
    from mmviz.views.missing import predicted_class, slider_level

    assert slider_level(0.33) == pytest.approx(0.35) and slider_level(7) == 1.0
    assert slider_level(-1) == 0.0
    assert predicted_class(None) is None
    assert predicted_class(np.array([0.1, 0.7, 0.2])) == (1, pytest.approx(0.7))


def test_compared_modalities(models, digits):  # noqa: F811
    from mmviz.views.missing import compared_modalities

    shown, readable = compared_modalities(digits.modalities, {"m": models["mfm_tiny"]})
    assert shown == [m for m in digits.modalities if m in models["mfm_tiny"].modalities]
    assert readable == set(models["mfm_tiny"].input_modalities)
    assert "label" in shown and "label" not in readable  # MFM's label is its target


def test_views_survive_the_cache(models, sample, digits):  # noqa: F811
    """st.cache_data pickles what it keeps: both views come back whole, figures included."""
    import pickle

    from mmviz.views.missing import build_compare_view

    one = build_missing_view(models["mvae_tiny5"], sample, ["hand"], {"hand": 0.2}, "noise")
    assert one.shares is not None and one.parts is not None and not one.posteriors
    assert one.prior_share == pytest.approx(float(one.experts.share_total[-1]))
    assert one.dimensions == 8 and set(one.scales) == set(one.recon.shift)
    back = pickle.loads(pickle.dumps(one))
    assert torch.equal(back.damaged["hand"], one.damaged["hand"])
    assert back.shares.to_dict() == one.shares.to_dict()
    mfm = build_missing_view(models["mfm_tiny"], sample, ["hand"], {}, "noise")
    assert mfm.parts is None and mfm.posteriors and not mfm.scales  # point codes: distances
    cmp = build_compare_view(
        {c: models[c] for c in ["mvae_tiny5", "mfm_tiny"]},
        sample,
        ["hand"],
        {},
        "noise",
        digits.specs,
    )
    assert [r.modality for r in pickle.loads(pickle.dumps(cmp)).rows] == [
        r.modality for r in cmp.rows
    ]


def test_view_pages_are_layout_only():
    """Every page built on a view (all but Reproductions) imports no torch, numpy or pandas:
    the numbers come from its view builder (mmviz/views/), the page only lays them out."""
    import ast
    from pathlib import Path

    pages = sorted((Path(__file__).resolve().parent.parent / "pages").glob("*.py"))
    assert len(pages) >= 9
    hits = []
    for path in pages:
        if path.name == "reproductions.py":
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            names = []
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom):
                names = [node.module or ""]
            hits += [
                f"{path.name}:{node.lineno}: {n}"
                for n in names
                if n.split(".")[0] in ("torch", "numpy", "pandas")
            ]
    assert not hits, hits
