"""Fuzzed requests (hypothesis) against the runtime in process and against a real server over both
gRPC APIs: random field names, types, sizes, unicode, NaN and infinities, huge and malformed
vectors, empty requests, wrong tensor shapes and raw byte lengths in the Open Inference Protocol.

Properties: every request gets an answer before its deadline, with a status code a client can act
on (OK, INVALID_ARGUMENT, NOT_FOUND, RESOURCE_EXHAUSTED; never INTERNAL, UNKNOWN or a timeout);
the runtime raises nothing but ScoringError; afterwards the server is alive, serving, has logged no
internal error and holds no more threads than before (no leaked worker).

Models served: MLeap's airbnb random forest and linear regression (doubles and strings), its
one-hot pipeline (strings only), its scikit-learn demo (field names with colons), and hand-written
JSON and protobuf bundles (scalars into an assembler; a vector input of size 3).
"""

from __future__ import annotations

import math
import shutil
import struct
import threading
import time

import grpc
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.support.bundles import FIXTURES, LR_ZIP, RF_ZIP, airbnb_record, json_lr_entries, pb_lr_entries, write_zip
from tests.support.processes import server_thread_count
from leapserve.v1 import prediction_pb2 as pb
from leapserve.v1 import prediction_pb2_grpc as pb_grpc
from leapserve.v1 import value_pb2

ACCEPTABLE = {grpc.StatusCode.OK, grpc.StatusCode.INVALID_ARGUMENT, grpc.StatusCode.NOT_FOUND,
              grpc.StatusCode.RESOURCE_EXHAUSTED}
ACCEPTABLE_CODES = {c.value[0] for c in ACCEPTABLE}
TIMEOUT = 20.0

SHORT, LONG = 150, 5000  # examples per API in the short and the slow (-m slow) runs


# --- the models ----------------------------------------------------------------------------------

def _model_files(folder):
    folder.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(RF_ZIP, folder / "rf.zip")
    shutil.copyfile(LR_ZIP, folder / "lr.zip")
    shutil.copyfile(FIXTURES / "one_hot_encoder_pipeline.zip", folder / "onehot.zip")
    shutil.copyfile(FIXTURES / "demo.zip", folder / "demo.zip")
    write_zip(folder / "lrjson.zip", json_lr_entries([1.5, -2.0], 0.25))
    write_zip(folder / "vec.zip", pb_lr_entries([1.0, -2.0, 3.0], 0.5))
    return folder


@pytest.fixture(scope="module")
def pipelines(tmp_path_factory):
    from leapserve.runtime import load_bundle

    folder = _model_files(tmp_path_factory.mktemp("fuzz-models"))
    return {p.stem: load_bundle(p) for p in sorted(folder.glob("*.zip"))}


@pytest.fixture(scope="module")
def fuzz_server(start_module_server, tmp_path_factory):
    """A real server (module-scoped: hypothesis runs many examples against one process)."""
    folder = _model_files(tmp_path_factory.mktemp("fuzz-served"))
    server = start_module_server("--model-dir", folder, "--reload-interval", "0", "--threads", THREADS,
                                 "--max-concurrent-streams", "0", "--max-message-size", "16M",
                                 "--max-batch-rows", "2000")
    assert_all_workers_free(server)
    # the request threads start on demand, up to THREADS: the most the fuzzing may leave
    server.baseline_threads = server_thread_count(server) + THREADS
    return server


THREADS = 8


def assert_all_workers_free(server, timeout: float = 10.0) -> None:
    """Hold THREADS PredictStreams open at once and get an answer on each (the event loop is not
    stuck), and meanwhile THREADS PredictBatch calls at once (they run on the request threads: all
    answered only when no thread is stuck for good in an earlier call)."""
    record = airbnb_record()
    req = pb.PredictRequest(model="rf", outputs=["price_prediction"])
    for k, v in record.items():
        if isinstance(v, str):
            req.inputs[k].string_value = v
        else:
            req.inputs[k].double_value = float(v)
    release = threading.Event()
    answered = []
    channels = [grpc.insecure_channel(server.address) for _ in range(THREADS)]
    calls = []
    try:
        for ch in channels:
            def requests():
                yield req
                release.wait(timeout + 5)
            call = pb_grpc.PredictionServiceStub(ch).PredictStream(requests(), timeout=timeout + 10)
            calls.append(call)
        deadline = time.monotonic() + timeout
        for call in calls:
            # next() on each: every stream must be answered while all of them are open
            r = next(call)
            assert time.monotonic() < deadline, "the server's event loop is stuck"
            answered.append(r.outputs["price_prediction"].double_value)
        batch = pb.PredictBatchRequest(model="rf", outputs=["price_prediction"])
        batch.records.add().fields.MergeFrom(req.inputs)
        batches = [pb_grpc.PredictionServiceStub(ch).PredictBatch.future(batch, timeout=timeout) for ch in channels]
        for f in batches:
            assert f.result().results, "a request thread of the server is stuck"
    finally:
        release.set()
        for call in calls:
            call.cancel()
        for ch in channels:
            ch.close()
    assert len(answered) == THREADS


