"""Soak: a server under steady mixed traffic for a bounded time, its memory (RSS, from /proc)
sampled every half second. After the warm-up, memory must grow by less than 5% (the median of the
last tenth of the run against the median of the tenth right after the warm-up).

Traffic: Predict, PredictBatch, PredictStream and ModelInfer at full speed on a hand-written model
reloaded every 2 s, MLeap's airbnb random forest scored with valid and invalid records, unknown
models, and requests for a fresh output selection now and then (compiled programs are cached per
selection: the cache must stay bounded).
"""

from __future__ import annotations

import os
import random
import shutil
import statistics
import threading
import time

import grpc
import pytest

from tests.support.bundles import RF_ZIP, airbnb_record, write_zip
from tests.support.processes import server_rss_kib, server_thread_count
from leapserve.v1 import prediction_pb2 as pb
from leapserve.v1 import prediction_pb2_grpc as pb_grpc
from tests.support.traffic import LinClients, lin_entries

RF_OUTPUTS = ["price_prediction", "features_rf", "state_index", "scaled_continuous_features", "room_type_index"]


def _rf_traffic(address, stop: threading.Event, counts: dict, errors: list):
    record = airbnb_record()
    rnd = random.Random(7)
    with grpc.insecure_channel(address) as ch:
        stub = pb_grpc.PredictionServiceStub(ch)
        while not stop.is_set():
            req = pb.PredictRequest(model="rf")
            bad = rnd.random() < 0.3
            for k, v in record.items():
                if isinstance(v, str):
                    req.inputs[k].string_value = "Atlantis" if bad and k == "state" else v
                else:
                    req.inputs[k].double_value = float(v) + rnd.random()
            # a random output selection: up to 31 distinct ones, compiled and cached by the server
            req.outputs.extend([o for o in RF_OUTPUTS if rnd.random() < 0.5] or ["price_prediction"])
            if rnd.random() < 0.05:
                req.model = "ghost"
            try:
                stub.Predict(req, timeout=10)
                counts["rf ok"] += 1
            except grpc.RpcError as e:
                expected = (grpc.StatusCode.INVALID_ARGUMENT if bad else None,
                            grpc.StatusCode.NOT_FOUND if req.model == "ghost" else None)
                if e.code() in expected:
                    counts["rf refused as expected"] += 1
                else:
                    counts["rf failures"] += 1
                    errors.append(f"{e.code().name}: {e.details()}"[:200])


def _soak(start_server, tmp_path, seconds: float, warmup: float, figures):
    models = tmp_path / "models"
    models.mkdir()
    target = models / "lin.zip"
    write_zip(target, lin_entries(1))
    shutil.copyfile(RF_ZIP, models / "rf.zip")
    allowed = {1}
    server = start_server("--model-dir", models, "--reload-interval", "0.2", "--log-level", "error",
                          "--threads", "8")
    stop = threading.Event()
    counts = {"rf ok": 0, "rf refused as expected": 0, "rf failures": 0}
    errors: list = []
    clients = LinClients(server.address, "lin", allowed).start()
    rf_threads = [threading.Thread(target=_rf_traffic, args=(server.address, stop, counts, errors)) for _ in range(2)]
    for t in rf_threads:
        t.start()
    samples: list[tuple[float, int]] = []
    reloads = 0
    k = 1
    start = time.monotonic()
    next_reload = start + 2
    try:
        while (now := time.monotonic()) < start + seconds:
            samples.append((now - start, server_rss_kib(server)))
            if now >= next_reload:
                k += 1
                allowed.add(k)
                write_zip(tmp_path / ".lin.tmp", lin_entries(k))
                os.replace(tmp_path / ".lin.tmp", target)
                reloads += 1
                next_reload = now + 2
            time.sleep(0.5)
    finally:
        stop.set()
        stats = clients.stop()
        for t in rf_threads:
            t.join(30)
    threads_after = server_thread_count(server)
    assert stats.failures == 0, stats.errors
    assert counts["rf failures"] == 0, errors[:5]
    after = [rss for t, rss in samples if t >= warmup]
    window = max(3, len(after) // 10)
    base = statistics.median(after[:window])
    end = statistics.median(after[-window:])
    growth = (end - base) / base
    figures(seconds=seconds, warmup_seconds=warmup, reloads=reloads, rss_kib_after_warmup=base, rss_kib_at_end=end,
            rss_kib_max=max(rss for _, rss in samples), growth_percent=round(100 * growth, 2),
            rss_samples=len(samples), server_threads_at_end=threads_after,
            requests=stats.requests + sum(counts.values()), failures=stats.failures + counts["rf failures"],
            by_kind={**stats.by_kind, **counts})
    assert growth < 0.05, f"memory grew {100 * growth:.1f}% after the warm-up ({base} -> {end} KiB)"


def test_soak_memory(start_server, tmp_path, figures):
    _soak(start_server, tmp_path, 30, 10, figures)


@pytest.mark.slow
def test_soak_memory_long(start_server, tmp_path, figures):
    _soak(start_server, tmp_path, 600, 60, figures)
