"""The one interface every model implements, so pages and interpretation never special-case one.

Inputs are `dict[str, Tensor]` keyed by modality name, plus the set of observed modalities
(as in MultiVae). A model either handles an observed subset or raises `UnsupportedSubset`
saying why: it never silently falls back to another inference path.

Vocabulary used throughout:
- latent group: a named block of latent dimensions (MVAE/JMVAE: "z"; MFM: "y" shared plus
  one group per modality, named after it).
- decoder params: what a decoder outputs for a modality, in the form its likelihood needs
  (logits for bernoulli/categorical, the mean for gaussian/laplace); `to_data_space` turns
  them into something shaped like the data (probabilities / class probabilities / values).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Collection, Iterable
from dataclasses import dataclass
from typing import Any, ClassVar

import torch
from torch import Tensor, nn

from mmviz.data.base import ModalitySpec


@dataclass
class TrainingPhase:
    """One stage of training: a loss over a set of parameters (None = all of them).

    Most models have one phase. MFM adds a second, its surrogate inference networks, trained
    after the main model with the main model frozen (Tsai et al. 2019, section 3.3).
    """

    name: str
    loss: Callable[[dict[str, Tensor], dict[str, Tensor], int], tuple[Tensor, dict[str, float]]]
    parameters: list[nn.Parameter] | None = None
    # called once just before the phase trains, after the phases before it (MFM: start the
    # surrogates from the trained main encoders)
    start: Callable[[], None] | None = None


class UnsupportedSubset(ValueError):
    """The model has no inference path for this set of observed modalities."""


@dataclass
class Posterior:
    """A diagonal Gaussian (mean, log-variance); deterministic encoders leave logvar None."""

    mean: Tensor
    logvar: Tensor | None = None

    @property
    def std(self) -> Tensor:
        if self.logvar is None:
            return torch.zeros_like(self.mean)
        return torch.exp(0.5 * self.logvar)

    def sample(self, generator: torch.Generator | None = None) -> Tensor:
        if self.logvar is None:
            return self.mean
        eps = torch.randn(self.mean.shape, generator=generator, dtype=self.mean.dtype)
        return self.mean + eps.to(self.mean.device) * self.std


@dataclass
class MixturePosterior(Posterior):
    """A uniform mixture of diagonal Gaussians (MoPoE, MMVAE). `mean` and `logvar` are the
    mixture's own moments, so pages that show a mean and a spread stay right; `sample` draws a
    component per sample, then from it, which is what generation from a mixture means."""

    components: dict[str, Posterior] = dataclasses.field(default_factory=dict)

    @classmethod
    def of(cls, components: dict[str, Posterior]) -> MixturePosterior:
        if not components:
            raise ValueError("a mixture needs at least one component")
        means = torch.stack([p.mean for p in components.values()])
        variances = torch.stack([p.std**2 for p in components.values()])
        mean = means.mean(dim=0)
        # law of total variance, in a form that keeps float32 precision for sharp components
        var = (variances.mean(dim=0) + ((means - mean) ** 2).mean(dim=0)).clamp_min(1e-12)
        return cls(mean, torch.log(var), dict(components))

    def sample(self, generator: torch.Generator | None = None) -> Tensor:
        parts = list(self.components.values())
        n = self.mean.shape[0]
        which = torch.randint(len(parts), (n,), generator=generator)
        rows = torch.arange(n)
        mu = torch.stack([p.mean for p in parts])[which, rows]
        std = torch.stack([p.std for p in parts])[which, rows]
        eps = torch.randn(mu.shape, generator=generator, dtype=mu.dtype)
        return mu + eps.to(mu.device) * std


@dataclass
class ModelConfig:
    """Base of every model's config dataclass; subclasses document their fields."""

    seed: int = 0

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> ModelConfig:
        names = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(d) - names)
        if unknown:
            raise ValueError(f"{cls.__name__} has no field(s) {unknown}; known: {sorted(names)}")
        return cls(**d)


def to_data_space(spec: ModalitySpec, params: Tensor) -> Tensor:
    """Decoder params -> data-like values: probabilities, class probabilities or means."""
    if spec.likelihood == "bernoulli":
        return torch.sigmoid(params)
    if spec.likelihood == "categorical":
        return torch.softmax(params, dim=-1)
    return params


def log_likelihood(spec: ModalitySpec, params: Tensor, x: Tensor) -> Tensor:
    """log p(x | params) summed over the modality's entries: one value per sample.

    Gaussian and Laplace use unit scale, as the reference implementations do. Token sequences
    ignore PAD (id 0).
    """
    n = x.shape[0]
    if spec.likelihood == "bernoulli":
        ll = -nn.functional.binary_cross_entropy_with_logits(params, x, reduction="none")
    elif spec.likelihood == "categorical":
        logp = torch.log_softmax(params, dim=-1)
        ll = logp.gather(-1, x.long().unsqueeze(-1)).squeeze(-1)
        if spec.kind == "tokens":
            ll = ll * (x != 0)
    elif spec.likelihood == "gaussian":
        ll = -0.5 * (x - params) ** 2 - 0.5 * torch.log(torch.tensor(2 * torch.pi))
    elif spec.likelihood == "laplace":
        ll = -(x - params).abs() - torch.log(torch.tensor(2.0))
    else:  # pragma: no cover - specs are validated at construction
        raise ValueError(f"unknown likelihood {spec.likelihood!r}")
    return ll.reshape(n, -1).sum(dim=1)


