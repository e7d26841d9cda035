"""The state layer in the app (ui/state.py): the URL is the view's PageState.

A view rebuilt in a fresh session from nothing but its URL shows the same figures; every page's
URL decodes into its PageState; "reset" brings a page's defaults back; a bad link value is named.
"""

from __future__ import annotations

import pytest
from streamlit.testing.v1 import AppTest

from mmviz.pagestate import PAGE_STATES
from tests.test_app import APP, assert_clean, chart, open_page, widget, zoo_root  # noqa: F401

PAGE_FILES = {
    "missing": "pages/missing.py",
    "traversal": "pages/traversal.py",
    "crossmodal": "pages/crossmodal.py",
    "latent_map": "pages/latent_map.py",
    "attributions": "pages/attributions.py",
    "information": "pages/information.py",
    "report": "pages/report.py",
}


def url_of(at: AppTest) -> dict[str, str]:
    return {k: at.query_params[k] for k in at.query_params}


def reopen(page: str, at: AppTest) -> AppTest:
    """A fresh session given only `at`'s URL."""
    return open_page(page, **url_of(at))


@pytest.mark.parametrize(("page", "file"), list(PAGE_FILES.items()))
def test_every_pages_url_decodes_into_its_page_state(page, file):
    at = open_page(file, ckpt="mvae_tiny5")
    assert_clean(at)
    params = url_of(at)
    state, problems = PAGE_STATES[page].from_query(params)  # strict: raises on a bad value
    assert problems == {}
    assert state.ckpt == "mvae_tiny5"


def test_traversal_view_is_rebuilt_from_its_url_alone():
    at = open_page("pages/traversal.py", ckpt="mvae_tiny5", i="4")
    widget(at, "slider", "steps").set_value(4)
    widget(at, "slider", "range").set_value((-1.5, 2.0))
    widget(at, "radio", "start").set_value("prior")
    at.run()
    assert_clean(at)
    before = chart(at, "grid_hand")
    fresh = reopen("pages/traversal.py", at)
    assert_clean(fresh)
    assert widget(fresh, "slider", "steps").value == 4
    assert widget(fresh, "radio", "start").value == "prior"
    after = chart(fresh, "grid_hand")
    assert after["data"] == before["data"]
    # and the default view draws something else, so the comparison can fail
    plain = open_page("pages/traversal.py", ckpt="mvae_tiny5", i="4")
    assert chart(plain, "grid_hand")["data"] != before["data"]


def test_missing_view_is_rebuilt_from_its_url_alone():
    at = open_page("pages/missing.py", ckpt="mvae_tiny5", i="3")
    widget(at, "checkbox", "obs_label").uncheck()
    widget(at, "slider", "noise_hand").set_value(0.4)
    at.run()
    assert_clean(at)
    assert at.query_params["noise"] == "hand:0.4"
    assert "label" not in at.query_params["obs"].split(",")
    fresh = reopen("pages/missing.py", at)
    assert_clean(fresh)
    assert widget(fresh, "checkbox", "obs_label").value is False
    assert widget(fresh, "slider", "noise_hand").value == pytest.approx(0.4)
    keys = [c.proto.id.rsplit("-", 1)[-1] for c in at.get("plotly_chart")]
    for key in keys:
        assert chart(fresh, key)["data"] == chart(at, key)["data"], key


def test_reset_brings_back_the_pages_defaults_on_the_same_checkpoint_and_sample():
    at = open_page("pages/traversal.py", ckpt="jmvae_tiny", i="6", steps="4", mode="animation")
    assert widget(at, "slider", "steps").value == 4
    reset = [b for b in at.button if b.key == "reset_traversal"]
    assert reset, "no reset button"
    reset[0].click()
    at.run()
    assert_clean(at)
    assert widget(at, "slider", "steps").value == 9
    assert widget(at, "radio", "mode").value == "grid"
    assert widget(at, "selectbox", "ckpt").value == "jmvae_tiny"
    assert widget(at, "number_input", "sample").value == 6
    # an ordinary rerun afterwards keeps what the user sets again
    widget(at, "slider", "steps").set_value(3)
    at.run()
    assert widget(at, "slider", "steps").value == 3


def test_a_link_value_the_page_cannot_use_is_named():
    at = open_page("pages/traversal.py", ckpt="mvae_tiny5", steps="99", group="nope")
    assert_clean(at)
    notes = " ".join(c.value for c in at.caption)
    assert "`steps`" in notes and "from 2 to 15" in notes
    assert "`group=nope`" in notes
    assert widget(at, "slider", "steps").value == 9


