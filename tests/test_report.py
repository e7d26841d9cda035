"""mmviz/report.py and mmviz/fusionlab.py: what the analysis pages show, without Streamlit."""

from __future__ import annotations

import io
import json
import math

import numpy as np
import pandas as pd
import pytest
import torch

from mmviz import fusionlab as lab
from mmviz import report as rep
from mmviz.data.random_inputs import random_sentiment_batch, sentiment_like_specs
from mmviz.models.fusion import (
    LMF,
    TFN,
    EarlyFusion,
    FusionConfig,
    LateFusion,
    LateFusionConfig,
    LMFConfig,
)

METRICS = {
    "test_samples": 200,
    "label_accuracy": {"hand": 0.9, "print": 0.5, "hand+print": 0.95},
    "label_accuracy_unsupported": {"print": "no encoder for {print}"},
    "coherence": {"hand->label": 0.8, "label->hand": 0.7, "hand+label->hand": 0.9},
    "loglik": {"hand": -90.5, "hand|label": -88.0},
    "loglik_k": 100,
    "note": "quick",
}


# ---- metrics tables and files -------------------------------------------------------------------
def test_flatten_metrics_keeps_every_number_and_text():
    df = rep.flatten_metrics(METRICS)
    got = {(r.metric, r.key): r.value for r in df.itertuples() if r.value == r.value}
    assert got[("label_accuracy", "hand+print")] == 0.95
    assert got[("coherence", "hand+label->hand")] == 0.9
    assert got[("test_samples", "")] == 200
    text = {(r.metric, r.key): r.text for r in df.itertuples()}
    assert text[("label_accuracy_unsupported", "print")] == "no encoder for {print}"
    assert text[("note", "")] == "quick"
    assert len(df) == 3 + 1 + 3 + 2 + 1 + 1 + 1


def test_csv_and_json_round_trip():
    back = pd.read_csv(io.StringIO(rep.metrics_csv(METRICS)))
    assert list(back.columns) == ["metric", "key", "value", "text"]
    row = back[(back.metric == "loglik") & (back.key == "hand|label")]
    assert float(row.value.iloc[0]) == -88.0
    meta = {
        "model": "mvae",
        "dataset": "digits",
        "seed": 3,
        "weights_sha256": "ab",
        "metrics": METRICS,
    }
    doc = json.loads(rep.metrics_json("m1", meta))
    assert doc["id"] == "m1" and doc["seed"] == 3 and doc["metrics"] == METRICS
    assert doc["dataset_version"] is None  # not recorded: present, but null


def test_robustness_table_from_label_accuracy():
    (t,) = rep.robustness_tables(METRICS, ["hand", "print"])
    assert t.metric == "label_accuracy"
    assert list(t.table.index) == ["hand+print", "hand", "print"]  # all first, then order
    assert t.table.loc["hand", "hand"] and not t.table.loc["hand", "print"]
    assert t.table.loc["hand+print", "accuracy"] == 0.95
    assert t.notes == {"print": "no encoder for {print}"}


def test_robustness_table_from_sentiment_missing():
    m = {"acc2": 0.8, "missing": {"-visual": 0.78, "-language-visual": 0.55, "-acoustic": 0.79}}
    (t,) = rep.robustness_tables(m, ["language", "visual", "acoustic"])
    assert t.metric == "missing"
    assert t.table.index[0] == "language+visual+acoustic"
    assert t.table.loc["language+visual+acoustic", "accuracy"] == 0.8
    assert t.table.loc["language+acoustic", "accuracy"] == 0.78
    assert t.table.loc["acoustic", "accuracy"] == 0.55
    assert list(t.table["n_observed"]) == [3, 2, 2, 1]


def test_interaction_robustness_rows_are_observed_subsets_and_columns_recipes():
    m = {
        "by_interaction": {"redundant": 0.99, "unique_visual": 0.9},
        "missing_by_interaction": {
            "-visual": {"redundant": 0.97, "unique_visual": 0.5},
            "-language-visual": {"redundant": 0.8, "unique_visual": "n/a"},
            "-acoustic": [1, 2],  # malformed: skipped
        },
    }
    t = rep.interaction_robustness(m, ["language", "visual", "acoustic"])
    assert list(t.index) == ["language+visual+acoustic", "language+acoustic", "acoustic"]
    assert list(t.columns) == ["redundant", "unique_visual"]
    assert t.loc["language+acoustic", "unique_visual"] == 0.5
    assert math.isnan(t.loc["acoustic", "unique_visual"])
    assert rep.interaction_robustness({"by_interaction": {"redundant": 1.0}}, ["a"]) is None


