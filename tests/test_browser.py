"""The app in a real browser: headless Chromium drives a Streamlit server started on a free port.

Every page listed in app.PAGES (whose file exists) is opened through the sidebar navigation,
must show no exception and no traceback, and is saved as docs/screenshots/<page>.png. Then
interactions a user would make: untick a modality and damage an input on Missing modalities,
draw a digit on the canvas, move a traversal slider with the keyboard, and change one widget
on each analysis page. Skipped only where no Chromium is installed or playwright is missing.

The server uses the shipped checkpoints when the generative ones exist (the screenshots go into
the README), else the tiny zoo of mmviz/tinyzoo.py.
"""

from __future__ import annotations

import ast
import contextlib
import json
import re
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from ui.browser import (
    ROOT,
    browser_unavailable,
    chromium_page,
    full_screenshot,
    poll,
    streamlit_server,
    wait_idle,
)

UNAVAILABLE = browser_unavailable()


def browser(test: Any) -> Any:
    """Mark a real-browser test; skipped, with the reason, where Chromium or playwright is
    missing."""
    skip = pytest.mark.skipif(UNAVAILABLE is not None, reason=f"browser test: {UNAVAILABLE}")
    return pytest.mark.browser(skip(test))


SHOTS = ROOT / "docs" / "screenshots"
REAL_ZOO = ROOT / "checkpoints"
PART2 = ["attributions", "information", "fusion_lab", "report", "reproductions"]
MAIN = '[data-testid="stMain"]'


def app_pages() -> list[tuple[str, str]]:
    """(file stem, title) of app.PAGES entries whose file exists, read without running app.py."""
    tree = ast.parse((ROOT / "app.py").read_text())
    for node in tree.body:
        if isinstance(node, ast.Assign) and any(
            isinstance(t, ast.Name) and t.id == "PAGES" for t in node.targets
        ):
            pages = ast.literal_eval(node.value)
            return [(Path(f).stem, t) for f, t, _ in pages if (ROOT / f).exists()]
    raise AssertionError("app.py has no PAGES list")


PAGES = app_pages()
STEMS = [s for s, _ in PAGES]


# ---- fixtures ------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def zoo(tmp_path_factory) -> Path:
    """The shipped checkpoints when the generative ones exist, else the tiny test zoo."""
    if (REAL_ZOO / "mvae_hand_label" / "model.safetensors").exists():
        return REAL_ZOO
    from mmviz.tinyzoo import build_tiny_zoo

    return build_tiny_zoo(str(tmp_path_factory.getbasetemp() / "tiny_zoo"))


@pytest.fixture(scope="module")
def server(zoo, tmp_path_factory) -> Iterator[str]:
    with streamlit_server(
        {"MMVIZ_CHECKPOINTS": str(zoo)}, log_dir=tmp_path_factory.mktemp("streamlit_log")
    ) as s:
        yield s.url


@pytest.fixture(scope="module")
def page(server) -> Iterator[Any]:
    """One browser tab for the module, with the app's root opened once."""
    with chromium_page() as p:
        p.set_default_timeout(30_000)
        p.goto(server)
        wait_idle(p)
        yield p


# ---- helpers -------------------------------------------------------------------------------
def wait_rendered(page: Any) -> None:
    """Wait for the run to end, the title to show and every visible chart to be drawn (charts
    in a closed tab or expander are drawn only when opened)."""
    wait_idle(page)
    page.locator(f'{MAIN} h1, [data-testid="stException"]').first.wait_for(state="visible")
    poll(
        lambda: page.evaluate(
            """() => Array.from(document.querySelectorAll('[data-testid="stPlotlyChart"]'))
                .filter(c => c.getClientRects().length > 0)  // not in a closed tab
                .every(c => c.querySelector('.main-svg'))"""
        ),
        timeout_s=20,
    )


