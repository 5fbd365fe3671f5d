"""`leapserve serve` processes, free ports, the CLI's command line and environment, gRPC clients.

Servers are real processes started through the CLI on loopback or a Unix socket.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import grpc

REPO = Path(__file__).resolve().parents[2]
PYTHON = sys.executable


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def cli_command(*args) -> list[str]:
    """`leapserve ARGS` as a module (the console script may not be installed in every checkout)."""
    return [PYTHON, "-m", "leapserve.cli", *map(str, args)]


def clean_env(extra: dict | None = None) -> dict:
    """The environment without LEAPSERVE_* settings of the caller's shell, plus ``extra``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("LEAPSERVE_") and k != "PROMETHEUS_MULTIPROC_DIR"}
    env["PYTHONUNBUFFERED"] = "1"
    env.update(extra or {})
    return env


def run_cli(*args, env: dict | None = None, input: str | None = None,
            timeout: float = 60) -> subprocess.CompletedProcess:
    """`leapserve ARGS` run to its end in clean_env(env), its output captured as text."""
    return subprocess.run(cli_command(*args), cwd=REPO, capture_output=True, text=True, env=clean_env(env),
                          input=input, timeout=timeout)


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


class ServerProcess:
    """A `leapserve serve ARGS` process (or ``command``) in clean_env(env) and a session of its own, so
    that stop() can kill its workers too; what it writes to stdout and stderr goes to log_path."""

    def __init__(self, args, log_path: Path, address: str, env: dict | None = None, command=None):
        self.address = address
        self.log_path = log_path
        self._log = open(log_path, "wb")
        self.proc = subprocess.Popen(command or cli_command("serve", *args), cwd=REPO, stdout=self._log,
                                     stderr=subprocess.STDOUT, env=clean_env(env), start_new_session=True)
        self.channel = None

    def __enter__(self) -> ServerProcess:
        return self

    def __exit__(self, *exc) -> None:
        self.stop()

    def log(self) -> str:
        if not self._log.closed:
            self._log.flush()
        return self.log_path.read_text(errors="replace")

    def health(self, service: str = "", address: str | None = None) -> str:
        """The status of one health Check, for a test that asserts it: asked a second time if the
        first found no connection or no answer in time (a loaded machine; the server drops a health
        request it has not read within 1 s), so that a one-off timeout does not read as the answer.
        Statuses the server gives (SERVING, NOT_SERVING, NOT_FOUND) are returned as they are."""
        status = self._check(service, address)
        if status in ("DEADLINE_EXCEEDED", "UNAVAILABLE"):
            status = self._check(service, address)
        return status

    def _check(self, service: str = "", address: str | None = None) -> str:
        with grpc.insecure_channel(address or self.address) as ch:
            return health_status(ch, service)

    def wait_health(self, want: str = "SERVING", service: str = "", timeout: float = 60.0,
                    address: str | None = None) -> None:
        deadline = time.monotonic() + timeout
        last = None
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError(f"server exited with {self.proc.returncode}:\n{self.log()}")
            last = self._check(service, address)
            if last == want:
                return
            time.sleep(0.05)
        raise AssertionError(f"health of {service!r} is {last}, not {want}, after {timeout}s:\n{self.log()}")

    def wait_listening(self, timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError(f"server exited with {self.proc.returncode}:\n{self.log()}")
            if self._check() not in ("UNAVAILABLE", "DEADLINE_EXCEEDED"):
                return
            time.sleep(0.05)
        raise AssertionError(f"server not listening after {timeout}s:\n{self.log()}")

    def open_channel(self):
        """One channel to the server, kept open until stop()."""
        if self.channel is None:
            self.channel = grpc.insecure_channel(self.address)
        return self.channel

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
        if self.channel is not None:
            self.channel.close()
            self.channel = None
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


class StartedServers:
    """The servers a test (or a test module) started, their logs in one folder; stop_all() stops them."""

    def __init__(self, log_folder: Path):
        self.log_folder = log_folder
        self.started: list[ServerProcess] = []

    def start(self, *args, env: dict | None = None, uds=None, address: str | None = None, wait: str | None = "SERVING",
              timeout: float = 60.0) -> ServerProcess:
        """`leapserve serve ARGS` on a free port (passed with --port), on the Unix socket ``uds``, or at
        ``address`` when ARGS or ``env`` already say where it listens. wait: "SERVING" (its health
        answers SERVING), "listening" (it answers at all) or None."""
        args = [str(a) for a in args]
        if address is None:
            if uds is not None:
                address = f"unix:{uds}"
                args += ["--uds", str(uds)]
            else:
                port = free_port()
                address = f"127.0.0.1:{port}"
                args += ["--port", str(port)]
        server = ServerProcess(args, self.log_folder / f"server-{len(self.started)}.log", address, env)
        self.started.append(server)
        if wait == "SERVING":
            server.wait_health("SERVING", timeout=timeout)
        elif wait == "listening":
            server.wait_listening(timeout=timeout)
        elif wait is not None:
            raise ValueError(f"wait must be 'SERVING', 'listening' or None, not {wait!r}")
        return server

    def stop_all(self) -> None:
        for server in self.started:
            server.stop()
