"""Figures as pure functions: numpy arrays in, plotly figures out (no Streamlit, no models).

`images` draws modality values (single samples, grids, animations); `charts` draws numbers
(class probabilities, oracle agreement, posteriors and experts, latent maps).
"""

from mmviz.plots.charts import (
    activity_figure,
    agreement_figure,
    experts_figure,
    latent_map_figure,
    posterior_figure,
    probability_figure,
    shares_figure,
)
from mmviz.plots.images import (
    animation_figure,
    draws_figure,
    draws_png,
    grid_figure,
    grid_png,
    grid_rgb,
    image_tile,
    is_pictorial,
    modality_figure,
    mosaic,
    png_bytes,
    png_uri,
    strip,
    to_rgb,
)

__all__ = [
    "activity_figure",
    "agreement_figure",
    "animation_figure",
    "experts_figure",
    "draws_figure",
    "draws_png",
    "grid_figure",
    "grid_png",
    "grid_rgb",
    "is_pictorial",
    "latent_map_figure",
    "image_tile",
    "modality_figure",
    "mosaic",
    "png_bytes",
    "png_uri",
    "posterior_figure",
    "probability_figure",
    "shares_figure",
    "strip",
    "to_rgb",
]
