"""What the exploration pages compute, as pure functions of a model and tensors.

Pages (missing modalities, traversal, cross-modal generation, latent map) call these and draw
the returned arrays; nothing here imports Streamlit, so every number a page shows is
unit-tested. Models are only read: everything runs under `torch.inference_mode()` and no
function changes a model's mode, parameters or hooks (pages share one cached model per process).

Shapes: `inputs` are batches `dict[modality, Tensor]` (usually of one sample); outputs are numpy
arrays in data space (probabilities for images/spectrograms, class or token probabilities for
categorical modalities, values for sequences), with the batch axis dropped for one sample.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from torch import Tensor

from mmviz.data.base import ModalitySpec, MultimodalDataset
from mmviz.models import model_kind
from mmviz.models.base import (
    MixturePosterior,
    MultimodalModel,
    Posterior,
    UnsupportedSubset,
    to_data_space,
)
from mmviz.models.stats import kl_normal

# ---- the checkpoint catalogue ---------------------------------------------------------------


@dataclass
class CheckpointInfo:
    """What the sidebar and the home page need to know about a checkpoint, without loading it."""

    id: str
    path: Path
    model: str
    dataset: str
    modalities: list[str]
    latent_groups: dict[str, int]
    paper: str = ""
    headline: dict[str, float] = field(default_factory=dict)
    wall_time_s: float | None = None
    parameters: int | None = None
    problem: str | None = None  # why config/meta could not be read; the page says so
    purpose: str = ""  # one line: what it is good for, or kept to show
    demo_score: float | None = None  # the demo suite's ranking figure (mmviz/demo.py)
    default: bool = False  # the best demo score: the checkpoint the app opens on
    yours: bool = False  # not one of the shipped checkpoints (mmviz.zoo.is_yours)
    dataset_version: str | None = None  # the data version it was trained on (meta.json)
    version_warning: str | None = None  # set when the app builds another version of its data

    @property
    def kind(self) -> str | None:
        """What the model class declares it is (`MultimodalModel.kind`); None when the model
        is not a registered one."""
        return model_kind(self.model)

    @property
    def generative(self) -> bool:
        # the model's own word when meta.json lacks latent_groups
        return bool(self.latent_groups) or self.kind == "generative"

    @property
    def oracle(self) -> bool:
        return self.kind == "oracle"

    @property
    def label(self) -> str:
        """The picker's line: ⚠️ first when its data version differs, 📁 yours at the end."""
        text = f"{self.id} ({self.model}: {', '.join(self.modalities)})"
        if self.version_warning:
            text = f"⚠️ {text}"
        return f"{text} · 📁 yours" if self.yours else text


def catalog(root: Path | None = None) -> list[CheckpointInfo]:
    """Every checkpoint folder under `root` (default: the zoo), read from its JSON files only.

    A folder whose JSON is unreadable is still listed, with `problem` set, so the app can say
    what is wrong with it instead of hiding it.
    """
    from mmviz import checkpoint as ck
    from mmviz import paths
    from mmviz.zoo import default_id, is_yours, purpose, read_meta_summary, version_warning

    root = Path(root) if root is not None else paths.checkpoint_root()
    out = []
    versions: dict[str, str | None] = {}
    for cid in ck.list_ids(root):
        path = root / cid
        problem = None
        try:
            config = json.loads((path / ck.CONFIG).read_text())
            specs = [s["name"] for s in config.get("specs", [])]
            model = str(config.get("model", "?"))
        except (OSError, ValueError, TypeError, KeyError, AttributeError) as e:
            config, specs, model, problem = {}, [], "?", f"config.json unreadable ({e})"
        summary, meta_problem = read_meta_summary(path)
        problem = problem or meta_problem
        out.append(
            CheckpointInfo(
                id=cid,
                path=path,
                model=summary["model"] if summary["model"] != "?" else model,
                dataset=summary["dataset"],
                modalities=summary["modalities"] or specs,
                latent_groups=summary["latent_groups"],
                paper=summary["paper"],
                headline=summary["headline"],
                wall_time_s=summary["wall_time_s"],
                parameters=summary["parameters"],
                problem=problem,
                purpose=purpose(cid),
                demo_score=summary["demo_score"],
                yours=is_yours(path),
                dataset_version=summary["dataset_version"],
                version_warning=version_warning(
                    cid, summary["dataset"], summary["dataset_version"], versions
                ),
            )
        )
    best = default_id({i.id: i.demo_score for i in out})
    for info in out:
        info.default = info.id == best
    return out


