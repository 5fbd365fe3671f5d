"""XGBoost ops without Spark: MLeap's pixar bundle (MLeap 0.13, legacy binary booster) against
XGBoost's own predictions, booster formats, missing values, and the errors a bad node gets."""

from __future__ import annotations

import json
import math
import subprocess
import sys

import numpy as np
import pytest

from leapserve.runtime import BundleError, InvalidInput, SparseVector, UnsupportedOpError, load_bundle
from tests.support.bundles import FIXTURES, edit_json, entries_of, jdump, write_zip

xgb = pytest.importorskip("xgboost")

PIXAR = FIXTURES / "pixar_movie_mleap_bundle.zip"
XGB_NODE = "root/xgbc_fcc70362ee8d.node"
BOOSTER = f"{XGB_NODE}/xgboost.model"
FEATURES = "__assembler_features_col"


def pixar_xgboost_only(tmp_path, *, booster: bytes | None = None, attrs: dict | None = None,
                       name: str = "pixar_xgb.zip"):
    """The pixar bundle without its third-party assembler: a pipeline of the xgboost node alone,
    fed the assembler's output column directly."""
    entries = {k: v for k, v in entries_of(PIXAR).items() if "SparseVectorAssembler" not in k}
    entries = edit_json(entries, "root/model.json",
                        lambda d: d["attributes"]["nodes"].update(string=["xgbc_fcc70362ee8d"]))
    if booster is not None:
        entries[BOOSTER] = booster
    if attrs is not None:
        entries = edit_json(entries, f"{XGB_NODE}/model.json", lambda d: d["attributes"].update(attrs))
    return write_zip(tmp_path / name, entries)


def own_booster() -> "xgb.Booster":
    b = xgb.Booster()
    with xgb.config_context(verbosity=0):
        b.load_model(bytearray(entries_of(PIXAR)[BOOSTER]))
    return b


# Rows: plain values, missing values (NaN), zeros (the last all zeros: stored sparse by Spark)
ROWS = [[1.0, 2.0], [4.0, 100.0], [3.9, 90.0], [np.nan, 3.0], [5.0, np.nan], [np.nan, np.nan],
        [0.0, 0.0], [2.0, 500.0]]


def test_pixar_bundle_refuses_its_third_party_assembler():
    with pytest.raises(UnsupportedOpError, match="sparse_vector_assembler") as e:
        load_bundle(PIXAR)
    assert e.value.node == "SparseVectorAssembler_307725d8f842"


@pytest.mark.parametrize("fmt", ["legacy binary", "JSON", "UBJSON"])
def test_pixar_booster_matches_xgboost(tmp_path, fmt):
    """MLeap's runtime rule for this reg:linear booster: p = XGBoost's prediction (here the margin);
    raw [-m, m]; probability [1 - p, p]. Every booster format XGBoost writes gives the same numbers."""
    own = own_booster()
    data = {"legacy binary": None, "JSON": bytes(own.save_raw("json")), "UBJSON": bytes(own.save_raw("ubj"))}[fmt]
    model = load_bundle(pixar_xgboost_only(tmp_path, booster=data))
    assert set(model.outputs) == {"rawPrediction", "probability", "prediction"}

    X = np.array(ROWS)
    # [0.0, 0.0] is a row Spark's `compressed` stores sparse (as MLeap's pipeline fed it): its
    # zeros are absent, missing for this node (no spark_api: MLeap's runtime reads them so)
    X[np.all(X == 0.0, axis=1)] = np.nan
    margin = own.predict(xgb.DMatrix(X, missing=np.nan), output_margin=True).astype(np.float64)
    value = own.predict(xgb.DMatrix(X, missing=np.nan)).astype(np.float64)
    assert np.array_equal(margin, value)  # reg:linear
    want_p = (1.0 - value.astype(np.float32)).astype(np.float64)

    records = [{FEATURES: [float(v) for v in row]} for row in ROWS]
    batch = model.transform_batch({FEATURES: records_column(records)})
    for i, record in enumerate(records):
        one = model.transform(record)
        for got in (one, {k: batch[k][i] for k in batch}):
            assert list(np.asarray(got["rawPrediction"], dtype=float)) == [-margin[i], margin[i]]
            assert list(np.asarray(got["probability"], dtype=float)) == [want_p[i], value[i]]
            assert got["prediction"] == float(np.argmax([np.float32(want_p[i]), np.float32(value[i])]))


