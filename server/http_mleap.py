"""MLeap Spring Boot's endpoints on the HTTP port (server/http.py), for MLeap's HTTP clients. What
is answered is server/mleap_models.py's, as the gRPC ml.combust.mleap.pb.Mleap service answers it.

Messages are proto3 JSON (``application/json``, camelCase names, bytes as base64) or protobuf
(``application/x-protobuf``), chosen by the request's Content-Type (a body) or Accept (GET); the
answer comes in the same encoding. Another Content-Type is 415.

* POST ``/models/{name}/transform``: the body is a LeapFrame, ``ml.combust.mleap.json`` with
  application/json, ``ml.combust.mleap.binary`` with application/x-protobuf; the answer is the
  transformed frame in the same format. A frame that cannot be read or scored is answered, as MLeap
  does, with HTTP 200 and an ErrorTransformResponse {status: STATUS_ERROR, error, backtrace}
  (``error`` names the field, the row, expected and actual).
* GET ``/models/{name}`` (Model), GET ``/models/{name}/meta`` (BundleMeta).
* POST ``/models/transform``: TransformFrameRequest -> TransformFrameResponse (the frame failures
  as STATUS_ERROR in it, as gRPC Transform).
* POST ``/models`` (LoadModelRequest -> 202 with Model), DELETE ``/models/{name}`` (Model): the
  admin API, as on gRPC (--admin, the admin token, the model directory and admin paths).

An unknown model is 404, a model without a copy to serve 503, a body that is not the message it
should be 400 naming it; the ``timeout`` header (milliseconds) bounds each call (504 past it).
"""

from __future__ import annotations

from aiohttp import web
from google.protobuf import json_format
from google.protobuf.message import DecodeError

from leapserve.mleap import mleap_pb2 as pb

from .http import INLINE_BODY_BYTES, Call, HttpError, HttpPort, check_admin, field_error
from .mleap_models import TRANSFORM_ERRORS, models_of, transform_failure

JSON_TYPE = "application/json"
PROTOBUF_TYPE = "application/x-protobuf"
FRAME_FORMAT = {JSON_TYPE: "ml.combust.mleap.json", PROTOBUF_TYPE: "ml.combust.mleap.binary"}
_STATUS_ERROR = pb.TransformStatus.Value("STATUS_ERROR")


def add_routes(port: HttpPort) -> None:
    api = MleapApi(port)
    route = port.route
    route("POST", "/models", "MleapLoadModel", api.load_model)
    route("POST", "/models/transform", "MleapTransform", api.transform_request)
    route("GET", "/models/{model}", "MleapGetModel", api.get_model)
    route("DELETE", "/models/{model}", "MleapUnloadModel", api.unload_model)
    route("GET", "/models/{model}/meta", "MleapGetBundleMeta", api.get_bundle_meta)
    route("POST", "/models/{model}/transform", "MleapTransformFrame", api.transform_frame)


def _body_type(call: Call) -> str:
    """JSON_TYPE or PROTOBUF_TYPE, from the Content-Type (none: JSON); another is 415."""
    given = call.request.headers.get("Content-Type")
    if given is None:
        return JSON_TYPE
    kind = given.split(";", 1)[0].strip().lower()
    if kind not in FRAME_FORMAT:
        raise HttpError(415, "INVALID_ARGUMENT", f"header 'Content-Type': expected {JSON_TYPE} or {PROTOBUF_TYPE}, "
                        f"got {given[:80]!r}", "header 'Content-Type'", f"{JSON_TYPE} or {PROTOBUF_TYPE}",
                        repr(given[:80]))
    return kind


def _answer_type(call: Call) -> str:
    """PROTOBUF_TYPE when the Accept header asks for it, else JSON_TYPE."""
    return PROTOBUF_TYPE if PROTOBUF_TYPE in call.request.headers.get("Accept", "").lower() else JSON_TYPE


