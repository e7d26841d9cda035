"""Many users at once, and a long session, against one real Streamlit server.

The users are headless websocket clients (tests/st_client.py) speaking the browser's protocol:
a browser per user would spend the two cores on drawing charts, and the figure wanted here is
the server's. (The real-browser test, tests/test_browser.py, covers what a browser shows.)

Concurrency: SESSIONS sessions, each on its own test sample (?ckpt=...&i=...), go through
Missing modalities, Latent traversal and Attributions for a bounded time with a think time
between actions, like a class following a teacher. Every rerun must end without an error, and
on Missing modalities the predicted class and the KL shift shown must be the ones computed
here, in this process, for *that session's* sample: another user's sample showing up would be
cross-talk. The p95 of the rerun times is recorded beside one user's p95 alone; the test
fails only when sessions are served worse than one after another (p95 ratio > SESSIONS): a
lock convoy or work that grows with the number of sessions. How close it comes to the fair
share of the cores (SESSIONS / cores) is a benchmark figure, not a pass/fail: it depends on
what else the machine runs (recorded 2.4 on the idle 2-core VM, 6.6 in a CI run on the same
machine).

Soak: one session performs SOAK_RERUNS reruns across the three pages, changing widgets and
samples; the server's resident memory may grow by less than SOAK_GROWTH_MB after a warm-up.

The figures are written to results/concurrency.json with MMVIZ_RECORD=1 (the README quotes
them) at the recorded sizes (a minute of 10 sessions, 1,000 soak reruns); other runs, CI's
included, use smaller ones (20 s, 300 reruns: the same checks, about two minutes less).
The MMVIZ_* environment variables below set the sizes for a quick local try.
"""

from __future__ import annotations

import asyncio
import json
import os
import platform
import random
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from tests.st_client import Run, Session
from ui.browser import ROOT, streamlit_server

RECORDING = os.environ.get("MMVIZ_RECORD") == "1"
SESSIONS = int(os.environ.get("MMVIZ_SESSIONS", "10"))
CONCURRENT_S = float(os.environ.get("MMVIZ_CONCURRENT_S", "60" if RECORDING else "20"))
SINGLE_RERUNS = int(os.environ.get("MMVIZ_SINGLE_RERUNS", "40" if RECORDING else "15"))
THINK_S = (1.0, 2.0)  # a user's pause between two actions
P95_FACTOR = float(SESSIONS)  # no worse than serving the sessions one after another
SOAK_RERUNS = int(os.environ.get("MMVIZ_SOAK_RERUNS", "1000" if RECORDING else "300"))
SOAK_GROWTH_MB = 200.0
CKPT = "mvae_hand_label"
# The shipped figures are written with MMVIZ_RECORD=1; other runs (CI, local) write beside
# the temporary files, so a test run never changes the repository.
RESULTS = (
    ROOT / "results" / "concurrency.json"
    if RECORDING
    else Path(tempfile.gettempdir()) / "mmviz_concurrency.json"
)

pytestmark = [
    pytest.mark.slow,  # about 2 minutes together (4 when recording); run by .ci/run (make test)
    pytest.mark.skipif(
        not (ROOT / "checkpoints" / CKPT / "model.safetensors").exists(),
        reason=f"the shipped checkpoint {CKPT} is missing",
    ),
]


# ---- what each session must see (computed here, not read from the app) -------------------------
def expected_views(n: int) -> list[dict[str, Any]]:
    """n test positions (different true labels while there are classes left), each with what
    Missing modalities must show for it: the class and KL shift with `label` unticked, and
    with both ticked."""
    from mmviz import explore
    from mmviz.checkpoint import load_checkpoint
    from mmviz.data import load_dataset

    model = load_checkpoint(CKPT).model.eval()
    ds = load_dataset("digits")
    test = ds.indices("test")
    labels = ds.targets["class"][test]
    out, seen = [], set()
    for pos in range(len(test)):
        if len(out) == n:
            break
        want = int(labels[pos])
        if want in seen and len(seen) < 10:
            continue
        x = explore.sample_batch(ds, int(test[pos]))
        hand = explore.reconstruct_view(model, x, ["hand"])
        both = explore.reconstruct_view(model, x, ["hand", "label"])
        seen.add(want)
        out.append(
            {
                "pos": pos,
                "hand": (str(int(np.argmax(hand.probs))), f"{hand.shift['z']:.2f} nats"),
                "both": (str(int(np.argmax(both.probs))), f"{both.shift['z']:.2f} nats"),
            }
        )
    assert len(out) == n, f"found only {len(out)} usable test samples"
    return out


