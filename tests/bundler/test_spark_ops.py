"""leapserve's own ops for MLeap's Spark serializer (bundler/jvm/spark_ops/, jars.SPARK_OPS): the
registry config that lists them, and the session that uses them."""

from __future__ import annotations

import pytest

from leapserve.bundler import jars

MLEAP = "org.apache.spark.ml.bundle.ops."


def test_registry_ops_replace_in_place_and_append():
    builtin = [MLEAP + "A", MLEAP + "B", MLEAP + "C"]
    ops = (jars.SparkOp("x.NewB", replaces=MLEAP + "B"), jars.SparkOp("x.Extra"))
    assert jars.registry_ops(builtin, ops) == [MLEAP + "A", "x.NewB", MLEAP + "C", "x.Extra"]
    with pytest.raises(RuntimeError, match=r"replaces ops MLeap's registry does not list: \['y.Gone'\]"):
        jars.registry_ops(builtin, (jars.SparkOp("x.New", replaces="y.Gone"),))


def test_generated_registry_lists_every_op():
    """The config the session hands the JVM: MLeap's list as generated, each of ours once, none of
    the ops they replace."""
    text = jars.spark_registry_conf().read_text()
    assert text.count("ml.combust.mleap.spark.registry.builtin-ops = [") == 1
    listed = [line.strip().strip('",') for line in text.splitlines() if line.startswith('  "')]
    assert listed == jars.registry_ops(jars.mleap_builtin_ops())
    for op in jars.SPARK_OPS:
        assert listed.count(op.op_class) == 1
        assert op.replaces not in listed


def test_session_registry_has_leapserve_ops(spark):
    """MLeap's registry in the session writes each Spark class with our op (under our op's name)."""
    registry = spark._jvm.org.apache.spark.ml.bundle.SparkBundleContext.defaultContext().bundleRegistry()
    for op in jars.SPARK_OPS:
        java_class = spark._jvm
        for part in op.op_class.split("."):
            java_class = getattr(java_class, part)
        instance = java_class()
        assert registry.opAlias().apply(instance.klazz().getCanonicalName()) == instance.Model().opName()
        assert registry.ops().apply(instance.Model().opName()).getClass().getName() == op.op_class


# --- the ops, each proven against Spark ---------------------------------------------------------
# Each stage is exported in both formats with verification on (the export's own check: the native
# runtime against Spark on a sample), held to Spark row by row by the parity harness (batch path
# included), and, where MLeap's JVM runtime 0.20 has the op, scored by that runtime too.

FORMATS = ("json", "protobuf")
NUMBERS = ["a", "b", "c", "d"]


@pytest.fixture(scope="module")
def table(spark):
    """rid, four doubles around three class centres (label), a category string per class."""
    import numpy as np

    rnd = np.random.default_rng(31)
    rows = []
    for label, centre in enumerate(([1.0, 4.0, 0.5, 2.0], [4.0, 1.0, 2.0, 0.5], [2.5, 2.5, 4.0, 4.0])):
        for i, values in enumerate(np.abs(rnd.normal(centre, 0.9, (20, 4))).round(3).tolist()):
            rows.append((len(rows), *values, float(label), ("red", "green", "blue")[(label + i % 2) % 3],
                         ("x", "y")[i % 2]))
    return spark.createDataFrame(rows, ["rid", *NUMBERS, "label", "colour", "letter"])


def assembler():
    from pyspark.ml.feature import VectorAssembler

    return VectorAssembler(inputCols=NUMBERS, outputCol="features")


def assembled(stage):
    """A Pipeline assembling NUMBERS into ``features`` ahead of ``stage``."""
    from pyspark.ml import Pipeline

    return Pipeline(stages=[assembler(), stage])


def exported_with_parity(model, rows, tmp_path, mleap_jvm=None, fixups=()) -> dict:
    """Export with verification in both formats, hold both bundles to Spark with the parity harness
    (rows and batch), and with ``mleap_jvm`` have MLeap's runtime score them like Spark too.
    Returns format -> bundle path."""
    from leapserve.bundler.export import export_bundle
    from leapserve.runtime import load_bundle
    from tests.bundler.test_export import assert_mleap_matches_spark
    from tests.support.parity import check_pipelines, spark_outcomes

    bundles, pipelines = {}, {}
    for fmt in FORMATS:
        bundles[fmt] = tmp_path / f"bundle-{fmt}.zip"
        record = export_bundle(model, rows, bundles[fmt], format=fmt, verify=True)
        assert record.verification["status"] == "ok" and record.verification["values"] > 0, record.verification
        assert list(record.fixups) == list(fixups)
        pipelines[f"[{fmt}] "] = load_bundle(bundles[fmt])
    counts = check_pipelines(pipelines, rows.collect(), spark_outcomes(model, rows))
    assert counts.errors == 0 and counts.compared > 0
    if mleap_jvm is not None:
        outputs = [c for c in model.transform(rows.limit(1)).columns if c not in rows.columns]
        for bundle in bundles.values():
            assert assert_mleap_matches_spark(mleap_jvm, bundle, model, rows, outputs) > 0
    return bundles


