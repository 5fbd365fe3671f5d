"""Parity: string_indexer, reverse_string_indexer (IndexToString), one_hot_encoder and vector_indexer
(every handle_invalid mode) against Spark 3.5's own transform, with bundles written by MLeap and,
for forms MLeap 0.16 cannot write (multi-column string indexer, legacy one-hot ``size``), bundles
written here by hand."""

from __future__ import annotations

import numpy as np
import pytest
from pyspark.ml import Pipeline, PipelineModel
from pyspark.ml.feature import IndexToString, OneHotEncoder, StringIndexer, StringIndexerModel, VectorIndexer
from pyspark.ml.linalg import Vectors
from pyspark.sql import functions as F

from tests.support.bundles import FIXTURES
from tests.support.frames import vector_frame
from tests.support.handmade import check_against_spark, node, write_bundle
from tests.support.parity import assert_parity
from leapserve.runtime import BundleError, DenseVector, InvalidInput, ScoringError, SparseVector, load_bundle

NAN = float("nan")


# --- string_indexer -----------------------------------------------------------------------

@pytest.fixture(scope="module")
def indexer_data(spark):
    train = spark.createDataFrame(
        [("a", 1.0, 1), ("a", 2.5, 2), ("a", 1e7, 3), ("b", -0.0, 1), ("b", 1.0, 1), ("c", 1e-4, 2),
         ("", 1.0, 3), ("é", 2.5, 1), (None, None, None)],
        "s string, x double, n int")
    rows = spark.createDataFrame(
        [(0, "a", 1.0, 1), (1, "c", 2.5, 2), (2, "", 1e7, 3), (3, "zzz", 1.0, 1), (4, None, 1.0, 1),
         (5, "a", None, 1), (6, "a", 3.0, 1), (7, "é", -0.0, None), (8, "b", 0.0, 1),
         (9, "a", NAN, 1), (10, "a", 1e-4, 99), (11, "A", 1.0, 2), (12, " a", 1e7, 3)],
        "rid int, s string, x double, n int")
    return train, rows


@pytest.mark.parity("string_indexer")
@pytest.mark.parametrize("mode", ["error", "skip", "keep"])
def test_string_indexer_modes_and_numeric_columns(spark, tmp_path, indexer_data, mode):
    train, rows = indexer_data
    model = Pipeline(stages=[
        StringIndexer(inputCol="s", outputCol="s_idx", handleInvalid=mode),
        StringIndexer(inputCol="x", outputCol="x_idx", handleInvalid=mode, stringOrderType="alphabetAsc"),
        StringIndexer(inputCol="n", outputCol="n_idx", handleInvalid=mode),
    ]).fit(train)
    assert model.stages[1].labels == ["-0.0", "1.0", "1.0E-4", "1.0E7", "2.5"]  # Spark's cast to string
    if mode == "error":  # Spark scores refused rows one at a time: keep them few
        rows = rows.filter("rid in (0, 1, 2, 3, 4, 8, 10)")
    report = assert_parity(model, rows, tmp_path)
    invalid = 10  # rids 3..12: one unseen or null value each
    if mode == "error":
        assert report.errors == 2 * 4 and report.skipped == 0
    elif mode == "skip":
        assert report.skipped == 2 * invalid and report.errors == 0
    else:
        assert report.errors == report.skipped == 0
        pipeline = report.pipelines["json"]
        got = pipeline.transform({"s": None, "x": NAN, "n": 99})
        assert got == {"s_idx": 5.0, "x_idx": 5.0, "n_idx": 3.0}  # null, "NaN", "99" all invalid
    pipeline = report.pipelines["protobuf"]
    assert pipeline.discrete_outputs == {"s_idx", "x_idx", "n_idx"}
    n_index = float(model.stages[2].labels.index("2"))
    assert pipeline.transform({"s": "a", "x": 1e-4, "n": 2}) == {"s_idx": 0.0, "x_idx": 2.0, "n_idx": n_index}


