"""API7:2023 Server Side Request Forgery.

Trellis fetches from exactly three places, all named by settings: OpenWeatherMap
(``OPENWEATHER_BASE_URL``), Azure AI Language (``AZURE_LANGUAGE_ENDPOINT``) and each OpenID
provider (``OIDC_<NAME>_ISSUER``; its token endpoint and JWKS come from that issuer's discovery
document). Every client-supplied value that could look like a URL is tried with a canary URL on
the recording fake server: weather place names and coordinates, a project's site, the OIDC login's
``redirect_uri``/``next``/``return_to``, the callback's ``iss``, a provider name, an XML import's
external entity, post text. The canary is never fetched, every outbound request goes to a
configured endpoint, and the OIDC redirect goes to the configured provider with the configured
``redirect_uri``.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from urllib.parse import parse_qs, quote, urlsplit

import pytest
import pytest_asyncio

from tests.integration.http.helpers import Api
from tests.security.estate import until
from tests.security.providers import CLIENT_ID, REDIRECT_URI, provider_api
from tests.support.fake_providers import FakeProviders, fake_providers

KNOWN_PATHS = {
    "/data/2.5/weather",
    "/data/2.5/forecast",
    "/geo/1.0/direct",
    "/language/:analyze-text",
    "/.well-known/openid-configuration",
    "/jwks",
    "/token",
}


pytestmark = pytest.mark.asyncio(loop_scope="module")


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def fake() -> AsyncIterator[FakeProviders]:
    async with fake_providers() as server:
        yield server


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def api(fake: FakeProviders) -> AsyncIterator[Api]:
    async with provider_api(fake) as value:
        yield value


@pytest.fixture(autouse=True)
def fresh_record(fake: FakeProviders) -> None:
    fake.requests.clear()


def canaries(fake: FakeProviders) -> list[str]:
    base = fake.base_url
    host = base.removeprefix("http://")
    return [
        f"{base}/canary/plain",
        f"http://{host}/canary/again?x=1",
        f"//{host}/canary/scheme-relative",
        f"http://user@{host}/canary/userinfo",
        f"{base}/canary/%2e%2e/jwks",
        f"file:///etc/passwd#{base}/canary/file",
        "http://169.254.169.254/latest/meta-data/",
        "gopher://127.0.0.1:6379/_INFO",
    ]


def assert_no_canary_fetched(fake: FakeProviders) -> None:
    strays = [(r.method, r.path) for r in fake.requests if r.path not in KNOWN_PATHS]
    assert strays == [], f"fetched a client-supplied URL: {strays}"


async def test_weather_place_names_are_text_never_urls(api: Api, fake: FakeProviders) -> None:
    member = await api.member()
    for place in canaries(fake):
        response = await api.client.get("/api/v1/weather", params={"place": place}, headers=member.headers)
        assert response.status_code in (404, 422), (place, response.text)
    assert_no_canary_fetched(fake)
    geo = [r for r in fake.requests if r.path == "/geo/1.0/direct"]
    assert geo, "the place names went to the configured geocoder, as text"
    assert {r.query["q"] for r in geo} <= set(canaries(fake))


async def test_a_projects_site_is_never_fetched(api: Api, fake: FakeProviders) -> None:
    member = await api.member()
    for place in canaries(fake)[:3]:
        project = await api.create_project(member, site={"place": place})
        response = await api.client.get(f"/api/v1/projects/{project['id']}/weather", headers=member.headers)
        assert response.status_code in (200, 404, 409, 503), response.text
    assert_no_canary_fetched(fake)


async def test_oidc_login_ignores_client_supplied_redirects(api: Api, fake: FakeProviders) -> None:
    canary = canaries(fake)[0]
    params = dict.fromkeys(("redirect_uri", "next", "return_to", "redirect", "url", "issuer", "iss"), canary)
    response = await api.client.get("/api/v1/auth/oidc/fake/login", params=params, follow_redirects=False)
    assert response.status_code == 302, response.text
    target = urlsplit(response.headers["location"])
    assert f"{target.scheme}://{target.netloc}{target.path}" == f"{fake.base_url}/authorize"
    query = parse_qs(target.query)
    assert query["redirect_uri"] == [REDIRECT_URI]
    assert query["client_id"] == [CLIENT_ID]
    assert "canary" not in response.headers["location"]
    assert_no_canary_fetched(fake)


async def test_oidc_provider_names_and_callback_parameters_fetch_nothing(api: Api, fake: FakeProviders) -> None:
    canary = canaries(fake)[0]
    for name in (quote(canary, safe=""), "fake@evil", "..%2f..%2fcanary"):
        response = await api.client.get(f"/api/v1/auth/oidc/{name}/login", follow_redirects=False)
        assert response.status_code == 404, response.text
    callback = await api.client.get(
        "/api/v1/auth/oidc/fake/callback",
        params={"code": "c", "state": "s", "iss": canary, "jwks_uri": canary, "token_endpoint": canary},
    )
    assert callback.status_code == 401
    assert_no_canary_fetched(fake)
    assert fake.count("token") == 0, "no code is redeemed without this browser's state"


async def test_an_xml_import_cannot_make_the_server_fetch(api: Api, fake: FakeProviders) -> None:
    member = await api.member()
    project = await api.create_project(member)
    canary = canaries(fake)[0]
    xinclude = 'xmlns:xi="http://www.w3.org/2001/XInclude"'
    payloads = [
        f'<!DOCTYPE t [<!ENTITY x SYSTEM "{canary}">]><tasks><task><title>&x;</title></task></tasks>',
        f'<?xml version="1.0"?><!DOCTYPE tasks SYSTEM "{canary}"><tasks/>',
        f'<tasks {xinclude}><task><title><xi:include href="{canary}"/></title></task></tasks>',
    ]
    for body in payloads:
        response = await api.client.post(
            f"/api/v1/projects/{project['id']}/import",
            files={"file": ("t.xml", body.encode(), "application/xml")},
            headers=member.headers,
        )
        assert response.status_code in (202, 400, 415, 422), response.text
        if response.status_code == 202:
            job_id = response.json()["data"]["id"]

            async def finished(job_id: str = job_id) -> bool:
                job = await api.client.get(f"/api/v1/jobs/{job_id}", headers=member.headers)
                return bool(job.json()["data"]["state"] in ("succeeded", "failed"))

            await until(finished, "the import finishing")
    assert_no_canary_fetched(fake)
    assert all("canary" not in t.title for t in await api.stored_tasks(project["id"]))


async def test_urls_in_text_are_analysed_as_text(api: Api, fake: FakeProviders) -> None:
    member = await api.member()
    canary = canaries(fake)[0]
    response = await api.client.post(
        "/api/v1/analysis/text", json={"text": f"see {canary} now"}, headers=member.headers
    )
    assert response.status_code == 200, response.text
    assert_no_canary_fetched(fake)
    sent = [r.json for r in fake.requests if r.path == "/language/:analyze-text"]
    assert sent
    assert all(d["text"] == f"see {canary} now" for body in sent for d in body["analysisInput"]["documents"])
