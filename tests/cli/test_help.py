"""`leapserve --help` and every command's --help answer at once: they import none of the heavy
packages (pyspark and py4j start nothing but take a second to import; numpy, pandas, pyarrow and
grpc each take a tenth or more). The commands import those when they run."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from leapserve.cli import COMMANDS

REPO = Path(__file__).resolve().parents[2]
HEAVY = ("pyspark", "py4j", "numpy", "pandas", "pyarrow", "grpc")

HELP = f"""
import sys
from leapserve.cli import main
try:
    main(sys.argv[1:])
except SystemExit as e:
    assert e.code == 0, e.code
print(" ".join(m for m in {HEAVY!r} if m in sys.modules), file=sys.stderr)
"""


@pytest.mark.parametrize("argv", [["--help"], *([name, "--help"] for name in COMMANDS)], ids=" ".join)
def test_help_imports_nothing_heavy(argv):
    proc = subprocess.run([sys.executable, "-c", HELP, *argv], capture_output=True, text=True, cwd=REPO,
                          timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith("usage: leapserve")
    assert proc.stderr == "\n", f"{' '.join(argv)} imported {proc.stderr.strip()}"
