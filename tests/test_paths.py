"""mmviz/paths.py: MMVIZ_CHECKPOINTS, MMVIZ_RESULTS and MMVIZ_CACHE are read when a function
runs (not when a module is imported) and honoured by every function that reads those folders;
without them the working directory's folders come next, then the packaged defaults."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from mmviz import paths
from mmviz.checkpoint import save_checkpoint
from mmviz.models.mvae import MVAE, MVAEConfig
from tests.toydata import toy_dataset

VARS = ("MMVIZ_CHECKPOINTS", "MMVIZ_RESULTS", "MMVIZ_CACHE", "MMVIZ_LESSONS")


@pytest.fixture()
def clean_env(monkeypatch):
    for var in VARS:
        monkeypatch.delenv(var, raising=False)
    return monkeypatch


def tiny_checkpoint(root: Path, cid: str = "mvae_toy") -> Path:
    ds = toy_dataset()
    torch.manual_seed(0)
    model = MVAE(MVAEConfig(latent_dim=2, hidden=8, enc_layers=1, dec_layers=1), ds.specs)
    meta = {
        "dataset": "toy",
        "model": "mvae",
        "modalities": list(ds.specs),
        "training": {},
        "code_version": "test",
    }
    return save_checkpoint(model, root / cid, meta)


def test_defaults_when_unset(clean_env, tmp_path):
    clean_env.chdir(tmp_path)  # no checkpoints/ or results/ here
    assert paths.checkpoint_root() == paths.REPO / "checkpoints" == paths.DEFAULT_CHECKPOINTS
    assert paths.results_root() == paths.REPO / "results"
    assert paths.cache_root() == Path.home() / ".cache" / "mmviz"
    assert paths.lessons_root() == paths.REPO / "lessons"
    clean_env.setenv("MMVIZ_RESULTS", "")  # empty counts as unset
    assert paths.results_root() == paths.REPO / "results"


def test_a_clones_root_gives_the_shipped_folders(clean_env):
    clean_env.chdir(paths.REPO)
    assert paths.checkpoint_root() == paths.DEFAULT_CHECKPOINTS
    assert paths.checkpoint_origin() == "shipped"
    assert paths.results_root() == paths.DEFAULT_RESULTS


def test_the_working_directory_comes_before_the_packaged_defaults(clean_env, tmp_path):
    clean_env.chdir(tmp_path)
    (tmp_path / "checkpoints").mkdir()
    assert paths.checkpoint_root() == tmp_path / "checkpoints"
    assert paths.checkpoint_origin() == "working directory"
    assert paths.results_root() == paths.DEFAULT_RESULTS  # no ./results: the packaged one
    (tmp_path / "results").mkdir()
    (tmp_path / "lessons").mkdir()
    assert paths.results_root() == tmp_path / "results"
    assert paths.lessons_root() == tmp_path / "lessons"
    assert paths.cache_root() == Path.home() / ".cache" / "mmviz"  # no working-directory step
    clean_env.setenv("MMVIZ_CHECKPOINTS", str(tmp_path / "mine"))  # the variable comes first
    assert paths.checkpoint_root() == tmp_path / "mine"
    assert paths.checkpoint_origin() == "MMVIZ_CHECKPOINTS"


def test_the_working_directorys_checkpoints_are_listed_by_the_cli(clean_env, tmp_path, capsys):
    from mmviz.cli import main

    tiny_checkpoint(tmp_path / "checkpoints")
    clean_env.chdir(tmp_path)
    assert main(["list", "--json"]) == 0
    assert [r["id"] for r in json.loads(capsys.readouterr().out)] == ["mvae_toy"]


def test_each_variable_is_read_at_call_time(clean_env, tmp_path):
    for var, fn in zip(
        VARS,
        (paths.checkpoint_root, paths.results_root, paths.cache_root, paths.lessons_root),
        strict=True,
    ):
        clean_env.setenv(var, str(tmp_path / var))
        assert fn() == tmp_path / var


def test_checkpoints_env_is_honoured(clean_env, tmp_path):
    from mmviz import checkpoint as ck
    from mmviz.cli import main
    from mmviz.explore import catalog
    from mmviz.zoo import checkpoint_table

    root = tmp_path / "zoo"
    tiny_checkpoint(root)
    assert "mvae_toy" not in ck.list_ids()  # the shipped zoo before the variable is set
    clean_env.setenv("MMVIZ_CHECKPOINTS", str(root))
    assert ck.list_ids() == ["mvae_toy"]
    assert ck.resolve("mvae_toy") == root / "mvae_toy"
    assert ck.load_checkpoint("mvae_toy").id == "mvae_toy"
    assert [r["id"] for r in checkpoint_table()] == ["mvae_toy"]
    assert [r.id for r in catalog()] == ["mvae_toy"]
    with pytest.raises(ck.CheckpointError, match="known ids: mvae_toy"):
        ck.resolve("nope")
    assert main(["list", "--json"]) == 0


def test_checkpoints_env_is_honoured_by_the_app_loaders(clean_env, tmp_path):
    from ui import cache

    root = tmp_path / "zoo"
    tiny_checkpoint(root)
    clean_env.setenv("MMVIZ_CHECKPOINTS", str(root))
    assert [r.id for r in cache.catalog()] == ["mvae_toy"]
    assert cache.load_checkpoint("mvae_toy").path == root / "mvae_toy"


def test_results_env_is_honoured(clean_env, tmp_path):
    from mmviz import fusionlab, studies
    from ui import cache

    results = tmp_path / "results"
    results.mkdir()
    clean_env.setenv("MMVIZ_RESULTS", str(results))
    assert studies.default_out("lmf-rank", quick=True) == results / "lmf-rank.quick.json"
    assert fusionlab.results_dir() == results
    assert cache.results_file("fusion_bench.json") == (str(results / "fusion_bench.json"), 0)
    assert fusionlab.read_fusion_bench() is None  # the shipped results/ has one
    rows = [{"rank": 1, "seed": 0, "acc2": 0.7, "mae": 1.0, "corr": 0.5, "fusion_params": 9}]
    (results / "lmf-rank.json").write_text(json.dumps({"rows": rows}))
    assert fusionlab.read_rank_study()["fusion_params"].tolist() == [9]
    found = {n: f.path for n, f in studies.load_results().items() if f.path is not None}
    assert found == {"lmf-rank": results / "lmf-rank.json"}  # the zoo's rank study is one


def test_cache_env_is_honoured(clean_env, tmp_path):
    from mmviz.data.cache import cache_dir, cache_path

    clean_env.setenv("MMVIZ_CACHE", str(tmp_path / "c"))
    assert cache_dir() == tmp_path / "c"
    assert cache_path("digits", "3") == tmp_path / "c" / "digits-3.npz"


def test_installed_checkpoints_are_not_written(monkeypatch, tmp_path):
    """In a wheel (mmviz/_shipped exists) the shipped zoo is read-only for commands; a clone's
    own folder, a working-directory folder or $MMVIZ_CHECKPOINTS stays writable."""
    from mmviz import paths

    monkeypatch.delenv("MMVIZ_CHECKPOINTS", raising=False)
    monkeypatch.chdir(tmp_path)
    assert paths.checkpoints_writable()  # a clone: no _shipped folder
    shipped = tmp_path / "site" / "_shipped"
    shipped.mkdir(parents=True)
    monkeypatch.setattr(paths, "SHIPPED", shipped)
    assert not paths.checkpoints_writable()
    (tmp_path / "checkpoints").mkdir()
    assert paths.checkpoints_writable()  # ./checkpoints wins and is the user's
    monkeypatch.setenv("MMVIZ_CHECKPOINTS", str(tmp_path / "mine"))
    assert paths.checkpoints_writable()


def test_lessons_resolve_like_checkpoints_and_results(clean_env, tmp_path, monkeypatch):
    """Lessons: $MMVIZ_LESSONS, else ./lessons, else the packaged folder, which in a wheel is
    the copy setup.py ships under mmviz/_shipped/lessons."""
    clean_env.chdir(tmp_path)
    assert paths.lessons_root() == paths.DEFAULT_LESSONS == paths.packaged("lessons")
    (tmp_path / "lessons").mkdir()
    assert paths.lessons_root() == tmp_path / "lessons"
    clean_env.setenv("MMVIZ_LESSONS", str(tmp_path / "course"))
    assert paths.lessons_root() == tmp_path / "course"
    shipped = tmp_path / "site" / "_shipped"
    monkeypatch.setattr(paths, "SHIPPED", shipped)
    assert paths.packaged("lessons") == paths.REPO / "lessons"  # the wheel ships none
    (shipped / "lessons").mkdir(parents=True)
    assert paths.packaged("lessons") == shipped / "lessons"


@pytest.fixture()
def installed_layout(clean_env, tmp_path, monkeypatch):
    """This process seen as an installed wheel run outside any clone: the packaged folders are
    mmviz/_shipped/{checkpoints,results} in a fake site-packages, the working directory is
    empty."""
    shipped = tmp_path / "site" / "mmviz" / "_shipped"
    for name in ("checkpoints", "results"):
        (shipped / name).mkdir(parents=True)
    monkeypatch.setattr(paths, "SHIPPED", shipped)
    monkeypatch.setattr(paths, "DEFAULT_CHECKPOINTS", shipped / "checkpoints")
    monkeypatch.setattr(paths, "DEFAULT_RESULTS", shipped / "results")
    work = tmp_path / "work"
    work.mkdir()
    clean_env.chdir(work)
    return shipped, work


def test_commands_never_write_into_an_installed_package(installed_layout):
    shipped, work = installed_layout
    assert paths.checkpoint_root() == shipped / "checkpoints"  # read from the package
    assert paths.results_root() == shipped / "results"
    assert paths.checkpoint_write_root() == work / "checkpoints"  # written beside the user
    assert paths.results_write_root() == work / "results"
    from mmviz import studies

    assert studies.default_out("lmf-rank", quick=False) == work / "results" / "lmf-rank.json"
    assert studies.command("lmf-rank", False) == "python -m mmviz study lmf-rank"


def test_writing_where_reading_outside_an_installed_package(clean_env, tmp_path):
    """A clone, ./checkpoints or a variable: commands write into the folder they read."""
    clean_env.chdir(tmp_path)
    assert paths.checkpoint_write_root() == paths.checkpoint_root() == paths.DEFAULT_CHECKPOINTS
    assert paths.results_write_root() == paths.results_root() == paths.DEFAULT_RESULTS
    clean_env.setenv("MMVIZ_RESULTS", str(tmp_path / "r"))
    clean_env.setenv("MMVIZ_CHECKPOINTS", str(tmp_path / "c"))
    assert paths.results_write_root() == tmp_path / "r"
    assert paths.checkpoint_write_root() == tmp_path / "c"


def test_study_from_an_installed_package_writes_into_the_working_directory(
    installed_layout, monkeypatch
):
    """`run_study` (what `mmviz study` calls) writes ./results/<name>.json, and the page then
    reads it from there; a stand-in study keeps this test fast."""
    from mmviz.studies import Plan, Study, index, load_results, run_study

    shipped, work = installed_layout
    fake = Study(
        name="lmf-rank",
        title="t",
        claim="c (ref)",
        plan=lambda quick, seed: Plan(quick=quick, seeds=(seed,)),
        run=lambda plan, progress: {"config": plan.config(), "rows": [{"x": 1}], "paper": None},
        verdict=lambda rows: ("not run", "stand-in"),
        minutes=0,
    )
    monkeypatch.setitem(index.STUDIES, "lmf-rank", fake)
    result = run_study("lmf-rank", quick=True)
    assert result["path"] == str(work / "results" / "lmf-rank.quick.json")
    assert result["command"] == "python -m mmviz study lmf-rank --quick"
    assert list((shipped / "results").iterdir()) == []
    assert load_results()["lmf-rank"].path == work / "results" / "lmf-rank.quick.json"


def test_train_all_from_an_installed_package_writes_into_the_working_directory(
    installed_layout, monkeypatch, capsys
):
    import mmviz.train
    from mmviz.cli import main

    shipped, work = installed_layout
    outs = []
    monkeypatch.setattr(
        mmviz.train, "run_training", lambda model, ds, mods, out, *a, **k: outs.append(out)
    )
    assert main(["train-all", "--only", "oracle_text", "--quiet"]) == 0
    assert outs == [work / "checkpoints" / "oracle_text"]
    assert "stay as shipped" in capsys.readouterr().err
    assert main(["train-all", "--only", "oracle_text", "--quiet", "--root", str(work / "z")]) == 0
    assert outs[-1] == work / "z" / "oracle_text"
    assert "stay as shipped" not in capsys.readouterr().err
    assert list((shipped / "checkpoints").iterdir()) == []


def test_demo_check_write_leaves_an_installed_package_as_shipped(installed_layout, monkeypatch):
    import mmviz.demo
    from mmviz.cli import main

    calls = []
    monkeypatch.setattr(
        mmviz.demo,
        "demo_check",
        lambda **k: calls.append(k) or {"targets": [], "scores": {}, "default": None},
    )
    assert main(["demo-check", "--write", "--json"]) == 0
    assert calls[0]["write"] is False
