"""The shipped checkpoints load, describe themselves, and still measure what meta.json says.

Long trainings never run in CI: each checkpoint is re-measured on a slice of the test set and
compared with the full-test figure recorded in its meta.json when it was trained.
"""

import json

import pytest

from mmviz.checkpoint import load_checkpoint
from mmviz.evaluate import evaluate_model, evaluation_dataset
from mmviz.paths import checkpoint_root
from mmviz.zoo import ZOO

CHECKPOINT_ROOT = checkpoint_root()  # the shipped zoo unless MMVIZ_CHECKPOINTS moves it

SHIPPED = [r.id for r in ZOO if (CHECKPOINT_ROOT / r.id).is_dir()]
# (metric path, tolerance): a 200-sample slice differs from the 2,000-sample figure by sampling
# error (sd ~ 0.02-0.035 for accuracies near 0.9), so the bound is about three sd.
CHECKS = [(("test_accuracy",), 0.08), (("label_accuracy", "hand"), 0.1), (("acc2",), 0.1)]


def test_every_shipped_recipe_is_on_disk():
    missing = [r.id for r in ZOO if r.shipped and r.id not in SHIPPED]
    assert not missing, f"run `python -m mmviz train-all --only {' '.join(missing)}`"


def test_checkpoints_fit_the_size_budget():
    """checkpoints/ at most 80 MB (issue 15's budget; it ships in the wheel too)."""
    total = sum(p.stat().st_size for p in CHECKPOINT_ROOT.rglob("*") if p.is_file())
    assert total <= 80 * 10**6


@pytest.mark.parametrize("cid", SHIPPED)
def test_checkpoint_remeasures_its_recorded_metric(cid):
    ck = load_checkpoint(cid)
    meta = json.loads((ck.path / "meta.json").read_text())
    for key in (
        "dataset",
        "dataset_version",
        "modalities",
        "seed",
        "code_version",
        "wall_time_s",
        "training",
        "metrics",
        "weights_sha256",
    ):
        assert key in meta, f"{cid}: meta.json lacks {key}"
    ds = evaluation_dataset(ck)
    assert meta["dataset_version"] == ds.version, f"{cid} was trained on another data version"
    quick = evaluate_model(ck.model, ds, quick=True)
    checked = 0
    for path, tol in CHECKS:
        recorded, now = meta["metrics"], quick
        for k in path:
            recorded = recorded.get(k) if isinstance(recorded, dict) else None
            now = now.get(k) if isinstance(now, dict) else None
        if isinstance(recorded, float) and isinstance(now, float):
            assert abs(now - recorded) < tol, f"{cid}: {'/'.join(path)} {now:.3f} vs {recorded:.3f}"
            checked += 1
    assert checked, f"{cid}: no headline metric to re-measure"


FUSION = [c for c in SHIPPED if c in ("lmf_sentiment", "tfn_sentiment")]


@pytest.mark.parametrize("cid", FUSION)
def test_fusion_robustness_table_shows_the_face_only_recipe_falling_to_chance(cid):
    """The fusion issue's target, read from the recorded evaluation: with `visual` missing,
    utterances only the face tells fall to chance while redundant ones stay right; and on
    synergy TFN and LMF beat late fusion, which cannot model the interaction, by 10 points."""
    metrics = json.loads((CHECKPOINT_ROOT / cid / "meta.json").read_text())["metrics"]
    no_face = metrics["missing_by_interaction"]["-visual"]
    assert no_face["unique_visual"] < 0.62, no_face
    assert no_face["redundant"] > 0.9, no_face
    assert metrics["by_interaction"]["unique_visual"] > no_face["unique_visual"] + 0.2
    if "late_sentiment" in SHIPPED:
        late = json.loads((CHECKPOINT_ROOT / "late_sentiment" / "meta.json").read_text())
        synergy_late = late["metrics"]["by_interaction"]["synergy"]
        assert metrics["by_interaction"]["synergy"] >= synergy_late + 0.10


def _metrics(cid: str) -> dict:
    if cid not in SHIPPED:
        pytest.skip(f"{cid} is not in checkpoints/")
    return json.loads((CHECKPOINT_ROOT / cid / "meta.json").read_text())["metrics"]


def test_generative_quality_targets_that_are_met_stay_met():
    """The generative-models issue's targets the shipped checkpoints meet, read from their
    full-test evaluation (the re-measure test above ties those figures to the weights). The
    ones still missed are stated, with the numbers, in the README."""
    kl = _metrics("jmvaekl_hand_label")
    assert kl["label_accuracy"]["hand"] >= 0.90
    assert kl["coherence"]["label->hand"] >= 0.90  # sampled, not the posterior mean
    mvae, nosub = _metrics("mvae_hand_label"), _metrics("mvae_hand_label_nosub")
    assert mvae["label_accuracy"]["hand"] >= 0.90
    assert mvae["label_accuracy"]["hand"] > nosub["label_accuracy"]["hand"]  # the ablation
    mfm = _metrics("mfm_hand_print_label")
    assert mfm["label_accuracy"]["hand"] >= 0.93  # the head, through the hand surrogate
    assert mfm["label_accuracy"]["hand+print"] - mfm["label_accuracy"]["hand"] <= 0.03
    mi = mfm["factor_mi"]
    assert mi["y"]["class"] > 5 * mi["print"]["class"]
    assert mi["print"]["print_fg_hue"] > 2.5 * mi["y"]["print_fg_hue"]
    for cid in ("oracle_hand", "oracle_print", "oracle_text", "oracle_sound"):
        assert _metrics(cid)["test_accuracy"] >= 0.95, cid


@pytest.mark.parametrize("cid", SHIPPED)
def test_shipped_checkpoint_is_what_its_recipe_trains(cid):
    """train-all must rebuild what is shipped: the model config, training settings and weight
    dtype on disk are the zoo recipe's (a recipe edited without retraining fails here)."""
    from dataclasses import asdict

    from mmviz.models import model_class
    from mmviz.zoo import recipe

    r = recipe(cid)
    config = json.loads((CHECKPOINT_ROOT / cid / "config.json").read_text())
    meta = json.loads((CHECKPOINT_ROOT / cid / "meta.json").read_text())
    cls = model_class(r.model)
    assert config["model"] == r.model

    def as_json(x: object) -> object:  # tuples in a config are lists once in config.json
        return json.loads(json.dumps(x))

    shipped = cls.config_class.from_dict(config["config"]).to_dict()
    trains = cls.config_class.from_dict({**r.overrides, "seed": r.settings.seed}).to_dict()
    assert as_json(shipped) == as_json(trains)
    assert meta["training"]["settings"] == as_json(asdict(r.settings))
    assert config.get("weights_dtype", "float32") == r.weights_dtype
