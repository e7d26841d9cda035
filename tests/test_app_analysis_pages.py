"""The analysis pages (attributions, information, fusion lab, model report) through AppTest.

A tiny zoo: the tiny checkpoints of mmviz/tinyzoo.py copied into a folder of our own, plus
tiny TFN, early and late fusion and a sentiment MFM, quick evaluation metrics in their
meta.json, and results/ files for the fusion lab. Checks: every page runs on every checkpoint it
applies to (and says plainly when one does not); every target kind and every attribution
method runs; changing the method or the target changes the figure; the Shapley bar sums to
the stated total; the report's CSV/JSON downloads hold the metrics and the checksum is
verified; the fusion lab's parameter counts equal the real modules'.
"""

from __future__ import annotations

import base64
import json
import os
import shutil
import time
from pathlib import Path

import numpy as np
import pytest
import torch
from streamlit.testing.v1 import AppTest

from mmviz.tinyzoo import build_tiny_zoo

APP = str(Path(__file__).resolve().parent.parent / "app.py")
FUSION = {"embed_dim": 8, "token_dim": 8, "sequence_dim": 8, "fusion_dim": 8}
EXTRA = {  # id -> (model, overrides), all on sentiment
    "tfn_tiny": ("tfn", FUSION),
    "early_tiny": ("early_fusion", FUSION),
    "late_tiny": ("late_fusion", FUSION),
    "mfm_sent_tiny": (
        "mfm",
        {
            "zy_dim": 4,
            "za_dim": 2,
            "hidden": 16,
            "factor_dim": 8,
            "target": "score",
            "num_classes": 0,
            "recurrent": True,
        },
    ),
}
COPIED = ("mvae_tiny5", "jmvae_tiny", "mfm_tiny", "lmf_tiny")
EVALUATED = ("jmvae_tiny", "lmf_tiny", "tfn_tiny", "early_tiny", "late_tiny")
DIGITS_GEN = ["mvae_tiny5", "jmvae_tiny", "mfm_tiny"]
FUSION_IDS = ["lmf_tiny", "tfn_tiny", "early_tiny", "late_tiny"]
ORACLES = ["oracle_hand", "oracle_print", "oracle_text", "oracle_sound"]
PAGES = {
    "attributions": "pages/attributions.py",
    "information": "pages/information.py",
    "fusion_lab": "pages/fusion_lab.py",
    "report": "pages/report.py",
}
RANK_ROWS = [
    {
        "rank": r,
        "seed": s,
        "acc2": 0.7 + 0.01 * r + 0.005 * s,
        "mae": 1.0 - 0.01 * r,
        "corr": 0.5,
        "fusion_params": 100 * r,
    }
    for r in (1, 2, 4)
    for s in (0, 1)
]


def build_analysis_zoo(base: Path) -> Path:
    """Our own zoo folder `base/zoo` (results in `base/results`)."""
    from mmviz.checkpoint import update_meta
    from mmviz.evaluate import evaluate_model, evaluation_dataset
    from mmviz.train import TrainSettings, run_training

    torch.set_num_threads(1)
    tiny = build_tiny_zoo(str(base.parent / "tiny_zoo"))
    root = base / "zoo"
    root.mkdir(parents=True, exist_ok=True)
    for cid in COPIED:
        if not (root / cid).exists():
            shutil.copytree(tiny / cid, root / cid)
    for cid in ORACLES:
        src = tiny / cid
        if src.exists() and not (root / cid).exists():
            os.symlink(src.resolve(), root / cid)
    settings = TrainSettings(epochs=1, max_steps=5, batch_size=32)
    for cid, (model, overrides) in EXTRA.items():
        if not (root / cid / "config.json").exists():
            run_training(
                model,
                "sentiment",
                None,
                root / cid,
                overrides,
                settings,
                evaluate=False,
                progress=False,
            )
    import mmviz.checkpoint as C

    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("MMVIZ_CHECKPOINTS", str(root))  # evaluation finds the oracles by id
        for cid in EVALUATED:
            ck = C.load_checkpoint(root / cid)
            if not (ck.meta.get("metrics") or {}):
                update_meta(
                    root / cid, metrics=evaluate_model(ck.model, evaluation_dataset(ck), quick=True)
                )
    results = base / "results"
    results.mkdir(exist_ok=True)
    bench = {
        "sizes": "tiny",
        "config": {"tfn": {"token_dim": 8, "sequence_dim": 8, "fusion_dim": 8, "dims": {}}},
        "batch_size": 32,
        "repeats": 1,
        "steps": 2,
        "threads": 1,
        "tfn": {
            "fusion_params": 5840,
            "total_params": 8209,
            "train_samples_per_s": 1000.0,
            "infer_samples_per_s": 5000.0,
        },
        "lmf": {
            "fusion_params": 876,
            "total_params": 3245,
            "train_samples_per_s": 1500.0,
            "infer_samples_per_s": 9000.0,
        },
        "ratios": {
            "fusion_params": 5840 / 876,
            "total_params": 8209 / 3245,
            "train": 1.5,
            "inference": 1.8,
        },
    }
    (results / "fusion_bench.json").write_text(json.dumps(bench))
    (results / "lmf-rank.json").write_text(json.dumps({"study": "lmf-rank", "rows": RANK_ROWS}))
    return root


