"""Sign-in with an OpenID provider: authorisation code + PKCE (S256) + state + nonce.

``begin`` returns the provider's authorization URL and a value for a short-lived, HttpOnly,
SameSite=Lax cookie: ``provider.state.expiry.mac`` signed with a server key. The callback must
present the same ``state`` as the cookie of the browser that started the flow (the flow's
CSRF protection). The PKCE verifier and the nonce are never sent to the browser: both are
derived from the state with the server key, so nothing has to be stored server-side and
nothing secret sits in the cookie.

Users are linked by (issuer, subject). A first sign-in is matched to an existing account by
e-mail only when the provider says the e-mail is verified; otherwise a new member is created.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, replace

from application.accounts import AccountService, TokenPair
from application.common import EventBuffer, Ports
from domain import events as ev
from domain.errors import EmailTaken, NotFound, OidcLoginFailed, OidcStateInvalid
from domain.identity import ExternalIdentity, Role, User
from domain.ports import ExternalProfile, IdentityProvider

STATE_TTL_SECONDS = 600
_PROVIDER_ERROR = re.compile(r"^[a-z_]{1,64}$")


@dataclass(frozen=True, slots=True)
class OidcStart:
    redirect_url: str
    cookie_value: str
    max_age: int


class OidcLoginService:
    def __init__(
        self,
        ports: Ports,
        accounts: AccountService,
        providers: Mapping[str, IdentityProvider],
        state_key: bytes,
        state_ttl_seconds: int = STATE_TTL_SECONDS,
    ) -> None:
        if len(state_key) < 32:
            raise ValueError("the OIDC state key must be at least 32 bytes")
        self._ports = ports
        self._accounts = accounts
        self._providers = dict(providers)
        self._key = state_key
        self._ttl = state_ttl_seconds

    @property
    def provider_names(self) -> list[str]:
        return sorted(self._providers)

    def _provider(self, name: str) -> IdentityProvider:
        provider = self._providers.get(name)
        if provider is None:
            raise NotFound("No identity provider is configured under this name.")
        return provider

    async def begin(self, provider_name: str) -> OidcStart:
        provider = self._provider(provider_name)
        state = secrets.token_urlsafe(32)
        url = await provider.authorization_url(
            state=state, nonce=self._derive("nonce", state), code_challenge=_s256(self._derive("pkce", state))
        )
        expires = int(self._ports.clock.now().timestamp()) + self._ttl
        payload = f"{provider_name}.{state}.{expires}"
        return OidcStart(redirect_url=url, cookie_value=f"{payload}.{self._mac(payload)}", max_age=self._ttl)

    async def complete(
        self, provider_name: str, *, code: str | None, state: str | None, error: str | None, cookie: str | None
    ) -> TokenPair:
        provider = self._provider(provider_name)
        self._check_state(provider_name, state, cookie)
        assert state is not None  # checked above
        if error is not None:
            reason = error if _PROVIDER_ERROR.match(error) else "error"
            raise OidcLoginFailed(f"The identity provider did not sign you in ({reason}).")
        if not code:
            raise OidcLoginFailed("The identity provider sent no authorization code.")
        profile = await provider.exchange_code(
            code=code,
            code_verifier=self._derive("pkce", state),
            nonce=self._derive("nonce", state),
            now=self._ports.clock.now(),
        )
        user = await self._user_for(provider_name, profile)
        if not user.active:
            raise OidcLoginFailed("The account is deactivated.")
        return await self._accounts.start_session(user)

    # --- linking -----------------------------------------------------------------------------

    async def _user_for(self, provider_name: str, profile: ExternalProfile) -> User:
        users = self._ports.uow.users
        identity = ExternalIdentity(issuer=profile.issuer, subject=profile.subject)
        linked = await users.get_by_identity(identity.issuer, identity.subject)
        if linked is not None:
            return linked
        if profile.email is None:
            raise OidcLoginFailed("The identity provider shared no e-mail address (the 'email' scope is needed).")
        existing = await users.get_by_email(profile.email)
        now = self._ports.clock.now()
        if existing is not None:
            if not profile.email_verified:
                raise EmailTaken(
                    "An account with this e-mail exists, and the identity provider has not verified the e-mail, "
                    "so it cannot be linked; sign in with your password."
                )
            changed = replace(existing, identities=(*existing.identities, identity), updated_at=now)
            updated = await users.update(changed, existing.version)
            buffer = EventBuffer(self._ports, actor_id=updated.id)
            buffer.record(
                ev.USER_UPDATED,
                {"user_id": updated.id, "linked_identity": {"provider": provider_name, "issuer": identity.issuer}},
                user_id=updated.id,
            )
            await buffer.publish()
            return updated
        user = User(
            id=self._ports.ids.new_id(),
            email=profile.email,
            display_name=(profile.name or profile.email.split("@", 1)[0])[:100],
            roles=frozenset({Role.MEMBER}),
            created_at=now,
            updated_at=now,
            identities=(identity,),
        )
        await users.add(user)
        buffer = EventBuffer(self._ports, actor_id=user.id)
        buffer.record(
            ev.USER_SIGNED_UP, {"user_id": user.id, "via": "oidc", "provider": provider_name}, user_id=user.id
        )
        await buffer.publish()
        return user

    # --- state -------------------------------------------------------------------------------

    def _check_state(self, provider_name: str, state: str | None, cookie: str | None) -> None:
        if not state or not cookie:
            raise OidcStateInvalid()
        payload, _, mac = cookie.rpartition(".")
        parts = payload.split(".")
        if len(parts) != 3 or not hmac.compare_digest(mac, self._mac(payload)):
            raise OidcStateInvalid()
        cookie_provider, cookie_state, expires = parts
        if cookie_provider != provider_name or not hmac.compare_digest(cookie_state, state):
            raise OidcStateInvalid()
        if not expires.isdigit() or int(expires) < self._ports.clock.now().timestamp():
            raise OidcStateInvalid("The sign-in took too long; start again.")

    def _mac(self, payload: str) -> str:
        return _b64(hmac.new(self._key, b"cookie:" + payload.encode(), hashlib.sha256).digest())

    def _derive(self, purpose: str, state: str) -> str:
        return _b64(hmac.new(self._key, f"{purpose}:{state}".encode(), hashlib.sha256).digest())


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def _s256(verifier: str) -> str:
    return _b64(hashlib.sha256(verifier.encode("ascii")).digest())
