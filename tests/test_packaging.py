"""mmviz as a package: the command answers fast (no torch import to parse or list), output into
a closed pipe ends quietly, and a wheel installed outside the repository lists and evaluates
its shipped checkpoints and serves the app (`mmviz app`)."""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PY = sys.executable
# What the wheel is built from (setup.py copies the app and the data into the package).
SOURCE = [
    "pyproject.toml",
    "setup.py",
    "MANIFEST.in",
    "LICENSE",
    "README.md",
    "requirements.txt",
    "mmviz",
    "app.py",
    "pages",
    "ui",
    ".streamlit",
    "checkpoints",
    "results",
    "lessons",
]


def clean_env(**extra: str) -> dict[str, str]:
    """The environment without MMVIZ_* folders or PYTHONPATH, plus `extra`."""
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("MMVIZ_CHECKPOINTS", "MMVIZ_RESULTS", "MMVIZ_LESSONS", "PYTHONPATH")
    }
    return {**env, **extra}


def test_study_names_without_torch_match_the_studies():
    from mmviz import registry, studies

    assert tuple(studies.STUDIES) == registry.STUDY_NAMES


def test_help_and_list_import_no_torch():
    code = (
        "import sys\n"
        "from mmviz.cli import main\n"
        "for argv in (['--help'], ['study', '--help'], ['app', '--help']):\n"
        "    try:\n"
        "        main(argv)\n"
        "    except SystemExit as e:\n"
        "        assert e.code == 0, argv\n"
        "assert main(['list', '--json']) == 0\n"
        "assert main(['list']) == 0\n"
        "heavy = sorted(m for m in sys.modules if m.split('.')[0] in ('torch', 'streamlit'))\n"
        "assert not heavy, heavy\n"
    )
    p = subprocess.run(
        [PY, "-c", code], cwd=ROOT, env=clean_env(), capture_output=True, text=True, timeout=120
    )
    assert p.returncode == 0, p.stderr
    assert "study" in p.stdout and "oracle_text" in p.stdout


@pytest.mark.parametrize("argv", [["--help"], ["list"]])
def test_help_and_list_answer_within_a_second(argv):
    times = []
    for _ in range(3):  # the best of three: a busy machine can stall any one run
        t0 = time.perf_counter()
        subprocess.run(
            [PY, "-m", "mmviz", *argv],
            cwd=ROOT,
            env=clean_env(),
            check=True,
            capture_output=True,
            timeout=60,
        )
        times.append(time.perf_counter() - t0)
    assert min(times) < 1.0, times


@pytest.mark.parametrize("argv", [["list"], ["list", "--json"], ["--help"]])
def test_output_into_a_closed_pipe_ends_quietly(argv):
    """`mmviz list | head -1`: the reader has gone before mmviz writes; no traceback."""
    read, write = os.pipe()
    os.close(read)
    try:
        p = subprocess.run(
            [PY, "-m", "mmviz", *argv],
            cwd=ROOT,
            env=clean_env(),
            stdout=write,
            stderr=subprocess.PIPE,
            text=True,
            timeout=60,
        )
    finally:
        os.close(write)
    assert p.stderr == ""
    assert p.returncode in (0, 1)


def test_app_command_runs_the_apps_files_with_its_settings():
    from mmviz.cli import app_command, app_dir

    cmd = app_command(8765, "127.0.0.1")
    assert cmd[:4] == [PY, "-m", "streamlit", "run"]
    assert Path(cmd[4]) == app_dir() / "app.py" == ROOT / "app.py"  # from a clone: its own
    flags = dict(zip(cmd[5::2], cmd[6::2], strict=True))
    assert flags["--server.port"] == "8765" and flags["--server.address"] == "127.0.0.1"
    assert flags["--runner.postScriptGC"] == "false"  # from .streamlit/config.toml
    assert flags["--server.maxUploadSize"] == "5"


