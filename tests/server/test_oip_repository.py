"""The OIP repository extension (RepositoryIndex, RepositoryModelLoad, RepositoryModelUnload) driven
by tritonclient.grpc unmodified; the calls tritonclient cannot make (a ``path`` parameter, a wrong
repository name) go through tritonclient's own generated stubs, never leapserve.oip (its
``inference`` package clashes with tritonclient's copy in one process).
"""

from __future__ import annotations

import time

import grpc
import numpy as np
import pytest

tritonclient_grpc = pytest.importorskip("tritonclient.grpc")
from tritonclient.grpc import service_pb2, service_pb2_grpc  # noqa: E402
from tritonclient.utils import InferenceServerException  # noqa: E402

from tests.support.bundles import copy_bundle, v1_expected, v2_expected  # noqa: E402

TOKEN = "s3cret-token"
AUTH = {"authorization": f"Bearer {TOKEN}"}


def infer_prediction(client, model, version=""):
    inputs = []
    for name, value in (("a", 1.0), ("b", 2.0)):
        t = tritonclient_grpc.InferInput(name, [1], "FP64")
        t.set_data_from_numpy(np.array([value]))
        inputs.append(t)
    return float(client.infer(model, inputs, model_version=version).as_numpy("prediction")[0])


def served(client, model, version="") -> bool:
    """ModelReady: an unknown (unloaded) model is NOT_FOUND, which tritonclient raises."""
    try:
        return client.is_model_ready(model, version)
    except InferenceServerException as e:
        assert e.status() == "StatusCode.NOT_FOUND" and repr(model) in e.message()
        return False


def index(client, **kw):
    return [(m.name, m.version, m.state, m.reason) for m in client.get_model_repository_index(**kw).models]


def refusal(call, *args, **kw) -> InferenceServerException:
    with pytest.raises(InferenceServerException) as info:
        call(*args, **kw)
    return info.value


def rpc_refusal(call, request, metadata=(("authorization", f"Bearer {TOKEN}"),)) -> grpc.RpcError:
    with pytest.raises(grpc.RpcError) as info:
        call(request, metadata=metadata, timeout=30)
    return info.value


@pytest.fixture(scope="module")
def layout(bundles, tmp_path_factory):
    """models/: lr.zip (one bundle), multi/1.zip + multi/2/ (a folder of versions), broken/1.zip (not
    a bundle); extra/ (an admin path): other.zip, versions/1.zip + 3.zip, bad.zip (not a bundle);
    outside/v2.zip."""
    root = tmp_path_factory.mktemp("repository")
    models, extra, outside = root / "models", root / "extra", root / "outside"
    for d in (models, models / "multi", models / "broken", extra, extra / "versions", outside):
        d.mkdir()
    copy_bundle(bundles["lr_v1"], models / "lr.zip")
    copy_bundle(bundles["lr_v1"], models / "multi" / "1.zip")
    copy_bundle(bundles["lr_v1_dir"], models / "multi" / "2")
    (models / "broken" / "1.zip").write_bytes(b"not a bundle")
    copy_bundle(bundles["lr_v2"], extra / "other.zip")
    copy_bundle(bundles["lr_v1"], extra / "versions" / "1.zip")
    copy_bundle(bundles["lr_v2"], extra / "versions" / "3.zip")
    copy_bundle(bundles["lr_v2"], outside / "v2.zip")
    (extra / "bad.zip").write_bytes(b"not a bundle either")
    return {"models": models, "extra": extra, "outside": outside}


@pytest.fixture(scope="module")
def admin_server(start_module_server, layout):
    # broken/ fails to load: the server is still ready (it was found by the scan, not named)
    return start_module_server("--model-dir", layout["models"], "--admin", "--admin-path", layout["extra"],
                               "--admin-token", TOKEN, "--reload-interval", "0", wait="listening")


@pytest.fixture(scope="module")
def client(admin_server):
    c = tritonclient_grpc.InferenceServerClient(url=admin_server.address)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:  # until every bundle of the model directory was tried once
        states = [(state, reason) for _, _, state, reason in index(c)]
        if len(states) == 4 and all(s == "READY" or (s == "UNAVAILABLE" and r != "not loaded") for s, r in states):
            break
        time.sleep(0.1)
    yield c
    c.close()


@pytest.fixture(scope="module")
def stub(admin_server, client):  # client: once the model directory is loaded
    return service_pb2_grpc.GRPCInferenceServiceStub(admin_server.open_channel())


