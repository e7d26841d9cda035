"""What ui/sidebar.through_app() relies on inside Streamlit, checked so that an upgrade that
changes it fails here, loudly, rather than silently breaking shared links.

A shared link opened as a fresh server's first request runs the page file in Streamlit's
legacy `pages/` mode until app.py's `st.navigation` has run once. Streamlit has no public API
to leave that mode (checked for 1.67: no config option or command does it), so through_app()
sets the flag `st.navigation` itself sets, then reruns. The browser test
`test_browser.py` opens such a link on a fresh server end to end."""

from __future__ import annotations

import inspect

import streamlit as st
from streamlit.commands import navigation
from streamlit.runtime.pages_manager import PagesManager


def test_the_legacy_pages_flag_exists_and_navigation_clears_it():
    assert "uses_pages_directory" in vars(PagesManager), (
        "Streamlit no longer has PagesManager.uses_pages_directory: revisit through_app()"
    )
    source = inspect.getsource(navigation)
    assert "PagesManager.uses_pages_directory = False" in source, (
        "st.navigation no longer clears the legacy pages flag: revisit through_app()"
    )


def test_streamlit_is_the_version_through_app_was_checked_on():
    major, minor = (int(p) for p in st.__version__.split(".")[:2])
    assert (major, minor) == (1, 67), (
        f"Streamlit {st.__version__}: check through_app() (ui/sidebar.py) against it, and "
        "whether a public API now opens a page of an st.navigation app directly"
    )
