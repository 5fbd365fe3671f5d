"""Clients at full speed for the fault and soak tests: threads sending Predict, PredictBatch,
PredictStream (one long stream per thread) and Open Inference Protocol ModelInfer calls to one
model, checking every answer, counting requests and failures.

The model ``lin`` used here is a hand-written bundle family: version k is a linear regression over
``features = [a, b]`` with coefficients (k, 2k) and intercept k, so its prediction is
k * (1 + a + 2b): an answer tells which version computed it, and an answer from no complete
version (a torn model) matches no k.
"""

from __future__ import annotations

import math
import random
import struct
import threading
import time
from dataclasses import dataclass, field

import grpc

from tests.support.bundles import json_lr_entries
from leapserve.v1 import prediction_pb2 as pb
from leapserve.v1 import prediction_pb2_grpc as pb_grpc


def lin_entries(k: int) -> dict:
    return json_lr_entries([float(k), 2.0 * k], float(k))


def lin_version_of(prediction: float, a: float, b: float) -> int | None:
    """The k whose model answers ``prediction`` for (a, b), or None."""
    scale = 1.0 + a + 2.0 * b
    k = round(prediction / scale)
    if k >= 1 and math.isclose(prediction, k * scale, rel_tol=1e-12, abs_tol=1e-12):
        return k
    return None


@dataclass
class Stats:
    requests: int = 0
    failures: int = 0
    wrong: int = 0
    by_kind: dict = field(default_factory=dict)
    versions_seen: set = field(default_factory=set)
    errors: list = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def ok(self, kind: str, versions=(), count: int = 1) -> None:
        with self.lock:
            self.requests += count
            self.by_kind[kind] = self.by_kind.get(kind, 0) + count
            self.versions_seen.update(versions)

    def fail(self, kind: str, what: str, wrong: bool = False) -> None:
        with self.lock:
            self.requests += 1
            self.failures += 1
            self.wrong += wrong
            self.by_kind[kind] = self.by_kind.get(kind, 0) + 1
            if len(self.errors) < 20:
                self.errors.append(f"{kind}: {what}")

    def summary(self) -> dict:
        return {"requests": self.requests, "failures": self.failures, "wrong_answers": self.wrong,
                "by_kind": dict(self.by_kind), "versions_seen": len(self.versions_seen)}


