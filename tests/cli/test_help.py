"""`leapserve --help` and every command's --help answer at once: they import none of the heavy
packages (pyspark and py4j start nothing but take a second to import; numpy, pandas, pyarrow and
grpc each take a tenth or more). The commands import those when they run."""

from __future__ import annotations

import os
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


def run_leapserve(*args, env=None):
    return subprocess.run([sys.executable, "-m", "leapserve.cli", *args], capture_output=True, text=True, cwd=REPO,
                          timeout=60, env={**{k: v for k, v in os.environ.items() if not k.startswith("LEAPSERVE_")},
                                           **(env or {})})


def test_version():
    from importlib.metadata import version

    r = run_leapserve("--version")
    assert (r.returncode, r.stdout, r.stderr) == (0, f"leapserve {version('leapserve')}\n", "")


def test_a_command_reads_only_its_own_variables(tmp_path):
    """A malformed LEAPSERVE_PORT is serve's (and predict's) business, not inspect's; where it
    matters it is a usage error in the common form."""
    from tests.support.bundles import RF_ZIP

    r = run_leapserve("inspect", str(RF_ZIP), env={"LEAPSERVE_PORT": "abc", "LEAPSERVE_TIMEOUT": "soon"})
    assert r.returncode == 0, r.stderr
    r = run_leapserve("predict", "--model", "m", "--json", "{}", env={"LEAPSERVE_TIMEOUT": "soon"})
    assert (r.returncode, r.stderr) == (2, "leapserve predict: error: LEAPSERVE_TIMEOUT='soon': could not convert "
                                           "string to float: 'soon'\n")


def test_unexpected_failures_are_one_line(tmp_path):
    """Whatever goes wrong, no bare traceback: one line naming the exception, the trace with --debug."""
    crash = ("import sys, leapserve.cli.inspect as i; from leapserve.cli import main\n"
             "def boom(args, debug): raise RuntimeError('disk on fire')\n"
             "i._run_bundle = boom\nsys.exit(main(sys.argv[1:]))")
    for debug in ([], ["--debug"]):
        r = subprocess.run([sys.executable, "-c", crash, *debug, "inspect", "x.zip"], capture_output=True,
                           text=True, cwd=REPO, timeout=60)
        last = r.stderr.splitlines()[-1]
        assert r.returncode == 1 and last == ("leapserve inspect: error: unexpected failure: RuntimeError: disk on "
                                              "fire (run with --debug for the full trace)"), r.stderr
        assert ("Traceback" in r.stderr) == bool(debug), r.stderr