@pytest.fixture(scope="module", autouse=True)
def zoo(tmp_path_factory):
    """Point the app at our zoo and its results for this module only (environment variables,
    read at call time by mmviz.paths)."""
    root = build_analysis_zoo(tmp_path_factory.getbasetemp() / "analysis_zoo")
    mp = pytest.MonkeyPatch()
    use_root(mp, root)
    yield root
    mp.undo()


def use_root(monkeypatch, root: Path) -> None:
    """Point the app at checkpoint folder `root` and at the results folder beside it."""
    monkeypatch.setenv("MMVIZ_CHECKPOINTS", str(root))
    monkeypatch.setenv("MMVIZ_RESULTS", str(root.parent / "results"))


def open_page(page: str, **params: str) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=120)
    at.query_params.update(params)
    at.run()
    at.switch_page(PAGES[page])
    at.run()
    return at


def messages(at: AppTest, kind: str) -> str:
    return " | ".join(str(e.value) for e in at.get(kind))


def assert_clean(at: AppTest) -> None:
    assert not at.exception, [e.value for e in at.exception]
    assert not at.error, messages(at, "error")


def charts(at: AppTest) -> dict[str, dict]:
    return {c.proto.id.rsplit("-", 1)[-1]: json.loads(c.proto.spec) for c in at.get("plotly_chart")}


def values(v) -> np.ndarray:
    """A plotly JSON array: a list, or plotly's typed array {"dtype", "bdata"} (base64)."""
    if isinstance(v, dict) and "bdata" in v:
        a = np.frombuffer(base64.b64decode(v["bdata"]), dtype=v["dtype"])
        return a.reshape(v["shape"]) if "shape" in v else a
    return np.asarray(v)


def widget(at: AppTest, kind: str, key: str):
    hits = [w for w in at.get(kind) if getattr(w, "key", None) == key]
    assert hits, f"no {kind} with key {key!r}"
    return hits[0]


def metric(at: AppTest, label: str) -> str:
    hits = [m.value for m in at.metric if m.label == label]
    assert hits, f"no metric {label!r}; have {[m.label for m in at.metric]}"
    return hits[0]


# ---- every page on every checkpoint it applies to ---------------------------------------------
APPLIES = {
    "attributions": DIGITS_GEN + FUSION_IDS + ["mfm_sent_tiny"] + ORACLES,
    "information": DIGITS_GEN + FUSION_IDS + ["mfm_sent_tiny"],
    "fusion_lab": FUSION_IDS,
    "report": DIGITS_GEN + FUSION_IDS + ["mfm_sent_tiny"] + ORACLES,
}


@pytest.mark.parametrize(
    "page,cid",
    [(p, c) for p, ids in APPLIES.items() for c in ids],
)
def test_page_runs_on_every_checkpoint_it_applies_to(zoo, page, cid):
    if cid.startswith("oracle_") and not (zoo / cid).exists():
        pytest.skip(f"no {cid} in this zoo")
    at = open_page(page, ckpt=cid)
    assert not at.exception, [e.value for e in at.exception]
    errors = messages(at, "error")
    assert not errors, errors
    assert widget(at, "selectbox", "ckpt").value == cid
    assert "does not apply" not in messages(at, "warning")
    assert charts(at), "every page draws at least one figure"


