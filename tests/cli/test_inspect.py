"""`leapserve inspect` on real MLeap bundles (the shared fixtures) and on malformed ones.

No Spark and no Java: inspect reads the files with the runtime's bundle reader. Which ops the
runtime supports changes as ops are added, so the expectations follow the registry.
"""

from __future__ import annotations

import json
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from leapserve.cli import main as cli_main
from leapserve.cli.inspect import UNKNOWN, format_report
from leapserve.runtime.inspect import inspect_bundle
from leapserve.runtime import BundleError, load_bundle, registry

REPO = Path(__file__).resolve().parents[2]

# fixture -> (stage ops in pipeline order, required inputs in order, last output)
EXPECTED = {
    "airbnb.model.lr.zip": (
        ["vector_assembler", "standard_scaler"] + ["string_indexer"] * 5 + ["one_hot_encoder"] * 5
        + ["vector_assembler", "linear_regression"],
        ["bathrooms", "bedrooms", "security_deposit", "cleaning_fee", "extra_people", "number_of_reviews",
         "square_feet", "review_scores_rating", "room_type", "host_is_superhost", "cancellation_policy",
         "instant_bookable", "state"],
        "price_prediction"),
    "airbnb.model.rf.zip": (
        ["vector_assembler", "standard_scaler"] + ["string_indexer"] * 5
        + ["vector_assembler", "random_forest_regression"],
        ["bathrooms", "bedrooms", "security_deposit", "cleaning_fee", "extra_people", "number_of_reviews",
         "square_feet", "review_scores_rating", "room_type", "host_is_superhost", "cancellation_policy",
         "instant_bookable", "state"],
        "price_prediction"),
    # a pipeline nested in the root pipeline: its stages come first, flattened
    "demo.zip": (["vector_assembler", "standard_scaler", "linear_regression"],
                 ["demo:a", "demo:c", "demo:d"], "demo:prediction"),
    "min_max_scaler_tf.zip": (["vector_assembler", "min_max_scaler"], ["dti", "loan_amount"], "scaled_features"),
    # holds an orphan vector_assembler folder that the pipeline does not list
    "one_hot_encoder_pipeline.zip": (["string_indexer", "one_hot_encoder"], ["col_1"],
                                     "col_1_label_one_hot_encoded"),
}


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_inspect_fixture(fixtures_dir, name):
    path = fixtures_dir / name
    ops, inputs, last = EXPECTED[name]
    report = inspect_bundle(path)
    assert report.info.format == "json"
    assert report.info.name.startswith("pipeline_")
    assert report.info.version  # e.g. 0.8.0-SNAPSHOT
    assert [st.op for st in report.stages] == ops
    assert list(report.inputs) == inputs
    assert list(report.outputs)[-1] == last
    for st in report.stages:
        assert st.supported == (registry.lookup(st.op) is not None)
        assert st.inputs and st.outputs
    unsupported = {st.op for st in report.stages if not st.supported}
    assert report.unsupported_ops == sorted(unsupported)
    assert report.complete == (not unsupported)
    if report.complete:
        pipeline = load_bundle(path)
        assert report.inputs == {c: str(t) for c, t in pipeline.inputs.items()}
        assert report.outputs == {c: str(t) for c, t in pipeline.outputs.items()}
    else:
        # a type is known exactly when the first stage touching the column is supported
        for col, ftype in report.inputs.items():
            first = next(st for st in report.stages if col in st.inputs.values())
            assert (ftype is None) == (not first.supported), col
        for col, ftype in report.outputs.items():
            writer = next(st for st in report.stages if col in st.outputs.values())
            assert (ftype is None) == (not writer.supported), col

    text = format_report(report)
    assert f"name     {report.info.name}" in text and "format   json" in text
    assert f"MLeap    {report.info.version}" in text
    assert f"stages ({len(ops)}):" in text and f"inputs ({len(inputs)}):" in text
    for st in report.stages:
        line = next(x for x in text.splitlines() if st.name in x and st.op in x)
        assert ("[unsupported op]" in line) == (not st.supported)
    assert ("NOT SERVABLE" in text) == bool(unsupported)
    if any(t is None for t in report.inputs.values()):
        assert UNKNOWN in text


def test_inspect_known_types(fixtures_dir):
    # vector_assembler is among the runtime's first ops: its inputs are typed in every case
    report = inspect_bundle(fixtures_dir / "demo.zip")
    assert report.inputs == {"demo:a": "double", "demo:c": "double", "demo:d": "double"}
    assert report.outputs["unscaled_continuous_features"] == "vector[3]"


