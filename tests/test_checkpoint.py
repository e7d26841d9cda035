"""Checkpoints round-trip exactly, and anything that is not a valid checkpoint is refused."""

import json
import pickle

import pytest
import torch

from mmviz.checkpoint import CheckpointError, load_checkpoint, save_checkpoint
from mmviz.models.oracle import OracleClassifier, OracleConfig
from mmviz.train import TrainSettings, train_model
from tests.toydata import toy_dataset


@pytest.fixture(scope="module")
def trained():
    ds = toy_dataset()
    torch.manual_seed(0)
    cfg = OracleConfig(modality="image", num_classes=4, channels=(4, 8))
    model = OracleClassifier(cfg, ds.specs)
    settings = TrainSettings(epochs=20, batch_size=16, lr=3e-3, patience=20)
    history = train_model(model, ds, settings, progress=False)
    return ds, model, history


@pytest.fixture()
def saved(trained, tmp_path):
    ds, model, history = trained
    path = save_checkpoint(model, tmp_path / "ck", {"dataset": "toy", "training": history})
    return ds, model, path


def test_round_trip_gives_identical_outputs(saved):
    ds, model, path = saved
    x = ds.tensors("test")
    loaded = load_checkpoint(path)
    assert torch.equal(model.predict(x), loaded.model.predict(x))
    meta = json.loads((path / "meta.json").read_text())
    assert len(meta["weights_sha256"]) == 64
    assert meta["training"]["phases"]["main"]["epochs_run"] >= 1


def test_training_learns_the_toy_task(saved):
    ds, model, _ = saved
    acc = (model.predict(ds.tensors("test")).argmax(-1) == ds.target_tensor("test")).float().mean()
    assert acc > 0.9


def test_pickle_renamed_to_safetensors_is_refused(saved, tmp_path):
    _, model, path = saved
    marker = tmp_path / "executed"
    payload = pickle.dumps({"state": model.state_dict()})
    (path / "model.safetensors").write_bytes(payload)
    with pytest.raises(CheckpointError, match="not a valid safetensors"):
        load_checkpoint(path)
    assert not marker.exists()


def test_truncated_weights_are_refused(saved):
    _, _, path = saved
    blob = (path / "model.safetensors").read_bytes()
    (path / "model.safetensors").write_bytes(blob[: len(blob) // 2])
    with pytest.raises(CheckpointError):
        load_checkpoint(path)


def test_wrong_shapes_are_refused(saved):
    _, _, path = saved
    cfg = json.loads((path / "config.json").read_text())
    cfg["config"]["channels"] = [6, 8]
    (path / "config.json").write_text(json.dumps(cfg))
    with pytest.raises(CheckpointError, match="wrong shapes"):
        load_checkpoint(path)


@pytest.mark.parametrize(
    "text", ["{not json", "[1, 2]", '{"model": "nope", "config": {}, "specs": []}']
)
def test_bad_config_json_is_refused(saved, text):
    _, _, path = saved
    (path / "config.json").write_text(text)
    with pytest.raises(CheckpointError):
        load_checkpoint(path)


def test_unknown_id_names_the_known_ones():
    with pytest.raises(CheckpointError, match="no checkpoint 'does-not-exist'"):
        load_checkpoint("does-not-exist")


def test_overwrite_keeps_a_complete_checkpoint(saved):
    ds, model, path = saved
    save_checkpoint(model, path, {"dataset": "toy", "round": 2})
    assert json.loads((path / "meta.json").read_text())["round"] == 2
    assert not list(path.parent.glob(".ck.*"))
    load_checkpoint(path)
