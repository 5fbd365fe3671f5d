"""A large Predict message (many fields) is parsed and scored on a request thread, not on the event
loop: health keeps answering while it is worked on. The parse itself holds the GIL (protobuf's C
code), so the loop is held up for that part; the decoding and scoring, in Python, share it."""

from __future__ import annotations

import threading
import time

import grpc
import pytest

from tests.support.bundles import RF_ZIP, airbnb_record
from tests.support.servers import health_status, predict_request, prediction_stub

EXTRA_FIELDS = 300_000  # about 6.5 MB; the pipeline reads its own fields and ignores these


def test_health_answers_while_a_large_predict_is_worked_on(start_server):
    server = start_server("--model", f"rf={RF_ZIP}", "--reload-interval", "0")
    record = airbnb_record()
    large = predict_request("rf", record, request_id="large")
    for i in range(EXTRA_FIELDS):
        large.inputs[f"extra{i}"].double_value = i
    data = large.SerializeToString()
    with grpc.insecure_channel(server.address) as ch, grpc.insecure_channel(server.address) as probe:
        stub = prediction_stub(ch)
        for _ in range(20):  # the pipeline is known fast: small requests are scored on the loop
            stub.Predict(predict_request("rf", record), timeout=5)
        expected = stub.Predict(predict_request("rf", record, request_id="large"), timeout=5)
        outcome = {}

        def call():
            outcome["reply"] = ch.unary_unary("/leapserve.v1.PredictionService/Predict")(data, timeout=60)

        caller = threading.Thread(target=call)
        checks = []
        caller.start()
        while caller.is_alive():
            start = time.monotonic()
            assert health_status(probe, timeout=10) == "SERVING"
            checks.append((start, time.monotonic()))
        caller.join()
    answered_during = [c for c in checks[1:-1]]
    longest = max(end - start for start, end in checks)
    total = checks[-1][1] - checks[0][0]
    assert type(expected).FromString(outcome["reply"]) == expected
    assert len(answered_during) >= 10 and longest < 0.6 * total, (
        f"{len(checks)} health checks answered in {total:.2f} s, the longest waited {longest:.2f} s: the event loop was held")


def test_health_answers_while_large_model_infers_are_scored(start_server):
    """OIP's ModelInfer is async as Predict is: a message over 8 KiB (here 20,000 records, scored in
    about a tenth of a second) is parsed and scored on the request threads, so the event loop keeps
    answering health meanwhile."""
    import numpy as np

    tritonclient_grpc = pytest.importorskip("tritonclient.grpc")
    server = start_server("--model", f"rf={RF_ZIP}", "--reload-interval", "0")
    client = tritonclient_grpc.InferenceServerClient(url=server.address)
    md = client.get_model_metadata("rf", as_json=True)
    record = airbnb_record()
    n = 20_000
    inputs = []
    for t in md["inputs"]:
        if t["datatype"] == "BYTES":
            array = np.array([str(record[t["name"]]).encode()] * n, dtype=np.object_)
        else:
            array = np.full(n, float(record[t["name"]]))
        inputs.append(tritonclient_grpc.InferInput(t["name"], [n], t["datatype"]))
        inputs[-1].set_data_from_numpy(array)
    one = client.infer("rf", inputs).as_numpy("price_prediction")
    assert one.shape == (n,) and np.all(one == one[0])
    done = threading.Event()

    def infer():
        while not done.is_set():
            client.infer("rf", inputs, client_timeout=30)

    callers = [threading.Thread(target=infer) for _ in range(2)]
    checks = []
    with grpc.insecure_channel(server.address) as probe:
        for caller in callers:
            caller.start()
        try:
            deadline = time.monotonic() + 3
            while time.monotonic() < deadline:
                start = time.monotonic()
                assert health_status(probe, timeout=10) == "SERVING"
                checks.append(time.monotonic() - start)
        finally:
            done.set()
            for caller in callers:
                caller.join()
    client.close()
    # Here about 500 checks are answered in the 3 s; with the scoring on the loop, about 20.
    assert len(checks) >= 100 and max(checks) < 1.0, (
        f"{len(checks)} health checks in 3 s, the longest waited {max(checks):.2f} s: the event loop was held")


@pytest.mark.parametrize("method,message", [
    ("/leapserve.v1.PredictionService/Predict", "leapserve.v1.PredictRequest"),
    ("/inference.GRPCInferenceService/ModelInfer", "inference.ModelInferRequest"),
])
@pytest.mark.parametrize("size", [3, 9 * 1024])
def test_a_message_that_does_not_parse_is_invalid_argument(start_module_server, method, message, size):
    """Bytes that are not the request message, small or over 8 KiB (parsed on a thread), get
    INVALID_ARGUMENT naming the message expected (gRPC's own deserializer failure would be INTERNAL)."""
    server = start_module_server("--model", f"rf={RF_ZIP}", "--reload-interval", "0")
    garbage = b"\xff" * size  # a field tag whose varint never ends
    with grpc.insecure_channel(server.address) as ch:
        with pytest.raises(grpc.RpcError) as e:
            ch.unary_unary(method)(garbage, timeout=10)
    assert e.value.code() == grpc.StatusCode.INVALID_ARGUMENT, e.value.details()
    assert f"request message: expected a {message}, got {size} bytes that do not parse as one" in e.value.details()


def test_a_large_request_is_parsed_only_by_its_thread():
    """What metrics, spans and error paths read of an UnparsedRequest on the event loop (its model, its
    request id) never parses it there: an empty message's fields until the thread has parsed it."""
    from leapserve.server.services.prediction import UnparsedRequest

    request = UnparsedRequest(predict_request("rf", airbnb_record(), request_id="r1").SerializeToString())
    assert (request.model, request.request_id) == ("", "")
    assert request.parse().model == "rf" and (request.model, request.request_id) == ("rf", "r1")
    broken = UnparsedRequest(b"\xff" * 20)
    assert broken.model == ""
    with pytest.raises(Exception, match="do not parse as one"):
        broken.parse()
    assert broken.model == ""
