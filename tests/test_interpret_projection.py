"""Latent projections: joint and unimodal posteriors in one shared 2-D map."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from sklearn.decomposition import PCA

from mmviz.data.base import ModalitySpec
from mmviz.interpret.projection import latent_projection
from mmviz.models.jmvae import JMVAE, JMVAEConfig
from mmviz.models.mvae import MVAE, MVAEConfig

torch.set_num_threads(1)

SPECS = {
    "img": ModalitySpec("img", "image", (1, 4, 4), "bernoulli", value_range=(0.0, 1.0)),
    "label": ModalitySpec(
        "label", "categorical", (), "categorical", dtype="int64", vocab=("a", "b", "c")
    ),
}


def batch(n: int = 40) -> dict[str, torch.Tensor]:
    g = torch.Generator().manual_seed(0)
    return {
        "img": torch.rand(n, 1, 4, 4, generator=g),
        "label": torch.randint(0, 3, (n,), generator=g),
    }


def test_pca_is_fitted_on_joint_means_and_applied_to_unimodal_ones():
    model = MVAE(MVAEConfig(latent_dim=6, hidden=16, enc_layers=1, dec_layers=1), SPECS).eval()
    x = batch()
    df = latent_projection(model, x, sample_ids=np.arange(100, 140))
    assert list(df.columns) == ["x", "y", "sample", "source"]
    assert df.source.value_counts().to_dict() == {"joint": 40, "img": 40, "label": 40}
    with torch.no_grad():
        joint = model.encode(x)["z"].mean.double().numpy()
        alone = model.encode(x, ["label"])["z"].mean.double().numpy()
    pca = PCA(2).fit(joint)
    for source, means in (("joint", joint), ("label", alone)):
        got = df[df.source == source][["x", "y"]].to_numpy()
        ref = pca.transform(means)
        # principal axes are defined up to sign
        np.testing.assert_allclose(np.abs(got), np.abs(ref), rtol=1e-6, atol=1e-9)
    assert df[df.source == "img"]["sample"].tolist() == list(range(100, 140))
    assert len(df.attrs["explained_variance_ratio"]) == 2


def test_unsupported_unimodal_posteriors_are_listed_not_faked():
    cfg = JMVAEConfig(latent_dim=4, hidden=16, enc_layers=1, dec_layers=1, alpha=0.0)
    model = JMVAE(cfg, SPECS).eval()
    df = latent_projection(model, batch(20))
    assert set(df.source) == {"joint"}
    assert set(df.attrs["skipped"]) == {"img", "label"}
    assert "no encoder" in df.attrs["skipped"]["img"]


def test_tsne_is_fitted_on_all_points_and_deterministic():
    model = MVAE(MVAEConfig(latent_dim=6, hidden=16, enc_layers=1, dec_layers=1), SPECS).eval()
    x = batch(30)
    a = latent_projection(model, x, method="tsne", perplexity=10, seed=1)
    b = latent_projection(model, x, method="tsne", perplexity=10, seed=1)
    assert len(a) == 90
    np.testing.assert_array_equal(a[["x", "y"]].to_numpy(), b[["x", "y"]].to_numpy())
    with pytest.raises(ValueError, match="pca"):
        latent_projection(model, x, method="umap")
