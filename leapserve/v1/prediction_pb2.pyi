from leapserve.v1 import value_pb2 as _value_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class ModelState(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    MODEL_STATE_UNSPECIFIED: _ClassVar[ModelState]
    LOADING: _ClassVar[ModelState]
    READY: _ClassVar[ModelState]
    FAILED: _ClassVar[ModelState]
MODEL_STATE_UNSPECIFIED: ModelState
LOADING: ModelState
READY: ModelState
FAILED: ModelState

class PredictRequest(_message.Message):
    __slots__ = ("model", "version", "inputs", "outputs", "request_id")
    class InputsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: _value_pb2.Value
        def __init__(self, key: _Optional[str] = ..., value: _Optional[_Union[_value_pb2.Value, _Mapping]] = ...) -> None: ...
    MODEL_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    INPUTS_FIELD_NUMBER: _ClassVar[int]
    OUTPUTS_FIELD_NUMBER: _ClassVar[int]
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    model: str
    version: str
    inputs: _containers.MessageMap[str, _value_pb2.Value]
    outputs: _containers.RepeatedScalarFieldContainer[str]
    request_id: str
    def __init__(self, model: _Optional[str] = ..., version: _Optional[str] = ..., inputs: _Optional[_Mapping[str, _value_pb2.Value]] = ..., outputs: _Optional[_Iterable[str]] = ..., request_id: _Optional[str] = ...) -> None: ...

class PredictResponse(_message.Message):
    __slots__ = ("model", "version", "outputs", "request_id", "status")
    class OutputsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: _value_pb2.Value
        def __init__(self, key: _Optional[str] = ..., value: _Optional[_Union[_value_pb2.Value, _Mapping]] = ...) -> None: ...
    MODEL_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    OUTPUTS_FIELD_NUMBER: _ClassVar[int]
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    model: str
    version: str
    outputs: _containers.MessageMap[str, _value_pb2.Value]
    request_id: str
    status: Status
    def __init__(self, model: _Optional[str] = ..., version: _Optional[str] = ..., outputs: _Optional[_Mapping[str, _value_pb2.Value]] = ..., request_id: _Optional[str] = ..., status: _Optional[_Union[Status, _Mapping]] = ...) -> None: ...

class Status(_message.Message):
    __slots__ = ("code", "message", "field", "expected", "actual")
    CODE_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    FIELD_FIELD_NUMBER: _ClassVar[int]
    EXPECTED_FIELD_NUMBER: _ClassVar[int]
    ACTUAL_FIELD_NUMBER: _ClassVar[int]
    code: int
    message: str
    field: str
    expected: str
    actual: str
    def __init__(self, code: _Optional[int] = ..., message: _Optional[str] = ..., field: _Optional[str] = ..., expected: _Optional[str] = ..., actual: _Optional[str] = ...) -> None: ...

class Record(_message.Message):
    __slots__ = ("fields",)
    class FieldsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: _value_pb2.Value
        def __init__(self, key: _Optional[str] = ..., value: _Optional[_Union[_value_pb2.Value, _Mapping]] = ...) -> None: ...
    FIELDS_FIELD_NUMBER: _ClassVar[int]
    fields: _containers.MessageMap[str, _value_pb2.Value]
    def __init__(self, fields: _Optional[_Mapping[str, _value_pb2.Value]] = ...) -> None: ...

class PredictBatchRequest(_message.Message):
    __slots__ = ("model", "version", "records", "outputs", "request_id", "all_or_nothing")
    MODEL_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    RECORDS_FIELD_NUMBER: _ClassVar[int]
    OUTPUTS_FIELD_NUMBER: _ClassVar[int]
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    ALL_OR_NOTHING_FIELD_NUMBER: _ClassVar[int]
    model: str
    version: str
    records: _containers.RepeatedCompositeFieldContainer[Record]
    outputs: _containers.RepeatedScalarFieldContainer[str]
    request_id: str
    all_or_nothing: bool
    def __init__(self, model: _Optional[str] = ..., version: _Optional[str] = ..., records: _Optional[_Iterable[_Union[Record, _Mapping]]] = ..., outputs: _Optional[_Iterable[str]] = ..., request_id: _Optional[str] = ..., all_or_nothing: _Optional[bool] = ...) -> None: ...

class RowResult(_message.Message):
    __slots__ = ("outcome", "outputs", "status")
    class Outcome(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
        __slots__ = ()
        OK: _ClassVar[RowResult.Outcome]
        INVALID: _ClassVar[RowResult.Outcome]
        SKIPPED: _ClassVar[RowResult.Outcome]
    OK: RowResult.Outcome
    INVALID: RowResult.Outcome
    SKIPPED: RowResult.Outcome
    class OutputsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: _value_pb2.Value
        def __init__(self, key: _Optional[str] = ..., value: _Optional[_Union[_value_pb2.Value, _Mapping]] = ...) -> None: ...
    OUTCOME_FIELD_NUMBER: _ClassVar[int]
    OUTPUTS_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    outcome: RowResult.Outcome
    outputs: _containers.MessageMap[str, _value_pb2.Value]
    status: Status
    def __init__(self, outcome: _Optional[_Union[RowResult.Outcome, str]] = ..., outputs: _Optional[_Mapping[str, _value_pb2.Value]] = ..., status: _Optional[_Union[Status, _Mapping]] = ...) -> None: ...

class PredictBatchResponse(_message.Message):
    __slots__ = ("model", "version", "results", "request_id", "ok_count", "invalid_count", "skipped_count")
    MODEL_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    RESULTS_FIELD_NUMBER: _ClassVar[int]
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    OK_COUNT_FIELD_NUMBER: _ClassVar[int]
    INVALID_COUNT_FIELD_NUMBER: _ClassVar[int]
    SKIPPED_COUNT_FIELD_NUMBER: _ClassVar[int]
    model: str
    version: str
    results: _containers.RepeatedCompositeFieldContainer[RowResult]
    request_id: str
    ok_count: int
    invalid_count: int
    skipped_count: int
    def __init__(self, model: _Optional[str] = ..., version: _Optional[str] = ..., results: _Optional[_Iterable[_Union[RowResult, _Mapping]]] = ..., request_id: _Optional[str] = ..., ok_count: _Optional[int] = ..., invalid_count: _Optional[int] = ..., skipped_count: _Optional[int] = ...) -> None: ...

class GetModelMetadataRequest(_message.Message):
    __slots__ = ("model", "version")
    MODEL_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    model: str
    version: str
    def __init__(self, model: _Optional[str] = ..., version: _Optional[str] = ...) -> None: ...

class FieldInfo(_message.Message):
    __slots__ = ("name", "type", "kind", "base", "size", "nullable")
    NAME_FIELD_NUMBER: _ClassVar[int]
    TYPE_FIELD_NUMBER: _ClassVar[int]
    KIND_FIELD_NUMBER: _ClassVar[int]
    BASE_FIELD_NUMBER: _ClassVar[int]
    SIZE_FIELD_NUMBER: _ClassVar[int]
    NULLABLE_FIELD_NUMBER: _ClassVar[int]
    name: str
    type: str
    kind: str
    base: str
    size: int
    nullable: bool
    def __init__(self, name: _Optional[str] = ..., type: _Optional[str] = ..., kind: _Optional[str] = ..., base: _Optional[str] = ..., size: _Optional[int] = ..., nullable: _Optional[bool] = ...) -> None: ...

class StageInfo(_message.Message):
    __slots__ = ("name", "op", "inputs", "outputs")
    NAME_FIELD_NUMBER: _ClassVar[int]
    OP_FIELD_NUMBER: _ClassVar[int]
    INPUTS_FIELD_NUMBER: _ClassVar[int]
    OUTPUTS_FIELD_NUMBER: _ClassVar[int]
    name: str
    op: str
    inputs: _containers.RepeatedScalarFieldContainer[str]
    outputs: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, name: _Optional[str] = ..., op: _Optional[str] = ..., inputs: _Optional[_Iterable[str]] = ..., outputs: _Optional[_Iterable[str]] = ...) -> None: ...

class BundleInfo(_message.Message):
    __slots__ = ("uid", "name", "format", "bundle_version", "timestamp", "path")
    UID_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    FORMAT_FIELD_NUMBER: _ClassVar[int]
    BUNDLE_VERSION_FIELD_NUMBER: _ClassVar[int]
    TIMESTAMP_FIELD_NUMBER: _ClassVar[int]
    PATH_FIELD_NUMBER: _ClassVar[int]
    uid: str
    name: str
    format: str
    bundle_version: str
    timestamp: str
    path: str
    def __init__(self, uid: _Optional[str] = ..., name: _Optional[str] = ..., format: _Optional[str] = ..., bundle_version: _Optional[str] = ..., timestamp: _Optional[str] = ..., path: _Optional[str] = ...) -> None: ...

class VersionInfo(_message.Message):
    __slots__ = ("version", "state", "error", "path", "loaded_at_ms", "generation", "is_default")
    VERSION_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    ERROR_FIELD_NUMBER: _ClassVar[int]
    PATH_FIELD_NUMBER: _ClassVar[int]
    LOADED_AT_MS_FIELD_NUMBER: _ClassVar[int]
    GENERATION_FIELD_NUMBER: _ClassVar[int]
    IS_DEFAULT_FIELD_NUMBER: _ClassVar[int]
    version: str
    state: ModelState
    error: str
    path: str
    loaded_at_ms: int
    generation: int
    is_default: bool
    def __init__(self, version: _Optional[str] = ..., state: _Optional[_Union[ModelState, str]] = ..., error: _Optional[str] = ..., path: _Optional[str] = ..., loaded_at_ms: _Optional[int] = ..., generation: _Optional[int] = ..., is_default: _Optional[bool] = ...) -> None: ...

class GetModelMetadataResponse(_message.Message):
    __slots__ = ("model", "version", "inputs", "outputs", "stages", "versions", "bundle", "default_version")
    MODEL_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    INPUTS_FIELD_NUMBER: _ClassVar[int]
    OUTPUTS_FIELD_NUMBER: _ClassVar[int]
    STAGES_FIELD_NUMBER: _ClassVar[int]
    VERSIONS_FIELD_NUMBER: _ClassVar[int]
    BUNDLE_FIELD_NUMBER: _ClassVar[int]
    DEFAULT_VERSION_FIELD_NUMBER: _ClassVar[int]
    model: str
    version: str
    inputs: _containers.RepeatedCompositeFieldContainer[FieldInfo]
    outputs: _containers.RepeatedCompositeFieldContainer[FieldInfo]
    stages: _containers.RepeatedCompositeFieldContainer[StageInfo]
    versions: _containers.RepeatedCompositeFieldContainer[VersionInfo]
    bundle: BundleInfo
    default_version: str
    def __init__(self, model: _Optional[str] = ..., version: _Optional[str] = ..., inputs: _Optional[_Iterable[_Union[FieldInfo, _Mapping]]] = ..., outputs: _Optional[_Iterable[_Union[FieldInfo, _Mapping]]] = ..., stages: _Optional[_Iterable[_Union[StageInfo, _Mapping]]] = ..., versions: _Optional[_Iterable[_Union[VersionInfo, _Mapping]]] = ..., bundle: _Optional[_Union[BundleInfo, _Mapping]] = ..., default_version: _Optional[str] = ...) -> None: ...

class ListModelsRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class ModelSummary(_message.Message):
    __slots__ = ("name", "default_version", "versions", "pinned_default_version", "notes")
    NAME_FIELD_NUMBER: _ClassVar[int]
    DEFAULT_VERSION_FIELD_NUMBER: _ClassVar[int]
    VERSIONS_FIELD_NUMBER: _ClassVar[int]
    PINNED_DEFAULT_VERSION_FIELD_NUMBER: _ClassVar[int]
    NOTES_FIELD_NUMBER: _ClassVar[int]
    name: str
    default_version: str
    versions: _containers.RepeatedCompositeFieldContainer[VersionInfo]
    pinned_default_version: str
    notes: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, name: _Optional[str] = ..., default_version: _Optional[str] = ..., versions: _Optional[_Iterable[_Union[VersionInfo, _Mapping]]] = ..., pinned_default_version: _Optional[str] = ..., notes: _Optional[_Iterable[str]] = ...) -> None: ...

class ListModelsResponse(_message.Message):
    __slots__ = ("models", "notes")
    MODELS_FIELD_NUMBER: _ClassVar[int]
    NOTES_FIELD_NUMBER: _ClassVar[int]
    models: _containers.RepeatedCompositeFieldContainer[ModelSummary]
    notes: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, models: _Optional[_Iterable[_Union[ModelSummary, _Mapping]]] = ..., notes: _Optional[_Iterable[str]] = ...) -> None: ...
