"""A tiny in-memory multimodal dataset for fast tests of training and checkpoint machinery."""

from __future__ import annotations

import numpy as np

from mmviz.data.base import ModalitySpec, MultimodalDataset, stratified_split


def toy_dataset(n: int = 120, seed: int = 0) -> MultimodalDataset:
    """Class c in 0..3 drawn as an 8x8 image with a bright row c, plus the label itself."""
    rng = np.random.default_rng(seed)
    c = rng.integers(0, 4, n)
    img = rng.uniform(0, 0.2, (n, 1, 8, 8)).astype(np.float32)
    img[np.arange(n), 0, c * 2, :] = 0.9
    specs = {
        "image": ModalitySpec("image", "image", (1, 8, 8), "bernoulli", value_range=(0.0, 1.0)),
        "label": ModalitySpec(
            "label", "categorical", (), "categorical", dtype="int64", vocab=("0", "1", "2", "3")
        ),
    }
    return MultimodalDataset(
        name="toy",
        version="1",
        seed=seed,
        specs=specs,
        data={"image": img, "label": c.astype(np.int64)},
        targets={"class": c.astype(np.int64)},
        target="class",
        factors={"noise_level": img.mean(axis=(1, 2, 3))},
        factor_kinds={"noise_level": "continuous"},
        splits=stratified_split(c, {"train": 0.6, "valid": 0.2, "test": 0.2}, seed),
    )
