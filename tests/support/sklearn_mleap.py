"""MLeap's Python package for scikit-learn, in a virtual environment of its own (it pins
scikit-learn ~= 1.0 and pandas, which leapserve's environment need not share), made once and kept
in leapserve's cache beside the JVM harness (``jars.cache_dir()/sklearn-mleap/<digest>``; a new
pin or writer script makes a new one). tests/support/sklearn_writer.py runs in it and writes the
bundles the tests read.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
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
    if (target / "complete").exists():
        return target / "bin" / "python"
    # a venv's scripts name their own folder, so it is built in place; "complete" marks it usable
    # and a half-made one (an interrupted run) is made again
    if target.exists():
        shutil.rmtree(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    subprocess.run([sys.executable, "-m", "venv", str(target)], check=True, capture_output=True)
    pip = subprocess.run([str(target / "bin" / "python"), "-m", "pip", "install", "--quiet",
                          "--disable-pip-version-check", *PINS], capture_output=True, text=True)
    if pip.returncode != 0:
        raise RuntimeError(f"pip install {' '.join(PINS)} failed:\n{pip.stderr[-3000:]}")
    (target / "complete").write_text(json.dumps(PINS))
    return target / "bin" / "python"


def write_bundles(out: Path) -> dict:
    """Run the writer in the environment; returns its expected.json (see sklearn_writer.py)."""
    done = subprocess.run([str(python()), str(WRITER), str(out)], capture_output=True, text=True,
                          env={k: v for k, v in os.environ.items() if k != "PYTHONPATH"})
    if done.returncode != 0:
        raise RuntimeError(f"sklearn_writer.py failed:\n{done.stderr[-3000:]}")
    return json.loads((out / "expected.json").read_text())
