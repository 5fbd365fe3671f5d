"""Building and running the gRPC server of `leapserve serve`.

One server process holds a model registry (server/registry.py) and serves, on every address it
listens on (TCP and/or a Unix domain socket):

* leapserve.v1.PredictionService, and leapserve.v1.ModelService when admin is enabled;
* inference.GRPCInferenceService (Open Inference Protocol / KServe v2);
* ml.combust.mleap.pb.Mleap (MLeap's own gRPC API: server/services/mleap.py);
* grpc.health.v1.Health: "" and each service name are SERVING while the registry is ready (at least
  one model serving, and every required one: named by --model or found at start; see
  Registry.readiness), each change logged with its reason; ``model:NAME`` is SERVING while every version of NAME serves its latest
  bundle (NOT_SERVING after a failed load or reload, even when an older copy still serves);
* server reflection (grpcio-reflection).

With ``--http-port``, the same models over HTTP too (server/http.py: the Open Inference Protocol's
REST v2), started and stopped with the gRPC server.

The servers are grpc.aio's, on an event loop of their own thread (EventLoop): Predict, PredictStream,
OIP's ModelInfer, MLeap's TransformFrameStream and TransformRowStream, and health run on the loop and
hold no thread while they wait, so open streams are not bounded by ``--threads``; sync servicers
(OIP's other calls, ModelService, PredictBatch and metadata, any servicer added with its generated
add_*_to_server) run on the ``--threads`` request threads.

Around them (docs/operations.md): Prometheus metrics on ``--metrics-port`` (server/metrics.py), a
plaintext health-only listener on ``--health-port`` for probes, TLS and mutual TLS on TCP
(server/tls.py), text or JSON logs (server/logs.py), optional OpenTelemetry spans.

Shutdown (SIGTERM or SIGINT): health turns NOT_SERVING at once; the server goes on answering for
``drain_seconds`` (clients and load balancers see NOT_SERVING and move away; requests already on
the wire arrive and are answered), then stops accepting calls and gives the calls in progress up
to ``grace`` seconds to finish, then exits 0. A second signal cuts the drain short.

With ``workers`` > 1, server/supervisor.py runs that many of these processes on one port.
"""

from __future__ import annotations

import asyncio
import gc
import inspect
import logging
import os
import signal
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from .logs import setup_logging
from .loops import event_loop_kind, new_event_loop

log = logging.getLogger("leapserve.server")

DEFAULT_PORT = 50051
DEFAULT_HOST = "127.0.0.1"
MODEL_HEALTH_PREFIX = "model:"
LIVENESS_SERVICE = "liveness"


@dataclass
class ServeConfig:
    models: list[tuple[str, str | None, str]] = field(default_factory=list)  # (name, version, path)
    model_dir: str | None = None
    default_versions: dict[str, str] = field(default_factory=dict)  # --default-version NAME=VERSION
    allow_schema_change: bool = False
    show_paths: bool = False  # absolute bundle paths in what clients see (default: relative to the roots)
    host: str = DEFAULT_HOST
    port: int | None = None  # None: DEFAULT_PORT, unless only a Unix socket is asked for
    uds: str | None = None
    uds_mode: int = 0o660  # permission bits of the socket file, set right after binding
    workers: int = 1
    threads: int = 4
    max_message_size: int = 64 * 1024 * 1024
    max_batch_rows: int = 100_000
    max_response_bytes: int | None = None  # largest ModelInfer answer; None: max_message_size
    max_concurrent_rpcs: int = 1000
    request_read_timeout: float = 10.0  # seconds to a unary call's request (transport.py); 0: none
    reload_interval: float = 2.0
    admin: bool = False
    admin_paths: list[str] = field(default_factory=list)
    admin_token: str | None = None  # LoadModel/UnloadModel need it in their metadata when set
    max_stream_requests: int = 0  # requests in one PredictStream; 0: no limit
    max_concurrent_streams: int | None = None  # open PredictStreams and MLeap streams; None or 0: no limit
    grace: float = 5.0  # --grace-period
    drain_seconds: float = 0.0
    log_level: str = "info"
    log_format: str = "text"
    metrics_port: int | None = None
    metrics_host: str | None = None  # None: the same as host
    health_port: int | None = None
    health_host: str | None = None  # None: the same as host
    http_port: int | None = None  # the Open Inference Protocol's REST v2 (server/http.py); None: off
    tls_cert: str | None = None
    tls_key: str | None = None
    tls_client_ca: str | None = None
    tracing: bool = False
    event_loop: str | None = None  # "uvloop" or "asyncio"; None: uvloop when installed (event_loop_kind)

    def tcp_port(self) -> int | None:
        if self.port is not None:
            return self.port
        return None if self.uds else DEFAULT_PORT

    def addresses(self) -> list[str]:
        out = []
        port = self.tcp_port()
        if port is not None:
            host = f"[{self.host}]" if ":" in self.host and not self.host.startswith("[") else self.host
            out.append(f"{host}:{port}")
        if self.uds:
            out.append(f"unix:{Path(self.uds).expanduser().resolve()}")
        return out


    def tls(self) -> bool:
        return bool(self.tls_cert)


