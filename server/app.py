"""Building and running the gRPC server of `leapserve serve`.

One server process holds a model registry (server/registry.py) and serves, on every address it
listens on (TCP and/or a Unix domain socket):

* leapserve.v1.PredictionService, and leapserve.v1.ModelService when admin is enabled;
* inference.GRPCInferenceService (Open Inference Protocol / KServe v2);
* grpc.health.v1.Health: "" and each service name are SERVING once every configured model is
  loaded and warmed; ``model:NAME`` is SERVING while every version of NAME serves its latest
  bundle (NOT_SERVING after a failed load or reload, even when an older copy still serves);
* server reflection (grpcio-reflection).

With ``workers`` > 1 a supervisor starts that many server processes which share the TCP port
(SO_REUSEPORT: the kernel spreads connections over them), restarts any that dies, and stops them
all on SIGTERM/SIGINT. Each worker loads and watches the models on its own.
"""

from __future__ import annotations

import gc
import logging
import multiprocessing
import os
import signal
import socket
import sys
import threading
import time
from concurrent import futures
from dataclasses import dataclass, field
from pathlib import Path

log = logging.getLogger("leapserve.server")

DEFAULT_PORT = 50051
DEFAULT_HOST = "127.0.0.1"
MODEL_HEALTH_PREFIX = "model:"


@dataclass
class ServeConfig:
    models: list[tuple[str, str | None, str]] = field(default_factory=list)  # (name, version, path)
    model_dir: str | None = None
    host: str = DEFAULT_HOST
    port: int | None = None  # None: DEFAULT_PORT, unless only a Unix socket is asked for
    uds: str | None = None
    workers: int = 1
    threads: int = 16
    max_message_size: int = 64 * 1024 * 1024
    max_batch_rows: int = 100_000
    max_concurrent_rpcs: int = 1000
    reload_interval: float = 2.0
    admin: bool = False
    admin_paths: list[str] = field(default_factory=list)
    grace: float = 5.0
    log_level: str = "info"

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


def setup_logging(level: str, worker: int | None = None) -> None:
    tag = f"worker {worker} " if worker is not None else ""
    logging.basicConfig(
        level=getattr(logging, level.upper(), logging.INFO),
        format=f"%(asctime)s %(levelname)s {tag}[%(process)d] %(name)s: %(message)s",
        stream=sys.stderr,
        force=True,
    )


# --- health --------------------------------------------------------------------------------

class HealthReporter:
    """Keeps grpc.health.v1 statuses in step with the registry."""

    def __init__(self, health, registry, services: list[str]):
        self.health = health
        self.registry = registry
        self.services = ["", *services]
        self.models: set[str] = set()
        self._lock = threading.Lock()

    def update(self) -> None:
        from grpc_health.v1 import health_pb2

        serving, not_serving = health_pb2.HealthCheckResponse.SERVING, health_pb2.HealthCheckResponse.NOT_SERVING
        with self._lock:
            ready = self.registry.ready()
            for s in self.services:
                self.health.set(s, serving if ready else not_serving)
            names = set(self.registry.model_names())
            for name in names:
                self.health.set(MODEL_HEALTH_PREFIX + name,
                                serving if self.registry.model_healthy(name) else not_serving)
            for gone in self.models - names:
                self.health.set(MODEL_HEALTH_PREFIX + gone, not_serving)
            self.models |= names


# --- one server process ----------------------------------------------------------------------

def build_server(config: ServeConfig, registry):
    """The grpc.Server with every service added (not bound, not started), and its health parts."""
    import grpc
    from grpc_health.v1 import health, health_pb2, health_pb2_grpc
    from grpc_reflection.v1alpha import reflection

    from leapserve.oip import inference_pb2_grpc
    from leapserve.v1 import model_service_pb2_grpc

    from .services import admin, oip, prediction

    options = [
        ("grpc.max_receive_message_length", config.max_message_size),
        ("grpc.max_send_message_length", config.max_message_size),
        # Several workers share the port; a lone server must instead fail when it is taken.
        ("grpc.so_reuseport", 1 if config.workers > 1 else 0),
    ]
    server = grpc.server(
        futures.ThreadPoolExecutor(max_workers=config.threads, thread_name_prefix="leapserve-rpc"),
        options=options,
        maximum_concurrent_rpcs=config.max_concurrent_rpcs or None,
    )
    prediction.add_to_server(prediction.PredictionService(registry, max_batch_rows=config.max_batch_rows), server)
    inference_pb2_grpc.add_GRPCInferenceServiceServicer_to_server(
        oip.InferenceService(registry, max_batch_rows=config.max_batch_rows), server)
    services = [prediction.SERVICE_NAME, oip.SERVICE_NAME]
    if config.admin:
        model_service_pb2_grpc.add_ModelServiceServicer_to_server(admin.ModelService(registry), server)
        services.append(admin.SERVICE_NAME)
    health_servicer = health.HealthServicer(
        experimental_non_blocking=True,
        experimental_thread_pool=futures.ThreadPoolExecutor(max_workers=2, thread_name_prefix="leapserve-health"))
    health_pb2_grpc.add_HealthServicer_to_server(health_servicer, server)
    health_name = health_pb2.DESCRIPTOR.services_by_name["Health"].full_name
    reflection.enable_server_reflection([*services, health_name, reflection.SERVICE_NAME], server)
    reporter = HealthReporter(health_servicer, registry, services)
    return server, health_servicer, reporter


