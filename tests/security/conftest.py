"""The OWASP API Security Top 10 (2023) suite: fixtures shared by its ten modules.

Every attack goes over HTTP to the app as the service builds it (``bootstrap`` + ``create_app``)
with the production token algorithm: RS256 with a key the suite knows (``SERVICE_PEM``), so
tokens can be forged against the real verifier. One app is built for the session; each test gets
a fresh container (empty stores) behind it. Rate limits are raised out of the way here; the
modules that attack the limits build apps with the real defaults (and on a real Redis, where the
counters live in production). Any 5xx other than 503 fails the test: an attack must never look
like a crash.
"""

from __future__ import annotations

import functools
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from pathlib import Path

import pytest
import pytest_asyncio
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from litestar import Litestar
from litestar.testing import AsyncTestClient

from entrypoints.http.app import create_app
from tests.integration.http.conftest import never_a_500
from tests.integration.http.helpers import Api, Member, api_on, make_settings

KID = "owasp-rs256"


def _rsa_pem() -> str:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()


SERVICE_PEM = _rsa_pem()
#: production's algorithm with a key the suite knows (loading an RSA key costs a few tenths of a
#: second per container, so only the token attacks use it; the rest run on the generated key)
RS256_ENV = {"JWT_PRIVATE_KEY": SERVICE_PEM, "JWT_KEY_ID": KID}
#: room for the helpers' sign-ups and reads; the modules that attack the limits set their own
SUITE_ENV = {"RATE_LIMIT_AUTH": "100000/minute", "RATE_LIMIT_DEFAULT": "100000/minute"}

ApiFactory = Callable[..., AbstractAsyncContextManager[Api]]


@functools.cache
def suite_app() -> Litestar:
    """The suite's one app (also read at collection time, to enumerate its routes)."""
    return create_app(make_settings(**SUITE_ENV))


@pytest.fixture(scope="session")
def app() -> Litestar:
    return suite_app()


@pytest.fixture
def storage_env(tmp_path: Path) -> dict[str, str]:
    return {"FILE_STORAGE_ROOT": str(tmp_path / "files"), "IMPORT_SPOOL_DIR": str(tmp_path / "imports")}


@pytest.fixture
async def api(app: Litestar, storage_env: dict[str, str]) -> AsyncIterator[Api]:
    async with api_on(app, **SUITE_ENV, **storage_env) as value, never_a_500(value):
        yield value


@pytest.fixture(scope="module")
def module_storage_env(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    root = tmp_path_factory.mktemp("storage")
    return {"FILE_STORAGE_ROOT": str(root / "files"), "IMPORT_SPOOL_DIR": str(root / "imports")}


@asynccontextmanager
async def module_scoped(**settings: str) -> AsyncIterator[Api]:
    """An app and container of its own that a whole module shares (its tests carry
    ``pytest.mark.asyncio(loop_scope="module")``): the session app must not be entered twice at once."""
    app = create_app(make_settings(**SUITE_ENV))
    async with api_on(app, **SUITE_ENV, **settings) as value, never_a_500(value):
        yield value


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def module_api(module_storage_env: dict[str, str]) -> AsyncIterator[Api]:
    """One container for a module whose every test attacks the same set-up, built once."""
    async with module_scoped(**module_storage_env) as value:
        yield value


@pytest.fixture
def served_with(storage_env: dict[str, str]) -> ApiFactory:
    """A new app (its own container, built in its lifespan) with these settings on top of the suite's.

    For settings read when the app is built (body size caps, CORS, limits) and for Redis, whose
    connections must live on the test client's event loop.
    """

    @asynccontextmanager
    async def build(**settings: str) -> AsyncIterator[Api]:
        app = create_app(make_settings(**{**SUITE_ENV, **storage_env, **settings}))
        async with AsyncTestClient(app) as client:
            value = Api(client=client, container=app.state.container)
            async with never_a_500(value):
                yield value

    return build


@pytest.fixture
async def victim(api: Api) -> Member:
    return await api.member()


@pytest.fixture
async def attacker(api: Api) -> Member:
    return await api.member()
