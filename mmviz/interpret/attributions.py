"""Gradient and perturbation attributions with Captum, for every model through one interface.

What is attributed (`Target`) is a scalar per sample built from the model's public interface,
so the same code serves fusion models, oracles, VAEs and MFM:
- `Prediction`: the discriminative output (a regression score, or the log-probability of a
  class) from `model.predict(inputs, observed)`;
- `GeneratedClass`: the log-probability of a class of a *generated* categorical modality,
  decoded from the posterior mean given the observed modalities (e.g. the label from `hand`);
- `LatentDim`: one dimension of a latent group's posterior mean;
- `ImageRegion`: the summed data-space intensity of a box of a generated image modality.

Each target becomes one function `forward(*tensors)` of a tuple of float tensors, which is what
Captum attributes. Real-valued modalities are attributed as they are (per pixel, per time step
and feature). Discrete ones cannot be differentiated, so:
- gradient methods attribute them through their embeddings: every `nn.Embedding` reading the
  modality (found by name, see `embedding_modules`) gets a forward hook that swaps its output
  for a tensor Captum controls, while the ids still reach the model (masks, lengths). Values
  are summed over the embedding dimension to one number per token;
- perturbation methods replace token ids by a baseline id (PAD or UNK) directly, so they work
  for any model (also an oracle's `EmbeddingBag`).

Perturbation methods assign a group's effect to every element of the group; we spread it
evenly instead (divide by the group's size), so that per-element values of every method add
up and modality shares compare across methods.
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import torch
from torch import Tensor, nn

from mmviz.models.base import MultimodalModel, UnsupportedSubset, model_device, to_data_space

PAD, UNK = 0, 1
DISCRETE_KINDS = ("tokens", "categorical")


# ---------------------------------------------------------------------------------------------
# Targets
# ---------------------------------------------------------------------------------------------
def prior_latents(model: MultimodalModel, n: int) -> dict[str, Tensor]:
    """The prior mean (zero) of every latent group: what a model infers from nothing."""
    return model.prior_mean(n)


_device = model_device


def _posterior_means(
    model: MultimodalModel, inputs: dict[str, Tensor], observed: Sequence[str]
) -> dict[str, Tensor]:
    return {g: p.mean for g, p in model.encode(inputs, observed).items()}


def prediction_from_nothing(model: MultimodalModel, n: int) -> Tensor:
    """`predict` with no modality observed: (n,) scores or (n, C) probabilities.

    Each model says what that is (`MultimodalModel.predict_from_nothing`). Fusion models: every
    representation replaced by its training mean (their own missing-modality convention).
    Latent-variable models: the label decoder / head at the prior mean z = 0 (for the MVAE this
    is exactly its product of experts with no expert). Anything else raises `UnsupportedSubset`.
    """
    return model.predict_from_nothing(n)


def _select(out: Tensor, index: Tensor | None, log: bool) -> Tensor:
    """(n,) score as is; (n, C) probabilities -> the chosen class's (log-)probability."""
    if out.dim() == 1:
        return out
    p = out.gather(1, index.long().reshape(-1, 1)).squeeze(1)
    return torch.log(p.clamp_min(1e-30)) if log else p


@dataclass(frozen=True)
class Prediction:
    """The discriminative output: a regression score, or a class's (log-)probability.

    index: the class; None means the class the model predicts for each sample (fixed at the
        actual input, not re-chosen along an integration path). Ignored for scores.
    output: "log_prob" (default; additive over evidence) or "prob".
    """

    index: int | None = None
    output: Literal["log_prob", "prob"] = "log_prob"

    def describe(self) -> str:
        cls = "predicted class" if self.index is None else f"class {self.index}"
        return f"prediction ({self.output} of {cls}, or the score)"

    def excluded_modality(self, model: MultimodalModel) -> str | None:
        # a generative model predicts its label modality: feeding that label in would cheat
        return model.label_modality if model.latent_groups else None

    def resolve_index(
        self, model: MultimodalModel, inputs: dict[str, Tensor], observed: Sequence[str]
    ) -> Tensor | None:
        out = model.predict(inputs, observed)
        if out.dim() == 1:
            return None
        if self.index is None:
            return out.argmax(dim=1)
        return torch.full((out.shape[0],), int(self.index), dtype=torch.long, device=out.device)

    def evaluate(
        self,
        model: MultimodalModel,
        inputs: dict[str, Tensor],
        observed: Sequence[str],
        index: Tensor | None,
    ) -> Tensor:
        return _select(model.predict(inputs, observed), index, self.output == "log_prob")

    def evaluate_empty(self, model: MultimodalModel, n: int, index: Tensor | None) -> Tensor:
        return _select(prediction_from_nothing(model, n), index, self.output == "log_prob")


