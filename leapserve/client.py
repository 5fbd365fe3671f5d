"""A Python client for a running `leapserve serve`: records in and outputs out as the runtime's own
Python values, over leapserve.v1's gRPC API.

    from leapserve.client import Client

    with Client("127.0.0.1:50051") as client:          # or "unix:/run/leapserve.sock"
        answer = client.predict("penguins", {"island": "Biscoe", "bill_length_mm": 48.6, ...})
        answer.outputs["predicted_species"], answer.version
        for row in client.predict_batch("penguins", records):    # one result per record, in order
            print(row.outputs if row.ok else row.error)

Values go in and come out as leapserve.load_bundle(...).transform takes and gives them: floats,
ints, strings, bools, None, bytes, lists, DenseVector (a dense vector) and SparseVector; outputs
are in the order ``outputs=`` names them, else in the pipeline's (asked once per model version with
GetModelMetadata: a protobuf map keeps no order). Values are encoded by leapserve.server.codec,
the server's own codec.

A call that fails raises CallError: the gRPC code, the server's message and, for bad input, the
field, the expected and the actual value. In a batch or a stream a record that fails does not
fail the others: its result carries the CallError instead of outputs (see Prediction).

Every call has a deadline: the client's ``timeout`` (30 s by default), or the call's ``timeout=``
(None: no deadline). For predict_stream it bounds the whole stream.
"""

from __future__ import annotations

import collections
import sys
import threading
from dataclasses import dataclass, field as dataclass_field
from typing import Iterable, Iterator, Mapping, Sequence

import grpc

__all__ = ["Client", "Prediction", "CallError", "ModelMetadata", "ModelSummary", "ModelList", "FieldInfo",
           "StageInfo", "VersionInfo", "BundleInfo", "NestedTooDeeply", "open_channel"]

DEFAULT_TIMEOUT = 30.0


class _ClientTimeout:
    """The default of a call's ``timeout=``: the client's own (None would mean no deadline)."""

    def __repr__(self) -> str:
        return "<the client's timeout>"


CLIENT_TIMEOUT = _ClientTimeout()

_CODES = {code.value[0]: code for code in grpc.StatusCode}


# --- errors ----------------------------------------------------------------------------------

class CallError(Exception):
    """A call (or one record of a batch or stream) that failed.

    ``code``: the grpc.StatusCode (INVALID_ARGUMENT for bad input, NOT_FOUND for an unknown model
    or version, UNAVAILABLE when nothing answers or the model is not loaded, DEADLINE_EXCEEDED,
    ...); ``message``: the server's message; ``field``, ``expected``, ``actual``: for bad input,
    the field at fault, what the pipeline expects there and what came (None otherwise).
    ``str()`` is "CODE: message"."""

    def __init__(self, code: grpc.StatusCode, message: str, field: str | None = None,
                 expected: str | None = None, actual: str | None = None):
        super().__init__(f"{code.name}: {message}")
        self.code = code
        self.message = message
        self.field = field or None
        self.expected = expected or None
        self.actual = actual or None

    @classmethod
    def from_rpc_error(cls, e: grpc.RpcError) -> "CallError":
        """From a failed call: the field, expected and actual value come in trailing metadata."""
        trailers = dict(e.trailing_metadata() or ())
        return cls(e.code(), e.details() or "", trailers.get("leapserve-field"),
                   trailers.get("leapserve-expected"), trailers.get("leapserve-actual"))

    @classmethod
    def from_status(cls, status) -> "CallError":
        """From a leapserve.v1.Status (a row of PredictBatch, an answer of PredictStream)."""
        code = _CODES.get(status.code, grpc.StatusCode.UNKNOWN)
        return cls(code, status.message, status.field, status.expected, status.actual)

    def __reduce__(self):
        return (CallError, (self.code, self.message, self.field, self.expected, self.actual))


def _codec():
    """server/codec.py, imported on first use (it brings numpy and the runtime's types)."""
    from leapserve.server import codec

    return codec


class NestedTooDeeply(ValueError):
    """A record value nested too deeply to encode (a ValueError, as the codec's UnencodableValue
    is): names the field."""

    def __init__(self, field: str):
        super().__init__(f"field {field!r}: cannot encode the value as a leapserve.v1.Value: nested too deeply")
        self.field, self.expected, self.actual = field, "a value nested less deeply", "a value nested too deeply"


