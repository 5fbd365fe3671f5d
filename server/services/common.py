"""What every service does with errors: end the call with the status server/errors.py says, never
leak a stack trace.

The message of a ScoringError names the field, the expected and the actual value; the same three
also go into trailing metadata (``leapserve-field``, ``leapserve-expected``, ``leapserve-actual``)
for clients that want them apart. An error that is not ours is logged with the request id and its
traceback; the caller gets only the request id.
"""

from __future__ import annotations

import logging
import uuid

import grpc

from leapserve.runtime.errors import RowSkipped, ScoringError, naming

from ..errors import DeadlineExceeded, ServeError
from ..logs import client_text

log = logging.getLogger("leapserve.server")

REQUEST_ID_HEADER = "x-request-id"


class Failure:
    """A status to end a call with (or to put into a PredictStream response)."""

    __slots__ = ("code", "message", "field", "expected", "actual")

    def __init__(self, code: grpc.StatusCode, message: str, field: str = "", expected: str = "", actual: str = ""):
        self.code = code
        self.message = message
        self.field = field
        self.expected = expected
        self.actual = actual

    def abort(self, context):
        self._trailers(context)
        context.abort(self.code, _short(self.message))

    async def abort_async(self, context):
        """abort() for an async handler (grpc.aio's abort is a coroutine)."""
        self._trailers(context)
        await context.abort(self.code, _short(self.message))

    def _trailers(self, context) -> None:
        if self.field:
            context.set_trailing_metadata((
                ("leapserve-field", _ascii(self.field)),
                ("leapserve-expected", _ascii(self.expected)),
                ("leapserve-actual", _ascii(self.actual)),
            ))

    def fill(self, status) -> None:
        """Fill a leapserve.v1.Status message."""
        status.code = self.code.value[0]
        status.message = _short(self.message)
        status.field = self.field
        status.expected = self.expected
        status.actual = self.actual


MAX_METADATA_VALUE = 1024
MAX_STATUS_MESSAGE = 4096  # grpc-message travels in a header: keep it well under the 8 KiB default


def _ascii(text: str) -> str:
    # Metadata values must be printable ASCII (no control characters either, or gRPC refuses the
    # whole call with INTERNAL "Invalid metadata"); keep the gist of anything else, and keep it short.
    text = text[:MAX_METADATA_VALUE]
    out = text.encode("ascii", "backslashreplace").decode("ascii")
    if out.isprintable():
        return out
    return "".join(c if c.isprintable() else f"\\x{ord(c):02x}" for c in out)


def _short(message: str) -> str:
    if len(message) <= MAX_STATUS_MESSAGE:
        return message
    return message[:MAX_STATUS_MESSAGE - 20] + f"... ({len(message)} characters)"


def scoring_failure(e: ScoringError, row: int | None = None) -> Failure:
    field = e.field or ""
    expected = getattr(e, "expected", "")
    actual = getattr(e, "actual", "")
    if isinstance(e, RowSkipped):
        expected, actual = "", ""
    where = []
    r = e.row if e.row is not None else row
    if r is not None:
        where.append(f"row {r}")
    if field:
        where.append(naming(e))
    node = getattr(e, "node", None)
    detail = e.detail
    if node:
        detail = f"{detail} (stage {node!r}, op {getattr(e, 'op', '?')!r})"
    message = f"{', '.join(where)}: {detail}" if where else detail
    return Failure(grpc.StatusCode.INVALID_ARGUMENT, message, field, expected, actual)


def serve_failure(e: ServeError) -> Failure:
    f = getattr(e, "failure", None)
    if f is not None:
        return Failure(f.code, e.message, f.field, f.expected, f.actual)
    return Failure(getattr(grpc.StatusCode, e.code), e.message, getattr(e, "field", ""),
                   getattr(e, "expected", ""), getattr(e, "actual", ""))


def request_id_of(request_id: str, context) -> str:
    if request_id:
        return request_id
    try:
        for key, value in context.invocation_metadata() or ():
            if key == REQUEST_ID_HEADER:
                return str(value)
    except Exception:
        pass
    return uuid.uuid4().hex[:16]


def internal_failure(e: BaseException, request_id: str, context, rpc: str) -> Failure:
    rid = request_id_of(request_id, context)
    log.error("%s failed (request id %s): %s: %s", rpc, client_text(rid), type(e).__name__,
              client_text(e, 1000), exc_info=e)
    return Failure(grpc.StatusCode.INTERNAL, f"internal error (request id {rid})")


def failure_of(e: BaseException, request_id: str, context, rpc: str) -> Failure:
    if isinstance(e, ScoringError):
        return scoring_failure(e)
    if isinstance(e, ServeError):
        return serve_failure(e)
    return internal_failure(e, request_id, context, rpc)


def check_deadline(context) -> None:
    remaining = context.time_remaining()
    if remaining is not None and remaining <= 0:
        raise DeadlineExceeded("the deadline passed before the request was scored")
