"""bundler.spark_session(): what it sets up in the JVM beyond Spark's defaults."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]

# A fresh session in its own process, so no earlier test has touched LAPACK in its JVM.
FRESH_SESSION = """
import sys
from leapserve import bundler
spark = bundler.spark_session()
dlamch = spark._jvm.org.netlib.lapack.Dlamch
print(dlamch.first, dlamch.dlamch("E") == 2.0 ** -53, dlamch.dlamch("S") == sys.float_info.min)
"""


def test_java_lapack_constants_are_set_before_any_task_runs():
    """Spark's Java LAPACK computes its machine constants on first use without a lock, so two tasks
    making that first call at once can get (and leave) wrong ones. The session has them computed
    on the driver before any job, so the first call has already happened: `first` is False."""
    proc = subprocess.run([sys.executable, "-c", FRESH_SESSION], cwd=REPO, capture_output=True, text=True,
                          timeout=300, env={**os.environ, "PYTHONPATH": str(REPO)})
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert proc.stdout.split() == ["False", "True", "True"], proc.stdout
