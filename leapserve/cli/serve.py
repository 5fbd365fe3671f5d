"""`leapserve serve`: serve bundles over gRPC (leapserve.v1, Open Inference Protocol, health).

Every flag can also be set by an environment variable LEAPSERVE_<FLAG> (dashes as underscores,
e.g. LEAPSERVE_PORT=9000, LEAPSERVE_MODEL_DIR=/models); a flag on the command line wins. Flags
that repeat take a comma-separated list from the environment (LEAPSERVE_MODEL=a=a.zip,b=b.zip);
switches take 1/true/yes or 0/false/no.
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

from leapserve.server.loops import EVENT_LOOPS, uvloop_installed

from .environment import BUNDLE_LIMITS_HELP, EnvironmentValueError, env, env_bool, env_list, env_name
from .errors import FAILURE, USAGE, print_error

HELP = "serve bundles over gRPC (leapserve.v1 API, Open Inference Protocol, health, reflection)"
DEBUG_HELP = "on a failure to start, show the Python traceback (per-request detail: --log-level debug)"
EPILOG = """\
exit codes:
  0  stopped by SIGTERM or SIGINT
  1  could not start: a port taken or not available; the Unix socket in use by another server,
     its folder missing, or its mode cannot be set
  2  usage: wrong arguments or LEAPSERVE_* variable, nothing to serve, a --model path or a TLS
     file that cannot be used

environment (a flag on the command line wins):
  LEAPSERVE_<FLAG>  every flag above (dashes as underscores, e.g. LEAPSERVE_PORT=9000,
                    LEAPSERVE_MODEL_DIR=/models; repeatable flags take a comma-separated list;
                    switches 1/true/yes or 0/false/no), as shown in [brackets]
""" + BUNDLE_LIMITS_HELP + """\
  PROMETHEUS_MULTIPROC_DIR
                    with --workers > 1 and --metrics-port: the folder the workers' metrics meet in
                    (default: a temporary folder)
  OTEL_SERVICE_NAME, OTEL_TRACES_EXPORTER and the other OTEL_* variables
                    with --tracing: OpenTelemetry's exporter settings
