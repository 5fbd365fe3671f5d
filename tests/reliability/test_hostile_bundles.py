"""Hostile and broken bundles: each one is refused with a BundleError that says what is wrong and
names the file, without writing anything, without blocking, and within bounded memory; a server
that meets them keeps serving the models it had, without one failed request.

The cases are in tests/support/hostile.py (zip-slip, zip bombs, truncated and corrupt zips, symbolic links and
FIFOs in directories, broken bundle.json / model.json / node.json, wrong attribute types, vector
sizes that disagree, broken trees, protobuf damage, and every LEAPSERVE_* limit).
"""

from __future__ import annotations

import json
import os
import shutil
import struct
import subprocess
import sys
import threading
import time
import zipfile
import zlib
from pathlib import Path

import grpc
import pytest

from tests.support.bundles import RF_ZIP, airbnb_record, entries_of, json_lr_entries, write_zip
from tests.support.hostile import ALL_CASES, Case
from leapserve.v1 import prediction_pb2 as pb
from leapserve.v1 import prediction_pb2_grpc as pb_grpc
from leapserve.runtime import BundleError, load_bundle
from leapserve.runtime.container import check_limits_env, limits

# Content cases also run as directory bundles (the same files, unzipped).
DIR_VARIANT = [c for c in ALL_CASES if not c.dir_only and not c.id.startswith(("zip", "duplicate", "truncated",
                                                                               "empty", "corrupt", "unknown comp",
                                                                               "jar:", "deep folder", "nested zips",
                                                                               "100 000", "entries over"))]


def _load_with_timeout(source, seconds: float = 60.0):
    """load_bundle in a thread: a bundle must never make loading block (a FIFO, /dev/zero)."""
    outcome: dict = {}

    def run():
        try:
            outcome["model"] = load_bundle(source)
        except BaseException as e:  # noqa: BLE001 - the test inspects whatever came out
            outcome["error"] = e

    t = threading.Thread(target=run, daemon=True)
    t.start()
    t.join(seconds)
    assert not t.is_alive(), f"loading {source} did not finish within {seconds} s"
    return outcome


def _tree(folder: Path) -> dict:
    return {str(p.relative_to(folder)): (p.is_symlink(), p.lstat().st_size if not p.is_dir() else 0)
            for p in folder.rglob("*")}


def _check_refused(case: Case, source, tmp_path: Path, names: str):
    before = _tree(tmp_path)
    outcome = _load_with_timeout(source)
    assert "model" not in outcome, f"{case.id}: the bundle loaded"
    error = outcome["error"]
    assert isinstance(error, BundleError), f"{case.id}: {type(error).__name__}: {error}"
    message = str(error)
    assert case.expect in message, f"{case.id}: {message}"
    assert names in message, f"{case.id}: the message does not name {names!r}: {message}"
    assert _tree(tmp_path) == before, "loading wrote into the bundle's folder"
    for evil in (tmp_path.parent / "evil.json", Path("/tmp/evil.json"), tmp_path / "evil.json"):
        assert not evil.exists()
    return message


@pytest.mark.parametrize("case", ALL_CASES, ids=lambda c: c.id)
def test_hostile_bundle_is_refused(case, tmp_path, monkeypatch):
    for k, v in case.env.items():
        monkeypatch.setenv(k, v)
    source = case.build(tmp_path)
    _check_refused(case, source, tmp_path, case.names)


@pytest.mark.parametrize("case", DIR_VARIANT, ids=lambda c: c.id)
def test_hostile_bundle_as_directory_is_refused(case, tmp_path, monkeypatch):
    for k, v in case.env.items():
        monkeypatch.setenv(k, v)
    built = tmp_path / "built"
    built.mkdir()
    archive = case.build(built)
    folder = tmp_path / "bundle"
    with zipfile.ZipFile(archive) as z:
        z.extractall(folder)  # these archives have safe names: only their content is hostile
    shutil.rmtree(built)
    _check_refused(case, folder, tmp_path, case.names.replace("bundle.zip!/", "bundle/"))


