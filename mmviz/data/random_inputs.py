"""Random inputs shaped like a dataset's, without building it (benchmarks, tests, demos)."""

from __future__ import annotations

import torch
from torch import Tensor

from mmviz.data.base import ModalitySpec


def sentiment_like_specs(
    steps: int = 20, vocab_size: int = 150, visual: int = 8, acoustic: int = 6
) -> dict[str, ModalitySpec]:
    """Specs shaped like the `sentiment` dataset's, without depending on its generator."""
    vocab = ("<pad>", "<unk>") + tuple(f"w{i}" for i in range(2, vocab_size))
    return {
        "language": ModalitySpec(
            "language", "tokens", (steps,), "categorical", dtype="int64", vocab=vocab
        ),
        "visual": ModalitySpec("visual", "sequence", (steps, visual), "gaussian"),
        "acoustic": ModalitySpec("acoustic", "sequence", (steps, acoustic), "gaussian"),
    }


def random_sentiment_batch(
    specs: dict[str, ModalitySpec], n: int, generator: torch.Generator | None = None
) -> tuple[dict[str, Tensor], dict[str, Tensor]]:
    """Random right-padded inputs (PAD steps zero in every modality) and random scores."""
    steps = next(iter(specs.values())).shape[0]
    lengths = torch.randint(max(1, steps // 4), steps + 1, (n,), generator=generator)
    valid = torch.arange(steps).unsqueeze(0) < lengths.unsqueeze(1)  # (n, T)
    inputs = {}
    for m, s in specs.items():
        if s.kind == "tokens":
            ids = torch.randint(2, s.num_classes, (n, steps), generator=generator)
            inputs[m] = ids * valid
        else:
            inputs[m] = torch.randn((n, *s.shape), generator=generator) * valid.unsqueeze(-1)
    score = torch.rand(n, generator=generator) * 6 - 3
    return inputs, {"score": score}
