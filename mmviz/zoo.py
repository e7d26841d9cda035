"""The model zoo: the recipe of every shipped checkpoint, and a table of what is on disk.

`python -m mmviz train-all` replays these recipes with fixed seeds, so every checkpoint in
`checkpoints/` is reproducible by the project's own command. Oracles come first: evaluation of
the generative models uses them to judge coherence.
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mmviz import paths
from mmviz.registry import META, list_ids
from mmviz.settings import TrainSettings

DIGITS5 = ["hand", "print", "label", "text", "sound"]


@dataclass
class Recipe:
    """One shipped checkpoint: which model, on what, with which settings (and why, in `note`)."""

    id: str
    model: str
    dataset: str
    modalities: list[str] | None
    overrides: dict[str, Any] = field(default_factory=dict)
    settings: TrainSettings = field(default_factory=TrainSettings)
    note: str = ""
    # False while the checkpoint is not in checkpoints/ yet (train-all builds it anyway)
    shipped: bool = True
    # "float16" stores the weights at half precision: room for wider models in checkpoints/
    weights_dtype: str = "float32"
    # one line on the card: what the checkpoint is good for, or what it is kept to show
    purpose: str = ""


def _oracle(modality: str) -> Recipe:
    return Recipe(
        id=f"oracle_{modality}",
        model="oracle",
        dataset="digits",
        modalities=[modality],
        overrides={"modality": modality},
        settings=TrainSettings(epochs=15, batch_size=64, lr=1e-3, patience=4),
        note="independent judge of generated samples (coherence)",
        purpose=f"the judge that says which digit a generated `{modality}` shows",
    )


FUSION_SETTINGS = TrainSettings(epochs=100, batch_size=32, lr=1e-3, patience=10)
DIGITS_SETTINGS = TrainSettings(
    epochs=50, batch_size=100, lr=1e-3, patience=5, phase_epochs={"surrogate": 15}
)
# Hidden width 256 rather than the reference's 512: on ~7,000 training samples it measured the
# same label accuracy, trains twice as fast and keeps checkpoints/ under its 50 MB budget.
# Latent size 16: on these digits it gave the best label-from-hand accuracy among 16/32/64.
VAE = {"hidden": 256, "latent_dim": 16}
# The hand+label MVAE and JMVAE-kl use the reference's width 512, stored at half precision so
# that checkpoints/ stays under 50 MB. MVAE: latent 8 read the label from `hand` as well as 16
# (91% in 30-epoch sweeps) with slightly better sampled coherence (52% vs 48%); a label weight
# above 1 trades accuracy for coherence (1.5: 89%/67%, 2: 86%/67%), so it stays 1. KL
# annealing over 3,000 steps (~43 epochs) rather than 1,000: the best validation ELBO (the
# early-stopping criterion, at full KL weight) then comes mid-annealing, and sampled
# coherence rose from 52% to 79% at the same accuracy (2,000 steps: 68%; 4,000: 75%).
MVAE_HL = {"hidden": 512, "latent_dim": 8, "anneal_steps": 3000}
# JMVAE-kl: label weight 10 (the label's log-likelihood is at most log 10 nats against the
# image's hundreds) made label->hand coherence 89-91% where weight 1 gave 67-75%, with the
# label from `hand` at 91-93%; alpha 1 (0.1: coherence 74%, 10: 84%).
JMVAE_KL = {"hidden": 512, "latent_dim": 16, "alpha": 1.0, "weights": {"label": 10.0}}
# MFM: hidden 128 and a discriminative weight of 3 lifted the head's accuracy from `hand`
# (through its surrogate) from 81% to 90% against hidden 64 and weight 1; reading `hand` with
# the CNN (conv_images) to 92%, and starting the surrogates from the trained encoders to
# 95.5%. The surrogates were still improving at 15 epochs, hence 25. Patience 5: the recorded
# curves (patience 10) never improved after more than 3 bad epochs, so it stops the same
# weights 5 epochs sooner in each phase.
MFM_SETTINGS = TrainSettings(
    epochs=50, batch_size=100, lr=1e-3, patience=5, phase_epochs={"surrogate": 25}
)
# The five-modality models are the cost of train-all (each colour-image pass through the CNN
# is most of a step, and MFM decodes it once per surrogate): 25 epochs (10 for the eight
# surrogates) keep `train-all` under 30 minutes on 2 cores. At 50 (15) they took 9 and 12
# minutes; their figures before the cut are in the README.
DIGITS5_SETTINGS = TrainSettings(**{**DIGITS_SETTINGS.__dict__, "epochs": 25})
MFM_DIGITS5_SETTINGS = TrainSettings(
    **{**MFM_SETTINGS.__dict__, "epochs": 25, "phase_epochs": {"surrogate": 10}}
)
MFM = {"hidden": 128, "lambda_y": 3.0, "conv_images": True, "surrogate_warm_start": True}
# MFM on hand+print+label, judged by the demo suite (mmviz/demo.py): with Z_y of 16 and the
# per-entry reconstruction weighing 1 against the head's 3, the decoders drew `print` unreadably
# (18% self-reconstruction by the oracle), moving any one shared dimension changed the digit in
# 2% of sweeps, and the digit came from the modality-specific codes. Z_y of 4 (each dimension
# then matters) and lambda_i = 10 for both images (per-entry means, so 10 is still modest)
# gave print 84%, shared-factor traversal 34%, swap 59% at the same head accuracy (96% from
# hand). Z_a of 2 (hand) / 4 (print) alone did not help: a 2-d code still holds the digit.
MFM_DEMO = {**MFM, "zy_dim": 4, "recon_weights": {"hand": 10.0, "print": 10.0}}
# The mixture models' likelihood weights (lambda_i, which both reference codes set: MMVAE
# scales MNIST by 3072/784 = 3.92 so that it counts like SVHN): `hand` and `sound` scaled to
# `print`'s 3,072 entries, and the label and the phrase weighted 50 as the MVAE paper weighs
# MNIST's label. Unweighted, MoPoE read the digit from `print` at chance (10.5%): the colours
# took the whole latent, and no component drew a readable `print`.
MIXTURE_WEIGHTS = {"hand": 3072 / 784, "sound": 3072 / 1024, "label": 50.0, "text": 50.0}
# MMVAE decodes every modality once per expert (five times MoPoE's decoding per step): 10
# epochs keep it near MoPoE's training time on 2 cores.
MMVAE_SETTINGS = TrainSettings(**{**DIGITS_SETTINGS.__dict__, "epochs": 10})


def _digits(
    model: str,
    rid: str,
    modalities: list[str],
    note: str,
    settings: TrainSettings = DIGITS_SETTINGS,
    weights_dtype: str = "float32",
    **overrides: Any,
) -> Recipe:
    return Recipe(
        id=rid,
        model=model,
        dataset="digits",
        modalities=modalities,
        overrides=overrides,
        settings=settings,
        note=note,
        weights_dtype=weights_dtype,
    )


def _fusion(model: str, rid: str, shipped: bool = True, **overrides: Any) -> Recipe:
    return Recipe(
        id=rid,
        model=model,
        dataset="sentiment",
        modalities=None,
        # fused size 16 for every fusion model: TFN's 70,785 x d_h fusion weights then fit the
        # checkpoints/ size budget, and the comparison with LMF stays like for like.
        overrides={"fusion_dim": 16, **overrides},
        settings=FUSION_SETTINGS,
        note="sentiment score regression with L1 loss, as in the LMF reference code",
        shipped=shipped,
    )


ZOO: list[Recipe] = [
    _oracle("hand"),
    _oracle("print"),
    _oracle("text"),
    _oracle("sound"),
    _digits(
        "mvae",
        "mvae_hand_label",
        ["hand", "label"],
        "MVAE's MNIST setting: joint + image-only + label-only ELBOs",
        weights_dtype="float16",
        **MVAE_HL,
    ),
    _digits(
        "mvae",
        "mvae_hand_label_nosub",
        ["hand", "label"],
        "the paper's ablation: ELBO(all) only, no sub-sampling",
        weights_dtype="float16",
        subsample=False,
        **MVAE_HL,
    ),
    _digits(
        "jmvae",
        "jmvae_hand_label",
        ["hand", "label"],
        "plain JMVAE; single-modality inference by zero-filling (JMVAE-zero)",
        alpha=0.0,
        zero_fill=True,
        **VAE,
    ),
    _digits(
        "jmvae",
        "jmvaekl_hand_label",
        ["hand", "label"],
        "JMVAE-kl: unimodal encoders pulled to the joint one",
        weights_dtype="float16",
        **JMVAE_KL,
    ),
    _digits(
        "mvae",
        "mvae_digits5",
        DIGITS5,
        "one expert per modality serves all 31 subsets",
        DIGITS5_SETTINGS,
        weights_dtype="float16",
        hidden=128,
        latent_dim=32,
    ),
    _digits(
        "mopoe",
        "mopoe_digits5",
        DIGITS5,
        "MoPoE-VAE: a mixture over all 31 subsets' products of experts; every component is "
        "trained to explain all five modalities",
        DIGITS5_SETTINGS,
        weights_dtype="float16",
        hidden=128,
        latent_dim=32,
        weights=MIXTURE_WEIGHTS,
    ),
    _digits(
        "mmvae",
        "mmvae_digits5",
        DIGITS5,
        "MMVAE: a mixture of the five unimodal experts, stratified bound with DReG (K = 1)",
        MMVAE_SETTINGS,
        weights_dtype="float16",
        hidden=128,
        latent_dim=32,
        weights=MIXTURE_WEIGHTS,
    ),
    _digits(
        "mfm",
        "mfm_hand_print_label",
        ["hand", "print", "label"],
        "MFM's MNIST+SVHN setting; label is the discriminative head's target",
        MFM_SETTINGS,
        weights_dtype="float16",
        **MFM_DEMO,
    ),
    _digits(
        "mfm",
        "mfm_digits5",
        DIGITS5,
        "surrogates for every single input and every leave-one-out; hidden 64 keeps "
        "checkpoints/ within its size budget, and the MLP for `hand` keeps its training "
        "near 6 minutes on 2 cores (with the CNN, 8 surrogates took over 20)",
        MFM_DIGITS5_SETTINGS,
        weights_dtype="float16",
        **{**MFM, "hidden": 64, "conv_images": False},
        surrogate_subsets=[
            ["hand"],
            ["print"],
            ["text"],
            ["sound"],
            ["print", "text", "sound"],
            ["hand", "text", "sound"],
            ["hand", "print", "sound"],
            ["hand", "print", "text"],
        ],
    ),
    _fusion("tfn", "tfn_sentiment"),
    _fusion("lmf", "lmf_sentiment"),
    _fusion("early_fusion", "early_sentiment"),
    _fusion("late_fusion", "late_sentiment"),
    Recipe(
        id="mfm_sentiment",
        model="mfm",
        dataset="sentiment",
        modalities=None,
        overrides={
            "fusion": "lmf",
            "target": "score",
            "num_classes": 0,
            "recurrent": True,
            "hidden": 64,
            "recon_weights": {"language": 1.0, "visual": 0.5, "acoustic": 0.01},
        },
        # batch 64: the GRUs' step costs the same at 32 or 64 utterances, so this halves the
        # training time (train-all's 30-minute budget)
        settings=TrainSettings(
            epochs=20, batch_size=64, lr=1e-3, patience=5, phase_epochs={"surrogate": 8}
        ),
        note="MFM on sequences with LMF as its multimodal encoder; reference MOSI weights",
    ),
]

PURPOSES = {
    "mvae_hand_label": "the product of experts on image + label: the classic MVAE demo",
    "mvae_hand_label_nosub": "MVAE without sub-sampling, for the ablation: the label expert "
    "never learns to work alone",
    "jmvae_hand_label": "the zero-filling baseline the JMVAE paper argues against",
    "jmvaekl_hand_label": "JMVAE-kl: the sharpest label -> image generation in the zoo",
    "mvae_digits5": "one expert per modality serving all 31 subsets; shows PoE's weakness "
    "with many modalities",
    "mfm_hand_print_label": "shared vs modality-specific factors on hand + print",
    "mopoe_digits5": "MoPoE: PoE's sharpness and the mixture's coherence on all five modalities",
    "mmvae_digits5": "MMVAE: a mixture of unimodal experts, the coherent generator on five",
    "mfm_digits5": "MFM's surrogate inference with up to four modalities missing",
    "tfn_sentiment": "tensor fusion: every unimodal, bimodal and trimodal interaction",
    "lmf_sentiment": "low-rank fusion: TFN's interactions with ~100x fewer fusion weights",
    "early_sentiment": "concatenate-then-predict: the strongest simple baseline here",
    "late_sentiment": "a vote of unimodal predictions: misses sarcasm (synergy)",
    "mfm_sentiment": "MFM on sequences, with LMF as its multimodal encoder",
}
for _r in ZOO:
    _r.purpose = _r.purpose or PURPOSES.get(_r.id, "")


def purpose(cid: str) -> str:
    """The card's one line for a shipped checkpoint ('' for anyone else's)."""
    return next((r.purpose for r in ZOO if r.id == cid), "")


def is_yours(path: Path) -> bool:
    """Whether checkpoint folder `path` is the user's own rather than one of the shipped zoo:
    anything but a shipped recipe's folder in the packaged zoo (a link to one counts as it)."""
    try:
        real = Path(path).resolve()
        shipped_root = paths.DEFAULT_CHECKPOINTS.resolve()
    except OSError:
        return True
    shipped = {r.id for r in ZOO if r.shipped}
    return not (real.parent == shipped_root and real.name in shipped)