def test_symlinks_inside_the_bundle_are_followed(tmp_path):
    """Links that stay inside the bundle are fine (Kubernetes mounts ConfigMaps that way)."""
    from tests.support.bundles import entries_of, write_dir

    folder = write_dir(tmp_path / "bundle", entries_of(RF_ZIP))
    (folder / "..data").mkdir()
    os.replace(folder / "root/model.json", folder / "..data/model.json")
    os.symlink("../..data/model.json", folder / "root/model.json")
    assert load_bundle(folder).transform(airbnb_record())["price_prediction"] > 0


BOMB_PROBE = r"""
import json, resource, sys
from leapserve.runtime import BundleError, load_bundle
out = {"baseline": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss}
load_bundle(sys.argv[2])
out["after a clean load"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
for source in json.loads(sys.argv[1]):
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    try:
        load_bundle(source)
        out[source] = ["loaded", 0]
    except BundleError as e:
        out[source] = [str(e), resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before]
print(json.dumps(out))
"""


def test_bombs_stay_within_bounded_memory(tmp_path, figures):
    """Zip bombs are refused before they inflate: the peak memory of a process that loads a good
    bundle then every bomb grows by less than 16 MiB over the bombs (they claim 64 MB to 4 GB)."""
    cases = [c for c in ALL_CASES if "bomb" in c.id and not c.env]
    sources = {}
    for i, case in enumerate(cases):
        folder = tmp_path / str(i)
        folder.mkdir()
        sources[case.id] = str(case.build(folder))
    probe = subprocess.run([sys.executable, "-c", BOMB_PROBE, json.dumps(list(sources.values())), str(RF_ZIP)],
                           capture_output=True, text=True, timeout=300, cwd=Path(__file__).parents[2])
    assert probe.returncode == 0, probe.stderr
    out = json.loads(probe.stdout)
    growth = {}
    for case in cases:
        message, grew = out[sources[case.id]]
        assert case.expect in message
        growth[case.id] = grew
        assert grew < 16 * 1024, (case.id, grew)
    figures(cases=len(cases), peak_rss_kib_before=out["after a clean load"], peak_growth_kib=growth,
            peak_rss_kib_after=out["after a clean load"] + sum(growth.values()))


# --- a server meeting hostile bundles ------------------------------------------------------------

SERVER_SKIP = {
    "symlink loop",  # the watcher cannot even stat the bundle: it never tries to load it (still serving)
    "jar: URI with .. stays inside the archive",  # a URI, not a file to drop into a model folder
}


def _server_cases(limit: int | None = None) -> list[Case]:
    cases = [c for c in ALL_CASES if not c.env and c.id not in SERVER_SKIP]
    return cases if limit is None else cases[:limit]


def _hammer(channel, models: dict, stop: threading.Event, counts: dict, errors: list):
    stub = pb_grpc.PredictionServiceStub(channel)
    record = airbnb_record()
    request = {}
    for name in models:
        req = pb.PredictRequest(model=name, outputs=["price_prediction"])
        for k, v in record.items():
            if isinstance(v, str):
                req.inputs[k].string_value = v
            else:
                req.inputs[k].double_value = float(v)
        request[name] = req
    while not stop.is_set():
        for name, want in models.items():
            try:
                got = stub.Predict(request[name], timeout=10).outputs["price_prediction"].double_value
                if got != want:
                    errors.append(f"{name}: {got} != {want}")
            except grpc.RpcError as e:
                errors.append(f"{name}: {e.code().name}: {e.details()}")
            counts["requests"] = counts.get("requests", 0) + 1


def _swap_in(case: Case, tmp: Path, zip_target: Path, dir_target: Path) -> None:
    build = tmp / "build"
    if build.exists():
        shutil.rmtree(build)
    build.mkdir()
    source = Path(case.build(build))
    if case.dir_only or source.is_dir():
        old = dir_target.with_name(dir_target.name + ".old")
        os.replace(dir_target, old)
        os.replace(source, dir_target)
        shutil.rmtree(old)
    else:
        os.replace(source, zip_target)