def make_registry(config: ServeConfig):
    from .registry import Registry

    registry = Registry(reload_interval=config.reload_interval, model_dir=config.model_dir,
                        admin_roots=tuple(config.admin_paths))
    for name, version, path in config.models:
        registry.add_model(name, path, version)
    return registry


def run_server(config: ServeConfig, worker: int | None = None) -> int:
    """Serve until SIGTERM or SIGINT; returns the exit code."""
    setup_logging(config.log_level, worker)
    try:
        registry = make_registry(config)
    except ValueError as e:
        log.error("%s", e)
        return 2
    server, health_servicer, reporter = build_server(config, registry)
    registry.add_listener(reporter.update)
    # Everything alive once the models are in (modules, models, compiled programs) lives as long as
    # the process: keep it out of the garbage collector's full passes, which would otherwise walk it
    # (a few milliseconds, in the middle of some request) every so often.
    registry.after_initial_load.append(gc.freeze)
    reporter.update()
    bound = []
    for address in config.addresses():
        try:
            port = server.add_insecure_port(address)
        except RuntimeError as e:
            port = 0
            log.debug("binding %s: %s", address, e)
        if not address.startswith("unix:") and port == 0:
            log.error("cannot listen on %s (address in use or not available)", address)
            return 1
        if not address.startswith("unix:"):
            address = address.rsplit(":", 1)[0] + f":{port}"
        bound.append(address)
    stop = threading.Event()

    def on_signal(signum, frame):
        stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    server.start()
    log.info("serving on %s (models loading in the background; health turns SERVING when they are ready)",
             ", ".join(bound))
    registry.start()
    while not stop.wait(3600):
        pass
    log.info("shutting down (grace %.1f s)", config.grace)
    health_servicer.enter_graceful_shutdown()
    registry.stop()
    server.stop(config.grace).wait()
    if config.uds:
        try:
            path = Path(config.uds).expanduser().resolve()
            if path.is_socket():
                path.unlink()
        except OSError:
            pass
    log.info("stopped")
    return 0


# --- several processes -------------------------------------------------------------------------

def _worker_main(config: ServeConfig, index: int) -> None:
    sys.exit(run_server(config, index))


def _free_port(host: str) -> int:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        s.bind((host.strip("[]"), 0))
        return s.getsockname()[1]


def supervise(config: ServeConfig) -> int:
    """Run ``config.workers`` server processes on one port; restart those that die."""
    setup_logging(config.log_level)
    if config.tcp_port() == 0:
        config.port = _free_port(config.host)
    ctx = multiprocessing.get_context("spawn")
    stopping = threading.Event()
    signal.signal(signal.SIGTERM, lambda s, f: stopping.set())
    signal.signal(signal.SIGINT, lambda s, f: stopping.set())

    def start(i: int):
        p = ctx.Process(target=_worker_main, args=(config, i), name=f"leapserve-worker-{i}")
        p.start()
        return p

    procs = [start(i) for i in range(config.workers)]
    log.info("supervising %d workers on %s (pids %s)", config.workers, ", ".join(config.addresses()),
             ", ".join(str(p.pid) for p in procs))
    failures: list[float] = []
    code = 0
    while not stopping.wait(0.5):
        for i, p in enumerate(procs):
            if p.is_alive():
                continue
            log.error("worker %d (pid %s) exited with code %s", i, p.pid, p.exitcode)
            now = time.monotonic()
            failures = [t for t in failures if now - t < 60] + [now]
            if p.exitcode in (1, 2) and len(failures) >= 2 * config.workers:
                log.error("workers keep failing at start; giving up")
                stopping.set()
                code = 1
                break
            procs[i] = start(i)
    for p in procs:
        if p.is_alive():
            os.kill(p.pid, signal.SIGTERM)
    deadline = time.monotonic() + config.grace + 5
    for p in procs:
        p.join(max(0.1, deadline - time.monotonic()))
        if p.is_alive():
            log.warning("worker pid %s did not stop in time; killing it", p.pid)
            p.kill()
            p.join(5)
    log.info("all workers stopped")
    return code


def run(config: ServeConfig) -> int:
    if config.workers > 1:
        return supervise(config)
    return run_server(config)
