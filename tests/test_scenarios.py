"""The "Try these" presets (lessons/scenarios/try-these.toml): every page that shows a model
has 2-6 of them, every claim they make holds on the shipped checkpoints, and each one opens its
page in exactly its state with no error."""

from __future__ import annotations

from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from mmviz.lessons import load_scenarios, verify_claims
from ui.state import PAGE_FILES

SCENARIOS = load_scenarios()
ALL = [(page, i, stop) for page, stops in SCENARIOS.items() for i, stop in enumerate(stops)]
APP = str(Path(__file__).resolve().parent.parent / "app.py")


def test_every_model_page_has_presets():
    for page in ("missing", "traversal", "crossmodal", "latent_map", "attributions",
                 "information", "fusion_lab"):  # fmt: skip
        assert 2 <= len(SCENARIOS.get(page, [])) <= 6, page
    assert all(stop.prompt.strip() for _, _, stop in ALL)


@pytest.mark.slow
def test_every_claim_of_every_preset_holds():
    failed = [
        f"{page}: {SCENARIOS[page][r.stop].title}: {r.claim.kind} {r.claim.args}: {r.said}"
        for page, stops in SCENARIOS.items()
        for r in verify_claims(stops)
        if not r.ok
    ]
    assert not failed, "\n".join(failed)
    assert sum(len(s.claims) for _, _, s in ALL) >= 10


@pytest.mark.slow
@pytest.mark.parametrize(("page", "index", "stop"), ALL, ids=[f"{p}-{i}" for p, i, _ in ALL])
def test_each_preset_opens_its_page_in_its_state(page, index, stop):
    at = AppTest.from_file(APP, default_timeout=180)
    at.run()
    at.switch_page(PAGE_FILES[page])
    at.run()
    [b for b in at.button if b.key == f"try_{page}_{index}"][0].click()
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    assert not at.error, [e.value for e in at.error]
    url = {k: at.query_params[k] for k in at.query_params}
    for key, text in stop.state.to_query().items():
        assert url.get(key) == text, (key, url)
    assert any(stop.title in i.value for i in at.info)
