"""Domain errors.

Every error carries a stable snake_case ``code``; the HTTP layer maps each class to a status
once, in one table. Messages are written for API clients: they never contain internals.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class FieldProblem:
    """One invalid field: ``field`` is a dotted path such as ``body.title``."""

    field: str
    message: str


class DomainError(Exception):
    code: str = "domain_error"
    default_message: str = "The request could not be completed."

    def __init__(self, message: str | None = None) -> None:
        self.message = message or self.default_message
        super().__init__(self.message)


class NotFound(DomainError):
    """Missing, deleted, or invisible to the caller (we never reveal which)."""

    code = "not_found"
    default_message = "The resource does not exist."


class Unauthenticated(DomainError):
    code = "unauthenticated"
    default_message = "Authentication is required."


class InvalidCredentials(Unauthenticated):
    """Wrong password and unknown e-mail share one message on purpose."""

    code = "invalid_credentials"
    default_message = "The e-mail or password is incorrect."


class InvalidToken(Unauthenticated):
    code = "invalid_token"
    default_message = "The token is invalid or has expired."


class OidcStateInvalid(Unauthenticated):
    """The OIDC callback's ``state`` does not match the browser's signed state cookie (CSRF)."""

    code = "oidc_state_invalid"
    default_message = "The sign-in could not be matched to one this browser started; start again."


class OidcLoginFailed(Unauthenticated):
    """The identity provider refused the code, or its ID token failed a check."""

    code = "oidc_login_failed"
    default_message = "Signing in with the identity provider failed; start again."


class Forbidden(DomainError):
    """The caller can see the resource but may not do this to it."""

    code = "forbidden"
    default_message = "You are not allowed to do this."


class Conflict(DomainError):
    code = "conflict"
    default_message = "The request conflicts with the current state."


class TaskCompleted(Conflict):
    code = "task_completed"
    default_message = "The task is completed (progress 100) and can no longer change."


class EmailTaken(Conflict):
    code = "email_taken"
    default_message = "An account with this e-mail already exists."


class SelfLockout(Conflict):
    """An admin tried to remove their own admin role or deactivate themselves."""

    code = "self_lockout"
    default_message = "You cannot remove your own admin role or deactivate yourself; ask another admin."


class VersionConflict(Conflict):
    """A concurrent writer changed the record after it was read."""

    code = "version_conflict"
    default_message = "The resource was changed by someone else; read it again and retry."


class PreconditionFailed(DomainError):
    """``If-Match`` named a version that is no longer current."""

    code = "precondition_failed"
    default_message = "The resource has changed since the version named in If-Match."


class ValidationFailed(DomainError):
    code = "validation_error"
    default_message = "The request is not valid."

    def __init__(self, problems: list[FieldProblem], message: str | None = None) -> None:
        self.problems = problems
        super().__init__(message or "; ".join(f"{p.field}: {p.message}" for p in problems))


class WeakPassword(ValidationFailed):
    code = "weak_password"


class InvalidCursor(ValidationFailed):
    """A paging cursor that this service did not issue for this very list: tampered, truncated,
    signed with another key, or made for another route, other filters or another sort."""

    code = "invalid_cursor"

    def __init__(self, reason: str) -> None:
        super().__init__([FieldProblem("query.cursor", reason)])


class DependencyUnavailable(DomainError):
    """A store or service the request needs is down; safe to retry later."""

    code = "dependency_unavailable"
    default_message = "A service this request needs is unavailable; retry later."

    def __init__(self, dependency: str, message: str | None = None) -> None:
        self.dependency = dependency
        super().__init__(message)


class RateLimited(DomainError):
    """Too many attempts (a rate limit or the login brute-force rule); retry after ``retry_after`` s."""

    code = "rate_limited"
    default_message = "Too many requests; retry later."

    def __init__(self, retry_after: int, message: str | None = None) -> None:
        self.retry_after = max(1, retry_after)
        super().__init__(message)


class IdentityProviderUnavailable(DependencyUnavailable):
    """The OpenID provider cannot be reached or answered with a server error."""

    code = "identity_provider_unavailable"
    default_message = "The identity provider is unavailable; retry later."

    def __init__(self, message: str | None = None) -> None:
        super().__init__("identity_provider", message)


class WeatherUnavailable(DependencyUnavailable):
    """The weather provider is not configured, refused our key, or cannot be reached."""

    code = "weather_unavailable"
    default_message = "Weather data is unavailable right now; retry later."

    def __init__(self, message: str | None = None) -> None:
        super().__init__("weather", message)


class UnknownPlace(NotFound):
    """Geocoding found no place with that name."""

    code = "unknown_place"
    default_message = "No place with that name was found."


class NoSiteLocation(Conflict):
    """The project has no site location, so it has no weather."""

    code = "no_site_location"
    default_message = "The project has no site location; set its site (a place or lat and lon) to get weather."


class UnknownSitePlace(Conflict):
    """The project's site is a place name that geocodes to nothing: the project is there, its site is not."""

    code = "unknown_site_place"
    default_message = "The project's site place was not found; give its site coordinates (lat and lon)."


class TextAnalysisUnavailable(DependencyUnavailable):
    """The text analysis service refused our key, failed, or cannot be reached."""

    code = "text_analysis_unavailable"
    default_message = "Text analysis is unavailable right now; retry later."

    def __init__(self, message: str | None = None) -> None:
        super().__init__("text_analysis", message)
