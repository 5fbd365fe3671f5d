"""ml.combust.mleap.pb.Mleap: MLeap's gRPC serving API, beside leapserve.v1 and OIP.

Model names are the registry's models; every call uses a model's default version. Frames are
decoded and encoded by server/frames.py (no grpc there: an HTTP endpoint calls the same code).

What MLeap's server does, and leapserve with it:

* Transform answers the whole frame (its fields, then every stage's output) or ``options.select``
  (STRICT: an unknown field fails; RELAXED: it is left out); a request without options works. A
  frame that cannot be read or scored is a successful call with ``status`` STATUS_ERROR and
  ``error`` saying why (the field, the row, expected and actual). An unknown model is NOT_FOUND, a
  model without a copy to serve UNAVAILABLE, a passed deadline DEADLINE_EXCEEDED.
* Frame and row streams are made by CreateFrameStream / CreateRowStream (ALREADY_EXISTS when the
  name is taken; GetFrameStream / GetRowStream: NOT_FOUND when unknown). The first message of
  TransformFrameStream / TransformRowStream names the model, the stream and the format (MLeap's
  client sends no frame in it); every message holding a frame or row is answered in order with its
  tag. A row stream's spec that does not fit the model (a STRICT select of an unknown field, rows
  lacking inputs, an unknown format) is FAILED_PRECONDITION, as MLeap's IllegalArgumentException.
  leapserve also takes a frame stream without a name (no CreateFrameStream needed), and answers a
  frame or row carried by the first message.
* LoadModel / UnloadModel are the admin API: UNIMPLEMENTED without --admin, UNAUTHENTICATED without
  the admin token, bundles only from the model directory and the admin paths (``file:`` URIs and
  plain paths; another scheme is INVALID_ARGUMENT naming the uri). A model name already served is
  ALREADY_EXISTS unless ``force`` (then the bundle replaces its default version).

Open streams share PredictStream's limits (--max-concurrent-streams, --max-stream-requests).
"""

from __future__ import annotations

import threading

import grpc

from leapserve.mleap import mleap_pb2 as pb
from leapserve.runtime.errors import ScoringError

from ..errors import AlreadyExists, BadRequest, LimitExceeded, ModelNotFound, PreconditionFailed, ServeError
from ..frames import RowStreamPlan, fill_schema_message, schema_from_message
from ..mleap_models import TRANSFORM_ERRORS, bundle_path, models_of, transform_failure
from ..registry import Registry
from ..wire import varint
from .admin import MAX_NAME_LENGTH, _check_text, admin_api_failure
from .common import Failure, check_deadline, failure_of, scoring_failure
from .prediction import Placement, StreamSlots, requests_within

SERVICE_NAME = pb.DESCRIPTOR.services_by_name["Mleap"].full_name
MAX_NAMED_STREAMS = 1024  # frame and row streams made by Create*Stream, per process

# TransformFrameResponse's fields, written straight to the wire (a frame is not copied into a message)
_F_TAG, _F_FORMAT, _F_FRAME, _F_STATUS = b"\x08", b"\x12", b"\x1a", b"\x20"
_STATUS_ERROR = pb.TransformStatus.Value("STATUS_ERROR")


class Answer:
    """A response already encoded, with what the metrics count of it: the status code its failure
    stands for ("OK" when none) and its rows (scored, invalid, skipped)."""

    __slots__ = ("data", "metric_code", "rows")

    def __init__(self, data: bytes, metric_code: str = "OK", rows: tuple[int, int, int] = (0, 0, 0)):
        self.data = data
        self.metric_code = metric_code
        self.rows = rows


def serialize(message) -> bytes:
    return message.data if type(message) is Answer else message.SerializeToString()


def _frame_answer(tag: int, fmt: str, frame: bytes, rows: int) -> Answer:
    f = fmt.encode()
    data = ((_F_TAG + varint(tag) if tag else b"") + _F_FORMAT + varint(len(f)) + f
            + _F_FRAME + varint(len(frame)) + frame)
    return Answer(data, "OK", (rows, 0, 0))


