"""`python -m mmviz ...`: datasets, training, evaluation, checkpoints and benchmarks.

Every command prints a readable summary, or JSON with `--json`. Errors the user can fix (an
unknown dataset, a malformed MNIST folder, a broken checkpoint) are one line on stderr and exit
status 2, never a traceback.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from typing import Any

from mmviz.registry import STUDY_NAMES


def _print(obj: Any, as_json: bool) -> None:
    if as_json:
        print(json.dumps(obj, indent=2, default=str))
        return
    if isinstance(obj, dict):
        for k, v in obj.items():
            if isinstance(v, dict):
                print(f"{k}:")
                for k2, v2 in v.items():
                    print(f"  {k2}: {v2}")
            else:
                print(f"{k}: {v}")
    else:
        print(obj)


def _head_order() -> dict[str, int]:
    from mmviz.zoo import HEADLINES

    return {label: i for i, (label, _) in enumerate(HEADLINES)}


def _parse_value(text: str) -> Any:
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        return text


def _overrides(pairs: list[str]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep:
            raise ValueError(f"--set expects key=value, got {pair!r}")
        out[key.strip()] = _parse_value(value)
    return out


# ---- commands -------------------------------------------------------------------------------
def cmd_data(args: argparse.Namespace) -> int:
    from mmviz.data import load_dataset

    options = {"mnist_dir": args.mnist} if args.mnist else {}
    ds = load_dataset(args.name, args.modalities, seed=args.seed, **options)
    summary = ds.summary()
    if args.json:
        _print(summary, True)
    else:
        print(f"{ds.name} (version {ds.version}, seed {ds.seed}): {len(ds)} samples")
        print("  splits: " + ", ".join(f"{k} {v}" for k, v in summary["splits"].items()))
        for m, s in ds.specs.items():
            rng = f" in {list(s.value_range)}" if s.value_range else ""
            voc = f", {len(s.vocab)} symbols" if s.vocab else ""
            print(
                f"  modality {m}: {s.kind} {tuple(s.shape)} {s.dtype}{rng}{voc} "
                f"-> {s.likelihood} likelihood"
            )
        print("  targets: " + ", ".join(sorted(ds.targets)))
        print("  factors: " + ", ".join(f"{k} ({v})" for k, v in ds.factor_kinds.items()))
    if args.preview:
        from mmviz.data.preview import preview_grid

        img = preview_grid(ds, n=args.preview_n, seed=args.seed)
        img.save(args.preview)
        print(f"wrote {args.preview} ({img.width}x{img.height})", file=sys.stderr)
    return 0


def cmd_train(args: argparse.Namespace) -> int:
    from mmviz.train import TrainSettings, run_training

    settings = TrainSettings(
        epochs=args.epochs,
        batch_size=args.batch_size,
        lr=args.lr,
        patience=args.patience,
        max_steps=args.max_steps,
        seed=args.seed,
    )
    path = run_training(
        args.model,
        args.dataset,
        args.modalities,
        args.out,
        _overrides(args.set),
        settings,
        evaluate=not args.no_eval,
        progress=not args.quiet,
        weights_dtype=args.weights_dtype,
        dataset_options={"mnist_dir": args.mnist} if args.mnist else None,
    )
    if path is not None:
        print(f"saved {path}")
    return 0


def cmd_train_all(args: argparse.Namespace) -> int:
    from mmviz import paths
    from mmviz.zoo import train_all

    root = Path(args.root) if args.root else paths.checkpoint_write_root()
    if not args.root and not paths.checkpoints_writable():
        print(
            f"mmviz train-all: the checkpoints inside the installed package stay as shipped; "
            f"writing to {root}",
            file=sys.stderr,
        )
    train_all(only=args.only, root=root, progress=not args.quiet)
    return 0


def cmd_eval(args: argparse.Namespace) -> int:
    from mmviz.evaluate import evaluate_checkpoint
    from mmviz.paths import checkpoints_writable

    write = not args.no_write
    if write and not checkpoints_writable():
        write = False
        print(
            "mmviz eval: the checkpoints inside the installed package stay as shipped; the "
            "metrics are printed, not written (copy the folder to ./checkpoints to keep them)",
            file=sys.stderr,
        )
    metrics = evaluate_checkpoint(args.id, write=write, quick=args.quick)
    _print(metrics, args.json)
    return 0


def cmd_demo_check(args: argparse.Namespace) -> int:
    """Every demo-quality target over the shipped generative checkpoints, with pass/fail.

    Exits 0 whether targets pass or not (the figures are the output); 2 only when it cannot
    run (no checkpoint, a broken one)."""
    from mmviz.demo import demo_check
    from mmviz.paths import checkpoints_writable

    write = args.write
    if write and not checkpoints_writable():
        write = False
        print(
            "mmviz demo-check: the checkpoints inside the installed package stay as shipped; "
            "the suites are reported, not written (copy the folder to ./checkpoints to keep "
            "them)",
            file=sys.stderr,
        )
    report = demo_check(
        only=args.only, from_meta=args.from_meta, progress=not args.json, write=write
    )
    if args.json:
        _print(report, True)
        return 0
    if args.markdown:
        print("| checkpoint | target | measured | needed | met |\n|---|---|---|---|---|")
        for t in report["targets"]:
            value = "n/a" if t["value"] is None else f"{t['value']:.3g}"
            met = "yes" if t["pass"] else "**no**"
            row = [t["checkpoint"], t["name"], value, f"{t['op']} {t['threshold']}", met]
            print("| " + " | ".join(row) + " |")
        return 0
    for t in report["targets"]:
        value = "n/a" if t["value"] is None else f"{t['value']:.3g}"
        mark = "PASS" if t["pass"] else "miss"
        cid, name, limit = t["checkpoint"], t["name"], f"{t['op']} {t['threshold']}"
        print(f"{mark}  {cid:<22} {name:<44} {value:>8} {limit}")
    print(f"default checkpoint (best demo score): {report['default']}")
    for cid, score in report["scores"].items():
        print(f"  {cid:<22} score {score if score is None else round(score, 3)}")
    return 0


def cmd_list(args: argparse.Namespace) -> int:
    from mmviz.zoo import checkpoint_table

    rows = checkpoint_table()
    if args.readme is not None:
        replace_marked_block(args.readme, markdown_table(rows))
        print(f"results table written into {args.readme}")
        return 0
    if args.json:
        _print(rows, True)
        return 0
    if args.markdown:
        print(markdown_table(rows))
        return 0
    if not rows:
        print("no checkpoints; build them with `python -m mmviz train-all`")
    for r in rows:
        head = ", ".join(f"{k} {v}" for k, v in r["headline"].items())
        mods = ",".join(r["modalities"])
        print(f"{r['id']:<24} {r['model']:<12} {r['dataset']:<10} {mods:<28} {head}")
        if r.get("problem"):
            print(f"{'':<24} ! {r['problem']}")
    return 0


def cmd_plugins(args: argparse.Namespace) -> int:
    """The installed plugins (`mmviz.datasets` and `mmviz.models` entry points), each loaded to
    check it; exit status 1 if any is refused or fails to load."""
    from mmviz import data, models
    from mmviz.plugins import DATASETS_GROUP, MODELS_GROUP

    rows = data.REGISTRY.report() + models.REGISTRY.report()
    if args.json:
        _print(rows, True)
    elif not rows:
        print(f"no plugins installed (entry-point groups {DATASETS_GROUP}, {MODELS_GROUP})")
    else:
        for r in rows:
            where = f"{r['entry_point']} ({r['distribution']})"
            print(f"{r['group']:<15} {r['name']:<16} {r['status']:<8} {where}")
            if r["message"]:
                print(f"{'':<15} ! {r['message']}")
    return int(any(r["status"] != "ok" for r in rows))


RESULTS_START, RESULTS_END = "<!-- results:start -->", "<!-- results:end -->"


def replace_marked_block(path: Path, body: str) -> None:
    """Replace the text between the results markers of `path` (kept) with `body`."""
    text = path.read_text()
    start, end = text.find(RESULTS_START), text.find(RESULTS_END)
    if start < 0 or end < start:
        raise ValueError(f"{path} has no {RESULTS_START} ... {RESULTS_END} block to replace")
    new = text[: start + len(RESULTS_START)] + "\n" + body + "\n" + text[end:]
    from mmviz.checkpoint import atomic_write_text

    atomic_write_text(path, new)


def markdown_table(rows: list[dict[str, Any]]) -> str:
    """The checkpoint list as a Markdown table (the README's results table is this output)."""
    order = _head_order()
    cols = sorted({k for r in rows for k in r["headline"]}, key=lambda k: order.get(k, 99))
    lines = [
        "| checkpoint | model | modalities | " + " | ".join(cols) + " | train time |",
        "|---" * (len(cols) + 4) + "|",
    ]
    for r in rows:
        vals = [f"{r['headline'][c]:.3g}" if c in r["headline"] else "" for c in cols]
        t = f"{r['wall_time_s']:.0f} s" if r.get("wall_time_s") else ""
        mods = ",".join(r["modalities"])
        lines.append(f"| {r['id']} | {r['model']} | {mods} | " + " | ".join(vals) + f" | {t} |")
    return "\n".join(lines)


def _app_benchmark():
    """`ui.bench.bench_app`: the app benchmark lives with the app (mmviz/ never imports
    Streamlit), in the checkout's ui/ package, which is importable wherever mmviz is imported
    from the checkout (`python -m mmviz` run in the repository root)."""
    try:
        from ui.bench import bench_app
    except ModuleNotFoundError as e:
        if e.name not in ("ui", "ui.bench"):
            raise ValueError(f"the app benchmark cannot run: {e}") from e
        raise ValueError(
            "the app benchmark needs the app's ui/ package: run `python -m mmviz bench app` "
            "from the repository root"
        ) from e
    except ImportError as e:
        raise ValueError(f"the app benchmark cannot run: {e}") from e
    return bench_app


def cmd_bench(args: argparse.Namespace) -> int:
    from mmviz import bench

    if args.what == "browser":
        from ui.bench_browser import bench_browser as fn
    else:
        fn = _app_benchmark() if args.what == "app" else getattr(bench, f"bench_{args.what}", None)
    if fn is None:
        raise ValueError(
            f"unknown benchmark {args.what!r}; choose from: fusion, interpret, steppers, app, "
            "browser"
        )
    if (args.record or args.repeats is not None) and args.what not in RECORDED:
        raise ValueError("--record and --repeats are for `bench app` and `bench browser` only")
    kwargs = {} if args.repeats is None else {"repeats": args.repeats}
    result = fn(sizes="tiny" if args.tiny else "default", **kwargs)
    _print(result, args.json)
    if args.record:
        print(f"recorded in {record_app_bench(args.what, result)}", file=sys.stderr)
    return 0


RECORDED = ("app", "browser")


def record_app_bench(what: str, result: dict[str, Any]) -> Path:
    """Store an app benchmark's result in results/app_bench.json: `bench app`'s figures at the
    top level, `bench browser`'s under "browser"; the other one's figures are kept."""
    from mmviz import paths
    from mmviz.checkpoint import atomic_write_json

    path = paths.results_write_root() / "app_bench.json"
    old = json.loads(path.read_text()) if path.exists() else {}
    if what == "browser":
        data = {**old, "browser": result}
    else:
        data = dict(result)
        if "browser" in old:
            data["browser"] = old["browser"]
    atomic_write_json(path, data)
    return path


def cmd_study(args: argparse.Namespace) -> int:
    """Run one reproduction study; print its verdict and where the results went."""
    from mmviz.studies import run_study

    result = run_study(
        args.name, quick=args.quick, out=args.out, seed=args.seed, progress=not args.quiet
    )
    if args.json:
        _print(result, True)
        return 0
    print(
        f"{result['study']}: {result['verdict']} ({result['wall_time_s']} s"
        f"{', quick' if result['quick'] else ''})"
    )
    print(f"  {result['verdict_reason']}")
    print(f"wrote {result['path']}")
    return 0


def app_dir() -> Path:
    """The folder holding app.py, pages/, ui/ and .streamlit/: `mmviz/_app/` in an installed
    wheel (setup.py copies them there), else the clone's root."""
    from mmviz import paths

    for folder in (paths.PACKAGE / "_app", paths.REPO):
        if (folder / "app.py").is_file():
            return folder
    raise ValueError(
        f"the app files are missing (no app.py in {paths.PACKAGE / '_app'} or {paths.REPO}); "
        "reinstall mmviz"
    )


def _config_flags(config: Path) -> list[str]:
    """The app's .streamlit/config.toml as command-line flags: Streamlit reads that file from
    the working directory only, and `mmviz app` runs wherever it is started."""
    import tomllib

    if not config.is_file():
        return []
    flags = []
    for section, options in tomllib.loads(config.read_text()).items():
        for key, value in options.items():
            text = str(value).lower() if isinstance(value, bool) else str(value)
            flags += [f"--{section}.{key}", text]
    return flags


def app_command(port: int, address: str) -> list[str]:
    """The `streamlit run` command line that `mmviz app` executes."""
    folder = app_dir()
    return [
        sys.executable, "-m", "streamlit", "run", str(folder / "app.py"),
        *_config_flags(folder / ".streamlit" / "config.toml"),
        "--server.address", address, "--server.port", str(port), "--server.headless", "true",
    ]  # fmt: skip


def cmd_app(args: argparse.Namespace) -> int:
    """Start the Streamlit app (from a clone or an installed package) until interrupted."""
    cmd = app_command(args.port, args.address)
    print(f"mmviz app on http://{args.address}:{args.port}", file=sys.stderr, flush=True)
    if os.name == "posix":
        os.execv(cmd[0], cmd)  # the server takes this process over: signals reach it directly
    import subprocess

    try:
        return subprocess.call(cmd)
    except KeyboardInterrupt:
        return 130


def cmd_lesson(args: argparse.Namespace) -> int:
    """Lessons: `check` validates files (exit 1 on a problem), `list` the lessons found,
    `fields` what a stop's state can set on a page, `claims` the kinds of claim a stop can make
    (`--markdown`: the tables in lessons/README.md)."""
    from mmviz import lessons, pagestate

    if args.action == "fields":
        pages = [args.target] if args.target else list(pagestate.PAGE_STATES)
        if args.markdown:
            print(lessons.fields_markdown(pages))
            return 0
        for page in pages:
            print(f"[{page}]")
            for row in pagestate.field_table(page):
                print(f"  {row['field']:<16} ?{row['url']:<14} {row['expects']}: {row['meaning']}")
        return 0
    if args.action == "claims":
        if args.markdown:
            print(lessons.claims_markdown())
            return 0
        for kind, text in lessons.claim_kinds().items():
            print(f"{kind}\n  {text}")
        return 0
    if args.action == "list":
        good, bad = lessons.list_lessons()
        for lesson in good:
            print(f"{lesson.id:<28} {len(lesson.stops):>2} stops  {lesson.duration:>3} min  "
                  f"{lesson.title}")  # fmt: skip
        for name, why in bad.items():
            print(f"{name:<28} BROKEN: {why}")
        return 0
    files = [args.target] if args.target else [str(p) for p in lessons.lesson_files()]
    if not files:
        print("no lesson files found", file=sys.stderr)
        return 1
    problems = [p for f in files for p in lessons.check_lesson(f, claims=args.claims)]
    for problem in problems:
        print(problem)
    if not problems:
        print(f"{len(files)} lesson file(s) OK" + (" (claims measured)" if args.claims else ""))
    return 1 if problems else 0


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="mmviz", description=__doc__.splitlines()[0])
    sub = p.add_subparsers(dest="command", required=True)

    d = sub.add_parser("data", help="build or load a dataset and describe it")
    d.add_argument("name", help="digits | sentiment | a plugin's (see `mmviz plugins`)")
    d.add_argument("--modalities", help="comma-separated subset, e.g. hand,label")
    d.add_argument("--seed", type=int, default=0)
    d.add_argument("--mnist", help="folder with MNIST IDX files (digits only)")
    d.add_argument("--preview", help="write a PNG grid of a few samples in every modality")
    d.add_argument("--preview-n", type=int, default=6)
    d.add_argument("--json", action="store_true")
    d.set_defaults(func=cmd_data)

    t = sub.add_parser("train", help="train one model and save a checkpoint")
    t.add_argument("model")
    t.add_argument("--dataset", default="digits")
    t.add_argument("--modalities", help="comma-separated, e.g. hand,label (default: all)")
    t.add_argument("--out", required=True, help="checkpoint folder, e.g. checkpoints/my_mvae")
    t.add_argument("--mnist", help="folder with MNIST IDX files: train on full MNIST (digits only)")
    t.add_argument("--epochs", type=int, default=20)
    t.add_argument("--batch-size", type=int, default=100)
    t.add_argument("--lr", type=float, default=1e-3)
    t.add_argument("--patience", type=int, default=5)
    t.add_argument("--max-steps", type=int)
    t.add_argument("--seed", type=int, default=0)
    t.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="model config field (JSON value), repeatable",
    )
    t.add_argument("--no-eval", action="store_true")
    t.add_argument(
        "--weights-dtype",
        # checkpoint.WEIGHTS_DTYPES' names, spelled out so that parsing needs no torch import
        choices=["float32", "float16"],
        default="float32",
        help="dtype the weights are stored in (float16 halves the file; metrics are measured "
        "on the stored weights)",
    )
    t.add_argument("--quiet", action="store_true")
    t.set_defaults(func=cmd_train)

    a = sub.add_parser("train-all", help="rebuild every shipped checkpoint")
    a.add_argument("--only", nargs="*", help="ids to rebuild (default: all)")
    a.add_argument(
        "--root",
        help="checkpoint folder (default: $MMVIZ_CHECKPOINTS, else ./checkpoints if it exists, "
        "else the clone's checkpoints/; never inside an installed package)",
    )
    a.add_argument("--quiet", action="store_true")
    a.set_defaults(func=cmd_train_all)

    e = sub.add_parser("eval", help="evaluate a checkpoint (also written into its meta.json)")
    e.add_argument("id")
    e.add_argument("--json", action="store_true")
    e.add_argument("--no-write", action="store_true")
    e.add_argument("--quick", action="store_true", help="a slice of the test set")
    e.set_defaults(func=cmd_eval)

    dc = sub.add_parser(
        "demo-check", help="judge the shipped generative models by what the pages show"
    )
    dc.add_argument("--json", action="store_true")
    dc.add_argument("--only", nargs="*", help="checkpoint ids (default: every generative one)")
    dc.add_argument(
        "--from-meta", action="store_true", help="read the suite stored in meta.json, do not rerun"
    )
    dc.add_argument("--write", action="store_true", help="store each rerun suite in its meta.json")
    dc.add_argument("--markdown", action="store_true", help="the targets as a Markdown table")
    dc.set_defaults(func=cmd_demo_check)

    ls = sub.add_parser("list", help="list checkpoints with headline metrics")
    ls.add_argument("--json", action="store_true")
    ls.add_argument("--markdown", action="store_true", help="a Markdown table")
    ls.add_argument(
        "--readme",
        type=Path,
        help="write the Markdown table into this file between its results markers",
    )
    ls.set_defaults(func=cmd_list)

    pl = sub.add_parser(
        "plugins", help="installed plugin datasets and models, each loaded to check it"
    )
    pl.add_argument("--json", action="store_true")
    pl.set_defaults(func=cmd_plugins)

    b = sub.add_parser("bench", help="speed benchmarks")
    b.add_argument("what", help="fusion | interpret | steppers | app | browser")
    b.add_argument("--tiny", action="store_true")
    b.add_argument("--json", action="store_true")
    b.add_argument("--repeats", type=int, help="times each interaction is measured (app, browser)")
    b.add_argument(
        "--record",
        action="store_true",
        help="store the result in results/app_bench.json (app: the top level; browser: under "
        '"browser")',
    )
    b.set_defaults(func=cmd_bench)

    ap = sub.add_parser("app", help="start the Streamlit app in the browser")
    ap.add_argument("--port", type=int, default=8501)
    ap.add_argument("--address", default="127.0.0.1", help="0.0.0.0 serves other machines too")
    ap.set_defaults(func=cmd_app)

    le = sub.add_parser("lesson", help="check, list or document lessons (lessons/*.toml)")
    le.add_argument("action", choices=["check", "list", "fields", "claims"])
    le.add_argument("target", nargs="?", help="check: a lesson file (default: all); fields: a page")
    le.add_argument(
        "--claims", action="store_true", help="check: also measure each claim on the models"
    )
    le.add_argument(
        "--markdown", action="store_true", help="fields, claims: as the tables of lessons/README.md"
    )
    le.set_defaults(func=cmd_lesson)

    st = sub.add_parser("study", help="rerun a paper's claim and write results/<name>.json")
    st.add_argument("name", choices=STUDY_NAMES, help="which study")
    st.add_argument(
        "--quick",
        action="store_true",
        help="tiny smoke run (< 1 min); writes <name>.quick.json, quick: true",
    )
    st.add_argument(
        "--out",
        help="results file (default: <name>.json in $MMVIZ_RESULTS, else ./results if it "
        "exists, else the clone's results/; never inside an installed package)",
    )
    st.add_argument("--seed", type=int, default=0)
    st.add_argument("--json", action="store_true")
    st.add_argument("--quiet", action="store_true")
    st.set_defaults(func=cmd_study)
    return p


# Errors the user can fix: one line on stderr, exit status 2. Named by module so that main()
# imports none of them (they import torch): an error of a class can only be raised once its
# module is imported.
USER_ERRORS = (
    ("mmviz.checkpoint", "CheckpointError"),
    ("mmviz.data.base", "DataError"),
    ("mmviz.models.base", "UnsupportedSubset"),
)


def _user_errors() -> tuple[type[BaseException], ...]:
    loaded = [getattr(sys.modules[m], n) for m, n in USER_ERRORS if m in sys.modules]
    return (ValueError, *loaded)


def main(argv: list[str] | None = None) -> int:
    try:
        try:
            return _run(argv)
        finally:
            sys.stdout.flush()  # inside the try: a closed pipe fails here, not at exit
    except BrokenPipeError:
        # The reader went away (`mmviz list | head -1`): stop quietly. Point stdout at devnull
        # so that the interpreter's final flush does not fail a second time.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
        return 1


def _run(argv: list[str] | None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except Exception as e:
        if not isinstance(e, _user_errors()):
            raise
        print(f"mmviz {args.command}: {e}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
