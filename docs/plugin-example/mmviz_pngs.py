"""The mmviz dataset `pngs`: greyscale images paired with labels, from a folder like

    my_images/labels.csv    file,label      (a header, then one row per image)
                            cat_001.png,cat
    my_images/cat_001.png   ...

The folder is the `folder` option, else $MMVIZ_PNGS_DIR: mmviz rebuilds a checkpoint's dataset
from its name alone (to evaluate it, or to show it in the app), so the name must be enough.
"""

from __future__ import annotations

import csv
import hashlib
import os
from pathlib import Path

import numpy as np
from PIL import Image

from mmviz.data.base import DataError, ModalitySpec, MultimodalDataset, stratified_split

NAME = "pngs"


def load_pngs(seed=0, use_cache=True, folder=None, size=28) -> MultimodalDataset:
    """Every row of labels.csv, its image resized to size x size in [0, 1]; `use_cache` is
    accepted as every builder's is, and unused: reading a folder of PNGs is quick."""
    folder = Path(folder or os.environ.get("MMVIZ_PNGS_DIR", "."))
    table = folder / "labels.csv"
    if not table.is_file():
        raise DataError(f"{table} not found: set MMVIZ_PNGS_DIR to a folder of PNGs + labels.csv")
    with table.open(newline="") as f:
        rows = list(csv.DictReader(f))
    classes = sorted({r["label"] for r in rows})
    images = np.stack([read_png(folder / r["file"], size) for r in rows])
    labels = np.array([classes.index(r["label"]) for r in rows], dtype=np.int64)
    digest = hashlib.sha256(images.tobytes() + labels.tobytes() + str(classes).encode())
    image = ModalitySpec("image", "image", (1, size, size), "bernoulli", value_range=(0.0, 1.0))
    label = ModalitySpec("label", "categorical", (), "categorical", "int64", vocab=tuple(classes))
    return MultimodalDataset(
        name=NAME,
        version=f"pngs1-{digest.hexdigest()[:10]}",  # changes whenever an image or label does
        seed=seed,
        specs={"image": image, "label": label},
        data={"image": images, "label": labels},
        targets={"class": labels},
        target="class",
        factors={"class": labels},
        factor_kinds={"class": "categorical"},
        splits=stratified_split(labels, {"train": 0.8, "valid": 0.1, "test": 0.1}, seed),
        info={"folder": str(folder.resolve())},
    )


def read_png(path: Path, size: int) -> np.ndarray:
    """One image as a float32 array of shape (1, size, size) in [0, 1]."""
    with Image.open(path) as im:
        grey = im.convert("L").resize((size, size), Image.Resampling.BILINEAR)
    return (np.asarray(grey, dtype=np.float32) / 255.0)[None]
