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
from tests.support.traffic import wait_until

SLOW_TEXT = "a" * 40  # "(a|aa)+b" backtracks on it until the budget ends it
# The call's deadline (or its client's cancel) comes this long after it was sent on a connected
# channel, well inside the pattern's budget of CPU time (REGEX_BUDGET_MS): the call is in the handler
# by then. At 1 s the client's own deadline often cancelled the call a moment before the server's
# copy of it passed (counted CANCELLED until metrics allowed for that: DEADLINE_TRANSIT_SECONDS).
CALL_SECONDS = 1.0
REGEX_BUDGET_MS = 3000


@pytest.fixture(scope="module")
def slow_server(start_module_server, tmp_path_factory):
    bundle = write_zip(tmp_path_factory.mktemp("slow") / "tok.zip",
                       one_op_entries("regex_tokenizer", {"regex": {"string": "(a|aa)+b"},
                                                          "match_gaps": {"boolean": False}}))
    metrics_port = free_port()
    server = start_module_server("--model", f"tok={bundle}", "--reload-interval", "0", "--metrics-port",
                                 str(metrics_port), "--log-level", "debug",
                                 env={"LEAPSERVE_REGEX_TIMEOUT_MS": str(REGEX_BUDGET_MS)})
    return server, metrics_port


def _counted(metrics_port: int, code: str) -> float:
    return value(samples(scrape(metrics_port)), "leapserve_requests_total", rpc="Predict", model="tok", code=code)


def _connected_stub(server):
    """A stub on a channel already connected, so the call's time is not spent connecting."""
    channel = server.open_channel()
    grpc.channel_ready_future(channel).result(timeout=30)
    return prediction_stub(channel)


def _wait_counted(server, metrics_port: int, code: str) -> None:
    """The call is counted and logged as it ends in the server, a moment after the client saw it end."""
    try:
        wait_until(lambda: _counted(metrics_port, code) >= 1, 15, f"a Predict counted {code}")
    except AssertionError as e:
        raise AssertionError(f"{e}:\n{scrape(metrics_port)}") from None
    wait_until(lambda: f"Predict model=tok version=1 code={code}" in server.log(), 15, f"a Predict logged {code}")


def test_a_deadline_passed_while_scoring_is_counted_deadline_exceeded(slow_server):
    server, metrics_port = slow_server
    stub = _connected_stub(server)
    with pytest.raises(grpc.RpcError) as e:
        stub.Predict(predict_request("tok", {"x": SLOW_TEXT}), timeout=CALL_SECONDS)
    assert e.value.code() == grpc.StatusCode.DEADLINE_EXCEEDED
    _wait_counted(server, metrics_port, "DEADLINE_EXCEEDED")
    assert _counted(metrics_port, "DEADLINE_EXCEEDED") == 1, scrape(metrics_port)
    assert _counted(metrics_port, "UNKNOWN") == 0


def test_a_call_its_client_cancelled_is_counted_cancelled(slow_server):
    server, metrics_port = slow_server
    stub = _connected_stub(server)
    future = stub.Predict.future(predict_request("tok", {"x": SLOW_TEXT}), timeout=10)
    time.sleep(CALL_SECONDS)
    assert future.cancel()  # still running: cancelled by the client, not ended by the server
    _wait_counted(server, metrics_port, "CANCELLED")
    assert _counted(metrics_port, "CANCELLED") == 1, scrape(metrics_port)
    assert _counted(metrics_port, "UNKNOWN") == 0