@dataclass(frozen=True)
class GeneratedClass:
    """log p(class) of a generated categorical modality, decoded from the posterior mean.

    E.g. GeneratedClass("label") with observed=["hand"]: how the hand image drives the label
    the model generates from it. index None: the class generated for each sample.
    """

    modality: str
    index: int | None = None

    def describe(self) -> str:
        cls = "generated class" if self.index is None else f"class {self.index}"
        return f"log p({cls}) of generated {self.modality}"

    def excluded_modality(self, model: MultimodalModel) -> str | None:
        return self.modality

    def _logits(self, model: MultimodalModel, z: dict[str, Tensor]) -> Tensor:
        spec = model.specs[self.modality]
        if spec.kind != "categorical":
            raise ValueError(
                f"GeneratedClass needs a categorical modality; {self.modality!r} is {spec.kind}"
            )
        return model.decode(z, [self.modality])[self.modality]

    def resolve_index(
        self, model: MultimodalModel, inputs: dict[str, Tensor], observed: Sequence[str]
    ) -> Tensor:
        logits = self._logits(model, _posterior_means(model, inputs, observed))
        if self.index is None:
            return logits.argmax(dim=1)
        return torch.full((logits.shape[0],), int(self.index), dtype=torch.long)

    def evaluate(
        self,
        model: MultimodalModel,
        inputs: dict[str, Tensor],
        observed: Sequence[str],
        index: Tensor | None,
    ) -> Tensor:
        logits = self._logits(model, _posterior_means(model, inputs, observed))
        return torch.log_softmax(logits, dim=1).gather(1, index.reshape(-1, 1)).squeeze(1)

    def evaluate_empty(self, model: MultimodalModel, n: int, index: Tensor | None) -> Tensor:
        logits = self._logits(model, prior_latents(model, n))
        return torch.log_softmax(logits, dim=1).gather(1, index.reshape(-1, 1)).squeeze(1)


@dataclass(frozen=True)
class LatentDim:
    """Posterior mean of dimension `dim` of latent group `group` (model.encode(...)[group])."""

    group: str
    dim: int

    def describe(self) -> str:
        return f"posterior mean of {self.group}[{self.dim}]"

    def excluded_modality(self, model: MultimodalModel) -> str | None:
        return None

    def resolve_index(self, model, inputs, observed) -> None:  # noqa: ANN001 - uniform API
        size = model.latent_groups.get(self.group)
        if size is None:
            raise ValueError(
                f"{model.name} has no latent group {self.group!r}; it has "
                f"{list(model.latent_groups)}"
            )
        if not 0 <= self.dim < size:
            raise ValueError(f"latent group {self.group!r} has {size} dimensions, not {self.dim}")
        return None

    def evaluate(self, model, inputs, observed, index) -> Tensor:  # noqa: ANN001
        return model.encode(inputs, observed)[self.group].mean[:, self.dim]

    def evaluate_empty(self, model: MultimodalModel, n: int, index: Tensor | None) -> Tensor:
        return torch.zeros(n, device=_device(model))  # the prior mean


@dataclass(frozen=True)
class ImageRegion:
    """Summed data-space intensity of rows [r0, r1) x cols [c0, c1) of a generated image.

    channel: one channel, or None for all of them. Works for spectrograms too.
    """

    modality: str
    rows: tuple[int, int]
    cols: tuple[int, int]
    channel: int | None = None

    def describe(self) -> str:
        ch = "" if self.channel is None else f", channel {self.channel}"
        return (
            f"intensity of generated {self.modality} rows {self.rows[0]}:{self.rows[1]}, "
            f"cols {self.cols[0]}:{self.cols[1]}{ch}"
        )

    def excluded_modality(self, model: MultimodalModel) -> str | None:
        return self.modality

    def _region(self, model: MultimodalModel, z: dict[str, Tensor]) -> Tensor:
        spec = model.specs[self.modality]
        if len(spec.shape) != 3:
            raise ValueError(
                f"ImageRegion needs a (C, H, W) modality; {self.modality!r} has shape {spec.shape}"
            )
        x = to_data_space(spec, model.decode(z, [self.modality])[self.modality])
        if self.channel is not None:
            x = x[:, self.channel : self.channel + 1]
        box = x[:, :, self.rows[0] : self.rows[1], self.cols[0] : self.cols[1]]
        return box.reshape(x.shape[0], -1).sum(dim=1)

    def resolve_index(self, model, inputs, observed) -> None:  # noqa: ANN001
        return None

    def evaluate(self, model, inputs, observed, index) -> Tensor:  # noqa: ANN001
        return self._region(model, _posterior_means(model, inputs, observed))

    def evaluate_empty(self, model: MultimodalModel, n: int, index: Tensor | None) -> Tensor:
        return self._region(model, prior_latents(model, n))


