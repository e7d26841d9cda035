"""Checkpoints: `checkpoints/<id>/{model.safetensors, config.json, meta.json}`. Never pickles.

- model.safetensors: the state dict (tensors only; safetensors refuses anything executable).
- config.json: what rebuilds the module: registry name, config fields, modality specs.
- meta.json: provenance and results: dataset name and version, modalities, seed, code version,
  wall time, training curves, evaluation metrics, checksum of the weights.

Writing is atomic at the folder level: the new folder is written beside the old one and swapped
in by renames, so a training killed mid-write leaves the previous checkpoint intact.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from safetensors import SafetensorError
from safetensors.torch import load_file, save_file

from mmviz import __version__
from mmviz.data.base import ModalitySpec
from mmviz.models import MultimodalModel, model_class

WEIGHTS, CONFIG, META = "model.safetensors", "config.json", "meta.json"
FORMAT = 1
# The shipped zoo; MMVIZ_CHECKPOINTS points the app and CLI at another folder of checkpoints.
CHECKPOINT_ROOT = Path(
    os.environ.get("MMVIZ_CHECKPOINTS") or Path(__file__).resolve().parent.parent / "checkpoints"
)


class CheckpointError(ValueError):
    """A folder that is not a valid mmviz checkpoint; the message says what and what to do."""


@dataclass
class Checkpoint:
    id: str
    path: Path
    model: MultimodalModel
    config: dict[str, Any]
    meta: dict[str, Any]


def code_version() -> str:
    """Package version plus the git commit when available (provenance in meta.json)."""
    try:
        out = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"],
            cwd=Path(__file__).parent,
            capture_output=True,
            text=True,
            timeout=5,
        )
        commit = out.stdout.strip() if out.returncode == 0 else ""
    except (OSError, subprocess.SubprocessError):
        commit = ""
    return f"{__version__}+{commit}" if commit else __version__


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def model_config_dict(model: MultimodalModel) -> dict[str, Any]:
    return {
        "format": FORMAT,
        "model": model.name,
        "config": model.config.to_dict(),
        "specs": [s.to_dict() for s in model.specs.values()],
    }


def save_checkpoint(model: MultimodalModel, out: str | Path, meta: dict[str, Any]) -> Path:
    """Write model + config + meta to `out` atomically; returns the folder."""
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.", dir=out.parent))
    try:
        state = {k: v.detach().contiguous().cpu() for k, v in model.state_dict().items()}
        save_file(state, str(tmp / WEIGHTS))
        meta = {**meta, "weights_sha256": sha256_file(tmp / WEIGHTS)}
        meta.setdefault("code_version", code_version())
        (tmp / CONFIG).write_text(json.dumps(model_config_dict(model), indent=2))
        (tmp / META).write_text(json.dumps(meta, indent=2, default=_jsonable))
        old = out.with_name(f".{out.name}.old")
        if old.exists():
            shutil.rmtree(old)
        if out.exists():
            os.replace(out, old)
        os.replace(tmp, out)
        shutil.rmtree(old, ignore_errors=True)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return out


def atomic_write_json(path: str | Path, data: Any) -> None:
    """Write JSON to a temporary file beside `path`, then rename it into place."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "w") as f:
            json.dump(data, f, indent=2, default=_jsonable)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def update_meta(path: str | Path, **fields: Any) -> dict[str, Any]:
    """Merge fields into meta.json (atomically) and return the new meta."""
    path = Path(path)
    meta = read_json(path / META)
    meta.update(fields)
    atomic_write_json(path / META, meta)
    return meta


def _jsonable(x: Any) -> Any:
    if hasattr(x, "tolist"):
        return x.tolist()
    raise TypeError(f"not JSON serialisable: {type(x).__name__}")


def read_json(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text())
    except FileNotFoundError:
        raise CheckpointError(
            f"{path} is missing: a checkpoint folder holds {WEIGHTS}, {CONFIG} and {META}"
        ) from None
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise CheckpointError(f"{path} is not valid JSON ({e}); retrain or restore it") from None
    if not isinstance(data, dict):
        raise CheckpointError(f"{path} must hold a JSON object, found {type(data).__name__}")
    return data


def resolve(ref: str | Path) -> Path:
    """A checkpoint id (folder name under checkpoints/) or a path to a folder."""
    p = Path(ref)
    if p.is_dir():
        return p
    q = CHECKPOINT_ROOT / str(ref)
    if q.is_dir():
        return q
    known = ", ".join(list_ids()) or "none"
    raise CheckpointError(f"no checkpoint {str(ref)!r}; known ids: {known}")


def list_ids(root: Path = CHECKPOINT_ROOT) -> list[str]:
    if not root.is_dir():
        return []
    return sorted(
        p.name for p in root.iterdir() if (p / CONFIG).is_file() and not p.name.startswith(".")
    )


def build_model(config: dict[str, Any]) -> MultimodalModel:
    """Rebuild the (untrained) module described by a config.json dict."""
    try:
        cls = model_class(str(config["model"]))
        specs = {d["name"]: ModalitySpec.from_dict(d) for d in config["specs"]}
        cfg = cls.config_class.from_dict(dict(config["config"]))
        return cls(cfg, specs)
    except CheckpointError:
        raise
    except (KeyError, TypeError, ValueError) as e:
        raise CheckpointError(
            f"config.json does not describe a known model ({type(e).__name__}: {e})"
        ) from None


def load_checkpoint(ref: str | Path) -> Checkpoint:
    """Load and validate a checkpoint; anything malformed raises CheckpointError, nothing runs."""
    path = resolve(ref)
    config = read_json(path / CONFIG)
    meta = read_json(path / META) if (path / META).exists() else {}
    model = build_model(config)
    weights = path / WEIGHTS
    if not weights.is_file():
        raise CheckpointError(f"{weights} is missing; retrain with `python -m mmviz train`")
    try:
        state = load_file(str(weights))
    except (SafetensorError, OSError, ValueError, RuntimeError) as e:
        raise CheckpointError(
            f"{weights} is not a valid safetensors file ({e}); mmviz never loads pickles. "
            "Retrain it or restore it from the repository."
        ) from None
    expected = model.state_dict()
    missing = sorted(set(expected) - set(state))
    unexpected = sorted(set(state) - set(expected))
    wrong = [
        f"{k}: file {tuple(state[k].shape)} vs model {tuple(expected[k].shape)}"
        for k in expected
        if k in state and state[k].shape != expected[k].shape
    ]
    if missing or unexpected or wrong:
        detail = "; ".join(
            filter(
                None,
                [
                    f"missing {missing[:3]}" if missing else "",
                    f"unexpected {unexpected[:3]}" if unexpected else "",
                    f"wrong shapes {wrong[:3]}" if wrong else "",
                ],
            )
        )
        raise CheckpointError(f"{weights} does not match config.json ({detail})")
    model.load_state_dict(state)
    model.eval()
    for p in model.parameters():
        p.requires_grad_(False)
    return Checkpoint(id=path.name, path=path, model=model, config=config, meta=meta)
