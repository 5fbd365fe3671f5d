"""Errors that say what to do next, and metadata's ``nullable``, from a real server: leapserve.v1
Predict, PredictBatch, PredictStream and GetModelMetadata, OIP ModelInfer through tritonclient, and
the real `leapserve predict`. Each message test checks the field, the expected and the actual value.

Bundles are written by hand (tests/support/handmade.py): no Spark needed.
"""

from __future__ import annotations

import json

import grpc
import numpy as np
import pytest

from leapserve.v1 import prediction_pb2 as pb
from tests.support.handmade import (assembled_lr_nodes, bucketed_lr_nodes, imputer_node, two_column_encoder_nodes,
                                    two_column_indexer_node, write_bundle)
from tests.support.servers import batch_request, prediction_stub, predict_request, run_cli

INVALID = grpc.StatusCode.INVALID_ARGUMENT
COLOURS = [f"colour{i}" for i in range(12)]


@pytest.fixture(scope="module")
def server(start_module_server, tmp_path_factory):
    """penguins: island, depth -> regression; bucketed: depth made null by a bucketizer, refused by
    the assembler; strict: a string indexer with handle_invalid "error"; lenient: the same with
    "keep", an imputer of depth, and island read as it is."""
    root = tmp_path_factory.mktemp("message-bundles")
    lenient = [two_column_indexer_node("keep", COLOURS), imputer_node("depth", 3.0),
               *assembled_lr_nodes(("colour_index", "shape_index", "depth_filled", "island"))]
    paths = {
        "penguins": write_bundle(root / "penguins", "json", assembled_lr_nodes(), zip_it=True),
        "bucketed": write_bundle(root / "bucketed", "json", bucketed_lr_nodes(), zip_it=True),
        "strict": write_bundle(root / "strict", "json", [two_column_indexer_node("error", COLOURS)], zip_it=True),
        "lenient": write_bundle(root / "lenient", "json", lenient, zip_it=True),
    }
    args = []
    for name, path in paths.items():
        args += ["--model", f"{name}={path}"]
    return start_module_server(*args)


@pytest.fixture(scope="module")
def stub(server):
    return prediction_stub(server.open_channel())


def rpc_error(call, *args) -> grpc.RpcError:
    with pytest.raises(grpc.RpcError) as info:
        call(*args, timeout=10)
    return info.value


def status_of(err: grpc.RpcError) -> tuple[grpc.StatusCode, str, dict]:
    return err.code(), err.details(), dict(err.trailing_metadata() or ())


def stream_status(stub, request) -> pb.Status:
    (response,) = list(stub.PredictStream(iter([request]), timeout=10))
    return response.status


# --- missing inputs, and names off by case or a typo -------------------------------------------

def test_missing_inputs_are_named_all_in_every_rpc(stub):
    record = {"Island": 1.0}
    code, message, meta = status_of(rpc_error(stub.Predict, predict_request("penguins", record)))
    assert code == INVALID
    assert message.startswith("fields 'island', 'depth': 2 required inputs are missing "
                              "(expected island: double, depth: double)")
    assert "'Island' was sent: did you mean 'island'?" in message
    assert meta["leapserve-field"] == "island, depth" and meta["leapserve-expected"] == "island: double, depth: double"
    assert meta["leapserve-actual"] == "nothing"

    status = stream_status(stub, predict_request("penguins", record))
    assert status.code == INVALID.value[0] and status.field == "island, depth"
    assert "did you mean 'island'?" in status.message and status.actual == "nothing"

    batch = stub.PredictBatch(batch_request("penguins", [{"island": 1.0, "depth": 2.0}, record, {"Depth": 1.0}]),
                              timeout=10)
    assert batch.results[0].outputs["prediction"].double_value == 3.5
    second, third = batch.results[1].status, batch.results[2].status
    assert second.field == "island, depth" and second.expected == "island: double, depth: double"
    assert second.message.startswith("row 1, fields 'island', 'depth'") and "did you mean 'island'?" in second.message
    assert third.field == "island, depth" and "'Depth' was sent: did you mean 'depth'?" in third.message


def test_unknown_outputs_are_named_with_a_suggestion(stub):
    request = predict_request("penguins", {"island": 1.0, "depth": 2.0})
    request.outputs.extend(["predicton", "features"])
    code, message, meta = status_of(rpc_error(stub.Predict, request))
    assert code == INVALID and "did you mean 'prediction' for 'predicton'?" in message
    assert meta["leapserve-field"] == "predicton" and meta["leapserve-actual"] == "'predicton'"
    assert meta["leapserve-expected"] == "outputs among ['features', 'prediction']"


