"""Checkpoints: `checkpoints/<id>/{model.safetensors, config.json, meta.json}`. Never pickles.

- model.safetensors: the state dict (tensors only; safetensors refuses anything executable).
- config.json: what rebuilds the module: registry name, config fields, modality specs, and
  the dtype the floating-point weights are stored in ("float32", or "float16" to halve the
  file: the model still computes in float32, from weights rounded once when saved).
- meta.json: provenance and results: dataset name and version, modalities, seed, code version,
  wall time, training curves, evaluation metrics, checksum of the weights.

Writing is atomic at the folder level: the new folder is written beside the old one and swapped
in by one atomic exchange (renameat2 / renamex_np; elsewhere two renames, with recovery), so a
training killed mid-write leaves the previous checkpoint intact.
"""

from __future__ import annotations

import contextlib
import ctypes
import glob
import hashlib
import json
import os
import shutil
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file
from torch.overrides import TorchFunctionMode

from mmviz import __version__, paths
from mmviz.data.base import ModalitySpec
from mmviz.models import MultimodalModel, model_class
from mmviz.registry import CONFIG, META, WEIGHTS, list_ids

FORMAT = 1
# dtypes floating-point weights may be stored in (config.json "weights_dtype"); loading always
# gives a float32 model
WEIGHTS_DTYPES = {"float32": torch.float32, "float16": torch.float16}


# meta.json keys the app reads, and the JSON types they must have (a missing key or null is fine)
META_TYPES: dict[str, tuple[type, ...]] = {
    **dict.fromkeys(
        (
            "id",
            "model",
            "paper",
            "dataset",
            "dataset_version",
            "target",
            "code_version",
            "weights_sha256",
        ),
        (str,),
    ),
    **dict.fromkeys(("seed", "parameters"), (int,)),
    "wall_time_s": (int, float),
    "modalities": (list,),
    **dict.fromkeys(("latent_groups", "training", "metrics"), (dict,)),
}


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


def model_config_dict(model: MultimodalModel, weights_dtype: str = "float32") -> dict[str, Any]:
    return {
        "format": FORMAT,
        "model": model.name,
        "config": model.config.to_dict(),
        "specs": [s.to_dict() for s in model.specs.values()],
        "weights_dtype": weights_dtype,
    }


def check_weights_dtype(name: str) -> torch.dtype:
    if name not in WEIGHTS_DTYPES:
        raise ValueError(
            f"weights dtype {name!r} is not supported; choose from {', '.join(WEIGHTS_DTYPES)}"
        )
    return WEIGHTS_DTYPES[name]


def round_weights(model: MultimodalModel, weights_dtype: str) -> None:
    """Round the float32 tensors of `model` in place to what `weights_dtype` can hold, so the
    model in memory computes exactly what the saved checkpoint will (metrics measured on it
    are the shipped model's)."""
    dtype = check_weights_dtype(weights_dtype)
    with torch.no_grad():
        for t in model.state_dict().values():
            if t.dtype == torch.float32 and dtype != torch.float32:
                t.copy_(t.to(dtype).float())


def _umask() -> int:
    """The process umask, read without changing it (os.umask would, for every thread)."""
    with contextlib.suppress(OSError, ValueError):
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("Umask:"):
                return int(line.split()[1], 8)
    return 0o022


def make_readable(path: Path) -> None:
    """Give a file (0644) or folder (0755), less the umask, the modes a normal write would:
    mkstemp/mkdtemp create them private (0600/0700), and the app may run as another user
    than the one who trained or evaluated."""
    mode = 0o755 if path.is_dir() else 0o644
    os.chmod(path, mode & ~_umask())


