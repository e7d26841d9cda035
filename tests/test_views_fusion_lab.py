"""The Fusion lab's view (mmviz/views/fusion_lab.py), built without Streamlit on the shipped
sentiment checkpoints (TFN, LMF, early and late fusion) and one test utterance.

Checked against computations made here: the four scores against each model's own forward pass
on the (noisy) sample, the parameter counts against the shipped models' counted fusion
parameters, the measured results against the results files and meta.json.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from mmviz import fusionlab
from mmviz.checkpoint import load_checkpoint
from mmviz.views import fusion_lab as lab

ROOT = Path(__file__).resolve().parent.parent
SHIPPED = ["lmf_sentiment", "tfn_sentiment", "early_sentiment", "late_sentiment"]
MODS = ["language", "visual", "acoustic"]


@pytest.fixture(scope="module")
def ds(tmp_path_factory):
    from mmviz.data import load_dataset

    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("MMVIZ_CACHE", str(tmp_path_factory.mktemp("cache")))
        return load_dataset("sentiment")


@pytest.fixture(scope="module")
def models():
    torch.set_num_threads(1)
    return {c: load_checkpoint(ROOT / "checkpoints" / c).model for c in SHIPPED}


@pytest.fixture(scope="module")
def index(ds):
    return int(ds.indices("test")[3])


@pytest.fixture(scope="module")
def sample(ds, index):
    return lab.sample_inputs(ds, index, MODS)


def own_forward(model, inputs, observed, snr, seed):
    """The model's own score on the sample as the lab sets it (noise, then the observed)."""
    vocab = {m: s.num_classes for m, s in model.specs.items() if s.kind == "tokens"}
    noisy = fusionlab.perturb(dict(inputs), snr, vocab, seed)
    with torch.no_grad():
        return float(model.predict(noisy, observed)[0]), float(model.predict(inputs)[0])


@pytest.mark.parametrize(
    "observed, snr",
    [(MODS, {}), (["language", "visual"], {"visual": -10.0}), (["acoustic"], {"acoustic": 0.0})],
)
def test_scores_are_each_models_own_forward_output(ds, models, sample, index, observed, snr):
    truth, _ = lab.sample_truth(ds, index)
    dflt = lab.default_sizes(models["lmf_sentiment"], ds.specs)
    view = lab.build_fusion_lab_view(
        models, sample, ds.specs, ds.info, observed, snr, 7, dflt, dflt, truth
    )
    table = view.scores.table.set_index("model")
    assert list(table.index) == SHIPPED
    for cid, model in models.items():
        score, clean = own_forward(model, sample, observed, snr, 7)
        assert table.loc[cid, "score"] == pytest.approx(score, abs=1e-6)
        assert table.loc[cid, "clean score"] == pytest.approx(clean, abs=1e-6)
        assert table.loc[cid, "correct sign"] == ((score >= 0) == (truth >= 0))
    bars = view.scores.figure.data
    assert list(bars[1].x) == SHIPPED and list(bars[1].y) == pytest.approx(list(table["score"]))
    if snr:  # the noise reaches the scores: another seed, other scores
        other = lab.build_scores_view(models, sample, observed, snr, 8, truth).table
        assert not np.allclose(other["score"], table["score"])


def test_late_fusion_parts_recombine_to_its_score(ds, models, sample):
    observed, snr = ["language", "acoustic"], {"acoustic": 5.0}
    view = lab.build_scores_view(models, sample, observed, snr, 0)
    assert list(view.late) == ["late_sentiment"]  # the only model that averages predictions
    parts = view.late["late_sentiment"].set_index("modality")
    assert list(parts.index) == MODS  # an unobserved one predicts from its training mean
    assert parts["observed"].to_dict() == {m: m in observed for m in MODS}
    score = view.table.set_index("model").loc["late_sentiment", "score"]
    assert parts["weight"].sum() == pytest.approx(1.0)
    assert (parts["weight"] * parts["unimodal score"]).sum() == pytest.approx(score, abs=1e-5)


