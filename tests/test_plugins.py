"""Datasets and models from other packages, through the `mmviz.datasets` and `mmviz.models`
entry points: the worked example in docs/plugin-example, installed with pip, trains an MVAE
through `mmviz train`; a plugin cannot take a built-in's name; a broken one is reported by name
and hides only itself."""

from __future__ import annotations

import csv
import json
import math
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
import torch

from mmviz import data, models
from mmviz.checkpoint import load_checkpoint, save_checkpoint
from mmviz.cli import main
from mmviz.data import DataError, dataset_builder, dataset_names, load_dataset
from mmviz.models import model_class, model_names, models_of_kind
from mmviz.plugins import PluginError, PluginWarning
from mmviz.train import build_model

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = ROOT / "docs" / "plugin-example"
# Modules the tests' plugins define: forgotten after each test, like the plugins themselves.
PLUGIN_MODULES = ("mmviz_pngs", "fake_digits", "twin_a", "twin_b", "broken_plugin", "fine_plugin")


@pytest.fixture()
def on_path(monkeypatch):
    """`add(folder)`: put an installation folder on sys.path and make the registries discover
    again; everything is forgotten after the test."""

    def add(folder: Path) -> None:
        monkeypatch.syspath_prepend(str(folder))
        data.REGISTRY.refresh()
        models.REGISTRY.refresh()

    yield add
    for name in PLUGIN_MODULES:
        sys.modules.pop(name, None)
    data.REGISTRY.refresh()  # sys.path is restored after this; discovery is lazy
    models.REGISTRY.refresh()


def fake_distribution(
    site: Path, dist: str, entry_points: dict[str, dict[str, str]], modules: dict[str, str]
) -> Path:
    """An installed distribution as pip leaves it, reduced to what discovery reads: a
    `.dist-info` folder with METADATA and entry_points.txt, plus its modules' files."""
    info = site / f"{dist.replace('-', '_')}-0.1.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {dist}\nVersion: 0.1\n")
    (info / "entry_points.txt").write_text(
        "".join(
            f"[{group}]\n" + "".join(f"{k} = {v}\n" for k, v in eps.items()) + "\n"
            for group, eps in entry_points.items()
        )
    )
    for name, code in modules.items():
        (site / f"{name}.py").write_text(textwrap.dedent(code))
    return site


