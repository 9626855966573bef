"""Turning driver errors into domain errors, in one place.

Everything that means "MongoDB cannot be reached or cannot serve right now" becomes
``DependencyUnavailable("mongodb")`` so the HTTP layer answers 503 and no driver message leaks;
a write conflict between two concurrent transactions (MongoDB aborts the later writer) is a
lost race and becomes ``VersionConflict``: a use case whose only race is a derived write re-runs
its whole transaction with jittered backoff (``retry_on_derived_conflict``, as PyMongo's
``with_transaction`` does for ``TransientTransactionError``); elsewhere it is a 409. Anything
else is a bug and propagates unchanged.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from pymongo.errors import ConnectionFailure, OperationFailure, PyMongoError

from domain.errors import DependencyUnavailable, VersionConflict

DEPENDENCY = "mongodb"

# Server error codes that mean "not now": shutting down, stepped down, unreachable, …
_UNAVAILABLE_CODES = frozenset(
    {
        6,  # HostUnreachable
        7,  # HostNotFound
        89,  # NetworkTimeout
        91,  # ShutdownInProgress
        189,  # PrimarySteppedDown
        262,  # ExceededTimeLimit
        9001,  # SocketException
        10107,  # NotWritablePrimary
        11600,  # InterruptedAtShutdown
        11602,  # InterruptedDueToReplStateChange
        13435,  # NotPrimaryNoSecondaryOk
        13436,  # NotPrimaryOrSecondary
    }
)
WRITE_CONFLICT = 112


def is_unavailable(error: PyMongoError) -> bool:
    """ConnectionFailure covers AutoReconnect, NetworkTimeout, ServerSelectionTimeoutError,
    NotPrimaryError and WaitQueueTimeoutError."""
    if isinstance(error, ConnectionFailure):
        return True
    return isinstance(error, OperationFailure) and error.code in _UNAVAILABLE_CODES


@contextmanager
def translated() -> Iterator[None]:
    """Run driver calls; re-raise unavailability and write conflicts as domain errors."""
    try:
        yield
    except PyMongoError as error:
        if is_unavailable(error):
            raise DependencyUnavailable(DEPENDENCY) from error
        if is_write_conflict(error):
            raise VersionConflict() from error
        raise


def is_write_conflict(error: PyMongoError) -> bool:
    """Another transaction (or a write after our snapshot) changed a document we wrote.

    MongoDB reports WriteConflict (112, labelled TransientTransactionError) at the write or
    at commit and aborts the transaction (the mongoeco test server's launcher does the same).
    """
    if not isinstance(error, OperationFailure):
        return False
    return error.code == WRITE_CONFLICT or error.has_error_label("TransientTransactionError")
