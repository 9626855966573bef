"""The PasswordHasher contract, run against every adapter of the port.

Costs are kept low through the constructors so the suite stays fast; the "other" hasher of
each adapter differs from the "cheap" one only in cost parameters, which is what
``needs_rehash`` is about.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import pytest

from adapters.memory.hashing import Pbkdf2PasswordHasher
from adapters.security.passwords import Argon2PasswordHasher
from domain.ports import PasswordHasher

PASSWORD = "correct-horse-staple-42"


@dataclass(frozen=True)
class HasherKind:
    cheap: Callable[[], PasswordHasher]
    costlier: Callable[[], PasswordHasher]


KINDS = {
    "argon2id": HasherKind(
        cheap=lambda: Argon2PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1),
        costlier=lambda: Argon2PasswordHasher(time_cost=2, memory_cost=1024, parallelism=1),
    ),
    "pbkdf2": HasherKind(
        cheap=lambda: Pbkdf2PasswordHasher(iterations=1_000),
        costlier=lambda: Pbkdf2PasswordHasher(iterations=2_000),
    ),
}


@pytest.fixture(params=sorted(KINDS))
def kind(request: pytest.FixtureRequest) -> HasherKind:
    return KINDS[request.param]


@pytest.fixture
def hasher(kind: HasherKind) -> PasswordHasher:
    return kind.cheap()


def test_a_hash_verifies_the_password_it_was_made_from(hasher: PasswordHasher) -> None:
    password_hash = hasher.hash(PASSWORD)

    assert hasher.verify(PASSWORD, password_hash) is True


def test_the_hash_does_not_contain_the_password(hasher: PasswordHasher) -> None:
    password_hash = hasher.hash(PASSWORD)

    assert PASSWORD not in password_hash
    assert password_hash != PASSWORD


@pytest.mark.parametrize(
    "wrong",
    ["correct-horse-staple-43", "Correct-horse-staple-42", "correct-horse-staple-42 ", "", PASSWORD[:-1]],
)
def test_a_wrong_password_does_not_verify(hasher: PasswordHasher, wrong: str) -> None:
    password_hash = hasher.hash(PASSWORD)

    assert hasher.verify(wrong, password_hash) is False


def test_non_ascii_passwords_round_trip(hasher: PasswordHasher) -> None:
    password = "pässwörd-🔑-密码-long-enough"
    password_hash = hasher.hash(password)

    assert hasher.verify(password, password_hash) is True
    assert hasher.verify("passwörd-🔑-密码-long-enough", password_hash) is False


def test_each_hash_has_its_own_salt(hasher: PasswordHasher) -> None:
    first = hasher.hash(PASSWORD)
    second = hasher.hash(PASSWORD)

    assert first != second
    assert hasher.verify(PASSWORD, first) is True
    assert hasher.verify(PASSWORD, second) is True


def test_another_instance_with_the_same_costs_verifies_the_hash(kind: HasherKind) -> None:
    password_hash = kind.cheap().hash(PASSWORD)

    assert kind.cheap().verify(PASSWORD, password_hash) is True


def test_a_fresh_hash_needs_no_rehash(hasher: PasswordHasher) -> None:
    assert hasher.needs_rehash(hasher.hash(PASSWORD)) is False


def test_a_hash_made_with_other_costs_needs_a_rehash_but_still_verifies(kind: HasherKind) -> None:
    old_hash = kind.cheap().hash(PASSWORD)
    current = kind.costlier()

    assert current.needs_rehash(old_hash) is True
    assert current.verify(PASSWORD, old_hash) is True
    assert current.needs_rehash(current.hash(PASSWORD)) is False


MALFORMED_HASHES = [
    "",
    "garbage",
    "$",
    "$$$$",
    "$argon2id$",
    "$argon2id$v=19$m=1024,t=1,p=1$",
    "$argon2id$v=19$m=1024,t=1,p=1$!!!!$????",
    "$2b$12$abcdefghijklmnopqrstuv",
    "pbkdf2_sha256$",
    "pbkdf2_sha256$1000$$",
    "pbkdf2_sha256$x$c2FsdHNhbHQ$ZGlnZXN0",
    "pbkdf2_sha256$1000$!!!$???",
    "pbkdf2_sha256$1000$c2FsdHNhbHQ$dG9vLXNob3J0",
    "pbkdf2_sha256$²$c2FsdHNhbHQ$ZGlnZXN0",
    "ünïcödé",
]


@pytest.mark.parametrize("malformed", MALFORMED_HASHES)
def test_a_malformed_hash_verifies_nothing_and_never_raises(hasher: PasswordHasher, malformed: str) -> None:
    assert hasher.verify(PASSWORD, malformed) is False
    assert hasher.needs_rehash(malformed) is True


def test_a_truncated_hash_verifies_nothing(hasher: PasswordHasher) -> None:
    password_hash = hasher.hash(PASSWORD)

    assert hasher.verify(PASSWORD, password_hash[:-4]) is False


def test_a_hash_from_the_other_adapter_verifies_nothing(kind: HasherKind) -> None:
    mine = kind.cheap()
    other = next(k for k in KINDS.values() if k is not kind).cheap()
    foreign_hash = other.hash(PASSWORD)

    assert mine.verify(PASSWORD, foreign_hash) is False
    assert mine.needs_rehash(foreign_hash) is True
