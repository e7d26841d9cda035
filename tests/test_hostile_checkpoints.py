"""Hostile checkpoint folders: load_checkpoint refuses each with a CheckpointError (quickly,
executing nothing) or loads exactly the model that was saved; a model loaded earlier is never
disturbed. Random and truncated safetensors, forged headers, hypothesis-generated JSON in every
key of config.json and meta.json, wrong tensors, pickles. `tests/test_checkpoint.py` holds the
example-based cases.
"""

from __future__ import annotations

import ast
import json
import os
import pickle
import shutil
import struct
import tempfile
import time
from datetime import timedelta
from pathlib import Path

import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from safetensors.torch import save_file

from mmviz.checkpoint import (
    CONFIG,
    META,
    WEIGHTS,
    Checkpoint,
    CheckpointError,
    load_checkpoint,
    save_checkpoint,
)
from mmviz.models.oracle import OracleClassifier, OracleConfig
from tests.toydata import toy_dataset

ROOT = Path(__file__).resolve().parent.parent
TIME_LIMIT_S = 2.0
FUZZ = settings(
    max_examples=60,
    deadline=timedelta(seconds=10),
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)

DS = toy_dataset()
X = DS.tensors("test")


def outputs(model) -> torch.Tensor:
    with torch.no_grad():
        return model.predict(X)


@pytest.fixture(scope="module")
def good(tmp_path_factory) -> Path:
    """A valid checkpoint (untrained, seeded small CNN oracle) to corrupt copies of."""
    torch.manual_seed(0)
    cfg = OracleConfig(modality="image", num_classes=4, channels=(4, 8))
    model = OracleClassifier(cfg, DS.specs)
    meta = {"dataset": "toy", "modalities": ["image"], "seed": 0, "metrics": {"acc": 0.5}}
    return save_checkpoint(model, tmp_path_factory.mktemp("good") / "oracle", meta)


@pytest.fixture(scope="module")
def reference(good) -> tuple[Checkpoint, torch.Tensor, dict[str, torch.Tensor]]:
    """The checkpoint loaded before any hostile load, its outputs and a copy of its weights."""
    ck = load_checkpoint(good)
    state = {k: v.clone() for k, v in ck.model.state_dict().items()}
    return ck, outputs(ck.model), state


