"""The Home page's view (mmviz/views/home.py), built without Streamlit from the shipped zoo's
catalog: the cards, their metrics (short labels, full meaning as help) and their links."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from mmviz.explore import catalog
from mmviz.views.home import (
    CARD_LINKS,
    PER_ROW,
    SECTIONS,
    build_dataset_card,
    build_home_view,
    headline_metric,
)

ROOT = Path(__file__).resolve().parent.parent / "checkpoints"


@pytest.fixture(scope="module")
def infos():
    return catalog(ROOT)


def test_every_checkpoint_has_one_card_in_its_kind(infos):
    view = build_home_view(infos)
    assert view.checkpoints == len(infos)
    assert [s.kind for s in view.sections] == [k for k, *_ in SECTIONS]  # all three shipped
    cards = {c.id: (s.kind, c) for s in view.sections for c in s.cards}
    assert set(cards) == {i.id for i in infos}
    for info in infos:
        kind, card = cards[info.id]
        assert kind == (info.kind or "fusion")
        meta = json.loads((ROOT / info.id / "meta.json").read_text())
        assert card.modalities == meta["modalities"]
        assert card.latent_groups == (meta.get("latent_groups") or {})
        assert f"**{meta['model']}** on `{meta['dataset']}`" in card.caption
        assert card.links == CARD_LINKS[kind] and card.query == {"ckpt": info.id}
        assert card.facts.startswith(f"{meta['parameters']:,} parameters")
        metrics = [m for row in card.metrics for m in row]
        assert len(metrics) == len(info.headline)
        assert all(1 <= len(row) <= PER_ROW for row in card.metrics)
        assert all(len(m.label) <= 16 and m.help for m in metrics)  # fits half a card
    assert sum(c.default for _, c in cards.values()) <= 1
    assert "Fusion lab" in next(s for s in view.sections if s.kind == "fusion").caption


def test_card_metrics_show_the_catalogs_values(infos):
    view = build_home_view(infos)
    cards = {c.id: c for s in view.sections for c in s.cards}
    for info in infos:
        shown = [m for row in cards[info.id].metrics for m in row]
        for m, (label, value) in zip(shown, info.headline.items(), strict=True):
            text = f"{value:,.0f}" if abs(value) >= 100 else f"{value:.3f}"
            assert m.value == text
            if label.startswith("log p("):
                assert m.label == label
    acc = headline_metric("mvae", "label from hand", 0.91234)
    assert (acc.label, acc.value) == ("acc · hand", "0.912")
    assert acc.help == "label accuracy from the hand image alone"
    assert "Not comparable" in headline_metric("mfm", "log p(hand)", -1234.5).help
    assert headline_metric("mvae", "log p(hand)", -1234.5).value == "-1,234"


def test_loglik_note_only_when_mfm_and_vaes_are_side_by_side(infos):
    gen = [i for i in infos if i.kind == "generative"]
    (section,) = build_home_view(gen).sections
    has_both = {i.model == "mfm" for i in gen if "log p(hand)" in i.headline} == {True, False}
    assert (section.loglik_note is not None) == has_both
    vaes = [i for i in gen if i.model != "mfm"]
    assert build_home_view(vaes).sections[0].loglik_note is None


def test_a_broken_checkpoint_gets_a_card_without_links(infos, tmp_path):
    import shutil

    shutil.copytree(ROOT / "lmf_sentiment", tmp_path / "broken")
    (tmp_path / "broken" / "meta.json").write_text("{not json")
    (info,) = catalog(tmp_path)
    (section,) = build_home_view([info]).sections
    (card,) = section.cards
    assert card.problem and "meta.json unreadable" in card.problem
    assert card.links == []
    assert build_home_view([]).sections == [] and build_home_view([]).checkpoints == 0


def test_dataset_card(tmp_path, monkeypatch):
    from mmviz.data import load_dataset

    monkeypatch.setenv("MMVIZ_CACHE", str(tmp_path))
    ds = load_dataset("sentiment")
    card = build_dataset_card("sentiment", ds)
    assert card.title == f"`sentiment`: {len(ds)} samples, version {ds.version}"
    for k, v in ds.splits.items():
        assert f"{k} {len(v)}" in card.caption
    assert set(card.descriptions) == {m for m, s in ds.specs.items() if s.description}