# ---- the wheel ------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def installed(tmp_path_factory) -> Path:
    """The wheel built from a copy of the source and installed with `pip --target` (its
    dependencies are this interpreter's): the folder to put on PYTHONPATH."""
    tmp = tmp_path_factory.mktemp("wheel")
    src = tmp / "src"
    src.mkdir()
    skip = shutil.ignore_patterns("__pycache__", "*.pyc")
    for name in SOURCE:
        if (ROOT / name).is_dir():
            shutil.copytree(ROOT / name, src / name, ignore=skip)
        elif (ROOT / name).is_file():
            shutil.copy2(ROOT / name, src / name)
    pip = [PY, "-m", "pip", "--disable-pip-version-check", "-q"]
    subprocess.run(
        [*pip, "wheel", "--no-deps", "--no-build-isolation", "-w", str(tmp / "dist"), str(src)],
        check=True,
        timeout=300,
        env=clean_env(),
    )
    (wheel,) = (tmp / "dist").glob("mmviz-*.whl")
    target = tmp / "site"
    subprocess.run(
        [*pip, "install", "--no-deps", "--no-compile", "--target", str(target), str(wheel)],
        check=True,
        timeout=300,
        env=clean_env(),
    )
    return target


def run_installed(target: Path, cwd: Path, *argv: str, timeout: float = 300):
    """`mmviz ARGV` through the installed console script, in `cwd` (outside the repository)."""
    return subprocess.run(
        [PY, str(target / "bin" / "mmviz"), *argv],
        cwd=cwd,
        env=clean_env(PYTHONPATH=str(target)),
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def test_installed_wheel_lists_and_evaluates_its_shipped_checkpoints(installed, tmp_path):
    from mmviz.registry import list_ids

    where = tmp_path / "elsewhere"
    where.mkdir()
    p = run_installed(installed, where, "list", "--json")
    assert p.returncode == 0, p.stderr
    rows = json.loads(p.stdout)
    assert [r["id"] for r in rows] == list_ids(ROOT / "checkpoints")
    assert (installed / "mmviz" / "_shipped" / "checkpoints" / "oracle_text").is_dir()
    code = "import mmviz.paths as p; print(p.checkpoint_root()); print(p.results_root())"
    p = subprocess.run(
        [PY, "-c", code],
        cwd=where,
        env=clean_env(PYTHONPATH=str(installed)),
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    shipped = installed / "mmviz" / "_shipped"
    assert p.stdout.split() == [str(shipped / "checkpoints"), str(shipped / "results")]

    p = run_installed(installed, where, "eval", "oracle_text", "--quick", "--no-write", "--json")
    assert p.returncode == 0, p.stderr
    assert json.loads(p.stdout)["test_accuracy"] > 0.9

    # A study run from the install writes into ./results, never into site-packages.
    p = run_installed(installed, where, "study", "jmvae-alpha", "--quick", "--quiet")
    assert p.returncode == 0, p.stderr
    assert (where / "results" / "jmvae-alpha.quick.json").is_file()
    assert not (shipped / "results" / "jmvae-alpha.quick.json").exists()

    # The working directory's checkpoints/ comes before the packaged zoo.
    (where / "checkpoints").mkdir()
    p = run_installed(installed, where, "list", "--json")
    assert p.returncode == 0 and json.loads(p.stdout) == []


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_installed_wheel_serves_the_app(installed, tmp_path):
    from tests.st_client import Session

    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    log = (tmp_path / "app.log").open("w")
    server = subprocess.Popen(
        [PY, str(installed / "bin" / "mmviz"), "app", "--port", str(port)],
        cwd=tmp_path,
        env=clean_env(PYTHONPATH=str(installed)),
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            assert server.poll() is None, (tmp_path / "app.log").read_text()
            try:
                with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as r:
                    assert r.read() == b"ok"
                    break
            except OSError:
                assert time.monotonic() < deadline, "no health answer within 60 s"
                time.sleep(0.5)

        async def home():
            async with Session(url) as s:
                return await s.run("")

        cmdline = Path(f"/proc/{server.pid}/cmdline")
        if cmdline.exists():  # `mmviz app` became the server, running the installed app
            assert str(installed / "mmviz" / "_app" / "app.py") in cmdline.read_text()
        run = asyncio.run(asyncio.wait_for(home(), 120))
        assert run.errors == []
        text = " ".join(m.body for m in run.of("markdown"))
        assert "mvae_hand_label" in text  # the home page lists the packaged zoo
    finally:
        server.terminate()
        server.wait(timeout=30)
        log.close()