@pytest.fixture(scope="module")
def scratch(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("hostile")


def variant(good: Path, scratch: Path, **files: bytes | str | None) -> Path:
    """A copy of the good checkpoint with some files replaced (None: deleted)."""
    path = Path(tempfile.mkdtemp(dir=scratch)) / "ck"
    shutil.copytree(good, path)
    for name, content in files.items():
        target = path / {"weights": WEIGHTS, "config": CONFIG, "meta": META}[name]
        if content is None:
            target.unlink()
        elif isinstance(content, str):
            target.write_text(content)
        else:
            target.write_bytes(content)
    return path


def attempt(path: Path, reference) -> Checkpoint | None:
    """load_checkpoint(path): the Checkpoint, or None when refused with a CheckpointError that
    explains itself. Any other exception fails; so does a slow load or a disturbed reference."""
    ck0, y0, state0 = reference
    t0 = time.perf_counter()
    try:
        result = load_checkpoint(path)
    except CheckpointError as e:
        message = str(e)
        assert 20 < len(message) < 2000, message
        assert any(w in message for w in (WEIGHTS, CONFIG, META, "config.json")), message
        result = None
    finally:
        shutil.rmtree(path.parent, ignore_errors=True)
    elapsed = time.perf_counter() - t0
    assert elapsed < TIME_LIMIT_S, f"load took {elapsed:.2f} s"
    assert torch.equal(outputs(ck0.model), y0), "the earlier model's outputs changed"
    assert not ck0.model.training
    for k, v in ck0.model.state_dict().items():
        assert torch.equal(v, state0[k]), k
    return result


def same_model(ck: Checkpoint, reference) -> bool:
    """A load that succeeded gave exactly the saved weights and outputs."""
    ck0, y0, state0 = reference
    state = ck.model.state_dict()
    return (
        set(state) == set(state0)
        and all(
            state[k].dtype == state0[k].dtype and torch.equal(state[k], state0[k]) for k in state
        )
        and torch.equal(outputs(ck.model), y0)
    )


def refused_or_same(path: Path, reference) -> None:
    ck = attempt(path, reference)
    assert ck is None or same_model(ck, reference), "a corrupted checkpoint loaded as another model"


# ---- model.safetensors bytes -----------------------------------------------------------------
def split_safetensors(blob: bytes) -> tuple[dict, bytes]:
    n = struct.unpack("<Q", blob[:8])[0]
    return json.loads(blob[8 : 8 + n]), blob[8 + n :]


def join_safetensors(header: dict | bytes, data: bytes) -> bytes:
    raw = header if isinstance(header, bytes) else json.dumps(header).encode()
    raw += b" " * (-len(raw) % 8)
    return struct.pack("<Q", len(raw)) + raw + data


def test_the_good_checkpoint_loads(good, scratch, reference):
    ck = attempt(variant(good, scratch), reference)
    assert ck is not None and same_model(ck, reference)


@FUZZ
@given(
    st.binary(max_size=2048),
    st.sampled_from(
        [
            b"",
            struct.pack("<Q", 16) + b'{"a":',
            struct.pack("<Q", 2**63),
            b"PK\x03\x04",
            b"\x80\x04\x95",
            b"\x93NUMPY",
            b"{",
        ]
    ),
)
def test_random_bytes_as_weights(good, scratch, reference, data, prefix):
    assert attempt(variant(good, scratch, weights=prefix + data), reference) is None


def test_every_truncation_of_the_weights(good, scratch, reference):
    """Every cut point through the header and ~80 through the data: all refused."""
    blob = (good / WEIGHTS).read_bytes()
    header_end = 8 + struct.unpack("<Q", blob[:8])[0]
    cuts = set(range(0, header_end + 9, 3)) | set(range(header_end, len(blob), len(blob) // 80))
    for cut in sorted(cuts):
        assert attempt(variant(good, scratch, weights=blob[:cut]), reference) is None, cut


@FUZZ
@given(st.integers(1, 64), st.binary(min_size=1, max_size=64))
def test_extra_trailing_bytes(good, scratch, reference, n, junk):
    blob = (good / WEIGHTS).read_bytes()
    refused_or_same(variant(good, scratch, weights=blob + (junk * n)[:n]), reference)


JSON_LEAF = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.sampled_from([0, -1, 1, 2**31, 2**63 - 1, 2**64, 10**30, -(2**63)]),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=12),
    st.sampled_from(
        [
            "F32",
            "F16",
            "BF16",
            "F64",
            "I8",
            "I32",
            "I64",
            "U8",
            "BOOL",
            "F8_E4M3",
            "F8_E5M2",
            "U16",
            "U32",
            "U64",
            "F4",
            "E8M0",
            "XX",
        ]
    ),
)
JSON = st.recursive(
    JSON_LEAF,
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=12,
)


@FUZZ
@given(st.data())
def test_forged_header_fields(good, scratch, reference, data):
    """One field of one tensor (dtype, shape, data_offsets), __metadata__ or the header length
    set to any JSON value: refused, or (a harmless value) the same model."""
    blob = (good / WEIGHTS).read_bytes()
    header, body = split_safetensors(blob)
    names = sorted(k for k in header if k != "__metadata__")
    target = data.draw(st.sampled_from([*names, "__metadata__", "<length>"]))
    if target == "<length>":
        forged = struct.pack("<Q", data.draw(st.integers(0, 2**64 - 1))) + blob[8:]
    else:
        if target == "__metadata__":
            header[target] = data.draw(JSON)
        else:
            field = data.draw(st.sampled_from(["dtype", "shape", "data_offsets", "other"]))
            entry = header[target]
            if field == "shape" and data.draw(st.booleans()):
                # plausible shapes: a permutation or reshape with the same number of elements
                old = entry["shape"]
                entry["shape"] = data.draw(st.permutations(old)) + data.draw(
                    st.lists(st.just(1), max_size=2)
                )
            elif field == "data_offsets" and data.draw(st.booleans()):
                a, b = entry["data_offsets"]
                d = data.draw(st.integers(-16, 16))
                entry["data_offsets"] = [max(0, a + d), max(0, b + d)]
            elif field == "other":
                entry[data.draw(st.text(max_size=6))] = data.draw(JSON)
            else:
                entry[field] = data.draw(JSON)
        forged = join_safetensors(header, body)
    refused_or_same(variant(good, scratch, weights=forged), reference)


@pytest.mark.parametrize(
    "header",
    [
        b"\xff\xfe not utf-8",
        b"[1, 2, 3]",
        b'{"a": ' * 5000 + b"1" + b"}" * 5000,  # deep nesting
        b'{"__metadata__": {"format": "pt"}}',  # no tensors at all
        b"{" + b'"x":1,' * 50_000 + b'"y":2}',  # 300 KB of junk keys
    ],
    ids=["not-utf8", "a-list", "deep", "empty", "huge"],
)
def test_bad_headers(good, scratch, reference, header):
    body = split_safetensors((good / WEIGHTS).read_bytes())[1]
    forged = join_safetensors(header, body)
    assert attempt(variant(good, scratch, weights=forged), reference) is None


@pytest.mark.parametrize(
    "dtype",
    [
        torch.float64,
        torch.float16,
        torch.bfloat16,
        torch.int32,
        torch.int64,
        torch.uint8,
        torch.bool,
    ],
    ids=str,
)
def test_right_shapes_wrong_dtype_refused(good, scratch, reference, dtype):
    """Same names and shapes, another dtype: load_state_dict would cast silently; refused."""
    ck0 = reference[0]
    state = {k: v.to(dtype) for k, v in ck0.model.state_dict().items()}
    path = variant(good, scratch)
    save_file(state, str(path / WEIGHTS))
    assert attempt(path, reference) is None


def test_same_bytes_reinterpreted_as_int32_refused(good, scratch, reference):
    """F32 -> I32 in the header keeps every size and offset valid: only a dtype check sees it."""
    header, body = split_safetensors((good / WEIGHTS).read_bytes())
    for k in header:
        if k != "__metadata__":
            header[k]["dtype"] = "I32"
    forged = join_safetensors(header, body)
    assert attempt(variant(good, scratch, weights=forged), reference) is None


@pytest.mark.parametrize("change", ["reshape", "extra", "missing", "transpose", "grow"])
def test_wrong_tensors_refused(good, scratch, reference, change):
    state = {k: v.clone() for k, v in reference[0].model.state_dict().items()}
    name = next(k for k, v in state.items() if v.dim() == 2)
    if change == "reshape":
        state[name] = state[name].reshape(-1)
    elif change == "extra":
        state["head.extra.weight"] = torch.zeros(3)
    elif change == "missing":
        del state[name]
    elif change == "transpose":
        state[name] = state[name].t().contiguous()
    else:
        state[name] = torch.zeros(state[name].shape[0] + 1, state[name].shape[1])
    path = variant(good, scratch)
    save_file(state, str(path / WEIGHTS))
    assert attempt(path, reference) is None


# ---- nothing executes ------------------------------------------------------------------------
class _Payload:
    """Unpickling this would create a folder at `marker`: proof that a pickle ran."""

    def __init__(self, marker: Path) -> None:
        self.marker = str(marker)

    def __reduce__(self):
        return (os.mkdir, (self.marker,))


@pytest.mark.parametrize("kind", ["pickle", "torch.save", "pickle-in-json"])
def test_pickles_are_refused_and_never_run(good, scratch, reference, tmp_path, kind):
    marker = tmp_path / "pwned"
    payload = {"state": _Payload(marker), **reference[0].model.state_dict()}
    if kind == "pickle":
        files = {"weights": pickle.dumps(payload, protocol=2)}
    elif kind == "torch.save":
        path = tmp_path / "w.pt"
        torch.save(payload, path)
        files = {"weights": path.read_bytes()}
    else:
        files = {"config": pickle.dumps(payload), "meta": pickle.dumps(payload)}
    assert attempt(variant(good, scratch, **files), reference) is None
    assert not marker.exists(), "a pickle was executed"
    pickle.loads(pickle.dumps(_Payload(marker)))  # the payload is live: it does create it
    assert marker.exists()


UNPICKLERS = {
    "torch.load",
    "pickle.load",
    "pickle.loads",
    "pickle.Unpickler",
    "joblib.load",
    "dill.load",
    "dill.loads",
    "cloudpickle.load",
    "cloudpickle.loads",
    "marshal.loads",
}


def test_package_never_unpickles():
    """No torch.load / pickle.load / allow_pickle=True anywhere in the backend or app."""
    hits = []
    for path in [*ROOT.glob("mmviz/**/*.py"), *ROOT.glob("ui/*.py"), *ROOT.glob("pages/*.py")]:
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Call):
                unsafe = ast.unparse(node.func) in UNPICKLERS or any(
                    k.arg == "allow_pickle"
                    and not (isinstance(k.value, ast.Constant) and k.value.value is False)
                    for k in node.keywords
                )
                if unsafe:
                    hits.append(f"{path.relative_to(ROOT)}:{node.lineno}: {ast.unparse(node)}")
    assert not hits, hits