def test_unsupported_subset_is_nan_not_zero():
    (t,) = rep.robustness_tables(
        {"label_accuracy": {"hand": None, "hand+print": 0.9}}, ["hand", "print"]
    )
    assert math.isnan(t.table.loc["hand", "accuracy"])


def test_coherence_matrix_and_loglik():
    mat = rep.coherence_matrix(METRICS["coherence"])
    assert list(mat.index) == ["hand", "label", "hand+label"]
    assert list(mat.columns) == ["label", "hand"]
    assert mat.loc["hand", "label"] == 0.8 and math.isnan(mat.loc["hand", "hand"])
    ll = rep.loglik_table(METRICS)
    assert list(ll["query"]) == ["log p(hand)", "log p(hand|label)"]
    assert list(ll["K"]) == [100, 100]
    assert rep.loglik_table({}).empty


def test_training_curves_pad_and_skip_malformed():
    meta = {
        "training": {
            "phases": {
                "main": {"train_loss": [3.0, 2.0, 1.5], "valid_loss": [2.5, 2.0]},
                "surrogate": {"train_loss": "broken"},
                "empty": {},
            }
        }
    }
    curves = rep.training_curves(meta)
    assert list(curves) == ["main"]
    df = curves["main"]
    assert list(df["epoch"]) == [1, 2, 3]
    assert math.isnan(df["valid_loss"].iloc[2])
    assert rep.training_curves({}) == {}


def test_config_table_lists_fields_and_modalities():
    cfg = {
        "model": "lmf",
        "config": {"rank": 4, "dims": {"language": 8}},
        "specs": [
            {"name": "language", "kind": "tokens", "shape": [20], "likelihood": "categorical"}
        ],
    }
    t = rep.config_table(cfg).set_index("field")["value"]
    assert t["model"] == "lmf" and t["rank"] == "4" and t["dims"] == '{"language": 8}'
    assert t["modality language"] == "tokens 20, categorical"


def test_weights_checksum_verified_against_the_file(tmp_path):
    from mmviz.checkpoint import WEIGHTS, sha256_file

    (tmp_path / WEIGHTS).write_bytes(b"weights")
    good = sha256_file(tmp_path / WEIGHTS)
    assert rep.verify_weights(tmp_path, good).ok is True
    bad = rep.verify_weights(tmp_path, "0" * 64)
    assert bad.ok is False and "does NOT match" in bad.message and bad.actual == good
    assert rep.verify_weights(tmp_path, None).ok is None
    assert rep.verify_weights(tmp_path / "nope", good).ok is False
    table, check = rep.provenance(tmp_path, {"dataset": "digits", "weights_sha256": good})
    values = dict(zip(table["field"], table["value"], strict=True))
    assert values["dataset"] == "digits" and values["seed"] == "not recorded"
    assert values["weights file sha256"] == f"{good} ✓" and check.ok


# ---- information ---------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "recipe,pair,term",
    [
        ("redundant", ("language", "visual"), "redundancy"),
        ("unique_visual", ("language", "visual"), "unique2"),
        ("unique_visual", ("visual", "acoustic"), "unique1"),
        ("unique_acoustic", ("language", "visual"), "none"),
        ("synergy", ("language", "acoustic"), "synergy"),
        ("synergy", ("visual", "acoustic"), "none"),
        ("negation", ("language", "acoustic"), "unique1"),
        ("all", ("language", "visual"), "mixture"),
    ],
)
def test_recipe_ground_truth(recipe, pair, term):
    assert rep.recipe_truth(recipe, *pair)[0] == term


