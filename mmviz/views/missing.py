"""The Missing modalities page's view: the damaged inputs, what the model reconstructs and
generates from the observed ones, the posterior's shift, and its parts (experts and their
product, or a mixture's components, or the two posteriors side by side); and the compare
mode's view: every compared checkpoint on the same damaged sample and mask, per modality a
grid of pictures or a table of readings.

One pass of each encoder per view: a product of experts computes each modality's expert once
and forms both q(z | observed) and q(z | all) from them (the page used to encode the sample
three times per rerun).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

import numpy as np
import plotly.graph_objects as go
import torch
from torch import Tensor

from mmviz import explore, plots
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
    predicted: (the most probable class, its probability) when the model predicts a class.
    scales: per latent group whose shift is a KL, what its size means (nats per dimension,
        and with nothing observed).
    dimensions: the latent dimensions of the experts/mixture (0 without either).
    prior_share: the prior expert's mean share of the product's precision (MVAE), else None.
    shares: each expert's share of the precision (MVAE), else None.
    parts: the experts and their product, or the mixture's components and the mixture, else
        None.
    posteriors: per latent group, q(z | observed) beside q(z | all) (neither a product of
        experts nor a mixture).
    """

    damaged: dict[str, Tensor]
    recon: explore.ReconView
    experts: explore.PoEView | None
    mixture: explore.MixtureView | None
    dims: list[int]
    prior_wins: int | None
    predicted: tuple[int, float] | None = None
    scales: dict[str, str] = field(default_factory=dict)
    dimensions: int = 0
    prior_share: float | None = None
    shares: go.Figure | None = None
    parts: go.Figure | None = None
    posteriors: dict[str, go.Figure] = field(default_factory=dict)


@dataclass
class CompareRow:
    """One modality across the compared checkpoints.

    tag: "observed" or "generated". checkpoints: those that output it, in order.
    figure: their outputs side by side (pictorial modalities), else None.
    texts: each one's reading, "class (probability)" for a label or the phrase, else None.
    """

    modality: str
    tag: str
    checkpoints: list[str]
    figure: go.Figure | None = None
    texts: list[str] | None = None


@dataclass
class CompareView:
    """The compare mode: every checkpoint on the same damaged sample and mask.

    names: every compared checkpoint, in order. failures: why some could not do it.
    rows: one per modality some checkpoint outputs, in the dataset's order.
    """

    names: list[str]
    failures: dict[str, str]
    rows: list[CompareRow]


def slider_level(value: float) -> float:
    """A damage level on the slider's 0.05 grid, within [0, 1] (a level read from a URL)."""
    return float(np.clip(round(float(value) / 0.05) * 0.05, 0.0, 1.0))


def compared_modalities(
    order: Iterable[str], models: Mapping[str, MultimodalModel]
) -> tuple[list[str], set[str]]:
    """(the modalities of `order` some model has, the ones some model can read)."""
    shown = [m for m in order if any(m in mm.modalities for mm in models.values())]
    readable = {m for mm in models.values() for m in explore.input_modalities(mm)}
    return shown, readable


def predicted_class(probs: np.ndarray | None) -> tuple[int, float] | None:
    """(the most probable class, its probability), or None without a prediction."""
    if probs is None:
        return None
    k = int(np.argmax(probs))
    return k, float(probs[k])


def reading(out: np.ndarray, spec) -> str:
    """A non-pictorial output as a table cell: "class (probability)" or the phrase."""
    if spec.kind == "categorical":
        return f"{int(out.argmax())} ({out.max():.0%})"
    return explore.tokens_to_text(out, spec) or "(empty)"


