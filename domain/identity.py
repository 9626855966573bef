"""Identity: users, roles, the caller (Principal) and the password policy."""

from __future__ import annotations

import enum
import itertools
from dataclasses import dataclass, field
from datetime import datetime

from domain.errors import FieldProblem, WeakPassword


class Role(enum.StrEnum):
    ADMIN = "admin"
    MEMBER = "member"
    GUEST = "guest"


@dataclass(frozen=True, slots=True)
class ExternalIdentity:
    """A login at an OpenID provider: unique by (issuer, subject)."""

    issuer: str
    subject: str


@dataclass(slots=True)
class User:
    id: str
    email: str
    display_name: str
    roles: frozenset[Role]
    created_at: datetime
    updated_at: datetime
    active: bool = True
    password_hash: str | None = None
    identities: tuple[ExternalIdentity, ...] = ()
    version: int = 1
    deleted_at: datetime | None = None
    #: "log out everywhere": tokens issued before this instant are refused (None: no cutoff)
    tokens_valid_after: datetime | None = None

    def __post_init__(self) -> None:
        self.email = normalise_email(self.email)

    @property
    def principal(self) -> Principal:
        return Principal(user_id=self.id, roles=self.roles)

    def revoke_tokens(self, now: datetime) -> None:
        """Log out everywhere: every token issued before ``now`` stops working."""
        self.tokens_valid_after = now

    def accepts_token_issued_at(self, issued_at: datetime) -> bool:
        """False for a token issued before the cutoff of :meth:`revoke_tokens`.

        Tokens carry whole-second ``iat`` while the cutoff has milliseconds, so the comparison
        is at whole seconds with the cutoff rounded *down*: a token issued in the same second as
        the cutoff stays valid (a login right after "log out everywhere" always works); the
        price is that a token minted less than a second before the cutoff survives it.
        """
        cutoff = self.tokens_valid_after
        return cutoff is None or issued_at >= cutoff.replace(microsecond=0)


@dataclass(frozen=True, slots=True)
class Principal:
    """Who is calling: a user id and the roles the user holds now."""

    user_id: str
    roles: frozenset[Role] = field(default_factory=lambda: frozenset({Role.MEMBER}))

    @property
    def is_admin(self) -> bool:
        return Role.ADMIN in self.roles

    @property
    def can_create(self) -> bool:
        """Members and admins create projects, tasks, posts and collections; guests do not."""
        return Role.ADMIN in self.roles or Role.MEMBER in self.roles


def normalise_email(email: str) -> str:
    return email.strip().lower()


MIN_PASSWORD_LENGTH = 12
MAX_PASSWORD_LENGTH = 1024  # argon2 accepts more; a cap keeps hashing cost bounded

# Passwords that satisfy the length rule yet appear at the top of breach corpora. A short,
# curated list keeps the domain free of data files; the policy also refuses single-character
# repeats and simple sequences, which covers the long tail of the same shape.
COMMON_PASSWORDS: frozenset[str] = frozenset(
    {
        "123456789012",
        "1234567890123",
        "12345678901234",
        "123456123456",
        "password1234",
        "password12345",
        "password123456",
        "passwordpassword",
        "qwertyuiop12",
        "qwertyuiop123",
        "qwertyuiopasdf",
        "1q2w3e4r5t6y",
        "1qaz2wsx3edc",
        "zaq12wsxcde3",
        "iloveyou1234",
        "letmein12345",
        "welcome12345",
        "welcome123456",
        "administrator",
        "administrator1",
        "changeme1234",
        "trustno1trustno1",
        "football1234",
        "baseball1234",
        "superman1234",
        "monkey123456",
        "dragon123456",
        "sunshine1234",
        "princess1234",
        "starwars1234",
        "whatever1234",
        "passw0rd1234",
        "p@ssw0rd1234",
        "p@ssword1234",
        "abc123abc123",
        "abcdefghijkl",
        "abcd1234abcd",
        "asdfghjkl123",
        "zxcvbnm12345",
        "michael12345",
        "qazwsxedcrfv",
        "mustang12345",
        "shadow123456",
        "master123456",
        "correcthorsebatterystaple",
        "111111111111",
        "000000000000",
        "987654321098",
        "098765432109",
        "qwerty123456",
    }
)


def password_problems(password: str, email: str) -> list[FieldProblem]:
    """Every rule the password breaks, each named; empty when the password is acceptable."""
    field_name = "body.password"
    problems: list[FieldProblem] = []
    if len(password) < MIN_PASSWORD_LENGTH:
        problems.append(FieldProblem(field_name, f"must be at least {MIN_PASSWORD_LENGTH} characters"))
    if len(password) > MAX_PASSWORD_LENGTH:
        problems.append(FieldProblem(field_name, f"must be at most {MAX_PASSWORD_LENGTH} characters"))
    lowered = password.lower()
    if lowered in COMMON_PASSWORDS or _is_trivial(lowered):
        problems.append(FieldProblem(field_name, "is too common or too simple"))
    local_part = normalise_email(email).split("@", 1)[0]
    if local_part and (lowered == local_part or (len(local_part) >= 4 and local_part in lowered)):
        problems.append(FieldProblem(field_name, "must not contain the e-mail's local part"))
    return problems


def check_password_policy(password: str, email: str) -> None:
    problems = password_problems(password, email)
    if problems:
        raise WeakPassword(problems, "The password does not meet the policy: " + problems[0].message + ".")


def _is_trivial(lowered: str) -> bool:
    if len(set(lowered)) <= 2:
        return True
    steps = {ord(b) - ord(a) for a, b in itertools.pairwise(lowered)}
    return steps <= {1} or steps <= {-1}