def test_pid_with_truth_marks_agreement():
    pid = pd.DataFrame(
        [
            {
                "group": "redundant",
                "modality1": "language",
                "modality2": "visual",
                "redundancy": 0.6,
                "unique1": 0.3,
                "unique2": 0.0,
                "synergy": 0.0,
                "total": 0.9,
            },
            {
                "group": "unique_visual",
                "modality1": "language",
                "modality2": "visual",
                "redundancy": 0.0,
                "unique1": 0.0,
                "unique2": 0.6,
                "synergy": 0.0,
                "total": 0.6,
            },
            {
                "group": "synergy",
                "modality1": "language",
                "modality2": "visual",
                "redundancy": 0.0,
                "unique1": 0.0,
                "unique2": 0.0,
                "synergy": 0.01,
                "total": 0.01,
            },
            {
                "group": "all",
                "modality1": "language",
                "modality2": "visual",
                "redundancy": 0.1,
                "unique1": 0.0,
                "unique2": 0.0,
                "synergy": 0.2,
                "total": 0.3,
            },
        ]
    )
    out = rep.pid_with_truth(pid)
    assert list(out["truth"]) == ["redundancy", "unique(visual)", "synergy", "mixture"]
    assert list(out["measured"]) == ["redundancy", "unique(visual)", "none", "synergy"]
    assert list(out["agrees"]) == [True, True, False, None]


def test_missing_drop_table():
    metas = {
        "tfn": {
            "metrics": {
                "acc2": 0.8,
                "missing": {"-language": 0.6, "-visual-acoustic": 0.7, "-visual": 0.79},
            }
        },
        "oracle": {"metrics": {"test_accuracy": 0.9}},
    }
    t = rep.missing_drop_table(metas)
    assert list(t.index) == ["tfn"]
    assert list(t.columns) == ["-language", "-visual", "-visual-acoustic"]
    assert t.loc["tfn", "-language"] == pytest.approx(0.2)
    assert rep.missing_drop_table({}).empty


def test_latent_codes_and_factors_on_a_toy_model():
    from mmviz.models.mvae import MVAE, MVAEConfig
    from tests.toydata import toy_dataset

    ds = toy_dataset(n=60)
    model = MVAE(MVAEConfig(latent_dim=3, hidden=8, enc_layers=1, dec_layers=1), ds.specs).eval()
    z, names = rep.latent_codes(model, ds, "test", limit=None, batch=5)
    assert z.shape == (len(ds.indices("test")), 3) and names == ["z[0]", "z[1]", "z[2]"]
    with torch.no_grad():
        x = ds.tensors("test")
        assert np.allclose(z, model.encode(x)["z"].mean.numpy(), atol=1e-6)
    factors, kinds = rep.ground_truth_factors(ds, "test", limit=5)
    assert set(factors) == {"noise_level", "class"} and len(factors["class"]) == 5
    assert kinds == {"noise_level": "continuous", "class": "categorical"}
    res = rep.disentanglement_report(model, ds, limit=None)
    row = rep.disentanglement_row("toy", res, 12)
    assert row["latent dims"] == 3 and row["samples"] == 12 and 0 <= row["MIG"] <= 1


# ---- attributions helpers ---------------------------------------------------------------------
def test_target_and_method_options():
    from mmviz.models.mvae import MVAE, MVAEConfig
    from mmviz.models.oracle import OracleClassifier, OracleConfig
    from tests.toydata import toy_dataset

    ds = toy_dataset(n=20)
    x = {k: v[:1] for k, v in ds.tensors("train").items()}
    mvae = MVAE(MVAEConfig(latent_dim=3, hidden=8, enc_layers=1, dec_layers=1), ds.specs).eval()
    assert all(v is None for v in rep.target_options(mvae, x).values())
    specs = sentiment_like_specs(steps=6, vocab_size=12)
    fx, _ = random_sentiment_batch(specs, 1, torch.Generator().manual_seed(0))
    lmf = LMF(LMFConfig(embed_dim=4, token_dim=4, sequence_dim=4, fusion_dim=4), specs).eval()
    opts = rep.target_options(lmf, fx)
    assert opts["prediction"] is None
    assert opts["class"] == "the prediction is a score, not classes"
    assert opts["latent"] is not None and opts["region"] is not None
    assert all(v is None for v in rep.method_options(lmf, ["language", "visual"]).values())
    from mmviz.data.base import ModalitySpec

    text = ModalitySpec(
        "text", "tokens", (6,), "categorical", "int64", vocab=("<pad>", "<unk>", "a", "b")
    )
    oracle = OracleClassifier(OracleConfig(modality="text", num_classes=2), {"text": text})
    methods = rep.method_options(oracle, ["text"])
    assert [k for k, v in methods.items() if v is None] == [
        "Occlusion",
        "FeatureAblation",
        "ShapleyValueSampling",
    ]
    assert "without an nn.Embedding" in methods["Saliency"]


