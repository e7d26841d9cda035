"""The Model report page's view: everything recorded about one checkpoint, from its
config.json and meta.json (no model is loaded).

Each section of the page is built here and shown by the page in its own guard: a section that
fails on a malformed meta.json is kept as its exception (`ReportView.failures`), which the page
raises inside that section's guard (`ReportView.check`), so the other sections still show, as
they did when the page computed them itself. The weights checksum is not part of the view: it
reads the weights file (`report.provenance`, cached on its own).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

import pandas as pd
import plotly.graph_objects as go

from mmviz import report as rep
from mmviz.plots import report as figs

T = TypeVar("T")

HEADLINE = [
    ("test_accuracy", "test accuracy", "{:.1%}"),
    ("acc2", "binary accuracy", "{:.1%}"),
    ("f1", "F1", "{:.3f}"),
    ("acc7", "7-class accuracy", "{:.1%}"),
    ("mae", "MAE", "{:.3f}"),
    ("corr", "Pearson r", "{:.3f}"),
    ("test_samples", "test samples", "{:,}"),
]
ROBUSTNESS_TITLES = {
    "label_accuracy": "label accuracy per observed subset",
    "label_accuracy_mean_imputed": "label accuracy, missing inputs replaced by "
    "their training mean (no surrogate)",
    "missing": "binary accuracy per observed subset (the others missing)",
}
COHERENCE_TITLES = {
    "coherence": "coherence of generated samples (posterior draws)",
    "coherence_mean": "coherence decoding the posterior mean",
}
SECTIONS = (
    "Training curves",
    "Headline metrics",
    "Missing-modality robustness",
    "Coherence",
    "Log-likelihoods",
    "Per recipe",
    "All metrics",
    "Config",
)


@dataclass
class Robustness:
    """One missing-modality table: its meta.json entry, heatmap and unsupported subsets."""

    metric: str
    figure: go.Figure
    notes: dict[str, str]


@dataclass
class ReportView:
    """What the report shows for one checkpoint.

    model, dataset, modalities, paper: the header. curves: the loss curves figure (None when
    meta.json records none), phases: best loss, epochs, steps, seconds per phase; settings:
    the training settings as text. headline: (label, formatted value) of the headline metrics
    recorded. robustness: the missing-modality tables; recipes: accuracy per observed subset
    and recipe (None when not measured). coherence: heatmap per coherence entry. loglik,
    by_interaction, flat: tables (flat: every metric, one row each). csv, json: the downloads.
    config: config.json as (field, value) rows.
    """

    cid: str
    model: str
    dataset: str
    modalities: list[str]
    paper: str
    metrics: dict[str, Any]
    curves: go.Figure | None = None
    phases: pd.DataFrame | None = None
    settings: str | None = None
    headline: list[tuple[str, str]] = field(default_factory=list)
    robustness: list[Robustness] = field(default_factory=list)
    recipes: go.Figure | None = None
    coherence: dict[str, go.Figure] = field(default_factory=dict)
    loglik: pd.DataFrame | None = None
    by_interaction: pd.DataFrame | None = None
    flat: pd.DataFrame | None = None
    csv: str = ""
    json: str = ""
    config: pd.DataFrame | None = None
    failures: dict[str, Exception] = field(default_factory=dict)

    def check(self, section: str) -> None:
        """Raise the exception `section` failed with, if it did (inside the page's guard)."""
        if section in self.failures:
            raise self.failures[section]


def _section(view: ReportView, name: str, build: Callable[[], T]) -> T | None:
    try:
        return build()
    except Exception as e:  # noqa: BLE001 - kept for the page's guard of this section
        view.failures[name] = e
        return None


def _training(view: ReportView, meta: Mapping[str, Any]) -> None:
    curves = rep.training_curves(meta)
    if not curves:
        return
    view.curves = figs.curves_figure(curves, "loss per epoch (solid: training, dashed: validation)")
    phases = (meta.get("training") or {}).get("phases") or {}
    view.phases = pd.DataFrame(
        {
            p: {k: phases[p].get(k) for k in ("best_valid_loss", "epochs_run", "steps", "seconds")}
            for p in curves
        }
    ).T
    settings = (meta.get("training") or {}).get("settings")
    if isinstance(settings, dict):
        view.settings = "settings: " + ", ".join(f"{k} {v}" for k, v in settings.items())


def headline(metrics: Mapping[str, Any]) -> list[tuple[str, str]]:
    """(label, formatted value) of every headline metric recorded as a number."""
    return [
        (label, fmt.format(metrics[k]))
        for k, label, fmt in HEADLINE
        if isinstance(metrics.get(k), int | float)
    ]


def input_modalities(config: Mapping[str, Any], metrics: Mapping[str, Any], mods: list[str]):
    """The modalities the robustness tables are over: all of them, less the label when the
    label's accuracy is what they measure."""
    kinds = {s.get("name"): s.get("kind") for s in config.get("specs") or [] if isinstance(s, dict)}
    label = next((m for m in mods if kinds.get(m) == "categorical"), None)
    return [m for m in mods if m != label] if "label_accuracy" in metrics else mods


def _robustness(view: ReportView, config: Mapping[str, Any]) -> None:
    inputs = input_modalities(config, view.metrics, view.modalities)
    view.robustness = [
        Robustness(
            t.metric,
            figs.robustness_heatmap(t.table, t.modalities, ROBUSTNESS_TITLES[t.metric]),
            dict(t.notes),
        )
        for t in rep.robustness_tables(view.metrics, inputs)
    ]
    per_recipe = rep.interaction_robustness(view.metrics, inputs)
    if per_recipe is not None:
        view.recipes = figs.interaction_robustness_heatmap(
            per_recipe, "binary accuracy per observed subset and interaction recipe"
        )


def _coherence(metrics: Mapping[str, Any]) -> dict[str, go.Figure]:
    return {
        k: figs.coherence_heatmap(rep.coherence_matrix(metrics[k]), title)
        for k, title in COHERENCE_TITLES.items()
        if isinstance(metrics.get(k), dict) and metrics[k]
    }


def _by_interaction(metrics: Mapping[str, Any]) -> pd.DataFrame | None:
    by = metrics.get("by_interaction")
    return pd.DataFrame({"acc2": by}).T if isinstance(by, dict) and by else None


def _downloads(view: ReportView, meta: Mapping[str, Any]) -> None:
    view.flat = rep.flatten_metrics(view.metrics)
    view.csv = rep.metrics_csv(view.metrics)
    view.json = rep.metrics_json(view.cid, meta)


def build_report_view(
    cid: str, config: Mapping[str, Any], meta: Mapping[str, Any], modalities: Sequence[str] = ()
) -> ReportView:
    """The report of checkpoint `cid` from its config.json and meta.json (`modalities`: the
    catalog's, used when meta.json records none)."""
    metrics = meta.get("metrics") or {}
    view = ReportView(
        cid,
        str(meta.get("model", config.get("model", "?"))),
        str(meta.get("dataset", "?")),
        list(meta.get("modalities") or modalities),
        str(meta.get("paper") or "no paper recorded"),
        metrics,
    )
    _section(view, "Training curves", lambda: _training(view, meta))
    if metrics:
        view.headline = _section(view, "Headline metrics", lambda: headline(metrics)) or []
        _section(view, "Missing-modality robustness", lambda: _robustness(view, config))
        view.coherence = _section(view, "Coherence", lambda: _coherence(metrics)) or {}
        view.loglik = _section(view, "Log-likelihoods", lambda: rep.loglik_table(metrics))
        view.by_interaction = _section(view, "Per recipe", lambda: _by_interaction(metrics))
        _section(view, "All metrics", lambda: _downloads(view, meta))
    view.config = _section(view, "Config", lambda: rep.config_table(config))
    return view
