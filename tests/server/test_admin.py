"""leapserve.v1.ModelService (LoadModel / UnloadModel): off by default, path-restricted when on."""

from __future__ import annotations

import grpc
import pytest

from leapserve.v1 import model_service_pb2 as admin_pb
from leapserve.v1 import model_service_pb2_grpc as admin_grpc
from leapserve.v1 import prediction_pb2 as pb
from leapserve.v1 import prediction_pb2_grpc as pb_grpc
from tests.support.bundles import copy_bundle, v1_expected, v2_expected


def predict(stub, model, version=""):
    req = pb.PredictRequest(model=model, version=version)
    req.inputs["a"].double_value = 1.0
    req.inputs["b"].double_value = 2.0
    return stub.Predict(req, timeout=10)


def test_admin_is_off_by_default(lr_server):
    stub = admin_grpc.ModelServiceStub(lr_server.open_channel())
    with pytest.raises(grpc.RpcError) as info:
        stub.LoadModel(admin_pb.LoadModelRequest(model="x", path="/tmp/x.zip"), timeout=10)
    assert info.value.code() == grpc.StatusCode.UNIMPLEMENTED


def test_load_and_unload(start_server, bundles, tmp_path):
    models, extra, outside = tmp_path / "models", tmp_path / "extra", tmp_path / "outside"
    for d in (models, extra, outside):
        d.mkdir()
    copy_bundle(bundles["lr_v1"], models / "base.zip")
    copy_bundle(bundles["lr_v2"], extra / "v2.zip")
    copy_bundle(bundles["lr_v1"], models / "spare.zip.tmp")  # ignored by the scan (temporary name)
    copy_bundle(bundles["lr_v2"], outside / "v2.zip")
    (extra / "bad.zip").write_bytes(b"not a bundle")
    server = start_server("--model-dir", models, "--admin", "--admin-path", extra, "--reload-interval", "0")
    admin = admin_grpc.ModelServiceStub(server.open_channel())
    stub = pb_grpc.PredictionServiceStub(server.open_channel())

    r = admin.LoadModel(admin_pb.LoadModelRequest(model="new", path=str(extra / "v2.zip")), timeout=30)
    assert r.model == "new" and r.version.version == "1" and r.version.state == pb.READY
    assert predict(stub, "new").outputs["prediction"].double_value == pytest.approx(v2_expected(1, 2))
    # relative paths are inside the model directory
    r = admin.LoadModel(admin_pb.LoadModelRequest(model="new", version="5", path="spare.zip.tmp"), timeout=30)
    assert r.version.version == "5" and r.version.is_default
    assert predict(stub, "new").outputs["prediction"].double_value == pytest.approx(v1_expected(1, 2))

    def load_error(**kw):
        with pytest.raises(grpc.RpcError) as info:
            admin.LoadModel(admin_pb.LoadModelRequest(**kw), timeout=30)
        return info.value

    err = load_error(model="evil", path=str(outside / "v2.zip"))
    assert err.code() == grpc.StatusCode.PERMISSION_DENIED
    err = load_error(model="evil", path=str(extra / ".." / "outside" / "v2.zip"))
    assert err.code() == grpc.StatusCode.PERMISSION_DENIED
    assert load_error(model="evil", path=str(extra / "missing.zip")).code() == grpc.StatusCode.NOT_FOUND
    # a bad bundle fails the call and leaves the served copy alone
    err = load_error(model="base", path=str(extra / "bad.zip"))
    assert err.code() == grpc.StatusCode.INVALID_ARGUMENT and "bad.zip" in err.details()
    assert predict(stub, "base").outputs["prediction"].double_value == pytest.approx(v1_expected(1, 2))
    # a bad bundle for a new model leaves nothing behind
    load_error(model="ghost", path=str(extra / "bad.zip"))
    assert "ghost" not in {m.name for m in stub.ListModels(pb.ListModelsRequest()).models}
    assert server.health() == "SERVING"

    r = admin.UnloadModel(admin_pb.UnloadModelRequest(model="new", version="5"), timeout=10)
    assert list(r.versions) == ["5"]
    assert predict(stub, "new").version == "1"
    r = admin.UnloadModel(admin_pb.UnloadModelRequest(model="new"), timeout=10)
    assert list(r.versions) == ["1"]
    with pytest.raises(grpc.RpcError) as info:
        predict(stub, "new")
    assert info.value.code() == grpc.StatusCode.NOT_FOUND
    with pytest.raises(grpc.RpcError) as info:
        admin.UnloadModel(admin_pb.UnloadModelRequest(model="new"), timeout=10)
    assert info.value.code() == grpc.StatusCode.NOT_FOUND
    assert server.health("leapserve.v1.ModelService") == "SERVING"


def test_load_model_never_expands_a_tilde(start_server, tmp_path):
    """`~`, `~user` and `~nosuchuser` paths are refused as arguments (INTERNAL before: Path.expanduser
    raised for an unknown user); the server never looks into a home directory for a client."""
    models = tmp_path / "models"
    models.mkdir()
    server = start_server("--model-dir", models, "--admin", "--reload-interval", "0", wait="listening")
    admin = admin_grpc.ModelServiceStub(server.open_channel())
    for path in ("~nosuchuser-leapserve/m.zip", "~root/m.zip", "~/m.zip", "~"):
        with pytest.raises(grpc.RpcError) as info:
            admin.LoadModel(admin_pb.LoadModelRequest(model="m", path=path), timeout=30)
        err = info.value
        assert err.code() == grpc.StatusCode.INVALID_ARGUMENT, (path, err.code(), err.details())
        assert "path" in err.details() and repr(path) in err.details() and "~" in err.details()
    assert "Traceback" not in server.log()