# ---- small helpers -------------------------------------------------------------------------


def sample_batch(ds: MultimodalDataset, index: int) -> dict[str, Tensor]:
    """Sample `index` (absolute, as in ds.data) of every modality, as a batch of one."""
    if not 0 <= int(index) < len(ds):
        raise IndexError(f"sample index {index} is outside 0..{len(ds) - 1}")
    return {m: torch.from_numpy(np.ascontiguousarray(a[[int(index)]])) for m, a in ds.data.items()}


def input_modalities(model: MultimodalModel) -> list[str]:
    """The modalities the model can read (MFM's label is its target, never an input)."""
    return list(model.input_modalities)


def is_generative(model: MultimodalModel) -> bool:
    return bool(model.latent_groups)


@torch.inference_mode()
def runner_up_class(
    model: MultimodalModel, inputs: dict[str, Tensor], observed: Iterable[str] | None
) -> tuple[int, int]:
    """(number of classes, the second most probable class): the class the Attributions page
    explains by default ("why not this one?"); 0 when there is a single class."""
    probs = model.predict(inputs, None if observed is None else list(observed))[0]
    n_classes = int(probs.shape[-1])
    runner_up = int(torch.argsort(probs, descending=True)[1]) if n_classes > 1 else 0
    return n_classes, runner_up


def tokens_to_text(x: np.ndarray | Tensor, spec: ModalitySpec, cut_at_pad: bool = True) -> str:
    """Token ids (L,) or per-position probabilities (L, V) -> the phrase.

    Cut at the first PAD: a decoder puts probability on every position, and words after the
    phrase's end are noise, not text.
    """
    a = np.asarray(x.detach().cpu() if isinstance(x, Tensor) else x)
    ids = a.argmax(-1) if a.ndim == 2 else a.reshape(-1)
    ids = [int(i) for i in ids]
    if cut_at_pad and 0 in ids:
        ids = ids[: ids.index(0)]
    from mmviz.data.digits import TEXT_VOCAB, decode_text

    if spec.vocab == TEXT_VOCAB:
        return decode_text(np.asarray(ids, dtype=np.int64))
    vocab = spec.vocab or ()
    return " ".join(vocab[i] if 0 <= i < len(vocab) else "<unk>" for i in ids if i != 0)


def corrupt(
    x: Tensor, spec: ModalitySpec, level: float, mode: str = "noise", seed: int = 0
) -> Tensor:
    """A damaged copy of one modality's batch, to see how robust inference is.

    level in [0, 1]. Images/spectrograms: Gaussian noise of std `level` (clipped to the value
    range) or, mode="occlude", a centred black square covering a `level` fraction of the area.
    Sequences: Gaussian noise. Tokens: each word replaced by <unk> with probability `level`.
    Labels: replaced by another random class with probability `level`. Seeded: the same level
    gives the same damage, so moving a slider back restores the picture.
    """
    level = float(np.clip(level, 0.0, 1.0))
    if level <= 0.0:
        return x
    g = torch.Generator().manual_seed(int(seed))
    if spec.kind in ("image", "spectrogram"):
        if mode == "occlude":
            y = x.clone()
            h, w = x.shape[-2:]
            side_h, side_w = round(h * level**0.5), round(w * level**0.5)
            t, left = (h - side_h) // 2, (w - side_w) // 2
            y[..., t : t + side_h, left : left + side_w] = 0.0
            return y
        lo, hi = spec.value_range or (-np.inf, np.inf)
        return (x + level * torch.randn(x.shape, generator=g)).clamp(lo, hi)
    if spec.kind == "sequence":
        return x + level * torch.randn(x.shape, generator=g)
    if spec.kind == "tokens":
        hit = (torch.rand(x.shape, generator=g) < level) & (x > 0)
        return torch.where(hit, torch.ones_like(x), x)
    if spec.kind == "categorical":
        n = spec.num_classes
        shift = torch.randint(1, n, x.shape, generator=g)
        flip = torch.rand(x.shape, generator=g) < level
        return torch.where(flip, (x + shift) % n, x)
    return x


