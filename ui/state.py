"""Cached access to datasets, checkpoints and figures, shared by all pages.

Models and datasets load once per process (`st.cache_resource`, never mutated afterwards: no
.train(), no hooks); derived results are cached per arguments with bounded size
(`st.cache_data(max_entries=...)`), keyed by checkpoint id, a digest of the sample and the
settings. Functions whose first argument starts with `_` take the unhashable object and rely
on the explicit key arguments instead.
"""

from __future__ import annotations

import hashlib
import io
import os
from pathlib import Path

import numpy as np
import streamlit as st
import torch

from mmviz.data import load_dataset
from mmviz.zoo import checkpoint_table

# The app's forward passes are small (one sample, or a 72-latent traversal): one intra-op thread
# is fastest, and with two threads on a busy 2-core machine torch's workers wait on each other
# (a traversal measured 12 ms with one thread, 480 ms with two under load). MMVIZ_TORCH_THREADS
# overrides it.
torch.set_num_threads(int(os.environ.get("MMVIZ_TORCH_THREADS", "1")))


def _root() -> str:
    """The checkpoint folder, read at call time (tests and MMVIZ_CHECKPOINTS can move it)."""
    from mmviz.paths import checkpoint_root

    return str(checkpoint_root())


@st.cache_resource(show_spinner="Loading dataset…")
def cached_dataset(name: str):
    return load_dataset(name)


@st.cache_data(max_entries=8, show_spinner=False)
def cached_preview(name: str) -> bytes:
    from mmviz.data.preview import preview_grid

    buf = io.BytesIO()
    preview_grid(cached_dataset(name), n=5).save(buf, format="PNG")
    return buf.getvalue()


@st.cache_data(ttl=60, max_entries=4, show_spinner=False)
def checkpoint_rows() -> list[dict]:
    return checkpoint_table()


# ---- checkpoints ---------------------------------------------------------------------------
@st.cache_data(ttl=30, max_entries=4, show_spinner=False)
def _catalog(root: str) -> list:
    from mmviz.explore import catalog

    return catalog(Path(root))


def catalog() -> list:
    """Every checkpoint on disk (CheckpointInfo rows), re-read at most every 30 s."""
    return _catalog(_root())


@st.cache_resource(max_entries=32, show_spinner="Loading model…")
def _load(root: str, cid: str):
    from mmviz.checkpoint import load_checkpoint

    return load_checkpoint(Path(root) / cid)


def load_checkpoint(cid: str):
    """The Checkpoint `cid`, loaded once per process; raises CheckpointError if it is broken."""
    return _load(_root(), cid)


def load_model(cid: str):
    return load_checkpoint(cid).model


def oracle_judges(modalities: list[str]) -> tuple[dict, list[str]]:
    """Logit functions of the oracle_<modality> checkpoints that exist, and the ones missing."""
    from mmviz.checkpoint import CheckpointError

    ids = {info.id for info in catalog()}
    judges, missing = {}, []
    for m in modalities:
        cid = f"oracle_{m}"
        if cid not in ids:
            missing.append(m)
            continue
        try:
            judges[m] = load_model(cid).logits
        except CheckpointError:
            missing.append(m)
    return judges, missing


# ---- derived results -----------------------------------------------------------------------
def digest(inputs: dict[str, torch.Tensor]) -> str:
    """A short key for a batch of inputs (what cache_data keys on instead of the tensors)."""
    h = hashlib.sha1()
    for k in sorted(inputs):
        h.update(k.encode())
        h.update(inputs[k].detach().cpu().contiguous().numpy().tobytes())
    return h.hexdigest()[:16]


@st.cache_data(max_entries=256, show_spinner=False)
def sound_bytes(spec01: np.ndarray, n_iter: int = 32) -> bytes:
    """WAV bytes of a (generated) spectrogram via Griffin-Lim, cached by its values."""
    from mmviz.data import audio

    return audio.wav_bytes(audio.griffin_lim(spec01, n_iter=n_iter))


