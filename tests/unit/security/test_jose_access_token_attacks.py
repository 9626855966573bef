"""Attacks on JoseTokenService access tokens, each token crafted for real.

Tokens are built by hand (base64url + hmac, or a real private key through ``cryptography``) so
each one differs from a valid token in exactly the way under test; a baseline test shows the
same builder produces tokens the service accepts, so a rejection is for the stated reason.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from datetime import UTC, datetime, timedelta
from functools import cache
from typing import Any

import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature
from jose import jwt

from adapters.security.tokens import (
    JoseTokenService,
    SigningKey,
    VerificationKey,
    generate_development_key,
    generate_refresh_key,
    load_private_key_pem,
)
from domain.errors import InvalidToken
from domain.identity import Principal, Role

ISSUER = "https://trellis.test"
AUDIENCE = "trellis-api"
NOW = datetime(2001, 2, 3, 4, 5, 6, tzinfo=UTC)
NOW_TS = int(NOW.timestamp())
HS_SECRET = b"s" * 16 + b"e" * 16 + b"c" * 16
HS_KID = "hs-1"
RS_KID = "rs-1"
ES_KID = "es-1"


# --- crafting -----------------------------------------------------------------------------


def b64url(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def b64url_json(value: object) -> str:
    return b64url(json.dumps(value, separators=(",", ":")).encode("utf-8"))


@cache
def rsa_private_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@cache
def ec_private_key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


def private_pem(key: rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


def public_pem(key: rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey) -> bytes:
    return key.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)


def sign(signing_input: bytes, alg: str, key: bytes | rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey) -> bytes:
    if alg == "HS256":
        assert isinstance(key, bytes)
        return hmac.new(key, signing_input, hashlib.sha256).digest()
    if alg == "RS256":
        assert isinstance(key, rsa.RSAPrivateKey)
        return key.sign(signing_input, padding.PKCS1v15(), hashes.SHA256())
    if alg == "ES256":
        assert isinstance(key, ec.EllipticCurvePrivateKey)
        r, s = decode_dss_signature(key.sign(signing_input, ec.ECDSA(hashes.SHA256())))
        return r.to_bytes(32, "big") + s.to_bytes(32, "big")
    if alg.lower() == "none":
        return b""
    raise AssertionError(alg)


def valid_claims(**changes: Any) -> dict[str, Any]:
    claims: dict[str, Any] = {
        "iss": ISSUER,
        "aud": AUDIENCE,
        "sub": "user-mallory",
        "iat": NOW_TS,
        "exp": NOW_TS + 900,
        "jti": "jti-1",
        "roles": ["member"],
    }
    claims.update(changes)
    return claims


def craft(
    claims: dict[str, Any],
    *,
    alg: str = "HS256",
    kid: object = HS_KID,
    key: bytes | rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey = HS_SECRET,
    header_extra: dict[str, Any] | None = None,
) -> str:
    header: dict[str, Any] = {"alg": alg, "typ": "JWT", "kid": kid}
    header.update(header_extra or {})
    signing_input = f"{b64url_json(header)}.{b64url_json(claims)}"
    return f"{signing_input}.{b64url(sign(signing_input.encode('ascii'), alg, key))}"


def without(name: str) -> dict[str, Any]:
    claims = valid_claims()
    del claims[name]
    return claims


# --- services -----------------------------------------------------------------------------


def build_service(signing_key: SigningKey, **overrides: Any) -> JoseTokenService:
    options: dict[str, Any] = {
        "signing_key": signing_key,
        "issuer": ISSUER,
        "audience": AUDIENCE,
        "refresh_key": generate_refresh_key(),
        "leeway": timedelta(0),
    }
    options.update(overrides)
    return JoseTokenService(**options)


@pytest.fixture
def hs_service() -> JoseTokenService:
    return build_service(SigningKey(kid=HS_KID, algorithm="HS256", material=HS_SECRET))


@pytest.fixture
def rs_service() -> JoseTokenService:
    return build_service(load_private_key_pem(private_pem(rsa_private_key()), kid=RS_KID))


@pytest.fixture
def es_service() -> JoseTokenService:
    return build_service(load_private_key_pem(private_pem(ec_private_key()), kid=ES_KID))


def rejected(service: JoseTokenService, token: str, now: datetime = NOW) -> None:
    with pytest.raises(InvalidToken):
        service.verify_access(token, now)


# --- baselines: the crafting is right -----------------------------------------------------


def test_baseline_a_hand_made_hs256_token_is_accepted(hs_service: JoseTokenService) -> None:
    claims = hs_service.verify_access(craft(valid_claims()), NOW)

    assert claims.subject == "user-mallory"
    assert claims.roles == frozenset({Role.MEMBER})
    assert claims.expires_at == NOW + timedelta(seconds=900)


def test_baseline_a_hand_made_rs256_token_is_accepted(rs_service: JoseTokenService) -> None:
    token = craft(valid_claims(), alg="RS256", kid=RS_KID, key=rsa_private_key())

    assert rs_service.verify_access(token, NOW).subject == "user-mallory"


def test_baseline_a_hand_made_es256_token_is_accepted(es_service: JoseTokenService) -> None:
    token = craft(valid_claims(), alg="ES256", kid=ES_KID, key=ec_private_key())

    assert es_service.verify_access(token, NOW).subject == "user-mallory"


def test_issued_tokens_carry_kid_and_the_pinned_algorithm(rs_service: JoseTokenService) -> None:
    token = rs_service.issue_access(Principal("user-1", frozenset({Role.ADMIN})), NOW).token

    header = jwt.get_unverified_header(token)
    claims = jwt.get_unverified_claims(token)
    assert header["kid"] == RS_KID
    assert header["alg"] == "RS256"
    assert set(claims) == {"iss", "aud", "sub", "exp", "iat", "jti", "roles"}
    assert claims["iss"] == ISSUER
    assert claims["aud"] == AUDIENCE
    assert claims["roles"] == ["admin"]
    assert claims["exp"] - claims["iat"] == 15 * 60


# --- alg: none and algorithm confusion ----------------------------------------------------


@pytest.mark.parametrize("alg", ["none", "None", "NONE", "nOnE"])
def test_alg_none_is_rejected(hs_service: JoseTokenService, alg: str) -> None:
    rejected(hs_service, craft(valid_claims(), alg=alg))


def test_alg_none_is_rejected_even_with_a_signature_attached(hs_service: JoseTokenService) -> None:
    genuine = craft(valid_claims())
    header = b64url_json({"alg": "none", "typ": "JWT", "kid": HS_KID})
    _, payload, signature = genuine.split(".")

    rejected(hs_service, f"{header}.{payload}.{signature}")


def test_hs256_signed_with_the_rsa_public_key_is_rejected(rs_service: JoseTokenService) -> None:
    # The classic confusion: the verifier holds an RSA public key, the attacker (who knows it)
    # signs HS256 with the PEM bytes as the HMAC secret and hopes the header's alg is trusted.
    token = craft(valid_claims(roles=["admin"]), alg="HS256", kid=RS_KID, key=public_pem(rsa_private_key()))

    rejected(rs_service, token)


def test_hs256_signed_with_the_ec_public_key_is_rejected(es_service: JoseTokenService) -> None:
    token = craft(valid_claims(roles=["admin"]), alg="HS256", kid=ES_KID, key=public_pem(ec_private_key()))

    rejected(es_service, token)


def test_an_algorithm_is_pinned_per_kid_when_keys_of_several_kinds_rotate() -> None:
    rsa_verification = VerificationKey("RS256", public_pem(rsa_private_key()))
    service = build_service(
        SigningKey(kid=HS_KID, algorithm="HS256", material=HS_SECRET),
        verification_keys={RS_KID: rsa_verification},
    )
    confused = craft(valid_claims(), alg="HS256", kid=RS_KID, key=public_pem(rsa_private_key()))
    swapped = craft(valid_claims(), alg="RS256", kid=HS_KID, key=rsa_private_key())
    genuine_rs = craft(valid_claims(), alg="RS256", kid=RS_KID, key=rsa_private_key())

    rejected(service, confused)
    rejected(service, swapped)
    assert service.verify_access(genuine_rs, NOW).subject == "user-mallory"


@pytest.mark.parametrize("alg", ["HS384", "HS512"])
def test_a_stronger_looking_algorithm_than_the_key_is_configured_for_is_rejected(
    hs_service: JoseTokenService, alg: str
) -> None:
    digest = hashlib.sha384 if alg == "HS384" else hashlib.sha512
    header = b64url_json({"alg": alg, "typ": "JWT", "kid": HS_KID})
    signing_input = f"{header}.{b64url_json(valid_claims())}"
    signature = hmac.new(HS_SECRET, signing_input.encode("ascii"), digest).digest()

    rejected(hs_service, f"{signing_input}.{b64url(signature)}")


def test_rs256_token_from_another_key_is_rejected(rs_service: JoseTokenService) -> None:
    other = rsa.generate_private_key(public_exponent=65537, key_size=2048)

    rejected(rs_service, craft(valid_claims(), alg="RS256", kid=RS_KID, key=other))


# --- kid ----------------------------------------------------------------------------------


@pytest.mark.parametrize("kid", ["unknown", "", None, 1, ["hs-1"], {"kid": "hs-1"}])
def test_an_unknown_or_malformed_kid_is_rejected(hs_service: JoseTokenService, kid: object) -> None:
    rejected(hs_service, craft(valid_claims(), kid=kid))


def test_a_missing_kid_is_rejected(hs_service: JoseTokenService) -> None:
    header = b64url_json({"alg": "HS256", "typ": "JWT"})
    signing_input = f"{header}.{b64url_json(valid_claims())}"
    signature = hmac.new(HS_SECRET, signing_input.encode("ascii"), hashlib.sha256).digest()

    rejected(hs_service, f"{signing_input}.{b64url(signature)}")


def test_a_known_kid_with_another_secret_is_rejected(hs_service: JoseTokenService) -> None:
    rejected(hs_service, craft(valid_claims(), key=b"x" * 48))


def test_a_critical_header_extension_is_rejected(hs_service: JoseTokenService) -> None:
    rejected(hs_service, craft(valid_claims(), header_extra={"crit": ["exp"], "exp": 1}))


def test_keys_rotate_old_tokens_verify_while_their_key_is_listed() -> None:
    old_key = generate_development_key()
    new_key = generate_development_key()
    old_token = build_service(old_key).issue_access(Principal("user-1"), NOW).token

    rotated = build_service(new_key, verification_keys={old_key.kid: old_key.verification_key()})
    retired = build_service(new_key)

    assert rotated.verify_access(old_token, NOW).subject == "user-1"
    assert jwt.get_unverified_header(rotated.issue_access(Principal("user-1"), NOW).token)["kid"] == new_key.kid
    rejected(retired, old_token)


# --- claims -------------------------------------------------------------------------------


@pytest.mark.parametrize("missing", ["exp", "iat", "jti", "sub", "aud", "iss"])
def test_a_token_missing_a_required_claim_is_rejected(hs_service: JoseTokenService, missing: str) -> None:
    rejected(hs_service, craft(without(missing)))


def test_a_token_without_roles_is_rejected(hs_service: JoseTokenService) -> None:
    rejected(hs_service, craft(without("roles")))


@pytest.mark.parametrize(
    "aud",
    ["other-api", "", "TRELLIS-API", ["other-api"], [], None, 42, {"aud": AUDIENCE}],
    ids=["other", "empty", "case", "list-without-ours", "empty-list", "null", "number", "object"],
)
def test_a_wrong_audience_is_rejected(hs_service: JoseTokenService, aud: object) -> None:
    rejected(hs_service, craft(valid_claims(aud=aud)))


def test_an_audience_list_naming_us_is_accepted(hs_service: JoseTokenService) -> None:
    token = craft(valid_claims(aud=["other-api", AUDIENCE]))

    assert hs_service.verify_access(token, NOW).subject == "user-mallory"


@pytest.mark.parametrize(
    "iss",
    ["https://evil.test", "", ISSUER + "/", [ISSUER], None, 7],
    ids=["other", "empty", "slash", "list", "null", "n"],
)
def test_a_wrong_issuer_is_rejected(hs_service: JoseTokenService, iss: object) -> None:
    rejected(hs_service, craft(valid_claims(iss=iss)))


@pytest.mark.parametrize(
    "roles",
    ["admin", ["superuser"], ["admin", "root"], ["Admin"], [1], [None], [["admin"]], {"admin": True}, None],
    ids=["string", "unknown", "one-unknown", "case", "number", "null-item", "nested", "object", "null"],
)
def test_roles_that_are_not_a_list_of_known_roles_are_rejected(hs_service: JoseTokenService, roles: object) -> None:
    rejected(hs_service, craft(valid_claims(roles=roles)))


@pytest.mark.parametrize(
    "changes",
    [
        {"sub": ""},
        {"sub": 42},
        {"sub": None},
        {"jti": ""},
        {"jti": 7},
        {"exp": str(NOW_TS + 900)},
        {"exp": True},
        {"exp": None},
        {"exp": [NOW_TS + 900]},
        {"iat": "now"},
        {"iat": [NOW_TS]},
        {"iat": False},
        {"exp": NOW_TS - 1},
        {"exp": 10**30},
    ],
    ids=lambda changes: "-".join(f"{k}={v!r}" for k, v in changes.items()),
)
def test_claims_of_the_wrong_shape_are_rejected(hs_service: JoseTokenService, changes: dict[str, Any]) -> None:
    rejected(hs_service, craft(valid_claims(**changes)))


# --- time ---------------------------------------------------------------------------------


def test_an_expired_token_is_rejected(hs_service: JoseTokenService) -> None:
    token = craft(valid_claims(iat=NOW_TS - 1000, exp=NOW_TS - 100))

    rejected(hs_service, token)


def test_expiry_follows_the_injected_now_not_the_wall_clock(hs_service: JoseTokenService) -> None:
    # Expired by the wall clock for twenty-odd years; valid at the injected instant.
    token = craft(valid_claims())

    assert hs_service.verify_access(token, NOW + timedelta(seconds=899)).subject == "user-mallory"
    rejected(hs_service, token, NOW + timedelta(seconds=900))


def test_a_token_that_is_not_yet_expired_by_the_wall_clock_still_expires_by_now() -> None:
    service = build_service(SigningKey(kid=HS_KID, algorithm="HS256", material=HS_SECRET))
    wall = datetime.now(UTC)
    token = service.issue_access(Principal("user-1"), wall)

    rejected(service, token.token, wall + timedelta(hours=1))


def test_the_leeway_tolerates_small_clock_skew_only() -> None:
    service = build_service(SigningKey(kid=HS_KID, algorithm="HS256", material=HS_SECRET), leeway=timedelta(seconds=30))
    token = craft(valid_claims())

    assert service.verify_access(token, NOW + timedelta(seconds=929)).subject == "user-mallory"
    assert service.verify_access(token, NOW - timedelta(seconds=30)).subject == "user-mallory"
    rejected(service, token, NOW + timedelta(seconds=930))
    rejected(service, token, NOW - timedelta(seconds=31))


def test_a_token_issued_in_the_future_is_rejected(hs_service: JoseTokenService) -> None:
    rejected(hs_service, craft(valid_claims(iat=NOW_TS + 3600, exp=NOW_TS + 4500)))


def test_a_token_not_valid_before_a_later_time_is_rejected(hs_service: JoseTokenService) -> None:
    rejected(hs_service, craft(valid_claims(nbf=NOW_TS + 60)))


def test_a_token_expiring_before_it_was_issued_is_rejected(hs_service: JoseTokenService) -> None:
    rejected(hs_service, craft(valid_claims(iat=NOW_TS, exp=NOW_TS)))


def test_a_naive_now_is_a_programming_error(hs_service: JoseTokenService) -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        hs_service.verify_access(craft(valid_claims()), NOW.replace(tzinfo=None))


# --- tampering ----------------------------------------------------------------------------


def test_a_payload_swapped_under_a_genuine_signature_is_rejected(hs_service: JoseTokenService) -> None:
    genuine = hs_service.issue_access(Principal("user-1", frozenset({Role.GUEST})), NOW).token
    header, payload, signature = genuine.split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    claims["roles"] = ["admin"]

    rejected(hs_service, f"{header}.{b64url_json(claims)}.{signature}")


def test_a_header_swapped_under_a_genuine_signature_is_rejected(rs_service: JoseTokenService) -> None:
    genuine = rs_service.issue_access(Principal("user-1"), NOW).token
    _, payload, signature = genuine.split(".")
    header = b64url_json({"alg": "RS256", "typ": "JWT", "kid": RS_KID, "x": 1})

    rejected(rs_service, f"{header}.{payload}.{signature}")


@pytest.mark.parametrize("service_name", ["hs_service", "rs_service", "es_service"])
def test_a_flipped_signature_bit_is_rejected(request: pytest.FixtureRequest, service_name: str) -> None:
    service: JoseTokenService = request.getfixturevalue(service_name)
    genuine = service.issue_access(Principal("user-1"), NOW).token
    header, payload, signature = genuine.split(".")
    raw = bytearray(base64.urlsafe_b64decode(signature + "=" * (-len(signature) % 4)))
    raw[0] ^= 0x01

    rejected(service, f"{header}.{payload}.{b64url(bytes(raw))}")


def test_a_truncated_or_stripped_signature_is_rejected(hs_service: JoseTokenService) -> None:
    genuine = hs_service.issue_access(Principal("user-1"), NOW).token
    header, payload, signature = genuine.split(".")

    rejected(hs_service, f"{header}.{payload}.")
    rejected(hs_service, f"{header}.{payload}.{signature[:-8]}")
    rejected(hs_service, f"{header}.{payload}")


# --- malformed ----------------------------------------------------------------------------


def _signed(header_segment: str, payload_segment: str) -> str:
    signing_input = f"{header_segment}.{payload_segment}"
    return f"{signing_input}.{b64url(hmac.new(HS_SECRET, signing_input.encode('ascii'), hashlib.sha256).digest())}"


GOOD_HEADER = b64url_json({"alg": "HS256", "typ": "JWT", "kid": HS_KID})


@pytest.mark.parametrize(
    "token",
    [
        _signed(b64url(b"not json"), b64url_json(valid_claims())),
        _signed(b64url_json(["alg", "HS256"]), b64url_json(valid_claims())),
        _signed(b64url(b"\xff\xfe"), b64url_json(valid_claims())),
        _signed(GOOD_HEADER, b64url(b"not json")),
        _signed(GOOD_HEADER, b64url_json([valid_claims()])),
        _signed(GOOD_HEADER, b64url_json("a string")),
        _signed(GOOD_HEADER, b64url(b"\xff\xfe")),
        _signed(GOOD_HEADER, ""),
        _signed("", b64url_json(valid_claims())),
        _signed("!!!", b64url_json(valid_claims())),
        _signed(GOOD_HEADER, b64url_json(valid_claims())) + ".extra",
        "." * 2,
    ],
    ids=[
        "header-not-json",
        "header-array",
        "header-not-utf8",
        "payload-not-json",
        "payload-array",
        "payload-string",
        "payload-not-utf8",
        "payload-empty",
        "header-empty",
        "header-not-base64",
        "four-segments",
        "only-dots",
    ],
)
def test_malformed_tokens_are_rejected(hs_service: JoseTokenService, token: str) -> None:
    rejected(hs_service, token)
