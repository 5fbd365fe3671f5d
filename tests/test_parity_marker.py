"""tests/conftest.py's parity-marker rule: a test marked ``@pytest.mark.parity("op")`` must have
compared an output of "op" with an oracle (tests.support.compared, which the comparison helpers
call), in its body or in a fixture it uses; loading or scoring the op is not enough."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

TESTS = Path(__file__).resolve().parent

MARKED_TESTS = '''
import pytest

from leapserve.runtime import load_bundle
from tests.support.compared import compared
from tests.support.handmade import node, write_bundle


def sqrt_pipeline(folder):
    return load_bundle(write_bundle(folder, "json", [node("u", "math_unary", {"operation": {"string": "sqrt"}},
                                                          inputs=[("input", "x")], outputs=[("output", "y")])]))


@pytest.fixture(scope="module")
def compared_once(tmp_path_factory):
    pipeline = sqrt_pipeline(tmp_path_factory.mktemp("shared"))
    compared(pipeline, ["y"])
    return pipeline


@pytest.mark.parity("math_unary")
def test_scores_without_an_oracle(tmp_path):
    assert sqrt_pipeline(tmp_path).transform({"x": 4.0}) == {"y": 2.0}


@pytest.mark.parity("math_unary")
def test_compares(tmp_path):
    compared(sqrt_pipeline(tmp_path), ["y"])


@pytest.mark.parity("math_unary")
def test_first_user_of_a_comparing_fixture(compared_once):
    pass


@pytest.mark.parity("math_unary")
def test_second_user_of_a_comparing_fixture(compared_once):
    pass


@pytest.mark.parity("math_unary", "string_map")
def test_compares_one_of_two(tmp_path):
    compared(sqrt_pipeline(tmp_path), ["y"])
'''


def test_a_parity_test_must_compare_the_ops_it_names(tmp_path):
    (tmp_path / "test_marked.py").write_text(MARKED_TESTS)
    (tmp_path / "pytest.ini").write_text("[pytest]\nmarkers =\n    parity(*ops): the ops the test proves\n")
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "conftest", "-p", "no:cacheprovider", "-q", "-rE", "test_marked.py"],
        cwd=tmp_path, capture_output=True, text=True, timeout=300,
        env={**os.environ, "PYTHONPATH": os.pathsep.join([str(TESTS), str(TESTS.parent)])})
    out = proc.stdout
    assert proc.returncode == 1, out[-3000:]
    assert "5 passed, 2 errors" in out, out[-3000:]
    assert "ERROR at teardown of test_scores_without_an_oracle" in out
    assert "ERROR at teardown of test_compares_one_of_two" in out
    assert "declares parity for ['math_unary'], but compared no output of them" in out
    assert "declares parity for ['string_map'], but compared no output of them" in out
