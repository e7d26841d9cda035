"""MFM interpretation (Tsai et al., ICLR 2019, section 4.4): which factor drives what.

Information-based: for each input modality i, r_i = I(F_a_i ; X^_i) / I(F_y ; X^_i), how
much more the modality-specific factor than the shared one drives the generation of modality
i. The paper does not give its estimator; `factor_information` uses a Gaussian estimate on
PCA-reduced factors and outputs (`information.mi_gaussian`) and cross-checks it with the KSG
kNN estimate (`information.mi_knn`); every row names its estimator.

Gradient-based: ||dF_y / dX_i(t)||^2, the squared norm of the Jacobian of the shared factor
with respect to each input entry, summed over the factor's dimensions: per time step for
sequences and tokens (through the embedding), per pixel for images (`shared_factor_gradients`),
for every sample, so a page can show one sample or the average. The generative companion,
||dX^_i / dF_y|| vs ||dX^_i / dF_a_i|| (Frobenius norms of the decoder's Jacobians), is
`generative_sensitivity`.

The functions need a model with MFM's factor API (`MultimodalModel.factorised`):
`factors(inputs, observed)` (F_y under "y", F_a_i under the modality's name),
`decode_from_factors(factors, modalities)` and `input_modalities`. They are generic over
modality kinds.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
import torch
from torch import Tensor

from mmviz.interpret.attributions import TappedInputs
from mmviz.interpret.information import mi_gaussian, mi_knn, pca_reduce, single_threaded
from mmviz.models.base import MultimodalModel, to_data_space


def _check_mfm(model: MultimodalModel) -> list[str]:
    if not model.factorised:
        raise TypeError(
            f"{model.name} has no factors(): MFM interpretation needs MFM's "
            "factor API (F_y, F_a_i and decoding from factors)"
        )
    return model.input_modalities


def _generated(
    model: MultimodalModel, factors: dict[str, Tensor], modality: str, space: str
) -> Tensor:
    """X^_i from the factors, flattened to (n, size): data space (probabilities / means) or
    the decoder's raw parameters."""
    params = model.decode_from_factors(factors, [modality])[modality]
    x = to_data_space(model.specs[modality], params) if space == "data" else params
    return x.reshape(x.shape[0], -1)


@single_threaded
@torch.no_grad()
def factor_information(
    model: MultimodalModel,
    inputs: dict[str, Tensor],
    estimator: str = "both",
    n_components: int = 8,
    k: int = 3,
    modalities: Sequence[str] | None = None,
    noise: float = 0.01,
    seed: int = 0,
) -> pd.DataFrame:
    """I(F_y; X^_i), I(F_a_i; X^_i) and r_i per input modality (nats), over the samples given.

    X^_i is a deterministic function of (F_y, F_a_i), so the true MI of a factor that drives it
    is infinite; what is measured is the information at a resolution: X^_i (PCA-reduced to
    `n_components`) observed with isotropic Gaussian noise of variance `noise` times its
    components' mean variance (0.01: a 20 dB signal-to-noise ratio). The Gaussian estimate
    adds that variance to both covariances (exact for this noise); the KSG estimate adds
    seeded noise of that variance to the outputs, so both estimate the same quantity.
    estimator: "gaussian", "knn" or "both" (one row per estimator). Factors are PCA-reduced
    too. Use a few hundred samples or more.
    """
    mods = list(modalities) if modalities is not None else _check_mfm(model)
    _check_mfm(model)
    if estimator not in ("gaussian", "knn", "both"):
        raise ValueError(f"estimator must be 'gaussian', 'knn' or 'both', not {estimator!r}")
    was_training = model.training
    model.eval()
    try:
        f = model.factors(inputs)
        outs = {m: _generated(model, f, m, "data").double().cpu().numpy() for m in mods}
    finally:
        model.train(was_training)
    fy = f["y"].double().cpu().numpy()
    rows = []
    for m in mods:
        fa = f[m].double().cpu().numpy()
        x = outs[m]
        names = ["gaussian", "knn"] if estimator == "both" else [estimator]
        for name in names:
            if name == "gaussian":
                i_y = mi_gaussian(x, fy, n_components, ridge=noise)
                i_a = mi_gaussian(x, fa, n_components, ridge=noise)
                label = f"Gaussian (log-det, {n_components} PCA components, noise {noise:g})"
            else:
                xr = pca_reduce(x, n_components)
                scale = float(xr.var(axis=0, ddof=1).mean())
                rng = np.random.default_rng(seed)
                xr = xr + np.sqrt(noise * scale) * rng.standard_normal(xr.shape)
                i_y = mi_knn(xr, pca_reduce(fy, n_components), k=k, seed=seed)
                i_a = mi_knn(xr, pca_reduce(fa, n_components), k=k, seed=seed)
                label = f"KSG kNN (k={k}, {n_components} PCA components, noise {noise:g})"
            ratio = i_a / i_y if i_y > 0 else float("inf") if i_a > 0 else float("nan")
            rows.append(
                {
                    "modality": m,
                    "estimator": label,
                    "I_shared": i_y,
                    "I_specific": i_a,
                    "ratio": ratio,
                    "n": len(x),
                }
            )
    return pd.DataFrame(rows)