def shown(run: Run) -> tuple[str | None, str | None]:
    return run.metric("predicted class"), run.metric("KL")


# ---- one user ----------------------------------------------------------------------------------
class User:
    """One session on its own sample, touring the pages; records every rerun's time."""

    def __init__(self, url: str, view: dict[str, Any], seed: int, think: bool = True) -> None:
        self.url, self.view, self.think = url, view, think
        self.rng = random.Random(seed)
        self.times: list[float] = []
        self.kinds: list[str] = []
        self.checks = 0

    def record(self, kind: str, run: Run) -> Run:
        assert not run.errors, f"{kind} on sample {self.view['pos']}: {run.errors}"
        self.times.append(run.seconds)
        self.kinds.append(kind)
        return run

    async def pause(self) -> None:
        if self.think:
            await asyncio.sleep(self.rng.uniform(*THINK_S))

    async def missing(self, s: Session, rounds: int) -> None:
        """Untick `label`, tick it again: each time this sample's own figures must show."""
        await s.run("missing")
        for _ in range(rounds):
            for kind, obs, want in (
                ("missing: untick label", False, self.view["hand"]),
                ("missing: tick label", True, self.view["both"]),
            ):
                run = self.record(kind, await s.run("missing", obs_label=obs))
                assert shown(run) == want, (
                    f"sample {self.view['pos']} after {kind}: shown {shown(run)}, expected {want}"
                )
                self.checks += 1
                await self.pause()

    async def traversal(self, s: Session, rounds: int) -> None:
        first = await s.run("traversal")
        assert "steps" in first.widgets, "Latent traversal has no Steps slider"
        for k in range(rounds):
            run = await s.run("traversal", steps=5 + (k + self.rng.randrange(3)) % 6)
            self.record("traversal: steps", run)
            assert run.of("plotly_chart"), "the traversal drew no figure"
            await self.pause()

    async def attributions(self, s: Session, rounds: int) -> None:
        await s.run("attributions")
        for k in range(rounds):
            run = await s.run("attributions", att_obs_hand=k % 2 == 1)
            self.record("attributions: toggle hand", run)
            await self.pause()

    async def tour(self, deadline: float | None, rounds: int = 2) -> None:
        """The three pages, over and over until `deadline` (once if None)."""
        query = f"ckpt={CKPT}&i={self.view['pos']}"
        if self.think:  # a class does not click in the same millisecond: arrivals spread out
            await asyncio.sleep(self.rng.uniform(0.0, 3.0))
        async with Session(self.url, query) as s:
            while True:
                await self.missing(s, rounds)
                await self.traversal(s, rounds)
                await self.attributions(s, rounds)
                if deadline is None or time.monotonic() > deadline:
                    return


async def together(url: str, users: list[User], seconds: float | None) -> None:
    deadline = None if seconds is None else time.monotonic() + seconds
    await asyncio.gather(*(u.tour(deadline) for u in users))


def p95(xs: list[float]) -> float:
    return float(np.percentile(np.asarray(xs), 95))


def by_kind(users: list[User]) -> dict[str, dict[str, float]]:
    """Median and p95 rerun time per kind of action."""
    times: dict[str, list[float]] = {}
    for u in users:
        for k, t in zip(u.kinds, u.times, strict=True):
            times.setdefault(k, []).append(t)
    return {
        k: {"n": len(v), "p50_s": round(statistics.median(v), 3), "p95_s": round(p95(v), 3)}
        for k, v in sorted(times.items())
    }


def record(section: str, data: dict[str, Any]) -> None:
    """Merge `section` into results/concurrency.json, with the machine it was measured on."""
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    old = json.loads(RESULTS.read_text()) if RESULTS.exists() else {}
    old[section] = {**data, "measured": time.strftime("%Y-%m-%d")}
    cores = os.cpu_count()
    old["machine"] = f"{platform.machine()}, {cores} cores, Python {platform.python_version()}"
    RESULTS.write_text(json.dumps(old, indent=2) + "\n")


