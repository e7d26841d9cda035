"""Fusion models (TFN, LMF, early, late): decomposition exactness, sizes, learning, missing data."""

from __future__ import annotations

import itertools
import math

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from mmviz.bench import bench_fusion
from mmviz.data.noise import add_noise, token_noise_fraction
from mmviz.data.random_inputs import sentiment_like_specs
from mmviz.models import model_class
from mmviz.models.fusion import (
    LMF,
    TFN,
    EarlyFusion,
    FusionConfig,
    LateFusion,
    LateFusionConfig,
    LMFConfig,
    LowRankFusion,
    SequenceSubNet,
    TensorFusion,
    concat_fusion_params,
    lmf_fusion_params,
    make_fusion,
    masked_time_stats,
    tfn_fusion_params,
)

torch.set_num_threads(1)

SMALL = {"embed_dim": 12, "token_dim": 12, "sequence_dim": 8, "fusion_dim": 16, "dropout": 0.0}
MODELS = {
    "tfn": (TFN, FusionConfig),
    "lmf": (LMF, LMFConfig),
    "early_fusion": (EarlyFusion, FusionConfig),
    "late_fusion": (LateFusion, LateFusionConfig),
}


def build(name: str, specs=None, **overrides):
    cls, cfg = MODELS[name]
    kwargs = {**SMALL, **overrides}
    if name == "lmf":
        kwargs.setdefault("rank", 3)
    return cls(cfg(**kwargs), specs or sentiment_like_specs(steps=10, vocab_size=30))


def learnable_batch(specs, n: int, seed: int):
    """Right-padded inputs whose score is a known function of all three modalities."""
    g = torch.Generator().manual_seed(seed)
    steps, vocab = specs["language"].shape[0], specs["language"].num_classes
    polarity = torch.randint(-1, 2, (vocab,), generator=torch.Generator().manual_seed(99))
    polarity[:2] = 0
    lengths = torch.randint(3, steps + 1, (n,), generator=g)
    valid = torch.arange(steps).unsqueeze(0) < lengths.unsqueeze(1)
    tokens = torch.randint(2, vocab, (n, steps), generator=g) * valid
    visual = torch.randn(n, steps, specs["visual"].shape[1], generator=g) * valid.unsqueeze(-1)
    acoustic = torch.randn(n, steps, specs["acoustic"].shape[1], generator=g) * valid.unsqueeze(-1)
    lens = lengths.float()
    lang = polarity[tokens].float().sum(1) / lens.sqrt()
    vis = visual[..., 0].sum(1) / lens.sqrt()
    aco = acoustic[..., 1].sum(1) / lens.sqrt()
    score = (lang + vis - 0.5 * aco).clamp(-3, 3)
    inputs = {"language": tokens, "visual": visual, "acoustic": acoustic}
    return inputs, {"score": score, "binary": (score >= 0).long()}


def nonempty_subsets(names):
    return [list(c) for r in range(1, len(names) + 1) for c in itertools.combinations(names, r)]


# --- LMF is exactly TFN with a low-rank weight tensor ------------------------------------------
@pytest.mark.parametrize("dims", [(3, 4), (5, 2, 3), (2, 3, 2, 2)])
def test_lmf_equals_tfn_contraction_with_full_weight_tensor(dims):
    torch.manual_seed(0)
    d_h, rank, n = 6, 3, 7
    lmf = LowRankFusion(dims, d_h, rank).double()
    with torch.no_grad():
        lmf.bias.normal_()
    hs = [torch.randn(n, d, dtype=torch.float64) for d in dims]
    w = lmf.full_weight_tensor()
    assert w.shape == tuple(d + 1 for d in dims) + (d_h,)

    # TFN's contraction written out as one einsum over the outer product of [h_m; 1].
    zs = [torch.cat([h, torch.ones(n, 1, dtype=h.dtype)], 1) for h in hs]
    letters = "abcd"[: len(dims)]
    spec = ",".join(f"n{c}" for c in letters) + f",{letters}h->nh"
    h_tfn = torch.einsum(spec, *zs, w) + lmf.bias
    torch.testing.assert_close(lmf(hs), h_tfn, atol=1e-10, rtol=1e-8)

    # The same W loaded into a TensorFusion layer (checks its flattening order too).
    tfn = TensorFusion(dims, d_h).double()
    with torch.no_grad():
        tfn.linear.weight.copy_(w.reshape(-1, d_h).T)
        tfn.linear.bias.copy_(lmf.bias[0])
    torch.testing.assert_close(tfn(hs), lmf(hs), atol=1e-10, rtol=1e-8)


