"""MVAE, JMVAE and MFM: training signal, subset inference, scaling, and likelihood estimates.

Data are tiny synthetic batches built here (the real datasets are not needed): a digit class
c drives every modality through a fixed per-class prototype, so modalities share information.
"""

from __future__ import annotations

import itertools
import math

import pytest
import torch
from torch import Tensor, nn

from mmviz.data.base import ModalitySpec
from mmviz.models import MODELS, UnsupportedSubset, log_likelihood, model_class
from mmviz.models.mfm import FUSIONS, ConcatFusion, register_fusion
from mmviz.models.nets import make_decoder, make_encoder, param_shape
from mmviz.models.stats import product_of_experts

torch.set_num_threads(1)

GENERATIVE = ["mvae", "jmvae", "mfm", "mopoe", "mmvae"]
DIGITS = tuple(str(i) for i in range(10))
SPECS = {
    "hand": ModalitySpec("hand", "image", (1, 28, 28), "bernoulli", value_range=(0.0, 1.0)),
    "print": ModalitySpec("print", "image", (3, 32, 32), "bernoulli", value_range=(0.0, 1.0)),
    "label": ModalitySpec("label", "categorical", (), "categorical", dtype="int64", vocab=DIGITS),
    "text": ModalitySpec(
        "text",
        "tokens",
        (6,),
        "categorical",
        dtype="int64",
        vocab=("<pad>", "<unk>", *(f"w{i}" for i in range(38))),
    ),
    "sound": ModalitySpec("sound", "spectrogram", (1, 32, 32), "bernoulli", value_range=(0.0, 1.0)),
}
SMALL = {
    "mvae": {"latent_dim": 8, "hidden": 32, "anneal_steps": 0},
    "jmvae": {"latent_dim": 8, "hidden": 32, "anneal_steps": 0},
    "mfm": {"zy_dim": 6, "za_dim": 4, "factor_dim": 16, "hidden": 32},
    "mopoe": {"latent_dim": 8, "hidden": 32},
    "mmvae": {"latent_dim": 8, "hidden": 32, "k": 2},
}


def build(name: str, mods: list[str], seed: int = 0, **overrides):
    cls = model_class(name)
    config = cls.config_class.from_dict({**SMALL[name], **overrides, "seed": seed})
    torch.manual_seed(seed)
    return cls(config, {m: SPECS[m] for m in mods})


def batch(mods: list[str], n: int = 32, seed: int = 0) -> tuple[dict, dict]:
    """Class c = i mod 10; each modality is its class prototype with 3% of entries flipped."""
    g = torch.Generator().manual_seed(1234)  # prototypes are the same for every batch
    c = (torch.arange(n) + seed) % 10
    noise = torch.Generator().manual_seed(seed)
    out = {}
    for m in mods:
        spec = SPECS[m]
        if spec.kind == "categorical":
            out[m] = c.clone()
        elif spec.kind == "tokens":
            words = torch.randint(2, spec.num_classes, (10, 6), generator=g)
            lengths = torch.randint(2, 7, (10,), generator=g)
            words[torch.arange(6)[None, :] >= lengths[:, None]] = 0
            out[m] = words[c]
        else:
            proto = (torch.rand(10, *spec.shape, generator=g) < 0.15).float()
            flip = (torch.rand(n, *spec.shape, generator=noise) < 0.03).float()
            out[m] = (proto[c] - flip).abs()
    return out, {"class": c}


def every_subset(mods: list[str]) -> list[list[str]]:
    return [list(s) for k in range(1, len(mods) + 1) for s in itertools.combinations(mods, k)]


def posterior_close(a: dict, b: dict) -> bool:
    return all(
        torch.allclose(a[g].mean, b[g].mean, atol=1e-5)
        and (a[g].logvar is None or torch.allclose(a[g].logvar, b[g].logvar, atol=1e-5))
        for g in a
    )


def test_models_are_registered():
    for name in GENERATIVE:
        assert name in MODELS
        assert model_class(name).name == name


@pytest.mark.parametrize("name", GENERATIVE)
def test_config_round_trips_through_a_dict(name):
    model = build(name, ["hand", "label"])
    cfg = model.config_class.from_dict(model.config.to_dict())
    assert cfg == model.config
    with pytest.raises(ValueError, match="no field"):
        model.config_class.from_dict({"not_a_field": 1})


# ---- training signal -----------------------------------------------------------------------


@pytest.mark.parametrize("name", GENERATIVE)
def test_loss_falls_on_a_fixed_batch(name):
    mods = ["hand", "text", "label"]
    model = build(name, mods)
    x, y = batch(mods)

    def measured() -> float:
        torch.manual_seed(7)  # same noise and subsets both times
        with torch.no_grad():
            return float(model.loss(x, y, 10**6)[0])

    before = measured()
    opt = torch.optim.Adam(model.parameters(), lr=1e-2)
    for step in range(50):
        loss, terms = model.loss(x, y, step)
        opt.zero_grad()
        loss.backward()
        opt.step()
        assert all(isinstance(v, float) for v in terms.values())
    after = measured()
    assert after < 0.7 * before, (before, after)