def process_age() -> float:
    """Seconds since this process started (from /proc; since this module's import elsewhere)."""
    try:
        with open("/proc/self/stat", "rb") as f:
            start_ticks = int(f.read().rsplit(b")", 1)[1].split()[19])
        with open("/proc/uptime", "rb") as f:
            uptime = float(f.read().split()[0])
        return max(0.0, uptime - start_ticks / os.sysconf("SC_CLK_TCK"))
    except (OSError, ValueError, IndexError):
        return time.monotonic() - _IMPORTED


_IMPORTED = time.monotonic()


# --- health --------------------------------------------------------------------------------

class HealthReporter:
    """Keeps grpc.health.v1 statuses in step with the registry."""

    def __init__(self, health, registry, services: list[str]):
        self.health = health
        self.registry = registry
        self.services = ["", *services]
        self.models: set[str] = set()
        self._model_state: dict[str, tuple[bool, str]] = {}  # (serving, why not) last logged per model
        self._lock = threading.Lock()
        self._was_ready = False
        self._why = ""

    def update(self) -> None:
        from grpc_health.v1 import health_pb2

        serving, not_serving = health_pb2.HealthCheckResponse.SERVING, health_pb2.HealthCheckResponse.NOT_SERVING
        with self._lock:
            ready, why = self.registry.readiness()
            if ready and not self._was_ready:
                age = process_age()
                count = self.registry.served_count()
                log.info("SERVING: %d model version(s) loaded, %.2f s after the process started", count, age,
                         extra={"event": "serving", "models": count, "seconds_since_start": round(age, 3)})
            elif not ready and why != self._why and (self._was_ready or self.registry.initial_load_done()):
                # Also while never ready: a bad bundle at start keeps the server NOT_SERVING, and the
                # line says which model holds it there (and again whenever the reason changes).
                log.warning("NOT_SERVING: %s", why, extra={"event": "not_serving", "reason": why})
            self._was_ready = ready
            self._why = why
            # Model entries first: once "" (or a service) reads SERVING, every model's entry is set.
            names = set(self.registry.model_names())
            for name in sorted(names):
                trouble = self.registry.model_trouble(name)
                self._log_model(name, not trouble, trouble)
                self.health.set(MODEL_HEALTH_PREFIX + name, not_serving if trouble else serving)
            for gone in sorted(self.models - names):
                self._log_model(gone, False, "no longer served")
                self.health.set(MODEL_HEALTH_PREFIX + gone, not_serving)
            self.models |= names
            for s in self.services:
                self.health.set(s, serving if ready else not_serving)

    def _log_model(self, name: str, serving: bool, why: str) -> None:
        """One line per change of a model's health entry (the first status set counts as one), and
        per change of the reason while NOT_SERVING (loading, then failed: the line says why)."""
        state = (serving, "" if serving else why)
        if self._model_state.get(name) == state:
            return
        if name not in self._model_state and not serving and self.registry.model_loading(name):
            return  # being loaded for the first time: its SERVING (or the failure) is the first line
        self._model_state[name] = state
        service = MODEL_HEALTH_PREFIX + name
        if serving:
            log.info("%s SERVING", service, extra={"event": "model_serving", "model": name})
        else:
            log.warning("%s NOT_SERVING: %s", service, why,
                        extra={"event": "model_not_serving", "model": name, "reason": why})


