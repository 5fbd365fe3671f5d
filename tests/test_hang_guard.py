"""tests/conftest.py's time limit: a hung test fails with the stacks that say where it hung, and the
tests after it still run; when Spark no longer answers, the tests that need it fail at once; when
nothing can interrupt the test, the run ends instead of hanging."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

TESTS = Path(__file__).resolve().parent

# Spark started first, with no limit: its start is not what is timed here.
SPARK_STARTED = '''
import time
import pytest

@pytest.mark.timeout(0)
def test_spark_starts(spark):
    assert spark.range(1).count() == 1
'''

HUNG_TESTS = SPARK_STARTED + '''
@pytest.mark.timeout(5)
def test_jvm_hangs(spark):
    spark.sql("select java_method('java.lang.Thread', 'sleep', 600000L)").collect()

@pytest.mark.timeout(2)
def test_python_hangs():
    time.sleep(600)

def test_spark_still_answers(spark):
    assert spark.range(5).count() == 5
'''

WEDGED_SPARK = SPARK_STARTED + '''
@pytest.mark.timeout(5)
def test_tasks_ignore_cancellation(spark):
    spark.sparkContext.setLocalProperty("spark.job.interruptOnCancel", "false")
    spark.range(0, 2, 1, 2).selectExpr("java_method('java.lang.Thread', 'sleep', id * 0 + 600000L)").collect()

def test_needs_spark(spark):
    assert spark.range(5).count() == 5

def test_needs_no_spark():
    assert True
'''

GIL_HELD = '''
import pytest

@pytest.mark.timeout(1)
def test_holds_the_gil():
    sum(range(10 ** 12))  # C code that never looks at signals
'''


def run_pytest(tmp_path: Path, source: str, **env: str) -> tuple[subprocess.CompletedProcess, float]:
    (tmp_path / "test_hung.py").write_text(source)
    started = time.monotonic()
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "conftest", "-p", "no:cacheprovider", "-q", "test_hung.py"],
        cwd=tmp_path, capture_output=True, text=True, timeout=600,
        env={**os.environ, "PYTHONPATH": os.pathsep.join([str(TESTS), str(TESTS.parent)]), **env})
    return proc, time.monotonic() - started


def test_hung_tests_fail_with_their_stacks_and_the_run_goes_on(tmp_path):
    proc, seconds = run_pytest(tmp_path, HUNG_TESTS)
    out = proc.stdout
    assert proc.returncode == 1, out[-3000:]
    assert "2 failed, 2 passed" in out, out[-3000:]
    assert "Timeout: the test ran over 5 s" in out and "Timeout: the test ran over 2 s" in out
    # The Python stack of the hung call and the JVM's own thread sleeping in the task.
    assert "time.sleep(600)" in out and "collectToPython" in out
    assert "java.lang.Thread.sleep" in out and "Executor task launch worker" in out
    assert seconds < 120, seconds  # not the 600 s each sleep asked for


def test_when_spark_stops_answering_its_later_tests_fail_at_once(tmp_path):
    """Both of local[2]'s cores held by tasks that ignore cancellation: Spark cannot count a row
    after the timeout, so the tests that need it fail without running (each would hang too)."""
    proc, seconds = run_pytest(tmp_path, WEDGED_SPARK)
    out = proc.stdout
    assert proc.returncode == 1, out[-3000:]
    assert "1 failed, 2 passed, 1 error" in out, out[-3000:]
    assert "not run: Spark's session stopped answering during test_hung.py::test_tasks_ignore_cancellation" in out
    assert seconds < 120, seconds


def test_a_test_that_cannot_be_interrupted_ends_the_run(tmp_path):
    proc, seconds = run_pytest(tmp_path, GIL_HELD, LEAPSERVE_TEST_HARD_EXIT_MARGIN="2")
    assert proc.returncode != 0
    assert "Timeout" in proc.stderr and "test_holds_the_gil" in proc.stderr, proc.stderr[-3000:]
    assert seconds < 60, seconds