def save_checkpoint(
    model: MultimodalModel,
    out: str | Path,
    meta: dict[str, Any],
    weights_dtype: str = "float32",
) -> Path:
    """Write model + config + meta to `out` atomically; returns the folder.

    weights_dtype "float16" stores float32 tensors rounded to half precision (half the bytes;
    see `round_weights` to make the in-memory model match); other tensors are stored as they are.
    """
    dtype = check_weights_dtype(weights_dtype)
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    recover(out)
    old = out.with_name(f".{out.name}.old")
    if old.exists():  # left by a save killed after its swap: `out` is complete
        shutil.rmtree(old)
    for stale in out.parent.glob(f".{glob.escape(out.name)}.*"):  # left by killed saves
        with contextlib.suppress(OSError):
            if not stale.name.endswith(".old") and time.time() - stale.stat().st_mtime > 600:
                shutil.rmtree(stale)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.", dir=out.parent))
    try:
        state = {
            k: (v.to(dtype) if v.dtype == torch.float32 else v).detach().contiguous().cpu()
            for k, v in model.state_dict().items()
        }
        save_file(state, str(tmp / WEIGHTS))
        meta = {**meta, "weights_sha256": sha256_file(tmp / WEIGHTS)}
        meta.setdefault("code_version", code_version())
        config = model_config_dict(model, weights_dtype)
        (tmp / CONFIG).write_text(json.dumps(config, indent=2))
        (tmp / META).write_text(json.dumps(meta, indent=2, default=_jsonable))
        for f in (tmp, tmp / WEIGHTS, tmp / CONFIG, tmp / META):
            make_readable(f)
        if out.exists() and _exchange(tmp, out):  # one atomic step: `out` is never missing
            shutil.rmtree(tmp, ignore_errors=True)  # now the previous checkpoint
            return out
        if out.exists():
            os.replace(out, old)  # a kill from here to the next line is undone by recover()
        os.replace(tmp, out)
        shutil.rmtree(old, ignore_errors=True)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return out


def _exchange(a: Path, b: Path) -> bool:
    """Swap two existing folders atomically (Linux renameat2, macOS renamex_np); False where
    the system or file system cannot, and the caller falls back to two renames."""
    try:
        libc = ctypes.CDLL(None)
        if hasattr(libc, "renameat2"):  # AT_FDCWD, RENAME_EXCHANGE
            return libc.renameat2(-100, os.fsencode(a), -100, os.fsencode(b), 2) == 0
        if hasattr(libc, "renamex_np"):  # RENAME_SWAP
            return libc.renamex_np(os.fsencode(a), os.fsencode(b), 2) == 0
    except (OSError, TypeError, AttributeError):
        pass
    return False


def recover(out: Path) -> None:
    """Undo a save killed between the fallback's two renames: `out` is then missing and the
    previous, complete checkpoint waits at `.<name>.old`. Only writers call this (a reader
    doing it could race a writer in that gap)."""
    old = out.with_name(f".{out.name}.old")
    if not out.exists() and (old / CONFIG).is_file():
        os.replace(old, out)


