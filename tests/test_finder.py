"""The sample finder: every position it returns meets every criterion, and every test sample
that meets them is returned (checked row by row against the factor table); disagreement keeps
exactly the samples where two decisions differ."""

from __future__ import annotations

import numpy as np
import pytest

from mmviz import finder
from mmviz.data import load_dataset


@pytest.fixture(scope="module")
def digits():
    return load_dataset("digits")


@pytest.fixture(scope="module")
def sentiment():
    return load_dataset("sentiment")


def brute_force(table, keep_row) -> list[int]:
    return [pos for pos, (_, row) in enumerate(table.iterrows()) if keep_row(row)]


@pytest.mark.parametrize(
    "flt",
    [
        finder.SampleFilter(target_class=4),
        finder.SampleFilter(factor="hand_ink", low=0.2, high=0.4),
        finder.SampleFilter(target_class=7, factor="print_polarity", value=1),
        finder.SampleFilter(factor="text_language", value=2, target_class=0),
    ],
)
def test_digits_filters_match_a_row_by_row_reading(digits, flt):
    table = digits.factor_table("test")

    def keep(row) -> bool:
        ok = flt.target_class is None or row["class"] == flt.target_class
        if flt.factor is not None:
            v = row[flt.factor]
            ok &= flt.value is None or v == flt.value
            ok &= flt.low is None or v >= flt.low
            ok &= flt.high is None or v <= flt.high
        return bool(ok)

    found = finder.find_samples(digits, flt).tolist()
    assert found == brute_force(table, keep)
    assert found  # each filter above matches something, so the test can fail


def test_recipe_filter_and_unknown_names(sentiment, digits):
    table = sentiment.factor_table("test")
    synergy = sentiment.info["interactions"].index("synergy")
    found = finder.find_samples(sentiment, finder.SampleFilter(recipe="synergy")).tolist()
    assert found == brute_force(table, lambda r: r["interaction"] == synergy)
    with pytest.raises(ValueError, match="no recipe 'sarcasm'.*recipes: redundant"):
        finder.find_samples(sentiment, finder.SampleFilter(recipe="sarcasm"))
    with pytest.raises(ValueError, match="no factor 'inc'"):
        finder.find_samples(digits, finder.SampleFilter(factor="inc"))
    with pytest.raises(ValueError, match="has no classes"):
        finder.find_samples(sentiment, finder.SampleFilter(target_class=1))


def test_disagreement_keeps_where_decisions_differ():
    first = np.array([1, 2, 3, 4, 5])
    second = np.array([1, 0, 3, 9, 6])
    truth = np.array([1, 2, 0, 9, 7])
    assert np.flatnonzero(finder.disagreement(first, second, truth, "any")).tolist() == [1, 3, 4]
    assert np.flatnonzero(finder.disagreement(first, second, truth, "first right")).tolist() == [1]
    assert np.flatnonzero(finder.disagreement(first, second, truth, "second right")).tolist() == [3]
    with pytest.raises(ValueError, match="which must be"):
        finder.disagreement(first, second, truth, "both")


def test_late_fusion_and_tfn_disagree_on_sarcasm(sentiment):
    """On the shipped checkpoints: synergy utterances where TFN gets the sign and late fusion
    does not exist (the fusion lab's classic example), found by the finder."""
    from mmviz.checkpoint import load_checkpoint

    late = finder.test_decisions(load_checkpoint("late_sentiment").model, sentiment)
    tfn = finder.test_decisions(load_checkpoint("tfn_sentiment").model, sentiment)
    truth = finder.truth_decisions(sentiment)
    mask = finder.disagreement(tfn, late, truth, "first right")
    found = finder.find_samples(sentiment, finder.SampleFilter(recipe="synergy"), mask)
    assert len(found) > 10
    assert (tfn[found] == truth[found]).all() and (late[found] != truth[found]).all()
