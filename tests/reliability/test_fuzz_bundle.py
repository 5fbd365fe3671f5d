"""Fuzzing the bundle reader: loading any bytes either works or raises BundleError, and a model
that loads scores with nothing worse than a ScoringError (bundles.load_and_score).

Two fuzzers over real bundles (MLeap's fixtures and hand-written JSON and protobuf bundles):

* atheris (coverage-guided, libFuzzer), run as a separate process for a bounded time
  (tests/reliability/fuzz_bundle.py: its mutator edits the entries inside the archive);
* hypothesis, structure-aware and reproducible: random JSON values put anywhere in a model.json /
  node.json / bundle.json / tree.json, random bytes over protobuf files, truncated, dropped and
  renamed entries, flipped bytes of the archive.
"""

from __future__ import annotations

import io
import json
import re
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.support.bundles import FIXTURES, json_lr_entries, load_and_score, pb_lr_entries

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]


def _seeds() -> dict[str, dict[str, bytes]]:
    out = {}
    for name in ("airbnb.model.rf.zip", "airbnb.model.lr.zip", "one_hot_encoder_pipeline.zip", "demo.zip"):
        with zipfile.ZipFile(FIXTURES / name) as z:
            out[name] = {i.filename: z.read(i) for i in z.infolist() if not i.is_dir()}
    out["lr-json"] = json_lr_entries([1.0, -2.0], 0.5)
    out["lr-pb"] = pb_lr_entries([1.0, -2.0, 3.0], 0.5)
    return out


SEEDS = _seeds()
SEED_ZIPS = {}


def _zip(entries) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_STORED) as z:
        for name, data in entries:
            z.writestr(zipfile.ZipInfo(name, date_time=(2024, 1, 1, 0, 0, 0)), data)
    return buf.getvalue()


# --- atheris -------------------------------------------------------------------------------------

def _run_atheris(tmp_path: Path, seconds: int, figures) -> None:
    pytest.importorskip("atheris")
    corpus = tmp_path / "corpus"
    cmd = [sys.executable, str(HERE / "fuzz_bundle.py"), f"-max_total_time={seconds}", "-timeout=30",
           "-rss_limit_mb=2560", "-max_len=300000", f"-artifact_prefix={tmp_path}/", "-print_final_stats=1",
           str(corpus)]
    run = subprocess.run(cmd, capture_output=True, text=True, timeout=seconds + 180, cwd=REPO)
    log = run.stdout + run.stderr
    (tmp_path / "fuzz.log").write_text(log)
    crashes = sorted(p.name for p in tmp_path.iterdir() if p.name.startswith(("crash-", "timeout-", "oom-")))
    assert run.returncode == 0 and not crashes, f"atheris found {crashes}:\n{log[-4000:]}"
    runs = int(re.search(r"stat::number_of_executed_units:\s+(\d+)", log).group(1))
    new = int(re.search(r"stat::new_units_added:\s+(\d+)", log).group(1))
    assert runs > 100
    figures(seconds=seconds, inputs_tried=runs, new_coverage_units=new, corpus_files=len(list(corpus.iterdir())),
            crashes=0)


def test_atheris_bundle_reader(tmp_path, figures):
    _run_atheris(tmp_path, 20, figures)


@pytest.mark.slow
def test_atheris_bundle_reader_long(tmp_path, figures):
    _run_atheris(tmp_path, 600, figures)


# --- hypothesis -----------------------------------------------------------------------------------

json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-2**70, 2**70) | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=12) | st.sampled_from(["double", "long", "string", "tensor", "list", "scalar", "internal",
                                               "leaf", "continuous", "categorical", "input0", "features"]),
    lambda inner: st.lists(inner, max_size=5) | st.dictionaries(
        st.sampled_from(["type", "double", "long", "string", "shape", "dimensions", "size", "base", "op",
                         "attributes", "name", "port", "inputs", "outputs", "values", "split", "featureIndex",
                         "threshold", "nodes", "format", "data_shape", "tensorShape", "isNullable"])
        | st.text(max_size=6), inner, max_size=4),
    max_leaves=12)


def _paths(doc, prefix=()):
    """Every path (keys and indices) inside a JSON document."""
    yield prefix
    if isinstance(doc, dict):
        for k, v in doc.items():
            yield from _paths(v, prefix + (k,))
    elif isinstance(doc, list):
        for i, v in enumerate(doc[:20]):
            yield from _paths(v, prefix + (i,))


def _set(doc, path, value):
    if not path:
        return value
    target = doc
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = value
    return doc