def test_many_unknown_outputs_are_counted_and_cheap_to_refuse(stub):
    """The output names come from the client: 100,000 of them get a message (and metadata) listing
    20, with the hint for the one near a real output, and no 1 MB answer."""
    request = predict_request("penguins", {"island": 1.0, "depth": 2.0})
    request.outputs.extend(["predicton"] + [f"o{i}" for i in range(99_999)])
    code, message, meta = status_of(rpc_error(stub.Predict, request))
    assert code == INVALID and "100000 unknown outputs" in message and len(message) < 600
    assert "did you mean 'prediction' for 'predicton'?" in message
    assert meta["leapserve-actual"] == "'predicton', " + ", ".join(f"'o{i}'" for i in range(19)) + " and 99980 more"
    assert meta["leapserve-field"] == "predicton, " + ", ".join(f"o{i}" for i in range(19)) + " and 99980 more"


def test_an_input_sent_rightly_is_not_suggested_and_a_null_is_blamed_on_its_own_field(start_server, tmp_path):
    """bills: bill_length_mm and bill_depth_mm; encoder: a one-hot encoder of two columns (colour's
    index and size), whose size column, null for a null size, the assembler refuses."""
    bills_nodes = assembled_lr_nodes(("bill_length_mm", "bill_depth_mm"))
    bills = write_bundle(tmp_path / "bills", "json", bills_nodes, zip_it=True)
    encoder = write_bundle(tmp_path / "encoder", "json", two_column_encoder_nodes(), zip_it=True)
    server = start_server("--model", f"bills={bills}", "--model", f"encoder={encoder}")
    stub = prediction_stub(server.open_channel())
    code, message, meta = status_of(rpc_error(stub.Predict, predict_request("bills", {"bill_length_mm": 40.0})))
    assert code == INVALID and meta["leapserve-field"] == "bill_depth_mm" and "did you mean" not in message
    out = run_cli("predict", "--address", server.address, "--model", "bills", "--json", '{"bill_length_mm": 40}')
    assert out.returncode != 0 and "field 'bill_depth_mm': required input is missing" in out.stderr
    assert "did you mean" not in out.stderr
    # the same through PredictBatch, as `leapserve predict --file` sends it
    out = run_cli("predict", "--address", server.address, "--model", "bills", "--file", "-",
                  input='{"bill_length_mm": 40}\n')
    assert out.returncode == 1 and "field 'bill_depth_mm': required input is missing" in out.stdout, out
    assert "did you mean" not in out.stdout + out.stderr
    for colour in (None, ""):
        code, message, meta = status_of(rpc_error(stub.Predict, predict_request("encoder", {"colour": colour,
                                                                                           "size": None})))
        assert code == INVALID and meta["leapserve-field"] == "size" and meta["leapserve-actual"] == "null"
        assert "the null input 'size' became a null in column 'size_vec'" in message


# --- unknown models ------------------------------------------------------------------------------

def test_an_unknown_model_lists_the_models_served(stub):
    code, message, _ = status_of(rpc_error(stub.Predict, predict_request("Penguins", {"island": 1.0})))
    assert code == grpc.StatusCode.NOT_FOUND
    assert message == ("unknown model 'Penguins' (models: 'bucketed', 'lenient', 'penguins', 'strict'); "
                       "did you mean 'penguins'?")
    code, message, _ = status_of(rpc_error(stub.GetModelMetadata, pb.GetModelMetadataRequest(model="zebra")))
    assert code == grpc.StatusCode.NOT_FOUND
    assert message == "unknown model 'zebra' (models: 'bucketed', 'lenient', 'penguins', 'strict')"
    code, message, _ = status_of(rpc_error(stub.GetModelMetadata, pb.GetModelMetadataRequest(model="penguins",
                                                                                             version="2")))
    assert code == grpc.StatusCode.NOT_FOUND and message == "model 'penguins' has no version '2' (versions: ['1'])"
    status = stream_status(stub, predict_request("zebra", {}))
    assert status.code == grpc.StatusCode.NOT_FOUND.value[0] and "models: 'bucketed', 'lenient'" in status.message


# --- nulls and labels ------------------------------------------------------------------------------

def test_a_null_made_internal_names_the_field_sent(stub):
    code, message, meta = status_of(rpc_error(stub.Predict, predict_request("bucketed", {"island": 1.0, "depth": None})))
    assert code == INVALID and meta["leapserve-field"] == "depth" and meta["leapserve-actual"] == "null"
    assert meta["leapserve-expected"] == "a value (vector_assembler does not accept nulls)"
    assert message.startswith("field 'depth': expected ")
    assert "the null input 'depth' became a null in column 'depth_bucket'" in message
    batch = stub.PredictBatch(batch_request("bucketed", [{"island": 1.0, "depth": 2.0}, {"island": 1.0, "depth": None}]),
                              timeout=10)
    assert batch.results[0].outputs["prediction"].double_value == 2.5
    assert batch.results[1].status.field == "depth" and batch.results[1].status.actual == "null"


