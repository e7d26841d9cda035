"""The app's caches: datasets, checkpoints, and every result derived from a checkpoint.

One loader: a checkpoint is loaded once per (checkpoint root, id, weights stamp), where the
stamp (`weights_stamp`) identifies the checkpoint's files on disk. A checkpoint retrained or
replaced on disk gets a new stamp, so the next call loads the new weights, and every derived
result below is cached under the same (root, id, stamp) key: nothing computed from the old
weights is served again. The wrappers read the stamp once per call and pass it down, so a
cached computation always runs on the model loaded under its own key.

Rules: models and datasets are shared by every session (`st.cache_resource`, never mutated
afterwards: no .train(), no hooks); derived results are cached per arguments with bounded size
(`st.cache_data(max_entries=...)`, and a `ttl` where files on disk may change), keyed by the
checkpoint key, a digest of the sample and the settings. Arguments starting with `_` are not
hashed: the explicit key arguments stand for them. A page's view (`mmviz.views`: arrays,
numbers and figures, built by a pure `build_<page>_view`) is cached whole the same way: the
wrapper here loads the model under the key and calls the builder.

Attributions register forward hooks and switch a model to eval mode for a moment. The shared
models must never see that (another session's page could be running them), so attributions,
Shapley values and MFM gradients run on a private copy of each model (made from the model
loaded under the same stamp), one at a time (a lock per copy).
"""

from __future__ import annotations

import copy
import hashlib
import io
import os
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import streamlit as st
import torch

from mmviz.data import load_dataset
from mmviz.zoo import checkpoint_table

if TYPE_CHECKING:  # the analysis modules load with the first analysis page, not the home page
    import pandas as pd

    from mmviz.pagestate import LatentMapState
    from mmviz.report import TargetChoice
    from mmviz.views.attributions import AttributionSettings

# The app's forward passes are small (one sample, or a 72-latent traversal): one intra-op thread
# is fastest, and with two threads on a busy 2-core machine torch's workers wait on each other
# (a traversal measured 12 ms with one thread, 480 ms with two under load). MMVIZ_TORCH_THREADS
# overrides it.
torch.set_num_threads(int(os.environ.get("MMVIZ_TORCH_THREADS", "1")))


def _root() -> str:
    """The checkpoint folder, read at call time ($MMVIZ_CHECKPOINTS, see mmviz.paths)."""
    from mmviz.paths import checkpoint_root

    return str(checkpoint_root())


def weights_stamp(root: str, cid: str) -> str:
    """What identifies checkpoint `cid`'s files on disk: (mtime ns, size, inode) of its weights,
    config and meta. Saving a checkpoint writes new files and swaps the folder in, so a
    retrained or replaced checkpoint always gets a new stamp. A few stat calls: cheap enough
    for every rerun. (The weights' sha256 in meta.json would need the file read to check.)"""
    from mmviz import checkpoint as ck

    try:
        path = ck.resolve(Path(root) / cid)  # also finds `.<id>.old` after a killed save
    except ck.CheckpointError:
        return "missing"
    parts = []
    for name in (ck.WEIGHTS, ck.CONFIG, ck.META):
        try:
            s = (path / name).stat()
            parts.append(f"{s.st_mtime_ns}:{s.st_size}:{s.st_ino}")
        except OSError:
            parts.append("-")
    return "/".join(parts)


def checkpoint_key(cid: str) -> tuple[str, str, str]:
    """(checkpoint root, id, weights stamp): the key of the model and of all derived caches."""
    root = _root()
    return root, cid, weights_stamp(root, cid)


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
def _load(root: str, cid: str, stamp: str):
    """The one cached loader: checkpoint `cid` of `root` as its files were at `stamp`."""
    from mmviz.checkpoint import load_checkpoint as load

    return load(Path(root) / cid)


def _stamps(root: str, ids: tuple[str, ...]) -> tuple[str, ...]:
    """Every checkpoint's weights stamp: the key of a result computed from several models."""
    return tuple(weights_stamp(root, c) for c in ids)


def _models(root: str, ids: tuple[str, ...], stamps: tuple[str, ...]) -> dict:
    """The models of `ids`, each as loaded under its own stamp."""
    return {c: _load(root, c, s).model for c, s in zip(ids, stamps, strict=True)}


def load_checkpoint(cid: str):
    """The Checkpoint `cid` as it is on disk now, loaded once per weights stamp and shared;
    raises CheckpointError if it is broken."""
    return _load(*checkpoint_key(cid))


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