# ---- config.json and meta.json ---------------------------------------------------------------
DELETE = object()


def set_path(d: dict, path: tuple, value) -> None:
    for k in path[:-1]:
        d = d[k]
    if value is DELETE:
        del d[path[-1]]
    else:
        d[path[-1]] = value


def config_paths(good: Path) -> list[tuple]:
    config = json.loads((good / CONFIG).read_text())
    paths = [(k,) for k in config]
    paths += [("config", k) for k in config["config"]]
    paths += [("specs", i, k) for i, s in enumerate(config["specs"]) for k in s]
    return paths


@FUZZ
@given(st.data())
def test_any_json_in_any_config_key(good, scratch, reference, data):
    config = json.loads((good / CONFIG).read_text())
    path = data.draw(st.sampled_from(config_paths(good)), label="key")
    value = data.draw(st.one_of(st.just(DELETE), JSON), label="value")
    set_path(config, path, value)
    refused_or_same(variant(good, scratch, config=json.dumps(config)), reference)


@pytest.mark.parametrize(
    "path, value",
    [
        (("config", "channels"), [10**7, 10**7]),  # 10^14 parameters: nothing may be allocated
        (("config", "num_classes"), 2**40),
        (("specs", 0, "shape"), [1, 10**6, 10**6]),
        (("specs", 0, "shape"), [1, 2**62, 8]),
        (("specs", 0, "shape"), [1, -8, 8]),
        (("specs", 0, "shape"), [1, float("inf"), 8]),
        (("format",), 2),
        (("model",), "../../etc/passwd"),
        (("model",), "os:system"),
    ],
)
def test_dangerous_config_values(good, scratch, reference, path, value):
    config = json.loads((good / CONFIG).read_text())
    set_path(config, path, value)
    assert attempt(variant(good, scratch, config=json.dumps(config)), reference) is None


