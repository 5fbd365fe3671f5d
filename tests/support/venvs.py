"""Virtual environments of their own for tools whose pins leapserve's environment need not share
(MLeap's scikit-learn package, PySpark 4), made once and kept in leapserve's cache beside the JVM
harness (``jars.cache_dir()/<name>/<digest>``; new pins or another Python make a new one).

    python = cached_python("sklearn-mleap", ("mleap==0.25.3", ...))
"""

from __future__ import annotations

import hashlib
import subprocess
import sys
from pathlib import Path

from leapserve.bundler import jars


def venv_dir(name: str, pins) -> Path:
    key = hashlib.sha256((" ".join(pins) + sys.version.split()[0]).encode()).hexdigest()[:16]
    return jars.cache_dir() / name / key


def cached_python(name: str, pins) -> Path:
    """The environment's interpreter, made first if missing (pip from the package index)."""
    target = venv_dir(name, pins)

    def build(staging: Path) -> None:
        # made in a staging folder and moved into place whole (jars.build_once), so a run that
        # stops half-way leaves nothing to be taken for complete; only bin/python is used, which
        # finds its environment from where it lies (console scripts would name the staging path)
        subprocess.run([sys.executable, "-m", "venv", str(staging)], check=True, capture_output=True)
        pip = subprocess.run([str(staging / "bin" / "python"), "-m", "pip", "install", "--quiet",
                              "--disable-pip-version-check", *pins], capture_output=True, text=True)
        if pip.returncode != 0:
            raise RuntimeError(f"pip install {' '.join(pins)} failed:\n{pip.stderr[-3000:]}")

    jars.build_once(target, build)
    return target / "bin" / "python"