@st.cache_resource(max_entries=16, show_spinner=False)
def _private(root: str, cid: str, stamp: str) -> tuple[Any, threading.Lock]:
    """A private copy of the model loaded under the same key, for the methods that hook into
    a model (attributions, Shapley values, MFM gradients), and the lock serialising its use."""
    return copy.deepcopy(_load(root, cid, stamp).model), threading.Lock()


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


@st.cache_data(max_entries=16, show_spinner="Projecting the test set…")
def _latent_map(
    root: str,
    cid: str,
    stamp: str,
    group: str,
    method: str,
    limit: int,
    links: tuple[int, ...],
    include: tuple[int, ...] = (),
):
    from mmviz.explore import latent_map as compute

    ck = _load(root, cid, stamp)
    ds = cached_dataset(ck.meta.get("dataset", "digits"))
    return compute(ck.model, ds, group, "test", limit, method, list(links), include=include)


def latent_map_view(cid: str, settings: LatentMapState, picked: int | None = None):
    """The Latent map page's view (mmviz.views.latent_map), cached per checkpoint key,
    settings and picked point; the projection under it is cached apart (`_latent_map`), so
    recolouring or picking another point does not project again."""
    return _latent_map_view(*checkpoint_key(cid), settings, picked)


@st.cache_data(max_entries=32, show_spinner=False)
def _latent_map_view(root: str, cid: str, stamp: str, settings, picked: int | None):
    from mmviz.views.latent_map import build_latent_map_view

    ck = _load(root, cid, stamp)
    ds = cached_dataset(ck.meta.get("dataset", "digits"))

    def projection(group, method, limit, links, include):
        return _latent_map(root, cid, stamp, group, method, limit, links, include)

    return build_latent_map_view(ck.model, ds, settings, picked, projection)


def dimension_activity(cid: str, group: str, n: int = 500) -> np.ndarray:
    """Variance of each dimension's posterior mean over `n` test samples."""
    return _dimension_activity(*checkpoint_key(cid), group, n)


@st.cache_data(max_entries=32, show_spinner=False)
def _dimension_activity(root: str, cid: str, stamp: str, group: str, n: int) -> np.ndarray:
    from mmviz.explore import dimension_activity as compute

    ck = _load(root, cid, stamp)
    ds = cached_dataset(ck.meta.get("dataset", "digits"))
    idx = ds.indices("test")[:n]
    x = {m: torch.from_numpy(np.ascontiguousarray(ds.data[m][idx])) for m in ck.model.modalities}
    return compute(ck.model, x, group)


def traversal_view(cid: str, key: str, settings, inputs: dict[str, torch.Tensor]):
    """The Latent traversal page's view (`mmviz.views.traversal.build_traversal_view`), cached
    per checkpoint, sample digest `key` ("prior" when it starts from the prior) and settings."""
    return _traversal_view(*checkpoint_key(cid), key, settings, inputs)


@st.cache_data(max_entries=64, show_spinner=False)
def _traversal_view(root: str, cid: str, stamp: str, key: str, settings, _inputs):
    from mmviz.views.traversal import build_traversal_view

    ck = _load(root, cid, stamp)
    ds = cached_dataset(ck.meta.get("dataset", "digits"))
    return build_traversal_view(ck.model, _inputs, settings, ds.specs)


def crossmodal_view(cid: str, key: str, settings, inputs: dict[str, torch.Tensor]):
    """The Cross-modal generation page's view (`mmviz.views.crossmodal.build_crossmodal_view`:
    N draws and the oracles' verdicts), cached like `traversal_view` (`key`: digest of the
    condition's inputs) and on the stamps of the oracles that judge them."""
    root, cid, stamp = checkpoint_key(cid)
    judges = tuple(
        weights_stamp(root, f"oracle_{m}") for m in _load(root, cid, stamp).model.modalities
    )
    return _crossmodal_view(root, cid, stamp, judges, key, settings, inputs)


@st.cache_data(max_entries=64, show_spinner=False)
def _crossmodal_view(
    root: str,
    cid: str,
    stamp: str,
    oracle_stamps: tuple[str, ...],
    key: str,
    settings,
    _inputs,
):
    from mmviz.views.crossmodal import build_crossmodal_view

    ck = _load(root, cid, stamp)
    ds = cached_dataset(ck.meta.get("dataset", "digits"))
    judges, missing = oracle_judges(ck.model.modalities)
    return build_crossmodal_view(ck.model, _inputs, settings, judges, missing, ds.specs)


