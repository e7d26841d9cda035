"""Fusion models for multimodal sentiment: TFN, LMF, early fusion and late fusion.

Read top to bottom:
1. configs (one dataclass per family, every field documented);
2. the parameter-count formulas the app plots while users change sizes;
3. the shared unimodal sub-networks (one set for every model, so comparisons are fair);
4. the fusion layers: tensor fusion (Zadeh et al., EMNLP 2017), low-rank fusion (Liu et al.,
   ACL 2018) and plain concatenation, plus `make_fusion` (which MFM also builds its
   multimodal encoder with: `models.mfm` imports it);
5. the models, which all share one convention for missing modalities.

Noise on inputs for robustness curves is `mmviz.data.noise`; random sentiment-shaped batches
for benchmarks and tests are `mmviz.data.random_inputs`.

Missing-modality convention (every model here, uniformly): a modality that is not observed
never reaches its sub-network; its *representation at the point where it enters fusion* is
replaced by the training mean of that representation. For TFN, LMF and late fusion this is the
sub-network output h_m (d_m,); for early fusion, which has no sub-networks, it is the per-step
input (the word embedding for tokens, the raw features for sequences), one mean per time step
and feature. The means live in buffers (`rep_mean_<modality>`), so checkpoints carry them: an
exponential moving average is updated by every training `loss()` call, and
`set_missing_statistics()` recomputes them exactly from training data after training.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from mmviz.data.base import ModalitySpec
from mmviz.models.base import ModelConfig, MultimodalModel

PAD = 0  # the padding token id


# ---------------------------------------------------------------------------------------------
# 1. Configs
# ---------------------------------------------------------------------------------------------
@dataclass
class FusionConfig(ModelConfig):
    """Settings shared by every fusion model.

    Defaults follow the size regime of the papers (TFN: Zadeh et al., EMNLP 2017, language
    128 / visual 32 / acoustic 32; LMF: Liu et al., ACL 2018), scaled to the synthetic
    sentiment data: with h = (64, 32, 32) TFN's fusion layer reads 65 * 33 * 33 = 70,785
    features, which is the blow-up LMF removes.

    target: which dataset target to fit ("score" for regression; "binary" or "class7" for
        classification).
    task: "regression" (L1 loss on the score, as in the LMF reference code) or
        "classification" (cross-entropy).
    num_classes: classes when task is classification; 0 infers it from `target`
        ("binary" -> 2, "class7" -> 7). Signed labels (-3..3) are shifted to 0..C-1.
    embed_dim: size of the learned word embeddings of token modalities (the references use
        300-d GloVe vectors; the synthetic vocabulary is small, so ours are learned).
    token_dim: d_m of a token modality: LSTM hidden size and the size of its output layer.
    sequence_dim: d_m of a sequence modality: width of its 3-layer ReLU network.
    sequence_pool: how a sequence modality is summarised over time before that network:
        "mean" (the LMF reference, word-averaged features) or "stats" (mean, max and min per
        feature). Our face and voice cues peak at one word; averaging over ~14 words buries
        them under the speaker's style (a probe on mean-pooled features reaches ~79% on the
        unique_visual/unique_acoustic recipes, on mean/max/min ~90%), so "stats" is the default.
    dims: per-modality override of d_m, e.g. {"language": 128}.
    fusion_dim: d_h, size of the fused vector (TFN's post-fusion layer, LMF's output); early
        fusion uses it as the hidden size of its joint LSTM.
    dropout: dropout in the sub-networks and before the output layers.
    missing_momentum: momentum of the moving average of each representation, used to fill
        in missing modalities (see the module docstring).
    modality_dropout: probability, per training sample and modality, of replacing a
        representation by its training mean, so the model learns what "missing" looks like.
        0 (the default) trains on complete data only, as the papers do.
    """

    target: str = "score"
    task: str = "regression"
    num_classes: int = 0
    embed_dim: int = 32
    token_dim: int = 64
    sequence_dim: int = 32
    dims: dict[str, int] = field(default_factory=dict)
    sequence_pool: str = "stats"
    fusion_dim: int = 32
    dropout: float = 0.15
    missing_momentum: float = 0.05
    modality_dropout: float = 0.0


@dataclass
class LMFConfig(FusionConfig):
    """LMF settings (Liu et al., ACL 2018): the shared ones plus the rank.

    rank: r, number of rank-one terms in W = sum_i lambda_i (x)_m w_m^(i). The paper finds low
        ranks (< 10) suffice and higher ranks can be unstable.
    """

    rank: int = 4


@dataclass
class LateFusionConfig(FusionConfig):
    """Late-fusion settings: the shared ones plus how much each unimodal predictor is trained.

    unimodal_loss_weight: weight of the mean of the unimodal predictors' own losses, added to
        the loss of the combined prediction, so each predictor is a real unimodal model rather
        than a term that only makes sense in the sum.
    """

    unimodal_loss_weight: float = 1.0


# ---------------------------------------------------------------------------------------------
# 2. Parameter counts (closed forms; tests check them against the modules)
# ---------------------------------------------------------------------------------------------
def tfn_fusion_params(dims: Sequence[int], d_h: int) -> int:
    """Parameters of TFN's fusion layer: W of size d_h x prod_m (d_m + 1), plus bias."""
    return math.prod(d + 1 for d in dims) * d_h + d_h


