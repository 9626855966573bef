"""structlog set-up: readable console lines in development, JSON in production.

Sensitive keys (authorization, cookies, passwords, tokens, secrets, keys) are redacted by a
processor on every log line, wherever they appear in the event dict; string values that look
like credentials (``Bearer …``, a JWS/JWE compact token) are masked too, whatever their key.

structlog renders into the standard library's ``logging`` (``ProcessorFormatter``), so one set
of handlers serves both structlog and third-party loggers (uvicorn, asyncio): stderr always,
plus an optional size-rotated JSON file (``LOG_FILE``). Each line of a request carries its
request id (bound as a contextvar by the access middleware) and, while a span is recording,
its OpenTelemetry trace and span ids.
"""

from __future__ import annotations

import functools
import logging
import logging.handlers
import re
import sys
from collections.abc import MutableMapping
from pathlib import Path
from typing import IO, Any

import structlog
from opentelemetry import trace

SENSITIVE_PARTS = ("authorization", "cookie", "password", "token", "secret", "key")
REDACTED = "[redacted]"
_CREDENTIAL_VALUE = re.compile(
    r"(?i)\bbearer\s+[^\s\"',;]+"  # an Authorization header value
    r"|\beyJ[A-Za-z0-9_-]*\.[A-Za-z0-9_-]*\.[A-Za-z0-9_.-]*"  # a JWS (3 parts) or JWE (5 parts)
)
# a sensitive parameter in a URL or form text (``?api_key=…``, ``&password=…``): keep the name
_CREDENTIAL_PARAMETER = re.compile(
    r"(?i)(?P<name>(?:^|[?&;\s\"'])(?:[\w.-]*(?:authorization|cookie|password|token|secret|key)[\w.-]*)=)[^&\s\"']*"
)

_HANDLER_MARK = "_trellis_handler"


@functools.lru_cache(maxsize=1024)
def is_sensitive(name: str) -> bool:
    """A field (key, header, query parameter) whose value must never be logged."""
    lowered = name.lower()
    return any(part in lowered for part in SENSITIVE_PARTS)


def redact_text(text: str) -> str:
    """``text`` with credential-looking values and sensitive URL/form parameters masked."""
    if "eyJ" in text or "earer" in text:
        text = _CREDENTIAL_VALUE.sub(REDACTED, text)
    if "=" in text:
        text = _CREDENTIAL_PARAMETER.sub(rf"\g<name>{REDACTED}", text)
    return text


def redact_value(value: Any) -> Any:
    """``value`` with every sensitive key masked, recursively; credential-looking strings masked."""
    if isinstance(value, str):
        return redact_text(value)
    if isinstance(value, dict):
        return {k: REDACTED if is_sensitive(str(k)) else redact_value(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return type(value)(redact_value(v) for v in value)
    return value


def redact(_: Any, __: str, event_dict: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
    for name in list(event_dict):
        if name == "event":  # the message: a constant for our lines, free text for other libraries'
            if isinstance(event_dict[name], str):
                event_dict[name] = redact_text(event_dict[name])
            continue
        event_dict[name] = REDACTED if is_sensitive(name) else redact_value(event_dict[name])
    return event_dict


def add_trace_context(_: Any, __: str, event_dict: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
    """The current span's trace and span ids (nothing when tracing is off: the span is invalid)."""
    context = trace.get_current_span().get_span_context()
    if context.is_valid:
        event_dict.setdefault("trace_id", format(context.trace_id, "032x"))
        event_dict.setdefault("span_id", format(context.span_id, "016x"))
    return event_dict


def _formatter(renderer: Any, *, json: bool) -> structlog.stdlib.ProcessorFormatter:
    pre_chain: list[Any] = [
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        add_trace_context,
        redact,
    ]
    final: list[Any] = [structlog.stdlib.ProcessorFormatter.remove_processors_meta]
    if json:
        final.append(structlog.processors.format_exc_info)
    return structlog.stdlib.ProcessorFormatter(foreign_pre_chain=pre_chain, processors=[*final, renderer])


def configure_logging(
    level: str = "INFO",
    fmt: str = "console",
    *,
    log_file: str | Path | None = None,
    log_file_max_bytes: int = 10 * 1024 * 1024,
    log_file_backups: int = 5,
    stream: IO[str] | None = None,
    cache_loggers: bool = True,
) -> None:
    """Configure structlog and the standard library's root logger (idempotent: replaces our handlers).

    ``log_file`` adds a JSON file rotated at ``log_file_max_bytes`` keeping ``log_file_backups``
    old files. ``cache_loggers=False`` lets a test configure logging more than once.
    """
    numeric_level = logging.getLevelName(level)
    out = stream or sys.stderr
    console = fmt != "json"
    renderer: Any = (
        # plain tracebacks: rich's pretty ones print each frame's locals, which can hold credentials
        structlog.dev.ConsoleRenderer(colors=out.isatty(), exception_formatter=structlog.dev.plain_traceback)
        if console
        else structlog.processors.JSONRenderer()
    )
    handlers: list[logging.Handler] = [logging.StreamHandler(out)]
    handlers[0].setFormatter(_formatter(renderer, json=not console))
    if log_file is not None:
        path = Path(log_file)
        path.parent.mkdir(parents=True, exist_ok=True)
        file_handler = logging.handlers.RotatingFileHandler(
            path, maxBytes=log_file_max_bytes, backupCount=log_file_backups, encoding="utf-8"
        )
        file_handler.setFormatter(_formatter(structlog.processors.JSONRenderer(), json=True))
        handlers.append(file_handler)

    root = logging.getLogger()
    for old in [h for h in root.handlers if getattr(h, _HANDLER_MARK, False)]:
        root.removeHandler(old)
        old.close()
    for handler in handlers:
        setattr(handler, _HANDLER_MARK, True)
        root.addHandler(handler)
    root.setLevel(numeric_level)

    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.stdlib.add_log_level,
            structlog.stdlib.add_logger_name,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            add_trace_context,
            redact,
            structlog.stdlib.ProcessorFormatter.wrap_for_formatter,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(numeric_level),
        logger_factory=structlog.stdlib.LoggerFactory(),
        cache_logger_on_first_use=cache_loggers,
    )


def reset_logging() -> None:
    """Undo ``configure_logging``: our handlers closed and removed, structlog back to its defaults."""
    root = logging.getLogger()
    for old in [h for h in root.handlers if getattr(h, _HANDLER_MARK, False)]:
        root.removeHandler(old)
        old.close()
    root.setLevel(logging.WARNING)
    structlog.reset_defaults()
