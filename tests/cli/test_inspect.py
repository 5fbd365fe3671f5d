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
from tests.support.bundles import FIXTURES, LR_ZIP, RF_ZIP, edit_json, entries_of, write_zip

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
                                  "outputs": {"prediction": "price_prediction"},
                                  "ignored_outputs": {}, "notes": []}
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
    assert cli_main(["inspect", str(tmp_path / "none")]) == 2  # a path that does not exist: usage (test_paths.py)
    assert capsys.readouterr().err == f"leapserve inspect: error: {tmp_path / 'none'}: no such file or directory\n"


# --- a pre-deploy check ------------------------------------------------------------------------

def leapserve(*args, env: dict | None = None):
    """The real command, in a subprocess (without the caller's LEAPSERVE_* variables, plus ``env``)."""
    from tests.support.servers import clean_env

    return subprocess.run([sys.executable, "-m", "leapserve.cli", *map(str, args)], capture_output=True, text=True,
                          cwd=REPO, timeout=120, env=clean_env(env))


def test_not_servable_exits_1(tmp_path):
    """An op the runtime lacks: the report still prints (marked), then one error line, exit 1."""
    entries = edit_json(entries_of(FIXTURES / "demo.zip"), f"{DEMO_LR}/model.json",
                        lambda doc: doc.update(op="made_up_regression"))
    path = write_zip(tmp_path / "unsupported.zip", entries)
    r = leapserve("inspect", path)
    assert r.returncode == 1
    assert "[unsupported op]" in r.stdout and "NOT SERVABLE: the leapserve runtime does not implement op(s) " \
                                              "made_up_regression" in r.stdout
    assert r.stderr == (f"leapserve inspect: error: {path} is not servable: the leapserve runtime does not "
                        f"implement op(s) made_up_regression\n")
    r = leapserve("inspect", path, "--json")
    data = json.loads(r.stdout)
    assert r.returncode == 1 and data["servable"] is False and "made_up_regression" in data["not_servable_reason"]
    r = leapserve("inspect", LR_ZIP)
    assert (r.returncode, r.stderr) == (0, "")
    assert r.stdout.rstrip().endswith("servable: every op is implemented; the bundle loads and warms up as "
                                      "`leapserve serve` loads it")


def test_string_indexers_labels_and_handle_invalid():
    r = leapserve("inspect", LR_ZIP)
    assert r.returncode == 0, r.stderr
    text = r.stdout
    assert "string indexers (5):" in text
    assert "  string_indexer_room_type  handle_invalid=error\n" \
           "    room_type -> room_type_index: 3 label(s): \"Entire home/apt\", \"Private room\", \"Shared room\"\n" in text
    r = leapserve("inspect", LR_ZIP, "--json")
    indexers = json.loads(r.stdout)["string_indexers"]
    assert [ix["stage"] for ix in indexers] == ["string_indexer_room_type", "string_indexer_host_is_superhost",
                                                "string_indexer_cancellation_policy", "string_indexer_instant_bookable",
                                                "string_indexer_state"]
    state = indexers[-1]
    assert state["handle_invalid"] == "error" and state["columns"] == [
        {"input": "state", "output": "state_index",
         "labels": ["Other", "NY", "CA", "London", "Berlin", "IL", "TX", "WA", "DC", "OR"]}]


def test_many_labels_are_cut_short_in_text(tmp_path):
    labels = [f"city{i}" for i in range(25)]
    entries = edit_json(entries_of(FIXTURES / "one_hot_encoder_pipeline.zip"), _indexer_model(),
                        lambda doc: doc["attributes"].update(labels={"type": "list", "string": labels}))
    path = write_zip(tmp_path / "many.zip", entries)
    r = leapserve("inspect", path)
    line = next(x for x in r.stdout.splitlines() if "25 label(s)" in x)
    assert line.endswith('"city19", ... and 5 more (--json lists them all)')
    r = leapserve("inspect", path, "--json")
    assert json.loads(r.stdout)["string_indexers"][0]["columns"][0]["labels"] == labels


def _indexer_model() -> str:
    return next(name for name in entries_of(FIXTURES / "one_hot_encoder_pipeline.zip")
                if name.startswith("root/string_indexer_") and name.endswith("/model.json"))


def test_spark_model_folder_points_at_export(tmp_path):
    """A folder as Spark's model.save writes it (metadata/part-00000; tests/cli/test_export.py
    checks a folder Spark really wrote) is no bundle: say so and how to make one."""
    folder = tmp_path / "spark-model"
    (folder / "metadata").mkdir(parents=True)
    (folder / "metadata" / "part-00000").write_text('{"class":"org.apache.spark.ml.PipelineModel"}\n')
    r = leapserve("inspect", folder)
    assert (r.returncode, r.stdout) == (1, "")
    assert r.stderr == (f"leapserve inspect: error: {folder} is a Spark ML model saved by model.save "
                        f"(org.apache.spark.ml.PipelineModel), not an MLeap bundle; make a bundle of it with "
                        f"`leapserve export --spark-model {folder} --sample DATA --output model.zip`, then "
                        f"inspect that\n")


