"""disentanglement_lib's SAP and DCI (the Information page's "comparable" mode): properties on
synthetic codes. A code that copies each factor into its own dimension (in any order, at any
scale) is disentangled; the same code mixed by an orthogonal matrix that spreads every factor
over every dimension (a scaled Hadamard matrix) is not."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.linalg import hadamard

from mmviz.interpret.information import DLIB_DCI, DLIB_SAP, dci_dlib, sap_dlib

N = 600
SLOW = settings(max_examples=3, deadline=None)  # ~4 s of gradient boosting per example


def categorical(seed: int) -> tuple[dict, dict]:
    rng = np.random.default_rng(seed)
    factors = {f"f{k}": rng.integers(0, 2 + k % 2, N) for k in range(4)}  # 2 or 3 values
    return factors, {k: "categorical" for k in factors}


def continuous(seed: int) -> tuple[dict, dict]:
    rng = np.random.default_rng(seed)
    factors = {f"c{k}": rng.uniform(0, 1, N) for k in range(4)}
    return factors, {k: "continuous" for k in factors}


def copy_code(
    factors: dict, seed: int, order: list[int], scales: list[float], shift: float = 3.0
) -> np.ndarray:
    """Dimension i holds factor order[i] (scaled, shifted by shift * i, with a little noise)."""
    rng = np.random.default_rng(seed + 1)
    cols = list(factors.values())
    return np.column_stack(
        [scales[i] * (cols[j] - cols[j].mean() + 0.02 * rng.standard_normal(N)) + shift * i
         for i, j in enumerate(order)]
    )  # fmt: skip


def entangled(z: np.ndarray, signs: list[int]) -> np.ndarray:
    """Every dimension an equal-weight mix of every factor (orthogonal: nothing is lost)."""
    h = hadamard(4) / 2.0 * np.asarray(signs)[:, None]
    return (z - z.mean(axis=0)) / z.std(axis=0) @ h


ORDERS = st.permutations([0, 1, 2, 3])
SCALES = st.lists(st.floats(0.5, 5.0), min_size=4, max_size=4)
SIGNS = st.lists(st.sampled_from([-1, 1]), min_size=4, max_size=4)


@SLOW
@given(st.integers(0, 1000), ORDERS, SCALES, SIGNS)
def test_dci_is_one_for_a_disentangled_code_and_low_for_an_entangled_one(
    seed, order, scales, signs
):
    factors, kinds = categorical(seed)
    z = copy_code(factors, seed, order, scales)
    good = dci_dlib(z, factors, kinds, seed=seed)
    assert good.disentanglement > 0.95 and good.completeness > 0.95
    assert good.informativeness > 0.95
    imp = good.importance.to_numpy()
    assert [int(i) for i in imp.argmax(axis=0)] == [order.index(j) for j in range(4)]
    bad = dci_dlib(entangled(z, signs), factors, kinds, seed=seed)
    assert bad.disentanglement < 0.2 and bad.completeness < 0.2
    assert bad.informativeness > 0.9  # the information is all there, only spread out
    assert bad.model == good.model == "gradient-boosted trees (disentanglement_lib)"


@settings(max_examples=10, deadline=None)
@given(st.integers(0, 1000), ORDERS, SCALES, SIGNS)
def test_sap_of_continuous_factors_is_one_when_disentangled_and_low_when_mixed(
    seed, order, scales, signs
):
    factors, kinds = continuous(seed)
    z = copy_code(factors, seed, order, scales)
    score, matrix = sap_dlib(z, factors, kinds, seed=seed)
    assert score > 0.95
    assert matrix.shape == (4, 4) and np.allclose(matrix.to_numpy().max(axis=0), 1, atol=0.01)
    mixed, _ = sap_dlib(entangled(z, signs), factors, kinds, seed=seed)
    assert mixed < 0.1


@settings(max_examples=10, deadline=None)
@given(st.integers(0, 1000), ORDERS, SCALES, SIGNS)
def test_sap_of_binary_factors_is_one_minus_chance_when_disentangled(seed, order, scales, signs):
    """disentanglement_lib's SAP does not correct accuracies for chance: the best dimension
    predicts a binary factor perfectly, the second best at chance, so the gap is ~0.5. (Its
    LinearSVC(C=0.01) also regularises the intercept, so it expects centred codes, as a VAE's
    means are: the code here is centred.)"""
    rng = np.random.default_rng(seed)
    factors = {f"b{k}": rng.integers(0, 2, N) for k in range(4)}
    kinds = {k: "categorical" for k in factors}
    z = copy_code(factors, seed, order, scales, shift=0.0)
    score, matrix = sap_dlib(z, factors, kinds, seed=seed)
    assert score == pytest.approx(0.5, abs=0.1)
    assert matrix.to_numpy().max(axis=0).min() > 0.97
    mixed, _ = sap_dlib(entangled(z, signs), factors, kinds, seed=seed)
    assert mixed < 0.15


def test_sap_by_hand_and_labels():
    """One informative dimension and a constant one: the gap is the informative one's score;
    the mode's labels name disentanglement_lib's estimators."""
    rng = np.random.default_rng(0)
    v = rng.uniform(0, 1, N)
    score, matrix = sap_dlib(np.column_stack([2 * v, np.ones(N)]), {"v": v}, {"v": "continuous"})
    assert matrix["v"].tolist() == pytest.approx([1.0, 0.0]) and score == pytest.approx(1.0)
    assert "LinearSVC(C=0.01)" in DLIB_SAP and "gradient-boosted" in DLIB_DCI
