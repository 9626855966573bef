"""API2:2023 Broken Authentication.

The service signs access tokens with RS256 (production's algorithm; the suite knows the key, so
forgeries are made against the real verifier): tampered signatures and payloads, ``alg: none`` in
every spelling, algorithm confusion (HS256 keyed with the RSA public key, as PEM and as DER),
keys smuggled in the header (``jwk``, ``jku``, ``x5u``), unknown and hostile ``kid``s, expired,
not-yet-valid, wrong audience and issuer, and claims missing. Every one is a 401 with
``WWW-Authenticate`` and stores nothing. Then revocation (logout, logout-all, deactivation),
refresh-token reuse and races, and the brute-force limit on login and HTTP Basic: on the
in-process stores and on a real Redis, where those rules live in production.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
import uuid
from collections.abc import AsyncIterator
from typing import Any

import pytest
import pytest_asyncio
from cryptography.hazmat.primitives import serialization
from jose import jwk, jwt

from tests.integration.http.helpers import PASSWORD, Api, Member, assert_error
from tests.integration.ws.conftest import live_server
from tests.security.conftest import KID, RS256_ENV, SERVICE_PEM, SUITE_ENV, ApiFactory, _rsa_pem, module_scoped
from tests.support.redis import redis_url

PROTECTED = [("GET", "/api/v1/auth/me"), ("GET", "/api/v1/auth/verify"), ("POST", "/api/v1/projects")]
OTHER_PEM = _rsa_pem()
PUBLIC_PEM = (
    serialization.load_pem_private_key(SERVICE_PEM.encode(), password=None)
    .public_key()
    .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
)
PUBLIC_DER = serialization.load_pem_public_key(PUBLIC_PEM).public_bytes(
    serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
)


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def segment(value: dict[str, Any]) -> str:
    return b64(json.dumps(value).encode())


# Loaded once: python-jose would parse (and check) the PEM again for every signature.
SERVICE_KEY = jwk.construct(SERVICE_PEM, "RS256")
OTHER_KEY = jwk.construct(OTHER_PEM, "RS256")


def sign(claims: dict[str, Any], key: Any = SERVICE_KEY, **headers: Any) -> str:
    return jwt.encode(claims, key, algorithm="RS256", headers={"kid": KID, **headers})


def hs256(header: dict[str, Any], claims: dict[str, Any], secret: bytes) -> str:
    signing_input = f"{segment(header)}.{segment(claims)}"
    return f"{signing_input}.{b64(hmac.new(secret, signing_input.encode(), hashlib.sha256).digest())}"


def forgeries(member: Member) -> dict[str, str]:
    claims = jwt.get_unverified_claims(member.access_token)
    header_seg, payload_seg, signature = member.access_token.split(".")
    admin = {**claims, "roles": ["admin", "member"]}
    flipped = signature[:-4] + ("AAAA" if signature[-4:] != "AAAA" else "BBBB")
    other_jwk = {"kty": "RSA", "kid": "attacker", "n": "AQAB", "e": "AQAB"}
    forged: dict[str, str] = {
        "signature flipped": f"{header_seg}.{payload_seg}.{flipped}",
        "signature removed": f"{header_seg}.{payload_seg}.",
        "payload edited to admin": f"{header_seg}.{segment(admin)}.{signature}",
        "subject swapped": f"{header_seg}.{segment({**claims, 'sub': 'someone-else'})}.{signature}",
        "signed by another key": sign(admin, key=OTHER_KEY),
        "another key under an unknown kid": sign(admin, key=OTHER_KEY, kid="attacker"),
        "no kid": jwt.encode(admin, OTHER_KEY, algorithm="RS256"),
        "kid path traversal": sign(admin, key=OTHER_KEY, kid="../../../../dev/null"),
        "kid injection": sign(admin, key=OTHER_KEY, kid="x' OR '1'='1"),
        "embedded jwk header": sign(admin, key=OTHER_KEY, jwk=other_jwk),
        "jku header": sign(admin, key=OTHER_KEY, jku="http://127.0.0.1:9/jwks.json"),
        "x5u header": sign(admin, key=OTHER_KEY, x5u="http://127.0.0.1:9/cert.pem"),
        "crit header": sign(admin, crit=["exp"]),
        "HS256 keyed with the public key (PEM)": hs256({"alg": "HS256", "typ": "JWT", "kid": KID}, admin, PUBLIC_PEM),
        "HS256 keyed with the public key (PEM, no newline)": hs256(
            {"alg": "HS256", "kid": KID}, admin, PUBLIC_PEM.strip()
        ),
        "HS256 keyed with the public key (DER)": hs256({"alg": "HS256", "kid": KID}, admin, PUBLIC_DER),
        "HS512 keyed with the public key": f"{segment({'alg': 'HS512', 'kid': KID})}.{segment(admin)}."
        + b64(
            hmac.new(
                PUBLIC_PEM, f"{segment({'alg': 'HS512', 'kid': KID})}.{segment(admin)}".encode(), "sha512"
            ).digest()
        ),
        "PS256 header on an RS256 signature": f"{segment({'alg': 'PS256', 'kid': KID})}.{payload_seg}.{signature}",
        "expired": sign({**claims, "iat": claims["iat"] - 7200, "exp": claims["iat"] - 3600}),
        "not valid yet (nbf)": sign({**claims, "nbf": claims["iat"] + 3600}),
        "issued in the future": sign({**claims, "iat": claims["iat"] + 86_400, "exp": claims["exp"] + 86_400}),
        "wrong audience": sign({**claims, "aud": "another-api"}),
        "audience list without ours": sign({**claims, "aud": ["another-api", "third"]}),
        "wrong issuer": sign({**claims, "iss": "https://evil.example"}),
        "no expiry": sign({k: v for k, v in claims.items() if k != "exp"}),
        "no audience": sign({k: v for k, v in claims.items() if k != "aud"}),
        "no jti": sign({k: v for k, v in claims.items() if k != "jti"}),
        "unknown role": sign({**claims, "roles": ["root"]}),
        "absurd lifetime": sign({**claims, "exp": 2**62}),
        "refresh token as bearer": member.refresh_token,
    }
    for spelling in ("none", "None", "NONE", "nOnE"):
        forged[f"alg {spelling}"] = f"{segment({'alg': spelling, 'typ': 'JWT', 'kid': KID})}.{segment(admin)}."
        forged[f"alg {spelling} keeping the signature"] = (
            f"{segment({'alg': spelling, 'kid': KID})}.{payload_seg}.{signature}"
        )
    return forged


def assert_401(response: Any) -> None:
    assert response.status_code == 401, response.text
    assert response.json()["error"]["code"] in ("invalid_token", "unauthenticated")
    assert response.headers["www-authenticate"].startswith('Bearer realm="trellis"')


@pytest_asyncio.fixture(loop_scope="module", scope="module")
async def rs_api() -> AsyncIterator[Api]:
    """The app signing with RS256 (one container for the forgery tests, which change nothing)."""
    async with module_scoped(**RS256_ENV) as value:
        yield value


@pytest.fixture(params=["memory", pytest.param("redis", marks=pytest.mark.real_service)])
async def stateful(request: pytest.FixtureRequest, api: Api, served_with: ApiFactory) -> AsyncIterator[Api]:
    """Where revocations, refresh-token families and failure counters live: in process, or Redis
    (an app of its own, whose Redis connections live on the test client's loop)."""
    if request.param == "memory":
        yield api
        return
    async with served_with(REDIS_URL=redis_url()) as value:
        yield value


def fresh_email() -> str:
    """Unique across runs: failure counters on a shared Redis outlive the process."""
    return f"owasp-{uuid.uuid4().hex[:12]}@example.com"


@pytest.mark.asyncio(loop_scope="module")
async def test_the_service_really_signs_with_rs256(rs_api: Api) -> None:
    member = await rs_api.member()
    assert jwt.get_unverified_header(member.access_token) == {"alg": "RS256", "kid": KID, "typ": "JWT"}
    assert (await rs_api.client.get("/api/v1/auth/me", headers=member.headers)).status_code == 200


def _shape_only() -> Member:
    """A member whose tokens only have the right shape: to name the forgeries at collection time."""
    claims = {"iss": "i", "aud": "a", "sub": "s", "iat": 1, "exp": 2, "jti": "j", "roles": ["member"]}
    return Member("s", "e", {}, sign(claims), "r.e.f.r.esh")


@pytest_asyncio.fixture(loop_scope="module", scope="module")
async def forged(rs_api: Api) -> dict[str, str]:
    return forgeries(await rs_api.member())


@pytest.mark.asyncio(loop_scope="module")
@pytest.mark.parametrize("name", sorted(forgeries(_shape_only())))
async def test_a_forged_token_is_401_and_stores_nothing(rs_api: Api, forged: dict[str, str], name: str) -> None:
    token = forged[name]
    projects, events = len(await rs_api.stored_projects()), rs_api.event_count()

    for method, path in PROTECTED:
        response = await rs_api.client.request(
            method,
            path,
            json={"title": "forged"} if method == "POST" else None,
            headers={"Authorization": f"Bearer {token}"},
        )
        assert_401(response)

    assert len(await rs_api.stored_projects()) == projects
    assert rs_api.event_count() == events


@pytest.mark.asyncio(loop_scope="module")
async def test_a_forged_refresh_token_is_refused(rs_api: Api) -> None:
    member = await rs_api.member()
    parts = member.refresh_token.split(".")
    ciphertext = base64.urlsafe_b64decode(parts[3] + "==")
    flipped = b64(bytes([ciphertext[0] ^ 1]) + ciphertext[1:])
    attempts = {
        "ciphertext bit flipped": ".".join([*parts[:3], flipped, parts[4]]),
        "tag removed": ".".join([*parts[:4], ""]),
        "header swapped to another enc": ".".join([segment({"alg": "dir", "enc": "A128GCM"}), *parts[1:]]),
        "access token as refresh": member.access_token,
        "garbage": "x" * 4000,
    }
    for name, token in attempts.items():
        response = await rs_api.client.post("/api/v1/auth/refresh", json={"refresh_token": token})
        assert response.status_code == 401, (name, response.text)
    # and the real one still works: nothing above revoked it
    assert (
        await rs_api.client.post("/api/v1/auth/refresh", json={"refresh_token": member.refresh_token})
    ).status_code == 200


# --- revocation, reuse and brute force: on the in-process stores and on a real Redis -------------


async def me(api: Api, token: str) -> int:
    return (await api.client.get("/api/v1/auth/me", headers={"Authorization": f"Bearer {token}"})).status_code


async def refresh(api: Api, token: str) -> Any:
    return await api.client.post("/api/v1/auth/refresh", json={"refresh_token": token})


async def test_logout_revokes_the_access_token_and_the_refresh_family(stateful: Api) -> None:
    member = await stateful.member(fresh_email())
    rotated = (await refresh(stateful, member.refresh_token)).json()["data"]
    response = await stateful.client.post(
        "/api/v1/auth/logout", json={"refresh_token": rotated["refresh_token"]}, headers=member.headers
    )
    assert response.status_code == 200
    assert_401(await stateful.client.get("/api/v1/auth/me", headers=member.headers))
    assert (await refresh(stateful, rotated["refresh_token"])).status_code == 401
    # the family is gone: the access token the rotation issued is not, but no refresh is possible
    assert (await refresh(stateful, member.refresh_token)).status_code == 401


async def test_logout_all_kills_every_session(stateful: Api) -> None:
    email = fresh_email()
    first = await stateful.member(email)
    second = (await stateful.login(email)).json()["data"]
    await asyncio.sleep(1.05)  # the cutoff is to the second: tokens of the same second are spared by design
    assert (await stateful.client.post("/api/v1/auth/logout-all", headers=first.headers)).status_code == 200
    for access in (first.access_token, second["access_token"]):
        assert await me(stateful, access) == 401
    for token in (first.refresh_token, second["refresh_token"]):
        assert (await refresh(stateful, token)).status_code == 401
    assert (await stateful.login(email)).status_code == 200


async def test_a_deactivated_users_tokens_and_password_stop_working(stateful: Api) -> None:
    admin, member = await stateful.admin(), await stateful.member(fresh_email())
    off = await stateful.client.patch(f"/api/v1/users/{member.user_id}", json={"active": False}, headers=admin.headers)
    assert off.status_code == 200
    assert await me(stateful, member.access_token) == 401
    assert (await refresh(stateful, member.refresh_token)).status_code == 401
    assert_error(await stateful.login(member.email), 401, "invalid_credentials")
    basic = base64.b64encode(f"{member.email}:{PASSWORD}".encode()).decode()
    assert (
        await stateful.client.get("/api/v1/auth/me", headers={"Authorization": f"Basic {basic}"})
    ).status_code == 401


async def test_refresh_token_reuse_revokes_the_family(stateful: Api) -> None:
    member = await stateful.member(fresh_email())
    first = await refresh(stateful, member.refresh_token)
    assert first.status_code == 200
    stolen_reused = await refresh(stateful, member.refresh_token)
    assert_error(stolen_reused, 401, "invalid_token")
    # the legitimate holder's rotated token dies with the family
    assert (await refresh(stateful, first.json()["data"]["refresh_token"])).status_code == 401


@pytest.mark.parametrize("backend", ["memory", pytest.param("redis", marks=pytest.mark.real_service)])
async def test_racing_refreshes_of_one_token_win_once(backend: str) -> None:
    """A stolen refresh token replayed in parallel with its owner's: one rotation wins (through
    uvicorn, for real parallelism)."""
    settings = {"REDIS_URL": redis_url()} if backend == "redis" else {}
    async with live_server(**SUITE_ENV, **settings) as live:
        member = await live.api.member(fresh_email())
        answers = await asyncio.gather(*(refresh(live.api, member.refresh_token) for _ in range(8)))
    statuses = [a.status_code for a in answers]
    assert statuses.count(200) <= 1, statuses


def basic(email: str, password: str) -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(f"{email}:{password}".encode()).decode()}