Target = Prediction | GeneratedClass | LatentDim | ImageRegion


def default_observed(
    model: MultimodalModel, inputs: dict[str, Tensor], target: Target
) -> list[str]:
    """Modalities present in `inputs` that the model reads, minus the target's own one."""
    skip = target.excluded_modality(model)
    obs = [m for m in model.modalities if m in inputs and m != skip]
    if not obs:
        raise UnsupportedSubset(
            f"no input modality to attribute to (inputs: {list(inputs)}, "
            f"model: {model.modalities}, target reads {skip!r})"
        )
    return obs


# ---------------------------------------------------------------------------------------------
# Method registry: typed parameter specs the app turns into widgets
# ---------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class ParamSpec:
    """One parameter of an attribution method, enough to build a widget and validate it."""

    name: str
    type: type
    default: Any
    low: float | None = None
    high: float | None = None
    choices: tuple[Any, ...] | None = None
    help: str = ""
    label: str = ""  # the widget's label, when Captum's argument name would mislead

    @property
    def widget_label(self) -> str:
        return self.label or self.name.replace("_", " ")

    def validate(self, value: Any) -> Any:
        if self.type is bool:
            if not isinstance(value, bool | np.bool_):
                raise ValueError(f"{self.name} must be true or false, got {value!r}")
            return bool(value)
        try:
            v = self.type(value)
        except (TypeError, ValueError):
            raise ValueError(f"{self.name} must be {self.type.__name__}, got {value!r}") from None
        if self.type is int and isinstance(value, float) and not float(value).is_integer():
            raise ValueError(f"{self.name} must be an integer, got {value!r}")
        if self.choices is not None and v not in self.choices:
            raise ValueError(f"{self.name} must be one of {list(self.choices)}, got {value!r}")
        if self.low is not None and v < self.low:
            raise ValueError(f"{self.name} must be >= {self.low}, got {value!r}")
        if self.high is not None and v > self.high:
            raise ValueError(f"{self.name} must be <= {self.high}, got {value!r}")
        return v


@dataclass(frozen=True)
class MethodCall:
    """One attribution run, as a method's `run` receives it.

    captum: the `captum.attr` module (imported when a run starts, so importing this module
        stays cheap). forward: the target as Captum's forward function. tensors / baselines:
        what is attributed and its baseline, one per slot of `taps`. extra: the additional
        forward arguments (token ids, then the class index). params: the validated parameters.
    """

    captum: Any
    forward: Callable[..., Tensor]
    taps: TappedInputs
    tensors: tuple[Tensor, ...]
    baselines: tuple[Tensor, ...]
    extra: tuple
    params: dict[str, Any]


# per-slot attributions, and the convergence deltas (n,) for methods that report them
RunResult = tuple[tuple[Tensor, ...], np.ndarray | None]


@dataclass(frozen=True)
class MethodSpec:
    """An attribution method: Captum class, kind, parameters, whether it reports a delta, and
    `run`, which calls Captum with those parameters (one callable per method, as Captum has
    one object per method)."""

    name: str
    captum: str
    kind: Literal["gradient", "perturbation"]
    params: tuple[ParamSpec, ...]
    has_delta: bool
    description: str
    run: Callable[[MethodCall], RunResult] = field(compare=False, repr=False)

    def param(self, name: str) -> ParamSpec:
        for p in self.params:
            if p.name == name:
                return p
        raise KeyError(name)

    def defaults(self) -> dict[str, Any]:
        return {p.name: p.default for p in self.params}


_TOKEN_BASELINE = ParamSpec(
    "token_baseline",
    str,
    "pad",
    choices=("pad", "unk"),
    help="what a removed word becomes: PAD (for gradient methods, its embedding; zero in "
    "these models) or the unknown word UNK",
)
_PER_EVAL = ParamSpec(
    "perturbations_per_eval",
    int,
    32,
    1,
    1024,
    help="perturbed copies evaluated in one batch (speed vs memory; results are identical)",
)
_GROUPING = ParamSpec(
    "sequence_grouping",
    str,
    "step_feature",
    choices=("step_feature", "step"),
    help="perturb sequences one (time step, feature) at a time, or whole time steps",
)
_PATCH = ParamSpec(
    "image_patch",
    int,
    1,
    1,
    16,
    help="images are perturbed in patches of this many pixels per side (all channels at once)",
)
_SEED = ParamSpec("seed", int, 0, 0, 2**31 - 1, help="random seed (same seed, same result)")


