"""Prometheus metrics: scraped from a real server while it answers, reloads and fails."""

from __future__ import annotations

import shutil
import time

import grpc
import pytest

from tests.support.bundles import LR_ZIP, RF_ZIP, airbnb_record
from tests.support.metrics_text import samples, scrape, value
from tests.support.servers import batch_request, free_port, predict_request, prediction_stub


def wait_for(predicate, timeout=30.0, what="condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


def test_request_row_and_model_metrics(start_server, tmp_path):
    models = tmp_path / "models"
    models.mkdir()
    shutil.copyfile(RF_ZIP, models / "rf.zip")
    metrics_port = free_port()
    server = start_server("--model-dir", models, "--metrics-port", metrics_port, "--reload-interval", "0.2")
    record = airbnb_record()
    bad = dict(record, bathrooms="many")  # not a number: INVALID_ARGUMENT
    with grpc.insecure_channel(server.address) as ch:
        stub = prediction_stub(ch)
        for _ in range(5):
            stub.Predict(predict_request("rf", record), timeout=10)
        stub.Predict(predict_request("rf", record, version="1"), timeout=10)
        for req, code in ((predict_request("rf", bad), grpc.StatusCode.INVALID_ARGUMENT),
                          (predict_request("nosuch", record), grpc.StatusCode.NOT_FOUND),
                          (predict_request("rf", record, version="9"), grpc.StatusCode.NOT_FOUND)):
            with pytest.raises(grpc.RpcError) as e:
                stub.Predict(req, timeout=10)
            assert e.value.code() == code
        answer = stub.PredictBatch(batch_request("rf", [record, bad, record, record]), timeout=10)
        assert (answer.ok_count, answer.invalid_count) == (3, 1)
        stream = list(stub.PredictStream(iter([predict_request("rf", record), predict_request("rf", bad)]),
                                         timeout=10))
        assert len(stream) == 2 and stream[1].status.code == grpc.StatusCode.INVALID_ARGUMENT.value[0]

    # The gauges follow the registry's listeners, a moment after health turned SERVING.
    wait_for(lambda: value(samples(scrape(metrics_port)), "leapserve_ready") == 1, what="leapserve_ready 1")
    m = samples(scrape(metrics_port))
    assert value(m, "leapserve_requests_total", model="rf", version="1", rpc="Predict", code="OK") == 6
    assert value(m, "leapserve_requests_total", model="rf", version="1", rpc="Predict", code="INVALID_ARGUMENT") == 1
    # Names the server does not know never become labels.
    assert value(m, "leapserve_requests_total", model="_unknown", rpc="Predict", code="NOT_FOUND") == 1
    assert value(m, "leapserve_requests_total", model="rf", version="_unknown", rpc="Predict", code="NOT_FOUND") == 1
    assert not any(dict(labels).get("model") == "nosuch" for _, labels in m)
    assert value(m, "leapserve_request_duration_seconds_count", model="rf", rpc="Predict", code="OK") == 6
    assert 0 < value(m, "leapserve_request_duration_seconds_sum", model="rf", rpc="Predict", code="OK") < 6
    assert value(m, "leapserve_requests_total", model="rf", rpc="PredictBatch", code="OK") == 1
    assert value(m, "leapserve_requests_total", model="rf", rpc="PredictStream", code="OK") == 1
    assert value(m, "leapserve_requests_total", model="rf", rpc="PredictStream", code="INVALID_ARGUMENT") == 1
    assert value(m, "leapserve_rows_total", model="rf", rpc="Predict", outcome="ok") == 6
    assert value(m, "leapserve_rows_total", model="rf", rpc="Predict", outcome="invalid") == 1
    assert value(m, "leapserve_rows_total", model="rf", rpc="PredictBatch", outcome="ok") == 3
    assert value(m, "leapserve_rows_total", model="rf", rpc="PredictBatch", outcome="invalid") == 1
    assert value(m, "leapserve_rows_total", model="rf", rpc="PredictStream", outcome="ok") == 1
    assert value(m, "leapserve_model_loads_total", model="rf", version="1") == 1
    assert value(m, "leapserve_models_loaded") == 1
    assert value(m, "leapserve_ready") == 1
    assert value(m, "leapserve_build_info") == 1
    assert value(m, "process_resident_memory_bytes") > 10e6
    assert not any(name.endswith("_created") for name, _ in m)

    # A changed bundle is reloaded; a broken one fails and the previous copy keeps serving.
    tmp = models / ".rf.zip.tmp"
    shutil.copyfile(LR_ZIP, tmp)
    tmp.replace(models / "rf.zip")
    wait_for(lambda: value(samples(scrape(metrics_port)), "leapserve_model_reloads_total", model="rf") == 1,
             what="a reload")
    tmp.write_bytes(b"this is not a zip file")
    tmp.replace(models / "rf.zip")
    wait_for(lambda: value(samples(scrape(metrics_port)), "leapserve_model_load_failures_total", model="rf",
                           stage="reload") == 1, what="a failed reload")
    (models / "rf.zip").unlink()
    wait_for(lambda: value(samples(scrape(metrics_port)), "leapserve_model_unloads_total", model="rf") == 1,
             what="an unload")
    # The unload event is counted before the state listeners update the gauge.
    wait_for(lambda: value(samples(scrape(metrics_port)), "leapserve_models_loaded") == 0,
             what="leapserve_models_loaded 0")
    m = samples(scrape(metrics_port))
    assert value(m, "leapserve_model_load_duration_seconds_count", model="rf") == 3


def test_open_inference_protocol_rows(start_server):
    """ModelInfer through tritonclient: rows counted from the output tensors."""
    import numpy as np

    tritonclient = pytest.importorskip("tritonclient.grpc")
    metrics_port = free_port()
    server = start_server("--model", f"rf={RF_ZIP}", "--metrics-port", metrics_port, "--reload-interval", "0")
    record = airbnb_record()
    client = tritonclient.InferenceServerClient(server.address)
    inputs = []
    for name, v in record.items():
        if isinstance(v, str):
            t = tritonclient.InferInput(name, [3], "BYTES")
            t.set_data_from_numpy(np.array([v.encode()] * 3, dtype=object))
        else:
            t = tritonclient.InferInput(name, [3], "FP64")
            t.set_data_from_numpy(np.array([float(v)] * 3))
        inputs.append(t)
    client.infer("rf", inputs)
    client.close()
    m = samples(scrape(metrics_port))
    assert value(m, "leapserve_requests_total", model="rf", version="1", rpc="ModelInfer", code="OK") == 1
    assert value(m, "leapserve_rows_total", model="rf", rpc="ModelInfer", outcome="ok") == 3


def test_workers_metrics_are_summed(start_server):
    """--workers 2: each worker writes its values, the supervisor serves their sum."""
    metrics_port = free_port()
    server = start_server("--model", f"rf={RF_ZIP}", "--workers", "2", "--metrics-port", metrics_port,
                          "--reload-interval", "0")
    record = airbnb_record()
    for _ in range(8):  # a new connection each time: the kernel spreads them over the workers
        with grpc.insecure_channel(server.address, options=[("grpc.use_local_subchannel_pool", 1)]) as ch:
            prediction_stub(ch).Predict(predict_request("rf", record), timeout=10)
    wait_for(lambda: value(samples(scrape(metrics_port)), "leapserve_models_loaded") == 1, what="models loaded")
    m = samples(scrape(metrics_port))
    assert value(m, "leapserve_requests_total", model="rf", rpc="Predict", code="OK") == 8
    # Both workers loaded the model once each.
    wait_for(lambda: value(samples(scrape(metrics_port)), "leapserve_model_loads_total", model="rf") == 2,
             what="both workers' loads")
    assert server.stop() == 0


def test_batch_outcomes_read_from_the_end():
    """The counts of a PredictBatchResponse are read backwards from its last bytes (no parse)."""
    from leapserve.v1 import prediction_pb2 as pb
    from leapserve.server.wire import varint
    from leapserve.server.metrics import batch_outcomes

    for ok, invalid, skipped in ((3, 0, 0), (0, 2, 0), (0, 0, 1), (200, 1, 0), (1, 0, 300), (0, 128, 129),
                                 (5000, 17, 4)):
        n = ok + invalid + skipped
        response = pb.PredictBatchResponse(model="m", version="1", ok_count=ok, invalid_count=invalid,
                                           skipped_count=skipped)
        for i in range(min(n, 50)):  # records whose bytes look like counts must not confuse it
            response.results.add().outputs["x"].int_value = 0x28 + i
        data = response.SerializeToString()
        assert batch_outcomes(data, n) == (ok, invalid, skipped)
        # Garbage before the counts cannot be parsed: only the fast path can answer this.
        tail = b"".join(tag + varint(count) for tag, count in ((b"\x28", ok), (b"\x30", invalid), (b"\x38", skipped))
                        if count)
        assert data.endswith(tail)
        assert batch_outcomes(b"\x1a\xff\xff\xff" + tail, n) == (ok, invalid, skipped)
