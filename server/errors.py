"""The errors a request can end with, and the gRPC status code each becomes.

What the server refuses on purpose is a ``ServeError``; its class attribute ``code`` names the gRPC
status code the call ends with, and is the only place that code is written. Two more kinds of
exception reach the services (services/common.py turns all three into a status):

* the runtime's ``ScoringError`` (InvalidInput, MissingInput, RowSkipped; the codec raises
  InvalidInput too): INVALID_ARGUMENT, the message naming the field, the expected and the actual
  value;
* anything else is a bug: logged with the request id and its traceback, answered INTERNAL with
  only the request id.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .services.common import Failure


class ServeError(Exception):
    """A request the server refuses; ``code`` is the gRPC status code's name."""

    code = "INTERNAL"

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


class ModelNotFound(ServeError):
    code = "NOT_FOUND"


class ModelUnavailable(ServeError):
    code = "UNAVAILABLE"


class BadRequest(ServeError):
    code = "INVALID_ARGUMENT"


class FieldError(BadRequest):
    """INVALID_ARGUMENT for one field of a request, its expected and actual value apart (gRPC
    trailing metadata, the HTTP error body)."""

    def __init__(self, field: str, expected: str, actual: str):
        super().__init__(f"{field}: expected {expected}; got {actual}")
        self.field = field
        self.expected = expected
        self.actual = actual


def parse_json(data: bytes, what: str, error=FieldError, expected: str = "JSON"):
    """``data`` parsed as JSON, or ``error(what, expected, actual)`` saying why it is not (bytes that
    are not UTF-8, an empty body, malformed or too deeply nested JSON): the HTTP port raises its
    HttpError through field_error, frames their FrameError."""
    import json

    try:
        return json.loads(data)
    except UnicodeDecodeError as e:
        raise error(what, f"{expected} in UTF-8", f"bytes that are not UTF-8 at offset {e.start}") from None
    except json.JSONDecodeError as e:
        actual = "an empty body" if not data.strip() else f"malformed JSON: {e.msg} at line {e.lineno} column {e.colno}"
        raise error(what, expected, actual) from None
    except RecursionError:
        raise error(what, expected, "JSON nested too deeply") from None


class PermissionDenied(ServeError):
    code = "PERMISSION_DENIED"


class PreconditionFailed(ServeError):
    """A request the server's present state forbids (a LoadModel that would change a served model's
    inputs without allow_schema_change)."""

    code = "FAILED_PRECONDITION"


class AlreadyExists(ServeError):
    """A name already taken (MLeap's LoadModel without force, a stream name)."""

    code = "ALREADY_EXISTS"


class LimitExceeded(ServeError):
    code = "RESOURCE_EXHAUSTED"


class DeadlineExceeded(ServeError):
    code = "DEADLINE_EXCEEDED"


class RowsInvalid(ServeError):
    """PredictBatch with all_or_nothing: the first invalid row fails the call."""

    code = "INVALID_ARGUMENT"

    def __init__(self, failure: Failure, count: int):
        more = f" ({count - 1} more invalid rows)" if count > 1 else ""
        super().__init__(failure.message + more)
        self.failure = failure
