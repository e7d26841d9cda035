"""Step-by-step explainers: a posterior or a fused vector built one piece at a time.

What a teacher steps through, as pure functions of a model and one sample (no Streamlit, so
every number a stepper shows is unit-tested):

- `poe_steps`: a product of experts (MVAE) from the prior N(0, 1), one observed expert
  multiplied in per step; for a mixture posterior (MoPoE, MMVAE), one component mixed in per
  step. Each step keeps the running posterior's moments in every dimension and what the
  model decodes from its mean, so the last step is the model's own posterior and its own
  reconstruction.
- `lmf_rank_terms`: LMF's fused vector as a sum of rank-one terms, one rank added per step,
  with the score after each and the parameters a rank-k LMF would have.
- `tfn_blocks`: TFN's [h_1; 1] (x) ... (x) [h_M; 1] split into its constant, unimodal, bimodal,
  ... blocks, each block's size and its share of the fused vector.

Arithmetic is float64 on the model's own (float32) expert parameters and representations, so
steps add up to the model's output to within the model's own rounding.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor

from mmviz.models.base import (
    MixturePosterior,
    MultimodalModel,
    UnsupportedSubset,
    model_device,
    to_data_space,
)
from mmviz.models.fusion import FusionModel, LowRankFusion, TensorFusion, lmf_fusion_params

PRIOR = "prior"


# ---- product of experts / mixture, step by step ------------------------------------------------
@dataclass
class PoESteps:
    """A posterior built step by step, for one sample.

    kind: "product" (each step multiplies in one expert; the prior N(0, I) stays a factor) or
        "mixture" (each step adds one component to a uniform mixture; step 0's prior is only
        the starting point, what the model has with nothing observed).
    names: what each step adds, step 0 being "prior"; S = len(names).
    dim: the latent dimension the per-step numbers below are read in.
    added_means, added_stds: (S, d) the expert (component) added at each step, all dimensions.
    means, stds: (S, d) the running product's (mixture's) moments after each step.
    shares: (S, S) at step s, the share of each step's expert j <= s in dimension `dim`: of the
        product's precision (T_j / T), or of the mixture's variance (each component's
        (sigma_j^2 + (mu_j - mu)^2) / (k var), the law of total variance); 0 for j > s.
        Each row sums to 1.
    outputs: modality -> (S, *shape), every modality decoded (data space) from the running
        posterior's mean after each step, all dimensions (a mixture: its mean, as the
        missing-modalities page decodes it).
    captions: modality -> S short texts for modalities drawn as words (label, phrase).
    group: the latent group stepped through.
    """

    kind: str
    names: list[str]
    dim: int
    observed: list[str]
    added_means: np.ndarray
    added_stds: np.ndarray
    means: np.ndarray
    stds: np.ndarray
    shares: np.ndarray
    outputs: dict[str, np.ndarray]
    captions: dict[str, list[str]]
    group: str

    @property
    def steps(self) -> int:
        return len(self.names)

    @property
    def share_of(self) -> str:
        """What `shares` divides: the product's precision or the mixture's variance."""
        return "precision" if self.kind == "product" else "variance"

    def step_title(self, s: int) -> str:
        """A one-line description of step `s` (what the page puts above the figures)."""
        if s == 0:
            return "Step 0: nothing observed, the prior N(0, 1)"
        verb = "multiply in the expert of" if self.kind == "product" else "mix in the component"
        return f"Step {s}: {verb} {self.names[s]}"


def stepper_kind(model: MultimodalModel) -> str | None:
    """ "product", "mixture" or None: whether (and how) the model's posterior can be stepped
    through, from its declared capabilities."""
    if model.is_product_of_experts:
        return "product"
    if model.mixture_components(None):
        return "mixture"
    return None


def _latent_group(model: MultimodalModel) -> str:
    groups = list(model.latent_groups)
    if len(groups) != 1:
        raise UnsupportedSubset(
            f"{model.name} has latent groups {groups}; the stepper needs a single one"
        )
    return groups[0]


def _ordered(model: MultimodalModel, observed: Iterable[str] | None) -> list[str]:
    """The observed modalities, validated, in the order given (the order they are multiplied
    in: a product does not depend on it, the steps do)."""
    given = list(observed) if observed is not None else None
    valid = model.check_observed(given)
    if given is None:
        return valid
    return [m for m in dict.fromkeys(given) if m in valid]


def _product_prefixes(mu: Tensor, logvar: Tensor) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Running product of the prior and experts 1..s for s = 0..E, in float64.

    mu, logvar: (E, d). Returns means, stds (E + 1, d) and log-precisions (E + 1, d) of the
    factors in order (the prior's first): the shares are exp(log_t_j - log T_s).
    """
    e, d = mu.shape
    log_t = torch.cat([torch.zeros(1, d, dtype=torch.float64), -logvar])  # prior's T = 1
    mus = torch.cat([torch.zeros(1, d, dtype=torch.float64), mu])
    means, stds = [], []
    for s in range(e + 1):
        log_total = torch.logsumexp(log_t[: s + 1], dim=0)
        weights = torch.exp(log_t[: s + 1] - log_total)  # T_j / T, as stats.product_of_experts
        means.append((weights * mus[: s + 1]).sum(dim=0))
        stds.append(torch.exp(-0.5 * log_total))
    return torch.stack(means).numpy(), torch.stack(stds).numpy(), log_t.numpy()


