"""Loading bundles: containers and URIs, both formats, and clear errors for broken bundles."""

from __future__ import annotations

import json
import shutil
import threading
import zipfile

import numpy as np
import pytest
from pyspark.ml import Pipeline, PipelineModel
from pyspark.ml.feature import VectorAssembler
from pyspark.ml.regression import LinearRegression

from leapserve import bundler
from leapserve.runtime import BundleError, DenseVector, InvalidInput, MissingInput, UnsupportedOpError, load_bundle


@pytest.fixture(scope="module")
def lr_model(spark):
    train = spark.createDataFrame([(1.0, 2.0, 3.0), (2.0, 0.0, 5.0), (3.0, 1.0, 7.5), (0.0, 0.0, 1.0)],
                                  ["a", "b", "y"])
    inner = Pipeline(stages=[VectorAssembler(inputCols=["a", "b"], outputCol="features")]).fit(train)
    model = PipelineModel(stages=[inner, LinearRegression(labelCol="y").fit(inner.transform(train))])
    return model, train


@pytest.fixture(scope="module")
def bundles(lr_model, tmp_path_factory):
    model, train = lr_model
    out = tmp_path_factory.mktemp("bundles")
    paths = {}
    for fmt in ("json", "protobuf"):
        paths[fmt] = out / f"lr-{fmt}.zip"
        bundler.export_bundle(model, train, paths[fmt], format=fmt, verify=False)
        paths[f"{fmt}-dir"] = out / f"lr-{fmt}-dir"
        bundler.export_bundle(model, train, paths[f"{fmt}-dir"], format=fmt, verify=False)
    return paths


def expected_prediction(lr_model, a, b):
    model, _ = lr_model
    lr = model.stages[-1]
    return float(lr.coefficients[0] * a + lr.coefficients[1] * b + lr.intercept)


@pytest.mark.parametrize("kind", ["json", "protobuf", "json-dir", "protobuf-dir"])
def test_paths_directories_and_uris(bundles, lr_model, kind):
    path = bundles[kind]
    want = expected_prediction(lr_model, 1.5, -2.0)
    sources = [path, str(path)]
    if kind.endswith("dir"):
        sources.append(f"file:{path}")
    else:
        sources += [f"jar:file:{path}", f"file:{path}"]
    for source in sources:
        model = load_bundle(source)
        assert model.info.format == kind.split("-")[0]
        assert list(model.inputs) == ["a", "b"]
        assert [str(t) for t in model.inputs.values()] == ["double", "double"]
        assert list(model.outputs) == ["features", "prediction"]
        assert str(model.outputs["features"]) == "vector[2]"
        got = model.transform({"a": 1.5, "b": -2.0})
        assert got["prediction"] == pytest.approx(want, rel=1e-12)
        assert isinstance(got["features"], DenseVector) and list(got["features"]) == [1.5, -2.0]


def test_inner_path_of_a_zip(bundles, lr_model, tmp_path):
    # A bundle stored under a folder inside a bigger zip: jar:file:/x.zip!/inner/dir
    outer = tmp_path / "outer.zip"
    with zipfile.ZipFile(bundles["json"]) as zin, zipfile.ZipFile(outer, "w") as zout:
        for info in zin.infolist():
            if not info.is_dir():
                zout.writestr(f"models/lr/{info.filename}", zin.read(info))
    model = load_bundle(f"jar:file:{outer}!/models/lr")
    assert model.transform({"a": 1.0, "b": 1.0})["prediction"] == pytest.approx(
        expected_prediction(lr_model, 1.0, 1.0), rel=1e-12)


def test_outputs_selection_and_numeric_casting(bundles, lr_model):
    model = load_bundle(bundles["json"])
    got = model.transform({"a": 2, "b": "0.5", "extra": "ignored"}, outputs=["prediction"])
    assert list(got) == ["prediction"]
    assert got["prediction"] == pytest.approx(expected_prediction(lr_model, 2.0, 0.5), rel=1e-12)


def test_bad_input_names_field_expected_and_actual(bundles):
    model = load_bundle(bundles["protobuf"])
    with pytest.raises(MissingInput) as e:
        model.transform({"a": 1.0})
    assert e.value.field == "b" and "missing" in str(e.value)
    with pytest.raises(InvalidInput) as e:
        model.transform({"a": 1.0, "b": "abc"})
    assert e.value.field == "b" and e.value.expected == "double" and "abc" in e.value.actual
    with pytest.raises(InvalidInput) as e:
        model.transform({"a": [1.0], "b": 1.0})
    assert e.value.field == "a"
    with pytest.raises(ValueError):  # ScoringError is a ValueError
        model.transform({"a": None, "b": 1.0})


def test_batch_matches_rows(bundles):
    model = load_bundle(bundles["json"])
    rng = np.random.default_rng(7)
    a, b = rng.normal(size=500), rng.normal(size=500)
    batch = model.transform_batch({"a": a, "b": b})
    assert batch["prediction"].shape == (500,) and batch["features"].shape == (500, 2)
    assert not batch.skipped.any()
    for i in range(0, 500, 37):
        row = model.transform({"a": a[i], "b": b[i]})
        assert batch["prediction"][i] == pytest.approx(row["prediction"], rel=1e-12, abs=1e-12)