def records_column(records):
    return [r[FEATURES] for r in records]


def test_sparse_vectors_absent_entries_are_missing_unless_xgboost_spark(tmp_path):
    """A node without spark_api (as MLeap writes it) or with "xgboost4j-spark" reads a sparse
    vector's absent entries as missing, as MLeap's runtime and xgboost4j-spark do; "xgboost.spark"
    densifies them to 0.0, as xgboost.spark's transform does. Rows and batches alike."""
    from leapserve.runtime import SparseBatch

    rows = [SparseVector(2, [1], [3.0]), SparseVector(2, [0], [4.5]), SparseVector(2, [], [])]
    for attrs, absent in ((None, np.nan), ({"spark_api": {"string": "xgboost4j-spark"}}, np.nan),
                          ({"spark_api": {"string": "xgboost.spark"}}, 0.0)):
        model = load_bundle(pixar_xgboost_only(tmp_path, attrs=attrs, name=f"{absent}-{bool(attrs)}.zip"))
        batch = model.transform_batch({FEATURES: SparseBatch.from_rows(2, rows)})
        for i, row in enumerate(rows):
            dense = row.toarray()
            dense[[j for j in range(2) if j not in row.indices]] = absent
            other = row.toarray()
            other[[j for j in range(2) if j not in row.indices]] = 0.0 if np.isnan(absent) else np.nan
            want = model.transform({FEATURES: dense.tolist()})["rawPrediction"]
            assert model.transform({FEATURES: row})["rawPrediction"] == want, (attrs, i)
            assert list(np.asarray(batch["rawPrediction"])[i]) == list(want), (attrs, i)
            if row.indices:  # a dense [0.0, 0.0] is one Spark stores sparse: missing for both
                assert model.transform({FEATURES: other.tolist()})["rawPrediction"] != want, (attrs, i)


def test_unknown_spark_api_is_refused(tmp_path):
    with pytest.raises(BundleError, match="attribute 'spark_api' must be one of 'xgboost4j-spark', "
                                          "'xgboost.spark', found 'xgboost4j'"):
        load_bundle(pixar_xgboost_only(tmp_path, attrs={"spark_api": {"string": "xgboost4j"}}))


def three_class_booster(objective: str) -> "xgb.Booster":
    rng = np.random.default_rng(3)
    X = rng.normal(size=(300, 2))
    y = (X[:, 0] > 0).astype(int) + (X[:, 1] > 0.5)
    with xgb.config_context(verbosity=0):
        return xgb.train({"objective": objective, "num_class": 3, "max_depth": 3}, xgb.DMatrix(X, label=y), 6)


def test_three_classes_probability_follows_the_spark_api(tmp_path):
    """3 classes: XGBoost's own multi:softprob for xgboost4j-spark's (and MLeap-written) nodes, as
    their transforms take Booster.predict; scipy's float32 softmax of the margins for xgboost.spark's.
    The two differ in the last float32 bit on most of these rows."""
    from scipy.special import softmax

    own = three_class_booster("multi:softprob")
    X = np.random.default_rng(4).normal(size=(200, 2))
    X[::9, 0] = np.nan
    margins = own.inplace_predict(X, predict_type="margin")
    softprob = own.inplace_predict(X)
    scipy_softmax = softmax(margins, axis=1)
    assert (softprob != scipy_softmax).any()
    records = [[float(v) for v in row] for row in X]
    for api, want in ((None, softprob), ("xgboost4j-spark", softprob), ("xgboost.spark", scipy_softmax)):
        attrs = {"num_classes": {"int": 3}, **({"spark_api": {"string": api}} if api else {})}
        model = load_bundle(pixar_xgboost_only(tmp_path, booster=bytes(own.save_raw("ubj")), attrs=attrs,
                                               name=f"{api}.zip"))
        batch = model.transform_batch({FEATURES: records})
        assert np.array_equal(np.asarray(batch["probability"]), want.astype(np.float64)), api
        assert np.array_equal(np.asarray(batch["rawPrediction"]), margins.astype(np.float64)), api
        assert np.array_equal(np.asarray(batch["prediction"]), np.argmax(want, axis=1).astype(np.float64)), api
        for i in (0, 9, 17):
            one = model.transform({FEATURES: records[i]})
            assert list(one["probability"]) == want[i].astype(np.float64).tolist(), api


