"""What a model declares it can do (`MultimodalModel`'s capabilities) matches what it does, and
nothing outside `mmviz/models/` finds out by probing a model with `hasattr` / `getattr`.

Every registered model is built tiny (seconds on a CPU), in the configurations that change a
capability (MVAE's product vs quotient, JMVAE with and without subset encoders or zero-fill,
MFM before and after its surrogates are trained), and each declaration is checked against
behaviour: a declared subset encodes, an undeclared one raises `UnsupportedSubset`, a declared
mixture is the posterior's mixture, and so on.
"""

from __future__ import annotations

import ast
import itertools
from collections.abc import Callable
from functools import cache
from pathlib import Path

import pytest
import torch
from torch import Tensor, nn

from mmviz import explore
from mmviz import fusionlab as lab
from mmviz.data.base import ModalitySpec, MultimodalDataset
from mmviz.data.random_inputs import random_sentiment_batch, sentiment_like_specs
from mmviz.models import (
    MODEL_KINDS,
    MODELS,
    MixturePosterior,
    ModelConfig,
    MultimodalModel,
    UnsupportedSubset,
    model_class,
    model_kind,
    models_of_kind,
)
from mmviz.models.stats import product_of_experts

torch.set_num_threads(1)

ROOT = Path(__file__).resolve().parents[1]

DIGITS = tuple(str(i) for i in range(10))
SPECS = {
    "hand": ModalitySpec("hand", "image", (1, 28, 28), "bernoulli", value_range=(0.0, 1.0)),
    "text": ModalitySpec(
        "text",
        "tokens",
        (6,),
        "categorical",
        dtype="int64",
        vocab=("<pad>", "<unk>", *(f"w{i}" for i in range(18))),
    ),
    "label": ModalitySpec("label", "categorical", (), "categorical", dtype="int64", vocab=DIGITS),
}
GENERATIVE_SIZES = {
    "mvae": {"latent_dim": 4, "hidden": 16, "enc_layers": 1, "dec_layers": 1},
    "jmvae": {"latent_dim": 4, "hidden": 16, "enc_layers": 1, "dec_layers": 1},
    "mfm": {"zy_dim": 3, "za_dim": 2, "factor_dim": 8, "hidden": 16},
    "mopoe": {"latent_dim": 4, "hidden": 16, "enc_layers": 1, "dec_layers": 1},
    "mmvae": {"latent_dim": 4, "hidden": 16, "enc_layers": 1, "dec_layers": 1},
}
FUSION_SIZES = {"embed_dim": 4, "token_dim": 4, "sequence_dim": 4, "fusion_dim": 4}
N = 4


def digits_batch(n: int = N) -> tuple[dict[str, Tensor], dict[str, Tensor]]:
    g = torch.Generator().manual_seed(0)
    c = torch.arange(n) % 10
    x = {
        "hand": (torch.rand(n, 1, 28, 28, generator=g) < 0.2).float(),
        "text": torch.randint(2, 20, (n, 6), generator=g),
        "label": c,
    }
    return x, {"class": c}


def _generative(name: str, **overrides) -> Callable[[], tuple]:
    def build() -> tuple:
        cls = model_class(name)
        config = cls.config_class.from_dict({**GENERATIVE_SIZES[name], **overrides})
        x, y = digits_batch()
        return cls(config, SPECS).eval(), x, y

    return build


def _mfm_trained() -> tuple:
    model, x, y = _generative("mfm")()
    model.fit_surrogates([(x, y)])
    return model.eval(), x, y


def _fusion(name: str) -> Callable[[], tuple]:
    def build() -> tuple:
        cls = model_class(name)
        model = cls(cls.config_class.from_dict(FUSION_SIZES), sentiment_like_specs(6, 20)).eval()
        x, y = random_sentiment_batch(model.specs, N, torch.Generator().manual_seed(0))
        return model, x, y

    return build


def _oracle() -> tuple:
    cls = model_class("oracle")
    model = cls(cls.config_class.from_dict({"channels": (2, 4)}), SPECS).eval()
    x, y = digits_batch()
    return model, {"hand": x["hand"]}, y


