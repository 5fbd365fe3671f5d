"""Bundles written by MLeap itself (2017-era Spark bundles, scikit-learn bundles) load and score to
the values MLeap's own JVM runtime gives for the same frames."""

from __future__ import annotations

import json

import numpy as np
import pytest

from tools.mleap_jvm import frame_column
from leapserve.runtime import load_bundle
from tests.support.bundles import FIXTURES, FRAME, RF_ZIP
from tests.support.compared import compared


def frame_records(frame: dict) -> list[dict]:
    names = [f["name"] for f in frame["schema"]["fields"]]
    return [dict(zip(names, row)) for row in frame["rows"]]


def frame_of(fields: list[tuple[str, str]], rows: list[list]) -> dict:
    return {"schema": {"fields": [{"name": n, "type": t} for n, t in fields]}, "rows": rows}


def airbnb_frame() -> dict:
    """The fixture's one row plus variations: other categories and other numbers."""
    frame = json.loads(FRAME.read_text())
    base = frame["rows"][0]
    names = [f["name"] for f in frame["schema"]["fields"]]
    rows = [base]
    variations = [
        {"state": "CA", "room_type": "Private room", "bathrooms": 1.0, "square_feet": 650.0},
        {"state": "TX", "room_type": "Shared room", "cancellation_policy": "flexible", "instant_bookable": "0.0"},
        {"host_is_superhost": "0.0", "bedrooms": 0.0, "security_deposit": 0.0, "cleaning_fee": 0.0},
        {"review_scores_rating": 20.0, "number_of_reviews": 400.0, "extra_people": 75.0, "square_feet": 5000.0},
    ]
    for change in variations:
        row = list(base)
        for k, v in change.items():
            row[names.index(k)] = v
        rows.append(row)
    return {"schema": frame["schema"], "rows": rows}


def assert_same_as_mleap(mleap_jvm, bundle, frame, columns):
    """Row and batch paths give MLeap's JVM answers for ``columns``, doubles by the parity rule
    (leapserve.bundler.compare: 1e-12 relative)."""
    from leapserve.bundler.compare import compare

    model = load_bundle(bundle)
    expected = mleap_jvm.score(bundle, frame)
    records = frame_records(frame)
    batch_columns = {name: [r[name] for r in records] for name in model.inputs}
    batch = model.transform_batch(batch_columns)
    for col in columns:
        want = frame_column(expected, col)
        for i, record in enumerate(records):
            got = model.transform(record)[col]
            got = got.toarray() if hasattr(got, "toarray") else got
            diff = compare(want[i], np.asarray(got, dtype=float).tolist())
            assert diff.equal, f"row {i} column {col}: {diff.detail}"
            b = batch[col]
            b = b.toarray()[i] if hasattr(b, "toarray") else b[i]
            diff = compare(want[i], np.asarray(b, dtype=float).tolist())
            assert diff.equal, f"batch row {i} column {col}: {diff.detail}"
    compared(model, columns)
    return model


@pytest.mark.parametrize("name", ["airbnb.model.lr.zip", "airbnb.model.rf.zip"])
def test_airbnb_bundles(mleap_jvm, name):
    bundle = FIXTURES / name
    frame = airbnb_frame()
    model = assert_same_as_mleap(mleap_jvm, bundle, frame, ["price_prediction"])
    assert model.info.version == "0.8.0-SNAPSHOT"
    assert set(model.inputs) == {f["name"] for f in frame["schema"]["fields"]}


def test_airbnb_rf_scores_as_spark_after_mleaps_reader(spark):
    """MLeap's own deserializer reads the forest fixture into a Spark PipelineModel; Spark's
    transform of the rows and ours agree on every column both produce. (The LR fixture cannot be
    read this way: MLeap 0.16's Spark reader fails on its one-hot encoder, "key not found:
    category_sizes"; it is checked against MLeap's JVM runtime above.)"""
    import mleap.pyspark.spark_support  # noqa: F401  (adds deserializeFromBundle)
    from pyspark.ml import PipelineModel

    from leapserve.bundler.compare import compare, spark_discrete_columns, spark_value

    bundle = RF_ZIP
    frame = airbnb_frame()
    schema = ", ".join(f"`{f['name']}` {f['type']}" for f in frame["schema"]["fields"])
    transformed = PipelineModel.deserializeFromBundle(f"jar:file:{bundle}").transform(
        spark.createDataFrame([tuple(r) for r in frame["rows"]], schema))
    spark_rows, discrete = transformed.collect(), spark_discrete_columns(transformed.schema)
    model = load_bundle(bundle)
    compared = 0
    for i, (row, record) in enumerate(zip(spark_rows, frame_records(frame))):
        got = model.transform(record)
        expected = row.asDict()
        for col, value in got.items():
            if col in expected:
                diff = compare(spark_value(expected[col]), value, exact=col in discrete)
                assert diff.equal, f"row {i}, column {col!r}: {diff.detail}"
                compared += 1
    assert compared >= len(spark_rows) * 2 and "price_prediction" in spark_rows[0].asDict()


def test_sklearn_demo_bundle(mleap_jvm):
    fields = [("demo:a", "double"), ("demo:c", "double"), ("demo:d", "double")]
    rows = [[1.0, 2.0, 3.0], [0.0, 0.0, 0.0], [-4.5, 10.0, 0.25]]
    assert_same_as_mleap(mleap_jvm, FIXTURES / "demo.zip", frame_of(fields, rows), ["demo:prediction"])


def test_sklearn_one_hot_encoder_pipeline(mleap_jvm):
    model = load_bundle(FIXTURES / "one_hot_encoder_pipeline.zip")
    (field,) = model.inputs
    labels = None
    for st in model.stages:
        if st.op == "string_indexer":
            labels = list(st.model.labels[0])  # one column: its labels
    assert labels, "the fixture's string indexer has labels"
    rows = [[label] for label in labels]
    output = [col for col in model.outputs if "one_hot" in col][0]
    assert_same_as_mleap(mleap_jvm, FIXTURES / "one_hot_encoder_pipeline.zip",
                         frame_of([(field, "string")], rows), [output])


def test_min_max_scaler_legacy_bundle(mleap_jvm):
    fields = [("dti", "double"), ("loan_amount", "double")]
    rows = [[0.1, 1000.0], [0.5, 25000.0], [-1.0, 0.0], [2.0, 1e6]]
    assert_same_as_mleap(mleap_jvm, FIXTURES / "min_max_scaler_tf.zip", frame_of(fields, rows),
                         ["scaled_features"])
