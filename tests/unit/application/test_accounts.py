"""AccountService: sign-up, password login, token rotation, authentication and the current user."""

from __future__ import annotations

import dataclasses
from datetime import timedelta

import pytest

from adapters.memory.clock import FixedClock
from adapters.memory.events import InMemoryEventPublisher
from adapters.memory.hashing import Pbkdf2PasswordHasher
from adapters.memory.refresh_tokens import MemoryRefreshTokenStore
from adapters.memory.tokens import InMemoryTokenService
from adapters.memory.unit_of_work import MemoryUnitOfWork
from application.accounts import AccountService, TokenPair
from application.common import Ports
from domain import events as ev
from domain.errors import EmailTaken, InvalidCredentials, InvalidToken, NotFound, ValidationFailed, WeakPassword
from domain.identity import Principal, Role, User
from domain.paging import PageRequest, Sort
from tests.unit.application.fakes import names

EMAIL = "Ada.Lovelace@Example.com"
PASSWORD = "violet-anchor-93-drift"
ALL_USERS = PageRequest(page=1, size=100, sort=Sort("created_at"))


async def _signup(accounts: AccountService, email: str = EMAIL, password: str = PASSWORD) -> User:
    return await accounts.signup(email, password, "  Ada Lovelace  ")


async def _store(memory_uow: MemoryUnitOfWork, user: User, **changes: object) -> User:
    current = await memory_uow.users.get(user.id)
    assert current is not None
    return await memory_uow.users.update(dataclasses.replace(current, **changes), current.version)


# --- sign-up -----------------------------------------------------------------------------------


async def test_signup_stores_a_member_with_a_normalised_email_and_a_hash(
    accounts: AccountService, memory_uow: MemoryUnitOfWork, hasher: Pbkdf2PasswordHasher, clock: FixedClock
) -> None:
    user = await _signup(accounts)

    stored = await memory_uow.users.get(user.id)
    assert stored is not None
    assert stored.email == "ada.lovelace@example.com"
    assert stored.display_name == "Ada Lovelace"
    assert stored.roles == frozenset({Role.MEMBER})
    assert stored.active is True
    assert stored.created_at == clock.now()
    assert stored.password_hash is not None
    assert stored.password_hash != PASSWORD
    assert hasher.verify(PASSWORD, stored.password_hash)


async def test_signup_publishes_user_signed_up(accounts: AccountService, publisher: InMemoryEventPublisher) -> None:
    user = await _signup(accounts)

    (event,) = publisher.history
    assert event.name == ev.USER_SIGNED_UP
    assert event.actor_id == user.id
    assert event.user_id == user.id
    assert event.data == {"user_id": user.id}


@pytest.mark.parametrize("again", [EMAIL, EMAIL.upper(), "  ada.lovelace@example.com "])
async def test_signup_refuses_an_email_in_use_whatever_its_case(
    accounts: AccountService, memory_uow: MemoryUnitOfWork, publisher: InMemoryEventPublisher, again: str
) -> None:
    await _signup(accounts)

    with pytest.raises(EmailTaken) as raised:
        await accounts.signup(again, "another-good-pass-77", "Someone")

    assert raised.value.code == "email_taken"
    assert (await memory_uow.users.list(ALL_USERS)).total == 1
    assert names(publisher.history) == [ev.USER_SIGNED_UP]


@pytest.mark.parametrize(
    ("password", "rule"),
    [
        ("short-9", "must be at least 12 characters"),
        ("password1234", "is too common or too simple"),
        ("xx-ada.lovelace-xx", "must not contain the e-mail's local part"),
    ],
)
async def test_signup_refuses_a_weak_password_naming_the_rule(
    accounts: AccountService, memory_uow: MemoryUnitOfWork, password: str, rule: str
) -> None:
    with pytest.raises(WeakPassword) as raised:
        await _signup(accounts, password=password)

    assert raised.value.code == "weak_password"
    assert rule in raised.value.message
    assert raised.value.problems[0].field == "body.password"
    assert await memory_uow.users.get_by_email(EMAIL) is None


@pytest.mark.parametrize(
    ("email", "display_name", "fields"),
    [
        ("not-an-email", "Ada", ["body.email"]),
        ("@example.com", "Ada", ["body.email"]),
        ("ada@localhost", "Ada", ["body.email"]),
        ("ada lovelace@example.com", "Ada", ["body.email"]),
        ("a" * 250 + "@example.com", "Ada", ["body.email"]),
        ("ada@example.com", "   ", ["body.display_name"]),
        ("ada@example.com", "x" * 101, ["body.display_name"]),
        ("nope", "", ["body.email", "body.display_name"]),
    ],
)
async def test_signup_names_each_invalid_field(
    accounts: AccountService,
    memory_uow: MemoryUnitOfWork,
    publisher: InMemoryEventPublisher,
    email: str,
    display_name: str,
    fields: list[str],
) -> None:
    with pytest.raises(ValidationFailed) as raised:
        await accounts.signup(email, PASSWORD, display_name)

    assert not isinstance(raised.value, WeakPassword)
    assert [p.field for p in raised.value.problems] == fields
    assert (await memory_uow.users.list(ALL_USERS)).total == 0
    assert publisher.history == ()


