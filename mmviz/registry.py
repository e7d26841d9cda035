"""Names the command line needs before it imports torch: the studies and a checkpoint's files.

`mmviz --help` and `mmviz list` must answer in well under a second, and importing torch alone
takes seconds, so what they need lives here, in a module that imports nothing heavy:

- `STUDY_NAMES`: the names `mmviz study` accepts, in `mmviz.studies.STUDIES` order
  (tests/test_packaging.py checks the two agree);
- the three file names of a checkpoint folder and `list_ids`, the checkpoints in a folder
  (re-exported by `mmviz.checkpoint`).
"""

from __future__ import annotations

from pathlib import Path

from mmviz import paths

STUDY_NAMES: tuple[str, ...] = (
    "weak-supervision",
    "poe-vs-quotient",
    "jmvae-alpha",
    "mfm-ablations",
    "lmf-rank",
    "scaling-modalities",
    "aggregation",
)

WEIGHTS, CONFIG, META = "model.safetensors", "config.json", "meta.json"


def list_ids(root: Path | None = None) -> list[str]:
    """Checkpoint ids under `root` (default: `paths.checkpoint_root()`, read at call time)."""
    root = Path(root) if root is not None else paths.checkpoint_root()
    if not root.is_dir():
        return []
    return sorted(
        p.name for p in root.iterdir() if (p / CONFIG).is_file() and not p.name.startswith(".")
    )


__all__ = ["CONFIG", "META", "STUDY_NAMES", "WEIGHTS", "list_ids"]
