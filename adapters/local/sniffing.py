"""``ContentSniffer`` on puremagic (magic numbers, pure Python): never the client's word."""

from __future__ import annotations

import puremagic


class MagicSniffer:
    def sniff(self, head: bytes) -> str | None:
        if not head:
            return None
        try:
            matches = puremagic.magic_string(head)
        except (puremagic.PureError, ValueError):
            return None
        for match in matches:  # best first
            if match.mime_type:
                return str(match.mime_type)
        return None
