"""Fixtures for the identity suite: one app for the session, a fresh container per test.

The app is built as the service builds it (``bootstrap`` + ``create_app``) on embedded
defaults; each test's container replaces the app's own in ``app.state`` (empty stores).
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient

from entrypoints.bootstrap import bootstrap
from entrypoints.http.app import create_app
from tests.integration.http.helpers import Api, Member, make_settings


@pytest.fixture(scope="session")
def identity_app() -> Litestar:
    return create_app(make_settings())


@pytest.fixture
async def api(identity_app: Litestar) -> AsyncIterator[Api]:
    container = await bootstrap(make_settings())
    try:
        async with AsyncTestClient(identity_app) as client:
            identity_app.state.container = container
            yield Api(client=client, container=container)
    finally:
        await container.close()


@pytest.fixture
async def admin(api: Api) -> Member:
    return await api.admin()


@pytest.fixture
async def member(api: Api) -> Member:
    return await api.member()
