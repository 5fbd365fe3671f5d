"""Unix socket, several workers, environment variables, reflection and the predict/health CLIs."""

from __future__ import annotations

import json
import os
import re
import signal
import stat
import tempfile
import threading
import time
from pathlib import Path

import grpc
import pytest
from google.protobuf import descriptor_pool
from grpc_reflection.v1alpha.proto_reflection_descriptor_database import ProtoReflectionDescriptorDatabase

from leapserve.v1 import prediction_pb2 as pb
from leapserve.v1 import prediction_pb2_grpc as pb_grpc
from tests.support.bundles import v1_expected, v2_expected
from tests.support.servers import free_port, health_status, run_cli


def predict(address, model="lr", a=1.0, b=2.0, version=""):
    with grpc.insecure_channel(address) as ch:
        req = pb.PredictRequest(model=model, version=version)
        req.inputs["a"].double_value = a
        req.inputs["b"].double_value = b
        return pb_grpc.PredictionServiceStub(ch).Predict(req, timeout=10)


@pytest.fixture(scope="module")
def uds_server(start_module_server, bundles):
    # AF_UNIX paths are short (108 bytes): keep the socket in a short temporary folder.
    folder = Path(tempfile.mkdtemp(prefix="ls-"))
    sock = folder / "s.sock"
    server = start_module_server("--model", f"lr={bundles['lr_v1']}", uds=sock)
    yield server, sock
    server.stop()
    assert not sock.exists()  # removed on shutdown
    folder.rmdir()


def test_unix_socket(uds_server):
    server, sock = uds_server
    assert server.address == f"unix:{sock}"
    r = predict(server.address)
    assert r.outputs["prediction"].double_value == pytest.approx(v1_expected(1, 2))


def test_cli_predict_and_health_over_unix_socket(uds_server):
    server, sock = uds_server
    out = run_cli("predict", "--address", f"unix:{sock}", "--model", "lr", "--json", '{"a": 2, "b": "1"}')
    assert out.returncode == 0, out.stderr
    result = json.loads(out.stdout)
    assert result["prediction"] == pytest.approx(v1_expected(2, 1)) and result["features"] == [2.0, 1.0]
    out = run_cli("predict", "--address", f"unix:{sock}", "--model", "lr", "--json", '{"a": "x", "b": 1}')
    assert out.returncode == 1 and "INVALID_ARGUMENT" in out.stderr and "'a'" in out.stderr
    out = run_cli("predict", "--address", f"unix:{sock}", "--model", "lr", "--json", "[1, 2]")
    assert out.returncode == 2
    records = '{"a": 1, "b": 1}\n\n{"a": "bad", "b": 1}\n{"a": 3, "b": 0}\n'
    out = run_cli("predict", "--address", f"unix:{sock}", "--model", "lr", "--file", "-", "--output", "prediction",
              "--batch-size", "2", input=records)
    assert out.returncode == 1  # one record failed
    lines = [json.loads(x) for x in out.stdout.splitlines()]
    assert lines[0] == {"prediction": pytest.approx(v1_expected(1, 1))} and "error" in lines[1]
    assert lines[2] == {"prediction": pytest.approx(v1_expected(3, 0))}
    out = run_cli("health", "--address", f"unix:{sock}")
    assert out.returncode == 0 and out.stdout.strip() == "SERVING"
    out = run_cli("health", "--address", f"unix:{sock}", "--service", "model:lr")
    assert out.returncode == 0
    out = run_cli("health", "--address", f"unix:{sock}", "--service", "model:nope")
    assert out.returncode == 4 and "UNKNOWN_SERVICE" in out.stderr  # exit codes: tests/cli/test_health.py
    out = run_cli("health", "--address", f"unix:{sock}.missing", "--timeout", "1")
    assert out.returncode == 3 and "UNREACHABLE" in out.stderr


def test_workers_share_the_port_and_stop_together(start_server, bundles):
    server = start_server("--model", f"lr={bundles['lr_v1']}", "--workers", "2")
    # Every worker answers health only once its models are in; fresh connections spread over both.
    deadline = time.monotonic() + 60
    while server.log().count("loaded and warmed") < 2 and time.monotonic() < deadline:
        time.sleep(0.1)
    log = server.log()
    assert log.count("loaded and warmed") == 2 and "supervising 2 workers" in log
    for _ in range(10):
        assert predict(server.address).outputs["prediction"].double_value == pytest.approx(v1_expected(1, 2))
    # a worker that dies is replaced
    pids = [int(p) for p in re.search(r"\(pids ([\d, ]+)\)", log).group(1).split(", ")]
    os.kill(pids[0], signal.SIGKILL)
    deadline = time.monotonic() + 60
    while server.log().count("loaded and warmed") < 3 and time.monotonic() < deadline:
        time.sleep(0.1)
    assert "exited with code -9" in server.log() and server.log().count("loaded and warmed") == 3
    for _ in range(10):
        assert predict(server.address).outputs["prediction"].double_value == pytest.approx(v1_expected(1, 2))
    assert server.stop() == 0
    assert server.log().count("stopped") >= 2


def test_environment_variables(start_server, bundles):
    port = free_port()
    server = start_server(env={"LEAPSERVE_MODEL": f"a={bundles['lr_v1']},b={bundles['lr_v2']}",
                               "LEAPSERVE_PORT": str(port), "LEAPSERVE_RELOAD_INTERVAL": "0"},
                          address=f"127.0.0.1:{port}")
    assert predict(server.address, "a").outputs["prediction"].double_value == pytest.approx(v1_expected(1, 2))
    assert predict(server.address, "b").outputs["prediction"].double_value == pytest.approx(v2_expected(1, 2))
    out = run_cli("health", env={"LEAPSERVE_ADDRESS": server.address})
    assert out.returncode == 0