def test_inspect_cli_text_and_json(fixtures_dir, capsys):
    path = fixtures_dir / "airbnb.model.lr.zip"
    assert cli_main(["inspect", str(path)]) == 0
    text = capsys.readouterr().out
    assert text.startswith(f"bundle   {path}\nname     pipeline_ed5135e9ca49\nformat   json\n"
                           f"MLeap    0.8.0-SNAPSHOT (written 2017-09-22T00:59:02.941)\n")
    assert "continuous_feature_assembler" in text and "features_lr -> price_prediction" in text

    assert cli_main(["inspect", str(path), "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["info"] == {"name": "pipeline_ed5135e9ca49", "format": "json", "mleap_version": "0.8.0-SNAPSHOT",
                            "uid": data["info"]["uid"], "timestamp": "2017-09-22T00:59:02.941"}
    assert len(data["stages"]) == 14
    assert data["stages"][-1] == {"name": "linear_regression", "op": "linear_regression",
                                  "supported": registry.lookup("linear_regression") is not None,
                                  "inputs": {"features": "features_lr"},
                                  "outputs": {"prediction": "price_prediction"}}
    assert list(data["inputs"])[:2] == ["bathrooms", "bedrooms"]
    assert data["supported"] == (not data["unsupported_ops"])


def test_inspect_directory_and_uri(fixtures_dir, tmp_path):
    with zipfile.ZipFile(fixtures_dir / "demo.zip") as z:
        z.extractall(tmp_path / "demo")
    from_zip = inspect_bundle(fixtures_dir / "demo.zip")
    for source in (tmp_path / "demo", f"file:{tmp_path / 'demo'}", f"jar:file:{fixtures_dir / 'demo.zip'}"):
        report = inspect_bundle(source)
        assert [(s.name, s.op, s.inputs, s.outputs) for s in report.stages] == \
            [(s.name, s.op, s.inputs, s.outputs) for s in from_zip.stages]
        assert report.inputs == from_zip.inputs


def test_inspect_needs_no_spark(fixtures_dir):
    code = ("import sys; from leapserve.cli import main; rc = main(['inspect', sys.argv[1]]); "
            "sys.exit(rc or (3 if 'pyspark' in sys.modules or 'py4j' in sys.modules else 0))")
    proc = subprocess.run([sys.executable, "-c", code, str(fixtures_dir / "airbnb.model.rf.zip")],
                          capture_output=True, text=True, cwd=REPO, env={"PATH": "/nonexistent"})
    assert proc.returncode == 0, proc.stderr
    assert "random_forest_regression" in proc.stdout


# --- malformed bundles ---------------------------------------------------------------------

DEMO_LR = "root/linear_regression_7a70b7fd-bd53-11e7-8c89-6c40089417e6.node"
DEMO_INNER = "root/pipeline_7a70b6f0-bd53-11e7-9103-6c40089417e6.node"


def _variant(fixtures_dir, tmp_path, name, changes) -> Path:
    """demo.zip with some entries replaced (bytes) or removed (None)."""
    out = tmp_path / f"{name}.zip"
    with zipfile.ZipFile(fixtures_dir / "demo.zip") as zin, zipfile.ZipFile(out, "w") as zout:
        for info in zin.infolist():
            data = changes.get(info.filename, zin.read(info))
            if data is not None:
                zout.writestr(info.filename, data)
    return out


def _lr_without_coefficients(fixtures_dir) -> bytes:
    with zipfile.ZipFile(fixtures_dir / "demo.zip") as z:
        doc = json.loads(z.read(f"{DEMO_LR}/model.json"))
    del doc["attributes"]["coefficients"]
    return json.dumps(doc).encode()


MALFORMED = {
    "no-bundle-json": ({"bundle.json": None}, "bundle.json: file is missing"),
    "bad-format": ({"bundle.json": b'{"format": "xml", "name": "x", "version": "1", "uid": "u"}'},
                   "bundle.json: 'format' must be \"json\" or \"protobuf\", found 'xml'"),
    "bad-model-json": ({"root/model.json": b"{not json"}, "root/model.json: invalid JSON"),
    "missing-child": ({f"{DEMO_INNER}/model.json": None}, f"{DEMO_INNER}/model.json: file is missing"),
    "bad-node": ({f"{DEMO_LR}/node.json": b'{"name": "lr", "shape": {"inputs": "features", "outputs": []}}'},
                 "'shape.inputs' must be an array"),
}


@pytest.mark.parametrize("case", sorted(MALFORMED))
def test_inspect_malformed(fixtures_dir, tmp_path, capsys, case):
    changes, message = MALFORMED[case]
    path = _variant(fixtures_dir, tmp_path, case, changes)
    with pytest.raises(BundleError) as err:
        inspect_bundle(path)
    assert message in str(err.value)
    assert cli_main(["inspect", str(path)]) == 1
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err == f"leapserve inspect: error: {err.value}\n"


def test_inspect_malformed_attributes_of_a_supported_op(fixtures_dir, tmp_path, capsys):
    if registry.lookup("linear_regression") is None:
        pytest.skip("linear_regression not supported")
    path = _variant(fixtures_dir, tmp_path, "lr", {f"{DEMO_LR}/model.json": _lr_without_coefficients(fixtures_dir)})
    with pytest.raises(BundleError) as err:
        inspect_bundle(path)
    assert f"{DEMO_LR}/model.json" in str(err.value) and "coefficients" in str(err.value)
    assert cli_main(["inspect", str(path)]) == 1
    assert capsys.readouterr().err.startswith(f"leapserve inspect: error: {path}!/{DEMO_LR}")


def test_inspect_not_a_bundle(tmp_path, capsys):
    junk = tmp_path / "junk.zip"
    junk.write_text("hello")
    assert cli_main(["inspect", str(junk)]) == 1
    assert capsys.readouterr().err == f"leapserve inspect: error: {junk}: neither a bundle directory nor a zip archive\n"
    assert cli_main(["inspect", str(tmp_path / "none")]) == 1
    assert capsys.readouterr().err == f"leapserve inspect: error: {tmp_path / 'none'}: no such file or directory\n"
