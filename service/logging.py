"""JSON logs on stderr, one object per line, each with the request id.

Our own events go through structlog straight to stderr (a filtering logger: a disabled
level costs one comparison; an access-log line costs a few microseconds). Other libraries'
stdlib logging (uvicorn, SQLAlchemy) is rendered by the same processors into the same shape.
"""

from __future__ import annotations

import asyncio
import atexit
import json
import logging
import sys
import time
from typing import Any, BinaryIO

import orjson
import structlog
from asgi_correlation_id import correlation_id
from structlog.typing import EventDict

from service.config import Settings


def _request_id(_logger: object, _name: str, event: EventDict) -> EventDict:
    request_id = correlation_id.get()
    if request_id and "request_id" not in event:
        event["request_id"] = request_id
    return event


def _stdlib_logger_name(_logger: object, _name: str, event: EventDict) -> EventDict:
    record = event.get("_record")
    if record is not None:
        event["logger_name"] = record.name  # the same key our own loggers use
    return event


def _dumps(event: EventDict, **kwargs: Any) -> bytes:
    """One JSON line as bytes (orjson: a few times cheaper than json.dumps per access-log
    line); what orjson refuses (integers beyond 64 bits) goes through json."""
    try:
        return orjson.dumps(event, default=kwargs.get("default"), option=orjson.OPT_NON_STR_KEYS)
    except TypeError:
        return json.dumps(event, ensure_ascii=False, **kwargs).encode()


class _LinesPerTick:
    """structlog's BytesLogger, but the lines logged in one event-loop tick go out in one
    write: an access-log line per request was a write (and a flush) per request, a syscall
    that a busy disk can stall. Written at the end of the tick they were logged in (so in
    order, and before the loop waits for anything); logged with no running loop (start-up,
    threads), at once. Lines are whole either way."""

    def __init__(self, file: BinaryIO) -> None:
        self._file = file
        self._pending: list[bytes] = []
        atexit.register(self.flush)

    def msg(self, message: bytes) -> None:
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            self._write([message])
            return
        if not self._pending:
            loop.call_soon(self.flush)
        self._pending.append(message)

    log = debug = info = warn = warning = error = err = critical = exception = fatal = failure = msg

    def flush(self) -> None:
        lines, self._pending = self._pending, []
        if lines:
            self._write(lines)

    def _write(self, lines: list[bytes]) -> None:
        self._file.write(b"\n".join(lines) + b"\n")
        self._file.flush()


_writers: dict[int, _LinesPerTick] = {}  # one per output file, however often logging is configured


def _lines_factory(file: BinaryIO) -> Any:
    writer = _writers.get(id(file))
    if writer is None:
        writer = _writers[id(file)] = _LinesPerTick(file)
    return lambda *_args: writer


def get_logger(name: str) -> Any:
    """A structlog logger whose events carry `logger_name` (lazy: configured on first use)."""
    return structlog.get_logger(**{"logger_name": name})


# The access log, bound once per configuration; None below INFO.
_access: _AccessLines | _AccessEvents | None = None


def access_logger() -> _AccessLines | _AccessEvents | None:
    """The access log when INFO lines are written at the configured level, else None (checked
    before building a line: a filtered-out one then costs nothing at all). Bound once, not
    through structlog's lazy proxy on every line (a third of a line's cost)."""
    return _access


_second: list[int | str] = [0, ""]  # the last whole second seen, formatted


class _AccessLines:
    """The access log in JSON mode: the line the processors would make (logger name, event,
    the request's fields, level, timestamp), written directly — one per request, and the
    processor chain was most of its cost. The part fixed by method, path, route and status is
    encoded once (a polling client repeats it); the rest is appended as bytes. Written by the
    same writer as every other line."""

    _MAX_PREFIXES = 1024

    def __init__(self, writer: _LinesPerTick) -> None:
        self._writer = writer
        self._prefixes: dict[tuple[str, str, str, int], bytes] = {}

    def request(
        self, method: str, path: str, route: str, status: int, duration_ms: float, request_id: str
    ) -> None:
        key = (method, path, route, status)
        prefix = self._prefixes.get(key)
        if prefix is None:
            fields = {"logger_name": "cuecard.access", "event": "request", "method": method, "path": path}
            # The encoded object, less its closing brace: `…,"status":200` then the rest.
            prefix = _dumps({**fields, "route": route, "status": status})[:-1]
            if len(self._prefixes) >= self._MAX_PREFIXES:
                self._prefixes.clear()
            self._prefixes[key] = prefix
        self._writer.msg(
            b"".join(
                (
                    prefix,
                    b',"duration_ms":',
                    orjson.dumps(duration_ms),
                    b',"request_id":',
                    orjson.dumps(request_id),
                    b',"level":"info","timestamp":"',
                    _now().encode(),
                    b'"}',
                )
            )
        )


class _AccessEvents:
    """The access log through structlog (console mode): the same fields, rendered as the rest."""

    def __init__(self, logger: Any) -> None:
        self._logger = logger

    def request(
        self, method: str, path: str, route: str, status: int, duration_ms: float, request_id: str
    ) -> None:
        self._logger.info(
            "request",
            method=method,
            path=path,
            route=route,
            status=status,
            duration_ms=duration_ms,
            request_id=request_id,
        )


def _now() -> str:
    """TimeStamper(fmt="iso", utc=True)'s format, the date formatted once a second."""
    now = time.time()
    second = int(now)
    if second != _second[0]:
        _second[:] = [second, time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(second))]
    return f"{_second[1]}.{int((now - second) * 1_000_000):06d}Z"


def _timestamp(_logger: object, _name: str, event: EventDict) -> EventDict:
    event["timestamp"] = _now()
    return event


def configure_logging(settings: Settings) -> None:
    global _access
    level = logging.getLevelNamesMapping().get(settings.log_level.upper(), logging.INFO)
    shared: list[Any] = [
        structlog.contextvars.merge_contextvars,
        structlog.processors.add_log_level,
        _timestamp,
        _request_id,
    ]
    renderer = (
        structlog.processors.JSONRenderer(ensure_ascii=False)
        if settings.log_json
        else structlog.dev.ConsoleRenderer(colors=False)
    )
    # Our own events, the access log's included, are serialised by orjson straight to bytes.
    binary = getattr(sys.stderr, "buffer", None) if settings.log_json else None
    structlog.configure(
        processors=[
            *shared,
            structlog.processors.format_exc_info,
            structlog.processors.JSONRenderer(serializer=_dumps) if binary else renderer,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(level),
        logger_factory=(
            _lines_factory(binary) if binary is not None else structlog.WriteLoggerFactory(file=sys.stderr)
        ),
        cache_logger_on_first_use=True,
    )
    if level > logging.INFO:
        _access = None
    elif binary is not None:
        _access = _AccessLines(_writers[id(binary)])
    else:
        _access = _AccessEvents(get_logger("cuecard.access").bind())
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(
        structlog.stdlib.ProcessorFormatter(
            foreign_pre_chain=[_stdlib_logger_name, *shared],
            processors=[
                structlog.stdlib.ProcessorFormatter.remove_processors_meta,
                structlog.processors.format_exc_info,
                renderer,
            ],
        )
    )
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    # uvicorn's access log would duplicate ours (the Edge middleware logs each request).
    for name in ("uvicorn", "uvicorn.error"):
        logging.getLogger(name).handlers[:] = []
        logging.getLogger(name).propagate = True
    logging.getLogger("uvicorn.access").disabled = True