def test_three_class_softmax_booster_needs_xgboost_spark(tmp_path):
    """multi:softmax predicts a class index, not the k probabilities xgboost4j-spark's (and MLeap's)
    rule takes from the booster: refused there; xgboost.spark's softmax of the margins takes it."""
    booster = bytes(three_class_booster("multi:softmax").save_raw("ubj"))
    with pytest.raises(BundleError, match="a 3-class node scored as xgboost4j-spark's .* needs a multi:softprob "
                                          "booster, found objective 'multi:softmax'"):
        load_bundle(pixar_xgboost_only(tmp_path, booster=booster, attrs={"num_classes": {"int": 3}}))
    model = load_bundle(pixar_xgboost_only(tmp_path, booster=booster, name="s.zip", attrs={
        "num_classes": {"int": 3}, "spark_api": {"string": "xgboost.spark"}}))
    assert len(model.transform({FEATURES: [1.0, 2.0]})["probability"]) == 3


def test_missing_attribute_marks_missing_values(tmp_path):
    """Entries equal to the `missing` attribute are missing, as XGBoost treats them."""
    own = own_booster()
    plain = load_bundle(pixar_xgboost_only(tmp_path))
    zero_missing = load_bundle(pixar_xgboost_only(tmp_path, attrs={"missing": {"float": 0.0}}, name="z.zip"))
    # MLeap omits a 0.0 scalar: an empty value must still read as 0.0, not as the default NaN
    omitted = load_bundle(pixar_xgboost_only(tmp_path, attrs={"missing": {}}, name="o.zip"))
    row = [0.0, 3.0]
    want = float(own.inplace_predict(np.array([row]), missing=0.0, predict_type="margin")[0])
    assert want != float(own.inplace_predict(np.array([row]), predict_type="margin")[0])
    assert zero_missing.transform({FEATURES: row})["rawPrediction"][1] == want
    assert omitted.transform({FEATURES: row})["rawPrediction"][1] == want
    assert plain.transform({FEATURES: row})["rawPrediction"][1] != want


def test_tree_limit_counts_trees(tmp_path):
    own = own_booster()
    model = load_bundle(pixar_xgboost_only(tmp_path, attrs={"tree_limit": {"int": 3}}))
    row = [4.0, 100.0]
    want = float(own.inplace_predict(np.array([row]), predict_type="margin", iteration_range=(0, 3))[0])
    assert want != float(own.inplace_predict(np.array([row]), predict_type="margin")[0])
    assert model.transform({FEATURES: row})["rawPrediction"][1] == want


def test_bad_input_names_the_field(tmp_path):
    model = load_bundle(pixar_xgboost_only(tmp_path))
    with pytest.raises(InvalidInput) as e:
        model.transform({FEATURES: [1.0, 2.0, 3.0]})
    assert e.value.field == FEATURES
    assert "vector of size 2" in str(e.value) and "size 3" in str(e.value)


@pytest.mark.parametrize("attrs, message", [
    ({"num_features": {"int": 3}}, "'num_features' is 3 but the booster .* 2 features"),
    ({"num_classes": {"int": 3}}, "'num_classes' is 3 but the booster .* num_class 0"),
    ({"num_classes": {"int": 1}}, "'num_classes' must be at least 2, found 1"),
    ({"tree_limit": {"int": -1}}, "'tree_limit' must be at least 0, found -1"),
])
def test_bad_attributes_are_refused(tmp_path, attrs, message):
    with pytest.raises(BundleError, match=message):
        load_bundle(pixar_xgboost_only(tmp_path, attrs=attrs))


def test_unreadable_booster_names_its_format(tmp_path):
    with pytest.raises(BundleError, match=r"xgboost\.model: XGBoost [0-9.]+ cannot read the booster "
                                          r"\(XGBoost's JSON format\)"):
        load_bundle(pixar_xgboost_only(tmp_path, booster=b'{"learner": 1}'))
    with pytest.raises(BundleError, match=r"\(XGBoost's legacy binary format\)"):
        load_bundle(pixar_xgboost_only(tmp_path, booster=b"\x00\x01garbage", name="g.zip"))


def test_missing_booster_file(tmp_path):
    entries = {k: v for k, v in entries_of(pixar_xgboost_only(tmp_path)).items() if k != BOOSTER}
    with pytest.raises(BundleError, match="'xgboost.model', which is missing"):
        load_bundle(write_zip(tmp_path / "nobooster.zip", entries))


