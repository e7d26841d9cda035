"""Evaluation metrics against answers computed by hand on models whose behaviour we control."""

import numpy as np
import pytest
import torch

from mmviz import evaluate
from mmviz.models.base import ModelConfig, MultimodalModel, Posterior, UnsupportedSubset
from tests.toydata import toy_dataset


class ClassCodeModel(MultimodalModel):
    """z is the one-hot class read from `label` (or from the image's bright row); decoding z
    gives the label back. With `flip`, image-only inference is wrong on purpose."""

    name = "classcode"

    def __init__(self, specs, flip: bool = False):
        super().__init__(ModelConfig(), specs)
        self.flip = flip

    @property
    def latent_groups(self):
        return {"z": 4}

    def encode(self, inputs, observed=None):
        obs = self.check_observed(observed)
        if "label" in obs:
            c = inputs["label"]
        else:
            c = inputs["image"][:, 0, :, 0].argmax(-1) // 2
            c = (c + 1) % 4 if self.flip else c
        z = torch.nn.functional.one_hot(c.long(), 4).float() * 10
        return {"z": Posterior(z, torch.full_like(z, -20.0))}

    def decode(self, latents, modalities=None):
        out = {}
        for m in modalities or self.modalities:
            if m == "label":
                out[m] = latents["z"]
            else:
                out[m] = torch.zeros(latents["z"].shape[0], 1, 8, 8)
        return out

    def predict(self, inputs, observed=None):
        z = self.encode(inputs, observed)["z"].mean
        return torch.softmax(z, -1)


def test_label_accuracy_from_each_subset():
    ds = toy_dataset()
    good = evaluate.classification_metrics(ClassCodeModel(ds.specs), ds)
    bad = evaluate.classification_metrics(ClassCodeModel(ds.specs, flip=True), ds)
    assert good["label_accuracy"] == {"image": 1.0}
    assert bad["label_accuracy"] == {"image": 0.0}


def test_coherence_counts_correct_generations(monkeypatch):
    ds = toy_dataset()
    res = evaluate.coherence_metrics(ClassCodeModel(ds.specs), ds, draws=2)
    assert res["coherence"]["image->label"] == pytest.approx(1.0)
    flipped = evaluate.coherence_metrics(ClassCodeModel(ds.specs, flip=True), ds, draws=2)
    assert flipped["coherence"]["image->label"] == pytest.approx(0.0)
    # without an oracle for `image`, only the label target is judged
    assert "label->image" not in res["coherence"]


def test_unsupported_subset_is_reported_not_hidden():
    ds = toy_dataset()

    class NoImageOnly(ClassCodeModel):
        def encode(self, inputs, observed=None):
            if "label" not in self.check_observed(observed):
                raise UnsupportedSubset("no encoder for {image}")
            return super().encode(inputs, observed)

    res = evaluate.classification_metrics(NoImageOnly(ds.specs), ds)
    assert res["label_accuracy"]["image"] is None
    assert "no encoder" in res["label_accuracy_unsupported"]["image"]


def test_regression_scores_closed_cases():
    rng = np.random.default_rng(0)
    score = rng.uniform(-3, 3, 500)
    perfect = evaluate.regression_scores(score, score)
    assert perfect["mae"] == 0 and perfect["acc2"] == 1 and perfect["acc7"] == 1
    assert perfect["corr"] == pytest.approx(1.0)
    flipped = evaluate.regression_scores(-score, score)
    assert flipped["acc2"] < 0.01 and flipped["corr"] == pytest.approx(-1.0)
    shifted = evaluate.regression_scores(score + 0.5, score)
    assert shifted["mae"] == pytest.approx(0.5)
