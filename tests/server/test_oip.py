"""inference.GRPCInferenceService (Open Inference Protocol) driven by tritonclient, unmodified.

tritonclient sends raw_input_contents; the typed-contents path is driven through tritonclient's own
generated stubs (its copy of the protocol's messages), never through leapserve.oip in this process.
"""

from __future__ import annotations

import grpc
import numpy as np
import pytest

tritonclient_grpc = pytest.importorskip("tritonclient.grpc")
from tritonclient.grpc import service_pb2, service_pb2_grpc  # noqa: E402
from tritonclient.utils import InferenceServerException  # noqa: E402

from tests.support.bundles import v1_expected, v2_expected  # noqa: E402


@pytest.fixture(scope="module")
def client(lr_server):
    c = tritonclient_grpc.InferenceServerClient(url=lr_server.address)
    yield c
    c.close()


def infer_input(name, array, datatype):
    t = tritonclient_grpc.InferInput(name, list(array.shape), datatype)
    t.set_data_from_numpy(array)
    return t


def test_health_and_server_metadata(client):
    assert client.is_server_live()
    assert client.is_server_ready()
    assert client.is_model_ready("lr") and client.is_model_ready("lr", "1") and client.is_model_ready("vec")
    with pytest.raises(InferenceServerException):
        client.is_model_ready("nope")
    md = client.get_server_metadata()
    assert md.name == "leapserve" and md.version


def test_model_metadata(client):
    md = client.get_model_metadata("lr")
    assert md.name == "lr" and list(md.versions) == ["1", "2"] and md.platform == "leapserve_bundleml"
    assert [(t.name, t.datatype, list(t.shape)) for t in md.inputs] == [("a", "FP64", [-1]), ("b", "FP64", [-1])]
    assert [(t.name, t.datatype, list(t.shape)) for t in md.outputs] == [("features", "FP64", [-1, 2]),
                                                                         ("prediction", "FP64", [-1])]
    vec = client.get_model_metadata("vec")
    assert [(t.name, t.datatype, list(t.shape)) for t in vec.inputs] == [("features", "FP64", [-1, 2])]
    with pytest.raises(InferenceServerException) as info:
        client.get_model_metadata("nope")
    assert "nope" in str(info.value)


def test_infer_batch_fp64(client):
    a = np.array([0.0, 1.0, 2.5, -3.0], dtype=np.float64)
    b = np.array([1.0, 0.0, 2.0, 4.0], dtype=np.float64)
    result = client.infer("lr", [infer_input("a", a, "FP64"), infer_input("b", b, "FP64")], model_version="1")
    pred = result.as_numpy("prediction")
    assert pred.shape == (4,)
    np.testing.assert_allclose(pred, [v1_expected(x, y) for x, y in zip(a, b)], atol=1e-9)
    feats = result.as_numpy("features")
    np.testing.assert_array_equal(feats, np.stack([a, b], axis=1))
    resp = result.get_response()
    assert resp.model_name == "lr" and resp.model_version == "1"


def test_infer_other_numeric_types_and_column_shapes(client):
    a = np.array([[1], [2], [3]], dtype=np.int64)      # [n, 1]
    b = np.array([0.5, 1.5, 2.5], dtype=np.float32)    # [n]
    out = [tritonclient_grpc.InferRequestedOutput("prediction")]
    result = client.infer("lr", [infer_input("a", a, "INT64"), infer_input("b", b, "FP32")], outputs=out)
    assert result.as_numpy("features") is None
    np.testing.assert_allclose(result.as_numpy("prediction"),
                               [v2_expected(float(x), float(y)) for x, y in zip(a[:, 0], b)], atol=1e-6)
    a32 = np.array([1, 2], dtype=np.int32)
    b_bool = np.array([True, False])
    result = client.infer("lr", [infer_input("a", a32, "INT32"), infer_input("b", b_bool, "BOOL")], model_version="1")
    np.testing.assert_allclose(result.as_numpy("prediction"), [v1_expected(1, 1), v1_expected(2, 0)], atol=1e-9)


def test_infer_bytes_are_parsed_as_numbers(client):
    a = np.array([b"1.5", b"2"], dtype=np.object_)
    b = np.array(["0", "-1"], dtype=np.object_)
    result = client.infer("lr", [infer_input("a", a, "BYTES"), infer_input("b", b, "BYTES")], model_version="1")
    np.testing.assert_allclose(result.as_numpy("prediction"), [v1_expected(1.5, 0), v1_expected(2, -1)], atol=1e-9)


def test_infer_vector_input(client):
    x = np.array([[1.0, 2.0], [0.0, 0.0], [3.0, -1.0]])
    result = client.infer("vec", [infer_input("features", x, "FP64")])
    np.testing.assert_allclose(result.as_numpy("prediction"), [v1_expected(*row) for row in x], atol=1e-9)


def test_infer_large_batch(client):
    rng = np.random.default_rng(0)
    a, b = rng.normal(size=2000), rng.normal(size=2000)
    result = client.infer("lr", [infer_input("a", a, "FP64"), infer_input("b", b, "FP64")], model_version="1")
    np.testing.assert_allclose(result.as_numpy("prediction"), 1 + 2 * a - b, atol=1e-9)


