"""Numerics shared by the generative models: Gaussian experts, KL, MMD, importance sampling.

Everything works on diagonal Gaussians kept as (mean, log-variance) and is computed in log
space where precision-weighted sums could overflow. Each function is property-tested in
tests/test_stats.py against a computation done another way (grid integration, Monte Carlo).
"""

from __future__ import annotations

import math
from collections.abc import Collection, Sequence

import torch
from torch import Tensor

from mmviz.models.base import MixturePosterior, MultimodalModel, Posterior, log_likelihood

LOG_2PI = math.log(2 * math.pi)


def _stack(xs: Tensor | Sequence[Tensor]) -> Tensor:
    return xs if isinstance(xs, Tensor) else torch.stack(list(xs))


def product_of_experts(
    means: Tensor | Sequence[Tensor],
    logvars: Tensor | Sequence[Tensor],
    include_prior: bool = True,
    mask: Tensor | None = None,
) -> tuple[Tensor, Tensor]:
    """Gaussian product of experts (MVAE, Wu & Goodman 2018, eq. 3 and its closed form).

    means, logvars: experts stacked on dim 0, shape (E, ..., d).
    include_prior: multiply in the prior expert N(0, I) (precision 1, mean 0), as the MVAE does
        so that any subset, even a single modality, yields a proper posterior.
    mask: optional (E, ...) booleans, False where an expert is absent for that sample (for
        batches with per-sample missing modalities); an absent expert contributes precision 0.

    Precisions T_i = exp(-logvar_i) add, so logvar_S = -logsumexp(-logvar_i) over experts (and
    the prior's 0); mu_S = sum_i mu_i * T_i / T_S, with T_i / T_S = exp(logvar_S - logvar_i)
    evaluated in log space so that a very confident expert does not overflow.
    """
    mu, lv = _stack(means), _stack(logvars)
    neg = -lv
    if mask is not None:
        m = mask.to(torch.bool)
        while m.dim() < neg.dim():
            m = m.unsqueeze(-1)
        neg = neg.masked_fill(~m, float("-inf"))
        mu = mu.masked_fill(~m, 0.0)
    if include_prior:
        neg = torch.cat([neg, torch.zeros_like(neg[:1])], dim=0)
        mu = torch.cat([mu, torch.zeros_like(mu[:1])], dim=0)
    logvar = -torch.logsumexp(neg, dim=0)
    weights = torch.exp(neg + logvar.unsqueeze(0))  # T_i / T_S, in [0, 1]
    mean = (weights * mu).sum(dim=0)
    return mean, logvar


def quotient_of_experts(
    means: Tensor | Sequence[Tensor], logvars: Tensor | Sequence[Tensor]
) -> tuple[Tensor, Tensor]:
    """MVAE-Q (the MVAE paper's ablation): q(z|X) ∝ prod_i q(z|x_i) / p(z)^(N-1).

    Each q(z|x_i) here is a full unimodal posterior (it already contains the prior), rather
    than a prior-free expert as in the product of experts. Exact for the true posteriors
    (Bayes: p(z|X) ∝ prod_i p(z|x_i) / p(z)^(N-1)), but the quotient of Gaussians is a
    Gaussian only if its precision stays positive:
        T_S = sum_i T_i - (N - 1) = 1 + sum_i (T_i - 1),   mu_S = sum_i mu_i T_i / T_S.
    Callers keep every expert's variance below 1 (T_i > 1) so that T_S > 1; MVAE does this by
    parameterising logvar_i = -softplus(.). With one expert the quotient is that expert.
    """
    mu, lv = _stack(means), _stack(logvars)
    excess = torch.expm1(-lv)  # T_i - 1, accurate when T_i is close to 1
    precision = 1.0 + excess.sum(dim=0)
    if bool((precision <= 0).any()):
        raise ValueError("quotient of experts has non-positive precision: keep variances < 1")
    logvar = -torch.log(precision)
    mean = (mu * torch.exp(-lv)).sum(dim=0) / precision
    return mean, logvar