# --- results ---------------------------------------------------------------------------------

@dataclass(frozen=True)
class Prediction:
    """The answer for one record.

    ``outputs``: field -> value, in the order asked for, else the pipeline's ({} when the record
    failed). ``version``: the model version that answered ("" when the record was refused before
    anything was sent). ``error``: None, or the CallError saying why this record has no outputs.
    ``skipped``: the pipeline drops this record, as Spark would (a handle_invalid="skip" stage; only
    PredictBatch tells this apart; ``error`` says why)."""

    model: str
    version: str
    outputs: dict = dataclass_field(default_factory=dict)
    error: CallError | None = None
    skipped: bool = False
    request_id: str = ""

    @property
    def ok(self) -> bool:
        return self.error is None


@dataclass(frozen=True)
class FieldInfo:
    name: str
    type: str       # readable: "double", "vector[3]", "list<string>", ...
    kind: str       # "scalar", "list" or "tensor"
    base: str       # element type: "double", "string", ...
    size: int | None
    nullable: bool


@dataclass(frozen=True)
class StageInfo:
    name: str
    op: str
    inputs: list[str]
    outputs: list[str]


@dataclass(frozen=True)
class VersionInfo:
    version: str
    state: str      # "LOADING", "READY" or "FAILED"
    error: str      # the last load failure ("" if none)
    path: str
    loaded_at_ms: int
    generation: int
    is_default: bool


@dataclass(frozen=True)
class BundleInfo:
    uid: str
    name: str
    format: str     # "json" or "protobuf"
    bundle_version: str
    timestamp: str
    path: str


@dataclass(frozen=True)
class ModelMetadata:
    """GetModelMetadata's answer: the fields of the version described, its stages, every version."""

    model: str
    version: str
    default_version: str
    inputs: list[FieldInfo]
    outputs: list[FieldInfo]
    stages: list[StageInfo]
    versions: list[VersionInfo]
    bundle: BundleInfo


@dataclass(frozen=True)
class ModelSummary:
    name: str
    default_version: str
    pinned_default_version: str
    versions: list[VersionInfo]
    notes: list[str]


class ModelList(list):
    """ListModels' answer: a list of ModelSummary, and ``notes`` on names no model is served under."""

    def __init__(self, models: Iterable[ModelSummary], notes: Sequence[str]):
        super().__init__(models)
        self.notes = list(notes)


def _version_info(v, pb) -> VersionInfo:
    return VersionInfo(v.version, pb.ModelState.Name(v.state), v.error, v.path, v.loaded_at_ms, v.generation,
                       v.is_default)


def _field_info(f) -> FieldInfo:
    return FieldInfo(f.name, f.type, f.kind, f.base, f.size if f.HasField("size") else None, f.nullable)


# --- channels --------------------------------------------------------------------------------

def _read(path) -> bytes:
    with open(path, "rb") as f:
        return f.read()


def open_channel(address: str, *, tls: bool = False, ca=None, cert=None, key=None, server_name: str | None = None,
                 options: Sequence[tuple] = ()) -> grpc.Channel:
    """A gRPC channel to ``address`` ("HOST:PORT" or "unix:PATH"): plaintext, or TLS when ``tls``,
    ``ca`` or ``cert`` is given. ``ca``: the CA (PEM file) to trust for the server's certificate
    (default: the system's); ``cert`` and ``key``: a client certificate and its key (PEM files) for
    mutual TLS; ``server_name``: the name to check the server's certificate against when it differs
    from the address's host. Files are read now (OSError if unreadable); the channel connects on
    its first call."""
    options = list(options)
    if not (tls or ca or cert):
        return grpc.insecure_channel(address, options=options)
    if bool(cert) != bool(key):
        raise ValueError("a client certificate (cert) and its private key (key) go together")
    credentials = grpc.ssl_channel_credentials(
        root_certificates=_read(ca) if ca else None,
        private_key=_read(key) if key else None,
        certificate_chain=_read(cert) if cert else None)
    if server_name:
        options.append(("grpc.ssl_target_name_override", server_name))
    return grpc.secure_channel(address, credentials, options=options)


# --- the client ------------------------------------------------------------------------------

