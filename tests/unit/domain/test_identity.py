"""Identity: e-mail normalisation, users and the password policy."""

from __future__ import annotations

import pytest

from domain.errors import WeakPassword
from domain.identity import (
    MAX_PASSWORD_LENGTH,
    MIN_PASSWORD_LENGTH,
    Principal,
    Role,
    User,
    check_password_policy,
    normalise_email,
    password_problems,
)
from tests.unit.domain.builders import T0

EMAIL = "ada.lovelace@example.com"
GOOD = "violet-anchor-93-drift"


@pytest.mark.parametrize(
    ("raw", "normal"),
    [("Ada@Example.COM", "ada@example.com"), ("  ada@example.com\n", "ada@example.com"), ("a@b.c", "a@b.c")],
)
def test_normalise_email(raw: str, normal: str) -> None:
    assert normalise_email(raw) == normal


def test_a_user_stores_its_email_normalised_and_exposes_its_principal() -> None:
    user = User(
        id="u1",
        email=" Ada@Example.com ",
        display_name="Ada",
        roles=frozenset({Role.ADMIN}),
        created_at=T0,
        updated_at=T0,
    )

    assert user.email == "ada@example.com"
    assert user.principal == Principal("u1", frozenset({Role.ADMIN}))
    assert user.principal.is_admin is True


def test_a_good_password_has_no_problems() -> None:
    assert password_problems(GOOD, EMAIL) == []
    check_password_policy(GOOD, EMAIL)


def _messages(password: str, email: str = EMAIL) -> list[str]:
    problems = password_problems(password, email)
    assert all(p.field == "body.password" for p in problems)
    return [p.message for p in problems]


def test_too_short() -> None:
    assert _messages("v-anchor-93") == [f"must be at least {MIN_PASSWORD_LENGTH} characters"]
    assert _messages("v-anchor-93x") == []


def test_too_long() -> None:
    long_password = "".join(chr(ord("a") + (i * 7) % 26) for i in range(MAX_PASSWORD_LENGTH + 1))

    assert _messages(long_password) == [f"must be at most {MAX_PASSWORD_LENGTH} characters"]


@pytest.mark.parametrize("password", ["password1234", "PASSWORD1234", "correcthorsebatterystaple", "qwerty123456"])
def test_common_passwords_are_refused_whatever_their_case(password: str) -> None:
    assert _messages(password) == ["is too common or too simple"]


@pytest.mark.parametrize(
    "password",
    [
        "aaaaaaaaaaaa",  # one character repeated
        "abababababab",  # two characters alternating
        "bcdefghijklmn",  # ascending run
        "nmlkjihgfedcb",  # descending run
        "3456789:;<=>",  # ascending run over punctuation
    ],
)
def test_trivial_repeats_and_sequences_are_refused(password: str) -> None:
    assert _messages(password) == ["is too common or too simple"]


def test_short_and_trivial_reports_both() -> None:
    assert _messages("aaaa") == [f"must be at least {MIN_PASSWORD_LENGTH} characters", "is too common or too simple"]


@pytest.mark.parametrize(
    ("password", "email"),
    [
        ("xx-lovelace-xx-42", "lovelace@example.com"),
        ("XX-LOVELACE-XX-42", "Lovelace@Example.com"),
        ("ada.lovelace", "ada.lovelace@example.com"),
    ],
)
def test_the_email_local_part_is_refused(password: str, email: str) -> None:
    assert "must not contain the e-mail's local part" in _messages(password, email)


def test_a_short_local_part_only_counts_when_it_is_the_whole_password() -> None:
    # "bob" inside a long password is no real hint; the rule starts at four characters
    assert _messages("violet-bob-anchor-93", "bob@example.com") == []


def test_check_password_policy_raises_weak_password_naming_the_rule() -> None:
    with pytest.raises(WeakPassword) as raised:
        check_password_policy("short", EMAIL)

    assert raised.value.code == "weak_password"
    assert raised.value.problems[0].field == "body.password"
    assert "at least 12 characters" in raised.value.message
