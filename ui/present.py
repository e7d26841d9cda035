"""Presentation mode (`?present=1`, or the sidebar toggle): for a projector at the back of a
room: larger text and tiles, the sidebar collapsed at the start, the notes open."""

from __future__ import annotations

import streamlit as st

PRESENT = "_mmviz_keep_present"  # the same key app.py reads before set_page_config

CSS = """<style>
section.stMain { font-size: 1.3rem; }
section.stMain p, section.stMain li, section.stMain label { font-size: 1.3rem !important; }
section.stMain h1 { font-size: 3rem !important; }
section.stMain h2, section.stMain h3 { font-size: 2.1rem !important; }
section.stMain [data-testid="stMetricValue"] { font-size: 2.6rem !important; }
section.stMain [data-testid="stPlotlyChart"] { min-height: 320px; }
</style>"""


def presenting() -> bool:
    return bool(st.session_state.get(PRESENT))


def presentation_toggle() -> None:
    """The sidebar toggle; its CSS while on."""
    on = st.sidebar.toggle(
        "📽️ Presentation mode",
        value=presenting(),
        key="present_toggle",
        help="Larger text and figures for a projector; the notes open. Link: ?present=1",
    )
    st.session_state[PRESENT] = on
    if on:
        st.html(CSS)
