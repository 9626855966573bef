"""The HTTP suite's fixtures (one app, a fresh container per test, never a 500) for content tests."""

from tests.integration.http.conftest import api, app, client, member, other

__all__ = ["api", "app", "client", "member", "other"]
