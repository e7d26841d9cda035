"""Pieces of the Information page's view that need care before they are drawn.

Gradient maps ||dF_y/dx||^2 over pixels: pixels that are blank in every test image (the hand
images' border) have gradients too, from weights that no data ever moved; drawn as they are they
frame the map in the colour scale's upper half and push the digit's own pixels into the dark
end. They are left out (NaN, drawn grey). A strided convolution's gradient alternates between
neighbouring pixels (a checkerboard over `print`); when that alternation carries a large part of
the map, it is smoothed over 2x2 pixels, and the view says so.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

CHECKERBOARD_SHARE = 0.2  # alternating energy / total energy above which the map is smoothed


@dataclass
class GradientMaps:
    maps: dict[str, np.ndarray]  # panel name -> (H, W), NaN where pixels never vary
    blank_pixels: int
    smoothed: bool
    checkerboard_share: float


def checkerboard_share(a: np.ndarray) -> float:
    """How much of the map's (mean-removed) energy is the pixel-to-pixel alternation."""
    h, w = (a.shape[0] // 2) * 2, (a.shape[1] // 2) * 2
    b = a[:h, :w] - a[:h, :w].mean()
    alt = b[0::2, 0::2] + b[1::2, 1::2] - b[0::2, 1::2] - b[1::2, 0::2]
    total = float((b**2).sum())
    return float((alt**2).sum() / 4 / total) if total > 0 else 0.0


def smooth_2x2(a: np.ndarray) -> np.ndarray:
    """Mean over each pixel's 2x2 neighbourhood (edge-padded): removes the alternation."""
    p = np.pad(a, ((0, 1), (0, 1)), mode="edge")
    return (p[:-1, :-1] + p[1:, :-1] + p[:-1, 1:] + p[1:, 1:]) / 4


def gradient_maps(maps: Mapping[str, np.ndarray], images: np.ndarray) -> GradientMaps:
    """`maps` (panel -> (H, W) or (1, H, W)) made ready to draw, given the modality's test
    images (n, C, H, W) that say which pixels ever vary."""
    varies = np.asarray(images, dtype=np.float64).std(axis=0)
    varies = varies.reshape(-1, *varies.shape[-2:]).max(axis=0) > 1e-6
    arrays = {k: np.asarray(v, dtype=np.float64).reshape(varies.shape) for k, v in maps.items()}
    share = max(checkerboard_share(a) for a in arrays.values())
    smoothed = share > CHECKERBOARD_SHARE
    out = {}
    for name, a in arrays.items():
        a = smooth_2x2(a) if smoothed else a.copy()
        a[~varies] = np.nan
        out[name] = a
    return GradientMaps(out, int((~varies).sum()), smoothed, share)
