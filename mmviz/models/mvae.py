"""MVAE: the multimodal VAE with a product-of-experts posterior (Wu & Goodman, NeurIPS 2018).

Generative model: z ~ N(0, I), each modality x_i ~ p(x_i | z) independently given z.
Inference: one Gaussian expert q~(z | x_i) per modality; for any observed subset S the
posterior is the product of the experts in S and the prior expert N(0, I):
    T_i = 1 / sigma_i^2,  sigma_S^2 = 1 / (1 + sum_{i in S} T_i),  mu_S = sigma_S^2 sum_i mu_i T_i.
So M inference networks serve all 2^M - 1 subsets (the paper's point against JMVAE).

Training objective per batch (the paper's sub-sampled one): ELBO(all) + sum_i ELBO({x_i}) +
k ELBOs of random subsets, where
    ELBO(S) = E_{q(z|X_S)}[ sum_{i in S} lambda_i log p(x_i | z) ] - beta KL(q(z|X_S) || p(z)).
With two modalities that is exactly three ELBOs: joint, image-only, label-only.
"""

from __future__ import annotations

import itertools
from collections.abc import Collection, Iterable
from dataclasses import dataclass, field
from typing import ClassVar

import torch
from torch import Tensor, nn

from mmviz.models.base import (
    MixturePosterior,
    ModelConfig,
    MultimodalModel,
    Posterior,
    log_likelihood,
)
from mmviz.models.nets import gaussian_experts_and_decoders
from mmviz.models.stats import (
    iw_log_likelihood,
    kl_std_normal,
    linear_anneal,
    product_of_experts,
    quotient_of_experts,
)


@dataclass
class MVAEConfig(ModelConfig):
    """MVAE settings; defaults follow the MNIST reference code (mhw32/multimodal-vae-public).

    latent_dim: size of z (64 in the paper's MNIST experiments).
    hidden: width of every hidden layer (512 in the reference).
    enc_layers: hidden layers per expert (2: 784-512-512, Embedding(10, 512)-512).
    dec_layers: hidden layers per decoder (3: z-512-512-512-784).
    recurrent: read token / feature sequences with a GRU instead of pooling / flattening.
    weights: lambda_i per modality name (missing names weigh 1). The paper uses
        lambda_label = 50 on MNIST: a 784-pixel image's log-likelihood is hundreds of nats
        while a 10-way label's is at most log 10, so unweighted, the shared z learns to ignore
        the label and label-only inference is poor. It is a knob because the right value
        depends on the modalities' sizes; the default is the unweighted ELBO.
    beta: weight of KL(q || p) once annealing is over (1 = the ELBO).
    anneal_steps: KL annealing, beta rising linearly from 0 over this many optimizer steps
        (the reference anneals per minibatch over its first epochs); 0 turns it off.
    subsample: True = the paper's sub-sampled objective (all + each single modality + k
        random subsets); False = ELBO(all) only, the paper's ablation, after which inference
        from a single modality degrades because no expert was trained to stand alone.
    k_subsets: number of random subsets of size 2..M-1 added per batch (none exist if M <= 2).
    poe: "product" (the MVAE) or "quotient" (MVAE-Q, the paper's ablation: see
        `stats.quotient_of_experts`; expert variances are kept below 1 for it).
    """

    latent_dim: int = 64
    hidden: int = 512
    enc_layers: int = 2
    dec_layers: int = 3
    recurrent: bool = False
    weights: dict[str, float] = field(default_factory=dict)
    beta: float = 1.0
    anneal_steps: int = 1000
    subsample: bool = True
    k_subsets: int = 1
    poe: str = "product"


def _raw_logvar(raw: Tensor) -> Tensor:
    return raw


def _sub_unit_logvar(raw: Tensor) -> Tensor:
    """log-variance < 0 (variance < 1), so that a quotient of experts stays a Gaussian."""
    return -nn.functional.softplus(raw)


def _product(mu: Tensor, logvar: Tensor) -> tuple[Tensor, Tensor]:
    return product_of_experts(mu, logvar, include_prior=True)


