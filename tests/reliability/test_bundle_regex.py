"""A bundle's regular expression that backtracks catastrophically on some input (issue 13, item 5).

RegexTokenizer's pattern comes from the bundle, the text from the client. Before the fix the pattern
ran on Python's ``re``, which holds the GIL and cannot be stopped: ``(a|aa)+b`` on 40 characters
would run for days and every thread of the process, health included, stopped with it. Now the
strings of one call (a record or a batch) share LEAPSERVE_REGEX_TIMEOUT_MS of CPU time per MiB of
their text (1000 ms by default); past that the request gets INVALID_ARGUMENT naming the field, the
pattern and the budget, and the process keeps answering while it waits (the ``regex`` package
releases the GIL while matching).

The ``regex`` package counts the budget in the process's CPU time: on a machine shared with other
work a budget of 0.3 s can take a few seconds of wall time, hence the loose bounds below; without the
budget these calls would not end for days.
"""

from __future__ import annotations

import threading
import time

import grpc
import pytest

from leapserve.runtime import load_bundle
from leapserve.runtime.errors import InvalidInput
from tests.support.bundles import write_zip
from tests.support.hostile import one_op_entries
from tests.support.servers import batch_request, health_status, predict_request, prediction_stub

EVIL = "(a|aa)+b"   # exponential in the run of a's when no b follows
EVIL_TEXT = "a" * 40  # 2^40 paths: days of backtracking without a bound


def _tokenizer_zip(path, pattern: str, gaps: bool):
    attrs = {"regex": {"string": pattern}, "match_gaps": {"boolean": gaps}}
    return write_zip(path, one_op_entries("regex_tokenizer", attrs))


@pytest.mark.parametrize("pattern, gaps", [
    (EVIL, False),            # find-all through the engine's own loop
    (EVIL, True),             # split through the engine's own loop
    ("(?:(a|aa)+b)?", True),  # may match empty: one search per position, one budget for them all
    ("a{20000}", False),      # single characters, but 20000 of them tried at every position
])
def test_a_backtracking_pattern_stops_within_its_budget(pattern, gaps, tmp_path, monkeypatch):
    monkeypatch.setenv("LEAPSERVE_REGEX_TIMEOUT_MS", "300")
    pipeline = load_bundle(_tokenizer_zip(tmp_path / "b.zip", pattern, gaps))
    if pattern == EVIL and not gaps:
        assert pipeline.transform({"x": "aab xab"})["y"] == ["aab", "ab"]
    text = EVIL_TEXT if "{" not in pattern else "a" * 19999 + "b" + "a" * 300_000  # 20000 tries at each a
    start = time.monotonic()
    with pytest.raises(InvalidInput) as e:
        pipeline.transform({"x": text})
    seconds = time.monotonic() - start
    assert seconds < 10, f"the pattern ran {seconds:.2f} s on one string: expected it stopped after 0.3 s"
    assert e.value.field == "x"
    assert e.value.expected == (f"text the pattern {pattern!r} tokenizes within 300 ms of CPU time per MiB "
                                "(LEAPSERVE_REGEX_TIMEOUT_MS)")
    assert e.value.actual == f"a string of {len(text)} characters still being tokenized when the call's 300 ms ran out"


def test_a_batch_stops_at_its_first_slow_row(tmp_path, monkeypatch):
    """Fifty slow rows cost one budget, not fifty (15 s at least): the batch fails at the first,
    naming its row."""
    monkeypatch.setenv("LEAPSERVE_REGEX_TIMEOUT_MS", "300")
    pipeline = load_bundle(_tokenizer_zip(tmp_path / "b.zip", EVIL, False))
    start = time.monotonic()
    with pytest.raises(InvalidInput) as e:
        pipeline.transform_batch({"x": ["aab"] * 3 + [EVIL_TEXT] * 50})
    assert time.monotonic() - start < 10
    assert (e.value.row, e.value.field) == (3, "x")


