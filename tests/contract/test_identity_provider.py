"""IdentityProvider adapter (OIDC over httpx + jose), with ID tokens we sign ourselves.

The end-to-end suite (tests/integration/identity/test_oidc.py) drives a real provider; a few
cases cannot be produced with it — a token for another audience or issuer, ``alg: none``, an
HMAC token keyed with the public key, a rotated key — so they are produced here: the provider
is a local handler (``httpx.MockTransport``) that serves discovery, a JWKS and a token endpoint
answering with whatever ID token the test signed.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import hmac
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from jose import jwk, jwt

from adapters.security.oidc import OidcIdentityProvider
from domain.errors import IdentityProviderUnavailable, OidcLoginFailed

ISSUER = "https://idp.example.com/realms/trellis"
CLIENT_ID = "trellis"
NONCE = "n-0123456789abcdef0123456789abcdef"
NOW = datetime(2026, 5, 1, 12, 0, tzinfo=UTC)


@functools.cache
def _rsa_pem(slot: int = 0) -> str:
    """An RSA key per slot, generated once per session (generation is the slow part)."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()


@dataclass
class FakeProvider:
    keys: dict[str, str] = field(default_factory=lambda: {"k1": _rsa_pem()})
    published: list[str] = field(default_factory=lambda: ["k1"])
    id_token: str = ""
    access_token: str = "at-123"
    token_status: int = 200
    down: bool = False
    discovery_issuer: str = ISSUER
    jwks_fetches: int = 0
    token_requests: list[dict[str, str]] = field(default_factory=list)

    def sign(self, kid: str | None = "k1", alg: str = "RS256", **overrides: Any) -> str:
        claims: dict[str, Any] = {
            "iss": ISSUER,
            "aud": CLIENT_ID,
            "sub": "user-1",
            "iat": int(NOW.timestamp()),
            "exp": int((NOW + timedelta(minutes=5)).timestamp()),
            "nonce": NONCE,
            "email": "Ada@Example.com",
            "email_verified": True,
            "name": "Ada",
        }
        claims.update(overrides)
        claims = {k: v for k, v in claims.items() if v is not None}
        headers = {"kid": kid} if kid else {}
        return jwt.encode(claims, self.keys["k1" if kid is None else kid], algorithm=alg, headers=headers)

    def jwks(self) -> dict[str, Any]:
        out = []
        for kid in self.published:
            public = jwk.construct(self.keys[kid], "RS256").public_key().to_dict()
            out.append({**public, "kid": kid, "use": "sig", "alg": "RS256"})
        return {"keys": out}

    def handler(self, request: httpx.Request) -> httpx.Response:
        if self.down:
            raise httpx.ConnectError("connection refused", request=request)
        path = request.url.path
        if path.endswith("/.well-known/openid-configuration"):
            return httpx.Response(
                200,
                json={
                    "issuer": self.discovery_issuer,
                    "authorization_endpoint": f"{ISSUER}/protocol/openid-connect/auth",
                    "token_endpoint": f"{ISSUER}/protocol/openid-connect/token",
                    "jwks_uri": f"{ISSUER}/protocol/openid-connect/certs",
                    "token_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post"],
                },
            )
        if path.endswith("/certs"):
            self.jwks_fetches += 1
            return httpx.Response(200, json=self.jwks())
        if path.endswith("/token"):
            self.token_requests.append(dict(httpx.QueryParams(request.content.decode())))
            if self.token_status != 200:
                return httpx.Response(self.token_status, json={"error": "invalid_grant"})
            return httpx.Response(200, json={"id_token": self.id_token, "access_token": self.access_token})
        return httpx.Response(404)


@pytest.fixture
def fake() -> FakeProvider:
    return FakeProvider()


