"""One way to bind a page's widgets to its `PageState` (mmviz/pagestate.py), the URL and the
session.

Every page starts with `page = PageRun("missing")` and draws each control through
`page.widget(st.slider, "label", ..., field="steps", key="steps", default=9)`. A widget's
value comes from, in order:

1. an *external* value for its field: the URL's parameter when it differs from what this
   session last wrote there (a shared link, a Home card, the browser's back button), or the
   whole state a lesson stop, a class session or "reset view" applied (`apply_state`);
2. the widget's own session state (what the user last set on this page);
3. the value kept from another page (checkpoint and sample follow the user around);
4. the page's default.

Values that are not valid for this model (a latent group it lacks) are skipped with a note
naming the field. After the widget is drawn its value is written back to the URL, so the URL
always encodes the view and `page.state()` is the view's `PageState`.
"""

from __future__ import annotations

import urllib.parse
from collections.abc import Callable
from typing import Any, NoReturn

import streamlit as st

from mmviz.pagestate import PageState, StateError, state_class

KEEP = "_mmviz_keep_"  # prefix of the non-widget copies that survive page switches
APPLY = f"{KEEP}apply"  # the page a whole state was just applied to (lesson, class, reset)
WRITTEN = f"{KEEP}written"  # URL text this session last wrote, per parameter
SHARED = {"ckpt", "i", "source"}  # parameters that mean the same thing on every page
RESET = object()  # "use the default": a whole state was applied without this field

PAGE_FILES = {
    "home": "pages/home.py",
    "missing": "pages/missing.py",
    "traversal": "pages/traversal.py",
    "crossmodal": "pages/crossmodal.py",
    "latent_map": "pages/latent_map.py",
    "attributions": "pages/attributions.py",
    "information": "pages/information.py",
    "fusion_lab": "pages/fusion_lab.py",
    "report": "pages/report.py",
    "reproductions": "pages/reproductions.py",
}


def apply_state(state: PageState, switch: bool = True) -> None:
    """Open `state`'s page showing exactly that state: fields it leaves unset take the page's
    defaults, whatever the user had set before. With `switch`, goes there now (not from a
    callback); otherwise the next run picks it up."""
    st.session_state[APPLY] = state.page
    params = state.to_query()
    if switch:
        st.switch_page(PAGE_FILES[state.page], query_params=params)
    st.query_params.from_dict(params)


