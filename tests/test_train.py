"""The training loop: reproducible from a seed, and identical weights on every DDP rank."""

import json
import os
import socket

import torch
import torch.multiprocessing as mp

from mmviz.models.mfm import MFM, MFMConfig
from mmviz.models.oracle import OracleClassifier, OracleConfig
from mmviz.train import TrainSettings, state_checksum, train_model
from tests.toydata import toy_dataset

SETTINGS = TrainSettings(epochs=2, batch_size=8, lr=3e-3, max_steps=4, seed=3)


def _model(seed: int) -> OracleClassifier:
    torch.manual_seed(seed)
    return OracleClassifier(
        OracleConfig(modality="image", num_classes=4, channels=(4, 8)), toy_dataset().specs
    )


def test_same_seed_same_weights_other_seed_different():
    torch.set_num_threads(1)
    a, b, c = _model(0), _model(0), _model(0)
    ds = toy_dataset()
    train_model(a, ds, SETTINGS, progress=False)
    train_model(b, ds, SETTINGS, progress=False)
    train_model(c, ds, TrainSettings(**{**SETTINGS.__dict__, "seed": 4}), progress=False)
    assert state_checksum(a) == state_checksum(b)
    assert state_checksum(a) != state_checksum(c)


def test_a_phase_start_hook_runs_once_after_the_phases_before_it():
    """MFM's surrogates warm-start from the *trained* main encoders: train_model calls the
    surrogate phase's start hook once, after the main phase and before the surrogates step."""
    torch.manual_seed(0)
    ds = toy_dataset()
    cfg = MFMConfig(
        hidden=16,
        zy_dim=4,
        za_dim=2,
        factor_dim=8,
        label_as_target=False,
        num_classes=4,
        surrogate_warm_start=True,
    )
    model = MFM(cfg, ds.specs)
    initial = {k: v.clone() for k, v in model.y_features.state_dict().items()}
    calls: list[dict[str, torch.Tensor]] = []
    original = model.warm_start_surrogates

    def spy() -> None:
        calls.append({k: v.clone() for k, v in model.y_features.state_dict().items()})
        original()

    model.warm_start_surrogates = spy
    history = train_model(model, ds, SETTINGS, progress=False)
    assert list(history["phases"]) == ["main", "surrogate"] and len(calls) == 1
    seen, final = calls[0], model.y_features.state_dict()
    assert all(torch.equal(seen[k], final[k]) for k in final)  # the main phase had finished
    assert any(not torch.equal(seen[k], initial[k]) for k in final)  # and had trained


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _ddp_worker(rank: int, world: int, port: int, out_dir: str) -> None:
    os.environ.update(
        MASTER_ADDR="127.0.0.1",
        MASTER_PORT=str(port),
        WORLD_SIZE=str(world),
        RANK=str(rank),
        LOCAL_RANK=str(rank),
    )
    torch.set_num_threads(1)
    model = _model(seed=rank)  # different initial weights per rank: DDP must broadcast rank 0's
    history = train_model(model, toy_dataset(), SETTINGS, progress=False)
    with open(os.path.join(out_dir, f"rank{rank}.json"), "w") as f:
        json.dump({"checksum": state_checksum(model), "history": history}, f)
    # both ranks reach here before either tears gloo down: a rank destroying the group while
    # the other still talks to it aborts that one ("terminate called without an active
    # exception", seen once under load)
    torch.distributed.barrier()
    torch.distributed.destroy_process_group()


def test_two_ddp_ranks_end_with_identical_weights(tmp_path):
    mp.spawn(_ddp_worker, args=(2, _free_port(), str(tmp_path)), nprocs=2, join=True)
    r0 = json.loads((tmp_path / "rank0.json").read_text())
    r1 = json.loads((tmp_path / "rank1.json").read_text())
    assert r0["checksum"] == r1["checksum"]
    assert r0["history"]["world_size"] == 2
    assert r0["history"]["rank_checksums"] == [r0["checksum"]] * 2
    # the ranks trained on disjoint shards, so the shared result is not rank 0 alone
    solo = _model(seed=0)
    train_model(solo, toy_dataset(), SETTINGS, progress=False)
    assert state_checksum(solo) != r0["checksum"]