def missing_view(
    cid: str,
    key: str,
    observed: tuple[str, ...],
    levels: tuple[tuple[str, float], ...],
    mode: str,
    full: tuple[str, ...] | None,
    inputs: dict[str, torch.Tensor],
):
    """The Missing modalities page's view of one model (`views.missing.build_missing_view`),
    cached per checkpoint key, sample digest `key`, mask, damage and reference subset."""
    return _missing_view(*checkpoint_key(cid), key, observed, levels, mode, full, inputs)


@st.cache_data(max_entries=64, show_spinner=False)
def _missing_view(root, cid, stamp, key, observed, levels, mode, full, _inputs):
    from mmviz.views.missing import build_missing_view

    ck = _load(root, cid, stamp)
    ds = cached_dataset(ck.meta.get("dataset", "digits"))
    return build_missing_view(ck.model, _inputs, list(observed), dict(levels), mode, full, ds.specs)


def compare_view(
    ids: tuple[str, ...],
    dataset: str,
    key: str,
    observed: tuple[str, ...],
    levels: tuple[tuple[str, float], ...],
    mode: str,
    inputs: dict[str, torch.Tensor],
):
    """The Missing modalities page's compare mode (`views.missing.build_compare_view`): every
    checkpoint of `ids` on the same sample (digest `key`) and mask, cached on every model's
    (root, id, stamp), the sample and the settings."""
    root = _root()
    stamps = _stamps(root, ids)
    return _compare_view(root, ids, stamps, dataset, key, observed, levels, mode, inputs)


@st.cache_data(max_entries=64, show_spinner=False)
def _compare_view(root, ids, stamps, dataset, key, observed, levels, mode, _inputs):
    from mmviz.views.missing import build_compare_view

    models = _models(root, ids, stamps)
    ds = cached_dataset(dataset)
    return build_compare_view(
        models, _inputs, list(observed), dict(levels), mode, ds.specs, ds.modalities
    )


# ---- attributions ------------------------------------------------------------------------------
def attribution(
    cid: str,
    key: str,
    observed: tuple[str, ...],
    choice: TargetChoice,
    method: str,
    params: tuple[tuple[str, Any], ...],
    inputs: dict[str, torch.Tensor],
):
    """Captum attributions of `choice` for one sample (`key`: digest of `inputs`)."""
    return _attribution(*checkpoint_key(cid), key, observed, choice, method, params, inputs)


@st.cache_data(max_entries=128, show_spinner="Attributing…")
def _attribution(root, cid, stamp, key, observed, choice, method, params, _inputs):
    from mmviz.interpret.attributions import Attributor

    model, lock = _private(root, cid, stamp)
    with lock:
        return Attributor(method, **dict(params)).attribute(
            model, _inputs, choice.build(), list(observed)
        )


def shapley(
    cid: str,
    key: str,
    players: tuple[str, ...],
    choice: TargetChoice,
    inputs: dict[str, torch.Tensor],
):
    """Exact modality Shapley values of `choice` over the observed modalities."""
    return _shapley(*checkpoint_key(cid), key, players, choice, inputs)


@st.cache_data(max_entries=128, show_spinner="Shapley values…")
def _shapley(root, cid, stamp, key, players, choice, _inputs):
    from mmviz.interpret.shapley import modality_shapley

    model, lock = _private(root, cid, stamp)
    with lock:
        return modality_shapley(model, _inputs, choice.build(), players=list(players))


def attributions_view(cid: str, settings: AttributionSettings, inputs: dict, ds=None):
    """The Attributions page's view (mmviz.views.attributions): the attributions and Shapley
    values come from the caches above (computed on the private copy, under its lock), keyed
    on the checkpoint key and a digest of `inputs`; the figures and notes are built from them
    (reading the shared model's specs, never running it)."""
    from mmviz.views.attributions import build_attributions_view

    root, cid, stamp = checkpoint_key(cid)
    key = digest(inputs)
    s = settings

    def attribute():
        return _attribution(root, cid, stamp, key, s.observed, s.target, s.method, s.params, inputs)

    def shapley():
        return _shapley(root, cid, stamp, key, s.observed, s.target, inputs)

    model = _load(root, cid, stamp).model
    return build_attributions_view(model, inputs, s, ds, cid, attribute, shapley)


# ---- information (dataset level: computed once per checkpoint, then served from cache) -------
def disentanglement(cid: str, limit: int = 1000):
    """MI matrix, MIG, SAP, DCI of a checkpoint's test codes (first `limit` test samples)."""
    return _disentanglement(*checkpoint_key(cid), limit)