# --- login -------------------------------------------------------------------------------------


async def test_login_returns_a_token_pair_for_the_user(
    accounts: AccountService, tokens: InMemoryTokenService, clock: FixedClock
) -> None:
    user = await _signup(accounts)

    pair = await accounts.login("ADA.LOVELACE@example.com ", PASSWORD)

    assert isinstance(pair, TokenPair)
    assert pair.token_type == "bearer"
    assert pair.expires_in == 15 * 60
    assert tokens.verify_access(pair.access_token, clock.now()).subject == user.id
    assert tokens.read_refresh(pair.refresh_token, clock.now()).subject == user.id


async def test_wrong_password_and_unknown_email_get_the_same_answer(accounts: AccountService) -> None:
    await _signup(accounts)

    with pytest.raises(InvalidCredentials) as wrong_password:
        await accounts.login(EMAIL, "violet-anchor-93-drifT")
    with pytest.raises(InvalidCredentials) as unknown_email:
        await accounts.login("nobody@example.com", PASSWORD)

    assert wrong_password.value.message == unknown_email.value.message
    assert wrong_password.value.code == unknown_email.value.code == "invalid_credentials"


async def test_an_inactive_user_cannot_log_in(accounts: AccountService, memory_uow: MemoryUnitOfWork) -> None:
    user = await _signup(accounts)
    await _store(memory_uow, user, active=False)

    with pytest.raises(InvalidCredentials) as raised:
        await accounts.login(EMAIL, PASSWORD)

    assert raised.value.message == InvalidCredentials().message


async def test_a_deleted_user_cannot_log_in(
    accounts: AccountService, memory_uow: MemoryUnitOfWork, clock: FixedClock
) -> None:
    user = await _signup(accounts)
    await _store(memory_uow, user, deleted_at=clock.now())

    with pytest.raises(InvalidCredentials):
        await accounts.login(EMAIL, PASSWORD)


async def test_a_user_without_a_password_cannot_log_in_with_one(
    accounts: AccountService, memory_uow: MemoryUnitOfWork, clock: FixedClock
) -> None:
    now = clock.now()
    await memory_uow.users.add(User("sso", "sso@example.com", "SSO only", frozenset({Role.MEMBER}), now, now))

    with pytest.raises(InvalidCredentials):
        await accounts.login("sso@example.com", PASSWORD)


async def test_login_rehashes_a_password_hashed_with_old_costs(
    ports: Ports,
    accounts: AccountService,
    memory_uow: MemoryUnitOfWork,
    tokens: InMemoryTokenService,
    refresh_store: MemoryRefreshTokenStore,
) -> None:
    user = await _signup(accounts)
    stronger = AccountService(ports, Pbkdf2PasswordHasher(iterations=1500), tokens, refresh_store)

    await stronger.login(EMAIL, PASSWORD)

    stored = await memory_uow.users.get(user.id)
    assert stored is not None
    assert stored.password_hash is not None
    assert stored.password_hash.startswith("pbkdf2_sha256$1500$")
    assert stored.version == user.version + 1
    await stronger.login(EMAIL, PASSWORD)  # the new hash verifies and needs no further rehash
    again = await memory_uow.users.get(user.id)
    assert again is not None
    assert again.version == stored.version


# --- refresh rotation and logout ---------------------------------------------------------------


async def test_refresh_rotates_to_a_new_pair(accounts: AccountService, tokens: InMemoryTokenService) -> None:
    user = await _signup(accounts)
    first = await accounts.login(EMAIL, PASSWORD)

    second = await accounts.refresh(first.refresh_token)

    assert second.access_token != first.access_token
    assert second.refresh_token != first.refresh_token
    assert (await accounts.authenticate(second.access_token)).user_id == user.id
    third = await accounts.refresh(second.refresh_token)
    assert third.refresh_token not in {first.refresh_token, second.refresh_token}


async def test_reusing_a_rotated_refresh_token_revokes_the_whole_family(
    accounts: AccountService, tokens: InMemoryTokenService, refresh_store: MemoryRefreshTokenStore, clock: FixedClock
) -> None:
    await _signup(accounts)
    first = await accounts.login(EMAIL, PASSWORD)
    second = await accounts.refresh(first.refresh_token)

    with pytest.raises(InvalidToken):
        await accounts.refresh(first.refresh_token)  # replayed: a thief or a confused client

    family_id = tokens.read_refresh(second.refresh_token, clock.now()).family_id
    assert await refresh_store.is_revoked(family_id)
    with pytest.raises(InvalidToken):
        await accounts.refresh(second.refresh_token)


async def test_families_are_independent(accounts: AccountService) -> None:
    await _signup(accounts)
    laptop = await accounts.login(EMAIL, PASSWORD)
    phone = await accounts.login(EMAIL, PASSWORD)
    await accounts.refresh(laptop.refresh_token)

    with pytest.raises(InvalidToken):
        await accounts.refresh(laptop.refresh_token)

    assert (await accounts.refresh(phone.refresh_token)).access_token


