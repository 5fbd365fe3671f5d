"""xgboost4j-spark's Scala models in PySpark, which has no wrapper class for them.

    stage = XGBoost4jModel(java_model)          # e.g. what XGBoostClassifier(...).fit(df._jdf) returns
    model = PipelineModel(stages=[assembler, stage])
    export_bundle(model, df, "model.zip")

    model = load_pipeline_with_xgboost4j(jvm_pipeline)   # a loaded Scala PipelineModel holding them

The session needs xgboost4j-spark's jars on its classpath: ``python -m leapserve.bundler.jars fetch
--xgboost4j`` fetches them and ``bundler.spark_session()`` then adds them (docs/export.md).
"""

from __future__ import annotations

from pyspark.ml.util import JavaMLWritable
from pyspark.ml.wrapper import JavaModel, JavaParams

from .xgboost_stages import XGBOOST4J_CLASSES

PIPELINE_MODEL_CLASS = "org.apache.spark.ml.PipelineModel"


class XGBoost4jModel(JavaModel, JavaMLWritable):
    """A fitted xgboost4j-spark model (XGBoostClassificationModel, XGBoostRegressionModel) as a
    PySpark stage: transform and save go to the JVM model; its params are readable in Python
    (``getOrDefault("featuresCol")``), copied from it."""

    def __init__(self, java_model):
        name = java_model.getClass().getName()
        if name not in XGBOOST4J_CLASSES:
            raise TypeError(f"XGBoost4jModel wraps xgboost4j-spark's models "
                            f"({', '.join(sorted(XGBOOST4J_CLASSES))}), not {name}")
        super().__init__(java_model)
        self._transfer_params_from_java()

    def _transfer_params_to_java(self) -> None:
        # The JVM model holds the values; the Python copies are for reading. Sending them back
        # would turn the Float param `missing` into a Double, which the Scala model cannot take.
        pass


def wrap_java_stage(java_stage):
    """The PySpark stage for a JVM stage: XGBoost4jModel for xgboost4j-spark's models, a
    PipelineModel opened stage by stage, else PySpark's own wrapper."""
    from pyspark.ml import PipelineModel

    name = java_stage.getClass().getName()
    if name in XGBOOST4J_CLASSES:
        return XGBoost4jModel(java_stage)
    if name == PIPELINE_MODEL_CLASS:
        model = PipelineModel(stages=[wrap_java_stage(st) for st in java_stage.stages()])
        model._resetUid(java_stage.uid())
        return model
    return JavaParams._from_java(java_stage)


def load_pipeline_with_xgboost4j(path: str):
    """The PipelineModel saved at ``path`` (a Scala PipelineModel whose stages include
    xgboost4j-spark's models), loaded by the JVM and wrapped stage by stage."""
    from pyspark.sql import SparkSession

    jvm = SparkSession.getActiveSession().sparkContext._jvm
    return wrap_java_stage(jvm.org.apache.spark.ml.PipelineModel.load(path))
