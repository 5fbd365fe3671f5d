"""Pipelines trained and saved by PySpark 4.0 load in the pinned Spark 3.5 and export through
`leapserve export --spark-model`; the bundles score as Spark 4.0 scored the rows (to 1e-11), and a
stage Spark 3.5 does not have is refused naming the stage, its class and the Spark that saved it.

PySpark 4 runs in a virtual environment of its own (tests/support/spark4.py, cached like the
scikit-learn one), once for the module: tests/bundler/spark4_job.py saves every model it needs.
"""

from __future__ import annotations

import json
import math
import os
import subprocess
from pathlib import Path

import pytest

pytest.importorskip("pyspark")

ROOT = Path(__file__).resolve().parents[2]
LEAPSERVE = ROOT / ".venv" / "bin" / "leapserve"
TOLERANCE = 1e-11  # relative, and absolute below 1


@pytest.fixture(scope="module")
def saved(request, tmp_path_factory):
    """(folder, job summary): the Spark 4 models, their predictions and the sample rows."""
    if request.config.getoption("--without-spark"):
        pytest.skip("--without-spark")
    from tests.support import spark4

    out = tmp_path_factory.mktemp("spark4")
    return out, spark4.run_job(out)


def _close(expected, got) -> bool:
    return abs(expected - got) <= TOLERANCE * max(1.0, abs(expected))


def assert_scores_as_spark4(bundle: Path, folder: Path, name: str, spark) -> int:
    """Every sample row scored by the runtime from ``bundle`` against Spark 4's predictions."""
    from leapserve.runtime import load_bundle

    expected = json.loads((folder / f"{name}.predictions.json").read_text())
    pipeline = load_bundle(bundle)
    rows = spark.read.parquet(str(folder / "sample.parquet")).collect()
    compared = 0
    for row in rows:
        got = pipeline.transform({c: row[c] for c in pipeline.inputs})
        for column, want in expected[str(row["rid"])].items():
            value = got[column]
            if isinstance(want, list):
                value = [float(v) for v in value.toarray()] if hasattr(value, "toarray") else list(value)
                assert len(value) == len(want) and all(_close(w, v) for w, v in zip(want, value)), \
                    f"{name}, rid {row['rid']}, {column}: Spark 4 {want}, runtime {value}"
            elif column == "prediction" and name != "gbt":
                assert value == want, f"{name}, rid {row['rid']}: Spark 4 predicted {want}, the runtime {value}"
            else:
                assert _close(want, value), f"{name}, rid {row['rid']}, {column}: Spark 4 {want}, runtime {value}"
            compared += 1
    return compared


def test_saved_by_spark4(saved):
    folder, summary = saved
    assert summary["spark_version"].startswith("4.0.")
    from leapserve.bundler.saved_model import saved_metadata

    assert saved_metadata(folder / "logistic")["sparkVersion"].startswith("4.0.")


def test_cli_export(saved, spark):
    """The command as a user runs it, verified against Spark 3.5's transform of the loaded model,
    then scored against Spark 4.0's own predictions."""
    folder, _ = saved
    out = folder / "logistic.zip"
    done = subprocess.run([str(LEAPSERVE), "export", "--spark-model", folder / "logistic", "--sample",
                           folder / "sample.parquet", "--output", out, "--verify", "--json"],
                          capture_output=True, text=True, timeout=600, cwd=ROOT, env=dict(os.environ))
    assert done.returncode == 0, done.stderr
    record = json.loads(done.stdout)
    assert record["verification"]["status"] == "ok"
    assert [s["op"] for s in record["stages"]] == ["string_indexer", "vector_assembler", "logistic_regression"]
    assert assert_scores_as_spark4(out, folder, "logistic", spark) == 80 * 3


@pytest.mark.parametrize("name", ["forest", "gbt"])
def test_export_parity(saved, spark, tmp_path, name):
    """As the command does (bundler.saved_model loads, export_bundle writes and verifies), both formats."""
    from leapserve.bundler import export_bundle
    from leapserve.bundler.saved_model import check_pipeline_model, load_pipeline_model

    folder, _ = saved
    check_pipeline_model(folder / name)
    model = load_pipeline_model(folder / name)
    sample = spark.read.parquet(str(folder / "sample.parquet"))
    for fmt in ("json", "protobuf"):
        bundle = tmp_path / f"{name}-{fmt}.zip"
        record = export_bundle(model, sample, bundle, format=fmt, verify=True)
        assert record.verification["status"] == "ok"
        assert assert_scores_as_spark4(bundle, folder, name, spark) == 80 * (3 if name == "forest" else 1)


def test_stage_spark35_lacks(saved, spark):
    """Spark 4's TargetEncoder does not exist in Spark 3.5: the error names the stage, its class and
    the Spark that saved it, instead of Spark's bare ClassNotFoundException."""
    from leapserve.bundler import BundlerError
    from leapserve.bundler.saved_model import check_pipeline_model, load_pipeline_model, saved_stages

    folder, summary = saved
    model_dir = folder / "target-encoder"
    check_pipeline_model(model_dir)  # a PipelineModel all the same
    encoder = saved_stages(model_dir)[1]
    assert encoder["class"] == "org.apache.spark.ml.feature.TargetEncoderModel"
    with pytest.raises(BundlerError) as err:
        load_pipeline_model(model_dir)
    message = str(err.value)
    assert message.startswith(f"{model_dir}: stage {encoder['uid']!r} (org.apache.spark.ml.feature.TargetEncoderModel) "
                              f"was saved by Spark {summary['spark_version']}, and Spark 3.5.9 has no such class")
    assert "\n" not in message and "ClassNotFoundException" in err.value.java_trace
