"""`leapserve inspect`: the report of leapserve.runtime.inspect (tests/runtime/test_inspect.py) as
text and JSON, and its errors in one line. No Spark and no Java."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from leapserve.cli import main as cli_main
from leapserve.cli.inspect import UNKNOWN, format_report
from leapserve.runtime import BundleError, registry
from leapserve.runtime.inspect import inspect_bundle
from tests.support.bundles import FIXTURES, LR_ZIP, RF_ZIP, entries_of, write_zip

REPO = Path(__file__).resolve().parents[2]
BUNDLES = ["airbnb.model.lr.zip", "airbnb.model.rf.zip", "demo.zip", "min_max_scaler_tf.zip",
            "one_hot_encoder_pipeline.zip"]


@pytest.mark.parametrize("name", BUNDLES)
def test_inspect_text(name):
    report = inspect_bundle(FIXTURES / name)
    text = format_report(report)
    assert f"name     {report.info.name}" in text and "format   json" in text
    assert f"MLeap    {report.info.version}" in text
    assert f"stages ({len(report.stages)}):" in text and f"inputs ({len(report.inputs)}):" in text
    for st in report.stages:
        line = next(x for x in text.splitlines() if st.name in x and st.op in x)
        assert ("[unsupported op]" in line) == (not st.supported)
    assert ("NOT SERVABLE" in text) == bool(report.unsupported_ops)
    if any(t is None for t in report.inputs.values()):
        assert UNKNOWN in text


def test_inspect_cli_text_and_json(capsys):
    path = LR_ZIP
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


def test_inspect_needs_no_spark():
    code = ("import sys; from leapserve.cli import main; rc = main(['inspect', sys.argv[1]]); "
            "sys.exit(rc or (3 if 'pyspark' in sys.modules or 'py4j' in sys.modules else 0))")
    proc = subprocess.run([sys.executable, "-c", code, str(RF_ZIP)],
                          capture_output=True, text=True, cwd=REPO, env={"PATH": "/nonexistent"})
    assert proc.returncode == 0, proc.stderr
    assert "random_forest_regression" in proc.stdout


# --- errors --------------------------------------------------------------------------------

DEMO_LR = "root/linear_regression_7a70b7fd-bd53-11e7-8c89-6c40089417e6.node"


@pytest.mark.parametrize("broken", [{"bundle.json": None}, {f"{DEMO_LR}/model.json": b"{not json"}],
                         ids=["no-bundle-json", "bad-model-json"])
def test_inspect_malformed(tmp_path, capsys, broken):
    """The runtime's error (it names the file at fault) on one line, exit 1."""
    entries = {**entries_of(FIXTURES / "demo.zip"), **broken}
    path = write_zip(tmp_path / "broken.zip", {k: v for k, v in entries.items() if v is not None})
    with pytest.raises(BundleError) as err:
        inspect_bundle(path)
    assert cli_main(["inspect", str(path)]) == 1
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err == f"leapserve inspect: error: {err.value}\n"


def test_inspect_not_a_bundle(tmp_path, capsys):
    junk = tmp_path / "junk.zip"
    junk.write_text("hello")
    assert cli_main(["inspect", str(junk)]) == 1
    assert capsys.readouterr().err == f"leapserve inspect: error: {junk}: neither a bundle directory nor a zip archive\n"
    assert cli_main(["inspect", str(tmp_path / "none")]) == 1
    assert capsys.readouterr().err == f"leapserve inspect: error: {tmp_path / 'none'}: no such file or directory\n"
