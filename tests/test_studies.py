"""Reproduction studies: every study's --quick mode writes a complete, sensible results file;
the verdict rules give the right verdict on hand-made rows; the page renders every results
file (and missing or broken ones) without an exception; the CLI runs a study."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
import torch
from streamlit.testing.v1 import AppTest

from mmviz import studies
from mmviz.cli import main
from mmviz.plots.studies import study_figure

PAGE = str(Path(__file__).resolve().parent.parent / "pages" / "reproductions.py")
FIELDS = (
    "study",
    "title",
    "claim",
    "quick",
    "seed",
    "config",
    "rows",
    "paper",
    "verdict",
    "verdict_reason",
    "verdict_rule",
    "command",
    "code_version",
    "wall_time_s",
)


@pytest.fixture(scope="module")
def quick_root(tmp_path_factory):
    """Run every study's quick mode once into a private results folder (MMVIZ_RESULTS)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    root = tmp_path_factory.mktemp("results")
    mp = pytest.MonkeyPatch()
    mp.setenv("MMVIZ_RESULTS", str(root))
    for name in studies.STUDIES:
        studies.run_study(name, quick=True)
    yield root
    mp.undo()
    torch.set_num_threads(threads)


def read(root: Path, name: str) -> dict:
    return json.loads((root / f"{name}.quick.json").read_text())


# ---- every quick results file ---------------------------------------------------------------
@pytest.mark.parametrize("name", list(studies.STUDIES))
def test_quick_result_is_complete_and_its_verdict_follows_the_rule(quick_root, name):
    r = read(quick_root, name)
    assert all(k in r for k in FIELDS), [k for k in FIELDS if k not in r]
    assert r["study"] == name and r["quick"] is True and r["seed"] == 0
    assert r["command"] == f"python -m mmviz study {name} --quick"
    assert r["verdict"] in studies.VERDICT_LEVELS
    # the stored verdict is exactly the rule applied to the stored rows
    assert (r["verdict"], r["verdict_reason"]) == studies.VERDICTS[name](r["rows"])
    assert r["wall_time_s"] < 60
    assert r["rows"] and study_figure(r) is not None
    assert "(" in r["claim"] and ")" in r["claim"]  # carries its paper reference


def test_weak_supervision_quick_numbers(quick_root):
    r = read(quick_root, "weak-supervision")
    rows = r["rows"]
    fractions = [x["fraction"] for x in rows]
    assert fractions == sorted(fractions) and len(set(fractions)) == len(fractions)
    assert fractions[-1] == 1.0
    paired = [x["n_paired"] for x in rows]
    assert paired == sorted(paired) and paired[0] >= 1
    for x in rows:
        assert 0 <= x["mvae_accuracy"] <= 1 and 0 <= x["supervised_accuracy"] <= 1
        assert x["n_paired"] + x["n_hand_only"] + x["n_label_only"] == r["config"]["train_images"]
    assert rows[-1]["n_hand_only"] == rows[-1]["n_label_only"] == 0


def test_poe_and_jmvae_quick_numbers(quick_root):
    poe = read(quick_root, "poe-vs-quotient")
    assert {x["variant"] for x in poe["rows"]} == {"product", "quotient", "nosub"}
    for x in poe["rows"]:
        assert math.isfinite(x["log_p_hand"]) and x["log_p_hand"] < 0
        # log p(hand, label) <= log p(hand) up to estimator noise: a label costs some nats
        assert x["log_p_hand_label"] < x["log_p_hand"] + 1.0
        assert 0 <= x["accuracy_from_hand"] <= 1
    assert poe["paper"]["log_p_hand"]["product"] > poe["paper"]["log_p_hand"]["quotient"]
    jm = read(quick_root, "jmvae-alpha")
    assert [x["variant"] for x in jm["rows"]] == ["zero", "0.01", "0.1", "1"]
    assert [x["alpha"] for x in jm["rows"]] == [0.0, 0.01, 0.1, 1.0]
    for x in jm["rows"]:
        assert math.isfinite(x["log_p_joint"]) and math.isfinite(x["log_p_hand_given_label"])
        assert x["log_p_joint"] < 0


