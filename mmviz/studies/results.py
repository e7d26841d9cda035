"""Reading the studies' results files back, for the Reproductions page."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mmviz.paths import results_root
from mmviz.studies.base import VERDICT_LEVELS, Rows
from mmviz.studies.index import STUDIES

REQUIRED = ("study", "claim", "rows", "verdict", "verdict_rule", "command", "quick")


@dataclass
class Found:
    """A study's results file as the page needs it: the result, or why there is none."""

    name: str
    path: Path | None = None
    result: dict[str, Any] | None = None
    error: str | None = None


def load_result(path: Path, name: str) -> dict[str, Any]:
    """Read and check one results file; ValueError says what is wrong with it."""
    try:
        data = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError) as e:
        raise ValueError(f"{path} is not readable JSON ({e}); rerun the study") from None
    if not isinstance(data, dict):
        raise ValueError(f"{path} holds no JSON object; rerun the study")
    missing = [k for k in REQUIRED if k not in data]
    if missing:
        raise ValueError(f"{path} lacks {', '.join(missing)}; rerun the study")
    if data["study"] != name:
        raise ValueError(f"{path} holds study {data['study']!r}, not {name!r}")
    if data["verdict"] not in VERDICT_LEVELS or not isinstance(data["rows"], list):
        raise ValueError(f"{path} has a malformed verdict or rows; rerun the study")
    return data


def load_results(root: Path | None = None) -> dict[str, Found]:
    """Every study's result: `<name>.json` if present, else the quick `<name>.quick.json`."""
    root = root or results_root()
    found = {}
    for name in STUDIES:
        f = Found(name)
        for candidate in (root / f"{name}.json", root / f"{name}.quick.json"):
            if candidate.is_file():
                f.path = candidate
                try:
                    f.result = load_result(candidate, name)
                except ValueError as e:
                    f.error = str(e)
                break
        found[name] = f
    return found


def flat_rows(rows: Rows) -> Rows:
    """Rows with nested dicts spread into "outer.inner" columns and lists joined (for tables)."""
    out = []
    for r in rows:
        flat: dict[str, Any] = {}
        for k, v in r.items():
            if isinstance(v, dict):
                for k2, v2 in v.items():
                    flat[f"{k}.{k2}"] = v2 if not isinstance(v2, dict | list) else json.dumps(v2)
            elif isinstance(v, list):
                flat[k] = ",".join(map(str, v))
            else:
                flat[k] = v
        out.append(flat)
    return out