def test_index_lists_versions_states_and_reasons(client, layout):
    entries = index(client)
    assert [e[:3] for e in entries] == [("broken", "1", "UNAVAILABLE"), ("lr", "1", "READY"),
                                        ("multi", "1", "READY"), ("multi", "2", "READY")]
    reason = entries[0][3]
    assert "broken/1.zip" in reason and "zip" in reason.lower()
    assert str(layout["models"]) not in reason  # paths as clients see them, relative to the model directory
    assert all(e[3] == "" for e in entries[1:])
    assert [e[:2] for e in index(client)] == [e[:2] for e in entries]
    as_json = client.get_model_repository_index(as_json=True)
    assert {m["name"] for m in as_json["models"]} == {"broken", "lr", "multi"}
    assert "model_repository" in client.get_server_metadata().extensions


def test_index_needs_no_token_and_reads_ready(stub):
    # read-only, like ListModels: no token needed
    r = stub.RepositoryIndex(service_pb2.RepositoryIndexRequest(ready=True), timeout=10)
    assert {(m.name, m.state) for m in r.models} == {("lr", "READY"), ("multi", "READY")}
    err = rpc_refusal(stub.RepositoryIndex, service_pb2.RepositoryIndexRequest(repository_name="other"), ())
    assert err.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "repository_name" in err.details() and "'other'" in err.details() and "one repository" in err.details()
    trailing = dict(err.trailing_metadata())
    assert trailing["leapserve-field"] == "repository_name" and trailing["leapserve-actual"] == "'other'"


def test_unload_then_load_from_the_model_directory(client):
    assert infer_prediction(client, "multi") == pytest.approx(v1_expected(1, 2))
    client.unload_model("multi", headers=AUTH)
    assert not served(client, "multi")
    err = refusal(client.infer, "multi", [])
    assert "multi" in err.message()
    assert [e for e in index(client) if e[0] == "multi"] == [("multi", "1", "UNAVAILABLE", "not loaded"),
                                                             ("multi", "2", "UNAVAILABLE", "not loaded")]
    client.load_model("multi", headers=AUTH)
    assert served(client, "multi", "1") and served(client, "multi", "2")
    assert infer_prediction(client, "multi", "2") == pytest.approx(v1_expected(1, 2))
    # a lone bundle: NAME.zip; the token may come as x-leapserve-admin-token too
    client.unload_model("lr", headers={"x-leapserve-admin-token": TOKEN})
    assert not served(client, "lr")
    client.load_model("lr", headers=AUTH)
    assert infer_prediction(client, "lr", "1") == pytest.approx(v1_expected(1, 2))


def test_load_from_an_allowed_path(client, stub, layout):
    request = service_pb2.RepositoryModelLoadRequest(model_name="other")
    request.parameters["path"].string_param = str(layout["extra"] / "other.zip")
    stub.RepositoryModelLoad(request, metadata=(("authorization", f"Bearer {TOKEN}"),), timeout=60)
    assert infer_prediction(client, "other") == pytest.approx(v2_expected(1, 2))
    assert ("other", "1", "READY", "") in index(client)
    # a folder of versions in an admin path: every version loads
    request = service_pb2.RepositoryModelLoadRequest(model_name="versioned")
    request.parameters["path"].string_param = str(layout["extra"] / "versions")
    stub.RepositoryModelLoad(request, metadata=(("authorization", f"Bearer {TOKEN}"),), timeout=60)
    assert infer_prediction(client, "versioned", "1") == pytest.approx(v1_expected(1, 2))
    assert infer_prediction(client, "versioned") == pytest.approx(v2_expected(1, 2))  # 3, the highest
    client.unload_model("versioned", headers=AUTH)
    assert not served(client, "versioned")
    assert "versioned" not in {e[0] for e in index(client)}  # not in the model directory: gone from the index


def test_load_and_unload_need_the_token(client, stub):
    for headers in (None, {"authorization": "Bearer wrong"}, {"x-leapserve-admin-token": "wrong"}):
        err = refusal(client.load_model, "lr", headers=headers)
        assert err.status() == "StatusCode.UNAUTHENTICATED" and "token" in err.message()
        err = refusal(client.unload_model, "lr", headers=headers)
        assert err.status() == "StatusCode.UNAUTHENTICATED"
    assert served(client, "lr")  # nothing was unloaded


