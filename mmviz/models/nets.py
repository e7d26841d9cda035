"""Per-modality encoders and decoders, chosen by `ModalitySpec.kind` through two dicts.

Models never branch on a modality's kind: they call `make_encoder(spec, ...)` and
`make_decoder(spec, ...)`, and a new kind plugs in by adding an entry to `ENCODERS` /
`DECODERS`. Networks are MLPs with Swish (SiLU) activations, as in the MVAE reference code
(mhw32/multimodal-vae-public: image encoder 784-512-512, label encoder Embedding(10, 512)-512),
so that every model trains in minutes on a CPU; token and feature sequences may use a small GRU.

Shapes (n = batch):
- encoders: data (n, *spec.shape) -> features (n, out_dim), last layer linear (no activation),
  so a model can read its Gaussian parameters straight off the features.
- decoders: latent (n, latent_dim) -> params shaped like the data, plus a class axis where the
  likelihood is categorical: bernoulli/gaussian/laplace -> (n, *shape) (logits or means);
  categorical label -> (n, C); tokens -> (n, L, V).
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Sequence

from torch import Tensor, nn

from mmviz.data.base import ModalitySpec

Hidden = int | Sequence[int]


def _sizes(hidden: Hidden) -> tuple[int, ...]:
    sizes = (hidden,) if isinstance(hidden, int) else tuple(int(h) for h in hidden)
    if not sizes:
        raise ValueError("give at least one hidden layer size")
    return sizes


def mlp(sizes: Sequence[int], final_activation: bool = False) -> nn.Sequential:
    """Linear layers of the given widths with SiLU (= Swish) between them."""
    layers: list[nn.Module] = []
    for i, (a, b) in enumerate(itertools.pairwise(sizes)):
        layers.append(nn.Linear(a, b))
        if i < len(sizes) - 2 or final_activation:
            layers.append(nn.SiLU())
    return nn.Sequential(*layers)


# ---- encoders --------------------------------------------------------------------------------


class FlatEncoder(nn.Module):
    """Flatten, then MLP: images, spectrograms, and short feature sequences."""

    def __init__(self, spec: ModalitySpec, hidden: Hidden, out_dim: int) -> None:
        super().__init__()
        self.net = mlp([spec.size, *_sizes(hidden), out_dim])

    def forward(self, x: Tensor) -> Tensor:
        return self.net(x.reshape(x.shape[0], -1).float())


class CategoricalEncoder(nn.Module):
    """Embedding(C, h) then MLP: the MVAE reference's label encoder."""

    def __init__(self, spec: ModalitySpec, hidden: Hidden, out_dim: int) -> None:
        super().__init__()
        sizes = _sizes(hidden)
        self.embed = nn.Embedding(spec.num_classes, sizes[0])
        self.net = nn.Sequential(nn.SiLU(), mlp([*sizes, out_dim]))

    def forward(self, x: Tensor) -> Tensor:
        return self.net(self.embed(x.long()))


class TokenEncoder(nn.Module):
    """Token ids -> embeddings -> pooled over non-PAD positions (mean, or a GRU) -> MLP.

    `forward_embedded` takes the embeddings directly so that interpretation code can take
    gradients with respect to each token position.
    """

    def __init__(
        self, spec: ModalitySpec, hidden: Hidden, out_dim: int, recurrent: bool = False
    ) -> None:
        super().__init__()
        sizes = _sizes(hidden)
        self.embed = nn.Embedding(spec.num_classes, sizes[0], padding_idx=0)
        self.gru = nn.GRU(sizes[0], sizes[0], batch_first=True) if recurrent else None
        self.net = nn.Sequential(nn.SiLU(), mlp([*sizes, out_dim]))

    def forward(self, x: Tensor) -> Tensor:
        x = x.long()
        return self.forward_embedded(self.embed(x), x != 0)

    def forward_embedded(self, emb: Tensor, mask: Tensor) -> Tensor:
        if self.gru is None:
            w = mask.unsqueeze(-1).to(emb.dtype)
            pooled = (emb * w).sum(1) / w.sum(1).clamp_min(1.0)
        else:
            pooled = _gru_last(self.gru, emb, mask.sum(1))
        return self.net(pooled)


