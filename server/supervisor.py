"""The supervisor of `leapserve serve --workers N`: N server processes on one port.

The workers share the TCP port (SO_REUSEPORT: the kernel spreads connections over them). The
supervisor restarts any that dies, forwards SIGTERM/SIGINT to them and exits 0 once they all have.
Each worker is server/app.py's ``run_server`` and loads and watches the models on its own; the
supervisor serves the sum of their metrics.
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import signal
import socket
import sys
import time

from .app import ServeConfig, ShutdownSignals, host_port, run_server
from .logs import setup_logging

log = logging.getLogger("leapserve.server")


def _worker_main(config: ServeConfig, index: int) -> None:
    sys.exit(run_server(config, index, supervised=True))


def _free_port(host: str) -> int:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        s.bind((host.strip("[]"), 0))
        return s.getsockname()[1]


def supervise(config: ServeConfig) -> int:
    """Run ``config.workers`` server processes on one port; restart those that die; on SIGTERM or
    SIGINT forward SIGTERM to them and exit once they have (0 when they all exited 0)."""
    setup_logging(config.log_level, config.log_format)
    if config.tcp_port() == 0:
        config.port = _free_port(config.host)
    if config.health_port == 0:
        config.health_port = _free_port(config.health_host or config.host)
    signals = ShutdownSignals()
    signal.signal(signal.SIGTERM, signals)
    signal.signal(signal.SIGINT, signals)
    metrics_dir = None
    metrics_http = None
    own_metrics_dir = False
    if config.metrics_port is not None:
        # Workers write their values to files there (set before they start: the client library reads
        # the variable when it is imported); the supervisor serves the sum.
        from .metrics import MULTIPROC_ENV

        metrics_dir = os.environ.get(MULTIPROC_ENV)
        if not metrics_dir:
            import tempfile

            metrics_dir = tempfile.mkdtemp(prefix="leapserve-metrics-")
            own_metrics_dir = True
            os.environ[MULTIPROC_ENV] = metrics_dir
        host = config.metrics_host or config.host
        try:
            metrics_http = serve_multiprocess(metrics_dir, host, config.metrics_port)
        except OSError as e:
            log.error("cannot serve metrics on %s: %s", host_port(host, config.metrics_port), e)
            return 1
    ctx = multiprocessing.get_context("spawn")

    def start(i: int):
        p = ctx.Process(target=_worker_main, args=(config, i), name=f"leapserve-worker-{i}")
        p.start()
        return p

    def bury(p) -> None:
        if metrics_dir is not None and p.pid is not None:
            from prometheus_client import multiprocess

            multiprocess.mark_process_dead(p.pid, metrics_dir)

    procs = [start(i) for i in range(config.workers)]
    also = ""
    if metrics_http is not None:
        also = f"; metrics on http://{host_port(config.metrics_host or config.host, metrics_http[0].server_port)}/metrics"
    log.info("supervising %d workers on %s (pids %s)%s", config.workers, ", ".join(config.addresses()),
             ", ".join(str(p.pid) for p in procs), also, extra={"event": "supervising", "workers": config.workers})
    failures: list[float] = []
    code = 0
    while not signals.stop.wait(0.5):
        for i, p in enumerate(procs):
            if p.is_alive():
                continue
            log.error("worker %d (pid %s) exited with code %s", i, p.pid, p.exitcode,
                      extra={"event": "worker_exited", "worker": i, "exit_code": p.exitcode})
            bury(p)
            now = time.monotonic()
            failures = [t for t in failures if now - t < 60] + [now]
            if p.exitcode in (1, 2) and len(failures) >= 2 * config.workers:
                log.error("workers keep failing at start; giving up")
                signals.name = "failing workers"
                signals.stop.set()
                code = 1
                break
            procs[i] = start(i)
    if code == 0:
        log.info("%s: forwarding SIGTERM to %d workers", signals.name, len(procs),
                 extra={"event": "shutdown", "signal": signals.name})

    def forward():
        for p in procs:
            if p.is_alive():
                try:
                    os.kill(p.pid, signal.SIGTERM)
                except ProcessLookupError:
                    pass

    forward()
    forwarded_hurry = False
    deadline = time.monotonic() + config.drain_seconds + config.grace + 10
    while any(p.is_alive() for p in procs) and time.monotonic() < deadline:
        if signals.hurry.is_set() and not forwarded_hurry:
            forward()  # a second signal: the workers cut their drain short too
            forwarded_hurry = True
        for p in procs:
            p.join(0.1)
    for p in procs:
        if p.is_alive():
            log.warning("worker pid %s did not stop in time; killing it", p.pid)
            p.kill()
            p.join(5)
            code = 1
        elif p.exitcode != 0 and code == 0:
            log.warning("worker pid %s exited with code %s", p.pid, p.exitcode)
            code = 1
        bury(p)
    if metrics_http is not None:
        metrics_http[0].shutdown()
        metrics_http[0].server_close()
    if own_metrics_dir:
        import shutil

        shutil.rmtree(metrics_dir, ignore_errors=True)
    log.info("all workers stopped", extra={"event": "stopped"})
    return code


# --- the workers' metrics ------------------------------------------------------------------------

def serve_multiprocess(directory: str, host: str, port: int):
    """The supervisor's /metrics: the sum over its workers' files."""
    from prometheus_client import CollectorRegistry, start_http_server
    from prometheus_client.multiprocess import MultiProcessCollector

    collectors = CollectorRegistry()
    MultiProcessCollector(collectors, path=directory)
    return start_http_server(port, addr=host, registry=collectors)