def open_fresh(page: Any, server: str, stem: str, query: str = "") -> None:
    """Open page `stem` by its URL path (and `query`, e.g. "?ckpt=ID"): a new session, so
    earlier interactions do not leak."""
    page.goto(f"{server}/{'' if stem == 'home' else stem}{query}")
    wait_rendered(page)
    check_clean(page, stem)


def check_clean(page: Any, where: str) -> None:
    """No exception element, no traceback, no section that 'failed unexpectedly'; other
    st.error messages (e.g. a checkpoint being rewritten) are reported as warnings."""
    exc = page.locator('[data-testid="stException"]')
    assert exc.count() == 0, f"{where}: exception shown: {exc.first.inner_text()[:1500]}"
    text = page.locator("body").inner_text()
    assert "Traceback" not in text, f"{where}: a traceback is shown"
    errors = page.locator('[data-testid="stAlertContentError"]').all_inner_texts()
    unexpected = [e for e in errors if "failed unexpectedly" in e]
    assert not unexpected, f"{where}: {unexpected}"
    if errors:
        warnings.warn(f"{where} shows st.error: {errors}", stacklevel=2)


def image_sources(page: Any, key: str) -> list[str]:
    """The URLs of the raster images inside the element with key `key` (pictures are <img>
    elements; plotly draws heatmaps and image traces as SVG <image> elements)."""
    return page.locator(f".st-key-{key} image, .st-key-{key} img").evaluate_all(
        "els => els.map(e => e.getAttribute('href') || e.getAttribute('xlink:href') "
        "|| e.getAttribute('src') || '')"
    )


def keys(page: Any, prefix: str) -> list[str]:
    """Element keys on the page that start with `prefix` (from the st-key-* classes)."""
    classes = page.locator(f'[class*="st-key-{prefix}"]').evaluate_all(
        "els => els.flatMap(e => Array.from(e.classList))"
    )
    return [c.removeprefix("st-key-") for c in classes if c.startswith(f"st-key-{prefix}")]


def main_text(page: Any) -> str:
    return page.locator(MAIN).inner_text()


# ---- every page ----------------------------------------------------------------------------
@browser
@pytest.mark.parametrize("stem", STEMS)
def test_page_renders_cleanly_and_is_screenshotted(page, server, stem):
    """Navigate with the sidebar link (the URL path when the link is not shown)."""
    path = "" if stem == "home" else stem  # the default page lives at /
    link = page.locator(f'[data-testid="stSidebarNav"] a[href$="/{path}"]')
    if link.count() and link.first.is_visible():
        link.first.click()
        page.wait_for_url(re.compile(rf"/{path}(\?|$)"))
        wait_rendered(page)
    else:
        open_fresh(page, server, stem)
    title = dict(PAGES)[stem]
    check_clean(page, stem)
    assert page.locator(f"{MAIN} h1").first.is_visible(), f"{stem}: no title"
    page.mouse.move(0, 0)  # no hover toolbars in the picture
    shot = SHOTS / f"{stem}.png"
    full_screenshot(page, shot)
    assert shot.stat().st_size > 10_000, f"{stem} ({title}): screenshot looks empty"