# ---- reconstruction with missing modalities ------------------------------------------------


@dataclass
class GroupPosterior:
    """One latent group's posterior for one sample: mean and std (None if deterministic)."""

    mean: np.ndarray
    std: np.ndarray | None


@dataclass
class ReconView:
    """What a model makes of one sample when only `observed` is seen.

    outputs: every modality the model decodes, in data space, batch axis dropped.
    probs: predicted class probabilities when the model has a label, else None.
    shift: per latent group, how far q(z | observed) is from q(z | all) (or q(z | full)):
        KL(q_obs || q_all) for Gaussian posteriors, Euclidean distance for point codes (MFM).
    shift_kind: "kl" or "distance" per group.
    shift_none: per Gaussian group, KL(p(z) || q(z | all)): the shift with nothing observed
        (the prior in place of the posterior), the scale the KL above is read against.
    """

    observed: list[str]
    outputs: dict[str, np.ndarray]
    posterior: dict[str, GroupPosterior]
    probs: np.ndarray | None
    shift: dict[str, float]
    shift_kind: dict[str, str]
    shift_none: dict[str, float] = field(default_factory=dict)
    reference: dict[str, GroupPosterior] = field(default_factory=dict)  # q(z | full)


def _summaries(post: dict[str, Posterior]) -> dict[str, GroupPosterior]:
    return {
        g: GroupPosterior(
            p.mean[0].numpy().copy(), None if p.logvar is None else p.std[0].numpy().copy()
        )
        for g, p in post.items()
    }


def posterior_shift(
    q_obs: dict[str, Posterior], q_all: dict[str, Posterior]
) -> tuple[dict[str, float], dict[str, str]]:
    """KL(q_obs || q_all) per group (Gaussian), or the distance of the codes (deterministic)."""
    shift, kind = {}, {}
    for g, p in q_obs.items():
        a = q_all[g]
        if p.logvar is not None and a.logvar is not None:
            shift[g] = float(kl_normal(p.mean, p.logvar, a.mean, a.logvar)[0])
            kind[g] = "kl"
        else:
            shift[g] = float(torch.linalg.vector_norm(p.mean[0] - a.mean[0]))
            kind[g] = "distance"
    return shift, kind


@torch.inference_mode()
def reconstruct_view(
    model: MultimodalModel,
    inputs: dict[str, Tensor],
    observed: Iterable[str] | None,
    full: Iterable[str] | None = None,
    experts: dict[str, tuple[Tensor, Tensor]] | None = None,
) -> ReconView:
    """Decode every modality from the posterior mean given `observed` (one sample).

    `full` is the subset the shift is measured against (default: all modalities; for a user's
    own input, the modalities they gave). Raises UnsupportedSubset when the model has no
    inference path for `observed`; a `full` it cannot encode leaves `shift` empty. `experts`:
    a product-of-experts model's experts already computed (see `expert_outputs`), so that each
    encoder runs once for the observed and the full posterior.
    """
    obs = model.check_observed(list(observed) if observed is not None else None)
    post = _encode(model, inputs, obs, experts)
    params = model.decode({g: p.mean for g, p in post.items()})
    outputs = {m: to_data_space(model.specs[m], p)[0].numpy().copy() for m, p in params.items()}
    label = model.label_modality
    probs = outputs.get(label) if label is not None else None
    try:
        ref = model.check_observed(list(full) if full is not None else None)
        q_all = post if ref == obs else _encode(model, inputs, ref, experts)
        shift, kind = posterior_shift(post, q_all)
        none = {
            g: float(
                kl_normal(torch.zeros_like(a.mean), torch.zeros_like(a.mean), a.mean, a.logvar)[0]
            )
            for g, a in q_all.items()
            if kind.get(g) == "kl"
        }
    except UnsupportedSubset:
        shift, kind, none, q_all = {}, {}, {}, {}
    return ReconView(obs, outputs, _summaries(post), probs, shift, kind, none, _summaries(q_all))


