"""Figures of the analysis pages: arrays in, plotly figures out, checked on what they show."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from mmviz.data.base import ModalitySpec
from mmviz.plots import attributions as pa
from mmviz.plots import fusion as pf
from mmviz.plots import information as pi
from mmviz.plots import report as pr

GREY = ModalitySpec("hand", "image", (1, 4, 5), "bernoulli", value_range=(0.0, 1.0))
RGB = ModalitySpec("print", "image", (3, 4, 5), "bernoulli", value_range=(0.0, 1.0))
SPEC = ModalitySpec("sound", "spectrogram", (1, 4, 5), "bernoulli", value_range=(0.0, 1.0))


def z(trace) -> np.ndarray:
    return np.asarray(trace.z, dtype=np.float64)


# ---- attributions ------------------------------------------------------------------------------
def test_overlay_sums_channels_and_is_centred_on_zero():
    rng = np.random.default_rng(0)
    x, a = rng.random((3, 4, 5)), rng.normal(size=(3, 4, 5))
    fig = pa.overlay_figure(x, a, RGB, "print")
    image, heat = fig.data
    assert image.type == "image" and heat.type == "heatmap"
    assert np.allclose(z(heat), a.sum(axis=0))
    assert heat.zmin == -heat.zmax == -np.abs(a.sum(axis=0)).max()
    grey = pa.overlay_figure(x[:1], a[:1], GREY)
    assert np.allclose(z(grey.data[1]), a[0])


def test_spectrogram_overlay_is_flipped_like_the_picture():
    a = np.arange(20, dtype=float).reshape(1, 4, 5)
    fig = pa.overlay_figure(np.zeros((1, 4, 5)), a, SPEC)
    assert np.allclose(z(fig.data[1])[0], a[0, -1])  # the top row is the highest bin


def test_all_zero_attributions_still_draw():
    fig = pa.overlay_figure(np.zeros((1, 4, 5)), np.zeros((1, 4, 5)), GREY)
    assert fig.data[1].zmax > 0


def test_words_figure_colours_each_word():
    fig = pa.words_figure(["not", "good"], np.array([0.5, -2.0]))
    h = fig.data[0]
    assert list(h.text[0]) == ["not", "good"] and list(h.z[0]) == [0.5, -2.0]
    assert h.zmin == -2.0 and h.zmax == 2.0


def test_sequence_figure_per_step_totals():
    a = np.arange(12, dtype=float).reshape(4, 3) - 5
    fig = pa.sequence_figure(a, ["smile", "frown", "nod"], ["a", "b", "c", "d"])
    bar, heat = fig.data
    assert np.allclose(bar.y, a.sum(axis=1))
    assert np.allclose(z(heat), a.T) and list(heat.y) == ["smile", "frown", "nod"]
    assert list(fig.layout.xaxis2.ticktext) == ["a", "b", "c", "d"]
    assert bar.marker.color[0] == "#1f77b4" and bar.marker.color[-1] == "#d62728"
    unnamed = pa.sequence_figure(a, ["only one"])
    assert list(unnamed.data[1].y) == ["f0", "f1", "f2"]


def test_shares_and_shapley_bars():
    s = pa.shares_figure({"hand": 0.25, "text": 0.75}, ["hand", "print", "text"])
    assert list(s.data[0].x) == [0.25, 0.75] and list(s.data[0].text) == ["25%", "75%"]
    assert s.data[0].marker.color[1] == "#2ca02c"  # text's colour in the modality palette
    f = pa.shapley_figure({"hand": 0.4, "text": -0.1}, 1.2, 0.9)
    assert sum(f.data[0].x) == pytest.approx(0.3)
    assert f.layout.meta["sum"] == pytest.approx(0.3)
    assert "Σφ = 0.3 = v(all) − v(∅) = 1.2 − 0.9" in f.layout.title.text


def test_bar_labels_fit_outside_their_bars():
    f = pa.shapley_figure({"hand": 0.004, "text": -139.0, "sound": 12.0}, 0.0, 127.0)
    bar = f.data[0]
    assert bar.textposition == "outside" and bar.cliponaxis is False  # never squeezed or cut
    assert list(bar.text) == ["+0.004", "-139", "+12"]  # the minus is kept
    lo, hi = f.layout.xaxis.range
    assert lo < -139.0 - 0.2 * 151 and hi > 12.0 + 0.2 * 151  # room for the labels both sides
    s = pa.shares_figure({"hand": 1.0})
    assert s.data[0].textposition == "outside" and s.layout.xaxis.range[1] > 1.1  # "100%" fits


# ---- information ---------------------------------------------------------------------------------
def test_mi_heatmap_axes():
    df = pd.DataFrame([[0.1, 0.9], [0.5, np.nan]], index=["z[0]", "z[1]"], columns=["class", "hue"])
    h = pi.mi_heatmap(df).data[0]
    assert list(h.x) == ["class", "hue"] and list(h.y) == ["z[0]", "z[1]"]
    assert h.zmax == pytest.approx(0.9) and h.zmin == 0


def test_factor_information_bars():
    t = pd.DataFrame(
        [
            {"modality": "hand", "estimator": "Gaussian (x)", "I_shared": 0.2, "I_specific": 1.0},
            {"modality": "print", "estimator": "Gaussian (x)", "I_shared": 0.4, "I_specific": 0.3},
        ]
    )
    fig = pi.factor_information_figure(t)
    assert [d.name for d in fig.data] == ["shared F_y", "specific F_a"]
    assert list(fig.data[1].y) == [1.0, 0.3]
    both = pd.concat([t, t.assign(estimator="KSG kNN (k=3)")])
    assert len(pi.factor_information_figure(both).data) == 4


def test_gradient_figures():
    curves = {
        "average": {"language": np.ones(5), "visual": np.arange(1, 6)},
        "sample 3": {"language": np.full(5, 2.0)},
    }
    fig = pi.gradient_time_figure(curves, list("abcde"))
    assert [d.name for d in fig.data] == [
        "language · average",
        "visual · average",
        "language · sample 3",
    ]
    assert fig.data[2].line.dash == "dash" and fig.data[0].line.color == fig.data[2].line.color
    assert fig.layout.yaxis.type == "log"
    maps = pi.gradient_map_figure({"avg": np.ones((1, 3, 4)), "one": np.zeros((3, 4))})
    assert len(maps.data) == 2 and z(maps.data[0]).shape == (3, 4)


def test_pid_figure_stacks_terms_and_marks_truth():
    t = pd.DataFrame(
        [
            {
                "group": g,
                "modality1": "language",
                "modality2": "visual",
                "redundancy": 0.5,
                "unique1": 0.1,
                "unique2": 0.0,
                "synergy": 0.2,
                "total": 0.8,
                "truth": "redundancy",
                "agrees": ok,
            }
            for g, ok in (("redundant", True), ("synergy", False))
        ]
    )
    fig = pi.pid_figure(t)
    bars = [d for d in fig.data if d.type == "bar"]
    assert len(bars) == 8 and fig.layout.barmode == "stack"
    marks = [d.text for d in fig.data if d.type == "scatter"]
    assert list(marks[0]) == ["redundancy ✓"] and list(marks[1]) == ["redundancy ✗"]
    assert [a.text for a in fig.layout.annotations] == ["redundant", "synergy"]


def test_missing_drop_heatmap():
    t = pd.DataFrame({"-language": [0.2, 0.05], "-visual": [0.0, -0.01]}, index=["tfn", "lmf"])
    h = pi.missing_drop_figure(t).data[0]
    assert list(h.y) == ["tfn", "lmf"] and h.text[0][0] == "+20.0%"
    assert h.zmax == pytest.approx(0.2) and h.zmin == pytest.approx(-0.2)
    # a model with no figure for a missing set shows n/a, never "+nan%"
    gap = pd.DataFrame({"-language": [0.2, float("nan")]}, index=["tfn", "mfm"])
    assert [row[0] for row in pi.missing_drop_figure(gap).data[0].text] == ["+20.0%", "n/a"]


# ---- fusion lab --------------------------------------------------------------------------------
def test_traces_with_clean_reference():
    x = np.arange(6, dtype=float).reshape(3, 2)
    fig = pf.traces_figure(x + 1, ["smile", "frown"], ["a", "b", "c"], clean=x)
    assert len(fig.data) == 4 and fig.data[0].showlegend is False
    assert list(fig.data[2].y) == [1, 3, 5] and fig.data[2].name == "smile"
    assert len(pf.traces_figure(x, ["smile", "frown"]).data) == 2


def test_scores_figure():
    t = pd.DataFrame(
        {
            "model": ["a", "b"],
            "kind": ["tfn", "lmf"],
            "clean score": [1.0, -1.0],
            "score": [0.5, -2.0],
        }
    )
    fig = pf.scores_figure(t, truth=1.5)
    assert list(fig.data[1].y) == [0.5, -2.0] and list(fig.data[1].text) == ["+0.50", "-2.00"]
    assert list(fig.data[1].marker.color) == ["#d62728", "#1f77b4"]
    assert any(s.y0 == 1.5 for s in fig.layout.shapes)
    # the values are written under the axis, never on the bars where the truth line runs
    assert fig.data[1].textposition == "none"
    assert list(fig.layout.xaxis.ticktext) == ["a<br><b>+0.50</b>", "b<br><b>-2.00</b>"]


def test_params_bench_rank_interaction_figures():
    t = pd.DataFrame({"rank": [1, 2, 4], "tfn": [1000, 1000, 1000], "lmf": [10, 20, 40]})
    fig = pf.params_figure(t, "rank", mark=2)
    assert [d.name for d in fig.data] == ["TFN", "LMF"] and fig.layout.yaxis.type == "log"
    b = pf.bench_figure({"fusion_params": 100.0, "train": 0.8, "inference": 2.0})
    assert list(b.data[0].x) == [100.0, 0.8, 2.0]
    assert list(b.data[0].marker.color) == ["#1f77b4", "#d62728", "#1f77b4"]
    s = pd.DataFrame(
        {"rank": [1, 4], "acc2": [0.7, 0.8], "acc2_std": [0.01, np.nan], "fusion_params": [10, 40]}
    )
    r = pf.rank_figure(s)
    assert list(r.data[0].error_y.array) == [0.01, 0.0]
    inter = pd.DataFrame({"redundant": [0.9, 0.8], "synergy": [0.5, 0.7]}, index=["t", "l"])
    f = pf.interaction_figure(inter, {"t": "tfn", "l": "lmf"})
    assert [d.name for d in f.data] == ["t", "l"] and f.data[0].marker.color == "#d62728"


# ---- report --------------------------------------------------------------------------------------
def test_curves_figure():
    phases = {
        "main": pd.DataFrame({"epoch": [1, 2], "train_loss": [2.0, 1.0], "valid_loss": [2.5, 1.5]})
    }
    fig = pr.curves_figure(phases)
    assert [d.name for d in fig.data] == ["main · train", "main · valid"]
    assert fig.data[1].line.dash == "dash"


def test_robustness_heatmap_tells_each_accuracy_once():
    t = pd.DataFrame(
        {"hand": [True, True, False], "print": [True, False, True], "accuracy": [0.9, 0.8, np.nan]},
        index=["hand+print", "hand", "print"],
    )
    fig = pr.robustness_heatmap(t, ["hand", "print"], "label accuracy per observed subset")
    pattern, bars = fig.data
    assert z(pattern).tolist() == [[1, 1], [1, 0], [0, 1]]  # which modalities each row sees
    assert list(pattern.text[1]) == ["●", ""] and list(pattern.y) == list(t.index)
    # one accuracy per row, written once (a row never repeats its value across columns)
    assert list(bars.y) == list(t.index) and list(bars.text) == ["90.0%", "80.0%", "n/a"]
    assert not any("%" in c for row in pattern.text for c in row)
    assert fig.layout.margin.t >= 34 + 60  # title above the top axis's labels and title


def test_coherence_heatmap():
    m = pd.DataFrame([[0.5, np.nan]], index=["hand"], columns=["label", "hand"])
    h = pr.coherence_heatmap(m).data[0]
    assert list(h.y) == ["hand"] and list(h.text[0]) == ["50%", ""]


def legend_clear_of_title(fig) -> bool:
    """The legend lies in rows at the figure's foot (figure coordinates), the title at its top:
    they cannot overlap, and the bottom margin holds the legend's rows."""
    lg = fig.layout.legend
    return (
        lg.orientation == "h"
        and lg.yref == "container"
        and lg.y == 0
        and lg.yanchor == "bottom"
        and fig.layout.margin.b >= 40 + 22
    )