@st.cache_data(max_entries=32, show_spinner="Synthesising sound…")
def row_sound(specs: np.ndarray, gap_s: float = 0.12, n_iter: int = 32) -> bytes:
    """One WAV of several spectrograms (S, 32, 32) played in order with short silences."""
    from mmviz.data import audio

    gap = np.zeros(int(gap_s * audio.RATE), dtype=np.float32)
    parts = []
    for s in specs:
        parts += [audio.griffin_lim(s, n_iter=n_iter), gap]
    return audio.wav_bytes(np.concatenate(parts))


@st.cache_data(max_entries=64, show_spinner=False)
def dataset_sound(name: str, index: int) -> bytes | None:
    """The exact waveform of a dataset sample's sound, when it can be regenerated."""
    from mmviz.data import audio
    from mmviz.data.digits import digits_waveform

    try:
        return audio.wav_bytes(digits_waveform(cached_dataset(name), index))
    except ValueError:
        return None


def latent_map(cid: str, group: str, method: str, limit: int, links: tuple[int, ...]):
    """2-D map of the test posterior means (PCA: instant; t-SNE: seconds, then cached)."""
    return _latent_map(_root(), cid, group, method, limit, links)


@st.cache_data(max_entries=16, show_spinner="Projecting the test set…")
def _latent_map(root: str, cid: str, group: str, method: str, limit: int, links: tuple[int, ...]):
    from mmviz.explore import latent_map as compute

    ck = load_checkpoint(cid)
    ds = cached_dataset(ck.meta.get("dataset", "digits"))
    return compute(ck.model, ds, group, "test", limit, method, list(links))


def dimension_activity(cid: str, group: str, n: int = 500) -> np.ndarray:
    """Variance of each dimension's posterior mean over `n` test samples."""
    return _dimension_activity(_root(), cid, group, n)


@st.cache_data(max_entries=32, show_spinner=False)
def _dimension_activity(root: str, cid: str, group: str, n: int) -> np.ndarray:
    from mmviz.explore import dimension_activity as compute

    ck = load_checkpoint(cid)
    ds = cached_dataset(ck.meta.get("dataset", "digits"))
    idx = ds.indices("test")[:n]
    x = {m: torch.from_numpy(np.ascontiguousarray(ds.data[m][idx])) for m in ck.model.modalities}
    return compute(ck.model, x, group)


def traversal(
    cid: str,
    key: str,
    observed: tuple[str, ...] | None,
    source: str,
    group: str,
    dims: tuple[int, ...],
    lo: float,
    hi: float,
    steps: int,
    sweep: bool,
    inputs: dict[str, torch.Tensor],
):
    """A traversal grid (or 2-D sweep), cached per checkpoint, sample digest `key`, settings."""
    return _traversal(
        _root(), cid, key, observed, source, group, dims, lo, hi, steps, sweep, inputs
    )


@st.cache_data(max_entries=64, show_spinner=False)
def _traversal(
    root: str,
    cid: str,
    key: str,
    observed: tuple[str, ...] | None,
    source: str,
    group: str,
    dims: tuple[int, ...],
    lo: float,
    hi: float,
    steps: int,
    sweep: bool,
    _inputs,
):
    """A traversal grid (or 2-D sweep) from a sample's posterior mean or the prior mean."""
    from mmviz import explore

    model = load_model(cid)
    base = explore.base_latents(model, _inputs, observed, source)
    values = np.linspace(lo, hi, steps)
    if sweep:
        return explore.sweep_2d(model, base, group, (dims[0], dims[1]), values)
    return explore.traversal_grid(model, base, group, list(dims), values)


def cross_modal(
    cid: str,
    key: str,
    observed: tuple[str, ...],
    n: int,
    seed: int,
    reference: int | None,
    inputs: dict[str, torch.Tensor],
):
    """N cross-modal draws and the oracles' verdicts, cached like `traversal`."""
    return _cross_modal(_root(), cid, key, observed, n, seed, reference, inputs)


@st.cache_data(max_entries=64, show_spinner=False)
def _cross_modal(
    root: str,
    cid: str,
    key: str,
    observed: tuple[str, ...],
    n: int,
    seed: int,
    reference: int | None,
    _inputs,
):
    from mmviz import explore

    model = load_model(cid)
    judges, _ = oracle_judges(model.modalities)
    return explore.cross_modal(model, _inputs, list(observed), n, seed, judges, reference)