def _deltas(delta: Tensor) -> np.ndarray:
    return delta.detach().double().cpu().numpy()


def _spread_over_windows(attrs: Sequence[Tensor], shapes: Sequence[tuple]) -> tuple[Tensor, ...]:
    """Each occluded window's change divided among its elements (see the module docstring)."""
    sizes = [math.prod(s) for s in shapes]
    return tuple(a / s for a, s in zip(attrs, sizes, strict=True))


def _spread_over_groups(attrs: Sequence[Tensor], masks: Sequence[Tensor]) -> tuple[Tensor, ...]:
    """Each feature group's effect divided among its elements (see the module docstring)."""
    sizes = _group_sizes(masks)
    return tuple(a / s.to(a) for a, s in zip(attrs, sizes, strict=True))


def _perturbation_kwargs(call: MethodCall, masks: tuple[Tensor, ...]) -> dict[str, Any]:
    return dict(
        baselines=call.baselines,
        feature_mask=masks,
        additional_forward_args=call.extra,
        perturbations_per_eval=call.params["perturbations_per_eval"],
    )


def _run_integrated_gradients(call: MethodCall) -> RunResult:
    p = call.params
    attrs, delta = call.captum.IntegratedGradients(call.forward).attribute(
        call.tensors,
        baselines=call.baselines,
        additional_forward_args=call.extra,
        n_steps=p["n_steps"],
        method=p["method"],
        internal_batch_size=p["internal_batch_size"] or None,
        return_convergence_delta=True,
    )
    return tuple(attrs), _deltas(delta)


def _run_saliency(call: MethodCall) -> RunResult:
    attrs = call.captum.Saliency(call.forward).attribute(
        call.tensors, abs=call.params["abs"], additional_forward_args=call.extra
    )
    return tuple(attrs), None


def _run_input_x_gradient(call: MethodCall) -> RunResult:
    attrs = call.captum.InputXGradient(call.forward).attribute(
        call.tensors, additional_forward_args=call.extra
    )
    return tuple(attrs), None


def _run_gradient_shap(call: MethodCall) -> RunResult:
    p = call.params
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(p["seed"])
        attrs, delta = call.captum.GradientShap(call.forward).attribute(
            call.tensors,
            baselines=tuple(b[:1] for b in call.baselines),
            n_samples=p["n_samples"],
            stdevs=p["stdevs"],
            additional_forward_args=call.extra,
            return_convergence_delta=True,
        )
    return tuple(attrs), _deltas(delta)


def _run_occlusion(call: MethodCall) -> RunResult:
    p = call.params
    shapes, strides = call.taps.windows(p["window"], p["stride"], p["sequence_grouping"])
    attrs = call.captum.Occlusion(call.forward).attribute(
        call.tensors,
        sliding_window_shapes=shapes,
        strides=strides,
        baselines=call.baselines,
        additional_forward_args=call.extra,
        perturbations_per_eval=p["perturbations_per_eval"],
    )
    return _spread_over_windows(attrs, shapes), None


def _run_feature_ablation(call: MethodCall) -> RunResult:
    masks = call.taps.feature_masks(call.params["sequence_grouping"], call.params["image_patch"])
    attrs = call.captum.FeatureAblation(call.forward).attribute(
        call.tensors, **_perturbation_kwargs(call, masks)
    )
    return _spread_over_groups(attrs, masks), None


def _run_shapley_value_sampling(call: MethodCall) -> RunResult:
    p = call.params
    masks = call.taps.feature_masks(p["sequence_grouping"], p["image_patch"])
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(p["seed"])
        attrs = call.captum.ShapleyValueSampling(call.forward).attribute(
            call.tensors, n_samples=p["n_samples"], **_perturbation_kwargs(call, masks)
        )
    return _spread_over_groups(attrs, masks), None


