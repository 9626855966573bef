"""Settings, read once from the environment (and a ``.env`` file in development).

With nothing configured the service runs on embedded defaults. ``APP_ENV=production``
refuses a default that would lose data or weaken security and names the variable to set.
"""

from __future__ import annotations

import base64
import binascii
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, cast

AppEnv = Literal["development", "test", "production"]
APP_ENVS: tuple[AppEnv, ...] = ("development", "test", "production")


class SettingsError(ValueError):
    """A setting is missing or invalid; the message names the variable."""


@dataclass(frozen=True, slots=True)
class OidcProviderSettings:
    """One OpenID provider: ``OIDC_<NAME>_ISSUER``, ``_CLIENT_ID``, ``_CLIENT_SECRET``, ``_REDIRECT_URI``."""

    name: str  # lower-case; the {provider} of /auth/oidc/{provider}/login
    issuer: str
    client_id: str
    redirect_uri: str
    client_secret: str | None = field(default=None, repr=False)

    @property
    def env_prefix(self) -> str:
        return f"OIDC_{self.name.upper()}"


@dataclass(frozen=True, slots=True)
class SmtpSettings:
    """``SMTP_URL`` parsed: ``smtp://`` (STARTTLS required, port 587), ``smtps://`` (implicit
    TLS, 465), ``smtp+insecure://`` (no TLS, 25: a local relay or mail catcher only)."""

    host: str
    port: int
    security: Literal["starttls", "tls", "none"]
    sender: str
    timeout_seconds: float
    username: str | None = None
    password: str | None = field(default=None, repr=False)

    @property
    def loopback(self) -> bool:
        return self.host in ("localhost", "127.0.0.1", "::1") or self.host.endswith(".localhost")


_SMTP_SCHEMES: dict[str, tuple[Literal["starttls", "tls", "none"], int]] = {
    "smtp": ("starttls", 587),
    "smtps": ("tls", 465),
    "smtp+insecure": ("none", 25),
}
_ADDRESS = re.compile(r"^[^@\s<>]+@[^@\s<>]+\.[^@\s<>]+$")


def _smtp(env: Mapping[str, str]) -> SmtpSettings | None:
    """SMTP_URL, SMTP_FROM, SMTP_TIMEOUT_SECONDS: the e-mail notifier (issue 10). Errors never
    quote the URL: it may hold the password."""
    from email.utils import parseaddr
    from urllib.parse import unquote, urlsplit

    url, sender = _optional(env, "SMTP_URL"), _optional(env, "SMTP_FROM")
    if url is None:
        if sender is not None:
            raise SettingsError("SMTP_FROM is set but SMTP_URL is not: set both to send e-mail, or neither")
        return None
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        raise SettingsError("SMTP_URL is not a valid URL (smtp://user:password@host:587)") from None
    if parts.scheme not in _SMTP_SCHEMES:
        raise SettingsError("SMTP_URL must start with smtp:// (STARTTLS), smtps:// (TLS) or smtp+insecure://")
    if not parts.hostname:
        raise SettingsError("SMTP_URL needs a host (smtp://user:password@host:587)")
    if parts.path not in ("", "/") or parts.query or parts.fragment:
        raise SettingsError("SMTP_URL takes no path or query: smtp://user:password@host:port")
    if (parts.username is None) != (parts.password is None):
        raise SettingsError("SMTP_URL needs both a user and a password, or neither")
    if sender is None:
        raise SettingsError("SMTP_FROM must be set too: the From address of the e-mails (Trellis <noreply@host>)")
    if not _ADDRESS.match(parseaddr(sender)[1]) or "\n" in sender or "\r" in sender:
        raise SettingsError("SMTP_FROM must be an e-mail address, optionally with a name: Trellis <noreply@host>")
    security, default_port = _SMTP_SCHEMES[parts.scheme]
    return SmtpSettings(
        host=parts.hostname,
        port=port or default_port,
        security=security,
        sender=sender,
        timeout_seconds=float(_int(env, "SMTP_TIMEOUT_SECONDS", 10, 1, 120)),
        username=unquote(parts.username) if parts.username is not None else None,
        password=unquote(parts.password) if parts.password is not None else None,
    )


