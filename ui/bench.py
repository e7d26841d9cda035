"""The app benchmark: how long the pages take to run and rerun, measured with Streamlit's AppTest,
and how long the app takes to be usable in a real browser after the server starts.

`python -m mmviz bench app [--tiny] [--json]` reaches `bench_app` (the CLI imports this module
by name, since mmviz/ never imports Streamlit). Uses the shipped checkpoints when the
generative ones exist, else the tiny zoo of mmviz/tinyzoo.py built in a temporary folder.
"""

from __future__ import annotations

import ast
import contextlib
import functools
import logging
import os
import statistics
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
APP = ROOT / "app.py"
REPEATS = {"default": 5, "tiny": 3}
# Speed targets (ms; the browser one in s) and the figure each is checked on.
TARGETS = {
    "toggle_rerun_ms": 200.0,
    "noise_slider_rerun_ms": 200.0,
    "traversal_grid_compute_ms": 150.0,
    "compare_mode_rerun_ms": 500.0,
    "first_page_usable_s": 8.0,
    "attributions_rerun_ms": 500.0,
    "fusion_lab_rerun_ms": 500.0,
    "information_cold_ms": 10000.0,
    "information_cached_rerun_ms": 200.0,
}
# Checkpoints the part-2 pages are timed on: a VAE's label decoder and LMF for attributions,
# LMF for the lab (these, or in another zoo the first of the same kind).
PREFERRED = {"vae": "mvae_hand_label", "fusion": "lmf_sentiment"}


def app_pages() -> list[str]:
    """The page files of app.PAGES that exist, read from app.py without running it."""
    tree = ast.parse(APP.read_text())
    for node in tree.body:
        if isinstance(node, ast.Assign) and any(
            isinstance(t, ast.Name) and t.id == "PAGES" for t in node.targets
        ):
            return [f for f, _, _ in ast.literal_eval(node.value) if (ROOT / f).exists()]
    raise ValueError("app.py has no PAGES list")


def _has_generative(root: Path) -> bool:
    return (root / "mvae_hand_label" / "model.safetensors").exists()


def resolve_zoo(zoo: str | Path | None = None) -> tuple[Path, str]:
    """The checkpoint folder to measure and what it is: `zoo` when given, else the checkpoint
    root (`$MMVIZ_CHECKPOINTS`, `./checkpoints` or the shipped zoo) when its generative
    checkpoints exist, else a freshly built tiny zoo."""
    from mmviz import paths

    if zoo is not None:
        return Path(zoo), "given"
    root = paths.checkpoint_root()
    if _has_generative(root):
        return root, "shipped" if root == paths.DEFAULT_CHECKPOINTS else paths.checkpoint_origin()
    return _tiny_zoo(), "tiny"


@functools.cache
def _tiny_zoo() -> Path:
    """The tiny zoo of mmviz/tinyzoo.py, built once per process in a temporary folder."""
    from mmviz.tinyzoo import build_tiny_zoo

    return build_tiny_zoo(tempfile.mkdtemp(prefix="mmviz_bench_zoo_"))


@contextlib.contextmanager
def use_zoo(root: Path) -> Iterator[None]:
    """Point this process and its child processes at checkpoint folder `root`
    ($MMVIZ_CHECKPOINTS, read at call time by `mmviz.paths`), and put everything back
    afterwards, torch's thread count included."""
    import torch

    old_root, old_threads = os.environ.get("MMVIZ_CHECKPOINTS"), torch.get_num_threads()
    os.environ["MMVIZ_CHECKPOINTS"] = str(root)
    try:
        yield
    finally:
        if old_root is None:
            os.environ.pop("MMVIZ_CHECKPOINTS", None)
        else:
            os.environ["MMVIZ_CHECKPOINTS"] = old_root
        torch.set_num_threads(old_threads)


