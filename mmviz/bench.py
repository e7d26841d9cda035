"""Benchmarks that back the papers' efficiency claims with numbers measured here.

`bench_fusion` reproduces the LMF paper's comparison (Liu et al., ACL 2018, Table 3: parameters,
training and inference samples/s) for TFN vs LMF with identical sub-networks and output layers,
so any difference comes from the fusion layer alone.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from typing import Any

import torch

# Sub-network and fusion sizes per preset. "default" is each config's defaults (the app's
# sizes); "tiny" is for tests and quick checks.
FUSION_SIZES: dict[str, dict[str, Any]] = {
    "default": {},
    "tiny": {"embed_dim": 8, "token_dim": 8, "sequence_dim": 4, "fusion_dim": 8, "rank": 2},
}


def _throughput(fn: Callable[[], None], steps: int, batch_size: int) -> float:
    start = time.perf_counter()
    for _ in range(steps):
        fn()
    return steps * batch_size / (time.perf_counter() - start)


def bench_fusion(
    sizes: str = "default",
    repeats: int = 5,
    batch_size: int = 32,
    seed: int = 0,
    steps: int = 20,
    num_threads: int | None = None,
) -> dict[str, Any]:
    """TFN vs LMF: fusion and total parameters, training and inference samples/s.

    Both models are built in one process with the same sizes and measured alternately
    (TFN train, LMF train, TFN inference, LMF inference, then again) so that load from other
    processes hits both alike; each figure is the median over `repeats` measurements of
    `steps` batches. Training is forward + backward + Adam step on random sentiment-shaped data
    (batch 32 by default, as the LMF reference); inference is the forward pass under no_grad.

    `ratios` are LMF's advantage, so > 1 means LMF is better: parameters TFN/LMF, throughput
    LMF/TFN. `num_threads` sets torch's thread count for the run (None leaves it).
    """
    from mmviz.models.fusion import (
        LMF,
        TFN,
        FusionConfig,
        LMFConfig,
        random_sentiment_batch,
        sentiment_like_specs,
    )

    if sizes not in FUSION_SIZES:
        raise ValueError(f"unknown sizes {sizes!r}; choose from: {', '.join(FUSION_SIZES)}")
    old_threads = torch.get_num_threads()
    if num_threads is not None:
        torch.set_num_threads(num_threads)
    try:
        specs = sentiment_like_specs()
        size = FUSION_SIZES[sizes]
        shared = {k: v for k, v in size.items() if k != "rank"}
        lmf_extra = {"rank": size["rank"]} if "rank" in size else {}
        models = {
            "tfn": TFN(FusionConfig(seed=seed, **shared), specs),
            "lmf": LMF(LMFConfig(seed=seed, **shared, **lmf_extra), specs),
        }
        gen = torch.Generator().manual_seed(seed)
        inputs, targets = random_sentiment_batch(specs, batch_size, gen)
        optims = {k: torch.optim.Adam(m.parameters(), lr=1e-3) for k, m in models.items()}

        def train_step(name: str) -> Callable[[], None]:
            model, opt = models[name], optims[name]

            def step() -> None:
                loss, _ = model.loss(inputs, targets, 0)
                opt.zero_grad(set_to_none=True)
                loss.backward()
                opt.step()

            return step

        def infer_step(name: str) -> Callable[[], None]:
            model = models[name]

            def step() -> None:
                with torch.no_grad():
                    model.predict(inputs)

            return step

        runs: dict[str, dict[str, list[float]]] = {k: {"train": [], "infer": []} for k in models}
        for name, model in models.items():  # warm-up: allocator, Adam state, kernels
            model.train()
            train_step(name)()
            model.eval()
            infer_step(name)()
        for _ in range(repeats):
            for mode in ("train", "infer"):
                for name, model in models.items():
                    model.train(mode == "train")
                    fn = train_step(name) if mode == "train" else infer_step(name)
                    runs[name][mode].append(_throughput(fn, steps, batch_size))

        result: dict[str, Any] = {
            "sizes": sizes,
            "config": {k: m.config.to_dict() for k, m in models.items()},
            "batch_size": batch_size,
            "repeats": repeats,
            "steps": steps,
            "threads": torch.get_num_threads(),
        }
        for name, model in models.items():
            result[name] = {
                "fusion_params": model.fusion_parameter_count(),
                "total_params": model.parameter_count(),
                "train_samples_per_s": statistics.median(runs[name]["train"]),
                "infer_samples_per_s": statistics.median(runs[name]["infer"]),
                "train_runs": runs[name]["train"],
                "infer_runs": runs[name]["infer"],
            }
        tfn, lmf = result["tfn"], result["lmf"]
        result["ratios"] = {
            "fusion_params": tfn["fusion_params"] / lmf["fusion_params"],
            "total_params": tfn["total_params"] / lmf["total_params"],
            "train": lmf["train_samples_per_s"] / tfn["train_samples_per_s"],
            "inference": lmf["infer_samples_per_s"] / tfn["infer_samples_per_s"],
        }
        return result
    finally:
        torch.set_num_threads(old_threads)