@pytest.fixture
async def adapter(fake: FakeProvider) -> AsyncIterator[OidcIdentityProvider]:
    async with httpx.AsyncClient(transport=httpx.MockTransport(fake.handler)) as http:
        yield OidcIdentityProvider(
            "idp",
            issuer=ISSUER + "/",
            client_id=CLIENT_ID,
            client_secret="s3cret",
            redirect_uri="https://api.example.com/api/v1/auth/oidc/idp/callback",
            http=http,
            jwks_refresh_interval=0.0,
        )


async def exchange(adapter: OidcIdentityProvider, now: datetime = NOW) -> Any:
    return await adapter.exchange_code(code="c0de", code_verifier="v" * 43, nonce=NONCE, now=now)


async def test_authorization_url_carries_pkce_state_and_nonce(adapter: OidcIdentityProvider) -> None:
    url = httpx.URL(await adapter.authorization_url(state="s" * 43, nonce=NONCE, code_challenge="c" * 43))
    assert str(url).startswith(f"{ISSUER}/protocol/openid-connect/auth?")
    params = url.params
    assert params["response_type"] == "code"
    assert params["client_id"] == CLIENT_ID
    assert params["code_challenge_method"] == "S256"
    assert params["state"] == "s" * 43
    assert params["nonce"] == NONCE
    assert "openid" in params["scope"].split()


async def test_a_valid_token_gives_the_profile(adapter: OidcIdentityProvider, fake: FakeProvider) -> None:
    fake.id_token = fake.sign()
    profile = await exchange(adapter)
    assert (profile.issuer, profile.subject) == (ISSUER, "user-1")
    assert profile.email == "ada@example.com"
    assert profile.email_verified is True
    assert profile.name == "Ada"
    sent = fake.token_requests[0]
    assert sent["grant_type"] == "authorization_code"
    assert sent["code_verifier"] == "v" * 43
    assert sent["client_secret"] == "s3cret"


@pytest.mark.parametrize(
    ("overrides", "reason"),
    [
        ({"aud": "another-client"}, "audience"),
        ({"aud": ["another-client", "third"]}, "audience"),
        ({"aud": [CLIENT_ID, "other"], "azp": "other"}, "azp"),
        ({"iss": "https://evil.example.com"}, "issuer"),
        ({"nonce": "replayed-nonce"}, "nonce"),
        ({"nonce": None}, "nonce"),
        ({"exp": int((NOW - timedelta(minutes=2)).timestamp())}, "expired"),
        ({"exp": None}, "expiry"),
        ({"iat": int((NOW + timedelta(hours=1)).timestamp())}, "future"),
        ({"sub": None}, ""),
    ],
)
async def test_claim_checks(adapter: OidcIdentityProvider, fake: FakeProvider, overrides: Any, reason: str) -> None:
    fake.id_token = fake.sign(**overrides)
    with pytest.raises(OidcLoginFailed) as raised:
        await exchange(adapter)
    assert reason in raised.value.message


async def test_exp_is_checked_on_the_callers_clock_with_leeway(
    adapter: OidcIdentityProvider, fake: FakeProvider
) -> None:
    fake.id_token = fake.sign()
    assert await exchange(adapter, now=NOW + timedelta(minutes=5, seconds=59))
    with pytest.raises(OidcLoginFailed, match="expired"):
        await exchange(adapter, now=NOW + timedelta(minutes=6, seconds=1))


