"""Shared fixtures: the one Spark session (real Spark, real MLeap jars), MLeap's JVM harness and
`leapserve serve` processes (MLeap's fixture bundles are tests.support.bundles' FIXTURES, RF_ZIP,
LR_ZIP); the parity markers; the per-test time limit.

Helpers live in the package tests.support (the repository root is on sys.path, see pyproject)."""

from __future__ import annotations

import faulthandler
import importlib.abc
import os
import signal
import subprocess
import sys
import threading
import traceback
from pathlib import Path

import pytest

from tests.support.bundles import RF_ZIP
from tests.support.servers import StartedServers


class _FoldersAreNotPackages(importlib.abc.MetaPathFinder):
    """server/ and bundler/ install as leapserve.server and leapserve.bundler. With the repository
    root on sys.path they would also import under their folder names, as a second copy of every
    module that works here and nowhere else: refuse that."""

    def find_spec(self, name, path=None, target=None):
        if name in ("server", "bundler"):
            raise ImportError(f"import leapserve.{name}, not {name} (the folder {name}/ is leapserve.{name})")
        return None


sys.meta_path.insert(0, _FoldersAreNotPackages())


@pytest.fixture(scope="session")
def spark():
    from leapserve import bundler

    session = bundler.spark_session()
    _interrupt_on_cancel(session)
    return session


@pytest.fixture(scope="session")
def mleap_jvm():
    from tools.mleap_jvm import MleapJvm

    jvm = MleapJvm()
    yield jvm
    jvm.close()


@pytest.fixture(scope="session")
def rf_bundle() -> Path:
    """tests.support.bundles.RF_ZIP, which the other tests import: kept for tests/deploy/test_image.py
    until it imports it too."""
    return RF_ZIP


@pytest.fixture
def start_server(tmp_path_factory):
    """start_server(*args, env=None, uds=None, address=None, wait="SERVING", timeout=60) -> a running
    ServerProcess (see StartedServers.start); the test's servers are stopped when it ends."""
    servers = StartedServers(tmp_path_factory.mktemp("server-logs"))
    yield servers.start
    servers.stop_all()


@pytest.fixture(scope="module")
def start_module_server(tmp_path_factory):
    """start_server for a module's shared servers (module-scoped fixtures): stopped when its tests end."""
    servers = StartedServers(tmp_path_factory.mktemp("server-logs"))
    yield servers.start
    servers.stop_all()


def pytest_addoption(parser):
    parser.addoption("--without-spark", action="store_true",
                     help="leave out the tests that use the Spark session (on Pythons pyspark 3.5 does not support)")


def pytest_collection_modifyitems(config, items):
    """With --without-spark, the tests that use the Spark session are deselected. `slow` runs
    (soak, load) only when the run asks for them (``-m slow``), whatever else -m says."""
    if config.getoption("--without-spark"):
        needs_spark = [item for item in items if "spark" in item.fixturenames]
        config.hook.pytest_deselected(items=needs_spark)
        items[:] = [item for item in items if "spark" not in item.fixturenames]
    if "slow" in (config.getoption("-m") or ""):
        return
    skip = pytest.mark.skip(reason="slow: run with -m slow")
    for item in items:
        if item.get_closest_marker("slow"):
            item.add_marker(skip)


# --- parity markers --------------------------------------------------------------------------
# `@pytest.mark.parity("op", ...)` declares the ops a test proves against Spark (or MLeap's JVM
# runtime, where Spark has no such model); docs/ops.md is generated from these markers
# (tools/opsdoc.py). While the suite runs, the comparison helpers (tests.support.compared) name the
# ops whose output columns they compared with an oracle, and a test fails if it declares an op
# that it did not compare: the table cannot cite a test that merely loads the op. A comparison
# made while a fixture is set up (a module's shared parity run) counts for the tests using it.

_compared_in: dict[tuple, set[str]] = {}  # ("test", nodeid) | ("fixture", baseid, name) -> ops
_comparing: list[tuple] = [("test", "")]  # where comparisons are being made now (the last)


def _record_compared(op: str) -> None:
    _compared_in.setdefault(_comparing[-1], set()).add(op)


@pytest.hookimpl(wrapper=True)
def pytest_fixture_setup(fixturedef, request):
    _comparing.append(("fixture", fixturedef.baseid, fixturedef.argname))
    try:
        return (yield)
    finally:
        _comparing.pop()


def pytest_runtest_setup(item):
    _comparing[0] = ("test", item.nodeid)
    _spark_answers(item)  # below, with the time limits


def _compared_by(item) -> set[str]:
    """The ops compared by the test and by the fixtures it uses."""
    ops = set(_compared_in.get(("test", item.nodeid), ()))
    names = set(item.fixturenames)
    for key, found in _compared_in.items():
        if key[0] == "fixture" and key[2] in names and item.nodeid.startswith(key[1]):
            ops |= found
    return ops


@pytest.fixture(autouse=True)
def _declared_ops_are_compared(request):
    declared = {op for m in request.node.iter_markers("parity") for op in m.args}
    yield
    if declared:
        missing = sorted(declared - _compared_by(request.node))
        assert not missing, (f"declares parity for {missing}, but compared no output of them with Spark or "
                             f"MLeap's JVM runtime (tests.support.compared records the comparisons)")


