"""The Cross-modal generation page's view (mmviz/views/crossmodal.py), built without Streamlit
on the tiny zoo: the draws, the class the condition names and the coherence judged against it,
how each modality is shown, and the downloads."""

from __future__ import annotations

import io

import numpy as np
import pytest
import torch
from PIL import Image

from mmviz import explore as ex
from mmviz.data.digits import encode_text
from mmviz.models import UnsupportedSubset
from mmviz.views.crossmodal import (
    CrossmodalSettings,
    build_crossmodal_view,
    file_stem,
    nothing_generated,
)
from tests.test_explore import digits, models, sample, zoo  # noqa: F401


def always(k: int):
    """An oracle that reads class `k` in everything."""
    return lambda x: torch.nn.functional.one_hot(torch.full((x.shape[0],), k), 10).float()


def test_view_holds_the_draws_and_shows_each_modality_its_way(models, sample):  # noqa: F811
    model = models["mvae_tiny5"]
    settings = CrossmodalSettings(("label",), draws=5, seed=1)
    view = build_crossmodal_view(model, sample, settings, {"hand": always(3)})
    ref = ex.cross_modal(model, sample, ["label"], 5, 1, {"hand": always(3)})
    for m in model.modalities:
        np.testing.assert_array_equal(view.draws.samples[m], ref.samples[m])  # seeded
    assert view.draws.samples["hand"].shape == (5, 1, 28, 28)
    assert list(view.modalities) == model.modalities
    shown = {m: v.shown_as for m, v in view.modalities.items()}
    assert shown == {
        "hand": "pictures",
        "print": "pictures",
        "sound": "pictures",
        "label": "label",
        "text": "text",
    }
    assert view.modalities["label"].tag == "given (reconstructed)"
    assert view.modalities["hand"].tag == "generated"
    assert view.modalities["hand"].figure is not None and view.modalities["hand"].judged
    assert not view.modalities["print"].judged
    assert view.modalities["print"].verdicts == ["#1", "#2", "#3", "#4", "#5"]
    text = view.modalities["text"]
    assert text.figure is None and len(text.rows) == 5
    assert view.text("text") == "\n".join(text.rows) + "\n"
    assert not view.nothing_generated
    # another seed, other draws
    other = build_crossmodal_view(model, sample, CrossmodalSettings(("label",), 5, 2))
    assert not np.allclose(other.draws.samples["hand"], view.draws.samples["hand"])


@pytest.mark.parametrize("given", [3, 7])
def test_coherence_is_judged_against_the_given_label(models, sample, given):  # noqa: F811
    model = models["mvae_tiny5"]
    x = {**sample, "label": torch.tensor([given])}
    view = build_crossmodal_view(
        model, x, CrossmodalSettings(("label",), 4, 0, truth=5), {"hand": always(3)}
    )
    assert view.reference == given and view.reference_text == "the given label"  # not truth
    assert view.draws.agreement["hand"] == (1.0 if given == 3 else 0.0)
    tick = " ✓" if given == 3 else ""
    assert view.modalities["hand"].verdicts == [f"3{tick}"] * 4
    assert view.agreement is not None
    bars = view.agreement.data[0]  # the coherence chart shows the same numbers
    assert list(bars.x) == ["hand"] and list(bars.y) == [view.draws.agreement["hand"]]


def test_reference_is_the_test_sample_class_else_what_the_condition_names(
    models,  # noqa: F811
    sample,  # noqa: F811
):
    model = models["mvae_tiny5"]
    judges = {"hand": always(3)}
    # a test sample: its class is the reference when the label is not given
    view = build_crossmodal_view(model, sample, CrossmodalSettings(("print",), 3, truth=5), judges)
    assert view.reference == 5 and view.reference_text == "the test sample's class"
    assert view.draws.agreement["hand"] == 0.0  # 3s are not 5s
    # the user's own input (no truth): a typed phrase names the digit...
    typed = {**sample, "text": torch.from_numpy(encode_text("sieben")[0])[None]}
    view = build_crossmodal_view(model, typed, CrossmodalSettings(("text",), 3), judges)
    assert view.reference == 7 and "names" in view.reference_text
    assert view.draws.agreement["hand"] == 0.0  # never the draws' own majority
    # ...an oracle reads a given drawing...
    view = build_crossmodal_view(model, sample, CrossmodalSettings(("hand",), 3), judges)
    assert view.reference == 3 and "oracle_hand" in view.reference_text
    assert "hand" not in view.draws.agreement  # given, not generated: not part of coherence
    # ...and a phrase naming no digit leaves nothing to compare with
    vague = {**sample, "text": torch.from_numpy(encode_text("hello")[0])[None]}
    view = build_crossmodal_view(model, vague, CrossmodalSettings(("text",), 3), judges)
    assert view.reference is None and view.agreement is None
    assert view.modalities["hand"].verdicts == ["3", "3", "3"]  # read, never ticked


def test_unjudged_modalities_say_why(models, sample):  # noqa: F811
    model = models["mvae_tiny5"]
    view = build_crossmodal_view(
        model, sample, CrossmodalSettings(("label",), 2), {"hand": always(3)}, ["print", "label"]
    )
    assert view.unjudged == {
        "print": "no oracle checkpoint `oracle_print` on disk",
        "text": "no oracle for this kind of modality",
        "sound": "no oracle for this kind of modality",
    }


def test_everything_given_generates_nothing(models, sample):  # noqa: F811
    model = models["jmvae_tiny"]
    view = build_crossmodal_view(model, sample, CrossmodalSettings(("hand", "label"), 2))
    assert view.nothing_generated and nothing_generated(["hand", "label"], ("label", "hand"))
    assert not nothing_generated(["hand", "label"], ("label",))
    assert all(v.tag == "given (reconstructed)" for v in view.modalities.values())
    with pytest.raises(UnsupportedSubset):
        build_crossmodal_view(model, sample, CrossmodalSettings(("print",), 2))


def test_mfm_style_from_the_prior(models, sample):  # noqa: F811
    view = build_crossmodal_view(models["mfm_tiny"], sample, CrossmodalSettings(("hand",), 4))
    assert view.prior_groups == ["print"]


def test_downloads(models, sample):  # noqa: F811
    model = models["mvae_tiny5"]
    view = build_crossmodal_view(model, sample, CrossmodalSettings(("label",), 5, 0))
    im = Image.open(io.BytesIO(view.png("hand")))
    assert im.size == (4 * (8 * 30 - 2), 4 * 28)  # one row of 8 tiles, 3 of them blank
    spec = view.first_draw("sound")
    assert spec.dtype == np.float32 and spec.shape == (32, 32)
    np.testing.assert_array_equal(spec, view.draws.samples["sound"][0, 0])
    s = CrossmodalSettings(("hand", "label"), 8, 42, truth=3)
    assert file_stem("mvae_digits5", 4, s) == "mmviz-mvae_digits5-i4-hand+label-n8-seed42"