@pytest.mark.parametrize(
    "page,cid,why",
    [
        ("information", "oracle_hand", "oracle classifier"),
        ("fusion_lab", "mfm_sent_tiny", "the lab compares the sentiment fusion models"),
    ],
)
def test_page_says_when_a_checkpoint_does_not_apply(zoo, page, cid, why):
    if not (zoo / cid).exists():
        pytest.skip(f"no {cid}")
    at = open_page(page, ckpt=cid)
    assert not at.exception
    warning = messages(at, "warning")
    assert f"**{cid}** does not apply to this page" in warning and why in warning
    assert widget(at, "selectbox", "ckpt").value != cid


def test_fusion_lab_switches_from_a_digits_checkpoint_with_a_note():
    at = open_page("fusion_lab", ckpt="mvae_tiny5")
    assert_clean(at)
    assert "does not apply" not in messages(at, "warning")  # a page change, not a mistake
    note = messages(at, "info")
    assert "The fusion lab compares sentiment fusion models" in note
    assert "**mvae_tiny5** is a mvae checkpoint of `digits`" in note
    assert widget(at, "selectbox", "ckpt").value in FUSION_IDS


def test_sections_that_do_not_apply_say_so():
    at = open_page("information", ckpt="lmf_tiny")
    assert_clean(at)
    text = messages(at, "info")
    assert "has no latent space" in text and "for MFM checkpoints" in text
    assert "info_pid" in charts(at) and "info_drop" in charts(at)
    at = open_page("information", ckpt="mvae_tiny5")
    assert "`digits` has none" in messages(at, "info")


# ---- attributions: every target kind and every method --------------------------------------------
TARGETS = {  # checkpoint -> target kinds the page must offer
    "mvae_tiny5": ["prediction", "class", "generated", "latent", "region"],
    "jmvae_tiny": ["prediction", "class", "generated", "latent", "region"],
    "mfm_tiny": ["prediction", "class", "generated", "latent", "region"],
    "mfm_sent_tiny": ["prediction", "latent"],
    "lmf_tiny": ["prediction"],
    "oracle_hand": ["prediction", "class"],
}


@pytest.mark.parametrize("cid", list(TARGETS))
def test_every_target_kind_runs_and_changes_the_figure(zoo, cid):
    if not (zoo / cid).exists():
        pytest.skip(f"no {cid}")
    at = open_page("attributions", ckpt=cid)
    assert_clean(at)
    box = widget(at, "selectbox", "att_target")
    assert list(box.options) == [
        {
            "prediction": "the prediction (the predicted class, or the score)",
            "class": "another class of the prediction",
            "generated": "a class's log-probability in a cross-modal generation",
            "latent": "a latent dimension",
            "region": "a region of a generated image",
        }[k]
        for k in TARGETS[cid]
    ]
    seen = []
    for kind in TARGETS[cid]:
        widget(at, "selectbox", "att_target").set_value(kind)
        at.run()
        assert_clean(at)
        figs = charts(at)
        heat = {
            k: v
            for k, v in figs.items()
            if k.startswith("att_") and k not in ("att_shares", "att_shapley")
        }
        whole = {m.label: m.value for m in at.metric if "whole input" in m.label}
        assert heat or whole, f"{kind}: nothing shows where the attributions are"
        seen.append(json.dumps([heat, whole, metric(at, "target f(x)")], sort_keys=True))
    assert len(set(seen)) == len(seen), "each target gives different attributions"


@pytest.mark.parametrize("cid", ["mvae_tiny5", "lmf_tiny", "oracle_text"])
def test_every_method_runs_and_changes_the_figure(zoo, cid):
    if not (zoo / cid).exists():
        pytest.skip(f"no {cid}")
    from mmviz.interpret.attributions import METHODS

    at = open_page("attributions", ckpt=cid)
    assert_clean(at)
    offered = list(widget(at, "selectbox", "att_method").options)
    if cid == "oracle_text":  # an EmbeddingBag: perturbation methods only, said plainly
        assert offered == ["Occlusion", "FeatureAblation", "ShapleyValueSampling"]
        assert "without an nn.Embedding" in " ".join(c.value for c in at.caption)
    else:
        assert offered == list(METHODS)
    seen = {}
    for method in offered:
        widget(at, "selectbox", "att_method").set_value(method)
        at.run()
        if method in ("FeatureAblation", "ShapleyValueSampling") and cid == "mvae_tiny5":
            widget(at, "number_input", f"att_p_{method}_image_patch").set_value(7)
            at.run()
        assert_clean(at)
        fig = {k: v for k, v in charts(at).items() if k != "att_shapley"}
        seen[method] = json.dumps(fig, sort_keys=True)
        delta = metric(at, "convergence delta δ")
        assert (delta != "—") == METHODS[method].has_delta
    assert len(set(seen.values())) == len(seen), "each method gives a different figure"


