"""Helpers of the server tests: expected values, ports, `leapserve serve` processes, bundle copies.

Never import leapserve.oip in the test process: tritonclient brings its own copy of the
``inference`` protobuf package and both cannot live in one process.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import grpc

from tests.support.servers import cli_command

REPO = Path(__file__).resolve().parents[2]
PYTHON = sys.executable
# Training data: y = 1 + 2a - b exactly (v1) and y = 10 + a + b (v2), so predictions are known.
V1_ROWS = [(1.0, 2.0), (2.0, 0.0), (3.0, 1.0), (0.0, 0.0), (1.5, -2.0), (4.0, 3.0)]


def v1_expected(a: float, b: float) -> float:
    return 1.0 + 2.0 * a - b


def v2_expected(a: float, b: float) -> float:
    return 10.0 + a + b


class ServerProcess:
    def __init__(self, args: list[str], log_path: Path, address: str, env: dict | None = None):
        self.args = args
        self.address = address
        self.log_path = log_path
        self._log = open(log_path, "wb")
        full_env = dict(os.environ)
        full_env.update(env or {})
        full_env.setdefault("PYTHONUNBUFFERED", "1")
        self.proc = subprocess.Popen(cli_command("serve", *args), cwd=REPO, stdout=self._log,
                                     stderr=subprocess.STDOUT, env=full_env, start_new_session=True)
        self.channel = None

    def log(self) -> str:
        if not self._log.closed:
            self._log.flush()
        return self.log_path.read_text(errors="replace")

    def health(self, service: str = "") -> str:
        from grpc_health.v1 import health_pb2, health_pb2_grpc

        with grpc.insecure_channel(self.address) as ch:
            try:
                r = health_pb2_grpc.HealthStub(ch).Check(health_pb2.HealthCheckRequest(service=service), timeout=2)
            except grpc.RpcError as e:
                return e.code().name
            return health_pb2.HealthCheckResponse.ServingStatus.Name(r.status)

    def wait_health(self, want: str = "SERVING", service: str = "", timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        last = None
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError(f"server exited with {self.proc.returncode}:\n{self.log()}")
            last = self.health(service)
            if last == want:
                return
            time.sleep(0.1)
        raise AssertionError(f"health of {service!r} is {last}, not {want}, after {timeout}s:\n{self.log()}")

    def wait_listening(self, timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError(f"server exited with {self.proc.returncode}:\n{self.log()}")
            if self.health() not in ("UNAVAILABLE", "DEADLINE_EXCEEDED"):
                return
            time.sleep(0.1)
        raise AssertionError(f"server not listening after {timeout}s:\n{self.log()}")

    def open_channel(self):
        if self.channel is None:
            self.channel = grpc.insecure_channel(self.address)
        return self.channel

    def stop(self, timeout: float = 15.0) -> int:
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
        self._log.close()
        return self.proc.returncode


def copy_bundle(src: Path, dst: Path) -> None:
    """Copy a bundle (zip or directory) to dst atomically (write beside, then rename)."""
    tmp = dst.with_name("." + dst.name + ".tmp")
    if src.is_dir():
        if tmp.exists():
            shutil.rmtree(tmp)
        shutil.copytree(src, tmp)
        if dst.exists():
            shutil.rmtree(dst)
    else:
        shutil.copyfile(src, tmp)
    os.replace(tmp, dst)


def has_ops(*names: str) -> bool:
    from leapserve.runtime import supported_ops

    return set(names) <= set(supported_ops())


def module_available(name: str) -> bool:
    return importlib.util.find_spec(name) is not None