@dataclass(frozen=True, slots=True)
class Settings:
    app_env: AppEnv = "development"
    host: str = "127.0.0.1"
    port: int = 8000
    log_level: str = "INFO"
    log_format: Literal["console", "json"] = "console"
    mongodb_url: str | None = None
    mongodb_database: str = "trellis"
    redis_url: str | None = None
    jwt_issuer: str = "trellis"
    jwt_audience: str = "trellis-api"
    jwt_private_key: str | None = field(default=None, repr=False)
    jwt_key_id: str = "trellis-1"
    refresh_token_key: bytes | None = field(default=None, repr=False)
    access_token_ttl_seconds: int = 900
    refresh_token_ttl_seconds: int = 14 * 24 * 3600
    password_hash_time_cost: int = 2
    password_hash_memory_kib: int = 19 * 1024
    cors_allowed_origins: tuple[str, ...] = ()
    request_max_body_bytes: int = 1024 * 1024
    # OpenID Connect providers (issue 7)
    oidc_providers: tuple[OidcProviderSettings, ...] = ()
    # observability (issue 11)
    log_file: str | None = None
    log_file_max_bytes: int = 10 * 1024 * 1024
    log_file_backups: int = 5
    otel_exporter_otlp_endpoint: str | None = None
    otel_service_name: str = "trellis-api"
    # read cache, rate limits (issue 5)
    cache_ttl_seconds: int = 60  # 0: no read cache (reads go to the repositories; bench's uncached runs)
    rate_limit_default: str = "120/minute"
    rate_limit_auth: str = "10/minute"
    trusted_proxy_header: str | None = None
    # files (issue 8): Azure Blob Storage when the connection string is set, else local disk
    azure_storage_connection_string: str | None = field(default=None, repr=False)
    azure_storage_container: str = "trellis-files"
    file_storage_root: str = "./var/files"
    file_max_bytes: int = 5 * 1024 * 1024
    file_allowed_types: tuple[str, ...] = ("image/png", "image/jpeg", "image/gif", "image/webp", "application/pdf")
    file_chunked_max_bytes: int = 1024 * 1024 * 1024
    # weather and text analysis (issue 9)
    openweather_api_key: str | None = field(default=None, repr=False)
    openweather_base_url: str = "https://api.openweathermap.org"
    weather_cache_seconds: int = 600
    azure_language_endpoint: str | None = None
    azure_language_key: str | None = field(default=None, repr=False)
    # background and scheduled jobs, import/export (issue 10)
    job_queue: Literal["memory", "redis"] = "memory"
    job_max_attempts: int = 3
    job_backoff_seconds: float = 2.0
    job_timeout_seconds: int = 600
    worker_concurrency: int = 4
    worker_shutdown_grace_seconds: int = 25
    # Prometheus endpoint of ``trellis worker`` / ``trellis scheduler`` (off when the port is unset)
    worker_metrics_port: int | None = None
    worker_metrics_host: str = "127.0.0.1"
    retention_days: int = 30
    import_max_bytes: int = 20 * 1024 * 1024
    export_inline_max_tasks: int = 5000
    export_retention_seconds: int = 24 * 3600
    schedule_expire_seconds: int = 3600
    schedule_purge_seconds: int = 24 * 3600
    schedule_progress_seconds: int = 3600
    schedule_digest_seconds: int = 24 * 3600
    schedule_weather_seconds: int = 3 * 3600
    provider_retry_backoff_ms: int = 500  # first retry delay of the weather and Azure adapters (doubles)
    language_timeout_seconds: int = 10  # one Azure AI Language request (read timeout)
    language_budget_seconds: int = 15  # one analysis: every request, retry and backoff of it
    # the circuit breaker of weather, Azure AI Language and each OpenID provider
    provider_breaker_threshold: int = 5  # consecutive failures that open it
    provider_breaker_cooldown_seconds: int = 30  # how long it stays open before one trial call
    # the e-mail notifier of the overdue digest (issue 10): SMTP when SMTP_URL is set, else the log
    smtp: SmtpSettings | None = None

    @property
    def production(self) -> bool:
        return self.app_env == "production"

    def production_problems(self) -> list[str]:
        """Each unsafe default production must not run on, as 'VARIABLE: why'."""
        problems: list[str] = []
        if self.mongodb_url is None:
            problems.append("MONGODB_URL: in-memory storage loses every record on restart")
        if self.redis_url is None:
            problems.append("REDIS_URL: in-process refresh tokens, rate limits and cache do not survive restarts")
        if self.jwt_private_key is None:
            problems.append("JWT_PRIVATE_KEY: a generated signing key invalidates tokens on restart")
        if self.refresh_token_key is None:
            problems.append("REFRESH_TOKEN_KEY: a generated refresh-token key invalidates sessions on restart")
        if not self.cors_allowed_origins or "*" in self.cors_allowed_origins:
            problems.append("CORS_ALLOWED_ORIGINS: list the trusted origins explicitly (no wildcard)")
        for provider in self.oidc_providers:
            if not provider.client_secret:
                problems.append(f"{provider.env_prefix}_CLIENT_SECRET: the OIDC provider needs its client secret")
            if not _https_or_local(provider.issuer):
                problems.append(f"{provider.env_prefix}_ISSUER: an OIDC issuer must be an https URL (or a local one)")
        if self.smtp is not None and self.smtp.security == "none" and not self.smtp.loopback:
            problems.append("SMTP_URL: smtp+insecure:// sends mail and password in the clear; use smtp:// or smtps://")
        return problems


