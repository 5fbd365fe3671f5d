"""Errors that say what to do next, from the runtime itself (what `leapserve predict`, bundler.score
and the server show), and the truth of ``nullable``: bundles written by hand, and the golden set's
records with nulls, as Spark answered them."""

from __future__ import annotations

import json
import time

import pytest

from leapserve.runtime import InvalidInput, MissingInput, ScoringError, load_bundle
from leapserve.runtime.plan import missing_input
from tests.support import golden
from tests.support.handmade import (assembled_lr_nodes, bucketed_lr_nodes, long, node, string, two_column_encoder_nodes,
                                    two_column_indexer_node, write_bundle)


@pytest.fixture(scope="module")
def lr(tmp_path_factory):
    return load_bundle(write_bundle(tmp_path_factory.mktemp("lr") / "b", "json", assembled_lr_nodes()))


def test_missing_inputs_are_named_all_at_once(lr):
    for score in (lambda rec: lr.transform(rec), lambda rec: lr.transform_batch({k: [v] for k, v in rec.items()})):
        with pytest.raises(MissingInput) as e:
            score({"other": 1.0})
        assert e.value.fields == ("island", "depth") and e.value.field == "island, depth"
        assert e.value.expected == "island: double, depth: double" and e.value.actual == "nothing"
        assert str(e.value).startswith("fields 'island', 'depth': 2 required inputs are missing")
        with pytest.raises(MissingInput) as e:
            score({"island": 1.0})
        assert e.value.fields == ("depth",) and str(e.value) == "field 'depth': required input is missing (expected double)"


@pytest.mark.parametrize("sent", ["Island", "ISLAND", "islnd", "iseland"])
def test_a_name_off_by_case_or_a_typo_is_suggested(lr, sent):
    for score in (lambda rec: lr.transform(rec), lambda rec: lr.transform_batch({k: [v] for k, v in rec.items()})):
        with pytest.raises(MissingInput) as e:
            score({sent: 1.0, "depth": 2.0})
        assert e.value.field == "island" and e.value.expected == "double"
        assert f"{sent!r} was sent: did you mean 'island'?" in str(e.value)


def test_missing_inputs_are_suggested_among_the_names_sent_when_a_server_gives_them(lr):
    """A server leaves out the fields the pipeline does not read; the names it says were sent still
    get their suggestion, and missing_input answers what the record and batch paths raise."""
    with pytest.raises(MissingInput) as e:
        lr.transform_batch({"depth": [2.0]}, sent=["Island", "depth"])
    assert "'Island' was sent: did you mean 'island'?" in str(e.value)
    required = lr.required_inputs()
    assert missing_input(required, {"island": 1.0, "depth": 2.0}, lr.inputs) is None
    found = missing_input(required, {"depth": 2.0}, lr.inputs, ["islnd"])
    assert found.fields == ("island",) and "'islnd' was sent: did you mean 'island'?" in str(found)


def test_a_name_far_from_any_input_gets_no_suggestion(lr):
    with pytest.raises(MissingInput) as e:
        lr.transform({"colour": 1.0, "depth": 2.0})
    assert "did you mean" not in str(e.value)


def test_unknown_outputs_are_named_all_with_a_suggestion(lr):
    with pytest.raises(ScoringError) as e:
        lr.transform({"island": 1.0, "depth": 2.0}, outputs=["Prediction", "zzz", "features"])
    assert e.value.field == "Prediction, zzz" and e.value.actual == "'Prediction', 'zzz'"
    assert e.value.expected == "outputs among ['features', 'prediction']"
    assert "did you mean 'prediction' for 'Prediction'?" in str(e.value)
    assert "for 'zzz'" not in str(e.value)


def test_an_input_sent_rightly_is_never_suggested_for_a_missing_one(tmp_path):
    """bill_length_mm is an input of its own: it is no typo of the missing bill_depth_mm."""
    nodes = assembled_lr_nodes(("bill_length_mm", "bill_depth_mm"))
    pipeline = load_bundle(write_bundle(tmp_path / "b", "json", nodes))
    for score in (lambda rec: pipeline.transform(rec),
                  lambda rec: pipeline.transform_batch({k: [v] for k, v in rec.items()})):
        with pytest.raises(MissingInput) as e:
            score({"bill_length_mm": 40.0, "sex": "male"})
        assert e.value.fields == ("bill_depth_mm",) and "did you mean" not in str(e.value)
        with pytest.raises(MissingInput) as e:
            score({"bill_length_mm": 40.0, "Bill_Depth_mm": 18.0})
        assert "'Bill_Depth_mm' was sent: did you mean 'bill_depth_mm'?" in str(e.value)