def lmf_fusion_params(dims: Sequence[int], d_h: int, rank: int) -> int:
    """Parameters of LMF's fusion layer: factors r x (d_m + 1) x d_h, rank weights, bias."""
    return rank * sum(d + 1 for d in dims) * d_h + rank + d_h


def concat_fusion_params(dims: Sequence[int], d_h: int) -> int:
    """Parameters of a linear layer on the concatenation [h_1; ...; h_M]."""
    return sum(dims) * d_h + d_h


# ---------------------------------------------------------------------------------------------
# 3. Unimodal sub-networks (shared by every model)
# ---------------------------------------------------------------------------------------------
def last_token_index(tokens: Tensor) -> Tensor:
    """Index of the last non-PAD step of each sequence (0 for an all-PAD one)."""
    steps = torch.arange(tokens.shape[1], device=tokens.device).expand_as(tokens)
    return torch.where(tokens != PAD, steps, torch.zeros_like(steps)).max(dim=1).values


def masked_time_mean(x: Tensor) -> Tensor:
    """Mean over time of (n, T, d) features, skipping all-zero (padding) steps.

    If a dataset pads with zeros this ignores the padding; if it does not, every step counts
    and this is the plain mean, as in the LMF reference's word-averaged features.
    """
    mask = (x != 0).any(dim=-1, keepdim=True).to(x.dtype)
    return (x * mask).sum(dim=1) / mask.sum(dim=1).clamp_min(1.0)


class TokenSubNet(nn.Module):
    """Words -> h_m: embeddings, an LSTM, its state at the last real word, a linear layer.

    As the LMF/TFN reference text sub-network (LSTM then a linear layer).
    """

    def __init__(self, vocab_size: int, embed_dim: int, out_dim: int, dropout: float) -> None:
        super().__init__()
        self.embedding = nn.Embedding(vocab_size, embed_dim, padding_idx=PAD)
        self.lstm = nn.LSTM(embed_dim, out_dim, batch_first=True)
        self.dropout = nn.Dropout(dropout)
        self.linear = nn.Linear(out_dim, out_dim)

    def forward(self, tokens: Tensor) -> Tensor:
        out, _ = self.lstm(self.embedding(tokens))  # (n, T, d)
        last = last_token_index(tokens)
        h = out[torch.arange(out.shape[0], device=out.device), last]
        return self.linear(self.dropout(h))


