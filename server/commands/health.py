"""`leapserve health`: ask a server's grpc.health.v1 service; exit 0 only when SERVING.

Usable as a container or Kubernetes exec probe:

    leapserve health --address 127.0.0.1:50051              # the server as a whole
    leapserve health --address unix:/run/ls.sock --service model:penguins
    leapserve health --address 127.0.0.1:50051 --wait 60    # wait until SERVING (start-up scripts)
"""

from __future__ import annotations

import sys
import time

from .serve import env

HELP = "check a running server's health (exit 0 only when SERVING)"


def add_arguments(p) -> None:
    p.add_argument("--address", default=env("--address", "127.0.0.1:50051"),
                   help="HOST:PORT or unix:PATH (default 127.0.0.1:50051) [LEAPSERVE_ADDRESS]")
    p.add_argument("--service", default="",
                   help='service to ask about: "" (default) the whole server, a service name such as '
                        'leapserve.v1.PredictionService, or model:NAME')
    p.add_argument("--timeout", type=float, default=5.0, help="seconds per check (default 5)")
    p.add_argument("--wait", type=float, default=0.0, metavar="SECONDS",
                   help="keep asking until SERVING or this many seconds have passed")
    p.add_argument("--quiet", action="store_true", help="print nothing")


def check(address: str, service: str = "", timeout: float = 5.0) -> str:
    """The status name (SERVING, NOT_SERVING, ...) or UNREACHABLE / UNKNOWN_SERVICE."""
    import grpc
    from grpc_health.v1 import health_pb2, health_pb2_grpc

    with grpc.insecure_channel(address) as channel:
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
        status = check(args.address, args.service, args.timeout)
        if status == "SERVING" or time.monotonic() >= deadline:
            break
        time.sleep(0.2)
    if not args.quiet:
        print(status, file=sys.stdout if status == "SERVING" else sys.stderr)
    return 0 if status == "SERVING" else 1