@st.cache_data(max_entries=32, show_spinner="Measuring the latent codes against the factors…")
def _disentanglement(root, cid, stamp, limit):
    from mmviz import report as rep

    ck = _load(root, cid, stamp)
    ds = cached_dataset(ck.meta.get("dataset", "digits"))
    return rep.disentanglement_report(ck.model, ds, limit)


def disentanglement_dlib(cid: str, limit: int = 1000) -> dict:
    """SAP and DCI as disentanglement_lib defines them (minutes: computed once, then cached)."""
    return _disentanglement_dlib(*checkpoint_key(cid), limit)


@st.cache_data(max_entries=16, show_spinner=False)
def _disentanglement_dlib(root, cid, stamp, limit):
    from mmviz import report as rep

    ck = _load(root, cid, stamp)
    ds = cached_dataset(ck.meta.get("dataset", "digits"))
    return rep.disentanglement_dlib_report(ck.model, ds, limit)


def mfm_information(cid: str, n: int = 500, estimator: str = "gaussian") -> pd.DataFrame:
    return _mfm_information(*checkpoint_key(cid), n, estimator)


@st.cache_data(max_entries=32, show_spinner="Estimating mutual information…")
def _mfm_information(root, cid, stamp, n, estimator):
    from mmviz import report as rep

    ck = _load(root, cid, stamp)
    ds = cached_dataset(ck.meta.get("dataset", "digits"))
    return rep.mfm_information(ck.model, ds, n, estimator)


def mfm_gradients_average(cid: str, n: int = 200) -> dict:
    """Mean ||dF_y/dX_i||^2 per input position over the first `n` test samples."""
    return _mfm_gradients_average(*checkpoint_key(cid), n)


@st.cache_data(max_entries=32, show_spinner="Gradients of the shared factor…")
def _mfm_gradients_average(root, cid, stamp, n):
    from mmviz import report as rep

    ck = _load(root, cid, stamp)
    ds = cached_dataset(ck.meta.get("dataset", "digits"))
    model, lock = _private(root, cid, stamp)
    with lock:
        flow = rep.mfm_gradients(model, rep.first_test_samples(ds, model.modalities, n))
    return flow.mean


def mfm_gradients_sample(cid: str, key: str, inputs: dict[str, torch.Tensor]) -> dict:
    """||dF_y/dX_i||^2 per input position for one sample."""
    return _mfm_gradients_sample(*checkpoint_key(cid), key, inputs)


@st.cache_data(max_entries=128, show_spinner=False)
def _mfm_gradients_sample(root, cid, stamp, key, _inputs):
    from mmviz import report as rep

    model, lock = _private(root, cid, stamp)
    with lock:
        flow = rep.mfm_gradients(model, _inputs)
    return {m: v[0] for m, v in flow.per_step.items()}


@st.cache_data(max_entries=8, show_spinner="PID of every modality pair, per recipe…")
def pid_table(dataset: str, measure: str = "broja") -> pd.DataFrame:
    """`pid_by_recipe` on the test split, with each recipe's ground truth beside it."""
    from mmviz import report as rep
    from mmviz.interpret.pid import pid_by_recipe

    return rep.pid_with_truth(pid_by_recipe(cached_dataset(dataset), measure=measure))


# ---- the Information page's views (mmviz.views.information), one per section ------------------
def information_mi_view(cid: str, limit: int = 1000):
    """The MI matrix of checkpoint `cid` (`views.information.MIView`), cached on its key."""
    return _information_mi_view(*checkpoint_key(cid), limit)


@st.cache_data(max_entries=32, show_spinner=False)
def _information_mi_view(root, cid, stamp, limit):
    from mmviz.views.information import build_mi_view

    return build_mi_view(cid, _disentanglement(root, cid, stamp, limit))


def information_metrics_view(ids: tuple[str, ...], limit: int = 1000):
    """MIG, SAP and DCI of every checkpoint of `ids` (`views.information.MetricsView`): each
    checkpoint's numbers cached on its own key; one that fails is named, and tried again on
    the next rerun."""
    from mmviz.views.information import build_metrics_view

    results: dict[str, Any] = {}
    for cid in ids:
        try:
            results[cid] = disentanglement(cid, limit)
        except Exception as e:  # noqa: BLE001 - one bad checkpoint leaves the rest
            results[cid] = e
    return build_metrics_view(results, limit)