def test_titled_charts_keep_their_legends_below():
    info = pd.DataFrame(
        {
            "modality": ["hand", "print"],
            "I_shared": [0.5, 0.2],
            "I_specific": [1.0, 0.3],
            "estimator": ["Gaussian", "Gaussian"],
        }
    )
    curves = {"average": {"language": np.ones(5)}, "this sample": {"language": np.ones(5)}}
    phases = {
        "main": pd.DataFrame({"epoch": [1, 2], "train_loss": [2.0, 1.0], "valid_loss": [2.5, 1.5]})
    }
    scores = pd.DataFrame({"model": ["a"], "kind": ["tfn"], "clean score": [1.0], "score": [0.5]})
    figs = [
        pi.factor_information_figure(info, "information in the generated modalities"),
        pi.gradient_time_figure(curves, list("abcde"), "gradient over time"),
        pi.metric_bars(
            pd.DataFrame({"MIG": [0.1], "SAP": [0.2]}, index=["m"]),
            ["MIG", "SAP"],
            "disentanglement",
        ),
        pr.curves_figure(phases, "training curves"),
        pf.scores_figure(scores, truth=1.0, title="scores"),
    ]
    for fig in figs:
        assert fig.layout.title.text and legend_clear_of_title(fig), fig.layout.title.text
    many = pd.DataFrame(
        {
            "MIG": [0.1],
            "SAP": [0.2],
            "DCI disentanglement": [0.3],
            "DCI completeness": [0.3],
            "DCI informativeness": [0.3],
            "modularity": [0.3],
            "explicitness": [0.3],
        },
        index=["m"],
    )
    wide = pi.metric_bars(many, list(many.columns), "many")
    assert wide.layout.margin.b > figs[2].layout.margin.b  # more rows, more room


def test_no_figure_uses_streamlits_placeholder_colours():
    """Streamlit's chart theme swaps colours #000000..#0000ff (its placeholders) for theme
    colours in the browser: a scale using one is drawn wrong (Inferno's #000004 came out pink).
    Every colour in every plotting module must stay outside that range."""
    import re
    from pathlib import Path

    import mmviz.plots as plots_package
    from mmviz.plots import information

    placeholder = re.compile(r"#0000[0-9a-fA-F]{2}\b")
    for path in Path(plots_package.__file__).parent.glob("*.py"):
        assert not placeholder.search(path.read_text()), path.name
    assert information.INFERNO[0][1] == "#010004"
    fig = information.gradient_map_figure({"a": np.random.default_rng(0).random((4, 4))})
    # the template is left out: once Streamlit is imported, its own theme template (which uses
    # the placeholders on purpose) is plotly's default, and our figures do not set one
    figure = json.loads(fig.to_json())
    figure["layout"].pop("template", None)
    assert not placeholder.search(json.dumps(figure))
