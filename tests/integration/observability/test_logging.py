"""Access log, redaction, request-id binding, error levels and the rotating log file."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import structlog
from litestar import Request, get

from entrypoints.logging import configure_logging, reset_logging
from entrypoints.observability.middleware import bind_user
from tests.integration.http.helpers import PASSWORD, Api, assert_error, make_settings
from tests.integration.observability.conftest import Captured

SECRETS = {
    "bearer": "sekrit-bearer-9f8e7d",
    "cookie": "cookie-value-6c5b4a",
    "password": "body-password-3a2b1c",
    "token_query": "query-token-0d9c8b",
    "api_key_query": "query-key-7e6f5a",
    "client_secret": "body-secret-4b3c2d",
    "jwt": "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ4In0.c2lnbmF0dXJl",
}


async def test_credentials_in_headers_body_and_query_leave_no_trace(debug_api: Api, captured: Captured) -> None:
    response = await debug_api.client.post(
        f"/api/v1/auth/login?token={SECRETS['token_query']}&api_key={SECRETS['api_key_query']}&page=2",
        json={
            "email": "nobody@example.com",
            "password": SECRETS["password"],
            "nested": {"client_secret": SECRETS["client_secret"], "note": f"Bearer {SECRETS['jwt']}"},
        },
        headers={
            "Authorization": f"Bearer {SECRETS['bearer']}",
            "Cookie": f"session={SECRETS['cookie']}",
            "X-Api-Key": SECRETS["api_key_query"],
        },
    )
    assert response.status_code in (401, 422), response.text

    text = captured.text()
    for name, value in SECRETS.items():
        assert value not in text, f"{name} leaked into the log"

    (access,) = captured.events("request")
    assert access["method"] == "POST"
    assert access["route"] == "/api/v1/auth/login"
    assert access["path"] == "/api/v1/auth/login"
    assert access["query"] == "token=[redacted]&api_key=[redacted]&page=2"
    assert access["status"] == response.status_code
    assert access["request_id"] == response.headers["x-request-id"]
    assert access["user_agent"]
    assert access["client_ip"]
    assert isinstance(access["duration_ms"], float)
    (detail,) = captured.events("request_detail")  # DEBUG only: headers and bodies, redacted
    assert detail["headers"]["authorization"] == "[redacted]"
    assert detail["headers"]["cookie"] == "[redacted]"
    assert detail["request_body"]["password"] == "[redacted]"
    assert detail["request_body"]["email"] == "nobody@example.com"
    assert detail["response_body"]["status"] == "error"


async def test_login_response_tokens_are_not_logged(debug_api: Api, captured: Captured) -> None:
    member = await debug_api.member()
    text = captured.text()
    assert member.access_token not in text
    assert member.refresh_token not in text
    assert PASSWORD not in text


async def test_bodies_are_not_logged_above_debug(captured: Captured) -> None:
    from tests.integration.http.helpers import running_api

    configure_logging("INFO", "json", stream=captured.stream, cache_loggers=False)
    async with running_api(LOG_LEVEL="INFO") as api:
        await api.signup()
    assert captured.events("request")
    assert not captured.events("request_detail")


@get("/test/boom", sync_to_thread=False)
def boom(request: Request[Any, Any, Any]) -> None:
    bind_user(request.scope, "user-42")
    structlog.get_logger("trellis.test").info("about_to_fail", step=1)
    logging.getLogger("third.party").warning("stdlib line inside the request")
    raise RuntimeError("database said: secret detail /work/internal.py")


async def test_a_500_logs_the_trace_at_error_and_every_line_names_the_request(
    debug_api: Api, captured: Captured
) -> None:
    debug_api.client.app.register(boom)
    response = await debug_api.client.get("/test/boom", headers={"X-Request-ID": "req-abcdef-123456"})

    error = assert_error(response, 500, "internal_error")
    assert error["request_id"] == "req-abcdef-123456"
    assert "secret detail" not in response.text
    lines = captured.lines()
    start = next(i for i, line in enumerate(lines) if line["event"] == "about_to_fail")
    lines = [line for line in lines[start:] if line.get("logger") != "httpx"]  # the test client's own line
    events = [line["event"] for line in lines]
    assert events == [
        "about_to_fail",
        "stdlib line inside the request",
        "unhandled_exception",
        "request",
        "request_detail",
    ]
    assert all(line["request_id"] == "req-abcdef-123456" for line in lines)

    trace_line = captured.events("unhandled_exception")[0]
    assert trace_line["level"] == "error"
    assert "RuntimeError" in trace_line["exception"]
    assert "Traceback" in trace_line["exception"]
    access = captured.events("request")[0]
    assert access["level"] == "error"
    assert access["status"] == 500
    assert access["route"] == "/test/boom"
    assert access["user_id"] == "user-42"
    assert "exception" not in access


async def test_4xx_is_a_warning_without_a_trace_and_unknown_routes_are_unmatched(
    debug_api: Api, captured: Captured
) -> None:
    response = await debug_api.client.get("/no/such/route")
    assert_error(response, 404, "not_found")
    access = captured.events("request")[0]
    assert access["level"] == "warning"
    assert access["route"] == "unmatched"
    assert access["path"] == "/no/such/route"
    assert not [line for line in captured.lines() if "exception" in line or line["level"] == "error"]


async def test_request_id_is_unbound_after_the_request(debug_api: Api, captured: Captured) -> None:
    await debug_api.client.get("/health/live")
    structlog.get_logger("trellis.test").info("after")
    assert "request_id" not in captured.events("after")[0]


def test_log_file_rotates_at_its_size_and_keeps_its_backups(tmp_path: Path) -> None:
    log_file = tmp_path / "trellis.log"
    configure_logging(
        "INFO", "json", log_file=log_file, log_file_max_bytes=1024, log_file_backups=2, cache_loggers=False
    )
    try:
        log = structlog.get_logger("trellis.test")
        for n in range(60):
            log.info("filler", n=n, password="never-in-a-file")
    finally:
        reset_logging()
    files = sorted(p.name for p in tmp_path.iterdir())
    assert files == ["trellis.log", "trellis.log.1", "trellis.log.2"]
    for path in tmp_path.iterdir():
        content = path.read_text(encoding="utf-8")
        assert len(content.encode()) <= 1024
        assert "never-in-a-file" not in content
    assert '"n": 59' in log_file.read_text(encoding="utf-8")  # the newest line is in the live file


def test_log_file_settings_are_read_and_bounded() -> None:
    settings = make_settings(LOG_FILE="/var/log/trellis.log", LOG_FILE_MAX_BYTES="2048", LOG_FILE_BACKUPS="3")
    assert (settings.log_file, settings.log_file_max_bytes, settings.log_file_backups) == (
        "/var/log/trellis.log",
        2048,
        3,
    )
    assert make_settings().log_file is None
