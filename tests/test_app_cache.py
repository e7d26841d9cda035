"""ui/cache.py never serves a checkpoint's old weights: after the weights are replaced on disk,
the next load, prediction and every derived cached result (the traversal and cross-modal views,
attributions, Shapley values, MFM gradients, the fusion lab's scores) come from the new ones.

Checkpoints of the tiny zoo (mmviz/tinyzoo.py) are copied into a temporary root, used
through the app's cached functions, then replaced in the two ways that happen: retrained (a
new checkpoint folder swapped in by `save_checkpoint`) and the weights file overwritten in place.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
import torch
from safetensors.torch import save_file

from mmviz import checkpoint as ck
from mmviz import explore
from mmviz.data import load_dataset
from mmviz.fusionlab import lab_scores
from mmviz.interpret.attributions import Attributor
from mmviz.interpret.shapley import modality_shapley
from mmviz.report import TargetChoice, mfm_gradients
from mmviz.tinyzoo import build_tiny_zoo
from mmviz.views.crossmodal import CrossmodalSettings
from mmviz.views.traversal import TraversalSettings

IDS = ("jmvae_tiny", "mfm_tiny", "lmf_tiny")


@pytest.fixture(scope="module")
def tiny(tmp_path_factory) -> Path:
    return build_tiny_zoo(str(tmp_path_factory.getbasetemp() / "tiny_zoo"))


@pytest.fixture()
def cache(tiny, tmp_path, monkeypatch):
    """ui.cache reading a private copy of three tiny checkpoints, with empty caches."""
    import streamlit as st

    from ui import cache

    root = tmp_path / "zoo"
    for cid in IDS:
        shutil.copytree(tiny / cid, root / cid)
    monkeypatch.setenv("MMVIZ_CHECKPOINTS", str(root))
    threads = torch.get_num_threads()
    st.cache_data.clear()
    st.cache_resource.clear()
    yield cache
    st.cache_data.clear()
    st.cache_resource.clear()
    torch.set_num_threads(threads)


@pytest.fixture(scope="module")
def digits_x() -> dict[str, torch.Tensor]:
    ds = load_dataset("digits")
    return explore.sample_batch(ds, int(ds.indices("test")[0]))


@pytest.fixture(scope="module")
def sentiment_x() -> dict[str, torch.Tensor]:
    ds = load_dataset("sentiment")
    return explore.sample_batch(ds, int(ds.indices("test")[0]))


def perturbed(cid: str, seed: int) -> torch.nn.Module:
    """The checkpoint's model (loaded straight from disk) with every float weight moved."""
    model = ck.load_checkpoint(cid).model
    g = torch.Generator().manual_seed(seed)
    model.load_state_dict(
        {
            k: v + 0.5 * torch.randn(v.shape, generator=g) if v.is_floating_point() else v
            for k, v in model.state_dict().items()
        }
    )
    return model


def retrain(cid: str, seed: int = 1) -> None:
    """What `python -m mmviz train` does to an existing id: a new folder swapped in."""
    path = ck.resolve(cid)
    meta = ck.read_json(path / ck.META)
    ck.save_checkpoint(perturbed(cid, seed), path, meta)


def overwrite_weights(cid: str, seed: int = 2) -> None:
    """Only model.safetensors rewritten in place (same path, same size)."""
    path = ck.resolve(cid)
    state = {k: v.contiguous() for k, v in perturbed(cid, seed).state_dict().items()}
    save_file(state, str(path / ck.WEIGHTS))


def on_disk(cid: str):
    """The model as the files are now, loaded without any cache."""
    return ck.load_checkpoint(cid).model


def same_weights(a: torch.nn.Module, b: torch.nn.Module) -> bool:
    sb = b.state_dict()
    return all(torch.equal(v, sb[k]) for k, v in a.state_dict().items())


