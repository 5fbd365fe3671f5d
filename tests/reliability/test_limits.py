"""Limits and exposure, against real server processes:

* message size, batch rows (both APIs), stream length and concurrent streams: past each limit the
  call ends with RESOURCE_EXHAUSTED, and the server goes on serving;
* the admin API: off by default (UNIMPLEMENTED); with --admin-token / LEAPSERVE_ADMIN_TOKEN, calls
  without the token are UNAUTHENTICATED and change nothing;
* no path in a request reads a file outside the model directory (and the --admin-path folders):
  LoadModel with every trick we know (.., symlinks, URIs, ~, NUL, /proc, devices, encodings) and
  with paths made up by hypothesis never loads the valid bundles planted outside.
"""

from __future__ import annotations

import os
import shutil
import struct
import threading

import grpc
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.support.bundles import write_zip
from leapserve.v1 import model_service_pb2 as admin_pb
from leapserve.v1 import model_service_pb2_grpc as admin_grpc
from leapserve.v1 import prediction_pb2 as pb
from leapserve.v1 import prediction_pb2_grpc as pb_grpc
from tests.support.traffic import lin_entries, wait_until


def _req(model="lin", a=0.5, b=0.25):
    r = pb.PredictRequest(model=model)
    r.inputs["a"].double_value = a
    r.inputs["b"].double_value = b
    return r


@pytest.fixture
def lin_zip(tmp_path):
    return write_zip(tmp_path / "lin.zip", lin_entries(2))


def _code(fn, *args, **kw):
    try:
        fn(*args, **kw)
        return grpc.StatusCode.OK
    except grpc.RpcError as e:
        return e.code()


# --- resource limits -----------------------------------------------------------------------------

def test_message_size_and_batch_rows(start_server, lin_zip, figures):
    server = start_server("--model", f"lin={lin_zip}", "--max-message-size", "1M", "--max-batch-rows", "100",
                          "--reload-interval", "0")
    stub = pb_grpc.PredictionServiceStub(server.open_channel())
    checked = {}
    # a request over 1 MiB
    big = _req()
    big.inputs["padding"].vector_value.values.extend([0.0] * 200_000)  # 1.6 MB
    checked["request over --max-message-size"] = _code(stub.Predict, big, timeout=10)
    # a response over 1 MiB: 100 rows answering with a 2000-wide vector each cannot be sent
    wide = pb.PredictBatchRequest(model="lin", outputs=["features"])
    for _ in range(100):
        f = wide.records.add().fields
        f["a"].double_value = 1.0
        f["b"].double_value = 2.0
    assert _code(stub.PredictBatch, wide, timeout=10) == grpc.StatusCode.OK  # small vectors: fine
    rows = pb.PredictBatchRequest(model="lin")
    for _ in range(101):
        f = rows.records.add().fields
        f["a"].double_value = 1.0
        f["b"].double_value = 2.0
    checked["PredictBatch over --max-batch-rows"] = _code(stub.PredictBatch, rows, timeout=10)

    from tritonclient.grpc import service_pb2 as tpb
    from tritonclient.grpc import service_pb2_grpc as tpb_grpc

    oip = tpb_grpc.GRPCInferenceServiceStub(server.open_channel())
    infer = tpb.ModelInferRequest(model_name="lin")
    for name in ("a", "b"):
        infer.inputs.add(name=name, datatype="FP64", shape=[101])
        infer.raw_input_contents.append(struct.pack("<101d", *([1.0] * 101)))
    checked["ModelInfer over --max-batch-rows"] = _code(oip.ModelInfer, infer, timeout=10)
    infer = tpb.ModelInferRequest(model_name="lin")
    for name in ("a", "b"):
        infer.inputs.add(name=name, datatype="FP64", shape=[70_000])
        infer.raw_input_contents.append(bytes(8 * 70_000))
    checked["ModelInfer over --max-message-size"] = _code(oip.ModelInfer, infer, timeout=10)
    for what, code in checked.items():
        assert code == grpc.StatusCode.RESOURCE_EXHAUSTED, what
    assert stub.Predict(_req(), timeout=10).outputs["prediction"].double_value == 2 * (1 + 0.5 + 0.5)
    figures(cases=len(checked), codes={k: v.name for k, v in checked.items()}, failures=0)