class SequenceGRUEncoder(nn.Module):
    """T x F features -> GRU over time -> final state -> MLP (order-aware alternative)."""

    def __init__(self, spec: ModalitySpec, hidden: Hidden, out_dim: int) -> None:
        super().__init__()
        sizes = _sizes(hidden)
        self.gru = nn.GRU(spec.shape[-1], sizes[0], batch_first=True)
        self.net = nn.Sequential(nn.SiLU(), mlp([*sizes, out_dim]))

    def forward(self, x: Tensor) -> Tensor:
        _, h = self.gru(x.float())
        return self.net(h[-1])


def _gru_last(gru: nn.GRU, x: Tensor, lengths: Tensor) -> Tensor:
    """GRU state after each sequence's last non-PAD step (empty sequences read one step)."""
    packed = nn.utils.rnn.pack_padded_sequence(
        x, lengths.clamp_min(1).cpu(), batch_first=True, enforce_sorted=False
    )
    _, h = gru(packed)
    return h[-1]


def _tokens(
    spec: ModalitySpec, hidden: Hidden, out_dim: int, recurrent: bool, conv: bool
) -> nn.Module:
    return TokenEncoder(spec, hidden, out_dim, recurrent=recurrent)


def _sequence(
    spec: ModalitySpec, hidden: Hidden, out_dim: int, recurrent: bool, conv: bool
) -> nn.Module:
    return (
        SequenceGRUEncoder(spec, hidden, out_dim)
        if recurrent
        else FlatEncoder(spec, hidden, out_dim)
    )


def _flat(
    spec: ModalitySpec, hidden: Hidden, out_dim: int, recurrent: bool, conv: bool
) -> nn.Module:
    return FlatEncoder(spec, hidden, out_dim)