@pytest.mark.parametrize(
    ("name", "steps", "overrides"),
    [
        ("mvae", 150, {"weights": {"label": 50.0}}),
        ("jmvae", 150, {"weights": {"label": 50.0}}),
        ("mfm", 100, {}),
        ("mfm", 200, {"conv_images": True}),
        ("mopoe", 150, {"weights": {"label": 50.0}}),
        ("mmvae", 150, {"weights": {"label": 50.0}}),
    ],
)
def test_label_is_learned_from_the_image(name, steps, overrides):
    """Beyond a falling loss: the shared representation carries the class across modalities
    (the label weight 50 is the MVAE paper's MNIST setting; without it learning is slower)."""
    mods = ["hand", "label"]
    model = build(name, mods, **overrides)
    x, y = batch(mods)
    opt = torch.optim.Adam(model.parameters(), lr=1e-2)
    for step in range(steps):
        loss, _ = model.loss(x, y, step)
        opt.zero_grad()
        loss.backward()
        opt.step()
    with torch.no_grad():
        accuracy = (model.predict(x, ["hand"]).argmax(-1) == y["class"]).float().mean()
    assert float(accuracy) >= 0.6  # chance is 0.1


def test_mvae_subsample_false_is_the_joint_elbo_only():
    mods = ["hand", "text", "label"]
    x, y = batch(mods)
    joint = build("mvae", mods, subsample=False, weights={"label": 5.0})
    torch.manual_seed(3)
    loss, terms = joint.loss(x, y, 10**6)
    assert set(terms) == {"beta", "recon[all]", "kl[all]"}
    torch.manual_seed(3)
    t = joint.elbo_terms(x, mods, beta=1.0, weighted=True)
    assert loss.item() == pytest.approx(t["elbo"].mean().item() * -1, rel=1e-5)
    # the weighted recon really uses the lambdas
    manual = t["ll[hand]"] + t["ll[text]"] + 5.0 * t["ll[label]"]
    torch.testing.assert_close(t["recon"], manual)

    full = build("mvae", mods, subsample=True, k_subsets=1)
    _, terms = full.loss(x, y, 10**6)
    subsets = {k[len("recon[") : -1] for k in terms if k.startswith("recon[")}
    pairs = {s for s in subsets if s.count("+") == 1}
    assert {"all", "hand", "text", "label"} <= subsets and len(pairs) == 1
    assert pairs <= {"hand+text", "hand+label", "text+label"}


def test_mvae_loss_runs_each_expert_once_and_equals_the_sum_of_subset_elbos():
    """The sub-sampled objective reuses one pass of every expert network across its subsets'
    products of experts; that is an economy, not a new objective: same value, same gradient."""
    mods = ["hand", "print", "text", "label"]
    x, y = batch(mods, n=16)
    model = build("mvae", mods, weights={"label": 3.0}, k_subsets=2)
    calls = dict.fromkeys(mods, 0)

    def counter(m):
        def hook(*_):
            calls[m] += 1

        return hook

    handles = [model.experts[m].register_forward_hook(counter(m)) for m in mods]
    torch.manual_seed(5)
    loss, _ = model.loss(x, y, 400)
    for h in handles:
        h.remove()
    assert calls == dict.fromkeys(mods, 1)

    torch.manual_seed(5)
    beta = min(1.0, 400 / model.config.anneal_steps) if model.config.anneal_steps else 1.0
    reference = sum(
        (-model.elbo_terms(x, s, beta=beta, weighted=True)["elbo"]).mean()
        for s in model.training_subsets(mods)
    )
    assert torch.equal(loss, reference)
    params = list(model.parameters())
    for a, b in zip(
        torch.autograd.grad(loss, params, allow_unused=True),
        torch.autograd.grad(reference, params, allow_unused=True),
        strict=True,
    ):
        if a is None or b is None:
            assert a is None and b is None
        else:
            torch.testing.assert_close(a, b, rtol=1e-4, atol=1e-5)


def test_kl_annealing_is_linear_in_steps():
    x, y = batch(["hand", "label"])
    model = build("mvae", ["hand", "label"], anneal_steps=100, beta=2.0)
    assert model.loss(x, y, 0)[1]["beta"] == 0.0
    assert model.loss(x, y, 25)[1]["beta"] == pytest.approx(0.5)
    assert model.loss(x, y, 1000)[1]["beta"] == 2.0


# ---- inference from subsets ----------------------------------------------------------------