def _error_answer(message, failure: Failure) -> Answer:
    message.status = _STATUS_ERROR
    message.error = failure.message
    return Answer(message.SerializeToString(), failure.code.name, (0, 1, 0))


def _spec_failure(e: Exception) -> ServeError:
    """A row stream's spec that does not fit the model: FAILED_PRECONDITION, as MLeap answers it."""
    if isinstance(e, ScoringError):
        return PreconditionFailed("the row stream's spec does not fit the model: " + scoring_failure(e).message)
    return PreconditionFailed(f"the row stream's spec does not fit the model: {e}")


class _FrameStream:
    __slots__ = ("config",)

    def __init__(self, config):
        self.config = config


class _RowStream:
    __slots__ = ("config", "spec", "plan")

    def __init__(self, config, spec, plan: RowStreamPlan):
        self.config = config
        self.spec = spec
        self.plan = plan


class MleapService:
    """server/mleap_models.py answers what the HTTP endpoints answer too. TransformFrameStream and
    TransformRowStream are async (grpc.aio): an open stream waits on the event loop and holds no
    thread; each frame or row is answered on the loop, or on ``threads`` when its pipeline is slow
    (INLINE_SECONDS). The other calls are plain (synchronous) handlers, run on the request threads."""

    def __init__(self, registry: Registry, *, max_batch_rows: int = 100_000, admin: bool = False,
                 admin_token: str | None = None, streams: StreamSlots | None = None, max_stream_requests: int = 0,
                 threads=None):
        self.registry = registry
        self.max_batch_rows = max_batch_rows
        self.admin = admin
        self.admin_token = admin_token or None
        self.streams = streams if streams is not None else StreamSlots(0)
        self.max_stream_requests = max(0, int(max_stream_requests or 0))
        self.placement = Placement(threads)
        self._lock = threading.Lock()
        self._frame_streams: dict[tuple[str, str], _FrameStream] = {}
        self._row_streams: dict[tuple[str, str], _RowStream] = {}
        self.models = models_of(registry, max_batch_rows)
        self.models.unload_hooks.append(self._forget_streams)
        self._served = self.models.served

    # --- models ----------------------------------------------------------------------------

    def GetModel(self, request, context):
        try:
            return self.models.model(request.model_name)
        except Exception as e:
            failure = failure_of(e, "", context, "GetModel")
        failure.abort(context)

    def GetBundleMeta(self, request, context):
        try:
            return self.models.bundle_meta(request.model_name)
        except Exception as e:
            failure = failure_of(e, "", context, "GetBundleMeta")
        failure.abort(context)

    def _admin_failure(self, context, rpc: str) -> Failure | None:
        return admin_api_failure(self.admin, self.admin_token, context, rpc)

    def LoadModel(self, request, context):
        failure = self._admin_failure(context, "LoadModel")
        if failure is None:
            try:
                return self.models.load(request)
            except Exception as e:
                failure = failure_of(e, "", context, "LoadModel")
        failure.abort(context)

    def UnloadModel(self, request, context):
        failure = self._admin_failure(context, "UnloadModel")
        if failure is None:
            try:
                return self.models.unload(request.model_name)
            except Exception as e:
                failure = failure_of(e, "", context, "UnloadModel")
        failure.abort(context)

    def _forget_streams(self, name: str) -> None:
        with self._lock:
            for streams in (self._frame_streams, self._row_streams):
                for key in [k for k in streams if k[0] == name]:
                    del streams[key]

    # --- named streams ---------------------------------------------------------------------

    def _new_stream(self, streams: dict, model: str, name: str, stream) -> None:
        _check_text("stream_name", name, MAX_NAME_LENGTH)
        if not name:
            raise BadRequest("stream_name: expected a name for the stream, got nothing")
        with self._lock:
            if (model, name) in streams:
                raise AlreadyExists(f"stream already exists {model}/{name}")
            if len(self._frame_streams) + len(self._row_streams) >= MAX_NAMED_STREAMS:
                raise LimitExceeded(f"{MAX_NAMED_STREAMS} streams exist, the most this server keeps")
            streams[(model, name)] = stream

    def _stream(self, streams: dict, model: str, name: str):
        found = streams.get((model, name))
        if found is None:
            if model not in self.registry.model_names():
                raise self.registry.unknown_model(model)
            raise ModelNotFound(f"could not find stream {model}/{name}")
        return found

    def CreateFrameStream(self, request, context):
        try:
            self._served(request.model_name)
            self._new_stream(self._frame_streams, request.model_name, request.stream_name,
                             _FrameStream(request.stream_config))
            return pb.FrameStream(stream_name=request.stream_name, model_name=request.model_name,
                                  stream_config=request.stream_config)
        except Exception as e:
            failure = failure_of(e, "", context, "CreateFrameStream")
        failure.abort(context)

    def GetFrameStream(self, request, context):
        try:
            found = self._stream(self._frame_streams, request.model_name, request.stream_name)
            return pb.FrameStream(stream_name=request.stream_name, model_name=request.model_name,
                                  stream_config=found.config)
        except Exception as e:
            failure = failure_of(e, "", context, "GetFrameStream")
        failure.abort(context)

    def _row_stream_message(self, model: str, name: str, found: _RowStream) -> pb.RowStream:
        out = pb.RowStream(stream_name=name, model_name=model, stream_config=found.config, spec=found.spec)
        fill_schema_message(out.output_schema, found.plan.out_fields)
        return out

    def CreateRowStream(self, request, context):
        try:
            pipeline = self._served(request.model_name).pipeline
            spec = request.spec
            try:
                plan = RowStreamPlan(pipeline, spec.format, schema_from_message(spec.schema),
                                     list(spec.options.select), spec.options.select_mode == pb.SELECT_MODE_RELAXED)
            except ScoringError as e:
                raise _spec_failure(e) from None
            found = _RowStream(request.stream_config, spec, plan)
            self._new_stream(self._row_streams, request.model_name, request.stream_name, found)
            return self._row_stream_message(request.model_name, request.stream_name, found)
        except Exception as e:
            failure = failure_of(e, "", context, "CreateRowStream")
        failure.abort(context)

    def GetRowStream(self, request, context):
        try:
            found = self._stream(self._row_streams, request.model_name, request.stream_name)
            return self._row_stream_message(request.model_name, request.stream_name, found)
        except Exception as e:
            failure = failure_of(e, "", context, "GetRowStream")
        failure.abort(context)

    # --- frames ----------------------------------------------------------------------------

    def _transform(self, served, data: bytes, fmt: str, options, tag: int) -> Answer:
        """One frame's answer: the frame, or STATUS_ERROR with why (the call itself succeeds)."""
        try:
            out, rows = self.models.transform(served, data, fmt, options)
            return _frame_answer(tag, fmt, out, rows)
        except TRANSFORM_ERRORS as e:
            failure = transform_failure(e)
        return _error_answer(pb.TransformFrameResponse(tag=tag, format=fmt), failure)

    def Transform(self, request, context):
        try:
            check_deadline(context)
            served = self._served(request.model_name)
            options = request.options if request.HasField("options") else None
            return self._transform(served, request.frame, request.format, options, request.tag)
        except Exception as e:
            failure = failure_of(e, "", context, "Transform")
        failure.abort(context)

    async def _stream_answers(self, request_iterator, context, rpc: str, open_stream, carries, answer):
        """The answers of a TransformFrameStream / TransformRowStream, each in order.

        ``open_stream(first message)`` is the stream's state, or raises when the message names no
        stream or model to serve (the call ends with that failure's status); ``carries(message)``:
        whether it holds a frame or row to answer (MLeap's first message only opens the stream);
        ``answer(state, served, message)`` is its Answer, made on the loop or on the threads."""
        await self.streams.enter(context, "streams", "Transform")
        # The slot is released however the stream ends: all answered, client cancellation or deadline
        # (the request iterator raises), an abort below, or the generator closed by gRPC.
        try:
            state = None
            model = ""
            async for request in requests_within(request_iterator, context, self.max_stream_requests, rpc):
                failure = None
                if state is None:
                    try:
                        state = open_stream(request)
                        model = request.model_name
                    except Exception as e:
                        failure = failure_of(e, "", context, rpc)
                    if failure is not None:
                        await failure.abort_async(context)
                    if not carries(request):
                        continue
                try:
                    check_deadline(context)
                    served = self._served(model)
                except Exception as e:
                    failure = failure_of(e, "", context, rpc)
                if failure is not None:
                    await failure.abort_async(context)
                yield await self.placement.run(served.pipeline, answer, state, served, request)
        finally:
            self.streams.release()

    def _open_frame_stream(self, first):
        if first.stream_name:
            self._stream(self._frame_streams, first.model_name, first.stream_name)
        self._served(first.model_name)
        return first

    def _frame_stream_answer(self, first, served, request) -> Answer:
        options = request.options if request.HasField("options") else (
            first.options if first.HasField("options") else None)
        return self._transform(served, request.frame, request.format or first.format, options, request.tag)

    async def TransformFrameStream(self, request_iterator, context):
        async for answer in self._stream_answers(request_iterator, context, "TransformFrameStream",
                                                 self._open_frame_stream, lambda request: bool(request.frame),
                                                 self._frame_stream_answer):
            yield answer

    # --- rows ------------------------------------------------------------------------------

    def _open_row_stream(self, first):
        stream = self._stream(self._row_streams, first.model_name, first.stream_name)
        served = self._served(first.model_name)
        try:
            codec = stream.plan.codec(
                schema_from_message(first.input_schema) if first.HasField("input_schema") else None,
                schema_from_message(first.output_schema) if first.HasField("output_schema") else None,
                served.codec.max_string_length)
        except ScoringError as e:
            raise _spec_failure(e) from None
        return stream, codec

    @staticmethod
    def _row_stream_answer(state, served, request) -> Answer:
        stream, codec = state
        try:
            row = stream.plan.transform(served.pipeline, codec, request.row)
            response = pb.TransformRowResponse(tag=request.tag, row=row)
            return Answer(response.SerializeToString(), "OK", (1, 0, 0) if row else (0, 0, 1))
        except TRANSFORM_ERRORS as e:
            failure = transform_failure(e)
        return _error_answer(pb.TransformRowResponse(tag=request.tag), failure)

    async def TransformRowStream(self, request_iterator, context):
        async for answer in self._stream_answers(request_iterator, context, "TransformRowStream",
                                                 self._open_row_stream, lambda request: bool(request.row),
                                                 self._row_stream_answer):
            yield answer