# --- one server process ----------------------------------------------------------------------

class EventLoop:
    """An asyncio event loop on a thread of its own, for the grpc.aio servers; the process's main
    thread keeps the signals and the shutdown sequence."""

    def __init__(self, kind: str = "asyncio", name: str = "leapserve-loop"):
        self.kind = kind
        self.loop = new_event_loop(kind)
        self.thread = threading.Thread(target=self.loop.run_forever, name=name, daemon=True)
        self.thread.start()

    def run(self, fn, *args):
        """``fn(*args)`` on the loop's thread (awaited when it returns an awaitable); its result.
        grpc.aio binds a server to the loop it is made on: make and drive servers through here."""
        async def call():
            result = fn(*args)
            if inspect.isawaitable(result):
                result = await result
            return result

        return asyncio.run_coroutine_threadsafe(call(), self.loop).result()

    def close(self) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(5)


class LoopHealth:
    """grpc.aio's HealthServicer set from any thread (the registry's listeners, the main thread)."""

    def __init__(self, servicer, loop: asyncio.AbstractEventLoop):
        self.servicer = servicer
        self.loop = loop

    def _run(self, coroutine) -> None:
        try:
            on_loop = asyncio.get_running_loop() is self.loop
        except RuntimeError:
            on_loop = False
        if on_loop:
            self.loop.create_task(coroutine)
        elif self.loop.is_running():
            asyncio.run_coroutine_threadsafe(coroutine, self.loop).result(10)
        else:
            coroutine.close()  # stopped: no one asks any more

    def set(self, service: str, status) -> None:
        self._run(self.servicer.set(service, status))

    def enter_graceful_shutdown(self) -> None:
        self._run(self.servicer.enter_graceful_shutdown())


