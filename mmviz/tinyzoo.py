"""A tiny zoo: one small checkpoint of each kind the app shows, trained for a few steps.

For tests and the app benchmark (`python -m mmviz bench app` uses it when the shipped
generative checkpoints are absent): seconds to build on a CPU, nothing here is meant to be
accurate. Shipped oracle checkpoints are linked in when present (else a tiny `hand` oracle is
trained), so cross-modal coherence is exercised.
"""

from __future__ import annotations

import os
from functools import cache
from pathlib import Path

from mmviz.paths import DEFAULT_CHECKPOINTS

DIGITS5 = ["hand", "print", "label", "text", "sound"]
TINY = {  # id -> (model, dataset, modalities, config overrides)
    "mvae_tiny5": (
        "mvae",
        "digits",
        DIGITS5,
        {"latent_dim": 8, "hidden": 64, "enc_layers": 1, "dec_layers": 1},
    ),
    "mopoe_tiny": (
        "mopoe",
        "digits",
        ["hand", "print", "label"],
        {"latent_dim": 8, "hidden": 32, "enc_layers": 1, "dec_layers": 1},
    ),
    "jmvae_tiny": (
        "jmvae",
        "digits",
        ["hand", "label"],
        {"latent_dim": 8, "hidden": 64, "enc_layers": 1, "dec_layers": 1},
    ),
    "mfm_tiny": (
        "mfm",
        "digits",
        ["hand", "print", "label"],
        {"zy_dim": 4, "za_dim": 3, "hidden": 32, "factor_dim": 16},
    ),
    "lmf_tiny": (
        "lmf",
        "sentiment",
        None,
        {"embed_dim": 8, "token_dim": 8, "sequence_dim": 8, "fusion_dim": 8},
    ),
}
ORACLES = ("hand", "print", "text", "sound")


@cache
def build_tiny_zoo(root: str) -> Path:
    """Train each TINY model for 5 steps into `root` (once per process); link or train oracles."""
    from mmviz.train import TrainSettings, run_training

    out = Path(root)
    settings = TrainSettings(epochs=1, max_steps=5, batch_size=32)
    for cid, (model, dataset, mods, overrides) in TINY.items():
        if not (out / cid / "config.json").exists():
            run_training(
                model, dataset, mods, out / cid, overrides, settings, evaluate=False, progress=False
            )
    for m in ORACLES:
        dst = out / f"oracle_{m}"
        if dst.exists():
            continue
        if (DEFAULT_CHECKPOINTS / f"oracle_{m}" / "model.safetensors").exists():
            os.symlink(DEFAULT_CHECKPOINTS / f"oracle_{m}", dst)
        elif m == "hand":  # at least one oracle, so coherence is exercised
            run_training(
                "oracle",
                "digits",
                [m],
                dst,
                {"modality": m, "channels": [4, 8]},
                settings,
                evaluate=False,
                progress=False,
            )
    return out


__all__ = ["DIGITS5", "ORACLES", "TINY", "build_tiny_zoo"]
