"""Adapter-specific details of the password hashers (the shared behaviour is in tests/contract)."""

from __future__ import annotations

import pytest
from passlib.hash import argon2

from adapters.memory.hashing import DEFAULT_ITERATIONS, Pbkdf2PasswordHasher
from adapters.security.passwords import Argon2PasswordHasher

PASSWORD = "correct-horse-staple-42"


def test_argon2_defaults_are_the_owasp_recommendation() -> None:
    hasher = Argon2PasswordHasher()

    password_hash = hasher.hash(PASSWORD)

    assert password_hash.startswith("$argon2id$v=19$m=19456,t=2,p=1$")
    assert hasher.verify(PASSWORD, password_hash) is True


def test_argon2_hashes_are_argon2id_with_the_configured_costs() -> None:
    password_hash = Argon2PasswordHasher(time_cost=1, memory_cost=512, parallelism=2).hash(PASSWORD)

    assert password_hash.startswith("$argon2id$v=19$m=512,t=1,p=2$")


@pytest.mark.parametrize(
    "current",
    [
        Argon2PasswordHasher(time_cost=2, memory_cost=1024, parallelism=1),
        Argon2PasswordHasher(time_cost=1, memory_cost=2048, parallelism=1),
        Argon2PasswordHasher(time_cost=1, memory_cost=1024, parallelism=2),
    ],
    ids=["time_cost", "memory_cost", "parallelism"],
)
def test_argon2_needs_rehash_when_any_cost_changed(current: Argon2PasswordHasher) -> None:
    old_hash = Argon2PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1).hash(PASSWORD)

    assert current.needs_rehash(old_hash) is True
    assert current.verify(PASSWORD, old_hash) is True


def test_argon2i_hashes_are_upgraded_to_argon2id() -> None:
    argon2i_hash = argon2.using(type="I", time_cost=1, memory_cost=1024, parallelism=1).hash(PASSWORD)
    hasher = Argon2PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)

    assert argon2i_hash.startswith("$argon2i$")
    assert hasher.needs_rehash(argon2i_hash) is True


def test_argon2_verify_does_not_raise_for_an_oversized_password() -> None:
    hasher = Argon2PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)
    password_hash = hasher.hash(PASSWORD)

    assert hasher.verify("x" * 100_000, password_hash) is False


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"time_cost": 0}, "time_cost"),
        ({"parallelism": 0}, "parallelism"),
        ({"memory_cost": 4}, "memory_cost"),
        ({"memory_cost": 15, "parallelism": 2}, "memory_cost"),
    ],
)
def test_argon2_costs_are_validated(options: dict[str, int], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        Argon2PasswordHasher(**options)


def test_pbkdf2_default_is_the_owasp_iteration_count() -> None:
    assert DEFAULT_ITERATIONS == 600_000
    assert Pbkdf2PasswordHasher().iterations == DEFAULT_ITERATIONS


def test_pbkdf2_hash_format_names_scheme_iterations_salt_and_digest() -> None:
    scheme, iterations, salt, digest = Pbkdf2PasswordHasher(iterations=1_000).hash(PASSWORD).split("$")

    assert scheme == "pbkdf2_sha256"
    assert iterations == "1000"
    assert len(salt) == 22  # 16 bytes, base64url without padding
    assert len(digest) == 43  # 32 bytes


def test_pbkdf2_refuses_to_run_an_absurd_iteration_count_from_a_stored_hash() -> None:
    hasher = Pbkdf2PasswordHasher(iterations=1_000)
    _, _, salt, digest = hasher.hash(PASSWORD).split("$")

    assert hasher.verify(PASSWORD, f"pbkdf2_sha256$99999999999${salt}${digest}") is False


def test_pbkdf2_rejects_a_password_that_cannot_be_encoded() -> None:
    hasher = Pbkdf2PasswordHasher(iterations=1_000)

    assert hasher.verify("\ud800", hasher.hash(PASSWORD)) is False


@pytest.mark.parametrize("iterations", [0, -1, 10_000_001])
def test_pbkdf2_iterations_are_validated(iterations: int) -> None:
    with pytest.raises(ValueError, match="iterations"):
        Pbkdf2PasswordHasher(iterations=iterations)