def version_warning(
    cid: str, dataset: str, trained_on: str | None, versions: dict[str, str | None] | None = None
) -> str | None:
    """Why checkpoint `cid` may not match the data the app shows: it was trained on another
    version of `dataset` than the app builds (None when they match or either is unknown).
    `versions` caches the app's version per dataset across calls."""
    if not trained_on:
        return None
    versions = {} if versions is None else versions
    if dataset not in versions:
        from mmviz.data import dataset_version

        try:
            versions[dataset] = dataset_version(dataset)
        except (ValueError, OSError):  # an unknown dataset or options: nothing to compare
            versions[dataset] = None
    ours = versions[dataset]
    if ours is None or str(trained_on) == str(ours):
        return None
    return (
        f"Checkpoint **{cid}** was trained on `{dataset}` version {trained_on}, but this app "
        f"builds version {ours}: the samples shown are not the ones it learned from, so its "
        f"outputs may not match them. Retrain it (`python -m mmviz train ... --dataset "
        f"{dataset}`) or use a checkpoint of this version."
    )


RANKS = (1, 2, 4, 8, 16)


def recipe(rid: str) -> Recipe:
    for r in ZOO:
        if r.id == rid:
            return r
    raise ValueError(f"no recipe {rid!r}; known: {', '.join(r.id for r in ZOO)}")


