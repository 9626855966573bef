"""Run mongoeco's MongoDB-wire server on a loopback port until SIGTERM/SIGINT.

Usage (from the venv made by ``tools/mongo/install.sh``, Python >= 3.13)::

    tools/mongo/.venv/bin/python tools/mongo/serve.py --port 27018

Clients connect with ``mongodb://127.0.0.1:PORT/?directConnection=true``. Data lives in
memory and is gone when the process ends. With ``--exit-with-parent`` it also stops when the
process that started it dies (so a killed test run leaves no server behind). Test use only:
this is not a MongoDB server.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import signal

from mongoeco.wire import AsyncMongoEcoProxyServer


async def watch_parent(parent: int, stop: asyncio.Event) -> None:
    while os.getppid() == parent:  # noqa: ASYNC110 - nothing signals a parent death; poll it
        await asyncio.sleep(1.0)
    stop.set()


async def serve(host: str, port: int, exit_with_parent: bool) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    watcher = asyncio.create_task(watch_parent(os.getppid(), stop)) if exit_with_parent else None
    async with AsyncMongoEcoProxyServer(host=host, port=port) as server:
        print(f"mongoeco wire server listening on {server.address.uri}", flush=True)
        await stop.wait()
    if watcher is not None:
        watcher.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await watcher
    print("mongoeco wire server stopped", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--exit-with-parent", action="store_true", help="stop when the parent process dies")
    args = parser.parse_args()
    asyncio.run(serve(args.host, args.port, args.exit_with_parent))


if __name__ == "__main__":
    main()
