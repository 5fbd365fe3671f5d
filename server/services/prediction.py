"""leapserve.v1.PredictionService: Predict, PredictBatch, PredictStream, GetModelMetadata, ListModels."""

from __future__ import annotations

import asyncio
import math
import threading
import time
import weakref

import grpc
import numpy as np

from leapserve.v1 import prediction_pb2 as pb
from leapserve.v1 import prediction_pb2_grpc as pb_grpc

from leapserve.runtime.errors import RowSkipped, ScoringError, TimeLimitExceeded
from leapserve.runtime.plan import missing_input

from ..codec import delimited, pass_through, string_field
from ..errors import BadRequest, LimitExceeded, ModelNotFound, RowsInvalid, ServeError
from ..registry import UNKNOWN_LABEL, Registry, version_key
from ..wire import (BATCH_COUNT_TAGS, OUTCOME_INVALID, OUTCOME_SKIPPED, RESPONSE_OUTPUTS, ROW_OUTPUTS,
                    TAG_BATCH_MODEL, TAG_BATCH_REQUEST_ID, TAG_BATCH_RESULTS, TAG_BATCH_VERSION,
                    TAG_RESPONSE_MODEL, TAG_RESPONSE_REQUEST_ID, TAG_RESPONSE_VERSION, TAG_ROW_STATUS, varint)
from .common import Failure, check_deadline, failure_of, scoring_failure

SERVICE_NAME = pb.DESCRIPTOR.services_by_name["PredictionService"].full_name

_STATE = {"LOADING": pb.LOADING, "READY": pb.READY, "FAILED": pb.FAILED}
_DEADLINE_CHECK_ROWS = 256
# A call (a Predict, a PredictStream request, a ModelInfer of a few rows) is scored on the event loop
# while it should take under this (its pipeline's moving average per record times its records):
# handing a 10 us model to a thread would cost more than scoring it. A slower call is scored on the
# request threads, so that the loop keeps answering the others.
INLINE_SECONDS = 0.001
_AVERAGE_WEIGHT = 0.1  # of the latest call in a pipeline's moving average
# Ops whose cost for one record is not bounded by its size (a regular expression may backtrack until
# its LEAPSERVE_REGEX_TIMEOUT_MS budget runs out, whatever its average): never scored on the loop.
UNBOUNDED_OPS = frozenset({"regex_tokenizer"})
# A Predict or PredictStream message larger than this is parsed and scored on a request thread: a
# map of many small fields parses at about 5 bytes per microsecond (8 MiB took 1.6 s on the loop).
LARGE_REQUEST_BYTES = 8 * 1024


class UnparsedRequest:
    """A request message for a request thread to parse, as grpc hands it to the handler: too large to
    parse on the event loop, or one that did not parse (the thread's parse() raises the BadRequest
    that says so). parse() makes the message (a ``message_type``); attributes read the parsed message,
    or an empty one while it is not parsed: never parsed where they are read, which may be the loop
    (a call's labels in metrics and spans, an error's request id)."""

    __slots__ = ("data", "message_type", "_message")

    def __init__(self, data: bytes, message_type=pb.PredictRequest):
        self.data = data
        self.message_type = message_type
        self._message = None

    def parse(self):
        if self._message is None:
            data, self.data = self.data, b""
            try:
                self._message = self.message_type.FromString(data)
            except Exception:
                self._message = self.message_type()
                raise BadRequest(f"request message: expected a {self.message_type.DESCRIPTOR.full_name}, got "
                                 f"{len(data)} bytes that do not parse as one") from None
        return self._message

    def __getattr__(self, name):
        message = self._message
        return getattr(self.message_type() if message is None else message, name)


def request_reader(message_type):
    """The request deserializer of a call answered on the event loop (Predict, PredictStream, OIP's
    ModelInfer): a ``message_type``, or an UnparsedRequest of one for the handler to parse on a thread."""
    parse = message_type.FromString

    def read(data: bytes):
        if len(data) > LARGE_REQUEST_BYTES:
            return UnparsedRequest(data, message_type)
        try:
            return parse(data)
        except Exception:  # a client's bytes: INVALID_ARGUMENT from the thread's parse, not gRPC's INTERNAL
            return UnparsedRequest(data, message_type)

    return read


