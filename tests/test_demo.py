"""The demo-quality suite on toy models with known answers, and on the shipped checkpoints."""

from __future__ import annotations

import colorsys

import numpy as np
import pytest
import torch
from torch import Tensor

from mmviz import demo
from mmviz.data.base import ModalitySpec, MultimodalDataset, stratified_split
from mmviz.models.base import ModelConfig, MultimodalModel, Posterior


# ---- a toy world where every answer is known ---------------------------------------------------
def _row_of(images: Tensor) -> Tensor:
    """The brightest row of each image (its digit, drawn as a bar)."""
    return (
        images.reshape(images.shape[0], -1, images.shape[-2], images.shape[-1])
        .mean(dim=(1, 3))
        .argmax(-1)
    )


def hand_image(c: int) -> np.ndarray:
    img = np.zeros((1, 28, 28), np.float32)
    img[0, 2 * c + 4, 4:24] = 1.0
    return img


def print_image(c: int, hue: float) -> np.ndarray:
    img = np.full((3, 32, 32), 0.1, np.float32)
    img[:, 2 * c + 6, 4:28] = np.asarray(colorsys.hsv_to_rgb(hue, 0.9, 0.9), np.float32)[:, None]
    return img


def toy_digits(n: int = 600, seed: int = 0) -> MultimodalDataset:
    rng = np.random.default_rng(seed)
    c = np.arange(n) % 10
    hue = rng.uniform(0, 1, n).astype(np.float32)
    specs = {
        "hand": ModalitySpec("hand", "image", (1, 28, 28), "bernoulli", value_range=(0.0, 1.0)),
        "print": ModalitySpec("print", "image", (3, 32, 32), "gaussian", value_range=(0.0, 1.0)),
        "label": ModalitySpec(
            "label", "categorical", (), "categorical", dtype="int64", vocab=tuple("0123456789")
        ),
    }
    data = {
        "hand": np.stack([hand_image(k) for k in c]),
        "print": np.stack([print_image(k, h) for k, h in zip(c, hue, strict=True)]),
        "label": c.astype(np.int64),
    }
    return MultimodalDataset(
        name="toy_digits",
        version=f"toy-{seed}",
        seed=seed,
        specs=specs,
        data=data,
        targets={"class": c.astype(np.int64)},
        target="class",
        factors={"print_fg_hue": hue},
        factor_kinds={"print_fg_hue": "continuous"},
        splits=stratified_split(c, {"train": 0.6, "valid": 0.1, "test": 0.3}, seed),
    )