def test_target_choice_builds_the_right_target():
    from mmviz.interpret.attributions import GeneratedClass, ImageRegion, LatentDim, Prediction

    assert rep.TargetChoice("prediction", index=3).build() == Prediction(None)
    assert rep.TargetChoice("class", index=3).build() == Prediction(3)
    assert rep.TargetChoice("generated", modality="label").build() == GeneratedClass("label")
    assert rep.TargetChoice("latent", group="y", dim=2).build() == LatentDim("y", 2)
    r = rep.TargetChoice("region", modality="hand", rows=(1, 5), cols=(2, 4)).build()
    assert r == ImageRegion("hand", (1, 5), (2, 4))
    with pytest.raises(ValueError, match="unknown target kind"):
        rep.TargetChoice("nope").build()


def test_token_words_and_shapley_check():
    words, vals = rep.token_words(
        np.array([3, 2, 0, 0]), np.array([0.5, -1.0, 9.0, 9.0]), ("<pad>", "<unk>", "good", "not")
    )
    assert words == ["not", "good"] and list(vals) == [0.5, -1.0]
    c = rep.shapley_check({"a": 0.25, "b": 0.5}, 1.0, 0.25)
    assert c["sum"] == 0.75 and c["expected"] == 0.75 and c["gap"] == 0.0


# ---- fusion lab ----------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "dims,d_h,rank",
    [((64, 32, 32), 64, 4), ((5, 9, 3), 7, 1), ((1, 1), 2, 16), ((12, 8, 6, 4), 10, 3)],
)
def test_parameter_formulas_equal_the_real_modules(dims, d_h, rank):
    counts = lab.param_counts(dims, d_h, rank)
    real = lab.module_param_counts(dims, d_h, rank)
    assert counts["tfn"] == real["tfn"] and counts["lmf"] == real["lmf"]
    assert counts["ratio"] == pytest.approx(real["tfn"] / real["lmf"])


def test_parameter_formulas_equal_full_models():
    specs = sentiment_like_specs()
    dims = {"language": 20, "visual": 6, "acoustic": 11}
    tfn = TFN(FusionConfig(dims=dims, fusion_dim=9), specs)
    lmf = LMF(LMFConfig(dims=dims, fusion_dim=9, rank=5), specs)
    assert lab.model_dims(lmf) == dims
    counts = lab.param_counts(list(dims.values()), 9, 5)
    assert counts["tfn"] == tfn.fusion_parameter_count()
    assert counts["lmf"] == lmf.fusion_parameter_count()


def test_params_vs_rank_and_size():
    t = lab.params_vs_rank([8, 4, 4], 8, [1, 2, 4])
    assert t["tfn"].nunique() == 1 and list(np.diff(t["lmf"])) == [
        t["lmf"][1] - t["lmf"][0],
        t["lmf"][2] - t["lmf"][1],
    ]
    assert (np.diff(t["lmf"]) > 0).all()
    s = lab.params_vs_size([8, 4, 4], 8, 2, scales=(1, 2))
    # TFN grows with the product of (d+1), LMF with the sum
    assert s["tfn"][1] / s["tfn"][0] > 4 and s["lmf"][1] / s["lmf"][0] < 2
    assert list(s["dims"]) == ["8x4x4", "16x8x8"]


def tiny_fusion_models():
    specs = sentiment_like_specs(steps=6, vocab_size=12)
    size = {"embed_dim": 4, "token_dim": 4, "sequence_dim": 4, "fusion_dim": 4}
    models = {
        "tfn": TFN(FusionConfig(**size), specs),
        "lmf": LMF(LMFConfig(**size), specs),
        "early": EarlyFusion(FusionConfig(**size), specs),
        "late": LateFusion(LateFusionConfig(**size), specs),
    }
    x, _ = random_sentiment_batch(specs, 16, torch.Generator().manual_seed(1))
    for m in models.values():
        m.set_missing_statistics([x])
        m.eval()
    one = {k: v[:1] for k, v in x.items()}
    return models, one, specs