METHODS: dict[str, MethodSpec] = {
    "IntegratedGradients": MethodSpec(
        "IntegratedGradients",
        "IntegratedGradients",
        "gradient",
        (
            ParamSpec(
                "n_steps",
                int,
                32,
                2,
                1024,
                help="points on the path from baseline to input; more = smaller convergence delta",
            ),
            ParamSpec(
                "method",
                str,
                "gausslegendre",
                choices=(
                    "gausslegendre",
                    "riemann_trapezoid",
                    "riemann_left",
                    "riemann_right",
                    "riemann_middle",
                ),
                help="quadrature rule for the path integral (Captum's `method` argument)",
                label="integration rule",
            ),
            ParamSpec(
                "internal_batch_size",
                int,
                0,
                0,
                65536,
                help="path points evaluated per batch (0: all at once)",
            ),
            _TOKEN_BASELINE,
        ),
        True,
        "Path integral of gradients from a baseline (zeros / PAD) to the input; attributions "
        "sum to f(input) - f(baseline) up to the reported delta (Sundararajan et al. 2017).",
        run=_run_integrated_gradients,
    ),
    "Saliency": MethodSpec(
        "Saliency",
        "Saliency",
        "gradient",
        (ParamSpec("abs", bool, True, help="absolute value of the gradient"), _TOKEN_BASELINE),
        False,
        "The gradient of the target at the input: local sensitivity, not a decomposition.",
        run=_run_saliency,
    ),
    "InputXGradient": MethodSpec(
        "InputXGradient",
        "InputXGradient",
        "gradient",
        (_TOKEN_BASELINE,),
        False,
        "Input times gradient: a first-order estimate of each input's contribution.",
        run=_run_input_x_gradient,
    ),
    "GradientShap": MethodSpec(
        "GradientShap",
        "GradientShap",
        "gradient",
        (
            ParamSpec("n_samples", int, 16, 1, 1024, help="random points per input"),
            ParamSpec(
                "stdevs",
                float,
                0.0,
                0.0,
                10.0,
                help="Gaussian noise added to the input at each sample",
            ),
            _TOKEN_BASELINE,
            _SEED,
        ),
        True,
        "Expected gradients: gradients at random points between baselines and the input, "
        "times (input - baseline); approximates SHAP values (Lundberg & Lee 2017).",
        run=_run_gradient_shap,
    ),
    "Occlusion": MethodSpec(
        "Occlusion",
        "Occlusion",
        "perturbation",
        (
            ParamSpec(
                "window", int, 1, 1, 32, help="time steps / pixels per side occluded at once"
            ),
            ParamSpec("stride", int, 1, 1, 32, help="step between windows"),
            _GROUPING,
            _TOKEN_BASELINE,
            _PER_EVAL,
        ),
        False,
        "Change of the target when a sliding window is replaced by the baseline "
        "(Zeiler & Fergus 2014); each window's change is spread over its elements.",
        run=_run_occlusion,
    ),
    "FeatureAblation": MethodSpec(
        "FeatureAblation",
        "FeatureAblation",
        "perturbation",
        (_GROUPING, _PATCH, _TOKEN_BASELINE, _PER_EVAL),
        False,
        "Change of the target when one feature (group) at a time is replaced by the baseline.",
        run=_run_feature_ablation,
    ),
    "ShapleyValueSampling": MethodSpec(
        "ShapleyValueSampling",
        "ShapleyValueSampling",
        "perturbation",
        (
            ParamSpec("n_samples", int, 10, 1, 1000, help="random feature orderings"),
            _GROUPING,
            _PATCH,
            _TOKEN_BASELINE,
            _PER_EVAL,
            _SEED,
        ),
        False,
        "Shapley values of features estimated from random orderings; they sum exactly to "
        "f(input) - f(baseline) (Castro et al. 2009).",
        run=_run_shapley_value_sampling,
    ),
}


# ---------------------------------------------------------------------------------------------
# Inputs as Captum sees them
# ---------------------------------------------------------------------------------------------
def embedding_modules(model: nn.Module, modality: str) -> list[nn.Embedding]:
    """Every `nn.Embedding` that reads `modality`'s ids.

    Found by name: a module path with a segment equal to the modality name (e.g.
    "subnets.language.embedding", "experts.text.embed", "a_encoders.text.embed"), plus
    `model.embedding_layer(modality)` where a model provides it. MFM reads a token modality
    through several tables (shared and specific encoders): all are returned.
    """
    found: list[nn.Embedding] = []
    if isinstance(model, MultimodalModel):
        with contextlib.suppress(ValueError, NotImplementedError, KeyError, AttributeError):
            named = model.embedding_layer(modality)
            if named is not None:
                found.append(named)
    for name, module in model.named_modules():
        ours = type(module) is nn.Embedding and modality in name.split(".")
        if ours and all(module is not f for f in found):
            found.append(module)
    return found


