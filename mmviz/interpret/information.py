"""Mutual information estimators and disentanglement metrics against ground-truth factors.

Estimators (all in nats):
- `mi_discrete`: plug-in MI of two discrete variables from their contingency table;
- `mi_gaussian`: MI of two (multivariate) variables under a joint Gaussian assumption,
  0.5 [log det Cov(X) - log det Cov(X | F)], with Cov(X | F) the residual covariance after a
  linear regression of X on F, both PCA-reduced first (exact for Gaussians, a lower bound
  capturing the linear part otherwise);
- `mi_knn`: the Kraskov-Stoegbauer-Grassberger (KSG, estimator 1) kNN estimate for
  multivariate X and Y, the method scikit-learn uses for one-dimensional variables.

Disentanglement (latents (n, D) vs factors; continuous factors are binned to get an entropy):
- MI matrix normalised by each factor's entropy; latents binned into 20 equal-width bins
  ("histogram", as in disentanglement_lib; fast) or scikit-learn's kNN `mutual_info_classif`;
- MIG (Chen et al. 2018): mean over factors of the gap between the two most informative
  latent dimensions, normalised by the factor's entropy;
- SAP (Kumar et al. 2018): per factor, the gap between the two latent dimensions that predict
  it best on their own (R^2 of a linear fit for continuous factors; chance-corrected balanced
  accuracy of a binned one-dimensional classifier for categorical ones);
- DCI (Eastwood & Williams 2018): disentanglement, completeness and informativeness from the
  importance matrix of one predictor per factor (small forests of extremely randomised
  trees, or a ridge model on standardised latents).
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

import numpy as np
import pandas as pd
from scipy.special import digamma

F = TypeVar("F", bound=Callable[..., Any])


def single_threaded(fn: F) -> F:
    """Run with one BLAS/OpenMP thread. On a shared 2-core machine scikit-learn's thread pools
    made KMeans and LogisticRegression 20-100x slower than one thread (measured: 3 s vs
    30 ms); these problems are small, so one thread is also the fast choice."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        from threadpoolctl import threadpool_limits

        with threadpool_limits(1):
            return fn(*args, **kwargs)

    return wrapper  # type: ignore[return-value]


# ---------------------------------------------------------------------------------------------
# Basic estimators
# ---------------------------------------------------------------------------------------------


def discretize(x: np.ndarray, bins: int = 20, strategy: str = "uniform") -> np.ndarray:
    """Bin indices 0..bins-1 of a 1-D array ("uniform": equal width; "quantile": equal mass)."""
    x = np.asarray(x, dtype=np.float64).ravel()
    if strategy == "quantile":
        edges = np.unique(np.quantile(x, np.linspace(0, 1, bins + 1)[1:-1]))
    elif strategy == "uniform":
        lo, hi = x.min(), x.max()
        if hi <= lo:
            return np.zeros(len(x), dtype=np.int64)
        edges = np.linspace(lo, hi, bins + 1)[1:-1]
    else:
        raise ValueError(f"strategy must be 'uniform' or 'quantile', not {strategy!r}")
    return np.searchsorted(edges, x, side="right").astype(np.int64)


def _codes(a: np.ndarray) -> np.ndarray:
    return np.unique(np.asarray(a).ravel(), return_inverse=True)[1].astype(np.int64)


def entropy_discrete(a: np.ndarray) -> float:
    """Plug-in entropy (nats) of a discrete sample."""
    p = np.bincount(_codes(a)) / len(np.asarray(a).ravel())
    p = p[p > 0]
    return float(-(p * np.log(p)).sum())


def mi_discrete(a: np.ndarray, b: np.ndarray) -> float:
    """Plug-in MI (nats) of two discrete samples, from their contingency table."""
    ca, cb = _codes(a), _codes(b)
    joint = np.zeros((ca.max() + 1, cb.max() + 1))
    np.add.at(joint, (ca, cb), 1.0)
    joint /= joint.sum()
    pa, pb = joint.sum(1, keepdims=True), joint.sum(0, keepdims=True)
    nz = joint > 0
    return float((joint[nz] * np.log(joint[nz] / (pa @ pb)[nz])).sum())


