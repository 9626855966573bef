"""Users: one live account per (lower-cased) e-mail, lookups by e-mail and by OIDC identity."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from domain.errors import EmailTaken
from domain.identity import Role
from domain.ports import UnitOfWork
from tests.contract.repositories.builders import EVERYTHING, Builders


async def test_a_user_round_trips_with_roles_hash_and_identities(uow: UnitOfWork, build: Builders) -> None:
    user = build.user(
        email="Ada.Lovelace@Example.COM",
        roles=frozenset({Role.ADMIN, Role.MEMBER}),
        active=False,
        password_hash="$argon2id$v=19$m=65536,t=3,p=4$c2FsdA$aGFzaA",
        identities=(build.identity(subject="a"), build.identity(issuer="https://accounts.google.com", subject="b")),
    )
    await uow.users.add(user)

    found = await uow.users.get(user.id)

    assert found == user
    assert found is not None
    assert found.email == "ada.lovelace@example.com"


async def test_the_email_is_stored_lower_case_even_when_assigned_later(uow: UnitOfWork, build: Builders) -> None:
    user = build.user()
    user.email = "Grace.Hopper@Navy.MIL"  # bypasses the entity's own normalisation
    await uow.users.add(user)

    found = await uow.users.get(user.id)

    assert found is not None
    assert found.email == "grace.hopper@navy.mil"


@pytest.mark.parametrize("spelling", ["ada@example.com", "ADA@EXAMPLE.COM", "  Ada@Example.com "])
async def test_get_by_email_ignores_case(uow: UnitOfWork, build: Builders, spelling: str) -> None:
    user = build.user(email="Ada@example.com")
    await uow.users.add(user)
    await uow.users.add(build.user(email="other@example.com"))

    assert await uow.users.get_by_email(spelling) == user
    assert await uow.users.get_by_email("nobody@example.com") is None


@pytest.mark.parametrize("spelling", ["ada@example.com", "ADA@example.com", "Ada@Example.Com"])
async def test_a_taken_email_is_refused_whatever_its_case(uow: UnitOfWork, build: Builders, spelling: str) -> None:
    first = build.user(email="ada@example.com")
    await uow.users.add(first)
    second = build.user(email=spelling)

    with pytest.raises(EmailTaken):
        await uow.users.add(second)

    assert await uow.users.get(second.id) is None
    assert await uow.users.get_by_email("ada@example.com") == first
    assert (await uow.users.list(EVERYTHING)).total == 1


async def test_changing_to_another_users_email_is_refused(uow: UnitOfWork, build: Builders) -> None:
    ada, grace = build.user(email="ada@example.com"), build.user(email="grace@example.com")
    await uow.users.add(ada)
    await uow.users.add(grace)

    grace.email = "ADA@example.com"
    with pytest.raises(EmailTaken):
        await uow.users.update(grace, 1)

    stored = await uow.users.get(grace.id)
    assert stored is not None
    assert stored.email == "grace@example.com"
    assert stored.version == 1


async def test_a_user_may_keep_or_change_the_case_of_their_own_email(uow: UnitOfWork, build: Builders) -> None:
    ada = build.user(email="ada@example.com")
    await uow.users.add(ada)

    ada.display_name = "Countess"
    kept = await uow.users.update(ada, 1)
    kept.email = "ADA@EXAMPLE.com"
    recased = await uow.users.update(kept, 2)

    assert recased.email == "ada@example.com"
    assert await uow.users.get_by_email("ada@example.com") == recased


async def test_a_deleted_users_email_is_free_again_and_lookups_ignore_them(uow: UnitOfWork, build: Builders) -> None:
    identity = build.identity(subject="subject-42")
    old = build.user(email="ada@example.com", identities=(identity,))
    await uow.users.add(old)
    old.deleted_at = build.clock.now()
    await uow.users.update(old, 1)

    assert await uow.users.get_by_email("ada@example.com") is None
    assert await uow.users.get_by_identity(identity.issuer, identity.subject) is None

    new = build.user(email="ADA@example.com")
    await uow.users.add(new)
    assert await uow.users.get_by_email("ada@example.com") == new
    listed = await uow.users.list(EVERYTHING)
    assert [user.id for user in listed.items] == [new.id]
    assert listed.total == 1


async def test_get_by_identity_needs_issuer_and_subject_to_match(uow: UnitOfWork, build: Builders) -> None:
    keycloak = "https://sso.example.com/realms/trellis"
    google = "https://accounts.google.com"
    ada = build.user(identities=(build.identity(keycloak, "s-1"), build.identity(google, "g-7")))
    grace = build.user(identities=(build.identity(keycloak, "s-2"),))
    await uow.users.add(ada)
    await uow.users.add(grace)
    await uow.users.add(build.user())  # no identities at all

    assert await uow.users.get_by_identity(keycloak, "s-1") == ada
    assert await uow.users.get_by_identity(google, "g-7") == ada
    assert await uow.users.get_by_identity(keycloak, "s-2") == grace
    assert await uow.users.get_by_identity(google, "s-1") is None
    assert await uow.users.get_by_identity(keycloak, "g-7") is None
    assert await uow.users.get_by_identity(keycloak, "S-1") is None


async def test_an_identity_linked_by_update_is_found(uow: UnitOfWork, build: Builders) -> None:
    user = build.user()
    await uow.users.add(user)
    identity = build.identity(subject="linked-later")

    user.identities = (*user.identities, identity)
    saved = await uow.users.update(user, 1)

    assert await uow.users.get_by_identity(identity.issuer, identity.subject) == saved


async def test_the_token_cutoff_is_none_by_default_and_round_trips(uow: UnitOfWork, build: Builders) -> None:
    user = build.user()
    await uow.users.add(user)
    stored = await uow.users.get(user.id)
    assert stored is not None
    assert stored.tokens_valid_after is None

    cutoff = datetime(2025, 2, 3, 4, 5, 6, 789000, tzinfo=UTC)
    stored.revoke_tokens(cutoff)
    await uow.users.update(stored, stored.version)

    found = await uow.users.get(user.id)
    assert found is not None
    assert found.tokens_valid_after == cutoff
