"""The Model report's view (mmviz/views/report.py), built without Streamlit from the shipped
checkpoints' config.json and meta.json: what it holds is checked against those files."""

from __future__ import annotations

import io
import json
import math
from pathlib import Path

import pandas as pd
import pytest

from mmviz.views.report import HEADLINE, build_report_view

ROOT = Path(__file__).resolve().parent.parent / "checkpoints"


def files(cid: str) -> tuple[dict, dict]:
    return tuple(json.loads((ROOT / cid / f).read_text()) for f in ("config.json", "meta.json"))


def leaves(d, path=()):
    """(metric, key) -> value of every number in meta.json's metrics."""
    for k, v in d.items():
        if isinstance(v, dict):
            yield from leaves(v, (*path, str(k)))
        elif isinstance(v, int | float) and not isinstance(v, bool):
            yield (path[0] if path else str(k), "/".join([*path[1:], str(k)] if path else [])), v


@pytest.mark.parametrize(
    "cid", ["mvae_digits5", "jmvae_hand_label", "tfn_sentiment", "oracle_hand"]
)
def test_report_rows_equal_the_metrics_in_meta_json(cid):
    config, meta = files(cid)
    view = build_report_view(cid, config, meta)
    assert not view.failures
    metrics = meta["metrics"]
    assert view.metrics == metrics
    assert (view.model, view.dataset, view.modalities) == (
        meta["model"],
        meta["dataset"],
        meta["modalities"],
    )
    # every number of meta.json's metrics is one row of the table and of the CSV download
    table = {(r.metric, r.key): r.value for r in view.flat.itertuples()}
    csv = pd.read_csv(io.StringIO(view.csv), keep_default_na=False)
    from_csv = {(r.metric, str(r.key)): r.value for r in csv.itertuples()}
    numbers = dict(leaves(metrics))
    assert numbers and len(view.flat) == len(csv)
    for k, v in numbers.items():
        assert table[k] == pytest.approx(v) and float(from_csv[k]) == pytest.approx(v), k
    doc = json.loads(view.json)
    assert doc["metrics"] == metrics and doc["id"] == cid
    assert doc["weights_sha256"] == meta["weights_sha256"]
    # the headline metrics recorded, formatted as the page shows them
    want = [(label, fmt.format(metrics[k])) for k, label, fmt in HEADLINE if k in metrics]
    assert view.headline == want
    # the config table: the model and every setting of config.json
    cfg = dict(zip(view.config["field"], view.config["value"], strict=True))
    assert cfg["model"] == config["model"]
    assert set(config["config"]) <= set(cfg)
    # training: one curve pair per phase, the phase summary from meta.json
    phases = meta["training"]["phases"]
    assert list(view.phases.index) == list(phases)
    for p in phases:
        assert view.phases.loc[p, "epochs_run"] == phases[p].get("epochs_run")
    assert {t.name.split(" · ")[0] for t in view.curves.data} == set(phases)


def test_report_of_a_generative_model_holds_its_coherence_and_robustness():
    config, meta = files("jmvae_hand_label")
    metrics = meta["metrics"]
    view = build_report_view("jmvae_hand_label", config, meta)
    assert set(view.coherence) == {"coherence", "coherence_mean"}
    heat = view.coherence["coherence"].data[0]
    for i, src in enumerate(heat.y):
        for j, tgt in enumerate(heat.x):
            v = metrics["coherence"].get(f"{src}->{tgt}")
            assert (v is None and math.isnan(heat.z[i][j])) or heat.z[i][j] == pytest.approx(v)
    (robust,) = view.robustness
    assert robust.metric == "label_accuracy"
    assert robust.notes == dict(metrics.get("label_accuracy_unsupported") or {})
    ll = view.loglik.set_index("query")["log-likelihood"]
    for q, v in metrics["loglik"].items():
        assert ll[f"log p({q})"] == pytest.approx(v)
    assert view.recipes is None and view.by_interaction is None


def test_report_of_a_fusion_model_holds_its_missing_table_and_recipes():
    config, meta = files("tfn_sentiment")
    metrics = meta["metrics"]
    view = build_report_view("tfn_sentiment", config, meta)
    (robust,) = view.robustness
    assert robust.metric == "missing"
    rows = robust.figure.data[0].y
    assert rows[0] == "language+visual+acoustic" and len(rows) == len(metrics["missing"]) + 1
    assert view.recipes is not None
    assert view.by_interaction.loc["acc2"].to_dict() == pytest.approx(metrics["by_interaction"])
    assert view.coherence == {} and view.loglik.empty


def test_a_malformed_section_fails_alone():
    config, meta = files("tfn_sentiment")
    meta = {**meta, "metrics": {**meta["metrics"], "missing": 5, "label_accuracy": {"a": 1}}}
    meta["metrics"]["label_accuracy_unsupported"] = 5  # dict(5): the robustness section fails
    config = {**config, "specs": [{"name": "language", "shape": 5}]}  # and the config's
    view = build_report_view("tfn_sentiment", config, meta)
    assert set(view.failures) == {"Missing-modality robustness", "Config"}
    with pytest.raises(TypeError):
        view.check("Config")
    view.check("Coherence")  # the others built, nothing to raise
    assert view.headline and view.flat is not None and view.curves is not None


def test_a_checkpoint_without_metrics_or_curves():
    config, meta = files("oracle_hand")
    view = build_report_view("x", config, {"model": "m"}, ["hand"])
    assert view.metrics == {} and view.curves is None and view.headline == []
    assert view.modalities == ["hand"] and view.paper == "no paper recorded"
    assert view.dataset == "?" and view.flat is None and not view.failures
    assert view.config is not None and len(view.config) > 1
