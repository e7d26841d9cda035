"""Datasets: one registry, one API (`MultimodalDataset`), offline and deterministic from a seed.

Built-in datasets are listed in `DATASETS`; installed packages add more through the
`mmviz.datasets` entry-point group (`mmviz.plugins`, docs/plugins.md).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from mmviz.data.base import (
    SPLITS,
    DataError,
    ModalitySpec,
    MultimodalDataset,
    parse_modalities,
)
from mmviz.plugins import DATASETS_GROUP, PluginError, PluginRegistry

# name -> "module:function"; each builder is `f(seed=0, use_cache=True, **options)`.
# Imported lazily so that asking for one dataset never pays for building another's code.
DATASETS: dict[str, str] = {
    "digits": "mmviz.data.digits:load_digits",
    "sentiment": "mmviz.data.sentiment:load_sentiment",
}


def _unknown(name: str, names: list[str]) -> DataError:
    return DataError(f"unknown dataset {name!r}; choose from: {', '.join(names)}")


def _not_callable(name: str, obj: object) -> str | None:
    return None if callable(obj) else f"is {type(obj).__name__}, not a dataset builder function"


REGISTRY = PluginRegistry(DATASETS_GROUP, "dataset", DATASETS, _unknown, _not_callable)


def dataset_names() -> list[str]:
    """Every dataset name: the built-ins, then the installed plugins'."""
    return REGISTRY.names()


def dataset_builder(name: str) -> Callable[..., MultimodalDataset]:
    return REGISTRY.load(name)  # type: ignore[return-value]


def load_dataset(
    name: str,
    modalities: Sequence[str] | str | None = None,
    seed: int = 0,
    **options,
) -> MultimodalDataset:
    """Build or load from cache dataset `name`, restricted to `modalities` if given."""
    ds = dataset_builder(name)(seed=seed, **options)
    if not isinstance(ds, MultimodalDataset):
        raise PluginError(
            f"dataset {name!r}'s builder returned {type(ds).__name__}, not a MultimodalDataset"
        )
    if ds.name != name:  # a checkpoint records ds.name, and is reopened by it
        raise PluginError(
            f"dataset {name!r}'s builder returned a dataset named {ds.name!r}; the two must "
            "agree, since a checkpoint's dataset is rebuilt by the name it records"
        )
    return ds.select(modalities)


__all__ = [
    "DATASETS",
    "SPLITS",
    "DataError",
    "ModalitySpec",
    "MultimodalDataset",
    "dataset_builder",
    "dataset_names",
    "load_dataset",
    "parse_modalities",
]
