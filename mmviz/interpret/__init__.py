"""Interpretation backend: attributions, modality Shapley values, information measures, PID,
MFM interpretation and latent projections.

Every function takes a model and arrays/tensors and returns numpy arrays, dataclasses or
pandas DataFrames, deterministically for a seed, so pages can cache results. Names are
imported lazily (Captum, scikit-learn and dit are slow to import), so `import mmviz.interpret`
stays cheap.
"""

from __future__ import annotations

from importlib import import_module
from typing import Any

_EXPORTS: dict[str, str] = {
    # attributions
    "METHODS": "attributions",
    "AttributionResult": "attributions",
    "Attributor": "attributions",
    "GeneratedClass": "attributions",
    "ImageRegion": "attributions",
    "LatentDim": "attributions",
    "MethodSpec": "attributions",
    "ParamSpec": "attributions",
    "Prediction": "attributions",
    "Target": "attributions",
    "TappedInputs": "attributions",
    "attribute": "attributions",
    "default_observed": "attributions",
    "embedding_modules": "attributions",
    "prediction_from_nothing": "attributions",
    # modality Shapley values
    "ShapleyResult": "shapley",
    "brute_force_shapley": "shapley",
    "modality_shapley": "shapley",
    # information and disentanglement
    "DCIResult": "information",
    "DisentanglementResult": "information",
    "MIMatrix": "information",
    "dci": "information",
    "dci_dlib": "information",
    "disentanglement": "information",
    "entropy_discrete": "information",
    "mi_discrete": "information",
    "mi_gaussian": "information",
    "mi_knn": "information",
    "mig": "information",
    "mutual_information_matrix": "information",
    "sap": "information",
    "sap_dlib": "information",
    # partial information decomposition
    "MEASURES": "pid",
    "PIDResult": "pid",
    "discretize_features": "pid",
    "default_cue_methods": "pid",
    "pid_by_group": "pid",
    "pid_by_recipe": "pid",
    "pid_from_samples": "pid",
    "pooled_features": "pid",
    "unimodal_cues": "pid",
    # MFM
    "GradientFlow": "mfm",
    "factor_information": "mfm",
    "generative_sensitivity": "mfm",
    "shared_factor_gradients": "mfm",
    # projections
    "latent_projection": "projection",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name not in _EXPORTS:
        raise AttributeError(f"module 'mmviz.interpret' has no attribute {name!r}")
    return getattr(import_module(f"mmviz.interpret.{_EXPORTS[name]}"), name)
