"""The operations flags of `leapserve serve`, their environment variables and their usage errors."""

from __future__ import annotations

import subprocess

from tests.support.bundles import RF_ZIP
from tests.support.servers import PYTHON, REPO, clean_env, free_port, run_cli


def test_usage_errors():
    port = free_port()
    cases = [
        (["--metrics-port", port, "--port", port], "the same port as the gRPC API"),
        (["--health-port", "70000"], "not a port number"),
        (["--metrics-port", "9999", "--health-port", "9999"], "must differ"),
        (["--drain-seconds", "-1"], "cannot be negative"),
        (["--log-format", "xml"], "invalid choice"),
        (["--request-read-timeout", "-1"], "--request-read-timeout -1.0: expected seconds >= 0"),
        (["--reload-interval", "-1"], "--reload-interval -1.0: expected seconds >= 0 (0: no hot reload)"),
    ]
    for flags, message in cases:
        r = run_cli("serve", "--model", f"rf={RF_ZIP}", *flags)
        assert r.returncode == 2 and message in r.stderr, (flags, r.stderr)


def test_sizes_read_as_the_bundle_limits_are():
    """--max-message-size and its variable take ASCII numbers only, on every Python (float() took
    Kawi digits from 3.12 on, and "1e400" overflowed)."""
    for size in ("\U00011f51M", "1e400", "inf"):
        r = run_cli("serve", "--model", f"rf={RF_ZIP}", "--max-message-size", size)
        assert r.returncode == 2 and "--max-message-size: invalid size_in_bytes value" in r.stderr, (size, r.stderr)
    r = run_cli("serve", "--model", f"rf={RF_ZIP}", env={"LEAPSERVE_MAX_MESSAGE_SIZE": "1e400"})
    # a malformed variable is a usage error, like the flag it stands for
    assert r.returncode == 2 and r.stderr == "leapserve serve: error: LEAPSERVE_MAX_MESSAGE_SIZE='1e400': is too large\n"


def test_versions_order_by_ascii_numbers():
    from leapserve.server.registry import version_key

    # numbers as numbers, above every other name (docs/serving.md, "Versions")
    assert sorted(["10", "9", "1.10", "1.9", "v2", "2024-06-01"], key=version_key) == \
        ["1.9", "1.10", "2024-06-01", "v2", "9", "10"]
    # a Kawi digit is no number (Python 3.12's isdigit says it is): the version is a name, below "0"
    assert version_key("\U00011f51") < version_key("0")


def test_tracing_needs_opentelemetry():
    # The dev install has OpenTelemetry; a None entry in sys.modules makes the server see an
    # install without it, as importlib treats such a name as not importable.
    hide = "import runpy, sys; sys.modules['opentelemetry'] = None; runpy.run_module('leapserve.cli', run_name='__main__')"
    r = subprocess.run([PYTHON, "-c", hide, "serve", "--model", f"rf={RF_ZIP}"], cwd=REPO, capture_output=True,
                       text=True, env=clean_env({"LEAPSERVE_TRACING": "1"}), timeout=60)
    assert r.returncode == 2 and "--tracing needs OpenTelemetry" in r.stderr, r.stderr


def test_client_address_follows_the_servers_variables(monkeypatch):
    from leapserve.cli.environment import default_client_address

    for key in ("LEAPSERVE_ADDRESS", "LEAPSERVE_HOST", "LEAPSERVE_PORT", "LEAPSERVE_UDS", "LEAPSERVE_HEALTH_PORT",
                "LEAPSERVE_HEALTH_HOST"):
        monkeypatch.delenv(key, raising=False)
    assert default_client_address() == "127.0.0.1:50051"
    monkeypatch.setenv("LEAPSERVE_HOST", "0.0.0.0")
    monkeypatch.setenv("LEAPSERVE_PORT", "6000")
    assert default_client_address() == "127.0.0.1:6000"
    monkeypatch.setenv("LEAPSERVE_HOST", "::")
    assert default_client_address() == "[::1]:6000"
    monkeypatch.setenv("LEAPSERVE_HEALTH_PORT", "6001")
    assert default_client_address(health=True) == "[::1]:6001"
    assert default_client_address() == "[::1]:6000"
    monkeypatch.delenv("LEAPSERVE_PORT")
    monkeypatch.delenv("LEAPSERVE_HEALTH_PORT")
    monkeypatch.setenv("LEAPSERVE_UDS", "/run/leapserve/leapserve.sock")
    assert default_client_address(health=True) == "unix:/run/leapserve/leapserve.sock"
    monkeypatch.setenv("LEAPSERVE_ADDRESS", "scorer:7000")
    assert default_client_address(health=True) == "scorer:7000"


