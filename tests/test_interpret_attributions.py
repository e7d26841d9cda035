"""Attributions: completeness, known answers on additive models, zero for ignored inputs."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn

from mmviz.data.base import ModalitySpec
from mmviz.data.random_inputs import random_sentiment_batch, sentiment_like_specs
from mmviz.interpret.attributions import (
    METHODS,
    Attributor,
    GeneratedClass,
    ImageRegion,
    LatentDim,
    Prediction,
    attribute,
    embedding_modules,
)
from mmviz.models.base import ModelConfig, MultimodalModel, to_data_space
from mmviz.models.fusion import LMF, LMFConfig

torch.set_num_threads(1)

VOCAB = ("<pad>", "<unk>") + tuple(f"w{i}" for i in range(8))
TOY_SPECS = {
    "words": ModalitySpec("words", "tokens", (5,), "categorical", dtype="int64", vocab=VOCAB),
    "seq": ModalitySpec("seq", "sequence", (4, 3), "gaussian"),
    "img": ModalitySpec("img", "image", (2, 4, 4), "bernoulli", value_range=(0.0, 1.0)),
}


class Additive(MultimodalModel):
    """score = sum_t w[id_t] + <u, seq> + <v, img>, reading only the modalities in `use`.

    Its Shapley values, IG and ablation values are known in closed form: the contribution of
    each word is w[id] - w[PAD] (= w[id]), of each real entry u * x (or v * x).
    """

    name = "additive"

    def __init__(self, use: tuple[str, ...] = ("words", "seq", "img"), seed: int = 0) -> None:
        super().__init__(ModelConfig(), TOY_SPECS)
        g = torch.Generator().manual_seed(seed)
        self.use = use
        self.encoders = nn.ModuleDict({"words": nn.Embedding(len(VOCAB), 1, padding_idx=0)})
        with torch.no_grad():
            self.encoders["words"].weight[1:] = torch.randn(len(VOCAB) - 1, 1, generator=g)
        self.u = nn.Parameter(torch.randn(4, 3, generator=g))
        self.v = nn.Parameter(torch.randn(2, 4, 4, generator=g))

    def predict(self, inputs, observed=None):
        obs = self.check_observed(observed)
        n = inputs[obs[0]].shape[0]
        out = torch.zeros(n)
        if "words" in obs and "words" in self.use:
            out = out + self.encoders["words"](inputs["words"]).squeeze(-1).sum(1)
        if "seq" in obs and "seq" in self.use:
            out = out + (inputs["seq"] * self.u).sum((1, 2))
        if "img" in obs and "img" in self.use:
            out = out + (inputs["img"] * self.v).sum((1, 2, 3))
        return out


def toy_inputs(n: int = 3, seed: int = 1) -> dict[str, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    words = torch.randint(2, len(VOCAB), (n, 5), generator=g)
    words[:, -1] = 0  # one PAD step
    return {
        "words": words,
        "seq": torch.randn(n, 4, 3, generator=g),
        "img": torch.rand(n, 2, 4, 4, generator=g),
    }


def known_contributions(model: Additive, x: dict[str, torch.Tensor]) -> dict[str, np.ndarray]:
    w = model.encoders["words"].weight.detach().squeeze(-1)
    return {
        "words": w[x["words"]].numpy(),
        "seq": (x["seq"] * model.u.detach()).numpy(),
        "img": (x["img"] * model.v.detach()).numpy(),
    }


@pytest.mark.parametrize(
    "method", ["IntegratedGradients", "FeatureAblation", "ShapleyValueSampling", "GradientShap"]
)
def test_additive_model_gets_its_exact_contributions(method):
    model, x = Additive(), toy_inputs()
    params = {"n_samples": 3} if method == "ShapleyValueSampling" else {}
    if method == "GradientShap":
        params = {"n_samples": 8}
    r = Attributor(method, **params).attribute(model, x, Prediction())
    expected = known_contributions(model, x)
    for m in ("words", "seq"):
        np.testing.assert_allclose(r.per_modality[m], expected[m], rtol=1e-4, atol=1e-5)
    # perturbation methods remove a pixel's channels together: compare per pixel
    np.testing.assert_allclose(
        r.per_modality["img"].sum(1), expected["img"].sum(1), rtol=1e-4, atol=1e-5
    )
    total = sum(r.totals().values())
    np.testing.assert_allclose(total, r.target_value - r.baseline_value, rtol=1e-4, atol=1e-5)


def test_image_patches_spread_a_patch_effect_over_its_pixels():
    model, x = Additive(use=("img",)), toy_inputs(n=1)
    r = Attributor("FeatureAblation", image_patch=2).attribute(model, x, Prediction(), ["img"])
    contrib = known_contributions(model, x)["img"][0]  # (2, 4, 4)
    got = r.per_modality["img"][0]
    for i in range(0, 4, 2):
        for j in range(0, 4, 2):
            patch = got[:, i : i + 2, j : j + 2]
            assert patch.sum() == pytest.approx(contrib[:, i : i + 2, j : j + 2].sum(), abs=1e-5)
            np.testing.assert_allclose(patch, patch.mean(), atol=1e-6)  # spread evenly


def test_perturbing_tokens_by_id_uses_the_baseline_word():
    model, x = Additive(use=("words",)), toy_inputs()
    w = model.encoders["words"].weight.detach().squeeze(-1)
    pad = Attributor("FeatureAblation").attribute(model, x, Prediction(), ["words"])
    unk = Attributor("FeatureAblation", token_baseline="unk").attribute(
        model, x, Prediction(), ["words"]
    )
    np.testing.assert_allclose(pad.per_modality["words"], w[x["words"]].numpy(), atol=1e-6)
    ids = x["words"]
    np.testing.assert_allclose(unk.per_modality["words"], (w[ids] - w[1]).numpy(), atol=1e-6)


@pytest.mark.parametrize("method", list(METHODS))
def test_ignored_modalities_get_exactly_zero(method):
    model, x = Additive(use=("img",)), toy_inputs(n=2)
    params = {"n_samples": 2} if method == "ShapleyValueSampling" else {}
    r = Attributor(method, **params).attribute(model, x, Prediction())
    assert np.all(r.per_modality["words"] == 0)
    assert np.all(r.per_modality["seq"] == 0)
    assert np.abs(r.per_modality["img"]).sum() > 0
    assert r.shares["img"] == pytest.approx(1.0)
    assert r.shares["words"] == 0 and r.shares["seq"] == 0


def _lively_lmf(seed: int = 0) -> LMF:
    """A fresh LMF whose output actually varies with its inputs (larger fusion factors).
    Mean pooling keeps it smooth, so IG's quadrature error shrinks steadily with the steps
    (max/min pooling adds kinks that make the convergence check below uneven)."""
    cfg = LMFConfig(
        embed_dim=8,
        token_dim=8,
        sequence_dim=6,
        fusion_dim=8,
        rank=2,
        dropout=0.0,
        sequence_pool="mean",
        seed=seed,
    )
    model = LMF(cfg, sentiment_like_specs(steps=8, vocab_size=30))
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for w in model.fusion.factors:
            w.copy_(torch.randn(w.shape, generator=g))
        model.fusion.rank_weights.fill_(1.0)
        for layer in model.head:
            if isinstance(layer, nn.Linear):
                layer.weight.mul_(4.0)
    return model.eval()


def test_integrated_gradients_completeness_on_lmf():
    model = _lively_lmf()
    x, _ = random_sentiment_batch(model.specs, 4, torch.Generator().manual_seed(3))
    r = attribute(model, x, Prediction(), "IntegratedGradients", n_steps=64)
    diff = r.target_value - r.baseline_value
    assert np.abs(diff).mean() > 0.3  # the check below is not about tiny numbers
    total = sum(r.totals().values())
    np.testing.assert_allclose(total - diff, r.deltas, atol=1e-5)  # Captum's delta is this gap
    np.testing.assert_allclose(total, diff, atol=0.02 * np.abs(diff).max())
    # the gap is quadrature error: it shrinks as the path is integrated more finely
    fine = attribute(model, x, Prediction(), "IntegratedGradients", n_steps=512)
    assert np.abs(fine.deltas).max() < 0.1 * np.abs(r.deltas).max()
    np.testing.assert_allclose(sum(fine.totals().values()), diff, atol=1e-3)
    assert set(r.per_modality) == {"language", "visual", "acoustic"}
    assert r.per_modality["language"].shape == (4, 8)  # one value per word
    assert r.per_modality["visual"].shape == (4, 8, 8)  # per time step and feature
    assert sum(r.shares.values()) == pytest.approx(1.0)
    # the language embedding really is what was attributed: PAD words get exactly zero
    pad = x["language"] == 0
    assert np.all(r.per_modality["language"][pad.numpy()] == 0)


def test_integrated_gradients_completeness_on_an_mlp():
    torch.manual_seed(0)

    class MLP(MultimodalModel):
        name = "mlp"

        def __init__(self):
            super().__init__(ModelConfig(), {k: TOY_SPECS[k] for k in ("seq", "img")})
            self.net = nn.Sequential(nn.Linear(12 + 32, 16), nn.Tanh(), nn.Linear(16, 3))

        def predict(self, inputs, observed=None):
            h = torch.cat([inputs["seq"].flatten(1), inputs["img"].flatten(1)], dim=1)
            return torch.softmax(self.net(h), dim=1)

    model, x = MLP(), toy_inputs(n=3)
    x = {k: x[k] * 3 for k in ("seq", "img")}
    r = Attributor("IntegratedGradients", n_steps=128).attribute(model, x, Prediction(index=2))
    total = sum(r.totals().values())
    logp = torch.log(model.predict(x)[:, 2]).detach().numpy()
    np.testing.assert_allclose(r.target_value, logp, rtol=1e-5)
    np.testing.assert_allclose(total, r.target_value - r.baseline_value, rtol=1e-3, atol=1e-4)
    assert r.delta < 1e-3


def test_predicted_class_is_fixed_at_the_input():
    cfg = LMFConfig(
        task="classification",
        num_classes=3,
        embed_dim=8,
        token_dim=8,
        sequence_dim=6,
        fusion_dim=8,
        rank=2,
        dropout=0.0,
        seed=1,
    )
    model = LMF(cfg, sentiment_like_specs(steps=8, vocab_size=30)).eval()
    x, _ = random_sentiment_batch(model.specs, 5, torch.Generator().manual_seed(0))
    probs = model.predict(x).detach()
    r = Attributor("IntegratedGradients", n_steps=16).attribute(model, x, Prediction())
    np.testing.assert_array_equal(r.index, probs.argmax(1).numpy())
    chosen = probs.gather(1, probs.argmax(1, keepdim=True)).squeeze(1)
    np.testing.assert_allclose(r.target_value, torch.log(chosen).numpy(), rtol=1e-5)
    r = Attributor("Saliency").attribute(model, x, Prediction(index=2, output="prob"))
    np.testing.assert_allclose(r.target_value, probs[:, 2].numpy(), rtol=1e-5)


def test_generative_targets_on_an_mvae():
    from mmviz.models.mvae import MVAE, MVAEConfig

    specs = {
        "img": TOY_SPECS["img"],
        "words": TOY_SPECS["words"],
        "label": ModalitySpec(
            "label", "categorical", (), "categorical", dtype="int64", vocab=("a", "b", "c")
        ),
    }
    model = MVAE(MVAEConfig(latent_dim=4, hidden=16, enc_layers=1, dec_layers=1), specs).eval()
    x = toy_inputs(n=2)
    x["label"] = torch.tensor([0, 2])
    assert len(embedding_modules(model, "words")) == 1
    # label generated from the image alone
    r = attribute(model, x, GeneratedClass("label", index=1), observed=["img"], n_steps=64)
    z = model.encode(x, ["img"])["z"].mean
    logp = torch.log_softmax(model.decode({"z": z}, ["label"])["label"], 1)[:, 1]
    np.testing.assert_allclose(r.target_value, logp.detach().numpy(), rtol=1e-5)
    assert list(r.per_modality) == ["img"]
    np.testing.assert_allclose(
        sum(r.totals().values()), r.target_value - r.baseline_value, rtol=1e-2, atol=1e-4
    )
    # a latent dimension, from every modality (the label as an input goes through its embedding)
    r = attribute(model, x, LatentDim("z", 2), observed=["img", "words", "label"])
    np.testing.assert_allclose(
        r.target_value, model.encode(x)["z"].mean[:, 2].detach().numpy(), rtol=1e-5
    )
    assert r.per_modality["label"].shape == (2,)
    np.testing.assert_allclose(
        sum(r.totals().values()), r.target_value - r.baseline_value, rtol=1e-2, atol=1e-4
    )
    # a region of the image generated from the words
    region = ImageRegion("img", rows=(1, 3), cols=(0, 2), channel=1)
    r = attribute(model, x, region, method_name="Occlusion")
    assert r.observed == ["words", "label"]
    z = model.encode(x, ["words", "label"])["z"].mean
    img = to_data_space(specs["img"], model.decode({"z": z}, ["img"])["img"])
    np.testing.assert_allclose(
        r.target_value, img[:, 1, 1:3, 0:2].sum((1, 2)).detach().numpy(), rtol=1e-5
    )


def test_method_parameters_are_validated():
    with pytest.raises(ValueError, match="no parameter"):
        Attributor("Saliency", n_steps=4)
    with pytest.raises(ValueError, match=">= 2"):
        Attributor("IntegratedGradients", n_steps=1)
    with pytest.raises(ValueError, match="one of"):
        Attributor("IntegratedGradients", method="simpson")
    with pytest.raises(ValueError, match="unknown attribution method"):
        Attributor("LRP")
    for spec in METHODS.values():  # every default passes its own validation
        Attributor(spec.name, **spec.defaults())
    assert METHODS["IntegratedGradients"].has_delta and METHODS["GradientShap"].has_delta
    assert "internal_batch_size" in METHODS["IntegratedGradients"].defaults()


def test_same_seed_same_result():
    model, x = Additive(), toy_inputs()
    a = Attributor("GradientShap", n_samples=4, stdevs=0.3, seed=5)
    r1, r2 = a.attribute(model, x, Prediction()), a.attribute(model, x, Prediction())
    for m in r1.per_modality:
        np.testing.assert_array_equal(r1.per_modality[m], r2.per_modality[m])


CHECKPOINT = Path(__file__).resolve().parent.parent / "checkpoints" / "lmf_sentiment"


def test_trained_lmf_credits_the_face_on_unique_visual_samples(tmp_cache):
    """On utterances whose polarity only the face shows, the shipped LMF's prediction should
    owe most to `visual`, and in the direction of the true score. Modality Shapley values use
    the model's own missing-modality path, so they answer "what did the face add"; IG against
    an all-zero baseline instead also credits language for moving off a zero embedding."""
    if not (CHECKPOINT / "model.safetensors").is_file():
        pytest.skip(f"no trained checkpoint at {CHECKPOINT} (the lead ships lmf_sentiment)")
    from mmviz.checkpoint import load_checkpoint
    from mmviz.data import load_dataset
    from mmviz.interpret.shapley import modality_shapley

    model = load_checkpoint("lmf_sentiment").model
    ds = load_dataset("sentiment")
    test = ds.indices("test")
    recipe = ds.factors["interaction"][test]
    pick = np.flatnonzero(recipe == ds.info["interactions"].index("unique_visual"))[:60]
    x = ds.tensors("test", pick)
    r = modality_shapley(model, {m: x[m] for m in model.modalities}, Prediction())
    strength = {m: float(np.abs(v).mean()) for m, v in r.per_sample.items()}
    assert max(strength, key=strength.get) == "visual", strength
    score = ds.targets["score"][test][pick]
    agree = np.mean(np.sign(r.per_sample["visual"]) == np.sign(score))
    assert agree > 0.75, agree

    # IntegratedGradients' visual share rises on these samples well above its share where
    # the words carry the polarity (the largest share stays with language there, because
    # LMF's language vector moves far from the all-PAD baseline and scales the fusion)
    def visual_share(recipe_name: str) -> float:
        chosen = np.flatnonzero(recipe == ds.info["interactions"].index(recipe_name))[:40]
        xs = ds.tensors("test", chosen)
        ig = Attributor("IntegratedGradients", n_steps=32).attribute(
            model, {m: xs[m] for m in model.modalities}, Prediction()
        )
        return ig.shares["visual"]

    face = visual_share("unique_visual")
    assert face > 3 * visual_share("unique_language") and face > 3 * visual_share("redundant")
