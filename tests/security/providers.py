"""The app wired to the local fake providers: OpenWeatherMap, Azure AI Language and an OpenID
provider (``tests/support/fake_providers.py``), so that every outbound request is recorded."""

from __future__ import annotations

import tempfile
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from tests.integration.http.conftest import never_a_500
from tests.integration.http.helpers import Api, running_api
from tests.integration.providers.conftest import _close_provider_clients
from tests.security.conftest import SUITE_ENV
from tests.support.fake_providers import AZURE_KEY, OWM_KEY, FakeProviders

CALLBACK = "/api/v1/auth/oidc/fake/callback"
REDIRECT_URI = f"http://testserver.local{CALLBACK}"
CLIENT_ID = "trellis-owasp"


@asynccontextmanager
async def provider_api(fake: FakeProviders, **settings: str) -> AsyncIterator[Api]:
    storage = tempfile.mkdtemp(prefix="trellis-owasp-")  # files and import spools never land in the tree
    env = {
        **SUITE_ENV,
        "FILE_STORAGE_ROOT": f"{storage}/files",
        "IMPORT_SPOOL_DIR": f"{storage}/imports",
        "PROVIDER_RETRY_BACKOFF_MS": "1",
        "OPENWEATHER_API_KEY": OWM_KEY,
        "OPENWEATHER_BASE_URL": fake.base_url,
        "AZURE_LANGUAGE_ENDPOINT": fake.base_url,
        "AZURE_LANGUAGE_KEY": AZURE_KEY,
        "OIDC_FAKE_ISSUER": fake.base_url,
        "OIDC_FAKE_CLIENT_ID": CLIENT_ID,
        "OIDC_FAKE_CLIENT_SECRET": "owasp-secret",
        "OIDC_FAKE_REDIRECT_URI": REDIRECT_URI,
        **settings,
    }
    async with running_api(**env) as api:
        try:
            async with never_a_500(api):
                yield api
        finally:
            _close_provider_clients(api)