# ---- part 1: interactions ------------------------------------------------------------------
@browser
def test_missing_untick_a_modality_and_damage_an_input(page, server, zoo):
    # a product-of-experts model (the app may open on another kind): its experts are shown
    mvae = "mvae_hand_label" if (zoo / "mvae_hand_label").is_dir() else "mvae_tiny5"
    open_fresh(page, server, "missing", f"?ckpt={mvae}")
    ticked = [k for k in keys(page, "obs_") if not k.startswith("obs_off_")]
    assert len(ticked) >= 2, f"need two observable modalities, have {ticked}"
    experts = page.locator(".st-key-experts .legendtext")  # one legend entry per expert

    def legend() -> list[str]:
        return experts.evaluate_all("els => els.map(e => e.textContent)")

    assert "generated (not observed)" not in main_text(page)
    hidden = ticked[-1].removeprefix("obs_")
    assert poll(lambda: hidden in legend(), 20), legend()
    box = page.locator(f".st-key-obs_{hidden} input[type=checkbox]")
    assert box.is_checked()
    page.locator(f".st-key-obs_{hidden} label").first.click()
    wait_rendered(page)
    assert not box.is_checked()
    check_clean(page, "missing, modality unticked")
    assert poll(lambda: "generated (not observed)" in main_text(page), 20), main_text(page)[:800]
    assert poll(lambda: hidden not in legend(), 20)  # left the product
    assert "prior" in legend()

    # damage the first observed input with the keyboard: its picture changes
    seen = ticked[0].removeprefix("obs_")
    before = image_sources(page, f"one_in_{seen}")
    assert before, f"no picture for observed input {seen}"
    slider = page.locator(f".st-key-noise_{seen}").get_by_role("slider")
    changed = False
    for _ in range(3):  # a rerun still settling can take the keyboard focus: press again
        slider.focus()
        for _ in range(4):
            page.keyboard.press("ArrowRight")
        wait_rendered(page)
        changed = poll(lambda: image_sources(page, f"one_in_{seen}") not in ([], before), 15)
        if changed:
            break
    assert changed, "the damaged input's picture did not change"
    assert "damaged" in page.locator(f".st-key-one_in_{seen}").inner_text()
    check_clean(page, "missing, input damaged")


@browser
def test_missing_draw_a_digit_on_the_canvas(page, server):
    open_fresh(page, server, "missing")
    own = page.locator('[data-testid="stSidebar"]').get_by_text("your own input", exact=True)
    if not poll(lambda: own.count() > 0, 15):  # the sidebar may still be filling in
        pytest.skip("Missing modalities has no 'your own input' option")
    own.click()
    wait_rendered(page)
    canvases = page.locator('[class*="_canvas"] canvas.upper-canvas')
    if not poll(lambda: canvases.count() > 0 and canvases.first.is_visible(), 20):
        pytest.skip("no drawing canvas on the page (streamlit-drawable-canvas not installed?)")
    check_clean(page, "missing, own input")
    # three inputs to a row: the canvas is not squeezed and the phrase box's hint is not cut
    assert canvases.first.bounding_box()["width"] >= 150
    for box in page.locator('input[placeholder*="seven"]').all():
        assert box.evaluate("e => e.scrollWidth <= e.clientWidth"), "phrase placeholder cut off"
    for button in page.locator('[class*="st-key-try_missing_"] button').all():
        assert button.evaluate("e => e.scrollWidth <= e.clientWidth + 1"), button.inner_text()
    key = next(k for k in keys(page, "own_") if k.endswith("_canvas"))
    drawn = key.removeprefix("own_").removesuffix("_canvas")
    assert f"one_in_{drawn}" not in keys(page, "one_in_")  # nothing given yet
    target = canvases.first
    target.scroll_into_view_if_needed()
    b = target.bounding_box()
    x0, y0 = b["x"] + b["width"] * 0.5, b["y"] + b["height"] * 0.2
    page.mouse.move(x0, y0)
    page.mouse.down()
    for k in range(1, 21):  # a vertical stroke, slightly wavy: a "1"
        page.mouse.move(x0 + (k % 4) * 2, y0 + k * b["height"] * 0.03, steps=2)
    page.mouse.up()
    page.mouse.move(0, 0)
    assert poll(lambda: f"one_in_{drawn}" in keys(page, "one_in_"), 30), main_text(page)[:800]
    wait_rendered(page)
    check_clean(page, "missing, digit drawn")
    assert page.locator(f".st-key-obs_{drawn} input[type=checkbox]").is_checked()
    assert image_sources(page, f"one_in_{drawn}")  # the drawing, as the model sees it
    assert "Reconstruction and generation" in main_text(page)