@dataclass
class _Slot:
    """One tensor Captum sees: a real-valued modality, token ids, or one embedding table."""

    modality: str
    kind: Literal["float", "ids", "embed"]
    value: Tensor
    baseline: Tensor
    module: nn.Module | None = None


class TappedInputs:
    """Inputs as a tuple of float tensors plus a `forward(*tensors)` Captum can attribute.

    Also used by the MFM interpretation (gradients of factors with respect to inputs).
    `perturb_tokens`: token modalities enter as float ids (for perturbation methods) rather
    than through their embeddings.
    """

    def __init__(
        self,
        model: MultimodalModel,
        inputs: dict[str, Tensor],
        observed: Sequence[str],
        perturb_tokens: bool = False,
        token_baseline: str = "pad",
        baselines: dict[str, Tensor] | None = None,
    ) -> None:
        self.model = model
        self.observed = list(observed)
        base_id = PAD if token_baseline == "pad" else UNK
        self.slots: list[_Slot] = []
        self.ids: dict[str, Tensor] = {}
        for m in self.observed:
            spec, x = model.specs[m], inputs[m]
            if spec.kind not in DISCRETE_KINDS:
                xf = x.float()
                b = baselines[m].to(xf) if baselines and m in baselines else torch.zeros_like(xf)
                self.slots.append(_Slot(m, "float", xf, b.expand_as(xf).contiguous()))
                continue
            if spec.kind == "tokens" and perturb_tokens:
                xf = x.float()
                self.slots.append(_Slot(m, "ids", xf, torch.full_like(xf, float(base_id))))
                continue
            modules = embedding_modules(model, m)
            if not modules:
                raise ValueError(
                    f"{model.name} reads {m!r} ({spec.kind}) without an nn.Embedding that "
                    "gradients could go through; use a perturbation method "
                    "(Occlusion, FeatureAblation, ShapleyValueSampling)"
                    + ("" if spec.kind == "tokens" else ", which handle tokens only")
                )
            ids = x.long()
            self.ids[m] = ids
            with torch.no_grad():
                for mod in modules:
                    emb = mod(ids).detach()
                    if spec.kind == "tokens":
                        b = mod(torch.full_like(ids, base_id)).detach()
                    else:  # a class has no neutral id: the zero vector is "no class"
                        b = torch.zeros_like(emb)
                    self.slots.append(_Slot(m, "embed", emb, b, mod))

    @property
    def tensors(self) -> tuple[Tensor, ...]:
        return tuple(s.value for s in self.slots)

    @property
    def baselines(self) -> tuple[Tensor, ...]:
        return tuple(s.baseline for s in self.slots)

    @property
    def id_tensors(self) -> tuple[Tensor, ...]:
        return tuple(self.ids.values())

    @contextlib.contextmanager
    def _taps(self, tensors: Sequence[Tensor]) -> Iterator[None]:
        handles = []
        for slot, t in zip(self.slots, tensors, strict=True):
            if slot.kind != "embed":
                continue

            def hook(
                module: nn.Module, args: Any, out: Tensor, t: Tensor = t, m: str = slot.modality
            ) -> Tensor:
                if out.shape != t.shape:
                    raise RuntimeError(
                        f"embedding of {m!r} produced {tuple(out.shape)} but the "
                        f"attributed tensor is {tuple(t.shape)}: the model calls it on other ids"
                    )
                return t

            handles.append(slot.module.register_forward_hook(hook))
        try:
            yield
        finally:
            for h in handles:
                h.remove()

    def model_inputs(self, tensors: Sequence[Tensor], ids: Sequence[Tensor]) -> dict[str, Tensor]:
        out = dict(zip(self.ids, ids, strict=True))
        for slot, t in zip(self.slots, tensors, strict=True):
            if slot.kind == "float":
                out[slot.modality] = t
            elif slot.kind == "ids":
                out[slot.modality] = t.round().long()
        return out

    def run(
        self,
        fn: Callable[[dict[str, Tensor]], Tensor],
        tensors: Sequence[Tensor],
        ids: Sequence[Tensor],
    ) -> Tensor:
        """fn(model inputs) with the embedding tables fed from `tensors`."""
        with self._taps(tensors):
            return fn(self.model_inputs(tensors, ids))

    def forward_for(self, target: Target) -> Callable[..., Tensor]:
        """forward(*tensors, *ids, index) -> (n,) target values, for Captum."""
        k, j = len(self.slots), len(self.ids)

        def forward(*args: Any) -> Tensor:
            tensors, ids, index = args[:k], args[k : k + j], args[k + j]
            out = self.run(
                lambda inp: target.evaluate(self.model, inp, self.observed, index), tensors, ids
            )
            # every input stays in the graph, so an input the target ignores gets zero gradient
            # (autograd would otherwise refuse to differentiate with respect to it)
            n = out.shape[0]
            for t in tensors:
                if t.is_floating_point():
                    out = out + 0.0 * t.reshape(n, -1)[:, 0]
            return out

        return forward

    # ---- masks and windows for perturbation methods -------------------------------------
    def feature_masks(self, grouping: str, patch: int) -> tuple[Tensor, ...]:
        """One mask per slot, ids unique across modalities; a modality's tables share ids."""
        masks: list[Tensor] = []
        offsets: dict[str, int] = {}
        next_id = 0
        for slot in self.slots:
            shape = tuple(slot.value.shape[1:])
            local = self._local_mask(slot, shape, grouping, patch)
            if slot.modality not in offsets:
                offsets[slot.modality] = next_id
                next_id += int(local.max()) + 1
            masks.append((local + offsets[slot.modality]).unsqueeze(0))
        return tuple(masks)

    def _local_mask(self, slot: _Slot, shape: tuple[int, ...], grouping: str, patch: int) -> Tensor:
        kind = self.model.specs[slot.modality].kind
        if slot.kind == "embed":
            if kind == "tokens":  # (T, E): one feature per word
                return torch.arange(shape[0]).unsqueeze(1).expand(shape).contiguous()
            return torch.zeros(shape, dtype=torch.long)  # (E,): the class is one feature
        if slot.kind == "ids":
            return torch.arange(shape[0])
        if len(shape) == 3:  # (C, H, W): patches of pixels, all channels together
            _, h, w = shape
            rows = torch.arange(h) // patch
            cols = torch.arange(w) // patch
            ids = rows.unsqueeze(1) * math.ceil(w / patch) + cols.unsqueeze(0)
            return ids.unsqueeze(0).expand(shape).contiguous()
        if len(shape) == 2 and grouping == "step":  # (T, F): whole time steps
            return torch.arange(shape[0]).unsqueeze(1).expand(shape).contiguous()
        return torch.arange(int(np.prod(shape))).reshape(shape)

    def windows(self, window: int, stride: int, grouping: str) -> tuple[tuple, tuple]:
        """Occlusion's sliding window and stride per slot (in sample shape)."""
        shapes, strides = [], []
        for slot in self.slots:
            shape = tuple(slot.value.shape[1:])
            if slot.kind == "embed" and len(shape) == 1:  # a class: all of it
                shapes.append(shape)
                strides.append(shape)
            elif slot.kind == "embed":  # (T, E)
                shapes.append((min(window, shape[0]), shape[1]))
                strides.append((stride, shape[1]))
            elif len(shape) == 3:
                c, h, w = shape
                shapes.append((c, min(window, h), min(window, w)))
                strides.append((c, stride, stride))
            elif len(shape) == 2:
                width = shape[1] if grouping == "step" else 1
                shapes.append((min(window, shape[0]), width))
                strides.append((stride, width))
            elif len(shape) == 1:
                shapes.append((min(window, shape[0]),))
                strides.append((stride,))
            else:
                raise ValueError(f"cannot occlude {slot.modality!r} of sample shape {shape}")
        return tuple(shapes), tuple(strides)

    # ---- back to modalities ----------------------------------------------------------------
    def per_modality(self, attributions: Sequence[Tensor]) -> dict[str, np.ndarray]:
        """Slot attributions -> one array per modality shaped (n, *sample shape)."""
        out: dict[str, np.ndarray] = {}
        for slot, a in zip(self.slots, attributions, strict=True):
            a = a.detach().double()
            if slot.kind == "embed":
                a = a.sum(dim=-1)  # over the embedding dimension: one value per token / class
            arr = a.cpu().numpy()
            out[slot.modality] = out[slot.modality] + arr if slot.modality in out else arr
        return out


