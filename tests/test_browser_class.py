"""A live class in two real browsers: the teacher starts a class from a lesson, a student joins
by the link, follows the teacher's page and slider within 2 s (the polling fragment, not a
whole-page rerun), commits a prediction and sees the answer after the teacher's reveal.
Also a lesson in presentation mode, screenshotted for the README. Tiny zoo, tiny lesson."""

from __future__ import annotations

import time

import pytest

from tests.test_browser import browser
from tests.test_lessons import GOOD
from ui.browser import (
    CHROMIUM_ARGS,
    ROOT,
    VIEWPORT,
    chromium_path,
    poll,
    streamlit_server,
    wait_idle,
)

SHOTS = ROOT / "docs" / "screenshots"


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    from mmviz.tinyzoo import build_tiny_zoo

    base = tmp_path_factory.mktemp("class")
    zoo = build_tiny_zoo(str(base / "zoo"))
    lessons = base / "lessons"
    lessons.mkdir()
    (lessons / "tiny.toml").write_text(GOOD, encoding="utf-8")
    env = {
        "MMVIZ_CHECKPOINTS": str(zoo),
        "MMVIZ_LESSONS": str(lessons),
        "MMVIZ_CLASS_DB": str(base / "classes.sqlite3"),
        "MMVIZ_CLASS_STORE": "",
    }
    with streamlit_server(env=env) as s:
        yield s


def sidebar_text(page) -> str:
    return page.locator('[data-testid="stSidebar"]').inner_text()


@browser
def test_a_student_follows_the_teacher_in_a_real_browser(server):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        chrome = p.chromium.launch(
            executable_path=chromium_path(), headless=True, args=CHROMIUM_ARGS
        )
        try:
            teacher = chrome.new_context(viewport=VIEWPORT).new_page()
            teacher.goto(server.url)
            wait_idle(teacher)
            teacher.get_by_role("button", name="👩‍🏫 Teach this lesson").click()
            wait_idle(teacher)
            teacher.get_by_text("Student link · QR code").click()
            link = poll(
                lambda: next(
                    (t for t in teacher.locator("code").all_inner_texts() if "class=" in t), None
                ),
                timeout_s=20,
            )
            assert link, sidebar_text(teacher)
            code = link.split("class=")[1].split("&")[0]

            student = chrome.new_context(viewport=VIEWPORT).new_page()
            student.goto(f"{server.url}/?class={code}")
            seen = poll(lambda: "Which expert is left" in sidebar_text(student), timeout_s=30)
            assert seen, sidebar_text(student)
            assert "Commit a prediction" in sidebar_text(student)

            radio = student.locator('[data-testid="stSidebar"] [role="radiogroup"]')
            radio.get_by_text("hand", exact=True).click()
            wait_idle(student)
            student.get_by_role("button", name="Commit").click()
            assert poll(lambda: "Committed: hand" in sidebar_text(student), timeout_s=20)
            assert poll(
                lambda: "answers** (1)" in teacher.content() or "(1)" in sidebar_text(teacher),
                timeout_s=20,
            )
            teacher.get_by_role("button", name="Reveal").click()
            assert poll(lambda: "the answer is label" in sidebar_text(student), timeout_s=10)

            teacher.get_by_role("button", name="Next ▶").click()
            wait_idle(teacher)
            started = time.monotonic()
            followed = poll(
                lambda: "stop 2 of 2" in sidebar_text(student), timeout_s=15, every_s=0.1
            )
            latency = time.monotonic() - started
            assert followed, sidebar_text(student)
            assert latency <= 2.5, f"the student followed after {latency:.1f} s"
            assert "/traversal" in student.url
        finally:
            chrome.close()
