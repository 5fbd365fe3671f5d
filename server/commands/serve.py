"""`leapserve serve`: serve bundles over gRPC (leapserve.v1, Open Inference Protocol, health).

Every flag can also be set by an environment variable LEAPSERVE_<FLAG> (dashes as underscores,
e.g. LEAPSERVE_PORT=9000, LEAPSERVE_MODEL_DIR=/models); a flag on the command line wins. Flags
that repeat take a comma-separated list from the environment (LEAPSERVE_MODEL=a=a.zip,b=b.zip);
switches take 1/true/yes or 0/false/no.
"""

from __future__ import annotations

import argparse
import os
import sys

HELP = "serve bundles over gRPC (leapserve.v1 API, Open Inference Protocol, health, reflection)"

ENV_PREFIX = "LEAPSERVE_"
_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}


# --- environment defaults (shared with the predict and health commands) ------------------------

def env_name(flag: str) -> str:
    return ENV_PREFIX + flag.lstrip("-").replace("-", "_").upper()


def env(flag: str, default=None, convert=str):
    """The default of a flag: its LEAPSERVE_* variable when set, else ``default``."""
    raw = os.environ.get(env_name(flag))
    if raw is None:
        return default
    try:
        return convert(raw)
    except ValueError as e:
        raise SystemExit(f"leapserve: {env_name(flag)}={raw!r}: {e}") from None


def env_list(flag: str) -> list[str]:
    raw = os.environ.get(env_name(flag))
    if not raw:
        return []
    return [part.strip() for part in raw.split(",") if part.strip()]


def env_bool(flag: str) -> bool:
    raw = os.environ.get(env_name(flag))
    if raw is None:
        return False
    low = raw.strip().lower()
    if low in _TRUE:
        return True
    if low in _FALSE:
        return False
    raise SystemExit(f"leapserve: {env_name(flag)}={raw!r}: expected 1/0, true/false or yes/no")


def size_in_bytes(text: str) -> int:
    """16777216, 16M, 64MiB, 1G."""
    t = text.strip().upper().removesuffix("IB").removesuffix("B")
    factor = 1
    if t and t[-1] in "KMG":
        factor = 1024 ** ("KMG".index(t[-1]) + 1)
        t = t[:-1]
    value = int(float(t) * factor)
    if value <= 0:
        raise ValueError("must be positive")
    return value


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


# --- the command ---------------------------------------------------------------------------

def add_arguments(p: argparse.ArgumentParser) -> None:
    from ..app import DEFAULT_HOST, DEFAULT_PORT

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
    p.add_argument("--workers", type=int, default=env("--workers", 1, int), metavar="N",
                   help="server processes sharing the TCP port through SO_REUSEPORT (default 1) "
                        "[LEAPSERVE_WORKERS]")
    p.add_argument("--threads", type=int, default=env("--threads", 16, int), metavar="N",
                   help="request threads per process (each open PredictStream holds one) (default 16) "
                        "[LEAPSERVE_THREADS]")
    p.add_argument("--max-message-size", type=size_in_bytes,
                   default=env("--max-message-size", 64 * 1024 * 1024, size_in_bytes), metavar="BYTES",
                   help="largest request or response, e.g. 16M (default 64M); larger ones fail with "
                        "RESOURCE_EXHAUSTED [LEAPSERVE_MAX_MESSAGE_SIZE]")
    p.add_argument("--max-batch-rows", type=int, default=env("--max-batch-rows", 100_000, int), metavar="N",
                   help="most records in one PredictBatch or ModelInfer (default 100000) [LEAPSERVE_MAX_BATCH_ROWS]")
    p.add_argument("--max-concurrent-rpcs", type=int, default=env("--max-concurrent-rpcs", 1000, int), metavar="N",
                   help="calls in progress per process before new ones fail with RESOURCE_EXHAUSTED "
                        "(default 1000; 0: no limit) [LEAPSERVE_MAX_CONCURRENT_RPCS]")
    p.add_argument("--reload-interval", type=float, default=env("--reload-interval", 2.0, float), metavar="SECONDS",
                   help="how often to look for new or changed bundles (default 2; 0 turns hot reload off) "
                        "[LEAPSERVE_RELOAD_INTERVAL]")
    p.add_argument("--admin", action="store_true", default=env_bool("--admin"),
                   help="serve leapserve.v1.ModelService (LoadModel/UnloadModel); off by default [LEAPSERVE_ADMIN]")
    p.add_argument("--admin-path", action="append", metavar="DIR",
                   help="a folder LoadModel may load bundles from, besides --model-dir. Repeatable. "
                        "[LEAPSERVE_ADMIN_PATH]")
    p.add_argument("--grace", type=float, default=env("--grace", 5.0, float), metavar="SECONDS",
                   help="on SIGTERM, how long calls in progress may take to finish (default 5) [LEAPSERVE_GRACE]")
    p.add_argument("--log-level", default=env("--log-level", "info"),
                   choices=["debug", "info", "warning", "error"], help="(default info) [LEAPSERVE_LOG_LEVEL]")


def config_from_args(args):
    from ..app import ServeConfig

    models = args.model if args.model is not None else [parse_model(s) for s in env_list("--model")]
    admin_paths = args.admin_path if args.admin_path is not None else env_list("--admin-path")
    return ServeConfig(
        models=list(models), model_dir=args.model_dir, host=args.host, port=args.port, uds=args.uds,
        workers=args.workers, threads=args.threads, max_message_size=args.max_message_size,
        max_batch_rows=args.max_batch_rows, max_concurrent_rpcs=args.max_concurrent_rpcs,
        reload_interval=args.reload_interval, admin=args.admin, admin_paths=list(admin_paths),
        grace=args.grace, log_level=args.log_level,
    )


def check_config(config) -> str | None:
    """A usage error to report, or None."""
    from ..registry import Registry

    if not config.models and not config.model_dir:
        return "nothing to serve: give --model NAME=PATH and/or --model-dir DIR"
    if config.model_dir and not os.path.isdir(config.model_dir):
        return f"--model-dir {config.model_dir}: not a directory"
    if config.workers < 1:
        return "--workers must be at least 1"
    if config.threads < 1:
        return "--threads must be at least 1"
    if config.workers > 1 and config.uds:
        return "--uds cannot be shared by several workers (SO_REUSEPORT is for TCP); use --workers 1"
    if config.workers > 1 and config.admin:
        return "--admin needs --workers 1 (each worker has its own models; a LoadModel would reach only one)"
    if config.port is not None and not 0 <= config.port <= 65535:
        return f"--port {config.port}: not a port number"
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


def run(args) -> int:
    from ..app import run as run_app

    config = config_from_args(args)
    problem = check_config(config)
    if problem:
        print(f"leapserve serve: {problem}", file=sys.stderr)
        return 2
    return run_app(config)