def _int(env: Mapping[str, str], name: str, default: int, low: int, high: int) -> int:
    raw = env.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise SettingsError(f"{name} must be an integer, got {raw!r}") from None
    if not low <= value <= high:
        raise SettingsError(f"{name} must be between {low} and {high}, got {value}")
    return value


def _rate(env: Mapping[str, str], name: str, default: str) -> str:
    """A rate in the ``limits`` notation: ``120/minute``, ``10 per 5 minutes``, ``1000/hour``."""
    import limits

    raw = env.get(name, "").strip()
    if not raw:
        return default
    try:
        item = limits.parse(raw)
    except ValueError:
        item = None
    if item is None or item.amount < 1:
        raise SettingsError(f"{name} must look like 120/minute (N per second, minute, hour or day), got {raw!r}")
    return raw


def _optional(env: Mapping[str, str], name: str) -> str | None:
    value = env.get(name, "").strip()
    return value or None


def read_dotenv(path: Path) -> dict[str, str]:
    """``KEY=VALUE`` lines; ``#`` comments and blank lines skipped; optional quotes removed.

    Written by hand: the format we accept is this small, and it keeps a dependency out.
    """
    values: dict[str, str] = {}
    if not path.is_file():
        return values
    for line in path.read_text(encoding="utf-8").splitlines():
        stripped = line.strip()
        if not stripped or stripped.startswith("#") or "=" not in stripped:
            continue
        key, _, value = stripped.partition("=")
        value = value.strip()
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
            value = value[1:-1]
        values[key.strip().removeprefix("export ").strip()] = value
    return values


def _https_or_local(url: str) -> bool:
    """https, or plain http to this machine (compose's Keycloak at keycloak.localhost)."""
    if url.startswith("https://"):
        return True
    host = url.removeprefix("http://").split("/", 1)[0].rsplit(":", 1)[0].lower()
    return host in ("localhost", "127.0.0.1", "[::1]") or host.endswith(".localhost")


_OIDC_ISSUER = re.compile(r"^OIDC_(?P<name>[A-Z0-9]{1,32})_ISSUER$")


