"""The Latent traversal page's view: one latent dimension (a grid row per dimension), or two
jointly (a 2-D sweep), set to a range of values from a starting point (a sample's posterior mean
or the prior mean), every modality decoded, and drawn: one grid figure per pictorial modality
and a table of decoded classes/phrases for the others, or one animation through the values.

All rows x steps latents are decoded in one batch (explore.traversal_grid / sweep_2d).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import plotly.graph_objects as go
from torch import Tensor

from mmviz import explore, plots
from mmviz.data.base import ModalitySpec
from mmviz.models import MultimodalModel

MODES = ("grid", "animation", "sweep")
STARTS = {"posterior": "sample's posterior", "prior": "prior mean"}


@dataclass(frozen=True)
class TraversalSettings:
    """What the page's widgets set (the TraversalState fields, resolved to values).

    dims: the grid's rows (grid), the one dimension animated (animation), or the rows' and the
    columns' dimension (sweep). Values run from `lo` to `hi` in `steps` steps."""

    group: str
    mode: str = "grid"
    start: str = "posterior"
    dims: tuple[int, ...] = (0,)
    lo: float = -3.0
    hi: float = 3.0
    steps: int = 9

    @property
    def sweep(self) -> bool:
        return self.mode == "sweep"

    def values(self) -> np.ndarray:
        return np.linspace(self.lo, self.hi, self.steps)


@dataclass
class TraversalView:
    """What the page shows for one traversal.

    grid: the decoded outputs (outputs[m] is (rows, steps, *data shape)).
    row_labels, col_labels: the grid's labels (a dimension per row, or the row dimension's
        values in a sweep; the values along the columns).
    caption: what the columns are and where the traversal starts.
    figures: pictorial modality -> grid figure (grid and sweep modes).
    tables: other modalities -> the decoded class or phrase of each cell, one column per value
        (grid and sweep modes).
    animation: one frame per value, the pictorial modalities side by side and the others'
        decoded values as its caption (animation mode; None when nothing is pictorial).
    """

    settings: TraversalSettings
    modalities: list[str]
    specs: dict[str, ModalitySpec]
    grid: explore.TraversalGrid
    row_labels: list[str]
    col_labels: list[str]
    caption: str
    figures: dict[str, go.Figure] = field(default_factory=dict)
    tables: dict[str, dict[str, list[str]]] = field(default_factory=dict)
    animation: go.Figure | None = None
    animation_caption: str = ""

    def png(self, m: str) -> bytes:
        """Modality `m`'s grid as a PNG (the download), tiles laid out as on screen."""
        return plots.grid_png(self.grid.outputs[m], self.specs[m])

    def row_spectrograms(self, m: str, row: int) -> np.ndarray:
        """The spectrograms (steps, H, W) of one grid row, to be heard in order."""
        return self.grid.outputs[m][row, :, 0].astype(np.float32)


def dimension_order(activity: np.ndarray | None, d: int) -> list[int]:
    """A group's dimensions, the most active first (all d in order without an activity)."""
    if activity is None:
        return list(range(d))
    return [int(i) for i in np.argsort(-np.asarray(activity))]


def cell_text(spec: ModalitySpec, out: np.ndarray) -> str:
    """One decoded non-pictorial value as text: a class with its probability, or a phrase."""
    if spec.kind == "categorical":
        return f"{int(out.argmax())} ({out.max():.0%})"
    return explore.tokens_to_text(out, spec) or "∅"


def file_stem(cid: str, position: int, settings: TraversalSettings) -> str:
    """The downloads' name: checkpoint, sample (or the prior), group, mode, dimensions,
    range and steps, e.g. mmviz-mvae_digits5-i3-z-grid-d0+4+7-v-3to3-s9."""
    s = settings
    where = f"i{position}" if s.start == "posterior" else "prior"
    dims = "+".join(str(int(d)) for d in s.dims)
    return f"mmviz-{cid}-{where}-{s.group}-{s.mode}-d{dims}-v{s.lo:g}to{s.hi:g}-s{s.steps}"


def build_traversal_view(
    model: MultimodalModel,
    sample: Mapping[str, Tensor] | None,
    settings: TraversalSettings,
    specs: Mapping[str, ModalitySpec] | None = None,
) -> TraversalView:
    """The view of one model's traversal from `sample` (a batch of one; unused when starting
    from the prior). `specs`: how to draw each modality (default the model's). Raises
    ValueError for a group or dimensions the model lacks, or a sweep without two different
    dimensions."""
    s = settings
    if s.mode not in MODES:
        raise ValueError(f"mode must be one of {', '.join(MODES)}, got {s.mode!r}")
    if s.start not in STARTS:
        raise ValueError(f"start must be one of {', '.join(STARTS)}, got {s.start!r}")
    specs = dict(specs or model.specs)
    dims = [int(d) for d in s.dims]
    base = explore.base_latents(model, dict(sample) if sample else None, None, s.start)
    values = s.values()
    if s.sweep:
        if len(dims) != 2:
            raise ValueError(f"a 2-D sweep needs two dimensions, got {dims}")
        grid = explore.sweep_2d(model, base, s.group, (dims[0], dims[1]), values)
    else:
        grid = explore.traversal_grid(model, base, s.group, dims, values)
    row_labels = (
        [f"{s.group}[{grid.dims[0]}] = {v:+.2f}" for v in grid.values]
        if grid.sweep
        else [f"{s.group}[{i}]" for i in grid.dims]
    )
    col_labels = [f"{v:+.1f}" for v in grid.col_values]
    title_x = f"{s.group}[{grid.dims[1]}] →" if grid.sweep else "value →"
    caption = f"Columns: {title_x}  ·  starting point: {STARTS[s.start]}"
    modalities = list(model.modalities)
    pictorial = [m for m in modalities if plots.is_pictorial(specs[m])]
    view = TraversalView(s, modalities, specs, grid, row_labels, col_labels, caption)
    if s.mode == "animation":
        _animate(view, pictorial)
        return view
    for m in modalities:
        out = grid.outputs[m]
        if m in pictorial:
            view.figures[m] = plots.grid_figure(out, specs[m], row_labels, col_labels, m)
        else:
            table: dict[str, list[str]] = {"": row_labels}
            for j, c in enumerate(col_labels):
                table[c] = [cell_text(specs[m], out[i, j]) for i in range(len(row_labels))]
            view.tables[m] = table
    return view


def _animate(view: TraversalView, pictorial: Sequence[str]) -> None:
    """The animation of the first row: one frame per value."""
    grid, specs, s = view.grid, view.specs, view.settings
    if not pictorial:
        view.animation_caption = "Nothing to animate: no modality is drawn as a picture."
        return
    others = [m for m in view.modalities if m not in pictorial]
    frames, captions = [], []
    for j in range(len(grid.values)):
        frames.append(
            plots.strip([plots.to_rgb(grid.outputs[m][0, j], specs[m]) for m in pictorial], 64)
        )
        captions.append(
            " · ".join(f"{m}: {cell_text(specs[m], grid.outputs[m][0, j])}" for m in others)
        )
    view.animation_caption = (
        "Left to right: " + ", ".join(pictorial) + ". Press ▶ or drag the slider."
    )
    view.animation = plots.animation_figure(
        frames,
        [f"{v:+.2f}" for v in grid.values],
        captions,
        f"{s.group}[{grid.dims[0]}] from {s.lo:+.1f} to {s.hi:+.1f}",
        scale=3,
    )
