"""Cached access to datasets, checkpoints and figures, shared by all pages.

Models and datasets load once per process (`st.cache_resource`, never mutated afterwards);
derived results are cached per arguments with bounded size (`st.cache_data(max_entries=...)`).
"""

from __future__ import annotations

import io

import streamlit as st

from mmviz.data import load_dataset
from mmviz.zoo import checkpoint_table


@st.cache_resource(show_spinner="Loading dataset…")
def cached_dataset(name: str):
    return load_dataset(name)


@st.cache_data(max_entries=8, show_spinner=False)
def cached_preview(name: str) -> bytes:
    from mmviz.data.preview import preview_grid

    buf = io.BytesIO()
    preview_grid(cached_dataset(name), n=5).save(buf, format="PNG")
    return buf.getvalue()


@st.cache_data(ttl=60, max_entries=4, show_spinner=False)
def checkpoint_rows() -> list[dict]:
    return checkpoint_table()