def _as_2d(x: np.ndarray) -> np.ndarray:
    x = np.asarray(x, dtype=np.float64)
    return x.reshape(len(x), -1)


@single_threaded
def pca_reduce(x: np.ndarray, n_components: int | None) -> np.ndarray:
    """Centred x projected on its top principal components (all if None or enough)."""
    x = _as_2d(x)
    x = x - x.mean(axis=0)
    if n_components is None or x.shape[1] <= n_components:
        return x
    _, _, vt = np.linalg.svd(x, full_matrices=False)
    return x @ vt[:n_components].T


def _logdet(cov: np.ndarray) -> float:
    sign, val = np.linalg.slogdet(cov)
    return float(val) if sign > 0 else -np.inf


@single_threaded
def mi_gaussian(
    x: np.ndarray, f: np.ndarray, n_components: int | None = 8, ridge: float = 1e-6
) -> float:
    """I(X; F) (nats) if (X, F) were jointly Gaussian.

    0.5 [log det Cov(X) - log det Cov(X - X_hat(F))], X_hat the least-squares prediction of X
    from F. Both X and F are reduced to `n_components` principal components first, so that
    high-dimensional outputs (images, token distributions) give a well-conditioned estimate.
    `ridge` times the mean variance of X's components is added to both covariances: the
    exact Gaussian MI of X observed with that much isotropic noise (tiny by default, only to
    keep near-singular covariances finite).
    """
    xr, fr = pca_reduce(x, n_components), pca_reduce(f, n_components)
    n = len(xr)
    scale = max(float(np.trace(np.atleast_2d(np.cov(xr.T)))) / xr.shape[1], 1e-12)
    eye = ridge * scale * np.eye(xr.shape[1])
    design = np.column_stack([fr, np.ones(n)])
    coef, *_ = np.linalg.lstsq(design, xr, rcond=None)
    resid = xr - design @ coef
    cov_x = np.atleast_2d(xr.T @ xr / (n - 1)) + eye
    cov_r = np.atleast_2d(resid.T @ resid / (n - 1)) + eye
    return max(0.0, 0.5 * (_logdet(cov_x) - _logdet(cov_r)))


@single_threaded
def mi_knn(x: np.ndarray, y: np.ndarray, k: int = 3, seed: int = 0) -> float:
    """KSG estimate (estimator 1) of I(X; Y) in nats for multivariate continuous X, Y.

    I = psi(k) + psi(n) - < psi(n_x + 1) + psi(n_y + 1) >, with n_x, n_y the neighbours
    within each point's max-norm distance to its k-th neighbour in the joint space. As in
    scikit-learn, each variable is scaled to unit variance and a tiny deterministic jitter
    breaks ties.
    """
    from sklearn.neighbors import KDTree, NearestNeighbors

    rng = np.random.default_rng(seed)
    xs, ys = _as_2d(x), _as_2d(y)
    parts = []
    for v in (xs, ys):
        v = (v - v.mean(0)) / np.where(v.std(0) > 0, v.std(0), 1.0)
        parts.append(v + 1e-10 * np.maximum(1, np.abs(v).mean()) * rng.standard_normal(v.shape))
    xs, ys = parts
    n = len(xs)
    joint = np.hstack([xs, ys])
    nn_ = NearestNeighbors(metric="chebyshev", n_neighbors=k).fit(joint)
    radius = nn_.kneighbors()[0][:, -1]
    radius = np.nextafter(radius, 0)
    nx = KDTree(xs, metric="chebyshev").query_radius(xs, radius, count_only=True) - 1
    ny = KDTree(ys, metric="chebyshev").query_radius(ys, radius, count_only=True) - 1
    mi = digamma(n) + digamma(k) - np.mean(digamma(nx + 1) + digamma(ny + 1))
    return max(0.0, float(mi))


