"""Training: one loop for every model, seeded, early-stopped on validation loss, DDP-ready.

The same code runs in one process or under `torchrun --nproc_per_node=N` (DistributedDataParallel
with gloo on CPU): each rank reads a disjoint shard of every epoch, gradients are averaged, and
the ranks' final weights are compared and recorded in meta.json.
"""

from __future__ import annotations

import copy
import hashlib
import math
import os
import sys
import time
from collections.abc import Iterator
from dataclasses import asdict
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from mmviz.data import load_dataset
from mmviz.data.base import MultimodalDataset
from mmviz.models import MultimodalModel, TrainingPhase, model_class
from mmviz.settings import TrainSettings


class _LossModule(nn.Module):
    """Wraps a phase's loss as forward(), which is what DDP synchronises on."""

    def __init__(self, model: MultimodalModel, phase: TrainingPhase) -> None:
        super().__init__()
        self.model = model
        self.phase = phase

    def forward(self, inputs, targets, step):  # noqa: ANN001 - DDP passes through
        return self.phase.loss(inputs, targets, step)


def seed_everything(seed: int) -> None:
    torch.manual_seed(seed)
    np.random.seed(seed)


def state_checksum(model: nn.Module) -> str:
    h = hashlib.sha256()
    for k, v in sorted(model.state_dict().items()):
        h.update(k.encode())
        h.update(v.detach().cpu().contiguous().numpy().tobytes())
    return h.hexdigest()[:16]


def _distributed() -> tuple[int, int]:
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world > 1 and not torch.distributed.is_initialized():
        torch.distributed.init_process_group("gloo")
    if world > 1:
        return torch.distributed.get_rank(), world
    return 0, 1


def _progress(it: Iterator, total: int, desc: str, enabled: bool):
    if not enabled:
        return it
    from tqdm.auto import tqdm

    return tqdm(it, total=total, desc=desc, leave=False, file=sys.stderr, mininterval=0.5)


@torch.no_grad()
def validation_loss(
    model: MultimodalModel, phase: TrainingPhase, ds: MultimodalDataset, batch_size: int, seed: int
) -> float:
    """Mean phase loss on the valid split, with a fixed noise seed so epochs compare fairly."""
    was_training = model.training
    model.eval()
    total, n = 0.0, 0
    with torch.random.fork_rng():
        torch.manual_seed(seed)
        for inputs, targets in ds.loader("valid", batch_size, shuffle=False):
            loss, _ = phase.loss(inputs, targets, 10**9)
            total += float(loss) * len(targets[ds.target])
            n += len(targets[ds.target])
    model.train(was_training)
    return total / max(n, 1)


