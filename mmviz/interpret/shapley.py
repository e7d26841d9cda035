"""Modality importance as Shapley values, with the model's own missing-modality path as the game.

The value of a coalition S of modalities is the target computed with observed = S: fusion
models replace the others by training means, the MVAE multiplies only the experts in S, JMVAE
and MFM use their subset encoders / surrogates. A model that cannot infer from some S raises
`UnsupportedSubset`, and so does this (no silent fallback).

The empty coalition: `predict` refuses to observe nothing, so v(empty) is defined as what the
model gives with no evidence: fusion models with every representation at its training mean
(their missing-modality convention), latent-variable models decoded at the prior mean z = 0
(for the MVAE exactly the product of experts with no expert), a latent target's prior mean 0.
Pass `empty_value` to use something else (e.g. the mean output over a reference set).

Up to `max_exact` (5) modalities, Shapley values are exact: 2^M coalitions, one batched
evaluation each. Beyond that, Captum's ShapleyValueSampling runs over modality groups (each
coalition still evaluated once, then cached). Either way sum_i phi_i = v(all) - v(empty).
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import torch
from torch import Tensor

from mmviz.interpret.attributions import Target, default_observed
from mmviz.models.base import MultimodalModel


@dataclass
class ShapleyResult:
    """Modality Shapley values.

    values: modality -> phi averaged over the samples; per_sample: modality -> (n,).
    v_all, v_empty: the target with every player observed / none (averaged over samples).
    coalitions: "a+b" -> mean v(S) ("" is the empty coalition); exact method only.
    method: "exact" or "sampling"; empty: how v(empty) was defined.
    """

    values: dict[str, float]
    v_all: float
    v_empty: float
    per_sample: dict[str, np.ndarray]
    players: list[str]
    method: str
    empty: str
    coalitions: dict[str, float] = field(default_factory=dict)
    target: str = ""


def _coalition_key(players: Sequence[str], mask: int) -> str:
    return "+".join(p for i, p in enumerate(players) if mask >> i & 1)


class _Game:
    """v(S) for every sample at once, each coalition evaluated once and cached."""

    def __init__(
        self,
        model: MultimodalModel,
        inputs: dict[str, Tensor],
        target: Target,
        players: list[str],
        empty_value: float | None,
    ) -> None:
        self.model, self.inputs, self.target, self.players = model, inputs, target, players
        self.n = next(iter(inputs.values())).shape[0]
        self.empty_value = empty_value
        self.cache: dict[int, Tensor] = {}
        with torch.no_grad():
            self.index = target.resolve_index(model, inputs, players)

    def __call__(self, mask: int) -> Tensor:
        if mask not in self.cache:
            with torch.no_grad():
                if mask == 0:
                    if self.empty_value is not None:
                        v = torch.full((self.n,), float(self.empty_value), dtype=torch.float64)
                    else:
                        v = self.target.evaluate_empty(self.model, self.n, self.index)
                else:
                    obs = [p for i, p in enumerate(self.players) if mask >> i & 1]
                    v = self.target.evaluate(self.model, self.inputs, obs, self.index)
            self.cache[mask] = v.detach().double().cpu()
        return self.cache[mask]


def modality_shapley(
    model: MultimodalModel,
    inputs: dict[str, Tensor],
    target: Target,
    players: Sequence[str] | None = None,
    empty_value: float | None = None,
    max_exact: int = 5,
    n_samples: int = 50,
    seed: int = 0,
) -> ShapleyResult:
    """Shapley value of each modality for `target`, averaged over the samples in `inputs`.

    players: the modalities (default: those in `inputs` the model reads, minus the target's
        own). n_samples, seed: permutations for the sampling estimate (M > max_exact).
    """
    players = list(players) if players is not None else default_observed(model, inputs, target)
    was_training = model.training
    model.eval()
    try:
        game = _Game(model, inputs, target, players, empty_value)
        m = len(players)
        full = (1 << m) - 1
        if m <= max_exact:
            phi = _exact(game, m)
            method = "exact"
        else:
            phi = _sampled(game, m, n_samples, seed)
            method = "sampling"
        v_all, v_empty = game(full), game(0)
    finally:
        model.train(was_training)
    empty = (
        f"given value {empty_value}"
        if empty_value is not None
        else "missing-modality convention / prior mean (see mmviz.interpret.shapley)"
    )
    coalitions = (
        {_coalition_key(players, s): float(v.mean()) for s, v in sorted(game.cache.items())}
        if method == "exact"
        else {}
    )
    return ShapleyResult(
        values={p: float(phi[:, i].mean()) for i, p in enumerate(players)},
        v_all=float(v_all.mean()),
        v_empty=float(v_empty.mean()),
        per_sample={p: phi[:, i].numpy() for i, p in enumerate(players)},
        players=players,
        method=method,
        empty=empty,
        coalitions=coalitions,
        target=target.describe(),
    )


def _exact(game: _Game, m: int) -> Tensor:
    """phi_i = sum_{S not containing i} |S|! (m - |S| - 1)! / m! (v(S + i) - v(S))."""
    phi = torch.zeros(game.n, m, dtype=torch.float64)
    for s in range(1 << m):
        size = bin(s).count("1")
        for i in range(m):
            if s >> i & 1:
                continue
            w = math.factorial(size) * math.factorial(m - size - 1) / math.factorial(m)
            phi[:, i] += w * (game(s | 1 << i) - game(s))
    return phi


def _sampled(game: _Game, m: int, n_samples: int, seed: int) -> Tensor:
    """Captum's ShapleyValueSampling on presence indicators (1 = observed, 0 = missing)."""
    from captum.attr import ShapleyValueSampling

    powers = torch.tensor([1 << i for i in range(m)], dtype=torch.long)

    def forward(presence: Tensor, sample: Tensor) -> Tensor:
        masks = (presence.round().long() * powers).sum(dim=1)
        return torch.stack([game(int(s))[int(j)] for s, j in zip(masks, sample, strict=True)])

    ones = torch.ones(game.n, m, dtype=torch.float64)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        attrs = ShapleyValueSampling(forward).attribute(
            ones,
            baselines=0.0,
            additional_forward_args=(torch.arange(game.n),),
            n_samples=n_samples,
            perturbations_per_eval=1,
        )
    return attrs.double()


def brute_force_shapley(game_values: dict[frozenset, float], players: Sequence[str]) -> dict:
    """Average marginal contribution over all m! orderings (a check of the exact formula)."""
    phi = dict.fromkeys(players, 0.0)
    perms = list(itertools.permutations(players))
    for order in perms:
        seen: set[str] = set()
        for p in order:
            before = game_values[frozenset(seen)]
            seen.add(p)
            phi[p] += game_values[frozenset(seen)] - before
    return {p: v / len(perms) for p, v in phi.items()}