predict_request_of = request_reader(pb.PredictRequest)


def fill_version_info(msg, info: dict) -> None:
    msg.version = info["version"]
    msg.state = _STATE[info["state"]]
    msg.error = info["error"]
    msg.path = info["path"]
    msg.loaded_at_ms = info["loaded_at_ms"]
    msg.generation = info["generation"]
    msg.is_default = info["is_default"]


def _fill_field(msg, name, ftype) -> None:
    msg.name = name
    msg.type = str(ftype)
    msg.kind = ftype.kind
    msg.base = ftype.base
    if ftype.size is not None:
        msg.size = ftype.size
    msg.nullable = ftype.nullable


class Placement:
    """Where a pipeline's calls run: on the event loop while they should take under INLINE_SECONDS (a
    moving average of a record's time per pipeline, times the call's records), else on ``threads``
    (None: the loop's default executor)."""

    def __init__(self, threads=None):
        self.threads = threads
        # pipeline -> [moving average of one record's time], updated in place by the calls (on the loop
        # or on a thread, each learning into the value as it is when it ends). Held weakly: a reloaded or
        # unloaded model's entry goes with its pipeline, and a new pipeline never inherits an old one's.
        self._seconds: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()

    async def score(self, request, resolve, answer, records=None):
        """``answer(request, served)`` of a unary call answered on the event loop (``resolve(request)``
        is its served model): parsed and answered on the threads when the request is an UnparsedRequest,
        else placed as run() places it. ``records(request)``: how many records the call scores (default one)."""
        if type(request) is UnparsedRequest:
            return await asyncio.get_running_loop().run_in_executor(self.threads, _answer_unparsed, request, resolve,
                                                                    answer)
        served = resolve(request)
        ran, answered = self._place(served.pipeline, records(request) if records else 1, answer, (request, served))
        return answered if ran else await answered

    async def run(self, pipeline, fn, *args, records: int = 1):
        """fn(*args), scoring ``records`` records, on the loop or on the threads. A pipeline not seen yet
        goes to a thread (its first call is of unknown cost), one whose cost does not follow its input's
        size always does."""
        ran, answered = self._place(pipeline, records, fn, args)
        return answered if ran else await answered

    def _place(self, pipeline, records: int, fn, args) -> tuple[bool, object]:
        """(True, fn(*args)) run on the loop, or (False, the future of it on the threads). Not a
        coroutine: a call answered on the loop awaits nothing more than its handler."""
        average = self._seconds.get(pipeline)
        if average is None:
            average = self._seconds[pipeline] = [_first_estimate(pipeline)]
        records = max(1, records)
        if average[0] * records < INLINE_SECONDS:
            return True, _timed(average, records, fn, args)
        return False, asyncio.get_running_loop().run_in_executor(self.threads, _timed, average, records, fn, args)


def _timed(average: list, records: int, fn, args):
    """fn(*args), its time per record learnt into ``average`` (a pipeline's, in a one-item list). On a
    request thread it is timed there: the wait for a free thread, long under load, is not the
    pipeline's cost (counted, it could keep a fast pipeline off the loop while load lasts)."""
    start = time.perf_counter()
    try:
        return fn(*args)
    finally:
        seconds = average[0]
        if seconds != math.inf:  # a pipeline of unbounded cost stays off the loop
            average[0] = seconds + _AVERAGE_WEIGHT * ((time.perf_counter() - start) / records - seconds)


def _answer_unparsed(request: UnparsedRequest, resolve, answer):
    message = request.parse()
    return answer(message, resolve(message))


class StreamSlots:
    """The open PredictStream calls of a process, at most ``limit`` at once (0: no limit): past the
    limit a new stream is refused at once (RESOURCE_EXHAUSTED). An open stream holds no thread (it
    waits for its messages on the event loop), only its buffers."""

    def __init__(self, limit: int = 0):
        self.limit = max(0, int(limit or 0))
        self.open = 0
        self._lock = threading.Lock()

    def acquire(self) -> bool:
        with self._lock:
            if self.limit and self.open >= self.limit:
                return False
            self.open += 1
            return True

    def release(self) -> None:
        with self._lock:
            self.open -= 1

    async def enter(self, context, what: str, instead: str) -> None:
        """Take a slot, or end the call with RESOURCE_EXHAUSTED (``what`` is open, use ``instead``)."""
        if not self.acquire():
            await context.abort(grpc.StatusCode.RESOURCE_EXHAUSTED,
                                f"{self.limit} {what} are open, the most this server takes at once "
                                f"(--max-concurrent-streams); retry later or use {instead}")


