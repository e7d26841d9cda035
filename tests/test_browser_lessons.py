"""Every shipped lesson run start to finish in a real browser, on the shipped checkpoints:
Home's Start button, every stop's page loads without an error in its state, each multiple-
choice question answered right and marked so, a `hand`/`label`-style tick step performed and
marked done, Finish back to Home. One screenshot per lesson (its first question, in
presentation mode) goes to docs/screenshots/lesson-<id>.png for the README."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from mmviz.lessons import lesson_files, load_lesson
from tests.test_browser import REAL_ZOO, browser, check_clean
from ui.browser import ROOT, chromium_page, full_screenshot, poll, streamlit_server, wait_idle

SHOTS = ROOT / "docs" / "screenshots"
LESSONS = [load_lesson(p) for p in lesson_files(ROOT / "lessons")]


@pytest.fixture(scope="module")
def server(tmp_path_factory) -> Iterator[str]:
    if not (REAL_ZOO / "mvae_hand_label" / "model.safetensors").exists():
        pytest.skip("the shipped lessons need the shipped checkpoints")
    env = {"MMVIZ_CHECKPOINTS": str(REAL_ZOO), "MMVIZ_LESSONS": str(ROOT / "lessons")}
    with streamlit_server(env, log_dir=tmp_path_factory.mktemp("streamlit_log")) as s:
        yield s.url


def card(page: Any) -> str:
    return page.locator(".st-key-lesson_card").inner_text()


def settle(page: Any) -> None:
    wait_idle(page, timeout_ms=120_000)
    page.wait_for_timeout(300)
    wait_idle(page, timeout_ms=120_000)


@browser
@pytest.mark.slow
@pytest.mark.parametrize("lesson", LESSONS, ids=[lesson.id for lesson in LESSONS])
def test_a_lesson_runs_start_to_finish_in_the_browser(server, lesson):
    with chromium_page() as page:
        page.set_default_timeout(60_000)
        page.goto(f"{server}/?present=1")
        settle(page)
        page.locator(f".st-key-start_{lesson.id} button").click()
        settle(page)
        shot_taken = False
        for index, stop in enumerate(lesson.stops):
            assert poll(lambda index=index: f"stop {index + 1} of" in card(page), 60), card(page)
            settle(page)
            check_clean(page, f"{lesson.id}, stop {index + 1}")
            assert f"/{stop.page}" in page.url or stop.page == "home", page.url
            assert stop.title in card(page)
            check = stop.check
            if (
                check is not None
                and check.field == "observed"
                and check.op in ("includes", "excludes")
            ):
                box = page.locator(f".st-key-obs_{check.value} input[type=checkbox]")
                if box.count() and box.is_checked() == (check.op == "excludes"):
                    box.click(force=True)
                    settle(page)
                    assert poll(lambda: "✅ done" in card(page), 30), card(page)
            question = stop.question
            if question is not None and question.kind == "choice":
                group = page.locator(".st-key-lesson_card [role=radiogroup]")
                group.get_by_text(str(question.answer), exact=True).first.click()
                settle(page)
                page.locator(".st-key-lesson_card").get_by_role("button", name="Answer").click()
                settle(page)
                assert poll(lambda: "Right:" in card(page), 30), card(page)
                if not shot_taken:
                    SHOTS.mkdir(parents=True, exist_ok=True)
                    full_screenshot(page, SHOTS / f"lesson-{lesson.id}.png")
                    shot_taken = True
            button = "Finish" if index == len(lesson.stops) - 1 else "Next ▶"
            page.locator(".st-key-lesson_card").get_by_role("button", name=button).click()
            settle(page)
        assert poll(lambda: page.locator(f".st-key-start_{lesson.id}").count() > 0, 60)
