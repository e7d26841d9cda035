"""Every page with every shipped checkpoint, under AppTest: no exception and no error message.

The other app tests use a tiny zoo built in the test session, which is fast and covers the
behaviours; this one opens the real `checkpoints/` so that a shipped model whose config,
metrics or results trip a page is caught (marked slow: ~150 page runs).
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest
import torch
from streamlit.testing.v1 import AppTest

from mmviz.checkpoint import CHECKPOINT_ROOT, list_ids

ROOT = Path(__file__).resolve().parent.parent
APP = str(ROOT / "app.py")


def app_pages() -> list[str]:
    """The page files app.PAGES routes to (those that exist), read without running app.py."""
    tree = ast.parse((ROOT / "app.py").read_text())
    for node in tree.body:
        if isinstance(node, ast.Assign) and any(
            isinstance(t, ast.Name) and t.id == "PAGES" for t in node.targets
        ):
            return [f for f, _, _ in ast.literal_eval(node.value) if (ROOT / f).exists()]
    raise AssertionError("app.py has no PAGES list")


SHIPPED = list_ids(CHECKPOINT_ROOT)


@pytest.fixture(autouse=True)
def keep_threads():
    threads = torch.get_num_threads()  # ui/state.py sets it to 1
    yield
    torch.set_num_threads(threads)


@pytest.mark.slow
@pytest.mark.skipif(not SHIPPED, reason="no shipped checkpoints")
@pytest.mark.parametrize("cid", SHIPPED)
def test_every_page_runs_cleanly_with_a_shipped_checkpoint(cid):
    at = AppTest.from_file(APP, default_timeout=120)
    at.query_params["ckpt"] = cid
    at.run()
    for page in app_pages():
        at.switch_page(page)
        at.run()
        where = f"{page} with {cid}"
        assert not at.exception, f"{where}: {[e.value for e in at.exception]}"
        errors = [str(e.value) for e in at.error]
        assert not errors, f"{where}: {errors}"
        assert at.title or at.header, f"{where}: no title"