def test_the_rows_of_a_batch_share_one_budget(tmp_path, monkeypatch):
    """Rows that each stay under the budget (about 0.1 s of CPU each here) still end the batch
    when together they pass it: a budget per string would let 100,000 of them run for hours."""
    monkeypatch.setenv("LEAPSERVE_REGEX_TIMEOUT_MS", "300")
    pipeline = load_bundle(_tokenizer_zip(tmp_path / "b.zip", EVIL, False))
    one = "a" * 25
    start = time.process_time()
    pipeline.transform({"x": one})  # one row alone is within the budget
    alone = time.process_time() - start
    assert alone < 0.3, f"one row took {alone:.2f} s of CPU: the test needs it under the budget"
    start = time.process_time()
    with pytest.raises(InvalidInput) as e:
        pipeline.transform_batch({"x": [one] * 40})
    spent = time.process_time() - start
    assert e.value.row is not None and e.value.row < 40 and spent < 1.0, (e.value.row, spent)
    assert "the call's 300 ms ran out" in e.value.actual


@pytest.mark.parametrize("known_fast", [False, True])
def test_the_server_answers_invalid_argument_and_health_meanwhile(start_server, tmp_path, figures, known_fast):
    """The slow call is the pipeline's first (its cost unknown), or follows fast ones: a regular
    expression's cost does not follow its average, so it never runs on the event loop."""
    bundle = _tokenizer_zip(tmp_path / "tok.zip", EVIL, False)
    # The pattern runs for its 3 s budget of CPU time; health gets 2 s (a machine under load may be
    # slow), still well under what a Check queued behind the pattern would take.
    server = start_server("--model", f"tok={bundle}", "--threads", "2", "--reload-interval", "0",
                          env={"LEAPSERVE_REGEX_TIMEOUT_MS": "3000"})
    stub = prediction_stub(server.open_channel())
    for _ in range(20 if known_fast else 0):
        assert stub.Predict(predict_request("tok", {"x": "aab ab"}), timeout=5).outputs
    outcome = {}

    def slow_call():
        start = time.monotonic()
        try:
            stub.Predict(predict_request("tok", {"x": EVIL_TEXT}), timeout=30)
            outcome["code"] = "OK"
        except grpc.RpcError as e:
            outcome["code"], outcome["details"] = e.code().name, e.details()
        outcome["seconds"] = time.monotonic() - start

    caller = threading.Thread(target=slow_call)
    caller.start()
    time.sleep(0.3)  # the pattern is running
    health_times = []
    while caller.is_alive() and len(health_times) < 5:
        start = time.monotonic()
        with grpc.insecure_channel(server.address) as ch:
            assert health_status(ch, timeout=3.0) == "SERVING"
        health_times.append(time.monotonic() - start)
        time.sleep(0.1)
    caller.join(30)
    assert health_times and max(health_times) < 2.0, f"health Check took {health_times} s while the pattern ran"
    assert outcome["code"] == "INVALID_ARGUMENT", outcome
    assert "'x'" in outcome["details"] and EVIL in outcome["details"] and "LEAPSERVE_REGEX_TIMEOUT_MS" in outcome["details"]
    assert outcome["seconds"] < 20, outcome

    start = time.monotonic()
    with pytest.raises(grpc.RpcError) as e:
        stub.PredictBatch(batch_request("tok", [{"x": "aab"}] + [{"x": EVIL_TEXT}] * 50), timeout=30)
    batch_seconds = time.monotonic() - start
    assert e.value.code() == grpc.StatusCode.INVALID_ARGUMENT and batch_seconds < 20, (e.value, batch_seconds)
    assert "row 1" in e.value.details(), e.value.details()
    reply = stub.Predict(predict_request("tok", {"x": "aab ab"}), timeout=5)
    assert reply.outputs
    assert server.proc.poll() is None
    figures(budget_ms=1500, predict_s=round(outcome["seconds"], 2), batch_of_51_s=round(batch_seconds, 2),
            health_checks=len(health_times), health_max_s=round(max(health_times), 4))
