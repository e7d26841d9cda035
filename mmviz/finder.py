"""Find test samples worth showing: by class, by a recorded style factor, by the sentiment
recipe that built them, or where two models disagree.

A teacher looking for "a sarcastic utterance late fusion gets wrong" or "a 4 drawn with thin
ink" should not page through hundreds of samples. Everything here returns test *positions* (what
the sidebar's sample box and every `PageState.sample` hold). No Streamlit.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from mmviz.data.base import MultimodalDataset
from mmviz.models import MultimodalModel


@dataclass(frozen=True)
class SampleFilter:
    """What to look for; None leaves that criterion out."""

    target_class: int | None = None
    factor: str | None = None  # a recorded factor (a column of ds.factor_table)
    low: float | None = None  # continuous factor: the range kept
    high: float | None = None
    value: int | None = None  # categorical factor: the value kept
    recipe: str | None = None  # sentiment: the interaction that built the utterance


def find_samples(
    ds: MultimodalDataset,
    flt: SampleFilter,
    disagreement: np.ndarray | None = None,
) -> np.ndarray:
    """Test positions matching every criterion of `flt` (and, given `disagreement`, a boolean
    per test position, only where it is True)."""
    table = ds.factor_table("test")
    keep = np.ones(len(table), dtype=bool)
    if flt.target_class is not None:
        if "class" not in table:
            raise ValueError(f"dataset {ds.name!r} has no classes; filter by a factor instead")
        keep &= table["class"].to_numpy() == flt.target_class
    if flt.factor is not None:
        if flt.factor not in table:
            raise ValueError(
                f"no factor {flt.factor!r} in {ds.name!r}; it records: {', '.join(table.columns)}"
            )
        column = table[flt.factor].to_numpy()
        if flt.value is not None:
            keep &= column == flt.value
        if flt.low is not None:
            keep &= column >= flt.low
        if flt.high is not None:
            keep &= column <= flt.high
    if flt.recipe is not None:
        names = list(ds.info.get("interactions", []))
        if flt.recipe not in names:
            raise ValueError(
                f"no recipe {flt.recipe!r} in {ds.name!r}"
                + (f"; recipes: {', '.join(names)}" if names else " (it has none)")
            )
        keep &= table["interaction"].to_numpy() == names.index(flt.recipe)
    if disagreement is not None:
        if disagreement.shape != keep.shape:
            raise ValueError("disagreement must hold one value per test sample")
        keep &= disagreement
    return np.flatnonzero(keep)


def decision_input(model: MultimodalModel) -> list[str] | None:
    """What a model decides from when two models are compared: `hand` alone for a digits model
    (the classic question: what does it read from a drawing?), every input otherwise."""
    return ["hand"] if "hand" in model.input_modalities else None


@torch.inference_mode()
def test_decisions(model: MultimodalModel, ds: MultimodalDataset) -> np.ndarray:
    """Each test sample's decision: the predicted class, or the sign of a predicted score
    (1 positive, 0 negative)."""
    from mmviz.evaluate import batched

    observed = decision_input(model)
    out = []
    for x, _ in batched(ds, "test", None):
        pred = model.predict(x, observed)
        out.append(pred.argmax(-1) if pred.ndim == 2 else (pred.reshape(-1) >= 0).long())
    return torch.cat(out).numpy()


def truth_decisions(ds: MultimodalDataset) -> np.ndarray:
    """The test samples' true decisions, in the form `test_decisions` gives."""
    table = ds.factor_table("test")
    if "class" in table:
        return table["class"].to_numpy()
    return (table["score"].to_numpy() >= 0).astype(np.int64)


def disagreement(
    first: np.ndarray, second: np.ndarray, truth: np.ndarray, which: str
) -> np.ndarray:
    """Where two models' decisions differ: "any", or only where the `first` / `second` is the
    right one."""
    differ = first != second
    if which == "any":
        return differ
    if which == "first right":
        return differ & (first == truth)
    if which == "second right":
        return differ & (second == truth)
    raise ValueError(f"which must be 'any', 'first right' or 'second right', got {which!r}")
