"""``since``: missed messages still in history are replayed in order, once; else ``reset``."""

from __future__ import annotations

from typing import Any

from entrypoints.ws.backends import SequencedMemoryBackend
from tests.integration.ws.conftest import LiveServer, nothing_more, receive, receive_until, subscribe


async def _rename(live: LiveServer, owner: Any, project_id: str, title: str) -> None:
    response = await live.api.client.patch(
        f"/api/v1/projects/{project_id}", json={"title": title}, headers=owner.headers
    )
    assert response.status_code == 200, response.text


async def test_reconnect_with_since_replays_exactly_the_missed_events(live: LiveServer) -> None:
    owner = await live.api.member()
    project = await live.api.create_project(owner, title="T0")
    channel = f"project:{project['id']}"
    async with live.socket(owner) as ws:
        await subscribe(ws, channel)
        await _rename(live, owner, project["id"], "T1")
        last_seen = (await receive(ws))["seq"]
    for n in range(2, 7):  # missed while away
        await _rename(live, owner, project["id"], f"T{n}")
    async with live.socket(owner) as ws:
        assert (await subscribe(ws, channel, since=last_seen))["type"] == "subscribed"
        replayed = await receive_until(ws, lambda m: m.get("data", {}).get("title") == "T6")
        assert [m["data"]["title"] for m in replayed] == ["T2", "T3", "T4", "T5", "T6"]
        assert [m["seq"] for m in replayed] == list(range(last_seen + 1, last_seen + 6))
        await _rename(live, owner, project["id"], "T7")  # then live, numbered on
        live_one = await receive(ws)
        assert (live_one["data"]["title"], live_one["seq"]) == ("T7", last_seen + 6)
        await nothing_more(ws)


async def test_since_per_channel_and_nothing_missed(live: LiveServer) -> None:
    owner = await live.api.member()
    project = await live.api.create_project(owner)
    channel = f"project:{project['id']}"
    async with live.socket(owner) as ws:
        await subscribe(ws, channel)
        await _rename(live, owner, project["id"], "A")
        seq = (await receive(ws))["seq"]
    async with live.socket(owner) as ws:
        reply = await subscribe(ws, channel, "user:me", since={channel: seq})
        assert reply == {"type": "subscribed", "channels": [channel, f"user:{owner.user_id}"]}
        await nothing_more(ws)


async def test_history_that_no_longer_reaches_back_says_reset(live: LiveServer) -> None:
    owner = await live.api.member()
    assert live.container.live is not None
    backend = live.container.live.backend
    assert isinstance(backend, SequencedMemoryBackend)
    backend._limit = 3  # a short history for this test's channels
    project = await live.api.create_project(owner)
    channel = f"project:{project['id']}"
    async with live.socket(owner) as ws:
        await subscribe(ws, channel)
        await _rename(live, owner, project["id"], "first")
        seq = (await receive(ws))["seq"]
    for n in range(5):
        await _rename(live, owner, project["id"], f"gone {n}")
    async with live.socket(owner) as ws:
        await subscribe(ws, channel, since=seq)
        assert await receive(ws) == {"type": "reset", "channel": channel}
        await nothing_more(ws)  # no partial replay after a reset
        await _rename(live, owner, project["id"], "after")
        assert (await receive(ws))["data"]["title"] == "after"


async def test_since_from_another_epoch_says_reset(live: LiveServer) -> None:
    owner = await live.api.member()
    project = await live.api.create_project(owner)
    channel = f"project:{project['id']}"
    async with live.socket(owner) as ws:
        await subscribe(ws, channel, since=10**17)  # larger than anything this channel has numbered
        assert await receive(ws) == {"type": "reset", "channel": channel}
        await subscribe(ws, "user:me", since=5)  # a channel with no messages at all
        assert await receive(ws) == {"type": "reset", "channel": f"user:{owner.user_id}"}
