"""The model directory misbehaving under a real server (`leapserve serve --model-dir`, loopback):

* a scan that fails (the folder renamed away, replaced by a file, unreadable: what an NFS or CSI
  hiccup looks like from the server) keeps every loaded model serving and is logged, once, with its
  recovery; a directory emptied for real unloads its models and the server turns NOT_SERVING;
* a new bundle still being copied into the folder is not read until it has stopped changing, and
  neither it nor a broken new bundle turns a ready server NOT_SERVING: only its own ``model:NAME``.
"""

from __future__ import annotations

import io
import os
import threading
import time

import grpc

from leapserve.v1 import prediction_pb2 as pb
from leapserve.v1 import prediction_pb2_grpc as pb_grpc
from tests.support.bundles import write_zip
from tests.support.metrics_text import samples, scrape, value
from tests.support.servers import free_port
from tests.support.traffic import lin_entries, wait_until

INTERVAL = "0.1"


def _predict(stub, model: str, a: float = 1.0, b: float = 2.0) -> float:
    req = pb.PredictRequest(model=model)
    req.inputs["a"].double_value = a
    req.inputs["b"].double_value = b
    return stub.Predict(req, timeout=10).outputs["prediction"].double_value


class _Watch:
    """A thread checking, every 20 ms until stop(), that the models answer (version k answers
    k * (1 + a + 2b) = 6k) and that the server's health stays SERVING."""

    def __init__(self, server, models: dict[str, int]):
        self.server, self.models = server, models
        self.errors: list[str] = []
        self.requests = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self):
        with grpc.insecure_channel(self.server.address) as ch:
            stub = pb_grpc.PredictionServiceStub(ch)
            while not self._stop.is_set():
                for name, k in self.models.items():
                    try:
                        got = _predict(stub, name)
                        if got != 6.0 * k:
                            self.errors.append(f"{name}: {got}, not {6.0 * k}")
                    except grpc.RpcError as e:
                        self.errors.append(f"{name}: {e.code().name}: {e.details()}")
                    self.requests += 1
                health = self.server.health()
                if health != "SERVING":
                    self.errors.append(f"health {health}")
                time.sleep(0.02)

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join(30)


def test_failed_scan_keeps_the_models(start_server, tmp_path, figures):
    models = tmp_path / "models"
    (models / "ver" / "3").mkdir(parents=True)
    write_zip(models / "lin.zip", lin_entries(1))
    write_zip(models / "ver" / "3" / "bundle.zip", lin_entries(3))
    metrics_port = free_port()
    server = start_server("--model-dir", models, "--reload-interval", INTERVAL, "--metrics-port", metrics_port)
    stub = pb_grpc.PredictionServiceStub(server.open_channel())
    away = tmp_path / "models.away"
    scan_metrics = []  # (failing, failures) while broken, then after the repair
    faults = []

    def failed_scans():
        return value(samples(scrape(metrics_port)), "leapserve_model_scan_failures_total")

    def fault(name, break_it, repair):
        with _Watch(server, {"lin": 1, "ver": 3}) as watch:
            before = failed_scans()
            break_it()
            wait_until(lambda: server.log().count("scanning the models failed") > len(faults), 10, "the failure logged")
            # several rounds of the watcher on the broken folder (one each 0.1 s), however slow they run
            wait_until(lambda: failed_scans() >= before + 5, 20, "five failed scans counted")
            names = {m.name for m in stub.ListModels(pb.ListModelsRequest(), timeout=10).models}
            broken = samples(scrape(metrics_port))
            repair()
            wait_until(lambda: server.log().count("scanning the models works again") > len(faults), 10,
                       "the recovery logged")
            time.sleep(0.3)
            repaired = samples(scrape(metrics_port))
            scan_metrics.append((value(broken, "leapserve_model_scan_failing"),
                                 value(repaired, "leapserve_model_scan_failing"),
                                 value(broken, "leapserve_model_scan_failures_total")))
        assert watch.errors == [], (name, watch.errors[:5])
        assert names == {"lin", "ver"}, name
        faults.append((name, watch.requests))

    # the folder renamed away and back (a remount, an operator's mv)
    fault("renamed", lambda: models.rename(away), lambda: away.rename(models))

    # the folder replaced by a file

    def replace_with_file():
        models.rename(away)
        models.write_bytes(b"not a folder")

    def restore():
        models.unlink()
        away.rename(models)

    fault("a file", replace_with_file, restore)

    if os.geteuid() != 0:  # root reads whatever the mode says
        fault("unreadable", lambda: models.chmod(0), lambda: models.chmod(0o755))
        fault("version folder unreadable", lambda: (models / "ver").chmod(0), lambda: (models / "ver").chmod(0o755))

    # the failure shows in the metrics while it lasts: a gauge at 1, a counter of failed scans growing
    assert all(failing == 1 and after == 0 for failing, after, _ in scan_metrics), scan_metrics
    counts = [count for _, _, count in scan_metrics]
    assert counts[0] >= 5 and counts == sorted(counts), scan_metrics  # ten rounds per fault, counted
    log = server.log()
    assert log.count("scanning the models failed") == len(faults)  # once per failure, not once per round
    assert "unloading" not in log and "NOT_SERVING" not in log

    # Emptied for real: the models go, and a server without a model is not ready (and says why).
    (models / "lin.zip").unlink()
    (models / "ver" / "3" / "bundle.zip").unlink()
    server.wait_health("NOT_SERVING", timeout=10)
    assert "NOT_SERVING: no model loaded" in server.log()
    write_zip(models / "lin.zip", lin_entries(2))
    server.wait_health("SERVING", timeout=10)
    assert _predict(stub, "lin") == 12.0
    figures(faults=[f[0] for f in faults], requests=sum(f[1] for f in faults))


