"""The Home page's view: the model zoo as cards (one section per kind of model), each card's
headline metrics with a short label and their full meaning, the pages it opens, and the
embedded datasets' summaries. Built from the catalog's `CheckpointInfo` rows and the datasets;
no model is loaded."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

SECTIONS = [
    (
        "generative",
        "Generative models",
        "a latent space: decode, traverse, generate across modalities",
    ),
    ("fusion", "Fusion models", "predict from fused modalities (sentiment)"),
    ("oracle", "Oracles", "independent classifiers that judge generated samples (coherence)"),
]
PAGES = {
    "generative": "Missing modalities · Latent traversal · Cross-modal generation · Latent map",
    "fusion": "Attributions · Fusion lab",
    "oracle": "used by Cross-modal generation",
}

# headline metrics: a short label that fits a card's column, the full meaning as help
SHORT = {
    "acc": ("accuracy", "test accuracy"),
    "label from hand": ("acc · hand", "label accuracy from the hand image alone"),
    "label from hand+print": ("acc · hand+print", "label accuracy from hand and print together"),
    "label->hand coherence": (
        "coherence",
        "label → hand: how often the hand oracle reads a hand image generated from a label "
        "as that label",
    ),
    "acc2": ("acc2", "binary accuracy (positive vs negative)"),
    "mae": ("MAE", "mean absolute error of the score"),
    "demo score": ("demo", "score on the demo-quality suite (`mmviz demo-check`)"),
}
LOGLIK_HELP = {
    "mfm": "log-likelihood of the hand image, in nats: for MFM a loose importance-weighted "
    "bound with a fixed proposal around the code, far below the VAEs' figures without meaning "
    "a worse model. Not comparable with MVAE's or JMVAE's.",
    None: "log-likelihood of the hand image, in nats (importance-weighted estimate with the "
    "model's own posterior as proposal, as in the MVAE and JMVAE papers). Higher is better.",
}

# the pages a card opens with its checkpoint selected
CARD_LINKS = {
    "generative": [
        ("pages/missing.py", "🧩 Missing"),
        ("pages/traversal.py", "🎚️ Traverse"),
        ("pages/crossmodal.py", "🔀 Generate"),
    ],
    "fusion": [("pages/fusion_lab.py", "🧪 Fusion lab"), ("pages/attributions.py", "🔍 Explain")],
    "oracle": [("pages/report.py", "📋 Report")],
}
PER_ROW = 2  # metrics side by side on a card: a third column cuts values and labels short


@dataclass
class Metric:
    """A headline metric as a card shows it: short label, formatted value, full meaning."""

    label: str
    value: str
    help: str


def headline_metric(model: str | None, label: str, value: float) -> Metric:
    """`label: value` from the catalog, labelled to fit half a card (log p(·) keeps its label
    and says what kind of estimate it is)."""
    if label.startswith("log p("):
        short, help_ = label, LOGLIK_HELP.get(model, LOGLIK_HELP[None])
    else:
        short, help_ = SHORT.get(label, (label, label))
    text = f"{value:,.0f}" if abs(value) >= 100 else f"{value:.3f}"
    return Metric(short, text, help_)


@dataclass
class Card:
    """One checkpoint's card.

    id, default (⭐: opened first), purpose, problem (why it cannot be read, or None),
    caption: the model, dataset and paper; modalities; latent_groups: name -> size;
    metrics: rows of at most PER_ROW headline metrics; links: (page file, label) opened with
    `?ckpt=<id>` (none when the checkpoint cannot be read); facts: parameters and training
    time, or None.
    """

    id: str
    default: bool
    purpose: str | None
    problem: str | None
    caption: str
    modalities: list[str]
    latent_groups: dict[str, int]
    metrics: list[list[Metric]]
    links: list[tuple[str, str]]
    facts: str | None

    @property
    def query(self) -> dict[str, str]:
        """The URL parameters of the card's links."""
        return {"ckpt": self.id}


def build_card(info: Any) -> Card:
    """The card of one catalog row (`explore.CheckpointInfo`)."""
    items = [headline_metric(info.model, k, v) for k, v in (info.headline or {}).items()]
    facts = []
    if info.parameters:
        facts.append(f"{info.parameters:,} parameters")
    if info.wall_time_s:
        facts.append(f"trained in {info.wall_time_s:.0f} s on the CPU")
    return Card(
        id=info.id,
        default=bool(info.default),
        purpose=info.purpose or None,
        problem=info.problem or None,
        caption=f"**{info.model}** on `{info.dataset}` · {info.paper or 'no paper recorded'}",
        modalities=list(info.modalities),
        latent_groups=dict(info.latent_groups or {}),
        metrics=[items[i : i + PER_ROW] for i in range(0, len(items), PER_ROW)],
        links=[] if info.problem else list(CARD_LINKS.get(info.kind or "", [])),
        facts=" · ".join(facts) or None,
    )


@dataclass
class Section:
    """The cards of one kind of model, with what the kind is for and the pages it opens;
    loglik_note: why log p(hand) is not comparable across kinds, when both kinds are here."""

    kind: str
    title: str
    caption: str
    loglik_note: str | None
    cards: list[Card] = field(default_factory=list)


def loglik_note(infos: Sequence[Any]) -> str | None:
    """MFM's log p(hand) is a loose bound, the VAEs' an estimate: say so when both show."""
    lp = [(i.model == "mfm", i.headline.get("log p(hand)")) for i in infos]
    lp = [(m, v) for m, v in lp if v is not None]
    mfm = sorted(v for is_mfm, v in lp if is_mfm)
    vae = sorted(v for is_mfm, v in lp if not is_mfm)
    if not (mfm and vae):
        return None
    return (
        f"log p(hand) is not comparable across kinds: MFM's ({mfm[0]:,.0f} to "
        f"{mfm[-1]:,.0f}) is a loose bound from a fixed proposal around its code, the "
        f"VAEs' ({vae[0]:,.0f} to {vae[-1]:,.0f}) an importance-weighted estimate with "
        "their own posterior as the proposal. Compare log p(hand) between VAEs only."
    )


@dataclass
class DatasetCard:
    """An embedded dataset: its size and version, splits, modalities and their descriptions."""

    name: str
    title: str
    caption: str
    descriptions: dict[str, str]


def build_dataset_card(name: str, ds: Any) -> DatasetCard:
    splits = ", ".join(f"{k} {len(v)}" for k, v in ds.splits.items())
    mods = ", ".join(f"`{m}` ({s.kind} {tuple(s.shape)})" for m, s in ds.specs.items())
    return DatasetCard(
        name,
        f"`{name}`: {len(ds)} samples, version {ds.version}",
        f"splits: {splits} · modalities: {mods}",
        {m: s.description for m, s in ds.specs.items() if s.description},
    )


@dataclass
class HomeView:
    """The model zoo: one section per kind that has checkpoints, in SECTIONS order."""

    sections: list[Section]
    checkpoints: int


def build_home_view(infos: Iterable[Any]) -> HomeView:
    """The zoo's sections from the catalog (a row without a kind counts as fusion)."""
    rows = list(infos)
    sections = []
    for kind, title, blurb in SECTIONS:
        chosen = [r for r in rows if (r.kind or "fusion") == kind]
        if chosen:
            sections.append(
                Section(
                    kind,
                    title,
                    f"{blurb}. Pages: {PAGES[kind]}.",
                    loglik_note(chosen),
                    [build_card(r) for r in chosen],
                )
            )
    return HomeView(sections, len(rows))