def _mixture_prefixes(mu: Tensor, std: Tensor) -> tuple[np.ndarray, np.ndarray]:
    """Running uniform mixture of components 1..s for s = 1..C (law of total variance), with
    the prior N(0, 1) as step 0. mu, std: (C, d), float64."""
    d = mu.shape[1]
    means = [torch.zeros(d, dtype=torch.float64)]
    stds = [torch.ones(d, dtype=torch.float64)]
    for k in range(1, mu.shape[0] + 1):
        m = mu[:k].mean(dim=0)
        var = (std[:k] ** 2).mean(dim=0) + ((mu[:k] - m) ** 2).mean(dim=0)
        means.append(m)
        stds.append(var.sqrt())
    return torch.stack(means).numpy(), torch.stack(stds).numpy()


def _product_shares(log_t: np.ndarray, dim: int) -> np.ndarray:
    s = log_t.shape[0]
    out = np.zeros((s, s))
    for k in range(s):
        lt = log_t[: k + 1, dim]
        top = lt.max()
        w = np.exp(lt - top)
        out[k, : k + 1] = w / w.sum()
    return out


def _mixture_shares(mu: np.ndarray, std: np.ndarray, dim: int) -> np.ndarray:
    """Row s: each of components 1..s's part of the running mixture's variance in `dim`."""
    s = mu.shape[0] + 1
    out = np.zeros((s, s))
    out[0, 0] = 1.0  # the prior alone
    for k in range(1, s):
        m = mu[:k, dim]
        part = std[:k, dim] ** 2 + (m - m.mean()) ** 2
        total = part.sum()
        out[k, 1 : k + 1] = part / total if total > 0 else 1.0 / k
    return out


def _captions(model: MultimodalModel, outputs: dict[str, np.ndarray]) -> dict[str, list[str]]:
    """Words for the modalities that are words: the label's class and probability, a phrase."""
    from mmviz.explore import tokens_to_text

    out = {}
    for m, a in outputs.items():
        spec = model.specs[m]
        if spec.kind == "categorical":
            names = list(spec.vocab or range(spec.num_classes))
            out[m] = [f"{names[int(p.argmax())]} ({float(p.max()):.0%})" for p in a]
        elif spec.kind == "tokens":
            out[m] = [tokens_to_text(p, spec) or "(empty)" for p in a]
    return out


def _decode_rows(model: MultimodalModel, group: str, z: np.ndarray) -> dict[str, np.ndarray]:
    """Every modality in data space from each row of z, in one batch."""
    dtype = next(model.parameters()).dtype
    zt = torch.as_tensor(z, dtype=dtype, device=model_device(model))
    params = model.decode({group: zt})
    return {m: to_data_space(model.specs[m], p).cpu().numpy() for m, p in params.items()}


