"""`leapserve health` as a probe runs it (the real command) against real servers on loopback: a
distinct exit code for each answer, and an error line naming the address it tried."""

from __future__ import annotations

from tests.support.bundles import RF_ZIP
from tests.support.servers import free_port, run_cli


def health(*args):
    return run_cli("health", *args, "--timeout", "5")


def test_exit_codes_tell_the_answers_apart(start_server, tmp_path):
    good = start_server("--model", f"rf={RF_ZIP}", "--reload-interval", "0")
    r = health("--address", good.address)
    assert (r.returncode, r.stdout, r.stderr) == (0, "SERVING\n", "")

    r = health("--address", good.address, "--service", "model:nope")
    assert r.returncode == 4 and r.stdout == "", r.stderr
    assert r.stderr.startswith(f"leapserve health: error: UNKNOWN_SERVICE: {good.address} knows no health "
                               f"service 'model:nope'"), r.stderr

    models = tmp_path / "models"
    models.mkdir()
    (models / "broken.zip").write_bytes(b"not a zip")
    bad = start_server("--model-dir", models, "--reload-interval", "0", wait="listening")
    # "" answers NOT_SERVING from the start; the model's entry appears once the folder is scanned.
    bad.wait_health("NOT_SERVING", "model:broken", timeout=30)
    r = health("--address", bad.address)
    assert (r.returncode, r.stdout) == (1, "")
    assert r.stderr == f"leapserve health: error: NOT_SERVING: the server at {bad.address} is not serving\n"
    r = health("--address", bad.address, "--service", "model:broken", "--quiet")
    assert (r.returncode, r.stdout, r.stderr) == (1, "", "")

    address = f"127.0.0.1:{free_port()}"
    r = run_cli("health", "--address", address, "--timeout", "1")
    assert r.returncode == 3 and r.stdout == ""
    assert r.stderr.startswith(f"leapserve health: error: UNREACHABLE: no answer from {address} within 1 s "
                               f"(UNAVAILABLE: "), r.stderr
    assert len(r.stderr.splitlines()) == 1


def test_exit_codes_are_documented():
    text = run_cli("health", "--help").stdout
    for line in ("0  SERVING", "1  the server answers NOT_SERVING", "2  usage", "3  unreachable",
                 "4  the server does not know --service"):
        assert line in text


def test_a_bad_port_variable_is_a_usage_error():
    """LEAPSERVE_PORT=abc was "UNREACHABLE ... Failed to parse port" (exit 3); the variables the client
    commands find the server by are checked as serve checks them."""
    for command in (["health"], ["predict", "--model", "m", "--json", "{}"]):
        for var, value in (("LEAPSERVE_PORT", "abc"), ("LEAPSERVE_HEALTH_PORT", "70000")):
            if var == "LEAPSERVE_HEALTH_PORT" and command[0] == "predict":
                continue  # predict does not use the health-only port
            r = run_cli(*command, env={var: value})
            assert (r.returncode, r.stdout, r.stderr) == (
                2, "", f"leapserve {command[0]}: error: {var}={value!r}: expected a port number, 0 to 65535\n")


def test_a_bad_timeout_variable_names_the_variable():
    r = run_cli("predict", "--model", "m", "--json", "{}", env={"LEAPSERVE_TIMEOUT": "-5"})
    assert (r.returncode, r.stderr) == (2, "leapserve predict: error: LEAPSERVE_TIMEOUT='-5': expected a number of "
                                           "seconds > 0\n")


def test_tls_file_errors_name_the_flag(tmp_path):
    """health said `[Errno 2] No such file or directory: 'nope.pem'`, naming no flag."""
    missing = tmp_path / "nope.pem"
    for command in (["health"], ["predict", "--model", "m", "--json", "{}"]):
        for flag, path, why in (("--tls-ca", missing, "no such file"),
                                ("--tls-ca", tmp_path, "is a directory, not a PEM file")):
            r = run_cli(*command, "--address", f"127.0.0.1:{free_port()}", flag, path)
            assert (r.returncode, r.stdout, r.stderr) == (2, "", f"leapserve {command[0]}: error: {flag} {path}: "
                                                                 f"{why}\n"), r.stderr


def test_a_negative_wait_is_a_usage_error():
    r = run_cli("health", "--wait", "-1")
    assert (r.returncode, r.stderr) == (2, "leapserve health: error: --wait -1.0: expected seconds >= 0 (0: ask once)\n")


def test_grpc_logs_nothing_before_the_error_line(start_server):
    """health --tls against a plaintext server: gRPC's C core logged `I... ssl_transport_security.cc
    ... Handshake failed` before the command's line; --debug lets it speak."""
    plain = start_server("--model", f"rf={RF_ZIP}", "--reload-interval", "0")
    r = run_cli("health", "--address", plain.address, "--tls", "--timeout", "2")
    assert r.returncode == 3 and r.stdout == ""
    assert len(r.stderr.splitlines()) == 1 and r.stderr.startswith("leapserve health: error: "), r.stderr
