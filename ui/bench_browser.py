"""The app's speed where it is felt: in a real browser, from the user's event to the last element
of the page updated.

`python -m mmviz bench browser [--json]` starts the app on the shipped checkpoints, drives
headless Chromium (Playwright) and times each interaction: a MutationObserver in the page
records when the DOM last changed; an interaction's time is that moment minus the moment of the
event, read once the script has finished and the DOM has been quiet for QUIET_MS. The server's
own rerun time (AppTest, `bench app`) is reported beside it.

Targets (issue 16, on the 2-core machine): tick / slider / sample change <= 300 ms p50 and
<= 600 ms p95; canvas stroke -> prediction <= 500 ms; any first visit <= 2 s. Issue 17: Next /
Back within a lesson <= 500 ms p50 to a settled page (the lesson's next stop is often another
page: the time includes the page change).

`--record` stores the result under "browser" in results/app_bench.json, beside `bench app`'s
figures (mmviz/cli.py).
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from typing import Any

QUIET_MS = 400
OBSERVER = """() => {
  if (window.__mmvizObserved) return;
  window.__mmvizObserved = true;
  window.__lastMutation = performance.now();
  new MutationObserver(() => { window.__lastMutation = performance.now(); })
    .observe(document.body, {subtree: true, childList: true, attributes: true,
                             characterData: true});
}"""
TARGETS = {
    "interaction_p50_ms": 300.0,
    "interaction_p95_ms": 600.0,
    "canvas_stroke_ms": 500.0,
    "first_visit_ms": 2000.0,
    "lesson_step_p50_ms": 500.0,
}
LESSON = "missing-modalities"  # a shipped lesson whose stops go across pages


def _settled_ms(page: Any, act: Callable[[], None], timeout_s: float = 60.0) -> float:
    """Milliseconds from `act`'s event to the page's last DOM change after it."""
    from ui.browser import APP_IDLE

    page.evaluate(OBSERVER)
    start = page.evaluate("performance.now()")
    act()
    deadline = time.monotonic() + timeout_s
    running = '[data-testid="stApp"][data-test-script-state="running"]'
    began = time.monotonic() + 2.0  # the rerun starts within 2 s of the event, or never
    while time.monotonic() < began and not page.locator(running).count():
        if page.evaluate("window.__lastMutation") > start:
            break  # the page already reacts
        page.wait_for_timeout(10)
    while time.monotonic() < deadline:
        idle = page.locator(APP_IDLE).count() > 0
        quiet = page.evaluate("performance.now() - window.__lastMutation")
        if idle and quiet >= QUIET_MS:
            break
        page.wait_for_timeout(25)
    return float(page.evaluate("window.__lastMutation") - start)


def _summary(values: list[float]) -> dict[str, float]:
    ordered = sorted(values)
    p95 = ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]
    return {
        "p50_ms": round(statistics.median(ordered), 1),
        "p95_ms": round(p95, 1),
        "max_ms": round(ordered[-1], 1),
        "n": len(ordered),
    }


def _open(page: Any, url: str) -> None:
    from ui.browser import wait_idle

    page.goto(url)
    wait_idle(page, timeout_ms=120_000)
    page.wait_for_timeout(500)
    wait_idle(page, timeout_ms=120_000)


def _ticks(page: Any, base: str, repeats: int) -> list[float]:
    _open(page, f"{base}/missing?ckpt=mvae_digits5&i=1400")
    box = page.locator(".st-key-obs_print input[type=checkbox]")
    return [_settled_ms(page, lambda: box.click(force=True)) for _ in range(repeats)]


def _slider_steps(page: Any, url: str, widget_key: str, first: str, repeats: int) -> list[float]:
    """Move a slider one step with the keyboard, alternating `first` and the other arrow."""
    _open(page, url)
    slider = page.locator(f".st-key-{widget_key}").get_by_role("slider").first
    other = "ArrowLeft" if first == "ArrowRight" else "ArrowRight"
    out = []
    for k in range(repeats):
        key = first if k % 2 == 0 else other
        out.append(_settled_ms(page, lambda key=key: (slider.focus(), slider.press(key))))
    return out


def _noise_slider(page: Any, base: str, repeats: int) -> list[float]:
    url = f"{base}/missing?ckpt=mvae_digits5&i=1400"
    return _slider_steps(page, url, "noise_hand", "ArrowRight", repeats)


def _sample_change(page: Any, base: str, repeats: int) -> list[float]:
    _open(page, f"{base}/missing?ckpt=mvae_digits5&i=1400")
    plus = page.locator('[data-testid="stSidebar"] [data-testid="stNumberInputStepUp"]').first
    return [_settled_ms(page, lambda: plus.click()) for _ in range(repeats)]


def _traversal_slider(page: Any, base: str, repeats: int) -> list[float]:
    url = f"{base}/traversal?ckpt=mvae_digits5&i=1400"
    return _slider_steps(page, url, "steps", "ArrowLeft", repeats)


def _canvas_stroke(page: Any, base: str, repeats: int) -> list[float]:
    _open(page, f"{base}/missing?ckpt=jmvaekl_hand_label&source=own")
    canvas = page.locator('[class*="_canvas"] canvas.upper-canvas').first
    canvas.wait_for(state="visible", timeout=60_000)
    canvas.scroll_into_view_if_needed()
    out = []
    for k in range(repeats):
        box = canvas.bounding_box()
        x0 = box["x"] + box["width"] * (0.3 + 0.04 * k)
        y0 = box["y"] + box["height"] * 0.2

        def stroke(x0: float = x0, y0: float = y0, h: float = box["height"]) -> None:
            page.mouse.move(x0, y0)
            page.mouse.down()
            for step in range(1, 11):
                page.mouse.move(x0 + step, y0 + step * h * 0.06, steps=1)
            page.mouse.up()

        out.append(_settled_ms(page, stroke))
    return out


def _lesson_steps(page: Any, base: str, repeats: int) -> dict[str, list[float]]:
    """Next ▶ and ◀ Back in a running lesson (LESSON, started from Home): forward to the last
    stop, back to the first, and again, until each was pressed `repeats` times."""
    from ui.browser import wait_idle

    _open(page, base)
    page.locator(f".st-key-start_{LESSON} button").click()
    wait_idle(page, timeout_ms=120_000)
    page.locator(".st-key-lesson_card").wait_for(state="visible", timeout=120_000)
    wait_idle(page, timeout_ms=120_000)
    out: dict[str, list[float]] = {"next": [], "back": []}
    nxt = page.locator(".st-key-lesson_next button")
    back = page.locator(".st-key-lesson_back button")
    card = page.locator(".st-key-lesson_card")

    def press(button: Any, move: int) -> float:
        before = _stop_number(card)
        ms = _settled_ms(page, button.click)
        if _stop_number(card) != before + move:
            raise RuntimeError(f"lesson {LESSON!r}: stop {before} did not move by {move}")
        return ms

    forward = True
    while len(out["next"]) < repeats or len(out["back"]) < repeats:
        pressed = 0
        while forward and len(out["next"]) < repeats and "Finish" not in nxt.inner_text():
            out["next"].append(press(nxt, 1))
            pressed += 1
        while not forward and len(out["back"]) < repeats and not back.is_disabled():
            out["back"].append(press(back, -1))
            pressed += 1
        if not pressed and not forward:
            raise RuntimeError(f"lesson {LESSON!r}: neither Next nor Back could be pressed")
        forward = not forward
    return out


def _stop_number(card: Any) -> int:
    """The running lesson's stop (1-based), from its card's "stop k of n"."""
    import re

    found = re.search(r"stop (\d+) of", card.inner_text())
    if found is None:
        raise RuntimeError(f"no lesson card with its stop number: {card.inner_text()[:200]!r}")
    return int(found.group(1))


PAGES = ["missing", "traversal", "crossmodal", "latent_map", "attributions", "information",
         "fusion_lab", "report", "reproductions"]  # fmt: skip


def _first_visits(page: Any, base: str) -> dict[str, float]:
    """Each page opened from the navigation for the first time in a session (server warm)."""
    _open(page, base)
    out = {}
    for name in PAGES:
        link = page.locator(f'[data-testid="stSidebarNav"] a[href$="/{name}"]').first
        out[name] = round(_settled_ms(page, lambda link=link: link.click(), timeout_s=120), 1)
    return out


def bench_browser(repeats: int = 10, **_: Any) -> dict[str, Any]:
    """Every interaction `repeats` times in Chromium; first visits once per page after a
    warm-up pass (the first pass fills the server's caches: that is `cold`)."""
    from ui.browser import browser_unavailable, chromium_page, streamlit_server

    why = browser_unavailable()
    if why:
        raise ValueError(f"the browser benchmark cannot run: {why}")
    result: dict[str, Any] = {"machine": _machine(), "quiet_ms": QUIET_MS}
    with streamlit_server() as server, chromium_page() as page:
        result["first_visit_cold_ms"] = _first_visits(page, server.url)
        result["first_visit_ms"] = _first_visits(page, server.url)
        timings = {
            "tick_modality": _ticks(page, server.url, repeats),
            "noise_slider": _noise_slider(page, server.url, repeats),
            "sample_change": _sample_change(page, server.url, repeats),
            "traversal_steps_slider": _traversal_slider(page, server.url, repeats),
            "canvas_stroke": _canvas_stroke(page, server.url, max(3, repeats // 2)),
        }
        steps = _lesson_steps(page, server.url, repeats)
        timings["lesson_next"], timings["lesson_back"] = steps["next"], steps["back"]
    result["interactions"] = {k: _summary(v) for k, v in timings.items()}
    lesson = [result["interactions"][k] for k in ("lesson_next", "lesson_back")]
    plain = [
        v
        for k, v in result["interactions"].items()
        if k not in ("canvas_stroke", "lesson_next", "lesson_back")
    ]
    result["targets_met"] = {
        "interaction_p50_ms": all(s["p50_ms"] <= TARGETS["interaction_p50_ms"] for s in plain),
        "interaction_p95_ms": all(s["p95_ms"] <= TARGETS["interaction_p95_ms"] for s in plain),
        "canvas_stroke_ms": result["interactions"]["canvas_stroke"]["p50_ms"]
        <= TARGETS["canvas_stroke_ms"],
        "first_visit_ms": max(result["first_visit_ms"].values()) <= TARGETS["first_visit_ms"],
        "lesson_step_p50_ms": all(s["p50_ms"] <= TARGETS["lesson_step_p50_ms"] for s in lesson),
    }
    result["targets"] = TARGETS
    return result


def _machine() -> str:
    import os
    import platform

    return f"{platform.machine()}, {os.cpu_count()} CPUs, {platform.python_version()}"
