"""The Information page's view (mmviz/views/information.py), built without Streamlit:
gradient maps made ready to draw (blank pixels left out, a checkerboard smoothed), and each
section's piece on synthetic numbers, mocks (disentanglement_lib's slow SAP/DCI never runs
here) and the tiny zoo."""

from __future__ import annotations

import numpy as np
import pytest

from mmviz.views.information import checkerboard_share, gradient_maps, smooth_2x2
from tests.test_explore import digits, models, zoo  # noqa: F401


def test_pixels_blank_in_every_image_are_left_out():
    rng = np.random.default_rng(0)
    images = np.zeros((50, 1, 8, 8))
    images[:, :, 2:6, 2:6] = rng.random((50, 1, 4, 4))  # only the centre ever varies
    grad = rng.random((8, 8)) + 10 * np.pad(np.zeros((4, 4)), 2, constant_values=1)  # frame
    view = gradient_maps({"average": grad}, images)
    shown = view.maps["average"]
    assert view.blank_pixels == 64 - 16
    assert np.isnan(shown[0]).all() and np.isnan(shown[:, -1]).all()
    np.testing.assert_allclose(shown[2:6, 2:6], grad[2:6, 2:6])  # smooth maps are untouched
    assert not view.smoothed


def test_a_checkerboard_is_detected_and_smoothed_away():
    yy, xx = np.mgrid[:16, :16]
    board = 1.0 + ((yy + xx) % 2)  # pure alternation
    smooth = np.exp(-((yy - 8) ** 2 + (xx - 8) ** 2) / 20)  # a blob
    assert checkerboard_share(board) > 0.9
    assert checkerboard_share(smooth) < 0.05
    images = np.random.default_rng(1).random((20, 3, 16, 16))
    view = gradient_maps({"a": board + smooth}, images)
    assert view.smoothed
    assert checkerboard_share(view.maps["a"]) < 0.05
    # smoothing keeps the mean and the blob's place
    np.testing.assert_allclose(smooth_2x2(smooth).mean(), smooth.mean(), rtol=0.05)
    assert np.unravel_index(np.argmax(smooth_2x2(smooth)), (16, 16)) in {
        (7, 7),
        (8, 8),
        (7, 8),
        (8, 7),
    }


# ---- the sections' pieces ------------------------------------------------------------------------
def synthetic_report(seed: int = 0):
    """A disentanglement report of 3 latent dims against 2 factors (fast: 300 samples)."""
    from mmviz.interpret.information import disentanglement

    rng = np.random.default_rng(seed)
    digit = rng.integers(0, 4, 300)
    size = rng.random(300)
    z = np.stack([digit + 0.1 * rng.standard_normal(300), size, rng.standard_normal(300)], 1)
    return disentanglement(z, {"digit": digit, "size": size}, {"size": "continuous"})


def test_mi_and_metrics_views():
    from mmviz import report as rep
    from mmviz.views.information import build_metrics_view, build_mi_view

    res = synthetic_report()
    mi = build_mi_view("mvae_x", res)
    assert mi.estimator == res.mi.estimator
    assert mi.figure.layout.title.text.startswith("mvae_x: MI(dimension; factor) / H(factor)")
    np.testing.assert_allclose(
        np.asarray(mi.figure.data[0].z, dtype=float), res.mi.normalized.to_numpy(dtype=float)
    )
    view = build_metrics_view({"a": res, "broken": ValueError("no weights"), "b": res}, 300)
    assert view.left_out == {"broken": "ValueError: no weights"}
    assert list(view.table.index) == ["a", "b"]
    assert view.table.loc["a"].to_dict() == {
        k: v for k, v in rep.disentanglement_row("a", res, 300).items() if k != "checkpoint"
    }
    assert [d.name for d in view.bars.data] == ["MIG", "SAP", "DCI disentanglement"]
    nothing = build_metrics_view({"broken": RuntimeError("x")}, 300)
    assert nothing.table is None and nothing.bars is None and nothing.left_out


def test_comparable_view_sets_disentanglement_libs_numbers_beside_ours():
    from types import SimpleNamespace

    from mmviz.views.information import build_comparable_view

    ours = synthetic_report()
    dci = SimpleNamespace(disentanglement=0.5, completeness=0.4, informativeness=0.9)
    table = build_comparable_view(ours, {"sap": 0.2, "dci": dci})  # a mock: no slow fit here
    assert list(table.columns) == ["this app", "disentanglement_lib"]
    assert list(table.index) == [
        "SAP", "DCI disentanglement", "DCI completeness", "DCI informativeness",
    ]  # fmt: skip
    assert list(table["disentanglement_lib"]) == [0.2, 0.5, 0.4, 0.9]
    assert list(table["this app"]) == [
        ours.sap,
        ours.dci.disentanglement,
        ours.dci.completeness,
        ours.dci.informativeness,
    ]


