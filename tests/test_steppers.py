"""mmviz/steppers.py: the step-by-step explainers add up to the model's own output.

The product of experts stepped through ends at the model's posterior (and every step is the
posterior of the modalities multiplied in so far); a mixture's running moments end at the
`MixturePosterior`'s; LMF's rank-one terms sum to its fused vector and score; TFN's blocks sum
to its fused vector. Property-style over observed subsets, orders and dimensions.
"""

from __future__ import annotations

import itertools
import math
from pathlib import Path

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from mmviz import explore as ex
from mmviz import steppers as sp
from mmviz.data import load_dataset
from mmviz.data.random_inputs import random_sentiment_batch, sentiment_like_specs
from mmviz.models import UnsupportedSubset, model_class
from mmviz.models.base import MixturePosterior, Posterior, to_data_space
from mmviz.models.fusion import (
    LMF,
    TFN,
    FusionConfig,
    LMFConfig,
    lmf_fusion_params,
    tfn_fusion_params,
)
from mmviz.tinyzoo import DIGITS5, TINY, build_tiny_zoo

torch.set_num_threads(1)

TOL = 1e-6  # float32 model, float64 steps: the model's own rounding is ~1e-7 here


@pytest.fixture(scope="session")
def zoo(tmp_path_factory) -> Path:
    return build_tiny_zoo(str(tmp_path_factory.getbasetemp() / "tiny_zoo"))


@pytest.fixture(scope="session")
def models(zoo):
    from mmviz.checkpoint import load_checkpoint

    return {cid: load_checkpoint(zoo / cid).model.eval() for cid in TINY}


@pytest.fixture(scope="session")
def digits():
    return load_dataset("digits")


@pytest.fixture(scope="session")
def samples(digits):
    return [ex.sample_batch(digits, int(digits.indices("test")[k])) for k in (0, 3, 7)]


@pytest.fixture(scope="session")
def mmvae(digits):
    cls = model_class("mmvae")
    torch.manual_seed(0)
    return cls(cls.config_class(latent_dim=6, hidden=16), digits.specs).eval()


def non_empty_orderings(names: list[str]):
    """A strategy: a non-empty subset of `names` in a random order."""
    return st.lists(st.sampled_from(names), min_size=1, max_size=len(names), unique=True)


# ---- product of experts --------------------------------------------------------------------
@settings(max_examples=30, deadline=None)
@given(data=st.data())
def test_poe_final_step_is_the_models_posterior(models, samples, data):
    model = models["mvae_tiny5"]
    observed = data.draw(non_empty_orderings(DIGITS5), label="observed")
    dim = data.draw(st.integers(0, model.latent_groups["z"] - 1), label="dim")
    x = samples[data.draw(st.integers(0, len(samples) - 1), label="sample")]
    steps = sp.poe_steps(model, x, observed, dim)
    assert steps.kind == "product" and steps.names == ["prior", *observed]
    with torch.no_grad():
        post = model.encode(x, observed)["z"]
    np.testing.assert_allclose(steps.means[-1], post.mean[0].double().numpy(), atol=TOL, rtol=0)
    np.testing.assert_allclose(steps.stds[-1], post.std[0].double().numpy(), atol=TOL, rtol=0)
    # every step is the posterior of what has been multiplied in so far
    for s in range(1, steps.steps):
        with torch.no_grad():
            part = model.encode(x, observed[:s])["z"]
        np.testing.assert_allclose(steps.means[s], part.mean[0].double().numpy(), atol=TOL)
        np.testing.assert_allclose(steps.stds[s], part.std[0].double().numpy(), atol=TOL)
    # shares: each step's contributors share all of the precision, and the precisions add up
    np.testing.assert_allclose(steps.shares.sum(axis=1), 1.0, atol=1e-12)
    assert np.all(np.triu(steps.shares, 1) == 0)
    precisions = steps.added_stds[:, dim] ** -2
    np.testing.assert_allclose(steps.stds[:, dim] ** -2, np.cumsum(precisions), rtol=1e-9)
    np.testing.assert_allclose(steps.shares[-1], precisions / precisions.sum(), rtol=1e-9)


