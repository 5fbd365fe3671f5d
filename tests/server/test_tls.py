"""TLS and mutual TLS with certificates made by the openssl command line for the test."""

from __future__ import annotations

import json
import shutil
import time

import grpc
import pytest

from tests.support.bundles import RF_ZIP, airbnb_record
from tests.support.certificates import have_openssl, make_certificates
from tests.support.servers import free_port, health_status, predict_request, prediction_stub, run_cli

pytestmark = pytest.mark.skipif(not have_openssl(), reason="the openssl command line is not installed")


@pytest.fixture(scope="module")
def certs(tmp_path_factory):
    return make_certificates(tmp_path_factory.mktemp("certs"))


def tls_channel(address, certs, client=True, ca=None):
    creds = grpc.ssl_channel_credentials(
        root_certificates=(ca or certs["ca"]).read_bytes(),
        private_key=certs["client_key"].read_bytes() if client else None,
        certificate_chain=certs["client"].read_bytes() if client else None)
    return grpc.secure_channel(address, creds)


def predict_ok(channel) -> bool:
    try:
        prediction_stub(channel).Predict(predict_request("rf", airbnb_record()), timeout=5)
        return True
    except grpc.RpcError:
        return False


def test_tls_and_plaintext_side_listeners(start_server, certs, tmp_path):
    port, health_port = free_port(), free_port()
    uds = tmp_path / "ls.sock"
    server = start_server("--model", f"rf={RF_ZIP}", "--reload-interval", "0", "--tls-cert", certs["server"],
                          "--tls-key", certs["server_key"], "--uds", uds, "--port", port, "--health-port", health_port,
                          wait=None, address=f"127.0.0.1:{health_port}")
    server.wait_health("SERVING")
    address = f"127.0.0.1:{port}"
    with tls_channel(address, certs, client=False) as ch:
        assert health_status(ch) == "SERVING"
        assert predict_ok(ch)
    with grpc.insecure_channel(address) as ch:  # plaintext to a TLS port
        assert health_status(ch) == "UNAVAILABLE"
    # The Unix socket and the health-only port stay plaintext; the health port serves nothing else.
    with grpc.insecure_channel(f"unix:{uds}") as ch:
        assert predict_ok(ch)
    with grpc.insecure_channel(f"127.0.0.1:{health_port}") as ch:
        assert health_status(ch) == "SERVING" and health_status(ch, "liveness") == "SERVING"
        with pytest.raises(grpc.RpcError) as e:
            prediction_stub(ch).Predict(predict_request("rf", airbnb_record()), timeout=5)
        assert e.value.code() == grpc.StatusCode.UNIMPLEMENTED
    # The client commands' TLS flags.
    r = run_cli("health", "--address", address, "--tls-ca", certs["ca"])
    assert (r.returncode, r.stdout.strip()) == (0, "SERVING"), r.stderr
    r = run_cli("health", "--address", address)
    assert r.returncode == 3 and "UNREACHABLE" in r.stderr
    r = run_cli("predict", "--address", address, "--tls-ca", certs["ca"], "--model", "rf",
                "--json", json.dumps(airbnb_record()), "--output", "price_prediction")
    assert r.returncode == 0, r.stderr
    assert "price_prediction" in json.loads(r.stdout)
    assert "(TLS)" in server.log()


def test_mutual_tls_and_certificate_rotation(start_server, certs, tmp_path):
    live = tmp_path / "live"
    live.mkdir()
    for name in ("server", "server_key", "ca"):
        shutil.copyfile(certs[name], live / certs[name].name)
    port = free_port()
    server = start_server("--model", f"rf={RF_ZIP}", "--reload-interval", "0", "--port", port,
                          "--tls-cert", live / "server.pem", "--tls-key", live / "server.key",
                          "--tls-client-ca", live / "ca.pem", wait=None, address=f"127.0.0.1:{port}")
    address = f"127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    with tls_channel(address, certs) as ch:
        while health_status(ch) != "SERVING" and time.monotonic() < deadline:
            time.sleep(0.1)
        assert predict_ok(ch)
    with tls_channel(address, certs, client=False) as ch:  # no client certificate
        assert not predict_ok(ch)
    other = make_certificates(tmp_path / "other", prefix="other-")
    with tls_channel(address, other, ca=certs["ca"]) as ch:  # a client certificate from another CA
        assert not predict_ok(ch)
    r = run_cli("health", "--address", address, "--tls-ca", certs["ca"], "--tls-cert", certs["client"],
                "--tls-key", certs["client_key"])
    assert (r.returncode, r.stdout.strip()) == (0, "SERVING"), r.stderr
    r = run_cli("health", "--address", address, "--tls-ca", certs["ca"])
    assert r.returncode == 3  # the handshake fails: no answer

    # Rotation: the other CA's server certificate and client CA replace the files; new connections
    # use them without a restart.
    for src, dst in ((other["server"], "server.pem"), (other["server_key"], "server.key"), (other["ca"], "ca.pem")):
        tmp = live / (dst + ".new")
        shutil.copyfile(src, tmp)
        tmp.replace(live / dst)
    time.sleep(1.2)
    deadline = time.monotonic() + 20
    rotated = False
    while time.monotonic() < deadline and not rotated:
        with tls_channel(address, other) as ch:
            rotated = predict_ok(ch)
        time.sleep(0.3)
    assert rotated, server.log()
    with tls_channel(address, certs) as ch:
        assert not predict_ok(ch)
    assert "TLS files changed" in server.log()


def test_bad_tls_settings_are_usage_errors(certs, tmp_path):
    cases = [
        (["--tls-cert", certs["server"]], "--tls-cert and --tls-key go together"),
        (["--tls-cert", certs["server"], "--tls-key", certs["client_key"]], "not a certificate and its private key"),
        (["--tls-cert", certs["server"], "--tls-key", certs["server_key"], "--tls-client-ca", tmp_path / "none.pem"],
         "no such file"),
    ]
    for flags, message in cases:
        r = run_cli("serve", "--model", f"rf={RF_ZIP}", "--port", free_port(), *flags)
        assert r.returncode == 2 and message in r.stderr, (flags, r.stderr)
