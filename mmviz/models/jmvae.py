"""JMVAE and JMVAE-kl (Suzuki, Nakayama & Matsuo 2016): a joint encoder on all modalities.

Generative model as in the MVAE: z ~ N(0, I), x_i ~ p(x_i | z) independently. Inference is
one network q(z | x_1..x_M) reading every modality at once, trained with
    L_JM = E_{q(z|X)}[ sum_i lambda_i log p(x_i | z) ] - beta KL(q(z|X) || p(z)).
It cannot infer from a subset. JMVAE-kl adds encoders q(z | X_S) for subsets S, trained
towards the joint one:
    L = L_JM - alpha sum_S KL(q(z|X) || q(z|X_S)).
The paper's baseline JMVAE-zero instead feeds zeros for the missing modalities into the
joint encoder (`zero_fill`). With M > 2 modalities, inferring from every subset needs
2^M - 2 extra encoders (`subset_encoders="all"`): the exponential growth visible in
`parameter_count()` that motivates the MVAE's product of experts.
"""

from __future__ import annotations

import itertools
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass, field

import torch
from torch import Tensor, nn

from mmviz.data.base import ModalitySpec
from mmviz.models.base import (
    ModelConfig,
    MultimodalModel,
    Posterior,
    UnsupportedSubset,
    log_likelihood,
)
from mmviz.models.mvae import LabelDecoderUses
from mmviz.models.nets import make_decoder, make_encoder, mlp
from mmviz.models.stats import kl_normal, kl_std_normal, linear_anneal


@dataclass
class JMVAEConfig(ModelConfig):
    """JMVAE settings; defaults are JMVAE-kl as reproduced by MultiVae on MNIST.

    latent_dim: size of z (64).
    hidden: width of hidden layers and of each modality's feature vector (512).
    enc_layers: hidden layers of each modality's feature network inside an encoder (2).
    dec_layers: hidden layers per decoder (3), as in the MVAE reference.
    recurrent: read token / feature sequences with a GRU instead of pooling / flattening.
    alpha: weight of sum_S KL(q(z|X) || q(z|X_S)); 0 is plain JMVAE. The paper's range is
        0.01-1; MultiVae reproduces its MNIST log p(x) with 0.1. Larger alpha: better
        inference from subsets, slightly worse joint likelihood.
    subset_encoders: which subset encoders q(z|X_S) exist: "none" (plain JMVAE: only the
        joint one), "unimodal" (one per modality, the paper's JMVAE-kl), "all" (every proper
        subset: 2^M - 2 of them), or "auto" ("none" if alpha == 0, else "unimodal"; subset
        encoders get no gradient without the alpha term).
    zero_fill: JMVAE-zero, the paper's baseline: a subset without its own encoder is fed to
        the joint encoder with zeros for the missing modalities' features (for a label, the
        same as a zero one-hot input through a linear layer). Off: such subsets raise.
    weights: lambda_i per modality name (missing names weigh 1), as in `MVAEConfig`.
    beta: weight of KL(q(z|X) || p(z)) once annealing is over.
    anneal_steps: beta rises linearly from 0 over this many steps (0: off). The alpha term
        is not annealed.
    """

    latent_dim: int = 64
    hidden: int = 512
    enc_layers: int = 2
    dec_layers: int = 3
    recurrent: bool = False
    alpha: float = 0.1
    subset_encoders: str = "auto"
    zero_fill: bool = False
    weights: dict[str, float] = field(default_factory=dict)
    beta: float = 1.0
    anneal_steps: int = 1000


# 'all' subset encoders grow as 2^M - 2; past this many modalities a typo in a config would
# build (and try to train) hundreds of networks.
MAX_ALL_SUBSETS_MODALITIES = 6


def _subsets(modalities: list[str], mode: str, alpha: float) -> list[tuple[str, ...]]:
    """Proper subsets that get their own encoder, per `JMVAEConfig.subset_encoders`."""
    if mode == "auto":
        mode = "none" if alpha == 0 else "unimodal"
    if mode == "none":
        return []
    if mode == "unimodal":
        return [(m,) for m in modalities] if len(modalities) > 1 else []
    if mode == "all":
        if len(modalities) > MAX_ALL_SUBSETS_MODALITIES:
            raise ValueError(
                f"subset_encoders='all' with {len(modalities)} modalities would build "
                f"{2 ** len(modalities) - 2} subset encoders; it is limited to "
                f"{MAX_ALL_SUBSETS_MODALITIES} modalities ({2**MAX_ALL_SUBSETS_MODALITIES - 2} "
                "encoders). Use 'unimodal', or MVAE, whose M experts serve every subset"
            )
        return [c for k in range(1, len(modalities)) for c in itertools.combinations(modalities, k)]
    raise ValueError(f"unknown subset_encoders {mode!r}; choose none, unimodal, all or auto")