def test_shared_across_threads(bundles, lr_model):
    model = load_bundle(bundles["json"])
    errors = []

    def worker(k):
        try:
            for i in range(300):
                a, b = float(k), float(i)
                got = model.transform({"a": a, "b": b})["prediction"]
                assert got == pytest.approx(expected_prediction(lr_model, a, b), rel=1e-12)
                if i % 50 == 0:
                    model.transform({"a": a, "b": b}, outputs=["features"])
                    model.transform_batch({"a": [a], "b": [b]})
        except Exception as e:  # collected and asserted below
            errors.append(e)

    threads = [threading.Thread(target=worker, args=(k,)) for k in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []


# --- broken bundles ------------------------------------------------------------------------

def _unpacked(bundles, tmp_path, kind="json"):
    d = tmp_path / "b"
    shutil.copytree(bundles[f"{kind}-dir"], d)
    return d


def _node_dirs(root):
    return sorted(p for p in (root / "root").rglob("*.node") if (p / "node.json").exists() or (p / "node.pb").exists())


def test_unsupported_op_names_op_node_and_path(bundles, tmp_path):
    d = _unpacked(bundles, tmp_path)
    lr_dir = [p for p in _node_dirs(d) if "LinearRegression" in p.name][0]
    doc = json.loads((lr_dir / "model.json").read_text())
    doc["op"] = "quantum_regression"
    (lr_dir / "model.json").write_text(json.dumps(doc))
    with pytest.raises(UnsupportedOpError) as e:
        load_bundle(d)
    msg = str(e.value)
    assert "quantum_regression" in msg and lr_dir.name[:-len(".node")] in msg and str(lr_dir) in msg


@pytest.mark.parametrize("damage, message", [
    ("delete bundle.json", "bundle.json: file is missing"),
    ("bad json model", "model.json: invalid JSON"),
    ("bad format", "'format' must be"),
    ("missing coefficients", "attribute 'coefficients': is missing"),
    ("coefficients as string", "attribute 'coefficients'"),
    ("missing child", ".node/model.json: file is missing"),
    ("missing port", "has no input socket for port 'features'"),
])
def test_malformed_bundles_name_the_file(bundles, tmp_path, damage, message):
    d = _unpacked(bundles, tmp_path)
    nodes = _node_dirs(d)
    lr_dir = [p for p in nodes if "LinearRegression" in p.name][0]
    if damage == "delete bundle.json":
        (d / "bundle.json").unlink()
    elif damage == "bad json model":
        (lr_dir / "model.json").write_text("{not json")
    elif damage == "bad format":
        info = json.loads((d / "bundle.json").read_text())
        info["format"] = "yaml"
        (d / "bundle.json").write_text(json.dumps(info))
    elif damage in ("missing coefficients", "coefficients as string"):
        doc = json.loads((lr_dir / "model.json").read_text())
        if damage == "missing coefficients":
            del doc["attributes"]["coefficients"]
        else:
            doc["attributes"]["coefficients"] = {"string": "oops"}
        (lr_dir / "model.json").write_text(json.dumps(doc))
    elif damage == "missing child":
        shutil.rmtree(lr_dir)
    elif damage == "missing port":
        doc = json.loads((lr_dir / "node.json").read_text())
        doc["shape"]["inputs"] = []
        (lr_dir / "node.json").write_text(json.dumps(doc))
    with pytest.raises(BundleError) as e:
        load_bundle(d)
    assert message in str(e.value)


def test_not_a_bundle(tmp_path):
    junk = tmp_path / "junk.zip"
    junk.write_bytes(b"this is not a zip")
    with pytest.raises(BundleError, match="neither a bundle directory nor a zip|not a readable zip"):
        load_bundle(junk)
    with pytest.raises(BundleError, match="no such file"):
        load_bundle(tmp_path / "absent.zip")
    truncated = tmp_path / "truncated.zip"
    with zipfile.ZipFile(truncated, "w") as z:
        z.writestr("bundle.json", json.dumps({"format": "json", "version": "0.16.0", "uid": "x", "name": "n",
                                              "timestamp": "t"}))
    with pytest.raises(BundleError, match="root/model.json: file is missing"):
        load_bundle(truncated)


def test_json_traps(tmp_path):
    """Omitted defaults ({}), null for NaN, both read as the types the op expects."""
    root = tmp_path / "b"
    (root / "root" / "lr.node").mkdir(parents=True)
    (root / "bundle.json").write_text(json.dumps(
        {"uid": "u", "name": "p", "format": "json", "version": "0.8.0", "timestamp": "t"}))
    (root / "root" / "node.json").write_text(json.dumps({"name": "p", "shape": {"inputs": [], "outputs": []}}))
    (root / "root" / "model.json").write_text(json.dumps(
        {"op": "pipeline", "attributes": {"nodes": {"type": "list", "string": ["lr"]}}}))
    (root / "root" / "lr.node" / "node.json").write_text(json.dumps({"name": "lr", "shape": {
        "inputs": [{"port": "features", "name": "f"}], "outputs": [{"port": "prediction", "name": "p"}]}}))
    model_json = root / "root" / "lr.node" / "model.json"

    def write_model(coefficients):
        model_json.write_text(json.dumps({"op": "linear_regression", "attributes": {
            "coefficients": {"type": "tensor", "double": coefficients,
                             "shape": {"dimensions": [{"size": 2, "name": ""}]}},
            "intercept": {}}}))

    write_model([2.0, 3.0])
    assert load_bundle(root).transform({"f": [1.5, 1.0]})["p"] == 6.0  # {} intercept = 0.0
    write_model([2.0, None])
    assert np.isnan(load_bundle(root).transform({"f": [1.5, 1.0]})["p"])  # null = NaN