def _multi_indexer_nodes(model: StringIndexerModel, mode: str, legacy_ports=False):
    labels = model.labelsArray
    attrs = {"labels_length": {"int": len(labels)}, "handle_invalid": {"string": mode}}
    for i, column in enumerate(labels):
        attrs[f"labels_array_{i}"] = {"type": "list", "string": list(column)}
    cols_in, cols_out = model.getInputCols(), model.getOutputCols()
    if legacy_ports:
        ports_in, ports_out = [("input", cols_in[0])], [("output", cols_out[0])]
    else:
        ports_in = [(f"input{i}", c) for i, c in enumerate(cols_in)]
        ports_out = [(f"output{i}", c) for i, c in enumerate(cols_out)]
    return [{"name": "indexer", "op": "string_indexer", "attrs": attrs, "inputs": ports_in, "outputs": ports_out}]


@pytest.mark.parity("string_indexer")
@pytest.mark.parametrize("mode", ["error", "skip", "keep"])
def test_multi_column_string_indexer_hand_written(spark, tmp_path, mode):
    train = spark.createDataFrame([("a", "x", 1), ("a", "y", 2), ("b", "y", 2), ("c", "y", 3)],
                                  "s string, t string, n int")
    model = StringIndexer(inputCols=["s", "t", "n"], outputCols=["si", "ti", "ni"], handleInvalid=mode).fit(train)
    rows = spark.createDataFrame(
        [(0, "a", "x", 1), (1, "c", "y", 3), (2, "b", None, 2), (3, None, "x", 1), (4, "q", "x", 1),
         (5, "a", "x", 7), (6, "a", "", None), (7, "b", "y", 2)],
        "rid int, s string, t string, n int")
    bad = 5  # rids 2..6
    if mode == "error":  # Spark scores refused rows one at a time: keep them few
        rows, bad = rows.filter("rid in (0, 1, 2, 4, 5, 7)"), 3
    for fmt in ("json", "protobuf"):
        bundle = write_bundle(tmp_path / fmt, fmt, _multi_indexer_nodes(model, mode))
        pipeline = load_bundle(bundle)
        assert list(pipeline.outputs) == ["si", "ti", "ni"]
        compared, errors, skipped = check_against_spark(pipeline, model, rows, f"{fmt}/{mode}")
        assert (errors, skipped) == {"error": (bad, 0), "skip": (0, bad), "keep": (0, 0)}[mode]
        assert compared == 3 * (len(rows.collect()) - errors - skipped)
        # one output asked for: the other columns still decide errors and skips (Spark's filter)
        if mode != "keep":
            with pytest.raises(ScoringError):
                pipeline.transform({"s": "a", "t": "x", "n": 7}, ["si"])
        else:
            assert pipeline.transform({"s": None, "t": "x", "n": 7}, ["ni", "si"]) == {"ni": 3.0, "si": 3.0}


@pytest.mark.parity("string_indexer")
def test_labels_length_form_with_legacy_ports(spark, tmp_path):
    train = spark.createDataFrame([("a",), ("b",), ("b",)], "s string")
    model = StringIndexer(inputCols=["s"], outputCols=["si"], handleInvalid="keep").fit(train)
    rows = spark.createDataFrame([(0, "a"), (1, "b"), (2, "zz"), (3, None)], "rid int, s string")
    for legacy in (False, True):
        bundle = write_bundle(tmp_path / f"legacy-{legacy}", "json", _multi_indexer_nodes(model, "keep", legacy))
        pipeline = load_bundle(bundle)
        assert check_against_spark(pipeline, model, rows) == (4, 0, 0)


def test_string_indexer_errors_name_the_column(spark, tmp_path):
    train = spark.createDataFrame([("a",), ("b",)], "s string")
    model = PipelineModel(stages=[StringIndexer(inputCol="s", outputCol="si").fit(train)])
    rows = spark.createDataFrame([(0, "a")], "rid int, s string")
    pipeline = assert_parity(model, rows, tmp_path, formats=("json",)).pipelines["json"]
    with pytest.raises(InvalidInput) as e:
        pipeline.transform({"s": "nope"})
    assert e.value.field == "s" and "unseen label 'nope'" in str(e.value)
    with pytest.raises(InvalidInput) as e:
        pipeline.transform_batch({"s": ["a", "b", None]})
    assert e.value.field == "s" and e.value.row == 2 and "null" in str(e.value)