# ---------------------------------------------------------------------------------------------
# Factors
# ---------------------------------------------------------------------------------------------
def factor_codes(
    factors: Mapping[str, np.ndarray],
    kinds: Mapping[str, str] | None = None,
    bins: int = 10,
) -> dict[str, np.ndarray]:
    """Each factor as integer codes: categorical ones as they are, continuous ones binned into
    `bins` equal-mass bins (so they have an entropy to normalise by)."""
    kinds = kinds or {}
    out = {}
    for name, v in factors.items():
        v = np.asarray(v).ravel()
        if kinds.get(name, "categorical") == "continuous":
            out[name] = discretize(v, bins, "quantile")
        else:
            out[name] = _codes(v)
    return out


def _latent_names(latents: np.ndarray, names: Sequence[str] | None) -> list[str]:
    if names is not None:
        if len(names) != latents.shape[1]:
            raise ValueError(f"{len(names)} latent names for {latents.shape[1]} dimensions")
        return list(names)
    return [f"z{i}" for i in range(latents.shape[1])]


@dataclass
class MIMatrix:
    """MI of each latent dimension with each factor.

    mi: nats (dims x factors); normalized: mi / H(factor) (NaN for a constant factor);
    entropy: H(factor) in nats; estimator: "histogram" or "knn (sklearn mutual_info_classif)".
    """

    mi: pd.DataFrame
    normalized: pd.DataFrame
    entropy: pd.Series
    estimator: str


def _mi_histogram(latents: np.ndarray, codes: np.ndarray, bins: int) -> np.ndarray:
    """MI (nats) of every latent column (binned) with one discrete factor, vectorised."""
    n, d = latents.shape
    zb = np.stack([discretize(latents[:, j], bins, "uniform") for j in range(d)], axis=1)
    k = int(codes.max()) + 1
    joint = np.zeros((d, bins, k))
    np.add.at(joint, (np.repeat(np.arange(d), n), zb.T.ravel(), np.tile(codes, d)), 1.0)
    joint /= n
    pz = joint.sum(2, keepdims=True)
    pf = joint.sum(1, keepdims=True)
    with np.errstate(divide="ignore", invalid="ignore"):
        terms = np.where(joint > 0, joint * np.log(joint / (pz * pf)), 0.0)
    return terms.sum(axis=(1, 2))


@single_threaded
def mutual_information_matrix(
    latents: np.ndarray,
    factors: Mapping[str, np.ndarray],
    kinds: Mapping[str, str] | None = None,
    estimator: str = "histogram",
    bins: int = 20,
    factor_bins: int = 10,
    latent_names: Sequence[str] | None = None,
    seed: int = 0,
) -> MIMatrix:
    """MI matrix latent dimension x factor, normalised by each factor's entropy."""
    z = _as_2d(latents)
    names = _latent_names(z, latent_names)
    codes = factor_codes(factors, kinds, factor_bins)
    mi = np.zeros((z.shape[1], len(codes)))
    if estimator == "histogram":
        label = "histogram"
        for j, c in enumerate(codes.values()):
            mi[:, j] = _mi_histogram(z, c, bins)
    elif estimator == "knn":
        from sklearn.feature_selection import mutual_info_classif

        label = "knn (sklearn mutual_info_classif)"
        for j, c in enumerate(codes.values()):
            if len(np.unique(c)) > 1:
                mi[:, j] = mutual_info_classif(z, c, n_neighbors=3, random_state=seed)
    else:
        raise ValueError(f"estimator must be 'histogram' or 'knn', not {estimator!r}")
    ent = np.array([entropy_discrete(c) for c in codes.values()])
    with np.errstate(divide="ignore", invalid="ignore"):
        norm = np.where(ent > 0, mi / ent, np.nan)
    cols = list(codes)
    return MIMatrix(
        mi=pd.DataFrame(mi, index=names, columns=cols),
        normalized=pd.DataFrame(norm, index=names, columns=cols),
        entropy=pd.Series(ent, index=cols),
        estimator=label,
    )


