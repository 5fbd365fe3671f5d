"""LEAPSERVE_* variables as flag defaults, shared by the serve, predict and health commands.

Every flag of `leapserve serve` can be set by LEAPSERVE_<FLAG> (dashes as underscores); a flag on
the command line wins. The client commands (predict, health) find the server from the same
variables, so that a container's HEALTHCHECK follows its configuration.
"""

from __future__ import annotations

import os

ENV_PREFIX = "LEAPSERVE_"
_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}


# The bundle and request limits the runtime reads (leapserve/runtime/container.py, docs/reliability.md),
# as the --help of the commands that open bundles lists them.
BUNDLE_LIMITS_HELP = """\
  LEAPSERVE_MAX_BUNDLE_BYTES, LEAPSERVE_MAX_BUNDLE_FILE_BYTES, LEAPSERVE_MAX_BUNDLE_ENTRIES,
  LEAPSERVE_MAX_BUNDLE_RATIO, LEAPSERVE_MAX_BUNDLE_DEPTH, LEAPSERVE_MAX_ATTRIBUTE_LENGTH,
  LEAPSERVE_MAX_TREE_NODES, LEAPSERVE_MAX_VECTOR_SIZE, LEAPSERVE_MAX_TEXT_CACHE_BYTES,
  LEAPSERVE_MAX_STRING_LENGTH
                    limits on bundles and requests (docs/reliability.md); sizes as 1000, 64M, 1G
  LEAPSERVE_REGEX_TIMEOUT_MS
                    milliseconds a bundle's regular expression may spend on one string (default 1000)
"""


class EnvironmentValueError(ValueError):
    """A LEAPSERVE_* variable that does not hold what its flag takes (a usage error, exit 2)."""


def env_name(flag: str) -> str:
    return ENV_PREFIX + flag.lstrip("-").replace("-", "_").upper()


# What a variable read by int or float must hold (Python's own messages name its functions).
_EXPECTED = {int: "expected an integer", float: "expected a number of seconds"}


def env(flag: str, default=None, convert=str, choices=None):
    """The default of a flag: its LEAPSERVE_* variable when set, else ``default``. ``choices``: the
    flag's choices, which the variable must be one of too."""
    raw = os.environ.get(env_name(flag))
    if raw is None:
        return default
    if choices is not None and raw not in choices:
        raise EnvironmentValueError(f"{env_name(flag)}={raw!r}: expected one of {', '.join(choices)}")
    try:
        return convert(raw)
    except ValueError as e:
        # The converters' messages may start with the value (as the flag's error shows it): said once.
        why = _EXPECTED.get(convert) or str(e).removeprefix(f"{raw!r}: ")
        raise EnvironmentValueError(f"{env_name(flag)}={raw!r}: {why}") from None


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
    raise EnvironmentValueError(f"{env_name(flag)}={raw!r}: expected 1/0, true/false or yes/no")


def _connect_host(host: str | None) -> str:
    """Where a client on this machine reaches a server listening on host."""
    host = (host or "127.0.0.1").strip()
    if host in ("", "0.0.0.0"):
        return "127.0.0.1"
    if host.strip("[]") == "::":
        return "[::1]"
    return f"[{host}]" if ":" in host and not host.startswith("[") else host


def _env_port(flag: str) -> str | None:
    """The port a LEAPSERVE_* variable names (as text), checked as serve checks it; None if unset."""
    raw = os.environ.get(env_name(flag))
    if not raw:
        return None
    text = raw.strip()
    if not (text.isascii() and text.isdigit() and int(text) <= 65535):
        raise EnvironmentValueError(f"{env_name(flag)}={raw!r}: expected a port number, 0 to 65535")
    return str(int(text))


def default_client_address(health: bool = False) -> str:
    """The address `leapserve predict` and `health` use by default: LEAPSERVE_ADDRESS, else the one
    the server's own LEAPSERVE_* variables describe (so that a container's HEALTHCHECK follows its
    configuration): the health-only port for `health` when there is one, the Unix socket when there
    is no TCP port, else host and port."""
    explicit = os.environ.get(env_name("--address"))
    if explicit:
        return explicit
    health_port = _env_port("--health-port")
    if health and health_port:
        host = os.environ.get(env_name("--health-host")) or os.environ.get(env_name("--host"))
        return f"{_connect_host(host)}:{health_port}"
    port = _env_port("--port")
    uds = os.environ.get(env_name("--uds"))
    if uds and not port:
        return f"unix:{uds}"
    return f"{_connect_host(os.environ.get(env_name('--host')))}:{port or 50051}"