def information_comparable_view(cid: str, limit: int = 1000):
    """This app's SAP and DCI beside disentanglement_lib's for `cid` (minutes the first time:
    both cached on the checkpoint key)."""
    from mmviz.views.information import build_comparable_view

    key = checkpoint_key(cid)
    return build_comparable_view(_disentanglement(*key, limit), _disentanglement_dlib(*key, limit))


def mfm_information_view(cid: str, n: int = 500, estimator: str = "gaussian"):
    """MFM's I(F; X^) per generated modality (`views.information.MFMInformationView`)."""
    return _mfm_information_view(*checkpoint_key(cid), n, estimator)


@st.cache_data(max_entries=32, show_spinner=False)
def _mfm_information_view(root, cid, stamp, n, estimator):
    from mmviz.views.information import build_mfm_information_view

    return build_mfm_information_view(_mfm_information(root, cid, stamp, n, estimator))


def mfm_gradients_view(cid: str, n: int, key: str, position: int, inputs: dict[str, torch.Tensor]):
    """Where MFM's shared factor looks (`views.information.GradientsView`): the gradients
    averaged over the first `n` test samples and for the sample `inputs` (digest `key`,
    shown as sample `position`), cached on the checkpoint key, the sample and `n`."""
    return _mfm_gradients_view(*checkpoint_key(cid), n, key, position, inputs)


@st.cache_data(max_entries=64, show_spinner=False)
def _mfm_gradients_view(root, cid, stamp, n, key, position, _inputs):
    from mmviz.views.information import build_gradients_view, sample_words

    ck = _load(root, cid, stamp)
    ds = cached_dataset(ck.meta.get("dataset", "digits"))
    average = _mfm_gradients_average(root, cid, stamp, n)
    one = _mfm_gradients_sample(root, cid, stamp, key, _inputs)
    return build_gradients_view(
        average,
        one,
        position,
        ck.model.input_modalities,
        lambda m: test_images(ds.name, m),
        sample_words(_inputs, ds.specs, ds.name),
    )


@st.cache_data(max_entries=8, show_spinner=False)
def pid_view(dataset: str, measure: str = "broja"):
    """The PID per recipe beside its truth (`views.information.PIDView`), from `pid_table`."""
    from mmviz.views.information import build_pid_view

    return build_pid_view(pid_table(dataset, measure))


def missing_drop_view(dataset: str):
    """Each checkpoint's accuracy drop when modalities go missing (`views.information.DropView`),
    from the meta.json of every checkpoint of `dataset` (unreadable ones left out)."""
    from mmviz.views.information import build_drop_view

    metas = {}
    for i in catalog():
        if i.dataset == dataset and not i.problem:
            try:
                metas[i.id] = checkpoint_files(i.id)[1]
            except ValueError:
                continue
    return build_drop_view(metas)


# ---- fusion lab ----------------------------------------------------------------------------------
def lab_scores_view(
    ids: tuple[str, ...],
    key: str,
    observed: tuple[str, ...],
    snr: tuple[tuple[str, float], ...],
    seed: int,
    truth: float | None,
    inputs: dict[str, torch.Tensor],
):
    """The fusion lab's scores view (`views.fusion_lab.ScoresView`), cached on every
    model's (root, id, stamp), the sample's digest `key` and the settings."""
    root = _root()
    stamps = _stamps(root, ids)
    return _lab_scores_view(root, ids, stamps, key, observed, snr, seed, truth, inputs)


@st.cache_data(max_entries=256, show_spinner=False)
def _lab_scores_view(root, ids, stamps, key, observed, snr, seed, truth, _inputs):
    from mmviz.views.fusion_lab import build_scores_view

    models = _models(root, ids, stamps)
    return build_scores_view(models, _inputs, list(observed), dict(snr), seed, truth)


@st.cache_data(max_entries=256, show_spinner=False)
def lab_utterance_view(
    dataset: str,
    key: str,
    observed: tuple[str, ...],
    snr: tuple[tuple[str, float], ...],
    seed: int,
    _inputs: dict[str, torch.Tensor],
):
    """The fusion lab's utterance view (noisy inputs, words, traces): no model, so keyed on the
    dataset, the sample's digest `key` and the settings."""
    from mmviz.views.fusion_lab import build_utterance_view

    ds = cached_dataset(dataset)
    return build_utterance_view(_inputs, ds.specs, ds.info, list(observed), dict(snr), seed)