def test_load_model_errors_show_no_server_paths(start_server, tmp_path):
    """Refusals name the path as the client gave it, never where the server resolved it (a link's
    target, the model directory's absolute path); a bundle's own error loses the roots' prefix."""
    models, outside = tmp_path / "models", tmp_path / "secret-place"
    models.mkdir()
    outside.mkdir()
    (outside / "hidden-name.zip").write_bytes(b"not a bundle")
    (models / "link.zip").symlink_to(outside / "hidden-name.zip")
    (models / "bad.zip").write_bytes(b"not a bundle")
    (models / "empty-dir").mkdir()
    (models / "loop").mkdir()
    (models / "loop" / "a").symlink_to(models / "loop" / "b")
    (models / "loop" / "b").symlink_to(models / "loop" / "a")
    server = start_server("--model-dir", models, "--admin", "--reload-interval", "0", wait="listening")
    admin = admin_grpc.ModelServiceStub(server.open_channel())
    for path, code in (("link.zip", grpc.StatusCode.PERMISSION_DENIED),
                       ("missing.zip", grpc.StatusCode.NOT_FOUND),
                       ("empty-dir", grpc.StatusCode.INVALID_ARGUMENT),
                       ("bad.zip", grpc.StatusCode.INVALID_ARGUMENT),
                       # Python's own errors for these were INTERNAL (found in review)
                       ("loop/a", grpc.StatusCode.INVALID_ARGUMENT),
                       ("x" * 300, grpc.StatusCode.INVALID_ARGUMENT),
                       (str(outside / "hidden-name.zip"), grpc.StatusCode.PERMISSION_DENIED)):
        with pytest.raises(grpc.RpcError) as info:
            admin.LoadModel(admin_pb.LoadModelRequest(model="m", path=path), timeout=30)
        err = info.value
        assert err.code() == code, (path, err.code(), err.details())
        assert repr(path) in err.details(), (path, err.details())
        shown = err.details().replace(repr(path), "")
        assert str(tmp_path) not in shown and "hidden-name" not in shown, (path, err.details())


def _shown_paths(stub) -> list[str]:
    """Every path and error ListModels, GetModelMetadata and a refused Predict show a client."""
    shown = []
    for m in stub.ListModels(pb.ListModelsRequest(), timeout=10).models:
        shown += list(m.notes) + [t for v in m.versions for t in (v.path, v.error)]
        if any(v.state == pb.READY for v in m.versions):
            shown.append(stub.GetModelMetadata(pb.GetModelMetadataRequest(model=m.name), timeout=10).bundle.path)
    with pytest.raises(grpc.RpcError) as info:
        predict(stub, "broken")
    return shown + [info.value.details()]


def test_clients_see_paths_relative_to_the_roots(start_server, bundles, tmp_path):
    """Metadata, ListModels and errors show bundle paths relative to the model directory, a
    --model bundle elsewhere by its file name (issue 13, item 13); --show-paths shows them whole."""
    models, elsewhere = tmp_path / "models", tmp_path / "private-place"
    for folder in (models / "good", models / "broken", elsewhere):
        folder.mkdir(parents=True)
    copy_bundle(bundles["lr_v1"], models / "good" / "1.zip")
    (models / "broken" / "1.zip").write_bytes(b"not a bundle")
    copy_bundle(bundles["lr_v2"], elsewhere / "solo.zip")
    args = ("--model-dir", models, "--model", f"solo={elsewhere / 'solo.zip'}", "--reload-interval", "0")

    server = start_server(*args, wait="listening")
    stub = pb_grpc.PredictionServiceStub(server.open_channel())
    server.wait_health("SERVING", "model:good")
    shown = _shown_paths(stub)
    assert not [t for t in shown if str(tmp_path) in t or "private-place" in t], shown
    versions = {m.name: m.versions[0] for m in stub.ListModels(pb.ListModelsRequest(), timeout=10).models}
    assert (versions["good"].path, versions["broken"].path, versions["solo"].path) == (
        "good/1.zip", "broken/1.zip", "solo.zip")
    assert "broken/1.zip" in versions["broken"].error and "broken/1.zip" in shown[-1], shown
    assert str(tmp_path) in server.log()  # the operator's log keeps the whole paths
    server.stop()

    server = start_server(*args, "--show-paths", wait="listening")
    stub = pb_grpc.PredictionServiceStub(server.open_channel())
    server.wait_health("SERVING", "model:good")
    versions = {m.name: m.versions[0] for m in stub.ListModels(pb.ListModelsRequest(), timeout=10).models}
    assert versions["good"].path == str((models / "good" / "1.zip").resolve())
    assert versions["solo"].path == str(elsewhere / "solo.zip")
    assert str(models.resolve()) in _shown_paths(stub)[-1]