@torch.inference_mode()
def poe_steps(
    model: MultimodalModel,
    inputs: dict[str, Tensor],
    observed: Iterable[str] | None,
    dim: int,
) -> PoESteps:
    """The posterior of the first sample of `inputs`, built one observed expert (product of
    experts) or one mixture component (MoPoE, MMVAE) at a time, from the prior N(0, 1).

    The experts come from `model.expert_params` (multiplied in the order `observed` gives
    them); the components are those of the model's own `MixturePosterior`, in the order of
    `model.mixture_components`. Raises UnsupportedSubset for a posterior that is neither.
    """
    kind = stepper_kind(model)
    if kind is None:
        raise UnsupportedSubset(
            f"{model.name}'s posterior is neither a product of Gaussian experts nor a mixture: "
            "there is nothing to multiply in step by step"
        )
    group = _latent_group(model)
    d = model.latent_groups[group]
    if not 0 <= int(dim) < d:
        raise ValueError(f"latent dimension {dim} is outside 0..{d - 1}")
    dim = int(dim)
    obs = _ordered(model, observed)
    if kind == "product":
        mus, logvars = model.expert_params(inputs, obs)  # (E, n, d)
        mu, lv = mus[:, 0].double().cpu(), logvars[:, 0].double().cpu()
        means, stds, log_t = _product_prefixes(mu, lv)
        added_means = np.concatenate([np.zeros((1, d)), mu.numpy()])
        added_stds = np.concatenate([np.ones((1, d)), torch.exp(0.5 * lv).numpy()])
        shares = _product_shares(log_t, dim)
        names = [PRIOR, *obs]
    else:
        post = model.encode(inputs, obs)[group]
        if not isinstance(post, MixturePosterior):
            raise UnsupportedSubset(f"{model.name} gave no mixture posterior for {obs}")
        order = [c for c in model.mixture_components(obs) if c in post.components]
        comps = [post.components[c] for c in order]
        mu = torch.stack([c.mean[0] for c in comps]).double().cpu()
        std = torch.stack([c.std[0] for c in comps]).double().cpu()
        means, stds = _mixture_prefixes(mu, std)
        added_means = np.concatenate([np.zeros((1, d)), mu.numpy()])
        added_stds = np.concatenate([np.ones((1, d)), std.numpy()])
        shares = _mixture_shares(mu.numpy(), std.numpy(), dim)
        names = [PRIOR, *order]
    outputs = _decode_rows(model, group, means)
    return PoESteps(
        kind=kind,
        names=names,
        dim=dim,
        observed=obs,
        added_means=added_means,
        added_stds=added_stds,
        means=means,
        stds=stds,
        shares=shares,
        outputs=outputs,
        captions=_captions(model, outputs),
        group=group,
    )


def suggested_dim(steps: PoESteps) -> int:
    """The dimension where stepping shows the most: for a product, the one whose precision
    is most evenly shared among the prior and the experts (every step visibly moves and
    sharpens the density, rather than one expert deciding alone); for a mixture, the one
    where the components disagree most (the largest share of the mixture's variance between
    their means)."""
    if steps.kind == "product":
        precisions = steps.added_stds**-2  # (S, d), the prior's row is 1
        shares = precisions / precisions.sum(axis=0)
        entropy = -(shares * np.log(np.clip(shares, 1e-300, None))).sum(axis=0)
        return int(np.argmax(entropy))
    comps = steps.added_means[1:]
    between = comps.var(axis=0)
    return int(np.argmax(between / np.maximum(steps.stds[-1] ** 2, 1e-12)))