def _run_server_cases(cases, start_server, tmp_path, figures):
    models = tmp_path / "models"
    models.mkdir()
    shutil.copyfile(RF_ZIP, models / "good.zip")
    shutil.copyfile(RF_ZIP, models / "victim.zip")
    with zipfile.ZipFile(RF_ZIP) as z:
        z.extractall(models / "victimdir")
    server = start_server("--model", f"good={models / 'good.zip'}", "--model", f"victim={models / 'victim.zip'}",
                          "--model", f"victimdir={models / 'victimdir'}", "--reload-interval", "0.1",
                          "--log-level", "warning")
    want = load_bundle(RF_ZIP).transform(airbnb_record())["price_prediction"]
    expected = {"good": want, "victim": want, "victimdir": want}
    stop = threading.Event()
    counts: dict = {}
    errors: list = []
    channel = grpc.insecure_channel(server.address)
    threads = [threading.Thread(target=_hammer, args=(channel, expected, stop, counts, errors)) for _ in range(2)]
    for t in threads:
        t.start()
    stub = pb_grpc.PredictionServiceStub(channel)
    seen = {}
    try:
        for case in cases:
            model = "victimdir" if case.dir_only else "victim"
            _swap_in(case, tmp_path, models / "victim.zip", models / "victimdir")
            deadline = time.monotonic() + 30
            while True:
                info = stub.GetModelMetadata(pb.GetModelMetadataRequest(model=model), timeout=10).versions[0]
                if case.expect in info.error:
                    seen[case.id] = info.error
                    break
                assert time.monotonic() < deadline, f"{case.id}: the server never reported the failure ({info})"
                time.sleep(0.05)
            assert info.state == pb.READY and info.generation == 1  # the old copy still serves
            # health follows the registry's listeners a moment after the metadata shows the error
            server.wait_health("NOT_SERVING", f"model:{model}", timeout=10)
            assert server.health() == "SERVING"
        # a good bundle again: the victims recover
        shutil.copyfile(RF_ZIP, tmp_path / "again.zip")
        os.replace(tmp_path / "again.zip", models / "victim.zip")
        deadline = time.monotonic() + 30
        while server.health("model:victim") != "SERVING":
            assert time.monotonic() < deadline
            time.sleep(0.05)
    finally:
        stop.set()
        for t in threads:
            t.join(30)
        channel.close()
    assert server.proc.poll() is None
    assert not errors, errors[:5]
    assert counts["requests"] > 0
    figures(cases=len(cases), requests=counts["requests"], failures=len(errors))
    return seen


def test_server_keeps_serving_through_hostile_bundles(start_server, tmp_path, figures):
    """Every hostile bundle (except those needing a LEAPSERVE_* setting) replaces a served model
    in turn while clients score it and another model: the old copy keeps serving, the failure is
    reported (GetModelMetadata error, model health NOT_SERVING), and no request fails."""
    _run_server_cases(_server_cases(), start_server, tmp_path, figures)


def test_server_limits_come_from_the_environment(start_server, tmp_path, figures):
    """A LEAPSERVE_* limit set in the server's environment applies to its bundles."""
    models = tmp_path / "models"
    models.mkdir()
    write_zip(models / "lr.zip", json_lr_entries([1.0, 2.0], 0.5))
    shutil.copyfile(RF_ZIP, models / "rf.zip")
    server = start_server("--model-dir", models, "--reload-interval", "0", env={"LEAPSERVE_MAX_TREE_NODES": "10"},
                          wait="listening")
    stub = pb_grpc.PredictionServiceStub(server.open_channel())
    deadline = time.monotonic() + 30
    while True:
        states = {m.name: m.versions[0] for m in stub.ListModels(pb.ListModelsRequest(), timeout=10).models}
        if len(states) == 2 and all(v.state != pb.LOADING for v in states.values()):
            break
        assert time.monotonic() < deadline
        time.sleep(0.1)
    assert states["lr"].state == pb.READY
    assert states["rf"].state == pb.FAILED and "more than 10 tree nodes (LEAPSERVE_MAX_TREE_NODES)" in states["rf"].error
    figures(cases=1, failures=0)


