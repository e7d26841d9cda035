"""The command line: readable output, parseable JSON, one-line errors (exit 2) for bad input."""

import json

import pytest
import torch

from mmviz.cli import main


def test_data_sentiment_json_describes_modalities(tmp_cache, capsys):
    assert main(["data", "sentiment", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert set(out["modalities"]) == {"language", "visual", "acoustic"}
    assert out["splits"] == {"train": 6000, "valid": 1000, "test": 2000}
    assert out["factors"]["interaction"] == "categorical"


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["data", "nosuchdata"], "unknown dataset 'nosuchdata'; choose from: digits, sentiment"),
        (["data", "sentiment", "--modalities", "language,smell"], "unknown modality 'smell'"),
        (["eval", "no-such-checkpoint"], "no checkpoint 'no-such-checkpoint'"),
        (["train", "nosuchmodel", "--dataset", "sentiment", "--out", "x"], "unknown model"),
    ],
)
def test_bad_input_is_one_clear_line(tmp_cache, capsys, argv, message):
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert message in err
    assert "Traceback" not in err


def test_missing_mnist_folder_names_the_fix(tmp_cache, tmp_path, capsys):
    assert main(["data", "digits", "--mnist", str(tmp_path / "nowhere")]) == 2
    err = capsys.readouterr().err
    assert "nowhere" in err and "IDX" in err


def test_list_json_rows_match_checkpoint_folders(capsys):
    from mmviz.checkpoint import list_ids

    assert main(["list", "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert [r["id"] for r in rows] == list_ids()


def test_list_readme_rewrites_only_the_marked_block(tmp_path, capsys):
    from mmviz.cli import RESULTS_END, RESULTS_START, main, markdown_table
    from mmviz.zoo import checkpoint_table

    readme = tmp_path / "README.md"
    readme.write_text(f"intro\n{RESULTS_START}\nold table\n{RESULTS_END}\noutro\n")
    assert main(["list", "--readme", str(readme)]) == 0
    text = readme.read_text()
    assert text.startswith(f"intro\n{RESULTS_START}\n") and text.endswith(f"{RESULTS_END}\noutro\n")
    assert "old table" not in text
    assert markdown_table(checkpoint_table()) in text
    readme.write_text("no markers here\n")
    capsys.readouterr()
    assert main(["list", "--readme", str(readme)]) == 2
    assert "no <!-- results:start -->" in capsys.readouterr().err
    assert readme.read_text() == "no markers here\n"


def test_train_weights_dtype_float16_writes_a_half_precision_checkpoint(tmp_cache, tmp_path):
    from safetensors import safe_open

    from mmviz.checkpoint import load_checkpoint

    out = tmp_path / "half"
    argv = [
        "train",
        "early_fusion",
        "--dataset",
        "sentiment",
        "--out",
        str(out),
        "--quiet",
        "--max-steps",
        "2",
        "--epochs",
        "1",
        "--no-eval",
        "--weights-dtype",
        "float16",
    ]
    assert main(argv) == 0
    assert json.loads((out / "config.json").read_text())["weights_dtype"] == "float16"
    with safe_open(str(out / "model.safetensors"), "pt") as f:
        dtypes = {str(f.get_slice(k).get_dtype()) for k in f.keys()}  # noqa: SIM118
    assert "F16" in dtypes and "F32" not in dtypes
    model = load_checkpoint(out).model
    assert all(p.dtype == torch.float32 for p in model.parameters())


def test_train_refuses_an_unknown_weights_dtype(tmp_cache, capsys, tmp_path):
    with pytest.raises(SystemExit):
        main(
            [
                "train",
                "early_fusion",
                "--dataset",
                "sentiment",
                "--out",
                str(tmp_path / "x"),
                "--weights-dtype",
                "int8",
            ]
        )
    assert "invalid choice: 'int8'" in capsys.readouterr().err
    assert not (tmp_path / "x").exists()


def test_bench_app_reaches_the_app_benchmark_without_touching_sys_path(monkeypatch, capsys):
    import sys

    import ui.bench

    before = list(sys.path)
    monkeypatch.setattr(ui.bench, "bench_app", lambda sizes: {"sizes": sizes})
    assert main(["bench", "app", "--tiny", "--json"]) == 0
    assert json.loads(capsys.readouterr().out) == {"sizes": "tiny"}
    assert sys.path == before


def test_bench_record_keeps_the_app_and_browser_figures_side_by_side(tmp_path, monkeypatch, capsys):
    import ui.bench
    import ui.bench_browser

    monkeypatch.setenv("MMVIZ_RESULTS", str(tmp_path))
    monkeypatch.setattr(ui.bench, "bench_app", lambda sizes, **kw: {"app": kw})
    monkeypatch.setattr(ui.bench_browser, "bench_browser", lambda sizes, **kw: {"browser": kw})
    assert main(["bench", "app", "--record"]) == 0
    assert main(["bench", "browser", "--repeats", "3", "--record"]) == 0
    stored = json.loads((tmp_path / "app_bench.json").read_text())
    assert stored == {"app": {}, "browser": {"browser": {"repeats": 3}}}
    assert main(["bench", "app", "--repeats", "2", "--record"]) == 0  # browser's figures stay
    stored = json.loads((tmp_path / "app_bench.json").read_text())
    assert stored == {"app": {"repeats": 2}, "browser": {"browser": {"repeats": 3}}}
    assert "recorded in" in capsys.readouterr().err
    assert main(["bench", "fusion", "--record"]) == 2


def test_app_and_backend_never_import_tests_or_edit_sys_path():
    """tests/ is not part of the app: ui/, pages/, app.py and mmviz/ import nothing from it,
    and nothing in them edits sys.path to reach another package."""
    import ast
    from pathlib import Path

    root = Path(__file__).resolve().parent.parent
    files = [
        *root.glob("ui/*.py"),
        *root.glob("pages/*.py"),
        *root.glob("mmviz/**/*.py"),
        root / "app.py",
    ]
    hits = []
    for path in files:
        for node in ast.walk(ast.parse(path.read_text())):
            names = (
                [a.name for a in node.names]
                if isinstance(node, ast.Import)
                else [node.module or ""]
                if isinstance(node, ast.ImportFrom)
                else []
            )
            if any(n == "tests" or n.startswith("tests.") for n in names):
                hits.append(f"{path.relative_to(root)}:{node.lineno} imports tests")
            if isinstance(node, ast.Attribute) and ast.unparse(node) == "sys.path":
                hits.append(f"{path.relative_to(root)}:{node.lineno} uses sys.path")
    assert len(files) > 30 and not hits, hits