class _DropWarnings(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        return record.levelno > logging.WARNING


@contextlib.contextmanager
def _quiet(logger: str) -> Iterator[None]:
    """Drop a logger's warnings for a while (AppTest's harmless "missing ScriptRunContext"
    notes); a filter, since Streamlit resets its loggers' levels when it loads its config."""
    log, drop = logging.getLogger(logger), _DropWarnings()
    log.addFilter(drop)
    try:
        yield
    finally:
        log.removeFilter(drop)


# ---- AppTest timings -----------------------------------------------------------------------
def _ms(fn: Callable[[], Any]) -> float:
    start = time.perf_counter()
    fn()
    return (time.perf_counter() - start) * 1000.0


def _median(values: list[float]) -> float | None:
    return round(statistics.median(values), 1) if values else None


def _problems(at: Any) -> list[str]:
    return [str(e.value)[:300] for e in at.exception]


def _open(page: str | None, **params: str) -> tuple[Any, float]:
    """A fresh AppTest session on `page` (None: the default page) with URL query `params`;
    returns it and the time of the page's first run in ms."""
    from streamlit.testing.v1 import AppTest

    at = AppTest.from_file(str(APP), default_timeout=300)
    at.query_params.update(params)
    if page is None or page == "pages/home.py":
        return at, _ms(at.run)
    at.run()
    at.switch_page(page)
    return at, _ms(at.run)


def _keyed(at: Any, kind: str, prefix: str) -> list[Any]:
    return [w for w in at.get(kind) if str(getattr(w, "key", "") or "").startswith(prefix)]


def time_first_runs(pages: list[str], repeats: int, errors: list[str]) -> tuple[dict, dict]:
    """First run of each page in a fresh session: the very first one in this process (cold:
    models and datasets load) and the median over `repeats` sessions."""
    samples: dict[str, list[float]] = {p: [] for p in pages}
    for _ in range(repeats):
        for p in pages:
            at, ms = _open(p)
            samples[p].append(ms)
            errors += [f"{p}: {e}" for e in _problems(at)]
    name = {p: Path(p).stem for p in pages}
    cold = {name[p]: round(v[0], 1) for p, v in samples.items()}
    median = {name[p]: _median(v[1:] or v) for p, v in samples.items()}
    return cold, median


def time_missing(repeats: int, errors: list[str]) -> dict[str, Any]:
    """Missing modalities: rerun after ticking a modality off/on, after moving a damage slider,
    and after switching compare mode on (with a new sample each time, so nothing is reused)."""
    at, _ = _open("pages/missing.py")
    boxes = [b for b in _keyed(at, "checkbox", "obs_") if not b.disabled]
    out: dict[str, Any] = {}
    if len(boxes) >= 2:
        key, toggles = boxes[-1].key, []
        for _ in range(repeats):
            box = at.checkbox(key=key)
            if box.value:
                box.uncheck()
            else:
                box.check()
            toggles.append(_ms(at.run))
            errors += [f"missing toggle: {e}" for e in _problems(at)]
        if not at.checkbox(key=key).value:
            at.checkbox(key=key).check()
            at.run()
        out["toggle_rerun_ms"] = _median(toggles)
    seen = [b.key.removeprefix("obs_") for b in boxes if b.value]
    if seen:
        key, moves = f"noise_{seen[0]}", []
        for k in range(repeats):
            at.slider(key=key).set_value(round(0.1 + 0.05 * (k % 10), 2))
            moves.append(_ms(at.run))
            errors += [f"missing slider: {e}" for e in _problems(at)]
        at.slider(key=key).set_value(0.0)
        at.run()
        out["noise_slider_rerun_ms"] = _median(moves)
    compares = []
    for k in range(repeats):
        at.number_input(key="sample").set_value(k + 1)
        at.toggle(key="compare").set_value(False)
        at.run()
        at.toggle(key="compare").set_value(True)
        compares.append(_ms(at.run))
        errors += [f"missing compare: {e}" for e in _problems(at)]
    out["compare_mode_rerun_ms"] = _median(compares)
    shown = next((str(c.value) for c in at.caption if str(c.value).startswith("Compared: ")), "")
    out["compared_checkpoints"] = len(shown.split(", ")) if shown else 0
    return out


def time_traversal(repeats: int, errors: list[str]) -> dict[str, Any]:
    """Latent traversal: rerun after moving the range slider (a new range each time, so the
    grid is computed, not taken from the cache), and the grid computation alone."""
    at, _ = _open("pages/traversal.py")
    reruns = []
    for k in range(repeats):
        at.slider(key="range").set_value((-3.0 + 0.25 * (k + 1), 3.0))
        reruns.append(_ms(at.run))
        errors += [f"traversal: {e}" for e in _problems(at)]
    cid = at.selectbox(key="ckpt").value
    return {
        "traversal_rerun_ms": _median(reruns),
        **time_grid_compute(cid, repeats),
    }


def _sample_reruns(at: Any, repeats: int, errors: list[str], where: str) -> list[float]:
    """Rerun times after moving to a new test sample each time (nothing reused from a cache:
    a user looking at one sample after another)."""
    times = []
    for k in range(repeats):
        at.number_input(key="sample").set_value(k + 11)
        times.append(_ms(at.run))
        errors += [f"{where}: {e}" for e in _problems(at)]
    return times


def _part2_checkpoints(root: Path) -> dict[str, str]:
    """{"vae": id, "fusion": id} for the part-2 timings, from what `root` holds."""
    from mmviz.explore import catalog

    infos = [i for i in catalog(root) if not i.problem]
    kinds = {
        "vae": [i.id for i in infos if i.generative and "label" in i.modalities],
        "fusion": [i.id for i in infos if i.model == "lmf"],
    }
    return {k: (PREFERRED[k] if PREFERRED[k] in ids else ids[0]) for k, ids in kinds.items() if ids}


def time_part2(root: Path, repeats: int, errors: list[str], cold_ms: dict) -> dict[str, Any]:
    """Attributions and the fusion lab: rerun after changing the sample (IntegratedGradients
    at the page's default 32 steps recomputed each time), on each checkpoint that is there;
    Information: its dataset-level figures' first computation (the first run of the page in
    this process, from `cold_ms`) and a rerun served from the cache."""
    out: dict[str, Any] = {}
    picked = _part2_checkpoints(root)
    per_ckpt = {}
    for cid in picked.values():
        at, _ = _open("pages/attributions.py", ckpt=cid)
        per_ckpt[cid] = _median(_sample_reruns(at, repeats, errors, f"attributions {cid}"))
    if per_ckpt:
        out["attributions_rerun_ms"] = max(per_ckpt.values())
        out["attributions_rerun_ms_by_checkpoint"] = per_ckpt
    if "fusion" in picked:
        at, _ = _open("pages/fusion_lab.py", ckpt=picked["fusion"])
        out["fusion_lab_rerun_ms"] = _median(_sample_reruns(at, repeats, errors, "fusion lab"))
    if "information" in cold_ms:
        out["information_cold_ms"] = cold_ms["information"]
        at, _ = _open("pages/information.py")
        out["information_cached_rerun_ms"] = _median([_ms(at.run) for _ in range(repeats)])
        errors += [f"information: {e}" for e in _problems(at)]
    return out


def time_grid_compute(cid: str, repeats: int) -> dict[str, Any]:
    """`explore.traversal_grid` as the page calls it (8 dimensions x 9 values, every
    modality decoded, from a test sample's posterior mean), with the app's thread count."""
    import torch

    from mmviz import explore
    from mmviz.checkpoint import load_checkpoint
    from mmviz.data import load_dataset

    torch.set_num_threads(int(os.environ.get("MMVIZ_TORCH_THREADS", "1")))
    ck = load_checkpoint(cid)
    ds = load_dataset(ck.meta.get("dataset", "digits"))
    x = explore.sample_batch(ds, int(ds.indices("test")[0]))
    base = explore.base_latents(ck.model, x, None, "posterior")
    group = next(iter(ck.model.latent_groups))
    dims = list(range(min(8, ck.model.latent_groups[group])))
    values = np.linspace(-3, 3, 9)
    explore.traversal_grid(ck.model, base, group, dims, values)  # warm-up
    times = [
        _ms(lambda: explore.traversal_grid(ck.model, base, group, dims, values))
        for _ in range(max(repeats, 5))
    ]
    return {
        "traversal_grid_compute_ms": _median(times),
        "traversal_grid": f"{cid}: {len(dims)} dims x {len(values)} values, "
        f"{len(ck.model.modalities)} modalities, {torch.get_num_threads()} thread(s)",
    }


# ---- real browser --------------------------------------------------------------------------
def time_first_page_usable(timeout: float = 120.0) -> tuple[float | None, str]:
    """Seconds from the server process's start to the first page's title being visible in
    headless Chromium (launched beforehand, so its own start is not counted)."""
    from ui.browser import browser_unavailable, chromium_page, healthy, streamlit_server

    why = browser_unavailable()
    if why:
        return None, f"not measured: {why}"
    with chromium_page() as page, streamlit_server(wait_healthy=False) as server:
        deadline = time.monotonic() + timeout
        while not healthy(server.url):
            if server.process.poll() is not None or time.monotonic() > deadline:
                return None, f"not measured: the server did not start ({server.log})"
            time.sleep(0.05)
        page.goto(server.url)
        page.locator('[data-testid="stMain"] h1').first.wait_for(
            state="visible", timeout=timeout * 1000
        )
        seconds = time.perf_counter() - server.started
    return round(seconds, 2), "from `streamlit run` to the home page's title in Chromium"


# ---- entry ---------------------------------------------------------------------------------
def bench_app(
    sizes: str = "default",
    repeats: int | None = None,
    zoo: str | Path | None = None,
    browser: bool = True,
) -> dict[str, Any]:
    """Time the app: each page's first run, reruns after the interactions that must feel
    instant, the traversal grid's computation, compare mode, and (with Chromium) the time until
    the first page is usable. Medians over `repeats` (5, or 3 for sizes="tiny") in ms."""
    if sizes not in REPEATS:
        raise ValueError(f"unknown sizes {sizes!r}; choose from: {', '.join(REPEATS)}")
    n = repeats or REPEATS[sizes]
    root, kind = resolve_zoo(zoo)
    errors: list[str] = []
    with use_zoo(root), _quiet("streamlit.runtime.scriptrunner_utils.script_run_context"):
        pages = app_pages()
        cold, median = time_first_runs(pages, n, errors)
        missing = time_missing(n, errors)
        traversal = time_traversal(n, errors)
        part2 = time_part2(root, n, errors, cold)
        usable, how = time_first_page_usable() if browser else (None, "not measured: off")
    timings = {**missing, **traversal, **part2, "first_page_usable_s": usable}
    met: dict[str, bool | None] = {}
    for name, limit in TARGETS.items():
        value = timings.get(name)
        met[f"{name} < {limit:g}"] = None if value is None else bool(value < limit)
    return {
        "zoo": f"{root} ({kind})",
        "repeats": n,
        "cpus": os.cpu_count(),
        "page_first_run_cold_ms": cold,
        "page_first_run_median_ms": median,
        "reruns": {k: v for k, v in timings.items() if k != "first_page_usable_s"},
        "first_page_usable_s": usable,
        "first_page_usable": how,
        "targets_met": met,
        "all_targets_met": all(v for v in met.values() if v is not None),
        "errors": errors,
    }