@torch.inference_mode()
def build_compare_view(
    models: Mapping[str, MultimodalModel],
    inputs: Mapping[str, Tensor],
    observed: Iterable[str],
    levels: Mapping[str, float],
    mode: str,
    specs: Mapping,
    order: Iterable[str] | None = None,
) -> CompareView:
    """The same sample (damaged as the sliders say, with the dataset's `specs`) and mask
    through every model of `models` (in order); `order`: the dataset's modalities (default
    the order of `specs`)."""
    observed = list(observed)
    damaged = damage(inputs, specs, levels, mode)
    views = explore.compare_views(dict(models), damaged, observed)
    failures = {cid: v for cid, v in views.items() if isinstance(v, str)}
    ok = {cid: v for cid, v in views.items() if not isinstance(v, str)}
    shown, _ = compared_modalities(order if order is not None else specs, models)
    rows = []
    for m in shown:
        spec = specs[m]
        have = [cid for cid, v in ok.items() if m in v.outputs]
        if not have:
            continue
        tag = "observed" if m in observed else "generated"
        if plots.is_pictorial(spec):
            grid = np.stack([ok[cid].outputs[m] for cid in have])[None]
            figure = plots.grid_figure(
                grid,
                spec,
                None,
                [c.replace("_", "_<br>", 1) for c in have],
                f"{m} ({tag})",
                tile_px=96,
            )
            rows.append(CompareRow(m, tag, have, figure=figure))
        else:
            texts = [reading(ok[cid].outputs[m], spec) for cid in have]
            rows.append(CompareRow(m, tag, have, texts=texts))
    return CompareView(list(views), failures, rows)


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
    view = MissingView(
        damaged,
        recon,
        poe,
        mixture,
        dims,
        prior_wins,
        predicted_class(recon.probs),
        shift_scales(recon),
    )
    if poe is not None:
        d = view.dimensions = poe.means.shape[1]
        view.prior_share = float(poe.share_total[-1])
        view.shares = plots.shares_figure(
            poe.names, poe.share_total, "share of the precision (mean over dimensions)"
        )
        view.parts = plots.experts_figure(
            poe.names,
            poe.means,
            poe.stds,
            poe.product_mean,
            poe.product_std,
            dims,
            "experts and their product"
            + ("" if d <= MAX_DIMS_SHOWN else " (the 16 most precise dimensions)"),
        )
    elif mixture is not None:
        d = view.dimensions = mixture.means.shape[1]
        view.parts = plots.experts_figure(
            mixture.names,
            mixture.means,
            mixture.stds,
            mixture.mixture_mean,
            mixture.mixture_std,
            dims,
            "mixture components and the mixture"
            + ("" if d <= MAX_DIMS_SHOWN else " (first 16 dimensions)"),
            combined="mixture",
        )
    else:
        view.posteriors = posterior_figures(recon)
    return view


def shift_scales(recon: explore.ReconView) -> dict[str, str]:
    """Per latent group whose shift is a KL: nats per dimension, and the KL with nothing
    observed (the prior) when the model can form it."""
    scales = {}
    for g, v in recon.shift.items():
        if recon.shift_kind[g] != "kl":
            continue
        d = len(recon.posterior[g].mean)
        none = recon.shift_none.get(g)
        scales[g] = (
            f"{v / d:.2f} nats per dimension ({d} dimensions); with nothing "
            f"observed (the prior) it would be {none:,.0f} nats"
            if none is not None
            else f"{v / d:.2f} nats per dimension ({d} dimensions)"
        )
    return scales


def posterior_figures(recon: explore.ReconView) -> dict[str, go.Figure]:
    """Per latent group, q(z | observed) beside q(z | all) (codes, for a deterministic
    encoder)."""
    q_all = recon.reference
    out = {}
    for g, p in recon.posterior.items():
        if g not in q_all:
            continue
        if p.std is None and q_all[g].std is None:  # a deterministic encoder
            a, b, what = f"{g}(observed)", f"{g}(all)", "code (a point, no std)"
        else:
            a, b, what = "q(· | observed)", "q(· | all)", "posterior mean ± std"
        out[g] = plots.posterior_figure(
            {a: p.mean, b: q_all[g].mean},
            {a: p.std, b: q_all[g].std},
            f"latent group {g}: {what}",
        )
    return out
