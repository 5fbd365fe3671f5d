"""Logging of `leapserve serve`: human-readable lines by default, JSON lines with ``--log-format json``.

Everything goes to stderr (a container's log). Lines about events an operator acts on carry their
facts as fields (``extra=``) as well as in the message: model loads, reloads and failures
(``event``, ``model``, ``version``, ``path``, ``ms``, ``generation``, ``error``), requests at debug
level (``rpc``, ``model``, ``version``, ``code``, ``ms``, ``request_id``), shutdown steps. The text
format shows the message; the JSON format shows the message and every field, one object a line::

    {"time": "2026-11-25T17:27:54.521Z", "level": "INFO", "logger": "leapserve.registry",
     "message": "model rf version 1: loaded and warmed ... in 163 ms (generation 1)", "pid": 23796,
     "event": "model_loaded", "model": "rf", "version": "1", "ms": 163.2, "generation": 1, ...}
"""

from __future__ import annotations

import json
import logging
import sys
import time

FORMATS = ("text", "json")
LEVELS = ("debug", "info", "warning", "error")

# Attributes every LogRecord has; anything else on a record came through ``extra=``.
_STANDARD = set(vars(logging.LogRecord("", 0, "", 0, "", (), None))) | {"message", "asctime", "taskName"}


MAX_LOGGED_TEXT = 200


def client_text(value, limit: int = MAX_LOGGED_TEXT) -> str:
    """A string a client sent (request id, model name, parameter), fit for a log line: escaped the
    way repr escapes (a newline becomes ``\\n``, so no client can forge a line) and cut to ``limit``
    characters, with the full length said."""
    text = value if isinstance(value, str) else str(value)
    cut = text[:limit]
    if not cut.isprintable():
        cut = repr(cut)[1:-1]
    if len(text) > limit:
        cut += f"... ({len(text)} characters)"
    return cut


def _utc(created: float) -> str:
    seconds = int(created)
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(seconds)) + f".{int((created - seconds) * 1000):03d}Z"


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time (UTC), level, logger, message, pid, worker, then the fields."""

    def __init__(self, worker: int | None = None):
        super().__init__()
        self.worker = worker

    def format(self, record: logging.LogRecord) -> str:
        out = {
            "time": _utc(record.created),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            "pid": record.process,
        }
        if self.worker is not None:
            out["worker"] = self.worker
        for key, value in record.__dict__.items():
            if key not in _STANDARD and not key.startswith("_"):
                out[key] = value
        if record.exc_info:
            out["exception"] = self.formatException(record.exc_info)
        elif record.exc_text:
            out["exception"] = record.exc_text
        return json.dumps(out, default=str, ensure_ascii=False)


def text_formatter(worker: int | None = None) -> logging.Formatter:
    tag = f"worker {worker} " if worker is not None else ""
    return logging.Formatter(f"%(asctime)s %(levelname)s {tag}[%(process)d] %(name)s: %(message)s")


def setup_logging(level: str = "info", fmt: str = "text", worker: int | None = None) -> None:
    """Send every logger's records to stderr in the chosen format (replacing earlier handlers)."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter(worker) if fmt == "json" else text_formatter(worker))
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
        old.close()
    root.addHandler(handler)
    root.setLevel(getattr(logging, level.upper(), logging.INFO))
    # grpc's own Python logger is chatty about things we report ourselves (aborted calls).
    logging.getLogger("grpc._server").setLevel(max(root.level, logging.WARNING))