def _oidc_providers(env: Mapping[str, str], port: int) -> tuple[OidcProviderSettings, ...]:
    """Every ``OIDC_<NAME>_ISSUER`` with its client id (required) and redirect URI.

    The redirect URI defaults to ``http://localhost:<PORT>/api/v1/auth/oidc/<name>/callback``
    (what the compose Keycloak realm registers); anywhere else, set it to the public URL.
    """
    providers: list[OidcProviderSettings] = []
    for key in sorted(env):
        match = _OIDC_ISSUER.match(key)
        issuer = _optional(env, key)
        if match is None or issuer is None:
            continue
        prefix = f"OIDC_{match.group('name')}"
        client_id = _optional(env, f"{prefix}_CLIENT_ID")
        redirect_uri = _optional(env, f"{prefix}_REDIRECT_URI")
        if client_id is None:
            raise SettingsError(f"{prefix}_CLIENT_ID must be set when {key} is")
        if redirect_uri is None:
            redirect_uri = f"http://localhost:{port}/api/v1/auth/oidc/{match.group('name').lower()}/callback"
        if not redirect_uri.startswith(("https://", "http://")):
            raise SettingsError(f"{prefix}_REDIRECT_URI must be the absolute URL of /api/v1/auth/oidc/<name>/callback")
        if not issuer.startswith(("https://", "http://")):
            raise SettingsError(f"{key} must be the provider's issuer URL")
        providers.append(
            OidcProviderSettings(
                name=match.group("name").lower(),
                issuer=issuer.rstrip("/"),
                client_id=client_id,
                client_secret=_optional(env, f"{prefix}_CLIENT_SECRET"),
                redirect_uri=redirect_uri,
            )
        )
    return tuple(providers)


def _providers(env: Mapping[str, str]) -> dict[str, Any]:
    """OpenWeatherMap and Azure AI Language (issue 9): an endpoint without its key (or the reverse)
    is refused, naming the missing variable."""
    endpoint, key = _optional(env, "AZURE_LANGUAGE_ENDPOINT"), _optional(env, "AZURE_LANGUAGE_KEY")
    if (endpoint is None) != (key is None):
        missing = "AZURE_LANGUAGE_KEY" if key is None else "AZURE_LANGUAGE_ENDPOINT"
        raise SettingsError(f"{missing} must be set too: Azure AI Language needs both its endpoint and its key")
    if endpoint is not None and not endpoint.startswith(("https://", "http://")):
        raise SettingsError("AZURE_LANGUAGE_ENDPOINT must be https://<resource>.cognitiveservices.azure.com")
    base_url = _optional(env, "OPENWEATHER_BASE_URL") or "https://api.openweathermap.org"
    if not base_url.startswith(("https://", "http://")):
        raise SettingsError("OPENWEATHER_BASE_URL must be an http(s) URL")
    return {
        "openweather_api_key": _optional(env, "OPENWEATHER_API_KEY"),
        "openweather_base_url": base_url.rstrip("/"),
        "weather_cache_seconds": _int(env, "WEATHER_CACHE_SECONDS", 600, 1, 24 * 3600),
        "azure_language_endpoint": endpoint.rstrip("/") if endpoint else None,
        "azure_language_key": key,
        "provider_retry_backoff_ms": _int(env, "PROVIDER_RETRY_BACKOFF_MS", 500, 0, 60_000),
        "language_timeout_seconds": _int(env, "LANGUAGE_TIMEOUT_SECONDS", 10, 1, 120),
        "language_budget_seconds": _int(env, "LANGUAGE_BUDGET_SECONDS", 15, 1, 600),
        "provider_breaker_threshold": _int(env, "PROVIDER_BREAKER_THRESHOLD", 5, 1, 1000),
        "provider_breaker_cooldown_seconds": _int(env, "PROVIDER_BREAKER_COOLDOWN_SECONDS", 30, 1, 3600),
    }


