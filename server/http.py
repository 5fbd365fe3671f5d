"""The HTTP port of `leapserve serve` (``--http-port``, off unless set).

aiohttp serves it on an event loop in a thread of its own in each server process, beside the gRPC
server, on the same registry. The endpoints come from route modules (ROUTE_MODULES, each protocol
in its own; server/http_oip.py: the Open Inference Protocol's REST v2), each adding its routes with
``HttpPort.route``; around every handler they get what the gRPC services get:

* limits: a body over ``--max-message-size`` is refused with 413 before it is read whole; a body
  that does not arrive within ``--request-read-timeout`` gets 408; more requests in progress than
  ``--max-concurrent-rpcs`` get 429;
* deadlines: the request header ``timeout`` (milliseconds, as MLeap's HTTP server reads it) bounds
  the call; past it the answer is 504 (the scoring, if started, finishes on its thread unseen);
* errors: every refusal is a JSON object ``{"error": MESSAGE}``, with ``field``, ``expected`` and
  ``actual`` apart when one field is to blame, and the HTTP status of its kind (STATUS below); a
  bug is logged with the request id and answered 500 with only that id;
* metrics in the gRPC families (server/metrics.py) with ``rpc`` = ``http/<Endpoint>`` and ``code``
  = the gRPC status code name the refusal would have there; debug request logs; OpenTelemetry spans
  (parent from the W3C ``traceparent`` header) with ``--tracing``;
* TLS and mutual TLS with the gRPC port's files (re-read when they change, for new connections).

Blocking work (scoring a body over INLINE_BODY_BYTES, loading and unloading) runs on a pool of
``--threads`` threads so the loop keeps answering health and small calls meanwhile; small bodies
are scored on the loop, which saves two thread switches per call.

Shutdown: ``drain()`` turns readiness false at SIGTERM (answers go on, each closing its
connection so keep-alive clients reconnect elsewhere); ``stop(grace)`` closes the listener and
gives requests in progress up to ``grace`` seconds.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import json
import logging
import math
import ssl
import threading
import time
import uuid

from aiohttp import web

from leapserve.runtime.errors import ScoringError

from .errors import DeadlineExceeded, FieldError, ServeError
from .logs import client_text
from .loops import event_loop_kind, new_event_loop

log = logging.getLogger("leapserve.server")
request_log = logging.getLogger("leapserve.requests")

TIMEOUT_HEADER = "timeout"  # milliseconds, as MLeap's Spring Boot server names it
REQUEST_ID_HEADER = "x-request-id"
INLINE_BODY_BYTES = 16 * 1024
# The gRPC status code name of a refusal -> its HTTP status.
STATUS = {
    "OK": 200, "INVALID_ARGUMENT": 400, "FAILED_PRECONDITION": 409, "OUT_OF_RANGE": 400, "NOT_FOUND": 404,
    "ALREADY_EXISTS": 409, "UNAUTHENTICATED": 401, "PERMISSION_DENIED": 403, "RESOURCE_EXHAUSTED": 413,
    "UNIMPLEMENTED": 403, "UNAVAILABLE": 503, "DEADLINE_EXCEEDED": 504, "CANCELLED": 499, "INTERNAL": 500,
    "UNKNOWN": 500,
}
# aiohttp's own refusals (before a handler runs) -> the gRPC code name counted for them.
_CODE_OF_STATUS = {400: "INVALID_ARGUMENT", 404: "NOT_FOUND", 405: "UNIMPLEMENTED", 408: "DEADLINE_EXCEEDED",
                   413: "RESOURCE_EXHAUSTED", 429: "RESOURCE_EXHAUSTED"}


class HttpError(Exception):
    """A refusal with its HTTP status and gRPC code name (for metrics and logs)."""

    def __init__(self, status: int, code: str, message: str, field: str = "", expected: str = "", actual: str = ""):
        super().__init__(message)
        self.status, self.code, self.message = status, code, message
        self.field, self.expected, self.actual = field, expected, actual

    def body(self) -> dict:
        out = {"error": self.message}
        if self.field:
            out.update(field=self.field, expected=self.expected, actual=self.actual)
        return out


def error_of(e: BaseException, request_id: str, what: str) -> HttpError:
    """The HttpError a handler's exception answers (server/errors.py says which kind is which)."""
    from .services.common import scoring_failure, serve_failure

    if isinstance(e, HttpError):
        return e
    if isinstance(e, (ScoringError, ServeError)):
        f = scoring_failure(e) if isinstance(e, ScoringError) else serve_failure(e)
        return HttpError(STATUS.get(f.code.name, 500), f.code.name, f.message, f.field, f.expected, f.actual)
    if isinstance(e, web.HTTPException):
        return HttpError(e.status, _CODE_OF_STATUS.get(e.status, "UNKNOWN"), e.reason if e.text is None
                         or e.text.startswith(f"{e.status}:") else e.text)
    log.error("%s failed (request id %s): %s: %s", what, client_text(request_id), type(e).__name__,
              client_text(e, 1000), exc_info=e)
    return HttpError(500, "INTERNAL", f"internal error (request id {request_id})")


