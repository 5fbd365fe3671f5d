"""Bundles written by MLeap's Python package for scikit-learn (mleap 0.25.x, in its own virtual
environment: tests/support/sklearn_mleap.py) load and score as MLeap's JVM runtime scores them,
and as scikit-learn does. Issue 15: the random forest regressor's node declares output ports the op
does not write (ignored, as MLeap ignores them, and `leapserve inspect` says so), and
`sklearn_binarizer` is read."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from leapserve.runtime import BundleError, load_bundle
from leapserve.runtime.vectors import SparseVector
from tests.support import golden
from tests.support.bundles import edit_json, entries_of, write_zip
from tests.support.compared import compared
from tests.support.sklearn_mleap import write_bundles
from tools.mleap_jvm import HarnessError, frame_column

LEAPSERVE = Path(sys.executable).parent / "leapserve"
UNWRITTEN = {"raw_prediction": "raw_prediction", "probability": "probability"}


@pytest.fixture(scope="module")
def written(tmp_path_factory):
    """(folder of NAME.zip bundles, the writer's expected.json)."""
    out = tmp_path_factory.mktemp("sklearn-mleap")
    return out, write_bundles(out)


def leapframe(inputs: dict[str, list]) -> dict:
    names = list(inputs)
    rows = [list(r) for r in zip(*(inputs[n] for n in names))]
    return {"schema": {"fields": [{"name": n, "type": "double"} for n in names]}, "rows": rows}


def dense(v) -> list[float]:
    return list(v.toarray()) if hasattr(v, "toarray") else [float(x) for x in np.atleast_1d(v)]


def scored(model, inputs: dict[str, list], column: str) -> tuple[list, list]:
    """(row path, batch path) values of ``column``, vectors as dense lists."""
    n = len(next(iter(inputs.values())))
    rows = [dense(model.transform({k: v[i] for k, v in inputs.items()})[column]) for i in range(n)]
    batch = model.transform_batch({k: np.asarray(v) for k, v in inputs.items()})[column]
    batch = batch.toarray() if hasattr(batch, "toarray") else np.asarray(batch)
    return rows, [dense(b) for b in batch]


def record_golden(model, inputs: dict[str, list], column: str, want: list[list[float]], vector: bool) -> None:
    """A golden case (tests/support/golden.py) of MLeap's JVM answers, so that every Python holds
    the runtime to them."""
    n = len(want)
    golden.record(model, [(i, {k: v[i] for k, v in inputs.items()}) for i in range(n)],
                  {i: {column: np.asarray(w) if vector else w[0]} for i, w in enumerate(want)}, outputs=[column])


def node_folder(entries: dict, op: str) -> str:
    (folder,) = {name.rsplit("/", 1)[0] for name in entries if name.endswith("/model.json")
                 and json.loads(entries[name])["op"] == op}
    return folder


# --- the random forest regressor: declared ports the op does not write -------------------------

def test_random_forest_regressor_ignores_unwritten_ports(mleap_jvm, written):
    out, expected = written
    bundle, case = out / "random_forest_regressor.zip", expected["random_forest_regressor"]
    model = load_bundle(bundle)
    assert set(model.outputs) == {"features", "prediction"}
    (forest,) = [st for st in model.stages if st.op == "random_forest_regression"]
    assert dict(forest.ignored_outputs) == UNWRITTEN
    jvm = mleap_jvm.score(bundle, leapframe(case["inputs"]))
    assert "raw_prediction" not in {f["name"] for f in jvm["schema"]["fields"]}  # MLeap ignores them too
    want = [[float(v)] for v in frame_column(jvm, "prediction")]
    record_golden(model, case["inputs"], "prediction", want, vector=False)
    rows, batch = scored(model, case["inputs"], "prediction")
    np.testing.assert_allclose(rows, want, rtol=1e-12, atol=0)
    np.testing.assert_allclose(batch, want, rtol=1e-12, atol=0)
    np.testing.assert_allclose(rows, [[v] for v in case["sklearn"]], rtol=1e-9, atol=0)


def test_missing_input_port_is_refused_as_mleap_refuses_it(mleap_jvm, written, tmp_path):
    """Leniency covers outputs only: a node without a socket for a port the op reads is an error
    in MLeap's runtime and here."""
    entries = entries_of(written[0] / "random_forest_regressor.zip")
    folder = node_folder(entries, "random_forest_regression")

    def rename_input(doc):
        doc["shape"]["inputs"][0]["port"] = "feature_vector"
    broken = write_zip(tmp_path / "broken.zip", edit_json(entries, f"{folder}/node.json", rename_input))
    with pytest.raises(BundleError, match="has no input socket for port 'features'"):
        load_bundle(broken)
    with pytest.raises(HarnessError):
        mleap_jvm.score(broken, leapframe({"a": [1.0], "b": [2.0], "c": [3.0]}))


def test_inspect_notes_the_ignored_ports(written):
    bundle = written[0] / "random_forest_regressor.zip"
    text = subprocess.run([str(LEAPSERVE), "inspect", str(bundle)], capture_output=True, text=True)
    assert text.returncode == 0, text.stderr
    lines = text.stdout.splitlines()
    at = next(i for i, line in enumerate(lines) if "random_forest_regression" in line)
    assert lines[at].endswith("features -> prediction")
    for port in UNWRITTEN:
        assert any(f"note: output port '{port}' (column '{port}') is declared but op "
                   f"'random_forest_regression' does not write it: ignored" in line for line in lines[at + 1:at + 3])
    assert "servable: every op is implemented" in text.stdout
    shown = subprocess.run([str(LEAPSERVE), "inspect", "--json", str(bundle)], capture_output=True, text=True)
    assert shown.returncode == 0, shown.stderr
    report = json.loads(shown.stdout)
    stages = {st["op"]: st for st in report["stages"]}
    forest = stages["random_forest_regression"]
    assert forest["outputs"] == {"prediction": "prediction"}
    assert forest["ignored_outputs"] == UNWRITTEN
    assert len(forest["notes"]) == 2 and all("ignored" in note for note in forest["notes"])
    assert stages["vector_assembler"]["notes"] == [] and stages["vector_assembler"]["ignored_outputs"] == {}
    assert set(report["outputs"]) == {"features", "prediction"}


# --- sklearn_binarizer -------------------------------------------------------------------------

@pytest.mark.parity("sklearn_binarizer")
@pytest.mark.parametrize("name", ["binarizer_scalar", "binarizer_vector", "binarizer_vector_negative"])
def test_sklearn_binarizer_as_mleap_and_scikit_learn(mleap_jvm, written, name):
    out, expected = written
    bundle, case = out / f"{name}.zip", expected[name]
    model = load_bundle(bundle)
    assert [st.op for st in model.stages][-1] == "sklearn_binarizer"
    column = case["output"]
    jvm = mleap_jvm.score(bundle, leapframe(case["inputs"]))
    want = [dense(v) for v in frame_column(jvm, column)]
    record_golden(model, case["inputs"], column, want, vector=name != "binarizer_scalar")
    rows, batch = scored(model, case["inputs"], column)
    assert rows == want and batch == want
    compared(model, [column])
    assert want == [dense(v) for v in case["sklearn"]]  # dense inputs: MLeap and scikit-learn agree


@pytest.mark.parity("sklearn_binarizer")
def test_sklearn_binarizer_sparse_input_keeps_implicit_zeros(mleap_jvm, written, tmp_path):
    """On a sparse vector MLeap compares the stored entries only: under a negative threshold an
    implicit zero stays 0.0 (scikit-learn would give 1.0), an explicit 0.0 becomes 1.0."""
    entries = entries_of(written[0] / "binarizer_vector_negative.zip")
    assembler = node_folder(entries, "vector_assembler").rsplit("/", 1)[1].removesuffix(".node")

    def drop_assembler(doc):  # the binarizer alone, reading the vector column "features"
        doc["attributes"]["nodes"]["string"].remove(assembler)
    alone = write_zip(tmp_path / "alone.zip", {k: v for k, v in edit_json(entries, "root/model.json", drop_assembler)
                                               .items() if f"/{assembler}.node/" not in k})
    vectors = [SparseVector(3, [], []), SparseVector(3, [1], [0.0]), SparseVector(3, [0, 2], [-0.7, 2.0]),
               SparseVector(3, [0, 1, 2], [-0.5, -0.49, 0.0])]
    frame = {"schema": {"fields": [{"name": "features", "type": {"type": "tensor", "base": "double"}}]},
             "rows": [[{"indices": [[int(i)] for i in v.indices], "values": [float(x) for x in v.values],
                        "dimensions": [3]}] for v in vectors]}
    want = [dense(v) for v in frame_column(mleap_jvm.score(alone, frame), "binarized")]
    assert want == [[0.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0], [0.0, 1.0, 1.0]]
    model = load_bundle(alone)
    record_golden(model, {"features": vectors}, "binarized", want, vector=True)
    assert [dense(model.transform({"features": v})["binarized"]) for v in vectors] == want
    batch = model.transform_batch({"features": vectors})["binarized"]
    batch = batch.toarray() if hasattr(batch, "toarray") else np.asarray(batch)
    assert [dense(b) for b in batch] == want
    compared(model, ["binarized"])