def test_stream_length_and_concurrent_streams(start_server, lin_zip, figures):
    server = start_server("--model", f"lin={lin_zip}", "--max-stream-requests", "5", "--max-concurrent-streams", "2",
                          "--threads", "6", "--reload-interval", "0")
    stub = pb_grpc.PredictionServiceStub(server.open_channel())
    # stream length: 5 answers, then RESOURCE_EXHAUSTED
    answers = []
    with pytest.raises(grpc.RpcError) as info:
        for r in stub.PredictStream(iter([_req()] * 8), timeout=10):
            answers.append(r)
    assert info.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED and "--max-stream-requests" in info.value.details()
    assert len(answers) == 5 and all(not r.HasField("status") for r in answers)
    assert len(list(stub.PredictStream(iter([_req()] * 5), timeout=10))) == 5  # exactly at the limit: fine

    # concurrent streams: two held open, the third refused, then accepted once one closes
    gates = [threading.Event(), threading.Event()]

    def held(gate):
        yield _req()
        gate.wait(20)

    calls = [stub.PredictStream(held(g), timeout=30) for g in gates]
    for c in calls:
        next(c)
    with pytest.raises(grpc.RpcError) as info:
        list(stub.PredictStream(iter([_req()]), timeout=10))
    assert info.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED and "--max-concurrent-streams" in info.value.details()
    assert stub.Predict(_req(), timeout=10).outputs  # unary calls still flow
    gates[0].set()
    assert list(calls[0]) == []
    assert len(list(stub.PredictStream(iter([_req()] * 2), timeout=10))) == 2
    gates[1].set()
    assert list(calls[1]) == []
    figures(cases=4, failures=0)


def test_default_concurrent_streams_not_bounded_by_threads(start_server, lin_zip):
    """By default open streams are limited only by --max-concurrent-rpcs: they hold no thread, so
    with --threads 2 ten streams stay open, an eleventh is answered, and unary calls flow meanwhile
    (before grpc.aio the default was half the threads: the second stream was refused)."""
    server = start_server("--model", f"lin={lin_zip}", "--threads", "2", "--reload-interval", "0")
    stub = pb_grpc.PredictionServiceStub(server.open_channel())
    gate = threading.Event()

    def held():
        yield _req()
        gate.wait(20)

    calls = [stub.PredictStream(held(), timeout=30) for _ in range(10)]
    for c in calls:
        assert next(c).outputs
    assert len(list(stub.PredictStream(iter([_req()] * 3), timeout=10))) == 3
    assert all(stub.Predict(_req(), timeout=5).outputs for _ in range(20))
    gate.set()
    for c in calls:
        assert list(c) == []


# --- the admin API ----------------------------------------------------------------------------------

def test_admin_token(start_server, tmp_path, figures):
    models = tmp_path / "models"
    models.mkdir()
    write_zip(models / "lin.zip", lin_entries(2))
    write_zip(models / "other.zip", lin_entries(5))
    token = "s3cret-token-value"
    server = start_server("--model", f"lin={models / 'lin.zip'}", "--admin", "--admin-path", models,
                          "--reload-interval", "0", env={"LEAPSERVE_ADMIN_TOKEN": token})
    admin = admin_grpc.ModelServiceStub(server.open_channel())
    stub = pb_grpc.PredictionServiceStub(server.open_channel())
    load = admin_pb.LoadModelRequest(model="new", path=str(models / "other.zip"))
    refusals = {
        "no token": None,
        "wrong token": [("authorization", "Bearer wrong")],
        "token without Bearer": [("authorization", token)],
        "token as a prefix": [("authorization", f"Bearer {token}x")],
        "empty header": [("x-leapserve-admin-token", "")],
    }
    for what, metadata in refusals.items():
        for call, request in ((admin.LoadModel, load), (admin.UnloadModel, admin_pb.UnloadModelRequest(model="lin"))):
            with pytest.raises(grpc.RpcError) as info:
                call(request, metadata=metadata, timeout=10)
            assert info.value.code() == grpc.StatusCode.UNAUTHENTICATED, what
            assert token not in info.value.details()
    names = {m.name for m in stub.ListModels(pb.ListModelsRequest(), timeout=10).models}
    assert names == {"lin"}  # nothing loaded, nothing unloaded
    r = admin.LoadModel(load, metadata=[("authorization", f"Bearer {token}")], timeout=30)
    assert r.version.state == pb.READY
    r = admin.UnloadModel(admin_pb.UnloadModelRequest(model="new"),
                          metadata=[("x-leapserve-admin-token", token)], timeout=10)
    assert list(r.versions) == ["1"]
    assert token not in server.log()
    figures(refusals_tried=2 * len(refusals), accepted=2, failures=0)


