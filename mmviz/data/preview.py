"""A picture of a few samples across every modality, for any dataset (chosen by ModalitySpec.kind).

One row per sample, one column per modality, so a person can check at a glance that all
modalities of a row tell the same class. It is a pure function returning a PIL image: the CLI
saves it, the app shows it.
"""

from __future__ import annotations

import unicodedata
from functools import lru_cache

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from mmviz.data.base import DataError, ModalitySpec, MultimodalDataset

CELL = 84  # row height in pixels (3x a 28-pixel MNIST digit)
PAD = 6
HEADER = 22
LABEL_W = 90
# viridis at 6 stops: perceptually ordered, readable in grayscale print too
_VIRIDIS = np.array(
    [
        [68, 1, 84],
        [65, 68, 135],
        [42, 120, 142],
        [34, 168, 132],
        [122, 209, 81],
        [253, 231, 37],
    ],
    dtype=np.float64,
)


@lru_cache(maxsize=8)
def _font(size: int) -> ImageFont.FreeTypeFont:
    return ImageFont.load_default(size=size)


def colormap(values: np.ndarray) -> np.ndarray:
    """Values in [0, 1] -> uint8 RGB (..., 3) through viridis."""
    v = np.clip(np.nan_to_num(np.asarray(values, dtype=np.float64)), 0.0, 1.0)
    pos = v * (len(_VIRIDIS) - 1)
    lo = np.minimum(np.floor(pos).astype(int), len(_VIRIDIS) - 2)
    frac = (pos - lo)[..., None]
    rgb = _VIRIDIS[lo] * (1 - frac) + _VIRIDIS[lo + 1] * frac
    return np.round(rgb).astype(np.uint8)


def _cell_width(spec: ModalitySpec) -> int:
    if spec.kind == "image" and len(spec.shape) == 3:
        return int(round(CELL * spec.shape[2] / spec.shape[1]))
    if spec.kind in ("tokens", "sequence"):
        return 2 * CELL
    return CELL


def _normalise(x: np.ndarray, spec: ModalitySpec) -> np.ndarray:
    lo, hi = spec.value_range if spec.value_range else (float(np.min(x)), float(np.max(x)))
    return (x - lo) / (hi - lo) if hi > lo else np.zeros_like(x)


def _image_cell(x: np.ndarray, spec: ModalitySpec, width: int) -> Image.Image:
    x = np.clip(_normalise(np.asarray(x, dtype=np.float64), spec), 0.0, 1.0)
    if x.ndim == 3 and x.shape[0] in (1, 3):
        x = x[0] if x.shape[0] == 1 else np.transpose(x, (1, 2, 0))
    elif x.ndim == 3:
        x = x[0]
    im = Image.fromarray(np.round(x * 255).astype(np.uint8))
    return im.convert("RGB").resize((width, CELL), Image.Resampling.NEAREST)


def _heatmap_cell(x: np.ndarray, width: int, flip: bool) -> Image.Image:
    x = np.asarray(x, dtype=np.float64)
    if flip:
        x = x[::-1]
    im = Image.fromarray(colormap(x))
    return im.resize((width, CELL), Image.Resampling.NEAREST)


def _wrap(words: list[str], width: int, draw: ImageDraw.ImageDraw, font) -> list[str]:
    lines: list[str] = []
    for w in words:
        if lines and draw.textlength(lines[-1] + " " + w, font=font) <= width:
            lines[-1] += " " + w
        else:
            lines.append(w)
    return lines


def ascii_fold(text: str) -> str:
    """Accents dropped ('número' -> 'numero'): Pillow's bundled font has no accented glyphs."""
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(c for c in decomposed if not unicodedata.combining(c))