def kl_normal(mu_q: Tensor, logvar_q: Tensor, mu_p: Tensor, logvar_p: Tensor) -> Tensor:
    """KL(N(mu_q, var_q) || N(mu_p, var_p)) per sample, summed over the last dim (closed form).

    0.5 [r - 1 - log r + (mu_q - mu_p)^2 / var_p] with r = var_q / var_p, written with expm1 so
    that it is exactly 0 for identical Gaussians and never rounds below 0.
    """
    d = logvar_q - logvar_p
    kl = 0.5 * (torch.expm1(d) - d + (mu_q - mu_p) ** 2 * torch.exp(-logvar_p))
    return kl.sum(dim=-1)


def kl_std_normal(mu: Tensor, logvar: Tensor) -> Tensor:
    """KL(N(mu, var) || N(0, I)) per sample: the VAE's regulariser (Kingma & Welling 2014)."""
    return 0.5 * (torch.expm1(logvar) - logvar + mu**2).sum(dim=-1)


def log_normal(z: Tensor, mu: Tensor | None = None, logvar: Tensor | None = None) -> Tensor:
    """log N(z; mu, diag(exp(logvar))) summed over the last dim; None means 0 (standard normal)."""
    mu = torch.zeros_like(z) if mu is None else mu
    logvar = torch.zeros_like(z) if logvar is None else logvar
    return (-0.5 * (LOG_2PI + logvar + (z - mu) ** 2 * torch.exp(-logvar))).sum(dim=-1)


def log_mean_exp(x: Tensor, dim: int = 0) -> Tensor:
    """log(mean(exp(x))) along dim without overflow: the importance-sampling average."""
    return torch.logsumexp(x, dim=dim) - math.log(x.shape[dim])


def _sq_dists(a: Tensor, b: Tensor) -> Tensor:
    return ((a.unsqueeze(1) - b.unsqueeze(0)) ** 2).sum(dim=-1)


def kernel_matrix(a: Tensor, b: Tensor, kernel: str = "imq") -> Tensor:
    """k(a_i, b_j) for the two kernels of models.md, with d = number of dimensions.

    rbf: exp(-||a - b||^2 / d) (the MFM reference code's kernel).
    imq: C / (C + ||a - b||^2) with C = 2 d (inverse multiquadratic, as in WAE for N(0, I)).
    """
    d = a.shape[-1]
    sq = _sq_dists(a, b)
    if kernel == "rbf":
        return torch.exp(-sq / d)
    if kernel == "imq":
        c = 2.0 * d
        return c / (c + sq)
    raise ValueError(f"unknown MMD kernel {kernel!r}; choose 'imq' or 'rbf'")


def mmd(x: Tensor, y: Tensor, kernel: str = "imq", unbiased: bool = False) -> Tensor:
    """Squared maximum mean discrepancy between samples x (n, d) and y (m, d).

    Biased (V-statistic, the MFM reference's batch estimate, always >= 0) or unbiased
    (U-statistic: drops the k(x_i, x_i) diagonals, can dip below 0 when the two agree).
    """
    kxx, kyy = kernel_matrix(x, x, kernel), kernel_matrix(y, y, kernel)
    kxy = kernel_matrix(x, y, kernel)
    if not unbiased:
        return kxx.mean() + kyy.mean() - 2 * kxy.mean()
    n, m = x.shape[0], y.shape[0]
    sxx = (kxx.sum() - kxx.diagonal().sum()) / (n * (n - 1))
    syy = (kyy.sum() - kyy.diagonal().sum()) / (m * (m - 1))
    return sxx + syy - 2 * kxy.mean()


# ---- importance-weighted likelihoods (shared by MVAE, JMVAE and MFM) --------------------------


def _repeat(x: Tensor, k: int) -> Tensor:
    return x.unsqueeze(0).expand(k, *x.shape).reshape(k * x.shape[0], *x.shape[1:])


