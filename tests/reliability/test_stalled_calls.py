"""Calls that send their headers and never a request message (issue 13, item 1), against a real server.

grpc's synchronous server reads a unary call's request message on the request thread the call was
given: a client that opens calls and sends nothing holds those threads. Before the fix, four such
Predict calls made Predict and health Check on the main port time out, and two Check calls froze the
health-only listener (the manifests' liveness probe) for as long as the client liked.

Now: health answers on both ports while the calls stall, every stalled call ends (DEADLINE_EXCEEDED,
or CANCELLED) within --request-read-timeout (set to 6 s here through LEAPSERVE_REQUEST_READ_TIMEOUT),
and Predict is served again at once.
"""

from __future__ import annotations

import threading
import time

import grpc

from leapserve.v1 import prediction_pb2 as pb
from tests.support.bundles import write_zip
from tests.support.servers import free_port, health_status
from tests.support.traffic import lin_entries

READ_TIMEOUT = 6.0  # over 0.3 s + two Checks of HEALTH_SECONDS: a Check held until the stalled calls end fails
HEALTH_SECONDS = 2.0
PREDICT = "/leapserve.v1.PredictionService/Predict"
CHECK = "/grpc.health.v1.Health/Check"


def _request():
    r = pb.PredictRequest(model="lin")
    r.inputs["a"].double_value = 0.5
    r.inputs["b"].double_value = 0.25
    return r


class StalledCalls:
    """Calls of a unary method that send their headers and then no message until release()."""

    def __init__(self):
        self.release_event = threading.Event()
        self.futures = []

    def _nothing(self):
        self.release_event.wait()
        return
        yield  # a generator that yields no request

    def open(self, channel, method: str, count: int) -> None:
        # stream_unary on a unary method: the client sends headers, then whatever the iterator yields
        call = channel.stream_unary(method, request_serializer=lambda m: m, response_deserializer=lambda b: b)
        self.futures += [call.future(self._nothing()) for _ in range(count)]

    def release(self) -> None:
        self.release_event.set()
        for f in self.futures:
            f.cancel()


def _timed_health(address: str, timeout: float = HEALTH_SECONDS) -> tuple[str, float]:
    start = time.monotonic()
    with grpc.insecure_channel(address) as ch:
        status = health_status(ch, timeout=timeout)
    return status, time.monotonic() - start


def test_stalled_calls_neither_block_health_nor_hold_threads(start_server, tmp_path, figures):
    lin_zip = write_zip(tmp_path / "lin.zip", lin_entries(2))
    health_port = free_port()
    server = start_server("--model", f"lin={lin_zip}", "--threads", "4", "--reload-interval", "0",
                          "--health-port", health_port, env={"LEAPSERVE_REQUEST_READ_TIMEOUT": str(READ_TIMEOUT)})
    health_address = f"127.0.0.1:{health_port}"
    stalled = StalledCalls()
    main, probe = grpc.insecure_channel(server.address), grpc.insecure_channel(health_address)
    try:
        opened = time.monotonic()
        stalled.open(main, PREDICT, 4)  # one per request thread
        stalled.open(probe, CHECK, 2)   # one per thread of the health-only listener before the fix
        time.sleep(0.3)                 # the server has taken them up
        assert not any(f.done() for f in stalled.futures), "a stalled call ended at once"

        # health answers on both ports, within HEALTH_SECONDS, while every request thread holds a stalled call
        answers = {"main": _timed_health(server.address), "health port": _timed_health(health_address)}
        for where, (status, seconds) in answers.items():
            assert status == "SERVING", (f"health Check on the {where}: expected SERVING within {HEALTH_SECONDS} s, "
                                         f"got {status}")

        # every stalled call ends within the bound (plus the watchdog's and the client's slack)
        codes = {}
        for f in stalled.futures:
            try:
                f.result(timeout=READ_TIMEOUT + 3.0 - (time.monotonic() - opened))
                code = grpc.StatusCode.OK
            except grpc.FutureTimeoutError:
                raise AssertionError(f"stalled call still open {time.monotonic() - opened:.1f} s after it "
                                     f"started: expected it ended within {READ_TIMEOUT} s") from None
            except grpc.RpcError as e:
                code = e.code()
            codes[code.name] = codes.get(code.name, 0) + 1
        released_after = time.monotonic() - opened
        assert set(codes) <= {"DEADLINE_EXCEEDED", "CANCELLED"}, f"stalled calls ended with {codes}"
        assert released_after >= READ_TIMEOUT - 0.5, f"stalled calls ended after {released_after:.2f} s: too soon"

        # and the request threads are free again: Predict answers at once
        from leapserve.v1 import prediction_pb2_grpc as pb_grpc

        start = time.monotonic()
        reply = pb_grpc.PredictionServiceStub(main).Predict(_request(), timeout=3.0)
        predict_seconds = time.monotonic() - start
        assert reply.outputs, "Predict answered without outputs"
        assert server.proc.poll() is None
    finally:
        stalled.release()
        main.close()
        probe.close()
    figures(stalled_calls=len(stalled.futures), read_timeout_s=READ_TIMEOUT,
            health_main_s=round(answers["main"][1], 3), health_port_s=round(answers["health port"][1], 3),
            released_after_s=round(released_after, 2), codes=codes, predict_after_s=round(predict_seconds, 3))


def test_health_check_request_still_works(start_server, tmp_path):
    """The health handler registered beside its own thread pool still answers per service."""
    lin_zip = write_zip(tmp_path / "lin.zip", lin_entries(2))
    server = start_server("--model", f"lin={lin_zip}", "--reload-interval", "0")
    with grpc.insecure_channel(server.address) as ch:
        assert health_status(ch, "liveness") == "SERVING"
        assert health_status(ch, "model:lin") == "SERVING"
        assert health_status(ch, "no-such-service") == "NOT_FOUND"