@pytest.fixture(scope="module")
def server(tmp_path_factory) -> Any:
    with streamlit_server(log_dir=tmp_path_factory.mktemp("streamlit_log")) as s:
        yield s


@pytest.fixture(scope="module")
def views() -> list[dict[str, Any]]:
    return expected_views(max(SESSIONS, 10))


def test_many_sessions_at_once_see_their_own_results_in_bounded_time(server, views):
    # one user alone first (caches for its sample warm up on the first tour, as they would
    # for the others), then SESSIONS users at once on different samples
    alone: list[User] = []
    while sum(len(u.times) for u in alone) < SINGLE_RERUNS:
        alone.append(User(server.url, views[0], seed=len(alone)))
        asyncio.run(together(server.url, alone[-1:], None))
    single = [t for u in alone for t in u.times]
    users = [User(server.url, v, seed=100 + k) for k, v in enumerate(views[:SESSIONS])]
    t0 = time.perf_counter()
    asyncio.run(together(server.url, users, CONCURRENT_S))
    wall = time.perf_counter() - t0
    many = [t for u in users for t in u.times]
    ratio = p95(many) / p95(single)
    record(
        "concurrency",
        {
            "sessions": SESSIONS,
            "think_time_s": list(THINK_S),
            "wall_s": round(wall, 1),
            "single_p50_s": round(statistics.median(single), 3),
            "single_p95_s": round(p95(single), 3),
            "concurrent_p50_s": round(statistics.median(many), 3),
            "concurrent_p95_s": round(p95(many), 3),
            "p95_ratio": round(ratio, 2),
            "reruns": len(many),
            "cross_talk_checks": sum(u.checks for u in users),
            "single_by_action": by_kind(alone),
            "concurrent_by_action": by_kind(users),
        },
    )
    assert all(u.checks >= 4 for u in users), [u.checks for u in users]
    assert ratio <= P95_FACTOR, (
        f"p95 rerun {p95(many):.2f} s with {SESSIONS} sessions vs {p95(single):.2f} s alone"
    )


# ---- soak ----------------------------------------------------------------------------------
def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise AssertionError("no VmRSS line")


async def soak(url: str, pid: int, views: list[dict[str, Any]], reruns: int) -> dict[str, Any]:
    """Visit the pages in turn, each visit on another sample with a few widget changes. The
    server's memory is read once every page has been seen on every sample (warm), then after
    every visit."""
    done, visit, warm, trace = 0, 0, None, []
    while done < reruns:
        view = views[visit % len(views)]
        user = User(url, view, seed=visit, think=False)
        async with Session(url, f"ckpt={CKPT}&i={view['pos']}") as s:
            page = (user.missing, user.traversal, user.attributions)[visit % 3]
            await page(s, rounds=3)
        visit += 1
        if warm is None:
            if visit == 3 * len(views):
                warm = rss_mb(pid)
            continue
        done += len(user.times)
        trace.append((done, round(rss_mb(pid), 1)))
    return {"warm_mb": round(warm, 1), "end_mb": trace[-1][1], "trace": trace}


def test_a_thousand_reruns_keep_the_server_memory_bounded(server, views):
    t0 = time.perf_counter()
    r = asyncio.run(soak(server.url, server.process.pid, views, SOAK_RERUNS))
    growth = r["end_mb"] - r["warm_mb"]
    peak = max(mb for _, mb in r["trace"])
    record(
        "soak",
        {
            "reruns": SOAK_RERUNS,
            "wall_s": round(time.perf_counter() - t0, 1),
            "warm_rss_mb": r["warm_mb"],
            "end_rss_mb": r["end_mb"],
            "peak_rss_mb": peak,
            "growth_mb": round(growth, 1),
            "trace": r["trace"][:: max(1, len(r["trace"]) // 20)],
        },
    )
    assert growth < SOAK_GROWTH_MB, r
    assert peak - r["warm_mb"] < SOAK_GROWTH_MB, r
