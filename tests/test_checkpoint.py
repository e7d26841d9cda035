"""Checkpoints round-trip exactly, and anything that is not a valid checkpoint is refused."""

import copy
import json
import pickle

import pytest
import torch

from mmviz.checkpoint import CheckpointError, load_checkpoint, round_weights, save_checkpoint
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


def test_float16_storage_halves_the_file_and_matches_the_rounded_model(trained, tmp_path):
    """Stored at half precision: about half the bytes, loaded as a float32 model whose weights
    are exactly the float32 weights rounded through float16 (the reference computed another
    way: by hand, tensor by tensor), so its outputs equal those of the rounded model."""
    ds, model, history = trained
    full = save_checkpoint(model, tmp_path / "full", {"dataset": "toy"})
    half = save_checkpoint(model, tmp_path / "half", {"dataset": "toy"}, weights_dtype="float16")
    size = {p.name: (p / "model.safetensors").stat().st_size for p in (full, half)}
    ratio = size["half"] / size["full"]
    assert 0.45 < ratio < 0.55
    assert json.loads((half / "config.json").read_text())["weights_dtype"] == "float16"
    loaded = load_checkpoint(half).model
    for k, v in model.state_dict().items():
        got = loaded.state_dict()[k]
        assert got.dtype == v.dtype
        expect = v.half().float() if v.dtype == torch.float32 else v
        assert torch.equal(got, expect), k
    rounded = copy.deepcopy(model)
    round_weights(rounded, "float16")
    x = ds.tensors("test")
    assert torch.equal(loaded.predict(x), rounded.predict(x))
    assert any(  # it did round: float16 cannot hold trained float32 weights exactly
        not torch.equal(loaded.state_dict()[k], v) for k, v in model.state_dict().items()
    )
    # and the rounding costs the toy task nothing measurable
    y = ds.target_tensor("test")
    acc = [(m.predict(x).argmax(-1) == y).float().mean().item() for m in (model, loaded)]
    assert abs(acc[0] - acc[1]) <= 0.02


def test_half_weights_without_the_declaration_are_refused(trained, tmp_path):
    """A float16 file is accepted only where config.json says float16 (else it is a wrong
    file, not a deliberate choice); and config.json may not declare a dtype we do not read."""
    _, model, _ = trained
    half = save_checkpoint(model, tmp_path / "half", {"dataset": "toy"}, weights_dtype="float16")
    cfg = json.loads((half / "config.json").read_text())
    (half / "config.json").write_text(json.dumps({**cfg, "weights_dtype": "float32"}))
    with pytest.raises(CheckpointError, match="wrong shapes or dtypes"):
        load_checkpoint(half)
    (half / "config.json").write_text(json.dumps({**cfg, "weights_dtype": "int4"}))
    with pytest.raises(CheckpointError, match="weights_dtype 'int4'"):
        load_checkpoint(half)
    with pytest.raises(ValueError, match="choose from float32, float16"):
        save_checkpoint(model, tmp_path / "bad", {}, weights_dtype="bfloat16")
    assert not (tmp_path / "bad").exists()
