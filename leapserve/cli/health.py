"""`leapserve health`: ask a server's grpc.health.v1 service; exit 0 only when SERVING.

Usable as a container or Kubernetes exec probe:

    leapserve health --address 127.0.0.1:50051              # the server as a whole
    leapserve health --address unix:/run/ls.sock --service model:penguins
    leapserve health --address 127.0.0.1:50051 --wait 60    # wait until SERVING (start-up scripts)

SERVING prints "SERVING" on stdout; anything else is one error line on stderr naming the address
tried, with an exit code of its own (EPILOG), so that a script can tell a server that is down from
one that is up but not ready, and from a service name it does not know.
"""

from __future__ import annotations

import time

from .environment import default_client_address
from .errors import FAILURE, OK, UNREACHABLE, USAGE, print_error
from .options import client_problem

HELP = "check a running server's health (exit 0 only when SERVING)"
DEBUG_HELP = ("on an unexpected failure, show the Python traceback; and let gRPC log its own lines on stderr "
              "(without it they are quiet, unless GRPC_VERBOSITY is set)")
UNKNOWN_SERVICE_EXIT = 4
EPILOG = f"""\
exit codes:
  0  SERVING
  1  the server answers NOT_SERVING (models loading or failed, shutting down)
  2  usage: wrong arguments or LEAPSERVE_* variable, unreadable TLS files
  3  unreachable: no answer from --address within --timeout
  {UNKNOWN_SERVICE_EXIT}  the server does not know --service

environment (a flag on the command line wins):
  LEAPSERVE_ADDRESS   --address; else, as serve reads them: LEAPSERVE_HEALTH_PORT (with
                      LEAPSERVE_HEALTH_HOST or LEAPSERVE_HOST), LEAPSERVE_UDS, LEAPSERVE_HOST and LEAPSERVE_PORT
"""

SERVING, NOT_SERVING, UNREACHABLE_STATUS, UNKNOWN_SERVICE = "SERVING", "NOT_SERVING", "UNREACHABLE", "UNKNOWN_SERVICE"
_EXIT = {SERVING: OK, UNREACHABLE_STATUS: UNREACHABLE, UNKNOWN_SERVICE: UNKNOWN_SERVICE_EXIT}


def add_arguments(p) -> None:
    from leapserve.server.tls import add_client_arguments

    p.add_argument("--address", default=default_client_address(health=True),
                   help="HOST:PORT or unix:PATH (default: LEAPSERVE_ADDRESS, else the server's own LEAPSERVE_* "
                        "settings (health port, Unix socket, host and port), else 127.0.0.1:50051)")
    p.add_argument("--service", default="",
                   help='service to ask about: "" the whole server, a service name such as '
                        'leapserve.v1.PredictionService, or model:NAME (default: "")')
    p.add_argument("--timeout", type=float, default=5.0, metavar="SECONDS", help="seconds per check (default 5)")
    p.add_argument("--wait", type=float, default=0.0, metavar="SECONDS",
                   help="keep asking until SERVING or this many seconds have passed (default 0: ask once)")
    p.add_argument("--quiet", action="store_true", help="print nothing; the exit code tells")
    add_client_arguments(p)


def check_detail(address: str, service: str = "", timeout: float = 5.0, tls=None) -> tuple[str, str]:
    """(status, detail): the status name (SERVING, NOT_SERVING, ...) or UNREACHABLE /
    UNKNOWN_SERVICE, and gRPC's reason for the latter two. ``tls``: parsed client TLS flags
    (server/tls.py), or None for plaintext."""
    import grpc

    from leapserve.client import CallError, Client
    from leapserve.server.tls import client_tls_options

    with Client(address, timeout=timeout, **client_tls_options(tls)) as client:
        try:
            return client.health(service), ""
        except CallError as e:
            detail = f"{e.code.name}: {e.message}"
            if e.code == grpc.StatusCode.NOT_FOUND:
                return UNKNOWN_SERVICE, detail
            return UNREACHABLE_STATUS, detail


def _message(status: str, detail: str, address: str, service: str, timeout: float) -> str:
    what = f"service {service!r}" if service else "the server"
    if status == UNREACHABLE_STATUS:
        return f"UNREACHABLE: no answer from {address} within {timeout:g} s ({detail})"
    if status == UNKNOWN_SERVICE:
        return (f"UNKNOWN_SERVICE: {address} knows no health service {service!r} (ask for \"\", a gRPC "
                f"service name, or model:NAME with a served model's name)")
    return f"{status}: {what} at {address} is not serving"


def run(args) -> int:
    problem = client_problem(args)
    if problem is None and not args.wait >= 0:  # NaN too
        problem = f"--wait {args.wait}: expected seconds >= 0 (0: ask once)"
    if problem:
        print_error("health", problem)
        return USAGE
    deadline = time.monotonic() + args.wait
    while True:
        try:
            status, detail = check_detail(args.address, args.service, args.timeout, args)
        except (OSError, ValueError) as e:  # unreadable TLS files
            print_error("health", str(e))
            return USAGE
        if status == SERVING or time.monotonic() >= deadline:
            break
        time.sleep(0.2)
    if not args.quiet:
        if status == SERVING:
            print(status)
        else:
            print_error("health", _message(status, detail, args.address, args.service, args.timeout))
    return _EXIT.get(status, FAILURE)
