"""Where mmviz reads and writes: checkpoints, results, the dataset cache, lessons and the
live-class database.

Each folder is resolved when the function is called (never frozen at import time), so setting
the environment variable or changing directory in a running process, a test or a child process
moves it. Every command and page reads these functions, so they all resolve the same way:

| function            | 1. environment variable | 2. working directory | 3. packaged default       |
|---------------------|-------------------------|----------------------|---------------------------|
| `checkpoint_root()` | `MMVIZ_CHECKPOINTS`     | `./checkpoints`      | the shipped zoo           |
| `results_root()`    | `MMVIZ_RESULTS`         | `./results`          | the shipped results       |
| `lessons_root()`    | `MMVIZ_LESSONS`         | `./lessons`          | `<defaults>/lessons`      |
| `cache_root()`      | `MMVIZ_CACHE`           | -                    | `~/.cache/mmviz`          |
| `class_db_path()`   | `MMVIZ_CLASS_DB`        | -                    | `<cache>/classes.sqlite3` |

An empty variable counts as unset; the working directory's folder counts when it exists. The
packaged defaults are the repository's own folders in a checkout (`<repo>/checkpoints`...), and
in an installed wheel the copies that setup.py puts under `mmviz/_shipped/`. From a clone's
root, steps 2 and 3 name the same folders.

Commands that write (`train-all`, `study`) write where they read, except into an installed
package: when the folder in use is the one inside site-packages, `checkpoint_write_root()` and
`results_write_root()` give the working directory's `./checkpoints` and `./results` instead
(created on write, and read from then on, by step 2).
"""

from __future__ import annotations

import os
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent
REPO = PACKAGE.parent  # the checkout (in an installed wheel: site-packages)
SHIPPED = PACKAGE / "_shipped"  # package data of an installed wheel (see setup.py)


def packaged(name: str) -> Path:
    """The packaged default of folder `name`: `mmviz/_shipped/<name>` in an installed wheel
    that ships it, else `<repo>/<name>`."""
    inside = SHIPPED / name
    return inside if inside.is_dir() else REPO / name


DEFAULT_CHECKPOINTS = packaged("checkpoints")  # the shipped zoo
DEFAULT_RESULTS = packaged("results")
DEFAULT_LESSONS = packaged("lessons")


def _resolve(var: str, name: str, default: Path) -> tuple[Path, str]:
    value = os.environ.get(var)
    if value:
        return Path(value), var
    local = Path.cwd() / name
    if local.is_dir() and not _same(local, default):
        return local, "working directory"
    return default, "shipped"


def _same(a: Path, b: Path) -> bool:
    try:
        return a.resolve() == b.resolve()
    except OSError:
        return False


def checkpoint_root() -> Path:
    """`$MMVIZ_CHECKPOINTS`, else `./checkpoints` if it exists, else the shipped zoo."""
    return _resolve("MMVIZ_CHECKPOINTS", "checkpoints", DEFAULT_CHECKPOINTS)[0]


def checkpoint_origin() -> str:
    """Where `checkpoint_root()` comes from: "MMVIZ_CHECKPOINTS", "working directory" or
    "shipped" (the packaged zoo, also when the working directory is a clone's root)."""
    return _resolve("MMVIZ_CHECKPOINTS", "checkpoints", DEFAULT_CHECKPOINTS)[1]


def _inside_package(origin: str) -> bool:
    """Whether a folder resolved from `origin` is an installed package's own copy."""
    return origin == "shipped" and SHIPPED.is_dir()


def checkpoints_writable() -> bool:
    """False when the checkpoints in use are the ones inside an installed package: commands
    then leave them as shipped rather than writing into site-packages."""
    return not _inside_package(checkpoint_origin())


def checkpoint_write_root() -> Path:
    """Where a command that builds checkpoints (`train-all`) writes: `checkpoint_root()`, or
    `./checkpoints` when that is an installed package's zoo."""
    root, origin = _resolve("MMVIZ_CHECKPOINTS", "checkpoints", DEFAULT_CHECKPOINTS)
    return Path.cwd() / "checkpoints" if _inside_package(origin) else root


def results_root() -> Path:
    """`$MMVIZ_RESULTS`, else `./results` if it exists, else the shipped results (studies,
    fusion benchmark, app benchmarks)."""
    return _resolve("MMVIZ_RESULTS", "results", DEFAULT_RESULTS)[0]


def results_write_root() -> Path:
    """Where a command that measures (`study`, the LMF rank study) writes: `results_root()`,
    or `./results` when that is an installed package's results."""
    root, origin = _resolve("MMVIZ_RESULTS", "results", DEFAULT_RESULTS)
    return Path.cwd() / "results" if _inside_package(origin) else root


def cache_root() -> Path:
    """`$MMVIZ_CACHE`, else `~/.cache/mmviz` (built datasets)."""
    value = os.environ.get("MMVIZ_CACHE")
    return Path(value) if value else Path.home() / ".cache" / "mmviz"


def class_db_path() -> Path:
    """`$MMVIZ_CLASS_DB`, else `<cache_root()>/classes.sqlite3`: the SQLite file of live classes
    (mmviz.classroom), shared by every app process on the machine."""
    value = os.environ.get("MMVIZ_CLASS_DB")
    return Path(value) if value else cache_root() / "classes.sqlite3"


def lessons_root() -> Path:
    """`$MMVIZ_LESSONS`, else `./lessons` if it exists, else `<defaults>/lessons`."""
    return _resolve("MMVIZ_LESSONS", "lessons", DEFAULT_LESSONS)[0]


__all__ = [
    "DEFAULT_CHECKPOINTS",
    "DEFAULT_RESULTS",
    "REPO",
    "cache_root",
    "checkpoint_origin",
    "checkpoints_writable",
    "checkpoint_root",
    "checkpoint_write_root",
    "class_db_path",
    "lessons_root",
    "packaged",
    "results_root",
    "results_write_root",
]
