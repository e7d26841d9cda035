"""Shared fixtures: every test that builds a dataset uses a private cache folder."""

from __future__ import annotations

import pytest


@pytest.fixture()
def tmp_cache(tmp_path, monkeypatch):
    """Point MMVIZ_CACHE at a fresh temporary folder, so tests never touch ~/.cache."""
    path = tmp_path / "cache"
    monkeypatch.setenv("MMVIZ_CACHE", str(path))
    return path
