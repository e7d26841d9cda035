"""Modality Shapley values: closed forms, efficiency, brute force, the empty coalition."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
import torch

from mmviz.data.base import ModalitySpec
from mmviz.data.random_inputs import random_sentiment_batch, sentiment_like_specs
from mmviz.interpret.attributions import GeneratedClass, LatentDim, Prediction
from mmviz.interpret.shapley import brute_force_shapley, modality_shapley
from mmviz.models.base import ModelConfig, MultimodalModel
from mmviz.models.fusion import LMF, LMFConfig

torch.set_num_threads(1)

SPECS = {m: ModalitySpec(m, "sequence", (1, 1), "gaussian") for m in ("a", "b", "c")}


class Interacting(MultimodalModel):
    """f = a + a*b + c^2, a missing modality counting as 0.

    Shapley values in closed form: phi_a = a + ab/2, phi_b = ab/2, phi_c = c^2.
    """

    name = "interacting"

    def __init__(self):
        super().__init__(ModelConfig(), SPECS)

    def predict(self, inputs, observed=None):
        obs = self.check_observed(observed)
        n = inputs[obs[0]].shape[0]
        v = {m: inputs[m].reshape(n) if m in obs else torch.zeros(n) for m in SPECS}
        return v["a"] + v["a"] * v["b"] + v["c"] ** 2


def values(n: int = 4, seed: int = 0) -> dict[str, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    return {m: torch.randn(n, 1, 1, generator=g, dtype=torch.float64) for m in SPECS}


def test_exact_values_match_closed_form_and_brute_force():
    x = values()
    r = modality_shapley(Interacting(), x, Prediction(), empty_value=0.0)
    a, b, c = (x[m].reshape(-1).numpy() for m in "abc")
    np.testing.assert_allclose(r.per_sample["a"], a + a * b / 2, atol=1e-12)
    np.testing.assert_allclose(r.per_sample["b"], a * b / 2, atol=1e-12)
    np.testing.assert_allclose(r.per_sample["c"], c**2, atol=1e-12)
    assert r.method == "exact"
    # permutation average over all 3! orderings, from the game's values alone
    game = {}
    for k in range(4):
        for s in itertools.combinations("abc", k):
            key = "+".join(s)
            game[frozenset(s)] = r.coalitions[key]
    brute = brute_force_shapley(game, ["a", "b", "c"])
    for m in "abc":
        assert r.values[m] == pytest.approx(brute[m], abs=1e-12)
    assert sum(r.values.values()) == pytest.approx(r.v_all - r.v_empty, abs=1e-12)


def test_sampling_is_efficient_and_close_to_exact():
    x = values(n=3, seed=1)
    exact = modality_shapley(Interacting(), x, Prediction(), empty_value=0.0)
    sampled = modality_shapley(
        Interacting(), x, Prediction(), empty_value=0.0, max_exact=2, n_samples=400, seed=3
    )
    assert sampled.method == "sampling"
    total = sum(sampled.per_sample[m] for m in "abc")
    np.testing.assert_allclose(
        total, (x["a"] + x["a"] * x["b"] + x["c"] ** 2).reshape(-1), rtol=1e-5
    )  # every sampled ordering telescopes (float32 sums)
    # orderings only move the interaction a*b between a and b
    spread = np.abs((x["a"] * x["b"]).reshape(-1).numpy()).max()
    for m in "abc":
        np.testing.assert_allclose(
            sampled.per_sample[m], exact.per_sample[m], atol=0.1 * spread + 1e-5
        )
    again = modality_shapley(
        Interacting(), x, Prediction(), empty_value=0.0, max_exact=2, n_samples=400, seed=3
    )
    np.testing.assert_array_equal(again.per_sample["a"], sampled.per_sample["a"])


def test_an_ignored_modality_has_zero_value():
    class IgnoresB(Interacting):
        def predict(self, inputs, observed=None):
            obs = self.check_observed(observed)
            n = inputs[obs[0]].shape[0]
            a = inputs["a"].reshape(n) if "a" in obs else torch.zeros(n)
            c = inputs["c"].reshape(n) if "c" in obs else torch.zeros(n)
            return torch.tanh(a * c) + a

    r = modality_shapley(IgnoresB(), values(), Prediction(), empty_value=0.0)
    assert r.values["b"] == 0.0
    assert np.all(r.per_sample["b"] == 0.0)
    assert abs(r.values["a"]) > 0


def test_lmf_empty_coalition_is_every_representation_at_its_mean():
    cfg = LMFConfig(embed_dim=8, token_dim=8, sequence_dim=6, fusion_dim=8, rank=2, dropout=0.0)
    model = LMF(cfg, sentiment_like_specs(steps=8, vocab_size=30)).eval()
    x, _ = random_sentiment_batch(model.specs, 64, torch.Generator().manual_seed(0))
    model.set_missing_statistics([x])
    r = modality_shapley(model, x, Prediction())
    with torch.no_grad():
        reps = {m: model.missing_representation(m).expand(1, -1) for m in model.modalities}
        expected = float(model.head(model.fuse(reps)).squeeze())
        v_all = float(model.predict(x).mean())
    assert r.v_empty == pytest.approx(expected, rel=1e-5)
    assert r.v_all == pytest.approx(v_all, rel=1e-5)
    assert sum(r.values.values()) == pytest.approx(r.v_all - r.v_empty, abs=1e-9)
    with torch.no_grad():
        v_lv = float(model.predict(x, ["language", "visual"]).mean())
    assert r.coalitions["language+visual"] == pytest.approx(v_lv, rel=1e-5)


def test_mvae_empty_coalition_is_the_prior():
    from mmviz.models.mvae import MVAE, MVAEConfig

    specs = {
        "img": ModalitySpec("img", "image", (1, 4, 4), "bernoulli", value_range=(0.0, 1.0)),
        "seq": ModalitySpec("seq", "sequence", (3, 2), "gaussian"),
        "label": ModalitySpec(
            "label", "categorical", (), "categorical", dtype="int64", vocab=("a", "b", "c")
        ),
    }
    model = MVAE(MVAEConfig(latent_dim=4, hidden=16, enc_layers=1, dec_layers=1), specs).eval()
    g = torch.Generator().manual_seed(0)
    x = {"img": torch.rand(5, 1, 4, 4, generator=g), "seq": torch.randn(5, 3, 2, generator=g)}
    r = modality_shapley(model, x, GeneratedClass("label", index=1))
    with torch.no_grad():
        prior = torch.log_softmax(model.decode({"z": torch.zeros(1, 4)}, ["label"])["label"], 1)
    assert r.players == ["img", "seq"]
    assert r.v_empty == pytest.approx(float(prior[0, 1]), rel=1e-5)
    assert sum(r.values.values()) == pytest.approx(r.v_all - r.v_empty, abs=1e-9)
    z = modality_shapley(model, x, LatentDim("z", 0))
    assert z.v_empty == 0.0
