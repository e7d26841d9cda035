"""The Latent map page's view: the test set's posterior means projected to 2-D, coloured by the
class or a style factor, a few samples' single-modality posteriors linked to their joint one,
the selected sample decoded, and the shown codes as a table (the page's CSV download).

The projection is the expensive part (t-SNE: seconds); `projection` lets the app pass its cached
one (ui/cache.py), keyed like every derived result on the checkpoint's weights stamp.
"""

from __future__ import annotations

import io
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
import plotly.graph_objects as go
import torch

from mmviz import explore, plots
from mmviz.data.base import MultimodalDataset
from mmviz.models import MultimodalModel
from mmviz.pagestate import LatentMapState

LIMITS = {"pca": 2000, "tsne": 800}  # test samples projected (t-SNE: seconds, not minutes)
METHOD_NAMES = {"pca": "PCA", "tsne": "t-SNE"}
DEFAULT_LINKS = 3

# (group, method, limit, linked samples, samples always included) -> the projection
Projection = Callable[[str, str, int, tuple[int, ...], tuple[int, ...]], explore.LatentMap]


@dataclass
class LatentMapView:
    """What the page shows for one checkpoint.

    map: the projection (coords, dataset indices, links, explained variance, posterior means).
    colour / categorical / values: the factor the points are coloured by, whether it has levels,
        its value per point.
    selected: dataset index of the decoded sample; position: its test position; picked: whether
        it was picked on the map (else it is the sidebar's sample).
    links_incomplete: some single-modality posteriors are missing (the model cannot infer from
        every modality alone).
    data / decoded: the selected sample (batch axis dropped) and what the model decodes from
        its posterior mean given every modality.
    table: one row per point shown (test position, index, class, style factors, the 2-D
        projection, the posterior means): the CSV download.
    """

    map: explore.LatentMap
    colour: str
    categorical: bool
    values: np.ndarray
    selected: int
    position: int
    picked: bool
    title: str
    figure: go.Figure
    links_incomplete: bool
    data: dict[str, np.ndarray]
    decoded: dict[str, np.ndarray]
    table: pd.DataFrame

    def csv(self) -> str:
        return self.table.to_csv(index=False)

    def file_name(self, checkpoint: str) -> str:
        """Named after the view: checkpoint, latent group, projection, colour."""
        return f"mmviz-{checkpoint}-latent-{self.map.group}-{self.map.method}-{self.colour}.csv"


def colour_options(ds: MultimodalDataset) -> list[str]:
    """What the points can be coloured by: the targets and style factors (no identity ones)."""
    skip = set(ds.info.get("id_factors", []))
    return [c for c in dict.fromkeys([*ds.targets, *ds.factors]) if c not in skip]


def is_categorical(ds: MultimodalDataset, colour: str) -> bool:
    kind = ds.factor_kinds.get(
        colour,
        "categorical"
        if colour in ds.targets and np.issubdtype(ds.targets[colour].dtype, np.integer)
        else "continuous",
    )
    return kind == "categorical"


def linked_samples(ds: MultimodalDataset, index: int, n: int) -> list[int]:
    """The samples whose single-modality posteriors are linked: `index` first, then one of each
    other class (or the next test samples, without classes), deterministically."""
    if not n:
        return []
    test = ds.indices("test")
    classes = ds.targets[ds.target][test]
    linked = [int(index)]
    seen = {int(ds.targets[ds.target][index])} if ds.target == "class" else set()
    for pos, i in enumerate(test):
        if len(linked) >= n:
            break
        c = int(classes[pos]) if ds.target == "class" else pos
        if c not in seen and int(i) != index:
            linked.append(int(i))
            seen.add(c)
    return linked


def position_of(ds: MultimodalDataset, index: int) -> int:
    """The test position of dataset index `index` (a test sample)."""
    return int(np.searchsorted(ds.indices("test"), index))