def train_all(
    only: list[str] | None = None, root: Path | None = None, progress: bool = True
) -> None:
    """Rebuild the checkpoints (all, or the ids in `only`), in zoo order, into `root`
    (default: `paths.checkpoint_write_root()`, the checkpoints in use unless they are an
    installed package's, which stay as shipped: then `./checkpoints`)."""
    from mmviz.train import run_training

    root = Path(root) if root is not None else paths.checkpoint_write_root()
    chosen = [recipe(i) for i in only] if only else ZOO
    t0 = time.perf_counter()
    for r in chosen:
        t = time.perf_counter()
        print(
            f"== {r.id}: {r.model} on {r.dataset} ({','.join(r.modalities or ['all'])})", flush=True
        )
        run_training(
            r.model,
            r.dataset,
            r.modalities,
            root / r.id,
            r.overrides,
            r.settings,
            evaluate=True,
            progress=progress,
            weights_dtype=r.weights_dtype,
        )
        print(f"   done in {time.perf_counter() - t:.0f} s", flush=True)
    print(f"train-all: {len(chosen)} checkpoints in {time.perf_counter() - t0:.0f} s")


def lmf_rank_study(
    ranks: tuple[int, ...] = RANKS,
    seeds: tuple[int, ...] = (0,),
    settings: TrainSettings = FUSION_SETTINGS,
    out: Path | None = None,
    progress: bool = False,
    write: bool = True,
) -> dict[str, Any]:
    """LMF at several ranks, same seed(s) and budget: test metrics per rank (and per seed),
    written to `out` (default: `paths.results_write_root() / "lmf-rank.json"`) unless `write`
    is False."""
    import tempfile

    from mmviz.checkpoint import atomic_write_json, code_version
    from mmviz.evaluate import evaluate_checkpoint
    from mmviz.train import run_training

    rows = []
    t0 = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        for rank in ranks:
            for seed in seeds:
                run = TrainSettings(**{**settings.__dict__, "seed": seed})
                path = run_training(
                    "lmf",
                    "sentiment",
                    None,
                    Path(tmp) / f"r{rank}s{seed}",
                    {**recipe("lmf_sentiment").overrides, "rank": rank},
                    run,
                    evaluate=False,
                    progress=progress,
                )
                m = evaluate_checkpoint(path, write=False)
                rows.append(
                    {
                        "rank": rank,
                        "seed": seed,
                        "acc2": m["acc2"],
                        "mae": m["mae"],
                        "corr": m["corr"],
                        "fusion_params": m["params"]["fusion"],
                    }
                )
    result = {
        "study": "lmf-rank",
        "claim": "Low ranks (< 10) suffice; higher ranks can be unstable (Liu et al., ACL 2018)",
        "ranks": list(ranks),
        "seeds": list(seeds),
        "rows": rows,
        "settings": settings.__dict__,
        "code_version": code_version(),
        "wall_time_s": round(time.perf_counter() - t0, 1),
    }
    if write:
        atomic_write_json(out or paths.results_write_root() / "lmf-rank.json", result)
    return result


