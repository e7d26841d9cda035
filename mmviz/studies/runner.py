"""Running a study: where its results go, the command that reruns it, and the results file."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import torch

from mmviz import paths
from mmviz.studies.base import progress_line
from mmviz.studies.index import study


def default_out(name: str, quick: bool) -> Path:
    """Where `mmviz study NAME` writes: `<results>/<name>.json`, `.quick.json` for a quick run,
    in the results folder commands write to (`paths.results_write_root()`: never inside an
    installed package)."""
    return paths.results_write_root() / (f"{name}.quick.json" if quick else f"{name}.json")


def command(name: str, quick: bool, out: Path | None = None) -> str:
    """The command that reruns a study (with --out only where it is not the default)."""
    cmd = f"python -m mmviz study {name}" + (" --quick" if quick else "")
    if out is not None and Path(out).resolve() != default_out(name, quick).resolve():
        cmd += f" --out {out}"
    return cmd


def run_study(
    name: str,
    quick: bool = False,
    out: str | Path | None = None,
    seed: int = 0,
    progress: bool = False,
) -> dict[str, Any]:
    """Run study `name`, judge it, write the results file and return its contents."""
    from mmviz.checkpoint import atomic_write_json, code_version

    s = study(name)
    path = Path(out) if out is not None else default_out(name, quick)
    progress_line(progress, f"study {name}{' (quick)' if quick else ''} -> {path}")
    threads = torch.get_num_threads()
    if quick:  # tiny models gain nothing from a second thread, and lose much on a busy machine
        torch.set_num_threads(1)
    t0 = time.perf_counter()
    try:
        plan = s.plan(quick, seed)  # after the thread count is set: a plan may record it
        body = s.run(plan, progress)
        used_threads = torch.get_num_threads()
    finally:
        torch.set_num_threads(threads)
    verdict, reason = s.verdict(body["rows"])
    result = {
        "study": name,
        "title": s.title,
        "claim": s.claim,
        "quick": quick,
        "seed": seed,
        **body,
        "verdict": verdict,
        "verdict_reason": reason,
        "verdict_rule": s.verdict_rule,
        "command": command(name, quick, Path(out) if out is not None else None),
        "code_version": code_version(),
        "torch_threads": used_threads,
        "wall_time_s": round(time.perf_counter() - t0, 1),
        "finished": time.strftime("%Y-%m-%d %H:%M:%S"),
    }
    atomic_write_json(path, result)
    result["path"] = str(path)
    return result