def test_poe_starts_at_the_prior_and_decodes_every_step(models, samples):
    model = models["mvae_tiny5"]
    x = samples[1]
    steps = sp.poe_steps(model, x, ["label", "hand"], 3)
    np.testing.assert_array_equal(steps.means[0], 0.0)
    np.testing.assert_array_equal(steps.stds[0], 1.0)
    assert steps.shares[0, 0] == 1.0 and steps.step_title(0).startswith("Step 0")
    assert "label" in steps.step_title(1)
    assert set(steps.outputs) == set(model.modalities)
    assert all(a.shape[0] == steps.steps for a in steps.outputs.values())
    # the last step's pictures are the page's reconstruction from the same posterior
    view = ex.reconstruct_view(model, x, ["hand", "label"])
    for m, a in view.outputs.items():
        np.testing.assert_allclose(steps.outputs[m][-1], a, atol=1e-5)
    # the first step's are what the model decodes from the prior mean
    prior = ex.decode_latents(model, {"z": np.zeros(8)})
    np.testing.assert_allclose(steps.outputs["hand"][0], prior["hand"], atol=1e-6)
    assert [len(c) for c in steps.captions.values()] == [steps.steps] * len(steps.captions)
    assert set(steps.captions) == {"label", "text"}


def test_poe_order_changes_the_steps_not_the_end(models, samples):
    model = models["mvae_tiny5"]
    a = sp.poe_steps(model, samples[0], ["hand", "text", "label"], 0)
    b = sp.poe_steps(model, samples[0], ["label", "hand", "text"], 0)
    np.testing.assert_allclose(a.means[-1], b.means[-1], atol=1e-12)
    np.testing.assert_allclose(a.stds[-1], b.stds[-1], atol=1e-12)
    assert not np.allclose(a.means[1], b.means[1])


def test_poe_refuses_what_it_cannot_step_through(models, samples):
    x = samples[0]
    for cid in ("jmvae_tiny", "mfm_tiny"):
        assert sp.stepper_kind(models[cid]) is None
        with pytest.raises(UnsupportedSubset, match="neither a product"):
            sp.poe_steps(models[cid], x, ["hand"], 0)
    with pytest.raises(ValueError, match="outside 0..7"):
        sp.poe_steps(models["mvae_tiny5"], x, ["hand"], 8)
    with pytest.raises(UnsupportedSubset, match="at least one"):
        sp.poe_steps(models["mvae_tiny5"], x, [], 0)


def test_suggested_dimension_is_a_dimension(models, samples, mmvae):
    for model in (models["mvae_tiny5"], models["mopoe_tiny"], mmvae):
        steps = sp.poe_steps(model, samples[0], ["hand", "label"], 0)
        d = sp.suggested_dim(steps)
        assert 0 <= d < model.latent_groups["z"]


# ---- mixtures ------------------------------------------------------------------------------
def _mixture_of_prefix(post: MixturePosterior, names: list[str]) -> tuple[np.ndarray, np.ndarray]:
    """MixturePosterior's own moments for the first components, in float64."""
    parts = {
        n: Posterior(post.components[n].mean.double(), post.components[n].logvar.double())
        for n in names
    }
    mix = MixturePosterior.of(parts)
    return mix.mean[0].numpy(), mix.std[0].numpy()


@settings(max_examples=20, deadline=None)
@given(data=st.data())
def test_mixture_final_step_is_the_mixture_posterior(models, samples, mmvae, data):
    which = data.draw(st.sampled_from(["mopoe_tiny", "mmvae"]), label="model")
    model = mmvae if which == "mmvae" else models[which]
    observed = data.draw(non_empty_orderings(model.modalities[:3]), label="observed")
    dim = data.draw(st.integers(0, model.latent_groups["z"] - 1), label="dim")
    x = samples[data.draw(st.integers(0, len(samples) - 1), label="sample")]
    steps = sp.poe_steps(model, x, observed, dim)
    with torch.no_grad():
        post = model.encode(x, observed)["z"]
    assert isinstance(post, MixturePosterior) and steps.kind == "mixture"
    assert steps.names[1:] == model.mixture_components(observed)
    np.testing.assert_allclose(steps.means[-1], post.mean[0].double().numpy(), atol=TOL, rtol=0)
    np.testing.assert_allclose(steps.stds[-1], post.std[0].double().numpy(), atol=TOL, rtol=0)
    # each step is the uniform mixture of the components added so far
    for s in range(1, steps.steps):
        mean, std = _mixture_of_prefix(post, steps.names[1 : s + 1])
        np.testing.assert_allclose(steps.means[s], mean, atol=1e-9)
        np.testing.assert_allclose(steps.stds[s], std, atol=1e-9)
    np.testing.assert_allclose(steps.shares.sum(axis=1), 1.0, atol=1e-12)
    assert steps.share_of == "variance" and steps.shares[1, 1] == 1.0