def test_string_indexer_bad_attributes(tmp_path):
    def load(attrs, inputs=(("input0", "s"),), outputs=(("output0", "si"),), name="b"):
        bundle = write_bundle(tmp_path / name, "json", [{"name": "ix", "op": "string_indexer", "attrs": attrs,
                                                         "inputs": list(inputs), "outputs": list(outputs)}])
        return load_bundle(bundle)

    labels = {"type": "list", "string": ["a"]}
    with pytest.raises(BundleError, match="handle_invalid"):
        load({"labels": labels, "handle_invalid": {"string": "ignore"}}, name="b1")
    with pytest.raises(BundleError, match="labels_array_1"):
        load({"labels_length": {"int": 2}, "labels_array_0": labels}, name="b2")
    with pytest.raises(BundleError, match="2 columns"):
        load({"labels_length": {"int": 2}, "labels_array_0": labels, "labels_array_1": labels},
             inputs=[("input", "s")], outputs=[("output", "si")], name="b3")
    # handle_invalid is optional (error), labels may be empty
    pipeline = load({"labels": {"type": "list"}}, name="b4")
    with pytest.raises(InvalidInput):
        pipeline.transform({"s": "a"})


# --- reverse_string_indexer ---------------------------------------------------------------

@pytest.mark.parity("reverse_string_indexer")
def test_index_to_string(spark, tmp_path):
    train = spark.createDataFrame([("a",), ("b",), ("b",), ("c",)], "s string")
    rows = spark.createDataFrame(
        [(0, "a", 0.0), (1, "b", 1.9), (2, "c", -0.5), (3, "a", NAN), (4, "b", None), (5, "c", 2.0),
         (6, "a", -1.0)],
        "rid int, s string, i double")
    model = Pipeline(stages=[
        StringIndexer(inputCol="s", outputCol="si"),
        IndexToString(inputCol="si", outputCol="back"),            # labels from the column metadata
        IndexToString(inputCol="i", outputCol="label", labels=["x", "y"]),
    ]).fit(train)
    report = assert_parity(model, rows, tmp_path)
    assert report.errors == 2 * 2  # rids 5, 6: indices out of range
    pipeline = report.pipelines["json"]
    for index in (1e12, float("inf"), -1e12, -float("inf")):  # JVM's toInt saturates: still out of range
        with pytest.raises(InvalidInput):
            pipeline.transform({"s": "a", "i": index})
        with pytest.raises(InvalidInput):
            pipeline.transform_batch({"s": ["a"], "i": [index]})
    assert pipeline.discrete_outputs >= {"back", "label"}
    got = pipeline.transform({"s": "c", "i": NAN})
    assert got["back"] == "c" and got["label"] == "x"  # NaN.toInt == 0
    assert pipeline.transform({"s": "a", "i": None})["label"] is None
    batch = pipeline.transform_batch({"s": ["a", "b"], "i": [1.5, NAN]})
    assert list(batch["label"]) == ["y", "x"] and list(batch["back"]) == ["a", "b"]


def test_index_to_string_list_input(tmp_path):
    attrs = {"labels": {"type": "list", "string": ["x", "y", "z"]},
             "input_shape": {"data_shape": {"base": "list", "isNullable": False}}}
    bundle = write_bundle(tmp_path / "b", "json", [{"name": "r", "op": "reverse_string_indexer", "attrs": attrs,
                                                   "inputs": [("input", "i")], "outputs": [("output", "s")]}])
    pipeline = load_bundle(bundle)
    assert pipeline.transform({"i": [2.0, 0.0, 1.7]}) == {"s": ["z", "x", "y"]}
    assert list(pipeline.transform_batch({"i": [[1.0], []]})["s"]) == [["y"], []]
    with pytest.raises(InvalidInput):
        pipeline.transform({"i": [3.0]})


# --- one_hot_encoder ----------------------------------------------------------------------

def _nominal(df, column, size):
    metadata = {"ml_attr": {"type": "nominal", "num_vals": size}}  # what MLeap reads category sizes from
    return df.withColumn(column, F.col(column).alias(column, metadata=metadata))


@pytest.fixture(scope="module")
def category_rows(spark):
    rows = spark.createDataFrame(
        [(0, 0.0, 1.0), (1, 1.0, 0.0), (2, 2.0, 1.0), (3, 1.5, 0.0), (4, 2.9, 1.9), (5, -1.0, 0.0),
         (6, NAN, 1.0), (7, None, 0.0), (8, 0.0, None), (9, 3.0, 1.0), (10, -0.5, 0.0), (11, 1.0, 2.0),
         (12, -0.0, 0.0)],
        "rid int, c double, d double")
    return _nominal(_nominal(rows, "c", 3), "d", 2)


