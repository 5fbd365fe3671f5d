"""Fixtures of the operations tests (deployment, metrics, logs, shutdown, TLS).

Tests marked ``slow`` (soak runs) are skipped unless the run selects them (``-m slow``).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from ops_helpers import RF_BUNDLE, Server, free_port

HERE = Path(__file__).resolve().parent


def pytest_collection_modifyitems(config, items):
    if "slow" in (config.getoption("-m") or ""):
        return
    skip = pytest.mark.skip(reason="slow: run with -m slow")
    for item in items:
        if item.get_closest_marker("slow") and HERE in Path(str(item.path)).parents:
            item.add_marker(skip)


@pytest.fixture(scope="session")
def rf_bundle():
    if not RF_BUNDLE.exists():
        pytest.skip(f"fixture bundle missing: {RF_BUNDLE}")
    return RF_BUNDLE


@pytest.fixture
def start(tmp_path):
    """start(*args, env=None, uds=None, wait=True) -> a running Server on a free port (or a socket)."""
    started: list[Server] = []

    def run(*args, env=None, uds=None, wait=True, port=None, command=None, address=None):
        args = [str(a) for a in args]
        if address is None:
            if uds is not None:
                address = f"unix:{uds}"
                args += ["--uds", str(uds)]
            else:
                port = port or free_port()
                address = f"127.0.0.1:{port}"
                args += ["--port", str(port)]
        server = Server(args, tmp_path / f"server-{len(started)}.log", address, env, command)
        started.append(server)
        if wait:
            server.wait_health("SERVING")
        return server

    yield run
    for server in started:
        server.stop()
