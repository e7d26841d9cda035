"""Reproductions: the papers' headline claims re-measured on our data, one study per claim.

`python -m mmviz study NAME [--quick]` trains small models with fixed seeds, measures, and
writes `results/<NAME>.json` (`<NAME>.quick.json` for `--quick`, so a smoke run never
overwrites a real result). Each file holds the claim with its paper reference, our numbers
(`rows`), the paper's numbers where they are comparable (`paper`, else null), a verdict computed
by a stated rule from our numbers alone, the command that reruns it, and provenance (config,
seed, wall time, code version).

Why the verdict is a rule and not a judgement: the page shows it next to the numbers, and anyone
can check that the rule, applied to the rows, gives that verdict (`VERDICTS[name](rows)`).

Budgets: every full study fits in about 20 minutes on 2 CPU cores, which means far fewer epochs
and seeds than the papers used, and our smaller datasets; each result says so in `budget_note`.
`MMVIZ_RESULTS` moves the results folder (default: `./results` if it exists, else the packaged
one; an installed package's own folder is never written: see `mmviz.paths`).

Layout: one module per study (`weak_supervision`, `poe_vs_quotient`, `jmvae_alpha`,
`mfm_ablations`, `lmf_rank`, `scaling`, `aggregation`), each with its typed plan, its run, its
verdict rule and its `STUDY` record; `plan` (the plan types), `base` (`Study` and the shared
measurements), `index` (the registry `STUDIES`), `runner` (`run_study`) and `results` (reading
the files back). This module re-exports their public names.
"""

from __future__ import annotations

from mmviz.studies.aggregation import (
    AGG_CLOSE,
    AGGREGATORS,
    AggregationPlan,
    coherence_by_subset_size,
    verdict_aggregation,
)
from mmviz.studies.base import (
    VERDICT_LEVELS,
    Rows,
    Study,
    Verdict,
    conditional_loglik,
    conditional_loglik_mean,
    label_accuracy,
    marginal_loglik,
    shrink,
    sign_accuracy,
)
from mmviz.studies.index import STUDIES, VERDICTS, study
from mmviz.studies.jmvae_alpha import JMVAE_VARIANTS, verdict_jmvae_alpha
from mmviz.studies.lmf_rank import LMF_SUFFICE, LmfRankPlan, lmf_summary, verdict_lmf_rank
from mmviz.studies.mfm_ablations import (
    MFM_DATASETS,
    MfmAblationsPlan,
    MfmDataset,
    MfmDatasetPlan,
    mfm_variants,
    recon_error,
    verdict_mfm_ablations,
)
from mmviz.studies.plan import QUICK_VAE, VAE, Plan, TrainingPlan, VariantsPlan, variants_plan
from mmviz.studies.poe_vs_quotient import (
    POE_ACC_GAP,
    POE_LL_GAP,
    POE_VARIANTS,
    verdict_poe_vs_quotient,
)
from mmviz.studies.results import REQUIRED, Found, flat_rows, load_result, load_results
from mmviz.studies.runner import command, default_out, run_study
from mmviz.studies.scaling import SCALING_ORDER, ScalingPlan, verdict_scaling
from mmviz.studies.weak_supervision import (
    POOL_MODALITIES,
    WEAK_CLOSE,
    WEAK_SCARCE,
    WeakSupervisionPlan,
    train_supervised_baseline,
    train_weak_mvae,
    unique_hand_rows,
    verdict_weak_supervision,
    weak_pools,
)

__all__ = [
    "AGGREGATORS",
    "AGG_CLOSE",
    "JMVAE_VARIANTS",
    "LMF_SUFFICE",
    "MFM_DATASETS",
    "POE_ACC_GAP",
    "POE_LL_GAP",
    "POE_VARIANTS",
    "POOL_MODALITIES",
    "QUICK_VAE",
    "REQUIRED",
    "SCALING_ORDER",
    "STUDIES",
    "VAE",
    "VERDICTS",
    "VERDICT_LEVELS",
    "WEAK_CLOSE",
    "WEAK_SCARCE",
    "AggregationPlan",
    "Found",
    "LmfRankPlan",
    "MfmAblationsPlan",
    "MfmDataset",
    "MfmDatasetPlan",
    "Plan",
    "Rows",
    "ScalingPlan",
    "Study",
    "TrainingPlan",
    "VariantsPlan",
    "Verdict",
    "WeakSupervisionPlan",
    "coherence_by_subset_size",
    "command",
    "conditional_loglik",
    "conditional_loglik_mean",
    "default_out",
    "flat_rows",
    "label_accuracy",
    "lmf_summary",
    "load_result",
    "load_results",
    "marginal_loglik",
    "mfm_variants",
    "recon_error",
    "run_study",
    "shrink",
    "sign_accuracy",
    "study",
    "train_supervised_baseline",
    "train_weak_mvae",
    "unique_hand_rows",
    "variants_plan",
    "verdict_aggregation",
    "verdict_jmvae_alpha",
    "verdict_lmf_rank",
    "verdict_mfm_ablations",
    "verdict_poe_vs_quotient",
    "verdict_scaling",
    "verdict_weak_supervision",
    "weak_pools",
]
