"""The synthetic sentiment dataset: each recipe carries exactly the information it claims.

Information claims are checked with classifiers that know nothing of the generator (bag of
words, time-pooled features), cross-validated within one recipe's samples.
"""

from __future__ import annotations

import time
import warnings

import numpy as np
import pytest
from scipy.stats import spearmanr
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import cross_val_score
from sklearn.neural_network import MLPClassifier
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from mmviz.data.base import DataError
from mmviz.data.sentiment import (
    ACOUSTIC_FEATURES,
    INTERACTIONS,
    LEXICON,
    NEGATOR,
    VISUAL_FEATURES,
    VOCAB,
    load_sentiment,
)

SMALL = {"n_train": 300, "n_valid": 50, "n_test": 50}
NOT_ID = VOCAB.index(NEGATOR)
LEX = np.array([LEXICON.get(w, 0) for w in VOCAB])  # token id -> signed strength


@pytest.fixture(scope="module")
def cache(tmp_path_factory):
    with pytest.MonkeyPatch.context() as mp:
        path = tmp_path_factory.mktemp("mmviz_cache")
        mp.setenv("MMVIZ_CACHE", str(path))
        yield path


@pytest.fixture(scope="module")
def ds(cache):
    return load_sentiment()


@pytest.fixture(scope="module")
def feats(ds):
    """Order-free features per modality: bag of words; mean and max over real words."""
    lang = ds.data["language"]
    mask = lang > 0
    bow = np.zeros((len(lang), len(VOCAB)))
    rows = np.broadcast_to(np.arange(len(lang))[:, None], lang.shape)
    np.add.at(bow, (rows[mask], lang[mask]), 1.0)

    def pool(x: np.ndarray) -> np.ndarray:
        m = mask[..., None]
        mean = (x * m).sum(1) / m.sum(1)
        mx = np.where(m, x, -np.inf).max(1)
        return np.hstack([mean, mx])

    return {
        "language": bow,
        "visual": pool(ds.data["visual"]),
        "acoustic": pool(ds.data["acoustic"]),
    }


def recipe(ds, name: str) -> np.ndarray:
    return ds.factors["interaction"] == INTERACTIONS.index(name)


def linear():
    return make_pipeline(StandardScaler(), LogisticRegression(max_iter=2000))


def cv_acc(model, x: np.ndarray, y: np.ndarray, folds: int = 5) -> float:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return float(cross_val_score(model, x, y, cv=folds).mean())


# ---- determinism, caching, parameters ------------------------------------------------------
def test_same_seed_same_arrays_other_seed_differs(cache):
    a = load_sentiment(seed=3, use_cache=False, **SMALL)
    b = load_sentiment(seed=3, use_cache=False, **SMALL)
    c = load_sentiment(seed=4, use_cache=False, **SMALL)
    for m in a.data:
        np.testing.assert_array_equal(a.data[m], b.data[m])
        assert not np.array_equal(a.data[m], c.data[m])
    for k in a.targets:
        np.testing.assert_array_equal(a.targets[k], b.targets[k])
    for k in a.factors:
        np.testing.assert_array_equal(a.factors[k], b.factors[k])
    assert a.version == b.version != c.version


def test_cached_load_equals_fresh_build_and_is_fast(ds):
    start = time.perf_counter()
    cached = load_sentiment()
    elapsed = time.perf_counter() - start
    fresh = load_sentiment(use_cache=False)
    assert cached.version == fresh.version == ds.version
    for m in fresh.data:
        np.testing.assert_array_equal(cached.data[m], fresh.data[m])
    for k in fresh.factors:
        np.testing.assert_array_equal(cached.factors[k], fresh.factors[k])
    assert cached.specs == fresh.specs
    assert elapsed < 1.0


def test_version_changes_with_every_parameter():
    base = {"seed": 0, **SMALL}
    variants = [
        {},
        {"seed": 1},
        {"n_train": 301},
        {"n_valid": 51},
        {"n_test": 51},
        {"mix": {"synergy": 1.0}},
        {"noise": {"visual": 1.0}},
        {"noise": {"language": 0.1}},
    ]
    versions = {load_sentiment(use_cache=False, **{**base, **v}).version for v in variants}
    assert len(versions) == len(variants)