def test_changing_a_method_parameter_and_the_region_changes_the_figure():
    at = open_page("attributions", ckpt="mvae_tiny5", target="region")
    assert_clean(at)
    assert "att_hand" not in charts(at)  # the target's own modality is not an input
    before = charts(at)["att_print"]
    widget(at, "slider", "att_rows").set_value((0, 6))
    at.run()
    assert_clean(at)
    assert "rows 0:6" in " ".join(s.value for s in at.subheader)
    assert charts(at)["att_print"] != before
    at = open_page("attributions", ckpt="mvae_tiny5", method="IntegratedGradients")
    d8 = metric(at, "convergence delta δ")
    fig8 = charts(at)["att_hand"]
    widget(at, "number_input", "att_p_IntegratedGradients_n_steps").set_value(4)
    widget(at, "selectbox", "att_p_IntegratedGradients_method").set_value("riemann_left")
    at.run()
    assert_clean(at)
    assert charts(at)["att_hand"] != fig8
    assert metric(at, "convergence delta δ") != d8
    # no two controls read alike ("Method" and "method" did)
    labels = [
        w.label.lower() for kind in ("selectbox", "number_input", "checkbox") for w in at.get(kind)
    ]
    assert len(labels) == len(set(labels)), labels


def test_shapley_bar_sums_to_the_stated_total():
    for cid in ("mvae_tiny5", "lmf_tiny"):
        at = open_page("attributions", ckpt=cid)
        assert_clean(at)
        fig = charts(at)["att_shapley"]
        bars = fig["data"][0]["x"]
        meta = fig["layout"]["meta"]
        assert sum(bars) == pytest.approx(meta["v_all"] - meta["v_empty"], abs=1e-6)
        assert sum(bars) == pytest.approx(meta["sum"], abs=1e-9)
        title = fig["layout"]["title"]["text"]
        assert f"{meta['sum']:.4g}" in title and f"{meta['v_all']:.4g}" in title
        caption = next(c.value for c in at.caption if c.value.startswith("Exact Shapley"))
        assert f"Sum **{meta['sum']:.4g}**" in caption
        n = len(fig["data"][0]["y"])
        assert f"over {n} modalities ({2**n} coalitions)" in caption
        assert fig["data"][0]["textposition"] == "outside" and fig["data"][0]["cliponaxis"] is False
        fx0 = float(metric(at, "at the baseline f(x′)"))
        why = [c.value for c in at.caption if c.value.startswith("Why f(x′)")]
        if abs(fx0 - meta["v_empty"]) > 0.01 * max(1.0, abs(meta["v_empty"])):
            assert why and f"v(∅) = {meta['v_empty']:.4g}" in why[0]  # said when they differ


def test_shapley_that_cannot_be_computed_says_why(zoo):
    at = open_page("attributions", ckpt="mfm_sent_tiny")
    assert_clean(at)
    warning = messages(at, "warning")
    assert "Exact modality Shapley values need the target from every subset" in warning
    assert "no surrogate inference network" in warning
    assert "att_shapley" not in charts(at) and "att_language" in charts(at)
    if (zoo / "oracle_hand").exists():
        at = open_page("attributions", ckpt="oracle_hand")
        assert_clean(at)
        assert "reads only `hand`" in messages(at, "info")
        assert any(c.value.startswith("Trivially 100%: **hand**") for c in at.caption)