def test_infer_errors(client):
    a = np.array([1.0, 2.0])
    with pytest.raises(InferenceServerException) as info:
        client.infer("lr", [infer_input("a", a, "FP64")])
    assert "INVALID_ARGUMENT" in str(info.value.status()) and "'b'" in info.value.message()
    with pytest.raises(InferenceServerException) as info:
        client.infer("lr", [infer_input("a", a, "FP64"), infer_input("b", np.array([1.0, 2.0, 3.0]), "FP64")])
    assert "INVALID_ARGUMENT" in str(info.value.status()) and "'b'" in info.value.message()
    with pytest.raises(InferenceServerException) as info:
        client.infer("vec", [infer_input("features", np.ones((2, 3)), "FP64")])
    assert "INVALID_ARGUMENT" in str(info.value.status()) and "size 2" in info.value.message()
    with pytest.raises(InferenceServerException) as info:
        client.infer("lr", [infer_input("a", np.array([b"x"], dtype=np.object_), "BYTES"),
                            infer_input("b", np.array([1.0]), "FP64")])
    assert "INVALID_ARGUMENT" in str(info.value.status()) and "'a'" in info.value.message()
    with pytest.raises(InferenceServerException) as info:
        client.infer("nope", [infer_input("a", a, "FP64")])
    assert "NOT_FOUND" in str(info.value.status())
    with pytest.raises(InferenceServerException) as info:
        client.infer("lr", [infer_input("a", a, "FP64"), infer_input("b", a, "FP64")], model_version="9")
    assert "NOT_FOUND" in str(info.value.status())
    # still serving
    assert client.is_server_ready()


def test_typed_contents_without_raw(lr_server):
    stub = service_pb2_grpc.GRPCInferenceServiceStub(lr_server.open_channel())
    req = service_pb2.ModelInferRequest(model_name="lr", model_version="1", id="typed")
    ta = req.inputs.add(name="a", datatype="FP64", shape=[3])
    ta.contents.fp64_contents.extend([1.0, 2.0, 3.0])
    tb = req.inputs.add(name="b", datatype="INT32", shape=[3, 1])
    tb.contents.int_contents.extend([0, 1, 2])
    resp = stub.ModelInfer(req, timeout=10)
    assert resp.id == "typed" and not resp.raw_output_contents
    outs = {o.name: o for o in resp.outputs}
    assert list(outs["prediction"].shape) == [3]
    assert list(outs["prediction"].contents.fp64_contents) == pytest.approx([1 + 2 * 1 - 0, 1 + 4 - 1, 1 + 6 - 2])
    assert list(outs["features"].shape) == [3, 2]
    assert list(outs["features"].contents.fp64_contents) == [1.0, 0.0, 2.0, 1.0, 3.0, 2.0]
    bad = service_pb2.ModelInferRequest(model_name="lr")
    t = bad.inputs.add(name="a", datatype="FP64", shape=[2])
    t.contents.fp64_contents.extend([1.0])
    with pytest.raises(grpc.RpcError) as info:
        stub.ModelInfer(bad, timeout=10)
    assert info.value.code() == grpc.StatusCode.INVALID_ARGUMENT and "'a'" in info.value.details()


def test_refused_tensors_name_field_expected_and_actual(lr_server):
    """A tensor that does not fit its field ends the call as any invalid input does: the message and
    the trailing metadata name the field, what was expected and what came."""
    stub = service_pb2_grpc.GRPCInferenceServiceStub(lr_server.open_channel())
    short = service_pb2.ModelInferRequest(model_name="lr")
    short.inputs.add(name="a", datatype="FP64", shape=[2]).contents.fp64_contents.extend([1.0])
    text = service_pb2.ModelInferRequest(model_name="lr")
    text.inputs.add(name="a", datatype="BYTES", shape=[1])
    text.inputs.add(name="b", datatype="FP64", shape=[1])
    text.raw_input_contents.extend([b"\x02\x00\x00\x00\xff\xfe", np.array([1.0]).tobytes()])
    for request, details, expected, actual in (
            (short, "field 'a': expected 2 elements for shape [2], got 1", "2 elements for shape [2]", "1"),
            (text, "field 'a': expected UTF-8 text, got bytes b'\\xff\\xfe'", "UTF-8 text", "bytes b'\\xff\\xfe'")):
        with pytest.raises(grpc.RpcError) as info:
            stub.ModelInfer(request, timeout=10)
        assert info.value.code() == grpc.StatusCode.INVALID_ARGUMENT
        assert info.value.details() == details
        assert dict(info.value.trailing_metadata()) == {
            "leapserve-field": "a", "leapserve-expected": expected, "leapserve-actual": actual}
    extra = service_pb2.ModelInferRequest(model_name="lr")
    extra.inputs.add(name="a", datatype="FP64", shape=[1])
    extra.raw_input_contents.extend([np.array([1.0]).tobytes(), b"extra"])
    with pytest.raises(grpc.RpcError) as info:
        stub.ModelInfer(extra, timeout=10)
    assert info.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert info.value.details() == "2 raw_input_contents for 1 inputs; raw contents need one entry per input"
    assert not dict(info.value.trailing_metadata())