@pytest.mark.parametrize(
    "kwargs, words",
    [
        ({"mix": {"sarcasm": 1.0}}, "sarcasm"),
        ({"mix": {"synergy": -1.0}}, "synergy"),
        ({"mix": {"synergy": 0.0}}, "at least one"),
        ({"noise": {"audio": 1.0}}, "audio"),
        ({"noise": {"visual": -0.1}}, "visual"),
        ({"noise": {"language": 1.5}}, "language"),
        ({"n_train": 0}, "n_train"),
        ({"n_test": 2.5}, "n_test"),
    ],
)
def test_bad_parameters_raise_data_error_naming_them(kwargs, words):
    with pytest.raises(DataError, match=words):
        load_sentiment(use_cache=False, **{**SMALL, **kwargs})


# ---- layout --------------------------------------------------------------------------------
def test_shapes_dtypes_splits(ds):
    n = 6000 + 1000 + 2000
    assert ds.name == "sentiment" and ds.target == "score" and len(ds) == n
    assert ds.data["language"].shape == (n, 20) and ds.data["language"].dtype == np.int64
    assert ds.data["visual"].shape == (n, 20, 8) and ds.data["visual"].dtype == np.float32
    assert ds.data["acoustic"].shape == (n, 20, 6) and ds.data["acoustic"].dtype == np.float32
    assert ds.specs["language"].vocab[:2] == ("<pad>", "<unk>")
    assert ds.specs["language"].num_classes == len(VOCAB) and len(set(VOCAB)) == len(VOCAB)
    assert ds.info["visual_features"] == list(VISUAL_FEATURES)
    assert ds.info["acoustic_features"] == list(ACOUSTIC_FEATURES)
    assert ds.info["interactions"] == list(INTERACTIONS)
    for m in ("visual", "acoustic"):
        lo, hi = ds.specs[m].value_range
        assert lo == ds.data[m].min() and hi == ds.data[m].max()
    sizes = {k: len(v) for k, v in ds.splits.items()}
    assert sizes == {"train": 6000, "valid": 1000, "test": 2000}
    every = np.concatenate(list(ds.splits.values()))
    np.testing.assert_array_equal(np.sort(every), np.arange(n))


def test_targets_consistent_with_score(ds):
    score = ds.targets["score"]
    assert score.dtype == np.float32 and np.all(np.abs(score) <= 3)
    np.testing.assert_array_equal(ds.targets["binary"], (score >= 0).astype(np.int64))
    np.testing.assert_array_equal(ds.targets["class7"], np.round(score).astype(np.int64) + 3)
    assert set(np.unique(ds.targets["class7"])) == set(range(7))
    np.testing.assert_allclose(np.abs(score), ds.factors["intensity"], rtol=1e-6)
    assert 0.4 < ds.targets["binary"].mean() < 0.6


def test_padding_and_lengths(ds):
    lang = ds.data["language"]
    length = ds.factors["length"]
    real = np.arange(20)[None, :] < length[:, None]
    assert length.min() >= 8 and length.max() <= 20
    assert np.all(lang[real] > 0) and np.all(lang[~real] == 0)
    for m in ("visual", "acoustic"):
        x = ds.data[m]
        assert np.all(x[~real] == 0.0)
        mean, std = x[real].mean(0), x[real].std(0)
        np.testing.assert_allclose(mean, 0.0, atol=1e-3)
        np.testing.assert_allclose(std, 1.0, atol=1e-3)


def test_recipe_proportions_follow_mix(ds):
    counts = np.bincount(ds.factors["interaction"], minlength=len(INTERACTIONS)) / len(ds)
    default = [0.3, 0.1, 0.1, 0.1, 0.2, 0.2]
    np.testing.assert_allclose(counts, default, atol=0.02)
    other = load_sentiment(use_cache=False, mix={"synergy": 3, "negation": 1}, **SMALL)
    share = np.bincount(other.factors["interaction"], minlength=6) / len(other)
    assert share[[0, 1, 2, 3]].sum() == 0
    assert abs(share[4] - 0.75) < 0.07