def test_unticking_a_modality_removes_it_from_attributions_and_shapley():
    at = open_page("attributions", ckpt="mvae_tiny5")
    assert set(charts(at)["att_shapley"]["data"][0]["y"]) == {"hand", "print", "text", "sound"}
    widget(at, "checkbox", "att_obs_print").uncheck()
    widget(at, "checkbox", "att_obs_sound").uncheck()
    at.run()
    assert_clean(at)
    figs = charts(at)
    assert set(figs["att_shapley"]["data"][0]["y"]) == {"hand", "text"}
    assert "att_print" not in figs and "att_hand" in figs
    assert at.query_params["obs"] == "hand,text"


def test_query_params_restore_the_attribution_view():
    at = open_page("attributions", ckpt="mvae_tiny5", target="latent", method="Saliency")
    assert_clean(at)
    assert widget(at, "selectbox", "att_target").value == "latent"
    assert widget(at, "selectbox", "att_method").value == "Saliency"
    assert "posterior mean of z[0]" in " ".join(s.value for s in at.subheader)
    at = open_page("attributions", ckpt="lmf_tiny", target="region", method="Nonsense")
    assert_clean(at)  # what does not apply falls back to what does
    assert widget(at, "selectbox", "att_target").value == "prediction"
    assert widget(at, "selectbox", "att_method").value == "IntegratedGradients"


def test_own_words_are_attributed():
    at = open_page("attributions", ckpt="lmf_tiny", source="own")
    widget(at, "text_input", "aown_language_text").input("this movie was not good")
    at.run()
    assert_clean(at)
    words = charts(at)["att_language"]["data"][0]["text"][0]
    assert words == ["this", "movie", "was", "not", "good"]
    assert widget(at, "checkbox", "att_obs_visual").value is False  # not given


# ---- information ---------------------------------------------------------------------------------
def test_information_mi_matrix_table_and_cache(zoo):
    at = open_page("information", ckpt="mvae_tiny5")
    assert_clean(at)
    mi = charts(at)["info_mi"]
    assert len(mi["data"][0]["y"]) == 8 and "class" in mi["data"][0]["x"]
    assert "hand_index" not in mi["data"][0]["x"]  # bookkeeping ids are left out
    table = at.dataframe[0].value
    assert set(DIGITS_GEN) <= set(table.index)
    assert {"MIG", "SAP", "DCI disentanglement", "DCI completeness"} <= set(table.columns)
    t0 = time.perf_counter()
    at.run()
    assert time.perf_counter() - t0 < 5
    assert "(from the cache)" in " ".join(c.value for c in at.caption)


def test_information_labels_its_estimators_and_offers_the_comparable_mode(zoo):
    """The table's SAP/DCI are labelled as this app's estimators; disentanglement_lib's
    definitions are computed on demand, beside them, and then served from the cache."""
    at = open_page("information", ckpt="mvae_tiny5")
    assert_clean(at)
    captions = " ".join(c.value for c in at.caption)
    assert "This app's estimators" in captions and "LinearSVC(C=0.01)" in captions
    assert "GradientBoostingClassifier" in captions
    assert not [d for d in at.dataframe if "disentanglement_lib" in d.value.columns]  # on demand
    at.toggle(key="info_dlib").set_value(True).run(timeout=600)
    assert_clean(at)
    table = at.dataframe[-1].value
    assert list(table.columns) == ["this app", "disentanglement_lib"]
    assert list(table.index) == [
        "SAP", "DCI disentanglement", "DCI completeness", "DCI informativeness",
    ]  # fmt: skip
    assert np.isfinite(table.to_numpy()).all()
    at.run()
    assert "disentanglement_lib's SAP and DCI of mvae_tiny5: ready" in " ".join(
        c.value for c in at.caption
    )
    assert (
        "(from the cache)"
        in [c.value for c in at.caption if "disentanglement_lib's" in c.value][-1]
    )


def test_information_mfm_views():
    at = open_page("information", ckpt="mfm_tiny")
    assert_clean(at)
    figs = charts(at)
    assert {"info_mfm_mi", "info_grad_hand", "info_grad_print"} <= set(figs)
    names = [t["name"] for t in figs["info_mfm_mi"]["data"]]
    assert names == ["shared F_y", "specific F_a"]
    cells = [str(v) for d in at.dataframe for v in d.value.to_numpy().ravel()]
    assert any(c.startswith("Gaussian (log-det") for c in cells)
    at = open_page("information", ckpt="mfm_sent_tiny")
    assert_clean(at)
    grad = charts(at)["info_grad_time"]
    assert {t["name"] for t in grad["data"]} >= {"language · average", "visual · average"}
    assert values(grad["data"][0]["y"]).shape == (20,)  # one value per time step


