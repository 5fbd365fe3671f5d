"""Async Predict ended by its deadline or by its client while the model still runs: the client
gets DEADLINE_EXCEEDED or CANCELLED, and the metrics and request log say so (not UNKNOWN, which
reads as a server error). The slow model is a backtracking pattern, stopped by its budget."""

from __future__ import annotations

import time

import grpc
import pytest

from tests.support.bundles import write_zip
from tests.support.hostile import one_op_entries
from tests.support.metrics_text import samples, scrape, value
from tests.support.servers import free_port, predict_request, prediction_stub

SLOW_TEXT = "a" * 40  # "(a|aa)+b" backtracks on it until the budget ends it


@pytest.fixture(scope="module")
def slow_server(start_module_server, tmp_path_factory):
    bundle = write_zip(tmp_path_factory.mktemp("slow") / "tok.zip",
                       one_op_entries("regex_tokenizer", {"regex": {"string": "(a|aa)+b"},
                                                          "match_gaps": {"boolean": False}}))
    metrics_port = free_port()
    server = start_module_server("--model", f"tok={bundle}", "--reload-interval", "0", "--metrics-port",
                                 str(metrics_port), "--log-level", "debug",
                                 env={"LEAPSERVE_REGEX_TIMEOUT_MS": "1000"})
    return server, metrics_port


def _counted(metrics_port: int, code: str) -> float:
    return value(samples(scrape(metrics_port)), "leapserve_requests_total", rpc="Predict", model="tok", code=code)


def test_a_deadline_passed_while_scoring_is_counted_deadline_exceeded(slow_server):
    server, metrics_port = slow_server
    stub = prediction_stub(server.open_channel())
    with pytest.raises(grpc.RpcError) as e:
        stub.Predict(predict_request("tok", {"x": SLOW_TEXT}), timeout=0.3)
    assert e.value.code() == grpc.StatusCode.DEADLINE_EXCEEDED
    time.sleep(0.2)
    assert _counted(metrics_port, "DEADLINE_EXCEEDED") == 1, scrape(metrics_port)
    assert _counted(metrics_port, "UNKNOWN") == 0
    assert "Predict model=tok version=1 code=DEADLINE_EXCEEDED" in server.log()


def test_a_call_its_client_cancelled_is_counted_cancelled(slow_server):
    server, metrics_port = slow_server
    stub = prediction_stub(server.open_channel())
    future = stub.Predict.future(predict_request("tok", {"x": SLOW_TEXT}), timeout=10)
    time.sleep(0.3)
    future.cancel()
    time.sleep(0.3)
    assert _counted(metrics_port, "CANCELLED") == 1, scrape(metrics_port)
    assert _counted(metrics_port, "UNKNOWN") == 0
    assert "Predict model=tok version=1 code=CANCELLED" in server.log()