async def requests_within(request_iterator, context, limit: int, rpc: str):
    """A stream's requests; past ``limit`` of them (0: no limit) the call ends with RESOURCE_EXHAUSTED."""
    count = 0
    async for request in request_iterator:
        count += 1
        if limit and count > limit:
            await context.abort(grpc.StatusCode.RESOURCE_EXHAUSTED,
                                f"more than {limit} requests in one {rpc} (--max-stream-requests); open a new stream")
        yield request


class PredictionService(pb_grpc.PredictionServiceServicer):
    """``max_stream_requests``: most requests in one PredictStream (0: no limit);
    ``max_concurrent_streams``: most PredictStream calls open at once (0: no limit). Past either,
    the stream ends with RESOURCE_EXHAUSTED (after answering every request before the limit).

    Predict and PredictStream are async (grpc.aio): a fast pipeline is scored on the event loop, a
    slow one (INLINE_SECONDS) on ``threads``; PredictBatch and the metadata calls are sync, and
    grpc.aio runs them on the request threads."""

    def __init__(self, registry: Registry, *, max_batch_rows: int = 100_000, max_stream_requests: int = 0,
                 max_concurrent_streams: int = 0, threads=None):
        self.registry = registry
        self.max_batch_rows = max_batch_rows
        self.max_stream_requests = max(0, int(max_stream_requests or 0))
        self.streams = StreamSlots(max_concurrent_streams)
        self.placement = Placement(threads)

    def _resolve(self, request):
        return self.registry.resolve(request.model, request.version)

    # --- one record ------------------------------------------------------------------------

    def _predict(self, request, served) -> bytes:
        """The encoded PredictResponse (see codec.WireEncoder: written straight to the wire)."""
        codec = served.codec
        record = codec.decode_record(request.inputs)
        wanted = request.outputs
        if wanted:
            wanted = list(wanted)
            result = served.pipeline.transform(record, wanted)
        else:
            wanted = None
            result = served.pipeline.transform(record)
        return (string_field(TAG_RESPONSE_MODEL, request.model) + string_field(TAG_RESPONSE_VERSION, served.version)
                + string_field(TAG_RESPONSE_REQUEST_ID, request.request_id)
                + codec.wire(wanted, RESPONSE_OUTPUTS).encode(result))

    async def Predict(self, request, context):
        try:
            check_deadline(context)
            return await self.placement.score(request, self._resolve, self._predict)
        except Exception as e:
            failure = failure_of(e, request.request_id, context, "Predict")
        await failure.abort_async(context)

    async def PredictStream(self, request_iterator, context):
        await self.streams.enter(context, "PredictStream calls", "Predict/PredictBatch")
        # The slot is released however the stream ends: all answered, client cancellation or deadline
        # (the request iterator raises), RESOURCE_EXHAUSTED below, or the generator closed by gRPC.
        try:
            async for request in requests_within(request_iterator, context, self.max_stream_requests, "PredictStream"):
                try:
                    yield await self.placement.score(request, self._resolve, self._predict)
                except Exception as e:
                    failure = failure_of(e, request.request_id, context, "PredictStream")
                    # The version that refused, as far as one did (the default one for an empty version).
                    _, refused_by = self.registry.metric_labels(request.model, request.version)
                    response = pb.PredictResponse(
                        model=request.model, request_id=request.request_id,
                        version=request.version if refused_by == UNKNOWN_LABEL else refused_by)
                    failure.fill(response.status)
                    yield response
        finally:
            self.streams.release()

    # --- many records ----------------------------------------------------------------------

    def PredictBatch(self, request, context):
        try:
            check_deadline(context)
            return self._predict_batch(request, context)
        except Exception as e:
            failure = failure_of(e, request.request_id, context, "PredictBatch")
        failure.abort(context)

    def _predict_batch(self, request, context) -> bytes:
        n = len(request.records)
        if n > self.max_batch_rows:
            raise LimitExceeded(f"{n} records in one PredictBatch; the limit is {self.max_batch_rows}")
        served = self.registry.resolve(request.model, request.version)
        pipeline = served.pipeline
        codec = served.codec
        wanted = list(request.outputs) or None
        names = list(dict.fromkeys(wanted)) if wanted else list(codec.output_names)
        required = pipeline.required_inputs(wanted)  # also checks the output names

        # Decode every record; a record lacking a required field is invalid on its own.
        records = [codec.decode_record(r.fields) for r in request.records]
        failures: dict[int, Failure] = {}
        for i, rec in enumerate(records):
            missing = missing_input(required, rec, pipeline.inputs)
            if missing is not None:
                failures[i] = scoring_failure(missing, i)
        valid = [i for i in range(n) if i not in failures] if failures else list(range(n))

        # Score the valid rows as one batch; if the batch refuses, score them one by one to say
        # which rows are bad (the others keep their answers).
        rows_out: dict[int, dict] | None = None
        batch_bodies: list[bytes] | None = None  # encoded outputs of each valid row, batch path
        skipped: dict[int, Failure] = {}
        if valid:
            columns = {name: [records[i][name] for i in valid] for name in required}
            try:
                result = pipeline.transform_batch(columns, wanted)
            except TimeLimitExceeded as e:
                e.row = valid[e.row] if e.row is not None else None
                raise
            except ScoringError:
                result = None
            if result is not None:
                m = len(valid)
                batch_bodies = codec.wire(names, ROW_OUTPUTS).encode_columns(result, m, codec.outputs)
                if result.skipped.any():
                    for j in np.nonzero(result.skipped)[0].tolist():
                        reason = result.skip_reasons.get(j, "dropped by a handle_invalid='skip' stage")
                        skipped[valid[j]] = Failure(grpc.StatusCode.INVALID_ARGUMENT,
                                                    f"row {valid[j]} skipped: {reason}")
            else:
                rows_out = {}
                transform = pipeline.transform
                for k, i in enumerate(valid):
                    if k % _DEADLINE_CHECK_ROWS == 0:
                        check_deadline(context)
                    try:
                        rows_out[i] = transform(records[i], wanted)
                    except TimeLimitExceeded as e:
                        e.row = i
                        raise
                    except RowSkipped as e:
                        skipped[i] = Failure(grpc.StatusCode.INVALID_ARGUMENT, f"row {i} skipped: {e.reason}",
                                             e.field or "")
                    except ScoringError as e:
                        e.row = i
                        failures[i] = scoring_failure(e)

        if failures and request.all_or_nothing:
            first = min(failures)
            raise RowsInvalid(failures[first], len(failures))

        parts = [string_field(TAG_BATCH_MODEL, request.model), string_field(TAG_BATCH_VERSION, served.version),
                 string_field(TAG_BATCH_REQUEST_ID, request.request_id)]
        wire = codec.wire(names, ROW_OUTPUTS)
        position = {i: j for j, i in enumerate(valid)} if batch_bodies is not None else None
        for i in range(n):
            f = failures.get(i)
            if f is not None:
                body = OUTCOME_INVALID + delimited(TAG_ROW_STATUS, _status_bytes(f))
            else:
                f = skipped.get(i)
                if f is not None:
                    body = OUTCOME_SKIPPED + delimited(TAG_ROW_STATUS, _status_bytes(f))
                elif batch_bodies is not None:
                    body = batch_bodies[position[i]]
                else:
                    body = wire.encode(rows_out[i])
            parts.append(delimited(TAG_BATCH_RESULTS, body))
        ok = n - len(failures) - len(skipped)
        for tag, count in zip(BATCH_COUNT_TAGS, (ok, len(failures), len(skipped))):
            if count:
                parts.append(tag + varint(count))
        return b"".join(parts)

    # --- metadata --------------------------------------------------------------------------

    def GetModelMetadata(self, request, context):
        try:
            return self._metadata(request)
        except Exception as e:
            failure = failure_of(e, "", context, "GetModelMetadata")
        failure.abort(context)

    def _metadata(self, request) -> pb.GetModelMetadataResponse:
        versions = self.registry.versions(request.model)
        response = pb.GetModelMetadataResponse(model=request.model)
        default = next((v["version"] for v in versions if v["is_default"]), "")
        response.default_version = default
        for info in versions:
            fill_version_info(response.versions.add(), info)
        if request.version:
            known = [v["version"] for v in versions]
            if request.version not in known:
                raise self.registry.unknown_version(request.model, request.version, known)
            wanted = request.version
        else:
            # The version a request without one gets: the pinned one even while it has no copy to
            # serve (inputs left empty then: the versions say why), else the default.
            wanted = (self.registry.pinned_default(request.model) or default
                      or max((v["version"] for v in versions), key=version_key))
        response.version = wanted
        try:
            served = self.registry.resolve(request.model, wanted)
        except ServeError:
            return response  # not loaded: the versions say why
        pipeline = served.pipeline
        for name in pipeline.inputs:
            _fill_field(response.inputs.add(), name, pipeline.schema(name))
        for name in pipeline.outputs:
            _fill_field(response.outputs.add(), name, pipeline.schema(name))
        for st in pipeline.stages:
            response.stages.add(name=st.name, op=st.op, inputs=[c for _, c, _ in st.inputs],
                                outputs=[c for _, c, _ in st.outputs])
        info = pipeline.info
        b = response.bundle
        b.uid, b.name, b.format, b.bundle_version, b.timestamp = info.uid, info.name, info.format, info.version, info.timestamp
        b.path = self.registry.for_clients(served.path)
        return response

    def ListModels(self, request, context):
        try:
            response = pb.ListModelsResponse()
            for name in self.registry.model_names():
                try:
                    versions = self.registry.versions(name)
                except ModelNotFound:
                    continue  # unloaded meanwhile
                m = response.models.add(name=name)
                m.default_version = next((v["version"] for v in versions if v["is_default"]), "")
                m.pinned_default_version = self.registry.pinned_default(name)
                for info in versions:
                    fill_version_info(m.versions.add(), info)
                m.notes.extend(self.registry.notes(name))
            response.notes.extend(self.registry.notes())
            return response
        except Exception as e:
            failure = failure_of(e, "", context, "ListModels")
        failure.abort(context)