@pytest.mark.parametrize(
    "text", ["[" * 100_000 + "]" * 100_000, '{"model": ' + "9" * 5000 + "}", "\x00\xff", ""]
)
def test_unparseable_config(good, scratch, reference, text):
    assert attempt(variant(good, scratch, config=text.encode("latin-1")), reference) is None


@pytest.mark.parametrize("name", ["config", "meta", "weights"])
def test_a_folder_where_a_file_should_be(good, scratch, reference, name):
    path = variant(good, scratch, **{name: None})
    (path / {"weights": WEIGHTS, "config": CONFIG, "meta": META}[name]).mkdir()
    assert attempt(path, reference) is None


META_KEYS = [
    "id",
    "model",
    "paper",
    "dataset",
    "dataset_version",
    "target",
    "code_version",
    "weights_sha256",
    "seed",
    "parameters",
    "wall_time_s",
    "modalities",
    "latent_groups",
    "training",
    "metrics",
    "anything_else",
]
# what the pages and the catalog do with each meta.json value they read (None: not recorded)
USES = {
    "dataset": lambda v: hash(v) and v.lower(),  # cache key and dataset name
    "model": lambda v: v.upper(),
    "paper": lambda v: v.strip(),
    "weights_sha256": lambda v: v.lower(),
    "modalities": lambda v: ", ".join(v),
    "latent_groups": lambda v: {str(k): int(n) for k, n in v.items()},
    "training": lambda v: v.get("phases") or {},
    "metrics": lambda v: v.get("acc"),
    "wall_time_s": lambda v: f"{v:.0f} s",
    "parameters": lambda v: f"{v:,}",
    "seed": lambda v: int(v),
}


