"""The Missing modalities page's view: the damaged inputs, what the model reconstructs and
generates from the observed ones, the posterior's shift, and its parts (experts and their
product, or a mixture's components, or the two posteriors side by side).

One pass of each encoder per view: a product of experts computes each modality's expert once
and forms both q(z | observed) and q(z | all) from them (the page used to encode the sample
three times per rerun).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor

from mmviz import explore
from mmviz.models import MultimodalModel, UnsupportedSubset

MAX_DIMS_SHOWN = 16


@dataclass
class MissingView:
    """What the page shows for one model.

    damaged: every input after the damage sliders (batch of one), keyed by modality.
    recon: reconstructions/generations, the posterior, its shift from q(z | all).
    experts: a product of experts taken apart (MVAE), else None.
    mixture: a mixture posterior's components (MoPoE, MMVAE), else None.
    dims: the latent dimensions the experts/mixture figure shows (the most precise ones when
        there are more than MAX_DIMS_SHOWN).
    prior_wins: in how many dimensions the prior expert outweighs the observed ones together.
    """

    damaged: dict[str, Tensor]
    recon: explore.ReconView
    experts: explore.PoEView | None
    mixture: explore.MixtureView | None
    dims: list[int]
    prior_wins: int | None


def damage(
    inputs: Mapping[str, Tensor], specs: Mapping, levels: Mapping[str, float], mode: str
) -> dict[str, Tensor]:
    """Every input with its slider's damage applied (fixed seed: the same view every rerun)."""
    return {
        m: explore.corrupt(x, specs[m], levels.get(m, 0.0), mode, seed=0) if m in specs else x
        for m, x in inputs.items()
    }


@torch.inference_mode()
def build_missing_view(
    model: MultimodalModel,
    inputs: Mapping[str, Tensor],
    observed: Iterable[str],
    levels: Mapping[str, float],
    mode: str,
    full: Iterable[str] | None = None,
    specs: Mapping | None = None,
) -> MissingView:
    """The view of one model on one sample: `observed` modalities seen after damage (`levels`
    per modality, `mode` "noise" or "occlude"); the shift is measured against `full` (default
    every modality). `specs`: the dataset's, to damage inputs the model does not read too
    (compare mode shows them to other models). Raises UnsupportedSubset when the model cannot
    infer from `observed`."""
    damaged = damage(inputs, specs or model.specs, levels, mode)
    obs = [m for m in observed if m in model.modalities]
    if not obs:
        raise UnsupportedSubset(f"{model.name} observes none of the ticked modalities")
    reference = list(full) if full is not None else model.input_modalities
    experts = explore.expert_outputs(model, damaged, [*obs, *reference])
    recon = explore.reconstruct_view(model, damaged, obs, full, experts=experts)
    poe = mixture = None
    dims: list[int] = []
    prior_wins = None
    if model.is_product_of_experts:
        poe = explore.poe_view(model, damaged, recon.observed, experts=experts)
        d = poe.means.shape[1]
        precise = np.argsort(-poe.precisions[:-1].sum(0))[:MAX_DIMS_SHOWN]
        dims = list(range(d)) if d <= MAX_DIMS_SHOWN else sorted(int(i) for i in precise)
        prior_wins = int((poe.shares[-1] > 0.5).sum())
    else:
        mixture = explore.mixture_view(model, damaged, recon.observed)
        if mixture is not None:
            dims = list(range(min(mixture.means.shape[1], MAX_DIMS_SHOWN)))
    return MissingView(damaged, recon, poe, mixture, dims, prior_wins)
