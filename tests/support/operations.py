"""Helpers of the operations tests: `leapserve serve` processes, ports, metrics scraping, certificates.

Servers are real processes started through the CLI on loopback or a Unix socket; the bundles are
MLeap-written fixtures (no Spark needed), so these tests start fast.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import grpc

REPO = Path(__file__).resolve().parents[2]
PYTHON = sys.executable
FIXTURES = REPO / "tests" / "fixtures" / "mleap"
RF_BUNDLE = FIXTURES / "airbnb.model.rf.zip"
LR_BUNDLE = FIXTURES / "airbnb.model.lr.zip"


def airbnb_record() -> dict:
    frame = json.loads((FIXTURES / "frame.airbnb.json").read_text())
    return dict(zip([f["name"] for f in frame["schema"]["fields"]], frame["rows"][0]))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def cli(*args: str) -> list[str]:
    return [PYTHON, "-m", "leapserve.cli", *args]


def clean_env(extra: dict | None = None) -> dict:
    """The environment without LEAPSERVE_* settings of the caller's shell, plus ``extra``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("LEAPSERVE_") and k != "PROMETHEUS_MULTIPROC_DIR"}
    env["PYTHONUNBUFFERED"] = "1"
    env.update(extra or {})
    return env


def predict_request(model: str, record: dict, request_id: str = "", version: str = ""):
    from leapserve.v1 import prediction_pb2 as pb
    from leapserve.server.codec import encode_value

    req = pb.PredictRequest(model=model, version=version, request_id=request_id)
    for k, v in record.items():
        encode_value(req.inputs[k], v)
    return req


def batch_request(model: str, records: list[dict], request_id: str = ""):
    from leapserve.v1 import prediction_pb2 as pb
    from leapserve.server.codec import encode_value

    req = pb.PredictBatchRequest(model=model, request_id=request_id)
    for record in records:
        fields = req.records.add().fields
        for k, v in record.items():
            encode_value(fields[k], v)
    return req


def prediction_stub(channel):
    from leapserve.v1 import prediction_pb2_grpc as pb_grpc

    return pb_grpc.PredictionServiceStub(channel)


def health_status(channel, service: str = "", timeout: float = 2.0) -> str:
    from grpc_health.v1 import health_pb2, health_pb2_grpc

    try:
        r = health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest(service=service), timeout=timeout)
    except grpc.RpcError as e:
        return e.code().name
    return health_pb2.HealthCheckResponse.ServingStatus.Name(r.status)


class Server:
    """A `leapserve serve` process; its output goes to a log file."""

    def __init__(self, args, log_path: Path, address: str, env: dict | None = None, command=None):
        self.address = address
        self.log_path = log_path
        self._log = open(log_path, "wb")
        self.proc = subprocess.Popen(command or cli("serve", *map(str, args)), cwd=REPO, stdout=subprocess.DEVNULL,
                                     stderr=self._log, env=clean_env(env), start_new_session=True)

    def log(self) -> str:
        if not self._log.closed:
            self._log.flush()
        return self.log_path.read_text(errors="replace")

    def health(self, service: str = "", address: str | None = None) -> str:
        with grpc.insecure_channel(address or self.address) as ch:
            return health_status(ch, service)

    def wait_health(self, want: str = "SERVING", service: str = "", timeout: float = 60.0,
                    address: str | None = None) -> None:
        deadline = time.monotonic() + timeout
        last = None
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError(f"server exited with {self.proc.returncode}:\n{self.log()}")
            last = self.health(service, address)
            if last == want:
                return
            time.sleep(0.05)
        raise AssertionError(f"health of {service!r} is {last}, not {want}, after {timeout}s:\n{self.log()}")

    def signal(self, signum=signal.SIGTERM) -> None:
        self.proc.send_signal(signum)

    def wait(self, timeout: float = 30.0) -> int:
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(10)
            raise AssertionError(f"server did not exit within {timeout}s:\n{self.log()}") from None

    def stop(self, timeout: float = 20.0) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(10)
        else:  # a supervisor's workers must not outlive a failed test
            try:
                os.killpg(self.proc.pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass
        if not self._log.closed:
            self._log.close()
        return self.proc.returncode


def scrape(port: int) -> str:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10) as r:
        return r.read().decode()


def samples(text: str) -> dict:
    """{(name, frozenset(labels.items())): value} of a Prometheus text exposition."""
    from prometheus_client.parser import text_string_to_metric_families

    out = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            out[(s.name, frozenset(s.labels.items()))] = s.value
    return out


def value(parsed: dict, name: str, **labels) -> float:
    """The sample's value; 0 when absent. Labels not given must match any value (summed)."""
    total = 0.0
    for (n, lab), v in parsed.items():
        if n != name:
            continue
        d = dict(lab)
        if all(d.get(k) == str(w) for k, w in labels.items()):
            total += v
    return total


# --- certificates --------------------------------------------------------------------------------

def have_openssl() -> bool:
    return shutil.which("openssl") is not None


def _openssl(*args, cwd: Path) -> None:
    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True)


def make_certificates(folder: Path, prefix: str = "") -> dict[str, Path]:
    """A CA, a server certificate for localhost/127.0.0.1 and a client certificate, with openssl
    (EC P-256 keys: quick to make). Returns name -> path (ca, ca_key, server, server_key, client,
    client_key)."""
    folder.mkdir(parents=True, exist_ok=True)
    ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]
    p = prefix
    _openssl("req", "-x509", *ec, "-keyout", f"{p}ca.key", "-out", f"{p}ca.pem", "-days", "2",
             "-subj", f"/CN=leapserve test CA {p}", "-addext", "basicConstraints=critical,CA:TRUE",
             "-addext", "keyUsage=critical,keyCertSign,cRLSign", cwd=folder)
    for name, cn, ext in (("server", "localhost", "subjectAltName=DNS:localhost,IP:127.0.0.1\n"
                                                  "extendedKeyUsage=serverAuth\n"),
                          ("client", "leapserve-test-client", "extendedKeyUsage=clientAuth\n")):
        (folder / f"{p}{name}.ext").write_text(ext)
        _openssl("req", *ec, "-keyout", f"{p}{name}.key", "-out", f"{p}{name}.csr", "-subj", f"/CN={cn}", cwd=folder)
        _openssl("x509", "-req", "-in", f"{p}{name}.csr", "-CA", f"{p}ca.pem", "-CAkey", f"{p}ca.key",
                 "-CAcreateserial", "-out", f"{p}{name}.pem", "-days", "2", "-extfile", f"{p}{name}.ext", cwd=folder)
    return {"ca": folder / f"{p}ca.pem", "ca_key": folder / f"{p}ca.key", "server": folder / f"{p}server.pem",
            "server_key": folder / f"{p}server.key", "client": folder / f"{p}client.pem",
            "client_key": folder / f"{p}client.key"}