VARIANTS: dict[str, Callable[[], tuple]] = {
    "mvae": _generative("mvae"),
    "mvae_quotient": _generative("mvae", poe="quotient"),
    "jmvae_kl": _generative("jmvae"),
    "jmvae_plain": _generative("jmvae", alpha=0.0),
    "jmvae_zero": _generative("jmvae", alpha=0.0, zero_fill=True),
    "mfm_untrained": _generative("mfm"),
    "mfm_trained": _mfm_trained,
    "mopoe": _generative("mopoe"),
    "mmvae": _generative("mmvae"),
    "tfn": _fusion("tfn"),
    "lmf": _fusion("lmf"),
    "early_fusion": _fusion("early_fusion"),
    "late_fusion": _fusion("late_fusion"),
    "oracle": _oracle,
}


@cache
def variant(name: str) -> tuple[MultimodalModel, dict[str, Tensor], dict[str, Tensor]]:
    torch.manual_seed(0)
    return VARIANTS[name]()


def nonempty_subsets(names: list[str]) -> list[list[str]]:
    return [list(s) for k in range(1, len(names) + 1) for s in itertools.combinations(names, k)]


def infer(model: MultimodalModel, x: dict[str, Tensor], observed: list[str]) -> None:
    """What "inferring from a subset" means for the model: a posterior, else a prediction."""
    with torch.no_grad():
        if model.latent_groups:
            model.encode(x, observed)
        else:
            model.predict(x, observed)


# ---- no capability probes outside mmviz/models ----------------------------------------------


def scanned_files() -> list[Path]:
    files = [p for p in (ROOT / "mmviz").rglob("*.py") if "models" not in p.parts]
    files += sorted((ROOT / "pages").glob("*.py")) + sorted((ROOT / "ui").glob("*.py"))
    return files + [ROOT / "app.py"]


@cache
def model_attribute_names() -> frozenset[str]:
    """Names that only a model has: its classes' and tiny instances' attributes, submodules and
    buffers, less nn.Module's own and those a spec, config or dataset shares."""
    names: set[str] = set(dir(MultimodalModel))
    for name in VARIANTS:
        model = variant(name)[0]
        names |= set(dir(type(model))) | set(vars(model))
        names |= set(model._modules) | set(model._buffers)
    spec = SPECS["hand"]
    common = set(dir(nn.Module)) | set(dir(spec)) | set(dir(ModelConfig())) | set(vars(spec))
    common |= set(dir(MultimodalDataset))
    return frozenset(n for n in names - common if not n.startswith("_"))


def capability_probes(path: Path, model_names: frozenset[str]) -> list[str]:
    """`hasattr(x, "name")` / `getattr(x, "name", ...)` calls that probe a model: x reads as a
    model, or "name" is something only a model has."""
    out = []
    tree = ast.parse(path.read_text(), str(path))
    for node in ast.walk(tree):
        if not (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Name)
            and node.func.id in ("hasattr", "getattr")
            and len(node.args) >= 2
        ):
            continue
        subject = ast.unparse(node.args[0])
        attr = node.args[1]
        named = attr.value if isinstance(attr, ast.Constant) else None
        if "model" in subject.lower() or named in model_names:
            where = path.relative_to(ROOT) if path.is_relative_to(ROOT) else path
            out.append(f"{where}:{node.lineno}: {ast.unparse(node)}")
    return out


def test_nothing_outside_models_probes_a_model_with_hasattr_or_getattr():
    names = model_attribute_names()
    assert {"input_modalities", "unimodal_outputs", "trained_surrogates"} <= names
    offenders = [hit for path in scanned_files() for hit in capability_probes(path, names)]
    assert not offenders, "ask the model's declared capabilities instead:\n" + "\n".join(offenders)


def test_the_probe_scan_catches_a_probe(tmp_path):
    sample = tmp_path / "page.py"
    sample.write_text(
        'if hasattr(model, "expert_params"):\n    pass\n'
        'late = [c for c, m in ms.items() if hasattr(m, "unimodal_outputs")]\n'
        'x = getattr(libc, "renameat2", None)\n'
    )
    hits = capability_probes(sample, model_attribute_names())
    assert [h.split(":")[1] for h in hits] == ["1", "3"]


# ---- kinds ---------------------------------------------------------------------------------