def toy_judges() -> dict[str, demo.Judge]:
    def read_bar(offset: int):
        return lambda x: torch.nn.functional.one_hot(
            ((_row_of(x) - offset) // 2).clamp(0, 9), 10
        ).float()

    return {"hand": read_bar(4), "print": read_bar(6), "label": lambda p: p}


class ToyFactorised(MultimodalModel):
    """MFM's shape: y holds the digit, the `print` group its hue (and a spare dimension).

    `uses_y=False` is the shipped MFM's failure: the modality-specific codes hold the digit too
    and the decoders read it from there, ignoring the shared factor (which still predicts the
    class, so a mutual-information check passes)."""

    name = "toy_factorised"

    def __init__(self, ds: MultimodalDataset, uses_y: bool = True) -> None:
        super().__init__(ModelConfig(), ds.specs)
        self.uses_y = uses_y

    @property
    def input_modalities(self) -> list[str]:
        return ["hand", "print"]

    @property
    def latent_groups(self) -> dict[str, int]:
        return {"y": 1, "hand": 1, "print": 2}

    @staticmethod
    def _hue(images: Tensor) -> Tensor:
        rgb = images[torch.arange(len(images)), :, _row_of(images), 16].numpy()
        return torch.tensor([colorsys.rgb_to_hsv(*v)[0] for v in rgb], dtype=torch.float32)

    def encode(self, inputs, observed=None):
        obs = self.check_observed(observed)
        source = "hand" if "hand" in obs else "print"
        c = ((_row_of(inputs[source]) - (4 if source == "hand" else 6)) // 2).float()
        digit = (c - 4.5) / 1.5
        leak = torch.zeros_like(digit) if self.uses_y else digit
        hue = self._hue(inputs["print"]) if "print" in obs else torch.full_like(digit, 0.5)
        z = {"y": digit[:, None], "hand": leak[:, None]}
        z["print"] = torch.stack([4 * (hue - 0.5), leak], -1)
        return {g: Posterior(v) for g, v in z.items()}

    def decode(self, latents, modalities=None):
        def digit_of(code: Tensor) -> Tensor:
            return (code * 1.5 + 4.5).round().clamp(0, 9).long()

        shared = digit_of(latents["y"][:, 0])
        hue = (latents["print"][:, 0] / 4 + 0.5) % 1.0
        out = {}
        for m in modalities or self.modalities:
            if m == "hand":
                c = shared if self.uses_y else digit_of(latents["hand"][:, 0])
                img = torch.from_numpy(np.stack([hand_image(int(k)) for k in c]))
                out[m] = torch.logit(img.clamp(1e-4, 1 - 1e-4))
            elif m == "print":
                c = shared if self.uses_y else digit_of(latents["print"][:, 1])
                imgs = [print_image(int(k), float(h)) for k, h in zip(c, hue, strict=True)]
                out[m] = torch.from_numpy(np.stack(imgs))
            else:
                out[m] = torch.log(torch.nn.functional.one_hot(shared, 10).float().clamp_min(1e-6))
        return out

    def predict(self, inputs, observed=None):
        z = {g: p.mean for g, p in self.encode(inputs, observed).items()}
        return torch.softmax(self.decode(z, ["label"])["label"], -1)


@pytest.fixture(scope="module")
def toy():
    return toy_digits()


def test_balanced_positions_are_balanced_in_every_prefix(toy):
    pos = demo.balanced_positions(toy, 100)
    classes = toy.targets["class"][toy.indices("test")[pos]]
    assert len(pos) == len(set(pos.tolist())) == 100
    assert np.bincount(classes[:20], minlength=10).tolist() == [2] * 10
    assert np.bincount(classes, minlength=10).tolist() == [10] * 10


def test_a_faithful_factorised_model_scores_full_marks(toy):
    r = demo.demo_suite(ToyFactorised(toy, uses_y=True), toy, 100, judges=toy_judges())
    table = r["reconstruction"]["table"]
    assert set(table) == {"hand", "print", "hand+print"}  # the label is the head's target
    assert all(v == 1.0 for row in table.values() for v in row.values())
    assert r["swap"]["class_accuracy"] == 1.0 and r["swap"]["reads_b"]["print"] == 0.0
    assert r["swap"]["style_r2"] > 0.9  # B's hue comes back in the swapped image
    effect = r["traversal_effect"]["class_change"]
    assert effect["y"] == 1.0 and effect["hand"] == 0.0 and effect["print"] == 0.0
    assert r["traversal_effect"]["print_hue_change"]["print"] > 0.2  # the style moves instead
    assert r["joint_label"] == {}  # the label is no input of MFM
    assert r["own_input"]["test_digits"] == 1.0


def test_a_decoder_that_ignores_the_shared_factor_is_caught(toy):
    """The failure MI(Z_y; class) missed: the shared factor predicts the class, but
    traversing it changes nothing and the swapped image shows B's digit."""
    r = demo.demo_suite(ToyFactorised(toy, uses_y=False), toy, 100, judges=toy_judges())
    effect = r["traversal_effect"]["class_change"]
    assert effect["y"] == 0.0 and effect["hand"] == 1.0 and effect["print"] == 0.5
    assert r["swap"]["class_accuracy"] == 0.0 and r["swap"]["reads_b"]["hand"] == 1.0
    targets = {t.name: t for t in demo._mfm_targets("toy", r, {})}
    assert not targets["swap class accuracy"].passed
    assert not targets["traversal_effect y"].passed
    assert not targets["traversal_effect hand"].passed


def test_circular_r2():
    hue = np.linspace(0, 1, 50, endpoint=False)
    t = demo._hue_target(hue)
    assert demo.circular_r2(t, t) == pytest.approx(1.0)
    assert demo.circular_r2(t, np.zeros_like(t)) == pytest.approx(0.0, abs=1e-9)
    # hue 0.99 and 0.01 are neighbours on the circle: a tiny error, not a huge one
    a, b, c = (demo._hue_target(np.array([h])) for h in (0.99, 0.01, 0.5))
    assert ((a - b) ** 2).sum() < 0.02 < 3.9 < ((a - c) ** 2).sum()


def test_targets_pass_and_fail():
    assert demo.Target("a", "c", 0.95, 0.9).passed
    assert not demo.Target("a", "c", 0.85, 0.9).passed
    assert demo.Target("a", "c", 0.05, 0.1, at_most=True).passed
    assert not demo.Target("a", "c", None, 0.1).passed
    assert demo.Target("a", "c", 0.5, 0.9).to_dict()["pass"] is False


def test_demo_score_and_the_default(toy):
    r = demo.demo_suite(ToyFactorised(toy, True), toy, 50, judges=toy_judges())
    # mean of cross-modal coherence (1), self-reconstruction (1) and own input (its mean)
    assert r["score"] == pytest.approx((1 + 1 + r["own_input"]["mean"]) / 3)
    from mmviz.zoo import default_id

    assert default_id({"a": 0.7, "b": 0.9, "c": None}) == "b"
    assert default_id({"a": None}) is None


# ---- own input: the app's own input path on real digits ----------------------------------------
class Reader(MultimodalModel):
    """A 'model' whose label from `hand` is a given classifier: own_input measures the input
    path, so a constant reader scores exactly chance on the balanced digits."""

    name = "reader"

    def __init__(self, specs, read) -> None:
        super().__init__(ModelConfig(), specs)
        self.read = read

    @property
    def latent_groups(self) -> dict[str, int]:
        return {"z": 1}

    def predict(self, inputs, observed=None):
        return self.read(inputs["hand"])


@pytest.fixture(scope="module")
def digits():
    from mmviz.data import load_dataset

    return load_dataset("digits", ["hand", "label"], seed=0)


def test_own_input_of_a_constant_reader_is_chance(digits):
    always0 = Reader(
        digits.specs,
        lambda x: torch.nn.functional.one_hot(torch.zeros(len(x), dtype=torch.long), 10).float(),
    )
    r = demo.own_input(always0, digits, demo.balanced_positions(digits, 100))
    assert r["test_digits"] == pytest.approx(0.1)
    assert all(v == pytest.approx(0.1) or v < 0.1 for v in r["by_variant"].values())


def test_redrawn_digits_stay_readable(digits):
    """The re-drawn digits are digits: the independent oracle reads most of them, so a model
    scoring low on own_input fails on people's input, not on a broken rendering."""
    from mmviz.evaluate import _oracle

    oracle = _oracle("hand")
    if oracle is None:
        pytest.skip("no oracle_hand checkpoint")
    pos = demo.balanced_positions(digits, 100)
    y = digits.target_tensor("test", "class", pos)
    for variant in demo.OWN_INPUT_VARIANTS:
        hand, refused = demo.own_inputs(digits, pos, variant)
        assert len(refused) <= 2, variant
        acc = float((oracle.logits(hand).argmax(-1) == y).float().mean())
        assert acc >= 0.8, (variant, acc)
        assert hand.shape == (100, 1, 28, 28) and 0 <= float(hand.min()) <= float(hand.max()) <= 1
