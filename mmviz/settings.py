"""`TrainSettings`, importable without torch (the zoo's recipes use it, and `mmviz list` reads
the zoo); `mmviz.train` re-exports it."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class TrainSettings:
    """How long and how fast to train (what the papers leave free; recorded in meta.json).

    epochs: maximum passes over the training split per phase.
    batch_size: samples per step on each rank (MVAE's reference uses 100).
    lr: Adam learning rate (1e-3 in the MVAE/JMVAE reference code).
    patience: stop after this many epochs without a better validation loss.
    max_steps: hard cap on optimizer steps per phase (tests and smoke runs).
    seed: seeds torch, numpy and the batch order.
    phase_epochs: per-phase override of `epochs`, e.g. {"surrogate": 10}.
    """

    epochs: int = 20
    batch_size: int = 100
    lr: float = 1e-3
    patience: int = 5
    max_steps: int | None = None
    seed: int = 0
    phase_epochs: dict[str, int] = field(default_factory=dict)