@st.composite
def mutated_bundles(draw):
    seed = draw(st.sampled_from(sorted(SEEDS)))
    entries = dict(SEEDS[seed])
    names = sorted(entries)
    for _ in range(draw(st.integers(1, 3))):
        name = draw(st.sampled_from(names))
        data = entries.get(name, b"")
        kind = draw(st.sampled_from(["json value", "json value", "json value", "bytes", "truncate", "drop",
                                     "rename", "flip"]))
        if kind == "json value" and name.endswith(".json"):
            lines = data.decode("utf-8", "replace").splitlines() or ["{}"]
            line = draw(st.integers(0, len(lines) - 1)) if name.endswith("tree.json") else None
            text = lines[line] if line is not None else data.decode("utf-8", "replace")
            try:
                doc = json.loads(text)
            except ValueError:
                doc = {}
            paths = list(_paths(doc))
            doc = _set(doc, draw(st.sampled_from(paths)), draw(json_values))
            new = json.dumps(doc, allow_nan=draw(st.booleans()))
            if line is not None:
                lines[line] = new
                entries[name] = "\n".join(lines).encode()
            else:
                entries[name] = new.encode()
        elif kind in ("bytes", "json value"):
            pos = draw(st.integers(0, len(data)))
            entries[name] = data[:pos] + draw(st.binary(max_size=16)) + data[pos + draw(st.integers(0, 8)):]
        elif kind == "truncate":
            entries[name] = data[:draw(st.integers(0, len(data)))]
        elif kind == "drop":
            entries.pop(name, None)
        elif kind == "rename":
            entries[draw(st.sampled_from(names)).rsplit("/", 1)[0] + "/" + name.rsplit("/", 1)[-1]] = \
                entries.pop(name, b"")
        else:
            if data:
                pos = draw(st.integers(0, len(data) - 1))
                entries[name] = data[:pos] + bytes([data[pos] ^ draw(st.integers(1, 255))]) + data[pos + 1:]
    archive = _zip(sorted(entries.items()))
    if draw(st.integers(0, 9)) == 0:  # now and then, damage the archive itself
        pos = draw(st.integers(0, len(archive) - 1))
        archive = archive[:pos] + draw(st.binary(min_size=1, max_size=8)) + archive[pos + 1:]
    return archive


OUTCOMES: dict[str, int] = {}


def _fuzz(archive: bytes) -> None:
    outcome = load_and_score(archive)  # raises on anything but BundleError / ScoringError
    OUTCOMES[outcome] = OUTCOMES.get(outcome, 0) + 1


def _hypothesis_run(examples: int, figures) -> None:
    OUTCOMES.clear()
    run = settings(max_examples=examples, deadline=None, derandomize=examples <= 1000, database=None,
                   suppress_health_check=list(HealthCheck))(given(mutated_bundles())(_fuzz))
    run()
    figures(bundles_tried=sum(OUTCOMES.values()), outcomes=dict(OUTCOMES), crashes=0)


def test_hypothesis_mutated_bundles(figures):
    _hypothesis_run(400, figures)


@pytest.mark.slow
def test_hypothesis_mutated_bundles_long(figures):
    _hypothesis_run(20_000, figures)


# --- what the fuzzers found ------------------------------------------------------------------------

def _seed_with(seed: str, **edits) -> dict:
    entries = dict(SEEDS[seed])
    for name, fn in edits.items():
        doc = json.loads(entries[name])
        fn(doc)
        entries[name] = json.dumps(doc).encode()
    return entries


def _rf_with(**edits) -> dict:
    return _seed_with("airbnb.model.rf.zip", **edits)


REGRESSIONS = {
    # atheris: a zip entry with an empty name (zipfile's ZipInfo.is_dir raised IndexError)
    "empty entry name": lambda: _zip([("", b"x"), *SEEDS["lr-json"].items()]),
    # hypothesis: bundle.json's format a list (TypeError: unhashable type)
    "format a list": lambda: _zip([*_rf_with(**{"bundle.json": lambda d: d.update(format=[])}).items()]),
    # atheris: a string input read as a number by a later stage (the batch cast raised ValueError)
    "string column read as a number": lambda: _zip([*_rf_with(**{
        "root/feature_pipeline.node/feature_assembler_rf.node/node.json":
            lambda d: d["shape"]["inputs"][0].update(name="room_type")}).items()]),
    # atheris: an input read as a number by one stage and as a vector by another (the batch path
    # raised IndexError)
    "number input read as a vector": lambda: _zip([*_seed_with("airbnb.model.lr.zip", **{
        "root/feature_pipeline.node/feature_assembler_lr.node/node.json":
            lambda d: d["shape"]["inputs"][4].update(name="bathrooms")}).items()]),
}


@pytest.mark.parametrize("name", sorted(REGRESSIONS))
def test_inputs_found_by_the_fuzzers(name):
    assert load_and_score(REGRESSIONS[name]()) in ("refused", "loaded", "scored", "invalid input")