# poe name -> (expert log-variance parameterisation, how experts combine)
COMBINERS = {
    "product": (_raw_logvar, _product),
    "quotient": (_sub_unit_logvar, quotient_of_experts),
}


def subset_name(subset: Iterable[str]) -> str:
    return "+".join(subset)


class LabelDecoderUses:
    """What single-latent VAEs (MVAE, JMVAE, MoPoE, MMVAE) do with a posterior: predict through
    the label decoder (no extra classifier head, faithful to the papers) and estimate
    likelihoods."""

    kind: ClassVar[str] = "generative"
    estimates_log_likelihood: ClassVar[bool] = True

    def predict_from_nothing(self, n: int) -> Tensor:
        """The label decoder at the prior mean z = 0 (for the MVAE this is exactly its product
        of experts with no expert)."""
        label = self.label_modality
        if label is None:
            return super().predict_from_nothing(n)
        return torch.softmax(self.decode(self.prior_mean(n), [label])[label], dim=-1)

    def predict(self, inputs: dict[str, Tensor], observed: Iterable[str] | None = None) -> Tensor:
        """Class probabilities from the label decoder at the posterior mean (for a mixture,
        the mean over its components of the label decoder at each component's mean)."""
        label = self.label_modality
        if label is None:
            raise NotImplementedError(
                f"{self.name} predicts through its label decoder; it was built without a "
                f"categorical modality (it has {self.modalities})"
            )
        post = self.encode(inputs, observed)["z"]
        if isinstance(post, MixturePosterior):
            # a mixture's mean can fall between its components' modes: average what each
            # component says instead (MoPoE, MMVAE)
            probs = [
                torch.softmax(self.decoders[label](c.mean), -1) for c in post.components.values()
            ]
            return torch.stack(probs).mean(dim=0)
        return torch.softmax(self.decoders[label](post.mean), dim=-1)

    def log_likelihood_iw(
        self,
        inputs: dict[str, Tensor],
        target_modalities: Collection[str],
        observed: Collection[str] | None = None,
        K: int = 100,
    ) -> Tensor:
        """log p(x_T | x_O) per sample by importance sampling (see `stats.iw_log_likelihood`);
        raises UnsupportedSubset where the model has no encoder for T+O or O."""
        return iw_log_likelihood(self, inputs, target_modalities, observed, K)


