"""The websocket protocol of DESIGN §8 against the app on embedded defaults (in-process fan-out)."""

from __future__ import annotations

import asyncio
import json

import pytest
from websockets.exceptions import ConnectionClosed

from tests.integration.ws.conftest import LiveServer, nothing_more, receive, receive_until, subscribe


async def closed_with(ws: object, code: int) -> None:
    from websockets.asyncio.client import ClientConnection

    assert isinstance(ws, ClientConnection)

    async def drain() -> None:
        async with asyncio.timeout(5):
            while True:
                await ws.recv()

    with pytest.raises(ConnectionClosed) as closed:
        await drain()
    assert closed.value.rcvd is not None
    assert closed.value.rcvd.code == code


async def test_no_auth_message_in_time_closes_4401(live: LiveServer) -> None:
    assert live.container.live is not None
    live.container.live.limits.auth_timeout_seconds = 0.2
    async with live.socket() as ws:
        await closed_with(ws, 4401)


@pytest.mark.parametrize(
    "first",
    [
        {"type": "auth", "token": "not-a-jwt"},
        {"type": "auth"},
        {"type": "subscribe", "channels": ["user:me"]},
        "not json",
    ],
)
async def test_bad_first_message_closes_4401(live: LiveServer, first: object) -> None:
    async with live.socket() as ws:
        await ws.send(first if isinstance(first, str) else json.dumps(first))
        await closed_with(ws, 4401)


async def test_expired_token_closes_4401(live: LiveServer) -> None:
    member = await live.api.member()
    # a token signed by another key is as bad as an expired one: both fail verification
    other = await live.api.member()
    tampered = member.access_token[:-4] + ("AAAA" if not member.access_token.endswith("AAAA") else "BBBB")
    async with live.socket() as ws:
        await ws.send(json.dumps({"type": "auth", "token": tampered}))
        await closed_with(ws, 4401)
    async with live.socket(other) as ws:  # and a good one is accepted
        assert (await subscribe(ws, "user:me")) == {"type": "subscribed", "channels": [f"user:{other.user_id}"]}


async def test_personal_project_of_someone_else_is_a_forbidden_channel(live: LiveServer) -> None:
    owner = await live.api.member()
    other = await live.api.member()
    personal = await live.api.create_project(owner, visibility="personal")
    async with live.socket(other) as ws:
        for channel in (f"project:{personal['id']}", "project:missing", f"user:{owner.user_id}", "weird"):
            reply = await subscribe(ws, channel)
            assert reply == {"type": "error", "code": "forbidden_channel", "channel": channel}
    async with live.socket(owner) as ws:
        reply = await subscribe(ws, f"project:{personal['id']}")
        assert reply == {"type": "subscribed", "channels": [f"project:{personal['id']}"]}


async def test_task_change_reaches_subscribers_of_the_project(live: LiveServer) -> None:
    owner = await live.api.member()
    viewer = await live.api.member()
    project = await live.api.create_project(owner, visibility="public")
    task = await live.api.create_task(owner, project["id"], progress=0)
    channel = f"project:{project['id']}"
    async with live.socket(viewer) as ws:
        assert (await subscribe(ws, channel))["type"] == "subscribed"
        changed = await live.api.client.patch(
            f"/api/v1/tasks/{task['id']}", json={"progress": 40}, headers=owner.headers
        )
        assert changed.status_code == 200, changed.text
        messages = await receive_until(ws, lambda m: m.get("event") == "project.progress_changed")
    updated = messages[0]
    assert updated["type"] == "event"
    assert updated["channel"] == channel
    assert updated["event"] == "task.updated"
    assert updated["data"]["task_id"] == task["id"]
    assert updated["at"].endswith("Z")
    seqs = [m["seq"] for m in messages]
    assert seqs == list(range(seqs[0], seqs[0] + len(seqs)))


async def test_user_me_receives_own_events(live: LiveServer) -> None:
    owner = await live.api.member()
    async with live.socket(owner) as ws:
        await subscribe(ws, "user:me")
        project = await live.api.create_project(owner)
        event = await receive(ws)
    assert event["event"] == "project.created"
    assert event["channel"] == f"user:{owner.user_id}"
    assert event["data"]["project_id"] == project["id"]


async def test_project_turning_personal_stops_delivery_to_others(live: LiveServer) -> None:
    owner = await live.api.member()
    viewer = await live.api.member()
    project = await live.api.create_project(owner, visibility="public")
    channel = f"project:{project['id']}"
    async with live.socket(viewer) as viewer_ws, live.socket(owner) as owner_ws:
        await subscribe(viewer_ws, channel)
        await subscribe(owner_ws, channel)
        hidden = await live.api.client.patch(
            f"/api/v1/projects/{project['id']}", json={"visibility": "personal"}, headers=owner.headers
        )
        assert hidden.status_code == 200, hidden.text
        assert await receive(viewer_ws) == {"type": "error", "code": "forbidden_channel", "channel": channel}
        assert (await receive(owner_ws))["event"] == "project.updated"
        await live.api.create_task(owner, project["id"], title="Secret")
        owner_sees = await receive_until(owner_ws, lambda m: m.get("event") == "task.created")
        assert owner_sees[-1]["data"]["title"] == "Secret"
        await nothing_more(viewer_ws)
        # and it cannot subscribe again
        assert (await subscribe(viewer_ws, channel))["code"] == "forbidden_channel"


async def test_unsubscribe_stops_delivery(live: LiveServer) -> None:
    owner = await live.api.member()
    project = await live.api.create_project(owner)
    channel = f"project:{project['id']}"
    async with live.socket(owner) as ws:
        await subscribe(ws, channel)
        await ws.send(json.dumps({"type": "unsubscribe", "channels": [channel]}))
        assert await receive(ws) == {"type": "unsubscribed", "channels": [channel]}
        await live.api.create_task(owner, project["id"])
        await nothing_more(ws)


async def test_ping_pong_and_bad_messages(live: LiveServer) -> None:
    owner = await live.api.member()
    assert live.container.live is not None
    live.container.live.limits.ping_seconds = 0.1
    async with live.socket(owner) as ws:
        raw = await asyncio.wait_for(ws.recv(), 2)
        assert json.loads(raw) == {"type": "ping"}
        await ws.send(json.dumps({"type": "ping"}))
        assert await receive(ws) == {"type": "pong"}
        await ws.send("[1, 2]")
        assert (await receive(ws))["code"] == "bad_message"
        await ws.send(json.dumps({"type": "subscribe", "channels": "user:me"}))
        assert (await receive(ws))["code"] == "bad_message"


async def test_limits_on_channels_and_message_size(live: LiveServer) -> None:
    owner = await live.api.member()
    assert live.container.live is not None
    live.container.live.limits.max_channels = 2
    first = await live.api.create_project(owner)
    second = await live.api.create_project(owner)
    async with live.socket(owner) as ws:
        await subscribe(ws, "user:me", f"project:{first['id']}")
        reply = await subscribe(ws, f"project:{second['id']}")
        assert reply == {"type": "error", "code": "too_many_channels", "channel": f"project:{second['id']}"}
        await ws.send(json.dumps({"type": "ping", "padding": "x" * 5000}))
        await closed_with(ws, 1009)
