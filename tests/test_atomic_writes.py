"""Writes that a SIGKILL interrupts leave nothing half-written under the real name.

A writer process saves checkpoints (mmviz.checkpoint.save_checkpoint) or dataset caches
(mmviz.data.cache.atomic_save_npz) in a loop and is killed at random moments; afterwards the
destination holds the previous version or the new one, complete and consistent, and the loaders
read it. A second set of tests kills the writer at each file-system step of a save
deterministically, for the atomic-exchange path and for the two-rename fallback.
"""

from __future__ import annotations

import json
import multiprocessing
import os
import random
import shutil
import signal
import time
from pathlib import Path

import numpy as np
import pytest
import torch

from mmviz import checkpoint as ck
from mmviz.data import cache
from mmviz.data.base import ModalitySpec, MultimodalDataset
from mmviz.models.oracle import OracleClassifier, OracleConfig

# forkserver, not fork: a child forked from this process (whose torch has run OpenMP threads)
# can deadlock in its first parallel op; the server never ran any, and forks from it are fast.
FORK = multiprocessing.get_context("forkserver")
FORK.set_forkserver_preload(["torch", "mmviz.checkpoint", "mmviz.models.oracle", "mmviz.data"])
KILLS = 12
SPECS = {
    "image": ModalitySpec("image", "image", (1, 64, 64), "bernoulli", value_range=(0.0, 1.0)),
    "label": ModalitySpec(
        "label", "categorical", (), "categorical", dtype="int64", vocab=("0", "1", "2", "3")
    ),
}


def big_model(fill: float) -> OracleClassifier:
    """~2.1 M parameters (8 MB of weights), every one equal to `fill`: a save takes a while,
    and the weights say which save they came from."""
    cfg = OracleConfig(modality="image", num_classes=4, channels=(8, 64))
    model = OracleClassifier(cfg, SPECS)
    with torch.no_grad():
        for p in model.parameters():
            p.fill_(fill)
    return model


def meta_for(round_: int) -> dict:
    return {"dataset": "toy", "round": round_, "code_version": "test"}  # no `git` per save


def checkpoint_writer(out: str, start: int, ready) -> None:
    """Child: save rounds start, start+1, ... to `out` for ever (until killed)."""
    torch.set_num_threads(1)
    round_ = start
    while True:
        ck.save_checkpoint(big_model(float(round_)), out, meta_for(round_))
        ready.set()
        round_ += 1


def check_checkpoint(out: Path, first_round: int) -> int:
    """The destination loads, and its weights, meta and checksum are one save's: returns it."""
    loaded = ck.load_checkpoint(out)
    round_ = loaded.meta["round"]
    assert round_ >= first_round
    values = torch.cat([p.flatten() for p in loaded.model.parameters()])
    assert bool((values == float(round_)).all()), "weights and meta.json from different saves"
    assert loaded.id == out.name
    assert loaded.meta["weights_sha256"] == ck.sha256_file(loaded.path / ck.WEIGHTS)
    assert not loaded.model.training
    x = torch.zeros(2, 1, 64, 64)
    assert torch.equal(
        loaded.model.predict({"image": x}), big_model(float(round_)).eval().predict({"image": x})
    )
    return round_


def kill_at_random(target, args, rng: random.Random, window_s: float) -> None:
    ready = FORK.Event()
    proc = FORK.Process(target=target, args=(*args, ready), daemon=True)
    proc.start()
    try:
        assert ready.wait(30), "the writer never finished a first save"
        time.sleep(rng.uniform(0.0, window_s))
    finally:
        os.kill(proc.pid, signal.SIGKILL)
        proc.join(10)
    assert proc.exitcode == -signal.SIGKILL


def test_checkpoint_survives_sigkill_mid_save(tmp_path):
    t0 = time.perf_counter()
    out = tmp_path / "zoo" / "big"
    ck.save_checkpoint(big_model(0.0), out, meta_for(0))
    rng = random.Random(1234)
    last = check_checkpoint(out, 0)
    rounds = set()
    for kill in range(KILLS):
        start = (kill + 1) * 1000
        kill_at_random(checkpoint_writer, (str(out), start), rng, 0.4)
        now = check_checkpoint(out, 0)
        assert now == last or now >= start, "neither the previous checkpoint nor a new one"
        rounds.add(now)
        last = now
        # nothing but hidden temporaries beside it; the catalog lists only the real one
        assert ck.list_ids(out.parent) == ["big"]
        assert all(p.name.startswith(".") for p in out.parent.iterdir() if p != out)
    assert len(rounds) > 1, "no kill landed after a completed save: the test saw nothing"
    assert time.perf_counter() - t0 < 30