def _group_sizes(masks: Sequence[Tensor]) -> list[Tensor]:
    """For each element of each mask, how many elements (in all masks) share its id."""
    flat = torch.cat([m.reshape(-1) for m in masks])
    counts = torch.bincount(flat)
    return [counts[m] for m in masks]


# ---------------------------------------------------------------------------------------------
# The attributor
# ---------------------------------------------------------------------------------------------
@dataclass
class AttributionResult:
    """Attributions of one target for a batch of samples.

    per_modality: modality -> (n, *sample shape) (tokens: one value per word; a categorical
        input: one value). Only observed modalities appear.
    shares: each modality's share of the total absolute attribution (sums to 1, or all 0).
    delta: largest |convergence delta| over the batch (IG, GradientShap), else None;
        `deltas` holds them all.
    target_value / baseline_value: the target at the input and at the baseline (n,).
    """

    method: str
    params: dict[str, Any]
    target: str
    observed: list[str]
    per_modality: dict[str, np.ndarray]
    shares: dict[str, float]
    delta: float | None
    deltas: np.ndarray | None
    target_value: np.ndarray
    baseline_value: np.ndarray
    index: np.ndarray | None = None
    notes: list[str] = field(default_factory=list)

    def totals(self) -> dict[str, np.ndarray]:
        """Sum of attributions per modality and sample (n,)."""
        return {m: a.reshape(a.shape[0], -1).sum(axis=1) for m, a in self.per_modality.items()}


