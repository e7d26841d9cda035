"""Datasets: one registry, one API (`MultimodalDataset`), offline and deterministic from a seed."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from importlib import import_module

from mmviz.data.base import (
    SPLITS,
    DataError,
    ModalitySpec,
    MultimodalDataset,
    parse_modalities,
)

# name -> "module:function"; each builder is `f(seed=0, use_cache=True, **options)`.
# Imported lazily so that asking for one dataset never pays for building another's code.
DATASETS: dict[str, str] = {
    "digits": "mmviz.data.digits:load_digits",
    "sentiment": "mmviz.data.sentiment:load_sentiment",
}


def dataset_builder(name: str) -> Callable[..., MultimodalDataset]:
    if name not in DATASETS:
        raise DataError(f"unknown dataset {name!r}; choose from: {', '.join(DATASETS)}")
    module, func = DATASETS[name].split(":")
    return getattr(import_module(module), func)


# name -> "module:function" giving the version the builder makes with its defaults, without
# building it (the app compares it with a checkpoint's `dataset_version`).
VERSIONS: dict[str, str] = {
    "digits": "mmviz.data.digits:digits_version",
    "sentiment": "mmviz.data.sentiment:sentiment_version",
}


def dataset_version(name: str) -> str | None:
    """The version of dataset `name` this app builds (default options), computed from its
    parameters without building it; None for a dataset it cannot say this of."""
    if name not in VERSIONS:
        return None
    module, func = VERSIONS[name].split(":")
    version = getattr(import_module(module), func)()
    return str(version[0] if isinstance(version, tuple) else version)


def load_dataset(
    name: str,
    modalities: Sequence[str] | str | None = None,
    seed: int = 0,
    **options,
) -> MultimodalDataset:
    """Build or load from cache dataset `name`, restricted to `modalities` if given."""
    return dataset_builder(name)(seed=seed, **options).select(modalities)


__all__ = [
    "DATASETS",
    "SPLITS",
    "DataError",
    "ModalitySpec",
    "MultimodalDataset",
    "dataset_builder",
    "dataset_version",
    "load_dataset",
    "parse_modalities",
]
