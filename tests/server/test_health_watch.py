"""health Watch on the main port: every watcher of a service hears each change, however many other
watchers of it came and went (grpc's client-side health checking keeps one Watch per connection and
opens a new one on every reconnect; kubelet's gRPC probe calls Check and is not concerned)."""

from __future__ import annotations

import queue
import threading

import grpc

from tests.support.bundles import RF_ZIP


def _watch(address: str, service: str, seen: queue.Queue, stop: threading.Event | None = None) -> None:
    from grpc_health.v1 import health_pb2, health_pb2_grpc

    with grpc.insecure_channel(address) as ch:
        call = health_pb2_grpc.HealthStub(ch).Watch(health_pb2.HealthCheckRequest(service=service), timeout=30)
        try:
            for answer in call:
                seen.put(health_pb2.HealthCheckResponse.ServingStatus.Name(answer.status))
                if stop is not None and stop.is_set():
                    call.cancel()
        except grpc.RpcError as e:
            seen.put(e.code().name)


def test_a_watcher_hears_shutdown_after_another_watcher_of_its_service_left(start_server):
    server = start_server("--model", f"rf={RF_ZIP}", "--reload-interval", "0", "--drain-seconds", "10", "--grace-period", "1")
    staying, leaving = queue.Queue(), queue.Queue()
    stay = threading.Thread(target=_watch, args=(server.address, "", staying), daemon=True)
    stay.start()
    assert staying.get(timeout=10) == "SERVING"
    # another watcher of the same service comes and goes (a client reconnecting)
    gone = threading.Event()
    gone.set()
    leave = threading.Thread(target=_watch, args=(server.address, "", leaving, gone), daemon=True)
    leave.start()
    assert leaving.get(timeout=10) == "SERVING"
    leave.join(10)
    assert leaving.get(timeout=5) == "CANCELLED"

    server.signal()  # health turns NOT_SERVING at once; the drain keeps the server up for 10 s
    assert staying.get(timeout=8) == "NOT_SERVING", "the remaining watcher was not told of the shutdown"
    server.signal()  # told during the drain (not by the server going away): cut the drain short
    assert server.wait(20) == 0