@FUZZ
@given(st.sampled_from(META_KEYS), st.one_of(st.just(DELETE), JSON))
def test_any_json_in_any_meta_key(good, scratch, reference, key, value):
    """meta.json is provenance: a missing key is fine, a wrong type for a key the app reads is
    refused; whatever loads can be used the way the pages use it."""
    meta = json.loads((good / META).read_text())
    if value is DELETE:
        meta.pop(key, None)
    else:
        meta[key] = value
    ck = attempt(variant(good, scratch, meta=json.dumps(meta)), reference)
    if ck is not None:
        assert same_model(ck, reference)
        for k, use in USES.items():
            if ck.meta.get(k) is not None:
                use(ck.meta[k])


@pytest.mark.parametrize("meta", ["[]", '"text"', "null", "{}", None])
def test_meta_must_be_an_object_or_absent(good, scratch, reference, meta):
    ck = attempt(variant(good, scratch, meta=meta), reference)
    assert (ck is not None) == (meta in ("{}", None))


# ---- the zoo listing reads meta.json without loading weights -----------------------------------
JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=8),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=3)
    ),
    max_leaves=8,
)
META_FIELDS = [
    "model",
    "dataset",
    "modalities",
    "latent_groups",
    "paper",
    "metrics",
    "wall_time_s",
    "parameters",
]


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    meta=st.one_of(
        st.dictionaries(st.sampled_from(META_FIELDS), JSON_VALUES, max_size=6),
        JSON_VALUES,
        st.binary(max_size=40).map(lambda b: b.decode("latin-1")),
    )
)
def test_zoo_listing_survives_any_meta_json(good, scratch, meta):
    """The home page and `mmviz list` read every folder's meta.json; a broken or wrong-typed
    one must not crash them: that folder is listed with a problem and defaults, the rest as is."""
    from mmviz.explore import catalog
    from mmviz.zoo import checkpoint_table

    root = Path(tempfile.mkdtemp(dir=scratch))
    shutil.copytree(good, root / "ok")
    shutil.copytree(good, root / "bad")
    text = meta if isinstance(meta, str) else json.dumps(meta)
    (root / "bad" / META).write_text(text)
    try:
        infos = {i.id: i for i in catalog(root)}
        rows = {r["id"]: r for r in checkpoint_table(root)}
    finally:
        shutil.rmtree(root, ignore_errors=True)
    assert set(infos) == set(rows) == {"ok", "bad"}
    assert infos["ok"].problem is None and infos["ok"].dataset == "toy"
    assert infos["ok"].modalities == ["image"]
    bad = infos["bad"]
    assert isinstance(bad.model, str) and isinstance(bad.dataset, str)
    assert all(isinstance(m, str) for m in bad.modalities)
    assert all(isinstance(v, int) for v in bad.latent_groups.values())
    assert all(isinstance(v, float) for v in bad.headline.values())
    assert bad.parameters is None or isinstance(bad.parameters, int)
    assert bad.wall_time_s is None or isinstance(bad.wall_time_s, float)


@pytest.mark.parametrize(
    "meta, problem",
    [
        ("[1, 2]", "holds a list"),
        ("{not json", "meta.json unreadable"),
        ('{"modalities": 5}', "'modalities' has the wrong type"),
        ('{"latent_groups": {"z": "16"}}', "'latent_groups' has the wrong type"),
        ('{"wall_time_s": "fast"}', "'wall_time_s' has the wrong type"),
    ],
)
def test_zoo_listing_names_what_is_wrong(good, scratch, meta, problem):
    from mmviz.explore import catalog

    root = Path(tempfile.mkdtemp(dir=scratch))
    shutil.copytree(good, root / "bad")
    (root / "bad" / META).write_text(meta)
    try:
        (info,) = catalog(root)
    finally:
        shutil.rmtree(root, ignore_errors=True)
    assert info.problem is not None and problem in info.problem
