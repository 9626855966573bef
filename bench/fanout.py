"""Websocket subscribers for the fan-out scenario of ``bench/run.py`` (one process of several).

    python bench/fanout.py --url ws://127.0.0.1:PORT/api/v1/ws --token T --channel project:ID \\
        --clients 500 --writes 20 --timeout 120

Opens ``--clients`` websocket connections (at most 50 handshakes at a time), authenticates each
(``{"type": "auth"}``) and subscribes it to ``--channel``; prints ``READY <n>`` once all are
subscribed. Then every client records ``time.monotonic()`` (system-wide CLOCK_MONOTONIC, so
comparable with the writer's clock in another process) the moment each ``task.created`` event
arrives, until it has seen ``--writes`` of them or ``--timeout`` passes. Prints one line
``RESULT {"receipts": {task_id: [t, …]}, "failed": n, "closed": n}`` and exits.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import sys
import time
from typing import Any

from websockets.asyncio.client import ClientConnection, connect

HANDSHAKES = 50


async def open_client(url: str, token: str, channel: str, gate: asyncio.Semaphore) -> ClientConnection:
    async with gate:
        ws = await connect(url, open_timeout=60, ping_interval=None, max_queue=None)
        await ws.send(json.dumps({"type": "auth", "token": token}))
        await expect(ws, "authenticated")
        await ws.send(json.dumps({"type": "subscribe", "channels": [channel]}))
        await expect(ws, "subscribed")
        return ws


async def expect(ws: ClientConnection, kind: str) -> None:
    while True:
        message = json.loads(await asyncio.wait_for(ws.recv(), timeout=60))
        if message.get("type") == kind:
            return
        if message.get("type") == "error":
            raise RuntimeError(f"server said {message}")


async def listen(ws: ClientConnection, writes: int, receipts: dict[str, list[float]], counts: list[int]) -> None:
    seen = 0
    try:
        async for raw in ws:
            now = time.monotonic()
            message: dict[str, Any] = json.loads(raw)
            if message.get("type") == "event" and message.get("event") == "task.created":
                task_id = str((message.get("data") or {}).get("task_id", ""))
                receipts.setdefault(task_id, []).append(now)
                seen += 1
                if seen >= writes:
                    return
    except Exception:  # a closed connection: counted, the others carry on
        counts[0] += 1


async def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--url", required=True)
    parser.add_argument("--token", required=True)
    parser.add_argument("--channel", required=True)
    parser.add_argument("--clients", type=int, default=500)
    parser.add_argument("--writes", type=int, default=20)
    parser.add_argument("--timeout", type=float, default=120.0)
    args = parser.parse_args()
    gate = asyncio.Semaphore(HANDSHAKES)
    opened = await asyncio.gather(
        *(open_client(args.url, args.token, args.channel, gate) for _ in range(args.clients)), return_exceptions=True
    )
    clients = [ws for ws in opened if isinstance(ws, ClientConnection)]
    failed = len(opened) - len(clients)
    for error in (e for e in opened if isinstance(e, BaseException)):
        print(f"fanout: a client failed to subscribe: {error!r}", file=sys.stderr)
        break
    print(f"READY {len(clients)}", flush=True)
    receipts: dict[str, list[float]] = {}
    closed = [0]
    listeners = [asyncio.create_task(listen(ws, args.writes, receipts, closed)) for ws in clients]
    await asyncio.wait(listeners, timeout=args.timeout)
    for task in listeners:
        task.cancel()
    for ws in clients:
        with contextlib.suppress(Exception):
            await asyncio.wait_for(ws.close(), timeout=2)
    print("RESULT " + json.dumps({"receipts": receipts, "failed": failed, "closed": closed[0]}), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
