"""Noise at a signal-to-noise ratio on one modality of an input batch (robustness curves, the
fusion lab's noise sliders).

Works on any batch `dict[modality, Tensor]`: real-valued modalities get Gaussian noise, token
sequences get words replaced. Models never see this module; it changes inputs only.
"""

from __future__ import annotations

import torch
from torch import Tensor

PAD, UNK = 0, 1  # token ids every token modality reserves (see `ModalitySpec.vocab`)


def token_noise_fraction(snr_db: float) -> float:
    """Fraction of words replaced at a given SNR: p = 1 / (1 + 10^(snr_db / 10)).

    Kept words are the "signal", replaced ones the "noise": (1 - p) / p equals the linear SNR,
    so 0 dB replaces half the words, +10 dB about 9%, -10 dB about 91%.
    """
    return 1.0 / (1.0 + 10.0 ** (snr_db / 10.0))


def add_noise(
    inputs: dict[str, Tensor],
    modality: str,
    snr_db: float,
    generator: torch.Generator | None = None,
    vocab_size: int | None = None,
) -> dict[str, Tensor]:
    """A copy of `inputs` with noise at `snr_db` decibels added to one modality.

    Real-valued modalities: Gaussian noise with variance (per-sample mean square) / 10^(snr/10);
    for (n, T, d) sequences, all-zero (padding) steps stay zero and do not count in the power.
    Token modalities: each non-PAD word is replaced with probability `token_noise_fraction`,
    by a uniformly random word id in [2, vocab_size) when `vocab_size` is given, else by UNK.
    """
    x = inputs[modality]
    out = dict(inputs)
    if x.is_floating_point():
        n = x.shape[0]
        if x.dim() == 3:
            mask = (x != 0).any(dim=-1, keepdim=True).to(x.dtype).expand_as(x)
        else:
            mask = torch.ones_like(x)
        count = mask.reshape(n, -1).sum(dim=1).clamp_min(1.0)
        power = (x.pow(2) * mask).reshape(n, -1).sum(dim=1) / count
        std = (power / 10.0 ** (snr_db / 10.0)).sqrt().reshape((n,) + (1,) * (x.dim() - 1))
        noise = torch.randn(x.shape, generator=generator, dtype=x.dtype).to(x.device)
        out[modality] = x + noise * std * mask
        return out
    flip = torch.rand(x.shape, generator=generator).to(x.device) < token_noise_fraction(snr_db)
    flip &= x != PAD
    if vocab_size is not None:
        repl = torch.randint(2, vocab_size, x.shape, generator=generator).to(x.device, x.dtype)
    else:
        repl = torch.full_like(x, UNK)
    out[modality] = torch.where(flip, repl, x)
    return out