def test_failed_scan_and_half_written_pin_keep_the_pinned_default(start_server, tmp_path):
    """A model rolled back by its default_version file stays rolled back while a scan fails (before,
    the incomplete scan dropped every pin: its highest version answered, the notes went from
    ListModels), and while the pin file is empty (`echo 3 > default_version` truncates it first)."""
    models = tmp_path / "models"
    (models / "mass").mkdir(parents=True)
    for k in (1, 2, 3):
        write_zip(models / "mass" / f"{k}.zip", lin_entries(k))
    write_zip(models / "mass" / "v4.zip", lin_entries(4))  # not served: a note
    pin = models / "mass" / "default_version"
    pin.write_text("2\n")
    metrics_port = free_port()
    server = start_server("--model-dir", models, "--reload-interval", INTERVAL, "--metrics-port", metrics_port)
    stub = pb_grpc.PredictionServiceStub(server.open_channel())
    assert _predict(stub, "mass") == 12.0

    def failed_scans():
        return value(samples(scrape(metrics_port)), "leapserve_model_scan_failures_total")

    def pinned_and_noted():
        (mass,) = stub.ListModels(pb.ListModelsRequest(), timeout=10).models
        return mass.pinned_default_version, [n for n in mass.notes if "v4.zip" in n]

    away = tmp_path / "models.away"
    with _Watch(server, {"mass": 2}) as watch:
        models.rename(away)
        wait_until(lambda: "scanning the models failed" in server.log(), 10, "the failure logged")
        # several rounds of the watcher on the broken folder (one each 0.1 s), however slow they run
        wait_until(lambda: failed_scans() >= 5, 20, "five failed scans counted")
        during = pinned_and_noted()
        away.rename(models)
        wait_until(lambda: "scanning the models works again" in server.log(), 10, "the recovery logged")
        time.sleep(0.3)
    assert watch.errors == [], watch.errors[:5]
    assert during[0] == "2" and len(during[1]) == 1, during
    assert pinned_and_noted()[0] == "2"

    def empty_pin_noted():
        (mass,) = stub.ListModels(pb.ListModelsRequest(), timeout=10).models
        if any("default_version: ignored" in n and "keeps the default version it pinned before" in n
               for n in mass.notes):
            return mass
        return None

    with _Watch(server, {"mass": 2}) as watch:
        pin.write_text("")
        mass = wait_until(empty_pin_noted, 20, "the empty default_version noted")
        time.sleep(0.3)  # a few more rounds of the watcher with the pin file empty
    assert watch.errors == [], watch.errors[:5]
    assert mass.pinned_default_version == "2"
    pin.write_text("3\n")
    wait_until(lambda: _predict(stub, "mass") == 18.0, 10, "pinned to 3")
    assert "no longer pinned" not in server.log()
    assert server.stop() == 0


def test_new_bundles_wait_until_stable_and_never_turn_readiness_off(start_server, tmp_path, figures):
    models = tmp_path / "models"
    models.mkdir()
    write_zip(models / "lin.zip", lin_entries(1))
    server = start_server("--model-dir", models, "--reload-interval", INTERVAL)
    stub = pb_grpc.PredictionServiceStub(server.open_channel())
    buffer = io.BytesIO()
    write_zip(buffer, lin_entries(4))
    data = buffer.getvalue()

    with _Watch(server, {"lin": 1}) as watch:
        # A new bundle copied slowly into the folder (64 bytes every 30 ms: several rounds of the
        # watcher see it half-written): not read before it is complete.
        with open(models / "late.zip", "wb") as f:
            for i in range(0, len(data), 64):
                f.write(data[i:i + 64])
                f.flush()
                time.sleep(0.03)
        wait_until(lambda: server.health("model:late") == "SERVING", 10, "late loaded")
        assert _predict(stub, "late") == 24.0

        # A broken new bundle: refused, shown under its own name, the server stays SERVING.
        (models / "broken.zip").write_bytes(b"this is not a zip file")
        wait_until(lambda: "broken.zip failed" in server.log(), 10, "the failure logged")
        server.wait_health("NOT_SERVING", "model:broken", timeout=10)
        versions = stub.GetModelMetadata(pb.GetModelMetadataRequest(model="broken"), timeout=10).versions
        assert versions[0].state == pb.FAILED and "broken.zip" in versions[0].error

        # A broken new version of a served model: the model's health shows it, the server's does not.
        (models / "ver" / "1").mkdir(parents=True)
        write_zip(models / "ver" / "1" / "bundle.zip", lin_entries(5))
        wait_until(lambda: server.health("model:ver") == "SERVING", 10, "ver loaded")
        (models / "ver" / "2.zip").write_bytes(b"garbage")
        # NOT_SERVING already while version 2 loads: wait for the failure itself
        wait_until(lambda: "model:ver NOT_SERVING: version 2: failed" in server.log(), 10, "ver's broken version shown")
        server.wait_health("NOT_SERVING", "model:ver", timeout=10)
    assert watch.errors == [], watch.errors[:5]
    log = server.log()
    assert "late.zip failed" not in log  # never read half-written
    assert "generation 1" in log and ": NOT_SERVING:" not in log  # the server's own health never turned
    # Each model's health changes are logged, naming the model and why.
    assert "model:broken NOT_SERVING: version 1: failed: BundleError" in log
    assert "model:ver NOT_SERVING: version 2: failed" in log and "model:late SERVING" in log
    assert stub.GetModelMetadata(pb.GetModelMetadataRequest(model="late"), timeout=10).versions[0].generation == 1
    figures(requests=watch.requests, bundle_bytes=len(data))