def _encode(model, inputs, observed, experts):  # noqa: ANN001, ANN202 - see reconstruct_view
    if experts is not None and model.is_product_of_experts:
        return model.encode(inputs, observed, experts=experts)
    return model.encode(inputs, observed)


@torch.inference_mode()
def expert_outputs(
    model: MultimodalModel, inputs: dict[str, Tensor], modalities: Iterable[str]
) -> dict[str, tuple[Tensor, Tensor]] | None:
    """Each modality's Gaussian expert (mean, logvar) of a product-of-experts model, computed
    once for a page that needs several posteriors of one sample; None for other models."""
    if not model.is_product_of_experts:
        return None
    return {m: model.expert(inputs, m) for m in dict.fromkeys(modalities)}


def supported_subsets(model: MultimodalModel) -> list[list[str]] | None:
    """The observed subsets the model can infer from, or None if it can infer from any.

    MVAE (product of experts) and JMVAE-zero take any subset; JMVAE only those with their own
    encoder; MFM all inputs plus the subsets whose surrogate network is trained
    (`MultimodalModel.supported_subsets`).
    """
    return model.supported_subsets()


def compare_views(
    models: dict[str, MultimodalModel], inputs: dict[str, Tensor], observed: Iterable[str]
) -> dict[str, ReconView | str]:
    """The same sample and mask through several models; a string says why one cannot do it."""
    observed = list(observed)
    out: dict[str, ReconView | str] = {}
    for name, model in models.items():
        obs = [m for m in observed if m in model.modalities]
        missing_inputs = [m for m in model.modalities if m not in inputs]
        if missing_inputs:
            out[name] = f"no input for {', '.join(missing_inputs)}"
            continue
        if not obs:
            out[name] = f"observes none of its modalities ({', '.join(model.modalities)})"
            continue
        try:
            out[name] = reconstruct_view(model, inputs, obs)
        except UnsupportedSubset as e:
            out[name] = str(e)
    return out


# ---- product of experts --------------------------------------------------------------------


@dataclass
class PoEView:
    """An MVAE posterior taken apart: each expert, the prior expert, and their product.

    names: the observed modalities, then "prior". means/stds/precisions: (E + 1, d).
    shares: (E + 1, d) each expert's fraction of the product's precision per dimension (sums to
        1 over experts). share_total: (E + 1,) the same averaged over dimensions.
    """

    names: list[str]
    means: np.ndarray
    stds: np.ndarray
    precisions: np.ndarray
    product_mean: np.ndarray
    product_std: np.ndarray
    shares: np.ndarray
    share_total: np.ndarray


def has_experts(model: MultimodalModel) -> bool:
    """Whether the posterior is a product of per-modality Gaussian experts (MVAE)."""
    return model.is_product_of_experts


@dataclass
class MixtureView:
    """A mixture posterior's components for one sample (MoPoE: one per subset of the observed
    modalities; MMVAE: one per observed modality), and the mixture's own moments.

    names: the components shown (for many components: the single-modality ones and the one
    that uses every observed modality); total: how many the mixture has, each weighing 1/total.
    """

    names: list[str]
    means: np.ndarray  # (C, d)
    stds: np.ndarray  # (C, d)
    mixture_mean: np.ndarray  # (d,)
    mixture_std: np.ndarray  # (d,)
    total: int


MAX_COMPONENTS_SHOWN = 7


@torch.inference_mode()
def mixture_view(
    model: MultimodalModel, inputs: dict[str, Tensor], observed: Iterable[str] | None
) -> MixtureView | None:
    """The components of the model's posterior for one sample; None when it is no mixture."""
    obs = model.check_observed(None if observed is None else list(observed))
    post = model.encode(inputs, obs)
    mixtures = [p for p in post.values() if isinstance(p, MixturePosterior)]
    if not mixtures:
        return None
    mix = mixtures[0]
    names = list(mix.components)
    if len(names) > MAX_COMPONENTS_SHOWN:
        names = [n for n in names if "+" not in n] + [names[-1]]
    return MixtureView(
        names=names,
        means=np.stack([mix.components[n].mean[0].numpy() for n in names]),
        stds=np.stack([mix.components[n].std[0].numpy() for n in names]),
        mixture_mean=mix.mean[0].numpy().copy(),
        mixture_std=mix.std[0].numpy().copy(),
        total=len(mix.components),
    )