def add_to_server(servicer: MleapService, server) -> None:
    """Like the generated add_MleapServicer_to_server, with answers that may be encoded already."""
    unary = {
        "LoadModel": (pb.LoadModelRequest, pb.Model),
        "UnloadModel": (pb.UnloadModelRequest, pb.Model),
        "GetModel": (pb.GetModelRequest, pb.Model),
        "GetBundleMeta": (pb.GetBundleMetaRequest, pb.BundleMeta),
        "CreateFrameStream": (pb.CreateFrameStreamRequest, pb.FrameStream),
        "GetFrameStream": (pb.GetFrameStreamRequest, pb.FrameStream),
        "CreateRowStream": (pb.CreateRowStreamRequest, pb.RowStream),
        "GetRowStream": (pb.GetRowStreamRequest, pb.RowStream),
        "Transform": (pb.TransformFrameRequest, pb.TransformFrameResponse),
    }
    handlers = {name: grpc.unary_unary_rpc_method_handler(getattr(servicer, name),
                                                          request_deserializer=req.FromString,
                                                          response_serializer=serialize)
                for name, (req, _) in unary.items()}
    handlers["TransformFrameStream"] = grpc.stream_stream_rpc_method_handler(
        servicer.TransformFrameStream, request_deserializer=pb.TransformFrameRequest.FromString,
        response_serializer=serialize)
    handlers["TransformRowStream"] = grpc.stream_stream_rpc_method_handler(
        servicer.TransformRowStream, request_deserializer=pb.TransformRowRequest.FromString,
        response_serializer=serialize)
    server.add_generic_rpc_handlers((grpc.method_handlers_generic_handler(SERVICE_NAME, handlers),))


__all__ = ["MleapService", "SERVICE_NAME", "add_to_server", "bundle_path"]