def masked_time_stats(x: Tensor) -> Tensor:
    """[mean; max; min] over time of (n, T, d) features, skipping all-zero (padding) steps.

    Max and min keep a cue that peaks at one step, which a mean over the utterance dilutes.
    An all-padding sequence gives zeros.
    """
    mask = (x != 0).any(dim=-1, keepdim=True)
    mean = masked_time_mean(x)
    any_real = mask.any(dim=1)  # (n, 1)
    big = torch.finfo(x.dtype).max
    hi = torch.where(mask, x, -big).amax(dim=1)
    lo = torch.where(mask, x, big).amin(dim=1)
    hi = torch.where(any_real, hi, torch.zeros_like(hi))
    lo = torch.where(any_real, lo, torch.zeros_like(lo))
    return torch.cat([mean, hi, lo], dim=-1)


SEQUENCE_POOLS = {"mean": (masked_time_mean, 1), "stats": (masked_time_stats, 3)}


class SequenceSubNet(nn.Module):
    """Per-step features -> h_m: pooled over time (see `sequence_pool`), then dropout and 3
    ReLU layers.

    As the reference audio/visual sub-networks (which read word-averaged features), without
    their BatchNorm: batch statistics would make one sample's output depend on the others.
    """

    def __init__(self, in_dim: int, out_dim: int, dropout: float, pool: str = "stats") -> None:
        super().__init__()
        if pool not in SEQUENCE_POOLS:
            raise ValueError(f"sequence_pool must be one of {sorted(SEQUENCE_POOLS)}, got {pool!r}")
        self.pool, width = SEQUENCE_POOLS[pool]
        self.net = nn.Sequential(
            nn.Dropout(dropout),
            nn.Linear(in_dim * width, out_dim),
            nn.ReLU(),
            nn.Linear(out_dim, out_dim),
            nn.ReLU(),
            nn.Linear(out_dim, out_dim),
            nn.ReLU(),
        )

    def forward(self, x: Tensor) -> Tensor:
        return self.net(self.pool(x.to(self.net[1].weight.dtype)))


def make_subnet(spec: ModalitySpec, out_dim: int, config: FusionConfig) -> nn.Module:
    """The sub-network for one modality, chosen by its kind."""
    if spec.kind == "tokens":
        return TokenSubNet(spec.num_classes, config.embed_dim, out_dim, config.dropout)
    if spec.kind == "sequence":
        return SequenceSubNet(spec.shape[-1], out_dim, config.dropout, config.sequence_pool)
    raise ValueError(
        f"fusion models read 'tokens' and 'sequence' modalities; {spec.name!r} is {spec.kind}"
    )


# ---------------------------------------------------------------------------------------------
# 4. Fusion layers: list of h_m (n, d_m) -> fused vector (n, d_h)
# ---------------------------------------------------------------------------------------------
def append_one(h: Tensor) -> Tensor:
    """z~ = [h; 1]: the constant 1 keeps every unimodal and bimodal term in the product."""
    return torch.cat([h, h.new_ones(h.shape[0], 1)], dim=1)


def tensor_product(hs: Sequence[Tensor]) -> Tensor:
    """Flattened outer product z~_1 (x) ... (x) z~_M, (n, prod_m (d_m + 1)), row-major."""
    z = append_one(hs[0])
    n = z.shape[0]
    for h in hs[1:]:
        z = (z.unsqueeze(2) * append_one(h).unsqueeze(1)).reshape(n, -1)
    return z


class TensorFusion(nn.Module):
    """TFN fusion (Zadeh et al., EMNLP 2017): h = W . (z~_1 (x) ... (x) z~_M) + b."""

    def __init__(self, dims: Sequence[int], out_dim: int) -> None:
        super().__init__()
        self.dims = list(dims)
        self.linear = nn.Linear(math.prod(d + 1 for d in dims), out_dim)

    def forward(self, hs: Sequence[Tensor]) -> Tensor:
        return self.linear(tensor_product(hs))