def test_an_unseen_label_lists_known_labels(stub):
    want = ("one of the 12 labels seen in training (handle_invalid='error'): "
            "'colour0', 'colour1', 'colour2', 'colour3', 'colour4' and 7 more")
    code, message, meta = status_of(rpc_error(stub.Predict, predict_request("strict", {"colour": "mauve", "shape": "x"})))
    assert code == INVALID and meta["leapserve-field"] == "colour" and meta["leapserve-expected"] == want
    assert meta["leapserve-actual"] == "unseen label 'mauve'" and want in message
    status = stream_status(stub, predict_request("strict", {"colour": "colour1", "shape": "z"}))
    assert status.field == "shape" and status.expected.endswith(": 'x', 'y'") and status.actual == "unseen label 'z'"


# --- metadata --------------------------------------------------------------------------------------

def test_metadata_nullable_is_true_only_where_a_null_is_accepted(stub):
    meta = stub.GetModelMetadata(pb.GetModelMetadataRequest(model="lenient"), timeout=10)
    assert {f.name: f.nullable for f in meta.inputs} == {"colour": True, "shape": True, "depth": True,
                                                         "island": False}
    assert not any(f.nullable for f in meta.outputs)  # indices, an imputed value, a vector, a prediction
    for model in ("penguins", "bucketed", "strict"):
        meta = stub.GetModelMetadata(pb.GetModelMetadataRequest(model=model), timeout=10)
        assert not any(f.nullable for f in meta.inputs), model
    # and the server takes the nulls it says it takes
    r = stub.Predict(predict_request("lenient", {"colour": None, "shape": None, "depth": None, "island": 1.0}),
                     timeout=10)
    assert r.outputs["prediction"].double_value == 12 + 2 + 3.0 + 1.0 + 0.5
    code, _, fields = status_of(rpc_error(stub.Predict, predict_request(
        "lenient", {"colour": "colour1", "shape": "x", "depth": 1.0, "island": None})))
    assert code == INVALID and fields["leapserve-field"] == "island"


# --- OIP ModelInfer ----------------------------------------------------------------------------------

def test_model_infer_names_every_missing_input_and_the_model(server):
    tritonclient_grpc = pytest.importorskip("tritonclient.grpc")
    from tritonclient.utils import InferenceServerException

    client = tritonclient_grpc.InferenceServerClient(url=server.address)
    try:
        tensor = tritonclient_grpc.InferInput("ISLAND", [2], "FP64")
        tensor.set_data_from_numpy(np.array([1.0, 2.0]))
        with pytest.raises(InferenceServerException) as e:
            client.infer("penguins", [tensor])
        message = e.value.message()
        assert "fields 'island', 'depth': 2 required inputs are missing (expected island: double, depth: double)" \
            in message
        assert "'ISLAND' was sent: did you mean 'island'?" in message
        with pytest.raises(InferenceServerException) as e:
            client.infer("pengiuns", [tensor])
        assert "unknown model 'pengiuns'" in e.value.message() and "did you mean 'penguins'?" in e.value.message()
        colour = tritonclient_grpc.InferInput("colour", [1], "BYTES")
        colour.set_data_from_numpy(np.array([b"mauve"], dtype=object))
        shape = tritonclient_grpc.InferInput("shape", [1], "BYTES")
        shape.set_data_from_numpy(np.array([b"x"], dtype=object))
        with pytest.raises(InferenceServerException) as e:
            client.infer("strict", [colour, shape])
        assert "field 'colour'" in e.value.message() and "unseen label 'mauve'" in e.value.message()
        assert "'colour0', 'colour1', 'colour2', 'colour3', 'colour4' and 7 more" in e.value.message()
    finally:
        client.close()


# --- leapserve predict -------------------------------------------------------------------------------

def test_predict_command_names_the_fields(server):
    out = run_cli("predict", "--address", server.address, "--model", "penguins", "--json", '{"Island": 1}')
    assert out.returncode != 0 and "Traceback" not in out.stderr
    assert "fields 'island', 'depth': 2 required inputs are missing" in out.stderr
    assert "did you mean 'island'?" in out.stderr
    out = run_cli("predict", "--address", server.address, "--model", "penguins",
                  "--json", json.dumps({"island": {"size": 3}, "depth": 1}))
    assert out.returncode != 0 and "Traceback" not in out.stderr
    assert "field 'island': cannot encode the value as a leapserve.v1.Value: expected " in out.stderr
    assert "got dict {'size': 3}" in out.stderr