def _cpu_seconds(fn) -> float:
    best = float("inf")
    for _ in range(3):
        start = time.process_time()
        fn()
        best = min(best, time.process_time() - start)
    return best


def _missing_message(pipeline, record) -> str:
    with pytest.raises(MissingInput) as e:
        pipeline.transform(record)
    return str(e.value)


def test_many_names_sent_cost_about_what_reading_them_costs(lr):
    """100,000 names sent with the inputs missing: the hints cost no more than a few times building
    the record of those names (comparing each with each missing field cost 200 times that), and a
    typo or a case variant among them is still suggested (when among the first names sent of a
    length near the field's: only so many are compared)."""
    names = [f"f{i}" for i in range(100_000)]
    record = dict.fromkeys(names, 1.0)
    reading = _cpu_seconds(lambda: {name: 1.0 for name in names})
    assert _cpu_seconds(lambda: _missing_message(lr, record)) < 10 * reading
    assert "'islnd' was sent: did you mean 'island'?" in _missing_message(lr, {"islnd": 1.0, "depth": 2.0, **record})
    assert "'Island' was sent: did you mean 'island'?" in _missing_message(lr, {**record, "Island": 1.0, "depth": 2.0})


def test_many_unknown_outputs_are_counted_not_all_listed(lr):
    wanted = ["Prediction"] + [f"o{i}" for i in range(999)]
    with pytest.raises(ScoringError) as e:
        lr.transform({"island": 1.0, "depth": 2.0}, outputs=wanted)
    assert e.value.fields == tuple(wanted)
    assert e.value.field == ", ".join(wanted[:20]) + " and 980 more"
    assert e.value.actual == ", ".join(repr(w) for w in wanted[:20]) + " and 980 more"
    message = str(e.value)
    assert message.startswith("fields 'Prediction', 'o0', ") and "'o18' and 980 more: 1000 unknown outputs" in message
    assert "did you mean 'prediction' for 'Prediction'?" in message and len(message) < 600


@pytest.fixture(scope="module")
def bucketed(tmp_path_factory):
    """depth -> bucketizer (a null gives a null bucket) -> assembler (refuses a null) -> regression."""
    return load_bundle(write_bundle(tmp_path_factory.mktemp("bucketed") / "b", "json", bucketed_lr_nodes()))


def test_a_null_refused_at_an_internal_column_names_the_field_sent(bucketed):
    assert bucketed.transform({"island": 1.0, "depth": 2.0})["prediction"] == 2.5
    for depth in (None, ""):
        with pytest.raises(InvalidInput) as e:
            bucketed.transform({"island": 1.0, "depth": depth})
        assert e.value.field == "depth" and e.value.actual == "null" and "nulls" in e.value.expected
        assert "the null input 'depth' became a null in column 'depth_bucket'" in str(e.value)
    with pytest.raises(InvalidInput) as e:
        bucketed.transform_batch({"island": [1.0, 1.0], "depth": [2.0, None]})
    assert e.value.field == "depth" and e.value.row == 1 and e.value.actual == "null"
    # a null sent in a field the refusing stage reads itself is named as before
    with pytest.raises(InvalidInput) as e:
        bucketed.transform({"island": None, "depth": 2.0})
    assert e.value.field == "island" and "became a null" not in str(e.value)


@pytest.fixture(scope="module")
def two_column_encoder(tmp_path_factory):
    return load_bundle(write_bundle(tmp_path_factory.mktemp("encoder") / "b", "json", two_column_encoder_nodes()))


def test_each_column_of_a_multi_column_stage_has_its_own_lineage(two_column_encoder):
    assert two_column_encoder.lineage["colour_vec"] == ("colour",)
    assert two_column_encoder.lineage["size_vec"] == ("size",)
    assert two_column_encoder.lineage["features"] == ("colour", "size")


