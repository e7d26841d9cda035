"""Pictures of one modality's values: single samples, tiled grids and animations.

Arrays in, plotly figures out. Single samples are small plotly traces (hover shows values);
grids and animation frames are one PNG each (`go.Image(source=...)`), so a 72-tile traversal
stays a few kilobytes instead of tens of thousands of JSON numbers.
Spectrograms are drawn with row 0 (the lowest frequency) at the bottom.
"""

from __future__ import annotations

import base64
import io
from collections.abc import Sequence

import numpy as np
import plotly.graph_objects as go
from PIL import Image

from mmviz.data.base import ModalitySpec
from mmviz.data.preview import colormap

TILE_PAD = 2


def is_pictorial(spec: ModalitySpec) -> bool:
    """Whether a modality is drawn as a picture (image, spectrogram, feature sequence)."""
    return spec.kind in ("image", "spectrogram", "sequence")


def _unit(x: np.ndarray, spec: ModalitySpec) -> np.ndarray:
    lo, hi = spec.value_range or (float(np.min(x)), float(np.max(x)))
    return np.clip((x - lo) / (hi - lo), 0.0, 1.0) if hi > lo else np.zeros_like(x)


def to_rgb(x: np.ndarray, spec: ModalitySpec) -> np.ndarray:
    """One sample of a pictorial modality -> uint8 (H, W, 3) as it should appear on screen.

    Grey images stay grey, colour images are channels-last, spectrograms are viridis with the
    lowest frequency in the bottom row, sequences are features x time in viridis.
    """
    a = np.asarray(x, dtype=np.float64)
    if spec.kind == "image":
        a = _unit(a, spec)
        if a.ndim == 3 and a.shape[0] == 3:
            a = a.transpose(1, 2, 0)
        else:
            a = np.repeat(a.reshape(a.shape[-2], a.shape[-1])[..., None], 3, axis=-1)
        return np.round(a * 255).astype(np.uint8)
    if spec.kind == "spectrogram":
        a = _unit(a.reshape(a.shape[-2], a.shape[-1]), spec)
        return colormap(a[::-1])
    if spec.kind == "sequence":
        a = a.reshape(a.shape[0], -1)
        lo, hi = a.min(axis=0), a.max(axis=0)
        span = np.where(hi > lo, hi - lo, 1.0)
        return colormap(((a - lo) / span).T)
    raise ValueError(f"modality {spec.name!r} ({spec.kind}) is not drawn as a picture")


def image_tile(x: np.ndarray, spec: ModalitySpec, size: int = 150) -> np.ndarray:
    """One image sample as uint8 (size', size', 3), nearest-neighbour upscaled by a whole
    factor to about `size` pixels, so the browser shows crisp pixels without scaling. A plain
    picture, not a plotly figure: ten of those per rerun cost the server ~30% of the Missing
    page's time and the browser more."""
    rgb = to_rgb(x, spec)
    factor = max(1, round(size / max(rgb.shape[:2])))
    return np.repeat(np.repeat(rgb, factor, axis=0), factor, axis=1)


def png_bytes(rgb: np.ndarray) -> bytes:
    """uint8 (H, W, 3) -> PNG file bytes (a download)."""
    buf = io.BytesIO()
    Image.fromarray(np.ascontiguousarray(rgb)).save(buf, format="PNG")
    return buf.getvalue()