@pytest.mark.parametrize("channel", ["login", "basic"])
async def test_five_failures_lock_the_account(stateful: Api, channel: str) -> None:
    member = await stateful.member(fresh_email())

    async def attempt(password: str) -> Any:
        if channel == "login":
            return await stateful.login(member.email, password)
        return await stateful.client.get("/api/v1/auth/me", headers=basic(member.email, password))

    for guess in range(5):
        assert_error(await attempt(f"guess number {guess}!"), 401, "invalid_credentials")
    locked = await attempt(PASSWORD)  # even the right password, once locked
    assert_error(locked, 429, "rate_limited")
    assert int(locked.headers["retry-after"]) > 0
    # the e-mail's case does not open a second counter
    upper = await stateful.login(member.email.upper(), PASSWORD)
    assert_error(upper, 429, "rate_limited")


@pytest.mark.parametrize("backend", ["memory", pytest.param("redis", marks=pytest.mark.real_service)])
async def test_a_parallel_burst_of_guesses_gets_five_checks_at_most(backend: str) -> None:
    """The lock must hold under concurrency: 20 guesses at once may not all be checked.

    Through a real server (uvicorn): Litestar's test client does not run requests truly in
    parallel, and did not show that the lock was read before the first failure was counted.
    """
    settings = {"REDIS_URL": redis_url()} if backend == "redis" else {}
    async with live_server(**SUITE_ENV, **settings) as live:
        member = await live.api.member(fresh_email())
        guesses = [live.api.login(member.email, f"parallel guess {i}!") for i in range(20)]
        statuses = [a.status_code for a in await asyncio.gather(*guesses)]
    assert set(statuses) <= {401, 429}
    assert statuses.count(401) <= 5, sorted(statuses)