# ---- LMF, one rank at a time --------------------------------------------------------------------
@dataclass
class LMFRanks:
    """LMF's fused vector for one sample as bias + a sum of rank-one terms, added in `order`.

    terms: (r, d_h) term i = lambda_i prod_m ([h_m; 1]^T W_m[i]), in the layer's own order.
    order: the rank indices in the order they are added (step k adds order[k - 1]).
    fused: (r + 1, d_h) after k terms, k = 0..r (k = 0: the bias alone).
    outputs: (r + 1, out) the model's prediction from each partial sum (a score per row for
        regression, class probabilities for classification).
    scores: (r + 1,) the score, or for classification the probability of the class the full
        model predicts.
    params: (r + 1,) fusion-layer parameters of an LMF of rank k (closed form).
    tfn_params: the fusion-layer parameters of a TFN of the same sizes, for scale.
    """

    terms: np.ndarray
    bias: np.ndarray
    order: list[int]
    fused: np.ndarray
    outputs: np.ndarray
    scores: np.ndarray
    params: np.ndarray
    tfn_params: int
    dims: list[int]
    modalities: list[str]

    @property
    def rank(self) -> int:
        return self.terms.shape[0]


def tensor_source(model: MultimodalModel) -> str | None:
    """ "tfn" or "lmf": whose weights `tfn_blocks` takes apart; None when the model fuses
    without a tensor product (early, late fusion)."""
    if isinstance(model, FusionModel):
        if isinstance(model.fusion, TensorFusion):
            return "tfn"
        if isinstance(model.fusion, LowRankFusion):
            return "lmf"
    return None


def has_rank_terms(model: MultimodalModel) -> bool:
    """Whether `lmf_rank_terms` applies: the model fuses with a low-rank (LMF) layer."""
    return tensor_source(model) == "lmf"


def _fusion_model(model: MultimodalModel, layer: type) -> FusionModel:
    if not isinstance(model, FusionModel) or not isinstance(model.fusion, layer):
        kind = "LMF" if layer is LowRankFusion else "TFN"
        raise UnsupportedSubset(f"{model.name} has no {kind} fusion layer to take apart")
    return model


def _predict_from_fused(model: FusionModel, fused: Tensor) -> Tensor:
    out = model.head(fused)
    if model.config.task == "regression":
        return out  # (n, 1)
    return torch.softmax(out, dim=-1)


@torch.inference_mode()
def lmf_rank_terms(
    model: MultimodalModel,
    inputs: dict[str, Tensor],
    observed: Iterable[str] | None = None,
    order: str = "index",
) -> LMFRanks:
    """LMF's fused vector and score for the first sample, one rank-one term added per step.

    `order`: "index" adds the terms as the layer stores them; "largest" adds the largest
    (by norm) first, which shows how few ranks carry the output. Unobserved modalities enter
    as their training means (the model's own convention).
    """
    lmf = _fusion_model(model, LowRankFusion)
    obs = lmf.check_observed(None if observed is None else list(observed))
    reps = lmf.representations({m: inputs[m] for m in obs}, obs)
    hs = [reps[m][:1].double() for m in lmf.modalities]
    layer: LowRankFusion = lmf.fusion
    prod = None
    for h, w in zip(hs, layer.factors, strict=True):
        f = torch.matmul(torch.cat([h, h.new_ones(1, 1)], dim=1), w.double())  # (r, 1, d_h)
        prod = f if prod is None else prod * f
    terms = layer.rank_weights[0].double()[:, None] * prod[:, 0]  # (r, d_h)
    bias = layer.bias[0].double()
    if order == "largest":
        ranked = torch.argsort(torch.linalg.vector_norm(terms, dim=1), descending=True)
        sequence = [int(i) for i in ranked]
    elif order == "index":
        sequence = list(range(layer.rank))
    else:
        raise ValueError(f"unknown order {order!r}; choose index or largest")
    fused = torch.cat([bias[None], bias[None] + torch.cumsum(terms[sequence], dim=0)])
    dtype = next(lmf.parameters()).dtype
    outputs = _predict_from_fused(lmf, fused.to(dtype)).double()
    # a score, or the probability of the class the full-rank model predicts
    scores = outputs[:, 0 if outputs.shape[1] == 1 else int(outputs[-1].argmax())]
    dims = [int(lmf.dim(m)) for m in lmf.modalities]
    d_h = int(bias.shape[0])
    return LMFRanks(
        terms=terms.numpy(),
        bias=bias.numpy(),
        order=sequence,
        fused=fused.numpy(),
        outputs=outputs.numpy(),
        scores=scores.numpy(),
        params=np.array([lmf_fusion_params(dims, d_h, k) for k in range(layer.rank + 1)]),
        tfn_params=math.prod(d + 1 for d in dims) * d_h + d_h,
        dims=dims,
        modalities=list(lmf.modalities),
    )