def _first_estimate(pipeline) -> float:
    """What a pipeline's first call is taken to cost: INLINE_SECONDS (on a thread, then measured), or
    forever too much for the loop when an op's cost does not follow the record's size."""
    if any(st.op in UNBOUNDED_OPS for st in pipeline.stages):
        return math.inf
    return INLINE_SECONDS


def _status_bytes(failure: Failure) -> bytes:
    status = pb.Status()
    failure.fill(status)
    return status.SerializeToString()


def add_to_server(servicer: PredictionService, server) -> None:
    """Like the generated add_PredictionServiceServicer_to_server, with responses that may be
    bytes already encoded (codec.pass_through)."""
    handlers = {
        "Predict": grpc.unary_unary_rpc_method_handler(
            servicer.Predict, request_deserializer=predict_request_of, response_serializer=pass_through),
        "PredictBatch": grpc.unary_unary_rpc_method_handler(
            servicer.PredictBatch, request_deserializer=pb.PredictBatchRequest.FromString,
            response_serializer=pass_through),
        "PredictStream": grpc.stream_stream_rpc_method_handler(
            servicer.PredictStream, request_deserializer=predict_request_of,
            response_serializer=pass_through),
        "GetModelMetadata": grpc.unary_unary_rpc_method_handler(
            servicer.GetModelMetadata, request_deserializer=pb.GetModelMetadataRequest.FromString,
            response_serializer=pb.GetModelMetadataResponse.SerializeToString),
        "ListModels": grpc.unary_unary_rpc_method_handler(
            servicer.ListModels, request_deserializer=pb.ListModelsRequest.FromString,
            response_serializer=pb.ListModelsResponse.SerializeToString),
    }
    server.add_generic_rpc_handlers((grpc.method_handlers_generic_handler(SERVICE_NAME, handlers),))


__all__ = ["PredictionService", "SERVICE_NAME", "add_to_server"]