# Metrics shown as a checkpoint's headline, in order of preference: (label, path in metrics).
HEADLINES: list[tuple[str, tuple[str, ...]]] = [
    ("acc", ("test_accuracy",)),
    ("label from hand", ("label_accuracy", "hand")),
    ("label from hand+print", ("label_accuracy", "hand+print")),
    ("label->hand coherence", ("coherence", "label->hand")),
    ("acc2", ("acc2",)),
    ("mae", ("mae",)),
    ("log p(hand)", ("loglik", "hand")),
    ("demo score", ("demo", "score")),
]


def _dig(d: Any, path: Sequence[str]) -> Any:
    for k in path:
        if not isinstance(d, dict) or k not in d:
            return None
        d = d[k]
    return d


def _number(v: Any) -> float | None:
    ok = isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v)
    return float(v) if ok else None


def read_meta_summary(path: Path) -> tuple[dict[str, Any], str | None]:
    """What the zoo shows about a checkpoint folder, read from its meta.json alone.

    meta.json is a file users can edit or break, so every field is type-checked: a missing or
    unreadable file, or a field of the wrong type, gives the field's default and a `problem`
    naming it, never an exception (the home page and `mmviz list` must still list the rest).
    """
    problems: list[str] = []
    try:
        meta = json.loads((path / META).read_text()) if (path / META).exists() else {}
    except (OSError, ValueError) as e:
        meta, problems = {}, [f"meta.json unreadable ({e})"]
    if not isinstance(meta, dict):
        meta, problems = {}, [f"meta.json holds a {type(meta).__name__}, not an object"]

    def checked(name: str, check: Any, default: Any) -> Any:
        if name not in meta:
            return default
        try:
            return check(meta[name])
        except (TypeError, ValueError, AttributeError):
            problems.append(f"meta.json field {name!r} has the wrong type")
            return default

    def text(v: Any) -> str:
        if not isinstance(v, str):
            raise TypeError
        return v

    def optional_text(v: Any) -> str | None:  # null: not recorded, as load_checkpoint reads it
        return None if v is None else text(v)

    def names(v: Any) -> list[str]:
        if not isinstance(v, list) or not all(isinstance(x, str) for x in v):
            raise TypeError
        return v

    def groups(v: Any) -> dict[str, int]:
        if not isinstance(v, dict) or not all(
            isinstance(x, int) and not isinstance(x, bool) for x in v.values()
        ):
            raise TypeError
        return {str(k): int(x) for k, x in v.items()}

    def optional_number(v: Any) -> float | None:
        if v is not None and _number(v) is None:
            raise TypeError
        return _number(v)

    headline = {}
    for label, p in HEADLINES:
        v = _number(_dig(meta.get("metrics"), p))
        if v is not None:
            headline[label] = v
    params = checked("parameters", optional_number, None)
    summary = {
        "model": checked("model", text, "?"),
        "dataset": checked("dataset", text, "?"),
        "modalities": checked("modalities", names, []),
        "latent_groups": checked("latent_groups", groups, {}),
        "paper": checked("paper", text, ""),
        "headline": headline,
        "wall_time_s": checked("wall_time_s", optional_number, None),
        "parameters": int(params) if params is not None else None,
        "demo_score": _number(_dig(meta.get("metrics"), ("demo", "score"))),
        "dataset_version": checked("dataset_version", optional_text, None),
    }
    return summary, "; ".join(problems) or None