@pytest.mark.parametrize("colour", ["red", None, "", "null"])
def test_a_null_is_blamed_on_the_field_whose_column_it_became(two_column_encoder, colour):
    """A null colour is indexed (handle_invalid "keep"), and "" or "null" is a label of a text
    input, not a null: only the null size became the null the assembler refuses."""
    for score in (lambda rec: two_column_encoder.transform(rec),
                  lambda rec: two_column_encoder.transform_batch({k: [v] for k, v in rec.items()})):
        with pytest.raises(InvalidInput) as e:
            score({"colour": colour, "size": None})
        assert e.value.field == "size" and e.value.actual == "null"
        assert "the null input 'size' became a null in column 'size_vec'" in str(e.value)


def test_an_empty_text_read_as_a_number_downstream_is_a_null(tmp_path):
    """depth is first read as text (a string indexer), then as a number by the bucketizer, where ""
    is a null: the null the assembler refuses is still blamed on depth."""
    indexer = node("idx", "string_indexer", {"labels_length": long(1), "handle_invalid": string("keep"),
                                             "labels_array_0": {"type": "list", "string": ["1.0"]}},
                   inputs=[("input0", "depth")], outputs=[("output0", "depth_index")])
    pipeline = load_bundle(write_bundle(tmp_path / "b", "json", [indexer, *bucketed_lr_nodes()]))
    assert pipeline.inputs["depth"].base == "string"
    with pytest.raises(InvalidInput) as e:
        pipeline.transform({"island": 1.0, "depth": ""}, outputs=["prediction"])
    assert e.value.field == "depth" and "the null input 'depth' became a null in column 'depth_bucket'" in str(e.value)


def test_nullable_follows_the_nulls_stages_make(bucketed):
    assert bucketed.nullable_inputs == frozenset()  # the assembler refuses the bucketizer's null
    assert bucketed.accepts_null(["depth_bucket"]) == frozenset({"depth"})
    assert bucketed.schema("depth").nullable is False
    assert bucketed.inputs["depth"].nullable is True  # the cast itself takes it: the stages refuse it


LABELS = [f"colour{i}" for i in range(12)]


def test_an_unseen_label_names_some_known_labels_and_their_count(tmp_path):
    pipeline = load_bundle(write_bundle(tmp_path / "b", "json", [two_column_indexer_node("error", LABELS)]))
    with pytest.raises(InvalidInput) as e:
        pipeline.transform({"colour": "mauve", "shape": "x"})
    assert e.value.field == "colour" and e.value.actual == "unseen label 'mauve'"
    assert e.value.expected == ("one of the 12 labels seen in training (handle_invalid='error'): "
                                "'colour0', 'colour1', 'colour2', 'colour3', 'colour4' and 7 more")
    with pytest.raises(InvalidInput) as e:
        pipeline.transform_batch({"colour": ["colour1", "colour2"], "shape": ["x", "z"]})
    assert e.value.field == "shape" and e.value.row == 1 and e.value.expected.endswith(": 'x', 'y'")


@pytest.mark.parametrize("mode,nullable", [("error", False), ("keep", True), ("skip", True)])
def test_string_indexer_inputs_take_a_null_unless_handle_invalid_is_error(tmp_path, mode, nullable):
    pipeline = load_bundle(write_bundle(tmp_path / "b", "json", [two_column_indexer_node(mode, LABELS)]))
    want = frozenset({"colour", "shape"}) if nullable else frozenset()
    assert pipeline.nullable_inputs == want
    assert [pipeline.schema(f).nullable for f in ("colour", "shape")] == [nullable, nullable]
    assert pipeline.nullable_outputs == frozenset()  # an index, never null


def test_nullable_is_what_spark_did_with_nulls():
    """Every golden record with one null input field: Spark answered (or dropped the row) exactly
    when the pipeline reports that field nullable for the outputs compared."""
    checked = 0
    for case in golden.cases():
        pipeline = load_bundle(case / "bundle.zip")
        outputs = json.loads((case / "case.json").read_text())["outputs"] or None
        accepted = pipeline.accepts_null(outputs)
        required = pipeline.required_inputs(outputs)
        for _, record, answer in json.loads((case / "case.json").read_text())["rows"]:
            nulls = [f for f in required if f in record and record[f] is None]
            if len(nulls) == 1:
                checked += 1
                assert (nulls[0] in accepted) == (answer != "error"), (case.name, nulls[0], answer)
    assert checked > 100
