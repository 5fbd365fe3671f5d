"""Faults under load, against real server processes:

* hot reload of a model every 300 ms (file replaced, and LoadModel through the admin API) while
  clients send Predict, PredictBatch, PredictStream and ModelInfer at full speed: no failed
  request, every answer from one complete version (one version per call);
* the bundle replaced by corrupt files (garbage, truncated zips, broken model.json, a file
  written slowly in place) under load: the old version keeps serving, no failed request;
* real MLeap bundles swapped under load (random forest <-> linear regression);
* client cancellations and deadline expiry in the middle of streams and calls: afterwards every
  request thread and every stream slot is free again.
"""

from __future__ import annotations

import os
import shutil
import threading
import time
from pathlib import Path

import grpc
import pytest

from tests.support.bundles import LR_ZIP, RF_ZIP, airbnb_record, edit_json, write_zip
from tests.support.processes import server_thread_count
from leapserve.v1 import model_service_pb2 as admin_pb
from leapserve.v1 import model_service_pb2_grpc as admin_grpc
from leapserve.v1 import prediction_pb2 as pb
from leapserve.v1 import prediction_pb2_grpc as pb_grpc
from tests.support.traffic import LinClients, lin_entries, wait_until

RELOAD_EVERY = 0.3


def _write_atomically(target: Path, entries: dict | bytes) -> None:
    tmp = target.with_name("." + target.name + ".tmp")
    if isinstance(entries, bytes):
        tmp.write_bytes(entries)
    else:
        write_zip(tmp, entries)
    os.replace(tmp, target)


def _generation(stub, model: str) -> int:
    return stub.GetModelMetadata(pb.GetModelMetadataRequest(model=model), timeout=10).versions[0].generation


# --- hot reload ----------------------------------------------------------------------------------