class LowRankFusion(nn.Module):
    """LMF fusion (Liu et al., ACL 2018), in the reference code's form.

    h = sum_i lambda_i prod_m (z~_m^T W_m[i]) + b, with W_m of shape (r, d_m + 1, d_h): the
    CP decomposition of TFN's weight tensor, at cost O(d_h r sum_m d_m).
    """

    def __init__(self, dims: Sequence[int], out_dim: int, rank: int) -> None:
        super().__init__()
        self.dims, self.rank = list(dims), rank
        self.factors = nn.ParameterList(
            [nn.Parameter(torch.empty(rank, d + 1, out_dim)) for d in dims]
        )
        self.rank_weights = nn.Parameter(torch.empty(1, rank))
        self.bias = nn.Parameter(torch.zeros(1, out_dim))
        for w in self.factors:  # the reference initialises everything with Xavier normal
            nn.init.xavier_normal_(w)
        nn.init.xavier_normal_(self.rank_weights)

    def forward(self, hs: Sequence[Tensor]) -> Tensor:
        prod = None
        for h, w in zip(hs, self.factors, strict=True):
            f = torch.matmul(append_one(h), w)  # (r, n, d_h)
            prod = f if prod is None else prod * f
        return torch.einsum("r,rnd->nd", self.rank_weights[0], prod) + self.bias

    def full_weight_tensor(self) -> Tensor:
        """W = sum_i lambda_i (x)_m W_m[i], shape (d_1 + 1, ..., d_M + 1, d_h).

        TFN's contraction of the outer product with this W (plus `bias`) gives this layer's
        output exactly: the test of the decomposition.
        """
        r, d_h = self.rank, self.factors[0].shape[-1]
        t = self.factors[0]  # (r, a_1, d_h)
        for w in self.factors[1:]:
            shape = (r,) + (1,) * (t.dim() - 2) + (w.shape[1], d_h)
            t = t.unsqueeze(-2) * w.reshape(shape)
        return (self.rank_weights[0].reshape((r,) + (1,) * (t.dim() - 1)) * t).sum(dim=0)


class ConcatFusion(nn.Module):
    """Baseline fusion: one linear layer on [h_1; ...; h_M] (MFM's concat encoder)."""

    def __init__(self, dims: Sequence[int], out_dim: int) -> None:
        super().__init__()
        self.dims = list(dims)
        self.linear = nn.Linear(sum(dims), out_dim)

    def forward(self, hs: Sequence[Tensor]) -> Tensor:
        return self.linear(torch.cat(list(hs), dim=1))


def make_fusion(kind: str, dims: Sequence[int], out_dim: int, rank: int = 4) -> nn.Module:
    """A fusion layer mapping [h_1, ..., h_M] -> (n, out_dim): "tfn", "lmf" or "concat".

    Used by the fusion models here and by MFM's "tfn" and "lmf" multimodal encoders.
    """
    if kind == "tfn":
        return TensorFusion(dims, out_dim)
    if kind == "lmf":
        return LowRankFusion(dims, out_dim, rank)
    if kind == "concat":
        return ConcatFusion(dims, out_dim)
    raise ValueError(f"unknown fusion {kind!r}; choose from: tfn, lmf, concat")


# ---------------------------------------------------------------------------------------------
# 5. Models
# ---------------------------------------------------------------------------------------------
def _buffer_name(modality: str) -> str:
    return "rep_mean_" + modality.replace(".", "_")


