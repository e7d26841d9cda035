"""MoPoE-VAE: a mixture of products of experts (Sutter, Daunhawer & Vogt, ICLR 2021).

Generative model, as the MVAE's: z ~ N(0, I), each modality x_i ~ p(x_i | z) given z.
Inference: one Gaussian expert q~(z | x_i) per modality, as in the MVAE. For every non-empty
subset S of the observed modalities, the product of its experts (and the prior expert)
    q~(z | X_S) = PoE({q~(z | x_i) : i in S}),
and the posterior is their uniform mixture
    q(z | X) = 1/|P(X)| sum_{S in P(X)} q~(z | X_S).
So it keeps the MVAE's M networks, and its mixture keeps a single precise expert from taking
the posterior over (PoE's weakness with many modalities: MMVAE's point), while each subset's
product still sharpens with more evidence (PoE's strength).

Objective (the paper's eq. 8, computed the way its reference code does): one z per sample, from
a mixture component assigned to that sample, reconstructs *every* modality; the KL of the
mixture to the prior is replaced by the mean of its components' KLs (an upper bound, by the
convexity of KL):
    ELBO = E_{z ~ q~(z|X_S), S ~ U(P(X))}[ sum_i lambda_i log p(x_i | z) ]
           - beta * 1/|P(X)| sum_S KL(q~(z | X_S) || p(z)).
Every subset's posterior is thus trained to explain all modalities, which is what makes
generation from one modality coherent.

Differences from the reference code: the prior expert N(0, I) is multiplied into every
subset's product (the MVAE's convention; the reference adds it to the full set only), and the
batch is shared among components by `randperm(n) % P`, so when P does not divide the batch the
first (single-modality) components get one sample more.
"""

from __future__ import annotations

import itertools
from collections.abc import Collection, Iterable
from dataclasses import dataclass, field

import torch
from torch import Tensor

from mmviz.models.base import (
    MixturePosterior,
    ModelConfig,
    MultimodalModel,
    Posterior,
    UnsupportedSubset,
    log_likelihood,
)
from mmviz.models.mvae import LabelDecoderUses, subset_name
from mmviz.models.nets import gaussian_experts_and_decoders
from mmviz.models.stats import kl_std_normal, linear_anneal, product_of_experts

MAX_MODALITIES = 6  # 2^M - 1 mixture components: 63 at six modalities


@dataclass
class MoPoEConfig(ModelConfig):
    """MoPoE-VAE settings. The paper's PolyMNIST model uses a 512-d latent and CNNs; sizes here
    are the MVAE's on the same data so that the two compare like for like.

    latent_dim: size of z.
    hidden: width of every hidden layer.
    enc_layers, dec_layers: hidden layers per expert / decoder (as MVAEConfig).
    recurrent: read token / feature sequences with a GRU.
    weights: lambda_i per modality name (missing names weigh 1), as in the MVAE.
    beta: weight of the KL term once annealing is over (1 = the objective above).
    anneal_steps: beta rises linearly from 0 over this many optimizer steps; 0 turns it off.
    """

    latent_dim: int = 32
    hidden: int = 256
    enc_layers: int = 2
    dec_layers: int = 2
    recurrent: bool = False
    weights: dict[str, float] = field(default_factory=dict)
    beta: float = 1.0
    anneal_steps: int = 0


def nonempty_subsets(names: list[str]) -> list[tuple[str, ...]]:
    """Every non-empty subset, smallest first (the mixture's components)."""
    return [c for k in range(1, len(names) + 1) for c in itertools.combinations(names, k)]


