"""mmviz app entry point: routing only. Pages live in pages/, computation in mmviz/."""

import streamlit as st

st.set_page_config(page_title="mmviz: multimodal models, opened up", page_icon="🔬", layout="wide")

pages = [
    st.Page("pages/home.py", title="Home: model zoo and datasets", icon="🏠", default=True),
]
st.navigation(pages).run()