def _inputs(pipelines) -> dict[str, list[str]]:
    return {name: list(p.inputs) for name, p in pipelines.items()}


# --- values --------------------------------------------------------------------------------------

floats = st.floats(allow_nan=True, allow_infinity=True) | st.sampled_from([math.nan, math.inf, -math.inf, 0.0, -0.0,
                                                                          1e308, -1e-308, 5e-324])
float_lists = st.lists(floats, max_size=8) | st.integers(0, 120_000).map(lambda n: [0.5] * n)


@st.composite
def vectors(draw):
    """("vector", size, indices, values): dense, sparse, or nonsense (negative sizes, indices out of
    range, unsorted or repeated, counts that disagree)."""
    values = draw(float_lists)
    kind = draw(st.sampled_from(["dense", "dense", "sparse", "nonsense"]))
    if kind == "dense":
        return ("vector", draw(st.sampled_from([0, len(values)])), [], values)
    size = draw(st.integers(0, 50) | st.sampled_from([2**31, 2**40, 2**62, -1, -2**63]))
    if kind == "sparse" and size > 0:
        idx = sorted(set(draw(st.lists(st.integers(0, min(size, 10**6) - 1), max_size=8))))
        return ("vector", size, idx, draw(st.lists(floats, min_size=len(idx), max_size=len(idx))))
    return ("vector", size, draw(st.lists(st.integers(-2**63, 2**63 - 1), max_size=8)), values)


scalars = st.one_of(
    floats.map(lambda x: ("double_value", x)),
    st.floats(width=32, allow_nan=True, allow_infinity=True).map(lambda x: ("float_value", x)),
    st.integers(-2**63, 2**63 - 1).map(lambda x: ("int_value", x)),
    st.booleans().map(lambda x: ("bool_value", x)),
    st.text(max_size=20).map(lambda x: ("string_value", x)),
    st.sampled_from(["Other", "NY", "Entire home/apt", "1.0", "nan", "", "\x00", "é" * 3, "💥"]).map(
        lambda x: ("string_value", x)),
    st.binary(max_size=16).map(lambda x: ("bytes_value", x)),
    st.just(("null_value", 0)),
    st.just(("unset", None)),
)
values = st.recursive(scalars | vectors(), lambda inner: st.lists(inner, max_size=4).map(lambda xs: ("list", xs)),
                      max_leaves=8)


def fill_value(msg, spec) -> None:
    kind, *rest = spec
    if kind == "unset":
        return
    if kind == "vector":
        size, indices, vals = rest
        msg.vector_value.size = size
        msg.vector_value.indices.extend(indices)
        msg.vector_value.values.extend(vals)
    elif kind == "list":
        msg.list_value.SetInParent()
        for item in rest[0]:
            fill_value(msg.list_value.values.add(), item)
    else:
        setattr(msg, kind, rest[0])


def python_value(spec):
    """The same value as the codec hands it to the runtime."""
    from leapserve.server.codec import decode_value

    msg = value_pb2.Value()
    fill_value(msg, spec)
    return decode_value("x", msg)


def valid_value(field: str, pipeline):
    t = pipeline.inputs[field]
    if t.kind == "scalar" and t.base == "string":
        record = airbnb_record()
        return ("string_value", record.get(field, "a"))
    if t.is_vector:
        return ("vector", 0, [], [0.5] * (t.size or 3))
    return ("double_value", 1.5)


