"""PID: the canonical bit examples, and synergy on sentiment's sarcasm utterances."""

from __future__ import annotations

import numpy as np
import pytest

from mmviz.interpret.pid import (
    default_cue_methods,
    pid_by_recipe,
    pid_from_samples,
    pooled_features,
)

# every combination of two fair bits, equally often: exact distributions
A = np.array([0, 0, 1, 1] * 50)
B = np.array([0, 1, 0, 1] * 50)


@pytest.mark.parametrize("measure", ["broja", "wb", "mmi"])
def test_xor_is_one_bit_of_synergy(measure):
    r = pid_from_samples(A, B, A ^ B, measure)
    assert r.synergy == pytest.approx(1.0, abs=1e-4)
    assert r.redundancy == pytest.approx(0.0, abs=1e-4)
    assert r.unique1 == pytest.approx(0.0, abs=1e-4)
    assert r.unique2 == pytest.approx(0.0, abs=1e-4)
    assert r.total == pytest.approx(1.0)


@pytest.mark.parametrize("measure", ["broja", "wb", "mmi"])
def test_copied_bit_is_one_bit_of_redundancy(measure):
    r = pid_from_samples(A, A, A, measure)
    assert r.redundancy == pytest.approx(1.0, abs=1e-4)
    assert r.synergy == pytest.approx(0.0, abs=1e-4)
    assert r.unique1 == pytest.approx(0.0, abs=1e-4)


def test_a_bit_seen_by_one_modality_is_unique():
    r = pid_from_samples(A, B, A, "broja")
    assert r.unique1 == pytest.approx(1.0, abs=1e-4)
    assert r.unique2 == pytest.approx(0.0, abs=1e-4)
    assert r.redundancy == pytest.approx(0.0, abs=1e-4)
    assert r.synergy == pytest.approx(0.0, abs=1e-4)
    assert "BROJA" in r.measure
    swapped = pid_from_samples(B, A, A, "broja")
    assert swapped.unique2 == pytest.approx(1.0, abs=1e-4)


def test_atoms_add_up_to_the_joint_information():
    rng = np.random.default_rng(0)
    x1, x2 = rng.integers(0, 3, 3000), rng.integers(0, 3, 3000)
    y = (x1 + x2 + (rng.random(3000) < 0.2)) % 2
    r = pid_from_samples(x1, x2, y)
    assert r.redundancy + r.unique1 + r.unique2 + r.synergy == pytest.approx(r.total, abs=1e-4)
    with pytest.raises(ValueError, match="unknown PID measure"):
        pid_from_samples(x1, x2, y, "pid_xyz")


def test_pooled_features_by_kind():
    from mmviz.data.random_inputs import sentiment_like_specs

    specs = sentiment_like_specs(steps=3, vocab_size=5)
    tokens = np.array([[2, 2, 0], [4, 0, 0]])
    bow = pooled_features(tokens, specs["language"])
    np.testing.assert_allclose(bow[0, 2], 1.0)
    np.testing.assert_allclose(bow[1, 4], 1.0)
    seq = np.zeros((1, 3, 8), dtype=np.float32)
    seq[0, :2, 0] = [1.0, 3.0]  # third step is padding
    feats = pooled_features(seq, specs["visual"])
    assert feats[0, 0] == pytest.approx(2.0) and feats[0, 8] == pytest.approx(1.0)


def test_sentiment_synergy_recipe_has_more_synergy_than_redundant_one(tmp_cache):
    from mmviz.data import load_dataset

    ds = load_dataset("sentiment")
    # words: a lexicon predictor (the sign the words say); voice: k-means of pooled prosody,
    # which separates the flat sarcastic voice that no predictor of the sign alone can use
    assert default_cue_methods(ds) == {
        "language": "predictor",
        "visual": "kmeans",
        "acoustic": "kmeans",
    }
    df = pid_by_recipe(ds, modalities=["language", "acoustic"], k=3)
    row = df.set_index("group")
    assert row.loc["synergy", "synergy"] > 0.5
    assert row.loc["redundant", "synergy"] < 0.1
    assert row.loc["redundant", "redundancy"] > 0.3
    assert row.loc["unique_language", "unique1"] > 0.8  # the words alone tell the sign
    assert row.loc["unique_acoustic", "unique2"] > 0.3
    assert row.loc["all", "n"] == len(ds.indices("test"))
    assert "BROJA" in row.loc["synergy", "measure"]