# ---------------------------------------------------------------------------------------------
# Metrics
# ---------------------------------------------------------------------------------------------
def mig(mi: MIMatrix) -> tuple[float, pd.Series]:
    """Mutual Information Gap: per factor (top - second MI) / H(factor); mean over factors
    with non-zero entropy."""
    norm = mi.normalized.to_numpy()
    per = {}
    for j, name in enumerate(mi.normalized.columns):
        col = norm[:, j]
        if np.isnan(col).all() or len(col) < 2:
            continue
        top2 = np.sort(col)[-2:]
        per[name] = float(top2[1] - top2[0])
    series = pd.Series(per, dtype=float)
    return (float(series.mean()) if len(series) else float("nan")), series


def _split(n: int, seed: int, test_fraction: float = 0.3) -> tuple[np.ndarray, np.ndarray]:
    perm = np.random.default_rng(seed).permutation(n)
    cut = int(round(n * (1 - test_fraction)))
    return perm[:cut], perm[cut:]


def _binned_classifier_scores(
    z: np.ndarray, codes: np.ndarray, train: np.ndarray, test: np.ndarray, bins: int = 20
) -> np.ndarray:
    """Per latent dim: chance-corrected balanced accuracy of a piecewise-constant classifier
    (class-balanced majority per equal-width bin of that one dimension, fit on train, scored
    on test): a threshold classifier that also handles factors with many values."""
    k = int(codes.max()) + 1
    if k < 2:
        return np.zeros(z.shape[1])
    scores = np.zeros(z.shape[1])
    counts_test = np.bincount(codes[test], minlength=k)
    present = counts_test > 0
    for j in range(z.shape[1]):
        lo, hi = z[train, j].min(), z[train, j].max()
        edges = np.linspace(lo, hi, bins + 1)[1:-1] if hi > lo else np.zeros(0)
        btr = np.searchsorted(edges, z[train, j], side="right")
        bte = np.searchsorted(edges, z[test, j], side="right")
        table = np.zeros((len(edges) + 1, k))
        np.add.at(table, (btr, codes[train]), 1.0)
        # class-balanced majority: weigh each class by 1 / its training frequency
        freq = np.bincount(codes[train], minlength=k).astype(float)
        table = table / np.where(freq > 0, freq, 1.0)
        pred = table.argmax(axis=1)[bte]
        hits = np.bincount(codes[test][pred == codes[test]], minlength=k)
        bal = float((hits[present] / counts_test[present]).mean())
        chance = 1.0 / present.sum()
        scores[j] = max(0.0, (bal - chance) / (1 - chance)) if chance < 1 else 0.0
    return scores


@single_threaded
def sap(
    latents: np.ndarray,
    factors: Mapping[str, np.ndarray],
    kinds: Mapping[str, str] | None = None,
    seed: int = 0,
    latent_names: Sequence[str] | None = None,
) -> tuple[float, pd.DataFrame]:
    """Separated Attribute Predictability: mean over factors of the gap between the two best
    single-dimension predictors. Returns the score and the (dims x factors) score matrix."""
    z = _as_2d(latents)
    kinds = kinds or {}
    train, test = _split(len(z), seed)
    out = {}
    for name, v in factors.items():
        v = np.asarray(v).ravel()
        if kinds.get(name, "categorical") == "continuous":
            vc = v - v.mean()
            zc = z - z.mean(axis=0)
            denom = np.sqrt((zc**2).sum(0) * (vc**2).sum())
            with np.errstate(divide="ignore", invalid="ignore"):
                r = np.where(denom > 0, (zc * vc[:, None]).sum(0) / denom, 0.0)
            out[name] = r**2
        else:
            out[name] = _binned_classifier_scores(z, _codes(v), train, test)
    matrix = pd.DataFrame(out, index=_latent_names(z, latent_names))
    gaps = []
    for name in matrix.columns:
        top2 = np.sort(matrix[name].to_numpy())[-2:]
        gaps.append(top2[-1] - (top2[0] if len(top2) > 1 else 0.0))
    return float(np.mean(gaps)) if gaps else float("nan"), matrix


