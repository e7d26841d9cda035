"""MI estimators against closed forms; MIG, SAP and DCI on perfect and useless codes."""

from __future__ import annotations

import time

import numpy as np
import pytest

from mmviz.interpret.information import (
    dci,
    disentanglement,
    entropy_discrete,
    mi_discrete,
    mi_gaussian,
    mi_knn,
    mig,
    mutual_information_matrix,
    sap,
)


def correlated(rho: float, n: int = 3000, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    x = rng.standard_normal(n)
    return x, rho * x + np.sqrt(1 - rho**2) * rng.standard_normal(n)


@pytest.mark.parametrize("rho", [0.3, 0.6, 0.9])
def test_mi_estimators_on_correlated_gaussians(rho):
    x, y = correlated(rho)
    exact = -0.5 * np.log(1 - rho**2)
    assert mi_gaussian(x, y) == pytest.approx(exact, abs=0.03)
    assert mi_knn(x, y) == pytest.approx(exact, abs=0.06)


def test_multivariate_gaussian_mi():
    rng = np.random.default_rng(1)
    n = 3000
    x = rng.standard_normal((n, 4))
    y = 0.7 * x[:, :2] + 0.5 * rng.standard_normal((n, 2))
    r2 = 0.49 / 0.74  # squared correlation of each of the two linked pairs
    exact = -np.log(1 - r2)  # two independent pairs
    assert mi_gaussian(y, x) == pytest.approx(exact, abs=0.05)
    assert mi_knn(x, y) == pytest.approx(exact, abs=0.15)
    assert mi_gaussian(rng.standard_normal((n, 3)), x) < 0.01


def test_discrete_mi_and_entropy():
    rng = np.random.default_rng(0)
    a = np.repeat(np.arange(4), 250)
    assert entropy_discrete(a) == pytest.approx(np.log(4))
    assert mi_discrete(a, a) == pytest.approx(np.log(4))
    assert mi_discrete(a, a % 2) == pytest.approx(np.log(2))
    assert mi_discrete(a, rng.permutation(a)) < 0.02


def factors_and_codes(n: int = 2000, seed: int = 0):
    rng = np.random.default_rng(seed)
    factors = {f"f{k}": rng.integers(0, 3 + k, n) for k in range(4)}
    factors["size"] = rng.uniform(0, 1, n)
    kinds = {k: "categorical" for k in factors}
    kinds["size"] = "continuous"
    copy = np.column_stack(
        [factors[f"f{k}"] + 0.05 * rng.standard_normal(n) for k in range(4)]
        + [factors["size"] + 0.01 * rng.standard_normal(n)]
    )
    noise = rng.standard_normal((n, 5))
    return factors, kinds, copy, noise


def test_mi_matrix_is_normalised_by_factor_entropy():
    factors, kinds, copy, noise = factors_and_codes()
    mi = mutual_information_matrix(copy, factors, kinds)
    diag = np.diag(mi.normalized.to_numpy())
    assert np.all(diag[:4] > 0.97)  # a copy of a categorical factor carries all of it
    assert diag[4] > 0.8  # a continuous factor, binned
    off = mi.normalized.to_numpy()[~np.eye(5, dtype=bool)]
    assert off.max() < 0.05
    assert mi.entropy["f1"] == pytest.approx(np.log(4), abs=0.01)
    knn = mutual_information_matrix(
        copy[:600], {k: v[:600] for k, v in factors.items()}, kinds, estimator="knn"
    )
    assert "knn" in knn.estimator
    assert np.all(np.diag(knn.normalized.to_numpy())[:4] > 0.8)


def test_mig_sap_dci_high_for_a_copy_and_low_for_noise():
    factors, kinds, copy, noise = factors_and_codes()
    good = disentanglement(copy, factors, kinds)
    bad = disentanglement(noise, factors, kinds)
    assert good.mig > 0.8 and bad.mig < 0.05
    assert good.sap > 0.8 and bad.sap < 0.05
    assert good.dci.disentanglement > 0.9 and bad.dci.disentanglement < 0.1
    assert good.dci.completeness > 0.9 and bad.dci.completeness < 0.1
    assert good.dci.informativeness > 0.9
    assert bad.dci.informativeness_per_factor["size"] < 0.1  # R^2 of noise
    # one latent for two factors: complete but not disentangled
    both = np.column_stack([factors["f0"] * 10 + factors["f1"], noise[:, :3]])
    two = {"f0": factors["f0"], "f1": factors["f1"]}
    d = dci(both, two)
    assert d.completeness > 0.7 and d.disentanglement < 0.5
    ridge = dci(copy, factors, kinds, model="ridge")
    assert ridge.model == "ridge" and ridge.completeness > 0.5


def test_mig_and_sap_by_hand():
    factors, kinds, copy, _ = factors_and_codes()
    mi = mutual_information_matrix(copy[:, [0, 0, 1]], {"f0": factors["f0"]})
    score, per = mig(mi)
    assert score < 0.05  # two identical dimensions: no gap
    s, matrix = sap(copy[:, [0, 1]], {"f0": factors["f0"]})
    assert matrix.shape == (2, 1) and matrix.iloc[0, 0] > 0.95 and s > 0.9


def test_disentanglement_is_fast_enough():
    rng = np.random.default_rng(0)
    n = 2000
    z = rng.standard_normal((n, 64))
    factors = {f"f{j}": rng.integers(0, 2 + j % 9, n) for j in range(12)}
    factors.update({f"c{j}": rng.standard_normal(n) for j in range(3)})
    kinds = {f: ("continuous" if f.startswith("c") else "categorical") for f in factors}
    start = time.perf_counter()
    disentanglement(z, factors, kinds)
    assert time.perf_counter() - start < 5.0
