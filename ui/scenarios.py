"""The "Try these" strip under a page's title: one-click presets (lessons/scenarios/
try-these.toml) that set checkpoint, sample, mask, noise and settings together, each with one
line on what to notice."""

from __future__ import annotations

import streamlit as st

from mmviz.lessons import LessonError, Stop, load_scenarios
from ui.state import PageRun, apply_state


@st.cache_data(ttl=30, show_spinner=False)
def _scenarios(root: str) -> dict[str, list[Stop]]:
    from pathlib import Path

    from mmviz.lessons import SCENARIOS_FILE

    return load_scenarios(Path(root) / SCENARIOS_FILE)


def try_these(page: PageRun) -> None:
    """Buttons for this page's presets; the one just applied shows its line to notice."""
    from mmviz.paths import lessons_root

    try:
        presets = _scenarios(str(lessons_root())).get(page.page, [])
    except LessonError as e:
        st.caption(f"Presets unavailable: {e}")
        return
    if not presets:
        return
    strip = st.container(horizontal=True, vertical_alignment="center", key=f"try_{page.page}")
    strip.markdown("**Try these:**")
    chosen = st.session_state.get(f"scenario_{page.page}")
    for i, stop in enumerate(presets):  # whole titles: the strip wraps instead of cutting them
        if strip.button(stop.title, key=f"try_{page.page}_{i}", help=stop.prompt):
            st.session_state[f"scenario_{page.page}"] = i
            apply_state(stop.state)
    if chosen is not None and chosen < len(presets):
        st.info(f"**{presets[chosen].title}.** {presets[chosen].prompt}", icon="👀")