def model_of(bundle, folder_suffix: str) -> dict:
    """The JSON model.json of the node whose folder ends with ``folder_suffix``."""
    import json
    import zipfile

    with zipfile.ZipFile(bundle) as z:
        (name,) = [n for n in z.namelist() if n.endswith(f"{folder_suffix}/model.json")]
        return json.loads(z.read(name))


@pytest.mark.parity("multi_layer_perceptron_classifier", "vector_assembler")
def test_multilayer_perceptron(spark, mleap_jvm, table, tmp_path):
    from pyspark.ml import PipelineModel
    from pyspark.ml.classification import MultilayerPerceptronClassifier

    assembler, plain = assembled(MultilayerPerceptronClassifier(layers=[4, 6, 3], seed=3, maxIter=6)).fit(table).stages
    # a deeper network with thresholds, beside it
    deep = MultilayerPerceptronClassifier(layers=[4, 5, 4, 3], seed=5, maxIter=4, predictionCol="deep",
                                          probabilityCol="deep_p", rawPredictionCol="deep_raw").fit(
        assembler.transform(table)).setThresholds([0.6, 0.2, 0.5])
    model = PipelineModel(stages=[assembler, plain, deep])
    bundles = exported_with_parity(model, table, tmp_path, mleap_jvm)
    written = model_of(bundles["json"], f"{plain.uid}.node")
    assert written["op"] == "multi_layer_perceptron_classifier"
    assert written["attributes"]["layers"]["long"] == [4, 6, 3]
    assert "thresholds" not in written["attributes"]
    written = model_of(bundles["json"], f"{deep.uid}.node")
    assert written["attributes"]["layers"]["long"] == [4, 5, 4, 3]
    assert written["attributes"]["thresholds"]["double"] == [0.6, 0.2, 0.5]


def mleap_scores_like_spark(mleap_jvm, model, rows, tmp_path) -> None:
    """A model MLeap's runtime 0.20 has every op of, exported in both formats and scored by it."""
    from leapserve.bundler.export import export_bundle
    from tests.bundler.test_export import assert_mleap_matches_spark

    outputs = [c for c in model.transform(rows.limit(1)).columns if c not in rows.columns]
    for fmt in FORMATS:
        bundle = tmp_path / f"for-mleap-{fmt}.zip"
        export_bundle(model, rows, bundle, format=fmt, verify=False)
        assert assert_mleap_matches_spark(mleap_jvm, bundle, model, rows, outputs) > 0


@pytest.mark.parity("naive_bayes", "vector_assembler")
def test_naive_bayes_every_model_type(spark, mleap_jvm, table, tmp_path):
    from pyspark.ml import PipelineModel
    from pyspark.ml.classification import NaiveBayes
    from pyspark.ml.feature import Binarizer

    assemble = assembler()
    binarize = Binarizer(threshold=2.0, inputCol="features", outputCol="bits")  # Bernoulli reads 0/1
    features = binarize.transform(assemble.transform(table))
    fitted = {kind: NaiveBayes(modelType=kind, predictionCol=f"{kind}_pred", probabilityCol=f"{kind}_prob",
                               rawPredictionCol=f"{kind}_raw",
                               featuresCol="bits" if kind == "bernoulli" else "features").fit(features)
              for kind in ("multinomial", "complement", "gaussian", "bernoulli")}
    fitted["gaussian"].setThresholds([0.3, 0.5, 0.4])
    model = PipelineModel(stages=[assemble, binarize, *fitted.values()])
    bundles = exported_with_parity(model, table, tmp_path, mleap_jvm=None)
    written = model_of(bundles["json"], f"{fitted['gaussian'].uid}.node")["attributes"]
    assert written["model_type"]["string"] == "gaussian"
    assert [d["size"] for d in written["sigma"]["shape"]["dimensions"]] == [3, 4]
    assert written["thresholds"]["double"] == [0.3, 0.5, 0.4]
    # MLeap's runtime 0.20 scores multinomial and bernoulli models only
    mleap_scores_like_spark(mleap_jvm, PipelineModel(stages=[assemble, binarize, fitted["multinomial"],
                                                             fitted["bernoulli"]]), table, tmp_path)


@pytest.fixture(scope="module")
def labelled(spark, table):
    """The table and rows with a colour the indexers never saw, and a null one."""
    extra = spark.createDataFrame([(100, 1.0, 1.0, 1.0, 1.0, 0.0, "purple", "x"), (101, 1.0, 1.0, 1.0, 1.0, 0.0, None, "y")],
                                  table.schema)
    return table.union(extra)