@st.composite
def records(draw, pipeline):
    """A record for ``pipeline``: its inputs, some valid, some fuzzed, some missing, plus strangers."""
    fields = {name: valid_value(name, pipeline) for name in pipeline.inputs}
    mode = draw(st.sampled_from(["valid", "one field", "one field", "many fields"]))
    names = list(fields)
    if mode == "one field":
        names = [draw(st.sampled_from(names))]
    elif mode == "valid":
        names = []
    for name in names:
        if mode == "many fields" and draw(st.booleans()):
            continue
        if draw(st.integers(0, 9)) == 0:
            del fields[name]  # missing
        else:
            fields[name] = draw(values)
    for name in draw(st.lists(st.text(max_size=12), max_size=2)):
        fields[name] = draw(values)
    return fields


# --- the runtime in process ------------------------------------------------------------------------

RUNTIME_OUTCOMES: dict[str, int] = {}


def _runtime_run(pipelines, examples, figures):
    from leapserve.server.codec import ModelCodec
    from leapserve.runtime import ScoringError

    names = sorted(pipelines)
    RUNTIME_OUTCOMES.clear()

    @st.composite
    def cases(draw):
        name = draw(st.sampled_from(names))
        p = pipelines[name]
        rows = draw(st.lists(records(p), min_size=1, max_size=4))
        outputs = draw(st.none() | st.lists(st.sampled_from(list(p.outputs)) | st.text(max_size=6), max_size=3))
        return name, rows, outputs

    @settings(max_examples=examples, deadline=None, derandomize=examples <= SHORT * 4, database=None,
              suppress_health_check=list(HealthCheck))
    @given(cases())
    def run(case):
        name, rows, outputs = case
        p = pipelines[name]
        codec = ModelCodec(p)
        decoded = []
        for row in rows:
            msg = pb.PredictRequest()
            for k, spec in row.items():
                fill_value(msg.inputs[k], spec)
            try:
                decoded.append(codec.decode_record(msg.inputs))
            except ScoringError:
                RUNTIME_OUTCOMES["refused by the codec"] = RUNTIME_OUTCOMES.get("refused by the codec", 0) + 1
                return
        for rec in decoded:
            try:
                p.transform(rec, outputs)
                outcome = "scored"
            except ScoringError:
                outcome = "invalid input"
            RUNTIME_OUTCOMES[outcome] = RUNTIME_OUTCOMES.get(outcome, 0) + 1
        wanted = list(p.required_inputs()) if outputs is None else list(p.inputs)
        columns = {k: [rec.get(k) for rec in decoded] for k in wanted}
        try:
            p.transform_batch(columns, outputs)
            outcome = "batch scored"
        except ScoringError:
            outcome = "batch invalid"
        RUNTIME_OUTCOMES[outcome] = RUNTIME_OUTCOMES.get(outcome, 0) + 1

    run()
    figures(cases=examples, outcomes=dict(RUNTIME_OUTCOMES), crashes=0)


def test_runtime_fuzzed_records(pipelines, figures):
    _runtime_run(pipelines, SHORT * 2, figures)


@pytest.mark.slow
def test_runtime_fuzzed_records_long(pipelines, figures):
    _runtime_run(pipelines, LONG * 2, figures)


# --- leapserve.v1 over gRPC -------------------------------------------------------------------------

class Tally:
    def __init__(self):
        self.codes: dict[str, int] = {}
        self.requests = 0
        self.bad: list[str] = []
        self.samples: list[str] = []

    def add(self, code_name: str, what: str = "") -> None:
        self.requests += 1
        self.codes[code_name] = self.codes.get(code_name, 0) + 1
        if code_name == "RESOURCE_EXHAUSTED" and len(self.samples) < 5:
            self.samples.append(what[:200])
        if code_name not in {c.name for c in ACCEPTABLE}:
            self.bad.append(f"{code_name}: {what[:300]}")


def _predict_request(draw, pipelines, names):
    name = draw(st.sampled_from(names * 6 + ["nope", "", "rf/../lr", "../../etc/passwd", "💥"]))
    p = pipelines.get(name, pipelines["rf"])
    req = pb.PredictRequest(model=name, version=draw(st.sampled_from(["", "", "", "", "1", "2", "../1", "\x00"])),
                            request_id=draw(st.text(max_size=10)))
    for k, spec in draw(records(p)).items():
        fill_value(req.inputs[k], spec)
    for o in draw(st.lists(st.sampled_from(list(p.outputs)) | st.text(max_size=8), max_size=3)):
        req.outputs.append(o)
    return req


