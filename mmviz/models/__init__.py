"""Model registry: one dict from name to class; pages and CLI never branch on model type."""

from __future__ import annotations

from importlib import import_module

from mmviz.models.base import (
    ModelConfig,
    MultimodalModel,
    Posterior,
    TrainingPhase,
    UnsupportedSubset,
    log_likelihood,
    to_data_space,
)

# name -> "module:Class". Lazy, so importing the registry stays cheap.
MODELS: dict[str, str] = {
    "oracle": "mmviz.models.oracle:OracleClassifier",
}


def register(name: str, target: str) -> None:
    MODELS[name] = target


def model_class(name: str) -> type[MultimodalModel]:
    if name not in MODELS:
        raise ValueError(f"unknown model {name!r}; choose from: {', '.join(sorted(MODELS))}")
    module, cls = MODELS[name].split(":")
    return getattr(import_module(module), cls)


__all__ = [
    "MODELS",
    "ModelConfig",
    "MultimodalModel",
    "Posterior",
    "TrainingPhase",
    "UnsupportedSubset",
    "log_likelihood",
    "model_class",
    "to_data_space",
]