class LinClients:
    """Threads scoring model ``model`` (a ``lin`` family) until stop(); every answer must come from
    one of the versions in ``allowed`` (a set the writer grows before writing a version)."""

    def __init__(self, address: str, model: str, allowed: set, *, kinds=("predict", "batch", "stream", "oip"),
                 threads_per_kind: int = 1, timeout: float = 10.0):
        self.address = address
        self.model = model
        self.allowed = allowed
        self.kinds = kinds
        self.threads_per_kind = threads_per_kind
        self.timeout = timeout
        self.stats = Stats()
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []

    def start(self) -> "LinClients":
        for kind in self.kinds:
            for i in range(self.threads_per_kind):
                t = threading.Thread(target=self._run, args=(kind, i), name=f"client-{kind}-{i}", daemon=True)
                t.start()
                self._threads.append(t)
        return self

    def stop(self) -> Stats:
        self._stop.set()
        for t in self._threads:
            t.join(60)
        assert not any(t.is_alive() for t in self._threads), "a client thread hangs"
        return self.stats

    def _check(self, kind: str, prediction: float, a: float, b: float) -> int | None:
        k = lin_version_of(prediction, a, b)
        if k is None or k not in self.allowed:
            self.stats.fail(kind, f"prediction {prediction!r} for a={a!r}, b={b!r} comes from no version "
                                  f"written ({sorted(self.allowed)[-5:]})", wrong=True)
            return None
        return k

    def _run(self, kind: str, index: int) -> None:
        rnd = random.Random(hash((kind, index)))
        with grpc.insecure_channel(self.address) as channel:
            try:
                getattr(self, f"_{kind}")(channel, rnd)
            except Exception as e:  # a failure of the client itself counts too
                self.stats.fail(kind, f"client error {type(e).__name__}: {e}")

    def _request(self, rnd):
        a, b = rnd.random(), rnd.random()
        req = pb.PredictRequest(model=self.model, outputs=["prediction"])
        req.inputs["a"].double_value = a
        req.inputs["b"].double_value = b
        return req, a, b

    def _predict(self, channel, rnd):
        stub = pb_grpc.PredictionServiceStub(channel)
        while not self._stop.is_set():
            req, a, b = self._request(rnd)
            try:
                r = stub.Predict(req, timeout=self.timeout)
            except grpc.RpcError as e:
                self.stats.fail("predict", f"{e.code().name}: {e.details()}")
                continue
            k = self._check("predict", r.outputs["prediction"].double_value, a, b)
            if k is not None:
                self.stats.ok("predict", (k,))

    def _batch(self, channel, rnd):
        stub = pb_grpc.PredictionServiceStub(channel)
        while not self._stop.is_set():
            req = pb.PredictBatchRequest(model=self.model, outputs=["prediction"])
            inputs = []
            for _ in range(16):
                a, b = rnd.random(), rnd.random()
                fields = req.records.add().fields
                fields["a"].double_value = a
                fields["b"].double_value = b
                inputs.append((a, b))
            try:
                r = stub.PredictBatch(req, timeout=self.timeout)
            except grpc.RpcError as e:
                self.stats.fail("batch", f"{e.code().name}: {e.details()}")
                continue
            ks = set()
            for row, (a, b) in zip(r.results, inputs):
                if row.outcome != pb.RowResult.OK:
                    self.stats.fail("batch", f"row {row.status.message}")
                    break
                k = self._check("batch", row.outputs["prediction"].double_value, a, b)
                if k is None:
                    break
                ks.add(k)
            else:
                if len(ks) != 1:  # one call, one version
                    self.stats.fail("batch", f"one batch answered by versions {sorted(ks)}", wrong=True)
                else:
                    self.stats.ok("batch", ks, count=1)

    def _stream(self, channel, rnd):
        stub = pb_grpc.PredictionServiceStub(channel)
        while not self._stop.is_set():
            sent: list = []
            cond = threading.Condition()

            def requests():
                while not self._stop.is_set():
                    with cond:
                        while len(sent) >= 8 and not self._stop.is_set():  # at most 8 in flight
                            cond.wait(0.1)
                        if self._stop.is_set():
                            return
                        req, a, b = self._request(rnd)
                        sent.append((a, b))
                    yield req

            try:
                for r in stub.PredictStream(requests(), timeout=3600):
                    with cond:
                        a, b = sent.pop(0)
                        cond.notify()
                    if r.HasField("status") and r.status.code:
                        self.stats.fail("stream", f"status {r.status.code}: {r.status.message}")
                        continue
                    k = self._check("stream", r.outputs["prediction"].double_value, a, b)
                    if k is not None:
                        self.stats.ok("stream", (k,))
            except grpc.RpcError as e:
                if not self._stop.is_set():
                    self.stats.fail("stream", f"{e.code().name}: {e.details()}")

    def _oip(self, channel, rnd):
        from tritonclient.grpc import service_pb2 as tpb
        from tritonclient.grpc import service_pb2_grpc as tpb_grpc

        stub = tpb_grpc.GRPCInferenceServiceStub(channel)
        n = 8
        while not self._stop.is_set():
            a = [rnd.random() for _ in range(n)]
            b = [rnd.random() for _ in range(n)]
            req = tpb.ModelInferRequest(model_name=self.model)
            req.inputs.add(name="a", datatype="FP64", shape=[n])
            req.inputs.add(name="b", datatype="FP64", shape=[n, 1])
            req.raw_input_contents.extend([struct.pack(f"<{n}d", *a), struct.pack(f"<{n}d", *b)])
            req.outputs.add(name="prediction")
            try:
                r = stub.ModelInfer(req, timeout=self.timeout)
            except grpc.RpcError as e:
                self.stats.fail("oip", f"{e.code().name}: {e.details()}")
                continue
            preds = struct.unpack(f"<{n}d", r.raw_output_contents[0])
            ks = {self._check("oip", p, x, y) for p, x, y in zip(preds, a, b)}
            if None in ks:
                continue
            if len(ks) != 1:
                self.stats.fail("oip", f"one call answered by versions {sorted(ks)}", wrong=True)
            else:
                self.stats.ok("oip", ks)


def wait_until(predicate, timeout: float, what: str, interval: float = 0.05):
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(interval)