class Client:
    """A connection to one leapserve server; safe to share between threads. ``timeout``: the
    default deadline of every call in seconds (None: no deadline); TLS as open_channel takes it;
    ``options``: more gRPC channel options (("grpc.max_receive_message_length", n), ...)."""

    _ORDER_CACHE = 256  # (model, version) pairs whose output order is kept

    def __init__(self, address: str = "127.0.0.1:50051", *, timeout: float | None = DEFAULT_TIMEOUT,
                 tls: bool = False, ca=None, cert=None, key=None, server_name: str | None = None,
                 options: Sequence[tuple] = ()):
        from leapserve.v1 import prediction_pb2, prediction_pb2_grpc

        if timeout is not None and not timeout > 0:
            raise ValueError(f"timeout {timeout!r}: expected seconds > 0, or None for no deadline")
        self.address = address
        self.timeout = timeout
        self._pb = prediction_pb2
        self._channel = open_channel(address, tls=tls, ca=ca, cert=cert, key=key, server_name=server_name,
                                     options=options)
        self._stub = prediction_pb2_grpc.PredictionServiceStub(self._channel)
        self._order: dict[tuple[str, str], list[str]] = {}
        self._order_lock = threading.Lock()

    def close(self) -> None:
        self._channel.close()

    def connected(self, timeout: float = 0.5) -> bool:
        """Whether the channel reaches the server (waiting up to ``timeout`` seconds): after an
        UNAVAILABLE, True says the server answered it (a model not ready), False that gRPC could
        not reach the server at all."""
        try:
            grpc.channel_ready_future(self._channel).result(timeout=timeout)
        except grpc.FutureTimeoutError:
            return False
        return True

    def __enter__(self) -> "Client":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"Client({self.address!r}, timeout={self.timeout!r})"

    def _deadline(self, timeout):
        return self.timeout if timeout is CLIENT_TIMEOUT else timeout

    # --- scoring ---

    def predict(self, model: str, record: Mapping, outputs: Sequence[str] | None = None, version: str = "", *,
                timeout=CLIENT_TIMEOUT, request_id: str = "") -> Prediction:
        """Score one record with Predict. A record the model refuses (or drops, as Spark would)
        raises CallError (INVALID_ARGUMENT, naming the field); a value no leapserve.v1.Value can
        hold raises ValueError naming the field, before anything is sent."""
        request = self._pb.PredictRequest(model=model, version=version, outputs=_names(outputs), request_id=request_id)
        _encode_record(request.inputs, record)
        deadline = self._deadline(timeout)
        try:
            response = self._stub.Predict(request, timeout=deadline)
        except grpc.RpcError as e:
            raise CallError.from_rpc_error(e) from None
        return Prediction(model, response.version, self._outputs(model, response.version, outputs, response.outputs,
                                                                 deadline), request_id=response.request_id)

    def predict_batch(self, model: str, records: Iterable[Mapping], outputs: Sequence[str] | None = None,
                      version: str = "", *, timeout=CLIENT_TIMEOUT, request_id: str = "") -> list[Prediction]:
        """Score records with one PredictBatch call: one Prediction per record, in their order.

        A record that fails does not fail the others: its Prediction has ``error`` (a CallError:
        the field, expected and actual value; its message names the record as "row N", N its index
        in ``records``) and no outputs; ``skipped`` when the pipeline drops it as Spark would. A
        record holding a value no leapserve.v1.Value can hold is refused that way before sending
        (INVALID_ARGUMENT). CallError is raised only when the call as a whole fails (unknown model,
        limits, deadline, no answer). No call is made when there is nothing to send."""
        records = list(records)
        request = self._pb.PredictBatchRequest(model=model, version=version, outputs=_names(outputs),
                                               request_id=request_id)
        refused: dict[int, CallError] = {}
        sent: list[int] = []  # index in ``records`` of each record in the request
        for i, record in enumerate(records):
            error = _encode_or_refuse(request.records.add().fields, record, i)
            if error is not None:
                del request.records[-1]
                refused[i] = error
            else:
                sent.append(i)
        if not sent:
            return [Prediction(model, "", error=refused[i]) for i in range(len(records))]
        deadline = self._deadline(timeout)
        try:
            response = self._stub.PredictBatch(request, timeout=deadline)
        except grpc.RpcError as e:
            raise CallError.from_rpc_error(e) from None
        answers: list[Prediction | None] = [None] * len(records)
        for i, error in refused.items():
            answers[i] = Prediction(model, "", error=error)
        Outcome = self._pb.RowResult
        for j, (i, row) in enumerate(zip(sent, response.results)):
            if row.outcome == Outcome.OK:
                answers[i] = Prediction(model, response.version,
                                        self._outputs(model, response.version, outputs, row.outputs, deadline),
                                        request_id=response.request_id)
            else:
                error = CallError.from_status(row.status)
                if i != j:  # the server numbers the rows it received
                    error = _renumbered(error, j, i)
                answers[i] = Prediction(model, response.version, error=error,
                                        skipped=row.outcome == Outcome.SKIPPED, request_id=response.request_id)
        return answers

    def predict_stream(self, model: str, records: Iterable[Mapping], outputs: Sequence[str] | None = None,
                       version: str = "", *, timeout=CLIENT_TIMEOUT) -> Iterator[Prediction]:
        """Score records over one PredictStream: yields one Prediction per record, in their order,
        as the answers come (``records`` may be a generator; it is read as the stream goes). A
        record that fails has ``error`` set and the stream goes on (a record that cannot be
        encoded is answered that way without being sent); CallError is raised when the stream as a
        whole fails. ``timeout`` bounds the whole stream."""
        pb = self._pb
        names = _names(outputs)
        # What each record became, in order: an index that was sent (its answer comes from the
        # server) or the CallError that kept it from being sent. Filled by gRPC's thread reading
        # ``requests``, read here; a record's entry is in place before its request goes out.
        pending: collections.deque = collections.deque()
        failure: list[Exception] = []

        def requests():
            try:
                for i, record in enumerate(records):
                    request = pb.PredictRequest(model=model, version=version, outputs=names)
                    error = _encode_or_refuse(request.inputs, record, None)
                    if error is not None:
                        pending.append(error)
                        continue
                    pending.append(i)
                    yield request
            except Exception as e:  # the caller's iterable failed: end the stream, re-raised below
                failure.append(e)

        deadline = self._deadline(timeout)
        responses = self._stub.PredictStream(requests(), timeout=deadline)
        try:
            for response in responses:
                while isinstance(pending[0], CallError):
                    yield Prediction(model, "", error=pending.popleft())
                pending.popleft()
                if response.HasField("status") and response.status.code != 0:
                    yield Prediction(model, response.version, error=CallError.from_status(response.status),
                                     request_id=response.request_id)
                else:
                    yield Prediction(model, response.version,
                                     self._outputs(model, response.version, outputs, response.outputs, deadline),
                                     request_id=response.request_id)
        except grpc.RpcError as e:
            raise CallError.from_rpc_error(e) from None
        finally:
            responses.cancel()  # a caller that stops iterating early ends the stream
        while pending:  # records after the last one sent, all refused here
            yield Prediction(model, "", error=pending.popleft())
        if failure:
            raise failure[0]

    # --- about the models and the server ---

    def metadata(self, model: str, version: str = "", *, timeout=CLIENT_TIMEOUT) -> ModelMetadata:
        """GetModelMetadata: inputs, outputs (in the pipeline's order), stages, versions, bundle."""
        pb = self._pb
        try:
            m = self._stub.GetModelMetadata(pb.GetModelMetadataRequest(model=model, version=version),
                                            timeout=self._deadline(timeout))
        except grpc.RpcError as e:
            raise CallError.from_rpc_error(e) from None
        b = m.bundle
        return ModelMetadata(
            m.model, m.version, m.default_version, [_field_info(f) for f in m.inputs],
            [_field_info(f) for f in m.outputs],
            [StageInfo(s.name, s.op, list(s.inputs), list(s.outputs)) for s in m.stages],
            [_version_info(v, pb) for v in m.versions],
            BundleInfo(b.uid, b.name, b.format, b.bundle_version, b.timestamp, b.path))

    def models(self, *, timeout=CLIENT_TIMEOUT) -> ModelList:
        """ListModels: every model the server knows, with its versions and their states."""
        pb = self._pb
        try:
            r = self._stub.ListModels(pb.ListModelsRequest(), timeout=self._deadline(timeout))
        except grpc.RpcError as e:
            raise CallError.from_rpc_error(e) from None
        return ModelList([ModelSummary(m.name, m.default_version, m.pinned_default_version,
                                       [_version_info(v, pb) for v in m.versions], list(m.notes))
                          for m in r.models], r.notes)

    def health(self, service: str = "", *, timeout=CLIENT_TIMEOUT) -> str:
        """grpc.health.v1 Check: "SERVING" or "NOT_SERVING" for ``service`` ("" the whole server,
        a gRPC service name, or "model:NAME"). A service the server does not know raises CallError
        NOT_FOUND; no answer raises it UNAVAILABLE or DEADLINE_EXCEEDED."""
        from grpc_health.v1 import health_pb2, health_pb2_grpc

        try:
            r = health_pb2_grpc.HealthStub(self._channel).Check(health_pb2.HealthCheckRequest(service=service),
                                                                 timeout=self._deadline(timeout))
        except grpc.RpcError as e:
            raise CallError.from_rpc_error(e) from None
        return health_pb2.HealthCheckResponse.ServingStatus.Name(r.status)

    # --- outputs ---

    def _outputs(self, model: str, version: str, wanted, out_map, timeout) -> dict:
        order = _names(wanted) or self._pipeline_order(model, version, timeout)
        placed = set(order)
        keys = [k for k in order if k in out_map] + [k for k in out_map if k not in placed]
        return {k: _decode(k, out_map[k]) for k in keys}

    def _pipeline_order(self, model: str, version: str, timeout) -> list[str]:
        """The pipeline's output names of a model version, asked once (a failure leaves the
        outputs in the order received, rather than failing an answer that came)."""
        key = (model, version)
        order = self._order.get(key)
        if order is None:
            try:
                meta = self._stub.GetModelMetadata(self._pb.GetModelMetadataRequest(model=model, version=version),
                                                   timeout=timeout)
                order = [f.name for f in meta.outputs]
            except grpc.RpcError:
                order = []
            with self._order_lock:
                if len(self._order) >= self._ORDER_CACHE:
                    self._order.clear()
                self._order[key] = order
        return order


