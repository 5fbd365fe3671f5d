"""MLeap's Python package for scikit-learn, in a virtual environment of its own (it pins
scikit-learn ~= 1.0 and pandas, which leapserve's environment need not share), made once and kept
in leapserve's cache beside the JVM harness (``jars.cache_dir()/sklearn-mleap/<digest>``; new
pins or another Python make a new one). tests/support/sklearn_writer.py runs in it and writes the
bundles the tests read.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

from leapserve.bundler import jars

# MLeap 0.25.x is the release whose scikit-learn support works with current scikit-learn (issue 15)
PINS = ("mleap==0.25.3", "scikit-learn==1.9.1", "pandas==3.1.1", "numpy==2.4.6")
WRITER = Path(__file__).resolve().parent / "sklearn_writer.py"


def venv_dir() -> Path:
    key = hashlib.sha256((" ".join(PINS) + sys.version.split()[0]).encode()).hexdigest()[:16]
    return jars.cache_dir() / "sklearn-mleap" / key


def python() -> Path:
    """The environment's interpreter, made first if missing (pip from the package index)."""
    target = venv_dir()

    def build(staging: Path) -> None:
        # made in a staging folder and moved into place whole (jars.build_once), so a run that
        # stops half-way leaves nothing to be taken for complete; only bin/python is used, which
        # finds its environment from where it lies (console scripts would name the staging path)
        subprocess.run([sys.executable, "-m", "venv", str(staging)], check=True, capture_output=True)
        pip = subprocess.run([str(staging / "bin" / "python"), "-m", "pip", "install", "--quiet",
                              "--disable-pip-version-check", *PINS], capture_output=True, text=True)
        if pip.returncode != 0:
            raise RuntimeError(f"pip install {' '.join(PINS)} failed:\n{pip.stderr[-3000:]}")

    jars.build_once(target, build)
    return target / "bin" / "python"


def write_bundles(out: Path) -> dict:
    """Run the writer in the environment; returns its expected.json (see sklearn_writer.py)."""
    done = subprocess.run([str(python()), str(WRITER), str(out)], capture_output=True, text=True,
                          env={k: v for k, v in os.environ.items() if k != "PYTHONPATH"})
    if done.returncode != 0:
        raise RuntimeError(f"sklearn_writer.py failed:\n{done.stderr[-3000:]}")
    return json.loads((out / "expected.json").read_text())