@browser
def test_traversal_keyboard_slider_changes_decoded_image(page, server):
    open_fresh(page, server, "traversal")
    # the grid draws after the page's first run settles (a fresh session reruns through app.py)
    grids = poll(lambda: [k for k in keys(page, "grid_") if image_sources(page, k)], 45)
    assert grids, "no pictorial traversal grid"
    before = image_sources(page, grids[0])
    slider = page.get_by_role("slider", name=re.compile(r"^Range of values")).first
    value = _value(slider)
    slider.focus()
    page.keyboard.press("ArrowRight")
    wait_rendered(page)
    assert poll(lambda: _value(slider) != value)
    assert poll(lambda: image_sources(page, grids[0]) not in ([], before), 20)
    check_clean(page, "traversal, slider moved")


# ---- part 2: one interaction per analysis page ---------------------------------------------
def _value(slider: Any) -> str:
    return slider.get_attribute("aria-valuenow") or slider.input_value()


def change_one_widget(page: Any) -> str | None:
    """Change one widget, the first found in the main area, else in the sidebar: a slider (with
    the keyboard), a radio option, a checkbox or toggle, a selectbox option, a number input's
    "+". Returns what was changed, or None when neither area shows an enabled widget."""
    for area in (MAIN, '[data-testid="stSidebar"]'):
        changed = _change_in(page, page.locator(area))
        if changed:
            return changed
    return None


def _change_in(page: Any, area: Any) -> str | None:
    sliders = area.get_by_role("slider")
    for i in range(sliders.count()):
        s = sliders.nth(i)
        if s.is_visible() and s.is_enabled():
            before = _value(s)
            s.focus()
            page.keyboard.press("ArrowRight")
            if not poll(lambda s=s, b=before: _value(s) != b, 5):
                page.keyboard.press("ArrowLeft")  # it was at its maximum: go the other way
                page.keyboard.press("ArrowLeft")
            return f"slider {s.get_attribute('aria-label')!r}"
    radios = area.locator('[role="radiogroup"] label:has(input[type=radio]:not(:checked))')
    radios = radios.filter(has_not=page.locator("input:disabled"))
    if radios.count() and radios.first.is_visible():
        name = radios.first.inner_text()
        radios.first.click()
        return f"radio option {name!r}"
    # not the opt-in disentanglement_lib scores: minutes of boosted trees by design, announced
    # on the toggle (its AppTest covers it on a tiny model)
    boxes = area.locator("label:has(input[type=checkbox]:not(:disabled))").all()
    boxes = [b for b in boxes if b.evaluate("e => !e.closest('.st-key-info_dlib')")]
    if boxes and boxes[0].is_visible():
        name = boxes[0].inner_text()
        boxes[0].click()
        return f"checkbox {name!r}"
    selects = area.locator('[data-testid="stSelectbox"]')
    for i in range(selects.count()):
        sel = selects.nth(i)
        if not sel.is_visible():
            continue
        sel.locator('[role="combobox"]').first.click()
        options = page.locator('[role="option"]:not([aria-selected="true"])')
        if poll(lambda o=options: o.count() > 0, 2):
            name = options.first.inner_text()
            options.first.click()
            return f"selectbox {sel.inner_text().splitlines()[0]!r} option {name!r}"
        page.keyboard.press("Escape")
    steps = area.locator('[data-testid="stNumberInputStepUp"]:not(:disabled)')
    if steps.count() and steps.first.is_visible():
        steps.first.click()
        return "number input +1"
    return None


@browser
@pytest.mark.parametrize("stem", [s for s in PART2 if s in STEMS])
def test_analysis_page_survives_a_widget_change(page, server, stem):
    open_fresh(page, server, stem)
    before = main_text(page)
    changed = change_one_widget(page)
    if changed is None:
        pytest.skip(f"{stem} shows no widget with this checkpoint zoo")
    wait_rendered(page)
    check_clean(page, f"{stem} after changing {changed}")
    assert page.locator(f"{MAIN} h1").first.is_visible()
    assert poll(lambda: main_text(page) != before, 20), f"{stem}: {changed} changed nothing"


