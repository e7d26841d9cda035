"""What every study shares: the `Study` record, and the data and measurement helpers.

The helpers live here rather than in one study's module because several studies measure the
same way (accuracy from a subset, importance-weighted log-likelihoods) and must stay comparable.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any, Generic, TypeVar

import numpy as np
import torch
from torch import Tensor

from mmviz.data.base import MultimodalDataset
from mmviz.evaluate import batched, eval_positions
from mmviz.models import MultimodalModel, log_likelihood
from mmviz.models.stats import log_mean_exp, log_normal
from mmviz.studies.plan import Plan
from mmviz.train import TrainSettings, build_model, train_model

VERDICT_LEVELS = ("reproduced", "partly", "not reproduced", "not run")

Rows = list[dict[str, Any]]
Verdict = tuple[str, str]
P = TypeVar("P", bound=Plan)


@dataclass(frozen=True)
class Study(Generic[P]):
    """One reproduced claim: how to plan and run it, how to judge it, what the page says."""

    name: str
    title: str
    claim: str
    plan: Callable[[bool, int], P]  # (quick, seed) -> what the run trains and measures
    run: Callable[[P, bool], dict[str, Any]]  # (plan, progress) -> config, rows, paper, notes
    verdict: Callable[[Rows], Verdict]
    minutes: float  # full-run estimate on 2 cores, from per-step timings taken under load

    @property
    def verdict_rule(self) -> str:
        return " ".join((self.verdict.__doc__ or "").split())


def progress_line(progress: bool, msg: str) -> None:
    """A progress line on stderr (stdout carries the command's result)."""
    if progress:
        print(msg, file=sys.stderr, flush=True)


# ---- data and evaluation helpers ------------------------------------------------------------
def shrink(
    ds: MultimodalDataset, n_train: int | None, n_valid: int | None, n_test: int | None
) -> MultimodalDataset:
    """The dataset with each split cut to n evenly spaced samples (quick runs). Evenly spaced,
    not a prefix: splits are sorted by sample index, which can follow the class."""
    sizes = {"train": n_train, "valid": n_valid, "test": n_test}
    splits = {}
    for split, idx in ds.splits.items():
        n = sizes.get(split)
        splits[split] = idx if n is None or n >= len(idx) else idx[eval_positions(ds, split, n)]
    return replace(ds, splits=splits)


def measured_targets(ds: MultimodalDataset, name: str, limit: int | None) -> Tensor:
    """Target `name` of the test samples the accuracy helpers measure on."""
    return ds.target_tensor("test", name, eval_positions(ds, "test", limit))


@torch.no_grad()
def label_accuracy(
    model: MultimodalModel, ds: MultimodalDataset, observed: list[str] | None, limit: int | None
) -> float:
    """Test accuracy of the model's class prediction from the `observed` modalities."""
    probs = torch.cat([model.predict(x, observed) for x, _ in batched(ds, "test", limit)])
    return float((probs.argmax(-1) == measured_targets(ds, "class", limit)).float().mean())


@torch.no_grad()
def sign_accuracy(
    model: MultimodalModel, ds: MultimodalDataset, observed: list[str] | None, limit: int | None
) -> float:
    """Binary sentiment accuracy (score >= 0), the LMF/MFM papers' Acc-2, for a regressor."""
    pred = torch.cat(
        [model.predict(x, observed).reshape(-1) for x, _ in batched(ds, "test", limit)]
    )
    score = measured_targets(ds, "score", limit)
    return float(((pred >= 0) == (score >= 0)).float().mean())


@torch.no_grad()
def _iw_mean(model: MultimodalModel, ds: MultimodalDataset, fn: Callable, limit: int) -> float:
    with torch.random.fork_rng():  # the same importance samples for every model compared
        torch.manual_seed(0)
        return float(torch.cat([fn(x) for x, _ in batched(ds, "test", limit, batch=100)]).mean())


def marginal_loglik(
    model: MultimodalModel, ds: MultimodalDataset, target: list[str], k: int, limit: int
) -> float:
    """Mean importance-weighted log p(x_T) over `limit` test samples (K = k)."""
    return _iw_mean(model, ds, lambda x: model.log_likelihood_iw(x, target, None, k), limit)


def conditional_loglik_mean(
    model: MultimodalModel,
    ds: MultimodalDataset,
    target: list[str],
    given: list[str],
    k: int,
    limit: int,
) -> float:
    """Mean of `conditional_loglik` over `limit` test samples."""
    return _iw_mean(model, ds, lambda x: conditional_loglik(model, x, target, given, k), limit)


@torch.no_grad()
def conditional_loglik(
    model: MultimodalModel,
    inputs: dict[str, Tensor],
    target: list[str],
    given: list[str],
    K: int,
    chunk: int = 50,
) -> Tensor:
    """log p(x_T | x_G) with the model's own conditional prior q(z | x_G), per sample:
        log (1/K) sum_k p(x_T | z_k) q(z_k | x_G) / q(z_k | x_T, x_G),  z_k ~ q(z | x_T, x_G).

    The JMVAE paper's conditional log-likelihood: p(z | x_G) is replaced by the unimodal
    encoder, so it measures how well that encoder supports generating x_T from x_G (what alpha
    trains). `evaluate.loglik_metrics`'s "hand|label" is a different quantity (a difference of
    two marginal estimates), in which a better q(z | x_G) only tightens log p(x_G).
    """
    joint = model.encode(inputs, target + given)["z"]
    cond = model.encode(inputs, given)["z"]
    n = joint.mean.shape[0]

    def rep(t: Tensor, k: int) -> Tensor:
        return t.unsqueeze(0).expand(k, *t.shape).reshape(k * t.shape[0], *t.shape[1:])

    logws = []
    for start in range(0, K, chunk):
        k = min(chunk, K - start)
        mu, lv = rep(joint.mean, k), rep(joint.logvar, k)
        z = mu + torch.randn_like(mu) * torch.exp(0.5 * lv)
        params = model.decode({"z": z}, target)
        log_px = sum(log_likelihood(model.specs[m], params[m], rep(inputs[m], k)) for m in target)
        log_prior = log_normal(z, rep(cond.mean, k), rep(cond.logvar, k))
        logws.append((log_px + log_prior - log_normal(z, mu, lv)).reshape(k, n))
    return log_mean_exp(torch.cat(logws), dim=0)


def fit(
    model_name: str, ds: MultimodalDataset, overrides: dict[str, Any], settings: TrainSettings
) -> tuple[MultimodalModel, dict[str, Any], float]:
    """A model built from its seed and trained: (model, training history, seconds)."""
    model = build_model(model_name, ds, overrides, seed=settings.seed)
    t0 = time.perf_counter()
    history = train_model(model, ds, settings, progress=False)
    return model, history, time.perf_counter() - t0


def epochs_run(history: dict[str, Any]) -> int:
    """Epochs the main phase ran before it stopped (early stopping or the budget)."""
    return int(history["phases"]["main"]["epochs_run"])


def mean(values: list[float]) -> float:
    """The mean, NaN for no values (a verdict then reads "not run" rather than failing)."""
    return float(np.mean(values)) if values else float("nan")


def mean_by(rows: Rows, key: str, value: str) -> dict[Any, float]:
    """Mean of `value` over rows grouped by `key` (e.g. over seeds)."""
    groups: dict[Any, list[float]] = {}
    for r in rows:
        if r.get(value) is not None:
            groups.setdefault(r[key], []).append(float(r[value]))
    return {k: mean(v) for k, v in groups.items()}