def test_utterance_view_shows_the_noise_the_models_get(ds, sample):
    snr = {"language": -10.0, "visual": 0.0}
    view = lab.build_utterance_view(sample, ds.specs, ds.info, ["language", "visual"], snr, 3)
    want = fusionlab.perturb(dict(sample), snr, {"language": ds.specs["language"].num_classes}, 3)
    for m in MODS:
        assert torch.equal(view.noisy[m], want[m])
    assert torch.equal(view.noisy["acoustic"], sample["acoustic"])  # no noise asked for
    assert view.token == "language"
    real = int((sample["language"][0] != 0).sum())
    assert len(view.words) == real  # PAD steps left out
    changed = int((want["language"][0] != sample["language"][0]).sum())
    assert changed > 0 and sum(a != b for a, b in view.words) <= changed
    assert list(view.traces) == ["visual", "acoustic"]
    visual = view.traces["visual"]
    assert "SNR 0 dB" in visual.layout.title.text
    names = [t.name for t in visual.data]
    assert names[len(names) // 2 :] == list(ds.info["visual_features"])  # noisy, clean behind
    assert "off: the models use its training mean" in view.traces["acoustic"].layout.title.text


def test_nothing_observed_gives_no_scores(ds, models, sample):
    dflt = lab.default_sizes(models["tfn_sentiment"], ds.specs)
    view = lab.build_fusion_lab_view(models, sample, ds.specs, ds.info, [], {}, 0, dflt, dflt)
    assert view.scores is None and view.utterance.words
    with pytest.raises(ValueError, match="at least one modality"):
        lab.build_scores_view(models, sample, [], {}, 0)


def test_parameter_counts_equal_the_models_counted_parameters(ds, models):
    lmf, tfn = models["lmf_sentiment"], models["tfn_sentiment"]
    own = lab.default_sizes(lmf, ds.specs)
    assert own.dims == {m: lmf.dim(m) for m in MODS} and own.d_h == lmf.config.fusion_dim
    view = lab.build_params_view(own, own)
    assert view.own and view.counts["lmf"] == lmf.fusion_parameter_count()
    assert own.rank == lmf.config.rank
    tfn_own = lab.default_sizes(tfn, ds.specs)
    tfn_view = lab.build_params_view(tfn_own, own)
    assert tfn_view.counts["tfn"] == tfn.fusion_parameter_count()
    assert tfn_view.counts["ratio"] == pytest.approx(
        tfn_view.counts["tfn"] / tfn_view.counts["lmf"]
    )
    # early and late fusion have no sub-network sizes: FusionConfig's defaults
    early = lab.default_sizes(models["early_sentiment"], ds.specs)
    assert set(early.dims) == set(MODS)
    # sizes moved off the checkpoint's: not its own, and the modules still agree
    moved = lab.Sizes({"language": 17, "visual": 5, "acoustic": 9}, 12, 3)
    view = lab.build_params_view(moved, own)
    assert not view.own
    ok, message = lab.check_against_modules(view)
    assert ok and "✓ equal to the formulas" in message
    ranks = list(view.by_rank.data[1].x)
    assert 3 in ranks and ranks == sorted(ranks)


def test_measured_results_come_from_the_files(ds, models):
    bench = fusionlab.read_fusion_bench(ROOT / "results" / lab.FUSION_BENCH)
    view = lab.build_bench_view(bench)
    assert view.table.loc["fusion params", "tfn"] == bench["tfn"]["fusion_params"]
    assert view.table.loc["fusion params", "lmf"] == bench["lmf"]["fusion_params"]
    assert f"batch {bench['batch_size']}" in view.caption
    sizes = lab.default_sizes(models["tfn_sentiment"], ds.specs)
    params = lab.build_params_view(sizes, sizes)
    note = lab.bench_sizes_note(bench, ds.specs, params)
    if bench["tfn"]["fusion_params"] == params.counts["tfn"]:
        assert "are the ones set above: the same TFN count" in note
    else:
        assert f"Why TFN has {bench['tfn']['fusion_params']:,} fusion parameters here" in note
        assert f"({sizes.text()})" in note

    rows = fusionlab.read_rank_study(ROOT / "results" / lab.LMF_RANK)
    rank = lab.build_rank_view(rows)
    assert list(rank.summary["rank"]) == sorted(rows["rank"].unique())
    first = rows[rows["rank"] == rows["rank"].min()]
    assert rank.summary["acc2"].iloc[0] == pytest.approx(first["acc2"].mean())

    metas = {c: json.loads((ROOT / "checkpoints" / c / "meta.json").read_text()) for c in SHIPPED}
    recipes = lab.build_recipes_view(metas, {c: m.name for c, m in models.items()})
    for c in SHIPPED:
        for recipe, acc in metas[c]["metrics"]["by_interaction"].items():
            assert recipes.table.loc[c, recipe] == pytest.approx(acc)
    assert recipes.figure is not None
    assert lab.build_recipes_view({"x": {}}, {"x": "tfn"}).figure is None


def test_which_checkpoints_the_lab_takes(ds, index, models):
    from mmviz.explore import catalog

    infos = {i.id: i for i in catalog(ROOT / "checkpoints")}
    assert all(lab.applies(infos[c]) is None for c in SHIPPED)
    assert "oracle" in lab.applies(infos["oracle_hand"])
    assert "the lab compares the sentiment fusion" in lab.applies(infos["mfm_sentiment"])
    truth, recipe = lab.sample_truth(ds, index)
    assert truth == pytest.approx(float(ds.targets["score"][index]))
    assert recipe == ds.info["interactions"][int(ds.factors["interaction"][index])]
    assert lab.comparable(models, MODS) == models and lab.comparable(models, MODS[:2]) == {}
    assert lab.snr_db({"language": "clean", "visual": -5, "acoustic": 10}, MODS[:2]) == {
        "visual": -5.0
    }
    assert lab.noise_note("tokens", 0) == "50% of words replaced"
    assert lab.noise_note("sequence", 0) is None and lab.noise_note("tokens", "clean") is None


def test_cached_views_follow_the_weights_and_meta_on_disk(ds, sample, tmp_path, monkeypatch):
    """ui/cache serves the lab's scores and the report from the (root, id, stamp) key: after
    the weights or meta.json change on disk, the next view comes from the new files."""
    import shutil

    import streamlit as st
    from safetensors.torch import save_file

    from mmviz import checkpoint as ck
    from ui import cache

    ids = ("lmf_sentiment", "late_sentiment")
    root = tmp_path / "zoo"
    for cid in ids:
        shutil.copytree(ROOT / "checkpoints" / cid, root / cid)
    monkeypatch.setenv("MMVIZ_CHECKPOINTS", str(root))
    st.cache_data.clear()
    st.cache_resource.clear()
    try:
        args = (ids, cache.digest(sample), ("language", "visual"), (("visual", 0.0),), 0, None)
        before = cache.lab_scores_view(*args, sample).table["score"].to_numpy()
        again = cache.lab_scores_view(*args, sample).table["score"].to_numpy()
        np.testing.assert_array_equal(before, again)
        model = ck.load_checkpoint(root / "lmf_sentiment").model
        g = torch.Generator().manual_seed(0)
        state = {
            k: (v + 0.5 * torch.randn(v.shape, generator=g) if v.is_floating_point() else v)
            for k, v in model.state_dict().items()
        }
        save_file(
            {k: v.contiguous() for k, v in state.items()}, str(root / "lmf_sentiment" / ck.WEIGHTS)
        )
        after = cache.lab_scores_view(*args, sample).table["score"].to_numpy()
        fresh = {c: ck.load_checkpoint(root / c).model for c in ids}
        want = lab.build_scores_view(fresh, sample, ["language", "visual"], {"visual": 0.0}, 0)
        np.testing.assert_allclose(after, want.table["score"].to_numpy(), atol=1e-6)
        assert after[0] != pytest.approx(before[0]) and after[1] == pytest.approx(before[1])

        report = cache.report_view("late_sentiment")
        meta_path = root / "late_sentiment" / ck.META
        meta = json.loads(meta_path.read_text())
        meta["metrics"]["acc2"] = 0.123
        meta_path.write_text(json.dumps(meta))
        assert report.metrics["acc2"] != 0.123
        assert cache.report_view("late_sentiment").metrics["acc2"] == 0.123
    finally:
        st.cache_data.clear()
        st.cache_resource.clear()
