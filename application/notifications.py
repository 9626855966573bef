"""``LiveNotifier``: every notification also reaches its recipient live, as a domain event.

It wraps the configured channel (the log by default, SMTP when configured): each message is
first published as ``notification.sent`` with ``user_id`` = the recipient — so the websocket
forwarder puts it on their ``user:<id>`` channel (``user:me``), and from a scheduler or worker
process it travels over the same Redis streams as every other event — then handed to the
configured channel, whose answer (True / False / ``NotificationFailed``) is the answer.

Why not a fan-out that reports "sent" when any channel sent: publishing an event cannot fail
for the caller (the publisher logs a forwarder that fails, as for every event), so such a
fan-out would report every delivery as sent and hide an e-mail server that is down — and the
overdue digest's "give up after N failures in a row" would never trigger, costing an SMTP
timeout per owner. The live event is best effort (at-most-once live plus bounded replay, like
every event); the configured channel stays the one that is counted.
"""

from __future__ import annotations

from application.common import EventBuffer, Ports
from domain import events as ev
from domain.ports import Notifier, Recipient


class LiveNotifier:
    """``Notifier`` that publishes ``notification.sent`` (``data``: ``subject``, ``body``) to the
    recipient's ``user:<id>`` channel, then delivers through ``channel`` and returns its result."""

    def __init__(self, ports: Ports, channel: Notifier) -> None:
        self._ports = ports
        self.channel = channel

    async def notify(self, recipient: Recipient, subject: str, body: str) -> bool:
        subject = " ".join(subject.split())  # one line, as on every channel
        buffer = EventBuffer(self._ports, None)  # sent by the system, no actor
        buffer.record(ev.NOTIFICATION_SENT, {"subject": subject, "body": body}, user_id=recipient.user_id)
        await buffer.publish()
        return await self.channel.notify(recipient, subject, body)

    def __repr__(self) -> str:
        return f"LiveNotifier({self.channel!r})"