class SentimentModel(MultimodalModel):
    """What every fusion model shares: targets, loss, missing modalities, tuple forward.

    A subclass builds its modules in `build()` and says how a modality becomes the
    representation that enters fusion (`represent`, `representation_shape`) and how the
    representations become the output (`combine`). Everything else lives here, once.
    """

    config_class: ClassVar[type[ModelConfig]] = FusionConfig
    kind: ClassVar[str] = "fusion"
    config: FusionConfig

    def __init__(self, config: FusionConfig, specs: dict[str, ModalitySpec]) -> None:
        super().__init__(config, specs)
        if config.task not in ("regression", "classification"):
            raise ValueError(f"task must be regression or classification, not {config.task!r}")
        for s in self.specs.values():
            if s.kind not in ("tokens", "sequence"):
                raise ValueError(
                    f"{self.name} reads 'tokens' and 'sequence' modalities; {s.name!r} is {s.kind}"
                )
        self.out_dim = 1 if config.task == "regression" else self.num_classes
        with torch.random.fork_rng(devices=[]):  # same seed, same weights; global RNG untouched
            torch.manual_seed(config.seed)
            self.build()
        for m in self.modalities:
            self.register_buffer(_buffer_name(m), torch.zeros(self.representation_shape(m)))
        self.register_buffer("rep_updates", torch.zeros((), dtype=torch.long))

    # --- what subclasses provide --------------------------------------------------------------
    def build(self) -> None:
        raise NotImplementedError

    def representation_shape(self, modality: str) -> tuple[int, ...]:
        raise NotImplementedError

    def represent(self, modality: str, x: Tensor) -> Tensor:
        raise NotImplementedError

    def combine(self, reps: dict[str, Tensor], inputs: dict[str, Tensor]) -> Tensor:
        """Representations of every modality -> raw output (n, out_dim)."""
        raise NotImplementedError

    def fusion_parameter_count(self) -> int:
        """Parameters of the part that mixes modalities (what the app plots against sizes)."""
        raise NotImplementedError

    # --- sizes --------------------------------------------------------------------------------
    @property
    def num_classes(self) -> int:
        c = self.config
        if c.num_classes:
            return c.num_classes
        inferred = {"binary": 2, "class7": 7}.get(c.target)
        if inferred is None:
            raise ValueError(f"set num_classes for classification target {c.target!r}")
        return inferred

    def dim(self, modality: str) -> int:
        """d_m, the size of h_m."""
        c = self.config
        if modality in c.dims:
            return int(c.dims[modality])
        return c.token_dim if self.specs[modality].kind == "tokens" else c.sequence_dim

    # --- missing modalities -------------------------------------------------------------------
    def missing_representation(self, modality: str) -> Tensor:
        """The training mean that replaces an unobserved modality's representation."""
        return getattr(self, _buffer_name(modality))

    def representations(
        self, inputs: dict[str, Tensor], observed: Iterable[str] | None = None
    ) -> dict[str, Tensor]:
        """Representation of every modality: computed if observed, the training mean if not."""
        obs = self.check_observed(observed)
        n = inputs[obs[0]].shape[0]
        reps = {}
        for m in self.modalities:
            if m in obs:
                reps[m] = self.represent(m, inputs[m])
            else:
                mean = self.missing_representation(m)
                reps[m] = mean.expand(n, *mean.shape)
        return reps

    @torch.no_grad()
    def _update_means(self, reps: dict[str, Tensor]) -> None:
        mom = 1.0 if int(self.rep_updates) == 0 else self.config.missing_momentum
        for m, r in reps.items():
            self.missing_representation(m).lerp_(r.detach().mean(dim=0), mom)
        self.rep_updates += 1

    @torch.no_grad()
    def after_training(self, ds: Any) -> None:
        """Exact training means for the missing-modality convention, once weights are final."""
        self.set_missing_statistics(ds)

    @torch.no_grad()
    def set_missing_statistics(self, source: Any, max_batches: int | None = None) -> None:
        """Set the missing-modality means exactly, from complete training data.

        `source`: a MultimodalDataset (its train split is used), or an iterable of input
        dicts or (inputs, targets) pairs. Runs in eval mode, so dropout is off.
        """
        if hasattr(source, "loader") and hasattr(source, "splits"):
            source = source.loader("train", 256, shuffle=False)
        was_training = self.training
        self.eval()
        sums: dict[str, Tensor] = {}
        count = 0
        for b, batch in enumerate(source):
            if max_batches is not None and b >= max_batches:
                break
            inputs = batch[0] if isinstance(batch, tuple | list) else batch
            reps = self.representations(inputs)
            for m, r in reps.items():
                sums[m] = sums.get(m, 0) + r.sum(dim=0)
            count += next(iter(reps.values())).shape[0]
        if count == 0:
            raise ValueError("set_missing_statistics got no samples")
        for m, s in sums.items():
            self.missing_representation(m).copy_(s / count)
        self.rep_updates.fill_(max(int(self.rep_updates), 1))
        self.train(was_training)

    # --- outputs ------------------------------------------------------------------------------
    def raw_output(
        self, inputs: dict[str, Tensor], observed: Iterable[str] | None = None
    ) -> Tensor:
        """(n, out_dim): the score, or the class logits."""
        obs = self.check_observed(observed)
        seen = {m: inputs[m] for m in obs}  # what is not observed must not be read at all
        return self.combine(self.representations(seen, obs), seen)

    def _finish(self, raw: Tensor) -> Tensor:
        return raw.squeeze(-1) if self.config.task == "regression" else raw

    def forward(self, *tensors: Tensor | None) -> Tensor:
        """Tuple form, one tensor per modality in `self.modalities` order (None = missing).

        Returns the score (n,) or the class logits (n, C): what Captum attributes.
        """
        if len(tensors) != len(self.modalities):
            raise ValueError(f"expected {len(self.modalities)} tensors {self.modalities}")
        inputs = {m: t for m, t in zip(self.modalities, tensors, strict=True) if t is not None}
        return self._finish(self.raw_output(inputs, list(inputs)))

    def predict(self, inputs: dict[str, Tensor], observed: Iterable[str] | None = None) -> Tensor:
        """The score (n,) for regression, class probabilities (n, C) for classification."""
        out = self._finish(self.raw_output(inputs, observed))
        return out if self.config.task == "regression" else torch.softmax(out, dim=-1)

    def predict_from_nothing(self, n: int) -> Tensor:
        """`predict` with every representation at its training mean (the missing-modality
        convention applied to all of them)."""
        reps = {}
        for m in self.modalities:
            mean = self.missing_representation(m)
            reps[m] = mean.expand(n, *mean.shape)
        out = self._finish(self.combine(reps, {}))
        return out if self.config.task == "regression" else torch.softmax(out, dim=-1)

    # --- training -----------------------------------------------------------------------------
    def target_values(self, targets: dict[str, Tensor]) -> Tensor:
        """The configured target as the loss needs it: float scores or class indices."""
        y = targets[self.config.target]
        if self.config.task == "regression":
            return y.float().reshape(-1)
        y = y.long().reshape(-1)
        return y + self.num_classes // 2 if bool((y < 0).any()) else y

    def task_loss(self, raw: Tensor, y: Tensor) -> Tensor:
        if self.config.task == "regression":
            return F.l1_loss(raw.squeeze(-1), y)
        return F.cross_entropy(raw, y)

    def extra_loss(
        self, reps: dict[str, Tensor], y: Tensor
    ) -> tuple[Tensor | None, dict[str, float]]:
        """Additional terms (late fusion trains its unimodal predictors); none by default."""
        return None, {}

    def loss(
        self, inputs: dict[str, Tensor], targets: dict[str, Tensor], step: int
    ) -> tuple[Tensor, dict[str, float]]:
        """L1 on the score (the LMF reference's loss) or cross-entropy on classes.

        In training mode this also updates the missing-modality means and applies
        `modality_dropout`.
        """
        reps = self.representations(inputs)
        if self.training:
            self._update_means(reps)
            p = self.config.modality_dropout
            if p > 0:
                reps = {m: self._drop(m, r, p) for m, r in reps.items()}
        y = self.target_values(targets)
        main = self.task_loss(self.combine(reps, inputs), y)
        name = "l1" if self.config.task == "regression" else "ce"
        terms = {name: float(main.detach())}
        extra, extra_terms = self.extra_loss(reps, y)
        terms.update(extra_terms)
        total = main if extra is None else main + extra
        if extra is not None:
            terms["loss"] = float(total.detach())
        return total, terms

    def _drop(self, modality: str, r: Tensor, p: float) -> Tensor:
        keep = torch.rand(r.shape[0], device=r.device) >= p
        keep = keep.reshape((-1,) + (1,) * (r.dim() - 1))
        return torch.where(keep, r, self.missing_representation(modality).expand_as(r))


