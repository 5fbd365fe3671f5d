"""Model repository semantics under a real server (`leapserve serve`, loopback): the order of
versions and the pinned default, layout mistakes made visible, reloads that would change a model's
inputs, and a log line for every health change (docs/serving.md, "Versions" and "Upgrade and roll
back a model").

Bundles are hand-made (tests/support/bundles.py) and loaded by the real runtime: version k of the
linear model answers k * (1 + a + 2b), so an answer says which copy gave it.
"""

from __future__ import annotations

import json

import grpc
import pytest

from leapserve.v1 import model_service_pb2 as admin_pb
from leapserve.v1 import model_service_pb2_grpc as admin_grpc
from leapserve.v1 import prediction_pb2 as pb
from leapserve.v1 import prediction_pb2_grpc as pb_grpc
from tests.support.bundles import json_lr_entries, write_zip
from tests.support.servers import run_cli
from tests.support.traffic import lin_entries, wait_until

INTERVAL = "0.1"


def lin(path, k: int):
    path.parent.mkdir(parents=True, exist_ok=True)
    return write_zip(path, lin_entries(k))


def other_inputs(path):
    """A model reading a and c (not b): another pipeline copied over the file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    return write_zip(path, json_lr_entries([1.0, 1.0], 0.0, inputs=("a", "c")))


def predict(stub, model, version=""):
    req = pb.PredictRequest(model=model, version=version)
    req.inputs["a"].double_value = 1.0
    req.inputs["b"].double_value = 2.0
    return stub.Predict(req, timeout=10)


def answer(stub, model, version=""):
    """(version that answered, k of the copy that answered)."""
    r = predict(stub, model, version)
    return r.version, r.outputs["prediction"].double_value / 6.0


def oip_answer(address, model):
    """(model_version, prediction) of an OIP ModelInfer without a version, through tritonclient."""
    import numpy as np
    import tritonclient.grpc as triton

    client = triton.InferenceServerClient(url=address)
    try:
        inputs = []
        for name, value in (("a", 1.0), ("b", 2.0)):
            tensor = triton.InferInput(name, [1], "FP64")
            tensor.set_data_from_numpy(np.array([value], dtype=np.float64))
            inputs.append(tensor)
        result = client.infer(model, inputs)
        return result.get_response().model_version, float(result.as_numpy("prediction")[0])
    finally:
        client.close()


def listed(stub):
    reply = stub.ListModels(pb.ListModelsRequest(), timeout=10)
    return {m.name: m for m in reply.models}, list(reply.notes)


def test_version_order_layout_notes_and_answering_version(start_server, tmp_path):
    models = tmp_path / "models"
    for k in (1, 2, 10, 11):
        lin(models / "mass" / f"{k}.zip", k)
    lin(models / "mass" / "2024-06-01.zip", 3)
    lin(models / "mass" / "v3.zip", 3)
    lin(models / "new" / "bundle.zip", 4)  # meant as model "new", not as a version named "bundle"
    lin(models / "two" / "5" / "a.zip", 5)
    lin(models / "two" / "5" / "b.zip", 6)
    lin(models / "two" / "6.zip", 6)
    lin(models / "hidden" / "1.zip", 7)
    pinned_elsewhere = lin(tmp_path / "elsewhere" / "hidden.zip", 8)
    server = start_server("--model-dir", models, "--model", f"hidden={pinned_elsewhere}",
                          "--reload-interval", INTERVAL)
    stub = pb_grpc.PredictionServiceStub(server.open_channel())

    # Numbers order as numbers; names that are not numbers are not served from a folder, and say so.
    found, notes = listed(stub)
    assert set(found) == {"mass", "two", "hidden"}
    mass = found["mass"]
    assert [v.version for v in mass.versions] == ["1", "2", "10", "11"]
    assert mass.default_version == "11" and mass.pinned_default_version == ""
    assert [v.version for v in mass.versions if v.is_default] == ["11"]
    for name in ("2024-06-01.zip", "v3.zip"):
        assert any(f"mass/{name}" in n and "not served" in n and "not one" in n
                   for n in mass.notes), (name, list(mass.notes))
    # A version folder holding two bundles: the version is left out, the others serve.
    assert [v.version for v in found["two"].versions] == ["6"]
    assert any("two/5" in n and "2 bundles (a.zip, b.zip)" in n for n in found["two"].notes)
    # --model hides the directory's model of the same name: said, with the versions it hides.
    assert [v.version for v in found["hidden"].versions] == ["1"]
    assert answer(stub, "hidden") == ("1", 8.0)
    assert any("hidden:" in n and "--model hidden=hidden.zip" in n and "versions: 1" in n
               for n in found["hidden"].notes), list(found["hidden"].notes)
    # A model with nothing served: the note is in the reply's own notes.
    assert any("new/bundle.zip" in n and "not served" in n for n in notes), notes
    # Clients see paths relative to the model directory (--model's by file name); the log has them whole.
    assert not [n for m in found.values() for n in list(m.notes) + list(notes) if str(tmp_path) in n]
    log = server.log()
    for path in (models / "mass" / "2024-06-01.zip", models / "mass" / "v3.zip", models / "new" / "bundle.zip",
                 models / "two" / "5", models / "hidden"):
        assert any("WARNING" in line and str(path) in line for line in log.splitlines()), path
    assert log.count(str(models / "new" / "bundle.zip")) == 1  # logged once, not on every scan

    # Every kind of answer says which version answered.
    assert answer(stub, "mass") == ("11", 11.0)
    assert answer(stub, "mass", "2") == ("2", 2.0)
    batch = pb.PredictBatchRequest(model="mass")
    rec = batch.records.add()
    rec.fields["a"].double_value, rec.fields["b"].double_value = 1.0, 2.0
    assert stub.PredictBatch(batch, timeout=10).version == "11"
    streamed = list(stub.PredictStream(iter([pb.PredictRequest(model="mass", inputs=rec.fields)]), timeout=10))
    assert [r.version for r in streamed] == ["11"]
    refused = list(stub.PredictStream(iter([pb.PredictRequest(model="mass")]), timeout=10))  # no inputs
    assert refused[0].status.code == grpc.StatusCode.INVALID_ARGUMENT.value[0] and refused[0].version == "11"
    assert oip_answer(server.address, "mass") == ("11", 66.0)
    r = run_cli("predict", "--address", server.address, "--model", "mass", "--json", '{"a": 1, "b": 2}')
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["prediction"] == 66.0
    assert "model mass version 11 answered" in r.stderr
    r = run_cli("predict", "--address", server.address, "--model", "mass", "--version", "2", "--file", "-",
                input='{"a": 1, "b": 2}\n{"a": 0, "b": 0}\n')
    assert r.returncode == 0, r.stderr
    assert [json.loads(line)["prediction"] for line in r.stdout.splitlines()] == [12.0, 2.0]
    assert r.stderr.count("model mass version 2 answered") == 1

    # A default_version file pins the default; the pin shows and is logged.
    (models / "mass" / "default_version").write_text("2\n")
    wait_until(lambda: answer(stub, "mass") == ("2", 2.0), 10, "pinned version 2")
    found, _ = listed(stub)
    assert found["mass"].default_version == "2" and found["mass"].pinned_default_version == "2"
    assert f"model mass: default version pinned to 2 ({models / 'mass' / 'default_version'})" in server.log()

    # A pin on a version that does not exist: requests without a version are refused (another version
    # must not answer in place of the one the operator chose), the model's health says so.
    (models / "mass" / "default_version").write_text("7")
    wait_until(lambda: server.health("model:mass") == "NOT_SERVING", 10, "pin to a missing version")
    with pytest.raises(grpc.RpcError) as info:
        predict(stub, "mass")
    assert info.value.code() == grpc.StatusCode.UNAVAILABLE
    assert "default version 7 (pinned by mass/default_version)" in info.value.details(), info.value.details()
    assert str(tmp_path) not in info.value.details()  # the pin file as clients see paths
    # Metadata without a version describes the version such requests get: the pinned one, not loaded.
    metadata = stub.GetModelMetadata(pb.GetModelMetadataRequest(model="mass"), timeout=10)
    assert metadata.version == "7" and not metadata.inputs and not metadata.outputs
    assert answer(stub, "mass", "10") == ("10", 10.0)
    found, _ = listed(stub)
    assert any("default version 7 is pinned" in n and "no such version" in n for n in found["mass"].notes)
    assert "model:mass NOT_SERVING: its pinned default version 7" in server.log()

    # The pin gone: the highest version serves again.
    (models / "mass" / "default_version").unlink()
    wait_until(lambda: server.health("model:mass") == "SERVING", 10, "pin removed")
    assert answer(stub, "mass") == ("11", 11.0)
    assert "model mass: default version no longer pinned" in server.log()
    assert "model:mass SERVING" in server.log().split("model:mass NOT_SERVING")[-1]
    assert server.stop() == 0


def test_default_version_flag_and_variable(start_server, tmp_path):
    models = tmp_path / "models"
    for k in (1, 2, 3):
        lin(models / "mass" / f"{k}.zip", k)
    (models / "mass" / "default_version").write_text("1")
    server = start_server("--model-dir", models, "--default-version", "mass=2", "--reload-interval", "0")
    stub = pb_grpc.PredictionServiceStub(server.open_channel())
    assert answer(stub, "mass") == ("2", 2.0)  # the flag wins over the file
    assert listed(stub)[0]["mass"].pinned_default_version == "2"
    assert server.stop() == 0

    server = start_server("--model-dir", models, "--reload-interval", "0", env={"LEAPSERVE_DEFAULT_VERSION": "mass=3"})
    stub = pb_grpc.PredictionServiceStub(server.open_channel())
    assert answer(stub, "mass") == ("3", 3.0)
    assert server.stop() == 0

    r = run_cli("serve", "--model-dir", models, env={"LEAPSERVE_DEFAULT_VERSION": "mass"})
    assert r.returncode == 2 and "Traceback" not in r.stderr, r.stderr  # a bad variable: usage, as the flag
    assert r.stderr == "leapserve serve: error: LEAPSERVE_DEFAULT_VERSION='mass': expected NAME=VERSION\n"
    r = run_cli("serve", "--model-dir", models, "--default-version", "mass=")
    assert r.returncode == 2 and "--default-version: expected NAME=VERSION, got 'mass='" in r.stderr, r.stderr


def test_reload_that_changes_inputs_is_refused(start_server, tmp_path):
    models = tmp_path / "models"
    lin(models / "m.zip", 1)
    lin(models / "ver" / "1.zip", 1)
    server = start_server("--model-dir", models, "--reload-interval", INTERVAL)
    stub = pb_grpc.PredictionServiceStub(server.open_channel())
    assert answer(stub, "m") == ("1", 1.0)

    # Another pipeline copied over the file: refused and logged, the previous copy keeps serving.
    other_inputs(models / "m.zip")
    wait_until(lambda: server.health("model:m") == "NOT_SERVING", 10, "refused reload")
    assert answer(stub, "m") == ("1", 1.0)
    info = stub.GetModelMetadata(pb.GetModelMetadataRequest(model="m"), timeout=10)
    assert [f.name for f in info.inputs] == ["a", "b"]
    assert info.versions[0].state == pb.READY and info.versions[0].generation == 1
    assert "inputs gone: b" in info.versions[0].error and "new inputs: c" in info.versions[0].error
    assert "--allow-schema-change" in info.versions[0].error
    log = server.log()
    assert "model m version 1: reloading" in log and "SchemaChanged" in log
    assert "model:m NOT_SERVING: version 1: reload failed, the previous copy serves" in log
    assert server.health() == "SERVING"

    # A reload keeping the inputs is taken as before.
    lin(models / "m.zip", 2)
    wait_until(lambda: server.health("model:m") == "SERVING", 10, "same-schema reload")
    assert answer(stub, "m") == ("1", 2.0)

    # A new version may read other inputs.
    other_inputs(models / "ver" / "2.zip")
    wait_until(lambda: listed(stub)[0]["ver"].default_version == "2", 10, "version 2 loaded")
    info = stub.GetModelMetadata(pb.GetModelMetadataRequest(model="ver"), timeout=10)
    assert [f.name for f in info.inputs] == ["a", "c"] and not any(v.error for v in info.versions)
    assert server.stop() == 0


def test_schema_change_overrides(start_server, tmp_path):
    models = tmp_path / "models"
    lin(models / "m.zip", 1)
    server = start_server("--model-dir", models, "--reload-interval", INTERVAL, "--allow-schema-change")
    stub = pb_grpc.PredictionServiceStub(server.open_channel())
    other_inputs(models / "m.zip")
    wait_until(lambda: [f.name for f in stub.GetModelMetadata(pb.GetModelMetadataRequest(model="m"), timeout=10)
                        .inputs] == ["a", "c"], 10, "allowed reload")
    assert server.health("model:m") == "SERVING"
    assert server.stop() == 0

    # LoadModel: refused (FAILED_PRECONDITION) unless it asks for the change.
    lin(models / "m.zip", 1)
    other_inputs(tmp_path / "models" / "other.zip.tmp")  # a name the scan passes over
    server = start_server("--model-dir", models, "--reload-interval", "0", "--admin")
    admin = admin_grpc.ModelServiceStub(server.open_channel())
    stub = pb_grpc.PredictionServiceStub(server.open_channel())
    with pytest.raises(grpc.RpcError) as info:
        admin.LoadModel(admin_pb.LoadModelRequest(model="m", path="other.zip.tmp"), timeout=30)
    assert info.value.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert "inputs gone: b" in info.value.details() and "allow_schema_change" in info.value.details()
    assert answer(stub, "m") == ("1", 1.0)
    r = admin.LoadModel(admin_pb.LoadModelRequest(model="m", path="other.zip.tmp", allow_schema_change=True),
                        timeout=30)
    assert r.version.generation == 2 and r.version.state == pb.READY
    info = stub.GetModelMetadata(pb.GetModelMetadataRequest(model="m"), timeout=10)
    assert [f.name for f in info.inputs] == ["a", "c"]
    assert server.stop() == 0


def test_health_changes_are_logged_naming_the_model(start_server, tmp_path):
    models = tmp_path / "models"
    lin(models / "good.zip", 1)
    (models / "broken.zip").write_bytes(b"not a zip")
    server = start_server("--model-dir", models, "--reload-interval", INTERVAL, wait="listening")
    # Never ready: the line says which model holds the server back.
    wait_until(lambda: "NOT_SERVING: model broken version 1 has no copy to serve" in server.log(), 20,
               "the server's NOT_SERVING logged")
    log = server.log()
    assert "model:broken NOT_SERVING: version 1: failed" in log
    assert "model:good SERVING" in log
    assert "model:good NOT_SERVING" not in log  # loading for the first time is no change to log

    lin(models / "broken.zip", 2)
    server.wait_health("SERVING", timeout=20)
    wait_until(lambda: "model:broken SERVING" in server.log(), 10, "broken fixed")
    assert "SERVING: 2 model version(s) loaded" in server.log()

    (models / "good.zip").unlink()
    wait_until(lambda: "model:good NOT_SERVING: no longer served" in server.log(), 10, "good removed")
    assert server.stop() == 0


def test_load_model_takes_the_pin_and_leaves_the_watcher_its_files(start_server, tmp_path):
    """LoadModel without a version replaces the pinned default version (the one requests without a
    version get), even while it has no copy to serve. Given the file the watcher serves, LoadModel
    reloads it and leaves it to the watcher (reloaded when it changes, unloaded when it goes); a
    refused LoadModel leaves the version on its file."""
    models = tmp_path / "models"
    (models / "mass").mkdir(parents=True)
    (models / "mass" / "1.zip").write_bytes(b"not a zip")
    lin(models / "mass" / "2.zip", 2)
    (models / "mass" / "default_version").write_text("1")
    lin(models / "fixed.zip.tmp", 5)  # a name the scan passes over
    lin(models / "m" / "1.zip", 1)
    other_inputs(models / "other.zip.tmp")
    server = start_server("--model-dir", models, "--reload-interval", INTERVAL, "--admin", wait="listening")
    admin = admin_grpc.ModelServiceStub(server.open_channel())
    stub = pb_grpc.PredictionServiceStub(server.open_channel())
    wait_until(lambda: "m" in listed(stub)[0] and listed(stub)[0]["m"].versions[0].state == pb.READY, 20, "m")

    r = admin.LoadModel(admin_pb.LoadModelRequest(model="mass", path="fixed.zip.tmp"), timeout=30)
    assert r.version.version == "1" and r.version.state == pb.READY and r.version.is_default
    assert answer(stub, "mass") == ("1", 5.0)
    assert answer(stub, "mass", "2") == ("2", 2.0)

    # Refused: the version stays on its file, and the watcher keeps reloading that file.
    with pytest.raises(grpc.RpcError) as info:
        admin.LoadModel(admin_pb.LoadModelRequest(model="m", version="1", path="other.zip.tmp"), timeout=30)
    assert info.value.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert listed(stub)[0]["m"].versions[0].path == "m/1.zip"
    lin(models / "m" / "1.zip", 2)
    wait_until(lambda: answer(stub, "m") == ("1", 2.0), 10, "the watcher's reload of m/1.zip")

    # The watcher refuses another pipeline copied over the file; LoadModel of that file allows it.
    other_inputs(models / "m" / "1.zip")
    wait_until(lambda: server.health("model:m") == "NOT_SERVING", 10, "refused reload")
    r = admin.LoadModel(admin_pb.LoadModelRequest(model="m", version="1", path="m/1.zip", allow_schema_change=True),
                        timeout=30)
    assert r.version.state == pb.READY and r.version.path == "m/1.zip"
    metadata = stub.GetModelMetadata(pb.GetModelMetadataRequest(model="m"), timeout=10)
    assert [f.name for f in metadata.inputs] == ["a", "c"]
    # ... and the file is still the watcher's: removed, the version is unloaded.
    (models / "m" / "1.zip").unlink()
    wait_until(lambda: "m" not in listed(stub)[0], 10, "m unloaded with its file")
    assert server.stop() == 0
