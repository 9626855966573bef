"""Each route decodes its body into its own model, however many apps a process builds.

CPython reuses the ``id`` of a freed object, so a cache keyed by ``id(handler)`` can hand a new
app's handler the model of a dead app's handler (seen in practice: a sign-up rejected because
its body was decoded as another route's model). Here every id collides, which makes that reuse
certain instead of occasional.
"""

from __future__ import annotations

import pytest

from entrypoints.http import request as request_module
from tests.integration.http.helpers import Api, assert_success, running_api


async def test_each_handler_gets_its_own_body_model_even_when_ids_collide(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(request_module, "id", lambda _obj: 1, raising=False)

    async with running_api() as api:
        assert_success(await api.signup("collide@example.com"), 201)
        assert_success(await api.login("collide@example.com"))


async def test_apps_built_one_after_another_each_decode_their_bodies(api: Api) -> None:
    """The app from the fixture, then a second one: both accept a sign-up and a login."""
    assert_success(await api.signup("first@example.com"), 201)
    async with running_api() as second:
        assert_success(await second.signup("second@example.com"), 201)
        assert_success(await second.login("second@example.com"))
    assert_success(await api.login("first@example.com"))
