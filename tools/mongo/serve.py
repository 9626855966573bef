"""Run mongoeco's MongoDB-wire server on a loopback port until SIGTERM/SIGINT.

Usage (from the venv made by ``tools/mongo/install.sh``, Python >= 3.13)::

    tools/mongo/.venv/bin/python tools/mongo/serve.py --port 27018

Clients connect with ``mongodb://127.0.0.1:PORT/?directConnection=true``. Data lives in
memory and is gone when the process ends. Test use only: this is not a MongoDB server.
"""

from __future__ import annotations

import argparse
import asyncio
import signal

from mongoeco.wire import AsyncMongoEcoProxyServer


async def serve(host: str, port: int) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    async with AsyncMongoEcoProxyServer(host=host, port=port) as server:
        print(f"mongoeco wire server listening on {server.address.uri}", flush=True)
        await stop.wait()
    print("mongoeco wire server stopped", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--host", default="127.0.0.1")
    args = parser.parse_args()
    asyncio.run(serve(args.host, args.port))


if __name__ == "__main__":
    main()
