"""A study's plan: what it trains, with which seeds, for how long, quick or full.

A study decides its plan once, from `quick` and the seed (`Study.plan`), and runs from it
(`Study.run`), so its budget (epochs, seeds, sizes, samples measured) is set in one place, as a
typed, frozen object, rather than read from a loose dict that a run could change. The only
`quick` decisions left in the runs are the dataset cuts, which the results never recorded. The
results file records the plan as `config` (`Plan.config()`): the keys each plan lists in
`CONFIG_KEYS`, in that order, which keeps the files in the format they had before plans were
typed.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar

from mmviz.train import TrainSettings

# The shipped digits VAEs' sizes (zoo.VAE): the studies compare variants, not sizes.
VAE = {"hidden": 256, "latent_dim": 16}
QUICK_VAE = {"hidden": 64, "latent_dim": 8}


@dataclass(frozen=True, kw_only=True)
class Plan:
    """What every study decides before it runs: quick or full, and the seeds."""

    quick: bool  # a smoke run (`<name>.quick.json`, tiny budget) rather than the full one
    seeds: tuple[int, ...]  # each model is trained once per seed
    # The fields (and properties) the results file records as `config`, in this order.
    CONFIG_KEYS: ClassVar[tuple[str, ...]] = ()

    @property
    def seed(self) -> int:
        """The run's seed (the first; studies with one model per variant use only this one)."""
        return self.seeds[0]

    def config(self) -> dict[str, Any]:
        """The plan as the results file records it (JSON-ready)."""
        return {key: plain(getattr(self, key)) for key in self.CONFIG_KEYS}


def plain(value: Any) -> Any:
    """`value` as JSON data: a plan as its config, another dataclass as its fields, tuples as
    lists, mappings copied (a config never aliases a module constant)."""
    if isinstance(value, Plan):
        return value.config()
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return plain(vars(value))
    if isinstance(value, Mapping):
        return {k: plain(v) for k, v in value.items()}
    if isinstance(value, tuple | list):
        return [plain(v) for v in value]
    return value


@dataclass(frozen=True, kw_only=True)
class TrainingPlan(Plan):
    """A plan whose models are trained by `train.train_model`: its settings less the seed."""

    epochs: int
    batch_size: int
    lr: float = 1e-3
    patience: int = 5  # early stopping: epochs without improvement on the validation split
    max_steps: int | None = None  # optimizer steps per phase (None: no cap)
    overrides: Mapping[str, Any] = field(default_factory=dict)  # model config (sizes)
    test_limit: int | None = None  # test samples measured (None: all)

    def settings(self, seed: int, **extra: Any) -> TrainSettings:
        """The training settings of one model trained with `seed`."""
        return TrainSettings(
            epochs=self.epochs,
            batch_size=self.batch_size,
            lr=self.lr,
            patience=self.patience,
            max_steps=self.max_steps,
            seed=seed,
            **extra,
        )


@dataclass(frozen=True, kw_only=True)
class VariantsPlan(TrainingPlan):
    """Variants of one digits VAE (model config overrides), each trained per seed and scored
    by importance-weighted log-likelihoods (the product-vs-quotient and JMVAE-alpha studies)."""

    variants: Mapping[str, Mapping[str, Any]]  # variant -> model config overrides
    n_train: int | None = None  # training samples kept (None: all)
    loglik_samples: int  # test samples the log-likelihoods average over
    loglik_k: int  # importance samples per estimate
    CONFIG_KEYS = (
        "variants",
        "seeds",
        "epochs",
        "batch_size",
        "patience",
        "max_steps",
        "overrides",
        "n_train",
        "test_limit",
        "loglik_samples",
        "loglik_k",
    )


def variants_plan(
    variants: Mapping[str, Mapping[str, Any]], quick: bool, seed: int, full_epochs: int
) -> VariantsPlan:
    """Two seeds and up to `full_epochs` epochs (early stopping) at the shipped VAE's size; a
    quick run: one seed, one capped epoch of a small VAE on 300 training samples."""
    return VariantsPlan(
        quick=quick,
        variants=variants,
        seeds=(seed,) if quick else (seed, seed + 1),
        epochs=1 if quick else full_epochs,
        batch_size=100,
        patience=5,
        max_steps=20 if quick else None,
        overrides=QUICK_VAE if quick else VAE,
        n_train=300 if quick else None,
        test_limit=100 if quick else None,
        loglik_samples=30 if quick else 300,
        loglik_k=5 if quick else 100,
    )


__all__ = [
    "QUICK_VAE",
    "VAE",
    "Plan",
    "TrainingPlan",
    "VariantsPlan",
    "plain",
    "variants_plan",
]
