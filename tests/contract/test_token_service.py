"""The TokenService contract, run against every adapter of the port.

The jose adapter runs once per supported signing algorithm. Every service is built with no
leeway so boundaries are exact; the clock is a fixed instant far from the wall clock, which
shows that expiry follows the injected ``now`` and nothing else.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from functools import cache
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from adapters.memory.tokens import InMemoryTokenService
from adapters.security.tokens import (
    JoseTokenService,
    SigningKey,
    generate_development_key,
    generate_refresh_key,
    load_private_key_pem,
)
from domain.errors import InvalidToken
from domain.identity import Principal, Role
from domain.ports import TokenService

NOW = datetime(2001, 2, 3, 4, 5, 6, 789_000, tzinfo=UTC)
NOW_SECONDS = NOW.replace(microsecond=0)
ACCESS_TTL = timedelta(minutes=15)
REFRESH_TTL = timedelta(days=14)

# ``factory(key_set=n, **constructor_overrides)``: services built with different key sets share
# no secrets (the same set may be reused across tests).
Factory = Callable[..., TokenService]


@cache
def _pem(kind: str, key_set: int) -> bytes:
    """One generated key per (kind, key set): RSA generation is slow, so sets are reused."""
    key: rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey
    key = (
        rsa.generate_private_key(public_exponent=65537, key_size=2048)
        if kind == "rsa"
        else ec.generate_private_key(ec.SECP256R1())
    )
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


def _signing_key(algorithm: str, key_set: int) -> SigningKey:
    if algorithm == "HS256":
        return generate_development_key()
    pem = _pem("rsa" if algorithm == "RS256" else "ec", key_set)
    return load_private_key_pem(pem, kid=f"{algorithm.lower()}-{key_set}")


def _jose_factory(algorithm: str) -> Factory:
    def build(key_set: int = 0, **overrides: Any) -> TokenService:
        options: dict[str, Any] = {
            "signing_key": _signing_key(algorithm, key_set),
            "issuer": "https://trellis.test",
            "audience": "trellis-api",
            "refresh_key": generate_refresh_key(),
            "access_ttl": ACCESS_TTL,
            "refresh_ttl": REFRESH_TTL,
            "leeway": timedelta(0),
        }
        options.update(overrides)
        return JoseTokenService(**options)

    return build


def _memory_factory(key_set: int = 0, **overrides: Any) -> TokenService:
    # Every instance is its own key set: its tokens mean nothing to another instance.
    options: dict[str, Any] = {"access_ttl": ACCESS_TTL, "refresh_ttl": REFRESH_TTL, "leeway": timedelta(0)}
    options.update(overrides)
    return InMemoryTokenService(**options)


FACTORIES: dict[str, Factory] = {
    "memory": _memory_factory,
    "jose-HS256": _jose_factory("HS256"),
    "jose-RS256": _jose_factory("RS256"),
    "jose-ES256": _jose_factory("ES256"),
}


@pytest.fixture(params=sorted(FACTORIES))
def factory(request: pytest.FixtureRequest) -> Factory:
    return FACTORIES[request.param]


@pytest.fixture
def service(factory: Factory) -> TokenService:
    return factory()


ALICE = Principal(user_id="user-alice", roles=frozenset({Role.MEMBER}))


def _tampered(token: str) -> str:
    """Change one character in the middle: always six meaningful bits, never padding bits."""
    middle = len(token) // 2
    replacement = "A" if token[middle] != "A" else "B"
    return token[:middle] + replacement + token[middle + 1 :]


# --- access tokens ------------------------------------------------------------------------


def test_an_issued_access_token_verifies_to_its_claims(service: TokenService) -> None:
    issued = service.issue_access(ALICE, NOW)

    claims = service.verify_access(issued.token, NOW)

    assert claims.subject == "user-alice"
    assert claims.roles == frozenset({Role.MEMBER})
    assert claims.jti == issued.jti
    assert claims.issued_at == NOW_SECONDS
    assert claims.expires_at == NOW_SECONDS + ACCESS_TTL
    assert claims.principal == ALICE
    assert issued.expires_in == int(ACCESS_TTL.total_seconds())


@pytest.mark.parametrize(
    "roles",
    [frozenset(), frozenset({Role.GUEST}), frozenset({Role.ADMIN, Role.MEMBER}), frozenset(Role)],
    ids=["none", "guest", "admin+member", "all"],
)
def test_roles_are_preserved(service: TokenService, roles: frozenset[Role]) -> None:
    principal = Principal(user_id="someone", roles=roles)

    claims = service.verify_access(service.issue_access(principal, NOW).token, NOW)

    assert claims.roles == roles
    assert all(isinstance(role, Role) for role in claims.roles)


def test_each_access_token_has_its_own_id(service: TokenService) -> None:
    first = service.issue_access(ALICE, NOW)
    second = service.issue_access(ALICE, NOW)

    assert first.jti != second.jti
    assert first.token != second.token
    assert service.verify_access(first.token, NOW).jti == first.jti
    assert service.verify_access(second.token, NOW).jti == second.jti


def test_an_access_token_is_valid_until_its_expiry_by_the_injected_clock(service: TokenService) -> None:
    issued = service.issue_access(ALICE, NOW)
    expiry = NOW_SECONDS + ACCESS_TTL

    assert service.verify_access(issued.token, expiry - timedelta(seconds=1)).subject == "user-alice"
    with pytest.raises(InvalidToken):
        service.verify_access(issued.token, expiry)
    with pytest.raises(InvalidToken):
        service.verify_access(issued.token, NOW + timedelta(days=365))


def test_an_access_token_is_not_valid_before_it_was_issued(service: TokenService) -> None:
    issued = service.issue_access(ALICE, NOW)

    with pytest.raises(InvalidToken):
        service.verify_access(issued.token, NOW - timedelta(hours=1))


def test_the_access_ttl_is_configurable(factory: Factory) -> None:
    service = factory(access_ttl=timedelta(minutes=1))
    issued = service.issue_access(ALICE, NOW)

    assert issued.expires_in == 60
    assert service.verify_access(issued.token, NOW).expires_at == NOW_SECONDS + timedelta(minutes=1)
    with pytest.raises(InvalidToken):
        service.verify_access(issued.token, NOW_SECONDS + timedelta(minutes=1))


def test_a_tampered_access_token_is_rejected(service: TokenService) -> None:
    issued = service.issue_access(ALICE, NOW)

    with pytest.raises(InvalidToken):
        service.verify_access(_tampered(issued.token), NOW)


def test_another_service_does_not_accept_the_token(factory: Factory) -> None:
    issued = factory(key_set=1).issue_access(ALICE, NOW)

    with pytest.raises(InvalidToken):
        factory(key_set=2).verify_access(issued.token, NOW)


GARBAGE = [
    "",
    " ",
    "garbage",
    "a.b.c",
    "a.b.c.d.e",
    "...",
    "....",
    "eyJhbGciOiJub25lIn0.e30.",
    "x" * 100_000,
    "ünïcödé.tökén.🔑",
    "\x00\x01\x02",
    "\ud800",
]


@pytest.mark.parametrize("garbage", GARBAGE, ids=range(len(GARBAGE)))
def test_garbage_is_not_an_access_token(service: TokenService, garbage: str) -> None:
    with pytest.raises(InvalidToken):
        service.verify_access(garbage, NOW)


def test_a_refresh_token_is_not_an_access_token(service: TokenService) -> None:
    refresh = service.issue_refresh("user-alice", "family-1", "token-1", NOW)

    with pytest.raises(InvalidToken):
        service.verify_access(refresh.token, NOW)


# --- refresh tokens -----------------------------------------------------------------------


def test_an_issued_refresh_token_reads_back_its_claims(service: TokenService) -> None:
    issued = service.issue_refresh("user-alice", "family-1", "token-1", NOW)

    claims = service.read_refresh(issued.token, NOW)

    assert claims.subject == "user-alice"
    assert claims.family_id == "family-1"
    assert claims.token_id == "token-1"
    assert claims.expires_at == NOW_SECONDS + REFRESH_TTL
    assert claims.issued_at == NOW_SECONDS  # whole seconds, like the access token's iat
    assert issued.jti == "token-1"
    assert issued.expires_in == int(REFRESH_TTL.total_seconds())


def test_a_refresh_token_is_valid_until_its_expiry_by_the_injected_clock(service: TokenService) -> None:
    issued = service.issue_refresh("user-alice", "family-1", "token-1", NOW)
    expiry = NOW_SECONDS + REFRESH_TTL

    assert service.read_refresh(issued.token, expiry - timedelta(seconds=1)).token_id == "token-1"
    with pytest.raises(InvalidToken):
        service.read_refresh(issued.token, expiry)


def test_the_refresh_ttl_is_configurable(factory: Factory) -> None:
    service = factory(refresh_ttl=timedelta(hours=1))
    issued = service.issue_refresh("user-alice", "family-1", "token-1", NOW)

    assert issued.expires_in == 3600
    assert service.read_refresh(issued.token, NOW).expires_at == NOW_SECONDS + timedelta(hours=1)
    with pytest.raises(InvalidToken):
        service.read_refresh(issued.token, NOW_SECONDS + timedelta(hours=1))


def test_a_tampered_refresh_token_is_rejected(service: TokenService) -> None:
    issued = service.issue_refresh("user-alice", "family-1", "token-1", NOW)

    with pytest.raises(InvalidToken):
        service.read_refresh(_tampered(issued.token), NOW)


def test_another_service_cannot_read_the_refresh_token(factory: Factory) -> None:
    issued = factory(key_set=1).issue_refresh("user-alice", "family-1", "token-1", NOW)

    with pytest.raises(InvalidToken):
        factory(key_set=2).read_refresh(issued.token, NOW)


@pytest.mark.parametrize("garbage", GARBAGE, ids=range(len(GARBAGE)))
def test_garbage_is_not_a_refresh_token(service: TokenService, garbage: str) -> None:
    with pytest.raises(InvalidToken):
        service.read_refresh(garbage, NOW)


def test_an_access_token_is_not_a_refresh_token(service: TokenService) -> None:
    access = service.issue_access(ALICE, NOW)

    with pytest.raises(InvalidToken):
        service.read_refresh(access.token, NOW)


def test_refresh_tokens_of_one_family_are_distinct(service: TokenService) -> None:
    first = service.issue_refresh("user-alice", "family-1", "token-1", NOW)
    second = service.issue_refresh("user-alice", "family-1", "token-2", NOW)

    assert first.token != second.token
    assert service.read_refresh(first.token, NOW).token_id == "token-1"
    assert service.read_refresh(second.token, NOW).token_id == "token-2"
