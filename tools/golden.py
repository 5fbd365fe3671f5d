"""Record the golden set, tests/fixtures/golden, from the parity tests (needs Spark and MLeap).

    python -m tools.golden [PYTEST ARGS]     # default: the tests in tests/runtime (and FM in tests/bundler)

Runs the tests with LEAPSERVE_GOLDEN_RECORD set, so that every call of the parity harness writes
its bundle, records and Spark's answers as a case (tests/support/golden.py), and replaces the
folder with what they wrote. Record again when a parity test changes what it scores; the golden
test (tests/runtime/test_golden.py) replays the cases without Spark, on every supported Python.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from tests.support.golden import GOLDEN, RECORD_ENV

REPO = Path(__file__).resolve().parents[1]


def main(argv: list[str]) -> int:
    with tempfile.TemporaryDirectory(prefix="leapserve-golden-") as tmp:
        out = Path(tmp) / "golden"
        out.mkdir()
        env = {**os.environ, RECORD_ENV: str(out)}
        # Every test that compares with Spark through the harness records (not only the ones
        # marked parity: the edge cases live in the others).
        # (and the parity tests of ops only leapserve's own Spark ops write: FM, FPGrowth)
        args = argv or ["tests/runtime", "tests/bundler/test_spark_ops.py::test_factorization_machines",
                        "tests/bundler/test_spark_ops.py::test_fp_growth",
                        "-m", "not slow", "--ignore=tests/runtime/test_golden.py"]
        run = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *args], cwd=REPO, env=env)
        if run.returncode != 0:
            print("the parity tests failed: the golden set is left as it was", file=sys.stderr)
            return run.returncode
        if GOLDEN.exists():
            shutil.rmtree(GOLDEN)
        shutil.copytree(out, GOLDEN)
    cases = sorted(GOLDEN.iterdir())
    size = sum(f.stat().st_size for f in GOLDEN.rglob("*") if f.is_file())
    print(f"{len(cases)} cases, {size / 1e6:.1f} MB in {GOLDEN.relative_to(REPO)}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