def test_information_pid_beside_truth_and_missing_drop():
    at = open_page("information", ckpt="tfn_tiny")
    assert_clean(at)
    figs = charts(at)
    pid = figs["info_pid"]
    panels = [a["text"] for a in pid["layout"]["annotations"]]
    assert panels[:6] == [
        "redundant",
        "unique_language",
        "unique_visual",
        "unique_acoustic",
        "synergy",
        "negation",
    ]
    marks = [t for d in pid["data"] if d.get("mode") == "text" for t in d["text"]]
    assert any(m.startswith("redundancy") for m in marks)
    assert any(m.startswith("synergy") for m in marks)
    drop = figs["info_drop"]
    assert set(drop["data"][0]["y"]) >= set(FUSION_IDS)
    assert "-language" in drop["data"][0]["x"]


# ---- fusion lab ----------------------------------------------------------------------------------
def test_fusion_lab_param_counts_equal_the_modules():
    from mmviz.data.random_inputs import sentiment_like_specs
    from mmviz.models.fusion import LMF, TFN, FusionConfig, LMFConfig

    at = open_page("fusion_lab", ckpt="lmf_tiny")
    assert_clean(at)
    captions = " | ".join(c.value for c in at.caption)
    assert "(d_language = 8, d_visual = 8, d_acoustic = 8, d_h = 8): **lmf_tiny**'s own" in captions
    assert "are the ones set above: the same TFN count" in captions  # the bench's sizes too
    for lang, vis, aco, d_h, rank in [(8, 8, 8, 8, 4), (17, 5, 9, 12, 3)]:
        widget(at, "slider", "lab_d_language").set_value(lang)
        widget(at, "slider", "lab_d_visual").set_value(vis)
        widget(at, "slider", "lab_d_acoustic").set_value(aco)
        widget(at, "slider", "lab_dh").set_value(d_h)
        widget(at, "slider", "lab_rank").set_value(rank)
        at.run()
        assert_clean(at)
        shown = {
            k: int(metric(at, f"{k.upper()} fusion parameters").replace(",", ""))
            for k in ("tfn", "lmf")
        }
        specs = sentiment_like_specs()
        dims = {"language": lang, "visual": vis, "acoustic": aco}
        tfn = TFN(FusionConfig(dims=dims, fusion_dim=d_h), specs)
        lmf = LMF(LMFConfig(dims=dims, fusion_dim=d_h, rank=rank), specs)
        assert shown == {"tfn": tfn.fusion_parameter_count(), "lmf": lmf.fusion_parameter_count()}
    captions = " | ".join(c.value for c in at.caption)
    assert f"Why TFN has 5,840 fusion parameters here and {shown['tfn']:,} above" in captions
    assert "(d_language = 8, d_visual = 8, d_acoustic = 8, d_h = 8)" in captions
    widget(at, "button", "lab_check").click()
    at.run()
    assert_clean(at)
    assert "✓ equal to the formulas" in messages(at, "success"), [
        (e.type, str(getattr(e, "value", ""))[:200]) for e in at.main
    ][:40]


def test_fusion_lab_toggles_and_noise_change_scores():
    at = open_page("fusion_lab", ckpt="lmf_tiny")
    assert_clean(at)
    fig = charts(at)["lab_scores"]
    assert set(fig["data"][1]["x"]) == set(FUSION_IDS)
    clean, as_set = fig["data"][0]["y"], fig["data"][1]["y"]
    assert clean == pytest.approx(as_set)
    widget(at, "checkbox", "lab_on_language").uncheck()
    widget(at, "select_slider", "lab_snr_visual").set_value(-10)
    at.run()
    assert_clean(at)
    after = charts(at)["lab_scores"]
    assert after["data"][0]["y"] == pytest.approx(clean)  # clean scores stay
    assert after["data"][1]["y"] != pytest.approx(as_set)
    assert "SNR -10 dB" in charts(at)["lab_trace_visual"]["layout"]["title"]["text"]
    assert at.query_params["on_language"] == "0" and at.query_params["snr_visual"] == "-10"
    widget(at, "checkbox", "lab_on_visual").uncheck()
    widget(at, "checkbox", "lab_on_acoustic").uncheck()
    at.run()
    assert not at.exception
    assert "Switch on at least one modality" in messages(at, "info")


