"""``trellis``: serve the API, seed demo data."""

from __future__ import annotations

import argparse
import asyncio
import sys
from types import FrameType

import structlog

from entrypoints.logging import configure_logging
from entrypoints.settings import Settings, SettingsError, load_settings

log = structlog.get_logger("trellis.cli")


def serve(settings: Settings) -> int:
    import uvicorn

    class GracefulServer(uvicorn.Server):
        """uvicorn re-raises SIGTERM/SIGINT after its graceful shutdown (exit 143/130); a stop
        we were asked for and completed is a success, so the process exits 0 instead."""

        def handle_exit(self, sig: int, frame: FrameType | None) -> None:
            super().handle_exit(sig, frame)
            self._captured_signals.clear()

    from entrypoints.http.app import create_app

    if settings.production and (problems := settings.production_problems()):
        raise SettingsError(f"APP_ENV=production refuses to start: set {problems[0]}")
    app = create_app(settings)
    config = uvicorn.Config(
        app,
        host=settings.host,
        port=settings.port,
        log_config=None,
        access_log=False,
        proxy_headers=False,
        timeout_graceful_shutdown=20,
        lifespan="on",
    )
    server = GracefulServer(config)
    log.info(
        "listening", url=f"http://{settings.host}:{settings.port}", docs=f"http://{settings.host}:{settings.port}/docs"
    )
    server.run()  # handles SIGINT/SIGTERM: stops accepting, finishes in-flight requests, runs shutdown
    return 0 if server.started else 1


def seed(settings: Settings, force: bool) -> int:
    from entrypoints.seed import run_seed

    return asyncio.run(run_seed(settings, force=force))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="trellis", description="Trellis project-board backend")
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("serve", help="run the HTTP API (HOST/PORT, default 127.0.0.1:8000)")
    seed_parser = commands.add_parser("seed", help="create demo users, projects and tasks (idempotent)")
    seed_parser.add_argument("--force", action="store_true", help="allow APP_ENV=production (initial admin only)")
    args = parser.parse_args(argv)

    try:
        settings = load_settings()
    except SettingsError as exc:
        print(f"trellis: configuration error: {exc}", file=sys.stderr)  # noqa: T201
        return 2
    configure_logging(
        settings.log_level,
        settings.log_format,
        log_file=settings.log_file,
        log_file_max_bytes=settings.log_file_max_bytes,
        log_file_backups=settings.log_file_backups,
    )
    try:
        if args.command == "serve":
            return serve(settings)
        return seed(settings, args.force)
    except SettingsError as exc:
        print(f"trellis: configuration error: {exc}", file=sys.stderr)  # noqa: T201
        return 2


if __name__ == "__main__":
    raise SystemExit(main())