def code_table(
    lm: explore.LatentMap, ds: MultimodalDataset, columns: Sequence[str]
) -> pd.DataFrame:
    """One row per projected point: test position, dataset index, the `columns` of the factor
    table (class, style factors), the 2-D projection and the posterior means."""
    factors = ds.factor_table("test").loc[lm.index, list(columns)]
    axis = "pc" if lm.method == "pca" else "tsne"
    out = pd.DataFrame(
        {
            "test_position": np.searchsorted(ds.indices("test"), lm.index),
            "dataset_index": lm.index,
        }
    )
    for c in columns:
        out[c] = factors[c].to_numpy()
    out[f"{axis}1"] = lm.coords[:, 0]
    out[f"{axis}2"] = lm.coords[:, 1]
    for k in range(lm.means.shape[1]):
        out[f"{lm.group}_mean_{k}"] = lm.means[:, k]
    return out


def read_code_table(text: str) -> pd.DataFrame:
    """A downloaded CSV back as a table."""
    return pd.read_csv(io.StringIO(text))


@torch.inference_mode()
def build_latent_map_view(
    model: MultimodalModel,
    ds: MultimodalDataset,
    settings: LatentMapState,
    picked: int | None = None,
    projection: Projection | None = None,
) -> LatentMapView:
    """The view of `model` on `ds`'s test set with the page's `settings` (None fields: the
    page's defaults); `picked`: a dataset index picked on the map (a test sample), else the
    sidebar's sample (`settings.sample`, a test position) is selected. `projection`: the cached
    projection (default: computed here)."""
    groups = list(model.latent_groups)
    group = settings.group or groups[0]
    if group not in model.latent_groups:
        raise ValueError(f"no latent group {group!r}; the model has {groups}")
    method = settings.method or "pca"
    colours = colour_options(ds)
    colour = settings.colour or colours[0]
    if colour not in colours:
        raise ValueError(f"cannot colour by {colour!r}; choose from {colours}")
    test = ds.indices("test")
    sample = int(test[settings.sample or 0])
    n_links = DEFAULT_LINKS if settings.links is None else settings.links
    links = tuple(linked_samples(ds, sample, n_links))
    if projection is None:

        def projection(group, method, limit, links, include):
            return explore.latent_map(
                model, ds, group, "test", limit, method, list(links), include=include
            )

    limit = LIMITS[method] if method in LIMITS else LIMITS["pca"]
    lm = projection(group, method, limit, links, ())
    if picked is not None and picked not in set(lm.index.tolist()):  # t-SNE maps a subset
        lm = projection(group, method, limit, links, (int(picked),))
    selected = int(picked) if picked is not None else sample
    categorical = is_categorical(ds, colour)
    table = code_table(lm, ds, colours)
    values = table[colour].to_numpy()
    title = f"{METHOD_NAMES[lm.method]} of {len(lm.index)} test posterior means ({group})"
    if lm.explained is not None:
        title += f" · axes explain {lm.explained[0]:.0%} and {lm.explained[1]:.0%} of the variance"
    readable = explore.input_modalities(model)
    figure = plots.latent_map_figure(
        lm.coords,
        lm.index,
        ds.targets[ds.target][lm.index],
        values,
        colour,
        categorical,
        lm.links,
        readable,
        selected,
        title,
        positions=table["test_position"].to_numpy(),
    )
    x = explore.sample_batch(ds, selected)
    decoded = explore.reconstruct_view(model, x, None).outputs
    return LatentMapView(
        map=lm,
        colour=colour,
        categorical=categorical,
        values=values,
        selected=selected,
        position=position_of(ds, selected),
        picked=picked is not None,
        title=title,
        figure=figure,
        links_incomplete=bool(lm.links) and len(lm.links[0][2]) < len(readable),
        data={m: v[0].numpy() for m, v in x.items() if m in model.modalities},
        decoded=decoded,
        table=table,
    )
