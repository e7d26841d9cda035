"""The app's Streamlit caches are bounded, and what `st.cache_resource` shares between sessions
is never changed by using it.

Static (ast) checks over ui/*.py, pages/*.py and app.py, then a dynamic check: a model loaded
through the cached loader stays frozen (eval mode, no gradients, no hooks, same weights) after
everything a page does with it, attributions included (those run on a private copy).
"""

from __future__ import annotations

import ast
import copy
import json
from pathlib import Path

import numpy as np
import pytest
import torch

from mmviz import checkpoint as ck
from mmviz import explore
from mmviz import report as rep
from mmviz.models.mvae import MVAE, MVAEConfig
from tests.toydata import toy_dataset

ROOT = Path(__file__).resolve().parent.parent
APP_FILES = sorted([*ROOT.glob("ui/*.py"), *ROOT.glob("pages/*.py"), ROOT / "app.py"])
# module methods that change a model in place (mode, gradients, hooks, weights, structure)
MUTATORS = {
    "train",
    "requires_grad_",
    "zero_grad",
    "load_state_dict",
    "register_forward_hook",
    "register_forward_pre_hook",
    "register_full_backward_hook",
    "register_backward_hook",
    "register_full_backward_pre_hook",
    "register_buffer",
    "register_parameter",
    "add_module",
    "apply",
    "half",
    "bfloat16",
    "share_memory",
    "cuda",
}


def decorators(kind: str) -> list[tuple[str, int, ast.expr]]:
    """(file, line, node) of every use of st.<kind> (decorator, called or bare) in the app."""
    found = []
    for path in APP_FILES:
        tree = ast.parse(path.read_text(), str(path))
        for node in ast.walk(tree):
            if not isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.Assign):
                continue
            exprs = node.decorator_list if not isinstance(node, ast.Assign) else [node.value]
            for d in exprs:
                func = d.func if isinstance(d, ast.Call) else d
                # st.cache_data(...)(f) assigned: the outer call's func is the inner call
                if isinstance(func, ast.Call):
                    d, func = func, func.func
                name = ast.unparse(func)
                if name in (f"st.{kind}", kind, f"streamlit.{kind}"):
                    found.append((str(path.relative_to(ROOT)), d.lineno, d))
    return found


def keywords(node: ast.expr) -> dict[str, ast.expr]:
    return {k.arg: k.value for k in node.keywords} if isinstance(node, ast.Call) else {}


def test_every_cache_data_is_bounded():
    uses = decorators("cache_data")
    assert len(uses) >= 10, "the parser found too few st.cache_data uses: is it still working?"
    unbounded = []
    for file, line, node in uses:
        kw = keywords(node)
        bound = [
            k
            for k in ("max_entries", "ttl")
            if k in kw and not (isinstance(kw[k], ast.Constant) and kw[k].value is None)
        ]
        if not bound:
            unbounded.append(f"{file}:{line}")
    assert not unbounded, f"st.cache_data without max_entries or ttl at {unbounded}"


def test_no_unbounded_memoisation_elsewhere():
    """No st.cache / st.experimental_memo; functools.cache or lru_cache(maxsize=None) only on a
    function without arguments (one entry)."""
    hits = []
    for path in APP_FILES:
        for node in ast.walk(ast.parse(path.read_text())):
            where = f"{path.relative_to(ROOT)}:{getattr(node, 'lineno', 0)}"
            if isinstance(node, ast.Attribute) and ast.unparse(node) in (
                "st.cache",
                "st.experimental_memo",
                "st.experimental_singleton",
            ):
                hits.append(f"{where}: {ast.unparse(node)}")
            if not isinstance(node, ast.FunctionDef):
                continue
            takes_args = bool(
                node.args.args
                or node.args.posonlyargs
                or node.args.kwonlyargs
                or node.args.vararg
                or node.args.kwarg
            )
            for d in node.decorator_list:
                name = ast.unparse(d.func if isinstance(d, ast.Call) else d)
                unbounded = name in ("functools.cache", "cache") or (
                    name.endswith("lru_cache")
                    and isinstance(d, ast.Call)
                    and isinstance(keywords(d).get("maxsize"), ast.Constant)
                    and keywords(d)["maxsize"].value is None
                )
                if unbounded and takes_args:
                    hits.append(f"{where}: {name} on {node.name}() with arguments")
    assert not hits, hits