# --- hung tests --------------------------------------------------------------------------------
# A test that runs longer than its limit fails with every Python thread's stack and the thread
# dumps of the JVMs this process started (Spark's driver, MLeap's harness): most hangs worth
# knowing about sit in one of those. A hung test must not run into CI's own limit, where nothing
# says why. After a timeout Spark's jobs are cancelled; if Spark then no longer answers, the tests
# that ask for the `spark` fixture fail at once instead of each hanging in turn. The limit covers
# the test's setup, call and teardown: its own `@pytest.mark.timeout(seconds)` (0: none), else
# SLOW_TIMEOUT for `slow` soak and load runs, else TEST_TIMEOUT (the slowest test of `make test`,
# with its fixtures, takes under 2 minutes).

TEST_TIMEOUT = float(os.environ.get("LEAPSERVE_TEST_TIMEOUT", "300"))
SLOW_TIMEOUT = 3600.0
# If the timeout cannot reach the test (its thread stuck in C code holding the GIL), this much
# later the process writes every thread's stack and exits.
HARD_EXIT_MARGIN = float(os.environ.get("LEAPSERVE_TEST_HARD_EXIT_MARGIN", "120"))
_terminal_fd: list[int] = []  # stderr as it was before pytest captured it


def pytest_configure(config):
    config.addinivalue_line("markers", "timeout(seconds): this test's own time limit")
    _terminal_fd.append(os.dup(2))
    from tests.support import compared

    compared.on_compared = _record_compared


@pytest.hookimpl(wrapper=True)
def pytest_runtest_protocol(item, nextitem):
    marker = item.get_closest_marker("timeout")
    if marker is not None:
        limit = float(marker.args[0])
    else:
        limit = SLOW_TIMEOUT if item.get_closest_marker("slow") else TEST_TIMEOUT
    if limit <= 0:
        return (yield)

    def expired(signum, frame):
        item.stash[_hang_report] = _hang_report_text()
        _reset_spark(item.nodeid, limit)
        pytest.fail(f"Timeout: the test ran over {limit:g} s (stacks in its report)")

    previous = signal.signal(signal.SIGALRM, expired)
    signal.setitimer(signal.ITIMER_REAL, limit)
    faulthandler.dump_traceback_later(limit + HARD_EXIT_MARGIN, exit=True, file=_terminal_fd[0])
    try:
        return (yield)
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
        faulthandler.cancel_dump_traceback_later()


_hang_report = pytest.StashKey[str]()


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item, call):
    report = yield
    text = item.stash.get(_hang_report, None)
    if text is not None and report.failed:
        report.sections.append(("where the test hung", text))
        del item.stash[_hang_report]
    return report


def _hang_report_text() -> str:
    names = {t.ident: t.name for t in threading.enumerate()}
    parts = []
    for ident, frame in sys._current_frames().items():
        parts.append(f"--- Python thread {names.get(ident, ident)}\n" + "".join(traceback.format_stack(frame)))
    for pid, dump in _java_thread_dumps():
        parts.append(f"--- JVM {pid}\n{dump}")
    return "\n".join(parts)


def _java_thread_dumps() -> list[tuple[int, str]]:
    from leapserve.bundler.jars import java_executable
    from tests.support.processes import descendants

    jcmd = Path(java_executable()).resolve().parent / "jcmd"
    dumps = []
    for pid in (pid for pid, argv in descendants().items() if argv and Path(argv[0]).name == "java"):
        try:
            out = subprocess.run([str(jcmd), str(pid), "Thread.print"], capture_output=True, text=True, timeout=60)
            dumps.append((pid, out.stdout or out.stderr))
        except (OSError, subprocess.TimeoutExpired) as e:
            dumps.append((pid, f"jcmd failed: {e}"))
    return dumps


def _reset_spark(nodeid: str, limit: float) -> None:
    """Leave the Spark session usable by the tests after a hung one, or note that it is not: Spark
    must cancel its jobs and count a row, each within the test's limit (and a minute at most)."""
    from leapserve.bundler import session

    spark = session._session
    if spark is None:
        return
    # The timeout interrupts py4j while it waits for an answer that will still arrive on this
    # thread's connection: drop the connection, or the next call would read that stale answer.
    connection = spark.sparkContext._gateway._gateway_client.get_thread_connection()
    if connection is not None:
        connection.close()
    # Through py4j, which a wedged JVM may never answer: daemon threads, waited for a while only.
    wait = min(limit, 60.0)
    if not _within(wait, spark.sparkContext.cancelAllJobs) or not _within(wait, spark.range(1).count):
        _spark_hung.append(nodeid)
        return
    _interrupt_on_cancel(spark)


def _within(seconds: float, call) -> bool:
    """Whether `call` returned (or raised) within `seconds`, run on a daemon thread."""
    worker = threading.Thread(target=call, daemon=True)
    worker.start()
    worker.join(seconds)
    return not worker.is_alive()


_spark_hung: list[str] = []  # the test after which Spark no longer answered


def _spark_answers(item) -> None:
    if _spark_hung and "spark" in item.fixturenames:
        pytest.fail(f"not run: Spark's session stopped answering during {_spark_hung[0]}")


def _interrupt_on_cancel(spark) -> None:
    """Jobs started from this thread get their tasks interrupted when cancelled (a thread-local)."""
    spark.sparkContext.setLocalProperty("spark.job.interruptOnCancel", "true")