def test_factors_match_recipes(ds):
    f = ds.factors
    sign = np.sign(ds.targets["score"]).astype(int)
    inter = np.array(INTERACTIONS)[f["interaction"]]
    for m in ("language", "visual", "acoustic"):
        carries = np.isin(inter, ["redundant", f"unique_{m}"])
        np.testing.assert_array_equal(f[f"polarity_{m}"][carries], sign[carries])
        if m != "language":
            assert np.all(f[f"polarity_{m}"][~carries] == 0)
    syn = inter == "synergy"
    assert np.all(f["sarcasm"][~syn] == 0)
    expect = f["polarity_language"][syn] * (1 - 2 * f["sarcasm"][syn])
    np.testing.assert_array_equal(sign[syn], expect)
    # sarcasm and language polarity are independent fair coins on synergy samples
    table = np.histogram2d(f["sarcasm"][syn], f["polarity_language"][syn], bins=2)[0]
    assert table.min() / syn.sum() > 0.2
    np.testing.assert_array_equal(f["negated"], (inter == "negation").astype(int))


def test_key_word_carries_language_polarity_and_intensity(ds):
    f = ds.factors
    lang = ds.data["language"]
    inter = np.array(INTERACTIONS)[f["interaction"]]
    with_words = np.isin(inter, ["redundant", "unique_language", "synergy", "negation"])
    idx = np.flatnonzero(with_words)
    key_lex = LEX[lang[idx, f["key_step"][idx]]]
    np.testing.assert_array_equal(np.sign(key_lex), f["polarity_language"][idx])
    # word strength (1..3, +0.5 for an intensifier before it) tracks |score|
    prev = lang[idx, np.maximum(f["key_step"][idx] - 1, 0)]
    boosted = np.isin(np.array(VOCAB)[prev], ds.info["intensifiers"])
    strength = np.abs(key_lex) + 0.5 * boosted
    assert spearmanr(strength, f["intensity"][idx]).statistic > 0.8
    # neutral-language recipes contain no sentiment word at all
    neutral = np.isin(inter, ["unique_visual", "unique_acoustic"])
    assert np.all(LEX[lang[neutral]] == 0)


# ---- information per recipe ----------------------------------------------------------------
@pytest.mark.parametrize("carrier", ["language", "visual", "acoustic"])
def test_unique_recipes_only_their_modality_tells_the_sign(ds, feats, carrier):
    sel = recipe(ds, f"unique_{carrier}")
    y = ds.targets["binary"][sel]
    for m, x in feats.items():
        acc = cv_acc(linear(), x[sel], y)
        if m == carrier:
            assert acc > 0.8, (m, acc)
        else:
            assert acc < 0.6, (m, acc)


def test_redundant_every_modality_tells_the_sign(ds, feats):
    sel = recipe(ds, "redundant")
    y = ds.targets["binary"][sel]
    for m, x in feats.items():
        assert cv_acc(linear(), x[sel], y) > 0.8, m


CUES = {  # (modality, features up for positive, features up for negative, down for negative)
    "visual": (["smile", "eye_widen", "head_nod"], ["frown", "lip_press"], []),
    "acoustic": (["pitch_mean", "energy"], ["pause"], ["pitch_mean", "speaking_rate"]),
}


@pytest.mark.parametrize("modality", ["visual", "acoustic"])
def test_polarity_cue_sits_at_key_word_and_grows_with_intensity(ds, modality):
    sel = recipe(ds, f"unique_{modality}")
    names = ds.info[f"{modality}_features"]
    x = ds.data[modality][sel]
    up_pos, up_neg, down_neg = CUES[modality]

    def col(f: str) -> np.ndarray:
        return x[..., names.index(f)]

    pos = sum(col(f) for f in up_pos)
    neg = sum(col(f) for f in up_neg) - sum((col(f) for f in down_neg), np.zeros_like(pos))
    sign = np.sign(ds.targets["score"][sel])
    cue = np.where(sign[:, None] > 0, pos, neg)
    cue = np.where(ds.data["language"][sel] > 0, cue, -np.inf)
    key = ds.factors["key_step"][sel]
    assert np.mean(np.abs(cue.argmax(1) - key) <= 2) > 0.8
    at_key = cue[np.arange(len(key)), key]
    assert spearmanr(at_key, ds.factors["intensity"][sel]).statistic > 0.45