# ---- TFN's blocks -----------------------------------------------------------------------------
@dataclass
class TFNBlocks:
    """TFN's outer product for one sample, split by which modalities' h each entry multiplies.

    blocks: block names, from "constant" (the product of the 1s) through each modality alone,
        each pair, ..., all of them ("language×visual×acoustic").
    members: block -> the modalities it multiplies; sizes: block -> number of entries
        (prod of d_m over its members; the sizes add up to prod_m (d_m + 1)).
    contributions: (B, d_h) each block's part W[:, block] z[block] of the fused vector; they
        add up, with `bias`, to the fused vector `fused`.
    scores_without: (B,) the model's score with that block's contribution left out.
    scores_by_order: (M + 1,) the score from the bias and the blocks of order <= k only
        (k = 0: the constant block; k = M: every block, the model's score): the steps of
        adding unimodal, then bimodal, ... interactions.
    score: the model's score; for classification, the probability of its class.
    cube: the outer product itself, shape (d_1 + 1, ..., d_M + 1), with the 1 *first* in each
        axis (index 0 = "the constant 1", index i >= 1 = h_m[i - 1]), so a block is a corner.
    source: "tfn" (TFN's own weights) or "lmf" (the full weight tensor of LMF's factors).
    """

    modalities: list[str]
    dims: list[int]
    blocks: list[str]
    members: dict[str, tuple[str, ...]]
    sizes: dict[str, int]
    contributions: np.ndarray
    bias: np.ndarray
    fused: np.ndarray
    scores_without: np.ndarray
    scores_by_order: np.ndarray
    score: float
    cube: np.ndarray
    source: str

    def order(self, block: str) -> int:
        """How many modalities a block multiplies (0 constant, 1 unimodal, 2 bimodal, ...)."""
        return len(self.members[block])


ORDER_NAMES = {0: "constant", 1: "unimodal", 2: "bimodal", 3: "trimodal"}


def block_name(members: Sequence[str]) -> str:
    return "×".join(members) if members else "constant"


def order_name(k: int) -> str:
    return ORDER_NAMES.get(k, f"{k}-modal")


def _subsets(n: int) -> list[tuple[int, ...]]:
    """Every subset of range(n), smallest first: the blocks' order."""
    return [c for k in range(n + 1) for c in itertools.combinations(range(n), k)]


def _tfn_contributions(weight: Tensor, hs: list[Tensor]) -> list[Tensor]:
    """Each block's W[:, block] z[block] from TFN's weight (d_h, prod_m (d_m + 1)): the block
    of subset S slices every axis to h_m (m in S) or to its 1 (m not in S), then contracts."""
    dims = [int(h.shape[0]) for h in hs]
    w = weight.reshape(weight.shape[0], *[d + 1 for d in dims])
    out = []
    for subset in _subsets(len(hs)):
        part = w[(slice(None), *[slice(0, d) if j in subset else d for j, d in enumerate(dims)])]
        for j in subset:  # contract the first remaining axis after d_h with h_j
            part = torch.tensordot(part, hs[j], dims=([1], [0]))
        out.append(part)
    return out


def _lmf_contributions(layer: LowRankFusion, hs: list[Tensor]) -> list[Tensor]:
    """The same blocks for LMF, from its factors: block S is
    sum_i lambda_i prod_{m in S} (h_m^T W_m[i, :d_m]) * prod_{m not in S} W_m[i, d_m],
    never building the weight tensor."""
    acts = [
        torch.einsum("d,rdh->rh", h, w.double()[:, :-1])
        for h, w in zip(hs, layer.factors, strict=True)
    ]
    ones = [w.double()[:, -1] for w in layer.factors]  # (r, d_h): the row the 1 reads
    lam = layer.rank_weights[0].double()[:, None]
    out = []
    for subset in _subsets(len(hs)):
        prod = lam
        for j in range(len(hs)):
            prod = prod * (acts[j] if j in subset else ones[j])
        out.append(prod.sum(dim=0))
    return out