# ---- the worked example -----------------------------------------------------------------------
def png_folder(folder: Path, per_class: int = 24, size: int = 12) -> Path:
    """Two classes a model can tell apart: a horizontal or a vertical bar, at a random row or
    column, with noise; labels.csv names each file's class."""
    from PIL import Image

    folder.mkdir()
    rng = np.random.default_rng(0)
    rows = []
    for label in ("horizontal", "vertical"):
        for i in range(per_class):
            img = rng.uniform(0, 0.2, (size, size))
            at = rng.integers(2, size - 2)
            if label == "horizontal":
                img[at - 1 : at + 1, :] = 1.0
            else:
                img[:, at - 1 : at + 1] = 1.0
            name = f"{label}_{i:03d}.png"
            Image.fromarray((img * 255).astype(np.uint8), mode="L").save(folder / name)
            rows.append({"file": name, "label": label})
    with (folder / "labels.csv").open("w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=["file", "label"])
        writer.writeheader()
        writer.writerows(rows)
    return folder


def pip_install(package: Path, tmp: Path) -> Path:
    """`pip install --no-deps --target` of a copy of `package` (a build writes into its source
    folder): the folder to put on sys.path, as site-packages would be."""
    src = tmp / "src"
    shutil.copytree(package, src, ignore=shutil.ignore_patterns("__pycache__", "*.egg-info"))
    target = tmp / "site"
    p = subprocess.run(
        [sys.executable, "-m", "pip", "--disable-pip-version-check", "-q", "install"]
        + ["--no-deps", "--no-build-isolation", "--no-compile", "--target", str(target), str(src)],
        timeout=300,
        capture_output=True,
        text=True,
    )
    assert p.returncode == 0, p.stdout + p.stderr
    return target


def test_the_example_plugin_dataset_trains_an_mvae_through_mmviz_train(
    tmp_path, tmp_cache, on_path, monkeypatch, capsys
):
    images = png_folder(tmp_path / "images")
    monkeypatch.setenv("MMVIZ_PNGS_DIR", str(images))
    on_path(pip_install(EXAMPLE, tmp_path / "install"))

    assert "pngs" in dataset_names() and data.REGISTRY.is_plugin("pngs")
    assert data.REGISTRY.plugins()["pngs"].dist.name == "mmviz-pngs"
    ds = load_dataset("pngs")
    assert ds.modalities == ["image", "label"] and len(ds) == 48
    assert ds.specs["label"].vocab == ("horizontal", "vertical")
    assert ds.data["image"].shape == (48, 1, 28, 28)
    assert main(["plugins"]) == 0
    assert "pngs             ok       mmviz_pngs:load_pngs (mmviz-pngs 0.1.0)" in (
        capsys.readouterr().out
    )

    out = tmp_path / "checkpoints" / "pngs_mvae"
    argv = ["train", "mvae", "--dataset", "pngs", "--out", str(out), "--quiet"]
    argv += ["--epochs", "4", "--batch-size", "8", "--lr", "3e-3", "--patience", "4"]
    argv += ["--set", "latent_dim=4", "--set", "hidden=32", "--set", "anneal_steps=0"]
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # a tiny model: more threads only contend (~1 s, not ~20 s)
    try:
        assert main(argv) == 0  # evaluation included: it rebuilds the dataset from its name
    finally:
        torch.set_num_threads(threads)

    meta = json.loads((out / "meta.json").read_text())
    assert meta["dataset"] == "pngs" and meta["dataset_version"] == ds.version
    assert meta["modalities"] == ["image", "label"]
    (curve,) = meta["training"]["phases"].values()
    losses = curve["train_loss"]
    assert all(math.isfinite(x) for x in losses) and losses[-1] < losses[0], losses
    assert meta["metrics"], "the checkpoint was evaluated"


# ---- names that clash -------------------------------------------------------------------------
def test_a_plugin_cannot_take_a_builtin_name(tmp_path, on_path, capsys):
    on_path(
        fake_distribution(
            tmp_path,
            "fake-digits",
            {"mmviz.datasets": {"digits": "fake_digits:load"}},
            {"fake_digits": "def load(seed=0, use_cache=True):\n    raise AssertionError\n"},
        )
    )
    with pytest.warns(PluginWarning) as caught:
        names = dataset_names()
    (message,) = [str(w.message) for w in caught]
    assert "'digits = fake_digits:load'" in message and "fake-digits 0.1" in message  # plugin
    assert "mmviz.data.digits:load_digits" in message  # the built-in, which stays
    assert names.count("digits") == 1 and data.REGISTRY.problems() == [message]
    from mmviz.data.digits import load_digits

    assert dataset_builder("digits") is load_digits
    assert "fake_digits" not in sys.modules  # refused without being imported
    assert main(["plugins", "--json"]) == 1
    (row,) = json.loads(capsys.readouterr().out)
    assert row["status"] == "refused" and row["message"] == message


def test_two_plugins_with_one_name_are_both_refused(tmp_path, on_path):
    for dist in ("twin-a", "twin-b"):
        module = dist.replace("-", "_")
        fake_distribution(
            tmp_path / dist,
            dist,
            {"mmviz.datasets": {"twin": f"{module}:load"}},
            {module: "def load(seed=0, use_cache=True):\n    raise AssertionError\n"},
        )
        on_path(tmp_path / dist)
    with pytest.warns(PluginWarning, match="more than one plugin"):
        assert "twin" not in dataset_names()
    with pytest.raises(PluginError) as e:
        load_dataset("twin")
    for named in ("twin = twin_a:load", "twin-a 0.1", "twin = twin_b:load", "twin-b 0.1"):
        assert named in str(e.value)


# ---- plugins that do not load -----------------------------------------------------------------
BROKEN = {
    "mmviz.datasets": {"broken": "broken_plugin:load", "fine": "fine_plugin:load"},
    "mmviz.models": {
        "broken_model": "broken_plugin:Model",
        "not_a_model": "fine_plugin:load",
        "mvae_copy": "fine_plugin:MVAECopy",
    },
}
MODULES = {
    "broken_plugin": "import a_module_that_is_not_installed\n",
    "fine_plugin": """\
        from dataclasses import replace

        from mmviz.models.mvae import MVAE
        from tests.toydata import toy_dataset


        def load(seed=0, use_cache=True):
            return replace(toy_dataset(seed=seed), name="fine")


        class MVAECopy(MVAE):
            name = "mvae_copy"
        """,
}


def test_a_broken_plugin_is_reported_by_name_and_hides_only_itself(tmp_path, on_path, capsys):
    on_path(fake_distribution(tmp_path, "broken-plugin", BROKEN, MODULES))
    assert {"broken", "fine"} <= set(dataset_names())  # discovery imports nothing

    with pytest.raises(PluginError) as e:
        load_dataset("broken")
    message = str(e.value)
    assert "dataset 'broken'" in message and "'broken = broken_plugin:load'" in message
    assert "broken-plugin 0.1" in message and "a_module_that_is_not_installed" in message
    assert main(["data", "broken"]) == 2  # one line for the user, not a traceback
    err = capsys.readouterr().err
    assert err.startswith("mmviz data: plugin dataset 'broken' failed to load")
    assert err.count("\n") == 1

    assert load_dataset("fine").name == "fine"  # the same package's other plugin works
    with pytest.raises(DataError, match="choose from: digits, sentiment, broken, fine"):
        load_dataset("nothing")

    with pytest.raises(PluginError, match="'broken_model = broken_plugin:Model'"):
        model_class("broken_model")
    with pytest.raises(PluginError, match="not a subclass of mmviz.models.MultimodalModel"):
        model_class("not_a_model")
    assert model_class("mvae_copy").__name__ == "MVAECopy"
    model = build_model("mvae_copy", load_dataset("fine"), {"latent_dim": 2, "hidden": 8})
    saved = save_checkpoint(model, tmp_path / "ck" / "copy", {"dataset": "fine"})
    assert type(load_checkpoint(saved).model).__name__ == "MVAECopy"  # reopened by its name
    with pytest.warns(PluginWarning) as caught:
        generative = models_of_kind("generative")
    assert sorted(str(w.message).split("'")[1] for w in caught) == ["broken_model", "not_a_model"]
    assert "mvae_copy" in generative and "mvae" in generative
    assert "broken_model" in model_names()

    assert main(["plugins", "--json"]) == 1  # what a plugin's author checks: all of it
    rows = json.loads(capsys.readouterr().out)
    status = {r["name"]: r["status"] for r in rows}
    assert status == {
        "broken": "failed",
        "fine": "ok",
        "broken_model": "failed",
        "not_a_model": "failed",
        "mvae_copy": "ok",
    }
    assert {r["distribution"] for r in rows} == {"broken-plugin 0.1"}