def test_perturb_is_seeded_and_per_modality():
    _, x, specs = tiny_fusion_models()
    a = lab.perturb(x, {"visual": 0.0}, seed=3)
    b = lab.perturb(x, {"visual": 0.0}, seed=3)
    assert torch.equal(a["visual"], b["visual"]) and not torch.equal(a["visual"], x["visual"])
    assert torch.equal(a["acoustic"], x["acoustic"]) and torch.equal(a["language"], x["language"])
    both = lab.perturb(x, {"visual": 0.0, "acoustic": 5.0}, seed=3)
    assert torch.equal(both["visual"], a["visual"])  # another slider leaves this noise alone
    many, _ = random_sentiment_batch(specs, 32, torch.Generator().manual_seed(5))
    words = lab.perturb(many, {"language": -30.0}, {"language": 12}, seed=0)["language"]
    real = many["language"] != 0
    assert (words[real] != many["language"][real]).float().mean() > 0.8  # 99.9% replaced
    assert (words[~real] == 0).all()


def test_lab_scores_toggles_and_noise():
    models, x, _ = tiny_fusion_models()
    full = lab.lab_scores(models, x, ["language", "visual", "acoustic"], {}, truth=1.0)
    assert list(full["model"]) == ["tfn", "lmf", "early", "late"]
    assert np.allclose(full["clean score"], full["score"]) and (full["change"] == 0).all()
    assert "correct sign" in full
    some = lab.lab_scores(models, x, ["language"], {"language": -10.0})
    assert np.allclose(some["clean score"], full["clean score"])
    assert not np.allclose(some["score"], full["score"])
    for cid, m in models.items():
        with torch.no_grad():
            want = float(
                m.predict(lab.perturb(x, {"language": -10.0}, {"language": 12}), ["language"])[0]
            )
        assert float(some.set_index("model").loc[cid, "score"]) == pytest.approx(want)
    with pytest.raises(ValueError, match="at least one modality"):
        lab.lab_scores(models, x, [], {})


def test_late_fusion_parts_recombine_to_the_score():
    models, x, _ = tiny_fusion_models()
    parts = lab.late_fusion_parts(models["late"], x, ["language", "visual", "acoustic"])
    assert parts["weight"].sum() == pytest.approx(1.0)
    with torch.no_grad():
        score = float(models["late"].predict(x)[0])
    assert (parts["weight"] * parts["unimodal score"]).sum() == pytest.approx(score, abs=1e-6)
    with pytest.raises(ValueError, match="not late fusion"):
        lab.late_fusion_parts(models["tfn"], x, ["language"])


def test_results_files(tmp_path):
    assert lab.read_fusion_bench(tmp_path / "none.json") is None
    assert lab.read_rank_study(tmp_path / "none.json") is None
    bad = tmp_path / "bad.json"
    bad.write_text("{oops")
    with pytest.raises(ValueError, match="not valid JSON"):
        lab.read_fusion_bench(bad)
    bad.write_text('{"ratios": {"train": 1}}')
    with pytest.raises(ValueError, match="not the output of"):
        lab.read_fusion_bench(bad)
    bad.write_text('{"rows": [{"rank": 1}]}')
    with pytest.raises(ValueError, match="must hold 'rows'"):
        lab.read_rank_study(bad)
    good = tmp_path / "rank.json"
    rows = [
        {
            "rank": r,
            "seed": s,
            "acc2": 0.5 + r / 10 + s / 100,
            "mae": 1.0,
            "corr": 0.1,
            "fusion_params": 10 * r,
        }
        for r in (4, 1)
        for s in (0, 1)
    ]
    good.write_text(json.dumps({"rows": rows}))
    df = lab.read_rank_study(good)
    assert list(df["rank"]) == [1, 1, 4, 4]
    summary = lab.rank_summary(df)
    assert list(summary["rank"]) == [1, 4] and list(summary["seeds"]) == [2, 2]
    assert summary["acc2"][0] == pytest.approx(0.605)
    assert summary["acc2_std"][0] == pytest.approx(0.005)


def test_interaction_table_and_words():
    metas = {
        "a": {"metrics": {"by_interaction": {"redundant": 0.9, "synergy": 0.5}}},
        "b": {"metrics": {}},
    }
    t = lab.interaction_table(metas)
    assert list(t.index) == ["a"] and t.loc["a", "synergy"] == 0.5
    assert lab.words_of(np.array([2, 3, 0]), ("<pad>", "<unk>", "not", "good")) == [
        "not",
        "good",
        "·",
    ]
    assert lab.feature_names({"visual_features": ["s", "f"]}, "visual", 2) == ["s", "f"]
    assert lab.feature_names({}, "visual", 2) == ["f0", "f1"]
