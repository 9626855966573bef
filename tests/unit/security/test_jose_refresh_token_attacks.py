"""Attacks on JoseTokenService refresh tokens (JWE, ``dir`` + ``A256GCM``), crafted for real.

The attacker here is assumed to hold the refresh key in some tests: that shows the pinning
(``alg``, ``enc``, no compression, ``typ``) holds on its own, not only because decryption fails.
"""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from jose import jwe

from adapters.security.tokens import JoseTokenService, generate_development_key, generate_refresh_key
from domain.errors import InvalidToken
from domain.identity import Principal

NOW = datetime(2001, 2, 3, 4, 5, 6, tzinfo=UTC)
NOW_TS = int(NOW.timestamp())
REFRESH_KEY = bytes(range(32))


def build_service(refresh_key: bytes = REFRESH_KEY, **overrides: Any) -> JoseTokenService:
    options: dict[str, Any] = {
        "signing_key": generate_development_key(),
        "issuer": "https://trellis.test",
        "audience": "trellis-api",
        "refresh_key": refresh_key,
        "leeway": timedelta(0),
    }
    options.update(overrides)
    return JoseTokenService(**options)


@pytest.fixture
def service() -> JoseTokenService:
    return build_service()


def payload(**changes: Any) -> dict[str, Any]:
    claims: dict[str, Any] = {
        "typ": "refresh",
        "sub": "user-1",
        "fam": "family-1",
        "jti": "token-1",
        "iat": NOW_TS,
        "exp": NOW_TS + 3600,
    }
    claims.update(changes)
    return {k: v for k, v in claims.items() if v is not ...}


def encrypt(
    claims: dict[str, Any] | bytes,
    *,
    key: bytes = REFRESH_KEY,
    alg: str = "dir",
    enc: str = "A256GCM",
    zip: str | None = None,
    kid: str | None = None,
) -> str:
    plaintext = claims if isinstance(claims, bytes) else json.dumps(claims).encode("utf-8")
    return jwe.encrypt(plaintext, key, encryption=enc, algorithm=alg, zip=zip, kid=kid).decode("ascii")


