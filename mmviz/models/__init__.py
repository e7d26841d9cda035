"""Model registry: one dict from name to class; pages and CLI never branch on model type.

Built-in models are listed in `MODELS`; installed packages add more through the `mmviz.models`
entry-point group (`mmviz.plugins`, docs/plugins.md).
"""

from __future__ import annotations

import warnings

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
from mmviz.plugins import MODELS_GROUP, PluginError, PluginRegistry, PluginWarning

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


def _unknown(name: str, names: list[str]) -> ValueError:
    return ValueError(f"unknown model {name!r}; choose from: {', '.join(sorted(names))}")


def _not_a_model(name: str, obj: object) -> str | None:
    if not (isinstance(obj, type) and issubclass(obj, MultimodalModel)):
        return f"is {obj!r}, not a subclass of mmviz.models.MultimodalModel"
    if obj.name != name:  # a checkpoint's config records the class's name and is reopened by it
        return f"is class {obj.__name__} named {obj.name!r}; its `name` must be {name!r}"
    return None


REGISTRY = PluginRegistry(MODELS_GROUP, "model", MODELS, _unknown, _not_a_model)


def model_names() -> list[str]:
    """Every model name: the built-ins, then the installed plugins'."""
    return REGISTRY.names()


def model_class(name: str) -> type[MultimodalModel]:
    return REGISTRY.load(name)  # type: ignore[return-value]


def model_kind(name: str) -> str | None:
    """The kind the registered model `name` declares (one of MODEL_KINDS); None for a name
    that is not registered (e.g. a checkpoint whose config could not be read)."""
    return model_class(name).kind if name in REGISTRY else None


def models_of_kind(kind: str) -> tuple[str, ...]:
    """Registered model names of one kind, in registry order. A plugin model that cannot be
    loaded is left out with a warning, so that one broken plugin hides only itself."""
    out = []
    for name in model_names():
        try:
            if model_kind(name) == kind:
                out.append(name)
        except PluginError as e:
            warnings.warn(str(e), PluginWarning, stacklevel=2)
    return tuple(out)


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
    "model_names",
    "model_kind",
    "models_of_kind",
    "to_data_space",
]