def _shares(per_modality: dict[str, np.ndarray]) -> dict[str, float]:
    mags = {m: float(np.abs(a).sum()) for m, a in per_modality.items()}
    total = sum(mags.values())
    return {m: (v / total if total > 0 else 0.0) for m, v in mags.items()}


class Attributor:
    """One attribution method with its parameters, following Captum's shape.

    Attributor("IntegratedGradients", n_steps=64).attribute(model, inputs, Prediction())
    """

    def __init__(self, method_name: str, **params: Any) -> None:
        if method_name not in METHODS:
            raise ValueError(
                f"unknown attribution method {method_name!r}; choose from: {', '.join(METHODS)}"
            )
        self.spec = METHODS[method_name]
        known = {p.name for p in self.spec.params}
        unknown = sorted(set(params) - known)
        if unknown:
            raise ValueError(f"{method_name} has no parameter(s) {unknown}; it has {sorted(known)}")
        self.params = self.spec.defaults()
        for k, v in params.items():
            self.params[k] = self.spec.param(k).validate(v)

    def attribute(
        self,
        model: MultimodalModel,
        inputs: dict[str, Tensor],
        target: Target,
        observed: Sequence[str] | None = None,
        baselines: dict[str, Tensor] | None = None,
    ) -> AttributionResult:
        """Attribute `target` to every observed modality's inputs.

        observed: modalities given to the model (default: those in `inputs` it reads, minus
            the target's own modality). baselines: per real-valued modality (default zeros);
            token baselines follow `token_baseline`.
        """
        import captum.attr as ca

        p = self.params
        obs = list(observed) if observed is not None else default_observed(model, inputs, target)
        was_training = model.training
        model.eval()
        try:
            with torch.no_grad():
                index = target.resolve_index(model, inputs, obs)
            taps = TappedInputs(
                model,
                inputs,
                obs,
                perturb_tokens=self.spec.kind == "perturbation",
                token_baseline=p["token_baseline"],
                baselines=baselines,
            )
            forward = taps.forward_for(target)
            extra = (*taps.id_tensors, index)
            tensors = taps.tensors
            base = taps.baselines
            with torch.no_grad():
                value = forward(*tensors, *extra).detach()
                base_value = forward(*base, *extra).detach()
            if self.spec.kind == "gradient":
                tensors = tuple(t.clone().requires_grad_(True) for t in tensors)
            attrs, deltas = self.spec.run(MethodCall(ca, forward, taps, tensors, base, extra, p))
        finally:
            model.train(was_training)
        per_mod = taps.per_modality(attrs)
        return AttributionResult(
            method=self.spec.name,
            params=dict(p),
            target=target.describe(),
            observed=obs,
            per_modality=per_mod,
            shares=_shares(per_mod),
            delta=None if deltas is None else float(np.abs(deltas).max()),
            deltas=deltas,
            target_value=value.double().cpu().numpy(),
            baseline_value=base_value.double().cpu().numpy(),
            index=None if index is None else index.cpu().numpy(),
        )


def attribute(
    model: MultimodalModel,
    inputs: dict[str, Tensor],
    target: Target,
    method_name: str = "IntegratedGradients",
    observed: Sequence[str] | None = None,
    baselines: dict[str, Tensor] | None = None,
    **params: Any,
) -> AttributionResult:
    """Shorthand for `Attributor(method_name, **params).attribute(model, inputs, target, ...)`.

    (`method_name`, not `method`: IntegratedGradients has a parameter called `method`.)
    """
    return Attributor(method_name, **params).attribute(model, inputs, target, observed, baselines)
