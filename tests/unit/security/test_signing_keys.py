"""Key helpers and key validation of the jose token adapter."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa

from adapters.security.tokens import (
    JoseTokenService,
    SigningKey,
    VerificationKey,
    generate_development_key,
    generate_refresh_key,
    load_private_key_pem,
)
from domain.identity import Principal, Role

NOW = datetime(2001, 2, 3, 4, 5, 6, tzinfo=UTC)


def pkcs8(key: rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey | ed25519.Ed25519PrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


def public(key: rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey) -> bytes:
    return key.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)


def service(signing_key: SigningKey) -> JoseTokenService:
    return JoseTokenService(signing_key=signing_key, issuer="iss", audience="aud", refresh_key=generate_refresh_key())


def test_development_keys_are_random_hs256_keys() -> None:
    first, second = generate_development_key(), generate_development_key()

    assert first.algorithm == second.algorithm == "HS256"
    assert len(first.material) >= 32
    assert first.material != second.material
    assert first.kid != second.kid


def test_refresh_keys_are_random_and_256_bits() -> None:
    first, second = generate_refresh_key(), generate_refresh_key()

    assert len(first) == 32
    assert first != second


def test_key_material_stays_out_of_repr() -> None:
    key = generate_development_key()

    assert repr(key.material) not in repr(key)
    assert repr(key.material) not in repr(key.verification_key())
    assert repr(key.material) not in repr(service(key))


def test_an_rsa_pem_becomes_an_rs256_key_that_signs_and_verifies() -> None:
    key = load_private_key_pem(pkcs8(rsa.generate_private_key(public_exponent=65537, key_size=2048)), kid="rsa-2024")
    tokens = service(key)

    assert (key.kid, key.algorithm) == ("rsa-2024", "RS256")
    assert b"PUBLIC KEY" in key.verification_key().material
    assert tokens.verify_access(
        tokens.issue_access(Principal("u", frozenset({Role.ADMIN})), NOW).token, NOW
    ).principal.is_admin


def test_a_traditional_format_rsa_pem_given_as_text_is_accepted() -> None:
    rsa_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    text = rsa_key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.TraditionalOpenSSL, serialization.NoEncryption()
    ).decode("ascii")

    assert load_private_key_pem(text, kid="k").algorithm == "RS256"


def test_an_ec_p256_pem_becomes_an_es256_key_that_signs_and_verifies() -> None:
    key = load_private_key_pem(pkcs8(ec.generate_private_key(ec.SECP256R1())), kid="ec-2024")
    tokens = service(key)

    assert key.algorithm == "ES256"
    assert (
        tokens.verify_access(tokens.issue_access(Principal("u"), NOW).token, NOW + timedelta(minutes=1)).subject == "u"
    )


@pytest.mark.parametrize(
    "pem",
    [
        pkcs8(ec.generate_private_key(ec.SECP384R1())),
        pkcs8(ed25519.Ed25519PrivateKey.generate()),
        public(ec.generate_private_key(ec.SECP256R1())),
        b"-----BEGIN PRIVATE KEY-----\nnot a key\n-----END PRIVATE KEY-----\n",
        b"",
    ],
    ids=["p384", "ed25519", "public-key", "bad-body", "empty"],
)
def test_unsupported_or_malformed_pems_are_refused(pem: bytes) -> None:
    with pytest.raises(ValueError):  # noqa: PT011 - every reason is a ValueError with its own message
        load_private_key_pem(pem, kid="k")


def test_an_encrypted_pem_is_refused() -> None:
    pem = rsa.generate_private_key(public_exponent=65537, key_size=2048).private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.BestAvailableEncryption(b"passphrase"),
    )

    with pytest.raises(ValueError, match="unencrypted"):
        load_private_key_pem(pem, kid="k")


def test_a_short_rsa_key_is_refused() -> None:
    weak = rsa.generate_private_key(public_exponent=65537, key_size=1024)  # noqa: S505 - the weak key is the point

    with pytest.raises(ValueError, match="2048"):
        load_private_key_pem(pkcs8(weak), kid="k")


@pytest.mark.parametrize(
    ("algorithm", "material", "message"),
    [
        ("HS256", b"short", "at least 32 bytes"),
        ("HS512", b"x" * 64, "unsupported algorithm"),
        ("none", b"x" * 64, "unsupported algorithm"),
        ("RS256", b"x" * 64, "PEM private key"),
        ("ES256", pkcs8(rsa.generate_private_key(public_exponent=65537, key_size=2048)), "EC key"),
    ],
)
def test_signing_keys_are_validated(algorithm: str, material: bytes, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        SigningKey(kid="k", algorithm=algorithm, material=material)


def test_a_signing_key_needs_a_kid() -> None:
    with pytest.raises(ValueError, match="kid"):
        SigningKey(kid="", algorithm="HS256", material=b"x" * 32)


def test_a_public_key_cannot_be_configured_as_an_hmac_secret() -> None:
    rsa_public = public(rsa.generate_private_key(public_exponent=65537, key_size=2048))

    with pytest.raises(ValueError, match="asymmetric"):
        VerificationKey("HS256", rsa_public)
    with pytest.raises(ValueError, match="asymmetric"):
        SigningKey(kid="k", algorithm="HS256", material=rsa_public)


def test_a_verification_key_must_match_its_algorithm() -> None:
    with pytest.raises(ValueError, match="RSA key"):
        VerificationKey("RS256", public(ec.generate_private_key(ec.SECP256R1())))


def test_the_current_kid_cannot_be_listed_with_another_algorithm() -> None:
    key = generate_development_key()
    other = VerificationKey("ES256", public(ec.generate_private_key(ec.SECP256R1())))

    with pytest.raises(ValueError, match="does not match"):
        JoseTokenService(
            signing_key=key,
            issuer="iss",
            audience="aud",
            refresh_key=generate_refresh_key(),
            verification_keys={key.kid: other},
        )


@pytest.mark.parametrize(
    ("option", "value"),
    [("access_ttl", timedelta(0)), ("refresh_ttl", timedelta(milliseconds=10)), ("leeway", timedelta(seconds=-1))],
)
def test_durations_are_validated(option: str, value: timedelta) -> None:
    options: dict[str, Any] = {
        "signing_key": generate_development_key(),
        "issuer": "iss",
        "audience": "aud",
        "refresh_key": generate_refresh_key(),
        option: value,
    }

    with pytest.raises(ValueError, match=option):
        JoseTokenService(**options)