@dataclass
class DCIResult:
    """Eastwood & Williams (2018). importance: (dims x factors), normalised per factor;
    informativeness: test accuracy (categorical) or R^2 (continuous) per factor."""

    disentanglement: float
    completeness: float
    informativeness: float
    importance: pd.DataFrame
    informativeness_per_factor: pd.Series
    disentanglement_per_dim: pd.Series
    completeness_per_factor: pd.Series
    model: str


def _entropy_rows(p: np.ndarray, base: int) -> np.ndarray:
    with np.errstate(divide="ignore", invalid="ignore"):
        h = -np.where(p > 0, p * np.log(p), 0.0).sum(axis=1)
    return h / np.log(base) if base > 1 else np.zeros(len(p))


@single_threaded
def dci(
    latents: np.ndarray,
    factors: Mapping[str, np.ndarray],
    kinds: Mapping[str, str] | None = None,
    model: str = "forest",
    seed: int = 0,
    latent_names: Sequence[str] | None = None,
    n_estimators: int = 10,
    max_depth: int = 8,
) -> DCIResult:
    """DCI with one predictor per factor.

    "forest": small forests of extremely randomised trees (Geurts et al. 2006) with every
    dimension considered at each split, importances from impurity decrease. Random forests with
    the usual sqrt(D) features per split leak importance onto irrelevant dimensions (a split
    must be made among the features drawn), which caps the disentanglement of a perfectly
    disentangled code well below 1; considering all features fixes that, and random thresholds
    keep it fast (~1 s for 2,000 x 64 x 15 on one core).
    "ridge": ridge regression / classifier on standardised latents, importances |coef|:
    faster still, but only sees linear relations.
    """
    from sklearn.ensemble import ExtraTreesClassifier, ExtraTreesRegressor
    from sklearn.linear_model import RidgeClassifier, RidgeCV

    z = _as_2d(latents)
    std = z.std(axis=0)
    zs = (z - z.mean(axis=0)) / np.where(std > 0, std, 1.0)
    kinds = kinds or {}
    train, test = _split(len(z), seed)
    imp, info = {}, {}
    for name, v in factors.items():
        v = np.asarray(v).ravel()
        continuous = kinds.get(name, "categorical") == "continuous"
        y = v.astype(np.float64) if continuous else _codes(v)
        if not continuous and len(np.unique(y[train])) < 2:
            imp[name], info[name] = np.zeros(z.shape[1]), 0.0
            continue
        if model == "forest":
            cls = ExtraTreesRegressor if continuous else ExtraTreesClassifier
            est = cls(
                n_estimators=n_estimators,
                max_depth=max_depth,
                max_features=None,
                random_state=seed,
                n_jobs=1,
            ).fit(zs[train], y[train])
            imp[name] = est.feature_importances_
        elif model == "ridge":
            if continuous:
                est = RidgeCV(alphas=(0.1, 1.0, 10.0)).fit(zs[train], y[train])
                imp[name] = np.abs(est.coef_).ravel()
            else:
                est = RidgeClassifier(alpha=1.0).fit(zs[train], y[train])
                imp[name] = np.abs(np.atleast_2d(est.coef_)).mean(axis=0)
        else:
            raise ValueError(f"model must be 'forest' or 'ridge', not {model!r}")
        info[name] = float(est.score(zs[test], y[test]))
    names = _latent_names(z, latent_names)
    r = np.column_stack([imp[k] for k in factors]) if factors else np.zeros((z.shape[1], 0))
    r = np.abs(r)
    col = r.sum(axis=0, keepdims=True)
    r_norm = np.where(col > 0, r / np.where(col > 0, col, 1.0), 0.0)
    k, d = r_norm.shape[1], r_norm.shape[0]
    row = r_norm.sum(axis=1)
    p_rows = np.where(row[:, None] > 0, r_norm / np.where(row > 0, row, 1.0)[:, None], 0.0)
    d_per = 1.0 - _entropy_rows(p_rows, k)
    d_per = np.where(row > 0, d_per, 0.0)
    rho = row / row.sum() if row.sum() > 0 else np.zeros(d)
    c_per = 1.0 - _entropy_rows(r_norm.T, d)
    c_per = np.where(col.ravel() > 0, c_per, 0.0)
    cols = list(factors)
    return DCIResult(
        disentanglement=float((rho * d_per).sum()),
        completeness=float(c_per.mean()) if k else float("nan"),
        informativeness=float(np.mean(list(info.values()))) if info else float("nan"),
        importance=pd.DataFrame(r_norm, index=names, columns=cols),
        informativeness_per_factor=pd.Series(info, dtype=float),
        disentanglement_per_dim=pd.Series(d_per, index=names),
        completeness_per_factor=pd.Series(c_per, index=cols),
        model="extremely randomised trees" if model == "forest" else "ridge",
    )


