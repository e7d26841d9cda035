"""mmviz/explore.py: the numbers the exploration pages show, checked without Streamlit.

Uses a tiny zoo (mmviz/tinyzoo.py: a few optimizer steps per model) built once per test session;
shipped oracle checkpoints are linked into it when present. tests/test_app.py reuses the same zoo.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch

from mmviz import explore as ex
from mmviz.data import load_dataset
from mmviz.data.digits import specs as digit_specs
from mmviz.models import UnsupportedSubset
from mmviz.tinyzoo import DIGITS5, TINY, build_tiny_zoo

torch.set_num_threads(1)  # small forward passes: one thread is fastest on a shared machine


@pytest.fixture(scope="session")
def zoo(tmp_path_factory) -> Path:
    return build_tiny_zoo(str(tmp_path_factory.getbasetemp() / "tiny_zoo"))


@pytest.fixture(scope="session")
def digits():
    return load_dataset("digits")


@pytest.fixture(scope="session")
def models(zoo):
    from mmviz.checkpoint import load_checkpoint

    return {cid: load_checkpoint(zoo / cid).model for cid in TINY}


@pytest.fixture(scope="session")
def sample(digits):
    return ex.sample_batch(digits, int(digits.indices("test")[3]))


# ---- product of experts --------------------------------------------------------------------
def test_poe_shares_and_precisions(models, sample):
    m = models["mvae_tiny5"]
    for observed in (["hand"], ["hand", "text"], DIGITS5):
        v = ex.poe_view(m, sample, observed)
        assert v.names == [*observed, "prior"]
        np.testing.assert_allclose(v.shares.sum(axis=0), 1.0, atol=1e-9)
        assert abs(v.share_total.sum() - 1.0) < 1e-9
        # the product's precision is the sum of the experts' precisions, prior (1) included
        np.testing.assert_allclose(v.product_std**-2, v.precisions.sum(axis=0), rtol=1e-6)
        np.testing.assert_allclose(v.precisions[-1], 1.0)
        np.testing.assert_allclose(
            v.product_mean, (v.precisions * v.means).sum(0) / v.precisions.sum(0), rtol=1e-6
        )
        # and it is the posterior the model itself uses
        post = m.encode(sample, observed)["z"]
        np.testing.assert_allclose(v.product_mean, post.mean[0].double().numpy(), atol=1e-5)
        np.testing.assert_allclose(v.product_std, post.std[0].double().numpy(), rtol=1e-4)


def test_poe_only_for_product_of_experts(models, sample):
    assert not ex.has_experts(models["jmvae_tiny"])
    with pytest.raises(UnsupportedSubset, match="product-of-experts"):
        ex.poe_view(models["jmvae_tiny"], sample, ["hand"])


# ---- reconstruction ------------------------------------------------------------------------
def test_kl_zero_when_observing_all_and_positive_otherwise(models, sample):
    m = models["mvae_tiny5"]
    full = ex.reconstruct_view(m, sample, DIGITS5)
    assert full.shift == {"z": 0.0} and full.shift_kind == {"z": "kl"}
    part = ex.reconstruct_view(m, sample, ["label"])
    assert part.shift["z"] > 0.0
    assert not np.allclose(part.outputs["hand"], full.outputs["hand"])
    assert not np.allclose(part.posterior["z"].mean, full.posterior["z"].mean)
    assert part.probs is not None and part.probs.shape == (10,) and abs(part.probs.sum() - 1) < 1e-5


def test_shift_against_a_given_subset(models, sample):
    m = models["mvae_tiny5"]
    same = ex.reconstruct_view(m, sample, ["hand", "text"], full=["text", "hand"])
    assert same.shift == {"z": 0.0}
    part = ex.reconstruct_view(m, sample, ["hand"], full=["hand", "text"])
    q = m.encode(sample, ["hand"])["z"], m.encode(sample, ["hand", "text"])["z"]
    from mmviz.models.stats import kl_normal

    assert part.shift["z"] == pytest.approx(
        float(kl_normal(q[0].mean, q[0].logvar, q[1].mean, q[1].logvar)[0]), rel=1e-5
    )
    mfm = ex.reconstruct_view(models["mfm_tiny"], sample, ["hand"], full=["label"])
    assert mfm.shift == {}  # q(z | label) cannot be formed by MFM: no shift, no error


def test_supported_subsets(models):
    assert ex.supported_subsets(models["mvae_tiny5"]) is None  # any subset
    assert ex.supported_subsets(models["jmvae_tiny"]) == [["hand", "label"], ["hand"], ["label"]]
    assert ex.supported_subsets(models["mfm_tiny"]) == [["hand", "print"], ["print"], ["hand"]]


def test_reconstruct_shapes_and_mfm_distance(models, sample):
    v = ex.reconstruct_view(models["mvae_tiny5"], sample, ["hand"])
    assert v.outputs["hand"].shape == (1, 28, 28) and v.outputs["text"].shape[0] == 6
    assert v.outputs["print"].min() >= 0 and v.outputs["print"].max() <= 1
    mfm = ex.reconstruct_view(models["mfm_tiny"], sample, ["hand"])
    assert set(mfm.shift_kind.values()) == {"distance"}
    assert mfm.posterior["y"].std is None
    assert mfm.shift["hand"] == pytest.approx(0.0, abs=1e-6)  # hand's own code is unchanged
    with pytest.raises(UnsupportedSubset):
        ex.reconstruct_view(models["mfm_tiny"], sample, ["label"])  # the label is MFM's target


def test_compare_views_reports_what_cannot_run(models, sample):
    out = ex.compare_views(models, sample, ["print"])
    assert isinstance(out["mvae_tiny5"], ex.ReconView) and isinstance(out["mfm_tiny"], ex.ReconView)
    assert "observes none" in out["jmvae_tiny"]
    assert "no input" in out["lmf_tiny"]


# ---- traversal -----------------------------------------------------------------------------
def test_traversal_grid_shape_and_rows(models, sample):
    m = models["mvae_tiny5"]
    base = ex.base_latents(m, sample, None)
    values = np.linspace(-3, 3, 9)
    grid = ex.traversal_grid(m, base, "z", list(range(8)), values)
    assert grid.outputs["hand"].shape == (8, 9, 1, 28, 28)
    assert grid.outputs["label"].shape == (8, 9, 10) and grid.outputs["text"].shape[:3] == (8, 9, 6)
    for r, d in [(0, 0), (5, 5)]:
        z = base["z"].clone()
        z[0, d] = float(values[2])
        direct = ex.decode_latents(m, {"z": z})
        np.testing.assert_allclose(grid.outputs["hand"][r, 2], direct["hand"], atol=1e-6)
    assert not np.allclose(grid.outputs["hand"][0, 0], grid.outputs["hand"][0, -1])
    with pytest.raises(ValueError, match="dimensions"):
        ex.traversal_grid(m, base, "z", [8], values)


def test_sweep_2d(models, sample):
    m = models["mfm_tiny"]
    base = ex.base_latents(m, sample, None)
    sweep = ex.sweep_2d(m, base, "y", (0, 2), [-1.0, 0.0, 1.0], [-2.0, 2.0])
    assert sweep.outputs["print"].shape == (3, 2, 3, 32, 32) and sweep.sweep
    lat = {g: t.clone() for g, t in base.items()}
    lat["y"][0, 0], lat["y"][0, 2] = 1.0, -2.0
    np.testing.assert_allclose(
        sweep.outputs["print"][2, 0], ex.decode_latents(m, lat)["print"], atol=1e-6
    )
    with pytest.raises(ValueError, match="two different"):
        ex.sweep_2d(m, base, "y", (1, 1), [0.0])


def test_prior_base_is_zero(models):
    base = ex.base_latents(models["mfm_tiny"], source="prior")
    assert set(base) == {"y", "hand", "print"} and all(
        float(t.abs().sum()) == 0 for t in base.values()
    )


def test_dimension_activity(models, digits):
    x = ex.sample_batch(digits, 0)
    batch = {k: torch.cat([x[k], ex.sample_batch(digits, 7)[k]]) for k in x}
    a = ex.dimension_activity(models["mvae_tiny5"], batch, "z")
    assert a.shape == (8,) and (a >= 0).all() and a.sum() > 0


# ---- cross-modal ---------------------------------------------------------------------------
def test_cross_modal_samples_and_agreement(models, sample):
    m = models["mvae_tiny5"]
    always3 = lambda x: torch.nn.functional.one_hot(torch.full((x.shape[0],), 3), 10).float()  # noqa: E731
    v = ex.cross_modal(m, sample, ["label"], n=5, seed=1, judges={"hand": always3}, reference=3)
    assert v.samples["hand"].shape == (5, 1, 28, 28) and v.samples["sound"].shape == (5, 1, 32, 32)
    assert v.agreement["hand"] == 1.0 and v.reference == 3 and v.reference_source == "given"
    assert set(v.unjudged) == {"print", "text", "sound"}
    assert not np.allclose(v.samples["hand"][0], v.samples["hand"][1])  # draws differ
    again = ex.cross_modal(m, sample, ["label"], n=5, seed=1, judges={"hand": always3}, reference=3)
    np.testing.assert_array_equal(v.samples["print"], again.samples["print"])  # seeded
    assert set(v.agreement) == {"hand"}  # coherence is about generated modalities only
    assert set(v.predictions) == {"hand", "label"}


def test_cross_modal_judges_against_the_class_the_condition_names(models, sample):
    """A typed phrase is judged against the digit it names, never the draws' own majority:
    draws that all show a 3 for "sieben" agree 0%, not 100%."""
    from mmviz.data.digits import encode_text

    m = models["mvae_tiny5"]
    always3 = lambda x: torch.nn.functional.one_hot(torch.full((x.shape[0],), 3), 10).float()  # noqa: E731
    typed = {**sample, "text": torch.from_numpy(encode_text("sieben")[0])[None]}
    v = ex.cross_modal(m, typed, ["text"], n=4, judges={"hand": always3})
    assert v.reference == 7 and "names" in v.reference_source
    assert v.agreement["hand"] == 0.0
    three = {**sample, "text": torch.from_numpy(encode_text("the digit three")[0])[None]}
    assert ex.cross_modal(m, three, ["text"], n=4, judges={"hand": always3}).agreement["hand"] == 1
    # a drawing is read by its oracle; a phrase naming no digit gives no reference at all
    drawn = ex.cross_modal(m, sample, ["hand"], n=3, judges={"hand": always3})
    assert drawn.reference == 3 and "oracle_hand" in drawn.reference_source
    vague = {**sample, "text": torch.from_numpy(encode_text("hello")[0])[None]}
    none = ex.cross_modal(m, vague, ["text"], n=3, judges={"hand": always3})
    assert none.reference is None and none.agreement == {}
    # the label, when observed, wins over everything else
    labelled = {**typed, "label": torch.tensor([5])}
    both = ex.cross_modal(m, labelled, ["text", "label"], n=3, judges={"hand": always3})
    assert both.reference == 5


def test_class_named_by_phrases():
    from mmviz.data.digits import NUMBER_WORDS, class_named_by, encode_text

    for words in NUMBER_WORDS.values():
        for d, w in enumerate(words):
            assert class_named_by(encode_text(f"the answer is {w}")[0]) == d
    assert class_named_by(encode_text("7")[0]) == 7 and class_named_by(encode_text("funf")[0]) == 5
    assert class_named_by(encode_text("one two")[0]) is None  # two digits: no single class
    assert class_named_by(encode_text("the digit")[0]) is None


def test_cross_modal_mfm_draws_style_from_prior(models, sample):
    v = ex.cross_modal(models["mfm_tiny"], sample, ["hand"], n=4, seed=0)
    assert v.prior_groups == ["print"]
    assert not np.allclose(v.samples["print"][0], v.samples["print"][1])
    np.testing.assert_allclose(v.samples["hand"][0], v.samples["hand"][1])  # hand's code is fixed


# ---- latent map ----------------------------------------------------------------------------
def test_latent_map_pca_and_links(models, digits):
    m = models["mvae_tiny5"]
    test = digits.indices("test")
    lm = ex.latent_map(m, digits, "z", limit=300, link_indices=[int(test[0]), int(test[1])])
    assert lm.coords.shape == (300, 2) and np.isin(lm.index, test).all()
    np.testing.assert_array_equal(lm.classes, digits.targets["class"][lm.index])
    assert len(lm.links) == 2 and set(lm.links[0][2]) == set(DIGITS5)
    assert lm.explained is not None and 0 < lm.explained.sum() <= 1 + 1e-9
    # PCA is linear: the joint point of a linked sample is its mean's projection
    from sklearn.decomposition import PCA

    pca = PCA(n_components=2, random_state=0).fit(lm.means)
    joint = ex.posterior_means(m, digits, np.array([test[0]]), "z")
    np.testing.assert_allclose(lm.links[0][1], pca.transform(joint)[0], atol=1e-4)


def test_latent_map_tsne_small(models, digits):
    lm = ex.latent_map(
        models["jmvae_tiny"],
        digits,
        "z",
        limit=60,
        method="tsne",
        link_indices=[int(digits.indices("test")[0])],
    )
    assert (
        lm.coords.shape == (60, 2)
        and lm.explained is None
        and set(lm.links[0][2]) == {"hand", "label"}
    )
    with pytest.raises(ValueError, match="projection"):
        ex.latent_map(models["jmvae_tiny"], digits, "z", method="umap")


# ---- helpers -------------------------------------------------------------------------------
def test_corrupt():
    s = digit_specs()
    img = torch.full((1, 1, 28, 28), 0.5)
    assert ex.corrupt(img, s["hand"], 0.0) is img
    noisy = ex.corrupt(img, s["hand"], 0.5, seed=3)
    assert noisy.min() >= 0 and noisy.max() <= 1 and not torch.equal(noisy, img)
    assert torch.equal(noisy, ex.corrupt(img, s["hand"], 0.5, seed=3))
    occ = ex.corrupt(img, s["hand"], 0.25, mode="occlude")
    assert (occ == 0).float().mean().item() == pytest.approx(0.25, abs=0.03)
    tokens = torch.tensor([[5, 7, 9, 0, 0, 0]])
    assert ex.corrupt(tokens, s["text"], 1.0).tolist() == [[1, 1, 1, 0, 0, 0]]
    labels = torch.arange(10)
    assert (ex.corrupt(labels, s["label"], 1.0) != labels).all()


def test_tokens_to_text_cuts_at_pad():
    spec = digit_specs()["text"]
    vocab = list(spec.vocab)
    ids = np.array([vocab.index("the"), vocab.index("digit"), 0, vocab.index("seven"), 0, 0])
    assert ex.tokens_to_text(ids, spec) == "the digit"
    assert ex.tokens_to_text(ids, spec, cut_at_pad=False) == "the digit seven"
    probs = np.eye(len(vocab))[ids]
    assert ex.tokens_to_text(probs, spec) == "the digit"


def test_catalog(zoo, tmp_path):
    rows = {r.id: r for r in ex.catalog(zoo)}
    assert {"mvae_tiny5", "jmvae_tiny", "mfm_tiny", "lmf_tiny"} <= set(rows)
    assert rows["mvae_tiny5"].generative and rows["mvae_tiny5"].latent_groups == {"z": 8}
    assert rows["mfm_tiny"].latent_groups == {"y": 4, "hand": 3, "print": 3}
    assert not rows["lmf_tiny"].generative and rows["lmf_tiny"].dataset == "sentiment"
    assert all(r.oracle for k, r in rows.items() if k.startswith("oracle_"))
    broken = tmp_path / "root"
    shutil.copytree(zoo / "jmvae_tiny", broken / "broken")
    (broken / "broken" / "meta.json").write_text("{not json")
    (row,) = ex.catalog(broken)
    assert row.problem and "meta.json" in row.problem and row.model == "jmvae"
    assert json.loads((zoo / "mvae_tiny5" / "config.json").read_text())["model"] == "mvae"


def test_mixture_view_shows_the_components_of_a_mixture_posterior(digits):
    from mmviz.models import model_class

    cls = model_class("mopoe")
    model = cls(cls.config_class(latent_dim=4, hidden=16), digits.specs).eval()
    x = ex.sample_batch(digits, 0)
    mv = ex.mixture_view(model, x, ["hand", "label", "text"])
    assert mv.total == 7 and mv.names == [
        "hand",
        "label",
        "text",
        "hand+label",
        "hand+text",
        "label+text",
        "hand+label+text",
    ]
    np.testing.assert_allclose(mv.mixture_mean, mv.means.mean(axis=0), atol=1e-6)
    five = ex.mixture_view(model, x, None)
    assert five.total == 31 and five.names[-1] == "+".join(model.modalities)
    assert len(five.names) == len(model.modalities) + 1  # singles and the full product
    assert ex.mixture_view(ex_mvae(digits), x, ["hand"]) is None


def ex_mvae(digits):
    from mmviz.models import model_class

    cls = model_class("mvae")
    return cls(cls.config_class(latent_dim=4, hidden=16), digits.specs).eval()


def test_runner_up_class_is_the_second_most_probable(models, sample):
    m = models["mvae_tiny5"]
    obs = ["hand", "print"]
    with torch.no_grad():
        probs = m.predict(sample, obs)[0]
    n, second = ex.runner_up_class(m, sample, obs)
    assert n == 10 and second == int(torch.argsort(probs, descending=True)[1])
    assert second != int(probs.argmax())
