"""Helpers for the app benchmark (ui/bench.py) and the real-browser tests: a Streamlit server
on a free localhost port (started, polled until healthy, always killed), Chromium via
Playwright, and waiting for Streamlit to finish a script run.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
VIEWPORT = {"width": 1400, "height": 1000}
# Streamlit marks its root element with the state of the script run and of the websocket.
APP_IDLE = '[data-testid="stApp"][data-test-script-state="notRunning"]'
APP_CONNECTED = '[data-testid="stApp"][data-test-connection-state="CONNECTED"]'
STATUS = '[data-testid="stStatusWidget"]'


def chromium_path() -> str | None:
    """The Chromium executable to drive, or None when none is installed."""
    found = shutil.which("chromium")
    if found:
        return found
    return "/usr/bin/chromium" if Path("/usr/bin/chromium").exists() else None


def browser_unavailable() -> str | None:
    """Why a real-browser run cannot happen here (None when it can)."""
    if chromium_path() is None:
        return "no Chromium installed (looked for `chromium` on PATH and /usr/bin/chromium)"
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError as e:
        return f"playwright is not importable ({e})"
    return None


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Server:
    """A running Streamlit server: its base URL, process, and when the process started."""

    url: str
    process: subprocess.Popen
    started: float  # time.perf_counter() just before the process was spawned
    log: Path


def healthy(url: str) -> bool:
    """Whether the Streamlit server at `url` answers its health check."""
    try:
        with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as r:
            return r.status == 200
    except (urllib.error.URLError, OSError):
        return False


def _stop(proc: subprocess.Popen) -> None:
    """Terminate the server's process group (streamlit and anything it spawned), then kill."""
    if proc.poll() is not None:
        return
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGTERM)
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)


@contextlib.contextmanager
def streamlit_server(
    env: dict[str, str] | None = None,
    port: int | None = None,
    timeout: float = 90.0,
    log_dir: Path | None = None,
    wait_healthy: bool = True,
) -> Iterator[Server]:
    """Run `streamlit run app.py` on 127.0.0.1:`port` (a free one by default) with extra `env`,
    its output in `log_dir` (a temporary folder by default); yields once /_stcore/health answers
    (unless `wait_healthy` is False), and always kills the server on exit, even when startup
    fails or the body raises."""
    port = port or free_port()
    url = f"http://127.0.0.1:{port}"
    log = Path(log_dir or Path(tempfile.gettempdir()) / "mmviz_streamlit") / f"streamlit_{port}.log"
    log.parent.mkdir(parents=True, exist_ok=True)
    cmd = [
        sys.executable,
        "-m",
        "streamlit",
        "run",
        "app.py",
        "--server.headless",
        "true",
        "--server.address",
        "127.0.0.1",
        "--server.port",
        str(port),
        "--browser.gatherUsageStats",
        "false",
        "--server.fileWatcherType",
        "none",
    ]
    full_env = {**os.environ, **(env or {})}
    with open(log, "wb") as out:
        started = time.perf_counter()
        proc = subprocess.Popen(
            cmd,
            cwd=ROOT,
            env=full_env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        server = Server(url, proc, started, log)
        if wait_healthy:
            deadline = time.monotonic() + timeout
            while not healthy(url):
                if proc.poll() is not None:
                    raise RuntimeError(
                        f"streamlit exited with {proc.returncode}: {log.read_text()[-2000:]}"
                    )
                if time.monotonic() > deadline:
                    raise TimeoutError(f"streamlit not healthy after {timeout:.0f} s at {url}")
                time.sleep(0.2)
        yield server
    finally:
        _stop(proc)


@contextlib.contextmanager
def chromium_page(viewport: dict[str, int] | None = None) -> Iterator[Any]:
    """A Playwright page in headless Chromium (closed with its browser on exit)."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=chromium_path(), headless=True, args=CHROMIUM_ARGS
        )
        try:
            context = browser.new_context(viewport=viewport or VIEWPORT)
            yield context.new_page()
        finally:
            browser.close()


def wait_idle(page: Any, timeout_ms: float = 60_000, settle_ms: int = 250) -> None:
    """Wait until Streamlit is connected and has finished running the script: the root says
    `notRunning` and the "Running..." status widget is gone. `settle_ms` first gives a rerun
    that was just triggered time to start."""
    page.wait_for_timeout(settle_ms)
    page.wait_for_selector(APP_CONNECTED, state="attached", timeout=timeout_ms)
    page.wait_for_selector(APP_IDLE, state="attached", timeout=timeout_ms)
    page.locator(STATUS).wait_for(state="hidden", timeout=timeout_ms)
    page.wait_for_timeout(100)  # let the last deltas paint


def poll(fn: Any, timeout_s: float = 30.0, every_s: float = 0.25) -> Any:
    """Call `fn` until it returns something truthy (returned) or `timeout_s` passes (None)."""
    deadline = time.monotonic() + timeout_s
    while True:
        value = fn()
        if value or time.monotonic() > deadline:
            return value
        time.sleep(every_s)


def content_height(page: Any) -> int:
    """The height the page's content needs (Streamlit's main container scrolls, not the
    document)."""
    return int(
        page.evaluate(
            """() => Math.max(document.documentElement.scrollHeight,
                ...Array.from(document.querySelectorAll(
                    '[data-testid="stMain"], [data-testid="stAppViewContainer"], section.main'))
                  .map(e => e.scrollHeight))"""
        )
    )


def full_screenshot(page: Any, path: Path, max_height: int = 8000) -> None:
    """A PNG of the whole page: the viewport is stretched to the content's height for the shot
    (again while late elements still grow it), then put back."""
    size = page.viewport_size or VIEWPORT
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        height = size["height"]
        for _ in range(4):
            need = min(max(content_height(page), size["height"]), max_height)
            if need <= height and height != size["height"]:
                break
            height = need
            page.set_viewport_size({"width": size["width"], "height": height})
            page.wait_for_timeout(400)
        poll(  # tables draw their canvas only once scrolled into view: now they all are
            lambda: page.evaluate(
                """() => Array.from(document.querySelectorAll('[data-testid="stDataFrame"]'))
                    .filter(d => d.getClientRects().length > 0)
                    .every(d => d.querySelector('canvas'))"""
            ),
            timeout_s=5,
        )
        page.screenshot(path=str(path), full_page=True)
    finally:
        page.set_viewport_size(size)