@torch.inference_mode()
def tfn_blocks(
    model: MultimodalModel,
    inputs: dict[str, Tensor],
    observed: Iterable[str] | None = None,
) -> TFNBlocks:
    """TFN's [h_1; 1] (x) ... (x) [h_M; 1] for the first sample, taken apart into its blocks.

    An LMF is a TFN whose weight tensor has rank r (`full_weight_tensor`), so its blocks mean
    the same thing; they are computed from its factors.
    """
    if isinstance(model, FusionModel) and isinstance(model.fusion, LowRankFusion):
        fm, source = model, "lmf"
    else:
        fm, source = _fusion_model(model, TensorFusion), "tfn"
    obs = fm.check_observed(None if observed is None else list(observed))
    reps = fm.representations({m: inputs[m] for m in obs}, obs)
    mods = list(fm.modalities)
    hs = [reps[m][0].double() for m in mods]
    dims = [int(h.shape[0]) for h in hs]
    if source == "lmf":
        contribs = _lmf_contributions(fm.fusion, hs)
        bias = fm.fusion.bias[0].double()
    else:
        contribs = _tfn_contributions(fm.fusion.linear.weight.double(), hs)
        bias = fm.fusion.linear.bias.double()
    blocks, members, sizes = [], {}, {}
    for subset in _subsets(len(mods)):
        name = block_name([mods[j] for j in subset])
        blocks.append(name)
        members[name] = tuple(mods[j] for j in subset)
        sizes[name] = math.prod(dims[j] for j in subset)
    contributions = torch.stack(contribs)  # (B, d_h)
    fused = contributions.sum(dim=0) + bias
    dtype = next(fm.parameters()).dtype
    without = fused[None] - contributions
    orders = torch.tensor([len(members[b]) for b in blocks])
    upto = torch.stack([contributions[orders <= k].sum(dim=0) + bias for k in range(len(mods) + 1)])
    rows = torch.cat([fused[None], without, upto]).to(dtype)
    outs = _predict_from_fused(fm, rows).double()
    k = 0 if outs.shape[1] == 1 else int(outs[0].argmax())
    score = float(outs[0, k])
    scores_without = outs[1 : 1 + len(blocks), k]
    scores_by_order = outs[1 + len(blocks) :, k]
    # the outer product with each axis's 1 first ([1; h_m]): every block is a corner
    cube = torch.ones((), dtype=torch.float64)
    for h in hs:
        cube = cube[..., None] * torch.cat([h.new_ones(1), h])
    return TFNBlocks(
        modalities=mods,
        dims=dims,
        blocks=blocks,
        members=members,
        sizes=sizes,
        contributions=contributions.numpy(),
        bias=bias.numpy(),
        fused=fused.numpy(),
        scores_without=scores_without.numpy(),
        scores_by_order=scores_by_order.numpy(),
        score=score,
        cube=cube.numpy(),
        source=source,
    )


# ---- MFM: the data flow, stage by stage ------------------------------------------------------
MFM_STAGES = (
    "the inputs",
    "the shared factor Z_y, from every observed input together",
    "each modality's own factor Z_a, from that modality alone",
    "the reconstructions: each modality from [Z_y, its Z_a]",
    "the swap: the partner's Z_a, this sample's Z_y",
)