def draws_png(samples: np.ndarray, spec: ModalitySpec, per_row: int = 8, scale: int = 4) -> bytes:
    """N draws (N, *data shape) of a pictorial modality as one PNG grid, `per_row` to a row,
    each pixel `scale` x `scale` (readable on a slide)."""
    a = np.asarray(samples)
    n = len(a)
    rows = -(-n // per_row)
    tiles = [to_rgb(x, spec) for x in a]
    blank = np.full_like(tiles[0], 255)
    tiles += [blank] * (rows * per_row - n)
    grid = mosaic(np.stack(tiles).reshape(rows, per_row, *tiles[0].shape))
    return png_bytes(np.repeat(np.repeat(grid, scale, axis=0), scale, axis=1))


def png_uri(rgb: np.ndarray, scale: int = 1) -> str:
    """uint8 (H, W, 3) -> a data: URI of a PNG (nearest-neighbour upscaled by `scale`)."""
    im = Image.fromarray(np.ascontiguousarray(rgb))
    if scale > 1:
        im = im.resize((im.width * scale, im.height * scale), Image.Resampling.NEAREST)
    buf = io.BytesIO()
    im.save(buf, format="PNG", compress_level=1)
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode()


def _frame(fig: go.Figure, title: str | None, height: int, width: int | None = None) -> go.Figure:
    fig.update_layout(
        title={"text": title, "font": {"size": 13}} if title else None,
        height=height,
        width=width,
        margin={"l": 4, "r": 4, "t": 28 if title else 4, "b": 4},
    )
    fig.update_xaxes(showticklabels=False, showgrid=False, zeroline=False)
    fig.update_yaxes(showticklabels=False, showgrid=False, zeroline=False)
    return fig


def modality_figure(
    x: np.ndarray,
    spec: ModalitySpec,
    title: str | None = None,
    height: int = 200,
    freqs: np.ndarray | None = None,
) -> go.Figure:
    """One sample as a figure: grey heatmap, colour image, or spectrogram (y in Hz if given)."""
    a = np.asarray(x, dtype=np.float64)
    if spec.kind == "image" and a.ndim == 3 and a.shape[0] == 3:
        fig = go.Figure(go.Image(z=to_rgb(a, spec), hovertemplate="x %{x}, y %{y}<extra></extra>"))
        return _frame(fig, title, height)
    if spec.kind == "image":
        z = _unit(a.reshape(a.shape[-2], a.shape[-1]), spec)
        fig = go.Figure(
            go.Heatmap(
                z=z,
                colorscale="gray",
                zmin=0,
                zmax=1,
                showscale=False,
                hovertemplate="x %{x}, y %{y}: %{z:.2f}<extra></extra>",
            )
        )
        fig.update_yaxes(autorange="reversed", scaleanchor="x")
        return _frame(fig, title, height)
    if spec.kind == "spectrogram":
        z = _unit(a.reshape(a.shape[-2], a.shape[-1]), spec)
        y = np.asarray(freqs) if freqs is not None and len(freqs) == z.shape[0] else None
        fig = go.Figure(
            go.Heatmap(
                z=z,
                y=y,
                colorscale="Viridis",
                zmin=0,
                zmax=1,
                showscale=False,
                hovertemplate=(
                    "frame %{x}, %{y:.0f} Hz" if y is not None else "frame %{x}, bin %{y}"
                )
                + ": %{z:.2f}<extra></extra>",
            )
        )
        _frame(fig, title, height)
        if y is not None:  # frequency axis readable: row 0 at the bottom
            fig.update_yaxes(showticklabels=True, title_text="Hz", tickfont={"size": 9})
        return fig
    if spec.kind == "sequence":
        z = a.reshape(a.shape[0], -1).T
        fig = go.Figure(
            go.Heatmap(
                z=z,
                colorscale="Viridis",
                showscale=False,
                hovertemplate="step %{x}, feature %{y}: %{z:.2f}<extra></extra>",
            )
        )
        fig.update_yaxes(autorange="reversed")
        return _frame(fig, title, height)
    raise ValueError(f"modality {spec.name!r} ({spec.kind}) is not drawn as a picture")


def mosaic(tiles: np.ndarray, pad: int = TILE_PAD, fill: int = 255) -> np.ndarray:
    """(R, S, H, W, 3) uint8 tiles -> one (R*(H+pad)-pad, S*(W+pad)-pad, 3) image."""
    t = np.asarray(tiles)
    r, s, h, w, c = t.shape
    out = np.full((r * (h + pad) - pad, s * (w + pad) - pad, c), fill, dtype=np.uint8)
    for i in range(r):
        for j in range(s):
            out[i * (h + pad) : i * (h + pad) + h, j * (w + pad) : j * (w + pad) + w] = t[i, j]
    return out


def grid_rgb(samples: np.ndarray, spec: ModalitySpec) -> np.ndarray:
    """(R, S, *data shape) values -> (R, S, H, W, 3) uint8 tiles."""
    a = np.asarray(samples)
    r, s = a.shape[:2]
    tiles = [to_rgb(a[i, j], spec) for i in range(r) for j in range(s)]
    return np.stack(tiles).reshape(r, s, *tiles[0].shape)


def grid_png(samples: np.ndarray, spec: ModalitySpec, scale: int = 4) -> bytes:
    """A grid of samples (R, S, *data shape) of a pictorial modality as one PNG, tiles laid out
    as on screen (`grid_figure`) without the labels, each pixel `scale` x `scale`."""
    grid = mosaic(grid_rgb(samples, spec))
    return png_bytes(np.repeat(np.repeat(grid, scale, axis=0), scale, axis=1))


DRAWS_PER_ROW = 8
LABEL_BAND = 9  # unscaled pixels under each row of tiles for their labels


def draws_figure(
    samples: np.ndarray,
    spec: ModalitySpec,
    labels: Sequence[str] | None = None,
    title: str | None = None,
    per_row: int = DRAWS_PER_ROW,
    tile_px: int = 72,
) -> go.Figure:
    """N draws (N, *data shape) wrapped into rows of `per_row` tiles, each with its label
    underneath: 32 draws stay large enough to read on a projector, not one row of slivers."""
    a = np.asarray(samples)
    n = len(a)
    if n == 0:
        raise ValueError("no draws to show")
    per_row = max(1, min(per_row, n))
    rows = -(-n // per_row)
    tiles = [to_rgb(a[k], spec) for k in range(n)]
    h, w = tiles[0].shape[:2]
    blank = np.full_like(tiles[0], 255)
    tiles += [blank] * (rows * per_row - n)
    band = LABEL_BAND if labels else 0
    row_h = h + TILE_PAD + band
    img = np.full((rows * row_h, per_row * (w + TILE_PAD) - TILE_PAD, 3), 255, np.uint8)
    for k, tile in enumerate(tiles):
        i, j = divmod(k, per_row)
        img[i * row_h : i * row_h + h, j * (w + TILE_PAD) : j * (w + TILE_PAD) + w] = tile
    scale = max(1, round(tile_px / max(h, w)))
    fig = go.Figure(go.Image(source=png_uri(img, scale), hoverinfo="skip"))
    for k, text in enumerate(list(labels or [])[:n]):
        i, j = divmod(k, per_row)
        fig.add_annotation(
            x=(j * (w + TILE_PAD) + w / 2) * scale,
            y=(i * row_h + h + band / 2 + 1) * scale,
            text=str(text),
            showarrow=False,
            font={"size": 12},
        )
    fig.update_xaxes(visible=False)
    fig.update_yaxes(visible=False)
    top = 30 if title else 4
    fig.update_layout(
        title={"text": title, "font": {"size": 13}} if title else None,
        height=min(int(rows * row_h * scale) + top + 4, 1600),
        margin={"l": 4, "r": 4, "t": top, "b": 4},
    )
    return fig


def grid_figure(
    samples: np.ndarray,
    spec: ModalitySpec,
    row_labels: Sequence[str] | None = None,
    col_labels: Sequence[str] | None = None,
    title: str | None = None,
    tile_px: int = 56,
) -> go.Figure:
    """A grid of samples (R, S, *data shape) as one PNG image with row/column labels."""
    tiles = grid_rgb(samples, spec)
    r, s, h, w, _ = tiles.shape
    img = mosaic(tiles)
    scale = max(1, round(tile_px / max(h, w)))
    fig = go.Figure(go.Image(source=png_uri(img, scale), hoverinfo="skip"))
    step_y, step_x = (h + TILE_PAD) * scale, (w + TILE_PAD) * scale
    fig.update_xaxes(
        tickvals=[(j + 0.5) * step_x for j in range(s)] if col_labels else [],
        ticktext=list(col_labels or []),
        showgrid=False,
        zeroline=False,
        side="bottom",
        tickangle=0,
        tickfont={"size": 10},
    )
    fig.update_yaxes(
        tickvals=[(i + 0.5) * step_y for i in range(r)] if row_labels else [],
        ticktext=list(row_labels or []),
        showgrid=False,
        zeroline=False,
        tickfont={"size": 10},
    )
    lines = 1 + max((str(c).count("<br>") for c in col_labels or []), default=0)
    top, bottom = (30 if title else 4), (12 + 12 * lines if col_labels else 4)
    fig.update_layout(
        title={"text": title, "font": {"size": 13}} if title else None,
        height=min(int(r * step_y) + top + bottom, 1400),
        margin={"l": 70 if row_labels else 4, "r": 4, "t": top, "b": bottom},
    )
    return fig


def animation_figure(
    frames_rgb: Sequence[np.ndarray],
    labels: Sequence[str],
    captions: Sequence[str] | None = None,
    title: str | None = None,
    scale: int = 4,
    duration_ms: int = 250,
) -> go.Figure:
    """Frames (each uint8 (H, W, 3)) as a plotly animation with a play button and a slider.

    `captions` (one per frame, e.g. decoded text) are shown under the picture.
    """
    if not frames_rgb:
        raise ValueError("an animation needs at least one frame")
    uris = [png_uri(f, scale) for f in frames_rgb]
    caps = list(captions) if captions else [""] * len(uris)

    def annotation(text: str) -> list[dict]:
        return (
            [
                {
                    "text": text,
                    "showarrow": False,
                    "xref": "paper",
                    "yref": "paper",
                    "x": 0.5,
                    "y": -0.02,
                    "yanchor": "top",
                    "font": {"size": 13},
                }
            ]
            if text
            else []
        )

    fig = go.Figure(
        go.Image(source=uris[0], hoverinfo="skip"),
        frames=[
            go.Frame(data=[go.Image(source=u)], name=str(k), layout={"annotations": annotation(c)})
            for k, (u, c) in enumerate(zip(uris, caps, strict=True))
        ],
    )
    h = frames_rgb[0].shape[0] * scale
    fig.update_layout(
        title={"text": title, "font": {"size": 13}} if title else None,
        annotations=annotation(caps[0]),
        height=h + 150,
        margin={"l": 4, "r": 4, "t": 40, "b": 40},
        updatemenus=[
            {
                "type": "buttons",
                "showactive": False,
                "x": 0,
                "y": -0.12,
                "xanchor": "left",
                "buttons": [
                    {
                        "label": "▶ play",
                        "method": "animate",
                        "args": [
                            None,
                            {
                                "frame": {"duration": duration_ms, "redraw": True},
                                "fromcurrent": True,
                                "transition": {"duration": 0},
                            },
                        ],
                    },
                    {
                        "label": "❚❚ pause",
                        "method": "animate",
                        "args": [
                            [None],
                            {"frame": {"duration": 0, "redraw": False}, "mode": "immediate"},
                        ],
                    },
                ],
            }
        ],
        sliders=[
            {
                "x": 0.15,
                "len": 0.85,
                "y": -0.08,
                "currentvalue": {"prefix": "value "},
                "steps": [
                    {
                        "label": lab,
                        "method": "animate",
                        "args": [
                            [str(k)],
                            {"frame": {"duration": 0, "redraw": True}, "mode": "immediate"},
                        ],
                    }
                    for k, lab in enumerate(labels)
                ],
            }
        ],
    )
    fig.update_xaxes(showticklabels=False, showgrid=False, zeroline=False)
    fig.update_yaxes(showticklabels=False, showgrid=False, zeroline=False)
    return fig


def strip(images: Sequence[np.ndarray], height: int | None = None, pad: int = 4) -> np.ndarray:
    """Pictures of different sizes side by side (each scaled to a common height), uint8 RGB."""
    h = height or max(i.shape[0] for i in images)
    parts = []
    for k, im in enumerate(images):
        if im.shape[0] != h:
            w = max(1, round(im.shape[1] * h / im.shape[0]))
            im = np.asarray(Image.fromarray(im).resize((w, h), Image.Resampling.NEAREST))
        if k:
            parts.append(np.full((h, pad, 3), 255, dtype=np.uint8))
        parts.append(im)
    return np.concatenate(parts, axis=1)
