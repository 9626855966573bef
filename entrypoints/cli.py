"""``trellis``: serve the API, seed demo data."""

from __future__ import annotations

import argparse
import asyncio
import socket
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

        async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
            """Stop accepting, then close live-event websockets with 1001 (going away) before
            uvicorn closes what is left of them with 1012; then uvicorn's own graceful shutdown."""
            for listener in self.servers:
                listener.close()
            container = getattr(app.state, "container", None)
            live = getattr(container, "live", None)
            if live is not None:
                try:
                    async with asyncio.timeout(5.0):
                        log.info("live_connections_going_away", count=await live.going_away())
                except TimeoutError:
                    log.warning("live_connections_going_away_timed_out")
            await super().shutdown(sockets)

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


def _jobs_command(settings: Settings, args: argparse.Namespace) -> int:
    """Issue 10: ``worker``, ``scheduler`` and ``import`` (entrypoints/worker.py, entrypoints/transfer_cli.py)."""
    from entrypoints.worker import run_scheduler, run_worker

    if args.command == "worker":
        return asyncio.run(run_worker(settings, with_scheduler=args.with_scheduler))
    if args.command == "scheduler":
        return asyncio.run(run_scheduler(settings))
    from entrypoints.worker import run_import_command

    return asyncio.run(run_import_command(settings, args.file, args.project, args.mode, args.as_user))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="trellis", description="Trellis project-board backend")
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("serve", help="run the HTTP API (HOST/PORT, default 127.0.0.1:8000)")
    seed_parser = commands.add_parser("seed", help="create demo users, projects and tasks (idempotent)")
    seed_parser.add_argument("--force", action="store_true", help="allow APP_ENV=production (initial admin only)")
    worker_parser = commands.add_parser("worker", help="run queued jobs (SAQ on Redis) until SIGTERM")
    worker_parser.add_argument("--with-scheduler", action="store_true", help="run the scheduled jobs here too")
    commands.add_parser("scheduler", help="run the scheduled jobs (purge, progress repair, overdue digest)")
    import_parser = commands.add_parser("import", help="import tasks from a CSV, JSON or XML file into a project")
    import_parser.add_argument("file", help="the file (.csv, .json or .xml)")
    import_parser.add_argument("--project", required=True, help="the project id")
    import_parser.add_argument("--mode", choices=["atomic", "partial"], default="atomic")
    import_parser.add_argument("--as-user", dest="as_user", help="e-mail of the importing user (default: an admin)")
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
        if args.command in ("worker", "scheduler", "import"):
            return _jobs_command(settings, args)
        return seed(settings, args.force)
    except SettingsError as exc:
        print(f"trellis: configuration error: {exc}", file=sys.stderr)  # noqa: T201
        return 2


if __name__ == "__main__":
    raise SystemExit(main())
