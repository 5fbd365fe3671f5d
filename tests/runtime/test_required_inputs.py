"""``Pipeline.required_inputs``: asked on every PredictBatch and OIP ModelInfer request, so computed
once per output selection (it walked every stage per call: 50 us on a 61-stage pipeline) and
shared read-only."""

from __future__ import annotations

import pytest

from leapserve.runtime import ScoringError, load_bundle
from tests.support.handmade import assembled_lr_nodes, write_bundle


@pytest.fixture(scope="module")
def lr(tmp_path_factory):
    return load_bundle(write_bundle(tmp_path_factory.mktemp("lr") / "b", "json", assembled_lr_nodes()))


def test_required_inputs_are_computed_once_per_selection_and_read_only(lr):
    every = lr.required_inputs()
    assert list(every) == ["island", "depth"] and str(every["depth"]) == "double"
    assert lr.required_inputs() is every and lr.required_inputs(None) is every
    features = lr.required_inputs(["features"])
    assert list(features) == ["island", "depth"]
    assert lr.required_inputs(["features"]) is features and lr.required_inputs(("features",)) is features
    with pytest.raises(TypeError):
        every["other"] = every["depth"]  # shared by every request: nobody may change it
    for _ in range(2):  # an unknown output is refused every time, never kept
        with pytest.raises(ScoringError, match="unknown output"):
            lr.required_inputs(["zzz"])
