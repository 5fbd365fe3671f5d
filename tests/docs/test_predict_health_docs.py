"""docs/serving.md's section on `leapserve predict` and `leapserve health` holds for the real
commands against a real server: output shapes of dense and sparse vectors, per-record error
lines, and the exit codes it lists."""

from __future__ import annotations

import json

import pytest

from tests.support.bundles import FIXTURES
from tests.support.servers import free_port, run_cli

DEMO = FIXTURES / "demo.zip"  # doubles demo:a, demo:c, demo:d -> dense vectors and demo:prediction
ONE_HOT = FIXTURES / "one_hot_encoder_pipeline.zip"  # col_1 -> a sparse one-hot vector


@pytest.fixture(scope="module")
def server(start_module_server):
    return start_module_server("--model", f"demo={DEMO}", "--model", f"ohe={ONE_HOT}")


def test_predict_output_shapes(server):
    dense = run_cli("predict", "--address", server.address, "--model", "demo",
                    "--json", '{"demo:a": 1, "demo:c": 2, "demo:d": 3}')
    assert dense.returncode == 0, dense.stderr
    assert json.loads(dense.stdout)["unscaled_continuous_features"] == [1.0, 2.0, 3.0]  # the docs' example

    sparse = run_cli("predict", "--address", server.address, "--model", "ohe", "--json", '{"col_1": "a"}',
                     "--select", "col_1_label_one_hot_encoded")
    assert sparse.returncode == 0, sparse.stderr
    vector = json.loads(sparse.stdout)["col_1_label_one_hot_encoded"]
    assert set(vector) == {"size", "indices", "values"} and vector["size"] == 3, vector


def test_predict_file_lines_and_exit_codes(server):
    lines = ['{"demo:a": 1, "demo:c": 2, "demo:d": 3}', "", '{"demo:a": "x", "demo:c": 2, "demo:d": 3}']
    r = run_cli("predict", "--address", server.address, "--model", "demo", "--file", "-",
                "--select", "demo:prediction", input="\n".join(lines) + "\n")
    out = [json.loads(line) for line in r.stdout.splitlines()]
    assert r.returncode == 1, (r.stdout, r.stderr)  # a refused record: 1, the other lines printed
    assert len(out) == 2 and set(out[0]) == {"demo:prediction"}, out
    assert out[1]["line"] == 3 and out[1]["error"].startswith("line 3, ") and "demo:a" in out[1]["error"], out

    good = run_cli("predict", "--address", server.address, "--model", "demo", "--file", "-", input=lines[0] + "\n")
    assert good.returncode == 0, good.stderr

    not_json = run_cli("predict", "--address", server.address, "--model", "demo", "--json", "{")
    assert not_json.returncode == 2 and "--json" in not_json.stderr, not_json.stderr

    failed_call = run_cli("predict", "--address", server.address, "--model", "demo", "--json", "{}")
    assert failed_call.returncode == 1 and "INVALID_ARGUMENT" in failed_call.stderr, failed_call.stderr


def test_health_prints_and_exit_codes(server):
    serving = run_cli("health", "--address", server.address)
    assert (serving.returncode, serving.stdout.strip()) == (0, "SERVING"), serving
    unknown = run_cli("health", "--address", server.address, "--service", "model:nope")
    assert unknown.returncode == 4 and "model:nope" in unknown.stderr, unknown
    address = f"127.0.0.1:{free_port()}"
    unreachable = run_cli("health", "--address", address, "--timeout", "1")
    assert unreachable.returncode == 3 and address in unreachable.stderr, unreachable
