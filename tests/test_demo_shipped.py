"""The demo-quality suite on the shipped checkpoints: CI re-measures each stored suite on a
200-sample slice, and the app opens on the checkpoint the suite ranks best."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from streamlit.testing.v1 import AppTest

from mmviz import demo
from mmviz.checkpoint import load_checkpoint
from mmviz.evaluate import QUICK_DEMO_SAMPLES, evaluation_dataset
from mmviz.explore import catalog
from mmviz.zoo import ZOO

ROOT = Path(__file__).resolve().parent.parent
GENERATIVE_DIGITS = [
    r.id for r in ZOO if r.shipped and r.dataset == "digits" and r.model in ("mvae", "jmvae", "mfm")
]
# A 200-sample slice against the stored 1,000: a cell's binomial standard error is <= 3.5
# points, so a cell may be off by 15 points and the table's mean by 5 before it is a change.
CELL_TOL, MEAN_TOL, SUMMARY_TOL = 0.15, 0.05, 0.08


@pytest.fixture(autouse=True)
def keep_threads():
    threads = torch.get_num_threads()  # ui/cache.py sets it to 1
    yield
    torch.set_num_threads(threads)


@pytest.mark.slow
@pytest.mark.parametrize("cid", GENERATIVE_DIGITS)
def test_stored_demo_suite_is_what_the_checkpoint_does(cid):
    ck = load_checkpoint(cid)
    stored = ck.meta["metrics"]["demo"]
    assert stored["samples"] == demo.DEMO_SAMPLES
    again = demo.demo_suite(ck.model, evaluation_dataset(ck), QUICK_DEMO_SAMPLES)
    old, new = stored["reconstruction"]["table"], again["reconstruction"]["table"]
    assert set(old) == set(new)
    diffs = [abs(old[s][m] - new[s][m]) for s in old for m in old[s]]
    assert max(diffs) <= CELL_TOL and np.mean(diffs) <= MEAN_TOL, (max(diffs), np.mean(diffs))
    for path in (
        ("score",),
        ("joint_label", "min"),
        ("own_input", "mean"),
        ("swap", "class_accuracy"),
    ):
        a, b = demo._get(stored, *path), demo._get(again, *path)
        assert (a is None) == (b is None), path
        if a is not None:
            assert abs(a - b) <= SUMMARY_TOL, (path, a, b)
    # the traversal bases are the first 20 balanced samples in both runs: identical figures
    # (the class changes are counts; the hue change is a float mean that moves with the thread
    # count's rounding, hence its tolerance)
    for part, tol in (("class_change", 1e-9), ("print_hue_change", 1e-3)):
        old_part = stored["traversal_effect"].get(part, {})
        assert old_part == pytest.approx(again["traversal_effect"].get(part, {}), abs=tol)


def test_the_default_checkpoint_is_the_best_on_the_suite():
    infos = catalog()
    scored = {i.id: i.demo_score for i in infos if i.demo_score is not None}
    assert set(GENERATIVE_DIGITS) <= set(scored)
    best = max(scored, key=scored.get)
    assert [i.id for i in infos if i.default] == [best]
    shipped = {r.id for r in ZOO if r.shipped}
    assert all(i.purpose for i in infos if i.id in shipped), "every shipped card says what for"


def test_cli_marks_the_default_and_reports_targets(capsys):
    from mmviz.cli import main

    assert main(["list", "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    defaults = [r["id"] for r in rows if r["default"]]
    assert len(defaults) == 1
    assert main(["demo-check", "--from-meta", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["default"] == defaults[0]
    assert {t["checkpoint"] for t in report["targets"]} >= {"mvae_hand_label", "mfm_digits5"}
    for t in report["targets"]:
        assert isinstance(t["pass"], bool)
        if t["value"] is not None:
            ok = t["value"] >= t["threshold"] if t["op"] == ">=" else t["value"] <= t["threshold"]
            assert t["pass"] == ok


@pytest.mark.slow
def test_the_app_opens_on_the_default_checkpoint():
    best = next(i.id for i in catalog() if i.default)
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=120)
    at.run()
    at.switch_page("pages/missing.py")
    at.run()
    assert not at.exception
    chosen = [s.value for s in at.selectbox if s.key == "ckpt"]
    assert chosen == [best]