@dataclass
class MFMFlow:
    """MFM on one sample (the first of `inputs`), stage by stage, and the swap with a partner.

    inputs: the input modalities (MFM's label is the head's target, never an input);
        observed: those seen (the others' codes come from a surrogate network).
    shared: (zy_dim,) the sample's Z_y; private: modality -> its Z_a (the sample's);
        partner_private: the partner's Z_a (from all its inputs).
    swapped: the modalities whose Z_a the swap takes from the partner.
    given: modality -> the sample's input, data-like (pictures, token ids, the class).
    reconstruction / swap_outputs: modality -> data space, every modality the model decodes
        (the label: the head's class probabilities, read from Z_y alone), from the sample's own
        codes / with the swapped modalities' Z_a from the partner.
    captions, swap_captions, given_captions: words for the modalities that are words.
    """

    inputs: list[str]
    observed: list[str]
    outputs: list[str]
    shared: np.ndarray
    private: dict[str, np.ndarray]
    partner_private: dict[str, np.ndarray]
    swapped: list[str]
    given: dict[str, np.ndarray]
    reconstruction: dict[str, np.ndarray]
    swap_outputs: dict[str, np.ndarray]
    captions: dict[str, str]
    swap_captions: dict[str, str]
    given_captions: dict[str, str]


def _given_caption(model: MultimodalModel, m: str, x: np.ndarray) -> str | None:
    from mmviz.explore import tokens_to_text

    spec = model.specs[m]
    if spec.kind == "categorical":
        names = list(spec.vocab or range(spec.num_classes))
        return str(names[int(np.asarray(x).reshape(-1)[0])])
    if spec.kind == "tokens":
        return tokens_to_text(x, spec) or "(empty)"
    return None


@torch.inference_mode()
def mfm_flow(
    model: MultimodalModel,
    inputs: dict[str, Tensor],
    partner: dict[str, Tensor],
    observed: Iterable[str] | None = None,
    swap: Iterable[str] | None = None,
) -> MFMFlow:
    """What a factorised model (MFM) does with one sample: Z_y from the observed inputs together,
    Z_a from each alone, each modality decoded from [Z_y, its Z_a]; and the swap, decoding with
    the `partner`'s Z_a for the modalities in `swap` (default: all), this sample's Z_y."""
    if not model.factorised:
        raise UnsupportedSubset(f"{model.name} has no shared and modality-specific factors")
    obs = [m for m in model.check_observed(None if observed is None else list(observed))]
    codes = {g: p.mean[:1] for g, p in model.encode(inputs, obs).items()}
    mate = {g: p.mean[:1] for g, p in model.encode(partner, None).items()}
    private = [g for g in model.latent_groups if g != "y"]
    swapped = [m for m in (private if swap is None else swap) if m in private]
    mixed = {g: (mate[g] if g in swapped else codes[g]) for g in model.latent_groups}
    both = {g: torch.cat([codes[g], mixed[g]]) for g in model.latent_groups}
    params = model.decode(both)
    decoded = {m: to_data_space(model.specs[m], p).cpu().numpy() for m, p in params.items()}
    own = {m: a[0] for m, a in decoded.items()}
    swapped_out = {m: a[1] for m, a in decoded.items()}
    words = _captions(model, {m: a for m, a in decoded.items()})
    given = {m: inputs[m][0].cpu().numpy() for m in model.input_modalities if m in inputs}
    given_captions = {
        m: c for m, x in given.items() if (c := _given_caption(model, m, x)) is not None
    }
    return MFMFlow(
        inputs=list(model.input_modalities),
        observed=[m for m in obs if m in model.input_modalities],
        outputs=list(decoded),
        shared=codes["y"][0].cpu().double().numpy(),
        private={g: codes[g][0].cpu().double().numpy() for g in private},
        partner_private={g: mate[g][0].cpu().double().numpy() for g in private},
        swapped=swapped,
        given=given,
        reconstruction=own,
        swap_outputs=swapped_out,
        captions={m: c[0] for m, c in words.items()},
        swap_captions={m: c[1] for m, c in words.items()},
        given_captions=given_captions,
    )


__all__ = [
    "LMFRanks",
    "MFMFlow",
    "MFM_STAGES",
    "PoESteps",
    "TFNBlocks",
    "block_name",
    "has_rank_terms",
    "lmf_rank_terms",
    "mfm_flow",
    "order_name",
    "poe_steps",
    "stepper_kind",
    "suggested_dim",
    "tensor_source",
    "tfn_blocks",
]