def test_mixture_decodes_the_mixture_mean_like_the_page(models, samples):
    model = models["mopoe_tiny"]
    steps = sp.poe_steps(model, samples[2], ["hand", "print"], 1)
    assert steps.steps == 4  # the prior, then hand, print, hand+print
    view = ex.reconstruct_view(model, samples[2], ["hand", "print"])
    for m, a in view.outputs.items():
        np.testing.assert_allclose(steps.outputs[m][-1], a, atol=1e-5)


# ---- LMF, rank by rank ---------------------------------------------------------------------
SMALL = {"embed_dim": 8, "token_dim": 8, "sequence_dim": 6, "fusion_dim": 5, "dropout": 0.0}


def lmf_model(rank: int, seed: int, **extra) -> LMF:
    torch.manual_seed(seed)
    model = LMF(LMFConfig(rank=rank, **SMALL, **extra), sentiment_like_specs(10, 30)).eval()
    with torch.no_grad():
        model.fusion.bias.normal_()
    return model


def batch(model, n: int, seed: int) -> dict[str, torch.Tensor]:
    inputs, _ = random_sentiment_batch(model.specs, n, torch.Generator().manual_seed(seed))
    return inputs


@settings(max_examples=25, deadline=None)
@given(
    rank=st.integers(1, 8),
    seed=st.integers(0, 1000),
    order=st.sampled_from(["index", "largest"]),
    observed=st.sampled_from(
        [None, ["language"], ["visual", "acoustic"], ["language", "acoustic"]]
    ),
)
def test_lmf_full_rank_sum_is_the_lmf_output(rank, seed, order, observed):
    model = lmf_model(rank, seed)
    x = batch(model, 2, seed)
    ranks = sp.lmf_rank_terms(model, x, observed, order=order)
    with torch.no_grad():
        reps = model.representations({m: x[m] for m in (observed or model.modalities)}, observed)
        fused = model.fuse(reps)[0].double().numpy()
        score = float(model.predict(x, observed)[0])
    assert ranks.rank == rank and sorted(ranks.order) == list(range(rank))
    np.testing.assert_allclose(ranks.fused[-1], fused, atol=TOL, rtol=0)
    assert abs(ranks.scores[-1] - score) < TOL
    np.testing.assert_allclose(ranks.fused[0], model.fusion.bias[0].double().detach().numpy())
    # the partial sums add one term each
    np.testing.assert_allclose(
        np.diff(ranks.fused, axis=0), ranks.terms[ranks.order], atol=1e-12, rtol=0
    )
    dims = [model.dim(m) for m in model.modalities]
    d_h = model.config.fusion_dim
    assert list(ranks.params) == [lmf_fusion_params(dims, d_h, k) for k in range(rank + 1)]
    assert ranks.params[-1] == model.fusion_parameter_count()
    assert ranks.tfn_params == tfn_fusion_params(dims, d_h)
    if order == "largest":
        norms = np.linalg.norm(ranks.terms[ranks.order], axis=1)
        assert np.all(np.diff(norms) <= 1e-12)


def test_lmf_full_rank_in_float64_is_exact():
    model = lmf_model(6, 3).double()
    x = {m: (v.double() if v.is_floating_point() else v) for m, v in batch(model, 1, 3).items()}
    ranks = sp.lmf_rank_terms(model, x)
    with torch.no_grad():
        score = float(model.predict(x)[0])
    assert abs(ranks.scores[-1] - score) < 1e-12


def test_lmf_classification_scores_the_predicted_class():
    model = lmf_model(3, 1, task="classification", target="binary")
    x = batch(model, 1, 1)
    ranks = sp.lmf_rank_terms(model, x)
    with torch.no_grad():
        probs = model.predict(x)[0].numpy()
    assert ranks.outputs.shape == (4, 2)
    np.testing.assert_allclose(ranks.outputs[-1], probs, atol=TOL)
    assert abs(ranks.scores[-1] - probs.max()) < TOL


def test_rank_terms_and_blocks_refuse_other_models():
    torch.manual_seed(0)
    tfn = TFN(FusionConfig(**SMALL), sentiment_like_specs(10, 30)).eval()
    with pytest.raises(UnsupportedSubset, match="no LMF"):
        sp.lmf_rank_terms(tfn, batch(tfn, 1, 0))
    with pytest.raises(ValueError, match="unknown order"):
        sp.lmf_rank_terms(lmf_model(2, 0), batch(tfn, 1, 0), order="random")
    late = model_class("late_fusion")
    model = late(late.config_class(**SMALL), sentiment_like_specs(10, 30)).eval()
    with pytest.raises(UnsupportedSubset, match="no TFN"):
        sp.tfn_blocks(model, batch(model, 1, 0))