def test_load_refusals(client, stub, layout):
    def load(name, **params):
        request = service_pb2.RepositoryModelLoadRequest(model_name=name)
        for key, (kind, value) in params.items():
            setattr(request.parameters[key], kind, value)
        return rpc_refusal(stub.RepositoryModelLoad, request)

    err = load("evil", path=("string_param", str(layout["outside"] / "v2.zip")))
    assert err.code() == grpc.StatusCode.PERMISSION_DENIED and "outside" in err.details()
    err = load("evil", path=("string_param", str(layout["outside"])))  # a folder outside: not even listed
    assert err.code() == grpc.StatusCode.PERMISSION_DENIED
    err = load("evil", path=("string_param", str(layout["extra"] / ".." / "outside" / "v2.zip")))
    assert err.code() == grpc.StatusCode.PERMISSION_DENIED
    err = load("evil", path=("bool_param", True))
    assert err.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert err.details() == "parameters['path']: expected a string_param; got a bool_param"
    err = load("evil", path=("string_param", ""))
    assert err.code() == grpc.StatusCode.INVALID_ARGUMENT and "parameters['path']" in err.details()
    err = load("evil", version=("string_param", "2"))
    assert err.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "parameters['version']" in err.details() and "'path'" in err.details()
    err = load("../lr")
    assert err.code() == grpc.StatusCode.INVALID_ARGUMENT and "model_name" in err.details() and "'../lr'" in err.details()
    err = load("")
    assert err.code() == grpc.StatusCode.INVALID_ARGUMENT and "model_name" in err.details()
    err = load("nope")
    assert err.code() == grpc.StatusCode.NOT_FOUND and "'nope'" in err.details() and "nope.zip" in err.details()
    err = load("broken")  # not a bundle: the version fails, nothing is served
    assert err.code() == grpc.StatusCode.INVALID_ARGUMENT and "broken" in err.details()
    assert not served(client, "broken")

    # what tritonclient sends for config= and files=: refused, named
    err = refusal(client.load_model, "lr", headers=AUTH, config='{"backend": "onnxruntime"}')
    assert err.status() == "StatusCode.INVALID_ARGUMENT" and "parameters['config']" in err.message()
    assert "26 characters" in err.message()
    err = refusal(client.load_model, "lr", headers=AUTH, config="{}", files={"file:1/model.onnx": b"x" * 10})
    assert err.status() == "StatusCode.INVALID_ARGUMENT"
    err = load("lr", **{"file:1/model.onnx": ("bytes_param", b"x" * 10)})
    assert "parameters['file:1/model.onnx']" in err.details() and "10 bytes" in err.details()
    err = rpc_refusal(stub.RepositoryModelLoad,
                      service_pb2.RepositoryModelLoadRequest(model_name="lr", repository_name="models"))
    assert err.code() == grpc.StatusCode.INVALID_ARGUMENT and "repository_name" in err.details()
    assert served(client, "lr")
    # a bad bundle over a served version: the old copy serves on, READY with the failure as its reason
    err = load("lr", path=("string_param", "../extra/bad.zip"))
    assert err.code() == grpc.StatusCode.INVALID_ARGUMENT and "'../extra/bad.zip'" in err.details()
    assert infer_prediction(client, "lr") == pytest.approx(v1_expected(1, 2))
    (lr,) = [e for e in index(client) if e[0] == "lr"]
    assert lr[:3] == ("lr", "1", "READY") and lr[3].startswith("reload failed, the previous copy serves: ")
    assert "bad.zip" in lr[3] and str(layout["extra"]) not in lr[3]


def test_unload_refusals(client, stub):
    err = refusal(client.unload_model, "nope", headers=AUTH)
    assert err.status() == "StatusCode.NOT_FOUND" and "'nope'" in err.message()
    request = service_pb2.RepositoryModelUnloadRequest(model_name="lr")
    request.parameters["unload_dependents"].string_param = "yes"
    err = rpc_refusal(stub.RepositoryModelUnload, request)
    assert err.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert err.details() == "parameters['unload_dependents']: expected a bool_param; got a string_param"
    request = service_pb2.RepositoryModelUnloadRequest(model_name="lr")
    request.parameters["force"].bool_param = True
    err = rpc_refusal(stub.RepositoryModelUnload, request)
    assert err.code() == grpc.StatusCode.INVALID_ARGUMENT and "parameters['force']" in err.details()
    assert served(client, "lr")


def test_load_and_unload_are_off_without_admin(lr_server):
    client = tritonclient_grpc.InferenceServerClient(url=lr_server.address)
    try:
        for call in (client.load_model, client.unload_model):
            err = refusal(call, "lr")
            assert err.status() == "StatusCode.UNIMPLEMENTED" and "--admin" in err.message()
        assert served(client, "lr")
        # the index is read-only: served without --admin
        assert ("lr", "2", "READY", "") in index(client)
    finally:
        client.close()