@torch.inference_mode()
def poe_view(
    model: MultimodalModel,
    inputs: dict[str, Tensor],
    observed: Iterable[str],
    experts: dict[str, tuple[Tensor, Tensor]] | None = None,
) -> PoEView:
    """Experts of one sample: T_i = 1/sigma_i^2, T = 1 + sum_i T_i, mu = sum_i T_i mu_i / T."""
    if not has_experts(model):
        raise UnsupportedSubset(
            f"{model.name} has no product-of-experts posterior to take apart (only the MVAE)"
        )
    obs = model.check_observed(list(observed))
    mus, logvars = model.expert_params(inputs, obs, experts)  # (E, 1, d)
    mu = torch.cat([mus[:, 0], torch.zeros_like(mus[:1, 0])]).double()
    lv = torch.cat([logvars[:, 0], torch.zeros_like(logvars[:1, 0])]).double()
    # shares in log space, as stats.product_of_experts does: no overflow for sharp experts
    log_t = -lv
    log_total = torch.logsumexp(log_t, dim=0)
    shares = torch.exp(log_t - log_total)
    mean = (shares * mu).sum(dim=0)
    return PoEView(
        names=[*obs, "prior"],
        means=mu.numpy().copy(),
        stds=torch.exp(0.5 * lv).numpy().copy(),
        precisions=torch.exp(log_t).numpy().copy(),
        product_mean=mean.numpy().copy(),
        product_std=torch.exp(-0.5 * log_total).numpy().copy(),
        shares=shares.numpy().copy(),
        share_total=shares.mean(dim=1).numpy().copy(),
    )


# ---- latent traversal ----------------------------------------------------------------------


@torch.inference_mode()
def base_latents(
    model: MultimodalModel,
    inputs: dict[str, Tensor] | None = None,
    observed: Iterable[str] | None = None,
    source: str = "posterior",
) -> dict[str, Tensor]:
    """The point a traversal starts from: a sample's posterior mean, or the prior mean (0)."""
    if source == "prior" or inputs is None:
        return {g: torch.zeros(1, d) for g, d in model.latent_groups.items()}
    post = model.encode(inputs, list(observed) if observed is not None else None)
    return {g: p.mean[:1].clone() for g, p in post.items()}


@dataclass
class TraversalGrid:
    """Decoded outputs of a traversal: row r varies dimension dims[r] (or, for a 2-D sweep,
    rows follow dims[0] and columns dims[1]) through `values`; outputs[m] is
    (rows, steps, *data shape)."""

    group: str
    dims: list[int]
    values: np.ndarray
    col_values: np.ndarray
    outputs: dict[str, np.ndarray]
    sweep: bool = False


def _check_dims(model: MultimodalModel, group: str, dims: Sequence[int]) -> int:
    if group not in model.latent_groups:
        raise ValueError(f"no latent group {group!r}; the model has {list(model.latent_groups)}")
    d = model.latent_groups[group]
    bad = [i for i in dims if not 0 <= int(i) < d]
    if bad or not dims:
        raise ValueError(f"dimensions {list(dims)} must be in 0..{d - 1} of group {group!r}")
    return d


def _decode_batch(
    model: MultimodalModel, latents: dict[str, Tensor], modalities: Iterable[str] | None
) -> dict[str, np.ndarray]:
    params = model.decode(latents, list(modalities) if modalities is not None else None)
    return {m: to_data_space(model.specs[m], p).numpy() for m, p in params.items()}


