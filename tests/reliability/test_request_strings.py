"""Long and many request strings: the text ops' caches stay within LEAPSERVE_MAX_TEXT_CACHE_BYTES,
and the server refuses a string longer than LEAPSERVE_MAX_STRING_LENGTH (INVALID_ARGUMENT naming
the field, the limit and the length) before any op sees it."""

from __future__ import annotations

import gc
import tracemalloc

import pytest

from leapserve.runtime import load_bundle
from leapserve.runtime.errors import InvalidInput
from tests.support.bundles import RF_ZIP, write_zip
from tests.support.hostile import one_op_entries

_LIST = {"base": "list", "isNullable": True}
OPS = {
    "stopwords_remover": ({"stop_words": {"type": "list", "string": ["a", "the"]}}, "input", lambda t: [t, "a"]),
    "hashing_term_frequency": ({"num_features": {"long": 1 << 18}, "binary": {"boolean": False}}, "input",
                               lambda t: [t, "a"]),
    "feature_hasher": ({"num_features": {"long": 1 << 18}, "categorical_cols": {"type": "list", "string": []},
                        "input_names": {"type": "list", "string": ["x"]},
                        "basic_types": {"type": "list", "basic_type": ["string"]}}, "input0", lambda t: t),
}


def _retained_after_scoring(pipeline, make_value, token, count: int) -> int:
    """Bytes still allocated after scoring one record per token (each token dropped at once)."""
    gc.collect()
    tracemalloc.start()
    try:
        for i in range(count):
            pipeline.transform({"x": make_value(token(i))})
        gc.collect()
        return tracemalloc.get_traced_memory()[0]
    finally:
        tracemalloc.stop()


@pytest.mark.parametrize("op", OPS)
def test_text_cache_keeps_no_long_token(op, tmp_path):
    """Ten records, each with one distinct 256 KiB token: no token stays in memory (a server kept
    every one: ten requests with a 20 MiB token each grew it by 200 MB, for good)."""
    attrs, port, make_value = OPS[op]
    pipeline = load_bundle(write_zip(tmp_path / "b.zip", one_op_entries(op, attrs, port)))
    pipeline.transform({"x": make_value("warm")})
    retained = _retained_after_scoring(pipeline, make_value, lambda i: f"{i}" + "x" * (256 << 10), 10)
    assert retained < 256 << 10, retained


@pytest.mark.parametrize("op", OPS)
def test_text_cache_is_bounded_by_bytes(op, tmp_path, monkeypatch):
    """A thousand distinct 500-character tokens (about 650 KB to remember) under
    LEAPSERVE_MAX_TEXT_CACHE_BYTES=64K: what stays is within the limit."""
    monkeypatch.setenv("LEAPSERVE_MAX_TEXT_CACHE_BYTES", "64K")
    attrs, port, make_value = OPS[op]
    pipeline = load_bundle(write_zip(tmp_path / "b.zip", one_op_entries(op, attrs, port)))
    pipeline.transform({"x": make_value("warm")})
    retained = _retained_after_scoring(pipeline, make_value, lambda i: f"{i:04d}" + "y" * 496, 1000)
    assert retained < (64 << 10) + (32 << 10), retained


def test_cached_answers_are_unchanged(tmp_path, monkeypatch):
    """Tokens kept, dropped and skipped score the same."""
    monkeypatch.setenv("LEAPSERVE_MAX_TEXT_CACHE_BYTES", "4K")
    attrs, port, _ = OPS["hashing_term_frequency"]
    small = load_bundle(write_zip(tmp_path / "s.zip", one_op_entries("hashing_term_frequency", attrs, port)))
    monkeypatch.delenv("LEAPSERVE_MAX_TEXT_CACHE_BYTES")
    big = load_bundle(write_zip(tmp_path / "b.zip", one_op_entries("hashing_term_frequency", attrs, port)))
    docs = [[f"t{i % 37}" * (i % 9 + 1), "x" * (i * 13 % 200)] for i in range(300)]
    for doc in docs * 2:
        a, b = small.transform({"x": doc})["y"], big.transform({"x": doc})["y"]
        assert (list(a.indices), list(a.values)) == (list(b.indices), list(b.values))


# --- the server's codecs -----------------------------------------------------------------------

def _codec(monkeypatch, most: str):
    from leapserve.server.codec import ModelCodec

    monkeypatch.setenv("LEAPSERVE_MAX_STRING_LENGTH", most)
    return ModelCodec(load_bundle(RF_ZIP))


def test_string_over_the_limit_is_refused_naming_the_field(monkeypatch):
    from leapserve.v1 import prediction_pb2 as pb

    codec = _codec(monkeypatch, "10")
    req = pb.PredictRequest()
    req.inputs["state"].string_value = "x" * 10
    assert codec.decode_record(req.inputs)["state"] == "x" * 10
    req.inputs["state"].string_value = "x" * 11
    with pytest.raises(InvalidInput) as e:
        codec.decode_record(req.inputs)
    assert (e.value.field, e.value.expected, e.value.actual) == (
        "state", "a string of at most 10 characters (LEAPSERVE_MAX_STRING_LENGTH)", "a string of 11 characters")
    req = pb.PredictRequest()
    item = req.inputs["words"].list_value.values.add()
    item.string_value = "\u00e9" * 11  # characters, not UTF-8 bytes
    with pytest.raises(InvalidInput) as e:
        codec.decode_record(req.inputs)
    assert e.value.field == "words" and e.value.actual == "a string of 11 characters"


def test_default_string_limit_is_one_mebibyte(monkeypatch):
    from leapserve.v1 import prediction_pb2 as pb

    monkeypatch.delenv("LEAPSERVE_MAX_STRING_LENGTH", raising=False)
    from leapserve.server.codec import ModelCodec

    codec = ModelCodec(load_bundle(RF_ZIP))
    assert codec.max_string_length == 1 << 20
    req = pb.PredictRequest()
    req.inputs["state"].string_value = "x" * ((1 << 20) + 1)
    with pytest.raises(InvalidInput, match="at most 1048576 characters"):
        codec.decode_record(req.inputs)


def test_oip_bytes_over_the_limit_are_refused(monkeypatch):
    from leapserve.runtime.types import STRING
    from leapserve.server.tensors import input_column
    # tritonclient's messages, not leapserve.oip's: both define inference.* in protobuf's one
    # descriptor pool, so importing ours here breaks every later test that imports tritonclient's
    from tritonclient.grpc import service_pb2 as oip_pb2

    tensor = oip_pb2.ModelInferRequest.InferInputTensor(name="state", datatype="BYTES", shape=[2])
    tensor.contents.bytes_contents.extend([b"NY", b"x" * 11])
    with pytest.raises(InvalidInput) as e:
        input_column(STRING, tensor, None, 10)
    assert (e.value.field, e.value.actual) == ("state", "a string of 11 bytes")
    assert "at most 10 bytes (LEAPSERVE_MAX_STRING_LENGTH)" in e.value.expected
    assert list(input_column(STRING, tensor, None, 11)[0]) == ["NY", "x" * 11]
