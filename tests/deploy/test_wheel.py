"""The wheel as a user gets it: built from the repository's files, installed with its dependencies
into a fresh virtual environment, and used from an application folder that holds its own
`server.py`, `bundler.py` and `server/` package (names leapserve must not take)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tomllib
import zipfile
from pathlib import Path

import pytest

from leapserve.runtime import load_bundle
from tests.support.bundles import LR_ZIP, airbnb_record

REPO = Path(__file__).resolve().parents[2]
VERSION = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["version"]
# Where each folder's modules land in the wheel (pyproject's package-dir).
FOLDERS = {"leapserve": "leapserve", "server": "leapserve/server", "bundler": "leapserve/bundler"}
# An application's own modules with leapserve's old top-level names: importing any of them fails.
APP_FILES = {
    "server.py": "raise ImportError('the application server.py was imported')\n",
    "bundler.py": "raise ImportError('the application bundler.py was imported')\n",
    "server/__init__.py": "raise ImportError('the application server package was imported')\n",
}


def run(*args, **kwargs) -> subprocess.CompletedProcess:
    kwargs.setdefault("timeout", 600)
    return subprocess.run([str(a) for a in args], capture_output=True, text=True, **kwargs)


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    """Built from a copy of the files git knows (tracked, or new and not ignored), so that build
    output and caches in the checkout cannot slip in."""
    work = tmp_path_factory.mktemp("wheel")
    listed = run("git", "ls-files", "--cached", "--others", "--exclude-standard", cwd=REPO, check=True)
    for rel in listed.stdout.splitlines():
        if (REPO / rel).is_file():
            (work / "src" / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(REPO / rel, work / "src" / rel)
    built = run(sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "--no-build-isolation",
                "--wheel-dir", work / "dist", work / "src")
    assert built.returncode == 0, built.stderr
    (work / "build.log").write_text(built.stdout + built.stderr)
    (path,) = (work / "dist").glob("leapserve-*.whl")
    return path


def test_the_wheel_builds_without_warnings(wheel):
    """setuptools warns of folders it would leave out or that look like packages it was not told of
    (a data folder not listed in pyproject.toml): users building the image see those warnings."""
    log = (wheel.parents[1] / "build.log").read_text()
    assert "Warning" not in log, log


def test_the_wheel_holds_leapserve_alone(wheel):
    names = zipfile.ZipFile(wheel).namelist()
    assert {n.split("/")[0] for n in names} == {"leapserve", f"leapserve-{VERSION}.dist-info"}


def test_the_wheel_holds_every_module_and_the_jvm_configuration(wheel):
    names = set(zipfile.ZipFile(wheel).namelist())
    expected = {f"{target}/{p.relative_to(REPO / folder).as_posix()}"
                for folder, target in FOLDERS.items() for p in (REPO / folder).rglob("*.py")}
    jvm = REPO / "bundler" / "jvm"
    expected |= {f"leapserve/bundler/jvm/{p.relative_to(jvm).as_posix()}" for p in jvm.rglob("*") if p.is_file()}
    missing = sorted(expected - names)
    assert not missing, f"the wheel lacks {missing} (a new package must be listed in pyproject.toml)"
    assert not any(n.startswith(("leapserve/tools", "leapserve/tests")) for n in names)


@pytest.fixture(scope="module")
def installed(wheel, tmp_path_factory) -> tuple[Path, Path]:
    """(virtual environment, application folder)."""
    work = tmp_path_factory.mktemp("installed")
    venv = work / "venv"
    made = run(sys.executable, "-m", "venv", venv)
    assert made.returncode == 0, made.stderr
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PIP_NO_CACHE_DIR")}
    pip = run(venv / "bin" / "python", "-m", "pip", "install", "--quiet", "--disable-pip-version-check", wheel,
              env=env)
    assert pip.returncode == 0, pip.stderr
    app = work / "app"
    for rel, text in APP_FILES.items():
        (app / rel).parent.mkdir(parents=True, exist_ok=True)
        (app / rel).write_text(text)
    return venv, app


def app_env(app: Path, with_pythonpath: bool) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTHON", "LEAPSERVE_"))}
    if with_pythonpath:
        env["PYTHONPATH"] = str(app)  # common in Dockerfiles: the application folder on the path
    return env


# argv: the bundle, the record as JSON; prints the prediction exactly (repr).
SCORE = """
import json, sys, leapserve
print(repr(leapserve.load_bundle(sys.argv[1]).transform(json.loads(sys.argv[2]))["price_prediction"]))
import leapserve.server.app, leapserve.bundler, leapserve.cli  # every part imports (no pyspark needed)
"""


@pytest.mark.parametrize("with_pythonpath", [False, True], ids=["cwd", "PYTHONPATH"])
def test_import_and_score_from_an_application_folder(installed, with_pythonpath):
    """The installed wheel scores the airbnb record exactly as the checkout does."""
    venv, app = installed
    record = airbnb_record()
    out = run(venv / "bin" / "python", "-c", SCORE, LR_ZIP, json.dumps(record), cwd=app,
              env=app_env(app, with_pythonpath))
    assert out.returncode == 0, out.stderr
    assert float(out.stdout.split()[0]) == load_bundle(LR_ZIP).transform(record)["price_prediction"]


@pytest.mark.parametrize("with_pythonpath", [False, True], ids=["cwd", "PYTHONPATH"])
def test_console_script_from_an_application_folder(installed, with_pythonpath):
    venv, app = installed
    env = app_env(app, with_pythonpath)
    shown = run(venv / "bin" / "leapserve", "inspect", LR_ZIP, cwd=app, env=env)
    assert shown.returncode == 0, shown.stderr
    assert "price_prediction" in shown.stdout
    helped = run(venv / "bin" / "leapserve", "--help", cwd=app, env=env)
    assert helped.returncode == 0 and "serve" in helped.stdout, helped.stderr