# ---- disentanglement_lib's definitions (comparable with published figures) ------------------
# Locatello et al. 2019's disentanglement_lib (evaluation/metrics/sap_score.py and dci.py),
# restated here on one train/test split of the same codes (it draws 10,000 + 5,000 fresh
# samples; we have a test split of a fixed dataset).
DLIB_SAP = "disentanglement_lib: LinearSVC(C=0.01) per dimension and factor, accuracy gap"
DLIB_DCI = "disentanglement_lib: gradient-boosted trees (sklearn defaults) per factor"


@single_threaded
def sap_dlib(
    latents: np.ndarray,
    factors: Mapping[str, np.ndarray],
    kinds: Mapping[str, str] | None = None,
    seed: int = 0,
    latent_names: Sequence[str] | None = None,
) -> tuple[float, pd.DataFrame]:
    """SAP as disentanglement_lib computes it: for each latent dimension and factor, a score
    (categorical factor: test accuracy of `LinearSVC(C=0.01, class_weight="balanced")` fit on
    that one dimension; continuous factor: squared correlation, its `continuous_factors`
    branch), then the mean over factors of the gap between the two best dimensions.

    Unlike `sap`, accuracies are not chance-corrected: a perfectly disentangled code scores
    1 - chance per categorical factor (0.5 for a binary one), as in published SAP figures."""
    from sklearn.svm import LinearSVC

    z = _as_2d(latents)
    kinds = kinds or {}
    train, test = _split(len(z), seed)
    out = {}
    for name, v in factors.items():
        v = np.asarray(v).ravel()
        scores = np.zeros(z.shape[1])
        if kinds.get(name, "categorical") == "continuous":
            for i in range(z.shape[1]):
                c = np.cov(z[:, i], v, ddof=1)
                if c[0, 0] > 1e-12 and c[1, 1] > 0:
                    scores[i] = c[0, 1] ** 2 / (c[0, 0] * c[1, 1])
        else:
            y = _codes(v)
            if len(np.unique(y[train])) > 1:
                for i in range(z.shape[1]):
                    svm = LinearSVC(C=0.01, class_weight="balanced", random_state=seed)
                    svm.fit(z[train, i : i + 1], y[train])
                    scores[i] = float(np.mean(svm.predict(z[test, i : i + 1]) == y[test]))
        out[name] = scores
    matrix = pd.DataFrame(out, index=_latent_names(z, latent_names))
    if matrix.shape[0] < 2 or matrix.shape[1] == 0:
        return float("nan"), matrix
    top = np.sort(matrix.to_numpy(), axis=0)
    return float(np.mean(top[-1] - top[-2])), matrix