# ---- TFN's blocks --------------------------------------------------------------------------
def tfn_model(seed: int, **extra) -> TFN:
    torch.manual_seed(seed)
    return TFN(FusionConfig(**{**SMALL, **extra}), sentiment_like_specs(10, 30)).eval()


@settings(max_examples=20, deadline=None)
@given(
    seed=st.integers(0, 1000),
    dims=st.tuples(st.integers(1, 6), st.integers(1, 6), st.integers(1, 6)),
    observed=st.sampled_from([None, ["language"], ["visual", "acoustic"]]),
)
def test_tfn_blocks_add_up_to_the_fused_vector(seed, dims, observed):
    names = ["language", "visual", "acoustic"]
    model = tfn_model(seed, dims=dict(zip(names, dims, strict=True)))
    x = batch(model, 2, seed)
    blocks = sp.tfn_blocks(model, x, observed)
    with torch.no_grad():
        reps = model.representations({m: x[m] for m in (observed or names)}, observed)
        fused = model.fuse(reps)[0].double().numpy()
        score = float(model.predict(x, observed)[0])
    assert blocks.source == "tfn" and len(blocks.blocks) == 8
    np.testing.assert_allclose(blocks.contributions.sum(axis=0) + blocks.bias, fused, atol=TOL)
    np.testing.assert_allclose(blocks.fused, fused, atol=TOL)
    assert abs(blocks.score - score) < TOL and abs(blocks.scores_by_order[-1] - score) < TOL
    assert sum(blocks.sizes.values()) == math.prod(d + 1 for d in dims)
    for b in blocks.blocks:
        assert blocks.sizes[b] == math.prod(dims[names.index(m)] for m in blocks.members[b])
    assert blocks.blocks[0] == "constant" and blocks.blocks[-1] == "language×visual×acoustic"
    assert [blocks.order(b) for b in blocks.blocks] == [0, 1, 1, 1, 2, 2, 2, 3]


def test_tfn_cube_has_the_ones_first_and_every_product():
    model = tfn_model(2)
    x = batch(model, 1, 2)
    blocks = sp.tfn_blocks(model, x)
    with torch.no_grad():
        hs = [h[0].double().numpy() for h in model.representations(x).values()]
    cube = blocks.cube
    assert cube.shape == tuple(len(h) + 1 for h in hs) and cube[0, 0, 0] == 1.0
    np.testing.assert_allclose(cube[1:, 0, 0], hs[0], atol=1e-12)
    np.testing.assert_allclose(cube[0, 1:, 0], hs[1], atol=1e-12)
    np.testing.assert_allclose(cube[1:, 1:, 1:], np.einsum("i,j,k->ijk", *hs), atol=1e-12)


def test_lmf_blocks_match_a_tfn_holding_its_weight_tensor():
    """LMF's blocks from its factors equal TFN's blocks when TFN holds LMF's full W."""
    lmf = lmf_model(3, 5)
    tfn = tfn_model(0)
    with torch.no_grad():
        tfn.subnets.load_state_dict(lmf.subnets.state_dict())
        tfn.head.load_state_dict(lmf.head.state_dict())
        d_h = lmf.config.fusion_dim
        tfn.fusion.linear.weight.copy_(lmf.full_weight_tensor().reshape(-1, d_h).T)
        tfn.fusion.linear.bias.copy_(lmf.fusion.bias[0])
    x = batch(lmf, 1, 5)
    a, b = sp.tfn_blocks(lmf, x), sp.tfn_blocks(tfn, x)
    assert a.source == "lmf" and b.source == "tfn" and a.blocks == b.blocks
    np.testing.assert_allclose(a.contributions, b.contributions, atol=1e-5)
    with torch.no_grad():
        fused = lmf.fuse(lmf.representations(x))[0].double().numpy()
    np.testing.assert_allclose(a.contributions.sum(0) + a.bias, fused, atol=TOL)


