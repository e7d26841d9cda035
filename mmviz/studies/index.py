"""Every study, in the order the page and `mmviz study --help` list them.

A study is one module exposing `STUDY`; adding one means adding its module here and its name to
`mmviz.registry.STUDY_NAMES` (which `mmviz --help` reads without importing torch; a test checks
that the two agree).
"""

from __future__ import annotations

from collections.abc import Callable

from mmviz.studies import (
    aggregation,
    jmvae_alpha,
    lmf_rank,
    mfm_ablations,
    poe_vs_quotient,
    scaling,
    weak_supervision,
)
from mmviz.studies.base import Rows, Study, Verdict

STUDIES: dict[str, Study] = {
    module.STUDY.name: module.STUDY
    for module in (
        weak_supervision,
        poe_vs_quotient,
        jmvae_alpha,
        mfm_ablations,
        lmf_rank,
        scaling,
        aggregation,
    )
}

VERDICTS: dict[str, Callable[[Rows], Verdict]] = {n: s.verdict for n, s in STUDIES.items()}


def study(name: str) -> Study:
    """The study called `name`; ValueError (a one-line CLI error) for an unknown one."""
    if name not in STUDIES:
        raise ValueError(f"unknown study {name!r}; choose from: {', '.join(STUDIES)}")
    return STUDIES[name]
