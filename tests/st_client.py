"""A headless Streamlit client: one websocket session speaking the browser's protocol.

It sends what the browser sends on a rerun (a BackMsg with the page, the query string and the
widget values the user changed) and reads the ForwardMsgs back until the script finishes: the
elements drawn, errors shown, and how long the round trip took. Unlike a browser it renders
nothing, so many sessions can run on two cores and the times measured are the server's.

`Session` sends one rerun and reads until it ends (checkboxes and sliders): enough to time
reruns. `LiveSession` behaves like a browser tab between the user's actions too (runs the
server starts, page switches, the URL, fragments' run_every timers, the elements on screen),
for a live class where the teacher's changes reach the students without them doing anything.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
import urllib.parse
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import websockets
from streamlit.proto.BackMsg_pb2 import BackMsg
from streamlit.proto.ForwardMsg_pb2 import ForwardMsg
from streamlit.proto.WidgetStates_pb2 import WidgetStates

FINISHED = {
    ForwardMsg.FINISHED_SUCCESSFULLY,
    ForwardMsg.FINISHED_WITH_COMPILE_ERROR,
    ForwardMsg.FINISHED_EARLY_FOR_RERUN,
}


@dataclass
class Run:
    """What one script run sent back."""

    elements: list[Any]
    seconds: float
    status: int
    widgets: dict[str, Any] = field(default_factory=dict)  # user key -> widget proto

    def of(self, kind: str) -> list[Any]:
        return [getattr(e, kind) for e in self.elements if e.WhichOneof("type") == kind]

    def metric(self, label_prefix: str) -> str | None:
        """The value of the first st.metric whose label starts with `label_prefix`."""
        return next((m.body for m in self.of("metric") if m.label.startswith(label_prefix)), None)

    @property
    def errors(self) -> list[str]:
        """Exceptions and st.error messages shown by this run."""
        shown = [f"exception: {e.type}: {e.message}" for e in self.of("exception")]
        shown += [a.body for a in self.of("alert") if a.format == a.ERROR]
        return shown


class Session:
    """One user's session: `async with Session(url) as s: run = await s.run("missing", ...)`."""

    def __init__(self, url: str, query: str = "") -> None:
        self.url, self.query = url, query
        self.values: dict[str, Any] = {}  # widget key -> value this user set
        self.widgets: dict[str, Any] = {}
        self.ws: Any = None

    async def __aenter__(self) -> Session:
        self.ws = await websockets.connect(
            self.url.replace("http", "ws", 1) + "/_stcore/stream",
            subprotocols=["streamlit"],
            origin=self.url,
            max_size=None,
        )
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.ws.close()

    async def run(self, page: str, **changes: Any) -> Run:
        """Rerun `page` ("" for the default one) with widget `changes` (key=value), as after
        a click or a slider move; values set earlier in the session are sent again, as the
        browser does."""
        if page != getattr(self, "_page", None):
            self.values, self.widgets, self._page = {}, {}, page
        self.values.update(changes)
        msg = BackMsg()
        state = msg.rerun_script
        state.query_string = self.query
        state.page_name = page
        state.widget_states.CopyFrom(self._states())
        t0 = time.perf_counter()
        await self.ws.send(msg.SerializeToString())
        elements = []
        while True:
            fm = ForwardMsg()
            fm.ParseFromString(await self.ws.recv())
            kind = fm.WhichOneof("type")
            if kind == "delta" and fm.delta.WhichOneof("type") == "new_element":
                elements.append(fm.delta.new_element)
            elif kind == "script_finished" and fm.script_finished in FINISHED:
                if fm.script_finished == ForwardMsg.FINISHED_EARLY_FOR_RERUN:
                    elements = []
                    continue
                run = Run(elements, time.perf_counter() - t0, fm.script_finished)
                for e in elements:
                    proto = getattr(e, e.WhichOneof("type"))
                    wid = getattr(proto, "id", "")
                    if isinstance(wid, str) and wid.startswith("$$ID-"):
                        run.widgets[wid.split("-", 2)[2]] = proto
                self.widgets.update(run.widgets)
                return run

    def _states(self) -> WidgetStates:
        states = WidgetStates()
        for key, value in self.values.items():
            if key not in self.widgets:
                raise KeyError(f"no widget with key {key!r} on this page yet: run it first")
            proto = self.widgets[key]
            w = states.widgets.add()
            w.id = proto.id
            if isinstance(value, bool):
                w.bool_value = value
            elif isinstance(value, int | float):
                w.double_array_value.data[:] = [float(value)]
            else:
                raise TypeError(f"setting {key!r} to {type(value).__name__} is not supported")
        return states