def test_environment_sets_the_operations_flags(monkeypatch):
    import argparse

    from leapserve.cli import serve

    env = {"LEAPSERVE_MODEL": "rf=x.zip", "LEAPSERVE_DRAIN_SECONDS": "2.5", "LEAPSERVE_GRACE": "7",
           "LEAPSERVE_LOG_FORMAT": "json", "LEAPSERVE_METRICS_PORT": "9095", "LEAPSERVE_METRICS_HOST": "0.0.0.0",
           "LEAPSERVE_HEALTH_PORT": "50052", "LEAPSERVE_TLS_CERT": "c.pem", "LEAPSERVE_TLS_KEY": "k.pem",
           "LEAPSERVE_TLS_CLIENT_CA": "ca.pem", "LEAPSERVE_TRACING": "yes", "LEAPSERVE_REQUEST_READ_TIMEOUT": "2.5"}
    for k, v in env.items():
        monkeypatch.setenv(k, v)
    p = argparse.ArgumentParser()
    serve.add_arguments(p)
    config = serve.config_from_args(p.parse_args([]))
    assert (config.drain_seconds, config.grace, config.log_format) == (2.5, 7.0, "json")  # LEAPSERVE_GRACE: old name
    assert (config.metrics_port, config.metrics_host, config.health_port) == (9095, "0.0.0.0", 50052)
    assert config.request_read_timeout == 2.5
    assert (config.tls_cert, config.tls_key, config.tls_client_ca, config.tracing) == ("c.pem", "k.pem", "ca.pem", True)
    monkeypatch.setenv("LEAPSERVE_GRACE_PERIOD", "3")
    p = argparse.ArgumentParser()
    serve.add_arguments(p)
    assert serve.config_from_args(p.parse_args([])).grace == 3.0
    assert serve.config_from_args(p.parse_args(["--grace", "4"])).grace == 4.0


def test_a_taken_port_is_one_clear_line():
    """Another program listens on the port: one error line (gRPC's C core logged its own line first),
    for the API port, the health-only port and the metrics port alike."""
    import socket

    with socket.socket() as other:
        other.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        other.bind(("127.0.0.1", 0))
        other.listen()
        taken = other.getsockname()[1]
        for flag in ("--port", "--health-port", "--metrics-port"):
            ports = {"--port": str(free_port()), flag: str(taken)}
            r = run_cli("serve", "--model", f"rf={RF_ZIP}", *[x for kv in ports.items() for x in kv])
            assert (r.returncode, r.stdout) == (1, ""), r.stderr
            assert r.stderr == (f"leapserve serve: error: cannot listen on 127.0.0.1:{taken} ({flag}): address "
                                f"already in use (another server on this port?)\n")


def test_a_socket_in_a_missing_folder_is_one_clear_line(tmp_path):
    """gRPC logged its own line, then served nowhere and never exited."""
    path = tmp_path / "nodir" / "x.sock"
    r = run_cli("serve", "--model", f"rf={RF_ZIP}", "--uds", path, timeout=30)
    assert (r.returncode, r.stdout) == (1, ""), r.stderr
    assert r.stderr == (f"leapserve serve: error: cannot listen on unix:{path} (--uds): no such directory "
                        f"{path.parent}\n")