def test_synergy_needs_language_and_another_modality(ds, feats):
    sel = recipe(ds, "synergy")
    y = ds.targets["binary"][sel]
    for m, x in feats.items():
        hgb = HistGradientBoostingClassifier(max_iter=60, random_state=0)
        assert cv_acc(hgb, x[sel], y, folds=3) < 0.6, m
    both = np.hstack([feats["language"], feats["acoustic"]])[sel]
    mlp = make_pipeline(StandardScaler(), MLPClassifier((32,), max_iter=300, random_state=0))
    assert cv_acc(mlp, both, y, folds=3) > 0.8
    # language + face also decide it: the lexicon sum with pooled visual features
    lex_sum = LEX[ds.data["language"][sel]].sum(1, keepdims=True)
    hgb = HistGradientBoostingClassifier(max_iter=100, random_state=0)
    assert cv_acc(hgb, lex_sum, y, folds=3) < 0.6
    assert cv_acc(hgb, np.hstack([lex_sum, feats["visual"][sel]]), y, folds=3) > 0.8


def test_sarcasm_cue_is_not_a_polarity_cue(ds, feats):
    """Non-sarcastic synergy samples look like neutral ones; sarcastic ones differ clearly."""
    syn, neutral = recipe(ds, "synergy"), recipe(ds, "unique_language")
    sarc = ds.factors["sarcasm"] == 1
    for m in ("visual", "acoustic"):
        x = feats[m]
        plain = np.concatenate([x[syn & ~sarc], x[neutral]])
        lab = np.r_[np.ones((syn & ~sarc).sum()), np.zeros(neutral.sum())]
        assert cv_acc(linear(), plain, lab) < 0.6, m
        marked = np.concatenate([x[syn & sarc], x[neutral]])
        lab = np.r_[np.ones((syn & sarc).sum()), np.zeros(neutral.sum())]
        assert cv_acc(linear(), marked, lab) > 0.9, m


def test_negation_flips_the_word_after_not(ds, feats):
    sel = np.flatnonzero(recipe(ds, "negation"))
    lang = ds.data["language"]
    key = ds.factors["key_step"][sel]
    assert np.all(lang[sel, key - 1] == NOT_ID)
    sign = np.sign(ds.targets["score"][sel])
    np.testing.assert_array_equal(np.sign(LEX[lang[sel, key]]), -sign)
    # outside negation samples "not" never precedes a sentiment word
    other = ~recipe(ds, "negation")
    after_not = lang[other][:, 1:][lang[other][:, :-1] == NOT_ID]
    assert after_not.size > 0 and np.all(LEX[after_not] == 0)
    # order-free bag of words fails on negation, succeeds on plain sentiment words
    y = ds.targets["binary"]
    bow = feats["language"]
    neg_acc = cv_acc(linear(), bow[sel], y[sel])
    plain = recipe(ds, "unique_language")
    assert neg_acc < 0.6
    assert cv_acc(linear(), bow[plain], y[plain]) > 0.9
    # reading the order (flip a word's lexicon value after "not") recovers the sign
    flipped = LEX[lang].copy()
    flipped[:, 1:] *= np.where(lang[:, :-1] == NOT_ID, -1, 1)
    assert np.mean(np.sign(flipped[sel].sum(1)) == sign) > 0.99


# ---- noise parameters ----------------------------------------------------------------------
def test_noise_parameters_act_on_their_modality(cache):
    kwargs = {"n_train": 3000, "n_valid": 0, "n_test": 0, "mix": {"unique_visual": 1.0}}
    accs = []
    for std in (0.3, 3.0):
        d = load_sentiment(use_cache=False, noise={"visual": std}, **kwargs)
        mask = d.data["language"][..., None] > 0
        x = d.data["visual"]
        pooled = np.hstack([(x * mask).sum(1) / mask.sum(1), np.where(mask, x, -np.inf).max(1)])
        accs.append(cv_acc(linear(), pooled, d.targets["binary"], folds=3))
    assert accs[0] > 0.9 and accs[1] < accs[0] - 0.15
    d = load_sentiment(use_cache=False, noise={"language": 0.3}, **SMALL)
    real = d.data["language"] > 0
    unk = (d.data["language"][real] == VOCAB.index("<unk>")).mean()
    assert abs(unk - 0.3) < 0.03
