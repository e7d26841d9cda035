"""Numerics of mmviz.models.stats checked against computations done another way."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from mmviz.models.stats import (
    kernel_matrix,
    kl_normal,
    kl_std_normal,
    linear_anneal,
    log_mean_exp,
    log_normal,
    mmd,
    product_of_experts,
    quotient_of_experts,
)

torch.set_num_threads(1)
torch.set_default_dtype(torch.float32)

GRID = np.linspace(-30.0, 30.0, 60001)  # wide: a lone expert may have std e (no prior)


def _grid_moments(log_density: np.ndarray) -> tuple[float, float]:
    """Mean and variance of an unnormalised 1-D density given on GRID (normalised here)."""
    w = np.exp(log_density - log_density.max())
    w /= w.sum()
    mean = float((w * GRID).sum())
    return mean, float((w * (GRID - mean) ** 2).sum())


def _log_gauss(x: np.ndarray, mu: float, var: float) -> np.ndarray:
    return -0.5 * (np.log(2 * np.pi * var) + (x - mu) ** 2 / var)


experts_1d = st.lists(st.tuples(st.floats(-3, 3), st.floats(-2, 2)), min_size=1, max_size=4)


@settings(max_examples=30, deadline=None, database=None)
@given(experts=experts_1d, prior=st.booleans())
def test_poe_matches_numerical_product_of_densities(experts, prior):
    mus = torch.tensor([[[m]] for m, _ in experts], dtype=torch.float64)
    lvs = torch.tensor([[[lv]] for _, lv in experts], dtype=torch.float64)
    mean, logvar = product_of_experts(mus, lvs, include_prior=prior)
    log_d = sum(_log_gauss(GRID, m, math.exp(lv)) for m, lv in experts)
    if prior:
        log_d = log_d + _log_gauss(GRID, 0.0, 1.0)
    num_mean, num_var = _grid_moments(log_d)
    assert float(mean) == pytest.approx(num_mean, abs=1e-4)
    assert math.exp(float(logvar)) == pytest.approx(num_var, rel=1e-3)


def test_poe_in_two_dims_matches_grid_and_is_diagonal():
    g = np.linspace(-8, 8, 801)
    xx, yy = np.meshgrid(g, g, indexing="ij")
    mus = torch.tensor([[[0.5, -1.0]], [[2.0, 0.3]]], dtype=torch.float64)
    lvs = torch.tensor([[[0.2, -0.7]], [[-0.4, 0.9]]], dtype=torch.float64)
    mean, logvar = product_of_experts(mus, lvs)
    log_d = -0.5 * (xx**2 + yy**2)  # prior
    for e in range(2):
        for dim, grid in enumerate((xx, yy)):
            log_d = log_d + _log_gauss(grid, float(mus[e, 0, dim]), math.exp(float(lvs[e, 0, dim])))
    w = np.exp(log_d - log_d.max())
    w /= w.sum()
    m = np.array([(w * xx).sum(), (w * yy).sum()])
    cov = np.array(
        [
            [(w * (a - m[i]) * (b - m[j])).sum() for j, b in enumerate((xx, yy))]
            for i, a in enumerate((xx, yy))
        ]
    )
    np.testing.assert_allclose(mean[0].numpy(), m, atol=1e-4)
    np.testing.assert_allclose(np.exp(logvar[0].numpy()), np.diag(cov), rtol=1e-3)
    assert abs(cov[0, 1]) < 1e-6


def test_poe_single_expert_with_prior_closed_form():
    mu, lv = torch.tensor([[1.5, -2.0]]), torch.tensor([[math.log(0.25), math.log(4.0)]])
    mean, logvar = product_of_experts(mu[None], lv[None])
    var = torch.exp(lv)
    torch.testing.assert_close(torch.exp(logvar), var / (1 + var))  # 1 / (1 + 1/var)
    torch.testing.assert_close(mean, mu / (1 + var))


def test_poe_confident_expert_dominates_and_stays_finite():
    mus = torch.tensor([[[3.0]], [[-1.0]], [[0.5]]])
    lvs = torch.tensor([[[-30.0]], [[0.0]], [[1.0]]])  # variance e^-30
    mean, logvar = product_of_experts(mus, lvs)
    assert torch.isfinite(mean).all() and torch.isfinite(logvar).all()
    assert float(mean) == pytest.approx(3.0, abs=1e-6)
    assert float(logvar) == pytest.approx(-30.0, abs=1e-6)


def test_poe_mask_drops_experts():
    mus = torch.randn(3, 5, 4)
    lvs = torch.randn(3, 5, 4)
    mask = torch.tensor([[1, 1, 1, 0, 1], [1, 0, 1, 1, 1], [0, 1, 1, 1, 1]], dtype=torch.bool)
    mean, logvar = product_of_experts(mus, lvs, mask=mask)
    for i in range(5):
        keep = mask[:, i]
        m_i, lv_i = product_of_experts(mus[keep, i], lvs[keep, i])
        torch.testing.assert_close(mean[i], m_i)
        torch.testing.assert_close(logvar[i], lv_i)


@settings(max_examples=30, deadline=None, database=None)
@given(experts=experts_1d)
def test_quotient_of_unimodal_posteriors_equals_product_of_experts(experts):
    """prod_i [p(z) e_i(z)] / p(z)^(N-1) = p(z) prod_i e_i(z): QoE(PoE each) == PoE(all)."""
    mus = torch.tensor([[[m]] for m, _ in experts], dtype=torch.float64)
    lvs = torch.tensor([[[lv]] for _, lv in experts], dtype=torch.float64)
    uni = [product_of_experts(mus[i : i + 1], lvs[i : i + 1]) for i in range(len(experts))]
    q_mean, q_logvar = quotient_of_experts([u[0] for u in uni], [u[1] for u in uni])
    p_mean, p_logvar = product_of_experts(mus, lvs)
    torch.testing.assert_close(q_mean, p_mean)
    torch.testing.assert_close(q_logvar, p_logvar)


def test_quotient_matches_grid_and_single_expert_is_itself():
    experts = [(0.7, -0.3), (-1.2, -1.0), (2.0, -0.1)]  # variances < 1
    mus = torch.tensor([[[m]] for m, _ in experts], dtype=torch.float64)
    lvs = torch.tensor([[[lv]] for _, lv in experts], dtype=torch.float64)
    mean, logvar = quotient_of_experts(mus, lvs)
    log_d = sum(_log_gauss(GRID, m, math.exp(lv)) for m, lv in experts)
    log_d = log_d - (len(experts) - 1) * _log_gauss(GRID, 0.0, 1.0)
    num_mean, num_var = _grid_moments(log_d)
    assert float(mean) == pytest.approx(num_mean, abs=1e-4)
    assert math.exp(float(logvar)) == pytest.approx(num_var, rel=1e-3)
    one_mean, one_logvar = quotient_of_experts(mus[:1], lvs[:1])
    torch.testing.assert_close(one_mean, mus[0])
    torch.testing.assert_close(one_logvar, lvs[0])
    with pytest.raises(ValueError, match="variances < 1"):
        quotient_of_experts(torch.zeros(3, 1, 1), torch.full((3, 1, 1), 2.0))


def test_kl_closed_form_matches_monte_carlo():
    g = torch.Generator().manual_seed(0)
    mu_q, lv_q = torch.tensor([0.3, -1.0, 2.0]), torch.tensor([-0.5, 0.4, 0.0])
    mu_p, lv_p = torch.tensor([1.0, 0.0, 1.5]), torch.tensor([0.3, -0.2, 0.8])
    z = mu_q + torch.exp(0.5 * lv_q) * torch.randn(400_000, 3, generator=g)
    log_ratio = log_normal(z, mu_q, lv_q) - log_normal(z, mu_p, lv_p)
    mc, se = float(log_ratio.mean()), float(log_ratio.std() / math.sqrt(len(z)))
    exact = float(kl_normal(mu_q, lv_q, mu_p, lv_p))
    assert exact == pytest.approx(mc, abs=4 * se)
    assert exact > 0.5  # a real gap, so the check above is not vacuous


@settings(max_examples=40, deadline=None, database=None)
@given(st.lists(st.floats(-4, 4), min_size=4, max_size=4))
def test_kl_of_a_distribution_with_itself_is_zero_and_std_normal_is_a_special_case(v):
    mu, lv = torch.tensor(v[:2]), torch.tensor(v[2:])
    assert float(kl_normal(mu, lv, mu, lv)) == pytest.approx(0.0, abs=1e-6)
    zeros = torch.zeros(2)
    assert float(kl_std_normal(mu, lv)) == pytest.approx(float(kl_normal(mu, lv, zeros, zeros)))
    assert float(kl_std_normal(mu, lv)) >= 0


def test_log_normal_matches_torch_distributions():
    z, mu, lv = torch.randn(7, 3), torch.randn(7, 3), torch.randn(7, 3)
    ref = torch.distributions.Normal(mu, torch.exp(0.5 * lv)).log_prob(z).sum(-1)
    torch.testing.assert_close(log_normal(z, mu, lv), ref)
    ref0 = torch.distributions.Normal(0.0, 1.0).log_prob(z).sum(-1)
    torch.testing.assert_close(log_normal(z), ref0)


def test_kernels_match_their_formulas():
    a, b = torch.randn(4, 3), torch.randn(5, 3)
    for i in range(4):
        for j in range(5):
            sq = float(((a[i] - b[j]) ** 2).sum())
            assert float(kernel_matrix(a, b, "rbf")[i, j]) == pytest.approx(math.exp(-sq / 3))
            assert float(kernel_matrix(a, b, "imq")[i, j]) == pytest.approx(6 / (6 + sq))
    with pytest.raises(ValueError, match="unknown MMD kernel"):
        kernel_matrix(a, b, "cosine")


@pytest.mark.parametrize("kernel", ["imq", "rbf"])
def test_mmd_near_zero_for_one_distribution_and_positive_for_shifted(kernel):
    g = torch.Generator().manual_seed(1)
    x, y = torch.randn(400, 4, generator=g), torch.randn(400, 4, generator=g)
    shifted = torch.randn(400, 4, generator=g) + 1.0
    same_u = float(mmd(x, y, kernel, unbiased=True))
    diff_u = float(mmd(x, shifted, kernel, unbiased=True))
    assert abs(same_u) < 0.01
    assert diff_u > 0.1
    assert diff_u > 20 * abs(same_u)
    assert float(mmd(x, shifted, kernel)) > float(mmd(x, y, kernel))


@settings(max_examples=30, deadline=None, database=None)
@given(
    st.integers(2, 20), st.integers(2, 20), st.integers(0, 10_000), st.sampled_from(["imq", "rbf"])
)
def test_biased_mmd_is_non_negative_and_symmetric(n, m, seed, kernel):
    g = torch.Generator().manual_seed(seed)
    x, y = torch.randn(n, 3, generator=g) * 2, torch.randn(m, 3, generator=g)
    v = float(mmd(x, y, kernel))
    assert v >= -1e-6
    assert v == pytest.approx(float(mmd(y, x, kernel)), abs=1e-6)
    assert float(mmd(x, x, kernel)) == pytest.approx(0.0, abs=1e-6)


def test_log_mean_exp_is_stable_and_correct():
    x = torch.tensor([[1000.0, -5.0], [1000.0, -7.0], [1000.0 + math.log(4), -6.0]])
    out = log_mean_exp(x, dim=0)
    assert float(out[0]) == pytest.approx(1000.0 + math.log(2.0), abs=1e-3)
    ref = math.log((math.exp(-5) + math.exp(-7) + math.exp(-6)) / 3)
    assert float(out[1]) == pytest.approx(ref, rel=1e-6)


def test_linear_anneal():
    assert linear_anneal(2.0, 0, 100) == 0.0
    assert linear_anneal(2.0, 50, 100) == pytest.approx(1.0)
    assert linear_anneal(2.0, 500, 100) == 2.0
    assert linear_anneal(0.5, 0, 0) == 0.5