@pytest.mark.parametrize("replace", [retrain, overwrite_weights])
def test_loader_and_predictions_follow_the_weights_on_disk(cache, digits_x, replace):
    cid = "jmvae_tiny"
    x = {m: digits_x[m] for m in ("hand", "label")}
    old = cache.load_model(cid)
    before = old.predict(x, ["hand"]).clone()
    assert cache.load_model(cid) is old  # cached while the files are unchanged
    stamp = cache.checkpoint_key(cid)[2]
    replace(cid)
    assert cache.checkpoint_key(cid)[2] != stamp
    new = cache.load_model(cid)
    assert new is not old and same_weights(new, on_disk(cid))
    after = new.predict(x, ["hand"])
    assert torch.allclose(after, on_disk(cid).predict(x, ["hand"]))
    assert not torch.allclose(after, before)
    assert cache.load_model(cid) is new  # and cached again under the new stamp


@pytest.mark.parametrize("replace", [retrain, overwrite_weights])
def test_every_derived_cache_follows_the_weights_on_disk(cache, digits_x, sentiment_x, replace):
    hand = {m: digits_x[m] for m in ("hand", "label")}
    mfm_x = {m: digits_x[m] for m in ("hand", "print", "label")}
    key, mfm_key, lab_key = cache.digest(hand), cache.digest(mfm_x), cache.digest(sentiment_x)
    target = TargetChoice("prediction")
    lab_args = (("language", "visual", "acoustic"), (), 0, None)

    def computed() -> dict[str, np.ndarray]:
        """What the pages get, through ui.cache (same arguments, so cache hits if stale)."""
        settings = TraversalSettings("z", "grid", "posterior", (0, 1), -2.0, 2.0, 3)
        grid = cache.traversal_view("jmvae_tiny", key, settings, hand).grid
        cond = CrossmodalSettings(("label",), 3, 0)
        draws = cache.crossmodal_view("jmvae_tiny", key, cond, hand).draws
        attr = cache.attribution(
            "mfm_tiny", mfm_key, ("hand", "print"), target, "Saliency", (), mfm_x
        )
        sv = cache.shapley("mfm_tiny", mfm_key, ("hand", "print"), target, mfm_x)
        grads = cache.mfm_gradients_sample("mfm_tiny", mfm_key, mfm_x)
        lab = cache.lab_scores_view(("lmf_tiny",), lab_key, *lab_args, sentiment_x).table
        return {
            "traversal": grid.outputs["hand"],
            "cross_modal": draws.samples["hand"],
            "attribution": attr.per_modality["hand"],
            "shapley": np.array([sv.values["hand"], sv.values["print"]]),
            "mfm_gradients": grads["hand"],
            "lab_scores": lab["clean score"].to_numpy(),
        }

    def direct() -> dict[str, np.ndarray]:
        """The same numbers computed on models loaded straight from disk (no cache)."""
        jmvae, mfm, lmf = (on_disk(c) for c in IDS)
        base = explore.base_latents(jmvae, hand, None, "posterior")
        grid = explore.traversal_grid(jmvae, base, "z", [0, 1], np.linspace(-2.0, 2.0, 3))
        draws = explore.cross_modal(jmvae, hand, ["label"], 3, 0, {}, None)
        attr = Attributor("Saliency").attribute(mfm, mfm_x, target.build(), ["hand", "print"])
        sv = modality_shapley(mfm, mfm_x, target.build(), players=["hand", "print"])
        grads = mfm_gradients(mfm, mfm_x).per_step
        lab = lab_scores({"lmf_tiny": lmf}, sentiment_x, list(lab_args[0]), {}, 0, None)
        return {
            "traversal": grid.outputs["hand"],
            "cross_modal": draws.samples["hand"],
            "attribution": attr.per_modality["hand"],
            "shapley": np.array([sv.values["hand"], sv.values["print"]]),
            "mfm_gradients": grads["hand"][0],
            "lab_scores": lab["clean score"].to_numpy(),
        }

    before = computed()
    for name, value in direct().items():
        np.testing.assert_allclose(before[name], value, rtol=1e-5, atol=1e-6, err_msg=name)
    for cid in IDS:
        replace(cid)
    after, fresh = computed(), direct()
    for name in before:
        np.testing.assert_allclose(after[name], fresh[name], rtol=1e-5, atol=1e-6, err_msg=name)
        assert not np.allclose(after[name], before[name]), f"{name} was served stale"