def _supported(name: str, model, subset: list[str]) -> bool:
    """What each model should support with its default config (3 modalities incl. label)."""
    if name in ("mvae", "mopoe", "mmvae"):
        return True
    if name == "jmvae":  # JMVAE-kl: joint plus one encoder per modality
        return len(subset) in (1, len(model.modalities))
    inputs = [m for m in subset if m != "label"]  # MFM: label is the target
    return len(inputs) >= len(model.inputs) - 1 and bool(inputs)


@pytest.mark.parametrize("name", GENERATIVE)
def test_every_subset_gives_shapes_or_a_clear_refusal(name):
    mods = ["hand", "print", "label"]
    model = build(name, mods)
    x, y = batch(mods, n=12)
    if name == "mfm":
        model.fit_surrogates([(x, y)])
    other, _ = batch(mods, n=12, seed=5)
    for subset in every_subset(mods):
        if not _supported(name, model, subset):
            with pytest.raises(UnsupportedSubset):
                model.encode(x, subset)
            continue
        with torch.no_grad():
            post = model.encode(x, subset)
            assert set(post) == set(model.latent_groups)
            for g, d in model.latent_groups.items():
                assert post[g].mean.shape == (12, d)
            rec = model.reconstruct(x, subset)
            for m in mods:  # data space: probabilities, with a class axis for categoricals
                assert rec[m].shape == (12, *param_shape(SPECS[m]))
            p = model.predict(x, subset)
            assert p.shape == (12, 10)
            torch.testing.assert_close(p.sum(-1), torch.ones(12))
            # the posterior reads only the observed modalities
            swapped = {m: (x[m] if m in subset else other[m]) for m in mods}
            assert posterior_close(post, model.encode(swapped, subset))


def test_mvae_product_posterior_is_tighter_than_every_single_expert():
    mods = ["hand", "text", "label"]
    model = build("mvae", mods)
    x, _ = batch(mods)
    with torch.no_grad():
        joint = model.encode(x)["z"]
        mus, lvs = model.expert_params(x, mods)
        mean, logvar = product_of_experts(mus, lvs)
        torch.testing.assert_close(joint.mean, mean)
        for i, m in enumerate(mods):
            single = model.encode(x, [m])["z"]
            assert (joint.logvar < single.logvar).all()
            assert (joint.logvar < lvs[i]).all()  # and than the raw expert


def test_mvae_quotient_single_modality_is_its_expert():
    mods = ["hand", "label"]
    model = build("mvae", mods, poe="quotient")
    x, y = batch(mods)
    with torch.no_grad():
        mus, lvs = model.expert_params(x, mods)
        assert (lvs < 0).all()  # variances kept below 1
        single = model.encode(x, ["hand"])["z"]
        torch.testing.assert_close(single.mean, mus[0])
        torch.testing.assert_close(single.logvar, lvs[0])
        joint = model.encode(x)["z"]
        assert torch.isfinite(joint.logvar).all() and (joint.logvar < 0).all()
    assert torch.isfinite(model.loss(x, y, 0)[0])


def test_jmvae_all_subset_encoders_and_exponential_parameter_growth():
    tiny = {f"m{i}": ModalitySpec(f"m{i}", "image", (1, 4, 4), "bernoulli") for i in range(5)}
    jm, mv = [], []
    for M in range(2, 6):
        specs = {k: tiny[k] for k in list(tiny)[:M]}
        j = model_class("jmvae")(
            model_class("jmvae").config_class(latent_dim=4, hidden=8, subset_encoders="all"), specs
        )
        assert len(j.encoder_subsets) == 2**M - 1
        jm.append(j.parameter_count())
        v = model_class("mvae")(model_class("mvae").config_class(latent_dim=4, hidden=8), specs)
        mv.append(v.parameter_count())
    mv_steps = [b - a for a, b in itertools.pairwise(mv)]
    assert len(set(mv_steps)) == 1  # MVAE: exactly linear in M
    jm_steps = [b - a for a, b in itertools.pairwise(jm)]
    ratios = [b / a for a, b in itertools.pairwise(jm_steps)]
    assert all(r > 1.7 for r in ratios), ratios  # JMVAE: each step about doubles

    mods = ["hand", "text", "label"]
    model = build("jmvae", mods, subset_encoders="all")
    x, _ = batch(mods, n=8)
    for subset in every_subset(mods):
        assert model.encode(x, subset)["z"].mean.shape == (8, 8)


def test_jmvae_plain_refuses_subsets_and_zero_fill_feeds_zeros():
    mods = ["hand", "label"]
    x, _ = batch(mods, n=10)
    plain = build("jmvae", mods, alpha=0.0)  # subset_encoders="auto" -> none
    assert plain.encoder_subsets == [("hand", "label")]
    with pytest.raises(UnsupportedSubset, match="zero_fill"):
        plain.encode(x, ["hand"])

    zero = build("jmvae", mods, alpha=0.0, zero_fill=True)
    assert zero.parameter_count() == plain.parameter_count()
    with torch.no_grad():
        post = zero.encode(x, ["hand"])["z"]
        enc = zero.encoders["hand+label"]
        feats = torch.cat([enc.features["hand"](x["hand"]), torch.zeros(10, 32)], dim=-1)
        mu, logvar = enc.head(feats).chunk(2, dim=-1)
        torch.testing.assert_close(post.mean, mu)
        torch.testing.assert_close(post.logvar, logvar)
        assert not torch.allclose(post.mean, zero.encode(x)["z"].mean)

    kl = build("jmvae", mods)  # JMVAE-kl: its own unimodal encoders win over zero filling
    _, terms = kl.loss(x, {}, 0)
    assert {"kl[hand]", "kl[label]"} <= set(terms)


