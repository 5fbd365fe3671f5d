"""xgboost4j-spark's Scala models (XGBoostClassificationModel, XGBoostRegressionModel) in a
pipeline export as MLeap's XGBoost ops, in both formats, and the runtime scores them as Spark's
transform does. Their jars are an optional set (bundler/jars.py), fetched here; the session that
trains needs them on its classpath from its start, so the Spark side runs in a process of its own
(tests/bundler/xgboost4j_job.py)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("pyspark")

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def job(request, tmp_path_factory):
    """What the job found (see its docstring), run once for the module."""
    if request.config.getoption("--without-spark"):
        pytest.skip("--without-spark")
    pytest.importorskip("xgboost")  # the export and the runtime score with it; the jar tests below do not
    from leapserve.bundler import jars

    jars.fetch(xgboost4j=True)
    out = tmp_path_factory.mktemp("xgboost4j")
    done = subprocess.run([sys.executable, "-m", "tests.bundler.xgboost4j_job", str(out / "run")], cwd=ROOT,
                          capture_output=True, text=True, timeout=240, env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert done.returncode == 0, f"the job failed:\n{done.stderr[-4000:]}"
    return json.loads(done.stdout.strip().splitlines()[-1])


@pytest.mark.parametrize("name, outputs", [
    ("classifier", {"rawPrediction", "prediction", "probability"}),
    ("classifier3", {"rawPrediction", "prediction", "probability"}),
    ("regressor", {"prediction"}),
    ("sparse", {"rawPrediction", "prediction", "probability"}),
])
def test_scored_as_spark_scores(job, name, outputs):
    """Every row, both formats: each output as Spark's transform gave it, exactly (a binary
    classifier's probability apart, below; the 3-class one's included)."""
    found = job[name]
    assert set(found["formats"]) == {"json", "protobuf"}
    for fmt, seen in found["formats"].items():
        assert outputs <= set(seen["outputs"]), fmt
        assert seen["errors"] == 0
    assert found["compared"] >= 2 * 60 * (len(outputs) - (name in ("classifier", "sparse")))
    assert found["max_difference"] == 0.0


def test_binary_probability(job):
    """xgboost4j-spark gives [1 - p, p] with 1 - p in double; the runtime, following xgboost.spark,
    in float32: p is the same, 1 - p differs by its float32 rounding, at most 2^-25."""
    worst = 0.0
    for fmt, seen in job["classifier"]["formats"].items():
        assert len(seen["probability"]) == 60
        for spark, runtime in seen["probability"]:
            assert runtime[1] == spark[1], fmt
            assert spark[0] == 1.0 - spark[1]
            assert runtime[0] == float(np.float32(1.0) - np.float32(runtime[1]))
            worst = max(worst, abs(runtime[0] - spark[0]))
    assert 0.0 < worst <= 2.0 ** -25


def test_three_classes_exactly(job):
    """A 3-class classifier (multi:softprob): its probability is XGBoost's own softprob, which the
    runtime takes from the booster for xgboost4j-spark's nodes, so the export verifies it at its
    1e-9 with no difference at all."""
    found = job["classifier3"]
    assert (found["num_classes"], found["objective"]) == (3, "multi:softprob")
    assert found["verification"]["status"] == "ok", found["verification"]
    assert found["verification"]["rows"] == 60
    assert found["verification"]["max_difference"] == 0.0


def test_sparse_features_absent_entries_are_missing(job):
    """A one-hot encoder feeding the assembler: every row a sparse vector, scored exactly as
    xgboost4j-spark scores it (absent entries missing). With absent entries made 0.0, as
    xgboost.spark does, some of these rows would score differently."""
    found = job["sparse"]
    assert found["sparse_rows"] == 60
    assert found["max_difference"] == 0.0
    assert found["rows_differing_if_absent_were_zero"] > 0
    for seen in found["formats"].values():
        for spark, runtime in seen["probability"]:
            assert runtime[1] == spark[1]


def test_settings_the_ops_cannot_express_are_refused(job):
    """thresholds (Spark applies them, the ops do not) and multi:softmax (no probabilities from
    its booster) are refused by the export's check, naming the stage and the setting."""
    refused = job["refused"]
    assert refused["plain"] == ""
    assert "XGBoostClassificationModel" in refused["thresholds"]
    assert "thresholds (applied by Spark to pick the prediction) are not applied by the ops" in refused["thresholds"]
    assert "objective multi:softmax is not written" in refused["multi:softmax"]


@pytest.mark.parametrize("name, op", [("classifier", "xgboost.classifier"), ("regressor", "xgboost.regression")])
def test_saved_pipeline_exported_with_verification(job, name, op):
    """A pipeline saved with model.save, loaded as `leapserve export` loads it, exports with its
    verification against Spark passing (the probability compared within 2^-25)."""
    found = job[name]["from_saved"]
    assert [st["op"] for st in found["stages"]] == ["string_indexer", "vector_assembler", op]
    assert found["stages"][-1]["name"] == job[name]["uid"]
    verification = found["verification"]
    assert verification["status"] == "ok", verification
    assert verification["rows"] == 60
    if name == "classifier":
        assert 0.0 < verification["max_difference"] <= 2.0 ** -25
    else:
        assert verification["max_difference"] == 0.0


def test_leapserve_export(job, tmp_path):
    """The real command on the saved classifier pipeline: exported, verified against Spark."""
    cli = Path(sys.executable).with_name("leapserve")
    output = tmp_path / "model.zip"
    done = subprocess.run([str(cli), "export", "--spark-model", job["classifier"]["from_saved"]["saved"],
                           "--sample", job["sample"], "--output", str(output), "--format", "protobuf",
                           "--verify", "--json"], capture_output=True, text=True, timeout=240, cwd=ROOT)
    assert done.returncode == 0, done.stderr[-4000:]
    record = json.loads(done.stdout)
    assert [st["op"] for st in record["stages"]] == ["string_indexer", "vector_assembler", "xgboost.classifier"]
    assert record["verification"]["status"] == "ok"
    assert 0.0 < record["verification"]["max_difference"] <= 2.0 ** -25
    assert output.is_file()


def test_saved_pipeline_without_the_jars_names_the_fetch(tmp_path, monkeypatch):
    """Before Spark is asked anything: a saved pipeline holding xgboost4j-spark models, with their
    jars not fetched, is refused with the command that fetches them."""
    from leapserve.bundler.errors import BundlerError
    from leapserve.bundler.saved_model import load_pipeline_model

    def metadata(path, name):
        (path / "metadata").mkdir(parents=True)
        (path / "metadata" / "part-00000").write_text(json.dumps({"class": name, "uid": path.name}) + "\n")

    model = tmp_path / "model"
    metadata(model, "org.apache.spark.ml.PipelineModel")
    metadata(model / "stages" / "0_assembler", "org.apache.spark.ml.feature.VectorAssembler")
    metadata(model / "stages" / "1_xgbc", "ml.dmlc.xgboost4j.scala.spark.XGBoostClassificationModel")
    monkeypatch.setenv("LEAPSERVE_CACHE", str(tmp_path / "empty-cache"))
    with pytest.raises(BundlerError, match=r"holds xgboost4j-spark models, whose jars are not fetched\. "
                                           r"Fetch them with `python -m leapserve\.bundler\.jars fetch --xgboost4j`"):
        load_pipeline_model(model)


def test_fetch_usage():
    from leapserve.bundler import jars

    assert jars.main(["fetch", "--xgboost"]) == 2
    assert jars.main(["path"]) == 0
