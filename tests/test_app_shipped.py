"""Every page with every shipped checkpoint, under AppTest: no exception and no error message.

The other app tests use a tiny zoo built in the test session, which is fast and covers the
behaviours; this one opens the real `checkpoints/` so that a shipped model whose config,
metrics or results trip a page is caught (marked slow: ~150 page runs).
"""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from streamlit.testing.v1 import AppTest

from mmviz.checkpoint import list_ids
from ui.bench import app_pages

ROOT = Path(__file__).resolve().parent.parent
APP = str(ROOT / "app.py")


SHIPPED = list_ids()  # the shipped zoo unless MMVIZ_CHECKPOINTS moves it


@pytest.fixture(autouse=True)
def keep_threads():
    threads = torch.get_num_threads()  # ui/cache.py sets it to 1
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
