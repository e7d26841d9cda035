"""Build step that pyproject.toml cannot declare: the app and the shipped data go into the wheel.

The repository keeps `app.py`, `pages/`, `ui/` and `.streamlit/config.toml` at its root (so that
`make run`, i.e. `streamlit run app.py`, works from a clone) and `checkpoints/` and `results/`
beside them. A wheel carries them inside the package instead:

    mmviz/_app/      app.py, pages/, ui/, .streamlit/config.toml   (`mmviz app` runs this)
    mmviz/_shipped/  checkpoints/, results/, lessons/ if present   (mmviz.paths' defaults)

Editable installs skip the copy: there mmviz/ sits in the clone and finds the originals.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

ROOT = Path(__file__).resolve().parent
APP = ["app.py", "pages", "ui", ".streamlit/config.toml"]
SHIPPED = ["checkpoints", "results", "lessons"]
SKIP = shutil.ignore_patterns("__pycache__", "*.pyc", ".*.old", ".*.tmp*")


class build_py_with_app(build_py):  # noqa: N801 - setuptools command naming
    def run(self) -> None:
        super().run()
        if getattr(self, "editable_mode", False):
            return
        package = Path(self.build_lib) / "mmviz"
        for dest, names in ((package / "_app", APP), (package / "_shipped", SHIPPED)):
            shutil.rmtree(dest, ignore_errors=True)  # nothing stale from an earlier build
            self._copy(names, dest)

    def _copy(self, names: list[str], dest: Path) -> None:
        for name in names:
            src = ROOT / name
            if not src.exists():
                continue
            target = dest / name
            target.parent.mkdir(parents=True, exist_ok=True)
            if src.is_dir():
                shutil.copytree(src, target, ignore=SKIP, dirs_exist_ok=True)
            else:
                shutil.copy2(src, target)


setup(cmdclass={"build_py": build_py_with_app})