# ---- MFM ---------------------------------------------------------------------------------------


def test_mfm_surrogate_training_enables_missing_modality_inference():
    mods = ["hand", "text", "label"]
    model = build("mfm", mods)
    x, y = batch(mods)
    assert model.latent_groups == {"y": 6, "hand": 4, "text": 4}
    phases = model.training_phases()
    assert [p.name for p in phases] == ["main", "surrogate"]
    main_ids = {id(p) for p in phases[0].parameters}
    sur_ids = {id(p) for p in phases[1].parameters}
    assert not main_ids & sur_ids and main_ids | sur_ids == {id(p) for p in model.parameters()}

    opt = torch.optim.Adam(phases[0].parameters, lr=3e-3)
    for step in range(30):
        loss, _ = model.loss(x, y, step)
        opt.zero_grad()
        loss.backward()
        opt.step()
    assert all(p.grad is None for p in phases[1].parameters)  # main loss never touches Psi
    with pytest.raises(UnsupportedSubset, match="not trained"):
        model.encode(x, ["hand"])

    frozen = {k: v.clone() for k, v in model.state_dict().items() if "surrogates" not in k}
    history = model.fit_surrogates([(x, y)] * 40, lr=3e-3)
    assert history[-1] < 0.7 * history[0]
    for k, v in frozen.items():
        if k != "surrogate_trained":
            assert torch.equal(model.state_dict()[k], v), k  # main model stayed frozen
    assert model.trained_surrogates == {"text": True, "hand": True}
    post = model.encode(x, ["hand"])
    full = model.encode(x)
    torch.testing.assert_close(post["hand"].mean, full["hand"].mean)  # own encoder kept
    assert post["y"].logvar is None and post["text"].mean.shape == (32, 4)
    # a surrogate that learned something beats a blind guess of the missing code
    err = ((post["text"].mean - full["text"].mean) ** 2).mean()
    assert err < ((full["text"].mean - full["text"].mean.mean(0)) ** 2).mean()

    # the trained flag survives a state-dict round trip (checkpoints)
    fresh = build("mfm", mods, seed=1)
    fresh.load_state_dict(model.state_dict())
    assert fresh.trained_surrogates == model.trained_surrogates


def test_mfm_surrogates_share_one_pass_of_the_frozen_codes_without_changing_the_loss():
    """surrogates_loss computes the frozen model's codes once per batch: loss and every
    surrogate gradient must equal the sum of the per-surrogate losses, each recomputing them."""
    mods = ["hand", "print", "text", "label"]
    model = build("mfm", mods)
    x, y = batch(mods, n=16)
    params = list(model.surrogates.parameters())

    def grads(loss: torch.Tensor) -> list[torch.Tensor]:
        return [
            g if g is not None else torch.zeros_like(p)
            for p, g in zip(
                params, torch.autograd.grad(loss, params, allow_unused=True), strict=True
            )
        ]

    shared, terms = model.surrogates_loss(x, y, 0)
    separate = sum(
        model.surrogate_loss(x, y, [m for m in model.inputs if m not in key.split("+")])[0]
        for key in model.surrogate_keys
    )
    assert len(terms) == len(model.surrogate_keys) == 3
    assert torch.equal(shared, separate)
    for a, b in zip(grads(shared), grads(separate), strict=True):
        assert torch.equal(a, b)


def test_mfm_conv_images_reads_greyscale_images_with_the_cnn_everywhere():
    """conv_images swaps every greyscale-image encoder (Z_y features, Z_a, surrogates) for the
    CNN and leaves other kinds alone; colour images use the CNN either way."""
    mods = ["hand", "print", "text", "label"]
    plain, conv = build("mfm", mods), build("mfm", mods, conv_images=True)

    def kinds(model) -> dict[str, str]:
        nets = {f"y.{m}": e for m, e in model.y_features.items()}
        nets.update({f"a.{m}": e for m, e in model.a_encoders.items()})
        for key, sur in model.surrogates.items():
            nets.update({f"s[{key}].{m}": e for m, e in sur.features.items()})
        return {k: type(v).__name__ for k, v in nets.items()}

    before, after = kinds(plain), kinds(conv)
    assert before.keys() == after.keys() and len(before) == 3 + 3 + 6
    for key in before:
        if key.endswith("hand"):
            assert (before[key], after[key]) == ("FlatEncoder", "ConvEncoder"), key
        else:
            assert before[key] == after[key], key
    assert after["y.print"] == "ConvEncoder" and after["y.text"] == "TokenEncoder"
    x, _ = batch(mods, n=5)
    assert conv.encode(x)["hand"].mean.shape == (5, 4)