# ---- deterministic crash points ----------------------------------------------------------------
def crash_writer(out: str, step: int, use_exchange: bool) -> None:
    """Child: one save of round 1 over round 0, SIGKILLed just before file-system step `step`
    (os.replace, shutil.rmtree, the atomic exchange); exits 0 if the save has fewer steps."""
    calls = {"n": 0}

    def gate(fn):
        def wrapped(*a, **k):
            if calls["n"] == step:
                os.kill(os.getpid(), signal.SIGKILL)
            calls["n"] += 1
            return fn(*a, **k)

        return wrapped

    ck.os.replace = gate(os.replace)  # the module's own reference to os is patched in the child
    ck.shutil.rmtree = gate(shutil.rmtree)
    ck.save_file = gate(ck.save_file)
    ck._exchange = gate(ck._exchange if use_exchange else lambda a, b: False)
    ck.save_checkpoint(big_model(1.0), out, meta_for(1))
    os._exit(0)


@pytest.mark.parametrize("use_exchange", [True, False], ids=["exchange", "two-renames"])
def test_checkpoint_kill_at_every_step(tmp_path, use_exchange):
    finished = False
    for step in range(12):
        out = tmp_path / f"s{step}" / "big"
        ck.save_checkpoint(big_model(0.0), out, meta_for(0))
        proc = FORK.Process(target=crash_writer, args=(str(out), step, use_exchange))
        proc.start()
        proc.join(30)
        assert proc.exitcode in (0, -signal.SIGKILL), proc.exitcode
        round_ = check_checkpoint(out, 0)  # loads: the old one or the new one, never a mix
        if proc.exitcode == 0:
            assert round_ == 1
            finished = True
            break
        # the next save repairs whatever the kill left and lands complete
        ck.save_checkpoint(big_model(2.0), out, meta_for(2))
        assert check_checkpoint(out, 0) == 2
        assert ck.list_ids(out.parent) == ["big"]
        assert not out.with_name(".big.old").exists()
    assert finished, "the save took more steps than the test expects"


# ---- dataset cache -----------------------------------------------------------------------------
def dataset(version_tag: float, n: int = 60_000) -> MultimodalDataset:
    """A dataset of ~20 MB (one write takes tens of ms) whose values carry `version_tag`."""
    rng = np.random.default_rng(int(version_tag))
    spec = ModalitySpec("x", "image", (1, 8, 10), "gaussian")
    x = np.full((n, 1, 8, 10), version_tag, dtype=np.float32)
    y = rng.integers(0, 3, n)
    return MultimodalDataset(
        name="atomic",
        version="1",
        seed=0,
        specs={"x": spec},
        data={"x": x},
        targets={"class": y},
        target="class",
        factors={"f": y.astype(np.float32)},
        factor_kinds={"f": "continuous"},
        splits={
            "train": np.arange(n - 10),
            "valid": np.arange(n - 10, n - 5),
            "test": np.arange(n - 5, n),
        },
        info={"tag": version_tag},
    )


def same_dataset(a: MultimodalDataset, b: MultimodalDataset) -> bool:
    groups = ("data", "targets", "factors", "splits")
    return (
        a.specs == b.specs
        and a.info == b.info
        and a.target == b.target
        and all(
            getattr(a, g).keys() == getattr(b, g).keys()
            and all(np.array_equal(getattr(a, g)[k], getattr(b, g)[k]) for k in getattr(a, g))
            for g in groups
        )
    )


def cache_writer(path: str, ready) -> None:
    new = cache.to_arrays(dataset(2.0))
    while True:
        cache.atomic_save_npz(Path(path), new)
        ready.set()


def test_dataset_cache_survives_sigkill_mid_write(tmp_cache):
    t0 = time.perf_counter()
    old, new = dataset(1.0), dataset(2.0)
    path = cache.cache_path("atomic", "1")
    cache.atomic_save_npz(path, cache.to_arrays(old))
    rng = random.Random(99)
    seen = set()

    def build() -> MultimodalDataset:
        raise AssertionError("a complete cache was there: it must not be rebuilt")

    for _ in range(KILLS):
        # kill while the first write over the old cache may still be running, or later
        ready = FORK.Event()
        proc = FORK.Process(target=cache_writer, args=(str(path), ready), daemon=True)
        proc.start()
        time.sleep(rng.uniform(0.0, 0.5))
        os.kill(proc.pid, signal.SIGKILL)
        proc.join(10)
        ds = cache.load_or_build("atomic", "1", build)
        assert same_dataset(ds, old) or same_dataset(ds, new), "a corrupt dataset was returned"
        seen.add(ds.info["tag"])
        others = [p for p in path.parent.iterdir() if p != path]
        assert all(p.name.startswith(path.name + ".") and p.suffix == ".tmp" for p in others)
        for p in others:  # a killed write's temporary: never read, removed here to save disk
            p.unlink()
        if ds.info["tag"] == 2.0:  # start over from the old one, to kill more first writes
            cache.atomic_save_npz(path, cache.to_arrays(old))
    # where the kills land depends on the machine's load; every outcome above was intact
    assert seen <= {1.0, 2.0} and seen, "no kill was observed"
    assert time.perf_counter() - t0 < 60