def build_server(config: ServeConfig, registry, observer=None):
    """The grpc.aio.Server with every service added (not bound, not started), its health parts and
    its CallBounds (server/transport.py). Call on the event loop's thread (EventLoop.run).
    ``observer`` (server/metrics.py) wraps the handlers with metrics, request logs and spans.

    Sync servicers (added with their generated add_*_to_server) run on ``--threads`` request threads;
    async handlers (Predict, PredictStream, ModelInfer, MLeap's streams, health) run on the event loop and hold
    no thread."""
    from concurrent import futures

    import grpc
    from grpc_health.v1 import health_pb2, health_pb2_grpc
    from grpc_reflection.v1alpha import reflection

    from leapserve.v1 import model_service_pb2_grpc

    from .health import HealthServicer
    from .services import admin, mleap, oip, prediction
    from .transport import CallBounds, channel_options

    options = [
        ("grpc.max_receive_message_length", config.max_message_size),
        ("grpc.max_send_message_length", config.max_message_size),
        # Several workers share the port; a lone server must instead fail when it is taken.
        ("grpc.so_reuseport", 1 if config.workers > 1 else 0),
        *channel_options(),  # keepalive, idle connections
    ]
    threads = futures.ThreadPoolExecutor(config.threads, thread_name_prefix="leapserve-rpc")
    # --max-concurrent-rpcs is CallBounds' (grpc's own limit would refuse health checks too)
    bounds = CallBounds(config.request_read_timeout, threads, max_calls=config.max_concurrent_rpcs)
    server = grpc.aio.server(migration_thread_pool=threads, interceptors=[bounds], options=options)

    def observed(servicer, name):
        if observer is not None:
            observer.instrument(servicer, name)
        return servicer

    predictor = prediction.PredictionService(
        registry, max_batch_rows=config.max_batch_rows, max_stream_requests=config.max_stream_requests,
        max_concurrent_streams=config.max_concurrent_streams or 0, threads=threads)
    prediction.add_to_server(observed(predictor, prediction.SERVICE_NAME), server)
    oip.add_to_server(observed(oip.InferenceService(
        registry, max_batch_rows=config.max_batch_rows,
        max_response_bytes=config.max_response_bytes or config.max_message_size,
        admin=config.admin, admin_token=config.admin_token, threads=threads), oip.SERVICE_NAME), server)
    # MLeap's API; its streams count with PredictStream's against --max-concurrent-streams
    mleap.add_to_server(observed(mleap.MleapService(
        registry, max_batch_rows=config.max_batch_rows, admin=config.admin, admin_token=config.admin_token,
        streams=predictor.streams, max_stream_requests=config.max_stream_requests, threads=threads),
        mleap.SERVICE_NAME), server)
    services = [prediction.SERVICE_NAME, oip.SERVICE_NAME, mleap.SERVICE_NAME]
    if config.admin:
        if not config.admin_token:
            log.warning("the admin API (LoadModel/UnloadModel, OIP RepositoryModelLoad/Unload) is on without "
                        "--admin-token: any client that reaches this server can load and unload models")
        model_service_pb2_grpc.add_ModelServiceServicer_to_server(
            observed(admin.ModelService(registry, token=config.admin_token), admin.SERVICE_NAME), server)
        services.append(admin.SERVICE_NAME)
    # Check and Watch on the event loop: health answers whatever the request threads are doing.
    health_servicer = HealthServicer()
    health_pb2_grpc.add_HealthServicer_to_server(health_servicer, server)
    health_name = health_pb2.DESCRIPTOR.services_by_name["Health"].full_name
    reflection.enable_server_reflection([*services, health_name, reflection.SERVICE_NAME], server)
    health = LoopHealth(health_servicer, asyncio.get_running_loop())
    # "liveness" is SERVING from the start until shutdown, whatever the models do: a liveness probe
    # must not restart a server whose bundle is broken (a restart would not mend it).
    health.set(LIVENESS_SERVICE, health_pb2.HealthCheckResponse.SERVING)
    reporter = HealthReporter(health, registry, services)
    return server, health, reporter, bounds


def make_registry(config: ServeConfig):
    from .registry import Registry

    registry = Registry(reload_interval=config.reload_interval, model_dir=config.model_dir,
                        admin_roots=tuple(config.admin_paths), default_versions=config.default_versions,
                        allow_schema_change=config.allow_schema_change, show_paths=config.show_paths)
    for name, version, path in config.models:
        registry.add_model(name, path, version)
    return registry


def host_port(host: str, port: int) -> str:
    host = f"[{host}]" if ":" in host and not host.startswith("[") else host
    return f"{host}:{port}"


def build_health_server(config: ServeConfig, health: LoopHealth):
    """A plaintext listener serving only grpc.health.v1 (kubelet's gRPC probes speak no TLS; the
    scoring API can then stay on loopback, a Unix socket or TLS). Call on the event loop's thread."""
    from concurrent import futures

    import grpc
    from grpc_health.v1 import health_pb2_grpc

    from .transport import CallBounds, channel_options

    threads = futures.ThreadPoolExecutor(1, thread_name_prefix="leapserve-probe")  # unused: health is async
    server = grpc.aio.server(migration_thread_pool=threads, interceptors=[CallBounds(config.request_read_timeout, threads)],
                             options=[("grpc.so_reuseport", 1 if config.workers > 1 else 0), *channel_options()])
    health_pb2_grpc.add_HealthServicer_to_server(health.servicer, server)
    return server


def bind_unix_socket(server, address: str, mode: int) -> int:
    """Bind ``unix:PATH`` (grpc creates the file here, not at start) and give the file ``mode``. The
    umask is 077 while grpc creates it, so no one but its owner can connect before the chmod."""
    previous = os.umask(0o077)
    try:
        port = server.add_insecure_port(address)
    finally:
        os.umask(previous)
    path = address[len("unix:"):]
    if port:
        os.chmod(path, mode)  # an OSError here stops the server (run_server)
    log.debug("unix socket %s: mode %o", path, mode)
    return port