@pytest.mark.parity("string_indexer")
def test_string_indexer_one_and_several_columns(spark, mleap_jvm, table, labelled, tmp_path):
    from pyspark.ml import PipelineModel
    from pyspark.ml.feature import StringIndexer

    several = StringIndexer(inputCols=["colour", "letter"], outputCols=["colour_i", "letter_i"],
                            handleInvalid="keep", stringOrderType="alphabetDesc").fit(table)
    one = StringIndexer(inputCol="letter", outputCol="letter_only").fit(table)
    model = PipelineModel(stages=[several, one])
    bundles = exported_with_parity(model, labelled, tmp_path)
    written = model_of(bundles["json"], f"{several.uid}.node")["attributes"]
    assert written["labels_length"]["int"] == 2
    assert written["labels_array_0"]["string"] == ["red", "green", "blue"]
    assert written["handle_invalid"]["string"] == "keep"
    import json
    import zipfile

    with zipfile.ZipFile(bundles["json"]) as z:
        node = json.loads(z.read(f"root/{several.uid}.node/node.json"))
    assert [s["port"] for s in node["shape"]["inputs"]] == ["input0", "input1"]
    assert [s["port"] for s in node["shape"]["outputs"]] == ["output0", "output1"]
    # MLeap's runtime 0.20 reads single-column indexers only
    mleap_scores_like_spark(mleap_jvm, PipelineModel(stages=[one]), table, tmp_path)


@pytest.fixture(scope="module")
def gaps(spark):
    """Doubles with nulls and NaN (x), integers with nulls (n), -1 standing for missing (z)."""
    nan = float("nan")
    xs = [1.5, None, 2.25, nan, 4.0, 3.5, None, 0.5, 7.0, nan, 2.0, 5.5]
    ns = [3, 4, None, 7, 1, None, 2, 8, 5, 6, 10, None]
    zs = [0.5, -1.0, 2.0, 3.5, -1.0, 1.0, 4.0, -1.0, 6.0, 2.5, 0.25, 9.0]
    return spark.createDataFrame([(i, x, n, z) for i, (x, n, z) in enumerate(zip(xs, ns, zs))],
                                 "rid int, x double, n int, z double")


@pytest.mark.parity("imputer")
def test_spark_imputer_one_and_several_columns(spark, mleap_jvm, gaps, tmp_path):
    from pyspark.ml import PipelineModel
    from pyspark.ml.feature import Imputer

    several = Imputer(inputCols=["x", "n"], outputCols=["x_filled", "n_filled"]).fit(gaps)
    one = Imputer(inputCol="z", outputCol="z_filled", missingValue=-1.0, strategy="median").fit(gaps)
    model = PipelineModel(stages=[several, one])
    bundles = exported_with_parity(model, gaps, tmp_path)
    # several columns: a pipeline node of single-column imputers; the integer column's surrogate is
    # the mean as Spark casts it back to int
    assert model_of(bundles["json"], f"{several.uid}.node")["op"] == "pipeline"
    x_node = model_of(bundles["json"], f"{several.uid}_0.node")["attributes"]
    n_node = model_of(bundles["json"], f"{several.uid}_1.node")["attributes"]
    means = several.surrogateDF.collect()[0]
    assert x_node["surrogate_value"]["double"] == means["x"]
    assert n_node["surrogate_value"]["double"] == float(int(means["n"])) != means["n"]
    z_node = model_of(bundles["json"], f"{one.uid}.node")["attributes"]
    assert z_node["missing_value"]["double"] == -1.0 and z_node["strategy"]["string"] == "median"
    # MLeap's runtime reads doubles (the rows without nulls and NaN)
    mleap_scores_like_spark(mleap_jvm, PipelineModel(stages=[one]), gaps, tmp_path)


@pytest.fixture(scope="module")
def documents(spark):
    import numpy as np
    from pyspark.ml.linalg import Vectors

    rnd = np.random.default_rng(4)
    docs = [Vectors.dense(rnd.poisson(lam, 6).astype(float).tolist())
            for lam in ([3, 3, 0.2, 0.2, 1, 0], [0.1, 0.3, 4, 4, 1, 2], [1, 1, 1, 1, 1, 1]) for _ in range(8)]
    docs += [Vectors.sparse(6, [1, 4], [3.0, 1.0]), Vectors.sparse(6, [], []), Vectors.dense([0.0] * 6)]
    return spark.createDataFrame([(i, d) for i, d in enumerate(docs)], ["rid", "features"])