@single_threaded
def dci_dlib(
    latents: np.ndarray,
    factors: Mapping[str, np.ndarray],
    kinds: Mapping[str, str] | None = None,
    seed: int = 0,
    latent_names: Sequence[str] | None = None,
    factor_bins: int = 10,
) -> DCIResult:
    """DCI as disentanglement_lib computes it: one `GradientBoostingClassifier()` (sklearn's
    defaults: 100 trees of depth 3) per factor, importance matrix |feature_importances_|
    (dims x factors), then
    - disentanglement: 1 - H_K(importance row) per dimension, weighted by the row's share of
      all importance;
    - completeness: 1 - H_D(importance column) per factor, weighted by the column's share;
    - informativeness: mean test accuracy of the classifiers.
    Every factor is a class label there: continuous ones are binned into `factor_bins`
    equal-mass bins. Slower than `dci` (seconds per factor on a busy core)."""
    from scipy.stats import entropy
    from sklearn.ensemble import GradientBoostingClassifier

    z = _as_2d(latents)
    train, test = _split(len(z), seed)
    codes = factor_codes(factors, kinds, factor_bins)
    d, k = z.shape[1], len(codes)
    r = np.zeros((d, k))
    info = {}
    for j, (name, y) in enumerate(codes.items()):
        if len(np.unique(y[train])) < 2:
            info[name] = 0.0
            continue
        gbt = GradientBoostingClassifier(random_state=seed).fit(z[train], y[train])
        r[:, j] = np.abs(gbt.feature_importances_)
        info[name] = float(np.mean(gbt.predict(z[test]) == y[test]))
    names, cols = _latent_names(z, latent_names), list(codes)
    d_per = 1.0 - entropy(r.T + 1e-11, base=k) if k > 1 else np.zeros(d)
    c_per = 1.0 - entropy(r + 1e-11, base=d) if d > 1 else np.zeros(k)
    weights = r if r.sum() > 0 else np.ones_like(r)
    rho_dims = weights.sum(axis=1) / weights.sum()
    rho_factors = weights.sum(axis=0) / weights.sum()
    col = r.sum(axis=0, keepdims=True)
    return DCIResult(
        disentanglement=float(np.sum(d_per * rho_dims)) if k else float("nan"),
        completeness=float(np.sum(c_per * rho_factors)) if k else float("nan"),
        informativeness=float(np.mean(list(info.values()))) if info else float("nan"),
        importance=pd.DataFrame(
            np.where(col > 0, r / np.where(col > 0, col, 1.0), 0.0), index=names, columns=cols
        ),
        informativeness_per_factor=pd.Series(info, dtype=float),
        disentanglement_per_dim=pd.Series(d_per, index=names),
        completeness_per_factor=pd.Series(c_per, index=cols),
        model="gradient-boosted trees (disentanglement_lib)",
    )


@dataclass
class DisentanglementResult:
    """Everything the disentanglement page shows, from one call."""

    mi: MIMatrix
    mig: float
    mig_per_factor: pd.Series
    sap: float
    sap_scores: pd.DataFrame
    dci: DCIResult


@single_threaded
def disentanglement(
    latents: np.ndarray,
    factors: Mapping[str, np.ndarray],
    kinds: Mapping[str, str] | None = None,
    estimator: str = "histogram",
    dci_model: str = "forest",
    seed: int = 0,
    latent_names: Sequence[str] | None = None,
) -> DisentanglementResult:
    """MI matrix, MIG, SAP and DCI of latents (n, D) against ground-truth factors."""
    mi = mutual_information_matrix(
        latents, factors, kinds, estimator=estimator, latent_names=latent_names, seed=seed
    )
    mig_score, mig_per = mig(mi)
    sap_score, sap_scores = sap(latents, factors, kinds, seed=seed, latent_names=latent_names)
    return DisentanglementResult(
        mi=mi,
        mig=mig_score,
        mig_per_factor=mig_per,
        sap=sap_score,
        sap_scores=sap_scores,
        dci=dci(latents, factors, kinds, model=dci_model, seed=seed, latent_names=latent_names),
    )
