"""2-D projections of posterior means: the joint posterior and each unimodal one, in one map.

Every sample gets a point for its joint posterior (all observed modalities) and one per
modality for the posterior from that modality alone, all in the same coordinates, so a page
can draw a line from each unimodal posterior to the joint one (how far one modality alone is
from the full picture). PCA is fitted on the joint means and applied to the unimodal ones;
t-SNE has no transform, so it is fitted on all points together.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
import torch
from torch import Tensor

from mmviz.interpret.information import single_threaded
from mmviz.models.base import MultimodalModel, UnsupportedSubset


def _means(
    model: MultimodalModel,
    inputs: dict[str, Tensor],
    observed: Sequence[str] | None,
    groups: Sequence[str],
) -> np.ndarray:
    post = model.encode(inputs, observed)
    return torch.cat([post[g].mean for g in groups], dim=1).double().cpu().numpy()


@single_threaded
@torch.no_grad()
def latent_projection(
    model: MultimodalModel,
    inputs: dict[str, Tensor],
    method: str = "pca",
    groups: Sequence[str] | None = None,
    modalities: Sequence[str] | None = None,
    observed: Sequence[str] | None = None,
    sample_ids: Sequence[int] | np.ndarray | None = None,
    perplexity: float = 30.0,
    seed: int = 0,
) -> pd.DataFrame:
    """Columns x, y, sample, source ("joint" or the modality observed alone).

    groups: latent groups to concatenate (default all). modalities: which unimodal posteriors
    to add (default: every modality in `inputs` the model reads); a modality the model cannot
    infer from alone (e.g. JMVAE without unimodal encoders) is left out and listed in
    `df.attrs["skipped"]` with the reason. observed: the joint posterior's subset (default:
    all). sample_ids: labels of the samples (default 0..n-1). t-SNE costs grow quickly with
    the number of points ((1 + M) n): subsample to a few thousand.
    """
    from sklearn.decomposition import PCA
    from sklearn.manifold import TSNE

    if method not in ("pca", "tsne"):
        raise ValueError(f"method must be 'pca' or 'tsne', not {method!r}")
    groups = list(groups) if groups is not None else list(model.latent_groups)
    if not groups:
        raise ValueError(f"{model.name} has no latent posterior to project")
    mods = (
        list(modalities) if modalities is not None else [m for m in model.modalities if m in inputs]
    )
    was_training = model.training
    model.eval()
    try:
        if observed is None:
            observed = [m for m in model.modalities if m in inputs]
        joint = _means(model, inputs, observed, groups)
        parts, skipped = {}, {}
        for m in mods:
            try:
                parts[m] = _means(model, inputs, [m], groups)
            except UnsupportedSubset as e:
                skipped[m] = str(e)
    finally:
        model.train(was_training)
    n = len(joint)
    ids = np.arange(n) if sample_ids is None else np.asarray(sample_ids)
    if len(ids) != n:
        raise ValueError(f"{len(ids)} sample_ids for {n} samples")
    blocks = [joint, *parts.values()]
    sources = ["joint", *parts]
    attrs: dict = {"method": method, "groups": groups, "skipped": skipped}
    if method == "pca":
        pca = PCA(n_components=2, random_state=seed).fit(joint)
        coords = [pca.transform(b) for b in blocks]
        attrs["explained_variance_ratio"] = pca.explained_variance_ratio_.tolist()
    else:
        stacked = np.vstack(blocks)
        perp = float(min(perplexity, max(1.0, (len(stacked) - 1) / 3)))
        tsne = TSNE(n_components=2, perplexity=perp, init="pca", random_state=seed)
        emb = tsne.fit_transform(stacked)
        coords = np.split(emb, len(blocks))
        attrs["perplexity"] = perp
    df = pd.DataFrame(
        {
            "x": np.concatenate([c[:, 0] for c in coords]),
            "y": np.concatenate([c[:, 1] for c in coords]),
            "sample": np.tile(ids, len(blocks)),
            "source": np.repeat(sources, n),
        }
    )
    df.attrs.update(attrs)
    return df
