"""mmviz app entry point: routing only. Pages live in pages/, computation in mmviz/."""

from pathlib import Path

import streamlit as st

PRESENT = "_mmviz_keep_present"
if st.query_params.get("present") in ("1", "true") and PRESENT not in st.session_state:
    st.session_state[PRESENT] = True
st.set_page_config(
    page_title="mmviz: multimodal models, opened up",
    page_icon="🔬",
    layout="wide",
    initial_sidebar_state="collapsed" if st.session_state.get(PRESENT) else "auto",
)

HERE = Path(__file__).parent
# (file, title, icon), in navigation order. Every file listed here exists; see tests/test_app.py.
PAGES = [
    ("pages/home.py", "Home: model zoo and datasets", "🏠"),
    ("pages/missing.py", "Missing modalities", "🧩"),
    ("pages/traversal.py", "Latent traversal", "🎚️"),
    ("pages/crossmodal.py", "Cross-modal generation", "🔀"),
    ("pages/latent_map.py", "Latent map", "🗺️"),
    ("pages/attributions.py", "Attributions", "🔍"),
    ("pages/information.py", "Information", "📐"),
    ("pages/fusion_lab.py", "Fusion lab", "🧪"),
    ("pages/report.py", "Model report", "📋"),
    ("pages/reproductions.py", "Reproductions", "📚"),
]

pages = [
    st.Page(str(HERE / f), title=t, icon=i, default=(f == "pages/home.py"))
    for f, t, i in PAGES
    if (HERE / f).exists()
]
nav = st.navigation(pages)

from ui.classroom import follow_gate, read_link_params  # noqa: E402 - after set_page_config
from ui.present import presentation_toggle  # noqa: E402
from ui.sidebar import routed  # noqa: E402

read_link_params()
presentation_toggle()
with routed(), follow_gate():  # a class's students applying the teacher's change queue here
    nav.run()