@pytest.mark.parametrize("damage", ["truncate", "flip", "empty", "not-a-zip", "other-version"])
def test_damaged_dataset_cache_is_rebuilt(tmp_cache, damage):
    """A cache damaged in place (a writer without atomic rename, a disk error) is rebuilt, with
    a warning; the rebuilt one replaces it."""
    good = dataset(1.0, n=2000)
    path = cache.cache_path("atomic", "1")
    if damage == "other-version":
        other = dataset(1.0, n=2000)
        other.version = "0"
        cache.atomic_save_npz(path, cache.to_arrays(other))
    else:
        cache.atomic_save_npz(path, cache.to_arrays(good))
        blob = bytearray(path.read_bytes())
        if damage == "truncate":
            blob = blob[: len(blob) // 2]
        elif damage == "flip":
            for i in range(200, len(blob) - 200, 997):
                blob[i] ^= 0x5A
        elif damage == "empty":
            blob = bytearray()
        else:
            blob = bytearray(b"hello" * 100)
        path.write_bytes(bytes(blob))
    builds = []

    def build() -> MultimodalDataset:
        builds.append(1)
        return dataset(1.0, n=2000)

    with pytest.warns(UserWarning, match="rebuilding"):
        ds = cache.load_or_build("atomic", "1", build)
    assert builds == [1] and same_dataset(ds, good)
    assert same_dataset(cache.load_or_build("atomic", "1", build), good) and builds == [1]


def test_cache_header_lies_are_rebuilt(tmp_cache):
    """An intact zip whose JSON header does not match its arrays: rebuilt, never returned."""
    good = dataset(1.0, n=500)
    arrays = cache.to_arrays(good)
    header = json.loads(bytes(arrays[cache.HEADER]).decode())
    lies = [
        {"specs": "nope"},
        {"specs": [1]},
        {"seed": "x"},
        {"target": "missing"},
        {"specs": [{}]},
        {"factor_kinds": 5},
        {"info": []},
        {"specs": [{**header["specs"][0], "shape": [1, 8, 11]}]},
    ]
    for lie in lies:
        arrays = cache.to_arrays(good)
        arrays[cache.HEADER] = np.frombuffer(json.dumps({**header, **lie}).encode(), np.uint8)
        cache.atomic_save_npz(cache.cache_path("atomic", "1"), arrays)
        with pytest.warns(UserWarning, match="rebuilding"):
            ds = cache.load_or_build("atomic", "1", lambda: dataset(1.0, n=500))
        assert same_dataset(ds, good), lie
    for change in ("rows", "split"):  # arrays that disagree with each other
        arrays = cache.to_arrays(good)
        if change == "rows":
            arrays["data/x"] = arrays["data/x"][:-1]
        else:
            arrays["split/test"] = arrays["split/test"] + 10
        cache.atomic_save_npz(cache.cache_path("atomic", "1"), arrays)
        with pytest.warns(UserWarning, match="rebuilding"):
            ds = cache.load_or_build("atomic", "1", lambda: dataset(1.0, n=500))
        assert same_dataset(ds, good), change


def age(path: Path, seconds: float) -> None:
    t = time.time() - seconds
    os.utime(path, (t, t))


def test_killed_writers_temporaries_are_cleaned_up(tmp_path, tmp_cache):
    """A kill leaves a hidden temporary (up to a whole checkpoint or dataset); the next write
    removes those untouched for 10 minutes and keeps fresh ones (a writer still at work)."""
    out = tmp_path / "zoo" / "big"
    ck.save_checkpoint(big_model(0.0), out, meta_for(0))
    dead, live = out.with_name(".big.dead1234"), out.with_name(".big.live5678")
    for d in (dead, live):
        shutil.copytree(out, d)
    age(dead, 3600)
    other = out.with_name(".big2.old")  # another checkpoint's recovery copy: never touched
    shutil.copytree(out, other)
    age(other, 3600)
    ck.save_checkpoint(big_model(1.0), out, meta_for(1))
    assert not dead.exists() and live.exists() and other.exists()

    path = cache.cache_path("atomic", "1")
    cache.atomic_save_npz(path, cache.to_arrays(dataset(1.0, n=100)))
    dead_tmp, live_tmp = (path.with_name(f"{path.name}.{k}.tmp") for k in ("dead", "live"))
    for f in (dead_tmp, live_tmp):
        f.write_bytes(b"half a dataset")
    age(dead_tmp, 3600)
    cache.atomic_save_npz(path, cache.to_arrays(dataset(1.0, n=100)))
    assert not dead_tmp.exists() and live_tmp.exists()


def test_atomic_writes_leave_files_readable_by_others(tmp_path):
    """mkstemp creates 0600 files; a checkpoint, meta.json or dataset cache written by one user
    must stay readable by the user the app runs as (0644 less the umask, here 022)."""
    import numpy as np

    from mmviz.checkpoint import atomic_write_json
    from mmviz.data.cache import atomic_save_npz

    old = os.umask(0o022)
    try:
        atomic_write_json(tmp_path / "meta.json", {"a": 1})
        atomic_save_npz(tmp_path / "cache.npz", {"x": np.zeros(3)})
    finally:
        os.umask(old)
    for name in ("meta.json", "cache.npz"):
        assert (tmp_path / name).stat().st_mode & 0o777 == 0o644, name
