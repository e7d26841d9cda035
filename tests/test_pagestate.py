"""PageState: every page's view as typed fields, read from and written to URLs and lesson files.

Round trips are checked on random states of every page; bad values are refused with the page,
the field and what it expects in the message.
"""

from __future__ import annotations

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mmviz import pagestate as ps

NAMES = st.sampled_from(["hand", "label", "print", "sound", "text", "z", "y", "mvae_digits5"])


def value_strategy(codec: ps.Codec, prefixed: bool):
    """Random valid values of one field, built from the codec's own declared limits."""
    if prefixed:
        return st.dictionaries(NAMES, value_strategy(codec, False), min_size=1, max_size=3)
    if isinstance(codec, ps.Choice):
        return st.sampled_from(codec.options)
    if isinstance(codec, ps.Flag):
        return st.booleans()
    if isinstance(codec, ps.Int):
        return st.integers(codec.lo if codec.lo is not None else -1000, codec.hi or 10_000)
    if isinstance(codec, ps.Float):
        return st.floats(
            codec.lo if codec.lo is not None else -1e3, codec.hi if codec.hi is not None else 1e3
        )
    if isinstance(codec, ps.ListOf):
        return st.lists(value_strategy(codec.item, False), max_size=4).map(tuple)
    if isinstance(codec, ps.Levels):
        return st.dictionaries(NAMES, value_strategy(codec.item, False), max_size=3)
    if isinstance(codec, ps.Interval):
        return (
            st.lists(value_strategy(codec.item, False), min_size=2, max_size=2, unique=True)
            .map(sorted)
            .map(tuple)
        )
    if isinstance(codec, ps.Snr):
        return st.one_of(st.just("clean"), st.integers(-20, 40))
    if isinstance(codec, ps.Scalar):
        return st.sampled_from(["1", "0", "32", "0.5", "riemann_left", "-2"])
    return NAMES


def state_strategy(cls: type[ps.PageState]):
    fields = {
        f.name: st.one_of(st.none(), value_strategy(f.codec, f.prefixed)) for f in cls.fields()
    }
    return st.fixed_dictionaries(fields).map(
        lambda d: cls(**{k: v for k, v in d.items() if v is not None})
    )


