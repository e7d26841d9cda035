"""MMVAE: a mixture of unimodal experts (Shi, Siddharth, Paige & Torr; NeurIPS 2019).

Generative model, as the MVAE's: z ~ N(0, I), each modality x_i ~ p(x_i | z) given z.
Inference: one Gaussian expert q_i(z | x_i) per modality, and for an observed set S their
uniform mixture
    q(z | X_S) = 1/|S| sum_{i in S} q_i(z | x_i).
A mixture cannot be taken over by one precise expert the way a product can, and a sample from
any expert must explain every modality: that is what makes cross-modal generation coherent.

Objective (the paper's stratified importance-weighted bound, eq. 4): for each modality m,
K samples z_m^k ~ q_m(z | x_m), and
    L = 1/M sum_m log 1/K sum_k  p(z_m^k) p(X | z_m^k) / q(z_m^k | X),
where q(z | X) is the whole mixture. Gradients use DReG (Tucker et al. 2019), as the paper's
best runs do: the weights w_k = p(z, X) / q(z | X) are computed with the variational
parameters held fixed (only the path through z carries gradient to the encoders), and the
encoders' gradients are weighted by the squared normalised weights, the decoders' by the
normalised weights. With K = 1 it is the stratified ELBO with the path-derivative estimator.

Here the prior and posteriors are Gaussian (the paper uses Laplace on its image pairs), so the
MMVAE shares its experts' form with the MVAE and MoPoE it is compared with.
"""

from __future__ import annotations

import math
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
from mmviz.models.mvae import LabelDecoderUses
from mmviz.models.nets import gaussian_experts_and_decoders
from mmviz.models.stats import log_normal


@dataclass
class MMVAEConfig(ModelConfig):
    """MMVAE settings (sizes as the MVAE's and MoPoE's on the same data, to compare them).

    latent_dim, hidden, enc_layers, dec_layers, recurrent: as MVAEConfig.
    weights: lambda_i per modality (missing names weigh 1): the paper rescales each modality's
        likelihood; the label's log 10 nats against an image's hundreds needs it here too.
    k: importance samples per modality (the paper: 30 on MNIST-SVHN; each costs M decodes).
    dreg: DReG gradients (True, the paper's best); False = the plain IWAE gradient.
    """

    latent_dim: int = 32
    hidden: int = 256
    enc_layers: int = 2
    dec_layers: int = 2
    recurrent: bool = False
    weights: dict[str, float] = field(default_factory=dict)
    k: int = 1
    dreg: bool = True


class MMVAE(LabelDecoderUses, MultimodalModel):
    """Mixture of unimodal experts: one expert and one decoder per modality."""

    name = "mmvae"
    config_class = MMVAEConfig
    paper = (
        "Shi, Siddharth, Paige & Torr. Variational Mixture-of-Experts Autoencoders for "
        "Multi-Modal Deep Generative Models. NeurIPS 2019"
    )

    def __init__(self, config: MMVAEConfig, specs: dict) -> None:
        super().__init__(config, specs)
        if config.k < 1:
            raise ValueError(f"k (importance samples) must be at least 1, not {config.k}")
        self.config: MMVAEConfig = config
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
        """One component per observed modality: its own expert."""
        return self.check_observed(observed)

    # ---- inference ---------------------------------------------------------------------
    def expert(self, inputs: dict[str, Tensor], m: str) -> Posterior:
        """Modality m's Gaussian q_m(z | x_m)."""
        mu, logvar = self.experts[m](inputs[m]).chunk(2, dim=-1)
        return Posterior(mu, logvar)

    def components(
        self, inputs: dict[str, Tensor], observed: Iterable[str]
    ) -> dict[str, Posterior]:
        """The mixture's components: one expert per observed modality."""
        return {m: self.expert(inputs, m) for m in observed}

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
    @staticmethod
    def mixture_log_density(z: Tensor, parts: list[Posterior]) -> Tensor:
        """log q(z | X) = log 1/M sum_m q_m(z | x_m), for z of shape (..., n, d)."""
        logs = torch.stack([log_normal(z, p.mean, p.logvar) for p in parts])
        return torch.logsumexp(logs, dim=0) - math.log(len(parts))

    def loss(
        self, inputs: dict[str, Tensor], targets: dict[str, Tensor], step: int
    ) -> tuple[Tensor, dict[str, float]]:
        """Negative stratified IWAE bound, mean over the batch (see the module docstring)."""
        available = [m for m in self.modalities if m in inputs]
        if not available:
            raise UnsupportedSubset("a batch needs at least one modality")
        k = self.config.k
        parts = self.components(inputs, available)
        fixed = [Posterior(p.mean.detach(), p.logvar.detach()) for p in parts.values()]
        total = torch.zeros(())
        terms: dict[str, float] = {}
        for m, q in parts.items():
            eps = torch.randn((k, *q.mean.shape))
            z = q.mean + eps * q.std  # (k, n, d), reparameterised through expert m
            flat = z.reshape(-1, z.shape[-1])
            params = self.decode({"z": flat}, available)
            recon = torch.zeros(flat.shape[0])
            for j in available:
                x = inputs[j].repeat(k, *([1] * (inputs[j].dim() - 1)))
                recon = recon + self.config.weights.get(j, 1.0) * log_likelihood(
                    self.specs[j], params[j], x
                )
            recon = recon.reshape(k, -1)
            q_parts = fixed if self.config.dreg else list(parts.values())
            log_w = log_normal(z) + recon - self.mixture_log_density(z, q_parts)  # (k, n)
            bound = torch.logsumexp(log_w, dim=0) - math.log(k)
            terms[f"bound[{m}]"] = bound.mean().item()
            if self.config.dreg and self.training and z.requires_grad:
                weights = torch.softmax(log_w, dim=0).detach()
                # the encoders' path gradient is weighted by w~^2, the decoders' by w~
                z.register_hook(lambda grad, w=weights: w.unsqueeze(-1) * grad)
                total = total - (weights * log_w).sum(dim=0).mean()
            else:
                total = total - bound.mean()
        return total / len(parts), terms
