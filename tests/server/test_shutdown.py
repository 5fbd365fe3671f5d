"""Graceful shutdown: SIGTERM/SIGINT turn health NOT_SERVING at once, the server answers through the
drain, calls in progress finish within the grace period, and the process exits 0."""

from __future__ import annotations

import re
import signal
import threading
import time
from pathlib import Path

import grpc
import pytest

from tests.support.bundles import RF_ZIP, airbnb_record
from tests.support.servers import health_status, predict_request, prediction_stub


class Traffic:
    """Client threads, each on its own channel, sending Predict back to back and recording
    (sent, answered, status code) for every call."""

    def __init__(self, address: str, clients: int = 4):
        self.address = address
        self.stop = threading.Event()
        self.calls: list[tuple[float, float, str]] = []
        self._lock = threading.Lock()
        request = predict_request("rf", airbnb_record()).SerializeToString()
        self.threads = [threading.Thread(target=self._run, args=(request,), daemon=True) for _ in range(clients)]

    def _run(self, request: bytes) -> None:
        with grpc.insecure_channel(self.address) as ch:
            call = ch.unary_unary("/leapserve.v1.PredictionService/Predict")
            while not self.stop.is_set():
                sent = time.monotonic()
                try:
                    call(request, timeout=20)
                    code = "OK"
                except grpc.RpcError as e:
                    code = e.code().name
                with self._lock:
                    self.calls.append((sent, time.monotonic(), code))
                if code != "OK":
                    time.sleep(0.01)

    def __enter__(self):
        for t in self.threads:
            t.start()
        return self

    def __exit__(self, *exc):
        self.stop.set()
        for t in self.threads:
            t.join(30)


def test_sigterm_answers_every_request_sent_before_it(start_server):
    # The drain outlasts the 3 s allowed for health to turn (four busy clients share this process's
    # GIL with the probe), so that Predict is still answered once it has.
    server = start_server("--model", f"rf={RF_ZIP}", "--reload-interval", "0", "--drain-seconds", "5",
                          "--grace-period", "5")
    with Traffic(server.address) as traffic, grpc.insecure_channel(server.address) as probe:
        time.sleep(1.0)
        signalled = time.monotonic()
        server.signal(signal.SIGTERM)
        # Health turns NOT_SERVING at once, while Predict is still answered (the drain).
        deadline = time.monotonic() + 3.0
        status = health_status(probe)
        while status == "SERVING" and time.monotonic() < deadline:
            time.sleep(0.02)
            status = health_status(probe)
        seen_not_serving = time.monotonic()
        assert status == "NOT_SERVING"
        assert seen_not_serving - signalled < 3.0
        assert health_status(probe, "liveness") == "NOT_SERVING"
        during_drain = prediction_stub(probe).Predict(predict_request("rf", airbnb_record()), timeout=5)
        assert during_drain.outputs
        code = server.wait(30)
    calls = traffic.calls
    before = [c for c in calls if c[0] < signalled]
    assert len(before) > 20, "too little traffic before the signal"
    failed = [c for c in before if c[2] != "OK"]
    assert not failed, f"{len(failed)} of {len(before)} requests sent before SIGTERM failed: {failed[:5]}"
    # Requests kept being answered through the drain.
    assert any(c[2] == "OK" and c[0] > signalled + 1.0 for c in calls)
    assert code == 0
    log = server.log()
    assert "SIGTERM: health NOT_SERVING; draining for 5.0 s" in log and "stopped" in log


def test_calls_in_progress_finish_within_the_grace_period(start_server):
    """No drain: the server stops accepting at once, but a call already running completes. The
    call is a stream held open across the signal, so that it is surely in progress (a batch call
    may finish before the signal arrives)."""
    import queue

    server = start_server("--model", f"rf={RF_ZIP}", "--reload-interval", "0", "--grace-period", "20")
    outgoing: queue.Queue = queue.Queue()

    def requests():
        while (item := outgoing.get(timeout=60)) is not None:  # bounded, should the test fail midway
            yield item

    with grpc.insecure_channel(server.address) as ch:
        answers = prediction_stub(ch).PredictStream(requests(), timeout=60)
        outgoing.put(predict_request("rf", airbnb_record(), request_id="before"))
        assert next(answers).request_id == "before"
        server.signal(signal.SIGTERM)
        deadline = time.monotonic() + 15
        while "stopping: no new calls" not in server.log() and time.monotonic() < deadline:
            time.sleep(0.05)
        match = re.search(r"stopping: no new calls; (\d+) call\(s\) in progress", server.log())
        assert match and int(match.group(1)) == 1, server.log()
        outgoing.put(predict_request("rf", airbnb_record(), request_id="after"))
        answer = next(answers)
        assert answer.request_id == "after" and answer.outputs, server.log()
        outgoing.put(None)
        assert list(answers) == []
    assert server.wait(30) == 0


def test_sigint_stops_gracefully_and_a_second_signal_cuts_the_drain(start_server):
    server = start_server("--model", f"rf={RF_ZIP}", "--reload-interval", "0", "--drain-seconds", "60")
    server.signal(signal.SIGINT)
    server.wait_health("NOT_SERVING", timeout=10)
    assert server.proc.poll() is None  # draining
    began = time.monotonic()
    server.signal(signal.SIGINT)
    assert server.wait(30) == 0
    assert time.monotonic() - began < 15
    assert "drain cut short" in server.log()


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def test_supervisor_forwards_sigterm_and_exits_0(start_server):
    server = start_server("--model", f"rf={RF_ZIP}", "--reload-interval", "0", "--workers", "2",
                          "--drain-seconds", "1", "--grace-period", "5")
    match = re.search(r"supervising 2 workers on \S+ \(pids (\d+), (\d+)\)", server.log())
    assert match, server.log()
    workers = [int(match.group(1)), int(match.group(2))]
    with Traffic(server.address, clients=4) as traffic:
        time.sleep(1.0)
        signalled = time.monotonic()
        server.signal(signal.SIGTERM)
        code = server.wait(30)
    before = [c for c in traffic.calls if c[0] < signalled]
    assert before and all(c[2] == "OK" for c in before), [c for c in before if c[2] != "OK"][:5]
    assert code == 0, server.log()
    deadline = time.monotonic() + 5
    while any(_alive(pid) for pid in workers) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not any(_alive(pid) for pid in workers)
    log = server.log()
    assert "forwarding SIGTERM to 2 workers" in log and "all workers stopped" in log
    assert log.count("draining for 1.0 s") == 2


@pytest.mark.slow
@pytest.mark.parametrize("workers", [1, 2])
def test_soak_repeated_shutdowns_under_load(start_server, workers):
    """Ten starts, each stopped by SIGTERM at a random moment of a steady load: not one request sent
    before the signal fails, and every stop exits 0."""
    import random

    rng = random.Random(workers)
    for _ in range(10):
        server = start_server("--model", f"rf={RF_ZIP}", "--reload-interval", "0", "--workers", workers,
                              "--drain-seconds", "1", "--grace-period", "5")
        with Traffic(server.address, clients=6) as traffic:
            time.sleep(rng.uniform(0.3, 2.0))
            signalled = time.monotonic()
            server.signal(signal.SIGTERM)
            code = server.wait(30)
        before = [c for c in traffic.calls if c[0] < signalled]
        assert before and all(c[2] == "OK" for c in before), [c for c in before if c[2] != "OK"][:5]
        assert code == 0