class MoPoE(LabelDecoderUses, MultimodalModel):
    """Mixture of products of experts: one expert and one decoder per modality."""

    name = "mopoe"
    config_class = MoPoEConfig
    paper = "Sutter, Daunhawer & Vogt. Generalized Multimodal ELBO. ICLR 2021 (MoPoE-VAE)"

    def __init__(self, config: MoPoEConfig, specs: dict) -> None:
        super().__init__(config, specs)
        if len(self.specs) > MAX_MODALITIES:
            raise ValueError(
                f"MoPoE mixes all 2^M - 1 subsets; {len(self.specs)} modalities is more than "
                f"the {MAX_MODALITIES} supported here"
            )
        self.config: MoPoEConfig = config
        self.experts, self.decoders = gaussian_experts_and_decoders(
            self.specs,
            config.latent_dim,
            config.hidden,
            config.enc_layers,
            config.dec_layers,
            config.recurrent,
        )

    @property
    def latent_groups(self) -> dict[str, int]:
        return {"z": self.config.latent_dim}

    @property
    def expert_modalities(self) -> list[str]:
        return self.modalities

    def mixture_components(self, observed: Collection[str] | None = None) -> list[str]:
        """Every non-empty subset of the observed modalities, smallest first."""
        return [subset_name(s) for s in nonempty_subsets(self.check_observed(observed))]

    # ---- inference ---------------------------------------------------------------------
    def expert(self, inputs: dict[str, Tensor], m: str) -> tuple[Tensor, Tensor]:
        """Modality m's Gaussian expert q~(z | x_m): (mean, logvar), each (n, d)."""
        mu, logvar = self.experts[m](inputs[m]).chunk(2, dim=-1)
        return mu, logvar

    def components(
        self,
        inputs: dict[str, Tensor],
        observed: Iterable[str],
        experts: dict[str, tuple[Tensor, Tensor]] | None = None,
    ) -> dict[str, Posterior]:
        """The mixture's components: subset name -> the product of its experts (and the
        prior), for every non-empty subset of `observed`."""
        obs = list(observed)
        known = experts or {m: self.expert(inputs, m) for m in obs}
        out = {}
        for subset in nonempty_subsets(obs):
            mu = torch.stack([known[m][0] for m in subset])
            lv = torch.stack([known[m][1] for m in subset])
            out[subset_name(subset)] = Posterior(*product_of_experts(mu, lv, include_prior=True))
        return out

    def encode(
        self, inputs: dict[str, Tensor], observed: Iterable[str] | None = None
    ) -> dict[str, Posterior]:
        obs = self.check_observed(observed)
        return {"z": MixturePosterior.of(self.components(inputs, obs))}

    def decode(
        self, latents: dict[str, Tensor], modalities: Iterable[str] | None = None
    ) -> dict[str, Tensor]:
        z = latents["z"]
        return {m: self.decoders[m](z) for m in (modalities or self.modalities)}

    # ---- objective ---------------------------------------------------------------------
    def loss(
        self, inputs: dict[str, Tensor], targets: dict[str, Tensor], step: int
    ) -> tuple[Tensor, dict[str, float]]:
        """Mean negative MoPoE ELBO over the batch (see the module docstring)."""
        available = [m for m in self.modalities if m in inputs]
        if not available:
            raise UnsupportedSubset("a batch needs at least one modality")
        beta = linear_anneal(self.config.beta, step, self.config.anneal_steps)
        parts = self.components(inputs, available)
        n = inputs[available[0]].shape[0]
        means = torch.stack([p.mean for p in parts.values()])  # (P, n, d)
        logvars = torch.stack([p.logvar for p in parts.values()])
        # each sample draws its z from one component; every component gets a share of the batch
        which = torch.randperm(n) % len(parts)
        rows = torch.arange(n)
        mu, lv = means[which, rows], logvars[which, rows]
        z = mu + torch.randn_like(mu) * torch.exp(0.5 * lv)
        params = self.decode({"z": z}, available)
        recon = torch.zeros(n)
        terms: dict[str, float] = {"beta": beta}
        for m in available:
            ll = log_likelihood(self.specs[m], params[m], inputs[m])
            terms[f"ll[{m}]"] = ll.mean().item()
            recon = recon + self.config.weights.get(m, 1.0) * ll
        kl = kl_std_normal(means, logvars).mean(dim=0)  # mean over components, per sample
        terms["kl"] = kl.mean().item()
        return -(recon - beta * kl).mean(), terms