def test_pages_never_mutate_models():
    """Pages and ui helpers call no in-place model mutator (train(), hooks, requires_grad_...):
    the models they hold come from st.cache_resource and are shared by every session."""
    hits = []
    for path in APP_FILES:
        for node in ast.walk(ast.parse(path.read_text())):
            if (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Attribute)
                and node.func.attr in MUTATORS
            ):
                hits.append(f"{path.relative_to(ROOT)}:{node.lineno}: {ast.unparse(node)[:60]}")
    assert not hits, hits


# ---- dynamic: the shared model after page-like use -------------------------------------------
@pytest.fixture()
def zoo(tmp_path, monkeypatch):
    """A one-checkpoint zoo (a small MVAE on the toy data) that the ui.cache loaders read."""
    ds = toy_dataset()
    torch.manual_seed(0)
    model = MVAE(MVAEConfig(latent_dim=4, hidden=16, enc_layers=1, dec_layers=1), ds.specs)
    ck.save_checkpoint(
        model, tmp_path / "mvae_toy", {"dataset": "toy", "training": {}, "code_version": "test"}
    )
    monkeypatch.setenv("MMVIZ_CHECKPOINTS", str(tmp_path))
    from ui import cache

    cache._load.clear()
    yield tmp_path, ds
    cache._load.clear()


def frozen(model: torch.nn.Module) -> None:
    assert not model.training and not any(m.training for m in model.modules())
    for name, p in model.named_parameters():
        assert not p.requires_grad, name
        assert p.grad is None, name
    for m in model.modules():
        assert not (
            m._forward_hooks or m._forward_pre_hooks or m._backward_hooks or m._backward_pre_hooks
        ), f"a hook was left on {type(m).__name__}"


def test_underlying_loader_returns_a_frozen_model(zoo):
    from ui import cache

    root, _ = zoo
    loaded = cache._load.__wrapped__(*cache.checkpoint_key("mvae_toy"))
    frozen(loaded.model)


def test_shared_model_is_unchanged_by_page_like_use(zoo):
    from mmviz.interpret.attributions import Attributor, LatentDim, Prediction
    from ui import cache

    root, ds = zoo
    shared = cache.load_checkpoint("mvae_toy")
    model = shared.model
    frozen(model)
    weights = {k: v.clone() for k, v in model.state_dict().items()}
    meta, config = copy.deepcopy(shared.meta), copy.deepcopy(shared.config)
    x = explore.sample_batch(ds, int(ds.indices("test")[0]))

    # what the pages do with the shared model (missing, traversal, cross-modal, latent map)
    for observed in (["image"], ["label"], None):
        explore.reconstruct_view(model, x, observed)
    explore.poe_view(model, x, ["image", "label"])
    explore.compare_views({"a": model, "b": cache.load_model("mvae_toy")}, x, ["image"])
    base = explore.base_latents(model, x, ["image"], "posterior")
    group = next(iter(model.latent_groups))
    explore.traversal_grid(model, base, group, [0, 1], np.linspace(-2, 2, 3))
    explore.sweep_2d(model, base, group, (0, 1), np.linspace(-2, 2, 3))
    explore.cross_modal(model, x, ["label"], n=3, seed=0)
    explore.dimension_activity(model, ds.tensors("test"), group)
    model.predict(x)
    # the report page's use of the shared meta and config
    rep.training_curves(shared.meta)
    rep.metrics_json("mvae_toy", shared.meta)
    rep.config_table(shared.config)
    rep.provenance(shared.path, shared.meta)
    # attributions: on the private copy, as ui.cache does
    private, lock = cache._private(*cache.checkpoint_key("mvae_toy"))
    assert private is not model
    with lock:
        for method in ("IntegratedGradients", "Saliency"):
            Attributor(method).attribute(private, x, Prediction(), ["image"])
        Attributor("Saliency").attribute(private, x, LatentDim(group, 0), ["image"])

    again = cache.load_checkpoint("mvae_toy")
    assert again is shared, "the cached loader built a second copy"
    frozen(model)
    for k, v in model.state_dict().items():
        assert torch.equal(v, weights[k]), f"weights of {k} changed"
    assert shared.meta == meta and shared.config == config, "shared meta/config was mutated"
    assert json.loads((root / "mvae_toy" / ck.META).read_text())["dataset"] == "toy"