def test_scores_without_a_block_leave_that_block_out():
    model = tfn_model(4)
    x = batch(model, 1, 4)
    blocks = sp.tfn_blocks(model, x)
    tri = blocks.blocks.index("language×visual×acoustic")
    fused = torch.as_tensor(blocks.fused - blocks.contributions[tri], dtype=torch.float32)
    with torch.no_grad():
        expected = float(model.head(fused[None])[0, 0])
    assert abs(blocks.scores_without[tri] - expected) < TOL
    upto_bi = torch.as_tensor(
        blocks.bias + blocks.contributions[[blocks.order(b) <= 2 for b in blocks.blocks]].sum(0),
        dtype=torch.float32,
    )
    with torch.no_grad():
        assert abs(blocks.scores_by_order[2] - float(model.head(upto_bi[None])[0, 0])) < TOL


def test_block_names_and_orders():
    assert sp.block_name([]) == "constant" and sp.block_name(["a", "b"]) == "a×b"
    assert [sp.order_name(k) for k in range(5)] == [
        "constant",
        "unimodal",
        "bimodal",
        "trimodal",
        "4-modal",
    ]
    assert len(list(itertools.chain(sp._subsets(4)))) == 16


def test_bench_steppers_reports_a_frame_per_stepper(capsys):
    """The frame benchmark runs (tiny sizes) and prints its figures; no timed assertion here:
    `python -m mmviz bench steppers` measures at the shipped sizes (target <= 100 ms)."""
    from mmviz.bench import bench_steppers

    out = bench_steppers("tiny")
    for name in ("poe", "mixture", "mfm", "lmf", "tfn"):
        assert out[f"{name}_frame_ms"] > 0 and out[f"{name}_frame_cpu_ms"] >= 0
        assert out[f"{name}_frame_max_ms"] >= out[f"{name}_frame_ms"]
        assert out[f"{name}_compute_ms"] > 0
    assert out["poe_steps"] == 6 and out["mixture_steps"] == 32 and out["tfn_steps"] == 4
    assert out["mfm_steps"] == 5
    with capsys.disabled():
        print({k: round(v, 1) if isinstance(v, float) else v for k, v in out.items()})
    with pytest.raises(ValueError, match="unknown sizes"):
        bench_steppers("huge")


# ---- MFM's data flow -----------------------------------------------------------------------
def test_mfm_flow_reconstructs_and_swaps_like_the_model(models, samples):
    model = models["mfm_tiny"]
    x, mate = samples[0], samples[1]
    flow = sp.mfm_flow(model, x, mate)
    assert flow.inputs == ["hand", "print"] and flow.outputs == ["hand", "print", "label"]
    assert flow.swapped == ["hand", "print"] and flow.observed == ["hand", "print"]
    with torch.no_grad():
        codes = {g: p.mean for g, p in model.encode(x, None).items()}
        other = {g: p.mean for g, p in model.encode(mate, None).items()}
        own = model.reconstruct(x, None)
        mixed = model.decode({"y": codes["y"], "hand": other["hand"], "print": other["print"]})
    np.testing.assert_allclose(flow.shared, codes["y"][0].double().numpy(), atol=1e-6)
    np.testing.assert_allclose(flow.partner_private["hand"], other["hand"][0].numpy(), atol=1e-6)
    for m in flow.outputs:
        np.testing.assert_allclose(flow.reconstruction[m], own[m][0].numpy(), atol=1e-6)
        swapped = to_data_space(model.specs[m], mixed[m])[0].numpy()
        np.testing.assert_allclose(flow.swap_outputs[m], swapped, atol=1e-6)
    # the label comes from Z_y alone: a swap of the private factors leaves it as it was
    np.testing.assert_allclose(flow.swap_outputs["label"], flow.reconstruction["label"], atol=1e-6)
    assert set(flow.captions) == {"label"} and not flow.given_captions  # no words given


def test_mfm_flow_swapping_nothing_or_with_itself_changes_nothing(models, samples):
    model = models["mfm_tiny"]
    for flow in (
        sp.mfm_flow(model, samples[0], samples[1], swap=[]),
        sp.mfm_flow(model, samples[0], samples[0]),
    ):
        for m in flow.outputs:
            np.testing.assert_allclose(flow.swap_outputs[m], flow.reconstruction[m], atol=1e-6)
    one = sp.mfm_flow(model, samples[0], samples[1], swap=["print"])
    np.testing.assert_allclose(one.swap_outputs["hand"], one.reconstruction["hand"], atol=1e-6)
    # (a 5-step MFM barely uses its private factors: the change is small, but there)
    assert not np.array_equal(one.swap_outputs["print"], one.reconstruction["print"])
    with pytest.raises(UnsupportedSubset, match="no shared and modality-specific"):
        sp.mfm_flow(models["mvae_tiny5"], samples[0], samples[1])