def test_mfm_ablations_quick_numbers(quick_root):
    r = read(quick_root, "mfm-ablations")
    rows = r["rows"]
    assert {x["dataset"] for x in rows} == {"digits", "sentiment"}
    ran = [x for x in rows if x["status"] == "run"]
    skipped = [x for x in rows if x["status"] == "not run"]
    assert {x["variant"] for x in ran} == {"mfm", "za1", "no_mmd", "discriminative"}
    assert {x["variant"] for x in skipped} == {"no_za", "no_zy", "generative"}
    assert all(x["reason"] for x in skipped)
    for x in ran:
        assert 0 <= x["accuracy"] <= 1 and x["recon_error"] > 0
        want = (
            {"-hand", "-print"}
            if x["dataset"] == "digits"
            else {
                "-language",
                "-visual",
                "-acoustic",
            }
        )
        assert set(x["accuracy_missing"]) == want
        assert all(0 <= v <= 1 for v in x["accuracy_missing"].values())


def test_lmf_rank_quick_numbers(quick_root):
    r = read(quick_root, "lmf-rank")
    assert sorted({(x["rank"], x["seed"]) for x in r["rows"]}) == [(1, 0), (1, 1), (8, 0), (8, 1)]
    assert all(0 <= x["acc2"] <= 1 and x["mae"] >= 0 for x in r["rows"])
    low, high = r["summary"]
    assert low["rank"] == 1 and high["rank"] == 8 and low["seeds"] == 2
    assert high["fusion_params"] > low["fusion_params"]
    assert low["acc2_std"] >= 0


def test_scaling_quick_jmvae_grows_faster_than_mvae(quick_root):
    r = read(quick_root, "scaling-modalities")
    by = {(x["model"], x["modalities"]): x for x in r["rows"]}
    ms = [2, 3, 4, 5]
    assert [by["mvae", m]["encoders"] for m in ms] == ms
    assert [by["jmvae", m]["encoders"] for m in ms] == [2**m - 1 for m in ms]
    ratio = [by["jmvae", m]["parameters"] / by["mvae", m]["parameters"] for m in ms]
    assert all(b > a for a, b in zip(ratio, ratio[1:], strict=False)), ratio
    # the MVAE's growth from 2 to 5 modalities is far from JMVAE's
    grow_m = by["mvae", 5]["parameters"] / by["mvae", 2]["parameters"]
    grow_j = by["jmvae", 5]["parameters"] / by["jmvae", 2]["parameters"]
    assert grow_j > 3 * grow_m
    assert all(x["seconds_per_epoch"] > 0 for x in r["rows"])
    assert "extrapolated" in r["budget_note"]


# ---- verdict rules on hand-made rows ----------------------------------------------------------
def weak(f: float, mvae: float, sup: float) -> dict:
    return {"fraction": f, "mvae_accuracy": mvae, "supervised_accuracy": sup, "n_paired": 1}


def test_weak_supervision_verdict_rule():
    v = studies.verdict_weak_supervision
    good = [weak(0.001, 0.80, 0.30), weak(0.01, 0.90, 0.60), weak(1.0, 0.93, 0.95)]
    assert v(good)[0] == "reproduced"
    far = [weak(0.001, 0.50, 0.30), weak(0.01, 0.70, 0.60), weak(1.0, 0.93, 0.95)]
    assert v(far)[0] == "partly"  # beats the baseline, not close to full supervision
    loses = [weak(0.001, 0.20, 0.30), weak(0.01, 0.90, 0.60), weak(1.0, 0.93, 0.95)]
    assert v(loses)[0] == "partly"  # close at 1%, but loses to the baseline at 0.1%
    assert v([weak(0.01, 0.5, 0.6), weak(1.0, 0.93, 0.95)])[0] == "not reproduced"
    assert v([weak(0.1, 0.9, 0.6), weak(1.0, 0.9, 0.9)])[0] == "not run"