# --- --model-dir ---------------------------------------------------------------------------

def test_model_dir_shows_what_serve_would_serve(tmp_path):
    models = tmp_path / "models"
    (models / "mass").mkdir(parents=True)
    for version in ("1", "2", "10"):
        write_zip(models / "mass" / f"{version}.zip", entries_of(FIXTURES / "demo.zip"))
    write_zip(models / "price.zip", entries_of(LR_ZIP))
    r = leapserve("inspect", "--model-dir", models)
    assert (r.returncode, r.stderr) == (0, ""), r.stderr
    assert r.stdout.startswith(f"model directory  {models}\nmodels (2):\n  mass  (default version 10)\n")
    assert f"    version 10  {models / 'mass' / '10.zip'}  [default]\n      servable\n" in r.stdout
    assert f"  price  (default version 1)\n    version 1   {models / 'price.zip'}  [default]\n" in r.stdout

    (models / "broken.zip").write_bytes(b"not a zip")
    r = leapserve("inspect", "--model-dir", models, "--json")
    assert r.returncode == 1
    found = json.loads(r.stdout)
    assert [m["name"] for m in found["models"]] == ["broken", "mass", "price"]
    broken, mass, _ = found["models"]
    assert broken["default_version"] == "" and not broken["versions"][0]["servable"]
    assert "neither a bundle directory nor a zip archive" in broken["versions"][0]["error"]
    assert mass["default_version"] == "10" and [v["version"] for v in mass["versions"]] == ["1", "2", "10"]
    assert found["servable"] is False
    assert r.stderr == f"leapserve inspect: error: --model-dir {models}: not servable: broken version 1\n"
    r = leapserve("inspect", "--model-dir", models)
    assert "  broken  (no default version: no version can serve)\n" in r.stdout
    assert "      NOT SERVABLE: BundleError: " in r.stdout


def test_model_dir_errors(tmp_path):
    r = leapserve("inspect", "--model-dir", tmp_path)
    assert r.returncode == 1 and r.stderr.startswith(f"leapserve inspect: error: --model-dir {tmp_path}: no bundle "
                                                     f"found"), r.stderr
    r = leapserve("inspect", "--model-dir", tmp_path / "none")
    assert (r.returncode, r.stderr) == (2, f"leapserve inspect: error: --model-dir {tmp_path / 'none'}: not a "
                                           f"directory\n")
    r = leapserve("inspect", LR_ZIP, "--model-dir", tmp_path)
    assert r.returncode == 2 and "not allowed with argument" in r.stderr


def test_model_dir_pinned_default_that_does_not_exist(tmp_path):
    """serve would refuse every request without a version (and mark model:mass NOT_SERVING): inspect
    says so and fails, reading the same pins serve reads (file, flag, variable)."""
    models = tmp_path / "models"
    (models / "mass").mkdir(parents=True)
    for version in ("1", "10"):
        write_zip(models / "mass" / f"{version}.zip", entries_of(FIXTURES / "demo.zip"))
    (models / "mass" / "default_version").write_text("7\n")
    r = leapserve("inspect", "--model-dir", models)
    assert r.returncode == 1, r.stderr
    assert "  mass  (no default version: pinned default version 7 (its default_version file) does not exist)\n" \
        in r.stdout
    warning, error = r.stderr.splitlines()  # the registry's warning about the pin, in the commands' form
    assert warning.startswith("leapserve inspect: warning: ") and "default_version" in warning, r.stderr
    assert "warning" not in r.stdout
    assert error == (f"leapserve inspect: error: --model-dir {models}: not servable: mass (pinned default version "
                     f"7 (its default_version file) does not exist: requests without a version would be refused)")
    # the flag and the variable win over the file, as they do for serve
    assert leapserve("inspect", "--model-dir", models, "--default-version", "mass=1").returncode == 0
    r = leapserve("inspect", "--model-dir", models, "--json", env={"LEAPSERVE_DEFAULT_VERSION": "mass=1"})
    assert r.returncode == 0, r.stderr
    mass = json.loads(r.stdout)["models"][0]
    assert (mass["default_version"], mass["pinned_default_version"], mass["default_problem"]) == ("1", "1", "")
    r = leapserve("inspect", "--model-dir", models, env={"LEAPSERVE_DEFAULT_VERSION": "mass=2"})
    assert r.returncode == 1 and "pinned default version 2 (--default-version) does not exist" in r.stderr
    r = leapserve("inspect", "--model-dir", models, env={"LEAPSERVE_DEFAULT_VERSION": "junk"})
    assert (r.returncode, r.stderr) == (2, "leapserve inspect: error: LEAPSERVE_DEFAULT_VERSION='junk': expected "
                                           "NAME=VERSION\n")