def _output_head(d_h: int, out_dim: int, dropout: float) -> nn.Sequential:
    """Post-fusion layers, as TFN's reference: ReLU, dropout, a hidden layer, the output."""
    return nn.Sequential(
        nn.ReLU(),
        nn.Dropout(dropout),
        nn.Linear(d_h, d_h),
        nn.ReLU(),
        nn.Linear(d_h, out_dim),
    )


class SubnetModel(SentimentModel):
    """A model whose modalities each pass through the shared sub-networks to h_m (d_m,)."""

    def build_subnets(self) -> None:
        self.subnets = nn.ModuleDict(
            {m: make_subnet(self.specs[m], self.dim(m), self.config) for m in self.modalities}
        )

    def representation_shape(self, modality: str) -> tuple[int, ...]:
        return (self.dim(modality),)

    def represent(self, modality: str, x: Tensor) -> Tensor:
        return self.subnets[modality](x)

    def embedding_layer(self, modality: str) -> nn.Embedding:
        sub = self.subnets[modality]
        if not isinstance(sub, TokenSubNet):
            raise ValueError(f"{modality!r} is not a token modality: it has no embedding")
        return sub.embedding


class FusionModel(SubnetModel):
    """Unimodal sub-networks -> a fusion layer (`fusion_kind`) -> output layers.

    TFN and LMF are this class with different fusion layers and identical everything else.
    """

    fusion_kind: ClassVar[str] = "concat"

    def build(self) -> None:
        c = self.config
        self.build_subnets()
        dims = [self.dim(m) for m in self.modalities]
        self.fusion = make_fusion(self.fusion_kind, dims, c.fusion_dim, getattr(c, "rank", 4))
        self.head = _output_head(c.fusion_dim, self.out_dim, c.dropout)

    def fuse(self, reps: dict[str, Tensor]) -> Tensor:
        """The fused vector h (n, d_h), before the output layers."""
        return self.fusion([reps[m] for m in self.modalities])

    def combine(self, reps: dict[str, Tensor], inputs: dict[str, Tensor]) -> Tensor:
        return self.head(self.fuse(reps))

    def fusion_parameter_count(self) -> int:
        return sum(p.numel() for p in self.fusion.parameters())