def test_poe_verdict_rule():
    def rows(ll_q: float, acc_q: float) -> list[dict]:
        return [
            {"variant": "product", "log_p_hand": -100.0, "accuracy_from_hand": 0.9},
            {"variant": "quotient", "log_p_hand": ll_q, "accuracy_from_hand": acc_q},
        ]

    v = studies.verdict_poe_vs_quotient
    assert v(rows(-106.0, 0.70))[0] == "reproduced"
    assert v(rows(-106.0, 0.88))[0] == "reproduced"
    assert v(rows(-106.0, 0.90))[0] == "partly"
    assert v(rows(-100.5, 0.70))[0] == "partly"
    assert v(rows(-99.0, 0.95))[0] == "not reproduced"
    assert v(rows(-99.0, 0.95)[:1])[0] == "not run"
    # means over seeds: one bad seed of two does not decide alone
    two = rows(-106.0, 0.88) + [
        {"variant": "quotient", "log_p_hand": -95.0, "accuracy_from_hand": 0.92}
    ]
    assert v(two)[0] == "not reproduced"


def test_jmvae_alpha_verdict_rule():
    def rows(cond: tuple, joint: tuple) -> list[dict]:
        out = [
            {"variant": "zero", "alpha": 0.0, "log_p_joint": -90, "log_p_hand_given_label": -120}
        ]
        for a, c, j in zip((0.01, 0.1, 1.0), cond, joint, strict=True):
            out.append(
                {"variant": str(a), "alpha": a, "log_p_joint": j, "log_p_hand_given_label": c}
            )
        return out

    v = studies.verdict_jmvae_alpha
    assert v(rows((-110, -105, -100), (-90, -90.5, -91)))[0] == "reproduced"
    assert v(rows((-110, -105, -100), (-92, -91, -90)))[0] == "partly"
    assert v(rows((-100, -105, -110), (-92, -91, -90)))[0] == "not reproduced"
    assert v(rows((-110, -105, -100), (-90, -90.5, -91))[:2])[0] == "not run"


def test_mfm_verdict_rule():
    def row(d: str, variant: str, acc: float, miss: float) -> dict:
        return {
            "dataset": d,
            "variant": variant,
            "name": variant,
            "status": "run",
            "accuracy": acc,
            "accuracy_missing_mean": miss,
        }

    v = studies.verdict_mfm_ablations
    skipped = {"dataset": "digits", "variant": "no_zy", "name": "no Z_y", "status": "not run"}
    full = [row("digits", "mfm", 0.9, 0.8), skipped]
    assert v(full + [row("digits", "za1", 0.85, 0.7)])[0] == "reproduced"
    mixed = full + [row("digits", "za1", 0.85, 0.7), row("digits", "no_mmd", 0.95, 0.8)]
    assert v(mixed)[0] == "partly"
    worse = full + [
        row("digits", "za1", 0.95, 0.9),
        row("digits", "no_mmd", 0.95, 0.8),
        row("digits", "discriminative", 0.9, 0.7),
    ]
    assert v(worse)[0] == "not reproduced"
    assert v(full)[0] == "not run"


def test_lmf_rank_verdict_rule():
    def rows(accs: dict[int, list[float]]) -> list[dict]:
        return [
            {"rank": k, "seed": s, "acc2": a, "mae": 1.0, "fusion_params": k}
            for k, vals in accs.items()
            for s, a in enumerate(vals)
        ]

    v = studies.verdict_lmf_rank
    assert v(rows({1: [0.80, 0.80], 4: [0.85, 0.85], 16: [0.86, 0.70]}))[0] == "reproduced"
    assert v(rows({1: [0.80, 0.81], 4: [0.85, 0.85], 16: [0.855, 0.855]}))[0] == "partly"
    assert v(rows({1: [0.70, 0.70], 4: [0.72, 0.72], 16: [0.85, 0.85]}))[0] == "not reproduced"
    assert v(rows({16: [0.85, 0.85]}))[0] == "not run"


