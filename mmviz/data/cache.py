"""On-disk cache of built datasets: versioned npz, no pickles, atomic writes, corrupt => rebuild.

Everything that describes the arrays (specs, factor kinds, info) travels inside the npz as a JSON
header stored as bytes, so a cached dataset is self-describing and loads with
`allow_pickle=False`.
"""

from __future__ import annotations

import contextlib
import glob
import json
import os
import tempfile
import time
import warnings
import zipfile
from collections.abc import Callable
from pathlib import Path

import numpy as np

from mmviz.data.base import DataError, ModalitySpec, MultimodalDataset
from mmviz.paths import cache_root

HEADER = "__header__"
STALE_TMP_S = 600  # a write's temporary untouched this long belongs to a killed process


def cache_dir() -> Path:
    """`$MMVIZ_CACHE` if set, else `~/.cache/mmviz` (`mmviz.paths.cache_root`)."""
    return cache_root()


def cache_path(name: str, version: str) -> Path:
    return cache_dir() / f"{name}-{version}.npz"


def to_arrays(ds: MultimodalDataset) -> dict[str, np.ndarray]:
    header = {
        "name": ds.name,
        "version": ds.version,
        "seed": ds.seed,
        "target": ds.target,
        "specs": [s.to_dict() for s in ds.specs.values()],
        "factor_kinds": ds.factor_kinds,
        "info": ds.info,
    }
    arrays = {HEADER: np.frombuffer(json.dumps(header).encode(), dtype=np.uint8)}
    for prefix, group in (
        ("data", ds.data),
        ("target", ds.targets),
        ("factor", ds.factors),
        ("split", ds.splits),
    ):
        for k, v in group.items():
            arrays[f"{prefix}/{k}"] = np.asarray(v)
    return arrays


def from_arrays(arrays: dict[str, np.ndarray]) -> MultimodalDataset:
    header = json.loads(bytes(arrays[HEADER]).decode())
    groups: dict[str, dict[str, np.ndarray]] = {"data": {}, "target": {}, "factor": {}, "split": {}}
    for key, value in arrays.items():
        if key == HEADER:
            continue
        prefix, _, name = key.partition("/")
        groups[prefix][name] = value
    specs = {d["name"]: ModalitySpec.from_dict(d) for d in header["specs"]}
    missing = [m for m in specs if m not in groups["data"]]
    if missing or header["target"] not in groups["target"]:
        raise KeyError(f"cache lacks arrays for {missing or header['target']}")
    # an intact zip can still disagree with its header: never hand such a dataset out
    sizes = {len(v) for g in ("data", "target", "factor") for v in groups[g].values()}
    shapes = [m for m in specs if groups["data"][m].shape[1:] != specs[m].shape]
    n = sizes.pop() if len(sizes) == 1 else -1
    splits_ok = all(
        v.ndim == 1 and (v.size == 0 or 0 <= v.min() <= v.max() < n)
        for v in groups["split"].values()
    )
    if (
        n < 0
        or shapes
        or not splits_ok
        or not all(isinstance(header.get(k), dict) for k in ("factor_kinds", "info"))
    ):
        raise ValueError(f"cache arrays disagree with its header (shapes of {shapes}, {n} rows)")
    return MultimodalDataset(
        name=header["name"],
        version=header["version"],
        seed=int(header["seed"]),
        specs=specs,
        data=groups["data"],
        targets=groups["target"],
        target=header["target"],
        factors=groups["factor"],
        factor_kinds=header["factor_kinds"],
        splits=groups["split"],
        info=header["info"],
    )


def atomic_save_npz(path: Path, arrays: dict[str, np.ndarray]) -> None:
    """Write to a temporary file beside `path`, then rename: readers never see half a file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    for old in path.parent.glob(f"{glob.escape(path.name)}.*.tmp"):  # left by killed writers
        with contextlib.suppress(OSError):
            if time.time() - old.stat().st_mtime > STALE_TMP_S:
                old.unlink()
    fd, tmp = tempfile.mkstemp(prefix=path.name + ".", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            np.savez(f, **arrays)
        from mmviz.checkpoint import make_readable

        make_readable(Path(tmp))
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def load_npz(path: Path) -> dict[str, np.ndarray]:
    """Read every array now (so CRC errors surface here), never unpickling anything."""
    with np.load(path, allow_pickle=False) as z:
        return {k: z[k] for k in z.files}


def load_or_build(
    name: str, version: str, build: Callable[[], MultimodalDataset], use_cache: bool = True
) -> MultimodalDataset:
    """The cached dataset if it is intact and of this version, else build (and cache) it."""
    if not use_cache:
        return build()
    path = cache_path(name, version)
    if path.exists():
        try:
            ds = from_arrays(load_npz(path))
            if ds.name == name and ds.version == version:
                return ds
            reason = f"it holds {ds.name} version {ds.version}"
        except (
            OSError,
            ValueError,
            KeyError,
            TypeError,  # a header of the wrong shape: {"specs": "x"}, [1]...
            AttributeError,
            IndexError,
            RecursionError,
            EOFError,
            zipfile.BadZipFile,
        ) as e:
            reason = f"{type(e).__name__}: {e}"
        warnings.warn(
            f"dataset cache {path} is unreadable or stale ({reason}); rebuilding it",
            stacklevel=2,
        )
    ds = build()
    try:
        atomic_save_npz(path, to_arrays(ds))
    except OSError as e:  # a read-only home must not stop the app: work uncached
        warnings.warn(f"could not write dataset cache {path}: {e}", stacklevel=2)
    return ds


__all__ = ["DataError", "cache_dir", "cache_path", "load_or_build", "atomic_save_npz", "load_npz"]