def field_error(field: str, expected: str, actual: str, status: int = 400) -> HttpError:
    e = FieldError(field, expected, actual)
    code = {400: "INVALID_ARGUMENT", 404: "NOT_FOUND", 413: "RESOURCE_EXHAUSTED"}.get(status, "INVALID_ARGUMENT")
    return HttpError(status, code, e.message, field, expected, actual)


def json_response(body, status: int = 200, headers=None) -> web.Response:
    return web.Response(body=json.dumps(body, separators=(",", ":")).encode(), status=status,
                        content_type="application/json", headers=headers)


def check_admin(call: "Call", rpc: str) -> None:
    """403 unless the server runs with --admin; 401 without the admin token (when one is set), in
    the header ``Authorization: Bearer <token>`` or ``x-leapserve-admin-token: <token>``."""
    from .services.admin import admin_token_failure

    if not call.port.config.admin:
        raise HttpError(403, "UNIMPLEMENTED",
                        f"{rpc} is part of the admin API, which is off: start the server with --admin")
    failure = admin_token_failure(call.port.config.admin_token, _HeaderMetadata(call.request.headers))
    if failure is not None:
        message = failure.message.replace("metadata 'authorization", "header 'Authorization")
        raise HttpError(401, failure.code.name, message)


class _HeaderMetadata:
    """HTTP headers as the gRPC metadata admin_token_failure reads (lower-case keys)."""

    def __init__(self, headers):
        self.headers = headers

    def invocation_metadata(self):
        return [(k.lower(), v) for k, v in self.headers.items()]


class Call:
    """One request as a handler sees it: its deadline, request id, and the labels it is counted by."""

    __slots__ = ("request", "port", "deadline", "request_id", "model", "version", "rows_ok", "rows_skipped",
                 "failure_code")

    def __init__(self, request: web.Request, port: HttpPort, deadline: float | None):
        self.request = request
        self.port = port
        self.deadline = deadline  # time.monotonic() value, or None
        self.request_id = request.headers.get(REQUEST_ID_HEADER, "")
        self.model = None  # set by the handler: the model and version asked for
        self.version = ""
        self.rows_ok = 0
        self.rows_skipped = 0
        self.failure_code = ""  # set by a handler whose answer carries a failure (MLeap's STATUS_ERROR)

    def check_deadline(self) -> None:
        if self.deadline is not None and time.monotonic() >= self.deadline:
            raise DeadlineExceeded("the deadline passed before the request was scored")

    async def body(self) -> bytes:
        """The whole body, within --max-message-size (413) and --request-read-timeout (408)."""
        wait = self.port.config.request_read_timeout or None
        try:
            return await asyncio.wait_for(self.request.read(), wait)
        except asyncio.TimeoutError:
            raise HttpError(408, "DEADLINE_EXCEEDED", f"the request body did not arrive within {wait:g} s "
                            "(--request-read-timeout)") from None
        except web.HTTPRequestEntityTooLarge:
            length = self.request.content_length
            raise HttpError(413, "RESOURCE_EXHAUSTED", f"the request body is over "
                            f"{self.port.config.max_message_size:,} bytes (--max-message-size); got "
                            + (f"{length:,} bytes" if length is not None else "more")) from None

    async def run(self, fn, *args, inline: bool = False):
        """fn(*args) on the loop (``inline``) or on the port's threads, within the deadline."""
        self.check_deadline()
        if inline:
            return fn(*args)
        future = asyncio.get_running_loop().run_in_executor(self.port.executor, fn, *args)
        if self.deadline is None:
            return await future
        try:
            return await asyncio.wait_for(asyncio.shield(future), max(0.0, self.deadline - time.monotonic()))
        except asyncio.TimeoutError:
            raise DeadlineExceeded("the deadline passed while the request was being served") from None