@pytest.mark.parity("one_hot_encoder")
@pytest.mark.parametrize("drop_last", [True, False])
@pytest.mark.parametrize("mode", ["error", "keep"])
def test_one_hot_encoder(spark, tmp_path, category_rows, drop_last, mode):
    model = PipelineModel(stages=[
        OneHotEncoder(inputCols=["c", "d"], outputCols=["c_vec", "d_vec"], dropLast=drop_last,
                      handleInvalid=mode).fit(category_rows.filter("rid < 3"))])
    rows = category_rows
    if mode == "error":  # Spark scores refused rows one at a time: keep them few (-1, NaN, d = 2)
        rows = rows.filter("rid not in (9, 10)")
    report = assert_parity(model, rows, tmp_path)
    assert report.errors == (2 * 3 if mode == "error" else 0)
    pipeline = report.pipelines["protobuf"]
    assert list(pipeline.inputs) == ["c", "d"] and list(pipeline.outputs) == ["c_vec", "d_vec"]
    width = 3 + (1 if mode == "keep" else 0) - (1 if drop_last else 0)
    assert pipeline.outputs["c_vec"].size == width
    got = pipeline.transform({"c": 1.0, "d": None})
    assert got["c_vec"] == SparseVector(width, [1], [1.0]) and got["d_vec"] is None
    batch = pipeline.transform_batch({"c": [0.0, 1.0], "d": [1.0, 0.0]})
    assert batch["c_vec"].row(1) == SparseVector(width, [1], [1.0])


@pytest.mark.parity("string_indexer", "one_hot_encoder")
def test_string_indexer_then_one_hot(spark, tmp_path):
    train = spark.createDataFrame([("a",), ("b",), ("b",), ("c",)], "s string")
    model = Pipeline(stages=[
        StringIndexer(inputCol="s", outputCol="si", handleInvalid="keep"),
        OneHotEncoder(inputCols=["si"], outputCols=["sv"], dropLast=False),  # K = 4 with "__unknown"
    ]).fit(train)
    rows = spark.createDataFrame([(0, "a"), (1, "b"), (2, "c"), (3, "zz"), (4, None)], "rid int, s string")
    report = assert_parity(model, rows, tmp_path)
    assert report.compared == 2 * 2 * 5
    assert report.pipelines["json"].transform({"s": None})["sv"] == SparseVector(4, [3], [1.0])


@pytest.mark.parity("one_hot_encoder")
@pytest.mark.parametrize("drop_last", [True, False])
def test_one_hot_legacy_size_form(spark, tmp_path, category_rows, drop_last):
    """Spark 2 era bundles: ``size`` instead of category_sizes, ports input/output, and without
    handle_invalid "keep" when the last category is dropped, else "error"."""
    mode = "keep" if drop_last else "error"
    spark_model = OneHotEncoder(inputCols=["c"], outputCols=["c_vec"]).fit(category_rows.filter("rid < 3"))
    spark_model.setDropLast(drop_last).setHandleInvalid(mode)
    attrs = {"size": {"long": 3}, "drop_last": {"boolean": True} if drop_last else {}}
    rows = category_rows.drop("d").filter("rid not in (9, 10)")  # invalid under error: -1 and NaN
    for fmt in ("json", "protobuf"):
        bundle = write_bundle(tmp_path / fmt, fmt, [{"name": "ohe", "op": "one_hot_encoder", "attrs": attrs,
                                                     "inputs": [("input", "c")], "outputs": [("output", "c_vec")]}])
        pipeline = load_bundle(bundle)
        compared, errors, skipped = check_against_spark(pipeline, spark_model, rows, fmt)
        assert (compared + errors, skipped) == (11, 0) and errors == (0 if drop_last else 2)
        if drop_last:  # category 3 is the unknown one "keep" adds, the one dropped: all zeros
            assert pipeline.transform({"c": 3.0}) == {"c_vec": SparseVector(3, [], [])}
        else:  # "error": 3 is not one of the 3 categories
            with pytest.raises(ScoringError) as e:
                pipeline.transform({"c": 3.0})
            assert e.value.field == "c"


