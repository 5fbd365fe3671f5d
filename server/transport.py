"""What one connection and one call may hold on the server (docs/reliability.md, Connections).

The server is grpc.aio's: calls wait for their messages on the event loop, holding no thread, so
open streams and stalled calls do not take the request threads (``--threads``) from anyone.

* Connections: keepalive pings find dead peers, idle connections are closed.
* Calls: a client that sends headers and never a message would still hold one of
  ``--max-concurrent-rpcs`` for as long as it liked. CallBounds bounds that wait for every method
  with one request message: a call whose message has not come ``read_timeout`` seconds after the
  call arrived ends with DEADLINE_EXCEEDED (health Check within HEALTH_READ_TIMEOUT). Stream
  requests (PredictStream) are not bounded here: they wait between messages on purpose.
* CallBounds also counts the calls in progress (logged at shutdown) and refuses calls past
  ``--max-concurrent-rpcs`` with RESOURCE_EXHAUSTED, except health's: probes keep their answer
  while the server is full (1,000 open streams fill the default).

To bound the first read, CallBounds serves a method with one request message as a method with a
request stream (the two are the same on the wire) and reads that one message itself. Sync
handlers then run on the request threads with SyncContext: grpc's public sync ServicerContext
over the call's grpc.aio context (only public grpc API: tests/server/test_transport.py checks).
"""

from __future__ import annotations

import asyncio
import inspect
import logging
import threading

import grpc

log = logging.getLogger("leapserve.server")

HEALTH_READ_TIMEOUT = 1.0  # the same for health Check: probes send their request with the headers
HEALTH_SERVICE = "/grpc.health.v1.Health/"
HEALTH_CHECK = HEALTH_SERVICE + "Check"
KEEPALIVE_TIME_MS = 60_000  # ping a connection quiet for a minute...
KEEPALIVE_TIMEOUT_MS = 20_000  # ...and close it when the ping is not answered within 20 s
MAX_CONNECTION_IDLE_MS = 300_000  # close connections without calls for 5 minutes (clients reconnect)
# No grpc.max_concurrent_streams: with it set (100), grpc's server refused streams under load with
# RST_STREAM REFUSED_STREAM, which clients did not retry (test_faults_under_load.py: thousands of
# UNAVAILABLE). Calls per process stay bounded by --max-concurrent-rpcs.

class SyncContext(grpc.ServicerContext):
    """The sync handler's context (grpc.ServicerContext) of a call grpc.aio serves: it runs on a
    request thread; what must happen on the event loop (abort, initial metadata) is sent there and
    waited for. abort raises grpc.aio.AbortError, as the call's own context does, which ends the call."""

    def __init__(self, context, loop: asyncio.AbstractEventLoop):
        self._context = context
        self._loop = loop

    def _on_loop(self, coroutine):
        return asyncio.run_coroutine_threadsafe(coroutine, self._loop).result()

    def abort(self, code, details):
        self._on_loop(self._context.abort(code, details))
        raise grpc.aio.AbortError(details)  # not reached: the call's abort raised it already

    def abort_with_status(self, status):
        self._on_loop(self._context.abort(status.code, status.details, status.trailing_metadata))
        raise grpc.aio.AbortError(status.details)

    def send_initial_metadata(self, initial_metadata):
        self._on_loop(self._context.send_initial_metadata(initial_metadata))

    def is_active(self) -> bool:
        return not self._context.done()

    def time_remaining(self):
        return self._context.time_remaining()

    def cancel(self):
        self.abort(grpc.StatusCode.CANCELLED, "cancelled by the server")

    def add_callback(self, callback) -> bool:
        self._loop.call_soon_threadsafe(self._context.add_done_callback, lambda _: callback())
        return True

    def invocation_metadata(self):
        return self._context.invocation_metadata()

    def peer(self):
        return self._context.peer()

    def peer_identities(self):
        return self._context.peer_identities()

    def peer_identity_key(self):
        return self._context.peer_identity_key()

    def auth_context(self):
        return self._context.auth_context()

    def set_compression(self, compression):
        self._context.set_compression(compression)

    def disable_next_message_compression(self):
        self._context.disable_next_message_compression()

    def set_trailing_metadata(self, trailing_metadata):
        self._context.set_trailing_metadata(trailing_metadata)

    def trailing_metadata(self):
        return self._context.trailing_metadata()

    def set_code(self, code):
        self._context.set_code(code)

    def set_details(self, details):
        self._context.set_details(details)

    def code(self):
        return self._context.code()

    def details(self):
        return self._context.details()


def channel_options() -> list[tuple[str, int]]:
    """Server options for keepalive and idle connections."""
    return [
        ("grpc.keepalive_time_ms", KEEPALIVE_TIME_MS),
        ("grpc.keepalive_timeout_ms", KEEPALIVE_TIMEOUT_MS),
        ("grpc.max_connection_idle_ms", MAX_CONNECTION_IDLE_MS),
    ]


def _is_async(fn) -> bool:
    return inspect.iscoroutinefunction(fn) or inspect.isasyncgenfunction(fn)