# What a model is, as the app groups them: a latent space to explore, a fused prediction, or a
# single-modality judge of generated samples. Every model class declares one as `kind`.
MODEL_KINDS = ("generative", "fusion", "oracle")


def model_device(module: nn.Module) -> torch.device:
    """Where a module's parameters (else buffers) live; the CPU for one with neither."""
    p = next(module.parameters(), None)
    if p is not None:
        return p.device
    b = next(module.buffers(), None)
    return b.device if b is not None else torch.device("cpu")


class MultimodalModel(nn.Module):
    """Base class. Subclasses set `name`, `config_class`, `kind`, and implement the methods below.

    Every model takes `(config, specs)` in its constructor, where `specs` are the modalities
    it was built for, so a checkpoint can be rebuilt from `config.json` alone.

    A model declares what it can do (the "capabilities" section below): code outside
    `mmviz/models/` asks these, never `hasattr`, so a new model says in one place which pages,
    metrics and interpretations apply to it.
    """

    name: ClassVar[str] = "base"
    config_class: ClassVar[type[ModelConfig]] = ModelConfig
    paper: ClassVar[str] = ""
    # one of MODEL_KINDS: which section of the app the model belongs to
    kind: ClassVar[str] = ""
    # `log_likelihood_iw` estimates log p(x_T | x_O) (the latent-variable models)
    estimates_log_likelihood: ClassVar[bool] = False
    # MFM's factor API: `factors`, `factors_from_latents` and `decode_from_factors`, with the
    # shared factor under "y" and one modality-specific factor per input modality
    factorised: ClassVar[bool] = False
    # missing modalities are inferred by surrogate networks trained per observed subset (MFM),
    # which `surrogate_codes` runs
    has_surrogate_inference: ClassVar[bool] = False
    # late fusion: the output is a weighted average of per-modality predictions
    # (`unimodal_outputs(representations)`, `modality_weights()`)
    combines_unimodal_predictions: ClassVar[bool] = False

    def __init__(self, config: ModelConfig, specs: dict[str, ModalitySpec]) -> None:
        super().__init__()
        self.config = config
        self.specs = dict(specs)

    # --- what the model is ----------------------------------------------------------------
    @property
    def modalities(self) -> list[str]:
        return list(self.specs)

    @property
    def latent_groups(self) -> dict[str, int]:
        """Latent group name -> number of dimensions (empty for purely discriminative models)."""
        return {}

    @property
    def label_modality(self) -> str | None:
        """The categorical modality used as the label, if the model has one."""
        for m, s in self.specs.items():
            if s.kind == "categorical":
                return m
        return None

    # --- capabilities: what the model can do, declared rather than probed --------------------
    @property
    def input_modalities(self) -> list[str]:
        """The modalities the model reads. All of them, except where one is only a target (MFM's
        label, predicted by its head, is never an input)."""
        return self.modalities

    def supported_subsets(self) -> list[list[str]] | None:
        """The observed subsets of `input_modalities` the model can infer from, or None when it
        can infer from every non-empty one. Any other subset raises `UnsupportedSubset`, so a
        page can offer only what works instead of catching errors."""
        return None

    @property
    def is_product_of_experts(self) -> bool:
        """Whether the posterior is the product of one Gaussian expert per observed modality and
        the prior expert N(0, I), as `expert_params` gives them (the MVAE): what a page can take
        apart expert by expert."""
        return False

    @property
    def expert_modalities(self) -> list[str]:
        """The modalities with a Gaussian expert q~(z | x_m) of their own (MVAE, MoPoE, MMVAE:
        every modality); empty when inference reads the modalities jointly."""
        return []

    def expert(self, inputs: dict[str, Tensor], m: str) -> Any:
        """Modality `m`'s own Gaussian expert: (mean, logvar) for a product of experts, a
        Posterior for MMVAE. Only for models listing `m` in `expert_modalities`."""
        raise NotImplementedError(f"{self.name} has no product of experts")

    def expert_params(
        self,
        inputs: dict[str, Tensor],
        observed: Iterable[str],
        experts: dict[str, tuple[Tensor, Tensor]] | None = None,
    ) -> tuple[Tensor, Tensor]:
        """Each observed modality's Gaussian expert, stacked: (mean, logvar), each (|S|, n, d);
        `experts` holds ones already computed. Only for a product of experts
        (`is_product_of_experts`), whose `encode` also takes `experts`."""
        raise NotImplementedError(f"{self.name} has no product of experts")

    def mixture_components(self, observed: Collection[str] | None = None) -> list[str]:
        """Names of the components whose uniform mixture is q(z | observed) (MoPoE: every
        non-empty subset of the observed modalities; MMVAE: each observed modality), in the
        order of `MixturePosterior.components`; empty when the posterior is no mixture."""
        return []

    def predict_from_nothing(self, n: int) -> Tensor:
        """`predict` with no modality observed: (n,) scores or (n, C) probabilities. Fusion
        models: every representation at its training mean; latent-variable models: the label
        decoder or head at the prior mean. It is the value of the empty coalition in Shapley
        values. Raises `UnsupportedSubset` where a model has no such output."""
        raise UnsupportedSubset(
            f"{self.name} has no output without observed modalities (no missing-modality "
            "convention and no prior); give the empty coalition a value explicitly"
        )

    def log_likelihood_iw(
        self,
        inputs: dict[str, Tensor],
        target_modalities: Collection[str],
        observed: Collection[str] | None = None,
        K: int = 100,
    ) -> Tensor:
        """log p(x_T | x_O) per sample by importance sampling, where `estimates_log_likelihood`."""
        raise NotImplementedError(f"{self.name} estimates no likelihood")

    def fusion_parameter_count(self) -> int | None:
        """Parameters of the part that mixes modalities (what the fusion lab plots against
        sizes); None for a model without one."""
        return None

    def embedding_layer(self, modality: str) -> nn.Embedding | None:
        """The word embedding a token modality goes through, for Captum's layer attribution,
        where the model names one; None otherwise (embeddings are then found by module name)."""
        return None

    def check_observed(self, observed: Collection[str] | None) -> list[str]:
        """Validate and order the observed subset; None means all modalities."""
        if observed is None:
            return self.modalities
        wanted = set(observed)
        unknown = sorted(wanted - set(self.modalities))
        if unknown:
            raise UnsupportedSubset(
                f"{self.name} has no modality {unknown}; it has {self.modalities}"
            )
        observed = [m for m in self.modalities if m in wanted]
        if not observed:
            raise UnsupportedSubset("observe at least one modality")
        return observed

    # --- the interface (generative models implement all; fusion models predict/loss) ------
    def encode(
        self, inputs: dict[str, Tensor], observed: Iterable[str] | None = None
    ) -> dict[str, Posterior]:
        """Posterior per latent group given the observed modalities."""
        raise NotImplementedError(f"{self.name} has no latent posterior")

    def decode(
        self, latents: dict[str, Tensor], modalities: Iterable[str] | None = None
    ) -> dict[str, Tensor]:
        """Decoder params for each requested modality from a value of every latent group."""
        raise NotImplementedError(f"{self.name} has no decoder")

    def prior_mean(self, n: int) -> dict[str, Tensor]:
        """The prior mean (zero) of every latent group, n rows, on the model's device: the
        latent value a model infers from nothing."""
        return {
            g: torch.zeros(n, d, device=model_device(self)) for g, d in self.latent_groups.items()
        }

    def prior_sample(self, n: int, generator: torch.Generator | None = None) -> dict[str, Tensor]:
        """n draws of every latent group from the prior N(0, I)."""
        return {g: torch.randn(n, d, generator=generator) for g, d in self.latent_groups.items()}

    def reconstruct(
        self,
        inputs: dict[str, Tensor],
        observed: Iterable[str] | None = None,
        sample: bool = False,
        generator: torch.Generator | None = None,
    ) -> dict[str, Tensor]:
        """Every modality, in data space, from the posterior given the observed subset."""
        post = self.encode(inputs, observed)
        z = {g: (p.sample(generator) if sample else p.mean) for g, p in post.items()}
        params = self.decode(z)
        return {m: to_data_space(self.specs[m], p) for m, p in params.items()}

    def predict(self, inputs: dict[str, Tensor], observed: Iterable[str] | None = None) -> Tensor:
        """Class probabilities (n, C) or a score (n,) from the observed modalities."""
        raise NotImplementedError(f"{self.name} predicts no label")

    def loss(
        self, inputs: dict[str, Tensor], targets: dict[str, Tensor], step: int
    ) -> tuple[Tensor, dict[str, float]]:
        """Training objective (to minimise) and its named terms, for the progress bar."""
        raise NotImplementedError

    def training_phases(self) -> list[TrainingPhase]:
        """The stages the trainer runs in order; override to add e.g. surrogate inference."""
        return [TrainingPhase("main", self.loss)]

    def after_training(self, ds) -> None:  # noqa: ANN001 - a MultimodalDataset
        """Hook run once training ends (e.g. record training means for missing modalities)."""

    def parameter_count(self) -> int:
        return sum(p.numel() for p in self.parameters())