def test_scaling_verdict_rule():
    def rows(jp: list[float], jt: list[float]) -> list[dict]:
        out = []
        for m, p, t in zip((2, 3, 4), jp, jt, strict=True):
            out.append(
                {"model": "mvae", "modalities": m, "parameters": 10 * m, "seconds_per_epoch": m}
            )
            out.append({"model": "jmvae", "modalities": m, "parameters": p, "seconds_per_epoch": t})
        return out

    v = studies.verdict_scaling
    assert v(rows([30, 70, 150], [3, 6, 16]))[0] == "reproduced"
    assert v(rows([30, 70, 150], [4, 3, 4]))[0] == "partly"
    assert v(rows([30, 30, 40], [4, 3, 4]))[0] == "not reproduced"
    assert v(rows([30, 70, 150], [3, 6, 16])[:2])[0] == "not run"


# ---- building blocks ------------------------------------------------------------------------
def test_weak_pools_are_nested_disjoint_and_cover_the_train_set():
    train = np.arange(1000, 2000)
    small, large = studies.weak_pools(train, 0.01, 0), studies.weak_pools(train, 0.1, 0)
    assert len(small["paired"]) == 10 and len(large["paired"]) == 100
    assert set(small["paired"]) <= set(large["paired"])
    parts = [set(small[k]) for k in ("paired", "hand", "label")]
    assert sum(map(len, parts)) == len(train) and set.union(*parts) == set(train)
    assert abs(len(small["hand"]) - len(small["label"])) <= 1
    assert len(studies.weak_pools(train, 0.0001, 0)["paired"]) == 1  # never zero pairs


def test_verdict_rule_text_is_the_rule_docstring():
    for s in studies.STUDIES.values():
        assert s.verdict_rule.startswith("Rule") and "\n" not in s.verdict_rule


def test_load_results_prefers_full_and_reports_broken_files(tmp_path, quick_root):
    r = read(quick_root, "scaling-modalities")
    (tmp_path / "scaling-modalities.quick.json").write_text(json.dumps(r))
    full = {**r, "quick": False, "verdict": "partly"}
    (tmp_path / "scaling-modalities.json").write_text(json.dumps(full))
    (tmp_path / "lmf-rank.json").write_text("{not json")
    (tmp_path / "jmvae-alpha.json").write_text(json.dumps({"study": "jmvae-alpha"}))
    found = studies.load_results(tmp_path)
    assert found["scaling-modalities"].result["quick"] is False
    assert found["lmf-rank"].result is None and "JSON" in found["lmf-rank"].error
    assert "lacks" in found["jmvae-alpha"].error
    assert found["weak-supervision"].path is None and found["weak-supervision"].error is None


# ---- the page -------------------------------------------------------------------------------
def run_page(monkeypatch, root: Path) -> AppTest:
    monkeypatch.setenv("MMVIZ_RESULTS", str(root))
    at = AppTest.from_file(PAGE, default_timeout=60)
    at.run(timeout=60)
    return at


def test_page_renders_every_quick_result(quick_root, monkeypatch):
    threads = torch.get_num_threads()
    at = run_page(monkeypatch, quick_root)
    torch.set_num_threads(threads)
    assert not at.exception
    assert len(at.header) == len(studies.STUDIES)
    text = " ".join(m.value for m in at.markdown)
    for name in studies.STUDIES:
        assert f"Verdict: {read(quick_root, name)['verdict']}" in text
    assert len(at.warning) == len(studies.STUDIES)  # every one is flagged as a quick run
    codes = [c.value for c in at.code]
    assert all(f"python -m mmviz study {n} --quick" in codes for n in studies.STUDIES)
    assert not at.error


def test_page_says_how_to_produce_missing_results_and_survives_broken_ones(tmp_path, monkeypatch):
    (tmp_path / "lmf-rank.json").write_text("[1, 2")
    at = run_page(monkeypatch, tmp_path)
    assert not at.exception
    infos = " ".join(i.value for i in at.info)
    for name in studies.STUDIES:
        assert f"python -m mmviz study {name}" in infos
    assert any("lmf-rank.json" in e.value for e in at.error)