class TFN(FusionModel):
    """Tensor Fusion Network: the outer product of [h_m; 1] through one linear layer."""

    name: ClassVar[str] = "tfn"
    paper: ClassVar[str] = "Zadeh, Chen, Poria, Cambria, Morency. Tensor Fusion Network. EMNLP 2017"
    fusion_kind: ClassVar[str] = "tfn"


class LMF(FusionModel):
    """Low-rank Multimodal Fusion: TFN's weight tensor as a rank-r CP decomposition."""

    name: ClassVar[str] = "lmf"
    paper: ClassVar[str] = (
        "Liu, Shen, Lakshminarasimhan, Liang, Zadeh, Morency. Efficient Low-rank Multimodal "
        "Fusion with Modality-Specific Factors. ACL 2018"
    )
    config_class: ClassVar[type[ModelConfig]] = LMFConfig
    fusion_kind: ClassVar[str] = "lmf"

    def full_weight_tensor(self) -> Tensor:
        """TFN-shaped weight tensor equivalent to the factors (see `LowRankFusion`)."""
        return self.fusion.full_weight_tensor()


class EarlyFusion(SentimentModel):
    """Early fusion: per-step [embedding(words); features...] -> one LSTM -> output layers.

    The joint LSTM's state is read at the last real word of the first observed token
    modality (the last step if no token modality is observed). All modalities must share
    the number of time steps.
    """

    name: ClassVar[str] = "early_fusion"
    paper: ClassVar[str] = "Early-fusion LSTM baseline (as compared in Zadeh et al., EMNLP 2017)"

    def build(self) -> None:
        c = self.config
        steps = {s.shape[0] for s in self.specs.values()}
        if len(steps) != 1:
            raise ValueError(f"early fusion needs aligned modalities; time steps differ: {steps}")
        self.steps = steps.pop()
        self.embeddings = nn.ModuleDict(
            {
                m: nn.Embedding(s.num_classes, c.embed_dim, padding_idx=PAD)
                for m, s in self.specs.items()
                if s.kind == "tokens"
            }
        )
        in_dim = sum(self.representation_shape(m)[1] for m in self.modalities)
        self.lstm = nn.LSTM(in_dim, c.fusion_dim, batch_first=True)
        self.dropout = nn.Dropout(c.dropout)
        self.head = _output_head(c.fusion_dim, self.out_dim, c.dropout)

    def representation_shape(self, modality: str) -> tuple[int, ...]:
        s = self.specs[modality]
        return (self.steps, self.config.embed_dim if s.kind == "tokens" else s.shape[-1])

    def represent(self, modality: str, x: Tensor) -> Tensor:
        if modality in self.embeddings:
            return self.embeddings[modality](x)
        return x.to(self.lstm.weight_ih_l0.dtype)

    def combine(self, reps: dict[str, Tensor], inputs: dict[str, Tensor]) -> Tensor:
        x = self.dropout(torch.cat([reps[m] for m in self.modalities], dim=-1))
        out, _ = self.lstm(x)
        tokens = next((inputs[m] for m in self.embeddings if m in inputs), None)
        if tokens is None:
            h = out[:, -1]
        else:
            h = out[torch.arange(out.shape[0], device=out.device), last_token_index(tokens)]
        return self.head(h)

    def fusion_parameter_count(self) -> int:
        return sum(p.numel() for p in self.lstm.parameters())

    def embedding_layer(self, modality: str) -> nn.Embedding:
        if modality not in self.embeddings:
            raise ValueError(f"{modality!r} is not a token modality: it has no embedding")
        return self.embeddings[modality]


