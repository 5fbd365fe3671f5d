"""leapserve.runtime.inspect: what a bundle holds, on real MLeap bundles (the shared fixtures) and
on malformed ones. Which ops the runtime supports changes as ops are added, so the expectations
follow the registry. (`leapserve inspect`, which prints the report: tests/cli/test_inspect.py.)
"""

from __future__ import annotations

import json
import zipfile

import pytest

from leapserve.runtime import BundleError, load_bundle, registry
from leapserve.runtime.inspect import inspect_bundle
from tests.support.bundles import FIXTURES, entries_of, write_zip

# fixture -> (stage ops in pipeline order, required inputs in order, last output)
EXPECTED = {
    "airbnb.model.lr.zip": (
        ["vector_assembler", "standard_scaler"] + ["string_indexer"] * 5 + ["one_hot_encoder"] * 5
        + ["vector_assembler", "linear_regression"],
        ["bathrooms", "bedrooms", "security_deposit", "cleaning_fee", "extra_people", "number_of_reviews",
         "square_feet", "review_scores_rating", "room_type", "host_is_superhost", "cancellation_policy",
         "instant_bookable", "state"],
        "price_prediction"),
    "airbnb.model.rf.zip": (
        ["vector_assembler", "standard_scaler"] + ["string_indexer"] * 5
        + ["vector_assembler", "random_forest_regression"],
        ["bathrooms", "bedrooms", "security_deposit", "cleaning_fee", "extra_people", "number_of_reviews",
         "square_feet", "review_scores_rating", "room_type", "host_is_superhost", "cancellation_policy",
         "instant_bookable", "state"],
        "price_prediction"),
    # a pipeline nested in the root pipeline: its stages come first, flattened
    "demo.zip": (["vector_assembler", "standard_scaler", "linear_regression"],
                 ["demo:a", "demo:c", "demo:d"], "demo:prediction"),
    "min_max_scaler_tf.zip": (["vector_assembler", "min_max_scaler"], ["dti", "loan_amount"], "scaled_features"),
    # holds an orphan vector_assembler folder that the pipeline does not list
    "one_hot_encoder_pipeline.zip": (["string_indexer", "one_hot_encoder"], ["col_1"],
                                     "col_1_label_one_hot_encoded"),
}


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_inspect_fixture(name):
    path = FIXTURES / name
    ops, inputs, last = EXPECTED[name]
    report = inspect_bundle(path)
    assert report.info.format == "json"
    assert report.info.name.startswith("pipeline_")
    assert report.info.version  # e.g. 0.8.0-SNAPSHOT
    assert [st.op for st in report.stages] == ops
    assert list(report.inputs) == inputs
    assert list(report.outputs)[-1] == last
    for st in report.stages:
        assert st.supported == (registry.lookup(st.op) is not None)
        assert st.inputs and st.outputs
    unsupported = {st.op for st in report.stages if not st.supported}
    assert report.unsupported_ops == sorted(unsupported)
    assert report.complete == (not unsupported)
    if report.complete:
        pipeline = load_bundle(path)
        assert report.inputs == {c: str(t) for c, t in pipeline.inputs.items()}
        assert report.outputs == {c: str(t) for c, t in pipeline.outputs.items()}
    else:
        # a type is known exactly when the first stage touching the column is supported
        for col, ftype in report.inputs.items():
            first = next(st for st in report.stages if col in st.inputs.values())
            assert (ftype is None) == (not first.supported), col
        for col, ftype in report.outputs.items():
            writer = next(st for st in report.stages if col in st.outputs.values())
            assert (ftype is None) == (not writer.supported), col


def test_inspect_known_types():
    # vector_assembler is among the runtime's first ops: its inputs are typed in every case
    report = inspect_bundle(FIXTURES / "demo.zip")
    assert report.inputs == {"demo:a": "double", "demo:c": "double", "demo:d": "double"}
    assert report.outputs["unscaled_continuous_features"] == "vector[3]"


def test_inspect_directory_and_uri(tmp_path):
    with zipfile.ZipFile(FIXTURES / "demo.zip") as z:
        z.extractall(tmp_path / "demo")
    from_zip = inspect_bundle(FIXTURES / "demo.zip")
    for source in (tmp_path / "demo", f"file:{tmp_path / 'demo'}", f"jar:file:{FIXTURES / 'demo.zip'}"):
        report = inspect_bundle(source)
        assert [(s.name, s.op, s.inputs, s.outputs) for s in report.stages] == \
            [(s.name, s.op, s.inputs, s.outputs) for s in from_zip.stages]
        assert report.inputs == from_zip.inputs


# --- malformed bundles ---------------------------------------------------------------------

DEMO_LR = "root/linear_regression_7a70b7fd-bd53-11e7-8c89-6c40089417e6.node"
DEMO_INNER = "root/pipeline_7a70b6f0-bd53-11e7-9103-6c40089417e6.node"


def demo_variant(path, changes):
    """demo.zip with some entries replaced (bytes) or removed (None), written to path."""
    entries = entries_of(FIXTURES / "demo.zip")
    for name, data in changes.items():
        if data is None:
            del entries[name]
        else:
            entries[name] = data
    return write_zip(path, entries)


def _lr_without_coefficients() -> bytes:
    doc = json.loads(entries_of(FIXTURES / "demo.zip")[f"{DEMO_LR}/model.json"])
    del doc["attributes"]["coefficients"]
    return json.dumps(doc).encode()


MALFORMED = {
    "no-bundle-json": ({"bundle.json": None}, "bundle.json: file is missing"),
    "bad-format": ({"bundle.json": b'{"format": "xml", "name": "x", "version": "1", "uid": "u"}'},
                   "bundle.json: 'format' must be \"json\" or \"protobuf\", found 'xml'"),
    "bad-model-json": ({"root/model.json": b"{not json"}, "root/model.json: invalid JSON"),
    "missing-child": ({f"{DEMO_INNER}/model.json": None}, f"{DEMO_INNER}/model.json: file is missing"),
    "bad-node": ({f"{DEMO_LR}/node.json": b'{"name": "lr", "shape": {"inputs": "features", "outputs": []}}'},
                 "'shape.inputs' must be an array"),
}


@pytest.mark.parametrize("case", sorted(MALFORMED))
def test_inspect_malformed(tmp_path, case):
    changes, message = MALFORMED[case]
    path = demo_variant(tmp_path / f"{case}.zip", changes)
    with pytest.raises(BundleError) as err:
        inspect_bundle(path)
    assert message in str(err.value)


def test_inspect_malformed_attributes_of_a_supported_op(tmp_path):
    if registry.lookup("linear_regression") is None:
        pytest.skip("linear_regression not supported")
    path = demo_variant(tmp_path / "lr.zip",
                        {f"{DEMO_LR}/model.json": _lr_without_coefficients()})
    with pytest.raises(BundleError) as err:
        inspect_bundle(path)
    assert str(err.value).startswith(f"{path}!/{DEMO_LR}/model.json")
    assert "coefficients" in str(err.value)


@pytest.mark.parametrize("name,nullable", [("one_hot_encoder_pipeline.zip", ["col_1"]),  # indexer "keep"
                                           ("airbnb.model.lr.zip", []), ("demo.zip", [])])
def test_inspect_names_the_inputs_that_take_a_null(name, nullable):
    report = inspect_bundle(FIXTURES / name)
    assert report.nullable_inputs == nullable and report.to_json()["nullable_inputs"] == nullable
    if nullable:  # and scoring takes the null
        assert load_bundle(FIXTURES / name).transform({c: None for c in nullable})
