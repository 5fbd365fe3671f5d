"""The protobuf wire format of what the server writes itself: varints, field tags, and every tag of
the Values (codec.WireEncoder) and Predict/PredictBatch responses (services/prediction.py) written
straight to the wire, each taken once, at import, from the generated field descriptors.
tests/server/test_codec.py checks every tag against protobuf's own encoding.
"""

from __future__ import annotations

from google.protobuf.descriptor import FieldDescriptor

from leapserve.v1 import prediction_pb2, value_pb2

_VARINT_1 = [bytes([i]) for i in range(128)]


def varint(n: int) -> bytes:
    if 0 <= n < 128:
        return _VARINT_1[n]
    if n < 0:
        n &= 0xFFFFFFFFFFFFFFFF  # int64 two's complement, as protobuf writes negative numbers
    out = bytearray()
    while n > 0x7F:
        out.append((n & 0x7F) | 0x80)
        n >>= 7
    out.append(n)
    return bytes(out)


# Wire types: how the bytes after a tag are read. Integers, booleans and enums are varints.
_VARINT, _I64, _LEN, _I32 = 0, 1, 2, 5
_WIRE_TYPES = {
    FieldDescriptor.TYPE_DOUBLE: _I64, FieldDescriptor.TYPE_FIXED64: _I64, FieldDescriptor.TYPE_SFIXED64: _I64,
    FieldDescriptor.TYPE_FLOAT: _I32, FieldDescriptor.TYPE_FIXED32: _I32, FieldDescriptor.TYPE_SFIXED32: _I32,
    FieldDescriptor.TYPE_STRING: _LEN, FieldDescriptor.TYPE_BYTES: _LEN, FieldDescriptor.TYPE_MESSAGE: _LEN,
}


def tag_of(field: FieldDescriptor) -> bytes:
    """What precedes a field's value on the wire: field number and wire type as one varint (a packed
    repeated field, proto3's default for numbers, is one length-delimited run of values)."""
    wire_type = _LEN if field.is_packed else _WIRE_TYPES.get(field.type, _VARINT)
    return varint(field.number << 3 | wire_type)


class MapTags:
    """The tags of a map<string, Value> field: of its entries, and of an entry's key and value."""

    __slots__ = ("entry", "key", "value")

    def __init__(self, field: FieldDescriptor):
        entry = field.message_type.fields_by_name
        self.entry = tag_of(field)
        self.key = tag_of(entry["key"])
        self.value = tag_of(entry["value"])


# --- leapserve.v1.Value and Vector ------------------------------------------------------------

_VALUE = value_pb2.Value.DESCRIPTOR.fields_by_name
_VECTOR = value_pb2.Vector.DESCRIPTOR.fields_by_name
TAG_DOUBLE_VALUE = tag_of(_VALUE["double_value"])
TAG_FLOAT_VALUE = tag_of(_VALUE["float_value"])
TAG_INT_VALUE = tag_of(_VALUE["int_value"])
TAG_BOOL_VALUE = tag_of(_VALUE["bool_value"])
TAG_STRING_VALUE = tag_of(_VALUE["string_value"])
TAG_VECTOR_VALUE = tag_of(_VALUE["vector_value"])
TAG_NULL_VALUE = tag_of(_VALUE["null_value"])
TAG_VECTOR_SIZE = tag_of(_VECTOR["size"])
TAG_VECTOR_INDICES = tag_of(_VECTOR["indices"])
TAG_VECTOR_VALUES = tag_of(_VECTOR["values"])

# --- PredictResponse, PredictBatchResponse and its RowResults -----------------------------------

_RESPONSE = prediction_pb2.PredictResponse.DESCRIPTOR.fields_by_name
_BATCH = prediction_pb2.PredictBatchResponse.DESCRIPTOR.fields_by_name
_ROW = prediction_pb2.RowResult.DESCRIPTOR.fields_by_name
TAG_RESPONSE_MODEL = tag_of(_RESPONSE["model"])
TAG_RESPONSE_VERSION = tag_of(_RESPONSE["version"])
TAG_RESPONSE_REQUEST_ID = tag_of(_RESPONSE["request_id"])
RESPONSE_OUTPUTS = MapTags(_RESPONSE["outputs"])
TAG_BATCH_MODEL = tag_of(_BATCH["model"])
TAG_BATCH_VERSION = tag_of(_BATCH["version"])
TAG_BATCH_REQUEST_ID = tag_of(_BATCH["request_id"])
TAG_BATCH_RESULTS = tag_of(_BATCH["results"])
TAG_BATCH_OK_COUNT = tag_of(_BATCH["ok_count"])
TAG_BATCH_INVALID_COUNT = tag_of(_BATCH["invalid_count"])
TAG_BATCH_SKIPPED_COUNT = tag_of(_BATCH["skipped_count"])
# The counts that end a PredictBatchResponse, in the order the service writes them (a zero count is
# left out); metrics.batch_outcomes reads them back from the end in that order.
BATCH_COUNT_TAGS = (TAG_BATCH_OK_COUNT, TAG_BATCH_INVALID_COUNT, TAG_BATCH_SKIPPED_COUNT)
TAG_ROW_OUTCOME = tag_of(_ROW["outcome"])
TAG_ROW_STATUS = tag_of(_ROW["status"])
ROW_OUTPUTS = MapTags(_ROW["outputs"])
OUTCOME_INVALID = TAG_ROW_OUTCOME + varint(prediction_pb2.RowResult.INVALID)
OUTCOME_SKIPPED = TAG_ROW_OUTCOME + varint(prediction_pb2.RowResult.SKIPPED)