def make_observer(config: ServeConfig, registry):
    from .metrics import Metrics, Observer, make_tracer

    metrics = Metrics(registry) if config.metrics_port is not None else None
    tracer = make_tracer() if config.tracing else None
    return Observer(registry, metrics, logging.getLogger("leapserve.requests").isEnabledFor(logging.DEBUG), tracer)


class ShutdownSignals:
    """The first SIGTERM/SIGINT starts the shutdown; a second one cuts the drain short."""

    def __init__(self):
        self.stop = threading.Event()
        self.hurry = threading.Event()
        self.name = ""

    def __call__(self, signum, frame):
        if self.stop.is_set():
            self.hurry.set()
        else:
            self.name = signal.Signals(signum).name
            self.stop.set()


def run_server(config: ServeConfig, worker: int | None = None, supervised: bool = False) -> int:
    """Serve until SIGTERM or SIGINT; returns the exit code. ``supervised``: a worker of
    server/supervisor.py (it serves no /metrics of its own and stops when the supervisor is gone)."""
    setup_logging(config.log_level, config.log_format, worker)
    signals = ShutdownSignals()
    if supervised:
        # The supervisor forwards SIGTERM; a terminal's Ctrl-C reaches it (and us) too: let it decide.
        signal.signal(signal.SIGINT, signal.SIG_IGN)
    else:
        signal.signal(signal.SIGINT, signals)
    signal.signal(signal.SIGTERM, signals)
    parent = os.getppid()
    try:
        registry = make_registry(config)
    except ValueError as e:
        log.error("%s", e)
        return 2
    observer = make_observer(config, registry)
    metrics = observer.metrics
    events = EventLoop(event_loop_kind(config.event_loop))
    try:
        return _serve(config, registry, observer, metrics, events, signals, supervised, parent)
    finally:
        events.close()