# ---- a live session: what a browser tab does, minus the drawing ---------------------------------
ROOT_NAMES = {0: "main", 1: "sidebar", 2: "event", 3: "bottom"}
COMPLETED = {
    ForwardMsg.FINISHED_SUCCESSFULLY,
    ForwardMsg.FINISHED_WITH_COMPILE_ERROR,
    ForwardMsg.FINISHED_FRAGMENT_RUN_SUCCESSFULLY,
}


@dataclass
class Finish:
    """One script run that completed: when it started and ended (the client's
    perf_counter), whether it was a fragment's run, and the page and query string it left."""

    started: float
    at: float
    fragment: bool
    page_hash: str
    query: str
    sidebar: str = ""  # the sidebar's words after the run (LiveSession(keep_text=True))


def _text_of(element: Any) -> str:
    """The words an element shows (what a reader of the page sees), '' for most figures."""
    kind = element.WhichOneof("type")
    proto = getattr(element, kind)
    if kind == "exception":
        return f"{proto.type}: {proto.message}"
    if kind in ("markdown", "alert", "heading"):
        return proto.body
    if kind == "code":
        return proto.code_text
    if kind in ("button", "checkbox", "radio", "slider", "number_input", "selectbox", "metric"):
        text = proto.label
        if kind == "radio":
            text += " " + " / ".join(proto.options)
        if kind == "metric":
            text += f" {proto.body}"
        return text
    if kind == "progress":
        return proto.text
    return ""