def default_id(scores: dict[str, float | None]) -> str | None:
    """The checkpoint the app opens on: the best demo score (demo suite, mmviz/demo.py)."""
    scored = {cid: v for cid, v in scores.items() if v is not None}
    return max(sorted(scored), key=lambda cid: scored[cid]) if scored else None


def checkpoint_table(root: Path | None = None) -> list[dict[str, Any]]:
    """One row per checkpoint on disk (default root: `paths.checkpoint_root()`): id, model,
    dataset, modalities and headline metrics; `yours` (not a shipped checkpoint, see
    `is_yours`) and `version_warning` (trained on another dataset version than the app's)."""
    root = Path(root) if root is not None else paths.checkpoint_root()
    rows = []
    scores = {}
    versions: dict[str, str | None] = {}
    for cid in list_ids(root):
        summary, problem = read_meta_summary(root / cid)
        scores[cid] = summary["demo_score"]
        rows.append(
            {
                "id": cid,
                "model": summary["model"],
                "dataset": summary["dataset"],
                "modalities": summary["modalities"],
                "purpose": purpose(cid),
                "headline": {k: round(v, 3) for k, v in summary["headline"].items()},
                "wall_time_s": summary["wall_time_s"],
                "problem": problem,
                "yours": is_yours(root / cid),
                "dataset_version": summary["dataset_version"],
                "version_warning": version_warning(
                    cid, summary["dataset"], summary["dataset_version"], versions
                ),
            }
        )
    best = default_id(scores)
    for row in rows:
        row["default"] = row["id"] == best
    return rows