@torch.inference_mode()
def traversal_grid(
    model: MultimodalModel,
    base: dict[str, Tensor],
    group: str,
    dims: Sequence[int],
    values: Sequence[float] | np.ndarray,
    modalities: Iterable[str] | None = None,
) -> TraversalGrid:
    """Set one latent dimension at a time to each of `values`, all others kept at `base`.

    All rows x steps latents are decoded in one batch (8 dims x 9 steps = 72 decodes at once).
    """
    _check_dims(model, group, dims)
    v = torch.as_tensor(np.asarray(values, dtype=np.float32))
    r, s = len(dims), len(v)
    lat = {g: t[:1].expand(r * s, -1).clone() for g, t in base.items()}
    z = lat[group].view(r, s, -1)
    for k, d in enumerate(dims):
        z[k, :, int(d)] = v
    out = _decode_batch(model, lat, modalities)
    out = {m: a.reshape(r, s, *a.shape[1:]) for m, a in out.items()}
    vals = v.numpy().copy()
    return TraversalGrid(group, [int(d) for d in dims], vals, vals, out)


@torch.inference_mode()
def sweep_2d(
    model: MultimodalModel,
    base: dict[str, Tensor],
    group: str,
    dims: tuple[int, int],
    values: Sequence[float] | np.ndarray,
    col_values: Sequence[float] | np.ndarray | None = None,
    modalities: Iterable[str] | None = None,
) -> TraversalGrid:
    """Vary two dimensions jointly: cell (i, j) sets dims = (values[i], col_values[j])."""
    _check_dims(model, group, dims)
    if len(dims) != 2 or dims[0] == dims[1]:
        raise ValueError(f"a 2-D sweep needs two different dimensions, got {list(dims)}")
    a = torch.as_tensor(np.asarray(values, dtype=np.float32))
    b = torch.as_tensor(np.asarray(col_values if col_values is not None else values, np.float32))
    r, s = len(a), len(b)
    lat = {g: t[:1].expand(r * s, -1).clone() for g, t in base.items()}
    z = lat[group].view(r, s, -1)
    z[:, :, int(dims[0])] = a[:, None]
    z[:, :, int(dims[1])] = b[None, :]
    out = _decode_batch(model, lat, modalities)
    out = {m: x.reshape(r, s, *x.shape[1:]) for m, x in out.items()}
    return TraversalGrid(
        group, [int(d) for d in dims], a.numpy().copy(), b.numpy().copy(), out, True
    )


@torch.inference_mode()
def dimension_activity(
    model: MultimodalModel,
    inputs: dict[str, Tensor],
    group: str,
    observed: Iterable[str] | None = None,
) -> np.ndarray:
    """Variance over samples of each dimension's posterior mean (Burda et al.'s "active units").

    A dimension the encoder does not use keeps the same mean for every input (variance ~ 0):
    traversing it changes nothing, so the traversal page suggests the most active ones.
    """
    post = model.encode(inputs, list(observed) if observed is not None else None)
    return post[group].mean.var(dim=0).numpy().copy()


# ---- cross-modal generation ----------------------------------------------------------------

Judge = Callable[[Tensor], Tensor]  # data-space batch of one modality -> class logits


@dataclass
class CrossModalView:
    """N draws of every modality given `observed`, and the oracles' verdicts on them.

    samples[m]: (n, *data shape) in data space. predictions[m]: (n,) oracle classes.
    agreement[m]: fraction of draws whose oracle class equals `reference`, for each generated
        (not observed) modality that could be judged: the coherence of this condition.
    reference: the class the condition names (given by the caller, else the observed label,
        the digit a phrase names, or an oracle's reading of an observed input; never the
        draws' majority): reference_source says which. unjudged: generated modalities with
        no oracle.
    prior_groups: latent groups drawn from the prior instead of the posterior.
    """

    observed: list[str]
    samples: dict[str, np.ndarray]
    predictions: dict[str, np.ndarray]
    agreement: dict[str, float]
    reference: int | None
    reference_source: str
    unjudged: list[str]
    prior_groups: list[str]