def test_without_xgboost_the_error_names_the_extra(tmp_path):
    """A server without the extra refuses the bundle, saying what to install (XGBoost hidden from
    a fresh interpreter, as when it is not installed)."""
    bundle = pixar_xgboost_only(tmp_path)
    code = (
        "import sys\n"
        "class Hide:\n"
        "    def find_spec(self, name, path=None, target=None):\n"
        "        if name == 'xgboost' or name.startswith('xgboost.'):\n"
        "            raise ImportError('No module named ' + repr(name))\n"
        "sys.meta_path.insert(0, Hide())\n"
        "from leapserve.runtime import load_bundle, BundleError\n"
        "try:\n"
        f"    load_bundle({str(bundle)!r})\n"
        "except BundleError as e:\n"
        "    print(e)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert "op 'xgboost.classifier' of node 'xgbc_fcc70362ee8d' needs XGBoost's Python library" in out.stdout
    assert "pip install 'leapserve[xgboost]'" in out.stdout


def corrupted(edit) -> bytes:
    """The pixar booster as XGBoost's JSON, edited by edit(first tree)."""
    doc = json.loads(bytes(own_booster().save_raw("json")))
    edit(doc["learner"]["gradient_booster"]["model"]["trees"][0])
    return json.dumps(doc).encode()


def _cycle(tree):
    tree["left_children"][2] = 2  # node 2 (a split) back to itself


def _shared_child(tree):
    tree["left_children"][2] = tree["right_children"][0]


@pytest.mark.parametrize("edit, message", [
    (lambda t: t["left_children"].__setitem__(0, 99999), "node 0 has child 99999, outside 1..4"),
    (lambda t: t["split_indices"].__setitem__(0, 1000000), "node 0 splits on feature 1000000, outside 0..1"),
    (_cycle, "reaches node 2 twice"),
    (_shared_child, "twice"),
    (lambda t: t["split_type"].__setitem__(0, 1), "cannot read the booster .*Check failed"),
])
def test_unsafe_trees_are_refused(tmp_path, edit, message):
    """Trees XGBoost would follow out of its arrays (a segfault when predicting) or round in
    circles (a stall) fail to load instead."""
    with pytest.raises(BundleError, match=message):
        load_bundle(pixar_xgboost_only(tmp_path, booster=corrupted(edit)))


def test_tree_limit_past_the_booster(tmp_path):
    with pytest.raises(BundleError, match="'tree_limit' asks for 8 boosting rounds but the booster has 7"):
        load_bundle(pixar_xgboost_only(tmp_path, attrs={"tree_limit": {"int": 8}}))


def test_booster_that_xgboost_reads_forever(tmp_path, monkeypatch):
    """One changed byte in the pixar booster (a size in its legacy binary format) makes XGBoost's
    reader run on for minutes: the child process reading it is stopped and the load refused."""
    from leapserve.runtime.ops import xgboost_booster

    monkeypatch.setattr(xgboost_booster, "READ_TIMEOUT_S", 5.0)
    data = bytearray(entries_of(PIXAR)[BOOSTER])
    data[663] = 59
    with pytest.raises(BundleError, match=r"did not finish reading the booster \(XGBoost's legacy binary format\) "
                                          r"within 5 s"):
        load_bundle(pixar_xgboost_only(tmp_path, booster=bytes(data)))


def test_sparse_batches_are_densified_in_slices(tmp_path, monkeypatch):
    """A batch of sparse rows is scored a slice at a time (bounded memory), with the same answers."""
    from leapserve.runtime import SparseBatch
    from leapserve.runtime.ops import xgboost_booster

    model = load_bundle(pixar_xgboost_only(tmp_path))
    rows = [SparseVector(2, [1], [3.0]), SparseVector(2, [0], [4.5]), SparseVector(2, [], []),
            SparseVector(2, [0, 1], [5.0, 90.0]), SparseVector(2, [0, 1], [np.nan, 1.0])]
    whole = model.transform_batch({FEATURES: SparseBatch.from_rows(2, rows)})
    monkeypatch.setattr(xgboost_booster, "DENSE_BATCH_VALUES", 4)  # two rows a slice
    sliced = model.transform_batch({FEATURES: SparseBatch.from_rows(2, rows)})
    for col in ("rawPrediction", "probability", "prediction"):
        assert np.array_equal(np.asarray(whole[col]), np.asarray(sliced[col]))
    for i, row in enumerate(rows):
        assert list(np.asarray(sliced["rawPrediction"])[i]) == list(model.transform({FEATURES: row})["rawPrediction"])