def test_fusion_lab_reads_results_and_says_how_to_make_them(zoo, tmp_path, monkeypatch):
    at = open_page("fusion_lab", ckpt="lmf_tiny")
    figs = charts(at)
    bench = figs["lab_bench"]["data"][0]
    assert bench["x"][1] == pytest.approx(8209 / 3245)
    rank = figs["lab_rank_fig"]["data"]
    assert rank[1]["x"] == [1, 2, 4] and rank[1]["y"][0] == pytest.approx(0.7125)
    assert "lab_recipes" in figs
    root = tmp_path / "bare" / "zoo"
    root.mkdir(parents=True)
    os.symlink(zoo / "lmf_tiny", root / "lmf_tiny")
    use_root(monkeypatch, root)
    at = open_page("fusion_lab", ckpt="lmf_tiny")
    assert_clean(at)
    info = messages(at, "info")
    assert "python -m mmviz bench fusion --json > results/fusion_bench.json" in info
    assert "python -m mmviz study lmf-rank" in info
    (root.parent / "results").mkdir()
    (root.parent / "results" / "fusion_bench.json").write_text('{"ratios": 3}')
    at = open_page("fusion_lab", ckpt="lmf_tiny")
    assert not at.exception
    assert "not the output of `python -m mmviz bench fusion --json`" in messages(at, "error")


# ---- report --------------------------------------------------------------------------------------
@pytest.fixture()
def media(monkeypatch) -> dict[str, bytes]:
    """Every file the app hands to Streamlit's media storage (downloads), by file id."""
    from streamlit.runtime.memory_media_file_storage import MemoryMediaFileStorage

    files: dict[str, bytes] = {}
    original = MemoryMediaFileStorage.load_and_get_id

    def record(self, path_or_data, mimetype, kind, filename=None):  # noqa: ANN001
        fid = original(self, path_or_data, mimetype, kind, filename)
        files[fid] = path_or_data if isinstance(path_or_data, bytes) else b""
        return fid

    monkeypatch.setattr(MemoryMediaFileStorage, "load_and_get_id", record)
    return files


def downloads(at: AppTest, media: dict[str, bytes]) -> dict[str, bytes]:
    """Download buttons' contents by element key."""
    out = {}
    for b in at.get("download_button"):
        if not b.proto.url:  # deferred (made on click): the view's figures
            continue
        fid = b.proto.url.rsplit("/", 1)[-1].split(".")[0]
        out[b.proto.id.rsplit("-", 1)[-1]] = media[fid]
    return out


def test_report_downloads_contain_the_metrics(zoo, media):
    meta = json.loads((zoo / "jmvae_tiny" / "meta.json").read_text())
    at = open_page("report", ckpt="jmvae_tiny")
    assert_clean(at)
    files = downloads(at, media)
    doc = json.loads(files["rep_json"])
    assert doc["metrics"] == meta["metrics"] and doc["id"] == "jmvae_tiny"
    assert doc["weights_sha256"] == meta["weights_sha256"]
    csv = files["rep_csv"].decode()
    assert csv.splitlines()[0] == "metric,key,value,text"
    for src, v in meta["metrics"]["coherence"].items():
        assert f"coherence,{src},{v!r}" in csv or f"coherence,{src},{v}" in csv
    figs = charts(at)
    coh = figs["rep_coherence"]["data"][0]
    assert coh["y"] == ["hand", "label"] and coh["x"] == ["label", "hand"]
    assert "rep_robust_label_accuracy" in figs and "rep_curves" in figs
    assert "✓ weights checksum verified" in messages(at, "success")


def test_report_sentiment_robustness_table():
    at = open_page("report", ckpt="tfn_tiny")
    assert_clean(at)
    heat = charts(at)["rep_robust_missing"]["data"][0]
    assert heat["x"] == ["language", "visual", "acoustic"]
    assert heat["y"][0] == "language+visual+acoustic" and len(heat["y"]) == 7
    recipes = charts(at)["rep_robust_recipes"]["data"][0]
    assert recipes["y"] == heat["y"]  # same observed subsets, same order
    assert "redundant" in recipes["x"] and "unique_visual" in recipes["x"]
    assert recipes["zmid"] == 0.5  # coloured around chance