def _v1_run(server, pipelines, examples, figures):
    stub = pb_grpc.PredictionServiceStub(server.open_channel())
    names = sorted(pipelines)
    tally = Tally()

    @st.composite
    def calls(draw):
        kind = draw(st.sampled_from(["predict", "predict", "batch", "stream", "metadata", "empty"]))
        if kind == "predict":
            return kind, _predict_request(draw, pipelines, names)
        if kind == "stream":
            return kind, [_predict_request(draw, pipelines, names) for _ in range(draw(st.integers(0, 6)))]
        if kind == "batch":
            name = draw(st.sampled_from(names * 4 + ["nope"]))
            p = pipelines.get(name, pipelines["rf"])
            req = pb.PredictBatchRequest(model=name, all_or_nothing=draw(st.booleans()))
            for rec in draw(st.lists(records(p), max_size=12)):
                fields = req.records.add().fields
                for k, spec in rec.items():
                    fill_value(fields[k], spec)
            for o in draw(st.lists(st.sampled_from(list(p.outputs)) | st.text(max_size=8), max_size=2)):
                req.outputs.append(o)
            if draw(st.integers(0, 19)) == 0:  # over --max-batch-rows
                for _ in range(2001):
                    req.records.add()
            return kind, req
        if kind == "metadata":
            return kind, pb.GetModelMetadataRequest(model=draw(st.sampled_from(names + ["nope", ""])),
                                                    version=draw(st.sampled_from(["", "1", "9"])))
        return kind, draw(st.sampled_from([pb.PredictRequest(), pb.PredictBatchRequest(), pb.GetModelMetadataRequest(),
                                           pb.ListModelsRequest()]))

    def call(kind, req):
        try:
            if kind == "predict":
                r = stub.Predict(req, timeout=TIMEOUT)
                assert r.model == req.model
            elif kind == "batch":
                r = stub.PredictBatch(req, timeout=TIMEOUT)
                assert len(r.results) == len(req.records) == r.ok_count + r.invalid_count + r.skipped_count
                for row in r.results:
                    if row.outcome != pb.RowResult.OK:
                        tally.add(grpc.StatusCode.INVALID_ARGUMENT.name if row.status.code == 3 else
                                  f"row status {row.status.code}", row.status.message)
            elif kind == "stream":
                responses = list(stub.PredictStream(iter(req), timeout=TIMEOUT))
                assert len(responses) == len(req)
                for r in responses:
                    code = r.status.code
                    if code not in ACCEPTABLE_CODES:
                        tally.add(f"stream status {code}", r.status.message)
                    else:
                        tally.add(next(c.name for c in ACCEPTABLE if c.value[0] == code))
                return
            elif kind == "metadata":
                stub.GetModelMetadata(req, timeout=TIMEOUT)
            else:
                method = {pb.PredictRequest: stub.Predict, pb.PredictBatchRequest: stub.PredictBatch,
                          pb.GetModelMetadataRequest: stub.GetModelMetadata, pb.ListModelsRequest: stub.ListModels}
                method[type(req)](req, timeout=TIMEOUT)
            tally.add("OK")
        except grpc.RpcError as e:
            tally.add(e.code().name, f"{kind}: {e.details()}")

    @settings(max_examples=examples, deadline=None, derandomize=examples <= SHORT, database=None,
              suppress_health_check=list(HealthCheck))
    @given(calls())
    def run(c):
        call(*c)

    run()
    _check_server_after(server, tally)
    figures(cases=examples, requests=tally.requests, codes=tally.codes, failures=len(tally.bad), resource_exhausted_samples=tally.samples)


def _check_server_after(server, tally):
    assert not tally.bad, tally.bad[:10]
    assert server.proc.poll() is None, "the server died"
    assert server.health() == "SERVING"
    log = server.log()
    assert "Traceback" not in log and "internal error" not in log and "failed (request id" not in log, log[-3000:]
    # No leaked worker: every request thread can take a call, and there are no more threads than
    # after the warm-up plus the request pool at its full size (its threads start on demand).
    assert_all_workers_free(server)
    deadline = time.monotonic() + 10
    while server_thread_count(server) > server.baseline_threads and time.monotonic() < deadline:
        time.sleep(0.2)
    assert server_thread_count(server) <= server.baseline_threads


def test_v1_fuzzed_requests(fuzz_server, pipelines, figures):
    _v1_run(fuzz_server, pipelines, SHORT, figures)


