"""▶ play on a step-by-step explainer in a real browser (issue 17, part 3): on Missing
modalities, open "Step through the product of experts", press ▶ play and watch the frames
advance by themselves (the step title and the running product's curve in the density figure)
until the last step, where playing stops. A screenshot of the stepper at its last frame goes
to docs/screenshots/poe-stepper-play.png.

The shipped checkpoints when they exist (mvae_digits5), else the tiny zoo (mvae_tiny5).
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from typing import Any

import pytest

from tests.test_browser import REAL_ZOO, SHOTS, browser, check_clean, zoo  # noqa: F401
from ui.browser import chromium_page, poll, streamlit_server, wait_idle

STEPPER = "Step through the product of experts"
TITLE = re.compile(r"Step (\d+): ")


@pytest.fixture(scope="module")
def server(zoo, tmp_path_factory) -> Iterator[str]:  # noqa: F811 - the fixture imported above
    with streamlit_server(
        {"MMVIZ_CHECKPOINTS": str(zoo)}, log_dir=tmp_path_factory.mktemp("streamlit_log")
    ) as s:
        yield s.url


def frame(page: Any) -> tuple[int | None, str]:
    """The step the stepper shows (from its title) and the running product's name in the
    density figure's legend ("product after step k")."""
    box = page.locator('[data-testid="stExpander"]').filter(has_text=STEPPER)
    titles = box.locator("strong").filter(has_text=TITLE).all_inner_texts()
    step = int(TITLE.search(titles[0]).group(1)) if titles else None
    legend = box.locator(".st-key-poe_density .legendtext").evaluate_all(
        "els => els.map(e => e.textContent || '')"  # SVG text: no innerText
    )
    return step, next((t for t in legend if t.startswith("product")), "")


@browser
@pytest.mark.slow
def test_play_advances_the_product_of_experts_stepper_to_its_last_step(server, zoo):  # noqa: F811
    cid = "mvae_digits5" if zoo == REAL_ZOO else "mvae_tiny5"
    with chromium_page() as page:
        page.set_default_timeout(60_000)
        page.goto(f"{server}/missing?ckpt={cid}")
        wait_idle(page, timeout_ms=120_000)
        check_clean(page, "missing")
        box = page.locator('[data-testid="stExpander"]').filter(has_text=STEPPER)
        box.locator("summary").click()  # the stepper runs only once its expander is open
        assert poll(lambda: frame(page)[0] is not None, 60), "the stepper did not draw"
        wait_idle(page, timeout_ms=60_000)
        last, last_curve = poll(lambda: frame(page) if frame(page)[1] else None, 30)
        assert last >= 2 and last_curve == f"product after step {last}", (last, last_curve)

        box.get_by_role("button", name="▶ play").click()  # from the last step: from the start
        seen: list[tuple[int, str]] = []
        deadline = time.monotonic() + 45
        while time.monotonic() < deadline:
            step, curve = frame(page)
            if step is not None and (not seen or seen[-1] != (step, curve)):
                seen.append((step, curve))
            if len(seen) > 1 and step == last and box.get_by_role("button", name="▶ play").count():
                break
            page.wait_for_timeout(100)
        steps = [s for s, _ in seen]
        assert steps[-1] == last, f"playing did not reach step {last}: {seen}"
        advanced = [s for s in dict.fromkeys(steps) if s < last]
        assert len(advanced) >= 2 and advanced == sorted(advanced), seen  # it went by itself
        assert advanced[0] <= 1, seen  # and started from the beginning
        curves = {c for _, c in seen if c}
        assert len(curves) >= 3, f"the running product's curve did not change: {seen}"
        assert box.get_by_role("button", name="▶ play").count() == 1  # stopped at the end
        wait_idle(page, timeout_ms=60_000)
        assert frame(page) == (last, last_curve)
        check_clean(page, "missing, after playing the stepper")
        SHOTS.mkdir(parents=True, exist_ok=True)
        box.scroll_into_view_if_needed()
        page.mouse.move(1, 1)  # no button's tooltip in the picture
        page.wait_for_timeout(500)
        box.screenshot(path=str(SHOTS / "poe-stepper-play.png"))