class CallBounds(grpc.aio.ServerInterceptor):
    """Bounds the wait for a unary call's request message (``read_timeout`` seconds from the call's
    arrival; 0 or None: no bound) and counts the calls in progress. ``threads`` runs sync handlers."""

    def __init__(self, read_timeout: float | None, threads, setting: str = "--request-read-timeout",
                 max_calls: int = 0):
        self.read_timeout = read_timeout or None
        self.threads = threads
        self.setting = setting
        self.max_calls = max_calls or 0
        self.in_flight = 0
        self._refused = grpc.stream_stream_rpc_method_handler(self._refuse)
        self._count_lock = threading.Lock()  # sync handlers count from the request threads
        self._handlers: dict[int, tuple[object, grpc.RpcMethodHandler]] = {}

    async def intercept_service(self, continuation, handler_call_details):
        handler = await continuation(handler_call_details)
        if handler is None:
            return None
        if (self.max_calls and self.in_flight >= self.max_calls
                and not handler_call_details.method.startswith(HEALTH_SERVICE)):
            return self._refused
        known = self._handlers.get(id(handler))
        if known is not None and known[0] is handler:
            return known[1]
        wrapped = self._wrap(handler, handler_call_details.method)
        self._handlers[id(handler)] = (handler, wrapped)  # keeps ``handler`` alive, so its id stays its own
        return wrapped

    async def _refuse(self, request_iterator, context):
        await context.abort(grpc.StatusCode.RESOURCE_EXHAUSTED,
                            f"{self.max_calls} calls are in progress, the most this server takes at once "
                            "(--max-concurrent-rpcs); retry later")
        yield  # an async generator: refused without reading the request

    # --- counting --------------------------------------------------------------------------

    def _enter(self) -> None:
        with self._count_lock:
            self.in_flight += 1

    def _leave(self) -> None:
        with self._count_lock:
            self.in_flight -= 1

    def _wrap(self, h: grpc.RpcMethodHandler, method: str) -> grpc.RpcMethodHandler:
        des, ser = h.request_deserializer, h.response_serializer
        if h.unary_unary is not None:
            timeout = self.read_timeout
            setting = self.setting
            if method == HEALTH_CHECK:
                timeout, setting = min(timeout or HEALTH_READ_TIMEOUT, HEALTH_READ_TIMEOUT), "the health Check bound"
            return grpc.stream_unary_rpc_method_handler(
                self._bounded_unary(h.unary_unary, timeout, setting), request_deserializer=des,
                response_serializer=ser)
        if h.unary_stream is not None:
            return grpc.unary_stream_rpc_method_handler(self._counted(h.unary_stream), des, ser)
        if h.stream_unary is not None:
            return grpc.stream_unary_rpc_method_handler(self._counted(h.stream_unary), des, ser)
        return grpc.stream_stream_rpc_method_handler(self._counted(h.stream_stream), des, ser)

    def _counted(self, fn):
        """``fn`` as a handler of the same kind (sync or async, one answer or a stream) that counts
        itself in progress while it runs."""
        enter, leave = self._enter, self._leave
        if inspect.isasyncgenfunction(fn):
            async def counted(request, context):
                enter()
                try:
                    async for response in fn(request, context):
                        yield response
                finally:
                    leave()
        elif inspect.iscoroutinefunction(fn):
            async def counted(request, context):
                enter()
                try:
                    return await fn(request, context)
                finally:
                    leave()
        else:
            def counted(request, context):
                enter()
                try:
                    result = fn(request, context)
                except BaseException:
                    leave()
                    raise
                if not inspect.isgenerator(result) and not hasattr(result, "__next__"):
                    leave()
                    return result
                return _counted_stream(result, leave)
        return counted

    def _bounded_unary(self, fn, timeout: float, setting: str):
        """A stream-request handler that reads the one request message within ``timeout`` seconds (None: no bound),
        then answers it with ``fn`` (on the event loop when it is async, else on the request threads)."""
        details = timeout and (f"request message: expected within {timeout:g} s of the call's arrival ({setting}), "
                   "none read (headers came, no message)")
        is_async = _is_async(fn)
        threads = self.threads
        enter, leave = self._enter, self._leave

        async def bounded(request_iterator, context):
            enter()
            try:
                try:
                    if timeout is None:
                        request = await request_iterator.__anext__()
                    else:
                        async with asyncio.timeout(timeout):
                            request = await request_iterator.__anext__()
                except TimeoutError:
                    log.info("call cancelled: %s", details, extra={"event": "request_read_timeout"})
                    await context.abort(grpc.StatusCode.DEADLINE_EXCEEDED, details)
                except StopAsyncIteration:
                    await context.abort(grpc.StatusCode.INVALID_ARGUMENT,
                                        "request message: expected one, the call ended without any")
                if is_async:
                    return await fn(request, context)
                loop = asyncio.get_running_loop()
                return await loop.run_in_executor(threads, fn, request, SyncContext(context, loop))
            finally:
                leave()

        return bounded


def _counted_stream(responses, leave):
    try:
        yield from responses
    finally:
        leave()