@st.cache_data(max_entries=64, show_spinner=False)
def lab_params_view(
    dims: tuple[tuple[str, int], ...],
    d_h: int,
    rank: int,
    defaults: tuple[tuple[tuple[str, int], ...], int, int],
):
    """The fusion lab's parameter counts and curves for these sizes (the checkpoint's own
    sizes `defaults`: (dims, d_h, rank))."""
    from mmviz.views.fusion_lab import Sizes, build_params_view

    own = Sizes(dict(defaults[0]), defaults[1], defaults[2])
    return build_params_view(Sizes(dict(dims), d_h, rank), own)


@st.cache_data(ttl=30, max_entries=8, show_spinner=False)
def lab_bench_view(path: str, mtime: int):
    """(benchmark, its view) from results/fusion_bench.json, or None when there is none."""
    from mmviz.views.fusion_lab import build_bench_view

    bench = fusion_bench(path, mtime)
    return None if bench is None else (bench, build_bench_view(bench))


@st.cache_data(ttl=30, max_entries=8, show_spinner=False)
def lab_rank_view(path: str, mtime: int):
    """The rank study's view from results/lmf-rank.json, or None when there is none."""
    from mmviz.views.fusion_lab import build_rank_view

    rows = rank_study(path, mtime)
    return None if rows is None else build_rank_view(rows)


@st.cache_data(ttl=30, max_entries=8, show_spinner=False)
def fusion_bench(path: str, mtime: int) -> dict | None:
    from mmviz import fusionlab

    return fusionlab.read_fusion_bench(path)


@st.cache_data(ttl=30, max_entries=8, show_spinner=False)
def rank_study(path: str, mtime: int) -> pd.DataFrame | None:
    from mmviz import fusionlab

    return fusionlab.read_rank_study(path)


def results_file(name: str) -> tuple[str, int]:
    """(path, mtime) of results/<name> (mtime 0 if absent): the cache key of a results file."""
    from mmviz.paths import results_root

    p = results_root() / name
    return str(p), (p.stat().st_mtime_ns if p.is_file() else 0)


# ---- report --------------------------------------------------------------------------------------
def checkpoint_files(cid: str) -> tuple[dict, dict]:
    """(config.json, meta.json) of a checkpoint, without loading its weights."""
    return _checkpoint_files(*checkpoint_key(cid))


@st.cache_data(ttl=30, max_entries=64, show_spinner=False)
def _checkpoint_files(root, cid, stamp):
    from mmviz.checkpoint import CONFIG, META, read_json

    path = Path(root) / cid
    meta = read_json(path / META) if (path / META).exists() else {}
    return read_json(path / CONFIG), meta


def report_view(cid: str, modalities: tuple[str, ...] = ()):
    """The Model report's view of checkpoint `cid` (`views.report.ReportView`) from its
    config.json and meta.json, cached like them on (root, id, stamp)."""
    return _report_view(*checkpoint_key(cid), modalities)


@st.cache_data(ttl=30, max_entries=64, show_spinner=False)
def _report_view(root, cid, stamp, modalities):
    from mmviz.views.report import build_report_view

    config, meta = _checkpoint_files(root, cid, stamp)
    return build_report_view(cid, config, meta, modalities)


def provenance(cid: str, meta: dict):
    """Provenance table and the weights checksum verified against the file."""
    return _provenance(*checkpoint_key(cid), meta)


@st.cache_data(ttl=60, max_entries=64, show_spinner="Checking the weights' checksum…")
def _provenance(root, cid, stamp, meta):
    from mmviz import report as rep

    return rep.provenance(Path(root) / cid, meta)


def test_decisions(cid: str) -> np.ndarray:
    """Checkpoint `cid`'s decision on every test sample (mmviz.finder.test_decisions)."""
    return _test_decisions(*checkpoint_key(cid))


@st.cache_data(max_entries=16, show_spinner="Reading the test set with this model…")
def _test_decisions(root: str, cid: str, stamp: str) -> np.ndarray:
    from mmviz.finder import test_decisions as compute

    ck = _load(root, cid, stamp)
    return compute(ck.model, cached_dataset(ck.meta.get("dataset", "digits")))


def test_images(dataset: str, modality: str, n: int = 2000) -> np.ndarray:
    """The first `n` test images of a modality (which pixels ever vary)."""
    ds = cached_dataset(dataset)
    return np.asarray(ds.data[modality][ds.indices("test")[:n]])


@st.cache_resource(max_entries=4, show_spinner=False)
def test_factors(dataset: str):
    """The dataset's test-split factor table (the sample finder reads it on every rerun;
    shared and read-only: no copy per call)."""
    return cached_dataset(dataset).factor_table("test")
