"""leapserve.v1.ModelService: LoadModel / UnloadModel (served only with --admin).

Bundles load only from paths inside the model directory or the configured admin paths (symbolic
links resolved first), so a client cannot make the server read arbitrary files. With an admin
token (--admin-token / LEAPSERVE_ADMIN_TOKEN) every call must carry it in its metadata
(``authorization: Bearer <token>``); without it the call is UNAUTHENTICATED and nothing is read.
Names, versions and paths are checked before they reach the registry or the file system.
"""

from __future__ import annotations

import hmac

import grpc

from leapserve.v1 import model_service_pb2 as pb
from leapserve.v1 import model_service_pb2_grpc as pb_grpc

from ..errors import BadRequest
from ..dataplane import MAX_NAME_LENGTH, MAX_PATH_LENGTH
from ..registry import Registry
from .common import Failure, failure_of
from .prediction import fill_version_info

SERVICE_NAME = pb.DESCRIPTOR.services_by_name["ModelService"].full_name

# Clients give the admin token as "authorization: Bearer <token>" or "x-leapserve-admin-token: <token>".
ADMIN_TOKEN_HEADER = "x-leapserve-admin-token"


def admin_token_failure(token: str | None, context) -> Failure | None:
    """UNAUTHENTICATED unless the call carries the admin token (None when no token is configured).
    Tokens are compared in constant time; the answer does not say whether one was sent."""
    if not token:
        return None
    given = []
    try:
        for key, value in context.invocation_metadata() or ():
            if key == "authorization" and isinstance(value, str) and value[:7].lower() == "bearer ":
                given.append(value[7:].strip())
            elif key == ADMIN_TOKEN_HEADER and isinstance(value, str):
                given.append(value.strip())
    except Exception:
        given = []
    expected = token.encode()
    ok = False
    for candidate in given:
        ok |= hmac.compare_digest(candidate.encode(), expected)
    if ok:
        return None
    return Failure(grpc.StatusCode.UNAUTHENTICATED,
                   "the admin API needs its token: metadata 'authorization: Bearer <token>' "
                   f"(or '{ADMIN_TOKEN_HEADER}: <token>')")


def admin_api_failure(enabled: bool, token: str | None, context, rpc: str) -> Failure | None:
    """UNIMPLEMENTED while the admin API is off (no --admin), else admin_token_failure: for the admin
    calls of services served whether or not it is on (OIP's repository calls, MLeap's Load/UnloadModel)."""
    if not enabled:
        return Failure(grpc.StatusCode.UNIMPLEMENTED,
                       f"{rpc} is part of the admin API, which is off: start the server with --admin")
    return admin_token_failure(token, context)


def _check_text(what: str, value: str, most: int, *, slash_ok: bool = False) -> None:
    if len(value) > most:
        raise BadRequest(f"{what} is {len(value)} characters long; the most is {most}")
    if any(ord(c) < 32 or c == "\x7f" for c in value):
        raise BadRequest(f"{what} holds control characters")
    if not slash_ok and ("/" in value or "\\" in value or value in (".", "..")):
        raise BadRequest(f"{what} {value!r} is not a plain name")


class ModelService(pb_grpc.ModelServiceServicer):
    def __init__(self, registry: Registry, *, token: str | None = None):
        self.registry = registry
        self.token = token or None

    def LoadModel(self, request, context):
        failure = admin_token_failure(self.token, context)
        if failure is None:
            try:
                _check_text("model name", request.model, MAX_NAME_LENGTH)
                _check_text("version", request.version, MAX_NAME_LENGTH)
                _check_text("path", request.path, MAX_PATH_LENGTH, slash_ok=True)
                info = self.registry.admin_load(request.model, request.version, request.path,
                                                 allow_schema_change=request.allow_schema_change)
                response = pb.LoadModelResponse(model=request.model)
                fill_version_info(response.version, info)
                return response
            except Exception as e:
                failure = failure_of(e, "", context, "LoadModel")
        failure.abort(context)

    def UnloadModel(self, request, context):
        failure = admin_token_failure(self.token, context)
        if failure is None:
            try:
                versions = self.registry.admin_unload(request.model, request.version)
                return pb.UnloadModelResponse(model=request.model, versions=versions)
            except Exception as e:
                failure = failure_of(e, "", context, "UnloadModel")
        failure.abort(context)
