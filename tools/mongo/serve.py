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

from mongoeco.errors import OperationFailure
from mongoeco.wire import AsyncMongoEcoProxyServer
from mongoeco.wire.sessions import WireSessionStore

WRITE_CONFLICT = 112


def abort_on_failed_commit() -> None:
    """Make a failed commit end its transaction, as MongoDB does.

    mongoeco 4.11 detects a write conflict at commit but leaves the transaction open on the
    server session; the driver then returns that session to its pool and the next operation
    that reuses it runs inside the zombie transaction and reads its uncommitted writes.
    MongoDB aborts a transaction whose commit fails and labels a write conflict
    ``TransientTransactionError`` (code 112, WriteConflict): so do we.
    """
    original = WireSessionStore.commit_transaction

    def commit_transaction(self: WireSessionStore, body: dict[str, object]) -> dict[str, object]:
        try:
            return original(self, body)
        except OperationFailure as error:
            session = self._require_session(body)
            if session.transaction_active:
                session.abort_transaction()
            if error.code in (None, WRITE_CONFLICT) and "conflict" in str(error).lower():
                raise OperationFailure(
                    "WriteConflict: the transaction conflicted with a concurrent write and was aborted",
                    code=WRITE_CONFLICT,
                    error_labels=("TransientTransactionError",),
                ) from error
            raise

    WireSessionStore.commit_transaction = commit_transaction  # type: ignore[method-assign]


async def watch_parent(parent: int, stop: asyncio.Event) -> None:
    while os.getppid() == parent:  # noqa: ASYNC110 - nothing signals a parent death; poll it
        await asyncio.sleep(1.0)
    stop.set()


async def serve(host: str, port: int, exit_with_parent: bool) -> None:
    abort_on_failed_commit()
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