def test_malformed_limit_is_a_usage_error(tmp_path):
    """A LEAPSERVE_* limit that is not a size stops `leapserve serve` at start (exit 2)."""
    from tests.support.servers import run_cli

    out = run_cli("serve", "--model", f"x={RF_ZIP}", "--port", "0", env={"LEAPSERVE_MAX_BUNDLE_BYTES": "lots"})
    assert out.returncode == 2 and "LEAPSERVE_MAX_BUNDLE_BYTES='lots'" in out.stderr


@pytest.mark.parametrize("value, size", [("64M", 64 << 20), ("1.5G", 3 << 29), (" 2k ", 2048), ("1e6", 10 ** 6),
                                         ("64MiB", 64 << 20), (".5K", 512)])
def test_limit_values(value, size, monkeypatch):
    monkeypatch.setenv("LEAPSERVE_MAX_BUNDLE_BYTES", value)
    assert limits().max_total_bytes == size


@pytest.mark.parametrize("value, why", [
    # Kawi and Arabic-Indic digits (float() took them, Kawi's from Python 3.12 on), Python's own
    # spellings, an overflow (an OverflowError before), a no-break space around the number.
    ("\U00011f51K", "is not a number"), ("\u0663M", "is not a number"), ("inf", "is not a number"),
    ("nan", "is not a number"), ("1_000", "is not a number"), ("\u00a064M", "is not a number"),
    ("1e400", "is too large"), ("0.4", "must be positive"),
])
def test_malformed_limit_values_are_refused_alike_on_every_python(value, why, monkeypatch):
    monkeypatch.setenv("LEAPSERVE_MAX_BUNDLE_BYTES", value)
    with pytest.raises(BundleError) as e:
        limits()
    assert f"LEAPSERVE_MAX_BUNDLE_BYTES={value!r} {why}" in str(e.value)
    assert check_limits_env() == str(e.value)


def test_only_ascii_letters_are_drive_letters(tmp_path):
    """Entries named "é:x" and "𑼄:x" (a Kawi letter, alphabetic from Python 3.12 on) are no Windows
    drive paths: the bundle loads on every Python."""
    archive = write_zip(tmp_path / "bundle.zip", {**entries_of(RF_ZIP), "\u00e9:x.json": b"{}",
                                                  "\U00011f04:x.json": b"{}"})
    assert load_bundle(archive).transform(airbnb_record())["price_prediction"] > 0


def test_json_nested_to_the_limit_loads(tmp_path):
    """256 levels (bundle.MAX_JSON_DEPTH: the file, its attributes and 254 more), brackets in
    strings aside, load on every Python."""
    from tests.support.bundles import SCALER, edit_json
    from tests.support.hostile import _nested

    entries = edit_json(entries_of(RF_ZIP), f"{SCALER}/model.json",
                        lambda d: d["attributes"].update(unread=_nested(254), text="[" * 1000))
    assert load_bundle(write_zip(tmp_path / "bundle.zip", entries)).transform(airbnb_record())["price_prediction"] > 0


def test_entry_names_come_from_the_central_directory(tmp_path):
    """A Unicode Path extra field (0x7075) naming root/model.json anew does not rename it: the bundle
    loads as Java reads it, on every Python (zipfile renames the entry from 3.12 on)."""
    from tests.support.hostile import unicode_path_field

    payload = struct.pack("<BL", 1, zlib.crc32(b"root/model.json")) + b"root/renamed.json"
    archive = unicode_path_field(tmp_path, "root/model.json", payload)
    assert load_bundle(archive).transform(airbnb_record())["price_prediction"] > 0