def test_one_hot_bad_attributes(tmp_path):
    def load(attrs, name):
        bundle = write_bundle(tmp_path / name, "json", [{"name": "ohe", "op": "one_hot_encoder", "attrs": attrs,
                                                        "inputs": [("input0", "c")], "outputs": [("output0", "v")]}])
        return load_bundle(bundle)

    sizes = {"type": "list", "int": [3]}
    with pytest.raises(BundleError, match="handle_invalid"):
        load({"category_sizes": sizes, "drop_last": {}, "handle_invalid": {"string": "skip"}}, "b1")
    with pytest.raises(BundleError, match="no columns"):
        load({"category_sizes": {"type": "list"}, "handle_invalid": {"string": "error"}}, "b2")
    with pytest.raises(BundleError, match="category_sizes"):
        load({"drop_last": {}}, "b3")


# --- shared fixture (written by MLeap's scikit-learn support) ------------------------------

def test_one_hot_encoder_pipeline_fixture():
    """string_indexer (legacy ``labels``, keep, ``nullable_input``) then one_hot_encoder (legacy
    ``size`` 3 with drop_last and no handle_invalid: keep, width 3). Expected values from the spec:
    A, B, C -> 0, 1, 2 -> e0, e1, e2; anything else, null included, -> 3 -> the zero vector."""
    pipeline = load_bundle(FIXTURES / "one_hot_encoder_pipeline.zip")
    assert dict(pipeline.inputs).keys() == {"col_1"}
    index, onehot = "col_1_label_le", "col_1_label_one_hot_encoded"
    assert pipeline.outputs[onehot].size == 3
    cases = {"A": 0, "B": 1, "C": 2, "D": 3, "a": 3, "": 3, None: 3}
    for label, i in cases.items():
        got = pipeline.transform({"col_1": label})
        assert got[index] == float(i)
        assert got[onehot] == (SparseVector(3, [i], [1.0]) if i < 3 else SparseVector(3, [], []))
    batch = pipeline.transform_batch({"col_1": list(cases)})
    assert batch[index].tolist() == [float(i) for i in cases.values()]
    assert batch[onehot].toarray().tolist() == [[1.0 if j == i else 0.0 for j in range(3)] for i in cases.values()]
    assert not batch.skipped.any()
    assert pipeline.transform({"col_1": 1.0})[index] == 3.0  # numbers index by their string form "1.0"


# --- vector_indexer ------------------------------------------------------------------------

# f0 continuous; f1 categories {0, 1, 2}; f2 categories {-1.5, 3.0} (no zero: an implicit zero of
# a sparse vector is left alone, an explicit one is invalid); f3 binary {0, 1}.
TRAIN = [Vectors.dense([0.5, 0.0, -1.5, 0.0]), Vectors.dense([1.5, 1.0, 3.0, 1.0]),
         Vectors.dense([2.5, 2.0, -1.5, 1.0]), Vectors.sparse(4, [0, 2], [3.5, 3.0]),
         Vectors.dense([4.5, 1.0, 3.0, 0.0]), Vectors.sparse(4, [0, 1, 2, 3], [5.5, 2.0, -1.5, 1.0])]
SCORE = [
    Vectors.dense([7.0, 2.0, 3.0, 1.0]),                 # all known
    Vectors.dense([0.0, -0.0, -1.5, 0.0]),               # -0.0 finds 0.0
    Vectors.dense([1.0, 5.0, 3.0, 1.0]),                 # unseen category in f1
    Vectors.dense([1.0, 1.0, NAN, 1.0]),                 # NaN is never a known category
    Vectors.dense([NAN, 1.0, 3.0, 0.0]),                 # NaN in a continuous feature is fine
    Vectors.sparse(4, [0, 3], [9.0, 1.0]),               # implicit zeros: f2's stays 0.0
    Vectors.sparse(4, [1, 2], [2.0, 3.0]),
    Vectors.sparse(4, [2], [0.0]),                       # an explicit zero in f2 is looked up: invalid
    Vectors.sparse(4, [1, 3], [7.0, 1.0]),               # unseen category, sparse
    Vectors.sparse(4, [], []),
    Vectors.dense([0.0, 0.0, 3.0, 2.0]),                 # unseen in the binary feature
]


@pytest.fixture(scope="module")
def train_frame(spark):
    return vector_frame(spark, TRAIN, column="v")


