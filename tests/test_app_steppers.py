"""The step-by-step explainers in the app (ui/steppers.py), driven through AppTest on the tiny zoo.

Checks: the expanders render without error for the models they apply to (and are absent for the
others); moving the step slider, the step buttons and ▶ play change the figures; the step is in
the URL, and a link opens the stepper at its step.
"""

from __future__ import annotations

import base64

import numpy as np
from streamlit.testing.v1 import AppTest

from tests.test_app import assert_clean, chart, open_page, widget, zoo_root  # noqa: F401


def values(field) -> np.ndarray:
    """A figure's array as plotly's JSON holds it: a list, or typed binary data (`bdata`)."""
    if isinstance(field, dict) and "bdata" in field:
        return np.frombuffer(base64.b64decode(field["bdata"]), dtype=field["dtype"])
    return np.asarray(field)


def step_slider(at: AppTest, prefix: str):
    """The step slider (its key changes whenever a button or a tick moves the step)."""
    hits = [w for w in at.get("select_slider") if str(w.key).startswith(f"{prefix}_step_")]
    assert len(hits) == 1, [w.key for w in at.get("select_slider")]
    return hits[0]


def step_of(at: AppTest, prefix: str) -> int:
    return int(step_slider(at, prefix).value)


def click(at: AppTest, key: str) -> AppTest:
    widget(at, "button", key).click()
    return at.run()


def expanders(at: AppTest) -> list[str]:
    return [e.label for e in at.expander]


def opened(at: AppTest, key: str) -> AppTest:
    """Open a stepper's expander (its content runs only while open), as a click on it does."""
    at.session_state[key] = True
    return at.run()


def charts(at: AppTest) -> list[str]:
    return [c.proto.id.rsplit("-", 1)[-1] for c in at.get("plotly_chart")]


def step_titles(at: AppTest) -> list[str]:
    return [m.value for m in at.markdown if m.value.startswith("**Step ")]


# ---- product of experts (missing modalities) -----------------------------------------------------
def test_poe_stepper_renders_and_stepping_changes_the_figures():
    at = open_page("pages/missing.py", ckpt="mvae_tiny5", obs="hand,label,text")
    assert_clean(at)
    assert "Step through the product of experts" in expanders(at)
    assert "poe_density" not in charts(at)  # closed: the page does not compute it
    opened(at, "poe_open")
    assert_clean(at)
    slider = step_slider(at, "poe")
    assert slider.options == ["0 · prior", "1 · + hand", "2 · + label", "3 · + text"]
    assert step_of(at, "poe") == 3  # opens on the model's own posterior
    density, thumbs = chart(at, "poe_density"), chart(at, "poe_thumbs")
    assert [t["name"] for t in density["data"]][-2:] == ["product after step 3", "mean ± std"]
    slider.set_value(1)
    at.run()
    assert_clean(at)
    assert step_titles(at) == ["**Step 1: multiply in the expert of hand**"]
    moved = chart(at, "poe_density")
    assert moved["data"] != density["data"]
    assert moved["layout"]["xaxis"]["range"] == density["layout"]["xaxis"]["range"]
    assert chart(at, "poe_thumbs")["data"][0]["source"] != thumbs["data"][0]["source"]
    bars = chart(at, "poe_shares")["data"][0]  # the prior alone, then the prior and hand
    assert bars["y"] == ["0: prior", "1: + hand", "1: + hand"]
    assert at.query_params["step"] == "1"


def test_poe_step_buttons_and_play():
    at = opened(open_page("pages/missing.py", ckpt="mvae_tiny5", obs="hand,label,text"), "poe_open")
    assert step_of(at, "poe") == 3
    assert step_of(click(at, "poe_first"), "poe") == 0
    assert step_titles(at) == ["**Step 0: nothing observed, the prior N(0, 1)**"]
    assert step_of(click(at, "poe_next"), "poe") == 1
    assert step_of(click(at, "poe_prev"), "poe") == 0
    assert step_of(click(at, "poe_last"), "poe") == 3
    click(at, "poe_play")  # at the end: plays from the start, shown before the first tick
    assert_clean(at)
    assert step_titles(at) == ["**Step 0: nothing observed, the prior N(0, 1)**"]
    assert widget(at, "button", "poe_play").label == "⏸ pause"
    assert step_of(at, "poe") == 0
    frames = [chart(at, "poe_density")["data"]]
    for expected in (1, 2, 3):  # each run stands for one tick of the playing fragment
        at.run()
        assert_clean(at)
        assert step_titles(at)[0].startswith(f"**Step {expected}: ")
        assert step_of(at, "poe") == expected  # the slider follows
        assert at.query_params["step"] == str(expected)
        frames.append(chart(at, "poe_density")["data"])
    assert all(a != b for a, b in zip(frames, frames[1:], strict=False))
    assert widget(at, "button", "poe_play").label == "▶ play"  # stopped at the last step
    assert step_of(at, "poe") == 3
    at.run()
    assert step_of(at, "poe") == 3
    click(at, "poe_prev")
    assert step_of(at, "poe") == 2 and step_titles(at)[0].startswith("**Step 2: ")


