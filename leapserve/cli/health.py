"""`leapserve health`: ask a server's grpc.health.v1 service; exit 0 only when SERVING.

Usable as a container or Kubernetes exec probe:

    leapserve health --address 127.0.0.1:50051              # the server as a whole
    leapserve health --address unix:/run/ls.sock --service model:penguins
    leapserve health --address 127.0.0.1:50051 --wait 60    # wait until SERVING (start-up scripts)
"""

from __future__ import annotations

import sys
import time

from leapserve.server.tls import add_client_arguments, client_channel
from .environment import default_client_address

HELP = "check a running server's health (exit 0 only when SERVING)"


def add_arguments(p) -> None:
    p.add_argument("--address", default=default_client_address(health=True),
                   help="HOST:PORT or unix:PATH (default: LEAPSERVE_ADDRESS, else the server's own LEAPSERVE_* "
                        "settings (health port, Unix socket, host and port), else 127.0.0.1:50051)")
    p.add_argument("--service", default="",
                   help='service to ask about: "" (default) the whole server, a service name such as '
                        'leapserve.v1.PredictionService, or model:NAME')
    p.add_argument("--timeout", type=float, default=5.0, help="seconds per check (default 5)")
    p.add_argument("--wait", type=float, default=0.0, metavar="SECONDS",
                   help="keep asking until SERVING or this many seconds have passed")
    p.add_argument("--quiet", action="store_true", help="print nothing")
    add_client_arguments(p)


def check(address: str, service: str = "", timeout: float = 5.0, tls=None) -> str:
    """The status name (SERVING, NOT_SERVING, ...) or UNREACHABLE / UNKNOWN_SERVICE.
    ``tls``: parsed client TLS flags (server/tls.py), or None for plaintext."""
    import grpc
    from grpc_health.v1 import health_pb2, health_pb2_grpc

    with client_channel(address, tls) as channel:
        stub = health_pb2_grpc.HealthStub(channel)
        try:
            response = stub.Check(health_pb2.HealthCheckRequest(service=service), timeout=timeout)
        except grpc.RpcError as e:
            if e.code() == grpc.StatusCode.NOT_FOUND:
                return "UNKNOWN_SERVICE"
            return "UNREACHABLE"
        return health_pb2.HealthCheckResponse.ServingStatus.Name(response.status)


def run(args) -> int:
    deadline = time.monotonic() + max(0.0, args.wait)
    while True:
        try:
            status = check(args.address, args.service, args.timeout, args)
        except (OSError, ValueError) as e:  # unreadable TLS files
            print(f"leapserve health: {e}", file=sys.stderr)
            return 2
        if status == "SERVING" or time.monotonic() >= deadline:
            break
        time.sleep(0.2)
    if not args.quiet:
        print(status, file=sys.stdout if status == "SERVING" else sys.stderr)
    return 0 if status == "SERVING" else 1