@pytest.mark.parity("vector_indexer")
@pytest.mark.parametrize("handle_invalid", ["keep", "skip", "error"])
def test_vector_indexer_parity(spark, tmp_path, train_frame, handle_invalid):
    model = VectorIndexer(inputCol="v", outputCol="indexed", maxCategories=3,
                          handleInvalid=handle_invalid).fit(train_frame)
    assert set(model.categoryMaps) == {1, 2, 3}
    # Spark failing a job makes the harness score row by row: fewer rows for "error"
    score = SCORE if handle_invalid != "error" else [SCORE[i] for i in (0, 2, 3, 5, 7)]
    report = assert_parity(model, vector_frame(spark, score, column="v"), tmp_path)
    invalid = 5 if handle_invalid != "error" else 3  # rows 2, 3, 7, 8, 10 of SCORE
    if handle_invalid == "keep":
        assert report.errors == 0 and report.skipped == 0
    elif handle_invalid == "skip":
        assert report.skipped == 2 * invalid and report.errors == 0
    else:
        assert report.errors == 2 * invalid
    # layout as Spark: dense stays dense, sparse stays sparse (with the same stored indices)
    pipeline = report.pipelines["json"]
    out = pipeline.transform({"v": SparseVector(4, [0, 3], [9.0, 1.0])})["indexed"]
    assert out == SparseVector(4, [0, 3], [9.0, 1.0])
    assert isinstance(pipeline.transform({"v": [7.0, 2.0, 3.0, 1.0]})["indexed"], DenseVector)


def test_vector_indexer_batch_layouts(spark, tmp_path, train_frame):
    model = VectorIndexer(inputCol="v", outputCol="indexed", maxCategories=3, handleInvalid="skip").fit(train_frame)
    report = assert_parity(model, vector_frame(spark, SCORE[:1], column="v"), tmp_path, formats=("protobuf",))
    pipeline = report.pipelines["protobuf"]
    dense = np.array([[7.0, 2.0, 3.0, 1.0], [1.0, 5.0, 3.0, 1.0], [0.0, 0.0, -1.5, 0.0]])
    result = pipeline.transform_batch({"v": dense})
    assert result.skipped.tolist() == [False, True, False]
    assert result["indexed"][0].tolist() == [7.0, 2.0, 1.0, 1.0] and result["indexed"][2].tolist() == [0, 0, 0, 0]
    sparse = [SparseVector(4, [1, 2], [2.0, 3.0]), SparseVector(4, [2], [0.0]), SparseVector(4, [0], [1.0])]
    result = pipeline.transform_batch({"v": sparse})
    assert result.skipped.tolist() == [False, True, False]
    assert result["indexed"].row(0) == SparseVector(4, [1, 2], [2.0, 1.0])


def test_vector_indexer_hand_written_maps(tmp_path):
    """A NaN key (JSON null) counts in the map's size for "keep" but is never matched; keys
    outside the vector and mismatched lists are refused at load."""
    attrs = {"keys": {"type": "list", "long": [1]}, "num_features": {"long": 2},
             "key_1_keys": {"type": "list", "double": [0.0, None, 4.0]},
             "key_1_values": {"type": "list", "long": [0, 2, 1]}, "handle_invalid": {"string": "keep"}}
    for fmt in ("json", "protobuf"):
        pipe = load_bundle(write_bundle(tmp_path / fmt, fmt, [node("vi", "vector_indexer", attrs,
                                                                 inputs=[("input", "v")],
                                                                 outputs=[("output", "o")])]))
        assert pipe.transform({"v": [3.0, 4.0]})["o"].tolist() == [3.0, 1.0]
        assert pipe.transform({"v": [3.0, NAN]})["o"].tolist() == [3.0, 3.0]
        assert pipe.transform_batch({"v": np.array([[3.0, 4.0], [1.0, 9.0]])})["o"].tolist() == [[3, 1], [1, 3]]
    bad = dict(attrs, keys={"type": "list", "long": [2]}, key_2_keys=attrs["key_1_keys"],
               key_2_values=attrs["key_1_values"])
    with pytest.raises(BundleError, match="outside"):
        load_bundle(write_bundle(tmp_path / "bad1", "json", [node("vi", "vector_indexer", bad, inputs=[("input", "v")],
                                                                  outputs=[("output", "o")])]))
    bad = dict(attrs, key_1_values={"type": "list", "long": [0]})
    with pytest.raises(BundleError, match="key_1_values"):
        load_bundle(write_bundle(tmp_path / "bad2", "json", [node("vi", "vector_indexer", bad, inputs=[("input", "v")],
                                                                  outputs=[("output", "o")])]))