def test_poe_stepper_opens_from_a_link_at_its_step_and_dimension():
    at = open_page("pages/missing.py", ckpt="mvae_tiny5", obs="hand,label", step="1", sdim="5")
    assert_clean(at)
    assert step_of(at, "poe") == 1 and widget(at, "selectbox", "poe_dim").value == 5  # opened
    assert chart(at, "poe_density")["layout"]["xaxis"]["title"]["text"] == "z[5]"
    widget(at, "selectbox", "poe_dim").set_value(2)
    at.run()
    assert chart(at, "poe_density")["layout"]["xaxis"]["title"]["text"] == "z[2]"
    assert at.query_params["sdim"] == "2"


def test_mixture_stepper_for_mopoe_and_none_for_joint_encoders():
    at = opened(open_page("pages/missing.py", ckpt="mopoe_tiny", obs="hand,label"), "poe_open")
    assert_clean(at)
    assert "Step through the mixture of experts" in expanders(at)
    slider = step_slider(at, "poe")
    assert slider.options == ["0 · prior", "1 · + hand", "2 · + label", "3 · + hand+label"]
    before = chart(at, "poe_density")
    assert "mixture after step 3" in [t["name"] for t in before["data"]]
    slider.set_value(2)
    at.run()
    assert_clean(at)
    assert chart(at, "poe_density")["data"] != before["data"]
    assert step_titles(at) == ["**Step 2: mix in the component label**"]
    for cid in ("jmvae_tiny", "mfm_tiny"):
        other = open_page("pages/missing.py", ckpt=cid)
        assert_clean(other)
        assert not [e for e in expanders(other) if e.startswith("Step through")]


# ---- tensor fusion and LMF (fusion lab) ----------------------------------------------------------
def test_fusion_stepper_renders_and_stepping_changes_the_figures():
    at = open_page("pages/fusion_lab.py", ckpt="lmf_tiny")
    assert_clean(at)
    assert "Tensor fusion and LMF, step by step" in expanders(at)
    assert "lmf_conv" not in charts(at)  # closed: the page does not compute it
    opened(at, "fusion_steps_open")
    assert_clean(at)
    assert [t.label for t in at.tabs] == ["Tensor fusion's cube", "LMF, one rank at a time"]
    # LMF: every rank added; then one rank
    assert step_of(at, "lmf") == 4  # lmf_tiny's rank
    conv = chart(at, "lmf_conv")
    score = next(t for t in conv["data"] if t["name"] == "score after k ranks")
    assert len(values(score["y"])) == 5
    step_slider(at, "lmf").set_value(1)
    at.run()
    assert_clean(at)
    score = next(t for t in chart(at, "lmf_conv")["data"] if t["name"] == "score after k ranks")
    assert len(values(score["y"])) == 2 and at.query_params["lmfk"] == "1"
    assert any(m.label == "fusion parameters at rank 1" for m in at.metric)
    # the cube (lmf_tiny's weight tensor: no TFN in the tiny zoo), veiled above the order
    cube = chart(at, "tfn_cube_fig")
    assert "block: constant" in cube["data"][0]["text"][0][0]
    assert not [s for s in cube["layout"]["shapes"] if s.get("fillcolor")]
    step_slider(at, "tfn").set_value(1)
    at.run()
    assert_clean(at)
    veiled = [s for s in chart(at, "tfn_cube_fig")["layout"]["shapes"] if s.get("fillcolor")]
    assert len(veiled) == 4 and at.query_params["tfnk"] == "1"
    assert any(m.label == "score from blocks of order ≤ 1" for m in at.metric)


def test_fusion_stepper_order_and_link():
    at = open_page("pages/fusion_lab.py", ckpt="lmf_tiny", lmforder="largest", lmfk="2")
    assert_clean(at)
    assert widget(at, "radio", "lmf_order").value == "largest" and step_of(at, "lmf") == 2
    click(at, "lmf_first")
    assert step_of(at, "lmf") == 0
    score = next(t for t in chart(at, "lmf_conv")["data"] if t["name"] == "score after k ranks")
    assert len(values(score["y"])) == 1


# ---- MFM's data flow (missing modalities) ---------------------------------------------------
def test_mfm_flow_renders_and_stepping_and_the_partner_change_it():
    at = open_page("pages/missing.py", ckpt="mfm_tiny")
    assert_clean(at)
    assert "Follow the data through MFM" in expanders(at)
    assert "mfm_flow" not in charts(at)
    opened(at, "mfm_open")
    assert_clean(at)
    assert step_of(at, "mfm") == 4 and at.query_params["stage"] == "4"
    swap = chart(at, "mfm_flow")
    step_slider(at, "mfm").set_value(1)
    at.run()
    assert_clean(at)
    assert [m.value for m in at.markdown if m.value.startswith("**Stage")] == [
        "**Stage 1: the shared factor Z_y, from every observed input together**"
    ]
    assert chart(at, "mfm_flow")["layout"]["images"] != swap["layout"]["images"]
    click(at, "mfm_last")
    widget(at, "number_input", "mfm_partner").set_value(5)
    at.run()
    assert_clean(at)
    assert at.query_params["mate"] == "5"
    assert chart(at, "mfm_flow")["layout"]["images"] != swap["layout"]["images"]
    assert not [
        e for e in expanders(open_page("pages/missing.py", ckpt="mvae_tiny5")) if "MFM" in e
    ]
