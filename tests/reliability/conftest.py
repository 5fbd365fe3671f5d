"""Fixtures of the reliability tests: real `leapserve serve` processes, copies of real bundles, and
the figures each test records.

Long runs are marked ``slow``: pyproject's addopts leave them out (``-m 'not slow'``); run them with
``pytest -m slow tests/reliability``. Every test also has a short version that always runs.
"""

from __future__ import annotations

import json
import shutil
import time
from pathlib import Path

import pytest

from tests.support.servers import ServerProcess, free_port

HERE = Path(__file__).resolve().parent

REPO = HERE.parents[1]
FIGURES = REPO / "build" / "reliability"


@pytest.fixture
def figures(request):
    """figures(name=value, ...) records a test's figures; they are printed and written to
    build/reliability/<test>.json when the test ends."""
    recorded: dict = {}

    def record(**values):
        recorded.update(values)

    yield record
    if recorded:
        FIGURES.mkdir(parents=True, exist_ok=True)
        name = request.node.name.replace("/", "_").replace(" ", "_")
        recorded["when"] = time.strftime("%Y-%m-%d %H:%M:%S")
        (FIGURES / f"{name}.json").write_text(json.dumps(recorded, indent=2, default=str) + "\n")
        print(f"\nFIGURES {request.node.name}: {json.dumps(recorded, default=str)}")


@pytest.fixture
def start_server(tmp_path_factory):
    """start_server(*args, env=None, wait="SERVING") -> a running ServerProcess on a free port;
    every server started is stopped when the test ends."""
    started: list[ServerProcess] = []
    logs = tmp_path_factory.mktemp("server-logs")

    def start(*args, env=None, wait="SERVING", timeout=60.0):
        port = free_port()
        args = [str(a) for a in args] + ["--port", str(port)]
        server = ServerProcess(args, logs / f"server-{len(started)}.log", f"127.0.0.1:{port}", env)
        started.append(server)
        if wait == "SERVING":
            server.wait_health("SERVING", timeout=timeout)
        elif wait == "listening":
            server.wait_listening(timeout=timeout)
        return server

    yield start
    for server in started:
        server.stop()


@pytest.fixture
def models_dir(tmp_path):
    """A folder of copies of real MLeap bundles: rf.zip (airbnb random forest), lr.zip (airbnb
    linear regression)."""
    from tests.support.bundles import LR_ZIP, RF_ZIP

    d = tmp_path / "models"
    d.mkdir()
    shutil.copyfile(RF_ZIP, d / "rf.zip")
    shutil.copyfile(LR_ZIP, d / "lr.zip")
    return d