class HttpPort:
    """The HTTP listener of one server process (see the module's docstring)."""

    def __init__(self, config, registry, observer=None):
        self.config = config
        self.registry = registry
        self.metrics = observer.metrics if observer is not None else None
        self.log_requests = observer.log_requests if observer is not None else False
        self.tracer = observer.tracer if observer is not None else None
        self.draining = False
        self.in_flight = 0
        self.app = web.Application(client_max_size=config.max_message_size, middlewares=[self._refusals])
        self.executor = concurrent.futures.ThreadPoolExecutor(config.threads, thread_name_prefix="leapserve-http")
        self.loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._runner: web.AppRunner | None = None
        self._tls_watch = None

    # --- routes ------------------------------------------------------------------------------

    def route(self, method: str, path: str, name: str, handler) -> None:
        """Serve ``handler(call, **match_info)`` (a coroutine returning a web.Response) at ``path``;
        ``name`` labels its metrics, logs and spans (``http/<name>``)."""
        self.app.router.add_route(method, path, self._wrap(name, path, handler))

    def _wrap(self, name: str, path: str, handler):
        rpc = "http/" + name
        perf = time.perf_counter
        children = self.metrics.children(rpc, rows=True) if self.metrics is not None else None

        async def endpoint(request: web.Request) -> web.StreamResponse:
            start = perf()
            call = Call(request, self, None)
            span = self._span(request, name, path) if self.tracer is not None else None
            limit = self.config.max_concurrent_rpcs
            self.in_flight += 1
            try:
                if limit and self.in_flight > limit:
                    raise HttpError(429, "RESOURCE_EXHAUSTED", f"more than {limit} requests in progress "
                                    "(--max-concurrent-rpcs); try again later")
                call.deadline = _deadline(request.headers.get(TIMEOUT_HEADER))
                response = await handler(call, **request.match_info)
                code = call.failure_code or "OK"
            except asyncio.CancelledError:  # the client went away
                code, response = "CANCELLED", None
                raise
            except BaseException as e:
                error = error_of(e, call.request_id or _new_id(call), name)
                code = error.code
                response = json_response(error.body(), error.status)
            finally:
                self.in_flight -= 1
                elapsed = perf() - start
                if self.draining and response is not None:
                    response.force_close()
                self._observe(call, rpc, code, elapsed, response, span, children)
            return response

        return endpoint

    @web.middleware
    async def _refusals(self, request: web.Request, handler):
        """aiohttp's own refusals (no such route, method not allowed) as JSON errors."""
        try:
            return await handler(request)
        except web.HTTPException as e:
            if e.status < 400:
                raise
            error = error_of(e, "", request.path)
            if e.status == 404:
                error.message = f"no endpoint {request.method} {request.path}"
            elif e.status == 405:
                error.message = f"{request.method} is not served at {request.path}; " \
                                f"allowed: {', '.join(sorted(e.allowed_methods))}"
            return json_response(error.body(), e.status)

    # --- observing ---------------------------------------------------------------------------

    def _span(self, request, name, path):
        from opentelemetry import propagate
        from opentelemetry.trace import SpanKind

        try:
            parent = propagate.extract(dict(request.headers))
        except Exception:
            parent = None
        span = self.tracer.start_span(f"{request.method} {path}", context=parent, kind=SpanKind.SERVER,
                                      attributes={"http.request.method": request.method, "http.route": path,
                                                  "leapserve.endpoint": name})
        return span

    def _observe(self, call: Call, rpc: str, code: str, elapsed: float, response, span, children) -> None:
        model, version = ("", "") if call.model is None else self.registry.metric_labels(call.model, call.version)
        if children is not None:
            c = children(model, version, code)
            c[0].inc()
            c[1].observe(elapsed)
            if call.rows_ok:
                c[2].inc(call.rows_ok)
            if call.rows_skipped:
                c[4].inc(call.rows_skipped)
        status = response.status if response is not None else 499
        if span is not None:
            from opentelemetry.trace import Status, StatusCode

            if model:
                span.set_attribute("leapserve.model", model)
            span.set_attribute("http.response.status_code", status)
            if status >= 400:
                span.set_status(Status(StatusCode.ERROR, code))
            span.end()
        if self.log_requests:
            rid = client_text(call.request_id)
            request_log.debug("%s model=%s version=%s code=%s status=%d %.3f ms request_id=%s", rpc, model, version,
                              code, status, elapsed * 1000, rid,
                              extra={"event": "request", "rpc": rpc, "model": model, "version": version,
                                     "code": code, "status": status, "ms": round(elapsed * 1000, 3),
                                     "request_id": rid})

    # --- running -----------------------------------------------------------------------------

    def start(self, host: str, port: int, reuse_port: bool = False) -> str:
        """Listen (raises OSError when it cannot) and serve from a thread of its own; returns the
        address bound, as ``http[s]://host:port``."""
        ready: concurrent.futures.Future = concurrent.futures.Future()
        self._thread = threading.Thread(target=self._serve, args=(host, port, reuse_port, ready),
                                        name="leapserve-http-loop", daemon=True)
        self._thread.start()
        return ready.result()

    def _serve(self, host, port, reuse_port, ready) -> None:
        loop = self.loop = new_event_loop(event_loop_kind(self.config.event_loop))
        asyncio.set_event_loop(loop)
        try:
            address = loop.run_until_complete(self._listen(host, port, reuse_port))
        except BaseException as e:
            ready.set_exception(e)
            loop.close()
            return
        ready.set_result(address)
        try:
            loop.run_forever()
        finally:
            loop.close()

    async def _listen(self, host, port, reuse_port) -> str:
        context = None
        config = self.config
        if config.tls():
            context = _TlsFiles(config.tls_cert, config.tls_key, config.tls_client_ca)
            self._tls_watch = asyncio.get_running_loop().create_task(context.watch())
        self._runner = web.AppRunner(self.app, access_log=None, shutdown_timeout=config.grace,
                                     handle_signals=False)
        await self._runner.setup()
        site = web.TCPSite(self._runner, host, port, ssl_context=context.context if context else None,
                           reuse_port=reuse_port or None, backlog=1024)
        await site.start()
        bound = site._server.sockets[0].getsockname()[1] if site._server and site._server.sockets else port
        shown = f"[{host}]" if ":" in host and not host.startswith("[") else host
        scheme = "https" if context else "http"
        mtls = " (mutual TLS)" if config.tls_client_ca else ""
        return f"{scheme}://{shown}:{bound}{mtls}"

    def drain(self) -> None:
        """Readiness false from now on; requests are still answered."""
        self.draining = True

    def stop(self, grace: float) -> None:
        """Stop accepting, give requests in progress up to ``grace`` seconds, stop the loop."""
        loop = self.loop
        if loop is None or self._thread is None:
            return

        async def close():
            if self._tls_watch is not None:
                self._tls_watch.cancel()
            if self._runner is not None:
                await self._runner.cleanup()

        try:
            asyncio.run_coroutine_threadsafe(close(), loop).result(grace + 5)
        except Exception as e:  # a stuck handler must not hold the process
            log.warning("HTTP port: stopping took too long (%s); closing it", type(e).__name__)
        loop.call_soon_threadsafe(loop.stop)
        self._thread.join(5)
        self.executor.shutdown(wait=False, cancel_futures=True)