def test_mfm_surrogate_warm_start_copies_the_main_feature_networks():
    mods = ["hand", "text", "label"]
    cold, warm = build("mfm", mods), build("mfm", mods, surrogate_warm_start=True)
    assert cold.training_phases()[1].start is None
    assert warm.training_phases()[1].start == warm.warm_start_surrogates
    main_before = {k: v.clone() for k, v in warm.state_dict().items() if "surrogates" not in k}

    def same(a: nn.Module, b: nn.Module) -> bool:
        return all(
            torch.equal(x, y)
            for x, y in zip(a.state_dict().values(), b.state_dict().values(), strict=True)
        )

    assert not any(
        same(s.features[m], warm.y_features[m])
        for s in warm.surrogates.values()
        for m in s.features
    )
    warm.fit_surrogates([])  # zero steps: only the warm start
    for key, sur in warm.surrogates.items():
        assert list(sur.features) == key.split("+")
        for m, net in sur.features.items():
            assert same(net, warm.y_features[m]), (key, m)
            assert net is not warm.y_features[m]  # copied, not shared: Psi trains alone
    after = warm.state_dict()
    assert all(torch.equal(after[k], v) for k, v in main_before.items())


def test_mfm_factors_decode_and_label_head():
    mods = ["hand", "text", "label"]
    model = build("mfm", mods)
    x, y = batch(mods, n=10)
    with torch.no_grad():
        f = model.factors(x)
        assert set(f) == {"y", "hand", "text"} and f["y"].shape == (10, 16)
        z = {g: p.mean for g, p in model.encode(x).items()}
        a, b = model.decode(z), model.decode_from_factors(f)
        for m in mods:
            torch.testing.assert_close(a[m], b[m])
        assert a["label"].shape == (10, 10) and a["text"].shape == (10, 6, 40)
        torch.testing.assert_close(torch.softmax(a["label"], -1), model.predict(x))
        # F_a of one modality only changes that modality's reconstruction
        f2 = dict(f, text=f["text"] + 1.0)
        c = model.decode_from_factors(f2)
        torch.testing.assert_close(c["hand"], b["hand"])
        assert not torch.allclose(c["text"], b["text"])


def test_mfm_label_as_input_and_regression_target():
    mods = ["hand", "label"]
    x, y = batch(mods, n=10)
    recon = build("mfm", mods, label_as_target=False)
    assert set(recon.latent_groups) == {"y", "hand", "label"}
    _, terms = recon.loss(x, y, 0)
    assert "recon[label]" in terms and "pred" in terms
    assert recon.predict(x).shape == (10, 10)

    reg = build("mfm", ["hand"], target="score", num_classes=0)
    score = torch.linspace(-3, 3, 10)
    loss, terms = reg.loss({"hand": x["hand"]}, {"score": score}, 0)
    pred = reg.predict({"hand": x["hand"]})
    assert pred.shape == (10,)
    assert terms["pred"] == pytest.approx(float((pred.detach() - score).abs().mean()), rel=1e-5)
    with pytest.raises(KeyError, match="score"):
        reg.loss({"hand": x["hand"]}, {"class": y["class"]}, 0)


def test_mfm_fusion_registry_hook():
    calls = []

    def factory(in_dims, out_dim, hidden):
        calls.append((dict(in_dims), out_dim))
        return ConcatFusion(in_dims, out_dim, hidden)

    register_fusion("test_concat", factory)
    try:
        model = build("mfm", ["hand", "text"], fusion="test_concat")
        assert calls == [({"hand": 32, "text": 32}, 6)]
        assert model.fusion_parameter_count() > 0
    finally:
        FUSIONS.pop("test_concat")
    with pytest.raises(ValueError, match="unknown MFM fusion"):
        build("mfm", ["hand", "text"], fusion="no_such_fusion")


# ---- likelihood estimates ------------------------------------------------------------------


def _trained(name: str, mods: list[str], steps: int = 25, **overrides):
    model = build(name, mods, **overrides)
    x, y = batch(mods)
    opt = torch.optim.Adam(model.parameters(), lr=3e-3)
    for step in range(steps):
        loss, _ = model.loss(x, y, step)
        opt.zero_grad()
        loss.backward()
        opt.step()
    return model.eval(), x


