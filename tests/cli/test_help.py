"""`leapserve --help` and every command's --help answer at once: they import none of the heavy
packages (pyspark and py4j start nothing but take a second to import; numpy, pandas, pyarrow and
grpc each take a tenth or more). The commands import those when they run.

What --help says: every default, every environment variable the command reads, its exit codes, what
--debug shows; and what every command shares: --version, one error form, no bare traceback."""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from leapserve.cli import COMMANDS

REPO = Path(__file__).resolve().parents[2]
HEAVY = ("pyspark", "py4j", "numpy", "pandas", "pyarrow", "grpc", "aiohttp", "uvloop")

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
    assert (r.returncode, r.stderr) == (2, "leapserve predict: error: LEAPSERVE_TIMEOUT='soon': expected a number of "
                                           "seconds > 0\n")


def test_unexpected_failures_are_one_line(tmp_path):
    """Whatever goes wrong, no bare traceback: one line naming the exception, the trace with --debug.
    No input is known to cause such a failure, so the test puts one in the command's place."""
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


def _actions(name):
    """The options of command ``name`` shown in its --help."""
    from leapserve.cli import build_parser

    parser = build_parser([name])
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    return [a for a in sub.choices[name]._actions if a.help != argparse.SUPPRESS]


@pytest.mark.parametrize("name", COMMANDS)
def test_every_default_is_shown(name, monkeypatch):
    for key in [k for k in os.environ if k.startswith("LEAPSERVE_")]:
        monkeypatch.delenv(key)
    for action in _actions(name):
        if action.option_strings and action.default not in (None, False, argparse.SUPPRESS, "==SUPPRESS=="):
            assert "default" in action.help, f"{name} {action.option_strings[0]}: default {action.default!r} not shown"


# Every environment variable each command reads (found by reading the code: os.environ and
# leapserve.cli.environment), which its --help must name.
READS = {
    "export": ["JAVA_HOME", "LEAPSERVE_CACHE", "LEAPSERVE_SPARK_MASTER", "LEAPSERVE_SPARK_DRIVER_MEMORY"],
    "score": ["JAVA_HOME", "LEAPSERVE_CACHE", "LEAPSERVE_SPARK_MASTER", "LEAPSERVE_SPARK_DRIVER_MEMORY",
              "LEAPSERVE_MAX_BUNDLE_BYTES"],
    "inspect": ["LEAPSERVE_MAX_BUNDLE_BYTES", "LEAPSERVE_MAX_TREE_NODES", "LEAPSERVE_MAX_STRING_LENGTH"],
    "serve": ["LEAPSERVE_PORT", "LEAPSERVE_MODEL_DIR", "LEAPSERVE_MAX_BUNDLE_BYTES", "PROMETHEUS_MULTIPROC_DIR",
              "OTEL_TRACES_EXPORTER"],
    "predict": ["LEAPSERVE_ADDRESS", "LEAPSERVE_UDS", "LEAPSERVE_HOST", "LEAPSERVE_PORT", "LEAPSERVE_MODEL_NAME",
                "LEAPSERVE_TIMEOUT"],
    "health": ["LEAPSERVE_ADDRESS", "LEAPSERVE_HEALTH_PORT", "LEAPSERVE_HEALTH_HOST", "LEAPSERVE_UDS",
               "LEAPSERVE_HOST", "LEAPSERVE_PORT"],
}


@pytest.mark.parametrize("name", COMMANDS)
def test_help_names_variables_exit_codes_and_debug(name):
    r = run_leapserve(name, "--help")
    text = " ".join(r.stdout.split())  # argparse wraps lines
    for variable in READS[name]:
        assert variable in text, f"leapserve {name} --help does not name {variable}"
    assert "exit codes: 0 " in text and " 2 usage" in text
    # --debug says what it shows for this command: Java stack traces only where Spark runs
    debug = re.search(r"--debug (.*?) --", text).group(1)
    assert ("Java" in debug) == (name in ("export", "score")), debug


def test_export_usage_shows_output_as_required():
    """--output is required (checked by the command, as its old name --out also sets it): the usage
    line showed it in brackets as optional."""
    usage = " ".join(run_leapserve("export", "--help").stdout.split("\n\n")[0].split())
    assert " --output PATH " in usage and "[--output PATH]" not in usage, usage
    r = run_leapserve("export", "--spark-model", "m", "--sample", "s")
    assert (r.returncode, r.stderr) == (2, "leapserve export: error: the following arguments are required: --output\n")