class SubsetEncoder(nn.Module):
    """q(z | X_S): per-modality feature networks, concatenated, then an MLP to (mu, logvar)."""

    def __init__(
        self, specs: Sequence[ModalitySpec], hidden: int, layers: int, latent: int, recurrent: bool
    ) -> None:
        super().__init__()
        self.names = [s.name for s in specs]
        self.features = nn.ModuleDict(
            {s.name: make_encoder(s, (hidden,) * layers, hidden, recurrent) for s in specs}
        )
        self.head = nn.Sequential(nn.SiLU(), mlp([len(specs) * hidden, hidden, 2 * latent]))

    def forward(
        self, inputs: dict[str, Tensor], zero: Collection[str] = ()
    ) -> tuple[Tensor, Tensor]:
        """(mu, logvar); modalities in `zero` contribute a zero feature vector (JMVAE-zero)."""
        present = [self.features[m](inputs[m]) for m in self.names if m not in zero]
        blank = torch.zeros_like(present[0])
        feats = iter(present)
        cat = torch.cat([blank if m in zero else next(feats) for m in self.names], dim=-1)
        mu, logvar = self.head(cat).chunk(2, dim=-1)
        return mu, logvar


def subset_name(subset: Iterable[str]) -> str:
    return "+".join(subset)


class JMVAE(LabelDecoderUses, MultimodalModel):
    """Joint-encoder multimodal VAE, optionally with subset encoders (JMVAE-kl) or zero-fill."""

    name = "jmvae"
    config_class = JMVAEConfig
    paper = (
        "Suzuki, Nakayama & Matsuo. Joint Multimodal Learning with Deep Generative Models. "
        "ICLR workshop 2017 (arXiv 2016)"
    )

    def __init__(self, config: JMVAEConfig, specs: dict) -> None:
        super().__init__(config, specs)
        self.config: JMVAEConfig = config
        c = config
        mods = self.modalities
        self.subsets = _subsets(mods, c.subset_encoders, c.alpha)
        self.encoders = nn.ModuleDict(
            {
                subset_name(s): SubsetEncoder(
                    [self.specs[m] for m in s], c.hidden, c.enc_layers, c.latent_dim, c.recurrent
                )
                for s in [tuple(mods), *self.subsets]
            }
        )
        self.decoders = nn.ModuleDict(
            {
                m: make_decoder(s, c.latent_dim, (c.hidden,) * c.dec_layers)
                for m, s in self.specs.items()
            }
        )

    @property
    def latent_groups(self) -> dict[str, int]:
        return {"z": self.config.latent_dim}

    @property
    def encoder_subsets(self) -> list[tuple[str, ...]]:
        """Every subset with its own encoder, the joint one first."""
        return [tuple(self.modalities), *self.subsets]

    def supported_subsets(self) -> list[list[str]] | None:
        """JMVAE-zero feeds any subset to the joint encoder; otherwise only the subsets with an
        encoder of their own, the joint one first."""
        if self.config.zero_fill:
            return None
        return [list(s) for s in self.encoder_subsets]

    # ---- inference ---------------------------------------------------------------------
    def encode(
        self, inputs: dict[str, Tensor], observed: Iterable[str] | None = None
    ) -> dict[str, Posterior]:
        obs = self.check_observed(observed)
        key = subset_name(obs)
        if key in self.encoders:
            mu, logvar = self.encoders[key](inputs)
        elif self.config.zero_fill:
            missing = [m for m in self.modalities if m not in obs]
            mu, logvar = self.encoders[subset_name(self.modalities)](inputs, zero=missing)
        else:
            raise UnsupportedSubset(
                f"JMVAE has no encoder for {{{', '.join(obs)}}}; train with "
                f"subset_encoders='unimodal' (single modalities) or 'all' (every subset), "
                f"or use zero_fill=True (JMVAE-zero)"
            )
        return {"z": Posterior(mu, logvar)}

    def decode(
        self, latents: dict[str, Tensor], modalities: Iterable[str] | None = None
    ) -> dict[str, Tensor]:
        z = latents["z"]
        return {m: self.decoders[m](z) for m in (modalities or self.modalities)}

    # ---- objective ---------------------------------------------------------------------
    def _elbo(
        self,
        inputs: dict[str, Tensor],
        obs: list[str],
        post: Posterior,
        beta: float,
        weighted: bool,
    ) -> dict[str, Tensor]:
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

    def elbo_terms(
        self,
        inputs: dict[str, Tensor],
        subset: Collection[str] | None = None,
        beta: float = 1.0,
        weighted: bool = False,
    ) -> dict[str, Tensor]:
        """One-sample ELBO of the modalities in `subset` with q(z | X_S) as the posterior.

        Same keys as `MVAE.elbo_terms`: "recon", "kl", "elbo", "ll[m]" (per sample).
        """
        obs = self.check_observed(subset)
        return self._elbo(inputs, obs, self.encode(inputs, obs)["z"], beta, weighted)

    def loss(
        self, inputs: dict[str, Tensor], targets: dict[str, Tensor], step: int
    ) -> tuple[Tensor, dict[str, float]]:
        """-L_JM + alpha sum_S KL(q(z|X) || q(z|X_S)), averaged over the batch."""
        beta = linear_anneal(self.config.beta, step, self.config.anneal_steps)
        joint = self.encode(inputs)["z"]
        t = self._elbo(inputs, self.modalities, joint, beta, weighted=True)
        total = (-t["elbo"]).mean()
        terms = {"beta": beta, "recon": t["recon"].mean().item(), "kl": t["kl"].mean().item()}
        if self.config.alpha > 0:
            for s in self.subsets:
                mu, logvar = self.encoders[subset_name(s)](inputs)
                kl = kl_normal(joint.mean, joint.logvar, mu, logvar).mean()
                total = total + self.config.alpha * kl
                terms[f"kl[{subset_name(s)}]"] = kl.item()
        return total, terms