@pytest.mark.parametrize("name", ["mvae", "jmvae"])
def test_importance_weighted_bound_vs_elbo(name):
    mods = ["hand", "label"]
    model, x = _trained(name, mods)
    torch.manual_seed(0)
    with torch.no_grad():
        reps = 100
        elbo = torch.stack([model.elbo_terms(x, mods)["elbo"] for _ in range(reps)])
        iw1 = torch.stack([model.log_likelihood_iw(x, mods, None, 1) for _ in range(reps)])
        iw64 = model.log_likelihood_iw(x, mods, None, 64)
    # IW with K=1 is an unbiased estimate of the ELBO
    se = (elbo.var() / elbo.numel() + iw1.var() / iw1.numel()).sqrt()
    assert abs(float(iw1.mean() - elbo.mean())) < 4 * float(se)
    # IWAE: the K=64 bound is tighter, and below log p <= 0 for discrete data
    assert float(iw64.mean()) > float(elbo.mean())
    assert (iw64 <= 0).all()


def test_iw_estimates_are_exact_when_the_decoder_ignores_z():
    """With p(x|z) = p(x) for all z, log p(x) and log p(x|y) = log p(x) are known exactly."""
    mods = ["hand", "label"]
    model = build("mvae", mods)
    x, _ = batch(mods, n=16)
    with torch.no_grad():
        for dec in model.decoders.values():
            dec.net[0].weight.zero_()
        # experts offset from the prior but wide (variance ~4), so that the weights
        # p(z)/q(z) have finite variance and K=256 samples pin the estimate down
        for enc in model.experts.values():
            last = [m for m in enc.modules() if isinstance(m, nn.Linear)][-1]
            last.weight.mul_(0.05)
            last.bias[:8] = 1.0
            last.bias[8:] = math.log(4.0)
        assert float(model.elbo_terms(x, ["hand"])["kl"].mean()) > 0.2  # q really is not p(z)
        params = model.decode({"z": torch.zeros(16, 8)})
        exact = log_likelihood(SPECS["hand"], params["hand"], x["hand"])
        torch.manual_seed(0)
        marginal = model.log_likelihood_iw(x, ["hand"], [], 256) - exact
        conditional = model.log_likelihood_iw(x, ["hand"], ["label"], 256) - exact
    assert float(marginal.abs().max()) < 0.3 and abs(float(marginal.mean())) < 0.08
    assert float(conditional.abs().max()) < 0.8 and abs(float(conditional.mean())) < 0.25


def test_mfm_iw_estimate_tightens_with_k():
    mods = ["hand", "text", "label"]
    model, x = _trained("mfm", mods, steps=10, surrogate_subsets=[["hand"]])
    model.fit_surrogates([(x, {})] * 5)
    torch.manual_seed(0)
    with torch.no_grad():
        k1 = torch.stack([model.log_likelihood_iw(x, ["hand"], None, 1) for _ in range(20)])
        k32 = model.log_likelihood_iw(x, ["hand"], None, 32)
        assert model.log_likelihood_iw(x, ["text"], ["hand"], 4).shape == (32,)
    assert float(k32.mean()) > float(k1.mean())
    assert (k32 <= 0).all()
    with pytest.raises(UnsupportedSubset):  # log p(x_text) needs q(z | text): no surrogate
        model.log_likelihood_iw(x, ["text"], None, 4)


# ---- networks ------------------------------------------------------------------------------


@pytest.mark.parametrize("mod", list(SPECS))
def test_encoders_and_decoders_have_the_right_shapes(mod):
    spec = SPECS[mod]
    x, _ = batch([mod], n=5)
    for recurrent in (False, True):
        enc = make_encoder(spec, (16, 16), 7, recurrent=recurrent)
        assert enc(x[mod]).shape == (5, 7)
    dec = make_decoder(spec, 3, (16,))
    out = dec(torch.randn(5, 3))
    expected = {
        "hand": (1, 28, 28),
        "print": (3, 32, 32),
        "label": (10,),
        "text": (6, 40),
        "sound": (1, 32, 32),
    }[mod]
    assert out.shape == (5, *expected)
    assert log_likelihood(spec, out, x[mod]).shape == (5,)


def test_sequence_kind_and_token_pooling():
    seq = ModalitySpec("visual", "sequence", (20, 8), "gaussian")
    x = torch.randn(4, 20, 8)
    assert make_encoder(seq, 16, 5)(x).shape == (4, 5)
    assert make_encoder(seq, 16, 5, recurrent=True)(x).shape == (4, 5)
    assert make_decoder(seq, 3, 16)(torch.randn(4, 3)).shape == (4, 20, 8)

    spec = SPECS["text"]
    tokens = torch.tensor([[5, 9, 3, 0, 0, 0], [3, 5, 9, 0, 0, 0]])
    mean_enc = make_encoder(spec, 16, 4)
    out = mean_enc(tokens)
    torch.testing.assert_close(out[0], out[1])  # mean pooling: order-free, PAD ignored
    gru_enc = make_encoder(spec, 16, 4, recurrent=True)
    with torch.no_grad():
        padded = gru_enc(tokens[:1])
        _, h = gru_enc.gru(gru_enc.embed(tokens[:1, :3]))
        torch.testing.assert_close(padded, gru_enc.net(h[-1]))  # stops at the last real token