def test_admin_without_token_warns(start_server, lin_zip):
    server = start_server("--model", f"lin={lin_zip}", "--admin", "--reload-interval", "0")
    assert "without --admin-token" in server.log()


# --- paths --------------------------------------------------------------------------------------------

@pytest.fixture
def path_server(start_server, tmp_path):
    """A server whose model directory is models/ (admin path: extra/), with valid bundles planted
    outside both (outside/, /tmp, and behind symbolic links inside models/)."""
    models, extra, outside = tmp_path / "models", tmp_path / "extra", tmp_path / "outside"
    for d in (models, extra, outside):
        d.mkdir()
    write_zip(models / "lin.zip", lin_entries(2))
    write_zip(outside / "canary.zip", lin_entries(99))
    with __import__("zipfile").ZipFile(outside / "canary.zip") as z:
        z.extractall(outside / "canary-dir")
    os.symlink(outside / "canary.zip", models / "link-to-canary.zip")
    os.symlink(outside / "canary-dir", models / "link-to-canary-dir")
    os.symlink(outside, extra / "link-to-outside")
    # a directory bundle inside models whose model file is a link to the outside
    shutil.copytree(outside / "canary-dir", models / "inside-dir")
    (models / "inside-dir/root/lr.node/model.json").unlink()
    os.symlink(outside / "canary-dir/root/lr.node/model.json", models / "inside-dir/root/lr.node/model.json")
    server = start_server("--model-dir", models, "--admin", "--admin-path", extra, "--reload-interval", "0",
                          "--admin-token", "t", wait="listening")  # inside-dir fails: never all SERVING
    stub = pb_grpc.PredictionServiceStub(server.open_channel())
    wait_until(lambda: all(v.state != pb.LOADING for m in stub.ListModels(pb.ListModelsRequest(), timeout=10).models
                           for v in m.versions) and server.health("model:lin") == "SERVING", 30, "the models")
    # the scan of models/ follows the operator's own links: those are not requests. Unload them so
    # that only what a request loads can serve 99s.
    admin = admin_grpc.ModelServiceStub(server.open_channel())
    md = [("authorization", "Bearer t")]
    for name in ("link-to-canary", "link-to-canary-dir"):
        try:
            admin.UnloadModel(admin_pb.UnloadModelRequest(model=name), metadata=md, timeout=10)
        except grpc.RpcError:
            pass
    return server, tmp_path, admin, md


ALLOWED_REFUSALS = {grpc.StatusCode.PERMISSION_DENIED, grpc.StatusCode.NOT_FOUND, grpc.StatusCode.INVALID_ARGUMENT}


def _served_canary(server) -> bool:
    """Whether any model answers as the canary (k = 99) does."""
    stub = pb_grpc.PredictionServiceStub(server.open_channel())
    for m in stub.ListModels(pb.ListModelsRequest(), timeout=10).models:
        try:
            p = stub.Predict(_req(m.name, 0.0, 0.0), timeout=10).outputs["prediction"].double_value
        except grpc.RpcError:
            continue
        if p == 99.0:
            return True
    return False


