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