def condition_class(
    model: MultimodalModel,
    inputs: dict[str, Tensor],
    observed: Iterable[str],
    judges: dict[str, Judge] | None = None,
) -> tuple[int | None, str]:
    """The class the condition names, and where that came from: the observed label, else the
    digit a typed phrase names, else what an oracle reads in an observed drawing, photo or
    sound. Never the draws' own majority: broken draws would then agree with themselves."""
    from mmviz.data.digits import TEXT_VOCAB, class_named_by

    obs = list(observed)
    label = model.label_modality
    if label in obs:
        return int(inputs[label].reshape(-1)[0]), f"the given {label}"
    for m in obs:
        spec = model.specs[m]
        if spec.kind == "tokens" and spec.vocab == TEXT_VOCAB:
            named = class_named_by(inputs[m][0].numpy())
            if named is not None:
                return named, f"the digit the {m} names"
    for m in obs:
        if judges and m in judges:
            with torch.inference_mode():
                read = int(judges[m](inputs[m][:1].float()).argmax(-1)[0])
            return read, f"what oracle_{m} reads in the given {m}"
    return None, "none: the condition names no class"


@torch.inference_mode()
def cross_modal(
    model: MultimodalModel,
    inputs: dict[str, Tensor],
    observed: Iterable[str],
    n: int = 8,
    seed: int = 0,
    judges: dict[str, Judge] | None = None,
    reference: int | None = None,
    prior_groups: Iterable[str] | None = None,
) -> CrossModalView:
    """Draw z ~ q(z | observed) n times and decode every modality; judge each with its oracle.

    Point-code groups (MFM) give no spread, so a group named after an unobserved modality (its
    private style factor) is drawn from the prior N(0, I) by default: the shared factor comes
    from the condition, the style is new in each draw, which is MFM's generative story.
    """
    obs = model.check_observed(list(observed))
    if n < 1:
        raise ValueError("draw at least one sample")
    post = model.encode(inputs, obs)
    if prior_groups is None:
        prior_groups = [
            g
            for g, p in post.items()
            if p.logvar is None and g in model.modalities and g not in obs
        ]
    prior_groups = list(prior_groups)
    g = torch.Generator().manual_seed(int(seed))
    z = {}
    for name, p in post.items():
        mean = p.mean[:1].expand(n, -1)
        eps = torch.randn(mean.shape, generator=g)
        if name in prior_groups:
            z[name] = eps
        elif p.logvar is None:
            z[name] = mean.clone()
        else:
            z[name] = mean + eps * p.std[:1]
    params = model.decode(z)
    samples = {m: to_data_space(model.specs[m], v) for m, v in params.items()}
    judges = judges or {}
    preds: dict[str, np.ndarray] = {}
    unjudged = []
    for m, x in samples.items():
        spec = model.specs[m]
        if spec.kind == "categorical":
            preds[m] = x.argmax(-1).numpy()
        elif m in judges:
            preds[m] = judges[m](x).argmax(-1).numpy()
        else:
            unjudged.append(m)
    generated = {m: p for m, p in preds.items() if m not in obs}  # coherence: generated only
    source = "given"
    if reference is None:
        reference, source = condition_class(model, inputs, obs, judges)
    agreement = (
        {m: float((p == reference).mean()) for m, p in generated.items()}
        if reference is not None
        else {}
    )
    return CrossModalView(
        obs,
        {m: x.numpy().copy() for m, x in samples.items()},
        preds,
        agreement,
        reference,
        source,
        unjudged,
        prior_groups,
    )


# ---- latent map ----------------------------------------------------------------------------


@dataclass
class LatentMap:
    """2-D projection of posterior means of a split, plus links for a few chosen samples.

    coords: (N, 2); index: (N,) absolute sample indices; classes: (N,) target values.
    links[i] = (sample index, joint point (2,), {modality: single-modality point (2,)}).
    explained: PCA's explained variance ratio of the two axes (None for t-SNE).
    """

    group: str
    method: str
    coords: np.ndarray
    index: np.ndarray
    classes: np.ndarray
    links: list[tuple[int, np.ndarray, dict[str, np.ndarray]]]
    explained: np.ndarray | None
    means: np.ndarray


