"""The Cross-modal generation page's view: N draws of every modality given the condition, the
class the condition names (the reference), what the oracles read in each draw and how often
they agree with the reference (the coherence), drawn: the agreement chart, then per modality
its draws (pictures), its mean class probability (a label) or its phrases (text).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field

import numpy as np
import plotly.graph_objects as go
from torch import Tensor

from mmviz import explore, plots
from mmviz.data.base import ModalitySpec
from mmviz.models import MultimodalModel


@dataclass(frozen=True)
class CrossmodalSettings:
    """What the page's widgets set (the CrossmodalState fields, resolved to values), and the
    sample's class when the sample is a test sample of a dataset with classes (`truth`, else
    None): the reference when the condition does not give the label itself."""

    condition: tuple[str, ...]
    draws: int = 8
    seed: int = 0
    truth: int | None = None


@dataclass
class ModalityDraws:
    """One modality's draws as the page shows them.

    shown_as: "pictures" (the draws drawn), "label" (their mean class probability) or "text"
    (each draw's phrase). tag: "given (reconstructed)" or "generated".
    verdicts: a label under each draw (the oracle's class, ticked when it agrees with the
    reference; "#k" when nothing judges it).
    figure: the draws (pictures) or the mean class probability (a label); None for text.
    rows: each draw decoded to a phrase (text modalities), else None.
    judged: whether the draws' classes are read (by an oracle, or the label itself).
    """

    shown_as: str
    tag: str
    verdicts: list[str]
    figure: go.Figure | None
    rows: list[str] | None = None
    judged: bool = False


@dataclass
class CrossmodalView:
    """What the page shows for one condition.

    draws: the draws and the oracles' verdicts (explore.CrossModalView).
    reference: the class the condition names, and where it comes from (`reference_text`);
        None when the condition names no class.
    unjudged: generated modalities no oracle judges, and why.
    agreement: the coherence chart (fraction of draws agreeing, per judged generated
        modality), None when there is nothing to compare.
    modalities: every modality's draws, in the model's order.
    nothing_generated: every modality is in the condition (the draws are reconstructions).
    """

    settings: CrossmodalSettings
    draws: explore.CrossModalView
    reference: int | None
    reference_text: str
    unjudged: dict[str, str]
    agreement: go.Figure | None
    modalities: dict[str, ModalityDraws] = field(default_factory=dict)
    nothing_generated: bool = False
    specs: dict[str, ModalitySpec] = field(default_factory=dict)

    @property
    def prior_groups(self) -> list[str]:
        return self.draws.prior_groups

    def png(self, m: str) -> bytes:
        """Modality `m`'s draws as one PNG grid (the download)."""
        return plots.draws_png(self.draws.samples[m], self.specs[m])

    def first_draw(self, m: str) -> np.ndarray:
        """The first draw of a spectrogram (H, W), to be heard."""
        return self.draws.samples[m][0, 0].astype(np.float32)

    def text(self, m: str) -> str:
        """A text modality's draws, one phrase a line (the download)."""
        return "\n".join(self.modalities[m].rows or []) + "\n"


def nothing_generated(modalities: Iterable[str], condition: Iterable[str]) -> bool:
    """Whether every modality is in the condition (the draws are then reconstructions)."""
    return set(modalities) <= set(condition)


def file_stem(cid: str, position: int, settings: CrossmodalSettings) -> str:
    """The downloads' name: checkpoint, sample, condition, draws, seed."""
    s = settings
    return f"mmviz-{cid}-i{position}-{'+'.join(s.condition)}-n{s.draws}-seed{s.seed}"


def build_crossmodal_view(
    model: MultimodalModel,
    sample: Mapping[str, Tensor],
    settings: CrossmodalSettings,
    judges: Mapping[str, Callable[[Tensor], Tensor]] | None = None,
    missing_oracles: Iterable[str] = (),
    specs: Mapping[str, ModalitySpec] | None = None,
) -> CrossmodalView:
    """The view of one model's draws given `settings.condition` of `sample` (a batch of one).

    The reference class is the given label when the condition holds it, else the test
    sample's class (`settings.truth`), else what the condition names (a typed number word, an
    oracle's reading of a given drawing: explore.condition_class). `judges`: the oracles'
    logit functions by modality; `missing_oracles`: modalities whose oracle checkpoint is
    absent (named as the reason they are not judged). Raises UnsupportedSubset when the model
    cannot infer from the condition."""
    s = settings
    specs = dict(specs or model.specs)
    cond = list(s.condition)
    label = model.label_modality
    if label in cond:
        reference, text = int(sample[label].reshape(-1)[0]), f"the given {label}"
    elif s.truth is not None:
        reference, text = int(s.truth), "the test sample's class"
    else:
        reference, text = None, ""
    draws = explore.cross_modal(
        model, dict(sample), cond, int(s.draws), int(s.seed), dict(judges or {}), reference
    )
    reference = draws.reference
    text = text or draws.reference_source
    missing = set(missing_oracles)
    unjudged = {
        m: f"no oracle checkpoint `oracle_{m}` on disk"
        if m in missing
        else "no oracle for this kind of modality"
        for m in draws.unjudged
    }
    agreement = (
        plots.agreement_figure(draws.agreement, "fraction of draws that agree")
        if draws.agreement
        else None
    )
    view = CrossmodalView(
        s,
        draws,
        reference,
        text,
        unjudged,
        agreement,
        nothing_generated=nothing_generated(model.modalities, cond),
        specs=specs,
    )
    n = int(s.draws)
    for m in model.modalities:
        spec = specs[m]
        tag = "given (reconstructed)" if m in cond else "generated"
        preds = draws.predictions.get(m)
        verdicts = (
            [f"{p}{' ✓' if reference is not None and p == reference else ''}" for p in preds]
            if preds is not None
            else [f"#{k + 1}" for k in range(n)]
        )
        samples = draws.samples[m]
        if plots.is_pictorial(spec):
            title = f"{m} · {tag}" + (" · oracle's class under each" if preds is not None else "")
            figure = plots.draws_figure(samples, spec, verdicts, title)
            view.modalities[m] = ModalityDraws(
                "pictures", tag, verdicts, figure, None, preds is not None
            )
        elif spec.kind == "categorical":
            figure = plots.probability_figure(
                samples.mean(axis=0),
                list(spec.vocab or []),
                reference,
                "mean class probability over the draws",
                180,
            )
            view.modalities[m] = ModalityDraws(
                "label", tag, verdicts, figure, None, preds is not None
            )
        else:
            rows = [explore.tokens_to_text(x, spec) or "∅" for x in samples]
            view.modalities[m] = ModalityDraws("text", tag, verdicts, None, rows, preds is not None)
    return view