def test_lmf_model_equals_tfn_model_given_the_factors_weight_tensor():
    """Whole models: TFN with LMF's sub-networks, head and W predicts what LMF predicts."""
    specs = sentiment_like_specs(steps=8, vocab_size=20)
    lmf = build("lmf", specs).double().eval()
    tfn = build("tfn", specs).double().eval()
    with torch.no_grad():
        lmf.fusion.bias.normal_()
        tfn.subnets.load_state_dict(lmf.subnets.state_dict())
        tfn.head.load_state_dict(lmf.head.state_dict())
        d_h = lmf.config.fusion_dim
        tfn.fusion.linear.weight.copy_(lmf.full_weight_tensor().reshape(-1, d_h).T)
        tfn.fusion.linear.bias.copy_(lmf.fusion.bias[0])
    inputs, _ = learnable_batch(specs, 9, seed=1)
    inputs = {m: (x.double() if x.is_floating_point() else x) for m, x in inputs.items()}
    torch.testing.assert_close(tfn.predict(inputs), lmf.predict(inputs), atol=1e-5, rtol=1e-5)


# --- parameter counts ----------------------------------------------------------------------------
def count(module: torch.nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


def check_counts(dims, d_h, rank):
    assert count(make_fusion("tfn", dims, d_h)) == tfn_fusion_params(dims, d_h)
    assert count(make_fusion("lmf", dims, d_h, rank)) == lmf_fusion_params(dims, d_h, rank)
    assert count(make_fusion("concat", dims, d_h)) == concat_fusion_params(dims, d_h)


@pytest.mark.parametrize(
    "dims,d_h,rank", [((64, 32, 32), 64, 4), ((1,), 1, 1), ((7, 3), 5, 2), ((4, 4, 4, 4), 3, 6)]
)
def test_parameter_formulas_match_modules(dims, d_h, rank):
    check_counts(dims, d_h, rank)


@settings(max_examples=25, deadline=None)
@given(
    dims=st.lists(st.integers(1, 9), min_size=1, max_size=4),
    d_h=st.integers(1, 9),
    rank=st.integers(1, 6),
)
def test_parameter_formulas_match_modules_hypothesis(dims, d_h, rank):
    check_counts(dims, d_h, rank)


def test_paper_sizes_values_and_default_blowup():
    # closed forms by hand: (65*33*33)*64 + 64 and 4*(65+33+33)*64 + 4 + 64
    assert tfn_fusion_params((64, 32, 32), 64) == 70785 * 64 + 64
    assert lmf_fusion_params((64, 32, 32), 64, 4) == 4 * 131 * 64 + 68
    specs = sentiment_like_specs()
    tfn, lmf = TFN(FusionConfig(), specs), LMF(LMFConfig(), specs)
    dims = [tfn.dim(m) for m in tfn.modalities]
    assert tfn.fusion_parameter_count() == tfn_fusion_params(dims, tfn.config.fusion_dim)
    assert lmf.fusion_parameter_count() == lmf_fusion_params(
        dims, lmf.config.fusion_dim, lmf.config.rank
    )
    assert tfn.fusion_parameter_count() >= 10 * lmf.fusion_parameter_count()
    # identical sub-networks: total parameters differ by the fusion layers alone
    diff = tfn.parameter_count() - lmf.parameter_count()
    assert diff == tfn.fusion_parameter_count() - lmf.fusion_parameter_count()


def test_per_modality_dims_override_reaches_fusion_count():
    model = build("lmf", dims={"language": 5, "visual": 3})
    assert [model.dim(m) for m in model.modalities] == [5, 3, 8]
    assert model.fusion_parameter_count() == lmf_fusion_params((5, 3, 8), 16, 3)


# --- learning --------------------------------------------------------------------------------
@pytest.mark.parametrize("name", list(MODELS))
def test_loss_falls_on_a_tiny_batch(name):
    model = build(name)
    inputs, targets = learnable_batch(model.specs, 64, seed=0)
    opt = torch.optim.Adam(model.parameters(), lr=1e-2)
    model.train()
    first, terms = model.loss(inputs, targets, 0)
    l1 = (model.predict(inputs) - targets["score"]).abs().mean().item()
    assert math.isclose(terms["l1"], l1, rel_tol=1e-5)  # "l1" is the L1 of the prediction
    for step in range(50):
        loss, terms = model.loss(inputs, targets, step)
        opt.zero_grad()
        loss.backward()
        opt.step()
    model.eval()
    final = (model.predict(inputs) - targets["score"]).abs().mean().item()
    best_constant = (targets["score"] - targets["score"].median()).abs().mean().item()
    assert final < 0.6 * best_constant  # (LMF, the slowest, reaches ~0.45 of it)
    assert final < 0.5 * first.item()


def test_classification_target_gives_probabilities_and_learns():
    model = build("lmf", target="binary", task="classification")
    inputs, targets = learnable_batch(model.specs, 64, seed=0)
    opt = torch.optim.Adam(model.parameters(), lr=1e-2)
    for step in range(50):
        loss, terms = model.loss(inputs, targets, step)
        opt.zero_grad()
        loss.backward()
        opt.step()
    model.eval()
    probs = model.predict(inputs)
    assert probs.shape == (64, 2)
    torch.testing.assert_close(probs.sum(1), torch.ones(64))
    accuracy = (probs.argmax(1) == targets["binary"]).float().mean().item()
    assert accuracy > 0.85
    assert terms["ce"] < math.log(2) * 0.6


def test_late_fusion_weights_are_an_average_of_unimodal_predictions():
    model = build("late_fusion").eval()
    with torch.no_grad():
        model.weight_logits.copy_(torch.tensor([0.3, -1.0, 2.0]))
    inputs, _ = learnable_batch(model.specs, 5, seed=3)
    reps = model.representations(inputs)
    outs = model.unimodal_outputs(reps)
    w = model.modality_weights()
    assert math.isclose(sum(w.values()), 1.0, rel_tol=1e-6)
    expected = sum(w[m] * outs[m].squeeze(-1) for m in model.modalities)
    torch.testing.assert_close(model.predict(inputs), expected)


# --- missing modalities, noise, tuple forward ----------------------------------------------------
@pytest.mark.parametrize("name", list(MODELS))
def test_every_subset_and_noise_gives_finite_outputs(name):
    model = build(name).eval()
    inputs, targets = learnable_batch(model.specs, 6, seed=2)
    model.set_missing_statistics([(inputs, targets)])
    g = torch.Generator().manual_seed(0)
    noisy = add_noise(inputs, "visual", -5.0, g)
    noisy = add_noise(noisy, "language", 0.0, g, vocab_size=30)
    for subset in nonempty_subsets(model.modalities):
        for x in (inputs, noisy):
            out = model.predict(x, subset)
            assert out.shape == (6,)
            assert torch.isfinite(out).all()


@pytest.mark.parametrize("name", list(MODELS))
def test_missing_modality_never_reaches_the_model(name):
    model = build(name).eval()
    inputs, targets = learnable_batch(model.specs, 6, seed=4)
    other, _ = learnable_batch(model.specs, 6, seed=5)
    model.set_missing_statistics([(other, targets)])
    for missing in model.modalities:
        observed = [m for m in model.modalities if m != missing]
        replaced = {**inputs, missing: other[missing]}
        dropped = {m: inputs[m] for m in observed}
        a = model.predict(inputs, observed)
        torch.testing.assert_close(model.predict(replaced, observed), a, atol=0, rtol=0)
        torch.testing.assert_close(model.predict(dropped, observed), a, atol=0, rtol=0)
        # ... while the observed modalities do matter
        changed = {**inputs, observed[0]: other[observed[0]]}
        assert not torch.allclose(model.predict(changed, observed), a)


@pytest.mark.parametrize("name", list(MODELS))
def test_missing_modality_is_replaced_by_its_training_mean(name):
    model = build(name).eval()
    train, targets = learnable_batch(model.specs, 20, seed=6)
    model.set_missing_statistics([train, (train, targets)])  # two batches, same data
    reps = model.representations(train)
    for m in model.modalities:
        torch.testing.assert_close(model.missing_representation(m), reps[m].mean(0))
    inputs, _ = learnable_batch(model.specs, 4, seed=7)
    full = model.representations(inputs)
    for missing in model.modalities:
        observed = [m for m in model.modalities if m != missing]
        manual = dict(full)
        manual[missing] = reps[missing].mean(0).expand_as(full[missing])
        expected = model.combine(manual, {m: inputs[m] for m in observed}).squeeze(-1)
        torch.testing.assert_close(model.predict(inputs, observed), expected)


def test_training_loss_tracks_means_in_buffers_saved_with_the_checkpoint():
    model = build("tfn")
    inputs, targets = learnable_batch(model.specs, 16, seed=8)
    model.train()
    model.loss(inputs, targets, 0)  # first update copies the batch mean
    for m, r in model.representations(inputs).items():
        torch.testing.assert_close(model.missing_representation(m), r.detach().mean(0))
    state = model.state_dict()
    assert {f"rep_mean_{m}" for m in model.modalities} <= set(state)
    clone = build("tfn")
    clone.load_state_dict(state)
    model.eval()
    clone.eval()
    torch.testing.assert_close(clone.predict(inputs, ["visual"]), model.predict(inputs, ["visual"]))


@pytest.mark.parametrize("name", list(MODELS))
def test_tuple_forward_equals_dict_predict(name):
    model = build(name).eval()
    inputs, _ = learnable_batch(model.specs, 5, seed=9)
    tensors = [inputs[m] for m in model.modalities]
    torch.testing.assert_close(model(*tensors), model.predict(inputs), atol=0, rtol=0)
    partial = [None, tensors[1], tensors[2]]
    torch.testing.assert_close(model(*partial), model.predict(inputs, ["visual", "acoustic"]))


def test_float_noise_has_the_requested_snr_and_spares_padding():
    g = torch.Generator().manual_seed(0)
    x = torch.randn(400, 20, 8, generator=g) * 2.0
    x[:, 15:] = 0  # padding steps
    for snr_db in (-5.0, 0.0, 10.0):
        noisy = add_noise({"visual": x}, "visual", snr_db, torch.Generator().manual_seed(1))
        noise = noisy["visual"] - x
        assert (noise[:, 15:] == 0).all()
        measured = 10 * math.log10(x[:, :15].pow(2).mean() / noise[:, :15].pow(2).mean())
        assert abs(measured - snr_db) < 0.15


def test_token_noise_replaces_the_documented_fraction():
    assert token_noise_fraction(0.0) == 0.5
    assert math.isclose(token_noise_fraction(10.0), 1 / 11)
    g = torch.Generator().manual_seed(0)
    tokens = torch.randint(2, 50, (500, 20), generator=g)
    tokens[:, 12:] = 0
    for snr_db in (-10.0, 0.0, 10.0):
        noisy = add_noise({"language": tokens}, "language", snr_db, g)["language"]
        assert (noisy[:, 12:] == 0).all()
        changed = (noisy != tokens)[:, :12].float().mean().item()
        assert abs(changed - token_noise_fraction(snr_db)) < 0.02
        assert set(noisy[noisy != tokens].tolist()) <= {1}  # UNK without a vocabulary
    noisy = add_noise({"language": tokens}, "language", -30.0, g, vocab_size=50)["language"]
    assert noisy[:, :12].min() >= 2 and noisy.max() < 50
    assert (noisy[:, :12] != tokens[:, :12]).float().mean() > 0.9  # ~1/50 redraw the same word


def test_embedding_layer_and_captum_completeness():
    from captum.attr import IntegratedGradients, LayerIntegratedGradients

    model = build("lmf").double().eval()
    inputs, _ = learnable_batch(model.specs, 3, seed=10)
    tok, vis, aco = inputs["language"], inputs["visual"].double(), inputs["acoustic"].double()
    assert model.embedding_layer("language") is model.subnets["language"].embedding
    with pytest.raises(ValueError):
        model.embedding_layer("visual")
    # Integrated gradients: attributions sum to f(x) - f(baseline) (completeness).
    ig = IntegratedGradients(lambda v, a, t: model(t, v, a))
    attr, delta = ig.attribute(
        (vis, aco), additional_forward_args=(tok,), n_steps=64, return_convergence_delta=True
    )
    gap = model(tok, vis, aco) - model(tok, torch.zeros_like(vis), torch.zeros_like(aco))
    total = attr[0].sum((1, 2)) + attr[1].sum((1, 2))
    torch.testing.assert_close(total, gap, atol=1e-2, rtol=1e-2)
    lig = LayerIntegratedGradients(model, model.embedding_layer("language"))
    attr, delta = lig.attribute(
        tok, additional_forward_args=(vis, aco), n_steps=64, return_convergence_delta=True
    )
    assert attr.shape == (*tok.shape, model.config.embed_dim)
    assert delta.abs().max() < 1e-2


# --- registry, configs, benchmark -----------------------------------------------------------
def test_registry_and_config_round_trip():
    for name, (cls, cfg_cls) in MODELS.items():
        assert model_class(name) is cls
        assert cls.config_class is cfg_cls
        model = build(name)
        rebuilt = cls(cfg_cls.from_dict(model.config.to_dict()), model.specs)
        for (k, a), (_, b) in zip(
            model.state_dict().items(), rebuilt.state_dict().items(), strict=True
        ):
            assert torch.equal(a, b), k  # same seed, same weights


def test_bench_fusion_tiny():
    result = bench_fusion(sizes="tiny", repeats=2, steps=2, batch_size=8)
    for key in ("fusion_params", "total_params", "train", "inference"):
        value = result["ratios"][key]
        assert math.isfinite(value) and value > 0
    specs = sentiment_like_specs()
    cfg = result["config"]["lmf"]
    dims = [cfg["token_dim"]] + [cfg["sequence_dim"]] * (len(specs) - 1)
    expected = tfn_fusion_params(dims, cfg["fusion_dim"]) / lmf_fusion_params(
        dims, cfg["fusion_dim"], cfg["rank"]
    )
    assert math.isclose(result["ratios"]["fusion_params"], expected)
    assert len(result["tfn"]["train_runs"]) == 2


def test_modality_dropout_swaps_in_the_training_means():
    model = build("tfn")
    inputs, targets = learnable_batch(model.specs, 16, seed=11)
    opt = torch.optim.Adam(model.parameters(), lr=1e-2)
    model.train()
    for step in range(15):  # make the output depend on the inputs (and set the means)
        loss, kept = model.loss(inputs, targets, step)
        opt.zero_grad()
        loss.backward()
        opt.step()
    model.config.modality_dropout = 1.0  # every representation replaced, every sample
    _, terms = model.loss(inputs, targets, 15)
    means = {m: model.missing_representation(m).expand(16, -1) for m in model.modalities}
    constant = model.combine(means, {}).squeeze(-1)
    assert torch.allclose(constant, constant[0])  # the model saw no input at all
    assert math.isclose(
        terms["l1"], (constant - targets["score"]).abs().mean().item(), rel_tol=1e-5
    )
    assert terms["l1"] > 1.5 * kept["l1"]


@settings(max_examples=40, deadline=None)
@given(
    lengths=st.lists(st.integers(0, 7), min_size=1, max_size=5),
    d=st.integers(1, 4),
    seed=st.integers(0, 10_000),
)
def test_masked_time_stats_matches_per_sample_reference(lengths, d, seed):
    """[mean; max; min] over the real steps only, computed one sample at a time with numpy;
    an all-padding sample gives zeros rather than +-inf."""
    import numpy as np

    T = 7
    rng = np.random.default_rng(seed)
    x = np.zeros((len(lengths), T, d), dtype=np.float32)
    for i, n in enumerate(lengths):
        x[i, :n] = rng.normal(size=(n, d)) + 0.01  # real steps are never exactly all-zero
    got = masked_time_stats(torch.from_numpy(x)).numpy()
    for i, n in enumerate(lengths):
        real = x[i, :n]
        want = (
            np.concatenate([real.mean(0), real.max(0), real.min(0)])
            if n
            else np.zeros(3 * d, dtype=np.float32)
        )
        np.testing.assert_allclose(got[i], want, rtol=1e-5, atol=1e-6)


def test_sequence_pool_is_checked_and_changes_the_input_width():
    spec_dim, out = 6, 8
    assert SequenceSubNet(spec_dim, out, 0.0, "mean").net[1].in_features == spec_dim
    assert SequenceSubNet(spec_dim, out, 0.0, "stats").net[1].in_features == 3 * spec_dim
    with pytest.raises(ValueError, match="sequence_pool must be one of"):
        SequenceSubNet(spec_dim, out, 0.0, "median")