def _b64(data: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()


async def test_alg_none_and_hmac_with_the_public_key_are_refused(
    adapter: OidcIdentityProvider, fake: FakeProvider
) -> None:
    claims = json.loads(base64.urlsafe_b64decode(fake.sign().split(".")[1] + "=="))
    fake.id_token = f"{_b64({'alg': 'none', 'kid': 'k1'})}.{_b64(claims)}."
    with pytest.raises(OidcLoginFailed, match="algorithm"):
        await exchange(adapter)
    public_pem = jwk.construct(fake.keys["k1"], "RS256").public_key().to_pem()
    signing_input = f"{_b64({'alg': 'HS256', 'kid': 'k1', 'typ': 'JWT'})}.{_b64(claims)}"
    mac = hmac.new(public_pem, signing_input.encode(), hashlib.sha256).digest()  # the classic confusion
    fake.id_token = f"{signing_input}.{base64.urlsafe_b64encode(mac).rstrip(b'=').decode()}"
    with pytest.raises(OidcLoginFailed, match="algorithm"):
        await exchange(adapter)


async def test_tampered_payload_fails_the_signature(adapter: OidcIdentityProvider, fake: FakeProvider) -> None:
    header, _, signature = fake.sign().split(".")
    forged = _b64({"iss": ISSUER, "aud": CLIENT_ID, "sub": "admin", "exp": 4102444800, "nonce": NONCE})
    fake.id_token = f"{header}.{forged}.{signature}"
    with pytest.raises(OidcLoginFailed, match="signature"):
        await exchange(adapter)


async def test_a_rotated_key_is_fetched_once_and_unknown_kids_are_refused(
    adapter: OidcIdentityProvider, fake: FakeProvider
) -> None:
    fake.id_token = fake.sign()
    await exchange(adapter)
    assert fake.jwks_fetches == 1
    await exchange(adapter)
    assert fake.jwks_fetches == 1  # cached
    fake.keys["k2"] = _rsa_pem(2)
    fake.published = ["k2"]  # the provider rotated
    fake.id_token = fake.sign(kid="k2")
    assert (await exchange(adapter)).subject == "user-1"
    assert fake.jwks_fetches == 2
    fake.keys["k3"] = _rsa_pem(3)  # signed with a key the provider never published
    fake.id_token = fake.sign(kid="k3")
    with pytest.raises(OidcLoginFailed, match="key"):
        await exchange(adapter)


async def test_unknown_kid_refetches_at_most_once_per_interval(fake: FakeProvider) -> None:
    async with httpx.AsyncClient(transport=httpx.MockTransport(fake.handler)) as http:
        adapter = OidcIdentityProvider(
            "idp", issuer=ISSUER, client_id=CLIENT_ID, client_secret=None, redirect_uri="https://x/cb", http=http
        )
        fake.keys["k9"] = _rsa_pem(9)
        fake.id_token = fake.sign(kid="k9")
        for _ in range(3):
            with pytest.raises(OidcLoginFailed):
                await exchange(adapter)
        assert fake.jwks_fetches == 1


async def test_at_hash_must_match_the_access_token(adapter: OidcIdentityProvider, fake: FakeProvider) -> None:
    digest = hashlib.sha256(b"at-123").digest()[:16]
    good = base64.urlsafe_b64encode(digest).rstrip(b"=").decode()
    fake.id_token = fake.sign(at_hash=good)
    assert await exchange(adapter)
    fake.id_token = fake.sign(at_hash="AAAAAAAAAAAAAAAAAAAAAA")
    with pytest.raises(OidcLoginFailed):
        await exchange(adapter)


async def test_refused_code_and_unreachable_provider(adapter: OidcIdentityProvider, fake: FakeProvider) -> None:
    fake.id_token = fake.sign()
    fake.token_status = 400
    with pytest.raises(OidcLoginFailed, match="invalid_grant"):
        await exchange(adapter)
    fake.token_status = 502
    with pytest.raises(IdentityProviderUnavailable):
        await exchange(adapter)
    fake.down = True
    with pytest.raises(IdentityProviderUnavailable):
        await exchange(adapter)


async def test_discovery_naming_another_issuer_is_unusable(fake: FakeProvider) -> None:
    fake.discovery_issuer = "https://evil.example.com"
    async with httpx.AsyncClient(transport=httpx.MockTransport(fake.handler)) as http:
        adapter = OidcIdentityProvider(
            "idp", issuer=ISSUER, client_id=CLIENT_ID, client_secret=None, redirect_uri="https://x/cb", http=http
        )
        with pytest.raises(IdentityProviderUnavailable):
            await adapter.authorization_url(state="s", nonce="n", code_challenge="c")