@pytest.mark.slow
def test_v1_fuzzed_requests_long(fuzz_server, pipelines, figures):
    _v1_run(fuzz_server, pipelines, LONG, figures)


# --- Open Inference Protocol over gRPC ---------------------------------------------------------------

DATATYPES = ["BOOL", "INT8", "INT16", "INT32", "INT64", "UINT8", "UINT16", "UINT32", "UINT64", "FP16", "FP32",
             "FP64", "BYTES"]
ITEMSIZE = {"BOOL": 1, "INT8": 1, "INT16": 2, "INT32": 4, "INT64": 8, "UINT8": 1, "UINT16": 2, "UINT32": 4,
            "UINT64": 8, "FP16": 2, "FP32": 4, "FP64": 8}
CONTENTS = {"BOOL": "bool_contents", "INT8": "int_contents", "INT16": "int_contents", "INT32": "int_contents",
            "INT64": "int64_contents", "UINT8": "uint_contents", "UINT16": "uint_contents",
            "UINT32": "uint_contents", "UINT64": "uint64_contents", "FP32": "fp32_contents",
            "FP64": "fp64_contents", "BYTES": "bytes_contents"}


@st.composite
def oip_tensor(draw, name, n, ftype):
    """(name, datatype, shape, typed contents or None, raw bytes or None): right, or wrong in one way."""
    if ftype is not None and ftype.kind == "scalar" and ftype.base == "string":
        datatype, shape = "BYTES", [n]
    elif ftype is not None and ftype.is_vector:
        datatype, shape = "FP64", [n, ftype.size or 3]
    else:
        datatype, shape = "FP64", draw(st.sampled_from([[n], [n, 1]]))
    wrong = draw(st.sampled_from(["none"] * 16 + ["datatype", "shape", "bytes", "values"]))
    if wrong == "datatype":
        datatype = draw(st.sampled_from(DATATYPES + ["FP128", "", "bytes", "STRING"]))
    elif wrong == "shape":
        shape = draw(st.lists(st.integers(-3, 6) | st.sampled_from([2**31, 2**62]), max_size=4))
    count = math.prod(shape) if shape and all(d >= 0 for d in shape) else 0
    count = count if count < 10_000 else 0
    if datatype == "BYTES":
        items = [draw(st.sampled_from([b"NY", b"Other", b"Entire home/apt", b"a"]) | st.binary(max_size=6))
                 for _ in range(count)]
        raw = b"".join(struct.pack("<I", len(b)) + b for b in items)
    else:
        size = ITEMSIZE.get(datatype, 8)
        arr = draw(st.lists(floats, min_size=count, max_size=count))
        if datatype in ("FP64", "FP32", "FP16"):
            with np.errstate(over="ignore"):
                raw = np.asarray(arr, dtype={"FP64": "<f8", "FP32": "<f4", "FP16": "<f2"}[datatype]).tobytes()
        else:
            raw = bytes(draw(st.binary(min_size=count * size, max_size=count * size)))
        items = arr
    if wrong == "bytes":
        cut = draw(st.integers(-8, 8))
        raw = raw[:max(0, len(raw) + cut)] if cut < 0 else raw + bytes(cut)
    if wrong == "values":
        items = items[:-1] if items else [1.0]
    use_raw = draw(st.booleans())
    return name, datatype, shape, (None if use_raw else items), (raw if use_raw else None)


