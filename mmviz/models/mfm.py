"""MFM: Multimodal Factorization Model (Tsai, Liang, Zadeh, Morency, Salakhutdinov; ICLR 2019).

The representation is factorised into a shared multimodal discriminative factor Z_y and one
modality-specific generative factor Z_a_i per modality, all with prior N(0, I):
    Z_y = Q_y(X_1..X_M)  (any fusion encoder),   Z_a_i = Q_a_i(X_i)   (deterministic, WAE-style)
    F_y = G_y(Z_y),  F_a_i = G_a_i(Z_a_i),  X^_i = F_i([F_y, F_a_i]),  Y^ = D(F_y).
Objective (joint generative-discriminative, as in the reference code pliang279/factorized):
    sum_i lambda_i l(X^_i, X_i) + lambda_y l(Y^, Y) + lambda_mmd sum_groups MMD(Q(z_g), N(0, I)),
with the MMD taken on the batch against a fresh N(0, I) sample each step.

Missing modalities: after the main model is trained, a surrogate inference network Psi per
observed subset reads the observed modalities and regresses the codes z_y and z_a_m (m missing)
that the frozen full model gives, while also predicting the label and reconstructing through
the frozen decoders (the reference code's surrogate; the paper's section 3.3).

Label handling (a choice made here): when the modalities include a categorical `label` and
`label_as_target` is on, the label is the target of the discriminative head D, not an input
(no encoder, no Z_a), and `decode` returns D's logits under the label's name, so reconstruction
pages show it like any modality. With `label_as_target` off, the label is an ordinary
reconstructed modality and the head predicts `targets[config.target]` instead.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable, Sequence
from dataclasses import dataclass, field
from importlib import import_module

import torch
from torch import Tensor, nn

from mmviz.data.base import ModalitySpec
from mmviz.models.base import (
    ModelConfig,
    MultimodalModel,
    Posterior,
    TrainingPhase,
    UnsupportedSubset,
    log_likelihood,
)
from mmviz.models.fusion import make_fusion
from mmviz.models.nets import make_decoder, make_encoder, mlp
from mmviz.models.stats import iw_log_likelihood, mmd


@dataclass
class MFMConfig(ModelConfig):
    """MFM settings. The paper leaves sizes free; these train in minutes on a CPU.

    zy_dim: size of the shared discriminative factor Z_y.
    za_dim: size of each modality-specific factor Z_a_i; `za_dims` overrides it per modality.
    factor_dim: size of F_y and each F_a_i (outputs of G_y, G_a_i).
    hidden: width of hidden layers and of each modality's feature vector.
    enc_layers: hidden layers of each modality's feature network.
    dec_layers: hidden layers of each decoder F_i.
    recurrent: read token / feature sequences with a GRU (order matters for the sentiment data).
    conv_images: read greyscale images with the CNN as well (colour images always are). The
        paper leaves encoders free (its MNIST+SVHN model is convolutional); on the digits'
        `hand`, the MLP fits the 7,000 training digits and caps the head near 90% from `hand`
        alone; the CNN lifted it to 92% (95.5% with `surrogate_warm_start`).
    fusion: the multimodal encoder Q(Z_y | X_1:M), by name in `FUSIONS` ("concat": concatenated
        per-modality features -> MLP; "lmf" / "tfn": the fusion layers of `models.fusion`, as
        the paper also uses).
    lambda_y: weight of the prediction loss.
    lambda_mmd: weight of the MMD prior-matching term (1 in the reference's best MOSI setting).
    recon_weights: lambda_i per modality (missing names weigh 1); the reference's MOSI
        setting is language 1, acoustic 0.01, visual 0.5.
    mmd_kernel: "rbf" (the reference's exp(-||a-b||^2 / d)) or "imq".
    label_as_target: a categorical modality is the head's target rather than an input.
    target: targets key the head predicts when it is not a label modality ("class", "score").
    num_classes: classes of that target; 0 means a regression score trained with L1 (the
        reference's MOSI loss) and `predict` returns (n,) scores.
    surrogate_subsets: observed subsets (lists of input modality names) that get a surrogate
        inference network; None means every leave-one-out subset.
    surrogate_warm_start: each surrogate's feature network for an observed modality starts
        from the trained main model's Z_y feature network for it (same shape), so Psi mostly
        learns the map to the missing codes. The paper leaves Psi's training free; from
        scratch, the digits' `hand` surrogate read the class 4 points worse than the main
        encoder did from `hand` with `print` mean-filled.
    iw_std: MFM's encoders are deterministic, so importance-weighted likelihoods use an
        isotropic Gaussian proposal of this width around the code (a valid but loose bound).
    """

    zy_dim: int = 16
    za_dim: int = 8
    za_dims: dict[str, int] = field(default_factory=dict)
    factor_dim: int = 32
    hidden: int = 128
    enc_layers: int = 1
    dec_layers: int = 2
    recurrent: bool = False
    conv_images: bool = False
    fusion: str = "concat"
    lambda_y: float = 1.0
    lambda_mmd: float = 1.0
    recon_weights: dict[str, float] = field(default_factory=dict)
    mmd_kernel: str = "rbf"
    label_as_target: bool = True
    target: str = "class"
    num_classes: int = 10
    surrogate_subsets: list[list[str]] | None = None
    surrogate_warm_start: bool = False
    iw_std: float = 0.1


# ---- pluggable multimodal encoders for Z_y ------------------------------------------------


class ConcatFusion(nn.Module):
    """Concatenate per-modality features, then an MLP (the simplest multimodal encoder)."""

    def __init__(self, in_dims: dict[str, int], out_dim: int, hidden: int) -> None:
        super().__init__()
        self.names = list(in_dims)
        self.net = nn.Sequential(nn.SiLU(), mlp([sum(in_dims.values()), hidden, out_dim]))

    def forward(self, features: dict[str, Tensor]) -> Tensor:
        return self.net(torch.cat([features[m] for m in self.names], dim=-1))


class DictFusion(nn.Module):
    """A fusion layer of `models.fusion` (TFN's tensor product, LMF's low-rank factors) read
    from MFM's dict of per-modality features, in a fixed modality order."""

    def __init__(self, kind: str, in_dims: dict[str, int], out_dim: int, rank: int = 4) -> None:
        super().__init__()
        self.order = list(in_dims)
        self.fusion = make_fusion(kind, [in_dims[m] for m in self.order], out_dim, rank)

    def forward(self, features: dict[str, Tensor]) -> Tensor:
        return self.fusion([features[m] for m in self.order])


def _tensor_fusion(in_dims: dict[str, int], out_dim: int, hidden: int) -> nn.Module:
    return DictFusion("tfn", in_dims, out_dim)


def _low_rank_fusion(in_dims: dict[str, int], out_dim: int, hidden: int) -> nn.Module:
    return DictFusion("lmf", in_dims, out_dim)


# (in_dims: modality -> feature size, out_dim, hidden) -> module(features dict) -> (n, out_dim)
FusionFactory = Callable[[dict[str, int], int, int], nn.Module]
FUSIONS: dict[str, FusionFactory] = {
    "concat": ConcatFusion,
    "lmf": _low_rank_fusion,
    "tfn": _tensor_fusion,
}


def register_fusion(name: str, factory: FusionFactory) -> None:
    """Hook for fusion modules: make `fusion=name` available to MFM's Z_y encoder.

    factory(in_dims, out_dim, hidden) gets the per-modality feature sizes (modality -> int)
    and returns a module mapping a dict of features (n, in_dims[m]) to (n, out_dim).
    """
    FUSIONS[name] = factory


def fusion_factory(name: str) -> FusionFactory:
    """The factory registered as `name`. On a miss, a module `mmviz.models.<name>` is imported
    if there is one (it may call `register_fusion`), so a checkpoint naming a fusion kept in
    its own module rebuilds in a fresh process."""
    if name not in FUSIONS and name.isidentifier():
        module = f"mmviz.models.{name}"
        try:
            import_module(module)
        except ModuleNotFoundError as e:
            if e.name != module:  # the module exists but is broken: say so
                raise
    if name not in FUSIONS:
        raise ValueError(f"unknown MFM fusion {name!r}; registered: {', '.join(sorted(FUSIONS))}")
    return FUSIONS[name]


class Surrogate(nn.Module):
    """Psi for one observed subset: observed modalities -> codes of the given latent groups."""

    def __init__(
        self,
        specs: Sequence[ModalitySpec],
        out_dims: dict[str, int],
        hidden: int,
        layers: int,
        recurrent: bool,
        conv: bool = False,
    ) -> None:
        super().__init__()
        self.names = [s.name for s in specs]
        self.out_dims = dict(out_dims)
        self.features = nn.ModuleDict(
            {s.name: make_encoder(s, (hidden,) * layers, hidden, recurrent, conv) for s in specs}
        )
        total = sum(out_dims.values())
        self.head = nn.Sequential(nn.SiLU(), mlp([len(specs) * hidden, hidden, total]))

    def forward(self, inputs: dict[str, Tensor]) -> dict[str, Tensor]:
        h = self.head(torch.cat([self.features[m](inputs[m]) for m in self.names], dim=-1))
        return dict(zip(self.out_dims, h.split(list(self.out_dims.values()), dim=-1), strict=True))


def subset_name(subset: Iterable[str]) -> str:
    return "+".join(subset)


class MFM(MultimodalModel):
    """Factorised multimodal model: shared Z_y plus one Z_a per input modality."""

    name = "mfm"
    kind = "generative"
    estimates_log_likelihood = True
    factorised = True
    has_surrogate_inference = True
    config_class = MFMConfig
    paper = (
        "Tsai, Liang, Zadeh, Morency & Salakhutdinov. Learning Factorized Multimodal "
        "Representations. ICLR 2019"
    )

    def __init__(self, config: MFMConfig, specs: dict) -> None:
        super().__init__(config, specs)
        self.config: MFMConfig = config
        c = config
        label = self.label_modality
        self.label_target = label if (c.label_as_target and label is not None) else None
        self.inputs = [m for m in self.modalities if m != self.label_target]
        if not self.inputs:
            raise ValueError("MFM needs at least one input modality besides the label")
        if "y" in self.inputs:
            raise ValueError("a modality named 'y' would clash with MFM's latent group 'y'")
        self.num_classes = (
            self.specs[self.label_target].num_classes if self.label_target else c.num_classes
        )
        self.za = {m: int(c.za_dims.get(m, c.za_dim)) for m in self.inputs}
        enc = (c.hidden,) * c.enc_layers

        # encoders: Q(Z_y | X_1:M) = fusion of per-modality features; Q(Z_a_i | X_i)
        def encoder(m: str, out: int) -> nn.Module:
            return make_encoder(self.specs[m], enc, out, c.recurrent, c.conv_images)

        self.y_features = nn.ModuleDict({m: encoder(m, c.hidden) for m in self.inputs})
        self.fusion = fusion_factory(c.fusion)(
            {m: c.hidden for m in self.inputs}, c.zy_dim, c.hidden
        )
        self.a_encoders = nn.ModuleDict({m: encoder(m, self.za[m]) for m in self.inputs})
        # generative side: G_y, G_a_i, F_i and the discriminative head D
        self.g_y = mlp([c.zy_dim, c.hidden, c.factor_dim])
        self.g_a = nn.ModuleDict(
            {m: mlp([self.za[m], c.hidden, c.factor_dim]) for m in self.inputs}
        )
        self.decoders = nn.ModuleDict(
            {
                m: make_decoder(self.specs[m], 2 * c.factor_dim, (c.hidden,) * c.dec_layers)
                for m in self.inputs
            }
        )
        self.head = mlp([c.factor_dim, c.hidden, max(self.num_classes, 1)])
        # surrogate inference networks, keyed by the observed subset
        self.surrogate_keys = [subset_name(s) for s in self._surrogate_subsets()]
        self.surrogates = nn.ModuleDict()
        for s in self._surrogate_subsets():
            missing = [m for m in self.inputs if m not in s]
            out = {"y": c.zy_dim, **{m: self.za[m] for m in missing}}
            specs_s = [self.specs[m] for m in s]
            self.surrogates[subset_name(s)] = Surrogate(
                specs_s, out, c.hidden, c.enc_layers, c.recurrent, c.conv_images
            )
        self.register_buffer(
            "surrogate_trained", torch.zeros(len(self.surrogate_keys), dtype=torch.bool)
        )

    def _surrogate_subsets(self) -> list[list[str]]:
        if self.config.surrogate_subsets is None:
            if len(self.inputs) < 2:
                return []
            return [[o for o in self.inputs if o != m] for m in self.inputs]
        out = []
        for s in self.config.surrogate_subsets:
            subset = [m for m in self.inputs if m in set(s)]
            if set(s) - set(self.inputs) or not subset or len(subset) == len(self.inputs):
                raise ValueError(
                    f"surrogate subset {s} must be a non-empty proper subset of the inputs "
                    f"{self.inputs}"
                )
            out.append(subset)
        return out

    @property
    def latent_groups(self) -> dict[str, int]:
        return {"y": self.config.zy_dim, **self.za}

    @property
    def trained_surrogates(self) -> dict[str, bool]:
        """Observed subset name -> whether its surrogate has been trained."""
        return {
            k: bool(t) for k, t in zip(self.surrogate_keys, self.surrogate_trained, strict=True)
        }

    @property
    def input_modalities(self) -> list[str]:
        """Every modality but the label when the label is the head's target."""
        return list(self.inputs)

    def supported_subsets(self) -> list[list[str]] | None:
        """All inputs (the main encoders), then each subset whose surrogate is trained."""
        trained = [k.split("+") for k, ok in self.trained_surrogates.items() if ok]
        return [list(self.inputs), *trained]

    # ---- inference ---------------------------------------------------------------------
    def observed_inputs(self, observed: Iterable[str] | None) -> list[str]:
        """The observed input modalities (the label, when it is the target, is never read)."""
        obs = [m for m in self.check_observed(observed) if m != self.label_target]
        if not obs:
            raise UnsupportedSubset(
                f"MFM treats {self.label_target!r} as the target of its head, not an input: "
                f"observe at least one of {self.inputs}"
            )
        return obs

    def full_codes(self, inputs: dict[str, Tensor]) -> dict[str, Tensor]:
        """Z_y and every Z_a_i from all input modalities (the main model's encoders)."""
        feats = {m: self.y_features[m](inputs[m]) for m in self.inputs}
        return {"y": self.fusion(feats), **{m: self.a_encoders[m](inputs[m]) for m in self.inputs}}

    def surrogate_codes(self, inputs: dict[str, Tensor], obs: list[str]) -> dict[str, Tensor]:
        """Codes when modalities are missing: Psi gives z_y and the missing z_a; observed
        modalities keep their own unimodal encoders."""
        key = subset_name(obs)
        missing = [m for m in self.inputs if m not in obs]
        if key not in self.surrogates:
            raise UnsupportedSubset(
                f"MFM has no surrogate inference network for observing {{{', '.join(obs)}}} "
                f"(missing {', '.join(missing)}); add {obs} to surrogate_subsets and train it"
            )
        if not self.trained_surrogates[key]:
            raise UnsupportedSubset(
                f"MFM's surrogate for observing {{{', '.join(obs)}}} is not trained yet: run "
                f"the 'surrogate' training phase (or fit_surrogates) first"
            )
        z = self.surrogates[key](inputs)
        z.update({m: self.a_encoders[m](inputs[m]) for m in obs})
        return {g: z[g] for g in self.latent_groups}

    def encode(
        self, inputs: dict[str, Tensor], observed: Iterable[str] | None = None
    ) -> dict[str, Posterior]:
        obs = self.observed_inputs(observed)
        z = (
            self.full_codes(inputs)
            if len(obs) == len(self.inputs)
            else self.surrogate_codes(inputs, obs)
        )
        return {g: Posterior(v) for g, v in z.items()}

    # ---- generation ----------------------------------------------------------------------
    def factors_from_latents(self, latents: dict[str, Tensor]) -> dict[str, Tensor]:
        """F_y = G_y(z_y) and F_a_i = G_a_i(z_a_i), keyed "y" and by modality."""
        out = {"y": self.g_y(latents["y"])}
        out.update({m: self.g_a[m](latents[m]) for m in self.inputs if m in latents})
        return out

    def factors(
        self, inputs: dict[str, Tensor], observed: Iterable[str] | None = None
    ) -> dict[str, Tensor]:
        """F_y and each F_a_i from the observed modalities (for the interpretation pages)."""
        return self.factors_from_latents(
            {g: p.mean for g, p in self.encode(inputs, observed).items()}
        )

    def decode_from_factors(
        self, factors: dict[str, Tensor], modalities: Iterable[str] | None = None
    ) -> dict[str, Tensor]:
        """X^_i = F_i([F_y, F_a_i]) for input modalities; the head's logits D(F_y) for the label."""
        out = {}
        for m in modalities or self.modalities:
            if m == self.label_target:
                out[m] = self.head(factors["y"])
            else:
                out[m] = self.decoders[m](torch.cat([factors["y"], factors[m]], dim=-1))
        return out

    def decode(
        self, latents: dict[str, Tensor], modalities: Iterable[str] | None = None
    ) -> dict[str, Tensor]:
        return self.decode_from_factors(self.factors_from_latents(latents), modalities)

    # ---- objective ---------------------------------------------------------------------
    def _recon(self, params: dict[str, Tensor], inputs: dict[str, Tensor]) -> dict[str, Tensor]:
        """Per-entry mean negative log-likelihood per modality (BCE for bernoulli, half the
        squared error plus a constant for gaussian), averaged over the batch. Per entry, as
        the reference averages its MSE, so the lambdas compare modalities of any size."""
        return {
            m: -log_likelihood(self.specs[m], params[m], inputs[m]).mean() / self.specs[m].size
            for m in params
            if m != self.label_target
        }

    def _head_loss(
        self, logits: Tensor, inputs: dict[str, Tensor], targets: dict[str, Tensor]
    ) -> Tensor:
        if self.label_target is not None and self.label_target in inputs:
            y = inputs[self.label_target]
        elif self.label_target is not None and "class" in targets:
            y = targets["class"]
        elif self.config.target in targets:
            y = targets[self.config.target]
        else:
            raise KeyError(
                f"MFM's head predicts target {self.config.target!r}, absent from the batch "
                f"(it has {sorted(targets)}); set the config's `target`"
            )
        if self.num_classes:
            return nn.functional.cross_entropy(logits, y.long())
        return nn.functional.l1_loss(logits.squeeze(-1), y.float())

    def loss(
        self, inputs: dict[str, Tensor], targets: dict[str, Tensor], step: int
    ) -> tuple[Tensor, dict[str, float]]:
        c = self.config
        z = self.full_codes(inputs)
        f = self.factors_from_latents(z)
        recon = self._recon(self.decode_from_factors(f, self.inputs), inputs)
        pred = self._head_loss(self.head(f["y"]), inputs, targets)
        prior_gap = {g: mmd(v, torch.randn_like(v), kernel=c.mmd_kernel) for g, v in z.items()}
        total = c.lambda_y * pred + c.lambda_mmd * sum(prior_gap.values())
        total = total + sum(c.recon_weights.get(m, 1.0) * r for m, r in recon.items())
        terms = {"pred": pred.item(), **{f"recon[{m}]": r.item() for m, r in recon.items()}}
        terms.update({f"mmd[{g}]": v.item() for g, v in prior_gap.items()})
        return total, terms

    # ---- surrogate inference -------------------------------------------------------------
    def surrogate_loss(
        self,
        inputs: dict[str, Tensor],
        targets: dict[str, Tensor],
        missing: str | Collection[str],
        target_codes: dict[str, Tensor] | None = None,
    ) -> tuple[Tensor, dict[str, float]]:
        """Loss of the surrogate for the subset left when `missing` is removed.

        MSE to the frozen full model's codes (z_y and each missing z_a) + lambda_y times the
        prediction loss + the weighted reconstruction of every input modality, all decoded
        through the frozen G, F and D. Only the surrogate's parameters should be stepped:
        `training_phases` hands the trainer exactly those. `target_codes` are those frozen
        codes when the caller already has them (one pass serves every surrogate of a batch).
        """
        gone = [missing] if isinstance(missing, str) else list(missing)
        obs = [m for m in self.inputs if m not in gone]
        key = subset_name(obs)
        if key not in self.surrogates:
            raise UnsupportedSubset(f"MFM has no surrogate for observing {{{', '.join(obs)}}}")
        if target_codes is None:
            with torch.no_grad():
                target_codes = self.full_codes(inputs)
        guess = self.surrogates[key](inputs)
        code = sum(nn.functional.mse_loss(guess[g], target_codes[g]) for g in guess)
        z = {**{m: target_codes[m] for m in obs}, **guess}
        f = self.factors_from_latents(z)
        recon = self._recon(self.decode_from_factors(f, self.inputs), inputs)
        pred = self._head_loss(self.head(f["y"]), inputs, targets)
        c = self.config
        total = (
            code
            + c.lambda_y * pred
            + sum(c.recon_weights.get(m, 1.0) * r for m, r in recon.items())
        )
        return total, {"code": code.item(), "pred": pred.item()}

    def surrogates_loss(
        self, inputs: dict[str, Tensor], targets: dict[str, Tensor], step: int
    ) -> tuple[Tensor, dict[str, float]]:
        """All surrogates' losses summed (one training phase). A training call (train mode,
        gradients on) marks the surrogates as trained, so that `encode` accepts them."""
        total, terms = torch.zeros(()), {}
        with torch.no_grad():  # the frozen model's codes: computed once, not once per surrogate
            codes = self.full_codes(inputs)
        for key in self.surrogate_keys:
            obs = key.split("+")
            missing = [m for m in self.inputs if m not in obs]
            loss, _ = self.surrogate_loss(inputs, targets, missing, codes)
            total = total + loss
            terms[f"surrogate[{key}]"] = loss.item()
        if self.training and torch.is_grad_enabled():
            self.surrogate_trained.fill_(True)
        return total, terms

    @torch.no_grad()
    def warm_start_surrogates(self) -> None:
        """Copy the main model's Z_y feature networks into the surrogates' (see the config)."""
        for sur in self.surrogates.values():
            for m, net in sur.features.items():
                net.load_state_dict(self.y_features[m].state_dict())

    def main_parameters(self) -> list[nn.Parameter]:
        skip = {id(p) for p in self.surrogates.parameters()}
        return [p for p in self.parameters() if id(p) not in skip]

    def training_phases(self) -> list[TrainingPhase]:
        """Main model first; then its surrogates with the main model frozen."""
        phases = [TrainingPhase("main", self.loss, self.main_parameters())]
        if self.surrogate_keys:
            start = self.warm_start_surrogates if self.config.surrogate_warm_start else None
            phases.append(
                TrainingPhase(
                    "surrogate", self.surrogates_loss, list(self.surrogates.parameters()), start
                )
            )
        return phases

    def fit_surrogates(
        self, batches: Iterable[tuple[dict[str, Tensor], dict[str, Tensor]]], lr: float = 1e-3
    ) -> list[float]:
        """Train every surrogate on `batches` with the main model frozen; returns the losses."""
        main = self.main_parameters()
        flags = [p.requires_grad for p in main]
        for p in main:
            p.requires_grad_(False)
        if self.config.surrogate_warm_start:
            self.warm_start_surrogates()
        opt = torch.optim.Adam(self.surrogates.parameters(), lr=lr)
        history = []
        was_training = self.training
        self.train()
        try:
            for step, (inputs, targets) in enumerate(batches):
                loss, _ = self.surrogates_loss(inputs, targets, step)
                opt.zero_grad()
                loss.backward()
                opt.step()
                history.append(loss.item())
        finally:
            for p, flag in zip(main, flags, strict=True):
                p.requires_grad_(flag)
            self.train(was_training)
        return history

    # ---- uses ------------------------------------------------------------------------------
    def predict(self, inputs: dict[str, Tensor], observed: Iterable[str] | None = None) -> Tensor:
        """The head D(F_y): class probabilities (n, C), or scores (n,) for a regression target."""
        logits = self.head(self.factors(inputs, observed)["y"])
        return torch.softmax(logits, dim=-1) if self.num_classes else logits.squeeze(-1)

    def predict_from_nothing(self, n: int) -> Tensor:
        """The head D(G_y(z_y)) at the prior mean z_y = 0, in `predict`'s form."""
        logits = self.head(self.g_y(self.prior_mean(n)["y"]))
        return torch.softmax(logits, dim=-1) if self.num_classes else logits.squeeze(-1)

    def log_likelihood_iw(
        self,
        inputs: dict[str, Tensor],
        target_modalities: Collection[str],
        observed: Collection[str] | None = None,
        K: int = 100,
    ) -> Tensor:
        """log p(x_T | x_O) under MFM's generative model, proposal N(code, iw_std^2 I)."""
        return iw_log_likelihood(
            self, inputs, target_modalities, observed, K, default_std=self.config.iw_std
        )

    def fusion_parameter_count(self) -> int:
        return sum(p.numel() for p in self.fusion.parameters())
