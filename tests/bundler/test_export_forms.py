"""Spark 3 stages with a single-column form (inputCol) and a multi-column form (inputCols) export in
both forms, in both bundle formats, and score as Spark's own transform does.

MLeap 0.16's writer handles one form of each (OneHotEncoder: multi only; Bucketizer, Binarizer,
StopWordsRemover: single only); the export hands it the form it writes (bundler/export.py,
``written_forms``). One pipeline per form holds every such stage, so that each form costs one
Spark job per format. (StringIndexer's and Imputer's multi-column forms are written by leapserve's
own Java ops and tested with them.)
"""

from __future__ import annotations

import pytest

from leapserve import bundler
from leapserve.bundler.export import describe_bundle
from tests.bundler.test_export import assert_mleap_matches_spark
from tests.support.parity import assert_parity

NAN = float("nan")


@pytest.fixture(scope="module")
def rows(spark):
    return spark.createDataFrame(
        [(0, 0.5, 10.0, "a", "the cat sat"), (1, 1.5, 20.0, "b", "a dog and the cat"), (2, 2.5, 5.0, "a", ""),
         (3, -1.0, 30.0, "c", "The end"), (4, 3.0, 15.0, "b", "of it"), (5, NAN, 25.0, "a", "cat"),
         (6, 0.0, -5.0, "c", "a a a")],
        "rid int, x double, y double, s string, text string")


def _pipeline(rows, form: str):
    from pyspark.ml import Pipeline
    from pyspark.ml.feature import (Binarizer, Bucketizer, OneHotEncoder, QuantileDiscretizer, StopWordsRemover,
                                    StringIndexer, Tokenizer)

    splits = [-float("inf"), 0.0, 1.0, 2.0, float("inf")]
    if form == "single":
        stages = [
            StringIndexer(inputCol="s", outputCol="si", handleInvalid="keep"),
            OneHotEncoder(inputCol="si", outputCol="s_vec", handleInvalid="keep"),
            Bucketizer(splits=splits, inputCol="x", outputCol="xb", handleInvalid="keep"),
            QuantileDiscretizer(numBuckets=3, inputCol="y", outputCol="yq", handleInvalid="keep"),
            Binarizer(threshold=1.0, inputCol="x", outputCol="x_bin"),
            Tokenizer(inputCol="text", outputCol="words"),
            StopWordsRemover(inputCol="words", outputCol="kept"),
        ]
    else:
        stages = [
            StringIndexer(inputCol="s", outputCol="si", handleInvalid="keep"),
            Bucketizer(splits=[-float("inf"), 0.0, 15.0, float("inf")], inputCol="y", outputCol="yb0"),
            OneHotEncoder(inputCols=["si", "yb0"], outputCols=["s_vec", "yb0_vec"], dropLast=False),
            Bucketizer(splitsArray=[splits, [-10.0, 0.0, 12.0, 100.0]], inputCols=["x", "y"],
                       outputCols=["xb", "yb"], handleInvalid="keep"),
            QuantileDiscretizer(numBucketsArray=[2, 3], inputCols=["x", "y"], outputCols=["xq", "yq"],
                                handleInvalid="keep"),
            Binarizer(thresholds=[1.0, 12.0], inputCols=["x", "y"], outputCols=["x_bin", "y_bin"]),
            Binarizer(threshold=2.0, inputCols=["x", "y"], outputCols=["x_bin2", "y_bin2"]),  # one threshold for all
            Tokenizer(inputCol="text", outputCol="words"),
            StopWordsRemover(inputCols=["words"], outputCols=["kept"], stopWords=["the", "a"], caseSensitive=True),
        ]
    return Pipeline(stages=stages).fit(rows)


SPLIT = ("Bucketizer", "QuantileDiscretizer", "Binarizer", "StopWordsRemover")  # multi-column: one node per column


@pytest.mark.parity("one_hot_encoder", "bucketizer", "binarizer", "stopwords_remover", "string_indexer")
@pytest.mark.parametrize("form", ["single", "multi"])
def test_both_forms_export_with_spark_parity(spark, mleap_jvm, rows, tmp_path, form):
    model = _pipeline(rows, form)
    report = assert_parity(model, rows, tmp_path / "parity")
    assert report.errors == 0 and report.skipped == 0 and report.compared > 0

    # the export's own verification agrees, and MLeap's JVM runtime reads the bundle as written
    record = bundler.export_bundle(model, rows, tmp_path / "m.zip", verify=True)
    assert record.verification["status"] == "ok" and record.verification["rows"] == 7
    outputs = [c for c in record.outputs if c not in ("words",)]
    assert assert_mleap_matches_spark(mleap_jvm, tmp_path / "m.zip", model, rows, outputs) > 0

    names = [st["name"] for st in describe_bundle(tmp_path / "m.zip")["stages"]]
    if form == "single":
        assert names == [st.uid for st in model.stages] and record.fixups == []
        return
    # each multi-column Bucketizer, Binarizer and StopWordsRemover is one node per column
    expected = []
    for st in model.stages:
        columns = st.getInputCols() if st.hasParam("inputCols") and st.isSet("inputCols") else [None]
        split = type(st).__name__ in SPLIT and columns != [None]
        expected.extend([f"{st.uid}_{i}" for i in range(len(columns))] if split else [st.uid])
    assert names == expected
    split_notes = [note for note in record.fixups if "one single-column node per column" in note]
    assert len(split_notes) == 5


def test_the_model_itself_is_not_changed(rows):
    """The export writes copies: the fitted stages keep their form (Spark's transform is the oracle)."""
    model = _pipeline(rows, "single")
    encoder = model.stages[1]
    from leapserve.bundler.export import written_forms

    [copy] = written_forms(encoder)
    assert copy.uid == encoder.uid and copy.getInputCols() == ["si"] and not copy.isSet("inputCol")
    assert encoder.getInputCol() == "si" and not encoder.isSet("inputCols")
    assert encoder._java_obj.isSet(encoder._java_obj.getParam("inputCol"))
