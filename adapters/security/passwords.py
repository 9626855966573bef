"""Password hashing with argon2id through passlib's ``CryptContext`` (the ``libpass`` distribution)."""

from __future__ import annotations

from typing import Any

from passlib.context import CryptContext

# OWASP Password Storage Cheat Sheet, argon2id: 19 MiB of memory, 2 iterations, 1 degree of
# parallelism is the recommended minimum configuration.
OWASP_TIME_COST = 2
OWASP_MEMORY_COST_KIB = 19 * 1024
OWASP_PARALLELISM = 1


class Argon2PasswordHasher:
    """The ``PasswordHasher`` port on argon2id.

    ``needs_rehash`` is true for a hash made with other cost parameters (or another scheme, or
    one that cannot be parsed), so the login use case can upgrade hashes as costs rise.
    """

    def __init__(
        self,
        *,
        time_cost: int = OWASP_TIME_COST,
        memory_cost: int = OWASP_MEMORY_COST_KIB,
        parallelism: int = OWASP_PARALLELISM,
    ) -> None:
        if time_cost < 1:
            raise ValueError("time_cost must be at least 1")
        if parallelism < 1:
            raise ValueError("parallelism must be at least 1")
        if memory_cost < 8 * parallelism:
            raise ValueError("memory_cost (KiB) must be at least 8 x parallelism")
        self.time_cost = time_cost
        self.memory_cost = memory_cost
        self.parallelism = parallelism
        self._context: Any = CryptContext(
            schemes=["argon2"],
            argon2__type="ID",
            argon2__time_cost=time_cost,
            argon2__memory_cost=memory_cost,
            argon2__parallelism=parallelism,
        )

    def hash(self, password: str) -> str:
        result: str = self._context.hash(password)
        return result

    def verify(self, password: str, password_hash: str) -> bool:
        """True only for the right password; False (never an exception) for a malformed hash."""
        try:
            return bool(self._context.verify(password, password_hash))
        except (ValueError, TypeError):
            # passlib raises ValueError (UnknownHashError, "malformed argon2 hash", salt too
            # small, PasswordSizeError) and TypeError for a non-string; none is a match.
            return False

    def needs_rehash(self, password_hash: str) -> bool:
        try:
            return bool(self._context.needs_update(password_hash))
        except (ValueError, TypeError):
            return True

    def __repr__(self) -> str:
        return (
            f"Argon2PasswordHasher(time_cost={self.time_cost}, memory_cost={self.memory_cost}, "
            f"parallelism={self.parallelism})"
        )
