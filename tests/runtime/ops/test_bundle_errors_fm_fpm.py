"""Malformed leapserve.fm_* and leapserve.fp_growth nodes fail to load naming the attribute, what was
expected and what was found (their Spark parity: tests/bundler/test_spark_ops.py)."""

from __future__ import annotations

import pytest

from leapserve.runtime import load_bundle
from leapserve.runtime.errors import BundleError
from tests.support.handmade import double, long_list, node, tensor, write_bundle


def string_list(values) -> dict:
    return {"type": "list", "string": list(values)}


@pytest.mark.parametrize("fmt", ["json", "protobuf"])
@pytest.mark.parametrize("op", ["leapserve.fm_classifier", "leapserve.fm_regression"])
def test_factors_must_have_a_row_per_linear_entry(tmp_path, fmt, op):
    attrs = {"intercept": double(0.5), "linear": tensor([1.0, 2.0, 3.0]),
             "factors": tensor([0.1, 0.2, 0.3, 0.4], dims=[2, 2])}
    path = write_bundle(tmp_path / "b", fmt, [node("fm", op, attrs, inputs=[("features", "features")],
                                                   outputs=[("prediction", "p")])])
    with pytest.raises(BundleError) as err:
        load_bundle(path)
    assert "'factors' has shape [2, 2]; expected [3, factor_size]" in str(err.value)


@pytest.mark.parametrize("fmt", ["json", "protobuf"])
def test_fp_growth_lengths_must_split_the_items(tmp_path, fmt):
    attrs = {"antecedents": string_list(["a", "b"]), "antecedent_lengths": long_list([1, 2]),
             "consequents": string_list(["c", "d"]), "consequent_lengths": long_list([1, 1])}
    path = write_bundle(tmp_path / "b", fmt, [node("fp", "leapserve.fp_growth", attrs,
                                                   inputs=[("items", "items")], outputs=[("prediction", "p")])])
    with pytest.raises(BundleError) as err:
        load_bundle(path)
    assert "'antecedent_lengths' must split 'antecedents' (2 items) into rules; its lengths sum to 3" in str(err.value)


def test_fp_growth_scores_a_hand_written_rule_table(tmp_path):
    attrs = {"antecedents": string_list(["a", "a", "b"]), "antecedent_lengths": long_list([1, 2]),
             "consequents": string_list(["c", "b", "d", "c"]), "consequent_lengths": long_list([2, 2])}
    path = write_bundle(tmp_path / "b", "json", [node("fp", "leapserve.fp_growth", attrs,
                                                      inputs=[("items", "items")], outputs=[("prediction", "p")])])
    model = load_bundle(path)
    # rule 1: {a} -> [c, b]; rule 2: {a, b} -> [d, c]: b held, c once, in rule order
    assert model.transform({"items": ["b", "a"]})["p"] == ["c", "d"]
    assert model.transform({"items": ["a"]})["p"] == ["c", "b"]
    assert model.transform({"items": None})["p"] == []