def test_every_registered_model_declares_its_kind():
    for name in MODELS:
        assert model_class(name).kind in MODEL_KINDS, name
        assert model_kind(name) == model_class(name).kind
    assert model_kind("no_such_model") is None
    assert models_of_kind("fusion") == ("tfn", "lmf", "early_fusion", "late_fusion")
    assert models_of_kind("fusion") == lab.FUSION_MODELS
    assert set(models_of_kind("generative")) == {"mvae", "jmvae", "mfm", "mopoe", "mmvae"}
    assert models_of_kind("oracle") == ("oracle",)


@pytest.mark.parametrize("name", list(VARIANTS))
def test_kind_matches_the_latent_space(name):
    model = variant(name)[0]
    assert model.kind in MODEL_KINDS
    assert (model.kind == "generative") == bool(model.latent_groups)


# ---- what it reads and which subsets it infers from ------------------------------------------


@pytest.mark.parametrize("name", list(VARIANTS))
def test_input_modalities_are_what_predict_reads(name):
    model, x, _ = variant(name)
    inputs = model.input_modalities
    assert inputs and set(inputs) <= set(model.modalities)
    assert inputs == [m for m in model.modalities if m in inputs]  # the model's order
    assert explore.input_modalities(model) == inputs
    only_inputs = {m: x[m] for m in inputs}
    with torch.no_grad():
        p = model.predict(only_inputs, inputs)  # nothing else needs to be given
    assert p.shape[0] == N
    for m in set(model.modalities) - set(inputs):  # a target is no evidence
        with pytest.raises(UnsupportedSubset):
            infer(model, x, [m])


@pytest.mark.parametrize("name", list(VARIANTS))
def test_declared_subsets_infer_and_the_others_refuse(name):
    model, x, _ = variant(name)
    declared = model.supported_subsets()
    assert explore.supported_subsets(model) == declared
    everything = nonempty_subsets(model.input_modalities)
    if declared is None:
        allowed = {frozenset(s) for s in everything}
    else:
        assert all(s and set(s) <= set(model.input_modalities) for s in declared)
        allowed = {frozenset(s) for s in declared}
    for subset in everything:
        if frozenset(subset) in allowed:
            infer(model, x, subset)
        else:
            with pytest.raises(UnsupportedSubset):
                infer(model, x, subset)


def test_declared_subsets_of_each_configuration():
    assert variant("mvae")[0].supported_subsets() is None
    assert variant("jmvae_kl")[0].supported_subsets() == [
        ["hand", "text", "label"],
        ["hand"],
        ["text"],
        ["label"],
    ]
    assert variant("jmvae_plain")[0].supported_subsets() == [["hand", "text", "label"]]
    assert variant("jmvae_zero")[0].supported_subsets() is None
    assert variant("mfm_untrained")[0].supported_subsets() == [["hand", "text"]]
    assert variant("mfm_trained")[0].supported_subsets() == [["hand", "text"], ["text"], ["hand"]]
    assert variant("mfm_trained")[0].input_modalities == ["hand", "text"]


# ---- experts and mixtures ------------------------------------------------------------------


@pytest.mark.parametrize("name", [n for n in VARIANTS if variant(n)[0].latent_groups])
def test_experts_and_mixture_components_are_the_posterior(name):
    model, x, _ = variant(name)
    assert set(model.expert_modalities) <= set(model.modalities)
    if model.expert_modalities:  # an expert per modality serves every subset
        assert model.supported_subsets() is None
    subsets = model.supported_subsets() or nonempty_subsets(model.input_modalities)
    for obs in subsets:
        with torch.no_grad():
            post = model.encode(x, obs)
        mixtures = [p for p in post.values() if isinstance(p, MixturePosterior)]
        names = model.mixture_components(obs)
        if names:
            assert len(mixtures) == 1 and list(mixtures[0].components) == names
        else:
            assert not mixtures
        if model.is_product_of_experts:
            assert model.expert_modalities == model.modalities
            with torch.no_grad():
                mu, lv = model.expert_params(x, obs)
                mean, logvar = product_of_experts(mu, lv, include_prior=True)
            torch.testing.assert_close(mean, post["z"].mean)
            torch.testing.assert_close(logvar, post["z"].logvar)
    if model.is_product_of_experts:
        explore.poe_view(model, {m: v[:1] for m, v in x.items()}, model.modalities)
    else:
        with pytest.raises(UnsupportedSubset, match="product-of-experts"):
            explore.poe_view(model, {m: v[:1] for m, v in x.items()}, subsets[0])