def _oip_run(server, pipelines, examples, figures):
    from tritonclient.grpc import service_pb2 as tpb
    from tritonclient.grpc import service_pb2_grpc as tpb_grpc

    stub = tpb_grpc.GRPCInferenceServiceStub(server.open_channel())
    names = sorted(pipelines)
    tally = Tally()

    @st.composite
    def requests(draw):
        kind = draw(st.sampled_from(["infer"] * 12 + ["metadata", "ready", "empty"]))
        name = draw(st.sampled_from(names * 6 + ["nope", ""]))
        p = pipelines.get(name, pipelines["rf"])
        if kind == "metadata":
            return kind, tpb.ModelMetadataRequest(name=name, version=draw(st.sampled_from(["", "1", "7"])))
        if kind == "ready":
            return kind, tpb.ModelReadyRequest(name=name, version=draw(st.sampled_from(["", "1", "7"])))
        if kind == "empty":
            return "infer", tpb.ModelInferRequest()
        n = draw(st.integers(0, 6) | st.just(2001))
        req = tpb.ModelInferRequest(model_name=name, id=draw(st.text(max_size=8)))
        tensors = []
        for field in list(p.inputs) + draw(st.lists(st.text(max_size=6), max_size=2)):
            if draw(st.integers(0, 39)) == 0:
                continue  # a missing input
            tensors.append(draw(oip_tensor(field, n, p.inputs.get(field))))
        if draw(st.booleans()):
            tensors.reverse()
        use_raw = any(t[4] is not None for t in tensors)
        for tname, datatype, shape, items, raw in tensors:
            t = req.inputs.add(name=tname, datatype=datatype, shape=shape)
            if use_raw:
                req.raw_input_contents.append(raw if raw is not None else b"")
            elif items is not None and datatype in CONTENTS:
                field = getattr(t.contents, CONTENTS[datatype])
                try:
                    if datatype == "BYTES":
                        field.extend(items)
                    elif datatype == "BOOL":
                        field.extend([bool(x == x and x) for x in items])
                    elif datatype.startswith("FP"):
                        field.extend(items)
                    else:
                        field.extend([int(x) if math.isfinite(x) else 0 for x in items])
                except (TypeError, ValueError, OverflowError):
                    pass  # values this contents field cannot hold: leave it short
        if use_raw and draw(st.integers(0, 9)) == 0:
            req.raw_input_contents.append(b"extra")  # more raw contents than inputs
        for o in draw(st.lists(st.sampled_from(list(p.outputs)) | st.text(max_size=6), max_size=2)):
            req.outputs.add(name=o)
        return "infer", req

    def call(kind, req):
        try:
            if kind == "metadata":
                stub.ModelMetadata(req, timeout=TIMEOUT)
            elif kind == "ready":
                stub.ModelReady(req, timeout=TIMEOUT)
            else:
                r = stub.ModelInfer(req, timeout=TIMEOUT)
                assert r.model_name == req.model_name
            tally.add("OK")
        except grpc.RpcError as e:
            tally.add(e.code().name, f"{kind}: {e.details()}")

    @settings(max_examples=examples, deadline=None, derandomize=examples <= SHORT, database=None,
              suppress_health_check=list(HealthCheck))
    @given(requests())
    def run(c):
        call(*c)

    run()
    for empty in (tpb.ServerLiveRequest(), tpb.ServerReadyRequest(), tpb.ServerMetadataRequest()):
        getattr(stub, type(empty).__name__.removesuffix("Request"))(empty, timeout=TIMEOUT)
    _check_server_after(server, tally)
    figures(cases=examples, requests=tally.requests, codes=tally.codes, failures=len(tally.bad))


def test_oip_fuzzed_requests(fuzz_server, pipelines, figures):
    _oip_run(fuzz_server, pipelines, SHORT * 2, figures)


@pytest.mark.slow
def test_oip_fuzzed_requests_long(fuzz_server, pipelines, figures):
    _oip_run(fuzz_server, pipelines, LONG * 2, figures)


def test_no_thread_leak_after_concurrent_fuzzing(fuzz_server, pipelines, figures):
    """Several clients at once (each its own channel) sending the same kinds of requests: the
    server's threads return to their baseline afterwards."""
    names = sorted(pipelines)
    errors: list[str] = []
    sent = [0]

    def client(seed: int):
        rng = np.random.default_rng(seed)
        with grpc.insecure_channel(fuzz_server.address) as ch:
            stub = pb_grpc.PredictionServiceStub(ch)
            for _ in range(100):
                name = names[int(rng.integers(len(names)))]
                p = pipelines[name]
                req = pb.PredictRequest(model=name)
                for field in p.inputs:
                    if rng.random() < 0.8:
                        fill_value(req.inputs[field], valid_value(field, p))
                    else:
                        req.inputs[field].double_value = float(rng.choice([math.nan, math.inf, 1e308]))
                try:
                    stub.Predict(req, timeout=TIMEOUT)
                except grpc.RpcError as e:
                    if e.code() not in ACCEPTABLE:
                        errors.append(f"{e.code().name}: {e.details()}")
                sent[0] += 1

    threads = [threading.Thread(target=client, args=(i,)) for i in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    tally = Tally()
    tally.bad = errors
    _check_server_after(fuzz_server, tally)
    figures(requests=sent[0], failures=len(errors))
