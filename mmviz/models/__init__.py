"""Model registry: one dict from name to class; pages and CLI never branch on model type."""

from __future__ import annotations

from importlib import import_module

from mmviz.models.base import (
    MODEL_KINDS,
    MixturePosterior,
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
    "tfn": "mmviz.models.fusion:TFN",
    "lmf": "mmviz.models.fusion:LMF",
    "early_fusion": "mmviz.models.fusion:EarlyFusion",
    "late_fusion": "mmviz.models.fusion:LateFusion",
    "oracle": "mmviz.models.oracle:OracleClassifier",
    "mvae": "mmviz.models.mvae:MVAE",
    "jmvae": "mmviz.models.jmvae:JMVAE",
    "mfm": "mmviz.models.mfm:MFM",
    "mopoe": "mmviz.models.mopoe:MoPoE",
    "mmvae": "mmviz.models.mmvae:MMVAE",
}


def register(name: str, target: str) -> None:
    MODELS[name] = target


def model_class(name: str) -> type[MultimodalModel]:
    if name not in MODELS:
        raise ValueError(f"unknown model {name!r}; choose from: {', '.join(sorted(MODELS))}")
    module, cls = MODELS[name].split(":")
    return getattr(import_module(module), cls)


def model_kind(name: str) -> str | None:
    """The kind the registered model `name` declares (one of MODEL_KINDS); None for a name
    that is not registered (e.g. a checkpoint whose config could not be read)."""
    return model_class(name).kind if name in MODELS else None


def models_of_kind(kind: str) -> tuple[str, ...]:
    """Registered model names of one kind, in registry order."""
    return tuple(name for name in MODELS if model_kind(name) == kind)


__all__ = [
    "MODELS",
    "MODEL_KINDS",
    "MixturePosterior",
    "ModelConfig",
    "MultimodalModel",
    "Posterior",
    "TrainingPhase",
    "UnsupportedSubset",
    "log_likelihood",
    "model_class",
    "model_kind",
    "models_of_kind",
    "to_data_space",
]