def test_report_flags_tampered_weights_and_broken_checkpoints(zoo, tmp_path, monkeypatch):
    root = tmp_path / "tampered"
    root.mkdir()
    shutil.copytree(zoo / "lmf_tiny", root / "lmf_tiny")
    w = root / "lmf_tiny" / "model.safetensors"
    data = bytearray(w.read_bytes())
    data[-1] ^= 1
    w.write_bytes(bytes(data))
    shutil.copytree(zoo / "tfn_tiny", root / "tfn_broken")
    (root / "tfn_broken" / "meta.json").write_text("{not json")
    use_root(monkeypatch, root)
    at = open_page("report", ckpt="lmf_tiny")
    assert not at.exception
    assert "✗ weights checksum" in messages(at, "error")
    at = open_page("report", ckpt="tfn_broken")
    assert not at.exception
    assert "not valid JSON" in messages(at, "error")


def test_broken_weights_are_reported_on_the_model_pages(zoo, tmp_path, monkeypatch):
    root = tmp_path / "broken"
    root.mkdir()
    shutil.copytree(zoo / "lmf_tiny", root / "lmf_broken")
    (root / "lmf_broken" / "model.safetensors").write_bytes(b"\x00" * 64)
    use_root(monkeypatch, root)
    for page in ("attributions", "information", "fusion_lab"):
        at = open_page(page, ckpt="lmf_broken")
        assert not at.exception
        assert "cannot be loaded" in messages(at, "error")


# ---- the full method x target matrix, through the page's own helpers (no Streamlit) ------------
def test_every_method_and_target_on_every_checkpoint(zoo):
    """What the page runs for each (checkpoint, target kind, method): the TargetChoice it
    builds, the methods it offers, the observed modalities it ticks by default."""
    from mmviz import explore
    from mmviz import report as rep
    from mmviz.checkpoint import load_checkpoint
    from mmviz.data import load_dataset
    from mmviz.interpret.attributions import Attributor
    from mmviz.interpret.shapley import modality_shapley
    from mmviz.models import UnsupportedSubset

    fast = {
        "image_patch": 7,
        "n_samples": 2,
        "perturbations_per_eval": 256,
        "window": 7,
        "stride": 7,
        "n_steps": 8,
    }
    ran = 0
    for cid in APPLIES["attributions"]:
        if not (zoo / cid).exists():
            continue
        ck = load_checkpoint(zoo / cid)
        model = ck.model
        ds = load_dataset(ck.meta["dataset"])
        x = {
            m: v
            for m, v in explore.sample_batch(ds, int(ds.indices("test")[1])).items()
            if m in model.modalities
        }
        for kind, why in rep.target_options(model, x).items():
            if why is not None:
                continue
            g = next(iter(model.latent_groups), None)
            pics = rep.generated_images(model)
            cats = [m for m, s in model.specs.items() if s.kind == "categorical"]
            choice = rep.TargetChoice(
                kind,
                index=1 if kind in ("class", "generated") else None,
                modality=(
                    pics[0] if kind == "region" else cats[0] if kind == "generated" else None
                ),
                group=g,
                dim=1,
                rows=(3, 9),
                cols=(2, 12),
            )
            target = choice.build()
            skip = target.excluded_modality(model)
            observed = [m for m in explore.input_modalities(model) if m != skip]
            for method, no in rep.method_options(model, observed).items():
                if no is not None:
                    continue
                from mmviz.interpret.attributions import METHODS

                params = {p.name: fast[p.name] for p in METHODS[method].params if p.name in fast}
                r = Attributor(method, **params).attribute(model, x, target, observed)
                assert set(r.per_modality) == set(observed), (cid, kind, method)
                assert all(np.isfinite(a).all() for a in r.per_modality.values())
                assert sum(r.shares.values()) == pytest.approx(1.0) or not any(r.shares.values())
                ran += 1
            try:
                sv = modality_shapley(model, x, target, players=observed)
            except UnsupportedSubset:
                continue  # the page says so (e.g. an oracle has no output from nothing)
            assert sum(sv.values.values()) == pytest.approx(sv.v_all - sv.v_empty, abs=1e-6)
    assert ran > 100