def b64url(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def b64url_decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def rejected(service: JoseTokenService, token: str, now: datetime = NOW) -> None:
    with pytest.raises(InvalidToken):
        service.read_refresh(token, now)


def test_baseline_a_hand_made_refresh_token_is_read(service: JoseTokenService) -> None:
    claims = service.read_refresh(encrypt(payload()), NOW)

    assert (claims.subject, claims.family_id, claims.token_id) == ("user-1", "family-1", "token-1")
    assert claims.expires_at == NOW + timedelta(hours=1)


def test_an_issued_refresh_token_is_a_dir_a256gcm_jwe_with_the_documented_payload(service: JoseTokenService) -> None:
    token = service.issue_refresh("user-1", "family-1", "token-1", NOW).token

    assert jwe.get_unverified_header(token) == {"alg": "dir", "enc": "A256GCM"}
    assert token.split(".")[1] == ""  # direct encryption: no encrypted key
    decrypted = jwe.decrypt(token, REFRESH_KEY)
    assert decrypted is not None
    assert json.loads(decrypted) == {
        "typ": "refresh",
        "sub": "user-1",
        "fam": "family-1",
        "jti": "token-1",
        "iat": NOW_TS,
        "exp": NOW_TS + 14 * 24 * 3600,
    }


def test_the_payload_is_not_readable_without_the_key(service: JoseTokenService) -> None:
    token = service.issue_refresh("user-secret-subject", "family-1", "token-1", NOW).token

    assert "user-secret-subject" not in "".join(b64url_decode(part).decode("latin-1") for part in token.split("."))


@pytest.mark.parametrize("segment", [0, 2, 3, 4], ids=["header", "iv", "ciphertext", "tag"])
def test_a_flipped_bit_in_any_segment_is_rejected(service: JoseTokenService, segment: int) -> None:
    parts = service.issue_refresh("user-1", "family-1", "token-1", NOW).token.split(".")
    raw = bytearray(b64url_decode(parts[segment]))
    raw[len(raw) // 2] ^= 0x01
    parts[segment] = b64url(bytes(raw))

    rejected(service, ".".join(parts))


def test_a_non_empty_encrypted_key_segment_is_rejected(service: JoseTokenService) -> None:
    parts = service.issue_refresh("user-1", "family-1", "token-1", NOW).token.split(".")
    parts[1] = b64url(b"\x00" * 40)

    rejected(service, ".".join(parts))


def test_a_token_encrypted_with_another_key_is_rejected(service: JoseTokenService) -> None:
    rejected(service, encrypt(payload(), key=generate_refresh_key()))


def test_another_service_with_the_same_key_reads_it() -> None:
    token = build_service().issue_refresh("user-1", "family-1", "token-1", NOW).token

    assert build_service().read_refresh(token, NOW).token_id == "token-1"


@pytest.mark.parametrize(
    ("alg", "enc", "key"),
    [
        ("A256KW", "A256GCM", REFRESH_KEY),
        ("A256KW", "A128CBC-HS256", REFRESH_KEY),
        ("dir", "A128GCM", REFRESH_KEY[:16]),
        ("dir", "A128CBC-HS256", REFRESH_KEY),
        ("A128KW", "A256GCM", REFRESH_KEY[:16]),
    ],
)
def test_other_algorithms_and_encodings_are_rejected_even_with_our_key(
    service: JoseTokenService, alg: str, enc: str, key: bytes
) -> None:
    token = encrypt(payload(), key=key, alg=alg, enc=enc)
    assert jwe.decrypt(token, key) is not None  # a well-formed JWE that jose itself can open

    rejected(service, token)


def test_a_compressed_token_is_rejected(service: JoseTokenService) -> None:
    rejected(service, encrypt(payload(), zip="DEF"))


def test_extra_header_parameters_are_rejected(service: JoseTokenService) -> None:
    rejected(service, encrypt(payload(), kid="some-key"))


@pytest.mark.parametrize("typ", ["access", "Refresh", "", None, ...], ids=["access", "case", "empty", "null", "absent"])
def test_a_wrong_or_missing_typ_is_rejected(service: JoseTokenService, typ: object) -> None:
    rejected(service, encrypt(payload(typ=typ)))


@pytest.mark.parametrize("missing", ["sub", "fam", "jti", "exp", "iat"])
def test_a_missing_claim_is_rejected(service: JoseTokenService, missing: str) -> None:
    rejected(service, encrypt(payload(**{missing: ...})))


@pytest.mark.parametrize(
    "changes",
    [{"sub": ""}, {"fam": 1}, {"jti": None}, {"exp": "later"}, {"iat": True}, {"exp": NOW_TS}],
    ids=["empty-sub", "numeric-fam", "null-jti", "string-exp", "bool-iat", "exp-at-iat"],
)
def test_claims_of_the_wrong_shape_are_rejected(service: JoseTokenService, changes: dict[str, Any]) -> None:
    rejected(service, encrypt(payload(**changes)))


@pytest.mark.parametrize("plaintext", [b"not json", b"[1, 2]", b'"refresh"', b"\xff\xfe", b""])
def test_a_payload_that_is_not_a_json_object_is_rejected(service: JoseTokenService, plaintext: bytes) -> None:
    rejected(service, encrypt(plaintext))


def test_an_expired_refresh_token_is_rejected(service: JoseTokenService) -> None:
    token = encrypt(payload())

    assert service.read_refresh(token, NOW + timedelta(seconds=3599)).token_id == "token-1"
    rejected(service, token, NOW + timedelta(seconds=3600))


def test_a_refresh_token_issued_in_the_future_is_rejected(service: JoseTokenService) -> None:
    rejected(service, encrypt(payload(iat=NOW_TS + 600, exp=NOW_TS + 4200)))


def test_an_access_token_presented_as_refresh_is_rejected(service: JoseTokenService) -> None:
    rejected(service, service.issue_access(Principal("user-1"), NOW).token)


def test_the_refresh_key_must_be_256_bits() -> None:
    with pytest.raises(ValueError, match="32 bytes"):
        build_service(refresh_key=b"k" * 16)
