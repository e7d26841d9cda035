"""The Attributions page's view and menus (mmviz/views/attributions.py), built on the tiny zoo
without Streamlit: which targets and methods apply, what the view holds, and that the numbers
obey the methods' completeness properties."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from mmviz import explore as ex
from mmviz import report as rep
from mmviz.data import load_dataset
from mmviz.interpret.attributions import METHODS, Attributor
from mmviz.models import UnsupportedSubset
from mmviz.views import attributions as views
from mmviz.views.attributions import AttributionSettings, build_attributions_view
from tests.test_explore import digits, models, sample, zoo  # noqa: F401

READS = ["hand", "print", "text", "sound"]  # what mvae_tiny5 observes besides its label


def settings(kind="prediction", observed=READS, method="IntegratedGradients", **params):
    choice = rep.TargetChoice(kind, **params.pop("target", {}))
    return AttributionSettings(choice, tuple(observed), method, tuple(sorted(params.items())))


def test_integrated_gradients_add_up_to_the_change_of_the_target(models, sample):  # noqa: F811
    model = models["mvae_tiny5"]
    view = build_attributions_view(
        model, sample, settings(observed=["hand", "print"], n_steps=64), name="mvae_tiny5"
    )
    r = view.result
    assert view.total == pytest.approx(sum(float(a.sum()) for a in r.per_modality.values()))
    change = view.target_value - view.baseline_value
    assert abs(view.total - change) == pytest.approx(abs(view.delta), rel=1e-3, abs=1e-5)
    assert abs(view.delta) < 0.05 * max(1.0, abs(change))  # 64 steps: close to exact
    assert view.title == f"Explaining: {r.target}"
    assert set(r.per_modality) == {"hand", "print"}
    assert view.index_note and f"**{int(r.index[0])}**" in view.index_note  # predicted class
    # the same numbers as the attribution run by itself
    alone = Attributor("IntegratedGradients", n_steps=64).attribute(
        model, sample, rep.TargetChoice("prediction").build(), ["hand", "print"]
    )
    np.testing.assert_allclose(r.per_modality["hand"], alone.per_modality["hand"], atol=1e-6)


def test_shapley_value_sampling_is_complete(models, sample):  # noqa: F811
    """Every sampled permutation walks from the baseline to the input, so the attributions
    add up to f(x) - f(x') exactly (up to float error)."""
    model = models["mvae_tiny5"]
    s = settings(
        observed=["hand", "text"], method="ShapleyValueSampling", n_samples=3, image_patch=7
    )
    view = build_attributions_view(model, sample, s)
    assert view.delta is None  # the method reports none
    assert view.total == pytest.approx(view.target_value - view.baseline_value, abs=1e-4)


def test_modality_shapley_values_sum_to_v_all_minus_v_empty(models, sample):  # noqa: F811
    model = models["mvae_tiny5"]
    view = build_attributions_view(model, sample, settings(method="Saliency"), name="mvae_tiny5")
    sv = view.shapley
    assert set(sv.values) == set(READS) and not view.single
    assert sum(sv.values.values()) == pytest.approx(sv.v_all - sv.v_empty, abs=1e-6)
    meta = view.shapley_figure.layout.meta
    assert meta["sum"] == pytest.approx(sum(sv.values.values()))
    assert f"Sum **{meta['sum']:.4g}**" in view.shapley_note
    assert "over 4 modalities (16 coalitions)" in view.shapley_note
    differs = abs(view.baseline_value - sv.v_empty) > 1e-3 * max(1.0, abs(sv.v_empty))
    assert (view.baseline_note is not None) == differs
    assert view.shapley_warning is None and view.shapley_error is None
    shares = view.shares_figure.data[0]
    assert list(shares.y) == list(view.result.shares)
    assert sum(shares.x) == pytest.approx(1.0)


def test_panels_show_each_observed_modality_its_way(models, sample):  # noqa: F811
    model = models["mvae_tiny5"]
    s = settings("latent", method="Saliency", target={"group": "z", "dim": 2})
    view = build_attributions_view(model, sample, s)
    kinds = {p.modality: p.kind for p in view.panels}
    assert kinds == {"hand": "image", "print": "image", "text": "tokens", "sound": "image"}
    hand = next(p for p in view.panels if p.modality == "hand")
    total = float(view.result.per_modality["hand"][0].sum())
    assert f"Total {total:+.4g}" in hand.note
    text = next(p for p in view.panels if p.modality == "text")
    ids = sample["text"][0].numpy()
    words, _ = rep.token_words(ids, np.zeros(ids.size), model.specs["text"].vocab)
    assert list(text.figure.data[0].text[0]) == words
    assert view.index_note is None  # a latent dimension has no class
    # observing the label too: a class input is one value
    s = settings("latent", [*READS, "label"], "Saliency", target={"group": "z", "dim": 2})
    label = next(p for p in build_attributions_view(model, sample, s).panels if p.kind == "whole")
    assert label.modality == "label" and label.figure is None and np.isfinite(label.value)


def test_menus(models, sample):  # noqa: F811
    mvae, lmf = models["mvae_tiny5"], models["lmf_tiny"]
    menu = views.target_menu(mvae, sample)
    assert menu.kinds == ["prediction", "class", "generated", "latent", "region"]
    assert menu.not_here is None and not menu.empty
    senti = load_dataset("sentiment")
    x = {m: v for m, v in ex.sample_batch(senti, int(senti.indices("test")[0])).items()}
    menu = views.target_menu(lmf, x)
    assert menu.kinds == ["prediction"]
    assert menu.not_here.startswith("Not for this checkpoint: another class of the prediction")
    # class: the runner-up is the second most probable class given the inputs, label excluded
    names, runner_up = views.class_menu(mvae, sample, ["hand", "print", "label"])
    probs = mvae.predict(sample, ["hand", "print"])[0]
    assert runner_up == int(torch.argsort(probs, descending=True)[1])
    assert names == list(mvae.specs["label"].vocab)
    assert views.generated_menu(mvae) == {"label": list(mvae.specs["label"].vocab)}
    assert views.latent_menu(mvae) == {"z": 8}
    regions = views.region_menu(mvae)
    assert regions["hand"] == tuple(mvae.specs["hand"].shape[1:]) and "text" not in regions
    assert views.default_region(28, 28) == ((7, 21), (7, 21))
    # a region of the hand image: hand is the target's own modality, not an input
    seen = views.observed_menu(mvae, rep.TargetChoice("region", modality="hand", rows=(0, 4)))
    assert "hand" not in seen.candidates and "`hand` is the target's own modality" in seen.note
    every = views.observed_menu(mvae, rep.TargetChoice("latent", group="z", dim=0))
    assert every.candidates == ex.input_modalities(mvae) and "own modality" not in every.note
    pred = views.observed_menu(mvae, rep.TargetChoice("prediction"))  # the label predicted
    assert pred.candidates == READS and "`label` is the target's own modality" in pred.note
    methods = views.method_menu(mvae, READS)
    assert methods.methods == list(METHODS) and methods.default == "IntegratedGradients"
    assert methods.skipped is None and methods.none_apply is None
    assert methods.description("Saliency") == METHODS["Saliency"].description


def test_method_parameters_from_a_link():
    steps = next(p for p in METHODS["IntegratedGradients"].params if p.name == "n_steps")
    assert views.parameter_value(steps, "12") == 12 and views.parameter_value(steps, "x") is None
    assert views.parameter_value(steps, None) is None
    assert views.parameter_ok(steps, 12) and not views.parameter_ok(steps, True)
    assert views.scalar_text(True) == "1" and views.scalar_text(0.5) == "0.5"


def test_shapley_problems_become_notes_and_the_attributions_stay(models, sample):  # noqa: F811
    model = models["mvae_tiny5"]
    s = settings(method="Saliency")
    result = Attributor("Saliency").attribute(model, sample, s.target.build(), list(READS))

    def cannot():
        raise UnsupportedSubset("no surrogate inference network")

    view = build_attributions_view(model, sample, s, None, "ck", lambda: result, cannot)
    assert view.result is result  # the cached computation is used as it is
    assert "**ck** cannot give one of them: no surrogate inference network" in view.shapley_warning
    assert view.shapley is None and view.shapley_figure is None and view.panels

    def broken():
        raise RuntimeError("boom")

    view = build_attributions_view(model, sample, s, None, "ck", lambda: result, broken)
    assert isinstance(view.shapley_error, RuntimeError) and view.shapley_warning is None


def test_a_model_reading_one_modality_gets_no_shapley_values(zoo, digits, sample):  # noqa: F811
    from mmviz.checkpoint import load_checkpoint

    if not (zoo / "oracle_hand").exists():
        pytest.skip("no oracle_hand")
    model = load_checkpoint(zoo / "oracle_hand").model
    x = {"hand": sample["hand"]}
    view = build_attributions_view(model, x, settings(observed=["hand"]), name="oracle_hand")
    assert view.single and view.shapley is None and view.shapley_figure is None
    assert "**oracle_hand** reads only `hand`" in view.single_note
    assert view.shares_note.startswith("Trivially 100%: **hand** is the only input this model")


def test_sentiment_sequences_are_drawn_over_the_sentence(models):  # noqa: F811
    model = models["lmf_tiny"]
    senti = load_dataset("sentiment")
    x = ex.sample_batch(senti, int(senti.indices("test")[2]))
    x = {m: v for m, v in x.items() if m in model.modalities}
    observed = ex.input_modalities(model)
    view = build_attributions_view(model, x, settings(observed=observed), senti)
    kinds = {p.modality: p.kind for p in view.panels}
    assert set(kinds) == set(observed) and "sequence" in kinds.values()
    tokens = next(m for m, s in senti.specs.items() if s.kind == "tokens")
    from mmviz.fusionlab import words_of

    words = words_of(x[tokens][0].numpy(), senti.specs[tokens].vocab)
    seq = next(p for p in view.panels if p.kind == "sequence")
    steps = view.result.per_modality[seq.modality][0].shape[0]
    assert len(words) == steps  # one word per time step (the sentiment recipe aligns them)
    assert list(seq.figure.data[0].customdata) == words  # each step labelled by its word
    np.testing.assert_allclose(
        seq.figure.data[0].y, view.result.per_modality[seq.modality][0].reshape(steps, -1).sum(1)
    )