def test_a_socket_in_use_is_not_taken_over(start_server, tmp_path):
    """A second server on the same socket path replaced the file (the first one's clients then reached
    it, and no one once it stopped); a socket file left by a server that died is reused."""
    import socket

    sock = tmp_path / "api.sock"
    first = start_server("--model", f"rf={RF_ZIP}", "--reload-interval", "0", uds=sock)
    r = run_cli("serve", "--model", f"rf={RF_ZIP}", "--uds", sock, timeout=30)
    assert (r.returncode, r.stdout) == (1, ""), r.stderr
    assert r.stderr == (f"leapserve serve: error: cannot listen on unix:{sock} (--uds): address already in use "
                        f"(another server on this socket?)\n")
    assert first.health() == "SERVING"

    stale = tmp_path / "stale.sock"
    with socket.socket(socket.AF_UNIX) as dead:  # bound, never listening: what a killed server leaves
        dead.bind(str(stale))
    start_server("--model", f"rf={RF_ZIP}", "--reload-interval", "0", uds=stale)

    plain = tmp_path / "plain.sock"
    plain.write_text("not a socket")
    r = run_cli("serve", "--model", f"rf={RF_ZIP}", "--uds", plain, timeout=30)
    assert (r.returncode, r.stderr) == (1, f"leapserve serve: error: cannot listen on unix:{plain} (--uds): a file "
                                           f"that is not a socket is in the way (remove it, or choose another "
                                           f"path)\n")


def test_bad_list_variables_are_usage_errors():
    """LEAPSERVE_MODEL and LEAPSERVE_DEFAULT_VERSION were an "unexpected failure" (exit 1) and a line of
    another form; they are read as their flags are, and a bad one is a usage error naming it."""
    cases = [
        ({"LEAPSERVE_MODEL": "garbage"}, "LEAPSERVE_MODEL='garbage': expected NAME=PATH or NAME:VERSION=PATH"),
        ({"LEAPSERVE_MODEL": f"rf={RF_ZIP},garbage"},
         f"LEAPSERVE_MODEL='rf={RF_ZIP},garbage': expected NAME=PATH or NAME:VERSION=PATH, got 'garbage'"),
        ({"LEAPSERVE_MODEL": f"rf={RF_ZIP}", "LEAPSERVE_DEFAULT_VERSION": "junk"},
         "LEAPSERVE_DEFAULT_VERSION='junk': expected NAME=VERSION"),
    ]
    for env, message in cases:
        r = run_cli("serve", "--port", "0", env=env, timeout=30)
        assert (r.returncode, r.stdout, r.stderr) == (2, "", f"leapserve serve: error: {message}\n"), env


def test_variables_are_checked_as_their_flags_are():
    """LEAPSERVE_LOG_FORMAT=xml and LEAPSERVE_LOG_LEVEL=loud were accepted (the flags refuse them); a
    number or a mode that is none is said in words, the value named once."""
    cases = [
        ({"LEAPSERVE_LOG_FORMAT": "xml"}, "LEAPSERVE_LOG_FORMAT='xml': expected one of text, json"),
        ({"LEAPSERVE_LOG_LEVEL": "loud"}, "LEAPSERVE_LOG_LEVEL='loud': expected one of debug, info, warning, error"),
        ({"LEAPSERVE_PORT": "abc"}, "LEAPSERVE_PORT='abc': expected an integer"),
        ({"LEAPSERVE_DRAIN_SECONDS": "abc"}, "LEAPSERVE_DRAIN_SECONDS='abc': expected a number of seconds"),
        ({"LEAPSERVE_UDS_MODE": "999"},
         "LEAPSERVE_UDS_MODE='999': expected permission bits in octal, 000 to 777 (e.g. 660 or 0600)"),
    ]
    for env, message in cases:
        r = run_cli("serve", "--model", f"rf={RF_ZIP}", env=env, timeout=30)
        assert (r.returncode, r.stdout, r.stderr) == (2, "", f"leapserve serve: error: {message}\n"), env


def test_a_host_not_on_this_machine_is_one_clear_line():
    """--port 0 skipped the check: gRPC logged its own line, then a log line, no `serve: error:`."""
    r = run_cli("serve", "--model", f"rf={RF_ZIP}", "--host", "192.0.2.1", "--port", "0", timeout=30)
    assert (r.returncode, r.stdout, r.stderr) == (1, "", "leapserve serve: error: cannot listen on 192.0.2.1:0 "
                                                         "(--port): address not available on this machine\n")
