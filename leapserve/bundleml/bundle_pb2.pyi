from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class BasicType(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    UNDEFINED: _ClassVar[BasicType]
    BOOLEAN: _ClassVar[BasicType]
    BYTE: _ClassVar[BasicType]
    SHORT: _ClassVar[BasicType]
    INT: _ClassVar[BasicType]
    LONG: _ClassVar[BasicType]
    FLOAT: _ClassVar[BasicType]
    DOUBLE: _ClassVar[BasicType]
    STRING: _ClassVar[BasicType]
    BYTE_STRING: _ClassVar[BasicType]

class DataShapeType(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    SCALAR: _ClassVar[DataShapeType]
    LIST: _ClassVar[DataShapeType]
    TENSOR: _ClassVar[DataShapeType]

class Format(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    JSON: _ClassVar[Format]
    PROTOBUF: _ClassVar[Format]
UNDEFINED: BasicType
BOOLEAN: BasicType
BYTE: BasicType
SHORT: BasicType
INT: BasicType
LONG: BasicType
FLOAT: BasicType
DOUBLE: BasicType
STRING: BasicType
BYTE_STRING: BasicType
SCALAR: DataShapeType
LIST: DataShapeType
TENSOR: DataShapeType
JSON: Format
PROTOBUF: Format

class TensorDimension(_message.Message):
    __slots__ = ("size", "name")
    SIZE_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    size: int
    name: str
    def __init__(self, size: _Optional[int] = ..., name: _Optional[str] = ...) -> None: ...

class TensorShape(_message.Message):
    __slots__ = ("dimensions",)
    DIMENSIONS_FIELD_NUMBER: _ClassVar[int]
    dimensions: _containers.RepeatedCompositeFieldContainer[TensorDimension]
    def __init__(self, dimensions: _Optional[_Iterable[_Union[TensorDimension, _Mapping]]] = ...) -> None: ...

class Tensor(_message.Message):
    __slots__ = ("base", "shape", "value")
    BASE_FIELD_NUMBER: _ClassVar[int]
    SHAPE_FIELD_NUMBER: _ClassVar[int]
    VALUE_FIELD_NUMBER: _ClassVar[int]
    base: BasicType
    shape: TensorShape
    value: bytes
    def __init__(self, base: _Optional[_Union[BasicType, str]] = ..., shape: _Optional[_Union[TensorShape, _Mapping]] = ..., value: _Optional[bytes] = ...) -> None: ...

class DataShape(_message.Message):
    __slots__ = ("base", "is_nullable", "tensor_shape")
    BASE_FIELD_NUMBER: _ClassVar[int]
    IS_NULLABLE_FIELD_NUMBER: _ClassVar[int]
    TENSOR_SHAPE_FIELD_NUMBER: _ClassVar[int]
    base: DataShapeType
    is_nullable: bool
    tensor_shape: TensorShape
    def __init__(self, base: _Optional[_Union[DataShapeType, str]] = ..., is_nullable: _Optional[bool] = ..., tensor_shape: _Optional[_Union[TensorShape, _Mapping]] = ...) -> None: ...

class DataType(_message.Message):
    __slots__ = ("base", "shape")
    BASE_FIELD_NUMBER: _ClassVar[int]
    SHAPE_FIELD_NUMBER: _ClassVar[int]
    base: BasicType
    shape: DataShape
    def __init__(self, base: _Optional[_Union[BasicType, str]] = ..., shape: _Optional[_Union[DataShape, _Mapping]] = ...) -> None: ...

class Field(_message.Message):
    __slots__ = ("name", "data_type")
    NAME_FIELD_NUMBER: _ClassVar[int]
    DATA_TYPE_FIELD_NUMBER: _ClassVar[int]
    name: str
    data_type: DataType
    def __init__(self, name: _Optional[str] = ..., data_type: _Optional[_Union[DataType, _Mapping]] = ...) -> None: ...

class Schema(_message.Message):
    __slots__ = ("fields",)
    FIELDS_FIELD_NUMBER: _ClassVar[int]
    fields: _containers.RepeatedCompositeFieldContainer[Field]
    def __init__(self, fields: _Optional[_Iterable[_Union[Field, _Mapping]]] = ...) -> None: ...

class List(_message.Message):
    __slots__ = ("b", "s", "i", "l", "f", "d", "bs", "t", "bt", "ds", "m")
    B_FIELD_NUMBER: _ClassVar[int]
    S_FIELD_NUMBER: _ClassVar[int]
    I_FIELD_NUMBER: _ClassVar[int]
    L_FIELD_NUMBER: _ClassVar[int]
    F_FIELD_NUMBER: _ClassVar[int]
    D_FIELD_NUMBER: _ClassVar[int]
    BS_FIELD_NUMBER: _ClassVar[int]
    T_FIELD_NUMBER: _ClassVar[int]
    BT_FIELD_NUMBER: _ClassVar[int]
    DS_FIELD_NUMBER: _ClassVar[int]
    M_FIELD_NUMBER: _ClassVar[int]
    b: _containers.RepeatedScalarFieldContainer[bool]
    s: _containers.RepeatedScalarFieldContainer[str]
    i: _containers.RepeatedScalarFieldContainer[int]
    l: _containers.RepeatedScalarFieldContainer[int]
    f: _containers.RepeatedScalarFieldContainer[float]
    d: _containers.RepeatedScalarFieldContainer[float]
    bs: _containers.RepeatedScalarFieldContainer[bytes]
    t: _containers.RepeatedCompositeFieldContainer[Tensor]
    bt: _containers.RepeatedScalarFieldContainer[BasicType]
    ds: _containers.RepeatedCompositeFieldContainer[DataShape]
    m: _containers.RepeatedCompositeFieldContainer[Model]
    def __init__(self, b: _Optional[_Iterable[bool]] = ..., s: _Optional[_Iterable[str]] = ..., i: _Optional[_Iterable[int]] = ..., l: _Optional[_Iterable[int]] = ..., f: _Optional[_Iterable[float]] = ..., d: _Optional[_Iterable[float]] = ..., bs: _Optional[_Iterable[bytes]] = ..., t: _Optional[_Iterable[_Union[Tensor, _Mapping]]] = ..., bt: _Optional[_Iterable[_Union[BasicType, str]]] = ..., ds: _Optional[_Iterable[_Union[DataShape, _Mapping]]] = ..., m: _Optional[_Iterable[_Union[Model, _Mapping]]] = ...) -> None: ...

class Scalar(_message.Message):
    __slots__ = ("b", "s", "i", "l", "f", "d", "bs", "t", "bt", "ds", "m")
    B_FIELD_NUMBER: _ClassVar[int]
    S_FIELD_NUMBER: _ClassVar[int]
    I_FIELD_NUMBER: _ClassVar[int]
    L_FIELD_NUMBER: _ClassVar[int]
    F_FIELD_NUMBER: _ClassVar[int]
    D_FIELD_NUMBER: _ClassVar[int]
    BS_FIELD_NUMBER: _ClassVar[int]
    T_FIELD_NUMBER: _ClassVar[int]
    BT_FIELD_NUMBER: _ClassVar[int]
    DS_FIELD_NUMBER: _ClassVar[int]
    M_FIELD_NUMBER: _ClassVar[int]
    b: bool
    s: str
    i: int
    l: int
    f: float
    d: float
    bs: bytes
    t: Tensor
    bt: BasicType
    ds: DataShape
    m: Model
    def __init__(self, b: _Optional[bool] = ..., s: _Optional[str] = ..., i: _Optional[int] = ..., l: _Optional[int] = ..., f: _Optional[float] = ..., d: _Optional[float] = ..., bs: _Optional[bytes] = ..., t: _Optional[_Union[Tensor, _Mapping]] = ..., bt: _Optional[_Union[BasicType, str]] = ..., ds: _Optional[_Union[DataShape, _Mapping]] = ..., m: _Optional[_Union[Model, _Mapping]] = ...) -> None: ...

class Value(_message.Message):
    __slots__ = ("s", "l", "t")
    S_FIELD_NUMBER: _ClassVar[int]
    L_FIELD_NUMBER: _ClassVar[int]
    T_FIELD_NUMBER: _ClassVar[int]
    s: Scalar
    l: List
    t: Tensor
    def __init__(self, s: _Optional[_Union[Scalar, _Mapping]] = ..., l: _Optional[_Union[List, _Mapping]] = ..., t: _Optional[_Union[Tensor, _Mapping]] = ...) -> None: ...

class Attributes(_message.Message):
    __slots__ = ("list",)
    class ListEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: Value
        def __init__(self, key: _Optional[str] = ..., value: _Optional[_Union[Value, _Mapping]] = ...) -> None: ...
    LIST_FIELD_NUMBER: _ClassVar[int]
    list: _containers.MessageMap[str, Value]
    def __init__(self, list: _Optional[_Mapping[str, Value]] = ...) -> None: ...

class Bundle(_message.Message):
    __slots__ = ("uid", "name", "format", "version", "timestamp", "meta")
    UID_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    FORMAT_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    TIMESTAMP_FIELD_NUMBER: _ClassVar[int]
    META_FIELD_NUMBER: _ClassVar[int]
    uid: str
    name: str
    format: Format
    version: str
    timestamp: str
    meta: Attributes
    def __init__(self, uid: _Optional[str] = ..., name: _Optional[str] = ..., format: _Optional[_Union[Format, str]] = ..., version: _Optional[str] = ..., timestamp: _Optional[str] = ..., meta: _Optional[_Union[Attributes, _Mapping]] = ...) -> None: ...

class Model(_message.Message):
    __slots__ = ("op", "attributes")
    OP_FIELD_NUMBER: _ClassVar[int]
    ATTRIBUTES_FIELD_NUMBER: _ClassVar[int]
    op: str
    attributes: Attributes
    def __init__(self, op: _Optional[str] = ..., attributes: _Optional[_Union[Attributes, _Mapping]] = ...) -> None: ...

class Socket(_message.Message):
    __slots__ = ("port", "name")
    PORT_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    port: str
    name: str
    def __init__(self, port: _Optional[str] = ..., name: _Optional[str] = ...) -> None: ...

class NodeShape(_message.Message):
    __slots__ = ("inputs", "outputs")
    INPUTS_FIELD_NUMBER: _ClassVar[int]
    OUTPUTS_FIELD_NUMBER: _ClassVar[int]
    inputs: _containers.RepeatedCompositeFieldContainer[Socket]
    outputs: _containers.RepeatedCompositeFieldContainer[Socket]
    def __init__(self, inputs: _Optional[_Iterable[_Union[Socket, _Mapping]]] = ..., outputs: _Optional[_Iterable[_Union[Socket, _Mapping]]] = ...) -> None: ...

class Node(_message.Message):
    __slots__ = ("name", "shape")
    NAME_FIELD_NUMBER: _ClassVar[int]
    SHAPE_FIELD_NUMBER: _ClassVar[int]
    name: str
    shape: NodeShape
    def __init__(self, name: _Optional[str] = ..., shape: _Optional[_Union[NodeShape, _Mapping]] = ...) -> None: ...

class DecisionSplit(_message.Message):
    __slots__ = ("categorical", "continuous")
    class CategoricalSplit(_message.Message):
        __slots__ = ("feature_index", "is_left", "num_categories", "categories")
        FEATURE_INDEX_FIELD_NUMBER: _ClassVar[int]
        IS_LEFT_FIELD_NUMBER: _ClassVar[int]
        NUM_CATEGORIES_FIELD_NUMBER: _ClassVar[int]
        CATEGORIES_FIELD_NUMBER: _ClassVar[int]
        feature_index: int
        is_left: bool
        num_categories: int
        categories: _containers.RepeatedScalarFieldContainer[float]
        def __init__(self, feature_index: _Optional[int] = ..., is_left: _Optional[bool] = ..., num_categories: _Optional[int] = ..., categories: _Optional[_Iterable[float]] = ...) -> None: ...
    class ContinuousSplit(_message.Message):
        __slots__ = ("feature_index", "threshold")
        FEATURE_INDEX_FIELD_NUMBER: _ClassVar[int]
        THRESHOLD_FIELD_NUMBER: _ClassVar[int]
        feature_index: int
        threshold: float
        def __init__(self, feature_index: _Optional[int] = ..., threshold: _Optional[float] = ...) -> None: ...
    CATEGORICAL_FIELD_NUMBER: _ClassVar[int]
    CONTINUOUS_FIELD_NUMBER: _ClassVar[int]
    categorical: DecisionSplit.CategoricalSplit
    continuous: DecisionSplit.ContinuousSplit
    def __init__(self, categorical: _Optional[_Union[DecisionSplit.CategoricalSplit, _Mapping]] = ..., continuous: _Optional[_Union[DecisionSplit.ContinuousSplit, _Mapping]] = ...) -> None: ...

class DecisionNode(_message.Message):
    __slots__ = ("internal", "leaf")
    class InternalNode(_message.Message):
        __slots__ = ("split",)
        SPLIT_FIELD_NUMBER: _ClassVar[int]
        split: DecisionSplit
        def __init__(self, split: _Optional[_Union[DecisionSplit, _Mapping]] = ...) -> None: ...
    class LeafNode(_message.Message):
        __slots__ = ("values",)
        VALUES_FIELD_NUMBER: _ClassVar[int]
        values: _containers.RepeatedScalarFieldContainer[float]
        def __init__(self, values: _Optional[_Iterable[float]] = ...) -> None: ...
    INTERNAL_FIELD_NUMBER: _ClassVar[int]
    LEAF_FIELD_NUMBER: _ClassVar[int]
    internal: DecisionNode.InternalNode
    leaf: DecisionNode.LeafNode
    def __init__(self, internal: _Optional[_Union[DecisionNode.InternalNode, _Mapping]] = ..., leaf: _Optional[_Union[DecisionNode.LeafNode, _Mapping]] = ...) -> None: ...

class ClusterNode(_message.Message):
    __slots__ = ("index", "norm", "values", "num_children")
    INDEX_FIELD_NUMBER: _ClassVar[int]
    NORM_FIELD_NUMBER: _ClassVar[int]
    VALUES_FIELD_NUMBER: _ClassVar[int]
    NUM_CHILDREN_FIELD_NUMBER: _ClassVar[int]
    index: int
    norm: float
    values: _containers.RepeatedScalarFieldContainer[float]
    num_children: int
    def __init__(self, index: _Optional[int] = ..., norm: _Optional[float] = ..., values: _Optional[_Iterable[float]] = ..., num_children: _Optional[int] = ...) -> None: ...