def test_the_link_box_holds_the_views_url():
    at = open_page("pages/crossmodal.py", ckpt="mvae_tiny5", n="5", seed="7")
    assert_clean(at)
    codes = [c.value for c in at.code]
    assert any("n=5" in c and "seed=7" in c and "ckpt=mvae_tiny5" in c for c in codes), codes


def test_a_link_changed_later_in_the_session_wins_over_the_widgets():
    """A Home card or the browser's back button changes the URL of a running session: the new
    value is applied, while the session's own writes are not re-applied over the user's."""
    at = open_page("pages/traversal.py", ckpt="mvae_tiny5")
    widget(at, "slider", "steps").set_value(6)
    at.run()
    assert widget(at, "slider", "steps").value == 6
    at.query_params["steps"] = "3"
    at.run()
    assert widget(at, "slider", "steps").value == 3


def test_the_sample_finder_shows_a_sample_of_the_chosen_class():
    from mmviz.data import load_dataset

    classes = load_dataset("digits").factor_table("test")["class"].to_numpy()
    at = open_page("pages/missing.py", ckpt="mvae_tiny5")
    widget(at, "selectbox", "find_class").set_value(7)
    at.run()
    pick = widget(at, "selectbox", "find_pick")
    options = [int(o) for o in pick.options]
    assert options and all(classes[p] == 7 for p in options)
    pick.set_value(options[2])
    at.run()
    [b for b in at.button if b.key == "find_show"][0].click()
    at.run()
    assert_clean(at)
    shown = widget(at, "number_input", "sample").value
    assert shown == options[2] and classes[shown] == 7
    assert at.query_params["i"] == str(shown)


def test_charts_keep_a_trimmed_toolbar_that_saves_pngs():
    """Issue 19: figures can be taken away: plotly's toolbar is on (on hover), with a PNG
    download at 3x and without the buttons that do nothing useful here."""
    at = open_page("pages/missing.py", ckpt="mvae_tiny5")
    import json

    configs = [json.loads(c.proto.config) for c in at.get("plotly_chart")]
    assert configs
    for config in configs:
        assert config.get("displayModeBar") != False  # noqa: E712 - the toolbar is not hidden
        assert config["toImageButtonOptions"]["scale"] == 3
        assert "lasso2d" in config["modeBarButtonsToRemove"]


def test_the_views_figures_export_as_one_html_file_naming_the_state():
    from mmviz.pagestate import TraversalState
    from ui.state import figures_html

    at = open_page("pages/traversal.py", ckpt="mvae_tiny5", steps="4")
    assert_clean(at)
    assert any(b.label.startswith("⬇ This view's") for b in at.get("download_button"))
    import plotly.graph_objects as go

    page = figures_html(
        "Latent traversal",
        TraversalState(ckpt="mvae_tiny5", steps=4),
        "http://x/traversal?ckpt=mvae_tiny5&steps=4",
        [("grid_hand", go.Figure(go.Bar(y=[1, 2])))],
    )
    assert "<td>ckpt</td><td>mvae_tiny5</td>" in page and "<td>steps</td><td>4</td>" in page
    assert "http://x/traversal?ckpt=mvae_tiny5&amp;steps=4" in page
    assert page.count("<script") >= 2 and "grid_hand" in page  # plotly.js inline + the figure


def test_generated_draws_can_be_downloaded_named_after_the_view():
    at = open_page("pages/crossmodal.py", ckpt="mvae_tiny5", i="3", n="4", seed="2")
    assert_clean(at)
    names = [b.label for b in at.get("download_button")]
    assert any(n.startswith("⬇ hand: the 4 draws (PNG)") for n in names), names
    assert any("(.txt)" in n for n in names) and any("(WAV)" in n for n in names)


def test_traversal_grid_can_be_downloaded():
    """One PNG per pictorial modality's grid (issue 19); the classes and phrases stay tables."""
    at = open_page("pages/traversal.py", ckpt="mvae_tiny5", i="3", steps="4")
    assert_clean(at)
    names = [b.label for b in at.get("download_button") if "traversal" in b.label]
    assert sorted(names) == [f"⬇ {m}: the traversal grid (PNG)" for m in ("hand", "print", "sound")]
