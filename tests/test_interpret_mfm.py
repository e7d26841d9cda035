"""MFM interpretation: gradient flow against autograd Jacobians, and known-answer factor roles."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from mmviz.data.base import ModalitySpec
from mmviz.interpret.mfm import factor_information, generative_sensitivity, shared_factor_gradients
from mmviz.models.mfm import MFM, MFMConfig

torch.set_num_threads(1)

VOCAB = ("<pad>", "<unk>") + tuple(f"w{i}" for i in range(8))
SPECS = {
    "image": ModalitySpec("image", "image", (1, 6, 6), "bernoulli", value_range=(0.0, 1.0)),
    "seq": ModalitySpec("seq", "sequence", (5, 3), "gaussian"),
    "text": ModalitySpec("text", "tokens", (4,), "categorical", dtype="int64", vocab=VOCAB),
    "label": ModalitySpec(
        "label", "categorical", (), "categorical", dtype="int64", vocab=("a", "b", "c")
    ),
}
FD = 8


def tiny_mfm(specs=SPECS, seed: int = 0) -> MFM:
    cfg = MFMConfig(hidden=16, factor_dim=FD, zy_dim=4, za_dim=3, recurrent=True, seed=seed)
    torch.manual_seed(seed)
    return MFM(cfg, specs).eval()


def batch(n: int, seed: int = 0) -> dict[str, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    return {
        "image": torch.rand(n, 1, 6, 6, generator=g),
        "seq": torch.randn(n, 5, 3, generator=g),
        "text": torch.randint(2, len(VOCAB), (n, 4), generator=g),
        "label": torch.randint(0, 3, (n,), generator=g),
    }


def last_linear(module: nn.Module) -> nn.Linear:
    return [m for m in module.modules() if isinstance(m, nn.Linear)][-1]


def test_gradient_flow_is_the_squared_jacobian():
    model, x = tiny_mfm(), batch(3)
    flow = shared_factor_gradients(model, x)
    for i in range(3):
        for m in ("image", "seq"):

            def f_y(v, i=i, m=m):
                xi = {k: t[i : i + 1] for k, t in x.items()}
                xi[m] = v
                return model.factors(xi)["y"][0]

            jac = torch.autograd.functional.jacobian(f_y, x[m][i : i + 1])  # (FD, 1, *shape)
            expected = (jac**2).sum(0)[0].numpy()
            np.testing.assert_allclose(flow.per_element[m][i], expected, rtol=1e-4, atol=1e-12)
    assert flow.per_step["seq"].shape == (3, 5)  # per time step
    assert flow.per_step["image"].shape == (3, 6, 6)  # per pixel
    assert flow.per_step["text"].shape == (3, 4)  # per word, through the embedding
    assert np.all(flow.per_step["text"] > 0)
    np.testing.assert_allclose(flow.per_step["seq"], flow.per_element["seq"].sum(-1))
    np.testing.assert_allclose(flow.mean["seq"], flow.per_step["seq"].mean(0))


def test_a_modality_the_shared_factor_ignores_has_no_gradient_flow():
    model, x = tiny_mfm(), batch(4)
    with torch.no_grad():
        last_linear(model.y_features["seq"]).weight.zero_()  # F_y no longer reads seq
    flow = shared_factor_gradients(model, x)
    assert np.all(flow.per_element["seq"] == 0)
    assert flow.total["image"].min() > 0 and flow.total["text"].min() > 0
    own = shared_factor_gradients(model, x, factor="seq")  # F_a_seq reads only seq
    assert own.total["seq"].min() > 0
    assert np.all(own.per_element["image"] == 0) and np.all(own.per_element["text"] == 0)


def test_factor_roles_in_generation_are_recovered():
    """image's decoder ignores F_y and F_y does not read the image: I(F_y; X^_image) ~ 0."""
    specs = {k: SPECS[k] for k in ("image", "seq", "label")}
    model = tiny_mfm(specs, seed=1)
    with torch.no_grad():
        last_linear(model.y_features["image"]).weight.zero_()
        model.decoders["image"].net[0].weight[:, :FD] = 0.0  # the F_y half of [F_y, F_a]
    x = batch(800, seed=2)
    sens = generative_sensitivity(model, x).set_index("modality")
    assert sens.loc["image", "shared"] == 0.0
    assert sens.loc["image", "specific"] > 0
    assert sens.loc["seq", "shared"] > 0 and sens.loc["seq", "specific"] > 0
    info = factor_information(model, x, estimator="both")
    image = info[info.modality == "image"]
    assert len(image) == 2 and image.estimator.str.contains("Gaussian").any()
    assert image.estimator.str.contains("kNN").any()
    assert (image.I_shared < 0.1).all()
    assert (image.I_specific > 1.0).all()
    assert (image.ratio > 10).all()
    seq = info[info.modality == "seq"]
    assert (seq.I_shared > 0.3).all() and (seq.I_specific > 0.3).all()


def test_non_mfm_models_are_refused():
    from mmviz.data.random_inputs import sentiment_like_specs
    from mmviz.models.fusion import LMF, LMFConfig

    model = LMF(LMFConfig(), sentiment_like_specs())
    with pytest.raises(TypeError, match="factor API"):
        factor_information(model, {})