class LateFusion(SubnetModel):
    """Late fusion: one predictor per modality, combined by a learned weighted average.

    Each modality's sub-network feeds its own output layers; the weights are a softmax over
    one learned logit per modality, so the combination is an average and the weights can be
    read as how much the model trusts each modality.
    """

    name: ClassVar[str] = "late_fusion"
    paper: ClassVar[str] = "Late-fusion baseline (as compared in Zadeh et al., EMNLP 2017)"
    config_class: ClassVar[type[ModelConfig]] = LateFusionConfig
    combines_unimodal_predictions: ClassVar[bool] = True

    def build(self) -> None:
        c = self.config
        self.build_subnets()
        self.heads = nn.ModuleDict(
            {m: _output_head(self.dim(m), self.out_dim, c.dropout) for m in self.modalities}
        )
        self.weight_logits = nn.Parameter(torch.zeros(len(self.modalities)))

    def modality_weights(self) -> dict[str, float]:
        """The learned averaging weights (they sum to 1)."""
        w = torch.softmax(self.weight_logits.detach(), dim=0)
        return {m: float(v) for m, v in zip(self.modalities, w, strict=True)}

    def unimodal_outputs(self, reps: dict[str, Tensor]) -> dict[str, Tensor]:
        """Each modality's own raw prediction (n, out_dim)."""
        return {m: self.heads[m](reps[m]) for m in self.modalities}

    def combine(self, reps: dict[str, Tensor], inputs: dict[str, Tensor]) -> Tensor:
        outs = torch.stack(list(self.unimodal_outputs(reps).values()), dim=0)  # (M, n, out)
        w = torch.softmax(self.weight_logits, dim=0)
        return torch.einsum("m,mno->no", w, outs)

    def extra_loss(
        self, reps: dict[str, Tensor], y: Tensor
    ) -> tuple[Tensor | None, dict[str, float]]:
        weight = self.config.unimodal_loss_weight
        if weight == 0:
            return None, {}
        losses = {m: self.task_loss(o, y) for m, o in self.unimodal_outputs(reps).items()}
        prefix = "l1" if self.config.task == "regression" else "ce"
        terms = {f"{prefix}_{m}": float(v.detach()) for m, v in losses.items()}
        return weight * torch.stack(list(losses.values())).mean(), terms

    def fusion_parameter_count(self) -> int:
        return self.weight_logits.numel()