def test_jmvae_all_subset_encoders_are_capped_with_a_clear_message():
    from mmviz.models.jmvae import MAX_ALL_SUBSETS_MODALITIES, _subsets

    ok = [f"m{i}" for i in range(MAX_ALL_SUBSETS_MODALITIES)]
    assert len(_subsets(ok, "all", 1.0)) == 2 ** len(ok) - 2
    with pytest.raises(ValueError, match=r"would build 126 subset encoders.*MVAE"):
        _subsets([*ok, "one_more"], "all", 1.0)
    assert len(_subsets([*ok, "one_more"], "unimodal", 1.0)) == len(ok) + 1


# ---- MoPoE: the mixture of products of experts -----------------------------------------------
def test_mixture_posterior_moments_and_sampling_match_a_mixture():
    """Moments against the closed form of a two-component mixture; sampling picks a component
    per sample, uniformly, then draws from it."""
    from mmviz.models import MixturePosterior, Posterior

    a = Posterior(torch.full((4000, 1), -10.0), torch.full((4000, 1), math.log(0.25)))
    b = Posterior(torch.full((4000, 1), 10.0), torch.full((4000, 1), math.log(4.0)))
    mix = MixturePosterior.of({"a": a, "b": b})
    torch.testing.assert_close(mix.mean, torch.zeros(4000, 1))
    # var = E[var_k + mu_k^2] - mean^2 = (0.25 + 100 + 4 + 100) / 2
    torch.testing.assert_close(mix.std**2, torch.full((4000, 1), 102.125))
    z = mix.sample(torch.Generator().manual_seed(0))
    low = z[z < 0]
    assert 0.45 < len(low) / len(z) < 0.55  # each component half the time
    assert abs(float(low.mean()) + 10) < 0.05 and abs(float(low.std()) - 0.5) < 0.05
    high = z[z > 0]
    assert abs(float(high.std()) - 2.0) < 0.15


def test_mopoe_components_are_the_products_of_every_subset():
    mods = ["hand", "print", "label"]
    model = build("mopoe", mods)
    x, _ = batch(mods, n=6)
    with torch.no_grad():
        parts = model.components(x, mods)
        assert list(parts) == [
            "hand",
            "print",
            "label",
            "hand+print",
            "hand+label",
            "print+label",
            "hand+print+label",
        ]
        experts = {m: model.expert(x, m) for m in mods}
        for name, p in parts.items():
            subset = name.split("+")
            mu = torch.stack([experts[m][0] for m in subset])
            lv = torch.stack([experts[m][1] for m in subset])
            ref_mu, ref_lv = product_of_experts(mu, lv, include_prior=True)
            torch.testing.assert_close(p.mean, ref_mu)
            torch.testing.assert_close(p.logvar, ref_lv)
        post = model.encode(x, ["hand", "label"])["z"]
        assert set(post.components) == {"hand", "label", "hand+label"}
        # the mixture's mean is the mean of its components' means
        means = torch.stack([c.mean for c in post.components.values()])
        torch.testing.assert_close(post.mean, means.mean(0))


def test_mopoe_with_one_modality_is_a_plain_vae_elbo():
    """One modality: one component, the prior times its expert; the loss is the negative ELBO
    of a VAE whose encoder is that product."""
    from mmviz.models.stats import kl_std_normal

    model = build("mopoe", ["hand"])
    x, y = batch(["hand"], n=8)
    torch.manual_seed(3)
    loss, terms = model.loss(x, y, 10**6)
    torch.manual_seed(3)
    with torch.no_grad():
        post = model.encode(x, ["hand"])["z"].components["hand"]
        torch.randperm(8)  # the loss draws its component assignment first
        z = post.mean + torch.randn_like(post.mean) * post.std
        ll = log_likelihood(SPECS["hand"], model.decode({"z": z})["hand"], x["hand"])
        elbo = ll - kl_std_normal(post.mean, post.logvar)
    torch.testing.assert_close(loss.detach(), -elbo.mean(), rtol=1e-5, atol=1e-4)
    assert terms["kl"] > 0


def test_mopoe_trains_every_component_to_explain_every_modality():
    """The objective decodes all modalities from each component's z, so even the label-only
    component learns to generate the image's class prototype."""
    mods = ["hand", "label"]
    model = build("mopoe", mods, weights={"label": 50.0})
    x, y = batch(mods)
    opt = torch.optim.Adam(model.parameters(), lr=1e-2)
    for step in range(150):
        loss, _ = model.loss(x, y, step)
        opt.zero_grad()
        loss.backward()
        opt.step()
    with torch.no_grad():
        z = model.encode(x, ["label"])["z"].mean
        hand = torch.sigmoid(model.decode({"z": z}, ["hand"])["hand"])
        err_label = (hand - x["hand"]).abs().mean()
        z_hand = model.encode(x, ["hand"])["z"].mean
        hand_from_hand = torch.sigmoid(model.decode({"z": z_hand}, ["hand"])["hand"])
        shuffled = (hand - x["hand"][torch.randperm(len(hand))]).abs().mean()
    assert float(err_label) < 0.5 * float(shuffled)  # generated from the label: the right class
    assert float((hand_from_hand - x["hand"]).abs().mean()) < 0.5 * float(shuffled)


