"""The Attributions page's view and the decisions behind its controls.

The menus say which targets apply to a checkpoint and sample (and why the others do not), what a
target's own controls offer (classes, the runner-up class as default, latent groups, generated
images and their size), which modalities can be observed for a target, which methods apply to
the observed modalities, and how a method's parameters are read from a link. The view holds the
attributions, the modality Shapley values, the figures and the notes the page shows.

Attributions register hooks on the model: in the app they run on a private copy under a lock
(ui/cache.py), which passes them in as `attribute` and `shapley`; by default they run here on
the model given.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import plotly.graph_objects as go
from torch import Tensor

from mmviz import explore
from mmviz import report as rep
from mmviz.interpret.attributions import METHODS, AttributionResult, ParamSpec
from mmviz.interpret.shapley import ShapleyResult
from mmviz.models import MultimodalModel, UnsupportedSubset
from mmviz.plots import attributions as figs


# ---- the menus -------------------------------------------------------------------------------
@dataclass
class TargetMenu:
    """The target kinds that apply (in order) and a note naming the ones that do not."""

    kinds: list[str]
    labels: dict[str, str]
    not_here: str | None

    @property
    def empty(self) -> bool:
        return not self.kinds


def target_menu(model: MultimodalModel, inputs: Mapping[str, Tensor]) -> TargetMenu:
    options = rep.target_options(model, dict(inputs))
    kinds = [k for k, why in options.items() if why is None]
    skipped = {k: why for k, why in options.items() if why is not None}
    note = (
        "Not for this checkpoint: "
        + "; ".join(f"{rep.TARGET_KINDS[k]} ({why})" for k, why in skipped.items())
        if skipped
        else None
    )
    return TargetMenu(kinds, dict(rep.TARGET_KINDS), note)


def class_menu(
    model: MultimodalModel, inputs: Mapping[str, Tensor], given: Sequence[str]
) -> tuple[list[str], int]:
    """Target "class": the class names and the default, the runner-up class ("why not this
    one?") as the model predicts from the given modalities (its label excluded)."""
    observed = [m for m in given if m != model.label_modality] or None
    n_classes, runner_up = explore.runner_up_class(model, dict(inputs), observed)
    label = model.label_modality
    names = list(model.specs[label].vocab) if label else []
    names += [str(k) for k in range(len(names), n_classes)]
    return names[:n_classes], runner_up


def generated_menu(model: MultimodalModel) -> dict[str, list[str]]:
    """Target "generated": each categorical modality and its class names."""
    out = {}
    for m, s in model.specs.items():
        if s.kind == "categorical":
            out[m] = list(s.vocab or [str(i) for i in range(s.num_classes)])
    return out


def latent_menu(model: MultimodalModel) -> dict[str, int]:
    """Target "latent": each latent group and its number of dimensions."""
    return dict(model.latent_groups)


def region_menu(model: MultimodalModel) -> dict[str, tuple[int, int]]:
    """Target "region": each generated image and its (height, width)."""
    return {m: tuple(model.specs[m].shape[1:]) for m in rep.generated_images(model)}


def default_region(h: int, w: int) -> tuple[tuple[int, int], tuple[int, int]]:
    """The centre half of an h x w image: (rows, cols)."""
    return (h // 4, h - h // 4), (w // 4, w - w // 4)


@dataclass
class ObservedMenu:
    """The modalities that can be observed for a target, and why one is left out."""

    candidates: list[str]
    note: str


def observed_menu(model: MultimodalModel, choice: rep.TargetChoice) -> ObservedMenu:
    readable = explore.input_modalities(model)
    skip = choice.build().excluded_modality(model)
    note = "**Modalities the model sees**" + (
        f" (`{skip}` is the target's own modality, so it is not an input here)"
        if skip in readable
        else ""
    )
    return ObservedMenu([m for m in readable if m != skip], note)


@dataclass
class MethodMenu:
    """The methods that apply to the observed modalities, the default one, and notes."""

    methods: list[str]
    default: str | None
    skipped: str | None  # the methods that do not apply, and why
    none_apply: str | None  # the warning when none does

    def description(self, method: str) -> str:
        return METHODS[method].description

    def params(self, method: str) -> tuple[ParamSpec, ...]:
        return tuple(METHODS[method].params)


def method_menu(model: MultimodalModel, observed: Sequence[str]) -> MethodMenu:
    applicable = rep.method_options(model, list(observed))
    methods = [k for k, why in applicable.items() if why is None]
    skipped = {k: why for k, why in applicable.items() if why is not None}
    default = None
    if methods:
        default = "IntegratedGradients" if "IntegratedGradients" in methods else methods[0]
    return MethodMenu(
        methods,
        default,
        "Not for these inputs: " + "; ".join(f"{k} ({why})" for k, why in skipped.items())
        if skipped
        else None,
        None
        if methods
        else "No attribution method applies to these inputs: "
        + "; ".join(f"{k}: {why}" for k, why in applicable.items()),
    )


def parameter_value(p: ParamSpec, text: str | None) -> Any:
    """A method parameter written in a link (text) as the parameter's type; None if absent
    or unreadable (then the widget keeps its value)."""
    if text is None:
        return None
    try:
        if p.type is bool:
            return text in ("1", "true", "True")
        if p.choices is not None:
            return text if text in p.choices else None
        return p.type(float(text)) if p.type is int else float(text)
    except ValueError:
        return None


def parameter_ok(p: ParamSpec, value: Any) -> bool:
    """Whether a widget value is one the parameter takes."""
    if p.type is bool:
        return isinstance(value, bool)
    if p.choices is not None:
        return value in p.choices
    if isinstance(value, bool) or not isinstance(value, int | float):
        return False
    return (p.low is None or value >= p.low) and (p.high is None or value <= p.high)


def scalar_text(value: Any) -> str:
    """A parameter's value as written in a link."""
    if isinstance(value, bool):
        return "1" if value else "0"
    return f"{value:g}" if isinstance(value, int | float) else str(value)


# ---- the view --------------------------------------------------------------------------------
@dataclass(frozen=True)
class AttributionSettings:
    """What the page's controls chose: the target, the observed modalities, the method and
    its parameters (name, value) pairs."""

    target: rep.TargetChoice
    observed: tuple[str, ...]
    method: str
    params: tuple[tuple[str, Any], ...] = ()


@dataclass
class Panel:
    """Where in one modality the attribution lies.

    kind: "image" (overlay figure and a note), "tokens" (words), "sequence" (per time step and
    feature), or "whole" (one value for the input: a class input).
    """

    modality: str
    kind: str
    figure: go.Figure | None = None
    note: str | None = None
    value: float | None = None


@dataclass
class AttributionsView:
    """What the page shows.

    total: the sum of every attribution (what completeness compares with f(x) - f(x')).
    shapley: exact modality Shapley values, or None (one input, or the model cannot give the
        target from every subset: `shapley_warning` says why; `shapley_error`: it failed).
    single: the model reads one modality only (then Shapley values are not computed).
    """

    result: AttributionResult
    title: str
    target_value: float
    baseline_value: float
    total: float
    delta: float | None
    index_note: str | None
    shares_figure: go.Figure
    shares_note: str | None
    single: bool
    single_note: str | None
    shapley: ShapleyResult | None
    shapley_figure: go.Figure | None
    shapley_note: str | None
    baseline_note: str | None
    shapley_warning: str | None
    shapley_error: Exception | None
    panels: list[Panel] = field(default_factory=list)


def _sentence_words(ds, inputs: Mapping[str, Tensor]) -> list[str] | None:
    """The sentiment sentence's words (for a sequence's time axis), else None."""
    if ds is None or ds.name != "sentiment":
        return None
    tok = next((m for m, s in ds.specs.items() if s.kind == "tokens" and m in inputs), None)
    if tok is None:
        return None
    from mmviz.fusionlab import words_of

    return words_of(inputs[tok][0].numpy(), ds.specs[tok].vocab)


def panels(
    model: MultimodalModel,
    inputs: Mapping[str, Tensor],
    result: AttributionResult,
    ds=None,  # noqa: ANN001 - a MultimodalDataset: feature names, the sentence's words
) -> list[Panel]:
    words = _sentence_words(ds, inputs)
    out = []
    for m in [m for m in model.modalities if m in result.per_modality]:
        spec = model.specs[m]
        a = result.per_modality[m][0]
        if spec.kind in ("image", "spectrogram"):
            out.append(
                Panel(
                    m,
                    "image",
                    figs.overlay_figure(inputs[m][0].numpy(), a, spec, m),
                    f"**{m}**: red pixels raise the target, blue ones lower it. "
                    f"Total {a.sum():+.4g}, share {result.shares[m]:.0%}.",
                )
            )
        elif spec.kind == "tokens":
            w, v = rep.token_words(inputs[m][0].numpy(), a, spec.vocab)
            out.append(
                Panel(m, "tokens", figs.words_figure(w, v, f"{m}: words coloured by attribution"))
            )
        elif spec.kind == "sequence":
            names = ds.info.get(f"{m}_features") if ds is not None else None
            names = names if isinstance(names, list) else None
            title = f"{m}: per time step (top) and per feature (below)"
            out.append(Panel(m, "sequence", figs.sequence_figure(a, names, words, title)))
        else:
            out.append(Panel(m, "whole", value=float(np.asarray(a).sum())))
    return out


def build_attributions_view(
    model: MultimodalModel,
    inputs: Mapping[str, Tensor],
    settings: AttributionSettings,
    ds=None,  # noqa: ANN001 - a MultimodalDataset: feature names, the sentence's words
    name: str | None = None,
    attribute: Callable[[], AttributionResult] | None = None,
    shapley: Callable[[], ShapleyResult] | None = None,
) -> AttributionsView:
    """The view of `model`'s attributions of `settings.target` on `inputs` (a batch of one).
    `name`: the checkpoint's id in the notes (default the model's name). `attribute` /
    `shapley`: the cached computations (default: run here on `model`)."""
    name = name or model.name
    inputs = dict(inputs)
    observed = list(settings.observed)
    if attribute is None:

        def attribute():
            from mmviz.interpret.attributions import Attributor

            return Attributor(settings.method, **dict(settings.params)).attribute(
                model, inputs, settings.target.build(), observed
            )

    if shapley is None:

        def shapley():
            from mmviz.interpret.shapley import modality_shapley

            return modality_shapley(model, inputs, settings.target.build(), players=observed)

    readable = explore.input_modalities(model)
    single = len(readable) == 1
    result = attribute()
    sv = warning = error = None
    if not single:
        try:
            sv = shapley()
        except UnsupportedSubset as e:
            warning = (
                "Exact modality Shapley values need the target from every subset of the "
                f"ticked modalities (and from none), and **{name}** cannot give one of "
                f"them: {e}. Untick modalities to compare fewer."
            )
        except Exception as e:  # noqa: BLE001 - the page shows it and the attributions
            error = e
    kind = settings.target.kind
    index_note = None
    if result.index is not None and kind in ("prediction", "generated"):
        index_note = (
            f"The class explained is the one the model picks for this input: "
            f"**{int(result.index[0])}**."
        )
    order = list(model.modalities)
    shares_note = None
    if len(result.shares) == 1:
        only = next(iter(result.shares))
        shares_note = (
            f"Trivially 100%: **{only}** is the only input "
            + ("this model reads" if single else "ticked")
            + ", so it holds all of the attribution. Where in it the attribution lies is "
            "shown below."
        )
    single_note = (
        f"Modality Shapley values compare modalities; **{name}** reads only "
        f"`{readable[0]}`, so all of the target is that modality's."
        if single
        else None
    )
    fx0 = float(result.baseline_value[0])
    sv_figure = sv_note = baseline_note = None
    if sv is not None:
        check = rep.shapley_check(sv.values, sv.v_all, sv.v_empty)
        sv_figure = figs.shapley_figure(sv.values, sv.v_all, sv.v_empty, order)
        sv_note = (
            f"Exact Shapley values over {len(sv.players)} modalities ({2 ** len(sv.players)} "
            f"coalitions). Sum **{check['sum']:.4g}** = v(all) − v(∅) = {check['v_all']:.4g} − "
            f"{check['v_empty']:.4g} = **{check['expected']:.4g}**. v(∅): what the model gives "
            "with nothing observed (training means for fusion models, the prior for latent "
            "models)."
        )
        if abs(fx0 - sv.v_empty) > 1e-3 * max(1.0, abs(sv.v_empty)):
            baseline_note = (
                f"Why f(x′) = {fx0:.4g} above is not v(∅) = {sv.v_empty:.4g}: f(x′) is the "
                "model fed the baseline input x′ (zeros, or PAD words), an input it still "
                "reads, while v(∅) is the model observing no modality at all. They answer "
                "different questions, so the attributions add up to f(x) − f(x′) and the "
                "Shapley values to v(all) − v(∅)."
            )
    return AttributionsView(
        result=result,
        title=f"Explaining: {result.target}",
        target_value=float(result.target_value[0]),
        baseline_value=fx0,
        total=float(sum(a.sum() for a in result.per_modality.values())),
        delta=result.delta,
        index_note=index_note,
        shares_figure=figs.shares_figure(
            result.shares, order, f"share of |attribution| · {settings.method}"
        ),
        shares_note=shares_note,
        single=single,
        single_note=single_note,
        shapley=sv,
        shapley_figure=sv_figure,
        shapley_note=sv_note,
        baseline_note=baseline_note,
        shapley_warning=warning,
        shapley_error=error,
        panels=panels(model, inputs, result, ds),
    )