def load_settings(environ: Mapping[str, str] | None = None, dotenv: Path | None = Path(".env")) -> Settings:
    env = dict(os.environ if environ is None else environ)
    app_env = env.get("APP_ENV", "development").strip() or "development"
    if app_env not in APP_ENVS:
        raise SettingsError(f"APP_ENV must be one of {', '.join(APP_ENVS)}, got {app_env!r}")
    if app_env == "development" and dotenv is not None:
        env = {**read_dotenv(dotenv), **env}

    log_format = env.get("LOG_FORMAT", "json" if app_env == "production" else "console")
    if log_format not in ("console", "json"):
        raise SettingsError(f"LOG_FORMAT must be console or json, got {log_format!r}")
    log_level = env.get("LOG_LEVEL", "INFO").upper()
    if log_level not in ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"):
        raise SettingsError(f"LOG_LEVEL must be DEBUG, INFO, WARNING, ERROR or CRITICAL, got {log_level!r}")

    refresh_key: bytes | None = None
    if raw_key := _optional(env, "REFRESH_TOKEN_KEY"):
        try:
            refresh_key = base64.b64decode(raw_key, validate=True)
        except (binascii.Error, ValueError):
            raise SettingsError("REFRESH_TOKEN_KEY must be base64 of 32 random bytes") from None
        if len(refresh_key) != 32:
            raise SettingsError("REFRESH_TOKEN_KEY must be base64 of exactly 32 bytes")

    private_key = _optional(env, "JWT_PRIVATE_KEY")
    if private_key is None and (key_file := _optional(env, "JWT_PRIVATE_KEY_FILE")):
        try:
            private_key = Path(key_file).read_text(encoding="utf-8")
        except OSError as exc:
            raise SettingsError(f"JWT_PRIVATE_KEY_FILE cannot be read: {exc.strerror}") from None

    origins = tuple(o.strip() for o in env.get("CORS_ALLOWED_ORIGINS", "").split(",") if o.strip())

    oidc_providers = _oidc_providers(env, _int(env, "PORT", 8000, 1, 65535))

    return Settings(
        app_env=app_env,
        host=env.get("HOST", "127.0.0.1"),
        port=_int(env, "PORT", 8000, 1, 65535),
        log_level=log_level,
        log_format=cast(Literal["console", "json"], log_format),
        mongodb_url=_optional(env, "MONGODB_URL"),
        mongodb_database=env.get("MONGODB_DATABASE", "trellis") or "trellis",
        redis_url=_optional(env, "REDIS_URL"),
        jwt_issuer=env.get("JWT_ISSUER", "trellis") or "trellis",
        jwt_audience=env.get("JWT_AUDIENCE", "trellis-api") or "trellis-api",
        jwt_private_key=private_key,
        jwt_key_id=env.get("JWT_KEY_ID", "trellis-1") or "trellis-1",
        refresh_token_key=refresh_key,
        access_token_ttl_seconds=_int(env, "ACCESS_TOKEN_TTL_SECONDS", 900, 60, 24 * 3600),
        refresh_token_ttl_seconds=_int(env, "REFRESH_TOKEN_TTL_SECONDS", 14 * 24 * 3600, 300, 365 * 24 * 3600),
        password_hash_time_cost=_int(env, "PASSWORD_HASH_TIME_COST", 2, 1, 20),
        password_hash_memory_kib=_int(env, "PASSWORD_HASH_MEMORY_KIB", 19 * 1024, 8, 4 * 1024 * 1024),
        cors_allowed_origins=origins,
        request_max_body_bytes=_int(env, "REQUEST_MAX_BODY_BYTES", 1024 * 1024, 1024, 64 * 1024 * 1024),
        oidc_providers=oidc_providers,
        log_file=_optional(env, "LOG_FILE"),
        log_file_max_bytes=_int(env, "LOG_FILE_MAX_BYTES", 10 * 1024 * 1024, 1024, 1024 * 1024 * 1024),
        log_file_backups=_int(env, "LOG_FILE_BACKUPS", 5, 0, 100),
        otel_exporter_otlp_endpoint=_optional(env, "OTEL_EXPORTER_OTLP_ENDPOINT"),
        otel_service_name=_optional(env, "OTEL_SERVICE_NAME") or "trellis-api",
        cache_ttl_seconds=_int(env, "CACHE_TTL_SECONDS", 60, 0, 24 * 3600),
        rate_limit_default=_rate(env, "RATE_LIMIT_DEFAULT", "120/minute"),
        rate_limit_auth=_rate(env, "RATE_LIMIT_AUTH", "10/minute"),
        trusted_proxy_header=(_optional(env, "TRUSTED_PROXY_HEADER") or "").lower() or None,
        azure_storage_connection_string=_optional(env, "AZURE_STORAGE_CONNECTION_STRING"),
        azure_storage_container=_optional(env, "AZURE_STORAGE_CONTAINER") or "trellis-files",
        file_storage_root=_optional(env, "FILE_STORAGE_ROOT") or "./var/files",
        file_max_bytes=_int(env, "FILE_MAX_BYTES", 5 * 1024 * 1024, 1, 1024 * 1024 * 1024),
        file_allowed_types=tuple(
            t.strip().lower()
            for t in (
                _optional(env, "FILE_ALLOWED_TYPES") or "image/png,image/jpeg,image/gif,image/webp,application/pdf"
            ).split(",")
            if t.strip()
        ),
        file_chunked_max_bytes=_int(env, "FILE_CHUNKED_MAX_BYTES", 1024 * 1024 * 1024, 1, 1024**4),
        **_providers(env),
        **_jobs(env),
        smtp=_smtp(env),
    )