class MVAE(LabelDecoderUses, MultimodalModel):
    """Product-of-experts multimodal VAE: one expert and one decoder per modality."""

    name = "mvae"
    config_class = MVAEConfig
    paper = (
        "Wu & Goodman. Multimodal Generative Models for Scalable Weakly-Supervised Learning. "
        "NeurIPS 2018"
    )

    def __init__(self, config: MVAEConfig, specs: dict) -> None:
        super().__init__(config, specs)
        if config.poe not in COMBINERS:
            raise ValueError(f"unknown poe {config.poe!r}; choose from {sorted(COMBINERS)}")
        self.config: MVAEConfig = config
        self.experts, self.decoders = gaussian_experts_and_decoders(
            self.specs,
            config.latent_dim,
            config.hidden,
            config.enc_layers,
            config.dec_layers,
            config.recurrent,
        )
        self._logvar, self._combine = COMBINERS[config.poe]

    @property
    def latent_groups(self) -> dict[str, int]:
        return {"z": self.config.latent_dim}

    @property
    def is_product_of_experts(self) -> bool:
        # MVAE-Q's quotient is not a product a page could take apart expert by expert
        return self.config.poe == "product"

    @property
    def expert_modalities(self) -> list[str]:
        return self.modalities

    # ---- inference ---------------------------------------------------------------------
    def expert(self, inputs: dict[str, Tensor], m: str) -> tuple[Tensor, Tensor]:
        """Modality m's Gaussian expert q~(z | x_m): (mean, logvar), each (n, d)."""
        mu, raw = self.experts[m](inputs[m]).chunk(2, dim=-1)
        return mu, self._logvar(raw)

    def expert_params(
        self,
        inputs: dict[str, Tensor],
        observed: Iterable[str],
        experts: dict[str, tuple[Tensor, Tensor]] | None = None,
    ) -> tuple[Tensor, Tensor]:
        """Each observed modality's Gaussian expert, stacked: (mean, logvar), each (|S|, n, d).
        `experts` holds ones already computed (the loss runs each network once per batch)."""
        known = experts or {}
        pairs = [known[m] if m in known else self.expert(inputs, m) for m in observed]
        return torch.stack([mu for mu, _ in pairs]), torch.stack([lv for _, lv in pairs])

    def encode(
        self,
        inputs: dict[str, Tensor],
        observed: Iterable[str] | None = None,
        experts: dict[str, tuple[Tensor, Tensor]] | None = None,
    ) -> dict[str, Posterior]:
        obs = self.check_observed(observed)
        mean, logvar = self._combine(*self.expert_params(inputs, obs, experts))
        return {"z": Posterior(mean, logvar)}

    def decode(
        self, latents: dict[str, Tensor], modalities: Iterable[str] | None = None
    ) -> dict[str, Tensor]:
        z = latents["z"]
        return {m: self.decoders[m](z) for m in (modalities or self.modalities)}

    # ---- objective ---------------------------------------------------------------------
    def elbo_terms(
        self,
        inputs: dict[str, Tensor],
        subset: Collection[str] | None = None,
        beta: float = 1.0,
        weighted: bool = False,
        experts: dict[str, tuple[Tensor, Tensor]] | None = None,
    ) -> dict[str, Tensor]:
        """One-sample ELBO(S) per sample: "recon" (sum over S of [lambda_i] log p(x_i|z)),
        "kl" (closed form), "elbo" = recon - beta kl, and "ll[m]" per modality (unweighted).

        weighted=False with beta=1 is the true ELBO, a lower bound of log p(X_S) (evaluation);
        the training loss uses the lambdas and the annealed beta.
        """
        obs = self.check_observed(subset)
        post = self.encode(inputs, obs, experts)["z"]
        params = self.decode({"z": post.sample()}, obs)
        out: dict[str, Tensor] = {}
        recon = 0.0
        for m in obs:
            ll = log_likelihood(self.specs[m], params[m], inputs[m])
            out[f"ll[{m}]"] = ll
            recon = recon + (self.config.weights.get(m, 1.0) if weighted else 1.0) * ll
        out["recon"] = recon
        out["kl"] = kl_std_normal(post.mean, post.logvar)
        out["elbo"] = out["recon"] - beta * out["kl"]
        return out

    def training_subsets(self, available: list[str]) -> list[list[str]]:
        """The subsets whose ELBOs make up this batch's objective (see `MVAEConfig.subsample`)."""
        subsets = [available]
        if not self.config.subsample or len(available) < 2:
            return subsets
        subsets += [[m] for m in available]
        middle = [
            list(c) for k in range(2, len(available)) for c in itertools.combinations(available, k)
        ]
        if middle and self.config.k_subsets > 0:
            pick = torch.randperm(len(middle))[: self.config.k_subsets]
            subsets += [middle[int(i)] for i in pick]
        return subsets

    def loss(
        self, inputs: dict[str, Tensor], targets: dict[str, Tensor], step: int
    ) -> tuple[Tensor, dict[str, float]]:
        """Sum over the batch's subsets of the mean negative (weighted, annealed) ELBO.

        Modalities absent from `inputs` are left out (the paper's weakly-supervised setting).
        """
        beta = linear_anneal(self.config.beta, step, self.config.anneal_steps)
        available = [m for m in self.modalities if m in inputs]
        total = torch.zeros(())
        terms: dict[str, float] = {"beta": beta}
        subsets = self.training_subsets(available)
        # every subset's PoE reuses one pass of each expert network: with five modalities the
        # sub-sampled objective would otherwise run each expert 2-3 times per batch
        experts = {m: self.expert(inputs, m) for m in available} if len(subsets) > 1 else None
        for subset in subsets:
            t = self.elbo_terms(inputs, subset, beta=beta, weighted=True, experts=experts)
            total = total + (-t["elbo"]).mean()
            key = "all" if len(subset) == len(available) else subset_name(subset)
            terms[f"recon[{key}]"] = t["recon"].mean().item()
            terms[f"kl[{key}]"] = t["kl"].mean().item()
        return total, terms