def _text_cell(text: str, width: int, size: int = 14, center: bool = False) -> Image.Image:
    im = Image.new("RGB", (width, CELL), "white")
    draw = ImageDraw.Draw(im)
    font = _font(size)
    lines = _wrap(ascii_fold(text).split(), width - 8, draw, font) or [""]
    line_h = size + 3
    top = max(2, (CELL - line_h * len(lines)) // 2)
    for k, line in enumerate(lines[: max(1, CELL // line_h)]):
        if center:
            draw.text((width / 2, top + k * line_h), line, fill="black", font=font, anchor="ma")
        else:
            draw.text((4, top + k * line_h), line, fill="black", font=font)
    return im


def _tokens_text(ids: np.ndarray, spec: ModalitySpec) -> str:
    vocab = spec.vocab or ()
    words = [vocab[i] if 0 <= i < len(vocab) else "?" for i in np.asarray(ids).reshape(-1) if i]
    return " ".join(words)


def render_cell(x: np.ndarray, spec: ModalitySpec, scale: tuple | None = None):
    """One sample of one modality as a CELL-high RGB image, chosen by the modality's kind.

    `scale` (low, high), scalars or one per feature, fixes the heatmap range of a sequence so
    rows are comparable; by default each feature is scaled on its own, because features of a
    sequence (pitch in Hz, a 0..1 smile) live on unrelated scales.
    """
    width = _cell_width(spec)
    x = np.asarray(x)
    if spec.kind == "image":
        return _image_cell(x, spec, width)
    if spec.kind == "spectrogram":
        spec2d = x.reshape(x.shape[-2], x.shape[-1])
        v = np.clip(_normalise(spec2d.astype(np.float64), spec), 0.0, 1.0)
        return _heatmap_cell(v, width, flip=True)  # low frequencies at the bottom
    if spec.kind == "sequence":
        seq = x.reshape(x.shape[0], -1).astype(np.float64)  # (T, F)
        lo, hi = scale if scale else (seq.min(axis=0), seq.max(axis=0))
        span = np.asarray(hi, dtype=np.float64) - lo
        v = np.where(span > 0, (seq - lo) / np.where(span > 0, span, 1.0), 0.0)
        return _heatmap_cell(v.T, width, flip=False)  # features as rows, time left to right
    if spec.kind == "tokens":
        return _text_cell(_tokens_text(x, spec), width)
    if spec.kind == "categorical":
        i = int(x)
        name = spec.vocab[i] if spec.vocab and 0 <= i < len(spec.vocab) else str(i)
        return _text_cell(name, width, size=28 if len(name) <= 3 else 16, center=True)
    return _text_cell(f"({spec.kind})", width)


def _pick(ds: MultimodalDataset, n: int, split: str, seed: int) -> np.ndarray:
    """n samples of `split`, of different classes when the target is a class."""
    idx = ds.indices(split)
    if len(idx) == 0:
        raise DataError(f"split {split!r} of {ds.name} is empty; preview another split")
    rng = np.random.default_rng(seed)
    target = ds.targets[ds.target][idx]
    if np.issubdtype(target.dtype, np.integer):
        classes = np.unique(target)
        order = classes[rng.permutation(len(classes))]
        picks = []
        for k in range(min(n, len(idx))):
            c = order[k % len(order)]
            members = idx[target == c]
            unused = np.setdiff1d(members, picks)
            members = unused if len(unused) else members
            picks.append(int(members[rng.integers(len(members))]))
        chosen = np.array(picks)
        return chosen[np.argsort(ds.targets[ds.target][chosen], kind="stable")]
    chosen = idx[rng.choice(len(idx), size=min(n, len(idx)), replace=False)]
    return chosen[np.argsort(ds.targets[ds.target][chosen], kind="stable")]


def _target_text(ds: MultimodalDataset, i: int) -> str:
    v = ds.targets[ds.target][i]
    if np.issubdtype(np.asarray(v).dtype, np.integer):
        return f"{ds.target} {int(v)}"
    return f"{ds.target} {float(v):+.2f}"


def preview_grid(ds: MultimodalDataset, n: int = 6, split: str = "test", seed: int = 0):
    """A PIL image: one row per sample (different classes), one column per modality."""
    if n < 1:
        raise DataError(f"preview needs at least one sample, got n={n}")
    rows = _pick(ds, n, split, seed)
    names = list(ds.specs)
    widths = [_cell_width(ds.specs[m]) for m in names]
    scales = {}
    for m in names:
        if ds.specs[m].kind == "sequence":
            # per feature over the whole split (1st..99th percentile), not the modality's overall
            # value_range: features live on unrelated scales and one would wash out the rest
            vals = ds.data[m][ds.indices(split)].astype(np.float64)
            vals = vals.reshape(-1, vals.shape[-1]) if vals.ndim >= 3 else vals.reshape(-1, 1)
            scales[m] = tuple(np.percentile(vals, [1, 99], axis=0))
    total_w = LABEL_W + sum(widths) + PAD * (len(names) + 1)
    total_h = HEADER + len(rows) * (CELL + PAD) + PAD
    canvas = Image.new("RGB", (total_w, total_h), "white")
    draw = ImageDraw.Draw(canvas)
    font = _font(14)
    x = LABEL_W + PAD
    for m, w in zip(names, widths, strict=True):
        draw.text((x + w / 2, HEADER / 2 + 1), m, fill="black", font=font, anchor="mm")
        x += w + PAD
    for r, i in enumerate(rows):
        y = HEADER + r * (CELL + PAD) + PAD // 2
        draw.text((6, y + CELL / 2), _target_text(ds, int(i)), fill="gray", font=font, anchor="lm")
        x = LABEL_W + PAD
        for m, w in zip(names, widths, strict=True):
            canvas.paste(render_cell(ds.data[m][i], ds.specs[m], scales.get(m)), (x, y))
            x += w + PAD
    return canvas