def test_which_models_are_products_and_mixtures():
    products = [n for n in VARIANTS if variant(n)[0].is_product_of_experts]
    assert products == ["mvae"]  # MVAE-Q's quotient is not a product to take apart
    assert variant("mopoe")[0].mixture_components(["hand", "label"]) == [
        "hand",
        "label",
        "hand+label",
    ]
    assert variant("mmvae")[0].mixture_components(["label", "hand"]) == ["hand", "label"]
    assert variant("mvae")[0].mixture_components(["hand"]) == []


# ---- predictions, likelihoods, parameters --------------------------------------------------


@pytest.mark.parametrize("name", list(VARIANTS))
def test_prediction_from_nothing_has_the_form_of_a_prediction(name):
    model, x, _ = variant(name)
    with torch.no_grad():
        p = model.predict(x, model.input_modalities)
        if name == "oracle":  # a judge of one modality has no output without it
            with pytest.raises(UnsupportedSubset):
                model.predict_from_nothing(3)
            return
        empty = model.predict_from_nothing(3)
    assert empty.shape == (3, *p.shape[1:])
    if p.dim() == 2:
        torch.testing.assert_close(empty.sum(-1), torch.ones(3))


def test_prediction_from_nothing_is_the_prior_or_the_training_means():
    mvae, x, _ = variant("mvae")
    with torch.no_grad():
        z0 = {"z": torch.zeros(2, 4)}
        torch.testing.assert_close(
            mvae.predict_from_nothing(2), torch.softmax(mvae.decode(z0, ["label"])["label"], -1)
        )
        late = variant("late_fusion")[0]
        means = {m: late.missing_representation(m).expand(2, -1) for m in late.modalities}
        torch.testing.assert_close(late.predict_from_nothing(2), late.combine(means, {})[:, 0])


@pytest.mark.parametrize("name", list(VARIANTS))
def test_likelihoods_and_fusion_parameters_as_declared(name):
    model, x, _ = variant(name)
    target = model.input_modalities  # the subset every model can encode
    if model.estimates_log_likelihood:
        with torch.no_grad():
            ll = model.log_likelihood_iw(x, target, None, K=2)
        assert ll.shape == (N,) and bool(torch.isfinite(ll).all())
    else:
        with pytest.raises(NotImplementedError):
            model.log_likelihood_iw(x, target, None, K=2)
    fusion = model.fusion_parameter_count()
    if model.kind == "fusion" or name.startswith("mfm"):
        assert isinstance(fusion, int) and 0 < fusion < model.parameter_count()
    else:
        assert fusion is None


@pytest.mark.parametrize("name", list(VARIANTS))
def test_factors_surrogates_late_fusion_and_embeddings_as_declared(name):
    model, x, y = variant(name)
    if model.factorised:
        with torch.no_grad():
            f = model.factors(x, None)
            assert set(f) == {"y", *model.input_modalities}
            out = model.decode_from_factors(f, model.input_modalities)
        assert set(out) == set(model.input_modalities)
    assert model.has_surrogate_inference == name.startswith("mfm")
    if model.combines_unimodal_predictions:
        parts = lab.late_fusion_parts(model, {m: v[:1] for m, v in x.items()}, model.modalities)
        assert list(parts["modality"]) == model.modalities
        assert abs(parts["weight"].sum() - 1.0) < 1e-6
    else:
        with pytest.raises(ValueError, match="not late fusion"):
            lab.late_fusion_parts(model, x, model.modalities)
    if model.kind == "fusion":
        assert lab.model_dims(model) == {m: model.dim(m) for m in model.modalities}
    else:
        with pytest.raises(ValueError):
            lab.model_dims(model)
    for m, spec in model.specs.items():
        layer = model.embedding_layer(m) if spec.kind == "tokens" else None
        if layer is not None:
            assert isinstance(layer, nn.Embedding)
            assert any(layer is mod for mod in model.modules())
