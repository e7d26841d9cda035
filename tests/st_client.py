"""A headless Streamlit client: one websocket session speaking the browser's protocol.

It sends what the browser sends on a rerun (a BackMsg with the page, the query string and the
widget values the user changed) and reads the ForwardMsgs back until the script finishes: the
elements drawn, errors shown, and how long the round trip took. Unlike a browser it renders
nothing, so many sessions can run on two cores and the times measured are the server's.

Only what the load tests need is supported: checkboxes and sliders.
"""

from __future__ import annotations

import time
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
