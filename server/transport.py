"""What one connection and one call may hold on the server (docs/reliability.md, Connections).

* Connections: keepalive pings find dead peers, idle connections are closed.
* Calls: grpc's synchronous server reads a unary call's request message on the request thread the
  call was given, and waits for it as long as the client likes. A client that sends headers and
  never a message would hold every request thread (and freeze health Check with them).
  RequestThreads bounds that wait: a call whose request message has not been read
  ``read_timeout`` seconds after a thread started reading it is cancelled (DEADLINE_EXCEEDED),
  which frees its thread. Stream requests (PredictStream) are not bounded here: their handler runs at once and
  waits between messages on purpose; --max-concurrent-streams bounds the threads they hold.
* Health Check runs on threads of its own (health_handler), so that it answers whatever the
  request threads are doing.

grpc offers no setting for the request wait; RequestThreads recognises the task grpc's server
submits for a unary call by the names of grpc's own functions (grpc/_server.py). If a grpc release
renames them, calls are served as before without the bound, and
tests/reliability/test_stalled_calls.py fails.
"""

from __future__ import annotations

import collections
import logging
import threading
import time
from concurrent import futures

import grpc

log = logging.getLogger("leapserve.server")

HEALTH_READ_TIMEOUT = 1.0  # the same for health Check: probes send their request with the headers
HEALTH_THREADS = 8
KEEPALIVE_TIME_MS = 60_000  # ping a connection quiet for a minute...
KEEPALIVE_TIMEOUT_MS = 20_000  # ...and close it when the ping is not answered within 20 s
MAX_CONNECTION_IDLE_MS = 300_000  # close connections without calls for 5 minutes (clients reconnect)
# No grpc.max_concurrent_streams: with it set (100), grpc's server refused streams under load with
# RST_STREAM REFUSED_STREAM, which clients did not retry (test_faults_under_load.py: thousands of
# UNAVAILABLE). Calls per process stay bounded by --max-concurrent-rpcs.

# grpc/_server.py submits _unary_response_in_pool(rpc_event, state, behavior, unary_request, ...)
_CALL_TASKS = ("_unary_response_in_pool", "_stream_response_in_pool")
_UNARY_READ = "unary_request"


def channel_options() -> list[tuple[str, int]]:
    """Server options for keepalive and idle connections."""
    return [
        ("grpc.keepalive_time_ms", KEEPALIVE_TIME_MS),
        ("grpc.keepalive_timeout_ms", KEEPALIVE_TIMEOUT_MS),
        ("grpc.max_connection_idle_ms", MAX_CONNECTION_IDLE_MS),
    ]


class _Wait:
    __slots__ = ("deadline", "call")

    def __init__(self, deadline: float, call):
        self.deadline, self.call = deadline, call


class _Watchdog:
    """One thread that cancels the calls whose request message is late. Every wait of one watchdog
    has the same timeout, so deadlines come in order of arrival: an ordered dict, oldest first, from
    which a call leaves as soon as its request is read (only calls still waiting are held)."""

    def __init__(self, timeout: float, name: str, setting: str):
        self.timeout = timeout
        self.name = name
        self.details = (f"request message: expected within {timeout:g} s of a request thread taking up the call "
                        f"({setting}), none read (headers came, no message)")
        self._waits: collections.OrderedDict[_Wait, None] = collections.OrderedDict()
        self._cond = threading.Condition()
        # started now, not on the first call: a server's threads are all there once it listens
        threading.Thread(target=self._run, name=name, daemon=True).start()

    def watch(self, call) -> _Wait:
        wait = _Wait(time.monotonic() + self.timeout, call)
        with self._cond:
            self._waits[wait] = None
            if len(self._waits) == 1:
                self._cond.notify()
        return wait

    def release(self, wait: _Wait) -> None:
        """The call's request was read (or its reading failed): no longer watched."""
        with self._cond:
            self._waits.pop(wait, None)

    def _run(self) -> None:
        while True:
            with self._cond:
                while not self._waits:
                    self._cond.wait()
                wait = next(iter(self._waits))
                late = wait.deadline - time.monotonic()
                if late > 0:
                    self._cond.wait(late)
                    continue
                self._waits.popitem(last=False)
            log.info("call cancelled: %s", self.details, extra={"event": "request_read_timeout"})
            try:
                wait.call.cancel(grpc.StatusCode.DEADLINE_EXCEEDED.value[0], self.details)
            except Exception:  # the call may be over already
                log.debug("cancelling a late call", exc_info=True)


class RequestThreads(futures.ThreadPoolExecutor):
    """A thread pool for grpc.server that cancels unary calls whose request message is not read within
    ``read_timeout`` seconds of their arrival (0 or None: no bound)."""

    def __init__(self, max_workers: int, read_timeout: float | None, thread_name_prefix: str,
                 setting: str = "--request-read-timeout"):
        super().__init__(max_workers=max_workers, thread_name_prefix=thread_name_prefix)
        self._watchdog = (_Watchdog(read_timeout, f"{thread_name_prefix}-watchdog", setting)
                          if read_timeout else None)

    def submit(self, fn, /, *args, **kwargs):
        if self._watchdog is not None and _is_unary_call(args):
            task, rpc_event, state, behavior, read_request, *rest = args
            watchdog, call = self._watchdog, rpc_event.call

            def read_within_bound():
                # timed from when a thread starts reading: a call queued behind busy threads holds
                # none, and its client's deadline (or --max-concurrent-rpcs) bounds that wait
                wait = watchdog.watch(call)
                try:
                    return read_request()
                finally:
                    watchdog.release(wait)

            args = (task, rpc_event, state, behavior, read_within_bound, *rest)
        return super().submit(fn, *args, **kwargs)


def _is_unary_call(args) -> bool:
    """Whether ``args`` are those of grpc's task for a call with one request message (read by the task)."""
    return (len(args) >= 5 and getattr(args[0], "__name__", None) in _CALL_TASKS
            and getattr(args[4], "__name__", None) == _UNARY_READ and hasattr(args[1], "call"))


def health_handler(servicer, threads: futures.ThreadPoolExecutor) -> grpc.GenericRpcHandler:
    """grpc.health.v1.Health from ``servicer`` with Check on ``threads`` (grpc runs a handler on the
    pool named by its ``experimental_thread_pool``); Watch keeps the servicer's own pool."""
    from grpc_health.v1 import health_pb2

    def check(request, context):
        return servicer.Check(request, context)

    check.experimental_thread_pool = threads
    return grpc.method_handlers_generic_handler("grpc.health.v1.Health", {
        "Check": grpc.unary_unary_rpc_method_handler(
            check, request_deserializer=health_pb2.HealthCheckRequest.FromString,
            response_serializer=health_pb2.HealthCheckResponse.SerializeToString),
        "Watch": grpc.unary_stream_rpc_method_handler(
            servicer.Watch, request_deserializer=health_pb2.HealthCheckRequest.FromString,
            response_serializer=health_pb2.HealthCheckResponse.SerializeToString),
    })


def health_threads(read_timeout: float | None, name: str) -> RequestThreads:
    """Threads for health Check: the request wait bounded by HEALTH_READ_TIMEOUT (or the configured
    bound when it is shorter)."""
    if read_timeout and read_timeout < HEALTH_READ_TIMEOUT:
        return RequestThreads(HEALTH_THREADS, read_timeout, name)
    return RequestThreads(HEALTH_THREADS, HEALTH_READ_TIMEOUT, name, setting="the health Check bound")