class PageRun:
    """One run of one page: which fields came from outside, what each widget shows, what the
    view's state is."""

    def __init__(self, page: str) -> None:
        self.cls = state_class(page)
        self.page = page
        self.whole = st.session_state.get(APPLY) == page  # a whole state was applied
        st.session_state.pop(APPLY, None)
        self.params = {k: st.query_params.get(k) for k in st.query_params}
        self.incoming, self.problems = self.cls.from_query(self.params, strict=False)
        self.written: dict[str, str] = st.session_state.setdefault(WRITTEN, {})
        self.values: dict[str, Any] = {}
        self.notes: list[str] = []
        self.keys: dict[str, list[str]] = {}  # field -> the widget keys that set it
        st.session_state[f"{KEEP}figures"] = []  # ui.sidebar.chart collects this run's
        self.finished = False
        from ui.classroom import current
        from ui.lesson import running
        from ui.present import presenting

        # the lesson and class cards go at the top of the sidebar (on a projector, where the
        # sidebar starts collapsed: at the top of the page), filled in at finish()
        active = running() is not None or current() is not None
        where = st if presenting() else st.sidebar
        self.lesson_slot = where.container() if active else None

    # ---- reading ---------------------------------------------------------------------------
    def _url(self, field: str) -> str:
        return self.cls().url_for(field)

    def _prefixed(self, field: str) -> bool:
        return next(f.prefixed for f in self.cls.fields() if f.name == field)

    def _slot(self, url: str) -> str:
        return url if url in SHARED else f"{self.page}:{url}"

    def _raw(self, field: str) -> str | None:
        url = self._url(field)
        if self._prefixed(field):
            found = sorted((k, v) for k, v in self.params.items() if k.startswith(url))
            return "&".join(f"{k}={v}" for k, v in found) or None
        return self.params.get(url)

    def external(self, field: str) -> Any:
        """The value for `field` that came from outside this session's own widgets, RESET when
        a whole state was applied without it, or None when nothing came."""
        value = getattr(self.incoming, field)
        if self.whole:
            return RESET if value is None else value
        raw = self._raw(field)
        if raw is None or raw == self.written.get(self._slot(self._url(field))):
            return None
        if field in self.problems:
            self.notes.append(
                f"The link's `{self._url(field)}` is not usable ({self.problems[field]})."
            )
        return value

    def external_part(self, field: str, pick: Callable[[Any], Any]) -> Any:
        """`pick(value)` of the field's external value (one modality of `observed`), keeping
        None and RESET as they are."""
        value = self.external(field)
        return value if value is None or value is RESET else pick(value)

    def init(
        self,
        key: str,
        default: Any,
        valid: Callable[[Any], bool] | None = None,
        external: Any = None,
        field: str | None = None,
    ) -> Any:
        """Set widget state `key` before its widget is drawn (see the module docstring)."""
        ok = valid or (lambda _v: True)
        if field is not None:
            self.keys.setdefault(field, []).append(key)
        candidates = []
        if external is not None and external is not RESET:
            if ok(external):
                candidates.append(external)
            elif field is not None:
                self.notes.append(
                    f"The link asks for `{self._url(field)}={external}`, which this checkpoint "
                    "or view does not have; showing another value."
                )
        if external is not RESET:
            if key in st.session_state:
                candidates.append(st.session_state[key])
            if KEEP + key in st.session_state:
                candidates.append(st.session_state[KEEP + key])
        value = next((c for c in candidates if ok(c)), default)
        st.session_state[key] = value
        return value

    # ---- writing ---------------------------------------------------------------------------
    def publish(self, field: str, value: Any, keep: str | None = None) -> None:
        """`value` is the view's `field` now: write it to the URL (and remember it across pages
        under widget key `keep`)."""
        if keep is not None:
            st.session_state[KEEP + keep] = value
        try:
            probe = self.cls.from_values({field: value}).to_query()  # checks the value too
        except StateError:  # e.g. an empty region while the user drags: not part of the view
            self.forget(field)
            return
        self.values[field] = value
        url = self._url(field)
        if self._prefixed(field):
            for k in [k for k in st.query_params if k.startswith(url) and k not in probe]:
                del st.query_params[k]
        for k, text in probe.items():
            if st.query_params.get(k) != text:
                st.query_params[k] = text
            self.params[k] = text
        self.written[self._slot(url)] = self._raw(field) or ""

    def forget(self, field: str) -> None:
        """The view has no value for `field` now: drop it from the URL."""
        self.values.pop(field, None)
        url = self._url(field)
        if url in st.query_params:
            del st.query_params[url]
        self.params.pop(url, None)
        self.written.pop(self._slot(url), None)

    def widget(
        self,
        draw: Callable[..., Any],
        *args: Any,
        field: str,
        key: str,
        default: Any,
        valid: Callable[[Any], bool] | None = None,
        to_widget: Callable[[Any], Any] = lambda v: v,
        from_widget: Callable[[Any], Any] = lambda v: v,
        **kwargs: Any,
    ) -> Any:
        """Draw widget `draw(*args, key=key, **kwargs)` bound to `field`; returns its value."""
        ext = self.external(field)
        if ext is not None and ext is not RESET:
            ext = to_widget(ext)
        self.init(key, default, valid, ext, field)
        value = draw(*args, key=key, **kwargs)
        self.publish(field, from_widget(value), keep=key)
        return value

    # ---- the view's state ------------------------------------------------------------------
    def state(self) -> PageState:
        """The view's PageState: every field this run drew."""
        return self.cls.from_values(self.values)

    def link(self) -> str:
        """A URL that opens this view (on this server)."""
        base = (st.context.url or "").split("?")[0]
        query = urllib.parse.urlencode(self.state().to_query())
        return f"{base}?{query}" if query else base

    def finish(self) -> None:
        """Notes about the link, and the sidebar's "copy link" and "reset view" controls. Call
        at the end of the page (or `stop()` instead of st.stop())."""
        if self.finished:
            return
        self.finished = True
        from ui.classroom import class_card, link_builder, shape_controls

        if self.lesson_slot is not None:
            from ui.lesson import lesson_card, running

            lesson_card(self, self.lesson_slot)
            now = running()
            lesson, stop = now if now is not None else (None, 0)
            class_card(self, self.lesson_slot, lesson, stop)
        shape_controls(self)
        for note in dict.fromkeys(self.notes):
            st.caption(f"ⓘ {note}")
        with st.sidebar.expander("🔗 Link to this view · reset"):
            st.caption(
                "Anyone opening this link sees this view (same checkpoint, sample, settings)."
            )
            link = link_builder(self)
            st.code(link, language=None, wrap_lines=True)
            figures = list(st.session_state.get(f"{KEEP}figures", []))
            if figures:
                state = self.state()
                st.download_button(
                    f"⬇ This view's {len(figures)} figures (HTML)",
                    data=lambda: figures_html(self.cls.title, state, link, figures),
                    file_name=f"mmviz-{self.page}-{state.ckpt or 'view'}.html",
                    mime="text/html",
                    on_click="ignore",
                    key=f"figures_{self.page}",
                    help="One self-contained file (works offline) for slides; it names the "
                    "checkpoint, sample and settings and links back to this view.",
                )
            keep = {k: v for k, v in self.state().to_query().items() if k in ("ckpt", "i")}
            st.button(
                "↺ Reset this page's controls",
                key=f"reset_{self.page}",
                on_click=_reset,
                args=(self.page, keep),
                help="Back to the page's defaults, on the same checkpoint and sample.",
            )

    def stop(self) -> NoReturn:
        self.finish()
        st.stop()


def figures_html(title: str, state: PageState, link: str, figures: list) -> str:
    """The figures of one view as a self-contained HTML page: plotly.js inline once, then each
    figure, under a header naming the view's state and its link."""
    import html

    import plotly.io as pio

    rows = "".join(
        f"<tr><td>{html.escape(k)}</td><td>{html.escape(str(v))}</td></tr>"
        for k, v in state.values().items()
    )
    parts = [
        f"<html><head><meta charset='utf-8'><title>mmviz · {html.escape(title)}</title></head>"
        f"<body style='font-family:sans-serif'><h1>mmviz · {html.escape(title)}</h1>"
        f"<p>View: <a href='{html.escape(link)}'>{html.escape(link)}</a></p>"
        f"<table border='1' cellpadding='4'>{rows}</table>"
    ]
    for i, (key, fig) in enumerate(figures):
        parts.append(f"<h3>{html.escape(key)}</h3>")
        parts.append(
            pio.to_html(fig, full_html=False, include_plotlyjs="inline" if i == 0 else False)
        )
    parts.append("</body></html>")
    return "".join(parts)


def _reset(page: str, keep: dict[str, str]) -> None:
    st.session_state[APPLY] = page
    st.query_params.from_dict(keep)