# ---- the app benchmark (ui/bench.py), no browser needed ------------------------------------
def test_cli_routes_bench_app_to_the_ui_benchmark(monkeypatch, capsys):
    import ui.bench
    from mmviz.cli import main

    calls = []

    def fake(sizes: str) -> dict:
        calls.append(sizes)
        return {"targets_met": {"toggle_rerun_ms < 200": True}}

    monkeypatch.setattr(ui.bench, "bench_app", fake)
    assert main(["bench", "app", "--tiny", "--json"]) == 0
    assert calls == ["tiny"]
    assert json.loads(capsys.readouterr().out) == {"targets_met": {"toggle_rerun_ms < 200": True}}
    assert main(["bench", "nonsense"]) == 2
    assert "unknown benchmark 'nonsense'" in capsys.readouterr().err


def test_bench_app_times_every_page_and_each_interaction():
    from mmviz.explore import catalog
    from ui.bench import TARGETS, bench_app, resolve_zoo

    r = bench_app("tiny", repeats=1, browser=False)
    zoo = resolve_zoo()[0]
    digits_generative = [
        i for i in catalog(zoo) if i.dataset == "digits" and i.generative and not i.problem
    ]
    assert r["errors"] == []  # no page raised under AppTest, interactions included
    for table in ("page_first_run_cold_ms", "page_first_run_median_ms"):
        assert list(r[table]) == STEMS
        assert all(v > 0 for v in r[table].values())
    reruns = r["reruns"]
    for name in ("toggle_rerun_ms", "noise_slider_rerun_ms", "compare_mode_rerun_ms"):
        assert reruns[name] > 0, name
    assert 0 < reruns["traversal_grid_compute_ms"] < reruns["traversal_rerun_ms"]
    for name in ("attributions_rerun_ms", "fusion_lab_rerun_ms", "information_cold_ms"):
        assert reruns[name] > 0, name
    assert len(reruns["attributions_rerun_ms_by_checkpoint"]) == 2  # a VAE and LMF
    assert reruns["information_cached_rerun_ms"] > 0
    assert reruns["compared_checkpoints"] == len(digits_generative)  # all of them, side by side
    met = r["targets_met"]
    assert len(met) == len(TARGETS) and met["first_page_usable_s < 8"] is None
    assert all(isinstance(v, bool) for k, v in met.items() if not k.startswith("first_page"))
    with pytest.raises(ValueError, match="unknown sizes"):
        bench_app("huge")


@browser
def test_shared_link_as_a_fresh_servers_first_request(zoo, tmp_path, page):
    """A link to a page, opened before anyone has loaded the root, still gets app.py's
    navigation (page titles, no "app" entry) and the view the link describes. (A new tab in
    the module's browser: Playwright's sync API allows one driver per thread.)"""
    cid = "jmvaekl_hand_label" if zoo == REAL_ZOO else "jmvae_tiny"
    context = page.context.browser.new_context(viewport=page.viewport_size)
    with (
        streamlit_server({"MMVIZ_CHECKPOINTS": str(zoo)}, log_dir=tmp_path) as s,
        contextlib.closing(context),
    ):
        p = context.new_page()
        p.set_default_timeout(60_000)
        p.goto(f"{s.url}/missing?ckpt={cid}&i=7")
        wait_rendered(p)
        check_clean(p, "missing via a shared link on a fresh server")

        def nav() -> list[str]:
            return p.locator('[data-testid="stSidebarNav"] a').all_inner_texts()

        titles = [t for _, t in PAGES]
        assert poll(lambda: all(any(t in n for n in nav()) for t in titles), 10), nav()
        assert not any(n.strip() == "app" for n in nav()), nav()
        assert "Missing modalities" in p.locator(f"{MAIN} h1").first.inner_text()
        # a fresh server's first run reruns through app.py: the view may still be drawing
        wanted = f"Observed inputs · {cid}"
        assert poll(lambda: wanted in main_text(p), 30), main_text(p)[:600]
        assert "i=7" in p.url
