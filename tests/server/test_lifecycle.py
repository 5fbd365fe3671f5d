"""Model directory, versions, health transitions, failed loads and hot reload under traffic."""

from __future__ import annotations

import threading
import time

import grpc
import pytest

from leapserve.v1 import prediction_pb2 as pb
from leapserve.v1 import prediction_pb2_grpc as pb_grpc
from tests.support.bundles import copy_bundle, v1_expected, v2_expected

RELOAD = "0.2"


def predict(stub, model, a=1.0, b=2.0, version="", timeout=10):
    req = pb.PredictRequest(model=model, version=version)
    req.inputs["a"].double_value = a
    req.inputs["b"].double_value = b
    return stub.Predict(req, timeout=timeout)


def wait_until(cond, timeout=20.0, what="condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if cond():
            return
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


def metadata(stub, model, version=""):
    return stub.GetModelMetadata(pb.GetModelMetadataRequest(model=model, version=version), timeout=10)


def test_health_failed_load_reload_and_recovery(start_server, bundles, tmp_path):
    models = tmp_path / "models"
    models.mkdir()
    copy_bundle(bundles["lr_v1"], models / "good.zip")
    (models / "broken.zip").write_bytes(b"this is not a zip file")
    server = start_server("--model-dir", models, "--reload-interval", RELOAD, wait="listening")
    stub = pb_grpc.PredictionServiceStub(server.open_channel())

    # A configured model that cannot load keeps the server NOT_SERVING, but it keeps answering.
    wait_until(lambda: server.health("model:good") == "SERVING", what="good loaded")
    assert server.health() == "NOT_SERVING"
    assert server.health("leapserve.v1.PredictionService") == "NOT_SERVING"
    assert server.health("inference.GRPCInferenceService") == "NOT_SERVING"
    assert server.health("model:broken") == "NOT_SERVING"
    assert server.health("no.such.Service") == "NOT_FOUND"
    assert predict(stub, "good").outputs["prediction"].double_value == pytest.approx(v1_expected(1, 2))
    with pytest.raises(grpc.RpcError) as info:
        predict(stub, "broken")
    assert info.value.code() == grpc.StatusCode.UNAVAILABLE and "not ready" in info.value.details()
    m = metadata(stub, "broken")
    assert m.versions[0].state == pb.FAILED and "broken.zip" in m.versions[0].error and not m.inputs
    assert "broken.zip" in server.log() and "not serving" in server.log()

    # Fixing the file brings it in and the server becomes SERVING.
    copy_bundle(bundles["lr_v2"], models / "broken.zip")
    server.wait_health("SERVING", timeout=20)
    server.wait_health("SERVING", "model:broken", timeout=20)
    assert predict(stub, "broken").outputs["prediction"].double_value == pytest.approx(v2_expected(1, 2))

    # A reload that fails leaves the old copy serving; the failure shows in metadata and health.
    (models / "good.zip").write_bytes(b"garbage again")
    wait_until(lambda: server.health("model:good") == "NOT_SERVING", what="failed reload visible")
    assert server.health() == "SERVING"
    assert predict(stub, "good").outputs["prediction"].double_value == pytest.approx(v1_expected(1, 2))
    v = metadata(stub, "good").versions[0]
    assert v.state == pb.READY and v.error and v.generation == 1
    assert "still serving" in server.log()

    # A good bundle again: swapped in, generation 2.
    copy_bundle(bundles["lr_v2"], models / "good.zip")
    wait_until(lambda: server.health("model:good") == "SERVING", what="reloaded")
    assert predict(stub, "good").outputs["prediction"].double_value == pytest.approx(v2_expected(1, 2))
    v = metadata(stub, "good").versions[0]
    assert v.generation == 2 and not v.error

    # Added and removed files.
    copy_bundle(bundles["lr_v1_dir"], models / "added")
    wait_until(lambda: server.health("model:added") == "SERVING", what="added model")
    assert predict(stub, "added").outputs["prediction"].double_value == pytest.approx(v1_expected(1, 2))
    (models / "broken.zip").unlink()
    wait_until(lambda: "broken" not in {m.name for m in stub.ListModels(pb.ListModelsRequest()).models},
               what="removed model")
    with pytest.raises(grpc.RpcError) as info:
        predict(stub, "broken")
    assert info.value.code() == grpc.StatusCode.NOT_FOUND
    assert server.health() == "SERVING"
    assert server.stop() == 0


def test_versions_in_model_dir(start_server, bundles, tmp_path):
    models = tmp_path / "models"
    (models / "ver" / "1").mkdir(parents=True)
    copy_bundle(bundles["lr_v1"], models / "ver" / "1" / "bundle.zip")
    copy_bundle(bundles["lr_v1_dir"], models / "ver" / "2")  # a directory bundle as a version
    copy_bundle(bundles["lr_v1"], models / "plain.zip")
    server = start_server("--model-dir", models, "--reload-interval", RELOAD,
                          "--model", f"extra:7={bundles['lr_v2']}")
    stub = pb_grpc.PredictionServiceStub(server.open_channel())
    listed = {m.name: m for m in stub.ListModels(pb.ListModelsRequest()).models}
    assert set(listed) == {"ver", "plain", "extra"}
    assert listed["ver"].default_version == "2" and listed["extra"].default_version == "7"
    assert predict(stub, "ver").version == "2"
    assert predict(stub, "ver", version="1").outputs["prediction"].double_value == pytest.approx(v1_expected(1, 2))
    assert predict(stub, "extra", version="7").outputs["prediction"].double_value == pytest.approx(v2_expected(1, 2))

    # A new, higher version (10 > 2: numeric order) becomes the default once loaded.
    copy_bundle(bundles["lr_v2"], models / "ver" / "10.zip")
    wait_until(lambda: predict(stub, "ver").version == "10", what="version 10 default")
    assert predict(stub, "ver").outputs["prediction"].double_value == pytest.approx(v2_expected(1, 2))
    assert predict(stub, "ver", version="2").version == "2"
    assert [v.version for v in metadata(stub, "ver").versions] == ["1", "2", "10"]


def test_hot_reload_under_traffic(start_server, bundles, tmp_path):
    """Swap the bundle repeatedly while clients keep sending: not one request may fail."""
    models = tmp_path / "models"
    models.mkdir()
    target = models / "hot.zip"
    copy_bundle(bundles["lr_v1"], target)
    server = start_server("--model-dir", models, "--reload-interval", "0.1")
    stop = threading.Event()
    errors: list[str] = []
    seen: set[str] = set()
    counts = [0]
    expected = {round(v1_expected(1, 2), 6): "v1", round(v2_expected(1, 2), 6): "v2"}

    def client():
        with grpc.insecure_channel(server.address) as ch:
            stub = pb_grpc.PredictionServiceStub(ch)
            while not stop.is_set():
                try:
                    r = predict(stub, "hot", timeout=10)
                    value = round(r.outputs["prediction"].double_value, 6)
                    if value not in expected:
                        errors.append(f"unexpected prediction {value}")
                    else:
                        seen.add(expected[value])
                    counts[0] += 1
                except grpc.RpcError as e:
                    errors.append(f"{e.code().name}: {e.details()}")

    threads = [threading.Thread(target=client) for _ in range(3)]
    for t in threads:
        t.start()
    try:
        for i in range(6):
            copy_bundle(bundles["lr_v2"] if i % 2 == 0 else bundles["lr_v1"], target)
            want = "v2" if i % 2 == 0 else "v1"
            seen.clear()
            wait_until(lambda: want in seen, timeout=20, what=f"swap {i} to {want}")
    finally:
        stop.set()
        for t in threads:
            t.join(30)
    assert errors == []
    assert counts[0] > 50
    assert metadata(pb_grpc.PredictionServiceStub(server.open_channel()), "hot").versions[0].generation == 7