# ---- the CLI ----------------------------------------------------------------------------------
def test_cli_study_writes_the_named_file(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("MMVIZ_RESULTS", str(tmp_path / "elsewhere"))
    out = tmp_path / "scaling.json"
    threads = torch.get_num_threads()
    assert main(["study", "scaling-modalities", "--quick", "--quiet", "--out", str(out)]) == 0
    assert torch.get_num_threads() == threads  # quick runs use one thread, then give it back
    r = json.loads(out.read_text())
    assert r["torch_threads"] == 1
    assert r["quick"] is True and r["command"].endswith(f"--quick --out {out}")
    assert str(out) in capsys.readouterr().out
    assert not (tmp_path / "elsewhere").exists()
    with pytest.raises(SystemExit):
        main(["study", "no-such-study"])


def test_aggregation_verdict_rule():
    def rows(ll: dict[str, float], coh: dict[str, float]) -> list[dict]:
        return [
            {"aggregator": k, "log_p_all": ll[k], "coherence_from_one": coh[k]}
            for k in ("poe", "moe", "mopoe")
        ]

    claim = rows({"poe": -100, "moe": -110, "mopoe": -102}, {"poe": 0.3, "moe": 0.9, "mopoe": 0.88})
    assert studies.verdict_aggregation(claim)[0] == "reproduced"
    # MoPoE's coherence not even halfway from the worst (0.3) to the best (0.9): two of three
    part = rows({"poe": -100, "moe": -110, "mopoe": -102}, {"poe": 0.3, "moe": 0.9, "mopoe": 0.55})
    assert studies.verdict_aggregation(part)[0] == "partly"
    # everything the other way round
    wrong = rows({"poe": -120, "moe": -100, "mopoe": -130}, {"poe": 0.9, "moe": 0.3, "mopoe": 0.2})
    assert studies.verdict_aggregation(wrong)[0] == "not reproduced"
    assert studies.verdict_aggregation(claim[:2])[0] == "not run"


def test_coherence_by_subset_size_counts_generated_modalities_only():
    table = {
        "a": {"a": 1.0, "b": 0.5, "c": 0.7},
        "b": {"a": 0.1, "b": 1.0, "c": 0.3},
        "a+b": {"a": 1.0, "b": 1.0, "c": 0.9},
    }
    by = studies.coherence_by_subset_size(table)
    assert by == {1: pytest.approx((0.5 + 0.7 + 0.1 + 0.3) / 4), 2: pytest.approx(0.9)}


# ---- plans ------------------------------------------------------------------------------------
RUNTIME_CONFIG = ("train_images", "steps", "steps_per_epoch")  # added by the run, not planned


@pytest.mark.parametrize("name", list(studies.STUDIES))
def test_full_plan_is_the_config_of_the_shipped_full_run(name):
    """A full run's plan, recorded as `config`, has the keys, order and values of the shipped
    results file (made before plans were typed): the format did not change. Only what the
    machine or the zoo decides may differ (torch's thread count, the MFM recipes' sizes)."""
    root = Path(__file__).resolve().parent.parent / "results"
    shipped = json.loads((root / f"{name}.json").read_text())["config"]
    plan = studies.STUDIES[name].plan(False, 0)
    assert plan.quick is False and plan.seed == 0
    config = plan.config()
    for key in RUNTIME_CONFIG:
        shipped.pop(key, None)
    for key in ("torch_threads", "base_overrides"):
        if key in shipped:
            config[key] = shipped[key]
    assert json.dumps(config) == json.dumps(shipped)


@pytest.mark.parametrize("name", list(studies.STUDIES))
def test_plans_are_frozen_and_quick_ones_record_it(name):
    import dataclasses

    quick = studies.STUDIES[name].plan(True, 3)
    assert quick.quick is True and quick.seed == 3
    with pytest.raises(dataclasses.FrozenInstanceError):
        quick.seeds = (0,)
    json.dumps(quick.config())  # JSON-ready as it is
