"""`leapserve export` accepts a pipeline PySpark saved itself (Python-only stages) when those stages
are XGBoost's PySpark models, and names the others (the saved metadata is written by hand here:
the real save is exercised by tests/runtime/ops/test_xgboost_parity.py)."""

from __future__ import annotations

import json

import pytest

from leapserve.bundler.errors import NotAPipelineModel
from leapserve.bundler.saved_model import check_pipeline_model


def saved(folder, cls: str, stages: list[str]):
    def metadata(path, name):
        (path / "metadata").mkdir(parents=True)
        (path / "metadata" / "part-00000").write_text(json.dumps({"class": name, "uid": path.name}) + "\n")

    metadata(folder, cls)
    for i, stage in enumerate(stages):
        metadata(folder / "stages" / f"{i}_stage{i}", stage)
    return folder


def test_xgboost_stages_are_accepted(tmp_path):
    check_pipeline_model(saved(tmp_path / "m", "pyspark.ml.pipeline.PipelineModel", [
        "org.apache.spark.ml.feature.VectorAssembler", "xgboost.spark.estimator.SparkXGBClassifierModel"]))


def test_other_python_stages_are_named(tmp_path):
    folder = saved(tmp_path / "m", "pyspark.ml.pipeline.PipelineModel", [
        "org.apache.spark.ml.feature.VectorAssembler", "xgboost.spark.estimator.SparkXGBRegressorModel",
        "__main__.MyTransformer"])
    with pytest.raises(NotAPipelineModel, match=r"is not a saved PipelineModel: it has Python-only stages that "
                                                r"MLeap cannot export: __main__\.MyTransformer$"):
        check_pipeline_model(folder)