def _message_response(message, kind: str, status: int = 200) -> web.Response:
    if kind == PROTOBUF_TYPE:
        return web.Response(body=message.SerializeToString(), status=status, content_type=PROTOBUF_TYPE)
    text = json_format.MessageToJson(message, indent=None)
    return web.Response(body=text.encode(), status=status, content_type=JSON_TYPE)


def _read_message(body: bytes, kind: str, message_type):
    """The body as ``message_type`` (400 naming it when it is not one)."""
    name = message_type.DESCRIPTOR.name
    message = message_type()
    try:
        if kind == PROTOBUF_TYPE:
            message.ParseFromString(body)
        else:
            json_format.Parse(body.decode("utf-8"), message)
    except (json_format.ParseError, DecodeError, UnicodeDecodeError, RecursionError, ValueError) as e:
        shown = "protobuf" if kind == PROTOBUF_TYPE else "proto3 JSON"
        raise field_error("body", f"a {name} in {shown}", str(e)[:300] or type(e).__name__) from None
    return message


def _failure_text(call: Call, e: BaseException) -> tuple[str, str]:
    """(error, backtrace) of a frame that could not be transformed; the call counts under the code
    its failure stands for, as gRPC's Transform."""
    failure = transform_failure(e)
    message, call.failure_code = failure.message, failure.code.name
    return message, f"{type(e).__name__}: {message}"


class MleapApi:
    def __init__(self, port: HttpPort):
        self.port = port
        self.models = models_of(port.registry, port.config.max_batch_rows)

    async def get_model(self, call: Call, model: str):
        call.model = model
        return _message_response(await call.run(self.models.model, model, inline=True), _answer_type(call))

    async def get_bundle_meta(self, call: Call, model: str):
        call.model = model
        return _message_response(await call.run(self.models.bundle_meta, model, inline=True), _answer_type(call))

    async def load_model(self, call: Call):
        check_admin(call, "LoadModel")
        kind = _body_type(call)
        request = _read_message(await call.body(), kind, pb.LoadModelRequest)
        call.model = request.model_name
        return _message_response(await call.run(self.models.load, request), kind, 202)

    async def unload_model(self, call: Call, model: str):
        check_admin(call, "UnloadModel")
        call.model = model
        return _message_response(await call.run(self.models.unload, model), _answer_type(call))

    async def transform_frame(self, call: Call, model: str):
        kind = _body_type(call)
        body = await call.body()
        call.model = model
        served = self.models.served(model)
        try:
            out, rows = await call.run(self.models.transform, served, body, FRAME_FORMAT[kind],
                                       inline=len(body) <= INLINE_BODY_BYTES)
        except TRANSFORM_ERRORS as e:
            call.rows_skipped = 1
            error, backtrace = _failure_text(call, e)
            answer = pb.ErrorTransformResponse(status=_STATUS_ERROR, error=error, backtrace=backtrace)
            return _message_response(answer, kind)
        call.rows_ok = rows
        return web.Response(body=out, content_type=kind)

    async def transform_request(self, call: Call):
        kind = _body_type(call)
        request = _read_message(await call.body(), kind, pb.TransformFrameRequest)
        if not request.model_name:
            raise field_error("modelName", "the name of a model", "nothing")
        call.model = request.model_name
        served = self.models.served(request.model_name)
        options = request.options if request.HasField("options") else None
        answer = pb.TransformFrameResponse(tag=request.tag, format=request.format)
        try:
            out, rows = await call.run(self.models.transform, served, request.frame, request.format, options,
                                       inline=len(request.frame) <= INLINE_BODY_BYTES)
            answer.frame = out
            call.rows_ok = rows
        except TRANSFORM_ERRORS as e:
            call.rows_skipped = 1
            answer.status = _STATUS_ERROR
            answer.error, answer.backtrace = _failure_text(call, e)
        return _message_response(answer, kind)


__all__ = ["MleapApi", "add_routes"]
