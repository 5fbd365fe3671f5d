"""MLeap's Python package for scikit-learn, in a virtual environment of its own (it pins
scikit-learn ~= 1.0 and pandas, which leapserve's environment need not share), made once and kept
in leapserve's cache beside the JVM harness (tests/support/venvs.py:
``jars.cache_dir()/sklearn-mleap/<digest>``). tests/support/sklearn_writer.py runs in it and writes the
bundles the tests read.
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

from tests.support import venvs

# MLeap 0.25.x is the release whose scikit-learn support works with current scikit-learn (issue 15)
PINS = ("mleap==0.25.3", "scikit-learn==1.9.1", "pandas==3.1.1", "numpy==2.4.6")
WRITER = Path(__file__).resolve().parent / "sklearn_writer.py"


def venv_dir() -> Path:
    return venvs.venv_dir("sklearn-mleap", PINS)


def python() -> Path:
    """The environment's interpreter, made first if missing (pip from the package index)."""
    return venvs.cached_python("sklearn-mleap", PINS)


def write_bundles(out: Path) -> dict:
    """Run the writer in the environment; returns its expected.json (see sklearn_writer.py)."""
    done = subprocess.run([str(python()), str(WRITER), str(out)], capture_output=True, text=True,
                          env={k: v for k, v in os.environ.items() if k != "PYTHONPATH"})
    if done.returncode != 0:
        raise RuntimeError(f"sklearn_writer.py failed:\n{done.stderr[-3000:]}")
    return json.loads((out / "expected.json").read_text())