def _jobs(env: Mapping[str, str]) -> dict[str, Any]:
    """Issue 10: JOB_QUEUE (memory|redis; redis when REDIS_URL is set), retries, retention, imports, schedules."""
    queue = (_optional(env, "JOB_QUEUE") or ("redis" if _optional(env, "REDIS_URL") else "memory")).lower()
    if queue not in ("memory", "redis"):
        raise SettingsError(f"JOB_QUEUE must be memory or redis, got {queue!r}")
    if queue == "redis" and not _optional(env, "REDIS_URL"):
        raise SettingsError("JOB_QUEUE=redis needs REDIS_URL")
    return {
        "job_queue": queue,
        "job_max_attempts": _int(env, "JOB_MAX_ATTEMPTS", 3, 1, 20),
        "job_backoff_seconds": _int(env, "JOB_BACKOFF_MS", 2000, 0, 600_000) / 1000,
        "job_timeout_seconds": _int(env, "JOB_TIMEOUT_SECONDS", 600, 1, 24 * 3600),
        "worker_concurrency": _int(env, "WORKER_CONCURRENCY", 4, 1, 256),
        "worker_shutdown_grace_seconds": _int(env, "WORKER_SHUTDOWN_GRACE_SECONDS", 25, 0, 3600),
        "worker_metrics_port": _int(env, "WORKER_METRICS_PORT", 9100, 1, 65535)
        if _optional(env, "WORKER_METRICS_PORT")
        else None,
        "worker_metrics_host": _optional(env, "WORKER_METRICS_HOST") or "127.0.0.1",
        "retention_days": _int(env, "RETENTION_DAYS", 30, 1, 3650),
        "import_max_bytes": _int(env, "IMPORT_MAX_BYTES", 20 * 1024 * 1024, 1, 1024**3),
        "export_inline_max_tasks": _int(env, "EXPORT_INLINE_MAX_TASKS", 5000, 0, 10_000_000),
        "export_retention_seconds": _int(env, "EXPORT_RETENTION_SECONDS", 24 * 3600, 60, 365 * 24 * 3600),
        "schedule_expire_seconds": _int(env, "SCHEDULE_EXPIRE_SECONDS", 3600, 1, 30 * 24 * 3600),
        "schedule_purge_seconds": _int(env, "SCHEDULE_PURGE_SECONDS", 24 * 3600, 1, 30 * 24 * 3600),
        "schedule_progress_seconds": _int(env, "SCHEDULE_PROGRESS_SECONDS", 3600, 1, 30 * 24 * 3600),
        "schedule_digest_seconds": _int(env, "SCHEDULE_DIGEST_SECONDS", 24 * 3600, 1, 30 * 24 * 3600),
        "schedule_weather_seconds": _int(env, "SCHEDULE_WEATHER_SECONDS", 3 * 3600, 1, 30 * 24 * 3600),
    }