async def test_an_access_token_is_no_refresh_token(accounts: AccountService) -> None:
    await _signup(accounts)
    pair = await accounts.login(EMAIL, PASSWORD)

    with pytest.raises(InvalidToken):
        await accounts.refresh(pair.access_token)


@pytest.mark.parametrize("change", [{"active": False}, {"deleted_at": FixedClock().now()}], ids=["inactive", "deleted"])
async def test_refresh_for_a_user_who_is_gone_fails_and_revokes_the_family(
    accounts: AccountService,
    memory_uow: MemoryUnitOfWork,
    tokens: InMemoryTokenService,
    refresh_store: MemoryRefreshTokenStore,
    clock: FixedClock,
    change: dict[str, object],
) -> None:
    user = await _signup(accounts)
    pair = await accounts.login(EMAIL, PASSWORD)
    await _store(memory_uow, user, **change)

    with pytest.raises(InvalidToken):
        await accounts.refresh(pair.refresh_token)

    assert await refresh_store.is_revoked(tokens.read_refresh(pair.refresh_token, clock.now()).family_id)


async def test_refresh_after_the_refresh_token_expired_fails(accounts: AccountService, clock: FixedClock) -> None:
    await _signup(accounts)
    pair = await accounts.login(EMAIL, PASSWORD)
    clock.advance(timedelta(days=15))

    with pytest.raises(InvalidToken):
        await accounts.refresh(pair.refresh_token)


async def test_logout_revokes_the_family(accounts: AccountService) -> None:
    await _signup(accounts)
    pair = await accounts.login(EMAIL, PASSWORD)

    await accounts.logout(pair.refresh_token)

    with pytest.raises(InvalidToken):
        await accounts.refresh(pair.refresh_token)


async def test_logout_with_a_bad_token_is_invalid_token(accounts: AccountService) -> None:
    with pytest.raises(InvalidToken):
        await accounts.logout("not-a-token")


# --- authenticate, verify, me ------------------------------------------------------------------


async def test_authenticate_returns_the_caller(accounts: AccountService) -> None:
    user = await _signup(accounts)
    pair = await accounts.login(EMAIL, PASSWORD)

    assert await accounts.authenticate(pair.access_token) == Principal(user.id, frozenset({Role.MEMBER}))


async def test_authenticate_takes_roles_from_the_stored_user_not_the_token(
    accounts: AccountService, memory_uow: MemoryUnitOfWork
) -> None:
    user = await _signup(accounts)
    pair = await accounts.login(EMAIL, PASSWORD)  # token says: member
    await _store(memory_uow, user, roles=frozenset({Role.GUEST}))

    principal = await accounts.authenticate(pair.access_token)

    assert principal.roles == frozenset({Role.GUEST})
    assert principal.can_create is False


@pytest.mark.parametrize("change", [{"active": False}, {"deleted_at": FixedClock().now()}], ids=["inactive", "deleted"])
async def test_a_token_of_a_user_who_is_gone_is_invalid(
    accounts: AccountService, memory_uow: MemoryUnitOfWork, change: dict[str, object]
) -> None:
    user = await _signup(accounts)
    pair = await accounts.login(EMAIL, PASSWORD)
    await _store(memory_uow, user, **change)

    with pytest.raises(InvalidToken):
        await accounts.authenticate(pair.access_token)
    with pytest.raises(InvalidToken):
        await accounts.verify(pair.access_token)


@pytest.mark.parametrize("token", ["", "garbage"])
async def test_authenticate_refuses_unknown_tokens(accounts: AccountService, token: str) -> None:
    with pytest.raises(InvalidToken):
        await accounts.authenticate(token)


async def test_an_expired_access_token_is_invalid(accounts: AccountService, clock: FixedClock) -> None:
    await _signup(accounts)
    pair = await accounts.login(EMAIL, PASSWORD)
    clock.advance(timedelta(minutes=15))

    with pytest.raises(InvalidToken):
        await accounts.authenticate(pair.access_token)


async def test_verify_reports_the_claims_and_the_user(accounts: AccountService, clock: FixedClock) -> None:
    user = await _signup(accounts)
    pair = await accounts.login(EMAIL, PASSWORD)

    check = await accounts.verify(pair.access_token)

    assert check.user.id == user.id
    assert check.claims.subject == user.id
    assert check.claims.expires_at == clock.now() + timedelta(minutes=15)


async def test_me_returns_the_stored_user(accounts: AccountService) -> None:
    user = await _signup(accounts)

    me = await accounts.me(user.principal)

    assert me.email == "ada.lovelace@example.com"
    assert me.display_name == "Ada Lovelace"


async def test_me_for_a_deleted_user_is_not_found(
    accounts: AccountService, memory_uow: MemoryUnitOfWork, clock: FixedClock
) -> None:
    user = await _signup(accounts)
    await _store(memory_uow, user, deleted_at=clock.now())

    with pytest.raises(NotFound):
        await accounts.me(user.principal)
