"""Make the package importable before it is installed into the venv (`uv sync --all-packages`).

A freshly generated project is a new uv workspace member that the venv does not know yet; putting
``src/`` on ``sys.path`` lets its tests run right after ``twelve new``. Once installed, the
installed (editable) package is the same folder, so this changes nothing.
"""

import importlib.util
import sys
from pathlib import Path

if importlib.util.find_spec("{{ cookiecutter.name }}") is None:
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))