def atomic_write_text(path: str | Path, text: str) -> None:
    """Write text to a temporary file beside `path`, then rename it into place: a reader (or
    a crash) sees the old file or the new one, never half of one."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "w") as f:
            f.write(text)
        make_readable(Path(tmp))
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def atomic_write_json(path: str | Path, data: Any) -> None:
    """Write JSON atomically (see `atomic_write_text`)."""
    atomic_write_text(path, json.dumps(data, indent=2, default=_jsonable))


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
    except OSError as e:  # a folder or an unreadable file under that name
        raise CheckpointError(f"{path} cannot be read ({e}); retrain or restore it") from None
    except (ValueError, RecursionError) as e:  # bad UTF-8 or JSON, 5000-digit or deep nesting
        raise CheckpointError(
            f"{path} is not valid JSON ({type(e).__name__}: {str(e)[:200]}); retrain or restore it"
        ) from None
    if not isinstance(data, dict):
        raise CheckpointError(f"{path} must hold a JSON object, found {type(data).__name__}")
    return data


def resolve(ref: str | Path) -> Path:
    """A checkpoint id (folder name under `paths.checkpoint_root()`: `$MMVIZ_CHECKPOINTS`,
    else `./checkpoints`, else the shipped zoo) or a path to a folder.

    Where a save was killed between the fallback's two renames (see `recover`), the previous
    checkpoint is read from `.<name>.old`; readers never move it (they could race a writer).
    """
    candidates = (Path(ref), paths.checkpoint_root() / str(ref))
    for p in candidates:
        if p.is_dir():
            return p
    for p in candidates:
        old = p.with_name(f".{p.name}.old")
        if p.name and (old / CONFIG).is_file():
            return old
    known = ", ".join(list_ids()) or "none"
    raise CheckpointError(f"no checkpoint {str(ref)!r}; known ids: {known}")


def build_model(config: dict[str, Any]) -> MultimodalModel:
    """Rebuild the (untrained) module described by a config.json dict.

    Any failure of the constructor is a CheckpointError: the config is data from a file, and a
    wrong value in it can fail anywhere (TypeError, RuntimeError from torch, OverflowError...).
    `load_checkpoint` builds it under a `_SizeGuard`, so that a config declaring huge layers
    is refused before they are allocated.
    """
    try:
        if config.get("format", FORMAT) != FORMAT:
            raise CheckpointError(
                f"config.json has format {str(config['format'])[:20]!r}; this mmviz reads "
                f"format {FORMAT}: retrain it or use the matching mmviz version"
            )
        cls = model_class(str(config["model"]))
        specs = {d["name"]: ModalitySpec.from_dict(d) for d in config["specs"]}
        cfg = cls.config_class.from_dict(dict(config["config"]))
        return cls(cfg, specs)
    except CheckpointError:
        raise
    except Exception as e:
        raise CheckpointError(
            f"config.json does not describe a known model ({type(e).__name__}: {str(e)[:300]})"
        ) from None


def check_meta(meta: dict[str, Any], path: Path) -> None:
    """meta.json values the app reads have the right JSON types, else CheckpointError."""
    for key, types in META_TYPES.items():
        value = meta.get(key)
        ok = value is None or (isinstance(value, types) and not isinstance(value, bool))
        if ok and key == "modalities":
            ok = all(isinstance(m, str) for m in value or [])
        if ok and key == "latent_groups":
            ok = all(isinstance(n, int) and not isinstance(n, bool) for n in (value or {}).values())
        if not ok:
            of = {"modalities": " of str", "latent_groups": " of int"}.get(key, "")
            raise CheckpointError(
                f"{path}: {key!r} must be {' or '.join(t.__name__ for t in types)}{of}, found "
                f"{type(value).__name__}; retrain or restore it"
            )


class _SizeGuard(TorchFunctionMode):
    """Refuses to create tensors of more than `budget` bytes in all while active: each factory
    call is first sized on the meta device (no memory), so a config.json that declares huge
    layers fails fast here instead of allocating and initialising them."""

    FACTORIES = frozenset(
        {
            torch.empty,
            torch.zeros,
            torch.ones,
            torch.full,
            torch.rand,
            torch.randn,
            torch.randint,
            torch.eye,
            torch.arange,
            torch.tensor,
        }
    )

    def __init__(self, budget: int) -> None:
        super().__init__()
        self.left = budget

    def __torch_function__(self, func, types, args=(), kwargs=None):  # type: ignore[override]
        kwargs = kwargs or {}
        if func in self.FACTORIES:
            self.left -= func(*args, **{**kwargs, "device": "meta"}).nbytes
            if self.left < 0:
                raise CheckpointError(
                    "config.json describes a model far larger than model.safetensors; "
                    "retrain it or restore both files"
                )
        return func(*args, **kwargs)


def load_checkpoint(ref: str | Path) -> Checkpoint:
    """Load and validate a checkpoint; anything malformed raises CheckpointError, nothing runs."""
    path = resolve(ref)
    config = read_json(path / CONFIG)
    meta = read_json(path / META) if (path / META).exists() else {}
    check_meta(meta, path / META)
    stored = config.get("weights_dtype", "float32")
    if not isinstance(stored, str) or stored not in WEIGHTS_DTYPES:
        raise CheckpointError(
            f"{path / CONFIG}: weights_dtype {str(stored)[:40]!r} is not one of "
            f"{', '.join(WEIGHTS_DTYPES)}; retrain it or restore it"
        )
    stored_dtype = WEIGHTS_DTYPES[stored]
    weights = path / WEIGHTS
    if not weights.is_file():
        raise CheckpointError(f"{weights} is missing; retrain with `python -m mmviz train`")
    with _SizeGuard(2 * weights.stat().st_size + (64 << 20)):  # the file holds every tensor
        model = build_model(config)
    try:
        state = load_file(str(weights))
    except (SafetensorError, OSError, ValueError, RuntimeError, TypeError) as e:
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
    wrong += [  # same shape, other dtype: load_state_dict would cast it silently
        f"{k}: file {state[k].dtype} vs model {expected[k].dtype}"
        for k in expected
        if k in state
        and state[k].shape == expected[k].shape
        and state[k].dtype != expected[k].dtype
        # float32 weights stored in the dtype config.json declares are upcast below
        and not (expected[k].dtype == torch.float32 and state[k].dtype == stored_dtype)
    ]
    if missing or unexpected or wrong:
        detail = "; ".join(
            filter(
                None,
                [
                    f"missing {missing[:3]}" if missing else "",
                    f"unexpected {unexpected[:3]}" if unexpected else "",
                    f"wrong shapes or dtypes {wrong[:3]}" if wrong else "",
                ],
            )
        )
        raise CheckpointError(f"{weights} does not match config.json ({detail})")
    model.load_state_dict({k: v.to(expected[k].dtype) for k, v in state.items()})
    model.eval()
    for p in model.parameters():
        p.requires_grad_(False)
    cid = path.name[1:-4] if path.name.startswith(".") and path.name.endswith(".old") else path.name
    return Checkpoint(id=cid, path=path, model=model, config=config, meta=meta)