def iw_log_marginal(
    model: MultimodalModel,
    inputs: dict[str, Tensor],
    modalities: Collection[str],
    proposal: dict[str, Posterior],
    K: int,
    default_std: float = 1.0,
    chunk: int = 64,
    generator: torch.Generator | None = None,
) -> Tensor:
    """log p(x_S) ≈ log (1/K) sum_k p(x_S|z_k) p(z_k) / q(z_k), z_k ~ q: one value per sample.

    The IWAE estimator (Burda et al. 2016): a stochastic lower bound whose expectation rises
    with K towards log p(x_S) for any proposal that covers the posterior. Unweighted
    likelihoods (no lambda, beta = 1), because this is a density, not a training loss.
    A deterministic proposal (logvar None, as MFM's) gets the isotropic width `default_std`.
    """
    n = next(iter(proposal.values())).mean.shape[0]
    logws = []
    for start in range(0, K, chunk):
        k = min(chunk, K - start)
        z, log_q, log_p = {}, 0.0, 0.0
        for g, post in proposal.items():
            if isinstance(post, MixturePosterior):  # the mixture itself is the proposal
                parts = [
                    Posterior(_repeat(c.mean, k), _repeat(c.logvar, k))
                    for c in post.components.values()
                ]
                mixture = {str(i): c for i, c in enumerate(parts)}
                z[g] = MixturePosterior(parts[0].mean, parts[0].logvar, mixture).sample(generator)
                logs = torch.stack([log_normal(z[g], c.mean, c.logvar) for c in parts])
                log_q = log_q + torch.logsumexp(logs, dim=0) - math.log(len(parts))
                log_p = log_p + log_normal(z[g])
                continue
            mu = _repeat(post.mean, k)
            lv = (
                _repeat(post.logvar, k)
                if post.logvar is not None
                else torch.full_like(mu, 2 * math.log(default_std))
            )
            eps = torch.randn(mu.shape, generator=generator, dtype=mu.dtype).to(mu.device)
            z[g] = mu + eps * torch.exp(0.5 * lv)
            log_q = log_q + log_normal(z[g], mu, lv)
            log_p = log_p + log_normal(z[g])
        params = model.decode(z, modalities)
        log_px = sum(
            log_likelihood(model.specs[m], params[m], _repeat(inputs[m], k)) for m in modalities
        )
        logws.append((log_px + log_p - log_q).reshape(k, n))
    return log_mean_exp(torch.cat(logws, dim=0), dim=0)


def iw_log_likelihood(
    model: MultimodalModel,
    inputs: dict[str, Tensor],
    target_modalities: Collection[str],
    observed: Collection[str] | None,
    K: int,
    default_std: float = 1.0,
    generator: torch.Generator | None = None,
) -> Tensor:
    """Importance-weighted estimate of log p(x_T | x_O) (or log p(x_T) when O is empty).

    log p(x_T | x_O) = log p(x_T, x_O) - log p(x_O), each term by `iw_log_marginal` with the
    model's own posterior for exactly those modalities as proposal: q(z | x_T, x_O) for the
    joint and q(z | x_O) for the marginal. Using each term's own posterior keeps both
    estimates good (a prior proposal needs astronomically many samples); the difference is
    consistent as K grows but, unlike log p(x_T), is not a bound. A model that cannot encode
    one of the two subsets raises UnsupportedSubset, as `encode` does.
    """
    targets = list(dict.fromkeys(target_modalities))
    if not targets:
        raise ValueError("name at least one target modality")
    obs = [m for m in (observed or []) if m not in targets]
    joint = model.check_observed(targets + obs)
    with torch.no_grad():
        log_joint = iw_log_marginal(
            model, inputs, joint, model.encode(inputs, joint), K, default_std, generator=generator
        )
        if not obs:
            return log_joint
        obs = model.check_observed(obs)
        log_obs = iw_log_marginal(
            model, inputs, obs, model.encode(inputs, obs), K, default_std, generator=generator
        )
    return log_joint - log_obs


def linear_anneal(target: float, step: int, steps: int) -> float:
    """KL annealing (Bowman et al. 2016): weight rises linearly 0 -> target over `steps`."""
    if steps <= 0:
        return float(target)
    return float(target) * min(1.0, max(step, 0) / steps)