def test_no_request_path_reads_outside_the_model_directory(path_server, figures):
    server, root, admin, md = path_server
    outside = root / "outside"
    tricks = [
        str(outside / "canary.zip"),
        "../outside/canary.zip",
        str(root / "models" / ".." / "outside" / "canary.zip"),
        "link-to-canary.zip",
        "link-to-canary-dir",
        str(root / "extra" / "link-to-outside" / "canary.zip"),
        str(root / "extra" / "link-to-outside" / "canary-dir"),
        f"file:{outside / 'canary.zip'}",
        f"jar:file:{outside / 'canary.zip'}",
        f"jar:file:{root / 'models' / 'lin.zip'}!/../../outside/canary-dir",
        "~/" + os.path.relpath(outside / "canary.zip", os.path.expanduser("~")),
        "..%2foutside%2fcanary.zip",
        "%2e%2e/outside/canary.zip",
        "/proc/self/environ",
        "/proc/self/cwd/" + os.path.relpath(outside / "canary.zip", "/proc/self/cwd"),
        "/dev/zero",
        "/etc/passwd",
        "//etc/passwd",
        "models/../../outside/canary.zip",
        "lin.zip/../../outside/canary.zip",
        ".",
        "",
        "inside-dir",  # inside, but its model file links outside: refused when read
        str(root / "models") + "\x00/../outside/canary.zip",
        "a" * 5000,
        "\u202e" + "piz.yranac",
    ]
    codes = {}
    for path in tricks:
        code = _code(admin.LoadModel, admin_pb.LoadModelRequest(model="probe", path=path), metadata=md, timeout=30)
        codes[path[:80]] = code.name
        assert code in ALLOWED_REFUSALS, (path, code)
    assert not _served_canary(server)
    assert "probe" not in {m.name for m in pb_grpc.PredictionServiceStub(server.open_channel()).ListModels(
        pb.ListModelsRequest(), timeout=10).models}
    # the control: a bundle inside the model directory does load
    r = admin.LoadModel(admin_pb.LoadModelRequest(model="probe", path="lin.zip"), metadata=md, timeout=30)
    assert r.version.state == pb.READY
    figures(paths_tried=len(tricks), codes=codes, canaries_loaded=0)


SEGMENTS = ["..", ".", "", "outside", "models", "extra", "canary.zip", "canary-dir", "lin.zip", "link-to-canary.zip",
            "link-to-canary-dir", "link-to-outside", "inside-dir", "~", "%2e%2e", "root", "bundle.json", "\x00",
            "file:", "jar:file:", "!", "proc", "self", "fd", "0", "etc", "passwd", "\\..\\"]


def test_fuzzed_paths_never_read_outside(path_server, figures):
    server, root, admin, md = path_server
    tried = {"OK inside": 0}

    @settings(max_examples=300, deadline=None, derandomize=True, database=None,
              suppress_health_check=list(HealthCheck))
    @given(st.booleans(), st.sampled_from(["", str(root) + "/", str(root / "models") + "/", str(root / "extra") + "/",
                                          "/"]),
           st.lists(st.sampled_from(SEGMENTS) | st.text(max_size=4), min_size=1, max_size=7))
    def run(sep_backslash, prefix, parts):
        path = prefix + ("\\" if sep_backslash else "/").join(parts)
        code = _code(admin.LoadModel, admin_pb.LoadModelRequest(model="fuzz", path=path), metadata=md, timeout=30)
        if code == grpc.StatusCode.OK:
            # a bundle inside the allowed folders: fine (and never the canary)
            tried["OK inside"] += 1
            stub = pb_grpc.PredictionServiceStub(server.open_channel())
            assert stub.Predict(_req("fuzz", 0.0, 0.0), timeout=10).outputs["prediction"].double_value != 99.0
            admin.UnloadModel(admin_pb.UnloadModelRequest(model="fuzz"), metadata=md, timeout=10)
        else:
            assert code in ALLOWED_REFUSALS, (path, code)
            tried[code.name] = tried.get(code.name, 0) + 1

    run()
    assert not _served_canary(server)
    figures(paths_tried=300, outcomes=tried, canaries_loaded=0)