@pytest.mark.parity("lda_local_model_op")
def test_local_lda(spark, mleap_jvm, documents, tmp_path):
    from pyspark.ml.clustering import LDA
    from tools.mleap_jvm import frame_column, leapframe

    from pyspark.ml import PipelineModel

    local = LDA(k=3, seed=13, maxIter=5, optimizer="online", topicDistributionCol="topics").fit(documents)
    # the EM optimizer's model, DistributedLDAModel, is written as its local model
    distributed = LDA(k=2, seed=7, maxIter=5, optimizer="em", topicDistributionCol="em_topics").fit(documents)
    assert distributed.isDistributed()
    model = PipelineModel(stages=[local, distributed])
    bundles = exported_with_parity(model, documents, tmp_path)
    for stage in (local, distributed):
        written = model_of(bundles["json"], f"{stage.uid}.node")
        assert written["op"] == "lda_local_model_op"
        assert written["attributes"]["seed"]["long"] == stage._java_obj.oldLocalModel().seed()
    # MLeap's runtime starts its topic inference from random draws of its own (no seed), so it
    # agrees with Spark only as closely as the inference converges
    spark_rows = model.transform(documents).orderBy("rid").collect()
    for bundle in bundles.values():
        scored = mleap_jvm.score(bundle, leapframe(documents.orderBy("rid")))
        for column in ("topics", "em_topics"):
            expected = [r[column].toArray() for r in spark_rows]
            got = frame_column(scored, column)
            assert max(abs(a - b) for g, s in zip(got, expected) for a, b in zip(g, s)) < 0.02


@pytest.mark.parity("leapserve.fm_classifier", "leapserve.fm_regression", "vector_assembler")
def test_factorization_machines(spark, table, tmp_path):
    """FMClassifier (plain, and with thresholds and no linear term) and FMRegressor, which MLeap has no
    op for, written by leapserve's ops; MLeap's runtime cannot read them (leapserve.* ops)."""
    from pyspark.ml import PipelineModel
    from pyspark.ml.classification import FMClassifier
    from pyspark.ml.regression import FMRegressor
    from pyspark.sql import functions as F

    rows = table.withColumn("binary", (F.col("label") > 0.5).cast("double"))
    assembler = assembled(FMClassifier(labelCol="binary", factorSize=3, maxIter=20, seed=7)).fit(rows).stages[0]
    features = assembler.transform(rows)
    plain = FMClassifier(labelCol="binary", factorSize=3, maxIter=20, seed=7).fit(features)
    skewed = FMClassifier(labelCol="binary", factorSize=2, maxIter=10, seed=3, fitLinear=False,
                          predictionCol="p2", probabilityCol="prob2", rawPredictionCol="raw2").fit(
        features).setThresholds([0.3, 0.7])
    regressor = FMRegressor(labelCol="a", featuresCol="features", factorSize=4, maxIter=20, seed=5,
                            predictionCol="a_hat").fit(features)
    model = PipelineModel(stages=[assembler, plain, skewed, regressor])
    bundles = exported_with_parity(model, rows, tmp_path)
    written = model_of(bundles["json"], f"{plain.uid}.node")
    assert written["op"] == "leapserve.fm_classifier"
    assert "thresholds" not in written["attributes"]
    assert model_of(bundles["json"], f"{skewed.uid}.node")["attributes"]["thresholds"]["double"] == [0.3, 0.7]
    assert model_of(bundles["json"], f"{regressor.uid}.node")["op"] == "leapserve.fm_regression"


@pytest.mark.parity("leapserve.fp_growth")
def test_fp_growth(spark, tmp_path):
    """FPGrowthModel, which MLeap has no op for, written by leapserve's op as its association rules:
    per row the consequents of the rules it satisfies, in Spark's order, null items included."""
    from pyspark.sql.types import ArrayType, LongType, StringType, StructField, StructType
    from pyspark.ml.fpm import FPGrowth

    baskets = [["bread", "milk"], ["bread", "butter", "milk"], ["butter", "jam"], ["bread", "butter"],
               ["milk", "jam", "bread"], ["tea"], [], None, ["jam", "butter", "bread", "milk"], ["milk"]]
    schema = StructType([StructField("rid", LongType()), StructField("items", ArrayType(StringType()))])
    rows = spark.createDataFrame(list(enumerate(baskets)), schema)
    from pyspark.ml import PipelineModel

    fitted = FPGrowth(minSupport=0.2, minConfidence=0.3).fit(rows.where("items is not null"))
    assert fitted.associationRules.count() > 3
    model = PipelineModel(stages=[fitted])
    bundles = exported_with_parity(model, rows, tmp_path)
    written = model_of(bundles["json"], f"{fitted.uid}.node")
    assert written["op"] == "leapserve.fp_growth"
    assert len(written["attributes"]["antecedent_lengths"]["long"]) == fitted.associationRules.count()
