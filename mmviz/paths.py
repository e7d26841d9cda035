"""Where mmviz reads and writes: checkpoints, results, the dataset cache and lessons.

Each folder is resolved when the function is called (never frozen at import time), so setting
the environment variable in a running process, a test or a child process moves it:

| function            | environment variable | default                  |
|---------------------|----------------------|--------------------------|
| `checkpoint_root()` | `MMVIZ_CHECKPOINTS`  | `<repo>/checkpoints`     |
| `results_root()`    | `MMVIZ_RESULTS`      | `<repo>/results`         |
| `cache_root()`      | `MMVIZ_CACHE`        | `~/.cache/mmviz`         |
| `lessons_root()`    | `MMVIZ_LESSONS`      | `<repo>/lessons`         |

An empty variable counts as unset.
"""

from __future__ import annotations

import os
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
DEFAULT_CHECKPOINTS = REPO / "checkpoints"  # the shipped zoo
DEFAULT_RESULTS = REPO / "results"


def _env(name: str, default: Path) -> Path:
    value = os.environ.get(name)
    return Path(value) if value else default


def checkpoint_root() -> Path:
    """`$MMVIZ_CHECKPOINTS`, else the shipped zoo `<repo>/checkpoints`."""
    return _env("MMVIZ_CHECKPOINTS", DEFAULT_CHECKPOINTS)


def results_root() -> Path:
    """`$MMVIZ_RESULTS`, else `<repo>/results` (studies, fusion benchmark, app benchmarks)."""
    return _env("MMVIZ_RESULTS", DEFAULT_RESULTS)


def cache_root() -> Path:
    """`$MMVIZ_CACHE`, else `~/.cache/mmviz` (built datasets)."""
    return _env("MMVIZ_CACHE", Path.home() / ".cache" / "mmviz")


def lessons_root() -> Path:
    """`$MMVIZ_LESSONS`, else `<repo>/lessons`."""
    return _env("MMVIZ_LESSONS", REPO / "lessons")


__all__ = ["REPO", "cache_root", "checkpoint_root", "lessons_root", "results_root"]
