"""PySpark 4 in a virtual environment of its own (tests/support/venvs.py), for the tests of models
saved by Spark 4: tests/bundler/spark4_job.py runs in it and trains and saves them.
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

from tests.support import venvs

# The Spark 4 release line whose saved models leapserve export accepts (docs/export.md); Java 17
# runs both it and the pinned Spark 3.5.
PINS = ("pyspark==4.0.5", "numpy==2.4.6")
JOB = Path(__file__).resolve().parents[1] / "bundler" / "spark4_job.py"


def python() -> Path:
    """The environment's interpreter, made first if missing (pip from the package index; a few
    minutes: PySpark's sdist is 430 MB)."""
    return venvs.cached_python("pyspark4", PINS)


def run_job(out: Path, timeout: float = 900) -> dict:
    """Train and save the Spark 4 models into ``out`` (see spark4_job.py); returns its summary."""
    # the environment's own PySpark and Spark: nothing of leapserve's (PYTHONPATH, SPARK_HOME)
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "SPARK_HOME", "PYSPARK_PYTHON")}
    done = subprocess.run([str(python()), str(JOB), str(out)], capture_output=True, text=True, env=env,
                          timeout=timeout)
    if done.returncode != 0:
        raise RuntimeError(f"spark4_job.py failed:\n{done.stderr[-4000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])