class ConvEncoder(nn.Module):
    """Three stride-2 convolutions, then an MLP: colour images.

    The MNIST reference's MLP reads greyscale digits well, but on the coloured street-number
    modality (random hues, scale, rotation, distractor digits; MFM's SVHN setting used CNNs)
    a flat MLP learned little of the digit and cost 3,072 x hidden weights per layer.
    """

    def __init__(self, spec: ModalitySpec, hidden: Hidden, out_dim: int) -> None:
        super().__init__()
        c, h, w = spec.shape
        self.conv = nn.Sequential(
            nn.Conv2d(c, 32, 4, stride=2, padding=1),
            nn.SiLU(),
            nn.Conv2d(32, 64, 4, stride=2, padding=1),
            nn.SiLU(),
            nn.Conv2d(64, 64, 4, stride=2, padding=1),
            nn.SiLU(),
            nn.Flatten(),
        )
        self.net = mlp([64 * (h // 8) * (w // 8), *_sizes(hidden), out_dim])

    def forward(self, x: Tensor) -> Tensor:
        return self.net(self.conv(x.float()))


def _image(
    spec: ModalitySpec, hidden: Hidden, out_dim: int, recurrent: bool, conv: bool
) -> nn.Module:
    """Colour images get the CNN, greyscale ones the reference MLP unless `conv` asks for the
    CNN too (see ConvEncoder)."""
    if spec.shape[0] == 3 or conv:
        return ConvEncoder(spec, hidden, out_dim)
    return FlatEncoder(spec, hidden, out_dim)


def _categorical(
    spec: ModalitySpec, hidden: Hidden, out_dim: int, recurrent: bool, conv: bool
) -> nn.Module:
    return CategoricalEncoder(spec, hidden, out_dim)


# (spec, hidden, out_dim, recurrent, conv) -> module
EncoderFactory = Callable[[ModalitySpec, Hidden, int, bool, bool], nn.Module]
ENCODERS: dict[str, EncoderFactory] = {
    "image": _image,
    "spectrogram": _flat,
    "categorical": _categorical,
    "tokens": _tokens,
    "sequence": _sequence,
}


def make_encoder(
    spec: ModalitySpec, hidden: Hidden, out_dim: int, recurrent: bool = False, conv: bool = False
) -> nn.Module:
    """Encoder for one modality: data (n, *shape) -> features (n, out_dim).

    hidden: hidden layer widths (an int means one layer); the reference MNIST encoder is
        hidden=(512, 512). recurrent: tokens and sequences read by a GRU instead of
        mean pooling / flattening (other kinds ignore it). conv: greyscale images read by
        the CNN too (colour images always are; other kinds ignore it).
    """
    if spec.kind not in ENCODERS:
        raise ValueError(f"no encoder for modality kind {spec.kind!r}; known: {sorted(ENCODERS)}")
    return ENCODERS[spec.kind](spec, hidden, out_dim, recurrent, conv)


# ---- decoders --------------------------------------------------------------------------------


def param_shape(spec: ModalitySpec) -> tuple[int, ...]:
    """Shape of one sample's decoder params: the data's, plus a class axis if categorical."""
    extra = (spec.num_classes,) if spec.likelihood == "categorical" else ()
    return tuple(spec.shape) + extra


class FlatDecoder(nn.Module):
    """MLP from the latent to every parameter at once, reshaped like the data.

    Used for every kind: a sequence decoder thus emits all T steps' outputs jointly (n, T, F),
    and a token decoder one distribution per position (n, L, V).
    """

    def __init__(self, spec: ModalitySpec, latent_dim: int, hidden: Hidden) -> None:
        super().__init__()
        self.shape = param_shape(spec)
        size = 1
        for s in self.shape:
            size *= s
        self.net = mlp([latent_dim, *_sizes(hidden), size])

    def forward(self, z: Tensor) -> Tensor:
        return self.net(z).reshape(z.shape[0], *self.shape)


class ConvDecoder(nn.Module):
    """MLP to a 64 x h/8 x w/8 map, then three stride-2 transposed convolutions: colour images
    (the mirror of ConvEncoder; a flat decoder needs hidden x 3,072 output weights)."""

    def __init__(self, spec: ModalitySpec, latent_dim: int, hidden: Hidden) -> None:
        super().__init__()
        c, h, w = spec.shape
        self.grid = (64, h // 8, w // 8)
        self.net = mlp([latent_dim, *_sizes(hidden), 64 * (h // 8) * (w // 8)], True)
        self.deconv = nn.Sequential(
            nn.ConvTranspose2d(64, 64, 4, stride=2, padding=1),
            nn.SiLU(),
            nn.ConvTranspose2d(64, 32, 4, stride=2, padding=1),
            nn.SiLU(),
            nn.ConvTranspose2d(32, c, 4, stride=2, padding=1),
        )

    def forward(self, z: Tensor) -> Tensor:
        return self.deconv(self.net(z).reshape(z.shape[0], *self.grid))


def _image_decoder(spec: ModalitySpec, latent_dim: int, hidden: Hidden) -> nn.Module:
    if spec.shape[0] == 3:
        return ConvDecoder(spec, latent_dim, hidden)
    return FlatDecoder(spec, latent_dim, hidden)


DecoderFactory = Callable[[ModalitySpec, int, Hidden], nn.Module]
DECODERS: dict[str, DecoderFactory] = {
    "image": _image_decoder,
    "spectrogram": FlatDecoder,
    "categorical": FlatDecoder,
    "tokens": FlatDecoder,
    "sequence": FlatDecoder,
}


def make_decoder(spec: ModalitySpec, latent_dim: int, hidden: Hidden) -> nn.Module:
    """Decoder for one modality: latent (n, latent_dim) -> params (n, *param_shape(spec)).

    The reference MNIST decoders are hidden=(512, 512, 512).
    """
    if spec.kind not in DECODERS:
        raise ValueError(f"no decoder for modality kind {spec.kind!r}; known: {sorted(DECODERS)}")
    return DECODERS[spec.kind](spec, latent_dim, hidden)


def gaussian_experts_and_decoders(
    specs: dict[str, ModalitySpec],
    latent_dim: int,
    hidden: int,
    enc_layers: int,
    dec_layers: int,
    recurrent: bool = False,
) -> tuple[nn.ModuleDict, nn.ModuleDict]:
    """One Gaussian expert (mean and log-variance of z) and one decoder per modality: the
    networks the MVAE, MoPoE and MMVAE share; they differ only in how the experts combine.
    Built experts first, then decoders, so a fixed seed gives the same initial weights."""
    enc_hidden, dec_hidden = (hidden,) * enc_layers, (hidden,) * dec_layers
    experts = nn.ModuleDict(
        {m: make_encoder(s, enc_hidden, 2 * latent_dim, recurrent) for m, s in specs.items()}
    )
    decoders = nn.ModuleDict({m: make_decoder(s, latent_dim, dec_hidden) for m, s in specs.items()})
    return experts, decoders
