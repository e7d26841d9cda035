"""Cached results for the analysis pages (attributions, information, fusion lab, report).

Same rules as `ui.state`: results are cached per checkpoint id (plus a stamp of its weights
file, so a retrained checkpoint is never served stale results), a digest of the sample and the
settings; every `st.cache_data` has `max_entries` (and a `ttl` where files on disk may change).
Arguments starting with `_` are not hashed: the explicit key arguments stand for them.

Attributions register forward hooks and switch a model to eval mode for a moment. The shared
models of `ui.state` must never see that (another session's page could be running them), so
attributions run on a private copy of each model, one at a time (a lock per copy).
"""

from __future__ import annotations

import copy
import threading
from pathlib import Path
from typing import Any

import pandas as pd
import streamlit as st
import torch

from mmviz import fusionlab
from mmviz import report as rep
from ui.state import cached_dataset, load_checkpoint, load_model


def _root() -> str:
    """The checkpoint folder, read at call time (tests and MMVIZ_CHECKPOINTS move it)."""
    from mmviz.paths import checkpoint_root

    return str(checkpoint_root())


def stamp(cid: str) -> int:
    """Modification time (ns) of a checkpoint's files: part of every cache key."""
    from mmviz import checkpoint as ck

    path = Path(_root()) / cid
    times = [(path / f).stat().st_mtime_ns for f in (ck.WEIGHTS, ck.META, ck.CONFIG)
             if (path / f).exists()]
    return max(times, default=0)


# ---- attributions ------------------------------------------------------------------------------
@st.cache_resource(max_entries=16, show_spinner=False)
def _private(root: str, cid: str, stamp_: int) -> tuple[Any, threading.Lock]:
    """A private copy of the model for attributions, and the lock that serialises its use."""
    return copy.deepcopy(load_model(cid)), threading.Lock()


def attribution(
    cid: str, key: str, observed: tuple[str, ...], choice: rep.TargetChoice, method: str,
    params: tuple[tuple[str, Any], ...], inputs: dict[str, torch.Tensor],
):
    """Captum attributions of `choice` for one sample (`key`: digest of `inputs`)."""
    return _attribution(_root(), cid, stamp(cid), key, observed, choice, method, params, inputs)


@st.cache_data(max_entries=128, show_spinner="Attributing…")
def _attribution(root, cid, stamp_, key, observed, choice, method, params, _inputs):
    from mmviz.interpret.attributions import Attributor

    model, lock = _private(root, cid, stamp_)
    with lock:
        return Attributor(method, **dict(params)).attribute(
            model, _inputs, choice.build(), list(observed)
        )


def shapley(
    cid: str, key: str, players: tuple[str, ...], choice: rep.TargetChoice,
    inputs: dict[str, torch.Tensor],
):
    """Exact modality Shapley values of `choice` over the observed modalities."""
    return _shapley(_root(), cid, stamp(cid), key, players, choice, inputs)


@st.cache_data(max_entries=128, show_spinner="Shapley values…")
def _shapley(root, cid, stamp_, key, players, choice, _inputs):
    from mmviz.interpret.shapley import modality_shapley

    model, lock = _private(root, cid, stamp_)
    with lock:
        return modality_shapley(model, _inputs, choice.build(), players=list(players))


# ---- information (dataset level: computed once per checkpoint, then served from cache) -------
def disentanglement(cid: str, limit: int = 1000):
    """MI matrix, MIG, SAP, DCI of a checkpoint's test codes (first `limit` test samples)."""
    return _disentanglement(_root(), cid, stamp(cid), limit)


@st.cache_data(max_entries=32, show_spinner="Measuring the latent codes against the factors…")
def _disentanglement(root, cid, stamp_, limit):
    ck = load_checkpoint(cid)
    ds = cached_dataset(ck.meta.get("dataset", "digits"))
    return rep.disentanglement_report(ck.model, ds, limit)


def mfm_information(cid: str, n: int = 500, estimator: str = "gaussian") -> pd.DataFrame:
    return _mfm_information(_root(), cid, stamp(cid), n, estimator)


@st.cache_data(max_entries=32, show_spinner="Estimating mutual information…")
def _mfm_information(root, cid, stamp_, n, estimator):
    ck = load_checkpoint(cid)
    ds = cached_dataset(ck.meta.get("dataset", "digits"))
    return rep.mfm_information(ck.model, ds, n, estimator)