# --- values ----------------------------------------------------------------------------------

def _names(outputs) -> list[str]:
    if outputs is None:
        return []
    if isinstance(outputs, str):
        raise TypeError(f"outputs: expected a list of field names, got the string {outputs!r}")
    return list(dict.fromkeys(outputs))


def _encode_record(fields, record: Mapping) -> None:
    """Fill a map<string, Value> from a record; raises the codec's UnencodableValue or
    NestedTooDeeply (both ValueErrors naming the field)."""
    encode = _codec().encode_value
    if not isinstance(record, Mapping):
        raise TypeError(f"a record is a mapping of field name -> value, not {type(record).__name__}")
    for name, value in record.items():
        try:
            encode(fields[name], value, name)
        except RecursionError:
            raise NestedTooDeeply(name) from None


def _encode_or_refuse(fields, record: Mapping, index: int | None) -> CallError | None:
    """_encode_record, a failure as the CallError (INVALID_ARGUMENT) that answers the record; its
    cause is the encoder's error."""
    try:
        _encode_record(fields, record)
    except (ValueError, TypeError, OverflowError) as e:
        error = CallError(grpc.StatusCode.INVALID_ARGUMENT, f"row {index}: {e}" if index is not None else str(e),
                          getattr(e, "field", None), getattr(e, "expected", None), getattr(e, "actual", None))
        error.__cause__ = e
        return error
    return None


def _renumbered(error: CallError, sent_index: int, index: int) -> CallError:
    """A row's error naming the record by its index among the caller's records rather than among
    those sent (the server's messages start "row N" for a row of a batch)."""
    prefix = f"row {sent_index}"
    message = error.message
    if message.startswith(prefix) and message[len(prefix):len(prefix) + 1] in (" ", ",", ":"):
        message = f"row {index}" + message[len(prefix):]
    return CallError(error.code, message, error.field, error.expected, error.actual)


def _decode(name: str, v):
    """A leapserve.v1.Value as the runtime gives it: DenseVector or SparseVector for a vector,
    lists, scalars, None."""
    kind = v.WhichOneof("kind")
    if kind == "vector_value":
        from leapserve.runtime.vectors import to_output

        return to_output(_codec().decode_vector(name, v.vector_value))
    if kind == "list_value":
        return [_decode(name, x) for x in v.list_value.values]
    return _codec().decode_value(name, v, sys.maxsize)