"""


# --- argument types --------------------------------------------------------------------------

def size_in_bytes(text: str) -> int:
    """16777216, 16M, 64MiB, 1G: read as the bundle limits are (container.parse_size)."""
    from leapserve.runtime.container import parse_size  # only when a size is given: --help stays light

    return parse_size(text)


def parse_model(spec: str) -> tuple[str, str | None, str]:
    """NAME=PATH or NAME:VERSION=PATH."""
    name, sep, path = spec.partition("=")
    if not sep or not name or not path:
        raise argparse.ArgumentTypeError(f"expected NAME=PATH or NAME:VERSION=PATH, got {spec!r}")
    version = None
    if ":" in name:
        name, version = name.split(":", 1)
        if not name or not version:
            raise argparse.ArgumentTypeError(f"expected NAME:VERSION=PATH, got {spec!r}")
    return name, version, path


def parse_default_version(spec: str) -> tuple[str, str]:
    """NAME=VERSION."""
    name, sep, version = spec.partition("=")
    if not sep or not name.strip() or not version.strip():
        raise argparse.ArgumentTypeError(f"expected NAME=VERSION, got {spec!r}")
    return name.strip(), version.strip()


class ModeError(argparse.ArgumentTypeError, ValueError):
    """A bad --uds-mode (a ValueError too, so that LEAPSERVE_UDS_MODE reports it like other variables)."""


def octal_mode(text: str) -> int:
    """660, 0660, 0o600: file permission bits, in octal."""
    raw = text.strip().lower()
    digits = raw[2:] if raw.startswith("0o") else raw
    if not digits or any(c not in "01234567" for c in digits) or int(digits, 8) > 0o777:
        raise ModeError(f"{text!r}: expected permission bits in octal, 000 to 777 (e.g. 660 or 0600)")
    return int(digits, 8)


# --- the command ---------------------------------------------------------------------------

LOG_LEVELS = ("debug", "info", "warning", "error")
LOG_FORMATS = ("text", "json")

def add_arguments(p: argparse.ArgumentParser) -> None:
    from leapserve.server.app import DEFAULT_HOST, DEFAULT_PORT

    p.add_argument("--model", action="append", type=parse_model, metavar="NAME[:VERSION]=PATH",
                   help="serve the bundle (zip or directory) at PATH as model NAME; PATH may also be a folder "
                        "of versions (one sub-folder or zip per version). Repeatable. [LEAPSERVE_MODEL]")
    p.add_argument("--model-dir", default=env("--model-dir"), metavar="DIR",
                   help="serve every bundle in DIR, each named after its file (DIR/NAME.zip, DIR/NAME/ "
                        "holding bundle.json, or DIR/NAME/<version>/ for versioned models) [LEAPSERVE_MODEL_DIR]")
    p.add_argument("--host", default=env("--host", DEFAULT_HOST),
                   help=f"address to listen on (default {DEFAULT_HOST}: this machine only; 0.0.0.0 or :: for "
                        "every interface) [LEAPSERVE_HOST]")
    p.add_argument("--port", type=int, default=env("--port", None, int),
                   help=f"TCP port (default {DEFAULT_PORT}; 0 picks a free one; with --uds and no --port, "
                        "no TCP) [LEAPSERVE_PORT]")
    p.add_argument("--uds", default=env("--uds"), metavar="PATH",
                   help="also (or, without --port, only) listen on this Unix domain socket [LEAPSERVE_UDS]")
    p.add_argument("--uds-mode", type=octal_mode, default=env("--uds-mode", 0o660, octal_mode), metavar="MODE",
                   help="permissions of the --uds socket file, in octal (default 660: its owner and group "
                        "may connect, whatever the umask) [LEAPSERVE_UDS_MODE]")
    p.add_argument("--workers", type=int, default=env("--workers", 1, int), metavar="N",
                   help="server processes sharing the TCP port through SO_REUSEPORT (default 1) "
                        "[LEAPSERVE_WORKERS]")
    # Few threads: Python's request threads contend for the GIL, and on 2 cores 4 threads answered
    # 1.2-1.3x the single-record requests per second of 16 (docs/serving.md, Speed).
    p.add_argument("--threads", type=int, default=env("--threads", 4, int), metavar="N",
                   help="request threads per process for PredictBatch, OIP, metadata and slow models; open "
                        "streams and fast Predict calls hold none (default 4; more threads, more slow calls at "
                        "once, fewer requests per second) [LEAPSERVE_THREADS]")
    p.add_argument("--max-message-size", type=size_in_bytes,
                   default=env("--max-message-size", 64 * 1024 * 1024, size_in_bytes), metavar="BYTES",
                   help="largest request or response, e.g. 16M (default 64M); larger ones fail with "
                        "RESOURCE_EXHAUSTED [LEAPSERVE_MAX_MESSAGE_SIZE]")
    p.add_argument("--max-batch-rows", type=int, default=env("--max-batch-rows", 100_000, int), metavar="N",
                   help="most records in one PredictBatch or ModelInfer, or rows in one MLeap frame (default 100000) "
                        "[LEAPSERVE_MAX_BATCH_ROWS]")
    p.add_argument("--max-response-bytes", type=size_in_bytes, default=env("--max-response-bytes", None, size_in_bytes),
                   metavar="BYTES",
                   help="largest ModelInfer answer, checked before its tensors are built (default: "
                        "--max-message-size); larger ones fail with RESOURCE_EXHAUSTED naming the output, "
                        "and unnamed intermediate outputs are left out first [LEAPSERVE_MAX_RESPONSE_BYTES]")
    p.add_argument("--max-concurrent-rpcs", type=int, default=env("--max-concurrent-rpcs", 1000, int), metavar="N",
                   help="calls in progress per process before new ones fail with RESOURCE_EXHAUSTED "
                        "(default 1000; 0: no limit) [LEAPSERVE_MAX_CONCURRENT_RPCS]")
    p.add_argument("--request-read-timeout", type=float, default=env("--request-read-timeout", 10.0, float),
                   metavar="SECONDS", help="a call whose request message has not been read this long after it "
                   "started is cancelled with DEADLINE_EXCEEDED, freeing its request thread (default 10; 0: no "
                   "limit; the messages of PredictStream and MLeap's streams are not bounded) [LEAPSERVE_REQUEST_READ_TIMEOUT]")
    p.add_argument("--reload-interval", type=float, default=env("--reload-interval", 2.0, float), metavar="SECONDS",
                   help="how often to look for new or changed bundles (default 2; 0 turns hot reload off) "
                        "[LEAPSERVE_RELOAD_INTERVAL]")
    p.add_argument("--default-version", action="append", type=parse_default_version, metavar="NAME=VERSION",
                   help="pin model NAME's default version (the one a request without a version gets); wins over "
                        "a default_version file in the model's folder. Repeatable. (default: none: the highest "
                        "loaded version) [LEAPSERVE_DEFAULT_VERSION]")
    p.add_argument("--allow-schema-change", action="store_true", default=env_bool("--allow-schema-change"),
                   help="accept a reloaded bundle that reads other inputs than the copy it replaces (refused by "
                        "default: the previous copy keeps serving) [LEAPSERVE_ALLOW_SCHEMA_CHANGE]")
    p.add_argument("--show-paths", action="store_true", default=env_bool("--show-paths"),
                   help="show clients bundle paths as the server sees them (absolute) in metadata, ListModels and "
                        "errors; by default they are relative to the model directory and admin paths, and a "
                        "--model bundle outside them is shown by its file name [LEAPSERVE_SHOW_PATHS]")
    p.add_argument("--admin", action="store_true", default=env_bool("--admin"),
                   help="serve leapserve.v1.ModelService (LoadModel/UnloadModel); off by default [LEAPSERVE_ADMIN]")
    p.add_argument("--admin-token", default=env("--admin-token"), metavar="TOKEN",
                   help="with --admin: LoadModel/UnloadModel need this token in their metadata "
                        "('authorization: Bearer TOKEN'); prefer the variable, which ps does not show "
                        "[LEAPSERVE_ADMIN_TOKEN]")
    p.add_argument("--max-stream-requests", type=int, default=env("--max-stream-requests", 0, int), metavar="N",
                   help="most requests in one PredictStream, or MLeap TransformFrameStream or TransformRowStream, then "
                        "RESOURCE_EXHAUSTED (default 0: no limit) "
                        "[LEAPSERVE_MAX_STREAM_REQUESTS]")
    p.add_argument("--max-concurrent-streams", type=int, default=env("--max-concurrent-streams", None, int),
                   metavar="N", help="streams open at once per process (PredictStream, MLeap's TransformFrameStream and "
                   "TransformRowStream, counted together) before new ones fail with RESOURCE_EXHAUSTED (default 0: "
                   "no limit but --max-concurrent-rpcs) [LEAPSERVE_MAX_CONCURRENT_STREAMS]")
    p.add_argument("--admin-path", action="append", metavar="DIR",
                   help="a folder LoadModel may load bundles from, besides --model-dir. Repeatable. "
                        "[LEAPSERVE_ADMIN_PATH]")

    ops = p.add_argument_group("operations (docs/operations.md)")
    ops.add_argument("--drain-seconds", type=float, default=env("--drain-seconds", 0.0, float), metavar="SECONDS",
                     help="on SIGTERM/SIGINT: health turns NOT_SERVING at once and the server keeps answering this "
                          "long, so that clients and load balancers move away before it stops accepting calls "
                          "(default 0; the container image sets 3) [LEAPSERVE_DRAIN_SECONDS]")
    ops.add_argument("--grace-period", "--grace", dest="grace", type=float,
                     default=env("--grace-period", env("--grace", 5.0, float), float), metavar="SECONDS",
                     help="then, how long calls in progress may take to finish before they are cancelled "
                          "(default 5) [LEAPSERVE_GRACE_PERIOD]")
    ops.add_argument("--log-level", default=env("--log-level", "info", choices=LOG_LEVELS), choices=LOG_LEVELS,
                     help="debug adds one line per request, with its request id (default info) [LEAPSERVE_LOG_LEVEL]")
    ops.add_argument("--log-format", default=env("--log-format", "text", choices=LOG_FORMATS), choices=LOG_FORMATS,
                     help="text lines, or one JSON object a line (default text) [LEAPSERVE_LOG_FORMAT]")
    ops.add_argument("--event-loop", default=env("--event-loop", None, choices=EVENT_LOOPS), choices=EVENT_LOOPS,
                     help="the event loop the servers run on (default uvloop where installed, as in the serving "
                          "install on Linux and macOS; asyncio: Python's own) [LEAPSERVE_EVENT_LOOP]")
    ops.add_argument("--http-port", type=int, default=env("--http-port", None, int), metavar="PORT",
                     help="also serve the Open Inference Protocol's REST v2 over HTTP on this port (--host, the same "
                          "TLS files); off by default [LEAPSERVE_HTTP_PORT]")
    ops.add_argument("--metrics-port", type=int, default=env("--metrics-port", None, int), metavar="PORT",
                     help="serve Prometheus metrics over HTTP on this port (/metrics); off by default "
                          "[LEAPSERVE_METRICS_PORT]")
    ops.add_argument("--metrics-host", default=env("--metrics-host"), metavar="HOST",
                     help="address of the metrics listener (default: --host) [LEAPSERVE_METRICS_HOST]")
    ops.add_argument("--health-port", type=int, default=env("--health-port", None, int), metavar="PORT",
                     help="also serve grpc.health.v1 alone, in plaintext, on this port: for probes when the API "
                          "is on a Unix socket, on loopback or behind TLS [LEAPSERVE_HEALTH_PORT]")
    ops.add_argument("--health-host", default=env("--health-host"), metavar="HOST",
                     help="address of the health-only listener (default: --host) [LEAPSERVE_HEALTH_HOST]")
    ops.add_argument("--tls-cert", default=env("--tls-cert"), metavar="FILE",
                     help="serve TLS on TCP with this certificate chain (PEM) [LEAPSERVE_TLS_CERT]")
    ops.add_argument("--tls-key", default=env("--tls-key"), metavar="FILE",
                     help="the certificate's private key (PEM) [LEAPSERVE_TLS_KEY]")
    ops.add_argument("--tls-client-ca", default=env("--tls-client-ca"), metavar="FILE",
                     help="mutual TLS: require client certificates signed by this CA (PEM) [LEAPSERVE_TLS_CLIENT_CA]")
    ops.add_argument("--tracing", action="store_true", default=env_bool("--tracing"),
                     help="OpenTelemetry spans for every call (needs the opentelemetry packages; exporters are "
                          "configured by the standard OTEL_* variables) [LEAPSERVE_TRACING]")


def env_items(flag: str, parse) -> list:
    """A repeatable flag's comma-separated variable, each item read by the flag's own type; a bad
    item is a usage error naming the variable (EnvironmentValueError, exit 2)."""
    items = []
    for item in env_list(flag):
        try:
            items.append(parse(item))
        except argparse.ArgumentTypeError as e:
            raw = os.environ.get(env_name(flag), "")
            message = str(e)
            if item == raw.strip():  # one item: the value is named once
                message = message.removesuffix(f", got {item!r}")
            raise EnvironmentValueError(f"{env_name(flag)}={raw!r}: {message}") from None
    return items


def default_version_pins(args) -> dict[str, str]:
    """--default-version's pins, else LEAPSERVE_DEFAULT_VERSION's (serve and inspect read the same)."""
    pins = args.default_version
    return dict(pins if pins is not None else env_items("--default-version", parse_default_version))


def config_from_args(args):
    from leapserve.server.app import ServeConfig

    models = args.model if args.model is not None else env_items("--model", parse_model)
    admin_paths = args.admin_path if args.admin_path is not None else env_list("--admin-path")
    pins = default_version_pins(args)
    return ServeConfig(
        models=list(models), model_dir=args.model_dir, host=args.host, port=args.port, uds=args.uds, uds_mode=args.uds_mode,
        workers=args.workers, threads=args.threads, max_message_size=args.max_message_size,
        max_batch_rows=args.max_batch_rows, max_response_bytes=args.max_response_bytes,
        max_concurrent_rpcs=args.max_concurrent_rpcs,
        reload_interval=args.reload_interval, admin=args.admin, admin_paths=list(admin_paths),
        admin_token=args.admin_token, max_stream_requests=args.max_stream_requests,
        max_concurrent_streams=args.max_concurrent_streams, request_read_timeout=args.request_read_timeout,
        grace=args.grace, drain_seconds=args.drain_seconds, log_level=args.log_level, log_format=args.log_format,
        metrics_port=args.metrics_port, metrics_host=args.metrics_host, health_port=args.health_port,
        http_port=args.http_port,
        health_host=args.health_host, tls_cert=args.tls_cert, tls_key=args.tls_key,
        tls_client_ca=args.tls_client_ca, tracing=args.tracing, event_loop=args.event_loop,
        default_versions=pins, allow_schema_change=args.allow_schema_change, show_paths=args.show_paths,
    )


def check_config(config) -> str | None:
    """A usage error to report, or None."""
    from leapserve.server.registry import Registry

    if not config.models and not config.model_dir:
        return "nothing to serve: give --model NAME=PATH and/or --model-dir DIR"
    from leapserve.runtime.container import check_limits_env

    problem = check_limits_env()  # LEAPSERVE_MAX_BUNDLE_* and friends (docs/reliability.md)
    if problem:
        return problem
    if config.max_stream_requests < 0 or (config.max_concurrent_streams or 0) < 0:
        return "--max-stream-requests and --max-concurrent-streams cannot be negative"
    if not config.request_read_timeout >= 0:  # NaN too
        return f"--request-read-timeout {config.request_read_timeout}: expected seconds >= 0 (0: no limit)"
    if not config.reload_interval >= 0:  # NaN too
        return f"--reload-interval {config.reload_interval}: expected seconds >= 0 (0: no hot reload)"
    if config.model_dir and not os.path.isdir(config.model_dir):
        return f"--model-dir {config.model_dir}: not a directory"
    if config.workers < 1:
        return "--workers must be at least 1"
    if config.event_loop == "uvloop" and not uvloop_installed():
        return ("--event-loop uvloop: uvloop is not installed in this Python (pip install uvloop); "
                "--event-loop asyncio needs nothing")
    if config.threads < 1:
        return "--threads must be at least 1"
    if config.workers > 1 and config.uds:
        return "--uds cannot be shared by several workers (SO_REUSEPORT is for TCP); use --workers 1"
    if config.workers > 1 and config.admin:
        return "--admin needs --workers 1 (each worker has its own models; a LoadModel would reach only one)"
    if config.port is not None and not 0 <= config.port <= 65535:
        return f"--port {config.port}: not a port number"
    ports = (("--metrics-port", config.metrics_port), ("--health-port", config.health_port),
             ("--http-port", config.http_port))
    for flag, port in ports:
        if port is not None and not 0 <= port <= 65535:
            return f"{flag} {port}: not a port number"
        if port and port == config.tcp_port():
            return f"{flag} {port}: the same port as the gRPC API"
    taken = [port for _, port in ports if port]
    if len(taken) != len(set(taken)):
        return "--metrics-port, --health-port and --http-port must differ"
    if config.drain_seconds < 0 or config.grace < 0:
        return "--drain-seconds and --grace-period cannot be negative"
    from leapserve.server.tls import check_server_files

    problem = check_server_files(config.tls_cert, config.tls_key, config.tls_client_ca)
    if problem:
        return problem
    if config.tracing:
        from leapserve.server.metrics import tracing_available

        if not tracing_available():
            return ("--tracing needs OpenTelemetry: pip install opentelemetry-sdk opentelemetry-exporter-otlp "
                    "(or opentelemetry-api alone, with a provider set up by opentelemetry-instrument)")
    for path in config.admin_paths:
        if not os.path.isdir(path):
            return f"--admin-path {path}: not a directory"
    try:
        registry = Registry(reload_interval=0)
        for name, version, path in config.models:
            registry.add_model(name, path, version)
    except ValueError as e:
        return str(e)
    return None


def _listen_problem(host: str, port: int, reuseport: bool) -> str | None:
    """Why nothing could listen on host:port, as gRPC would bind it (SO_REUSEADDR, and SO_REUSEPORT
    with several workers), or None. Checked before gRPC binds: gRPC's own report of a taken port is
    a log line of its C core on stderr before ours."""
    import errno
    import socket

    try:
        infos = socket.getaddrinfo(host or None, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    except socket.gaierror as e:
        return f"cannot resolve {host!r}: {e.strerror}"
    failures = []
    for family, kind, proto, _, sockaddr in infos:
        try:
            with socket.socket(family, kind, proto) as s:
                s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                if reuseport and hasattr(socket, "SO_REUSEPORT"):
                    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
                s.bind(sockaddr)
                return None  # gRPC listens when one of the addresses binds
        except OSError as e:
            failures.append(e)
    if not failures:
        return None
    e = failures[0]
    if e.errno == errno.EADDRINUSE:
        return "address already in use (another server on this port?)"
    if e.errno == errno.EADDRNOTAVAIL:
        return "address not available on this machine"
    if e.errno == errno.EACCES:
        return "permission denied (ports below 1024 need privileges)"
    return e.strerror or str(e)


def _socket_problem(path: str) -> str | None:
    """Why serve cannot listen on the Unix socket at path, or None. gRPC would bind over a socket
    file another server listens on (taking its clients) and, in a missing folder, log its own line
    and serve nowhere; a socket file no one answers on is left over from a server that died: removed."""
    import socket
    import stat

    target = Path(path).expanduser()
    if not target.parent.is_dir():
        return f"no such directory {target.parent}"
    try:
        mode = target.lstat().st_mode
    except FileNotFoundError:
        return None
    except OSError as e:
        return e.strerror or str(e)
    if not stat.S_ISSOCK(mode):
        return "a file that is not a socket is in the way (remove it, or choose another path)"
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as probe:
        probe.settimeout(2.0)
        try:
            probe.connect(str(target))
        except (ConnectionRefusedError, FileNotFoundError):  # stale: no one listens
            pass
        except OSError as e:
            return e.strerror or str(e)
        else:
            return "address already in use (another server on this socket?)"
    try:
        target.unlink()
    except FileNotFoundError:
        pass
    except OSError as e:
        return f"cannot remove the stale socket file: {e.strerror or e}"
    return None


def check_ports(config) -> str | None:
    """The first TCP port or Unix socket serve would listen on that it cannot, as an error message,
    or None."""
    from leapserve.server.app import host_port

    if config.uds:
        problem = _socket_problem(config.uds)
        if problem:
            return f"cannot listen on unix:{config.uds} (--uds): {problem}"

    ports = [("--port", config.host, config.tcp_port(), config.workers > 1),
             ("--health-port", config.health_host or config.host, config.health_port, config.workers > 1),
             ("--metrics-port", config.metrics_host or config.host, config.metrics_port, False),
             ("--http-port", config.host, config.http_port, config.workers > 1)]
    for flag, host, port, reuseport in ports:
        if port is None:  # not asked for (port 0 is checked too: the host may not be this machine's)
            continue
        problem = _listen_problem(host, port, reuseport)
        if problem:
            return f"cannot listen on {host_port(host, port)} ({flag}): {problem}"
    return None


def run(args) -> int:
    from leapserve.server.app import run as run_app

    config = config_from_args(args)
    problem = check_config(config)
    if problem:
        print_error("serve", problem)
        return USAGE
    problem = check_ports(config)
    if problem:
        print_error("serve", problem)
        return FAILURE
    return run_app(config)