def _hot_reload(start_server, tmp_path, seconds: float, figures, threads_per_kind: int = 1):
    models = tmp_path / "models"
    models.mkdir()
    target = models / "lin.zip"
    write_zip(target, lin_entries(1))
    allowed = {1}
    server = start_server("--model", f"lin={target}", "--reload-interval", "0.1", "--admin",
                          "--admin-path", models, "--log-level", "warning")
    stub = pb_grpc.PredictionServiceStub(server.open_channel())
    admin = admin_grpc.ModelServiceStub(server.open_channel())
    clients = LinClients(server.address, "lin", allowed, threads_per_kind=threads_per_kind).start()
    writes = admin_loads = 0
    k = 1
    try:
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            time.sleep(RELOAD_EVERY)
            k += 1
            allowed.add(k)  # before the file: an answer may come from it as soon as it exists
            _write_atomically(target, lin_entries(k))
            writes += 1
            if k % 4 == 0:
                # and at once through the admin API, racing the watcher for the same file
                admin.LoadModel(admin_pb.LoadModelRequest(model="lin", version="1", path=str(target)), timeout=30)
                admin_loads += 1
        time.sleep(0.5)
    finally:
        stats = clients.stop()
    generation = _generation(stub, "lin")
    assert stats.failures == 0, stats.errors
    assert stats.requests > 100
    assert generation >= writes // 3, (generation, writes, admin_loads)  # writes may coalesce under load
    assert len(stats.versions_seen) >= min(10, generation // 2)
    figures(seconds=seconds, reloads_requested=writes + admin_loads, generations_loaded=generation,
            **stats.summary())


def test_hot_reload_under_load(start_server, tmp_path, figures):
    _hot_reload(start_server, tmp_path, 10, figures)


@pytest.mark.slow
def test_hot_reload_under_load_long(start_server, tmp_path, figures):
    _hot_reload(start_server, tmp_path, 180, figures, threads_per_kind=2)


# --- corrupt files ---------------------------------------------------------------------------------

def _corruptions(tmp: Path):
    """Bad things to find in place of a bundle: (name, writer(target))."""
    good = lin_entries(7)

    def garbage(target):
        _write_atomically(target, os.urandom(3000))

    def truncated(target):
        write_zip(tmp / "full.zip", lin_entries(8))
        data = (tmp / "full.zip").read_bytes()
        _write_atomically(target, data[:len(data) // 2])

    def bad_model(target):
        _write_atomically(target, edit_json(good, "root/lr.node/model.json",
                                            lambda d: d["attributes"].update(coefficients={"string": "x"})))

    def wrong_size(target):
        _write_atomically(target, edit_json(good, "root/lr.node/model.json", lambda d: d["attributes"][
            "coefficients"].update({"double": [1.0, 2.0, 3.0], "shape": {"dimensions": [{"size": 3, "name": ""}]}})))

    def empty(target):
        _write_atomically(target, b"")

    def zip_slip(target):
        _write_atomically(target, {**good, "../../escape.json": b"{}"})

    def slow_in_place(target):
        """Rewritten in place, slowly: the watcher sees a half-written file for several intervals."""
        write_zip(tmp / "next.zip", lin_entries(9))
        data = (tmp / "next.zip").read_bytes()
        with open(target, "wb") as f:
            for i in range(0, len(data), 64):
                f.write(data[i:i + 64])
                f.flush()
                time.sleep(0.02)

    return [("garbage", garbage), ("truncated zip", truncated), ("bad model.json", bad_model),
            ("vector size disagrees", wrong_size), ("empty file", empty), ("zip-slip", zip_slip),
            ("written slowly in place", slow_in_place)]


def _corrupt_under_load(start_server, tmp_path, rounds: int, figures):
    models = tmp_path / "models"
    models.mkdir()
    target = models / "lin.zip"
    write_zip(target, lin_entries(1))
    allowed = {1}
    server = start_server("--model", f"lin={target}", "--reload-interval", "0.1", "--log-level", "error")
    stub = pb_grpc.PredictionServiceStub(server.open_channel())
    clients = LinClients(server.address, "lin", allowed).start()
    corruptions = _corruptions(tmp_path)
    k = 1
    refused = 0
    try:
        for r in range(rounds):
            name, corrupt = corruptions[r % len(corruptions)]
            before = _generation(stub, "lin")
            if name == "written slowly in place":
                allowed.add(9)  # it ends as a good bundle (version 9)
            corrupt(target)
            if name != "written slowly in place":
                wait_until(lambda: server.health("model:lin") == "NOT_SERVING", 10, f"the failure of {name!r}")
                assert _generation(stub, "lin") == before  # the old copy serves on
                refused += 1
            time.sleep(RELOAD_EVERY)
            k += 1
            allowed.add(k)
            _write_atomically(target, lin_entries(k))
            wait_until(lambda: _generation(stub, "lin") > before and server.health("model:lin") == "SERVING", 10,
                       "a good bundle again")
    finally:
        stats = clients.stop()
    assert stats.failures == 0, stats.errors
    figures(rounds=rounds, corrupt_files_refused=refused, **stats.summary())


def test_corrupt_bundle_under_load(start_server, tmp_path, figures):
    _corrupt_under_load(start_server, tmp_path, 7, figures)


@pytest.mark.slow
def test_corrupt_bundle_under_load_long(start_server, tmp_path, figures):
    _corrupt_under_load(start_server, tmp_path, 140, figures)


# --- real bundles swapped ------------------------------------------------------------------------------

def test_real_bundles_swapped_under_load(start_server, tmp_path, figures):
    """MLeap's airbnb random forest and linear regression replace each other every 300 ms under
    Predict traffic: every answer is exactly one of the two models' answers."""
    from leapserve.runtime import load_bundle

    record = airbnb_record()
    answers = {load_bundle(p).transform(record)["price_prediction"] for p in (RF_ZIP, LR_ZIP)}
    assert len(answers) == 2
    target = tmp_path / "air.zip"
    shutil.copyfile(RF_ZIP, target)
    server = start_server("--model", f"air={target}", "--reload-interval", "0.1", "--log-level", "warning")
    req = pb.PredictRequest(model="air", outputs=["price_prediction"])
    for k, v in record.items():
        if isinstance(v, str):
            req.inputs[k].string_value = v
        else:
            req.inputs[k].double_value = float(v)
    stop = threading.Event()
    counts = {"requests": 0, "failures": 0, "rf": 0, "lr": 0}
    errors = []
    rf_answer = load_bundle(RF_ZIP).transform(record)["price_prediction"]

    def client():
        with grpc.insecure_channel(server.address) as ch:
            stub = pb_grpc.PredictionServiceStub(ch)
            while not stop.is_set():
                try:
                    got = stub.Predict(req, timeout=10).outputs["price_prediction"].double_value
                    if got not in answers:
                        raise AssertionError(f"{got} is neither model's answer")
                    counts["rf" if got == rf_answer else "lr"] += 1
                except (grpc.RpcError, AssertionError) as e:
                    counts["failures"] += 1
                    errors.append(str(e)[:200])
                counts["requests"] += 1

    threads = [threading.Thread(target=client) for _ in range(3)]
    for t in threads:
        t.start()
    swaps = 0
    try:
        end = time.monotonic() + 8
        while time.monotonic() < end:
            time.sleep(RELOAD_EVERY)
            shutil.copyfile(LR_ZIP if swaps % 2 == 0 else RF_ZIP, tmp_path / ".next")
            os.replace(tmp_path / ".next", target)
            swaps += 1
    finally:
        stop.set()
        for t in threads:
            t.join(30)
    assert counts["failures"] == 0, errors[:5]
    assert counts["rf"] > 0 and counts["lr"] > 0
    figures(swaps=swaps, **counts)


# --- cancellations and deadlines ------------------------------------------------------------------------

def _cancellations(start_server, tmp_path, rounds: int, figures):
    target = tmp_path / "lin.zip"
    write_zip(target, lin_entries(3))
    threads, streams = 4, 3
    server = start_server("--model", f"lin={target}", "--reload-interval", "0", "--threads", threads,
                          "--max-concurrent-streams", streams, "--log-level", "warning")
    baseline = server_thread_count(server)
    outcomes = {"cancelled mid-stream": 0, "deadline mid-stream": 0, "deadline before answer": 0,
                "cancelled unary": 0, "batch past its deadline": 0}

    def request(a=0.25, b=0.5):
        req = pb.PredictRequest(model="lin")
        req.inputs["a"].double_value = a
        req.inputs["b"].double_value = b
        return req

    with grpc.insecure_channel(server.address) as ch:
        stub = pb_grpc.PredictionServiceStub(ch)
        for r in range(rounds):
            kind = r % 5
            if kind == 0:
                # cancel a stream after a few answers, while its request iterator is blocked
                gate = threading.Event()

                def blocked():
                    for _ in range(3):
                        yield request()
                    gate.wait(10)

                call = stub.PredictStream(blocked(), timeout=30)
                for _ in range(3):
                    next(call)
                call.cancel()
                gate.set()
                outcomes["cancelled mid-stream"] += 1
            elif kind == 1:
                # the stream's deadline passes while the server waits for the next request
                gate = threading.Event()

                def slow():
                    yield request()
                    gate.wait(10)

                call = stub.PredictStream(slow(), timeout=0.3)
                try:
                    for _ in call:
                        pass
                    raise AssertionError("the stream outlived its deadline")
                except grpc.RpcError as e:
                    assert e.code() == grpc.StatusCode.DEADLINE_EXCEEDED
                gate.set()
                outcomes["deadline mid-stream"] += 1
            elif kind == 2:
                try:
                    stub.Predict(request(), timeout=0.0005)
                except grpc.RpcError as e:
                    assert e.code() == grpc.StatusCode.DEADLINE_EXCEEDED
                outcomes["deadline before answer"] += 1
            elif kind == 3:
                future = stub.Predict.future(request(), timeout=10)
                future.cancel()
                outcomes["cancelled unary"] += 1
            else:
                batch = pb.PredictBatchRequest(model="lin")
                for i in range(3000):
                    fields = batch.records.add().fields
                    fields["a"].double_value = i
                    fields["b"].string_value = "x" if i % 2 else "1"  # the row path: slower
                try:
                    stub.PredictBatch(batch, timeout=0.01)
                except grpc.RpcError as e:
                    assert e.code() == grpc.StatusCode.DEADLINE_EXCEEDED
                outcomes["batch past its deadline"] += 1

        # Every stream slot and request thread is free: hold `streams` streams open at once, each
        # answered, then one more is refused (the slots count right), then unary calls still flow.
        gates = [threading.Event() for _ in range(streams)]
        calls = []

        def held(gate):
            yield request()
            gate.wait(20)

        for gate in gates:
            call = stub.PredictStream(held(gate), timeout=30)
            next(call)
            calls.append(call)
        with pytest.raises(grpc.RpcError) as info:
            list(stub.PredictStream(iter([request()]), timeout=10))
        assert info.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
        assert stub.Predict(request(), timeout=10).outputs["prediction"].double_value == 3 * (1 + 0.25 + 2 * 0.5)
        for gate in gates:
            gate.set()
        for call in calls:
            assert list(call) == []
    deadline = time.monotonic() + 10
    while server_thread_count(server) > baseline + threads and time.monotonic() < deadline:
        time.sleep(0.2)
    after = server_thread_count(server)
    assert after <= baseline + threads, (baseline, after)
    assert server.proc.poll() is None and server.health() == "SERVING"
    assert "Traceback" not in server.log()
    figures(rounds=rounds, outcomes=outcomes, threads_before=baseline, threads_after=after, failures=0)


def test_cancellations_and_deadlines_release_resources(start_server, tmp_path, figures):
    _cancellations(start_server, tmp_path, 100, figures)


@pytest.mark.slow
def test_cancellations_and_deadlines_release_resources_long(start_server, tmp_path, figures):
    _cancellations(start_server, tmp_path, 3000, figures)
