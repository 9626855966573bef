"""Bearer tokens: every missing, malformed, forged, expired or misdirected token is a 401.

Each refusal carries ``WWW-Authenticate: Bearer …`` and the error envelope, and a write sent
with such a token stores nothing. Forged tokens are made with python-jose: another key, no
signature (``alg: none``), a payload edited after signing, another audience or issuer (signed
with the service's own key, which the ``keyed_api`` fixture configures).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from jose import jwt
from litestar import Litestar

from adapters.memory.clock import FixedClock
from adapters.security.tokens import JoseTokenService, generate_refresh_key, load_private_key_pem
from domain.identity import Principal, Role
from tests.integration.http.helpers import Api, Member, api_on, assert_error, assert_success

PROJECTS = "/api/v1/projects"
KID = "test-es256"
PROTECTED = [("GET", "/api/v1/auth/me"), ("GET", "/api/v1/auth/verify"), ("GET", PROJECTS), ("POST", PROJECTS)]


def _pem() -> str:
    key = ec.generate_private_key(ec.SECP256R1())
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()


SERVICE_PEM = _pem()
OTHER_PEM = _pem()


@pytest.fixture
async def keyed_api(app: Litestar) -> AsyncIterator[Api]:
    """The app signing with a key the test knows (ES256, kid ``test-es256``)."""
    async with api_on(app, JWT_PRIVATE_KEY=SERVICE_PEM, JWT_KEY_ID=KID) as value:
        yield value


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _claims(member: Member, **overrides: Any) -> dict[str, Any]:
    payload = jwt.get_unverified_claims(member.access_token)
    return {**payload, **overrides}


def _sign(claims: dict[str, Any], pem: str = SERVICE_PEM, kid: str = KID) -> str:
    return jwt.encode(claims, pem, algorithm="ES256", headers={"kid": kid})


async def _call(api: Api, method: str, path: str, headers: dict[str, str]) -> Any:
    body = {"title": "should not exist"} if method == "POST" else None
    return await api.client.request(method, path, json=body, headers=headers)


def assert_401(response: Any, code: str = "invalid_token") -> None:
    assert_error(response, 401, code)
    assert response.headers["www-authenticate"].startswith("Bearer")
    assert 'realm="trellis"' in response.headers["www-authenticate"]


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"Authorization": ""},
        {"Authorization": "Bearer"},
        {"Authorization": "Bearer abc"},
        {"Authorization": "Bearer a.b.c"},
        {"Authorization": "Bearer " + "x" * 9000},
        {"Authorization": "Basic xyz"},
        {"Authorization": "Basic " + base64.b64encode(b"a@example.com:nope").decode()},
        {"Authorization": "Token abc"},
    ],
)
@pytest.mark.parametrize(("method", "path"), PROTECTED)
async def test_missing_or_malformed_credentials_are_401(
    api: Api, headers: dict[str, str], method: str, path: str
) -> None:
    response = await _call(api, method, path, headers)

    assert_error(response, 401, response.json()["error"]["code"])
    # Basic with an e-mail and a password is checked like a login: a wrong pair is invalid_credentials
    assert response.json()["error"]["code"] in ("unauthenticated", "invalid_token", "invalid_credentials")
    assert response.headers["www-authenticate"].startswith('Bearer realm="trellis"')
    assert await api.stored_projects() == []


async def test_missing_token_is_unauthenticated_and_a_bad_one_invalid_token(api: Api) -> None:
    missing = await api.client.get(PROJECTS)
    bad = await api.client.get(PROJECTS, headers={"Authorization": "Bearer abc"})

    assert_401(missing, "unauthenticated")
    assert_401(bad, "invalid_token")
    assert 'error="invalid_token"' in bad.headers["www-authenticate"]


async def test_expired_token_is_401_and_a_fresh_one_works(clocked_api: Api, clock: FixedClock) -> None:
    member = await clocked_api.member()
    assert_success(await clocked_api.client.get("/api/v1/auth/me", headers=member.headers))

    clock.advance(timedelta(minutes=14))
    assert_success(await clocked_api.client.get("/api/v1/auth/me", headers=member.headers))

    clock.advance(timedelta(minutes=1, seconds=11))  # past 15 minutes and the 10 s leeway
    for method, path in PROTECTED:
        assert_401(await _call(clocked_api, method, path, member.headers))
    assert await clocked_api.stored_projects() == []

    fresh = assert_success(await clocked_api.login(member.email))
    me = await clocked_api.client.get("/api/v1/auth/me", headers={"Authorization": f"Bearer {fresh['access_token']}"})
    assert assert_success(me)["id"] == member.user_id


async def test_the_keyed_service_accepts_its_own_tokens(keyed_api: Api) -> None:
    member = await keyed_api.member()
    assert jwt.get_unverified_header(member.access_token)["kid"] == KID

    resigned = _sign(_claims(member))

    assert_success(await keyed_api.client.get("/api/v1/auth/me", headers={"Authorization": f"Bearer {resigned}"}))


def _hs256(header: str, payload: str, secret: bytes) -> str:
    """The algorithm-confusion forgery: HMAC over the token with the public key as the secret."""
    signature = hmac.new(secret, f"{header}.{payload}".encode(), hashlib.sha256).digest()
    return f"{header}.{payload}.{_b64(signature)}"


def _forgeries(member: Member) -> dict[str, str]:
    claims = _claims(member)
    header, payload, signature = member.access_token.split(".")
    admin_payload = _b64(json.dumps({**claims, "roles": ["admin"]}).encode())
    none_header = _b64(json.dumps({"alg": "none", "typ": "JWT", "kid": KID}).encode())
    hs_header = _b64(json.dumps({"alg": "HS256", "typ": "JWT", "kid": KID}).encode())
    public_pem = load_private_key_pem(SERVICE_PEM, KID).verification_key().material
    return {
        "another key": _sign(claims, pem=OTHER_PEM),
        "another key, unknown kid": _sign(claims, pem=OTHER_PEM, kid="someone-else"),
        "alg none": f"{none_header}.{_b64(json.dumps(claims).encode())}.",
        "alg none with the old signature": f"{none_header}.{payload}.{signature}",
        "HS256 with the public key as secret": _hs256(hs_header, payload, public_pem),
        "payload edited after signing": f"{header}.{admin_payload}.{signature}",
        "signature removed": f"{header}.{payload}.",
        "signature of another token": f"{header}.{payload}.{_sign({**claims, 'jti': 'x'}).split('.')[2]}",
        "wrong audience": _sign({**claims, "aud": "another-api"}),
        "wrong issuer": _sign({**claims, "iss": "https://evil.example"}),
        "no audience": _sign({k: v for k, v in claims.items() if k != "aud"}),
        "no expiry": _sign({k: v for k, v in claims.items() if k != "exp"}),
        "expired long ago": _sign({**claims, "iat": 1_000_000, "exp": 1_000_900}),
        "issued in the future": _sign({**claims, "iat": claims["iat"] + 86_400, "exp": claims["exp"] + 86_400}),
        "unknown subject": _sign({**claims, "sub": "no-such-user"}),
        "unknown role": _sign({**claims, "roles": ["root"]}),
    }


async def test_forged_tokens_are_401_and_store_nothing(keyed_api: Api) -> None:
    member = await keyed_api.member()
    events = keyed_api.event_count()

    for name, token in _forgeries(member).items():
        headers = {"Authorization": f"Bearer {token}"}
        for method, path in PROTECTED:
            response = await _call(keyed_api, method, path, headers)
            assert response.status_code == 401, (name, path, response.text)
            assert_401(response)

    assert await keyed_api.stored_projects() == []
    assert keyed_api.event_count() == events


async def test_a_token_for_another_audience_from_a_real_token_service_is_refused(keyed_api: Api) -> None:
    member = await keyed_api.member()
    elsewhere = JoseTokenService(
        signing_key=load_private_key_pem(SERVICE_PEM, KID),
        issuer=keyed_api.container.settings.jwt_issuer,
        audience="another-api",
        refresh_key=generate_refresh_key(),
    )
    token = elsewhere.issue_access(
        Principal(member.user_id, frozenset({Role.MEMBER})), keyed_api.container.ports.clock.now()
    )

    response = await keyed_api.client.get("/api/v1/auth/me", headers={"Authorization": f"Bearer {token.token}"})

    assert_401(response)


async def test_a_deactivated_users_token_is_refused(api: Api, member: Member) -> None:
    users = api.container.ports.uow.users
    user = await users.get(member.user_id)
    assert user is not None
    user.active = False
    await users.update(user, user.version)

    assert_401(await api.client.get("/api/v1/auth/me", headers=member.headers))
    assert_error(await api.login(member.email), 401, "invalid_credentials")


async def test_roles_come_from_the_user_not_the_token(api: Api, member: Member) -> None:
    await api.set_roles(member.user_id, frozenset({Role.GUEST}))

    response = await api.client.post(PROJECTS, json={"title": "demoted"}, headers=member.headers)

    assert_error(response, 403, "forbidden")
    assert await api.stored_projects() == []
