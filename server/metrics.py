"""Prometheus metrics, request-level debug logs and optional OpenTelemetry spans of `leapserve serve`.

Metrics are served over plain HTTP on ``--metrics-port`` (path ``/metrics``, any path works), apart
from gRPC. What they count (labels in braces):

* ``leapserve_requests_total{model,version,rpc,code}``: calls answered, by gRPC status code name
  (``OK``, ``INVALID_ARGUMENT``, ...). PredictStream counts each message of a stream.
* ``leapserve_request_duration_seconds{model,version,rpc,code}``: histogram of the time in the
  handler (decoding, scoring, encoding), from the handler's start to its answer.
* ``leapserve_rows_total{model,version,rpc,outcome}``: records by outcome: ``ok`` (scored),
  ``invalid`` (refused: missing or wrong field, including a Predict record Spark would drop),
  ``skipped`` (a batch record Spark would drop). A batch call that fails as a whole counts no rows.
* ``leapserve_model_loads_total{model,version}``, ``leapserve_model_reloads_total{model,version}``,
  ``leapserve_model_load_failures_total{model,version,stage}`` (stage ``load`` or ``reload``),
  ``leapserve_model_unloads_total{model,version}``,
  ``leapserve_model_load_duration_seconds{model}`` (histogram: reading, building and warming).
* ``leapserve_models_loaded``: model versions serving a loaded copy; ``leapserve_ready``: 1 when
  the server is ready (health SERVING: Registry.readiness), else 0; ``leapserve_build_info{version}``.
* The client library's ``process_*`` (resident memory, CPU, open files) and ``python_*`` series
  (single-process servers only).

``model`` and ``version`` are the served ones: an empty version in the request is labelled with the
default version that answered it. Names the server does not know are labelled ``_unknown``, so a
client cannot create series. Calls refused by gRPC before reaching a handler (over
``--max-concurrent-rpcs``, message too large, unknown method) are not counted here.

The hot path is one dictionary lookup of pre-bound label children per call, plus the increments.
The handlers are wrapped when the server is built; with no metrics port, no tracing and a log level
above debug they are not wrapped at all.

With ``--workers N`` each worker writes its values to files in a shared directory
(``PROMETHEUS_MULTIPROC_DIR``, the client library's multi-process mode) and the supervisor
(server/supervisor.py) serves their sum.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
import os
import time
from importlib import metadata

from leapserve.v1 import prediction_pb2

from .logs import client_text
from .services.common import request_id_of
from .wire import BATCH_COUNT_TAGS

log = logging.getLogger("leapserve.requests")

LATENCY_BUCKETS = (0.0001, 0.00025, 0.0005, 0.00075, 0.001, 0.0015, 0.0025, 0.005, 0.01, 0.025, 0.05,
                   0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
LOAD_BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)
MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"

# Streams whose first message names the model every later message is scored with (MLeap's); a
# PredictStream message names its own.
MODEL_FROM_FIRST_MESSAGE = frozenset({"TransformFrameStream", "TransformRowStream"})

# RPC -> (attribute holding the model name, attribute holding the version, kind of rows counted)
RPCS = {
    "leapserve.v1.PredictionService": {
        "Predict": ("model", "version", "one"),
        "PredictBatch": ("model", "version", "batch"),
        "PredictStream": ("model", "version", "stream"),
        "GetModelMetadata": ("model", "version", None),
        "ListModels": (None, None, None),
    },
    "inference.GRPCInferenceService": {
        "ModelInfer": ("model_name", "model_version", "tensors"),
        "ModelMetadata": ("name", "version", None),
        "ModelReady": ("name", "version", None),
        "ServerLive": (None, None, None),
        "ServerReady": (None, None, None),
        "ServerMetadata": (None, None, None),
        # The repository calls are counted without model labels: a load may name a model not served yet.
        "RepositoryIndex": (None, None, None),
        "RepositoryModelLoad": (None, None, None),
        "RepositoryModelUnload": (None, None, None),
    },
    # MLeap's API: no versions (the default one answers); a Transform counts its frame's rows
    "ml.combust.mleap.pb.Mleap": {
        "Transform": ("model_name", None, "frame"),
        "TransformFrameStream": ("model_name", None, "stream"),
        "TransformRowStream": ("model_name", None, "stream"),
        "GetBundleMeta": ("model_name", None, None),
        "GetModel": ("model_name", None, None),
        "CreateFrameStream": ("model_name", None, None),
        "GetFrameStream": ("model_name", None, None),
        "CreateRowStream": ("model_name", None, None),
        "GetRowStream": ("model_name", None, None),
        "LoadModel": (None, None, None),
        "UnloadModel": (None, None, None),
    },
    "leapserve.v1.ModelService": {
        "LoadModel": ("model", "version", None),
        "UnloadModel": ("model", "version", None),
    },
}

_CODE_NAMES: dict[int, str] = {}


def code_name(value: int) -> str:
    if not _CODE_NAMES:
        import grpc

        _CODE_NAMES.update({c.value[0]: c.name for c in grpc.StatusCode})
    return _CODE_NAMES.get(value, "UNKNOWN")


def _context_code(context) -> str:
    try:
        code = context.code()
    except Exception:
        code = None
    return code.name if code is not None else "UNKNOWN"


# A client's own deadline passes first: it cancels the call a moment before our copy of that
# deadline (sent as grpc-timeout, rounded up by gRPC to three significant figures: up to 1% later,
# and counted from when the headers reached us) passes. A cancel that close to the deadline is the
# deadline's.
DEADLINE_ROUNDING = 0.01
DEADLINE_TRANSIT_SECONDS = 0.05


def _cancelled_code(context, elapsed: float) -> str:
    """The code of an async call whose task was cancelled (grpc.aio's context keeps no code for it):
    its deadline passed (or was about to: see DEADLINE_ROUNDING), or its client cancelled or left.
    ``elapsed``: seconds since the handler started."""
    try:
        remaining = context.time_remaining()
    except Exception:
        remaining = None
    if remaining is None:
        return "CANCELLED"
    slack = DEADLINE_ROUNDING * (elapsed + max(remaining, 0.0)) + DEADLINE_TRANSIT_SECONDS
    return "DEADLINE_EXCEEDED" if remaining <= slack else "CANCELLED"


def request_id(request, context) -> str:
    """The request's id: its request_id (or id) field, else the x-request-id header, else a new one."""
    return request_id_of(getattr(request, "request_id", None) or getattr(request, "id", None) or "", context)


def batch_outcomes(data, n: int) -> tuple[int, int, int]:
    """(ok, invalid, skipped) of a PredictBatchResponse for n records.

    The service writes its three counts last, in the order of wire.BATCH_COUNT_TAGS (zero counts
    left out). They are read backwards from the end: a varint's last byte is below 0x80 and its
    other bytes are not, so each count's start is certain; the tag before it must be that of a count
    written before the one read last, and the counts add up to n exactly when all of them are read.
    Anything else (a response object, another layout) is parsed the ordinary way.
    """
    if not isinstance(data, bytes):
        return data.ok_count, data.invalid_count, data.skipped_count
    counts = [0] * len(BATCH_COUNT_TAGS)
    total = 0
    end = len(data)
    before = len(BATCH_COUNT_TAGS)  # the next count read is one of BATCH_COUNT_TAGS[:before]
    while total < n and end > 0:
        start = end - 1
        if data[start] >= 0x80:
            break
        while start > 0 and data[start - 1] >= 0x80:
            start -= 1
        for k in range(before - 1, -1, -1):
            tag = BATCH_COUNT_TAGS[k]
            if data.endswith(tag, 0, start):
                break
        else:
            break
        value = 0
        for shift, byte in enumerate(data[start:end]):
            value |= (byte & 0x7F) << (7 * shift)
        counts[k] = value
        total += value
        before = k
        end = start - len(tag)
    if total != n:
        parsed = prediction_pb2.PredictBatchResponse.FromString(data)
        return parsed.ok_count, parsed.invalid_count, parsed.skipped_count
    return tuple(counts)


def _tensor_rows(response) -> tuple[int, int, int]:
    n = response.outputs[0].shape[0] if response.outputs and response.outputs[0].shape else 0
    skipped = 0
    param = response.parameters.get("skipped_rows") if response.parameters else None
    if param is not None and param.string_param:
        skipped = param.string_param.count(",") + 1
    return n - skipped, 0, skipped


def _count_rows(children, rows: str, request, response) -> None:
    try:
        if rows == "batch":
            ok, invalid, skipped = batch_outcomes(response, len(request.records))
        else:
            ok, invalid, skipped = _tensor_rows(response)
    except Exception:  # a layout this code does not know must not fail the call
        log.debug("cannot count the rows of a %s answer", rows, exc_info=True)
        return
    if ok:
        children[2].inc(ok)
    if invalid:
        children[3].inc(invalid)
    if skipped:
        children[4].inc(skipped)


def _log_request(rpc: str, model: str, version: str, code: str, elapsed: float, rid: str) -> None:
    """The debug line of one answered request (--log-level debug), in text and JSON logs."""
    log.debug("%s model=%s version=%s code=%s %.3f ms request_id=%s", rpc, model, version, code, elapsed * 1000, rid,
              extra={"event": "request", "rpc": rpc, "model": model, "version": version,
                     "code": code, "ms": round(elapsed * 1000, 3), "request_id": rid})


def _count_answer(children, response) -> None:
    """Rows of an answer that counts its own (server/services/mleap.py's Answer)."""
    rows = getattr(response, "rows", None)
    if not isinstance(rows, tuple):
        return
    for child, count in zip(children[2:], rows):
        if count:
            child.inc(count)


def package_version() -> str:
    try:
        return metadata.version("leapserve")
    except metadata.PackageNotFoundError:
        return "0"


class Metrics:
    """The server's metrics (one set per server process)."""

    def __init__(self, registry):
        from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, disable_created_metrics

        disable_created_metrics()  # the *_created series double the output and nobody reads them
        self.registry = registry
        self.multiprocess = bool(os.environ.get(MULTIPROC_ENV))
        self.collectors = CollectorRegistry(auto_describe=True)
        if not self.multiprocess:
            from prometheus_client.gc_collector import GCCollector
            from prometheus_client.platform_collector import PlatformCollector
            from prometheus_client.process_collector import ProcessCollector

            ProcessCollector(registry=self.collectors)
            PlatformCollector(registry=self.collectors)
            GCCollector(registry=self.collectors)
        r = self.collectors
        labels = ("model", "version", "rpc", "code")
        self.requests = Counter("leapserve_requests", "Calls answered, by model, version, RPC and status code",
                                labels, registry=r)
        self.latency = Histogram("leapserve_request_duration_seconds",
                                 "Time in the handler, by model, version, RPC and status code", labels,
                                 buckets=LATENCY_BUCKETS, registry=r)
        self.rows = Counter("leapserve_rows", "Records, by outcome (ok, invalid, skipped)",
                            ("model", "version", "rpc", "outcome"), registry=r)
        self.loads = Counter("leapserve_model_loads", "Model versions loaded (first load)", ("model", "version"),
                             registry=r)
        self.reloads = Counter("leapserve_model_reloads", "Model versions reloaded (changed bundle)",
                               ("model", "version"), registry=r)
        self.failures = Counter("leapserve_model_load_failures", "Failed loads and reloads",
                                ("model", "version", "stage"), registry=r)
        self.unloads = Counter("leapserve_model_unloads", "Model versions unloaded", ("model", "version"),
                               registry=r)
        self.scan_failures = Counter("leapserve_model_scan_failures",
                                     "Scans of the model directory that failed (the loaded models kept serving)",
                                     registry=r)
        self.scan_failing = Gauge("leapserve_model_scan_failing",
                                  "1 while scanning the model directory fails (an NFS or CSI hiccup, a renamed "
                                  "folder): bundles changed meanwhile are not seen", registry=r,
                                  multiprocess_mode="livemax")
        self.load_seconds = Histogram("leapserve_model_load_duration_seconds",
                                      "Time to read, build and warm a bundle", ("model",), buckets=LOAD_BUCKETS,
                                      registry=r)
        self.models_loaded = Gauge("leapserve_models_loaded", "Model versions serving a loaded copy",
                                   registry=r, multiprocess_mode="livemax")
        self.ready = Gauge("leapserve_ready", "1 when the server is ready (health SERVING)",
                           registry=r, multiprocess_mode="livemin")
        info = Gauge("leapserve_build_info", "leapserve's version", ("version",), registry=r,
                     multiprocess_mode="livemax")
        info.labels(version=package_version()).set(1)

    # --- registry hooks ----------------------------------------------------------------------

    def on_model_event(self, event: str, name: str, version: str, seconds: float) -> None:
        if event == "scan_failed":
            self.scan_failures.inc()
            self.scan_failing.set(1)
            return
        if event == "scan_recovered":
            self.scan_failing.set(0)
            return
        if event == "loaded":
            self.loads.labels(name, version).inc()
        elif event == "reloaded":
            self.reloads.labels(name, version).inc()
        elif event == "load_failed":
            self.failures.labels(name, version, "load").inc()
        elif event == "reload_failed":
            self.failures.labels(name, version, "reload").inc()
        elif event == "unloaded":
            self.unloads.labels(name, version).inc()
        if event != "unloaded":
            self.load_seconds.labels(name).observe(seconds)

    def on_state(self) -> None:
        self.models_loaded.set(self.registry.served_count())
        self.ready.set(1 if self.registry.ready() else 0)

    # --- label children of the calls ----------------------------------------------------------

    def children(self, rpc: str, rows: bool):
        """A function (model, version, code) -> (requests, latency, rows_ok, rows_invalid, rows_skipped)
        label children of ``rpc``'s calls (the rows ones None when ``rows`` is false), made once per
        distinct labels: the gRPC handlers' wrappers (Observer) and the HTTP port count through it."""
        cache: dict = {}

        def children(model: str, version: str, code: str):
            key = (model, version, code)
            found = cache.get(key)
            if found is None:
                row_children = (None, None, None)
                if rows:
                    row_children = tuple(self.rows.labels(model, version, rpc, outcome)
                                         for outcome in ("ok", "invalid", "skipped"))
                found = cache[key] = (self.requests.labels(model, version, rpc, code),
                                      self.latency.labels(model, version, rpc, code), *row_children)
            return found

        return children

    # --- serving /metrics ----------------------------------------------------------------------

    def serve(self, host: str, port: int):
        from prometheus_client import start_http_server

        return start_http_server(port, addr=host, registry=self.collectors)


# --- wrapping the handlers ------------------------------------------------------------------------

class Observer:
    """Wraps servicer methods with metrics, debug request logs and tracing, as configured."""

    def __init__(self, registry, metrics: Metrics | None, log_requests: bool, tracer=None):
        self.registry = registry
        self.metrics = metrics
        self.log_requests = log_requests
        self.tracer = tracer

    @property
    def active(self) -> bool:
        return self.metrics is not None or self.log_requests or self.tracer is not None

    def instrument(self, servicer, service: str) -> None:
        """Replace the servicer's handlers (instance attributes shadow the class's methods) before
        the servicer is added to a server."""
        if not self.active:
            return
        for rpc, (model_attr, version_attr, rows) in RPCS[service].items():
            fn = getattr(servicer, rpc, None)
            if fn is None:
                continue
            if self.tracer is not None:
                fn = _traced(fn, self.tracer, service, rpc, model_attr, rows == "stream")
            wrap = self._stream if rows == "stream" else self._unary
            setattr(servicer, rpc, wrap(fn, rpc, model_attr, version_attr, rows))

    def _unary(self, fn, rpc: str, model_attr, version_attr, rows):
        perf = time.perf_counter
        labels_of = self.registry.metric_labels
        children = self.metrics.children(rpc, rows is not None) if self.metrics is not None else None
        log_requests = self.log_requests

        def record(request, context, start, response, error):
            """The bookkeeping of one call, answered (``response``) or failed (``error``), both
            handlers' in one place."""
            elapsed = perf() - start
            if error is None:
                code = getattr(response, "metric_code", "OK")  # a failure answered in the response (MLeap's)
            elif isinstance(error, asyncio.CancelledError):
                code = _cancelled_code(context, elapsed)
            else:
                code = _context_code(context)
            if model_attr is not None:
                model, version = labels_of(getattr(request, model_attr),
                                           getattr(request, version_attr) if version_attr else "")
            else:
                model, version = "", ""
            if children is not None:
                c = children(model, version, code)
                c[0].inc()
                c[1].observe(elapsed)
                if rows == "frame":
                    _count_answer(c, response)
                elif rows is not None:
                    if code == "OK":
                        if rows == "one":
                            c[2].inc()
                        else:
                            _count_rows(c, rows, request, response)
                    elif code == "INVALID_ARGUMENT" and rows == "one":
                        c[3].inc()
            if log_requests:
                _log_request(rpc, model, version, code, elapsed, client_text(request_id(request, context)))

        # The two handlers differ only in the await; each makes one call to record, as the fast path
        # of Predict (on the event loop) should.
        if inspect.iscoroutinefunction(fn):
            async def handler(request, context):
                start = perf()
                try:
                    response = await fn(request, context)
                except BaseException as e:
                    record(request, context, start, None, e)
                    raise
                record(request, context, start, response, None)
                return response
        else:
            def handler(request, context):
                start = perf()
                try:
                    response = fn(request, context)
                except BaseException as e:
                    record(request, context, start, None, e)
                    raise
                record(request, context, start, response, None)
                return response

        handler.__name__ = rpc
        return handler

    def _stream(self, fn, rpc: str, model_attr, version_attr, rows):
        """PredictStream: each message is one request. The service answers in order and pulls the next
        request only after answering, so the latest request pulled is the one being answered."""
        perf = time.perf_counter
        labels_of = self.registry.metric_labels
        children = self.metrics.children(rpc, rows is not None) if self.metrics is not None else None
        log_requests = self.log_requests

        def record(request, model_name, context, response, elapsed):
            code = getattr(response, "metric_code", None) or (
                "OK" if isinstance(response, bytes) or not response.HasField("status")
                else code_name(response.status.code))
            if request is not None:
                model, version = labels_of(model_name, getattr(request, version_attr) if version_attr else "")
            else:
                model, version = "", ""
            if children is not None:
                c = children(model, version, code)
                c[0].inc()
                c[1].observe(elapsed)
                if isinstance(getattr(response, "rows", None), tuple):
                    _count_answer(c, response)
                elif code == "OK":
                    c[2].inc()
                elif code == "INVALID_ARGUMENT":
                    c[3].inc()
            if log_requests:
                rid = client_text(request_id(request, context)) if request is not None else ""
                _log_request(rpc, model, version, code, elapsed, rid)

        model_from_first = rpc in MODEL_FROM_FIRST_MESSAGE

        def model_of(request, previous: str) -> str:
            name = getattr(request, model_attr)
            return (previous or name) if model_from_first else name

        # current: when the request being answered arrived, the request, and the model it is scored
        # with. The model is read once the request is answered: a large PredictStream message is
        # parsed by the service, on a thread.
        if inspect.isasyncgenfunction(fn):
            async def handler(request_iterator, context):
                current = [0.0, None, ""]

                async def pulled():
                    async for request in request_iterator:
                        current[0] = perf()
                        current[1] = request
                        yield request

                async for response in fn(pulled(), context):
                    if current[1] is not None:
                        current[2] = model_of(current[1], current[2])
                    record(current[1], current[2], context, response, perf() - current[0])
                    yield response
        else:
            def handler(request_iterator, context):
                current = [0.0, None, ""]

                def pulled():
                    for request in request_iterator:
                        current[0] = perf()
                        current[1] = request
                        current[2] = model_of(request, current[2])
                        yield request

                for response in fn(pulled(), context):
                    record(current[1], current[2], context, response, perf() - current[0])
                    yield response

        handler.__name__ = rpc
        return handler


# --- OpenTelemetry (optional) ------------------------------------------------------------------------

def tracing_available() -> bool:
    import importlib.util

    return importlib.util.find_spec("opentelemetry") is not None and \
        importlib.util.find_spec("opentelemetry.trace") is not None


def make_tracer():
    """A tracer for the request spans. When the OpenTelemetry SDK is installed and nothing has
    configured a tracer provider yet (e.g. ``opentelemetry-instrument``), one is set up from the
    standard OTEL_* variables: OTLP when its exporter package is installed (or
    OTEL_TRACES_EXPORTER=otlp), the console with OTEL_TRACES_EXPORTER=console."""
    from opentelemetry import trace

    provider = trace.get_tracer_provider()
    if type(provider).__name__ in ("ProxyTracerProvider", "NoOpTracerProvider"):
        try:
            from opentelemetry.sdk.resources import Resource
            from opentelemetry.sdk.trace import TracerProvider
            from opentelemetry.sdk.trace.export import BatchSpanProcessor, ConsoleSpanExporter, SimpleSpanProcessor
        except ImportError:
            log.warning("tracing: opentelemetry-sdk is not installed; spans go to the API's no-op tracer")
        else:
            service = os.environ.get("OTEL_SERVICE_NAME", "leapserve")
            provider = TracerProvider(resource=Resource.create({"service.name": service}))
            exporter_name = os.environ.get("OTEL_TRACES_EXPORTER", "otlp").split(",")[0].strip()
            if exporter_name == "console":
                import sys

                provider.add_span_processor(SimpleSpanProcessor(ConsoleSpanExporter(out=sys.stderr)))
            elif exporter_name == "otlp":
                try:
                    from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter
                except ImportError:
                    log.warning("tracing: opentelemetry-exporter-otlp is not installed; no spans are exported")
                else:
                    provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
            trace.set_tracer_provider(provider)
    return trace.get_tracer("leapserve", package_version())


def _traced(fn, tracer, service: str, rpc: str, model_attr, stream: bool):
    from opentelemetry import propagate
    from opentelemetry.trace import SpanKind, Status, StatusCode

    def attributes(request):
        attrs = {"rpc.system": "grpc", "rpc.service": service, "rpc.method": rpc}
        if request is not None and model_attr is not None:
            attrs["leapserve.model"] = getattr(request, model_attr)
        return attrs

    def parent(context):
        try:
            return propagate.extract(dict(context.invocation_metadata() or ()))
        except Exception:
            return None

    def start(request, context, set_status_on_exception=False):
        return tracer.start_as_current_span(f"{service}/{rpc}", context=parent(context), kind=SpanKind.SERVER,
                                            attributes=attributes(request), record_exception=False,
                                            set_status_on_exception=set_status_on_exception)

    def failed(span, context, cancelled_after=None):
        """``cancelled_after``: seconds from the call's start to its cancellation, when it was cancelled."""
        code = _context_code(context) if cancelled_after is None else _cancelled_code(context, cancelled_after)
        span.set_attribute("rpc.grpc.status_code", _code_value(code))
        span.set_status(Status(StatusCode.ERROR, code))

    if stream and inspect.isasyncgenfunction(fn):
        async def handler(request_iterator, context):
            with start(None, context, True):
                async for response in fn(request_iterator, context):
                    yield response
        return handler

    if stream:
        def handler(request_iterator, context):
            with start(None, context, True):
                yield from fn(request_iterator, context)
        return handler

    if inspect.iscoroutinefunction(fn):
        async def handler(request, context):
            # the model is named once the call is done: a large Predict message is parsed by the
            # service, on a thread, not here on the event loop
            began = time.perf_counter()
            with start(None, context) as span:
                try:
                    response = await fn(request, context)
                except asyncio.CancelledError:
                    failed(span, context, cancelled_after=time.perf_counter() - began)
                    raise
                except BaseException:
                    failed(span, context)
                    raise
                finally:
                    if model_attr is not None:
                        span.set_attribute("leapserve.model", getattr(request, model_attr))
                span.set_attribute("rpc.grpc.status_code", 0)
                return response
        return handler

    def handler(request, context):
        with start(request, context) as span:
            try:
                response = fn(request, context)
            except BaseException:
                failed(span, context)
                raise
            span.set_attribute("rpc.grpc.status_code", 0)
            return response

    return handler


def _code_value(name: str) -> int:
    import grpc

    try:
        return grpc.StatusCode[name].value[0]
    except KeyError:
        return 2