def close(a, b) -> bool:
    """Equal, with floats compared to the precision the URL writes (`%g`, 6 digits)."""
    if isinstance(a, float) and isinstance(b, float):
        return math.isclose(a, b, rel_tol=1e-5, abs_tol=1e-9)
    if isinstance(a, tuple | list) and isinstance(b, tuple | list):
        return len(a) == len(b) and all(close(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(close(a[k], b[k]) for k in a)
    return a == b


@pytest.mark.parametrize("page", list(ps.PAGE_STATES))
@settings(max_examples=60, deadline=None)
@given(data=st.data())
def test_url_round_trip_of_random_states(page, data):
    cls = ps.PAGE_STATES[page]
    state = data.draw(state_strategy(cls))
    back, problems = cls.from_query(state.to_query())
    assert problems == {}
    for f in cls.fields():
        assert close(getattr(back, f.name), getattr(state, f.name)), f.name
    # and through typed values (what a lesson file holds)
    again = cls.from_values(back.values())
    assert again.to_query() == back.to_query()


@pytest.mark.parametrize("page", list(ps.PAGE_STATES))
def test_each_page_has_distinct_url_parameters(page):
    urls = [f.url for f in ps.PAGE_STATES[page].fields()]
    assert len(urls) == len(set(urls))
    assert not set(urls) & set(ps.APP_PARAMS)  # ?class= joins a class, ?hide= hides controls
    plain = [u for f, u in zip(ps.PAGE_STATES[page].fields(), urls, strict=True) if not f.prefixed]
    for f in ps.PAGE_STATES[page].fields():  # a prefix must not swallow another parameter
        if f.prefixed:
            assert not [u for u in plain if u.startswith(f.url)]


@pytest.mark.parametrize(
    ("page", "values", "field", "words"),
    [
        ("traversal", {"steps": 99}, "steps", "from 2 to 15"),
        ("traversal", {"mode": "spiral"}, "mode", "grid, animation, sweep"),
        ("traversal", {"value_range": [2.0, -2.0]}, "value_range", "increasing"),
        ("missing", {"noise": {"hand": 1.5}}, "noise", "from 0.0 to 1.0"),
        ("missing", {"observed": "hand"}, "observed", "a list of"),
        ("missing", {"compare": "yes"}, "compare", "true or false"),
        ("crossmodal", {"draws": 0}, "draws", "from 1 to 32"),
        ("fusion_lab", {"snr": {"visual": 99}}, "snr", "dB"),
        ("missing", {"obsreved": ["hand"]}, "obsreved", "no such field"),
        ("missing", {"ckpt": "../etc/passwd"}, "ckpt", "a name"),
        ("attributions", {"sample": -1}, "sample", "at least 0"),
        ("missing", {"sample": True}, "sample", "an integer"),
    ],
)
def test_bad_values_name_page_field_and_what_is_expected(page, values, field, words):
    with pytest.raises(ps.StateError) as err:
        ps.PAGE_STATES[page].from_values(values)
    assert err.value.field == field
    assert f"page '{page}'" in str(err.value)
    assert words in str(err.value)


def test_url_problems_are_reported_per_field_and_the_rest_is_kept():
    state, problems = ps.MissingState.from_query(
        {"ckpt": "mvae_tiny5", "i": "banana", "noise": "hand:0.3", "obs": "hand,label", "x": "1"},
        strict=False,
    )
    assert set(problems) == {"sample"}
    assert state.ckpt == "mvae_tiny5"
    assert state.sample is None  # left to the page's default
    assert state.noise == {"hand": 0.3}
    assert state.observed == ("hand", "label")
    with pytest.raises(ps.StateError, match=r"field 'sample': \?i: expected an integer"):
        ps.MissingState.from_query({"i": "banana"})


def test_prefixed_fields_gather_one_parameter_per_modality():
    state, _ = ps.FusionLabState.from_query(
        {"on_visual": "0", "on_language": "1", "snr_acoustic": "-10", "snr_visual": "clean"}
    )
    assert state.on == {"visual": False, "language": True}
    assert state.snr == {"acoustic": -10, "visual": "clean"}
    assert state.to_query() == {
        "on_visual": "0",
        "on_language": "1",
        "snr_acoustic": "-10",
        "snr_visual": "clean",
    }


def test_unset_fields_are_absent_from_the_url():
    assert ps.TraversalState().to_query() == {}
    assert ps.TraversalState(steps=5).to_query() == {"steps": "5"}


def test_field_table_documents_every_field():
    rows = ps.field_table("missing")
    assert [r["field"] for r in rows] == [f.name for f in ps.MissingState.fields()]
    assert all(r["meaning"] and r["expects"] for r in rows)
    with pytest.raises(ValueError, match="unknown page 'nope'"):
        ps.field_table("nope")


def test_attribution_targets_match_the_report_module():
    from mmviz.report import TARGET_KINDS

    assert set(ps.ATTRIBUTION_TARGETS) == set(TARGET_KINDS)


def test_stepper_fields_round_trip_and_are_checked():
    missing = ps.MissingState(step_dim=3, step=2, stage=4, partner=7, swap=("hand", "print"))
    query = {"sdim": "3", "step": "2", "stage": "4", "mate": "7", "swap": "hand,print"}
    assert missing.to_query() == query
    assert ps.MissingState.from_query(query)[0] == missing
    lab = ps.FusionLabState.from_values(
        {"cube": "tfn_sentiment", "upto": 2, "ranks_added": 3, "rank_order": "largest"}
    )
    assert lab.to_query() == {
        "cube": "tfn_sentiment",
        "tfnk": "2",
        "lmfk": "3",
        "lmforder": "largest",
    }
    assert ps.FusionLabState.from_query(lab.to_query())[0] == lab
    for page, values, field, words in [
        ("missing", {"step": -1}, "step", "at least 0"),
        ("missing", {"step_dim": 1.5}, "step_dim", "an integer"),
        ("missing", {"stage": 5}, "stage", "from 0 to 4"),
        ("missing", {"swap": "hand"}, "swap", "a list of"),
        ("fusion_lab", {"upto": 7}, "upto", "from 0 to 6"),
        ("fusion_lab", {"rank_order": "random"}, "rank_order", "index, largest"),
    ]:
        with pytest.raises(ps.StateError, match=words) as err:
            ps.PAGE_STATES[page].from_values(values)
        assert err.value.field == field