@pytest.mark.parametrize("flag, env, mode", [
    ((), None, 0o660),  # the default, whatever the umask (0755 with umask 022 before)
    (("--uds-mode", "600"), None, 0o600),
    ((), {"LEAPSERVE_UDS_MODE": "0666"}, 0o666),
    (("--uds-mode", "0640"), {"LEAPSERVE_UDS_MODE": "0666"}, 0o640),  # the flag wins
])
def test_unix_socket_mode(start_server, tmp_path, flag, env, mode):
    models = tmp_path / "models"
    models.mkdir()
    folder = Path(tempfile.mkdtemp(prefix="ls-"))
    sock = folder / "s.sock"
    server = start_server("--model-dir", models, *flag, uds=sock, env=env, wait="listening")
    st = os.stat(sock)
    assert stat.S_ISSOCK(st.st_mode) and stat.S_IMODE(st.st_mode) == mode, oct(st.st_mode)
    assert server.stop() == 0
    assert not sock.exists()
    folder.rmdir()


def test_unix_socket_mode_usage_errors(tmp_path):
    for value in ("9", "rw", "1000", "-1"):
        out = run_cli("serve", "--model-dir", tmp_path, "--uds", tmp_path / "s", "--uds-mode", value)
        assert out.returncode == 2 and "--uds-mode" in out.stderr and value in out.stderr, out.stderr


def test_usage_errors(bundles, tmp_path):
    out = run_cli("serve", "--port", "0")
    assert out.returncode == 2 and "nothing to serve" in out.stderr
    out = run_cli("serve", "--model", f"x={tmp_path / 'missing.zip'}")
    assert out.returncode == 2 and "missing.zip" in out.stderr
    out = run_cli("serve", "--model", "no-equals-sign")
    assert out.returncode == 2
    out = run_cli("serve", "--model", f"x={bundles['lr_v1']}", "--workers", "2", "--uds", tmp_path / "s")
    assert out.returncode == 2 and "--uds" in out.stderr


def test_port_in_use(start_server, bundles, lr_server):
    port = int(lr_server.address.rsplit(":", 1)[1])
    out = run_cli("serve", "--model", f"x={bundles['lr_v1']}", "--port", port, timeout=60)
    assert out.returncode == 1 and "cannot listen" in out.stderr


def test_reflection_lists_services(lr_server):
    channel = lr_server.open_channel()
    db = ProtoReflectionDescriptorDatabase(channel)
    services = set(db.get_services())
    assert {"leapserve.v1.PredictionService", "inference.GRPCInferenceService", "grpc.health.v1.Health",
            "grpc.reflection.v1alpha.ServerReflection"} <= services
    assert "leapserve.v1.ModelService" not in services  # admin is off
    pool = descriptor_pool.DescriptorPool(db)
    svc = pool.FindServiceByName("leapserve.v1.PredictionService")
    assert {m.name for m in svc.methods} == {"Predict", "PredictBatch", "PredictStream", "GetModelMetadata",
                                            "ListModels"}
    assert svc.methods_by_name["Predict"].input_type.fields_by_name["inputs"].message_type.name == "InputsEntry"
    oip = pool.FindServiceByName("inference.GRPCInferenceService")
    assert {"ServerLive", "ServerReady", "ModelReady", "ServerMetadata", "ModelMetadata", "ModelInfer",
            # the repository extension: always served (load and unload refuse without --admin)
            "RepositoryIndex", "RepositoryModelLoad", "RepositoryModelUnload"} == {m.name for m in oip.methods}


def test_concurrent_call_limit_is_resource_exhausted(start_server, bundles):
    server = start_server("--model", f"lr={bundles['lr_v1']}", "--max-concurrent-rpcs", "1", "--reload-interval", "0")
    ch = grpc.insecure_channel(server.address)
    stub = pb_grpc.PredictionServiceStub(ch)

    def requests(held, release):
        req = pb.PredictRequest(model="lr")
        req.inputs["a"].double_value = 1.0
        req.inputs["b"].double_value = 2.0
        yield req
        held.set()
        release.wait(30)

    # Right after the start the slot can still be held for a moment by the health checks that waited
    # for it (seen once under load, on the first message): open the stream again until it holds it.
    deadline = time.monotonic() + 10
    while True:
        held, release = threading.Event(), threading.Event()
        stream = stub.PredictStream(requests(held, release), timeout=60)
        try:
            first = next(stream)  # the stream now holds the only slot
            break
        except grpc.RpcError as e:
            release.set()
            if e.code() != grpc.StatusCode.RESOURCE_EXHAUSTED or time.monotonic() > deadline:
                raise
            time.sleep(0.1)
    assert first.outputs["prediction"].double_value == pytest.approx(v1_expected(1, 2))
    assert held.wait(10)
    with pytest.raises(grpc.RpcError) as info:
        predict(server.address)
    assert info.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
    assert "--max-concurrent-rpcs" in info.value.details()
    # health is not counted: probes still get their answer while every slot is taken
    assert health_status(ch) == "SERVING"
    release.set()
    assert list(stream) == []
    ch.close()
    # the slot is free again
    deadline = time.monotonic() + 10
    while True:
        try:
            assert predict(server.address).outputs["prediction"].double_value == pytest.approx(v1_expected(1, 2))
            break
        except grpc.RpcError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)
    server.stop()
