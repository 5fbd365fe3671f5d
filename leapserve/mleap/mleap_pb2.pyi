from google.protobuf import wrappers_pb2 as _wrappers_pb2
from leapserve.bundleml import bundle_pb2 as _bundle_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class SelectMode(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    SELECT_MODE_UNKNOWN: _ClassVar[SelectMode]
    SELECT_MODE_STRICT: _ClassVar[SelectMode]
    SELECT_MODE_RELAXED: _ClassVar[SelectMode]

class TransformStatus(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    STATUS_OK: _ClassVar[TransformStatus]
    STATUS_ERROR: _ClassVar[TransformStatus]

class ThrottleMode(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    THROTTLE_SHAPING: _ClassVar[ThrottleMode]
    THROTTLE_ENFORCING: _ClassVar[ThrottleMode]
SELECT_MODE_UNKNOWN: SelectMode
SELECT_MODE_STRICT: SelectMode
SELECT_MODE_RELAXED: SelectMode
STATUS_OK: TransformStatus
STATUS_ERROR: TransformStatus
THROTTLE_SHAPING: ThrottleMode
THROTTLE_ENFORCING: ThrottleMode

class TransformOptions(_message.Message):
    __slots__ = ("select", "select_mode")
    SELECT_FIELD_NUMBER: _ClassVar[int]
    SELECT_MODE_FIELD_NUMBER: _ClassVar[int]
    select: _containers.RepeatedScalarFieldContainer[str]
    select_mode: SelectMode
    def __init__(self, select: _Optional[_Iterable[str]] = ..., select_mode: _Optional[_Union[SelectMode, str]] = ...) -> None: ...

class ModelConfig(_message.Message):
    __slots__ = ("memory_timeout", "disk_timeout")
    MEMORY_TIMEOUT_FIELD_NUMBER: _ClassVar[int]
    DISK_TIMEOUT_FIELD_NUMBER: _ClassVar[int]
    memory_timeout: _wrappers_pb2.UInt64Value
    disk_timeout: _wrappers_pb2.UInt64Value
    def __init__(self, memory_timeout: _Optional[_Union[_wrappers_pb2.UInt64Value, _Mapping]] = ..., disk_timeout: _Optional[_Union[_wrappers_pb2.UInt64Value, _Mapping]] = ...) -> None: ...

class Model(_message.Message):
    __slots__ = ("name", "uri", "config")
    NAME_FIELD_NUMBER: _ClassVar[int]
    URI_FIELD_NUMBER: _ClassVar[int]
    CONFIG_FIELD_NUMBER: _ClassVar[int]
    name: str
    uri: str
    config: ModelConfig
    def __init__(self, name: _Optional[str] = ..., uri: _Optional[str] = ..., config: _Optional[_Union[ModelConfig, _Mapping]] = ...) -> None: ...

class LoadModelRequest(_message.Message):
    __slots__ = ("model_name", "uri", "config", "force")
    MODEL_NAME_FIELD_NUMBER: _ClassVar[int]
    URI_FIELD_NUMBER: _ClassVar[int]
    CONFIG_FIELD_NUMBER: _ClassVar[int]
    FORCE_FIELD_NUMBER: _ClassVar[int]
    model_name: str
    uri: str
    config: ModelConfig
    force: bool
    def __init__(self, model_name: _Optional[str] = ..., uri: _Optional[str] = ..., config: _Optional[_Union[ModelConfig, _Mapping]] = ..., force: _Optional[bool] = ...) -> None: ...

class GetModelRequest(_message.Message):
    __slots__ = ("model_name",)
    MODEL_NAME_FIELD_NUMBER: _ClassVar[int]
    model_name: str
    def __init__(self, model_name: _Optional[str] = ...) -> None: ...

class UnloadModelRequest(_message.Message):
    __slots__ = ("model_name",)
    MODEL_NAME_FIELD_NUMBER: _ClassVar[int]
    model_name: str
    def __init__(self, model_name: _Optional[str] = ...) -> None: ...

class GetBundleMetaRequest(_message.Message):
    __slots__ = ("model_name",)
    MODEL_NAME_FIELD_NUMBER: _ClassVar[int]
    model_name: str
    def __init__(self, model_name: _Optional[str] = ...) -> None: ...

class BundleMeta(_message.Message):
    __slots__ = ("bundle", "input_schema", "output_schema")
    BUNDLE_FIELD_NUMBER: _ClassVar[int]
    INPUT_SCHEMA_FIELD_NUMBER: _ClassVar[int]
    OUTPUT_SCHEMA_FIELD_NUMBER: _ClassVar[int]
    bundle: _bundle_pb2.Bundle
    input_schema: _bundle_pb2.Schema
    output_schema: _bundle_pb2.Schema
    def __init__(self, bundle: _Optional[_Union[_bundle_pb2.Bundle, _Mapping]] = ..., input_schema: _Optional[_Union[_bundle_pb2.Schema, _Mapping]] = ..., output_schema: _Optional[_Union[_bundle_pb2.Schema, _Mapping]] = ...) -> None: ...

class Throttle(_message.Message):
    __slots__ = ("elements", "duration", "maximum_burst", "mode")
    ELEMENTS_FIELD_NUMBER: _ClassVar[int]
    DURATION_FIELD_NUMBER: _ClassVar[int]
    MAXIMUM_BURST_FIELD_NUMBER: _ClassVar[int]
    MODE_FIELD_NUMBER: _ClassVar[int]
    elements: int
    duration: int
    maximum_burst: int
    mode: ThrottleMode
    def __init__(self, elements: _Optional[int] = ..., duration: _Optional[int] = ..., maximum_burst: _Optional[int] = ..., mode: _Optional[_Union[ThrottleMode, str]] = ...) -> None: ...

class StreamConfig(_message.Message):
    __slots__ = ("idle_timeout", "transform_delay", "parallelism", "throttle", "buffer_size")
    IDLE_TIMEOUT_FIELD_NUMBER: _ClassVar[int]
    TRANSFORM_DELAY_FIELD_NUMBER: _ClassVar[int]
    PARALLELISM_FIELD_NUMBER: _ClassVar[int]
    THROTTLE_FIELD_NUMBER: _ClassVar[int]
    BUFFER_SIZE_FIELD_NUMBER: _ClassVar[int]
    idle_timeout: _wrappers_pb2.UInt64Value
    transform_delay: _wrappers_pb2.UInt64Value
    parallelism: _wrappers_pb2.UInt32Value
    throttle: Throttle
    buffer_size: _wrappers_pb2.UInt32Value
    def __init__(self, idle_timeout: _Optional[_Union[_wrappers_pb2.UInt64Value, _Mapping]] = ..., transform_delay: _Optional[_Union[_wrappers_pb2.UInt64Value, _Mapping]] = ..., parallelism: _Optional[_Union[_wrappers_pb2.UInt32Value, _Mapping]] = ..., throttle: _Optional[_Union[Throttle, _Mapping]] = ..., buffer_size: _Optional[_Union[_wrappers_pb2.UInt32Value, _Mapping]] = ...) -> None: ...

class FlowConfig(_message.Message):
    __slots__ = ("idle_timeout", "transform_delay", "parallelism", "throttle")
    IDLE_TIMEOUT_FIELD_NUMBER: _ClassVar[int]
    TRANSFORM_DELAY_FIELD_NUMBER: _ClassVar[int]
    PARALLELISM_FIELD_NUMBER: _ClassVar[int]
    THROTTLE_FIELD_NUMBER: _ClassVar[int]
    idle_timeout: _wrappers_pb2.UInt64Value
    transform_delay: _wrappers_pb2.UInt64Value
    parallelism: _wrappers_pb2.UInt32Value
    throttle: Throttle
    def __init__(self, idle_timeout: _Optional[_Union[_wrappers_pb2.UInt64Value, _Mapping]] = ..., transform_delay: _Optional[_Union[_wrappers_pb2.UInt64Value, _Mapping]] = ..., parallelism: _Optional[_Union[_wrappers_pb2.UInt32Value, _Mapping]] = ..., throttle: _Optional[_Union[Throttle, _Mapping]] = ...) -> None: ...

class RowStreamSpec(_message.Message):
    __slots__ = ("format", "schema", "options")
    FORMAT_FIELD_NUMBER: _ClassVar[int]
    SCHEMA_FIELD_NUMBER: _ClassVar[int]
    OPTIONS_FIELD_NUMBER: _ClassVar[int]
    format: str
    schema: _bundle_pb2.Schema
    options: TransformOptions
    def __init__(self, format: _Optional[str] = ..., schema: _Optional[_Union[_bundle_pb2.Schema, _Mapping]] = ..., options: _Optional[_Union[TransformOptions, _Mapping]] = ...) -> None: ...

class FrameStream(_message.Message):
    __slots__ = ("stream_name", "model_name", "stream_config")
    STREAM_NAME_FIELD_NUMBER: _ClassVar[int]
    MODEL_NAME_FIELD_NUMBER: _ClassVar[int]
    STREAM_CONFIG_FIELD_NUMBER: _ClassVar[int]
    stream_name: str
    model_name: str
    stream_config: StreamConfig
    def __init__(self, stream_name: _Optional[str] = ..., model_name: _Optional[str] = ..., stream_config: _Optional[_Union[StreamConfig, _Mapping]] = ...) -> None: ...

class RowStream(_message.Message):
    __slots__ = ("stream_name", "model_name", "stream_config", "spec", "output_schema")
    STREAM_NAME_FIELD_NUMBER: _ClassVar[int]
    MODEL_NAME_FIELD_NUMBER: _ClassVar[int]
    STREAM_CONFIG_FIELD_NUMBER: _ClassVar[int]
    SPEC_FIELD_NUMBER: _ClassVar[int]
    OUTPUT_SCHEMA_FIELD_NUMBER: _ClassVar[int]
    stream_name: str
    model_name: str
    stream_config: StreamConfig
    spec: RowStreamSpec
    output_schema: _bundle_pb2.Schema
    def __init__(self, stream_name: _Optional[str] = ..., model_name: _Optional[str] = ..., stream_config: _Optional[_Union[StreamConfig, _Mapping]] = ..., spec: _Optional[_Union[RowStreamSpec, _Mapping]] = ..., output_schema: _Optional[_Union[_bundle_pb2.Schema, _Mapping]] = ...) -> None: ...

class CreateFrameStreamRequest(_message.Message):
    __slots__ = ("model_name", "stream_name", "stream_config")
    MODEL_NAME_FIELD_NUMBER: _ClassVar[int]
    STREAM_NAME_FIELD_NUMBER: _ClassVar[int]
    STREAM_CONFIG_FIELD_NUMBER: _ClassVar[int]
    model_name: str
    stream_name: str
    stream_config: StreamConfig
    def __init__(self, model_name: _Optional[str] = ..., stream_name: _Optional[str] = ..., stream_config: _Optional[_Union[StreamConfig, _Mapping]] = ...) -> None: ...

class GetFrameStreamRequest(_message.Message):
    __slots__ = ("model_name", "stream_name")
    MODEL_NAME_FIELD_NUMBER: _ClassVar[int]
    STREAM_NAME_FIELD_NUMBER: _ClassVar[int]
    model_name: str
    stream_name: str
    def __init__(self, model_name: _Optional[str] = ..., stream_name: _Optional[str] = ...) -> None: ...

class CreateRowStreamRequest(_message.Message):
    __slots__ = ("model_name", "stream_name", "stream_config", "spec")
    MODEL_NAME_FIELD_NUMBER: _ClassVar[int]
    STREAM_NAME_FIELD_NUMBER: _ClassVar[int]
    STREAM_CONFIG_FIELD_NUMBER: _ClassVar[int]
    SPEC_FIELD_NUMBER: _ClassVar[int]
    model_name: str
    stream_name: str
    stream_config: StreamConfig
    spec: RowStreamSpec
    def __init__(self, model_name: _Optional[str] = ..., stream_name: _Optional[str] = ..., stream_config: _Optional[_Union[StreamConfig, _Mapping]] = ..., spec: _Optional[_Union[RowStreamSpec, _Mapping]] = ...) -> None: ...

class GetRowStreamRequest(_message.Message):
    __slots__ = ("model_name", "stream_name")
    MODEL_NAME_FIELD_NUMBER: _ClassVar[int]
    STREAM_NAME_FIELD_NUMBER: _ClassVar[int]
    model_name: str
    stream_name: str
    def __init__(self, model_name: _Optional[str] = ..., stream_name: _Optional[str] = ...) -> None: ...

class TransformFrameRequest(_message.Message):
    __slots__ = ("model_name", "stream_name", "flow_config", "format", "init_timeout", "tag", "frame", "options")
    MODEL_NAME_FIELD_NUMBER: _ClassVar[int]
    STREAM_NAME_FIELD_NUMBER: _ClassVar[int]
    FLOW_CONFIG_FIELD_NUMBER: _ClassVar[int]
    FORMAT_FIELD_NUMBER: _ClassVar[int]
    INIT_TIMEOUT_FIELD_NUMBER: _ClassVar[int]
    TAG_FIELD_NUMBER: _ClassVar[int]
    FRAME_FIELD_NUMBER: _ClassVar[int]
    OPTIONS_FIELD_NUMBER: _ClassVar[int]
    model_name: str
    stream_name: str
    flow_config: FlowConfig
    format: str
    init_timeout: _wrappers_pb2.UInt64Value
    tag: int
    frame: bytes
    options: TransformOptions
    def __init__(self, model_name: _Optional[str] = ..., stream_name: _Optional[str] = ..., flow_config: _Optional[_Union[FlowConfig, _Mapping]] = ..., format: _Optional[str] = ..., init_timeout: _Optional[_Union[_wrappers_pb2.UInt64Value, _Mapping]] = ..., tag: _Optional[int] = ..., frame: _Optional[bytes] = ..., options: _Optional[_Union[TransformOptions, _Mapping]] = ...) -> None: ...

class TransformFrameResponse(_message.Message):
    __slots__ = ("tag", "format", "frame", "status", "error", "backtrace")
    TAG_FIELD_NUMBER: _ClassVar[int]
    FORMAT_FIELD_NUMBER: _ClassVar[int]
    FRAME_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    ERROR_FIELD_NUMBER: _ClassVar[int]
    BACKTRACE_FIELD_NUMBER: _ClassVar[int]
    tag: int
    format: str
    frame: bytes
    status: TransformStatus
    error: str
    backtrace: str
    def __init__(self, tag: _Optional[int] = ..., format: _Optional[str] = ..., frame: _Optional[bytes] = ..., status: _Optional[_Union[TransformStatus, str]] = ..., error: _Optional[str] = ..., backtrace: _Optional[str] = ...) -> None: ...

class ErrorTransformResponse(_message.Message):
    __slots__ = ("status", "error", "backtrace")
    STATUS_FIELD_NUMBER: _ClassVar[int]
    ERROR_FIELD_NUMBER: _ClassVar[int]
    BACKTRACE_FIELD_NUMBER: _ClassVar[int]
    status: TransformStatus
    error: str
    backtrace: str
    def __init__(self, status: _Optional[_Union[TransformStatus, str]] = ..., error: _Optional[str] = ..., backtrace: _Optional[str] = ...) -> None: ...

class TransformRowRequest(_message.Message):
    __slots__ = ("model_name", "stream_name", "flow_config", "format", "init_timeout", "input_schema", "output_schema", "tag", "row")
    MODEL_NAME_FIELD_NUMBER: _ClassVar[int]
    STREAM_NAME_FIELD_NUMBER: _ClassVar[int]
    FLOW_CONFIG_FIELD_NUMBER: _ClassVar[int]
    FORMAT_FIELD_NUMBER: _ClassVar[int]
    INIT_TIMEOUT_FIELD_NUMBER: _ClassVar[int]
    INPUT_SCHEMA_FIELD_NUMBER: _ClassVar[int]
    OUTPUT_SCHEMA_FIELD_NUMBER: _ClassVar[int]
    TAG_FIELD_NUMBER: _ClassVar[int]
    ROW_FIELD_NUMBER: _ClassVar[int]
    model_name: str
    stream_name: str
    flow_config: FlowConfig
    format: str
    init_timeout: _wrappers_pb2.UInt64Value
    input_schema: _bundle_pb2.Schema
    output_schema: _bundle_pb2.Schema
    tag: int
    row: bytes
    def __init__(self, model_name: _Optional[str] = ..., stream_name: _Optional[str] = ..., flow_config: _Optional[_Union[FlowConfig, _Mapping]] = ..., format: _Optional[str] = ..., init_timeout: _Optional[_Union[_wrappers_pb2.UInt64Value, _Mapping]] = ..., input_schema: _Optional[_Union[_bundle_pb2.Schema, _Mapping]] = ..., output_schema: _Optional[_Union[_bundle_pb2.Schema, _Mapping]] = ..., tag: _Optional[int] = ..., row: _Optional[bytes] = ...) -> None: ...

class TransformRowResponse(_message.Message):
    __slots__ = ("schema", "tag", "row", "status", "error", "backtrace")
    SCHEMA_FIELD_NUMBER: _ClassVar[int]
    TAG_FIELD_NUMBER: _ClassVar[int]
    ROW_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    ERROR_FIELD_NUMBER: _ClassVar[int]
    BACKTRACE_FIELD_NUMBER: _ClassVar[int]
    schema: _bundle_pb2.Schema
    tag: int
    row: bytes
    status: TransformStatus
    error: str
    backtrace: str
    def __init__(self, schema: _Optional[_Union[_bundle_pb2.Schema, _Mapping]] = ..., tag: _Optional[int] = ..., row: _Optional[bytes] = ..., status: _Optional[_Union[TransformStatus, str]] = ..., error: _Optional[str] = ..., backtrace: _Optional[str] = ...) -> None: ...