@dataclass
class GradientFlow:
    """||dF / dX_i||^2 summed over the factor's dimensions.

    per_element: modality -> (n, *sample shape) (tokens and labels: one value per token /
        class, the squared norm over its embedding).
    per_step: modality -> (n, T) for sequences and tokens, (n, H, W) for images (summed over
        channels), (n,) for a categorical input: what the paper plots.
    mean: per_step averaged over samples. factor: "y" (F_y) or a modality (F_a_i).
    """

    factor: str
    per_element: dict[str, np.ndarray]
    per_step: dict[str, np.ndarray]
    mean: dict[str, np.ndarray]
    total: dict[str, np.ndarray]


def _per_step(x: np.ndarray, kind: str) -> np.ndarray:
    if kind == "sequence" and x.ndim == 3:
        return x.sum(axis=2)
    if kind in ("image", "spectrogram") and x.ndim == 4:
        return x.sum(axis=1)
    return x


def shared_factor_gradients(
    model: MultimodalModel,
    inputs: dict[str, Tensor],
    observed: Sequence[str] | None = None,
    factor: str = "y",
) -> GradientFlow:
    """||dF_y / dX_i(t)||^2 for every sample, modality and input position.

    One backward pass per factor dimension over the whole batch (samples do not interact).
    `factor`: "y" for the shared factor, or a modality's name for its F_a_i.
    """
    mods = _check_mfm(model)
    obs = list(observed) if observed is not None else [m for m in mods if m in inputs]
    was_training = model.training
    model.eval()
    try:
        taps = TappedInputs(model, inputs, obs)
        tensors = tuple(t.clone().requires_grad_(True) for t in taps.tensors)
        ids = taps.id_tensors
        with torch.enable_grad():
            f = taps.run(lambda inp: model.factors(inp, obs)[factor], tensors, ids)
            sq = [torch.zeros_like(t) for t in tensors]
            for d in range(f.shape[1]):
                grads = torch.autograd.grad(
                    f[:, d].sum(), tensors, retain_graph=d < f.shape[1] - 1, allow_unused=True
                )
                for acc, g in zip(sq, grads, strict=True):
                    if g is not None:
                        acc += g.detach() ** 2
    finally:
        model.train(was_training)
    per_element = taps.per_modality(sq)
    per_step = {m: _per_step(a, model.specs[m].kind) for m, a in per_element.items()}
    return GradientFlow(
        factor=factor,
        per_element=per_element,
        per_step=per_step,
        mean={m: a.mean(axis=0) for m, a in per_step.items()},
        total={m: a.reshape(a.shape[0], -1).sum(axis=1) for m, a in per_element.items()},
    )


def _jacobian_norms(
    model: MultimodalModel, factors: dict[str, Tensor], modality: str, wrt: str, space: str
) -> Tensor:
    """||dX^_modality / dF_wrt||_F per sample, by forward-mode AD (one pass per dimension)."""
    from torch.func import jvp

    base = {g: v.detach() for g, v in factors.items()}

    def fn(v: Tensor) -> Tensor:
        return _generated(model, {**base, wrt: v}, modality, space)

    x0 = base[wrt]
    total = torch.zeros(x0.shape[0], dtype=torch.float64)
    with warnings.catch_warnings():
        # torch's forward-AD setup scripts its decompositions once, with a deprecation warning
        warnings.filterwarnings("ignore", ".*torch.jit.script.*", DeprecationWarning)
        for d in range(x0.shape[1]):
            tangent = torch.zeros_like(x0)
            tangent[:, d] = 1.0
            _, out = jvp(fn, (x0,), (tangent,))
            total += (out.double() ** 2).sum(dim=1)
    return total.sqrt()


@torch.no_grad()
def generative_sensitivity(
    model: MultimodalModel,
    inputs: dict[str, Tensor],
    modalities: Sequence[str] | None = None,
    space: str = "data",
) -> pd.DataFrame:
    """Mean over samples of ||dX^_i / dF_y||_F and ||dX^_i / dF_a_i||_F per input modality.

    space: "data" (probabilities / means, what the generated modality looks like) or
    "params" (the decoder's raw output: logits / means). `ratio` = specific / shared.
    """
    mods = list(modalities) if modalities is not None else _check_mfm(model)
    _check_mfm(model)
    was_training = model.training
    model.eval()
    try:
        f = model.factors(inputs)
        rows = []
        for m in mods:
            shared = _jacobian_norms(model, f, m, "y", space)
            specific = _jacobian_norms(model, f, m, m, space)
            s, a = float(shared.mean()), float(specific.mean())
            rows.append(
                {
                    "modality": m,
                    "shared": s,
                    "specific": a,
                    "ratio": a / s if s > 0 else float("inf") if a > 0 else float("nan"),
                    "shared_per_sample": shared.numpy(),
                    "specific_per_sample": specific.numpy(),
                }
            )
    finally:
        model.train(was_training)
    return pd.DataFrame(rows)