def test_mfm_information_view():
    import pandas as pd

    from mmviz.views.information import MFM_COLUMNS, build_mfm_information_view

    t = pd.DataFrame(
        [
            {"modality": m, "estimator": "Gaussian (x)", "I_shared": 1.0, "I_specific": 0.5,
             "ratio": 0.5, "n": 10, "extra": 1}
            for m in ("hand", "print")
        ]
    )  # fmt: skip
    view = build_mfm_information_view(t)
    assert list(view.table.columns) == MFM_COLUMNS
    assert [d.name for d in view.figure.data] == ["shared F_y", "specific F_a"]


def test_gradients_view_splits_curves_maps_and_totals():
    from mmviz.views.information import build_gradients_view

    rng = np.random.default_rng(0)
    average = {
        "language": np.arange(1.0, 6.0),
        "face": rng.random((8, 8)),
        "hand": rng.random((1, 8, 8))[0],
        "label": np.array([0.25]),  # one number, no positions
    }
    one = {m: v * 2 for m, v in average.items()}
    images = rng.random((10, 1, 8, 8))
    seen = []

    def test_images(m):
        seen.append(m)
        return images

    words = ["this", "movie", "was", "not", "good"]
    view = build_gradients_view(average, one, 7, ["hand", "face", "language"], test_images, words)
    assert [d.name for d in view.time.data] == ["language · average", "language · sample 7"]
    assert list(view.time.layout.xaxis.ticktext) == [f"{i}·{w}" for i, w in enumerate(words)]
    assert list(view.maps) == ["hand", "face"]  # the model's input order
    figure, shown = view.maps["hand"]
    assert list(shown.maps) == ["hand: average", "hand: sample 7"]
    np.testing.assert_allclose(shown.maps["hand: sample 7"], 2 * shown.maps["hand: average"])
    assert seen == ["hand", "face"]
    assert view.totals == {"label": pytest.approx(0.25)}
    none = build_gradients_view({"hand": average["hand"]}, one, 0, ["hand"], test_images)
    assert none.time is None and not none.totals


def test_gradients_view_of_a_tiny_mfm(models, digits):  # noqa: F811
    from mmviz import report as rep
    from mmviz.views.information import build_gradients_view

    model = models["mfm_tiny"]
    batch = rep.first_test_samples(digits, model.modalities, 4)
    average = rep.mfm_gradients(model, batch).mean
    one = {
        m: v[0]
        for m, v in rep.mfm_gradients(model, {m: t[:1] for m, t in batch.items()}).per_step.items()
    }
    view = build_gradients_view(
        average, one, 0, model.input_modalities, lambda m: np.asarray(batch[m])
    )
    assert list(view.maps) == [m for m in model.input_modalities if m in ("hand", "print")]
    for m, (figure, shown) in view.maps.items():
        assert figure.layout.title.text == f"‖∂F_y/∂{m}‖² per pixel"
        assert shown.maps[f"{m}: average"].ndim == 2


def test_sample_words():
    from types import SimpleNamespace

    import torch

    from mmviz.views.information import sample_words

    specs = {"language": SimpleNamespace(kind="tokens", vocab=["<pad>", "good", "bad"]),
             "visual": SimpleNamespace(kind="sequence", vocab=None)}  # fmt: skip
    x = {"language": torch.tensor([[1, 2, 0]])}
    assert sample_words(x, specs, "sentiment") == ["good", "bad", "·"]
    assert sample_words(x, specs, "digits") is None
    assert sample_words({}, specs, "sentiment") is None


def test_pid_and_drop_views():
    import pandas as pd

    from mmviz import report as rep
    from mmviz.views.information import PID_COLUMNS, build_drop_view, build_pid_view

    rows = [
        {"group": g, "modality1": "language", "modality2": "visual", "redundancy": r,
         "unique1": 0.0, "unique2": 0.0, "synergy": s, "total": r + s, "measure": "broja"}
        for g, r, s in (("redundant", 0.5, 0.1), ("synergy", 0.4, 0.1), ("all", 0.3, 0.3))
    ]  # fmt: skip
    pid = rep.pid_with_truth(pd.DataFrame(rows))
    view = build_pid_view(pid)
    assert view.measure == "broja"
    assert (view.agree, view.checked) == (1, 2)  # "all" is a mixture: nothing to check
    assert list(view.table.columns) == PID_COLUMNS
    assert [a.text for a in view.figure.layout.annotations][:3] == ["redundant", "synergy", "all"]
    metas = {
        "tfn": {"metrics": {"acc2": 0.8, "missing": {"-language": 0.6, "-visual": 0.75}}},
        "old": {"metrics": {}},
    }
    drop = build_drop_view(metas)
    assert list(drop.table.index) == ["tfn"]
    assert drop.table.loc["tfn", "-language"] == pytest.approx(0.2)
    assert list(drop.figure.data[0].y) == ["tfn"]
    empty = build_drop_view({"old": {"metrics": {}}})
    assert empty.table.empty and empty.figure is None
