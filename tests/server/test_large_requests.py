"""A large Predict message (many fields) is parsed and scored on a request thread, not on the event
loop: health keeps answering while it is worked on. The parse itself holds the GIL (protobuf's C
code), so the loop is held up for that part; the decoding and scoring, in Python, share it."""

from __future__ import annotations

import threading
import time

import grpc

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
    import pytest

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