def train_model(
    model: MultimodalModel,
    ds: MultimodalDataset,
    settings: TrainSettings,
    progress: bool = True,
) -> dict[str, Any]:
    """Train every phase of `model` in place; returns the history for meta.json."""
    rank, world = _distributed()
    seed_everything(settings.seed)
    history: dict[str, Any] = {"phases": {}, "world_size": world}
    for phase in model.training_phases():
        params = (
            list(phase.parameters) if phase.parameters is not None else list(model.parameters())
        )
        if phase.start is not None:
            phase.start()
        trainable = {id(p) for p in params}
        for p in model.parameters():
            p.requires_grad_(id(p) in trainable)
        module: nn.Module = _LossModule(model, phase)
        if world > 1:
            module = nn.parallel.DistributedDataParallel(module, find_unused_parameters=True)
        opt = torch.optim.Adam(params, lr=settings.lr)
        epochs = settings.phase_epochs.get(phase.name, settings.epochs)
        steps_per_epoch = math.ceil(len(ds.indices("train")) // world / settings.batch_size)
        curve: dict[str, list[float]] = {"train_loss": [], "valid_loss": []}
        best, best_state, bad_epochs, step = math.inf, None, 0, 0
        t0 = time.perf_counter()
        for epoch in range(epochs):
            model.train()
            running, count = 0.0, 0
            batches = ds.loader(
                "train",
                settings.batch_size,
                shuffle=True,
                seed=settings.seed,
                epoch=epoch,
                rank=rank,
                world_size=world,
            )
            bar = _progress(
                batches,
                steps_per_epoch,
                f"{phase.name} {epoch + 1}/{epochs}",
                progress and rank == 0,
            )
            for inputs, targets in bar:
                loss, terms = module(inputs, targets, step)
                opt.zero_grad(set_to_none=True)
                loss.backward()
                opt.step()
                step += 1
                running += float(loss.detach())
                count += 1
                if hasattr(bar, "set_postfix"):
                    bar.set_postfix(
                        {k: f"{v:.3g}" for k, v in {"loss": float(loss.detach()), **terms}.items()},
                        refresh=False,
                    )
                if settings.max_steps is not None and step >= settings.max_steps:
                    break
            valid = validation_loss(model, phase, ds, settings.batch_size, settings.seed)
            curve["train_loss"].append(running / max(count, 1))
            curve["valid_loss"].append(valid)
            if progress and rank == 0:
                print(
                    f"[{phase.name}] epoch {epoch + 1}: train {curve['train_loss'][-1]:.4f} "
                    f"valid {valid:.4f}",
                    file=sys.stderr,
                )
            if valid < best - 1e-6:
                best, bad_epochs = valid, 0
                best_state = copy.deepcopy(model.state_dict())
            else:
                bad_epochs += 1
            stop = bad_epochs >= settings.patience or (
                settings.max_steps is not None and step >= settings.max_steps
            )
            if stop:
                break
        if best_state is not None:
            model.load_state_dict(best_state)
        history["phases"][phase.name] = {
            **curve,
            "best_valid_loss": best,
            "epochs_run": len(curve["valid_loss"]),
            "steps": step,
            "seconds": round(time.perf_counter() - t0, 2),
        }
    for p in model.parameters():
        p.requires_grad_(True)
    model.eval()
    model.after_training(ds)
    if world > 1:
        sums: list[str] = [""] * world
        torch.distributed.all_gather_object(sums, state_checksum(model))
        history["rank_checksums"] = sums
    history["settings"] = asdict(settings)
    return history


def build_model(
    model_name: str, ds: MultimodalDataset, overrides: dict[str, Any] | None = None, seed: int = 0
) -> MultimodalModel:
    cls = model_class(model_name)
    config = cls.config_class.from_dict({**(overrides or {}), "seed": seed})
    torch.manual_seed(seed)
    return cls(config, ds.specs)


def run_training(
    model_name: str,
    dataset: str,
    modalities: list[str] | str | None,
    out: str | Path,
    overrides: dict[str, Any] | None = None,
    settings: TrainSettings | None = None,
    evaluate: bool = True,
    progress: bool = True,
    weights_dtype: str = "float32",
    dataset_options: dict[str, Any] | None = None,
) -> Path | None:
    """Train `model_name` on `dataset` and write the checkpoint to `out` (rank 0 only).
    `dataset_options` go to load_dataset (e.g. `mnist_dir`: full MNIST from IDX files).

    weights_dtype "float16" stores the weights at half precision (half the file); they are
    rounded before the checkpoint is written and evaluated, so its metrics are the file's.
    """
    from mmviz.checkpoint import check_weights_dtype, code_version, round_weights, save_checkpoint

    check_weights_dtype(weights_dtype)  # fail before training, not after

    settings = settings or TrainSettings()
    ds = load_dataset(dataset, modalities, seed=0, **(dataset_options or {}))
    model = build_model(model_name, ds, overrides, seed=settings.seed)
    t0 = time.perf_counter()
    history = train_model(model, ds, settings, progress=progress)
    wall = time.perf_counter() - t0
    rank = torch.distributed.get_rank() if torch.distributed.is_initialized() else 0
    if rank != 0:
        return None
    meta: dict[str, Any] = {
        "id": Path(out).name,
        "model": model_name,
        "paper": model.paper,
        "dataset": ds.name,
        "dataset_version": ds.version,
        "modalities": ds.modalities,
        "target": ds.target,
        "seed": settings.seed,
        "code_version": code_version(),
        "wall_time_s": round(wall, 1),
        "parameters": model.parameter_count(),
        "latent_groups": model.latent_groups,
        "training": history,
        "metrics": {},
    }
    round_weights(model, weights_dtype)
    path = save_checkpoint(model, out, meta, weights_dtype)
    if evaluate:
        from mmviz.evaluate import evaluate_checkpoint

        evaluate_checkpoint(path, write=True)
    return path