@torch.inference_mode()
def posterior_means(
    model: MultimodalModel,
    ds: MultimodalDataset,
    index: np.ndarray,
    group: str,
    observed: Iterable[str] | None = None,
    batch: int = 500,
) -> np.ndarray:
    """(len(index), d) posterior means of one latent group, in batches."""
    obs = list(observed) if observed is not None else None
    out = []
    for s in range(0, len(index), batch):
        b = np.asarray(index[s : s + batch])
        x = {m: torch.from_numpy(np.ascontiguousarray(ds.data[m][b])) for m in model.modalities}
        out.append(model.encode(x, obs)[group].mean.numpy())
    return np.concatenate(out) if out else np.zeros((0, model.latent_groups[group]))


def latent_map(
    model: MultimodalModel,
    ds: MultimodalDataset,
    group: str,
    split: str = "test",
    limit: int = 2000,
    method: str = "pca",
    link_indices: Sequence[int] = (),
    seed: int = 0,
    tsne_iter: int = 500,
    include: Sequence[int] = (),
) -> LatentMap:
    """Project the joint posterior means of (up to `limit` of) a split to 2-D.

    PCA is fit on the joint means and applied to the links; t-SNE has no transform for new
    points, so the links' points are embedded together with the others (`tsne_iter` steps:
    500 keeps an 800-point map to a few seconds on two cores). Single-modality posteriors the
    model cannot form (UnsupportedSubset) are left out of the links. Samples of the split in
    `include` are always among the points (a selection kept when the subset changes).
    """
    if group not in model.latent_groups:
        raise ValueError(f"no latent group {group!r}; the model has {list(model.latent_groups)}")
    if method not in ("pca", "tsne"):
        raise ValueError(f"unknown projection {method!r}; choose pca or tsne")
    idx = ds.indices(split)
    if limit and len(idx) > limit:
        full = idx
        idx = np.sort(np.random.default_rng(seed).choice(idx, size=limit, replace=False))
        wanted = np.setdiff1d(np.intersect1d(np.asarray(include, dtype=idx.dtype), full), idx)
        if wanted.size:
            idx = np.sort(np.concatenate([idx, wanted]))
    means = posterior_means(model, ds, idx, group)
    link_joint = posterior_means(model, ds, np.asarray(link_indices, dtype=np.int64), group)
    singles: list[tuple[int, str, np.ndarray]] = []
    for k, i in enumerate(link_indices):
        for m in input_modalities(model):
            try:
                v = posterior_means(model, ds, np.array([i]), group, [m])[0]
            except UnsupportedSubset:
                continue
            singles.append((k, m, v))
    extra = np.concatenate(
        [link_joint, np.array([v for _, _, v in singles]).reshape(-1, means.shape[1])]
    )
    explained = None
    if method == "pca":
        from sklearn.decomposition import PCA

        pca = PCA(n_components=2, random_state=seed).fit(means)
        coords, extra2 = pca.transform(means), pca.transform(extra) if len(extra) else extra[:, :2]
        explained = pca.explained_variance_ratio_.copy()
    else:
        from sklearn.manifold import TSNE

        allv = np.concatenate([means, extra])
        perplexity = float(min(30.0, max(5.0, (len(allv) - 1) / 3)))
        emb = TSNE(
            n_components=2,
            perplexity=perplexity,
            init="pca",
            max_iter=max(250, int(tsne_iter)),
            random_state=seed,
        ).fit_transform(allv)
        coords, extra2 = emb[: len(means)], emb[len(means) :]
    links = []
    for k, i in enumerate(link_indices):
        pts = {m: extra2[len(link_indices) + j] for j, (kk, m, _) in enumerate(singles) if kk == k}
        links.append((int(i), extra2[k], pts))
    classes = ds.targets[ds.target][idx]
    return LatentMap(group, method, coords, idx, classes, links, explained, means)


@torch.inference_mode()
def decode_latents(
    model: MultimodalModel, latents: dict[str, Tensor | np.ndarray]
) -> dict[str, np.ndarray]:
    """Every modality in data space from one latent value per group (batch of one)."""
    z = {
        g: torch.as_tensor(np.asarray(v, dtype=np.float32)).reshape(1, -1)
        for g, v in latents.items()
    }
    return {m: a[0] for m, a in _decode_batch(model, z, None).items()}