def test_mopoe_refuses_too_many_modalities():
    specs = {f"m{i}": SPECS["label"] for i in range(7)}
    cls = model_class("mopoe")
    with pytest.raises(ValueError, match="2\\^M - 1"):
        cls(cls.config_class(), specs)


# ---- MMVAE: the mixture of unimodal experts ------------------------------------------------------
def test_mmvae_posterior_is_the_mixture_of_the_observed_experts():
    mods = ["hand", "print", "label"]
    model = build("mmvae", mods)
    x, _ = batch(mods, n=5)
    with torch.no_grad():
        post = model.encode(x, ["hand", "label"])["z"]
        assert list(post.components) == ["hand", "label"]
        for m, p in post.components.items():
            ref = model.expert(x, m)
            torch.testing.assert_close(p.mean, ref.mean)


def test_mmvae_k1_without_dreg_is_the_stratified_elbo():
    """K = 1: 1/M sum_m [log p(z_m) + log p(X | z_m) - log q(z_m | X)], z_m ~ q_m."""
    from mmviz.models.stats import log_normal

    mods = ["hand", "label"]
    model = build("mmvae", mods, k=1, dreg=False)
    x, y = batch(mods, n=6)
    torch.manual_seed(11)
    with torch.no_grad():
        loss, _ = model.loss(x, y, 0)
    torch.manual_seed(11)
    with torch.no_grad():
        parts = [model.expert(x, m) for m in mods]
        total = 0.0
        for q in parts:
            z = q.mean + torch.randn((1, *q.mean.shape))[0] * q.std
            params = model.decode({"z": z})
            ll = sum(log_likelihood(SPECS[m], params[m], x[m]) for m in mods)
            log_q = torch.logsumexp(
                torch.stack([log_normal(z, p.mean, p.logvar) for p in parts]), 0
            ) - math.log(2)
            total = total + (log_normal(z) + ll - log_q).mean()
    torch.testing.assert_close(loss, -total / 2, rtol=1e-5, atol=1e-4)


def test_mmvae_dreg_changes_only_the_encoders_gradient():
    """DReG reweights the encoders' path gradient; the decoders get the IWAE gradient."""
    mods = ["hand", "label"]
    x, y = batch(mods, n=8)

    def grads(dreg: bool) -> dict[str, Tensor]:
        model = build("mmvae", mods, k=4, dreg=dreg)
        model.train()
        torch.manual_seed(5)
        loss, _ = model.loss(x, y, 0)
        loss.backward()
        return {n: p.grad.clone() for n, p in model.named_parameters() if p.grad is not None}

    plain, dreg = grads(False), grads(True)
    for name in plain:
        if name.startswith("decoders."):
            torch.testing.assert_close(plain[name], dreg[name], rtol=1e-4, atol=1e-5)
    enc = [n for n in plain if n.startswith("experts.")]
    assert any(not torch.allclose(plain[n], dreg[n], atol=1e-6) for n in enc)


@pytest.mark.parametrize("name", ["mopoe", "mmvae"])
def test_mixture_models_importance_weighted_bound_uses_the_mixture(name):
    """The proposal is the mixture itself: K = 1 is an unbiased estimate of the ELBO under the
    mixture posterior, and K = 64 is tighter."""
    from mmviz.models.stats import log_normal

    mods = ["hand", "label"]
    model = build(name, mods)
    x, _ = batch(mods, n=10)
    torch.manual_seed(0)
    with torch.no_grad():
        post = model.encode(x, mods)["z"]
        reps = 200
        elbos = []
        for _ in range(reps):
            z = post.sample()
            params = model.decode({"z": z})
            ll = sum(log_likelihood(SPECS[m], params[m], x[m]) for m in mods)
            logs = torch.stack([log_normal(z, c.mean, c.logvar) for c in post.components.values()])
            log_q = torch.logsumexp(logs, 0) - math.log(len(post.components))
            elbos.append(ll + log_normal(z) - log_q)
        elbo = torch.stack(elbos)
        iw1 = torch.stack([model.log_likelihood_iw(x, mods, None, 1) for _ in range(reps)])
        iw64 = model.log_likelihood_iw(x, mods, None, 64)
    se = (elbo.var() / elbo.numel() + iw1.var() / iw1.numel()).sqrt()
    assert abs(float(iw1.mean() - elbo.mean())) < 4 * float(se)
    assert float(iw64.mean()) > float(elbo.mean())