def _new_id(call: Call) -> str:
    call.request_id = uuid.uuid4().hex[:16]
    return call.request_id


def _deadline(value: str | None) -> float | None:
    """The monotonic deadline of a ``timeout`` header (milliseconds), or None without one."""
    if value is None:
        return None
    try:
        ms = float(value)
    except ValueError:
        ms = math.nan
    if not (ms > 0 and math.isfinite(ms)):
        raise field_error(f"header {TIMEOUT_HEADER!r}", "a positive number of milliseconds", repr(value[:40]))
    return time.monotonic() + ms / 1000.0


class _TlsFiles:
    """An ssl.SSLContext for the HTTP port from the gRPC port's files, reloaded when they change
    (new handshakes use the new certificate; open connections keep theirs)."""

    def __init__(self, cert: str, key: str, client_ca: str | None):
        from .tls import TlsFiles

        self.files = TlsFiles(cert, key, client_ca)
        self.context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        self.context.minimum_version = ssl.TLSVersion.TLSv1_2
        self._load()
        if client_ca:
            self.context.verify_mode = ssl.CERT_REQUIRED

    def _load(self) -> None:
        files = self.files
        self.context.load_cert_chain(files.cert, files.key)
        if files.client_ca:
            self.context.load_verify_locations(files.client_ca)

    async def watch(self) -> None:
        from .tls import CHECK_INTERVAL

        while True:
            await asyncio.sleep(CHECK_INTERVAL)
            if not self.files.changed("the HTTP port keeps the previous ones"):
                continue
            try:
                self._load()
            except (ssl.SSLError, OSError) as e:
                log.warning("HTTP port: cannot load the changed TLS files (%s); keeping the previous ones", e)
                continue
            log.info("TLS files changed: the HTTP port uses the new certificate for new connections",
                     extra={"event": "tls_reloaded"})


# The modules whose add_routes(port) lay out the port's endpoints, each protocol in its own.
ROUTE_MODULES = ("http_oip", "http_mleap")


def start_http_port(config, registry, observer=None) -> tuple[HttpPort, str]:
    """The HTTP port with every route module's routes, listening on --host:--http-port."""
    import importlib

    port = HttpPort(config, registry, observer)
    for name in ROUTE_MODULES:
        importlib.import_module(f"{__package__}.{name}").add_routes(port)
    address = port.start(config.host, config.http_port, reuse_port=config.workers > 1)
    return port, address


__all__ = ["Call", "HttpError", "HttpPort", "TIMEOUT_HEADER", "check_admin", "field_error", "json_response",
           "start_http_port"]