def mfm_gradients_average(cid: str, n: int = 200) -> dict:
    """Mean ||dF_y/dX_i||^2 per input position over the first `n` test samples."""
    return _mfm_gradients_average(_root(), cid, stamp(cid), n)


@st.cache_data(max_entries=32, show_spinner="Gradients of the shared factor…")
def _mfm_gradients_average(root, cid, stamp_, n):
    ck = load_checkpoint(cid)
    ds = cached_dataset(ck.meta.get("dataset", "digits"))
    model, lock = _private(root, cid, stamp_)
    with lock:
        flow = rep.mfm_gradients(model, rep.first_test_samples(ds, model.modalities, n))
    return flow.mean


def mfm_gradients_sample(cid: str, key: str, inputs: dict[str, torch.Tensor]) -> dict:
    """||dF_y/dX_i||^2 per input position for one sample."""
    return _mfm_gradients_sample(_root(), cid, stamp(cid), key, inputs)


@st.cache_data(max_entries=128, show_spinner=False)
def _mfm_gradients_sample(root, cid, stamp_, key, _inputs):
    model, lock = _private(root, cid, stamp_)
    with lock:
        flow = rep.mfm_gradients(model, _inputs)
    return {m: v[0] for m, v in flow.per_step.items()}


@st.cache_data(max_entries=8, show_spinner="PID of every modality pair, per recipe…")
def pid_table(dataset: str, measure: str = "broja") -> pd.DataFrame:
    """`pid_by_recipe` on the test split, with each recipe's ground truth beside it."""
    from mmviz.interpret.pid import pid_by_recipe

    return rep.pid_with_truth(pid_by_recipe(cached_dataset(dataset), measure=measure))


# ---- fusion lab ----------------------------------------------------------------------------------
def lab_scores(
    ids: tuple[str, ...], key: str, observed: tuple[str, ...],
    snr: tuple[tuple[str, float | None], ...], seed: int, truth: float | None,
    inputs: dict[str, torch.Tensor],
) -> pd.DataFrame:
    stamps = tuple(stamp(c) for c in ids)
    return _lab_scores(_root(), ids, stamps, key, observed, snr, seed, truth, inputs)


@st.cache_data(max_entries=256, show_spinner=False)
def _lab_scores(root, ids, stamps, key, observed, snr, seed, truth, _inputs):
    models = {c: load_model(c) for c in ids}
    return fusionlab.lab_scores(models, _inputs, list(observed), dict(snr), seed, truth)


@st.cache_data(ttl=30, max_entries=8, show_spinner=False)
def fusion_bench(path: str, mtime: int) -> dict | None:
    return fusionlab.read_fusion_bench(path)


@st.cache_data(ttl=30, max_entries=8, show_spinner=False)
def rank_study(path: str, mtime: int) -> pd.DataFrame | None:
    return fusionlab.read_rank_study(path)


def results_file(name: str) -> tuple[str, int]:
    """(path, mtime) of results/<name> (mtime 0 if absent): the cache key of a results file."""
    p = fusionlab.results_dir() / name
    return str(p), (p.stat().st_mtime_ns if p.is_file() else 0)


# ---- report --------------------------------------------------------------------------------------
def checkpoint_files(cid: str) -> tuple[dict, dict]:
    """(config.json, meta.json) of a checkpoint, without loading its weights."""
    return _checkpoint_files(_root(), cid, stamp(cid))


@st.cache_data(ttl=30, max_entries=64, show_spinner=False)
def _checkpoint_files(root, cid, stamp_):
    from mmviz.checkpoint import CONFIG, META, read_json

    path = Path(root) / cid
    meta = read_json(path / META) if (path / META).exists() else {}
    return read_json(path / CONFIG), meta


def provenance(cid: str, meta: dict):
    """Provenance table and the weights checksum verified against the file."""
    return _provenance(_root(), cid, stamp(cid), meta)


@st.cache_data(ttl=60, max_entries=64, show_spinner="Checking the weights' checksum…")
def _provenance(root, cid, stamp_, meta):
    return rep.provenance(Path(root) / cid, meta)
