"""The one dataset API every model, evaluation and page uses.

A dataset is a set of named modalities (each described by a `ModalitySpec`), targets (labels or
scores), ground-truth factors per sample, and index splits. Nothing here knows how a particular
dataset is generated, so a new dataset (real CMU-MOSI features, say) plugs in by building a
`MultimodalDataset` and registering a builder: models never change.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Literal

import numpy as np

if TYPE_CHECKING:  # torch loads with the first batch, not with the dataset's description
    import torch

Kind = Literal["image", "categorical", "tokens", "spectrogram", "sequence"]
Likelihood = Literal["bernoulli", "gaussian", "laplace", "categorical"]
FactorKind = Literal["categorical", "continuous"]

SPLITS = ("train", "valid", "test")


class DataError(ValueError):
    """Bad dataset input: the message names what was wrong and what to do about it."""


@dataclass(frozen=True)
class ModalitySpec:
    """What one modality is, so encoders, decoders and pages can be chosen without special cases.

    name: key of the modality in every batch dict.
    kind: image | categorical | tokens | spectrogram | sequence.
    shape: shape of one sample's tensor (() for a categorical label).
    likelihood: the decoder's output distribution (bernoulli for [0,1] images, categorical for
        labels and tokens, gaussian/laplace for real-valued features).
    dtype: "float32" for real values, "int64" for class or token ids.
    value_range: (low, high) of real values, None for ids.
    vocab: class names (categorical) or tokens (tokens; index 0 is PAD, 1 is UNK).
    description: one sentence for people.
    """

    name: str
    kind: Kind
    shape: tuple[int, ...]
    likelihood: Likelihood
    dtype: str = "float32"
    value_range: tuple[float, float] | None = None
    vocab: tuple[str, ...] | None = None
    description: str = ""

    @property
    def num_classes(self) -> int:
        """Number of classes (categorical) or vocabulary size (tokens)."""
        if self.vocab is None:
            raise DataError(f"modality {self.name!r} is {self.kind}: it has no vocabulary")
        return len(self.vocab)

    @property
    def size(self) -> int:
        """Number of scalar entries in one sample."""
        return int(np.prod(self.shape)) if self.shape else 1

    def to_dict(self) -> dict:
        return {
            "name": self.name,
            "kind": self.kind,
            "shape": list(self.shape),
            "likelihood": self.likelihood,
            "dtype": self.dtype,
            "value_range": list(self.value_range) if self.value_range else None,
            "vocab": list(self.vocab) if self.vocab else None,
            "description": self.description,
        }

    @classmethod
    def from_dict(cls, d: dict) -> ModalitySpec:
        return cls(
            name=str(d["name"]),
            kind=d["kind"],
            shape=tuple(int(s) for s in d["shape"]),
            likelihood=d["likelihood"],
            dtype=str(d.get("dtype", "float32")),
            value_range=tuple(d["value_range"]) if d.get("value_range") else None,
            vocab=tuple(d["vocab"]) if d.get("vocab") else None,
            description=str(d.get("description", "")),
        )


@dataclass
class MultimodalDataset:
    """Arrays of every sample plus what they mean.

    data: modality name -> array with samples on axis 0 (float32 or int64 per spec).
    targets: name -> array per sample, e.g. "class" for digits; "score", "binary", "class7"
        for sentiment. `target` names the default one.
    factors: ground-truth generative factors per sample (name -> array); `factor_kinds`
        says whether each is categorical (MI by counting) or continuous (kNN MI).
    splits: "train" | "valid" | "test" -> sorted sample indices.
    """

    name: str
    version: str
    seed: int
    specs: dict[str, ModalitySpec]
    data: dict[str, np.ndarray]
    targets: dict[str, np.ndarray]
    target: str
    factors: dict[str, np.ndarray]
    factor_kinds: dict[str, FactorKind]
    splits: dict[str, np.ndarray]
    info: dict = field(default_factory=dict)

    # ---- description -------------------------------------------------------------------
    @property
    def modalities(self) -> list[str]:
        return list(self.specs)

    def __len__(self) -> int:
        return len(self.targets[self.target])

    def summary(self) -> dict:
        """Sizes, modalities and factors, as the CLI prints them."""
        return {
            "dataset": self.name,
            "version": self.version,
            "seed": self.seed,
            "samples": len(self),
            "splits": {k: int(len(v)) for k, v in self.splits.items()},
            "modalities": {k: s.to_dict() for k, s in self.specs.items()},
            "targets": sorted(self.targets),
            "factors": dict(self.factor_kinds),
            "info": self.info,
        }

    # ---- selection ---------------------------------------------------------------------
    def select(self, modalities: Sequence[str] | str | None) -> MultimodalDataset:
        """The same dataset restricted to some modalities (order kept as given)."""
        if modalities is None:
            return self
        names = parse_modalities(modalities)
        unknown = [m for m in names if m not in self.specs]
        if unknown:
            raise DataError(
                f"unknown modality {', '.join(map(repr, unknown))} for dataset {self.name!r}; "
                f"choose from: {', '.join(self.specs)}"
            )
        return replace(
            self,
            specs={m: self.specs[m] for m in names},
            data={m: self.data[m] for m in names},
        )

    def indices(self, split: str) -> np.ndarray:
        if split not in self.splits:
            raise DataError(f"unknown split {split!r}; choose from: {', '.join(self.splits)}")
        return self.splits[split]

    # ---- tensors -----------------------------------------------------------------------
    def tensors(
        self, split: str, index: np.ndarray | slice | None = None
    ) -> dict[str, torch.Tensor]:
        """All (or `index`-selected) samples of a split as `dict[str, Tensor]`."""
        import torch

        idx = self.indices(split)
        if index is not None:
            idx = idx[index]
        return {m: torch.from_numpy(np.ascontiguousarray(a[idx])) for m, a in self.data.items()}

    def target_tensor(
        self, split: str, name: str | None = None, index: np.ndarray | slice | None = None
    ) -> torch.Tensor:
        import torch

        idx = self.indices(split)
        if index is not None:
            idx = idx[index]
        key = name or self.target
        if key not in self.targets:
            raise DataError(f"unknown target {key!r}; choose from: {', '.join(self.targets)}")
        return torch.from_numpy(np.ascontiguousarray(self.targets[key][idx]))

    def loader(
        self,
        split: str,
        batch_size: int,
        shuffle: bool = True,
        seed: int = 0,
        epoch: int = 0,
        rank: int = 0,
        world_size: int = 1,
        drop_last: bool = False,
    ) -> Iterator[tuple[dict[str, torch.Tensor], dict[str, torch.Tensor]]]:
        """Yield (inputs, targets) batches; shuffling is a pure function of (seed, epoch).

        With world_size > 1 each rank gets an equal, disjoint shard of the epoch (the tail
        that does not divide evenly is dropped so every rank takes the same number of steps).
        """
        import torch

        idx = self.indices(split)
        if shuffle:
            rng = np.random.default_rng([seed, epoch])
            idx = idx[rng.permutation(len(idx))]
        if world_size > 1:
            per_rank = len(idx) // world_size
            idx = idx[rank * per_rank : (rank + 1) * per_rank]
        stop = len(idx) - (len(idx) % batch_size if drop_last else 0)
        for start in range(0, stop, batch_size):
            b = idx[start : start + batch_size]
            inputs = {m: torch.from_numpy(a[b]) for m, a in self.data.items()}
            targets = {k: torch.from_numpy(v[b]) for k, v in self.targets.items()}
            yield inputs, targets

    # ---- factors -----------------------------------------------------------------------
    def factor_table(self, split: str | None = None):
        """Ground-truth factors (plus targets) as a pandas DataFrame, one row per sample."""
        import pandas as pd

        idx = self.indices(split) if split else np.arange(len(self))
        cols = {k: v[idx] for k, v in self.targets.items()}
        cols.update({k: v[idx] for k, v in self.factors.items()})
        return pd.DataFrame(cols, index=idx)


def parse_modalities(modalities: Sequence[str] | str) -> list[str]:
    """'hand,label' or ['hand', 'label'] -> ['hand', 'label'] (no empties, no duplicates)."""
    names = modalities.split(",") if isinstance(modalities, str) else list(modalities)
    names = [n.strip() for n in names if n and n.strip()]
    if not names:
        raise DataError("no modality given: name at least one, e.g. --modalities hand,label")
    if len(set(names)) != len(names):
        raise DataError(f"modality listed twice in {','.join(names)}")
    return names


def version_hash(generator_version: str, params: dict) -> str:
    """Dataset version: generator code version plus a short hash of its parameters."""
    blob = json.dumps(params, sort_keys=True, default=str).encode()
    return f"{generator_version}-{hashlib.sha256(blob).hexdigest()[:10]}"


def stratified_split(
    labels: np.ndarray, fractions: dict[str, float], seed: int
) -> dict[str, np.ndarray]:
    """Split item indices per class by `fractions` (summing to 1), deterministically."""
    rng = np.random.default_rng(seed)
    out: dict[str, list[np.ndarray]] = {k: [] for k in fractions}
    for c in np.unique(labels):
        members = np.flatnonzero(labels == c)
        members = members[rng.permutation(len(members))]
        start = 0
        names = list(fractions)
        for i, name in enumerate(names):
            n = (
                len(members) - start
                if i == len(names) - 1
                else round(fractions[name] * len(members))
            )
            out[name].append(members[start : start + n])
            start += n
    return {k: np.sort(np.concatenate(v)) for k, v in out.items()}
