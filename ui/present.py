"""Presentation mode (`?present=1`, or the sidebar toggle): for a projector at the back of a
room: larger text and tiles, the sidebar collapsed at the start, the notes open."""

from __future__ import annotations

import streamlit as st

PRESENT = "_mmviz_keep_present"  # the same key app.py reads before set_page_config

# The main area: `.stMain` (a <main> in Streamlit 1.67; `section.stMain` once, no longer).
CSS = """<style>
.stMain { font-size: 1.3rem; }
.stMain p, .stMain li, .stMain label { font-size: 1.3rem !important; }
.stMain h1 { font-size: 3rem !important; }
.stMain h2, .stMain h3 { font-size: 2.1rem !important; }
.stMain [data-testid="stMetricValue"] { font-size: 2.6rem !important; }
.stMain [data-testid="stPlotlyChart"] { min-height: 320px; }
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