def _serve(config: ServeConfig, registry, observer, metrics, events: EventLoop, signals: ShutdownSignals,
           supervised: bool, parent: int) -> int:
    server, health, reporter, bounds = events.run(build_server, config, registry,
                                                  observer if observer.active else None)
    if metrics is not None:
        # Before the health update, so the gauges are current once health changes.
        registry.add_listener(metrics.on_state)
        registry.add_event_listener(metrics.on_model_event)
    registry.add_listener(reporter.update)
    # Everything alive once the models are in (modules, models, compiled programs) lives as long as
    # the process: keep it out of the garbage collector's full passes, which would otherwise walk it
    # (a few milliseconds, in the middle of some request) every so often.
    registry.after_initial_load.append(gc.freeze)
    reporter.update()
    if supervised:
        # Workers share the port: one still loading would take connections (the kernel spreads them)
        # and answer UNAVAILABLE while the others serve. A worker listens once its models are in.
        loaded = threading.Event()
        registry.after_initial_load.append(loaded.set)
        registry.start()
        while not loaded.wait(0.2):
            if signals.stop.is_set() or os.getppid() != parent:
                registry.stop()
                return 0
    credentials = None
    if config.tls():
        from .tls import server_credentials

        credentials = server_credentials(config.tls_cert, config.tls_key, config.tls_client_ca)
    bound = []
    for address in config.addresses():
        uds = address.startswith("unix:")
        try:
            if credentials is not None and not uds:
                port = events.run(server.add_secure_port, address, credentials)
            elif uds:
                port = events.run(bind_unix_socket, server, address, config.uds_mode)
            else:
                port = events.run(server.add_insecure_port, address)
        except RuntimeError as e:
            port = 0
            log.debug("binding %s: %s", address, e)
        except OSError as e:  # the socket's mode could not be set
            log.error("cannot set mode %o on the Unix socket %s: %s", config.uds_mode, address, e)
            return 1
        if port == 0:  # a socket in a missing folder binds nothing too
            log.error("cannot listen on %s (address in use or not available)", address)
            return 1
        if not uds:
            address = address.rsplit(":", 1)[0] + f":{port}"
            address += (" (mutual TLS)" if config.tls_client_ca else " (TLS)") if credentials is not None else ""
        bound.append(address)
    health_server = None
    if config.health_port is not None:
        health_server = events.run(build_health_server, config, health)
        address = host_port(config.health_host or config.host, config.health_port)
        try:
            port = events.run(health_server.add_insecure_port, address)
        except RuntimeError:
            port = 0
        if port == 0:
            log.error("cannot listen on %s for --health-port (address in use or not available)", address)
            return 1
        bound.append(f"{address.rsplit(':', 1)[0]}:{port} (health only)")
    http_port = None
    if config.http_port is not None:
        from .http import start_http_port

        try:
            http_port, address = start_http_port(config, registry, observer if observer.active else None)
        except OSError as e:
            log.error("cannot listen on %s for --http-port: %s", host_port(config.host, config.http_port),
                      e.strerror or e)
            return 1
        bound.append(address)
    metrics_http = None
    if metrics is not None and not supervised:
        host = config.metrics_host or config.host
        try:
            metrics_http = metrics.serve(host, config.metrics_port)
        except OSError as e:
            log.error("cannot serve metrics on %s: %s", host_port(host, config.metrics_port), e)
            return 1
        bound.append(f"http://{host_port(host, metrics_http[0].server_port)}/metrics")
    events.run(server.start)
    if health_server is not None:
        events.run(health_server.start)
    listening = {"event": "listening", "addresses": bound, "event_loop": events.kind}
    if supervised:
        log.info("serving on %s (event loop: %s)", ", ".join(bound), events.kind, extra=listening)
    else:
        log.info("serving on %s (event loop: %s; models loading in the background; health turns SERVING when "
                 "they are ready)", ", ".join(bound), events.kind, extra=listening)
        registry.start()
    while not signals.stop.wait(1.0 if supervised else 3600):
        if supervised and os.getppid() != parent:
            log.warning("the supervisor is gone; shutting down")
            signals.name = "orphaned"
            signals.stop.set()

    # Shutdown: NOT_SERVING now, answer through the drain, then stop accepting and let calls finish.
    log.info("%s: health NOT_SERVING; draining for %.1f s, then stopping (grace period %.1f s)",
             signals.name, config.drain_seconds, config.grace,
             extra={"event": "shutdown", "signal": signals.name, "drain_seconds": config.drain_seconds,
                    "grace_period": config.grace})
    health.enter_graceful_shutdown()
    if http_port is not None:
        http_port.drain()
    registry.stop()
    if config.drain_seconds > 0 and signals.hurry.wait(config.drain_seconds):
        log.info("second signal: drain cut short")
    in_flight = bounds.in_flight
    log.info("stopping: no new calls; %d call(s) in progress get up to %.1f s", in_flight,
             config.grace, extra={"event": "stopping", "in_flight": in_flight})
    http_stop = None
    if http_port is not None:  # both ports get the grace period at once
        http_stop = threading.Thread(target=http_port.stop, args=(config.grace,), name="leapserve-http-stop")
        http_stop.start()
    events.run(server.stop, config.grace)
    if http_stop is not None:
        http_stop.join()
    if health_server is not None:
        events.run(health_server.stop, 0)
    if metrics_http is not None:
        metrics_http[0].shutdown()
        metrics_http[0].server_close()
    if config.uds:
        try:
            path = Path(config.uds).expanduser().resolve()
            if path.is_socket():
                path.unlink()
        except OSError:
            pass
    log.info("stopped", extra={"event": "stopped"})
    return 0


def run(config: ServeConfig) -> int:
    """Serve: this process, or with ``workers`` > 1 that many under a supervisor (server/supervisor.py)."""
    if config.workers > 1:
        from .supervisor import supervise

        return supervise(config)
    return run_server(config)