class LiveSession:
    """A browser tab on the app, headless: `async with LiveSession(url, "?class=K7MX3QRP") as s`.

    Unlike `Session`, which sends a rerun and reads until that run ends, this one behaves like
    the browser between the user's actions too, because a live class happens there:

    - a reader task takes every ForwardMsg as it comes: runs the server starts by itself (a
      fragment calling st.rerun or st.switch_page) are seen like the user's own;
    - it follows the server's navigation (page switches) and the query string the app writes
      (`st.query_params`), and sends both back on the next rerun, as the browser's URL does;
    - it keeps the page's elements by delta path with the frontend's stale-element rule (a
      full run replaces everything; a fragment run only what it drew), so `text("sidebar")`
      reads what is on the screen now, fragments included;
    - `st.fragment(run_every=...)`: on the server's `auto_rerun` message it starts the timer
      the browser starts (a setInterval that sends a rerun with the fragment's id and
      `is_auto_rerun`), and stops it on `stop_auto_rerun` or a page change.

    Every completed run is recorded in `finishes` with its time, so a test can tell when this
    page reached a state. The user's actions are `act(...)`: widget values by key, a button
    press by `click=key`; each returns the seconds until the run it caused completed.
    """

    def __init__(
        self,
        url: str,
        query: str = "",
        page: str = "",
        timers: bool = True,
        keep_text: bool = False,
    ) -> None:
        self.url, self.query, self.page_name = url, query.lstrip("?"), page
        self.timers_on, self.keep_text = timers, keep_text
        self.page_hash = ""
        self.pages: dict[str, str] = {}  # url path name -> page script hash
        self.values: dict[str, Any] = {}  # widget key -> value this user set (sent each rerun)
        self.finishes: list[Finish] = []
        self.runs_started = 0
        self.fragment_reruns_sent = 0
        self.errors_seen: list[str] = []
        self.closed_by_server = False
        # what is on screen: delta path -> (id of the run that drew it, the delta message)
        self._tree: dict[tuple[int, ...], tuple[str, ForwardMsg]] = {}
        self._run_id = ""
        self._run_fragments: frozenset[str] = frozenset()
        self._run_started = 0.0
        self._timers: dict[str, tuple[float, asyncio.Task]] = {}
        self._watchers: list[tuple[Callable[[], bool], asyncio.Future[float]]] = []
        self._reader: asyncio.Task | None = None
        self.ws: Any = None

    # -- connection ----------------------------------------------------------------------------
    async def __aenter__(self) -> LiveSession:
        await self.connect()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def connect(self) -> None:
        """Open the websocket and ask for the first run (what loading the URL does)."""
        self.ws = await websockets.connect(
            self.url.replace("http", "ws", 1) + "/_stcore/stream",
            subprotocols=["streamlit"],
            origin=self.url,
            max_size=None,
            open_timeout=30,
        )
        self.closed_by_server = False
        self._reader = asyncio.create_task(self._read())
        await self._send_rerun(page_name=self.page_name)

    async def close(self) -> None:
        for _, task in self._timers.values():
            task.cancel()
        self._timers.clear()
        if self._reader is not None:
            self._reader.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._reader
        if self.ws is not None:
            with contextlib.suppress(Exception):
                await self.ws.close()

    async def reconnect(self, attempts: int = 200, every_s: float = 0.25) -> float:
        """What the browser does when the server went away: try again until it answers, then
        rerun the page at the URL it shows (a new server session; the URL is all it keeps).
        Returns the seconds it took."""
        t0 = time.perf_counter()
        await self.close()
        self._tree, self.values = {}, {}
        self.page_name = self.path()
        for _ in range(attempts):
            try:
                await self.connect()
                return time.perf_counter() - t0
            except (OSError, websockets.WebSocketException):
                await asyncio.sleep(every_s)
        raise ConnectionError(f"{self.url} did not come back in {attempts * every_s:.0f} s")

    # -- what the browser sends ----------------------------------------------------------------
    async def _send_rerun(
        self, fragment_id: str = "", auto: bool = False, page_name: str = "", triggers=()
    ) -> None:
        msg = BackMsg()
        state = msg.rerun_script
        state.query_string = self.query
        state.page_script_hash = self.page_hash
        state.page_name = page_name
        state.fragment_id = fragment_id
        state.is_auto_rerun = auto
        state.widget_states.CopyFrom(self._states(triggers))
        await self.ws.send(msg.SerializeToString())

    def _states(self, triggers: tuple[str, ...] = ()) -> WidgetStates:
        """What the browser sends with a rerun: the values the user set, of the widgets on the
        page now (one that went, e.g. a question's radio after the reveal, is dropped), and the
        buttons pressed."""
        widgets = self.widgets()
        for key in triggers:
            if key not in widgets:
                raise KeyError(f"no widget with key {key!r} on the page now: {sorted(widgets)}")
        self.values = {k: v for k, v in self.values.items() if k in widgets}
        states = WidgetStates()
        for key, value in [*self.values.items(), *((k, True) for k in triggers)]:
            kind, proto, _ = widgets[key]
            w = states.widgets.add()
            w.id = proto.id
            if kind == "button" or key in triggers:
                w.trigger_value = True
            elif isinstance(value, bool):
                w.bool_value = value
            elif kind == "slider":
                w.double_array_value.data[:] = [float(value)]
            elif kind == "number_input":
                w.double_value = float(value)
            elif kind in ("radio", "selectbox"):
                w.string_value = str(value)
            else:
                raise TypeError(f"setting {kind} {key!r} is not supported")
        return states

    async def act(self, click: str | None = None, timeout_s: float = 60.0, **values: Any) -> float:
        """The user sets widget `values` (by key) and/or presses button `click`; returns the
        seconds until the run this caused completed (a run the server was already in the middle
        of does not count). As in the browser, a widget drawn by a fragment reruns only that
        fragment (the rerun carries the fragment's id)."""
        touched = [*values, *([click] if click else [])]
        widgets = self.widgets()
        missing = [k for k in touched if k not in widgets]
        if missing:
            raise KeyError(f"no widget with key {missing} on the page now: {sorted(widgets)}")
        fragments = {widgets[k][2] for k in touched if k in widgets}
        fragment_id = fragments.pop() if len(fragments) == 1 else ""
        self.values.update(values)
        t0 = time.perf_counter()
        await self._send_rerun(fragment_id=fragment_id, triggers=(click,) if click else ())
        done = await self.wait(lambda: any(f.started > t0 for f in self.finishes), timeout_s)
        return done - t0

    def watch(self, condition: Callable[[], bool]) -> asyncio.Future[float]:
        """A future resolved with the time (perf_counter) of the first completed run after
        which `condition()` holds, checked as each run completes (now, if it holds already)."""
        future: asyncio.Future[float] = asyncio.get_running_loop().create_future()
        if condition():
            future.set_result(self.finishes[-1].at if self.finishes else time.perf_counter())
        else:
            self._watchers.append((condition, future))
        return future

    async def wait(self, condition: Callable[[], bool], timeout_s: float = 30.0) -> float:
        """`watch(condition)`, waited for up to `timeout_s` (TimeoutError naming the sidebar)."""
        future = self.watch(condition)
        try:
            return await asyncio.wait_for(future, timeout_s)
        except TimeoutError:
            raise TimeoutError(
                f"not reached in {timeout_s:.0f} s; at /{self.path()}?{self.query}; sidebar "
                "after the last completed run: "
                f"{self.finishes[-1].sidebar if self.finishes else ''}"
                f" / now: {self.text('sidebar')[:800]!r}"
            ) from None

    # -- what the browser receives -------------------------------------------------------------
    async def _read(self) -> None:
        try:
            async for raw in self.ws:
                fm = ForwardMsg()
                fm.ParseFromString(raw)
                self._handle(fm, time.perf_counter())
        except websockets.ConnectionClosed:
            pass
        self.closed_by_server = True
        for _, task in self._timers.values():
            task.cancel()
        self._timers.clear()

    def _handle(self, fm: ForwardMsg, now: float) -> None:
        kind = fm.WhichOneof("type")
        if kind == "new_session":
            self.runs_started += 1
            self._run_id = fm.metadata.run.script_run_id
            self._run_fragments = frozenset(fm.metadata.run.fragment_ids)
            self._run_started = now
            if fm.new_session.page_script_hash:
                self._set_page(fm.new_session.page_script_hash)
            for p in fm.new_session.app_pages:
                self.pages[p.url_pathname or p.page_name] = p.page_script_hash
        elif kind == "navigation":
            for p in fm.navigation.app_pages:
                self.pages[p.url_pathname or p.page_name] = p.page_script_hash
            if fm.navigation.page_script_hash:
                self._set_page(fm.navigation.page_script_hash)
        elif kind == "page_info_changed":
            self.query = fm.page_info_changed.query_string
        elif kind == "delta":
            self._add_delta(fm)
        elif kind == "auto_rerun" and self.timers_on:
            fid, every = fm.auto_rerun.fragment_id, fm.auto_rerun.interval
            if fid and self._timers.get(fid, (None,))[0] != every:
                self._stop_timer(fid)
                self._timers[fid] = (every, asyncio.create_task(self._tick(fid, every)))
        elif kind == "stop_auto_rerun":
            for fid in fm.stop_auto_rerun.fragment_ids:
                self._stop_timer(fid)
        elif kind == "script_finished" and fm.script_finished in COMPLETED:
            self._drop_stale()
            fragment = fm.script_finished == ForwardMsg.FINISHED_FRAGMENT_RUN_SUCCESSFULLY
            sidebar = self.text("sidebar") if self.keep_text else ""
            self.finishes.append(
                Finish(self._run_started, now, fragment, self.page_hash, self.query, sidebar)
            )
            if not fragment:  # widgets gone from the page are no longer sent
                on_page = self.widgets()
                self.values = {k: v for k, v in self.values.items() if k in on_page}
            self.errors_seen += [e for e in self.errors() if e not in self.errors_seen]
            waiting, self._watchers = self._watchers, []
            for condition, future in waiting:
                if future.done():
                    continue
                if condition():
                    future.set_result(now)
                else:
                    self._watchers.append((condition, future))

    def _set_page(self, page_hash: str) -> None:
        if page_hash != self.page_hash and self.page_hash:
            for fid in list(self._timers):  # the browser's cleanupAutoReruns on a page change
                self._stop_timer(fid)
        self.page_hash = page_hash

    def _stop_timer(self, fid: str) -> None:
        entry = self._timers.pop(fid, None)
        if entry is not None:
            entry[1].cancel()

    async def _tick(self, fragment_id: str, every_s: float) -> None:
        """The browser's setInterval for a fragment with run_every: fire and forget."""
        try:
            while True:
                await asyncio.sleep(every_s)
                self.fragment_reruns_sent += 1
                await self._send_rerun(fragment_id=fragment_id, auto=True)
        except (websockets.ConnectionClosed, asyncio.CancelledError):
            pass
        except Exception as e:  # noqa: BLE001 - a dead timer must not go unnoticed
            self.errors_seen.append(f"client: the run_every timer stopped: {e!r}")

    def _add_delta(self, fm: ForwardMsg) -> None:
        """Put a delta where the frontend puts it: at its path, replacing what was there (what
        a run does not draw again goes when it completes, see `_drop_stale`)."""
        if fm.delta.WhichOneof("type") == "new_element":
            proto = getattr(fm.delta.new_element, fm.delta.new_element.WhichOneof("type"))
            if getattr(proto, "set_value", False):  # the app set this widget: the browser
                key = _user_key(getattr(proto, "id", ""))  # shows (and later sends) its value
                self.values.pop(key, None)
        self._tree[tuple(fm.metadata.delta_path)] = (self._run_id, fm)

    def _drop_stale(self) -> None:
        """The frontend's stale-node rule (as streamlit.runtime.agent.interaction applies it):
        a full run leaves only what it drew; a fragment run replaces its own region: its own
        older elements and whatever is older under a container it drew."""
        running = self._run_fragments
        if not running:
            self._tree = {p: (r, m) for p, (r, m) in self._tree.items() if r == self._run_id}
            return
        replaced = {
            p
            for p, (r, m) in self._tree.items()
            if r == self._run_id and m.delta.WhichOneof("type") == "add_block"
        }

        def stale(path: tuple[int, ...], run_id: str, m: ForwardMsg) -> bool:
            if run_id == self._run_id:
                return False
            if m.delta.fragment_id in running:
                return True
            return any(path[:d] in replaced for d in range(1, len(path)))

        self._tree = {p: (r, m) for p, (r, m) in self._tree.items() if not stale(p, r, m)}

    # -- reading the page ----------------------------------------------------------------------
    def elements(self, where: str | None = None) -> list[Any]:
        """The elements on the page now, in delta-path order; `where` = "main" or "sidebar"."""
        found = [
            (p, m.delta.new_element)
            for p, (_, m) in self._tree.items()
            if m.delta.WhichOneof("type") == "new_element"
        ]
        found.sort(key=lambda pe: pe[0])
        return [e for p, e in found if where is None or ROOT_NAMES.get(p[0]) == where]

    def text(self, where: str | None = None) -> str:
        """The words on the page (or in the sidebar), one element a line."""
        return "\n".join(t for t in map(_text_of, self.elements(where)) if t)

    def widgets(self) -> dict[str, tuple[str, Any, str]]:
        """Widget key -> (kind, proto, id of the fragment that drew it or "") on the page now."""
        out = {}
        for _, m in self._tree.values():
            if m.delta.WhichOneof("type") != "new_element":
                continue
            e = m.delta.new_element
            kind = e.WhichOneof("type")
            key = _user_key(getattr(getattr(e, kind), "id", ""))
            if key:
                out[key] = (kind, getattr(e, kind), m.delta.fragment_id)
        return out

    def errors(self) -> list[str]:
        """Exceptions and st.error messages on the page now."""
        shown = []
        for e in self.elements():
            kind = e.WhichOneof("type")
            if kind == "exception":
                shown.append(f"exception: {e.exception.type}: {e.exception.message}")
            elif kind == "alert" and e.alert.format == e.alert.ERROR:
                shown.append(e.alert.body)
        return shown

    def params(self) -> dict[str, str]:
        """The URL's query parameters now."""
        return dict(urllib.parse.parse_qsl(self.query))

    def path(self) -> str:
        """The URL path of the page shown now ("" for the default page)."""
        return next((name for name, h in self.pages.items() if h == self.page_hash), "")


def _user_key(widget_id: str) -> str:
    """The key a widget was given in the script ('' for none): ids are '$$ID-<hash>-<key>'."""
    if isinstance(widget_id, str) and widget_id.startswith("$$ID-"):
        key = widget_id.split("-", 2)[2]
        return "" if key == "None" else key
    return ""
