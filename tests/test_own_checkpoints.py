"""Your own checkpoint folders: listed with a "📁 yours" badge beside the shipped ones, and one
trained on another dataset version than the app builds is flagged, not silently used."""

import json
import shutil

import pytest

from mmviz import paths
from mmviz.cli import main
from mmviz.data import dataset_version, load_dataset
from mmviz.explore import catalog
from mmviz.zoo import ZOO, checkpoint_table, is_yours, version_warning

SHIPPED_ID = "oracle_hand"


def _copy_json(src, dst, **meta_changes):
    """A checkpoint folder with `src`'s config and meta (all the catalogue reads)."""
    dst.mkdir(parents=True)
    for name in ("config.json", "meta.json"):
        shutil.copy(src / name, dst / name)
    meta = json.loads((dst / "meta.json").read_text())
    meta.update(meta_changes)
    (dst / "meta.json").write_text(json.dumps(meta))


@pytest.fixture
def own_root(tmp_path, monkeypatch):
    root = tmp_path / "mine"
    src = paths.DEFAULT_CHECKPOINTS / SHIPPED_ID
    _copy_json(src, root / "my_oracle")
    _copy_json(src, root / "my_old_oracle", dataset_version="digits-0-old")
    monkeypatch.setenv("MMVIZ_CHECKPOINTS", str(root))
    return root


def test_the_app_version_is_computed_without_building_and_matches_the_build(tmp_cache):
    assert dataset_version("sentiment") == load_dataset("sentiment").version
    assert dataset_version("nosuch") is None


def test_shipped_checkpoints_carry_no_badge_and_no_warning():
    infos = catalog(paths.DEFAULT_CHECKPOINTS)
    shipped = {r.id for r in ZOO if r.shipped}
    assert {i.id for i in infos if not i.yours} == shipped & {i.id for i in infos}
    assert all(i.version_warning is None for i in infos), [i.version_warning for i in infos]
    assert all("yours" not in i.label and "⚠️" not in i.label for i in infos)


def test_own_folder_is_badged_and_an_old_version_warned(own_root):
    by_id = {i.id: i for i in catalog()}
    assert set(by_id) == {"my_oracle", "my_old_oracle"}
    assert all(i.yours for i in by_id.values())
    assert by_id["my_oracle"].label.endswith("· 📁 yours")
    assert by_id["my_oracle"].version_warning is None
    old = by_id["my_old_oracle"]
    assert old.dataset_version == "digits-0-old"
    assert old.label.startswith("⚠️ ")
    assert "version digits-0-old" in old.version_warning
    assert dataset_version("digits") in old.version_warning and "Retrain" in old.version_warning


def test_a_shipped_id_outside_the_shipped_zoo_is_yours(tmp_path):
    _copy_json(paths.DEFAULT_CHECKPOINTS / SHIPPED_ID, tmp_path / SHIPPED_ID)
    assert is_yours(tmp_path / SHIPPED_ID)
    assert not is_yours(paths.DEFAULT_CHECKPOINTS / SHIPPED_ID)
    (tmp_path / "link").symlink_to(paths.DEFAULT_CHECKPOINTS / SHIPPED_ID)
    assert not is_yours(tmp_path / "link")  # a link to a shipped folder is the shipped one


def test_version_warning_needs_both_versions():
    assert version_warning("x", "digits", None) is None
    assert version_warning("x", "unknown-data", "v1") is None
    assert version_warning("x", "digits", dataset_version("digits")) is None
    assert "builds version" in version_warning("x", "digits", "v0")


def test_list_shows_the_badge_and_the_warning(own_root, capsys):
    rows = {r["id"]: r for r in checkpoint_table()}
    assert rows["my_oracle"]["yours"] and rows["my_old_oracle"]["version_warning"]
    assert main(["list", "--json"]) == 0
    listed = {r["id"]: r for r in json.loads(capsys.readouterr().out)}
    assert listed["my_oracle"]["yours"] is True
    assert listed["my_old_oracle"]["dataset_version"] == "digits-0-old"
    assert main(["list"]) == 0
    out = capsys.readouterr().out
    assert out.count("📁 yours") == 2
    assert "trained on `digits` version digits-0-old" in out


def test_shipped_rows_in_list_json_say_not_yours(monkeypatch, capsys):
    monkeypatch.setenv("MMVIZ_CHECKPOINTS", str(paths.DEFAULT_CHECKPOINTS))
    assert main(["list", "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert rows and not any(r["yours"] or r["version_warning"] for r in rows)


def test_a_null_dataset_version_is_not_recorded_and_a_number_is_a_problem(own_root):
    """As load_checkpoint reads meta.json: null is "not recorded", a number the wrong type."""
    for cid, value in (("my_oracle", None), ("my_old_oracle", 5)):
        meta = json.loads((own_root / cid / "meta.json").read_text())
        meta["dataset_version"] = value
        (own_root / cid / "meta.json").write_text(json.dumps(meta))
    by_id = {i.id: i for i in catalog()}
    assert by_id["my_oracle"].problem is None and by_id["my_oracle"].version_warning is None
    assert "'dataset_version' has the wrong type" in by_id["my_old_oracle"].problem
