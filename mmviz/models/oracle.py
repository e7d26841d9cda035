"""Oracle classifiers: one independent classifier per modality, the judge of coherence.

Coherence (Shi et al. 2019, used by MultiVae) asks whether a generated modality shows the right
class. The judge must be trained on real data only and be independent of the generative model,
so each modality gets its own small discriminative network here: a CNN for images and
spectrograms, a bag of embeddings for token sequences.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import torch
from torch import Tensor, nn

from mmviz.data.base import ModalitySpec
from mmviz.models.base import ModelConfig, MultimodalModel


@dataclass
class OracleConfig(ModelConfig):
    """modality: which input modality this oracle reads (one of the dataset's).
    target: which dataset target it predicts ("class" for digits).
    num_classes: number of classes.
    channels: conv widths for images/spectrograms; embed: token embedding size.
    dropout: dropout before the output layer (regularises on ~7,000 training samples).
    """

    modality: str = "hand"
    target: str = "class"
    num_classes: int = 10
    channels: tuple[int, int] = (32, 64)
    embed: int = 64
    dropout: float = 0.3


def _conv_net(spec: ModalitySpec, cfg: OracleConfig) -> nn.Module:
    c_in, h, w = spec.shape
    c1, c2 = cfg.channels
    return nn.Sequential(
        nn.Conv2d(c_in, c1, 3, padding=1),
        nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Conv2d(c1, c2, 3, padding=1),
        nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Flatten(),
        nn.Linear(c2 * (h // 4) * (w // 4), 128),
        nn.ReLU(),
        nn.Dropout(cfg.dropout),
        nn.Linear(128, cfg.num_classes),
    )


class _TokenBag(nn.Module):
    def __init__(self, spec: ModalitySpec, cfg: OracleConfig) -> None:
        super().__init__()
        self.embed = nn.EmbeddingBag(spec.num_classes, cfg.embed, mode="mean", padding_idx=0)
        self.out = nn.Sequential(nn.ReLU(), nn.Linear(cfg.embed, cfg.num_classes))

    def forward(self, x: Tensor) -> Tensor:
        return self.out(self.embed(x.long()))


class _OneHot(nn.Module):
    """A label modality judges itself: its oracle is the identity on the class."""

    def __init__(self, spec: ModalitySpec, cfg: OracleConfig) -> None:
        super().__init__()
        self.n = spec.num_classes

    def forward(self, x: Tensor) -> Tensor:
        if x.dim() == 2:  # class probabilities from a decoder
            return torch.log(x.clamp_min(1e-8))
        return torch.log(nn.functional.one_hot(x.long(), self.n).float().clamp_min(1e-8))


NETWORKS = {
    "image": _conv_net,
    "spectrogram": _conv_net,
    "tokens": _TokenBag,
    "categorical": _OneHot,
}


class OracleClassifier(MultimodalModel):
    name = "oracle"
    kind = "oracle"
    config_class = OracleConfig
    paper = "Coherence judge as in Shi et al. (NeurIPS 2019), trained on real data only"

    def __init__(self, config: OracleConfig, specs: dict[str, ModalitySpec]) -> None:
        if config.modality not in specs:
            raise ValueError(f"oracle modality {config.modality!r} not in {list(specs)}")
        super().__init__(config, {config.modality: specs[config.modality]})
        spec = self.specs[config.modality]
        self.net = NETWORKS[spec.kind](spec, config)

    def logits(self, x: Tensor) -> Tensor:
        """Class logits for a batch of one modality. Token inputs may also be given as
        per-position probabilities (n, L, V), as decoders produce them: the argmax is used."""
        if self.specs[self.config.modality].kind == "tokens" and x.dim() == 3:
            x = x.argmax(-1)
        return self.net(x)

    def forward(self, x: Tensor) -> Tensor:
        return self.logits(x)

    def predict(self, inputs: dict[str, Tensor], observed: Iterable[str] | None = None) -> Tensor:
        return torch.softmax(self.logits(inputs[self.config.modality]), dim=-1)

    def loss(self, inputs: dict[str, Tensor], targets: dict[str, Tensor], step: int):
        logits = self.logits(inputs[self.config.modality])
        y = targets[self.config.target].long()
        loss = nn.functional.cross_entropy(logits, y)
        acc = (logits.argmax(-1) == y).float().mean()
        return loss, {"acc": float(acc)}
